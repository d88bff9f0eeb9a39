/* SQLite implementation of the store: schema migrations, a prepared-statement cache, typed accessors.
 * WAL + synchronous=FULL so that a commit that returned is on disk (a 2xx means durable). */
#include "store/store.h"
#include "store/store-internal.h"

#include <sqlite3.h>
#include <stdio.h>
#include <sys/stat.h>

#include "basic/log.h"
#include "basic/util.h"

#define STMT_CACHE_MAX 64

struct Store {
        sqlite3 *db;
        char *path;
        struct {
                const char *sql; /* identity of a string literal */
                sqlite3_stmt *stmt;
        } cache[STMT_CACHE_MAX];
        size_t n_cache;
};

/* Each entry is one schema version; applied in order, each in its own transaction. */
static const char *const migrations[] = {
        /* 1: foundation */
        "CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL, applied TEXT) WITHOUT ROWID;"
        "CREATE TABLE users (id INTEGER PRIMARY KEY, username TEXT NOT NULL UNIQUE, pwhash TEXT NOT NULL,"
        "  created_at INTEGER NOT NULL, password_changed_at INTEGER NOT NULL);"
        "CREATE TABLE sessions (hash BLOB PRIMARY KEY, user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
        "  csrf TEXT NOT NULL, created_at INTEGER NOT NULL, last_seen INTEGER NOT NULL, expires_at INTEGER NOT NULL)"
        "  WITHOUT ROWID;"
        "CREATE TABLE tokens (id INTEGER PRIMARY KEY, name TEXT NOT NULL, prefix TEXT NOT NULL, hash BLOB NOT NULL UNIQUE,"
        "  scope TEXT NOT NULL, created_at INTEGER NOT NULL, expires_at INTEGER NOT NULL, last_used INTEGER NOT NULL DEFAULT 0);"
        "CREATE TABLE audit (id INTEGER PRIMARY KEY, ts INTEGER NOT NULL, actor TEXT NOT NULL, remote TEXT NOT NULL,"
        "  method TEXT NOT NULL, path TEXT NOT NULL, status INTEGER NOT NULL, detail TEXT NOT NULL DEFAULT '');",
        /* 2: VPN peers, DNS records, DHCP reservations */
        "CREATE TABLE peers (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, ip INTEGER NOT NULL UNIQUE,"
        "  public_key TEXT NOT NULL UNIQUE, private_key TEXT, preshared_key TEXT, access INTEGER NOT NULL DEFAULT 0,"
        "  enabled INTEGER NOT NULL DEFAULT 1, route_all INTEGER NOT NULL DEFAULT 0, description TEXT NOT NULL DEFAULT '',"
        "  created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL);"
        "CREATE TABLE dns_records (id INTEGER PRIMARY KEY, name TEXT NOT NULL, type TEXT NOT NULL, value TEXT NOT NULL,"
        "  ttl INTEGER NOT NULL DEFAULT 300, created_at INTEGER NOT NULL, UNIQUE(name, type, value));"
        "CREATE TABLE dhcp_reservations (mac TEXT PRIMARY KEY, ip INTEGER NOT NULL UNIQUE, hostname TEXT NOT NULL UNIQUE,"
        "  created_at INTEGER NOT NULL) WITHOUT ROWID;",
        /* 3: user accounts with roles (every user so far was the admin), peers owned by a user, app passwords
         * (keyed hashes; the key is in cell_keys, so a backup carries both) */
        "ALTER TABLE users ADD COLUMN role TEXT NOT NULL DEFAULT 'user';"
        "UPDATE users SET role = 'admin';"
        "ALTER TABLE peers ADD COLUMN owner TEXT REFERENCES users(username);"
        "CREATE INDEX peers_owner ON peers(owner);"
        "CREATE TABLE app_passwords (id INTEGER PRIMARY KEY, user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
        "  label TEXT NOT NULL, hash BLOB NOT NULL UNIQUE, created_at INTEGER NOT NULL, last_used_at INTEGER NOT NULL DEFAULT 0);"
        "CREATE TABLE cell_keys (name TEXT PRIMARY KEY, value BLOB NOT NULL) WITHOUT ROWID;",
        /* 4: file storage: a quota per user (no row: unlimited) and folders shared between users */
        "CREATE TABLE storage_quotas (user_id INTEGER PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,"
        "  quota INTEGER NOT NULL);"
        "CREATE TABLE file_shares (id INTEGER PRIMARY KEY, owner_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
        "  folder TEXT NOT NULL, with_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE, writable INTEGER NOT NULL,"
        "  created_at INTEGER NOT NULL, UNIQUE(owner_id, folder, with_id));",
        /* 5: the cell mesh: invites this cell issued (single use), links to other cells (a pending row is a join
         * this cell sent and has not finished), and which local peers may use which service of a linked cell */
        "CREATE TABLE mesh_invites (id INTEGER PRIMARY KEY, nonce TEXT NOT NULL UNIQUE, share TEXT NOT NULL,"
        "  created_at INTEGER NOT NULL, expires_at INTEGER NOT NULL, used_by TEXT NOT NULL DEFAULT '',"
        "  used_at INTEGER NOT NULL DEFAULT 0);"
        "CREATE TABLE mesh_cells (name TEXT PRIMARY KEY, domain TEXT NOT NULL, identity TEXT NOT NULL UNIQUE,"
        "  wg_key TEXT NOT NULL UNIQUE, host TEXT NOT NULL, port INTEGER NOT NULL, vpn TEXT NOT NULL, range TEXT NOT NULL,"
        "  dns_port INTEGER NOT NULL, offered TEXT NOT NULL, nonce TEXT NOT NULL, state TEXT NOT NULL,"
        "  invite TEXT NOT NULL DEFAULT '', local_ip INTEGER NOT NULL, remote_ip INTEGER NOT NULL,"
        "  created_at INTEGER NOT NULL) WITHOUT ROWID;"
        "CREATE TABLE mesh_grants (peer TEXT NOT NULL, cell TEXT NOT NULL REFERENCES mesh_cells(name) ON DELETE CASCADE,"
        "  service TEXT NOT NULL, PRIMARY KEY (peer, cell, service)) WITHOUT ROWID;",

        /* 6: mail aliases (alias local part → one or more users; a user gone leaves the alias's other targets) */
        "CREATE TABLE mail_aliases (alias TEXT NOT NULL, target TEXT NOT NULL REFERENCES users(username) ON DELETE CASCADE,"
        "  created_at INTEGER NOT NULL, PRIMARY KEY(alias, target)) WITHOUT ROWID;",
};

