/* SQLite accessors for the peers table (schema 2). Constraint violations map to -EEXIST so the API can
 * answer 409 for a duplicate name, IP or key. */
#include "store/peers.h"

#include <stdio.h>

#include "basic/util.h"
#include "store/store-internal.h"

#define PEER_COLUMNS \
        "id, name, ip, public_key, coalesce(private_key,''), coalesce(preshared_key,''), access, enabled, route_all, " \
        "description, created_at, updated_at, coalesce(owner,'')"

static void peer_from_row(sqlite3_stmt *st, Peer *p) {
        *p = (Peer) {
                .id = sqlite3_column_int64(st, 0),
                .ip = (uint32_t) sqlite3_column_int64(st, 2),
                .access = (uint32_t) sqlite3_column_int64(st, 6),
                .enabled = sqlite3_column_int(st, 7) != 0,
                .route_all = sqlite3_column_int(st, 8) != 0,
                .created_at = sqlite3_column_int64(st, 10),
                .updated_at = sqlite3_column_int64(st, 11),
        };
        store_copy_text(st, 1, p->name, sizeof p->name);
        store_copy_text(st, 3, p->public_key, sizeof p->public_key);
        store_copy_text(st, 4, p->private_key, sizeof p->private_key);
        store_copy_text(st, 5, p->preshared_key, sizeof p->preshared_key);
        store_copy_text(st, 9, p->description, sizeof p->description);
        store_copy_text(st, 12, p->owner, sizeof p->owner);
}

static void bind_text_or_null(sqlite3_stmt *st, int idx, const char *s) {
        if (s && *s)
                sqlite3_bind_text(st, idx, s, -1, SQLITE_STATIC);
        else
                sqlite3_bind_null(st, idx);
}

int store_peer_insert(Store *s, Peer *p) {
        sqlite3_stmt *st = store_prepare(s, "INSERT INTO peers(name, ip, public_key, private_key, preshared_key, access, "
                                            "enabled, route_all, description, created_at, updated_at, owner) "
                                            "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)");
        if (!st)
                return -EIO;
        sqlite3_bind_text(st, 1, p->name, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, p->ip);
        sqlite3_bind_text(st, 3, p->public_key, -1, SQLITE_STATIC);
        bind_text_or_null(st, 4, p->private_key);
        bind_text_or_null(st, 5, p->preshared_key);
        sqlite3_bind_int64(st, 6, p->access);
        sqlite3_bind_int(st, 7, p->enabled);
        sqlite3_bind_int(st, 8, p->route_all);
        sqlite3_bind_text(st, 9, p->description, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 10, p->created_at);
        sqlite3_bind_int64(st, 11, p->updated_at);
        bind_text_or_null(st, 12, p->owner);
        int r = store_step_done(s, st);
        if (r < 0)
                return r;
        p->id = sqlite3_last_insert_rowid(store_db(s));
        return 0;
}

int store_peer_update(Store *s, const Peer *p) {
        sqlite3_stmt *st = store_prepare(s, "UPDATE peers SET name=?2, ip=?3, public_key=?4, private_key=?5, "
                                            "preshared_key=?6, access=?7, enabled=?8, route_all=?9, description=?10, "
                                            "updated_at=?11, owner=?12 WHERE id=?1");
        if (!st)
                return -EIO;
        sqlite3_bind_int64(st, 1, p->id);
        sqlite3_bind_text(st, 2, p->name, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 3, p->ip);
        sqlite3_bind_text(st, 4, p->public_key, -1, SQLITE_STATIC);
        bind_text_or_null(st, 5, p->private_key);
        bind_text_or_null(st, 6, p->preshared_key);
        sqlite3_bind_int64(st, 7, p->access);
        sqlite3_bind_int(st, 8, p->enabled);
        sqlite3_bind_int(st, 9, p->route_all);
        sqlite3_bind_text(st, 10, p->description, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 11, p->updated_at);
        bind_text_or_null(st, 12, p->owner);
        return store_step_changed(s, st);
}

int store_peer_delete(Store *s, int64_t id) {
        sqlite3_stmt *st = store_prepare(s, "DELETE FROM peers WHERE id = ?1");
        if (!st)
                return -EIO;
        sqlite3_bind_int64(st, 1, id);
        return store_step_changed(s, st);
}

static int get_one(sqlite3_stmt *st, Peer *ret) {
        int r = store_step_row(st);
        if (r < 0)
                return r;
        peer_from_row(st, ret);
        sqlite3_reset(st);
        return 0;
}

int store_peer_get_by_name(Store *s, const char *name, Peer *ret) {
        sqlite3_stmt *st = store_prepare(s, "SELECT " PEER_COLUMNS " FROM peers WHERE name = ?1");
        if (!st)
                return -EIO;
        sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
        return get_one(st, ret);
}

int store_peer_get_by_ip(Store *s, uint32_t ip, Peer *ret) {
        sqlite3_stmt *st = store_prepare(s, "SELECT " PEER_COLUMNS " FROM peers WHERE ip = ?1");
        if (!st)
                return -EIO;
        sqlite3_bind_int64(st, 1, ip);
        return get_one(st, ret);
}

int store_peer_count(Store *s, int64_t *ret) {
        sqlite3_stmt *st = store_prepare(s, "SELECT count(*) FROM peers");
        if (!st || sqlite3_step(st) != SQLITE_ROW)
                return -EIO;
        *ret = sqlite3_column_int64(st, 0);
        sqlite3_reset(st);
        return 0;
}

int store_peer_foreach(Store *s, store_peer_fn fn, void *userdata) {
        /* Not the cached statement: a callback may itself use the store (and the cache) re-entrantly. */
        sqlite3_stmt *st = NULL;
        if (sqlite3_prepare_v2(store_db(s), "SELECT " PEER_COLUMNS " FROM peers ORDER BY id", -1, &st, NULL) != SQLITE_OK)
                return -EIO;
        int rc, r = 0;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                Peer p;
                peer_from_row(st, &p);
                r = fn(&p, userdata);
                if (r < 0)
                        break;
        }
        sqlite3_finalize(st);
        if (r < 0)
                return r;
        return rc == SQLITE_DONE ? 0 : store_sqlite_to_errno(rc);
}

int store_peer_ips(Store *s, uint32_t **ret, size_t *ret_n) {
        sqlite3_stmt *st = store_prepare(s, "SELECT ip FROM peers ORDER BY ip");
        if (!st)
                return -EIO;
        size_t n = 0, cap = 0;
        uint32_t *v = NULL;
        int rc;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                if (n == cap) {
                        cap = cap ? cap * 2 : 64;
                        uint32_t *nv = realloc(v, cap * sizeof *nv);
                        if (!nv) {
                                free(v);
                                sqlite3_reset(st);
                                return -ENOMEM;
                        }
                        v = nv;
                }
                v[n++] = (uint32_t) sqlite3_column_int64(st, 0);
        }
        sqlite3_reset(st);
        if (rc != SQLITE_DONE) {
                free(v);
                return store_sqlite_to_errno(rc);
        }
        *ret = v;
        *ret_n = n;
        return 0;
}
