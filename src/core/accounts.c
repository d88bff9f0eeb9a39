/* Implementation of core/accounts.h. The index is three sorted arrays searched by bsearch: peers by VPN
 * address, app passwords and sessions by their 32-byte hash. Changes to it follow committed store changes;
 * last-used times are kept in memory and written in one transaction at most every 30 s. The fast set (app
 * passwords Caddy checks in-process) is kept on the app-password entries and emptied every ten minutes. */
#include "core/accounts.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>

#include "basic/log.h"
#include "basic/netaddr.h"
#include "basic/parse.h"
#include "basic/time-util.h"
#include "basic/util.h"
#include "core/body.h"
#include "core/peers.h"

#define APP_KEY_NAME "app-password-key"
#define LABEL_MAX 63

typedef struct IdxPeer {
        uint32_t ip;
        uint32_t access;
        bool enabled;
} IdxPeer;

/* An app password or a session. */
typedef struct IdxCred {
        uint8_t hash[32];
        int64_t id; /* app password id; 0 for sessions */
        char user[64];
        int64_t last_used; /* app password: last_used_at; session: last_seen */
        int64_t expires_at; /* sessions */
        bool dirty;
        bool fast; /* app password in the fast set: fast_hash = scrypt(the password as the client sent it) */
        bool fast_unpushed; /* in the set, not yet in a config the proxy rendered */
        uint8_t fast_hash[PROXY_FAST_HASH_BYTES], fast_salt[PROXY_FAST_SALT_BYTES];
} IdxCred;

typedef struct CredSet {
        IdxCred *v;
        size_t n, cap;
} CredSet;

typedef struct Accounts {
        uint8_t key[SECRET_KEY_BYTES];
        IdxPeer *peers;
        size_t n_peers, cap_peers;
        CredSet apps, sessions;
        /* Account passwords the webmail signed in with, as keyed hashes of user and password, each for
         * WEBMAIL_CACHE_SEC: Roundcube logs in to IMAP again on every request, and an argon2id check (64 MiB)
         * each time would stall picd. Emptied with every credentials change (a new password, a deleted user),
         * so that change holds from the next login on. Unsorted: a handful of people use one cell's webmail. */
        CredSet webmail;
        LoopTimer *flush_timer;
        LoopTimer *fast_timer; /* empties the fast set */
        struct {
                uint32_t ip;
                int64_t until;
        } held[64]; /* sources the failed-login limit holds (a few at a time; the oldest goes when full) */
        size_t n_held;
} Accounts;

#define WEBMAIL_CACHE_SEC (15 * 60)
#define WEBMAIL_CACHE_MAX 256

static Accounts *acc(Cell *c) {
        return c->accounts;
}

/* ---- peers by address ---- */

static size_t peer_pos(const Accounts *a, uint32_t ip) {
        size_t lo = 0, hi = a->n_peers;
        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                if (a->peers[mid].ip < ip)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        return lo;
}

static const IdxPeer *peer_find(const Accounts *a, uint32_t ip) {
        size_t i = peer_pos(a, ip);
        return i < a->n_peers && a->peers[i].ip == ip ? &a->peers[i] : NULL;
}

static int peer_set(Accounts *a, const Peer *p) {
        size_t i = peer_pos(a, p->ip);
        IdxPeer e = { p->ip, p->access, p->enabled };
        if (i < a->n_peers && a->peers[i].ip == p->ip) {
                a->peers[i] = e;
                return 0;
        }
        if (a->n_peers == a->cap_peers) {
                size_t cap = a->cap_peers ? a->cap_peers * 2 : 64;
                IdxPeer *v = realloc(a->peers, cap * sizeof *v);
                if (!v)
                        return -ENOMEM;
                a->peers = v;
                a->cap_peers = cap;
        }
        memmove(&a->peers[i + 1], &a->peers[i], (a->n_peers - i) * sizeof *a->peers);
        a->peers[i] = e;
        a->n_peers++;
        return 0;
}

static void peer_remove(Accounts *a, uint32_t ip) {
        size_t i = peer_pos(a, ip);
        if (i >= a->n_peers || a->peers[i].ip != ip)
                return;
        memmove(&a->peers[i], &a->peers[i + 1], (a->n_peers - i - 1) * sizeof *a->peers);
        a->n_peers--;
}

/* ---- credentials by hash ---- */

static int cred_cmp(const void *x, const void *y) {
        return memcmp(((const IdxCred *) x)->hash, ((const IdxCred *) y)->hash, 32);
}

static IdxCred *cred_find(CredSet *s, const uint8_t hash[32]) {
        IdxCred key;
        memcpy(key.hash, hash, 32);
        return s->n ? bsearch(&key, s->v, s->n, sizeof *s->v, cred_cmp) : NULL;
}

static int cred_add(CredSet *s, const IdxCred *e) {
        if (s->n == s->cap) {
                size_t cap = s->cap ? s->cap * 2 : 32;
                IdxCred *v = calloc(cap, sizeof *v);
                if (!v)
                        return -ENOMEM;
                if (s->n)
                        memcpy(v, s->v, s->n * sizeof *v);
                sodium_memzero(s->v, s->cap * sizeof *s->v);
                free(s->v);
                s->v = v;
                s->cap = cap;
        }
        s->v[s->n++] = *e;
        return 0;
}

