/* SQLite accessors for the mesh tables (schema 4): mesh_invites, mesh_cells, mesh_grants. A duplicate
 * identity or WireGuard key of a linked cell is -EEXIST, like every UNIQUE violation of the store. */
#include "store/mesh.h"

#include <stdio.h>

#include "basic/util.h"
#include "store/store-internal.h"

#define INVITE_COLUMNS "id, nonce, share, created_at, expires_at, used_by, used_at"

static void invite_from_row(sqlite3_stmt *st, MeshInvite *inv) {
        *inv = (MeshInvite) { .id = sqlite3_column_int64(st, 0),
                              .created_at = sqlite3_column_int64(st, 3),
                              .expires_at = sqlite3_column_int64(st, 4),
                              .used_at = sqlite3_column_int64(st, 6) };
        store_copy_text(st, 1, inv->nonce, sizeof inv->nonce);
        store_copy_text(st, 2, inv->share, sizeof inv->share);
        store_copy_text(st, 5, inv->used_by, sizeof inv->used_by);
}

int store_mesh_invite_insert(Store *s, MeshInvite *inv) {
        sqlite3_stmt *st = store_prepare(s, "INSERT INTO mesh_invites(nonce, share, created_at, expires_at) "
                                            "VALUES(?1, ?2, ?3, ?4)");
        if (!st)
                return -EIO;
        sqlite3_bind_text(st, 1, inv->nonce, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, inv->share, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 3, inv->created_at);
        sqlite3_bind_int64(st, 4, inv->expires_at);
        int r = store_step_done(s, st);
        if (r >= 0)
                inv->id = sqlite3_last_insert_rowid(store_db(s));
        return r;
}

int store_mesh_invite_get_by_nonce(Store *s, const char *nonce, MeshInvite *ret) {
        sqlite3_stmt *st = store_prepare(s, "SELECT " INVITE_COLUMNS " FROM mesh_invites WHERE nonce=?1");
        if (!st)
                return -EIO;
        sqlite3_bind_text(st, 1, nonce, -1, SQLITE_STATIC);
        int r = store_step_row(st);
        if (r < 0)
                return r;
        invite_from_row(st, ret);
        sqlite3_reset(st);
        return 0;
}

int store_mesh_invite_mark_used(Store *s, int64_t id, const char *by, int64_t at) {
        sqlite3_stmt *st = store_prepare(s, "UPDATE mesh_invites SET used_by=?2, used_at=?3 WHERE id=?1");
        if (!st)
                return -EIO;
        sqlite3_bind_int64(st, 1, id);
        sqlite3_bind_text(st, 2, by, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 3, at);
        return store_step_changed(s, st);
}

int store_mesh_invite_delete(Store *s, int64_t id) {
        sqlite3_stmt *st = store_prepare(s, "DELETE FROM mesh_invites WHERE id=?1");
        if (!st)
                return -EIO;
        sqlite3_bind_int64(st, 1, id);
        return store_step_changed(s, st);
}

int store_mesh_invite_foreach(Store *s, store_mesh_invite_fn fn, void *userdata) {
        sqlite3_stmt *st = store_prepare(s, "SELECT " INVITE_COLUMNS " FROM mesh_invites ORDER BY id");
        if (!st)
                return -EIO;
        int rc, r = 0;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                MeshInvite inv;
                invite_from_row(st, &inv);
                if ((r = fn(&inv, userdata)) < 0)
                        break;
        }
        if (r >= 0 && rc != SQLITE_ROW && rc != SQLITE_DONE)
                r = store_sqlite_to_errno(rc);
        sqlite3_reset(st);
        return r;
}

#define CELL_COLUMNS \
        "name, domain, identity, wg_key, host, port, vpn, range, dns_port, offered, nonce, state, invite, local_ip, " \
        "remote_ip, created_at"

static void cell_from_row(sqlite3_stmt *st, MeshCell *c) {
        *c = (MeshCell) { .port = (uint16_t) sqlite3_column_int(st, 5),
                          .dns_port = (uint16_t) sqlite3_column_int(st, 8),
                          .local_ip = (uint32_t) sqlite3_column_int64(st, 13),
                          .remote_ip = (uint32_t) sqlite3_column_int64(st, 14),
                          .created_at = sqlite3_column_int64(st, 15) };
        store_copy_text(st, 0, c->name, sizeof c->name);
        store_copy_text(st, 1, c->domain, sizeof c->domain);
        store_copy_text(st, 2, c->identity, sizeof c->identity);
        store_copy_text(st, 3, c->wg_key, sizeof c->wg_key);
        store_copy_text(st, 4, c->host, sizeof c->host);
        store_copy_text(st, 6, c->vpn, sizeof c->vpn);
        store_copy_text(st, 7, c->range, sizeof c->range);
        store_copy_text(st, 9, c->offered, sizeof c->offered);
        store_copy_text(st, 10, c->nonce, sizeof c->nonce);
        store_copy_text(st, 11, c->state, sizeof c->state);
        store_copy_text(st, 12, c->invite, sizeof c->invite);
}