#define SCHEMA_VERSION ((int) ELEMENTSOF(migrations))

int store_sqlite_to_errno(int rc) {
        switch (rc & 0xff) {
        case SQLITE_OK:
        case SQLITE_ROW:
        case SQLITE_DONE:
                return 0;
        case SQLITE_CONSTRAINT:
                return -EEXIST;
        case SQLITE_BUSY:
        case SQLITE_LOCKED:
                return -EBUSY;
        case SQLITE_NOMEM:
                return -ENOMEM;
        case SQLITE_FULL:
                return -ENOSPC;
        case SQLITE_NOTFOUND:
                return -ENOENT;
        case SQLITE_CORRUPT:
        case SQLITE_NOTADB:
                return -EBADMSG;
        case SQLITE_READONLY:
        case SQLITE_PERM:
        case SQLITE_AUTH:
                return -EPERM;
        default:
                return -EIO;
        }
}

static int exec_sql(Store *s, const char *sql) {
        char *msg = NULL;
        int rc = sqlite3_exec(s->db, sql, NULL, NULL, &msg);
        if (rc != SQLITE_OK) {
                log_debug("sqlite: %s", msg ? msg : sqlite3_errstr(rc));
                sqlite3_free(msg);
                return store_sqlite_to_errno(rc);
        }
        return 0;
}