static void cred_clear(CredSet *s) {
        if (s->v)
                sodium_memzero(s->v, s->cap * sizeof *s->v);
        free(s->v);
        *s = (CredSet) { 0 };
}

typedef struct Load {
        CredSet *set;
        int r;
} Load;

static void load_app(const StoreAppPassword *p, void *userdata) {
        Load *l = userdata;
        IdxCred e = { .id = p->id, .last_used = p->last_used_at };
        memcpy(e.hash, p->hash, 32);
        snprintf(e.user, sizeof e.user, "%s", p->username);
        if (l->r >= 0)
                l->r = cred_add(l->set, &e);
}

static void load_session(const StoreSessionRow *x, void *userdata) {
        Load *l = userdata;
        IdxCred e = { .last_used = x->last_seen, .expires_at = x->expires_at };
        memcpy(e.hash, x->hash, 32);
        snprintf(e.user, sizeof e.user, "%s", x->username);
        if (l->r >= 0)
                l->r = cred_add(l->set, &e);
}

static int load_peer(const Peer *p, void *userdata) {
        return peer_set(userdata, p);
}

/* ---- flush of last-used times ---- */

static void flush_due(Loop *l, void *userdata) {
        Cell *c = userdata;
        Accounts *a = acc(c);
        if (a)
                a->flush_timer = NULL;
        accounts_flush(c);
}

static void mark_dirty(Cell *c, IdxCred *e) {
        Accounts *a = acc(c);
        e->dirty = true;
        if (!a->flush_timer && c->loop && loop_add_timer(c->loop, ACCOUNTS_FLUSH_USEC, flush_due, c, &a->flush_timer) < 0)
                a->flush_timer = NULL;
}

void accounts_flush(Cell *c) {
        Accounts *a = acc(c);
        if (!a || !c->store)
                return;
        bool any = false;
        for (size_t i = 0; i < a->apps.n && !any; i++)
                any = a->apps.v[i].dirty;
        for (size_t i = 0; i < a->sessions.n && !any; i++)
                any = a->sessions.v[i].dirty;
        if (!any)
                return;
        /* One transaction: one fsync for the whole batch. When one is open already (a change waiting on the
         * loop), the times wait for the next round rather than ride on a change that may be rolled back. */
        int r = store_begin(c->store);
        if (r < 0) {
                if (c->loop && !a->flush_timer)
                        (void) loop_add_timer(c->loop, ACCOUNTS_FLUSH_USEC, flush_due, c, &a->flush_timer);
                return;
        }
        for (size_t i = 0; i < a->apps.n && r >= 0; i++)
                if (a->apps.v[i].dirty)
                        r = store_app_password_touch(c->store, a->apps.v[i].id, a->apps.v[i].last_used);
        for (size_t i = 0; i < a->sessions.n && r >= 0; i++)
                if (a->sessions.v[i].dirty)
                        r = store_session_touch(c->store, a->sessions.v[i].hash, a->sessions.v[i].last_used);
        if (r >= 0)
                r = store_commit(c->store);
        if (r >= 0) {
                /* Durable now: only then are the entries clean (a failed batch is tried again whole). */
                for (size_t i = 0; i < a->apps.n; i++)
                        a->apps.v[i].dirty = false;
                for (size_t i = 0; i < a->sessions.n; i++)
                        a->sessions.v[i].dirty = false;
                return;
        }
        store_rollback(c->store);
        if (c->loop && !a->flush_timer)
                (void) loop_add_timer(c->loop, ACCOUNTS_FLUSH_USEC, flush_due, c, &a->flush_timer);
        log_warn_errno(r, "cannot record when app passwords and sessions were last used");
}

/* ---- index lifecycle ---- */

static int load_creds(Cell *c) {
        Accounts *a = acc(c);
        CredSet apps = { 0 }, sessions = { 0 };
        Load la = { &apps, 0 }, ls = { &sessions, 0 };
        int r = store_app_password_foreach(c->store, 0, load_app, &la);
        if (r >= 0)
                r = la.r;
        if (r >= 0)
                r = store_session_foreach(c->store, load_session, &ls);
        if (r >= 0)
                r = ls.r;
        if (r < 0) {
                cred_clear(&apps);
                cred_clear(&sessions);
                return r;
        }
        if (apps.n)
                qsort(apps.v, apps.n, sizeof *apps.v, cred_cmp);
        if (sessions.n)
                qsort(sessions.v, sessions.n, sizeof *sessions.v, cred_cmp);
        /* App passwords still in the store stay in the fast set; a revoked one (or a deleted user's) is gone
         * from it with its entry. */
        for (size_t i = 0; i < apps.n; i++) {
                const IdxCred *old = cred_find(&a->apps, apps.v[i].hash);
                if (old && old->id == apps.v[i].id && old->fast) {
                        apps.v[i].fast = true;
                        memcpy(apps.v[i].fast_hash, old->fast_hash, sizeof old->fast_hash);
                        memcpy(apps.v[i].fast_salt, old->fast_salt, sizeof old->fast_salt);
                }
        }
        cred_clear(&a->apps);
        cred_clear(&a->sessions);
        cred_clear(&a->webmail);
        a->apps = apps;
        a->sessions = sessions;
        return 0;
}

