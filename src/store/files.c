/* SQLite accessors for storage quotas and shared folders (see store/files.h). The share listing runs on a
 * statement of its own, so callbacks may use the store re-entrantly. */
#include "store/files.h"

#include <stdio.h>
#include <string.h>

#include "store/store-internal.h"

int store_quota_get(Store *s, int64_t user_id, int64_t *ret) {
        sqlite3_stmt *st = store_prepare(s, "SELECT quota FROM storage_quotas WHERE user_id = ?1");
        if (!st)
                return -EIO;
        sqlite3_bind_int64(st, 1, user_id);
        int r = store_step_row(st);
        if (r < 0)
                return r;
        *ret = sqlite3_column_int64(st, 0);
        return 0;
}

int store_quota_set(Store *s, int64_t user_id, int64_t quota) {
        sqlite3_stmt *st = store_prepare(s, quota < 0 ? "DELETE FROM storage_quotas WHERE user_id = ?1"
                                                      : "INSERT INTO storage_quotas(user_id, quota) VALUES(?1, ?2) "
                                                        "ON CONFLICT(user_id) DO UPDATE SET quota = excluded.quota");
        if (!st)
                return -EIO;
        sqlite3_bind_int64(st, 1, user_id);
        if (quota >= 0)
                sqlite3_bind_int64(st, 2, quota);
        return store_step_done(s, st);
}

int store_share_insert(Store *s, int64_t owner_id, const char *folder, int64_t with_id, bool writable, int64_t now,
                       int64_t *ret_id) {
        sqlite3_stmt *st = store_prepare(s, "INSERT INTO file_shares(owner_id, folder, with_id, writable, created_at) "
                                            "VALUES(?1, ?2, ?3, ?4, ?5)");
        if (!st)
                return -EIO;
        sqlite3_bind_int64(st, 1, owner_id);
        sqlite3_bind_text(st, 2, folder, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 3, with_id);
        sqlite3_bind_int(st, 4, writable);
        sqlite3_bind_int64(st, 5, now);
        int r = store_step_done(s, st);
        if (r >= 0 && ret_id)
                *ret_id = sqlite3_last_insert_rowid(store_db(s));
        return r;
}

int store_share_delete(Store *s, int64_t owner_id, int64_t id) {
        sqlite3_stmt *st = store_prepare(s, "DELETE FROM file_shares WHERE id = ?1 AND owner_id = ?2");
        if (!st)
                return -EIO;
        sqlite3_bind_int64(st, 1, id);
        sqlite3_bind_int64(st, 2, owner_id);
        return store_step_changed(s, st);
}

int store_share_foreach(Store *s, int64_t user_id, store_share_fn fn, void *userdata) {
        sqlite3_stmt *st = NULL;
        if (sqlite3_prepare_v2(store_db(s),
                               "SELECT f.id, o.username, f.folder, w.username, f.writable, f.created_at FROM file_shares f "
                               "JOIN users o ON o.id = f.owner_id JOIN users w ON w.id = f.with_id "
                               "WHERE ?1 = 0 OR f.owner_id = ?1 OR f.with_id = ?1 ORDER BY f.id",
                               -1, &st, NULL) != SQLITE_OK)
                return -EIO;
        sqlite3_bind_int64(st, 1, user_id);
        int rc;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                StoreShare sh = { .id = sqlite3_column_int64(st, 0), .writable = sqlite3_column_int(st, 4) != 0,
                                  .created_at = sqlite3_column_int64(st, 5) };
                store_copy_text(st, 1, sh.owner, sizeof sh.owner);
                store_copy_text(st, 2, sh.folder, sizeof sh.folder);
                store_copy_text(st, 3, sh.with, sizeof sh.with);
                fn(&sh, userdata);
        }
        sqlite3_finalize(st);
        return rc == SQLITE_DONE ? 0 : store_sqlite_to_errno(rc);
}