sqlite3_stmt *store_prepare(Store *s, const char *sql) {
        for (size_t i = 0; i < s->n_cache; i++)
                if (s->cache[i].sql == sql) {
                        sqlite3_reset(s->cache[i].stmt);
                        sqlite3_clear_bindings(s->cache[i].stmt);
                        return s->cache[i].stmt;
                }
        sqlite3_stmt *st = NULL;
        if (sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL) != SQLITE_OK) {
                log_error("sqlite prepare failed: %s", sqlite3_errmsg(s->db));
                return NULL;
        }
        if (s->n_cache < STMT_CACHE_MAX)
                s->cache[s->n_cache++] = (typeof(s->cache[0])) { sql, st };
        else
                log_warn("statement cache full");
        return st;
}

/* Runs a prepared statement to completion (no rows expected). */
int store_step_done(Store *s, sqlite3_stmt *st) {
        int rc = sqlite3_step(st);
        int r = rc == SQLITE_DONE ? 0 : store_sqlite_to_errno(rc);
        if (r < 0)
                log_debug("sqlite step: %s", sqlite3_errmsg(s->db));
        sqlite3_reset(st);
        return r;
}

int store_step_row(sqlite3_stmt *st) {
        int rc = sqlite3_step(st);
        if (rc == SQLITE_ROW)
                return 0;
        sqlite3_reset(st);
        return rc == SQLITE_DONE ? -ENOENT : store_sqlite_to_errno(rc);
}

int store_step_changed(Store *s, sqlite3_stmt *st) {
        int r = store_step_done(s, st);
        if (r < 0)
                return r;
        return sqlite3_changes(s->db) > 0 ? 0 : -ENOENT;
}

static int user_version(Store *s) {
        sqlite3_stmt *st = store_prepare(s, "PRAGMA user_version");
        if (!st || sqlite3_step(st) != SQLITE_ROW)
                return -EIO;
        int v = sqlite3_column_int(st, 0);
        sqlite3_reset(st);
        return v;
}

static int migrate(Store *s) {
        int v = user_version(s);
        if (v < 0)
                return v;
        if (v > SCHEMA_VERSION)
                return log_error_errno(-EPROTO, "database schema %d is newer than this picd (%d)", v, SCHEMA_VERSION);
        for (; v < SCHEMA_VERSION; v++) {
                char pragma[64];
                snprintf(pragma, sizeof pragma, "PRAGMA user_version = %d;", v + 1);
                int r = exec_sql(s, "BEGIN IMMEDIATE");
                if (r < 0)
                        return r;
                r = exec_sql(s, migrations[v]);
                if (r >= 0)
                        r = exec_sql(s, pragma);
                if (r >= 0)
                        r = exec_sql(s, "COMMIT");
                if (r < 0) {
                        exec_sql(s, "ROLLBACK");
                        return log_error_errno(r, "migration to schema %d failed", v + 1);
                }
                log_debug("store migrated to schema %d", v + 1);
        }
        return 0;
}