int accounts_creds_changed(Cell *c) {
        if (!acc(c))
                return 0;
        /* Times gathered in memory go to the store first, or the reload would take them back. */
        accounts_flush(c);
        int r = load_creds(c);
        if (r < 0)
                log_error_errno(r, "cannot rebuild the credential index");
        return r;
}

static int load_key(Cell *c) {
        Accounts *a = acc(c);
        int r = store_cell_key_get(c->store, APP_KEY_NAME, a->key, sizeof a->key);
        if (r != -ENOENT)
                return r;
        secret_random_bytes(a->key, sizeof a->key);
        return store_cell_key_put(c->store, APP_KEY_NAME, a->key, sizeof a->key);
}

int accounts_reload(Cell *c) {
        Accounts *a = acc(c);
        int r = load_key(c);
        if (r < 0)
                return log_error_errno(r, "cannot load the app-password key");
        a->n_peers = 0;
        r = store_peer_foreach(c->store, load_peer, a);
        if (r >= 0)
                r = load_creds(c);
        if (r < 0)
                return log_error_errno(r, "cannot build the authorization index");
        return 0;
}

int accounts_new(Cell *c) {
        c->accounts = calloc(1, sizeof(Accounts));
        if (!c->accounts)
                return -ENOMEM;
        return accounts_reload(c);
}

void accounts_free(Cell *c) {
        Accounts *a = acc(c);
        if (!a)
                return;
        accounts_flush(c);
        if (a->flush_timer && c->loop)
                loop_cancel_timer(c->loop, a->flush_timer);
        if (a->fast_timer && c->loop)
                loop_cancel_timer(c->loop, a->fast_timer);
        cred_clear(&a->apps);
        cred_clear(&a->sessions);
        cred_clear(&a->webmail);
        free(a->peers);
        sodium_memzero(a, sizeof *a);
        free(a);
        c->accounts = NULL;
}

void accounts_peer_changed(Cell *c, const Peer *old, const Peer *new) {
        Accounts *a = acc(c);
        if (!a)
                return;
        if (old)
                peer_remove(a, old->ip);
        if (new && peer_set(a, new) < 0) {
                /* Out of memory: the peer is missing from the index, so it is refused (fails closed). */
                log_error("cannot add peer \"%s\" to the authorization index", new->name);
        }
}

void accounts_session_seen(Cell *c, const uint8_t hash[32], int64_t now) {
        Accounts *a = acc(c);
        IdxCred *e = a ? cred_find(&a->sessions, hash) : NULL;
        if (e && now > e->last_used)
                e->last_used = now; /* the API path writes the store itself */
}

/* ---- the fast set ---- */

static void fast_changed(Cell *c) {
        if (c->authz_changed)
                c->authz_changed(c);
}

/* Every ACCOUNTS_FAST_USEC the set is emptied, so that each app password's next use reaches picd again and
 * its last-used time stays within that long of the truth. */
static void fast_due(Loop *l, void *userdata) {
        Cell *c = userdata;
        Accounts *a = acc(c);
        if (!a)
                return;
        a->fast_timer = NULL;
        /* Held sources whose limit ended go with the minute too: until then they only take the slow path. */
        int64_t now = wall_sec();
        size_t k = 0;
        for (size_t i = 0; i < a->n_held; i++)
                if (a->held[i].until > now)
                        a->held[k++] = a->held[i];
        a->n_held = k;
        if (accounts_fast_clear(c))
                fast_changed(c);
}

void accounts_source_held(Cell *c, uint32_t ip, int64_t until) {
        Accounts *a = acc(c);
        if (!a)
                return;
        size_t i = 0;
        while (i < a->n_held && a->held[i].ip != ip)
                i++;
        if (i == a->n_held) {
                if (a->n_held == ELEMENTSOF(a->held)) {
                        size_t oldest = 0;
                        for (size_t j = 1; j < a->n_held; j++)
                                if (a->held[j].until < a->held[oldest].until)
                                        oldest = j;
                        i = oldest;
                } else
                        a->n_held++;
        }
        a->held[i].ip = ip;
        a->held[i].until = until;
        fast_changed(c);
}

static int u32_cmp(const void *x, const void *y) {
        uint32_t p = *(const uint32_t *) x, q = *(const uint32_t *) y;
        return (p > q) - (p < q);
}

int accounts_held_sources(Cell *c, int64_t now, uint32_t **ret, size_t *ret_n) {
        Accounts *a = acc(c);
        size_t n = 0;
        uint32_t *v = a && a->n_held ? calloc(a->n_held, sizeof *v) : NULL;
        if (a && a->n_held && !v)
                return -ENOMEM;
        for (size_t i = 0; a && i < a->n_held; i++)
                if (a->held[i].until > now)
                        v[n++] = a->held[i].ip;
        if (n)
                qsort(v, n, sizeof *v, u32_cmp);
        *ret = v;
        *ret_n = n;
        return 0;
}

bool accounts_fast_clear(Cell *c) {
        Accounts *a = acc(c);
        bool any = false;
        for (size_t i = 0; a && i < a->apps.n; i++) {
                IdxCred *e = &a->apps.v[i];
                any = any || e->fast;
                e->fast = false;
                sodium_memzero(e->fast_hash, sizeof e->fast_hash);
        }
        return any;
}

