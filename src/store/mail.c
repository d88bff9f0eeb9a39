/* SQLite accessors for mail_aliases (schema 4). The foreign key on users(username) keeps every target a real
 * user; the caller checks names against the grammar first. */
#include "store/mail.h"

#include <stdio.h>

#include "store/store-internal.h"

int store_mail_alias_insert(Store *s, const char *alias, const char *target, int64_t now) {
        sqlite3_stmt *st = store_prepare(s, "INSERT INTO mail_aliases(alias, target, created_at) VALUES(?1, ?2, ?3)");
        if (!st)
                return -EIO;
        sqlite3_bind_text(st, 1, alias, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, target, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 3, now);
        return store_step_done(s, st);
}

int store_mail_alias_delete(Store *s, const char *alias) {
        sqlite3_stmt *st = store_prepare(s, "DELETE FROM mail_aliases WHERE alias = ?1");
        if (!st)
                return -EIO;
        sqlite3_bind_text(st, 1, alias, -1, SQLITE_STATIC);
        return store_step_changed(s, st);
}

int store_mail_alias_foreach(Store *s, store_mail_alias_fn fn, void *userdata) {
        /* Not the cached statement: a callback may use the store re-entrantly. */
        sqlite3_stmt *st = NULL;
        if (sqlite3_prepare_v2(store_db(s), "SELECT alias, target, created_at FROM mail_aliases ORDER BY alias, target",
                               -1, &st, NULL) != SQLITE_OK)
                return -EIO;
        int rc, r = 0;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                StoreMailAlias a = { .created_at = sqlite3_column_int64(st, 2) };
                const unsigned char *al = sqlite3_column_text(st, 0), *t = sqlite3_column_text(st, 1);
                snprintf(a.alias, sizeof a.alias, "%s", al ? (const char *) al : "");
                snprintf(a.target, sizeof a.target, "%s", t ? (const char *) t : "");
                r = fn(&a, userdata);
                if (r < 0)
                        break;
        }
        sqlite3_finalize(st);
        if (r < 0)
                return r;
        return rc == SQLITE_DONE ? 0 : store_sqlite_to_errno(rc);
}