int store_open(const char *path, Store **ret) {
        Store *s = calloc(1, sizeof *s);
        if (!s)
                return -ENOMEM;
        s->path = strdup(path);
        int rc = sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
        if (rc != SQLITE_OK || !s->path) {
                int r = s->path ? store_sqlite_to_errno(rc) : -ENOMEM;
                log_error("cannot open store %s: %s", path, s->db ? sqlite3_errmsg(s->db) : "out of memory");
                store_free(s);
                return r;
        }
        sqlite3_busy_timeout(s->db, 5000);
        /* The store holds password hashes and VPN keys: owner-only, like every secret file. */
        chmod(path, 0600);
        int r = exec_sql(s, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;");
        if (r >= 0)
                r = migrate(s);
        if (r < 0) {
                store_free(s);
                return r;
        }
        *ret = s;
        return 0;
}

Store *store_free(Store *s) {
        if (!s)
                return NULL;
        for (size_t i = 0; i < s->n_cache; i++)
                sqlite3_finalize(s->cache[i].stmt);
        sqlite3_close(s->db);
        free(s->path);
        free(s);
        return NULL;
}

int store_schema_version(Store *s) {
        return user_version(s);
}

void store_copy_text(sqlite3_stmt *st, int col, char *buf, size_t size) {
        const unsigned char *t = sqlite3_column_text(st, col);
        snprintf(buf, size, "%s", t ? (const char *) t : "");
}

sqlite3 *store_db(Store *s) {
        return s->db;
}

void store_release_memory(Store *s) {
        if (s)
                (void) sqlite3_db_release_memory(s->db);
}

const char *store_path(Store *s) {
        return s->path;
}

int store_begin(Store *s) {
        return exec_sql(s, "BEGIN IMMEDIATE");
}

int store_commit(Store *s) {
        return exec_sql(s, "COMMIT");
}

void store_rollback(Store *s) {
        if (!sqlite3_get_autocommit(s->db))
                exec_sql(s, "ROLLBACK");
}

static void column_copy(sqlite3_stmt *st, int col, char *buf, size_t size) {
        const unsigned char *t = sqlite3_column_text(st, col);
        snprintf(buf, size, "%s", t ? (const char *) t : "");
}

/* ---- settings ---- */

int store_settings_foreach(Store *s, store_setting_fn fn, void *userdata) {
        sqlite3_stmt *st = store_prepare(s, "SELECT key, value, applied FROM settings ORDER BY key");
        if (!st)
                return -EIO;
        int rc;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                StoreSetting row = {
                        .key = (char *) sqlite3_column_text(st, 0),
                        .value = (char *) sqlite3_column_text(st, 1),
                        .applied = (char *) sqlite3_column_text(st, 2),
                };
                fn(&row, userdata);
        }
        sqlite3_reset(st);
        return rc == SQLITE_DONE ? 0 : store_sqlite_to_errno(rc);
}

int store_setting_put(Store *s, const char *key, const char *value_json) {
        sqlite3_stmt *st = store_prepare(s, "INSERT INTO settings(key, value) VALUES(?1, ?2) "
                                      "ON CONFLICT(key) DO UPDATE SET value = excluded.value");
        if (!st)
                return -EIO;
        sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, value_json, -1, SQLITE_STATIC);
        return store_step_done(s, st);
}

int store_setting_mark_applied(Store *s, const char *key) {
        sqlite3_stmt *st = store_prepare(s, "UPDATE settings SET applied = value WHERE key = ?1");
        if (!st)
                return -EIO;
        sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
        return store_step_done(s, st);
}

int store_setting_restore(Store *s, const char *key, const char *value_json, const char *applied_json) {
        sqlite3_stmt *st = store_prepare(s, "INSERT INTO settings(key, value, applied) VALUES(?1, ?2, ?3) "
                                            "ON CONFLICT(key) DO UPDATE SET value = excluded.value, applied = excluded.applied");
        if (!st)
                return -EIO;
        sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, value_json, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, applied_json, -1, SQLITE_STATIC);
        return store_step_done(s, st);
}

/* ---- users ---- */

int store_user_count(Store *s, int64_t *ret) {
        sqlite3_stmt *st = store_prepare(s, "SELECT count(*) FROM users");
        if (!st || sqlite3_step(st) != SQLITE_ROW)
                return -EIO;
        *ret = sqlite3_column_int64(st, 0);
        sqlite3_reset(st);
        return 0;
}

int store_user_insert(Store *s, const char *username, const char *pwhash, const char *role, int64_t *ret_id) {
        sqlite3_stmt *st = store_prepare(s, "INSERT INTO users(username, pwhash, role, created_at, password_changed_at) "
                                      "VALUES(?1, ?2, ?3, strftime('%s','now'), strftime('%s','now'))");
        if (!st)
                return -EIO;
        sqlite3_bind_text(st, 1, username, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, pwhash, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, role, -1, SQLITE_STATIC);
        int r = store_step_done(s, st);
        if (r < 0)
                return r;
        if (ret_id)
                *ret_id = sqlite3_last_insert_rowid(s->db);
        return 0;
}