/* accounts_authorize() accepted password for e: from now on Caddy may check it itself. Best effort: an entry
 * that cannot be added stays on the forward_auth path. */
static void fast_add(Cell *c, IdxCred *e, const char *password) {
        Accounts *a = acc(c);
        if (!c->authz_changed)
                return;
        /* Still on its way to Caddy: the client is busy (this request came through forward_auth), so the push
         * waits until it has been quiet for a moment (the proxy's debounce) — a push swaps Caddy's config, which
         * closes idle connections, and one closed just as the client reuses it fails that request. */
        if (e->fast) {
                if (e->fast_unpushed)
                        fast_changed(c);
                return;
        }
        randombytes_buf(e->fast_salt, sizeof e->fast_salt);
        if (crypto_pwhash_scryptsalsa208sha256_ll((const uint8_t *) password, strlen(password), e->fast_salt,
                                                  sizeof e->fast_salt, PROXY_FAST_SCRYPT_N, PROXY_FAST_SCRYPT_R,
                                                  PROXY_FAST_SCRYPT_P, e->fast_hash, sizeof e->fast_hash) != 0)
                return;
        e->fast = true;
        e->fast_unpushed = true;
        if (!a->fast_timer && c->loop &&
            loop_add_timer(c->loop, ACCOUNTS_FAST_USEC, fast_due, c, &a->fast_timer) < 0)
                a->fast_timer = NULL;
        fast_changed(c);
}

static int fast_cmp(const void *x, const void *y) {
        const AccountsFastCred *p = x, *q = y;
        int r = strcmp(p->user, q->user);
        return r ? r : (p->id > q->id) - (p->id < q->id);
}

int accounts_fast_creds(Cell *c, AccountsFastCred **ret, size_t *ret_n) {
        Accounts *a = acc(c);
        size_t n = 0;
        for (size_t i = 0; a && i < a->apps.n; i++)
                n += a->apps.v[i].fast;
        AccountsFastCred *v = n ? calloc(n, sizeof *v) : NULL;
        if (n && !v)
                return -ENOMEM;
        size_t k = 0;
        for (size_t i = 0; a && i < a->apps.n; i++) {
                IdxCred *e = &a->apps.v[i];
                if (!e->fast)
                        continue;
                e->fast_unpushed = false; /* the proxy renders what it gets here */
                snprintf(v[k].user, sizeof v[k].user, "%s", e->user);
                v[k].id = e->id;
                sodium_bin2base64(v[k].hash, sizeof v[k].hash, e->fast_hash, sizeof e->fast_hash,
                                  sodium_base64_VARIANT_ORIGINAL);
                sodium_bin2base64(v[k].salt, sizeof v[k].salt, e->fast_salt, sizeof e->fast_salt,
                                  sodium_base64_VARIANT_ORIGINAL);
                k++;
        }
        /* By user, then oldest first: the order is a function of the state, not of the hash index. */
        if (n)
                qsort(v, n, sizeof *v, fast_cmp);
        *ret = v;
        *ret_n = n;
        return 0;
}

int accounts_granted_peers(Cell *c, int grant, uint32_t **ret, size_t *ret_n) {
        Accounts *a = acc(c);
        size_t n = 0;
        uint32_t *v = a && a->n_peers ? calloc(a->n_peers, sizeof *v) : NULL;
        if (a && a->n_peers && !v)
                return -ENOMEM;
        for (size_t i = 0; a && grant >= 0 && i < a->n_peers; i++)
                if (a->peers[i].enabled && (a->peers[i].access & (1u << grant)))
                        v[n++] = a->peers[i].ip;
        *ret = v;
        *ret_n = n;
        return 0;
}

/* ---- permission ---- */

int accounts_may(const AccountsActor *a, const char *name, bool write, PicError *err) {
        if (a->admin || (!write && a->reader) || (a->user && streq(a->user, name)))
                return 0;
        return pic_error(err, -EPERM, NULL, "only an admin may %s another user's account", write ? "change" : "see");
}

/* ---- users ---- */

static bool role_is_valid(const char *r) {
        return r && (streq(r, "admin") || streq(r, "user"));
}

static int check_password(json_t *v, const char *field, PicError *err) {
        const char *s = json_string_value(v);
        size_t len = s ? strlen(s) : 0;
        if (!s || len < USER_PASSWORD_MIN || len > USER_PASSWORD_MAX)
                return pic_error(err, -EINVAL, field, "%s must be a string of 10 to 256 characters", field);
        return 0;
}

int users_get(Cell *c, const char *name, StoreUser *ret, PicError *err) {
        if (!name_is_valid(name))
                return pic_error(err, -ENOENT, "name", "no such user");
        int r = store_user_get_by_name(c->store, name, ret);
        if (r == -ENOENT)
                return pic_error(err, r, "name", "no user named \"%s\"", name);
        return r < 0 ? pic_error(err, r, NULL, "cannot read the user") : 0;
}

void users_notify(Cell *c, const char *name, UserEvent ev) {
        for (size_t i = 0; i < c->n_services; i++)
                if (c->services[i]->user_changed)
                        c->services[i]->user_changed(c, name, ev);
}

