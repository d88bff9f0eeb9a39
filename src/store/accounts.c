/* SQLite accessors for app passwords, the session list and cell_keys (see store/accounts.h). Callbacks run
 * on a statement of their own, so they may use the store re-entrantly. */
#include "store/accounts.h"

#include <stdio.h>
#include <string.h>

#include "store/store-internal.h"

static void copy_blob32(sqlite3_stmt *st, int col, uint8_t out[32]) {
        const void *b = sqlite3_column_blob(st, col);
        memset(out, 0, 32);
        if (b && sqlite3_column_bytes(st, col) == 32)
                memcpy(out, b, 32);
}

int store_app_password_insert(Store *s, int64_t user_id, const char *label, const uint8_t hash[32], int64_t now,
                              int64_t *ret_id) {
        sqlite3_stmt *st = store_prepare(s, "INSERT INTO app_passwords(user_id, label, hash, created_at) VALUES(?1, ?2, ?3, ?4)");
        if (!st)
                return -EIO;
        sqlite3_bind_int64(st, 1, user_id);
        sqlite3_bind_text(st, 2, label, -1, SQLITE_STATIC);
        sqlite3_bind_blob(st, 3, hash, 32, SQLITE_STATIC);
        sqlite3_bind_int64(st, 4, now);
        int r = store_step_done(s, st);
        if (r >= 0 && ret_id)
                *ret_id = sqlite3_last_insert_rowid(store_db(s));
        return r;
}

int store_app_password_delete(Store *s, int64_t user_id, int64_t id) {
        sqlite3_stmt *st = store_prepare(s, "DELETE FROM app_passwords WHERE id = ?1 AND user_id = ?2");
        if (!st)
                return -EIO;
        sqlite3_bind_int64(st, 1, id);
        sqlite3_bind_int64(st, 2, user_id);
        return store_step_changed(s, st);
}

int store_app_password_foreach(Store *s, int64_t user_id, store_app_password_fn fn, void *userdata) {
        sqlite3_stmt *st = NULL;
        if (sqlite3_prepare_v2(store_db(s),
                               "SELECT a.id, a.user_id, u.username, a.label, a.hash, a.created_at, a.last_used_at "
                               "FROM app_passwords a JOIN users u ON u.id = a.user_id WHERE ?1 = 0 OR a.user_id = ?1 "
                               "ORDER BY a.id",
                               -1, &st, NULL) != SQLITE_OK)
                return -EIO;
        sqlite3_bind_int64(st, 1, user_id);
        int rc;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                StoreAppPassword a = {
                        .id = sqlite3_column_int64(st, 0),
                        .user_id = sqlite3_column_int64(st, 1),
                        .created_at = sqlite3_column_int64(st, 5),
                        .last_used_at = sqlite3_column_int64(st, 6),
                };
                store_copy_text(st, 2, a.username, sizeof a.username);
                store_copy_text(st, 3, a.label, sizeof a.label);
                copy_blob32(st, 4, a.hash);
                fn(&a, userdata);
        }
        sqlite3_finalize(st);
        return rc == SQLITE_DONE ? 0 : store_sqlite_to_errno(rc);
}

int store_app_password_count(Store *s, int64_t user_id, int64_t *ret) {
        sqlite3_stmt *st = store_prepare(s, "SELECT count(*) FROM app_passwords WHERE user_id = ?1");
        if (!st)
                return -EIO;
        sqlite3_bind_int64(st, 1, user_id);
        int r = store_step_row(st);
        if (r < 0)
                return r;
        *ret = sqlite3_column_int64(st, 0);
        sqlite3_reset(st);
        return 0;
}

int store_app_password_touch(Store *s, int64_t id, int64_t last_used_at) {
        sqlite3_stmt *st = store_prepare(s, "UPDATE app_passwords SET last_used_at = ?2 WHERE id = ?1");
        if (!st)
                return -EIO;
        sqlite3_bind_int64(st, 1, id);
        sqlite3_bind_int64(st, 2, last_used_at);
        return store_step_done(s, st);
}

int store_session_foreach(Store *s, store_session_fn fn, void *userdata) {
        sqlite3_stmt *st = NULL;
        if (sqlite3_prepare_v2(store_db(s),
                               "SELECT s.hash, s.user_id, u.username, s.last_seen, s.expires_at FROM sessions s "
                               "JOIN users u ON u.id = s.user_id",
                               -1, &st, NULL) != SQLITE_OK)
                return -EIO;
        int rc;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                StoreSessionRow x = {
                        .user_id = sqlite3_column_int64(st, 1),
                        .last_seen = sqlite3_column_int64(st, 3),
                        .expires_at = sqlite3_column_int64(st, 4),
                };
                copy_blob32(st, 0, x.hash);
                store_copy_text(st, 2, x.username, sizeof x.username);
                fn(&x, userdata);
        }
        sqlite3_finalize(st);
        return rc == SQLITE_DONE ? 0 : store_sqlite_to_errno(rc);
}

int store_cell_key_get(Store *s, const char *name, uint8_t *buf, size_t len) {
        sqlite3_stmt *st = store_prepare(s, "SELECT value FROM cell_keys WHERE name = ?1");
        if (!st)
                return -EIO;
        sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
        int r = store_step_row(st);
        if (r < 0)
                return r;
        int n = sqlite3_column_bytes(st, 0);
        const void *b = sqlite3_column_blob(st, 0);
        r = b && (size_t) n == len ? 0 : -EBADMSG;
        if (r == 0)
                memcpy(buf, b, len);
        sqlite3_reset(st);
        return r;
}

int store_cell_key_put(Store *s, const char *name, const uint8_t *buf, size_t len) {
        sqlite3_stmt *st = store_prepare(s, "INSERT INTO cell_keys(name, value) VALUES(?1, ?2)");
        if (!st)
                return -EIO;
        sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
        sqlite3_bind_blob(st, 2, buf, (int) len, SQLITE_STATIC);
        return store_step_done(s, st);
}