#define USER_COLUMNS "id, username, pwhash, password_changed_at, role, created_at"

static int user_from_row(sqlite3_stmt *st, StoreUser *ret) {
        int r = store_step_row(st);
        if (r < 0)
                return r;
        StoreUser u = { .id = sqlite3_column_int64(st, 0), .password_changed_at = sqlite3_column_int64(st, 3),
                        .created_at = sqlite3_column_int64(st, 5) };
        column_copy(st, 1, u.username, sizeof u.username);
        column_copy(st, 2, u.pwhash, sizeof u.pwhash);
        column_copy(st, 4, u.role, sizeof u.role);
        sqlite3_reset(st);
        *ret = u;
        return 0;
}

int store_user_get_by_name(Store *s, const char *username, StoreUser *ret) {
        sqlite3_stmt *st = store_prepare(s, "SELECT " USER_COLUMNS " FROM users WHERE username = ?1");
        if (!st)
                return -EIO;
        sqlite3_bind_text(st, 1, username, -1, SQLITE_STATIC);
        return user_from_row(st, ret);
}

int store_user_get(Store *s, int64_t id, StoreUser *ret) {
        sqlite3_stmt *st = store_prepare(s, "SELECT " USER_COLUMNS " FROM users WHERE id = ?1");
        if (!st)
                return -EIO;
        sqlite3_bind_int64(st, 1, id);
        return user_from_row(st, ret);
}

int store_user_foreach(Store *s, store_user_fn fn, void *userdata) {
        sqlite3_stmt *st = NULL;
        if (sqlite3_prepare_v2(s->db, "SELECT " USER_COLUMNS " FROM users ORDER BY username", -1, &st, NULL) != SQLITE_OK)
                return -EIO;
        int rc;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                StoreUser u = { .id = sqlite3_column_int64(st, 0), .password_changed_at = sqlite3_column_int64(st, 3),
                                .created_at = sqlite3_column_int64(st, 5) };
                column_copy(st, 1, u.username, sizeof u.username);
                column_copy(st, 4, u.role, sizeof u.role);
                fn(&u, userdata);
        }
        sqlite3_finalize(st);
        return rc == SQLITE_DONE ? 0 : store_sqlite_to_errno(rc);
}

int store_user_count_role(Store *s, const char *role, int64_t *ret) {
        sqlite3_stmt *st = store_prepare(s, "SELECT count(*) FROM users WHERE role = ?1");
        if (!st)
                return -EIO;
        sqlite3_bind_text(st, 1, role, -1, SQLITE_STATIC);
        if (sqlite3_step(st) != SQLITE_ROW) {
                sqlite3_reset(st);
                return -EIO;
        }
        *ret = sqlite3_column_int64(st, 0);
        sqlite3_reset(st);
        return 0;
}

int store_user_set_role(Store *s, int64_t id, const char *role) {
        sqlite3_stmt *st = store_prepare(s, "UPDATE users SET role = ?2 WHERE id = ?1");
        if (!st)
                return -EIO;
        sqlite3_bind_int64(st, 1, id);
        sqlite3_bind_text(st, 2, role, -1, SQLITE_STATIC);
        return store_step_changed(s, st);
}

int store_user_delete(Store *s, int64_t id) {
        sqlite3_stmt *st = store_prepare(s, "DELETE FROM users WHERE id = ?1");
        if (!st)
                return -EIO;
        sqlite3_bind_int64(st, 1, id);
        return store_step_changed(s, st);
}

int store_user_set_password(Store *s, int64_t id, const char *pwhash) {
        sqlite3_stmt *st = store_prepare(s, "UPDATE users SET pwhash = ?2, password_changed_at = strftime('%s','now') "
                                      "WHERE id = ?1");
        if (!st)
                return -EIO;
        sqlite3_bind_int64(st, 1, id);
        sqlite3_bind_text(st, 2, pwhash, -1, SQLITE_STATIC);
        return store_step_changed(s, st);
}