int users_storage(Cell *c, const char *name, json_t **ret, PicError *err) {
        StoreUser u;
        int r = users_get(c, name, &u, err);
        secret_wipe(&u, sizeof u);
        if (r < 0)
                return r;
        json_t *o = json_pack("{s:s}", "user", name);
        if (!o)
                return pic_error(err, -ENOMEM, NULL, "out of memory");
        for (size_t i = 0; i < c->n_services; i++) {
                const ServiceOps *ops = c->services[i];
                if (ops->user_storage && (r = ops->user_storage(c, name, o, err)) < 0) {
                        json_decref(o);
                        return r;
                }
        }
        *ret = o;
        return 0;
}

/* What every module says the user owns, as one array of phrases. */
static int modules_owned(Cell *c, const char *name, json_t **ret, PicError *err) {
        json_t *owned = json_array();
        if (!owned)
                return pic_error(err, -ENOMEM, NULL, "out of memory");
        for (size_t i = 0; i < c->n_services; i++) {
                const ServiceOps *ops = c->services[i];
                int r = ops->user_owns ? ops->user_owns(c, name, owned, err) : 0;
                if (r < 0) {
                        json_decref(owned);
                        return r;
                }
        }
        *ret = owned;
        return 0;
}

int users_create(Cell *c, json_t *body, StoreUser *ret, PicError *err) {
        static const char *const known[] = { "name", "password", "role" };
        int r = body_check_fields(body, known, ELEMENTSOF(known), err);
        if (r < 0)
                return r;
        const char *name = json_string_value(json_object_get(body, "name"));
        if (!name || !name_is_valid(name))
                return pic_error(err, -EINVAL, "name",
                                 "name must be 1-63 characters of a-z, 0-9 and '-', starting with a letter or digit");
        json_t *rv = json_object_get(body, "role");
        const char *role = rv ? json_string_value(rv) : "user";
        if (!role_is_valid(role))
                return pic_error(err, -EINVAL, "role", "role must be admin or user");
        if ((r = check_password(json_object_get(body, "password"), "password", err)) < 0)
                return r;
        StoreUser existing;
        if (store_user_get_by_name(c->store, name, &existing) == 0)
                return pic_error(err, -EEXIST, "name", "a user named \"%s\" already exists", name);
        char hash[SECRET_PWHASH_STRLEN];
        r = secret_password_hash(json_string_value(json_object_get(body, "password")), hash);
        if (r < 0)
                return pic_error(err, r, NULL, "cannot hash the password");
        r = store_user_insert(c->store, name, hash, role, NULL);
        secret_wipe(hash, sizeof hash);
        if (r == -EEXIST)
                return pic_error(err, r, "name", "a user named \"%s\" already exists", name);
        if (r < 0)
                return pic_error(err, r, NULL, "cannot store the user");
        users_notify(c, name, USER_CREATED);
        return users_get(c, name, ret, err);
}

int users_update(Cell *c, const char *name, json_t *body, const AccountsActor *a, StoreUser *ret,
                 int *ret_sessions_ended, PicError *err) {
        static const char *const known[] = { "name", "password", "current_password", "role" };
        int r = body_check_fields(body, known, ELEMENTSOF(known), err);
        if (r < 0)
                return r;
        StoreUser u;
        if ((r = users_get(c, name, &u, err)) < 0)
                return r;
        json_t *n = json_object_get(body, "name");
        if (n && !(json_is_string(n) && streq(json_string_value(n), name)))
                return pic_error(err, -EINVAL, "name", "a user cannot be renamed");
        json_t *pw = json_object_get(body, "password"), *rv = json_object_get(body, "role");
        if (!pw && !rv)
                return pic_error(err, -EINVAL, NULL, "give password or role to change");
        const char *role = rv ? json_string_value(rv) : NULL;
        if (rv && !role_is_valid(role))
                return pic_error(err, -EINVAL, "role", "role must be admin or user");
        if (rv && !streq(role, u.role) && !a->admin)
                return pic_error(err, -EPERM, "role", "only an admin may change a role");
        if (pw && (r = check_password(pw, "password", err)) < 0)
                return r;
        bool own_session = a->user && a->session_hash && streq(a->user, name);
        /* A person at a browser proves they know the old password; root on the box and admins changing
         * someone else's need not. */
        if (pw && own_session) {
                const char *cur = json_string_value(json_object_get(body, "current_password"));
                if (!cur)
                        return pic_error(err, -EINVAL, "current_password", "current_password is required");
                if (secret_password_verify(u.pwhash, cur) < 0)
                        return pic_error(err, -EPERM, "current_password", "current_password is wrong");
        }
        if (rv && streq(u.role, "admin") && !streq(role, "admin")) {
                int64_t admins = 0;
                if ((r = store_user_count_role(c->store, "admin", &admins)) < 0)
                        return pic_error(err, r, NULL, "cannot count the admins");
                if (admins <= 1)
                        return pic_error(err, -EBUSY, "role", "\"%s\" is the last admin and cannot be demoted", name);
        }
        char hash[SECRET_PWHASH_STRLEN] = "";
        if (pw && (r = secret_password_hash(json_string_value(pw), hash)) < 0)
                return pic_error(err, r, NULL, "cannot hash the password");
        int ended = 0;
        r = store_begin(c->store);
        if (r >= 0 && rv)
                r = store_user_set_role(c->store, u.id, role);
        if (r >= 0 && pw)
                r = store_user_set_password(c->store, u.id, hash);
        if (r >= 0 && pw)
                r = ended = store_session_delete_user(c->store, u.id, own_session ? a->session_hash : NULL);
        if (r >= 0)
                r = store_commit(c->store);
        secret_wipe(hash, sizeof hash);
        if (r < 0) {
                store_rollback(c->store);
                return pic_error(err, r, NULL, "cannot store the change");
        }
        if (pw) {
                accounts_creds_changed(c);
                users_notify(c, name, USER_CREDS);
        }
        if (ret_sessions_ended)
                *ret_sessions_ended = ended;
        return users_get(c, name, ret, err);
}

