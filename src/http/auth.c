/* Credential checks behind http/auth.h. Secrets never reach the store in clear: sessions and tokens are
 * kept as BLAKE2b hashes, passwords as argon2id; comparisons are constant-time. */
#include "http/auth.h"

#include <microhttpd.h>
#include <stdio.h>
#include <sys/socket.h>

#include "basic/fileio.h"
#include "basic/log.h"
#include "basic/time-util.h"
#include "basic/util.h"
#include "core/accounts.h"
#include "crypto/secret.h"

#define RATE_SLOTS 256
#define RATE_WINDOW_SEC 300
#define RATE_MAX_FAILURES 5

typedef struct RateSlot {
        char remote[64];
        int failures;
        int64_t window_start;
        int64_t last;
} RateSlot;

static RateSlot rate_slots[RATE_SLOTS];

AuthLevel auth_level_from_scope(const char *scope) {
        if (streq(scope, "read"))
                return AUTH_READ;
        if (streq(scope, "write"))
                return AUTH_WRITE;
        if (streq(scope, "admin"))
                return AUTH_ADMIN;
        return _AUTH_UNSET;
}

const char *auth_scope_to_string(AuthLevel level) {
        switch (level) {
        case AUTH_SELF:
                return "self";
        case AUTH_READ:
                return "read";
        case AUTH_WRITE:
                return "write";
        case AUTH_ADMIN:
                return "admin";
        default:
                return "none";
        }
}

int http_auth_bootstrap(Cell *c) {
        int64_t n;
        int r = store_user_count(c->store, &n);
        if (r < 0 || n > 0)
                return r;
        char password[25], hash[SECRET_PWHASH_STRLEN];
        secret_random_text(password, 24);
        r = secret_password_hash(password, hash);
        if (r >= 0)
                r = store_user_insert(c->store, "admin", hash, "admin", NULL);
        char path[4096], text[64];
        snprintf(path, sizeof path, "%s/initial-admin-password", c->state_dir);
        snprintf(text, sizeof text, "%s\n", password);
        if (r >= 0)
                r = write_file_atomic(path, text, strlen(text), 0600, NULL, NULL, NULL);
        secret_wipe(password, sizeof password);
        secret_wipe(text, sizeof text);
        if (r < 0)
                return log_error_errno(r, "cannot create the admin account");
        log_info("created user \"admin\"; its password is in %s", path);
        return 0;
}

void http_auth_unix_peer(HttpRequest *req) {
        const union MHD_ConnectionInfo *ci = MHD_get_connection_info(req->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        if (!ci)
                return;
        struct ucred cred;
        socklen_t len = sizeof cred;
        if (getsockopt(ci->connect_fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 || cred.uid != 0)
                return;
        req->who = (Principal) { .kind = PRINCIPAL_LOCAL_ROOT, .level = AUTH_ADMIN };
        snprintf(req->who.name, sizeof req->who.name, "root(unix pid %d)", (int) cred.pid);
}

static const char *cookie_value(HttpRequest *req) {
        return MHD_lookup_connection_value(req->conn, MHD_COOKIE_KIND, SESSION_COOKIE);
}

int http_auth_resolve(HttpRequest *req, Principal *ret) {
        if (req->who.kind == PRINCIPAL_LOCAL_ROOT)
                return 0;
        int64_t now = wall_sec();
        const char *authz = http_header(req, "Authorization");
        if (authz) {
                if (strncasecmp(authz, "Bearer ", 7) != 0)
                        return -EACCES;
                const char *token = authz + 7;
                if (strlen(token) >= 128)
                        return -EACCES;
                uint8_t hash[SECRET_HASH_BYTES];
                secret_token_hash(token, hash);
                StoreToken t;
                if (store_token_get_by_hash(req->cell->store, hash, &t) < 0)
                        return -EACCES;
                if (t.expires_at > 0 && t.expires_at <= now)
                        return -EKEYEXPIRED;
                /* Record use at most once a minute: a write per request would cost more than the request. */
                if (now - t.last_used >= 60)
                        store_token_touch(req->cell->store, t.id, now);
                *ret = (Principal) { .kind = PRINCIPAL_TOKEN, .level = auth_level_from_scope(t.scope), .token_id = t.id };
                snprintf(ret->name, sizeof ret->name, "token:%s", t.name);
                return 0;
        }
        const char *cookie = cookie_value(req);
        if (!cookie)
                return 0;
        if (strlen(cookie) >= 128)
                return -EACCES;
        uint8_t hash[SECRET_HASH_BYTES];
        secret_token_hash(cookie, hash);
        StoreSession s;
        if (store_session_get(req->cell->store, hash, &s) < 0)
                return -EACCES;
        if (s.expires_at <= now || s.last_seen + SESSION_IDLE_SEC <= now) {
                store_session_delete(req->cell->store, hash);
                accounts_creds_changed(req->cell);
                return -EKEYEXPIRED;
        }
        StoreUser u;
        if (store_user_get(req->cell->store, s.user_id, &u) < 0)
                return -EACCES;
        if (now - s.last_seen >= 60) {
                store_session_touch(req->cell->store, hash, now);
                accounts_session_seen(req->cell, hash, now);
        }
        /* A user-role session reaches only the self-service routes (its own account and app passwords). */
        *ret = (Principal) { .kind = PRINCIPAL_SESSION, .level = streq(u.role, "admin") ? AUTH_ADMIN : AUTH_SELF,
                             .user_id = s.user_id };
        snprintf(ret->user, sizeof ret->user, "%s", u.username);
        memcpy(ret->session_hash, hash, sizeof hash);
        snprintf(ret->csrf, sizeof ret->csrf, "%s", s.csrf);
        snprintf(ret->name, sizeof ret->name, "%s", u.username);
        return 0;
}

bool http_auth_csrf_ok(HttpRequest *req) {
        const char *h = http_header(req, "X-CSRF-Token");
        return h && req->who.csrf[0] && secret_equal(h, req->who.csrf);
}

static RateSlot *rate_slot(const char *remote, bool create) {
        RateSlot *oldest = &rate_slots[0];
        for (size_t i = 0; i < RATE_SLOTS; i++) {
                if (streq(rate_slots[i].remote, remote))
                        return &rate_slots[i];
                if (rate_slots[i].last < oldest->last)
                        oldest = &rate_slots[i];
        }
        if (!create)
                return NULL;
        *oldest = (RateSlot) { 0 };
        snprintf(oldest->remote, sizeof oldest->remote, "%s", remote);
        return oldest;
}

int http_login_check_rate(const char *remote, int *ret_retry_after) {
        RateSlot *s = rate_slot(remote, false);
        int64_t now = wall_sec();
        if (!s || now - s->window_start >= RATE_WINDOW_SEC || s->failures < RATE_MAX_FAILURES)
                return 0;
        *ret_retry_after = (int) (s->window_start + RATE_WINDOW_SEC - now);
        if (*ret_retry_after < 1)
                *ret_retry_after = 1;
        return -EAGAIN;
}

void http_login_failed(const char *remote) {
        RateSlot *s = rate_slot(remote, true);
        int64_t now = wall_sec();
        if (now - s->window_start >= RATE_WINDOW_SEC) {
                s->window_start = now;
                s->failures = 0;
        }
        s->failures++;
        s->last = now;
}

void http_login_succeeded(const char *remote) {
        RateSlot *s = rate_slot(remote, false);
        if (s)
                *s = (RateSlot) { 0 };
}