/* ---- sessions ---- */

int store_session_insert(Store *s, const uint8_t hash[32], int64_t user_id, const char *csrf, int64_t now,
                         int64_t expires_at) {
        sqlite3_stmt *st = store_prepare(s, "INSERT INTO sessions(hash, user_id, csrf, created_at, last_seen, expires_at) "
                                      "VALUES(?1, ?2, ?3, ?4, ?4, ?5)");
        if (!st)
                return -EIO;
        sqlite3_bind_blob(st, 1, hash, 32, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, user_id);
        sqlite3_bind_text(st, 3, csrf, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 4, now);
        sqlite3_bind_int64(st, 5, expires_at);
        return store_step_done(s, st);
}

int store_session_get(Store *s, const uint8_t hash[32], StoreSession *ret) {
        sqlite3_stmt *st = store_prepare(s, "SELECT user_id, csrf, created_at, last_seen, expires_at FROM sessions WHERE hash = ?1");
        if (!st)
                return -EIO;
        sqlite3_bind_blob(st, 1, hash, 32, SQLITE_STATIC);
        int r = store_step_row(st);
        if (r < 0)
                return r;
        StoreSession x = {
                .user_id = sqlite3_column_int64(st, 0),
                .created_at = sqlite3_column_int64(st, 2),
                .last_seen = sqlite3_column_int64(st, 3),
                .expires_at = sqlite3_column_int64(st, 4),
        };
        column_copy(st, 1, x.csrf, sizeof x.csrf);
        sqlite3_reset(st);
        *ret = x;
        return 0;
}

int store_session_touch(Store *s, const uint8_t hash[32], int64_t now) {
        sqlite3_stmt *st = store_prepare(s, "UPDATE sessions SET last_seen = ?2 WHERE hash = ?1");
        if (!st)
                return -EIO;
        sqlite3_bind_blob(st, 1, hash, 32, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, now);
        return store_step_done(s, st);
}

int store_session_delete(Store *s, const uint8_t hash[32]) {
        sqlite3_stmt *st = store_prepare(s, "DELETE FROM sessions WHERE hash = ?1");
        if (!st)
                return -EIO;
        sqlite3_bind_blob(st, 1, hash, 32, SQLITE_STATIC);
        return store_step_done(s, st);
}

int store_session_delete_user(Store *s, int64_t user_id, const uint8_t keep[32]) {
        static const uint8_t none[32];
        sqlite3_stmt *st = store_prepare(s, "DELETE FROM sessions WHERE user_id = ?1 AND hash != ?2");
        if (!st)
                return -EIO;
        sqlite3_bind_int64(st, 1, user_id);
        sqlite3_bind_blob(st, 2, keep ? keep : none, 32, SQLITE_STATIC);
        int r = store_step_done(s, st);
        return r < 0 ? r : sqlite3_changes(s->db);
}

int store_session_delete_all(Store *s) {
        sqlite3_stmt *st = store_prepare(s, "DELETE FROM sessions");
        if (!st)
                return -EIO;
        int r = store_step_done(s, st);
        return r < 0 ? r : sqlite3_changes(s->db);
}

int store_session_prune(Store *s, int64_t now, int64_t idle_limit) {
        sqlite3_stmt *st = store_prepare(s, "DELETE FROM sessions WHERE expires_at <= ?1 OR last_seen + ?2 <= ?1");
        if (!st)
                return -EIO;
        sqlite3_bind_int64(st, 1, now);
        sqlite3_bind_int64(st, 2, idle_limit);
        return store_step_done(s, st);
}

/* ---- tokens ---- */