typedef struct Owned {
        const char *user;
        json_t *names;
} Owned;

static int collect_owned(const Peer *p, void *userdata) {
        Owned *o = userdata;
        if (streq(p->owner, o->user))
                json_array_append_new(o->names, json_string(p->name));
        return 0;
}

static json_t *owned_peers(Cell *c, const char *user) {
        Owned o = { user, json_array() };
        if (!o.names || store_peer_foreach(c->store, collect_owned, &o) < 0) {
                json_decref(o.names);
                return NULL;
        }
        return o.names;
}

int users_delete(Cell *c, const char *name, bool purge, int *ret_peers_deleted, PicError *err) {
        StoreUser u;
        int r = users_get(c, name, &u, err);
        if (r < 0)
                return r;
        *ret_peers_deleted = 0;
        if (streq(u.role, "admin")) {
                int64_t admins = 0;
                if ((r = store_user_count_role(c->store, "admin", &admins)) < 0)
                        return pic_error(err, r, NULL, "cannot count the admins");
                if (admins <= 1)
                        return pic_error(err, -EBUSY, "name", "\"%s\" is the last admin and cannot be deleted", name);
        }
        json_t *peers = owned_peers(c, name);
        int64_t apps = 0;
        if (!peers || store_app_password_count(c->store, u.id, &apps) < 0) {
                json_decref(peers);
                return pic_error(err, -EIO, NULL, "cannot read what the user owns");
        }
        json_t *data = NULL;
        if ((r = modules_owned(c, name, &data, err)) < 0) {
                json_decref(peers);
                return r;
        }
        size_t n_peers = json_array_size(peers);
        if (!purge && (n_peers > 0 || apps > 0 || json_array_size(data) > 0)) {
                char list[256] = "", more[256] = "";
                size_t i;
                json_t *p;
                json_array_foreach(peers, i, p) {
                        size_t used = strlen(list);
                        snprintf(list + used, sizeof list - used, "%s%s", i ? ", " : "", json_string_value(p));
                }
                json_array_foreach(data, i, p) {
                        size_t used = strlen(more);
                        snprintf(more + used, sizeof more - used, ", %s", json_string_value(p));
                }
                json_decref(peers);
                json_decref(data);
                return pic_error(err, -EBUSY, "name",
                                 "user \"%s\" still owns %zu peer(s)%s%s%s%s and %lld app password(s); delete them first "
                                 "or use ?purge=true",
                                 name, n_peers, n_peers ? " (" : "", list, n_peers ? ")" : "", more, (long long) apps);
        }
        json_decref(data);
        size_t i;
        json_t *p;
        json_array_foreach(peers, i, p) {
                r = peers_delete(c, json_string_value(p), err);
                if (r < 0 && r != -ENOENT) {
                        json_decref(peers);
                        return r;
                }
                if (r >= 0)
                        (*ret_peers_deleted)++;
        }
        json_decref(peers);
        for (size_t k = 0; k < c->n_services; k++) {
                const ServiceOps *ops = c->services[k];
                if (ops->user_purge && (r = ops->user_purge(c, name, err)) < 0)
                        return r;
        }
        r = store_user_delete(c->store, u.id);
        if (r == -EEXIST) /* a peer was given to the user meanwhile: the owner reference holds */
                return pic_error(err, -EBUSY, "name", "user \"%s\" still owns a peer", name);
        if (r < 0)
                return pic_error(err, r, NULL, "cannot delete the user");
        accounts_creds_changed(c);
        users_notify(c, name, USER_DELETED);
        return 0;
}

typedef struct AppList {
        Accounts *a;
        json_t *arr;
} AppList;

static void add_app(const StoreAppPassword *p, void *userdata) {
        AppList *l = userdata;
        /* Unflushed use is newer than the store's. */
        IdxCred *e = l->a ? cred_find(&l->a->apps, p->hash) : NULL;
        int64_t last = e && e->last_used > p->last_used_at ? e->last_used : p->last_used_at;
        json_array_append_new(l->arr, json_pack("{s:I, s:s, s:I, s:I}", "id", (json_int_t) p->id, "label", p->label,
                                                "created_at", (json_int_t) p->created_at, "last_used_at",
                                                (json_int_t) last));
}

