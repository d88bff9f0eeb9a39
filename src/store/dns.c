/* SQLite accessors for dns_records. The UNIQUE(name, type, value) constraint is what makes a duplicate
 * record a 409: it surfaces here as -EEXIST. */
#include "store/dns.h"

#include <stdio.h>

#include "basic/util.h"
#include "store/store-internal.h"

#define DNS_COLUMNS "id, name, type, value, ttl, created_at"

static void record_from_row(sqlite3_stmt *st, DnsRecord *r) {
        *r = (DnsRecord) {
                .id = sqlite3_column_int64(st, 0),
                .ttl = (uint32_t) sqlite3_column_int64(st, 4),
                .created_at = sqlite3_column_int64(st, 5),
        };
        store_copy_text(st, 1, r->name, sizeof r->name);
        store_copy_text(st, 2, r->type, sizeof r->type);
        store_copy_text(st, 3, r->value, sizeof r->value);
}

int store_dns_record_insert(Store *s, DnsRecord *r) {
        sqlite3_stmt *st = store_prepare(s, "INSERT INTO dns_records(name, type, value, ttl, created_at) "
                                            "VALUES(?1, ?2, ?3, ?4, ?5)");
        if (!st)
                return -EIO;
        sqlite3_bind_text(st, 1, r->name, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, r->type, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, r->value, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 4, r->ttl);
        sqlite3_bind_int64(st, 5, r->created_at);
        int k = store_step_done(s, st);
        if (k < 0)
                return k;
        r->id = sqlite3_last_insert_rowid(store_db(s));
        return 0;
}

int store_dns_record_delete(Store *s, int64_t id) {
        sqlite3_stmt *st = store_prepare(s, "DELETE FROM dns_records WHERE id = ?1");
        if (!st)
                return -EIO;
        sqlite3_bind_int64(st, 1, id);
        int k = store_step_done(s, st);
        if (k < 0)
                return k;
        return sqlite3_changes(store_db(s)) > 0 ? 0 : -ENOENT;
}

int store_dns_record_get(Store *s, int64_t id, DnsRecord *ret) {
        sqlite3_stmt *st = store_prepare(s, "SELECT " DNS_COLUMNS " FROM dns_records WHERE id = ?1");
        if (!st)
                return -EIO;
        sqlite3_bind_int64(st, 1, id);
        int r = store_step_row(st);
        if (r < 0)
                return r;
        record_from_row(st, ret);
        sqlite3_reset(st);
        return 0;
}

/* Not the cached statements: a callback may use the store (and the cache) re-entrantly. */
static int foreach_sql(Store *s, const char *sql, const char *name, store_dns_record_fn fn, void *userdata) {
        sqlite3_stmt *st = NULL;
        if (sqlite3_prepare_v2(store_db(s), sql, -1, &st, NULL) != SQLITE_OK)
                return -EIO;
        if (name)
                sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
        int rc, r = 0;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                DnsRecord rec;
                record_from_row(st, &rec);
                r = fn(&rec, userdata);
                if (r < 0)
                        break;
        }
        sqlite3_finalize(st);
        if (r < 0)
                return r;
        return rc == SQLITE_DONE ? 0 : store_sqlite_to_errno(rc);
}

int store_dns_record_foreach(Store *s, store_dns_record_fn fn, void *userdata) {
        return foreach_sql(s, "SELECT " DNS_COLUMNS " FROM dns_records ORDER BY id", NULL, fn, userdata);
}

int store_dns_record_foreach_name(Store *s, const char *name, store_dns_record_fn fn, void *userdata) {
        return foreach_sql(s, "SELECT " DNS_COLUMNS " FROM dns_records WHERE name = ?1 ORDER BY id", name, fn,
                           userdata);
}

int store_dns_record_count(Store *s, int64_t *ret) {
        sqlite3_stmt *st = store_prepare(s, "SELECT count(*) FROM dns_records");
        if (!st)
                return -EIO;
        if (sqlite3_step(st) != SQLITE_ROW) {
                sqlite3_reset(st);
                return -EIO;
        }
        *ret = sqlite3_column_int64(st, 0);
        sqlite3_reset(st);
        return 0;
}
