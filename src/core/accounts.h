/* User accounts (role admin/user, argon2id account password), their app passwords (random, keyed hash) and
 * the in-memory index behind the forward_auth decision: peers by VPN address, app-password hashes, sessions. */
#pragma once
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "basic/error.h"
#include "core/cell.h"
#include "crypto/secret.h"
#include "store/accounts.h"

#define USER_PASSWORD_MIN 10
#define USER_PASSWORD_MAX 256
/* Last-used times gathered in memory reach the store at most this long after the use. */
#define ACCOUNTS_FLUSH_USEC (30 * 1000000ULL)

/* The fast set: app passwords accepted by accounts_authorize() lately, which the proxy renders into Caddy's
 * config so that Caddy checks them in-process (scrypt with these parameters, hash of the password exactly as
 * the client sent it, random salt; in memory only). Emptied every ACCOUNTS_FAST_USEC, so each app password's
 * next use reaches picd again: last-used times keep ten minutes' granularity. Not shorter: each emptying
 * swaps Caddy's config, which closes its idle connections. */
#define ACCOUNTS_FAST_USEC (600 * 1000000ULL)
#define PROXY_FAST_SCRYPT_N 2
#define PROXY_FAST_SCRYPT_R 1
#define PROXY_FAST_SCRYPT_P 1
#define PROXY_FAST_HASH_BYTES 32
#define PROXY_FAST_SALT_BYTES 16

typedef struct AccountsFastCred {
        char user[64];
        int64_t id;
        char hash[48], salt[28]; /* base64 */
} AccountsFastCred;

/* The fast set, sorted by user then app password id (caller frees *ret). */
int accounts_fast_creds(Cell *c, AccountsFastCred **ret, size_t *ret_n);
/* Empties the fast set; true if it held anything. The caller tells the proxy. */
bool accounts_fast_clear(Cell *c);
/* A source the failed-login limit holds until `until` (wall seconds): Caddy must send all its requests to
 * picd again, which answers them 429, or a correct guess would pass in-process meanwhile. */
void accounts_source_held(Cell *c, uint32_t ip, int64_t until);
/* The sources still held at `now`, ascending (caller frees *ret). */
int accounts_held_sources(Cell *c, int64_t now, uint32_t **ret, size_t *ret_n);
/* Addresses of the enabled peers with grant bit `grant`, ascending (caller frees *ret). */
int accounts_granted_peers(Cell *c, int grant, uint32_t **ret, size_t *ret_n);

/* Loads the cell's app-password key (created on first use, kept in the store so a backup carries it) and
 * builds the index. Called at start; accounts_reload() again after a restore swapped the store. */
int accounts_new(Cell *c);
/* Writes pending last-used times and frees the index. */
void accounts_free(Cell *c);
int accounts_reload(Cell *c);
/* A committed peer change (old NULL: created; new NULL: deleted). */
void accounts_peer_changed(Cell *c, const Peer *old, const Peer *new);
/* Sessions or app passwords changed in the store (login, logout, password change, revoke, user deleted). */
int accounts_creds_changed(Cell *c);
/* An API request used a session: keeps the index's idle clock in step with the store's. */
void accounts_session_seen(Cell *c, const uint8_t hash[32], int64_t now);
/* Writes last-used times gathered in memory since the last flush (batched: at most every 30 s). */
void accounts_flush(Cell *c);

/* Who asks, as far as account rules care. */
typedef struct AccountsActor {
        bool admin;            /* admin session, admin token, root on the unix socket */
        bool reader;           /* may read any user (read/write tokens) */
        const char *user;      /* the session's user name, NULL for tokens and root */
        const uint8_t *session_hash; /* the asking session (kept when its own password changes), or NULL */
} AccountsActor;
/* -EPERM unless actor may see (write=false) or change (write=true) user name. */
int accounts_may(const AccountsActor *a, const char *name, bool write, PicError *err);

/* body {name, password, role?} (role defaults to user). */
int users_create(Cell *c, json_t *body, StoreUser *ret, PicError *err);
int users_get(Cell *c, const char *name, StoreUser *ret, PicError *err);
/* body any of {password, current_password, role}: a session changing its own password gives
 * current_password; role is admin-only; the last admin is never demoted (-EBUSY). A new password ends the
 * user's other sessions (*ret_sessions_ended). */
int users_update(Cell *c, const char *name, json_t *body, const AccountsActor *a, StoreUser *ret,
                 int *ret_sessions_ended, PicError *err);
/* -EBUSY naming what the user owns (peers, app passwords, each module's user_owns) unless purge; the last
 * admin is never deleted.
 * Purge deletes the peers through the peer lifecycle (WireGuard, firewall, DNS follow), then
 * each module's data (user_purge), then the user with its app passwords and sessions.
 * *ret_peers_deleted counts the peers. */
int users_delete(Cell *c, const char *name, bool purge, int *ret_peers_deleted, PicError *err);
/* {"user": name, <module>: {...}}: every module's user_storage section. */
int users_storage(Cell *c, const char *name, json_t **ret, PicError *err);
/* Tells every module's user_changed (after the store committed the change). */
void users_notify(Cell *c, const char *name, UserEvent ev);
/* Public view: name, role, created_at, password_changed_at; with detail also peers and app_passwords. */
json_t *user_to_json(Cell *c, const StoreUser *u, bool detail);

/* body {label}. ret_secret gets the only clear copy, which the caller shows once and wipes. */
int app_password_create(Cell *c, const char *user, json_t *body, char ret_secret[static SECRET_APP_PASSWORD_STRLEN],
                        int64_t *ret_id, PicError *err);
int app_password_delete(Cell *c, const char *user, int64_t id, PicError *err);
/* [{id, label, created_at, last_used_at}], last_used_at including what is not flushed yet. */
int app_passwords_list(Cell *c, const char *user, json_t **ret, PicError *err);

/* The forward_auth decision, from memory only. source: the client's address as Caddy saw it. authorization:
 * the client's Authorization header or NULL; session_cookie: the pic_session cookie's value or NULL.
 * App passwords are the credentials, except from the webmail's own address (the grant-only endpoint's virtual
 * IP, as the mail server sees Roundcube): there the account password (argon2id, then cached briefly as a keyed
 * hash) and nothing else.
 * Returns 0 with ret_user filled; -EPERM (403) when the source may not reach service or service is unknown;
 * -EACCES (401) without valid credentials; *ret_basic_failed says a Basic credential was given and wrong
 * (for the rate limit). */
int accounts_authorize(Cell *c, const char *service, const char *source, const char *authorization,
                       const char *session_cookie, int64_t session_idle_sec, char ret_user[static 64],
                       bool *ret_basic_failed);
/* The forward_auth decision for the HTTPS site of a grant-only endpoint (http_grant_only: its backend, the
 * webmail, signs users in itself): only whether source may reach service. 0, or -EPERM also when service is no
 * grant-only endpoint, so a caller's choice of this question cannot skip another service's credentials. */
int accounts_authorize_source(Cell *c, const char *service, const char *source);