json_t *user_to_json(Cell *c, const StoreUser *u, bool detail) {
        json_t *o = json_pack("{s:s, s:s, s:I, s:I}", "name", u->username, "role", u->role, "created_at",
                              (json_int_t) u->created_at, "password_changed_at", (json_int_t) u->password_changed_at);
        if (!o || !detail)
                return o;
        json_t *peers = owned_peers(c, u->username);
        json_object_set_new(o, "peers", peers ? peers : json_array());
        int64_t apps = 0;
        (void) store_app_password_count(c->store, u->id, &apps);
        json_object_set_new(o, "app_passwords", json_integer(apps));
        json_t *data = NULL;
        PicError ignored = { 0 };
        if (modules_owned(c, u->username, &data, &ignored) >= 0)
                json_object_set_new(o, "data", data);
        return o;
}

/* ---- app passwords ---- */

int app_password_create(Cell *c, const char *user, json_t *body, char ret_secret[static SECRET_APP_PASSWORD_STRLEN],
                        int64_t *ret_id, PicError *err) {
        static const char *const known[] = { "label" };
        int r = body_check_fields(body, known, ELEMENTSOF(known), err);
        if (r < 0)
                return r;
        const char *label = json_string_value(json_object_get(body, "label"));
        if (!label || !*label || !config_text_is_safe(label, LABEL_MAX))
                return pic_error(err, -EINVAL, "label",
                                 "label must be 1 to 63 printable characters without quotes, braces, '#' or ';'");
        StoreUser u;
        if ((r = users_get(c, user, &u, err)) < 0)
                return r;
        uint8_t hash[SECRET_HASH_BYTES];
        secret_app_password_new(ret_secret);
        secret_app_password_hash(acc(c)->key, ret_secret, hash);
        r = store_app_password_insert(c->store, u.id, label, hash, wall_sec(), ret_id);
        if (r < 0) {
                secret_wipe(ret_secret, SECRET_APP_PASSWORD_STRLEN);
                return pic_error(err, r, NULL, "cannot store the app password");
        }
        accounts_creds_changed(c);
        users_notify(c, user, USER_CREDS);
        return 0;
}

int app_password_delete(Cell *c, const char *user, int64_t id, PicError *err) {
        StoreUser u;
        int r = users_get(c, user, &u, err);
        if (r < 0)
                return r;
        r = store_app_password_delete(c->store, u.id, id);
        if (r == -ENOENT)
                return pic_error(err, r, "id", "user \"%s\" has no app password %lld", user, (long long) id);
        if (r < 0)
                return pic_error(err, r, NULL, "cannot delete the app password");
        accounts_creds_changed(c);
        users_notify(c, user, USER_CREDS);
        return 0;
}

int app_passwords_list(Cell *c, const char *user, json_t **ret, PicError *err) {
        StoreUser u;
        int r = users_get(c, user, &u, err);
        if (r < 0)
                return r;
        AppList l = { acc(c), json_array() };
        r = store_app_password_foreach(c->store, u.id, add_app, &l);
        if (r < 0) {
                json_decref(l.arr);
                return pic_error(err, r, NULL, "cannot read the app passwords");
        }
        *ret = l.arr;
        return 0;
}

/* ---- the forward_auth decision ---- */

/* Local sources: loopback, and the cell's own addresses — every address in ip_range (the bridge and the
 * service virtual IPs live in the cell's namespace only) and the cell's own VPN address. Not the rest of
 * the VPN subnet: those are peers and go through their grant. */
static bool source_is_local(Cell *c, uint32_t ip) {
        if ((ip >> 24) == 127)
                return true;
        Cidr4 range, vpn;
        if (settings_ip_range(c->settings, &range) == 0 && cidr4_contains(&range, ip))
                return true;
        return settings_vpn_address(c->settings, &vpn) == 0 && vpn.addr == ip;
}

/* The webmail's own address as the mail server sees it: php-fpm in the cell's namespace connects to the mail
 * virtual IP, a local address, so the kernel gives it that same address as its source. No peer can send from it
 * (WireGuard accepts from a peer only its own allowed IPs). */
static bool source_is_webmail(Cell *c, const char *service, const char *source) {
        const ServiceEndpoint *e = registry_find(&c->registry, service);
        Cidr4 range;
        uint32_t ip, vip;
        return e && e->http_grant_only && source && ipv4_parse(source, &ip) == 0 &&
               settings_ip_range(c->settings, &range) == 0 && registry_vip_of(e, &range, &vip) == 0 && ip == vip;
}

/* user:password (decoded Basic) as an account password, from the cache or the store's argon2id hash. */
static int check_account_password(Cell *c, const char *user, const char *password, char ret_user[static 64]) {
        Accounts *a = acc(c);
        uint8_t hash[SECRET_HASH_BYTES];
        crypto_generichash_state st;
        crypto_generichash_init(&st, a->key, sizeof a->key, sizeof hash);
        crypto_generichash_update(&st, (const unsigned char *) user, strlen(user) + 1);
        crypto_generichash_update(&st, (const unsigned char *) password, strlen(password));
        crypto_generichash_final(&st, hash, sizeof hash);
        sodium_memzero(&st, sizeof st);
        int64_t now = wall_sec();
        for (size_t i = 0; i < a->webmail.n; i++)
                if (a->webmail.v[i].expires_at > now && sodium_memcmp(a->webmail.v[i].hash, hash, sizeof hash) == 0) {
                        snprintf(ret_user, 64, "%s", a->webmail.v[i].user);
                        return 0;
                }
        StoreUser u;
        int r = c->store ? store_user_get_by_name(c->store, user, &u) : -ENOENT;
        if (r < 0)
                secret_password_dummy_verify(password);
        else
                r = secret_password_verify(u.pwhash, password);
        sodium_memzero(&u, sizeof u);
        if (r < 0)
                return -EACCES;
        if (a->webmail.n >= WEBMAIL_CACHE_MAX)
                cred_clear(&a->webmail);
        IdxCred e = { .expires_at = now + WEBMAIL_CACHE_SEC };
        memcpy(e.hash, hash, sizeof hash);
        snprintf(e.user, sizeof e.user, "%.63s", user); /* a valid name: 63 at most */
        (void) cred_add(&a->webmail, &e); /* out of memory: the next login checks the hash again */
        snprintf(ret_user, 64, "%.63s", user);
        return 0;
}

