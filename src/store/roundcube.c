/* Reads and deletes one user's rows in Roundcube's SQLite file (www-data's, 0600). Opened per call: the webmail's
 * workers own the file and keep it open, so pic holds no handle between requests. */
#include "store/roundcube.h"

#include <errno.h>
#include <stdbool.h>
#include <sqlite3.h>
#include <unistd.h>

#include "basic/util.h"

#define BUSY_MS 5000
/* A user's rows in Roundcube's users table: the name as typed at sign-in, with or without a domain (the mail server
 * accepts only ours), whatever the mail domain was called then. */
#define USER_MATCH "(username = ?1 OR substr(username, 1, length(?1) + 1) = ?1 || '@')"

/* SQLite run as root gives the journal it makes the database's owner, so the workers keep writing it. */
static int db_open(const char *path, int flags, sqlite3 **ret, PicError *err) {
        if (access(path, F_OK) < 0)
                return errno == ENOENT ? -ENOENT : pic_error(err, negative_errno(), NULL, "cannot reach %s: %m", path);
        sqlite3 *db = NULL;
        int rc = sqlite3_open_v2(path, &db, flags, NULL);
        if (rc == SQLITE_OK)
                rc = sqlite3_busy_timeout(db, BUSY_MS);
        /* Without it SQLite ignores the schema's ON DELETE CASCADE. */
        if (rc == SQLITE_OK)
                rc = sqlite3_exec(db, "PRAGMA foreign_keys = ON", NULL, NULL, NULL);
        if (rc != SQLITE_OK) {
                pic_error(err, -EIO, NULL, "cannot open the webmail's database %s: %s", path,
                          db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
                sqlite3_close(db);
                return -EIO;
        }
        *ret = db;
        return 0;
}

/* COUNT(*) of sql with ?1 bound to user; -1 on error (a table Roundcube's schema does not have counts as none). */
static int64_t db_count(sqlite3 *db, const char *sql, const char *user) {
        sqlite3_stmt *st = NULL;
        int64_t n = -1;
        if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK &&
            sqlite3_bind_text(st, 1, user, -1, SQLITE_STATIC) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
                n = sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
        return n;
}

/* Roundcube makes its tables at its first connection: an empty file before that has none, and no user's rows. */
static bool db_has_users(sqlite3 *db) {
        return db_count(db, "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'users' AND ?1 = ?1",
                        "") == 1;
}

int roundcube_user_rows(const char *path, const char *user, RoundcubeUserRows *ret, PicError *err) {
        *ret = (RoundcubeUserRows) { 0 };
        sqlite3 *db = NULL;
        int r = db_open(path, SQLITE_OPEN_READONLY, &db, err);
        if (r < 0)
                return r;
        if (!db_has_users(db)) {
                sqlite3_close(db);
                return 0;
        }
        int64_t users = db_count(db, "SELECT COUNT(*) FROM users WHERE " USER_MATCH, user);
        int64_t idents = db_count(db, "SELECT COUNT(*) FROM identities WHERE del = 0 AND user_id IN "
                                      "(SELECT user_id FROM users WHERE " USER_MATCH ")", user);
        int64_t contacts = db_count(db, "SELECT COUNT(*) FROM contacts WHERE del = 0 AND user_id IN "
                                        "(SELECT user_id FROM users WHERE " USER_MATCH ")", user);
        sqlite3_close(db);
        if (users < 0)
                return pic_error(err, -EIO, NULL, "cannot read the webmail's users");
        *ret = (RoundcubeUserRows) { .users = users, .identities = idents < 0 ? 0 : idents,
                                     .contacts = contacts < 0 ? 0 : contacts };
        return 0;
}

int roundcube_user_delete(const char *path, const char *user, PicError *err) {
        sqlite3 *db = NULL;
        int r = db_open(path, SQLITE_OPEN_READWRITE, &db, err);
        if (r == -ENOENT)
                return 0;
        if (r < 0)
                return r;
        if (!db_has_users(db)) {
                sqlite3_close(db);
                return 0;
        }
        sqlite3_stmt *st = NULL;
        int rc = sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
        if (rc == SQLITE_OK)
                rc = sqlite3_prepare_v2(db, "DELETE FROM users WHERE " USER_MATCH, -1, &st, NULL);
        if (rc == SQLITE_OK)
                rc = sqlite3_bind_text(st, 1, user, -1, SQLITE_STATIC);
        if (rc == SQLITE_OK)
                rc = sqlite3_step(st) == SQLITE_DONE ? SQLITE_OK : sqlite3_errcode(db);
        sqlite3_finalize(st);
        if (rc == SQLITE_OK)
                rc = sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
        if (rc != SQLITE_OK) {
                pic_error(err, -EIO, NULL, "cannot delete %s's webmail data: %s", user, sqlite3_errmsg(db));
                (void) sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
                sqlite3_close(db);
                return -EIO;
        }
        sqlite3_close(db);
        return 0;
}