int store_token_insert(Store *s, const char *name, const char *prefix, const uint8_t hash[32], const char *scope,
                       int64_t created_at, int64_t expires_at, int64_t *ret_id) {
        sqlite3_stmt *st = store_prepare(s, "INSERT INTO tokens(name, prefix, hash, scope, created_at, expires_at) "
                                      "VALUES(?1, ?2, ?3, ?4, ?5, ?6)");
        if (!st)
                return -EIO;
        sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, prefix, -1, SQLITE_STATIC);
        sqlite3_bind_blob(st, 3, hash, 32, SQLITE_STATIC);
        sqlite3_bind_text(st, 4, scope, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 5, created_at);
        sqlite3_bind_int64(st, 6, expires_at);
        int r = store_step_done(s, st);
        if (r < 0)
                return r;
        if (ret_id)
                *ret_id = sqlite3_last_insert_rowid(s->db);
        return 0;
}

static void token_from_row(sqlite3_stmt *st, StoreToken *t) {
        *t = (StoreToken) {
                .id = sqlite3_column_int64(st, 0),
                .created_at = sqlite3_column_int64(st, 4),
                .expires_at = sqlite3_column_int64(st, 5),
                .last_used = sqlite3_column_int64(st, 6),
        };
        column_copy(st, 1, t->name, sizeof t->name);
        column_copy(st, 2, t->prefix, sizeof t->prefix);
        column_copy(st, 3, t->scope, sizeof t->scope);
}

int store_token_get_by_hash(Store *s, const uint8_t hash[32], StoreToken *ret) {
        sqlite3_stmt *st = store_prepare(s, "SELECT id, name, prefix, scope, created_at, expires_at, last_used "
                                      "FROM tokens WHERE hash = ?1");
        if (!st)
                return -EIO;
        sqlite3_bind_blob(st, 1, hash, 32, SQLITE_STATIC);
        int r = store_step_row(st);
        if (r < 0)
                return r;
        token_from_row(st, ret);
        sqlite3_reset(st);
        return 0;
}

int store_token_foreach(Store *s, store_token_fn fn, void *userdata) {
        sqlite3_stmt *st = store_prepare(s, "SELECT id, name, prefix, scope, created_at, expires_at, last_used "
                                      "FROM tokens ORDER BY id");
        if (!st)
                return -EIO;
        int rc;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                StoreToken t;
                token_from_row(st, &t);
                fn(&t, userdata);
        }
        sqlite3_reset(st);
        return rc == SQLITE_DONE ? 0 : store_sqlite_to_errno(rc);
}

int store_token_delete(Store *s, int64_t id) {
        sqlite3_stmt *st = store_prepare(s, "DELETE FROM tokens WHERE id = ?1");
        if (!st)
                return -EIO;
        sqlite3_bind_int64(st, 1, id);
        return store_step_changed(s, st);
}

int store_token_touch(Store *s, int64_t id, int64_t now) {
        sqlite3_stmt *st = store_prepare(s, "UPDATE tokens SET last_used = ?2 WHERE id = ?1");
        if (!st)
                return -EIO;
        sqlite3_bind_int64(st, 1, id);
        sqlite3_bind_int64(st, 2, now);
        return store_step_done(s, st);
}

/* ---- audit ---- */

int store_audit_insert(Store *s, int64_t ts, const char *actor, const char *remote, const char *method,
                       const char *path, int status, const char *detail) {
        sqlite3_stmt *st = store_prepare(s, "INSERT INTO audit(ts, actor, remote, method, path, status, detail) "
                                      "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7)");
        if (!st)
                return -EIO;
        sqlite3_bind_int64(st, 1, ts);
        sqlite3_bind_text(st, 2, actor, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, remote, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 4, method, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 5, path, -1, SQLITE_STATIC);
        sqlite3_bind_int(st, 6, status);
        sqlite3_bind_text(st, 7, detail ? detail : "", -1, SQLITE_STATIC);
        return store_step_done(s, st);
}