/* A Basic credential: an app password, or with account_password (the webmail's address) the account password
 * and only that (the webmail is where a person signs in, devices use app passwords). */
static int check_basic(Cell *c, const char *b64, bool account_password, char ret_user[static 64]) {
        Accounts *a = acc(c);
        char decoded[512];
        size_t len = 0;
        if (strlen(b64) >= 600 ||
            sodium_base642bin((unsigned char *) decoded, sizeof decoded - 1, b64, strlen(b64), " ", &len, NULL,
                              sodium_base64_VARIANT_ORIGINAL) != 0)
                return -EACCES;
        decoded[len] = '\0';
        char *colon = strchr(decoded, ':');
        int r = -EACCES;
        uint8_t hash[SECRET_HASH_BYTES];
        if (colon && strlen(decoded) == len) {
                *colon = '\0';
                IdxCred *e = NULL;
                if (account_password)
                        r = name_is_valid(decoded) ? check_account_password(c, decoded, colon + 1, ret_user) : -EACCES;
                else if (name_is_valid(decoded) && secret_app_password_hash(a->key, colon + 1, hash) == 0)
                        e = cred_find(&a->apps, hash);
                if (e && streq(e->user, decoded)) {
                        snprintf(ret_user, 64, "%s", e->user);
                        fast_add(c, e, colon + 1);
                        int64_t now = wall_sec();
                        if (now > e->last_used) {
                                e->last_used = now;
                                mark_dirty(c, e);
                        }
                        r = 0;
                }
        }
        sodium_memzero(decoded, sizeof decoded);
        return r;
}

static int check_session(Cell *c, const char *cookie, int64_t idle_sec, char ret_user[static 64]) {
        Accounts *a = acc(c);
        if (strlen(cookie) >= 128)
                return -EACCES;
        uint8_t hash[SECRET_HASH_BYTES];
        secret_token_hash(cookie, hash);
        IdxCred *e = cred_find(&a->sessions, hash);
        int64_t now = wall_sec();
        if (!e || e->expires_at <= now || e->last_used + idle_sec <= now)
                return -EACCES;
        snprintf(ret_user, 64, "%s", e->user);
        /* Sliding expiry as for the API: recorded at most once a minute. */
        if (now - e->last_used >= 60) {
                e->last_used = now;
                mark_dirty(c, e);
        }
        return 0;
}

/* Whether source (a peer with the grant, or a local address) may reach service at all: 0 or -EPERM. */
static int source_may(Cell *c, Accounts *a, const char *service, const char *source) {
        int grant = service ? registry_grant_from_string(&c->registry, service) : -1;
        uint32_t ip;
        if (grant < 0 || !source || ipv4_parse(source, &ip) < 0)
                return grant >= 0 && source && streq(source, "::1") ? 0 : -EPERM;
        const IdxPeer *p = peer_find(a, ip);
        if (p ? !(p->enabled && (p->access & (1u << grant))) : !source_is_local(c, ip))
                return -EPERM;
        return 0;
}

int accounts_authorize_source(Cell *c, const char *service, const char *source) {
        Accounts *a = acc(c);
        const ServiceEndpoint *e = registry_find(&c->registry, service);
        if (!a || !e || !e->http_grant_only)
                return -EPERM;
        return source_may(c, a, service, source);
}

int accounts_authorize(Cell *c, const char *service, const char *source, const char *authorization,
                       const char *session_cookie, int64_t session_idle_sec, char ret_user[static 64],
                       bool *ret_basic_failed) {
        Accounts *a = acc(c);
        *ret_basic_failed = false;
        if (!a || source_may(c, a, service, source) < 0)
                return -EPERM;
        if (authorization && strncasecmp(authorization, "Basic ", 6) == 0) {
                /* The webmail signs in to the mail server with the user's account password; nothing else may
                 * use one here (devices have app passwords). */
                bool webmail = source_is_webmail(c, service, source);
                if (check_basic(c, authorization + 6, webmail, ret_user) == 0)
                        return 0;
                /* Not counted for the webmail's address, which every webmail user shares: one user's typing
                 * must not lock out the others (Roundcube limits failed logins per browser address). */
                *ret_basic_failed = !webmail;
                return -EACCES;
        }
        if (session_cookie && check_session(c, session_cookie, session_idle_sec, ret_user) == 0)
                return 0;
        return -EACCES;
}
