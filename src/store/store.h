/* Store: the single source of truth, an SQLite database in WAL mode under the state dir. The only code
 * that includes sqlite3.h. Typed accessors per table; every mutation is one transaction. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "basic/error.h"

typedef struct Store Store;

/* Opens (creating if missing) and migrates to the newest schema, each migration in one transaction. */
int store_open(const char *path, Store **ret);
Store *store_free(Store *s);
int store_schema_version(Store *s);
const char *store_path(Store *s);
/* Hands back the page cache's unused memory (after one-off work such as a backup's online copy). */
void store_release_memory(Store *s);

/* Explicit transactions for multi-call changes: everything between begin and commit is all or nothing. */
int store_begin(Store *s);
int store_commit(Store *s);
void store_rollback(Store *s);

/* ---- settings: key → JSON-encoded value; "applied" is the value the running system uses ---- */
typedef struct StoreSetting {
        char *key;
        char *value;   /* JSON text */
        char *applied; /* JSON text or NULL when never applied */
} StoreSetting;
typedef void (*store_setting_fn)(const StoreSetting *s, void *userdata);
int store_settings_foreach(Store *s, store_setting_fn fn, void *userdata);
int store_setting_put(Store *s, const char *key, const char *value_json);
int store_setting_mark_applied(Store *s, const char *key);
/* Sets both columns at once (undoing a change). */
int store_setting_restore(Store *s, const char *key, const char *value_json, const char *applied_json);

/* ---- users ---- */
typedef struct StoreUser {
        int64_t id;
        char username[64];
        char pwhash[256]; /* empty in store_user_foreach */
        char role[8];     /* "admin" or "user" */
        int64_t password_changed_at, created_at;
} StoreUser;
int store_user_count(Store *s, int64_t *ret);
int store_user_count_role(Store *s, const char *role, int64_t *ret);
int store_user_insert(Store *s, const char *username, const char *pwhash, const char *role, int64_t *ret_id);
typedef void (*store_user_fn)(const StoreUser *u, void *userdata);
/* Every user by name, without the password hash. */
int store_user_foreach(Store *s, store_user_fn fn, void *userdata);
int store_user_set_role(Store *s, int64_t id, const char *role);
/* Sessions and app passwords go with the user (ON DELETE CASCADE); owned peers make it -EEXIST. */
int store_user_delete(Store *s, int64_t id);
int store_user_get_by_name(Store *s, const char *username, StoreUser *ret);
int store_user_get(Store *s, int64_t id, StoreUser *ret);
int store_user_set_password(Store *s, int64_t id, const char *pwhash);

/* ---- sessions (id stored as a hash; the cookie value never touches disk) ---- */
typedef struct StoreSession {
        int64_t user_id;
        char csrf[64];
        int64_t created_at, last_seen, expires_at;
} StoreSession;
int store_session_insert(Store *s, const uint8_t hash[32], int64_t user_id, const char *csrf, int64_t now,
                         int64_t expires_at);
int store_session_get(Store *s, const uint8_t hash[32], StoreSession *ret);
int store_session_touch(Store *s, const uint8_t hash[32], int64_t now);
int store_session_delete(Store *s, const uint8_t hash[32]);
/* Deletes every session of user except keep (may be NULL); returns how many. */
int store_session_delete_user(Store *s, int64_t user_id, const uint8_t keep[32]);
/* Deletes every session (a restored store: its sessions would come back from the past); returns how many. */
int store_session_delete_all(Store *s);
int store_session_prune(Store *s, int64_t now, int64_t idle_limit);

/* ---- API tokens (stored hashed) ---- */
typedef struct StoreToken {
        int64_t id;
        char name[64];
        char prefix[16]; /* first characters, shown in lists so a person can tell tokens apart */
        char scope[16];
        int64_t created_at, expires_at, last_used;
} StoreToken;
int store_token_insert(Store *s, const char *name, const char *prefix, const uint8_t hash[32], const char *scope,
                       int64_t created_at, int64_t expires_at, int64_t *ret_id);
int store_token_get_by_hash(Store *s, const uint8_t hash[32], StoreToken *ret);
typedef void (*store_token_fn)(const StoreToken *t, void *userdata);
int store_token_foreach(Store *s, store_token_fn fn, void *userdata);
int store_token_delete(Store *s, int64_t id);
int store_token_touch(Store *s, int64_t id, int64_t now);

/* ---- audit log ---- */
typedef struct StoreAudit {
        int64_t id, ts;
        const char *actor, *remote, *method, *path, *detail;
        int status;
} StoreAudit;
int store_audit_insert(Store *s, int64_t ts, const char *actor, const char *remote, const char *method,
                       const char *path, int status, const char *detail);
typedef void (*store_audit_fn)(const StoreAudit *a, void *userdata);
/* Newest first; before_id 0 = from the newest. */
int store_audit_foreach(Store *s, int64_t before_id, unsigned limit, store_audit_fn fn, void *userdata);

/* ---- whole-database operations (backup/restore) ---- */
/* Consistent copy of the live database into dest_path (SQLite online backup). */
int store_backup_to(Store *s, const char *dest_path);
/* Checks a candidate database file: opens read-only, PRAGMA integrity_check, schema version known. */
int store_check_file(const char *path, PicError *err);
/* Copies audit rows that the candidate file lacks into it, so a restore never erases the audit trail. */
int store_carry_audit_into(Store *s, const char *candidate_path);