int store_audit_foreach(Store *s, int64_t before_id, unsigned limit, store_audit_fn fn, void *userdata) {
        sqlite3_stmt *st = store_prepare(s, "SELECT id, ts, actor, remote, method, path, status, detail FROM audit "
                                      "WHERE (?1 = 0 OR id < ?1) ORDER BY id DESC LIMIT ?2");
        if (!st)
                return -EIO;
        sqlite3_bind_int64(st, 1, before_id);
        sqlite3_bind_int(st, 2, (int) limit);
        int rc;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                StoreAudit a = {
                        .id = sqlite3_column_int64(st, 0),
                        .ts = sqlite3_column_int64(st, 1),
                        .actor = (const char *) sqlite3_column_text(st, 2),
                        .remote = (const char *) sqlite3_column_text(st, 3),
                        .method = (const char *) sqlite3_column_text(st, 4),
                        .path = (const char *) sqlite3_column_text(st, 5),
                        .status = sqlite3_column_int(st, 6),
                        .detail = (const char *) sqlite3_column_text(st, 7),
                };
                fn(&a, userdata);
        }
        sqlite3_reset(st);
        return rc == SQLITE_DONE ? 0 : store_sqlite_to_errno(rc);
}

/* ---- whole database ---- */

int store_backup_to(Store *s, const char *dest_path) {
        sqlite3 *dest = NULL;
        int rc = sqlite3_open_v2(dest_path, &dest, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
        if (rc != SQLITE_OK) {
                sqlite3_close(dest);
                return store_sqlite_to_errno(rc);
        }
        sqlite3_backup *b = sqlite3_backup_init(dest, "main", s->db, "main");
        if (!b) {
                int r = store_sqlite_to_errno(sqlite3_errcode(dest));
                sqlite3_close(dest);
                return r < 0 ? r : -EIO;
        }
        rc = sqlite3_backup_step(b, -1);
        sqlite3_backup_finish(b);
        int r = rc == SQLITE_DONE ? 0 : store_sqlite_to_errno(rc);
        /* The copy is a standalone file: no WAL beside it. */
        if (r == 0 && sqlite3_exec(dest, "PRAGMA journal_mode=DELETE", NULL, NULL, NULL) != SQLITE_OK)
                r = -EIO;
        sqlite3_close(dest);
        return r;
}

int store_check_file(const char *path, PicError *err) {
        sqlite3 *db = NULL;
        int rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL);
        if (rc != SQLITE_OK) {
                sqlite3_close(db);
                return pic_error(err, -EBADMSG, NULL, "database in archive cannot be opened");
        }
        int r = 0;
        sqlite3_stmt *st = NULL;
        if (sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, NULL) != SQLITE_OK ||
            sqlite3_step(st) != SQLITE_ROW || !streq((const char *) sqlite3_column_text(st, 0), "ok"))
                r = pic_error(err, -EBADMSG, NULL, "database in archive fails its integrity check");
        sqlite3_finalize(st);
        st = NULL;
        if (r == 0) {
                if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK ||
                    sqlite3_step(st) != SQLITE_ROW)
                        r = pic_error(err, -EBADMSG, NULL, "database in archive has no schema version");
                else {
                        int v = sqlite3_column_int(st, 0);
                        if (v < 1 || v > SCHEMA_VERSION)
                                r = pic_error(err, -EBADMSG, NULL, "database in archive has unknown schema %d", v);
                }
                sqlite3_finalize(st);
        }
        sqlite3_close(db);
        return r;
}

int store_carry_audit_into(Store *s, const char *candidate_path) {
        sqlite3_stmt *st = NULL;
        int r = 0;
        if (sqlite3_prepare_v2(s->db, "ATTACH DATABASE ?1 AS candidate", -1, &st, NULL) != SQLITE_OK)
                return -EIO;
        sqlite3_bind_text(st, 1, candidate_path, -1, SQLITE_STATIC);
        if (sqlite3_step(st) != SQLITE_DONE)
                r = -EIO;
        sqlite3_finalize(st);
        if (r < 0)
                return r;
        r = exec_sql(s, "INSERT OR IGNORE INTO candidate.audit SELECT * FROM main.audit "
                        "WHERE id NOT IN (SELECT id FROM candidate.audit)");
        int k = exec_sql(s, "DETACH DATABASE candidate");
        return r < 0 ? r : k;
}