int store_mesh_cell_put(Store *s, const MeshCell *c) {
        sqlite3_stmt *st = store_prepare(s, "INSERT OR REPLACE INTO mesh_cells(" CELL_COLUMNS ") VALUES(?1, ?2, ?3, ?4, "
                                            "?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)");
        if (!st)
                return -EIO;
        sqlite3_bind_text(st, 1, c->name, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, c->domain, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, c->identity, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 4, c->wg_key, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 5, c->host, -1, SQLITE_STATIC);
        sqlite3_bind_int(st, 6, c->port);
        sqlite3_bind_text(st, 7, c->vpn, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 8, c->range, -1, SQLITE_STATIC);
        sqlite3_bind_int(st, 9, c->dns_port);
        sqlite3_bind_text(st, 10, c->offered, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 11, c->nonce, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 12, c->state, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 13, c->invite, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 14, c->local_ip);
        sqlite3_bind_int64(st, 15, c->remote_ip);
        sqlite3_bind_int64(st, 16, c->created_at);
        return store_step_done(s, st);
}

static int cell_get(Store *s, sqlite3_stmt *st, const char *key, MeshCell *ret) {
        if (!st)
                return -EIO;
        sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
        int r = store_step_row(st);
        if (r < 0)
                return r;
        cell_from_row(st, ret);
        sqlite3_reset(st);
        return 0;
}

int store_mesh_cell_get(Store *s, const char *name, MeshCell *ret) {
        return cell_get(s, store_prepare(s, "SELECT " CELL_COLUMNS " FROM mesh_cells WHERE name=?1"), name, ret);
}

int store_mesh_cell_get_by_identity(Store *s, const char *identity, MeshCell *ret) {
        return cell_get(s, store_prepare(s, "SELECT " CELL_COLUMNS " FROM mesh_cells WHERE identity=?1"), identity, ret);
}

int store_mesh_cell_delete(Store *s, const char *name) {
        sqlite3_stmt *st = store_prepare(s, "DELETE FROM mesh_cells WHERE name=?1");
        if (!st)
                return -EIO;
        sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
        return store_step_changed(s, st);
}

int store_mesh_cell_foreach(Store *s, store_mesh_cell_fn fn, void *userdata) {
        sqlite3_stmt *st = store_prepare(s, "SELECT " CELL_COLUMNS " FROM mesh_cells ORDER BY name");
        if (!st)
                return -EIO;
        int rc, r = 0;
        MeshCell *c = malloc(sizeof *c);
        if (!c)
                return -ENOMEM;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                cell_from_row(st, c);
                if ((r = fn(c, userdata)) < 0)
                        break;
        }
        if (r >= 0 && rc != SQLITE_ROW && rc != SQLITE_DONE)
                r = store_sqlite_to_errno(rc);
        sqlite3_reset(st);
        free(c);
        return r;
}

int store_mesh_grant_add(Store *s, const char *peer, const char *cell, const char *service) {
        sqlite3_stmt *st = store_prepare(s, "INSERT OR IGNORE INTO mesh_grants(peer, cell, service) VALUES(?1, ?2, ?3)");
        if (!st)
                return -EIO;
        sqlite3_bind_text(st, 1, peer, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, cell, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, service, -1, SQLITE_STATIC);
        return store_step_done(s, st);
}

int store_mesh_grant_remove(Store *s, const char *peer, const char *cell) {
        sqlite3_stmt *st = store_prepare(s, "DELETE FROM mesh_grants WHERE (?1 IS NULL OR peer=?1) AND (?2 IS NULL OR cell=?2)");
        if (!st)
                return -EIO;
        if (peer)
                sqlite3_bind_text(st, 1, peer, -1, SQLITE_STATIC);
        if (cell)
                sqlite3_bind_text(st, 2, cell, -1, SQLITE_STATIC);
        return store_step_done(s, st);
}

int store_mesh_grant_foreach(Store *s, const char *peer, const char *cell, store_mesh_grant_fn fn, void *userdata) {
        sqlite3_stmt *st = store_prepare(s, "SELECT peer, cell, service FROM mesh_grants WHERE (?1 IS NULL OR peer=?1) "
                                            "AND (?2 IS NULL OR cell=?2) ORDER BY peer, cell, service");
        if (!st)
                return -EIO;
        if (peer)
                sqlite3_bind_text(st, 1, peer, -1, SQLITE_TRANSIENT);
        if (cell)
                sqlite3_bind_text(st, 2, cell, -1, SQLITE_TRANSIENT);
        int rc, r = 0;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                char p[64], c[64], sv[64];
                store_copy_text(st, 0, p, sizeof p);
                store_copy_text(st, 1, c, sizeof c);
                store_copy_text(st, 2, sv, sizeof sv);
                if ((r = fn(p, c, sv, userdata)) < 0)
                        break;
        }
        if (r >= 0 && rc != SQLITE_ROW && rc != SQLITE_DONE)
                r = store_sqlite_to_errno(rc);
        sqlite3_reset(st);
        return r;
}
