/* SQLite accessors for dhcp_reservations. Uniqueness (MAC, IP, host name) is the table's; a violation maps
 * to -EEXIST, and the caller looks up which one to name the field in its 409. */
#include "store/dhcp.h"

#include <stdio.h>

#include "basic/util.h"
#include "store/store-internal.h"

#define COLUMNS "mac, ip, hostname, created_at"

static void from_row(sqlite3_stmt *st, DhcpReservation *r) {
        const unsigned char *mac = sqlite3_column_text(st, 0), *host = sqlite3_column_text(st, 2);
        *r = (DhcpReservation) { .ip = (uint32_t) sqlite3_column_int64(st, 1), .created_at = sqlite3_column_int64(st, 3) };
        snprintf(r->mac, sizeof r->mac, "%s", mac ? (const char *) mac : "");
        snprintf(r->hostname, sizeof r->hostname, "%s", host ? (const char *) host : "");
}

int store_dhcp_reservation_insert(Store *s, const DhcpReservation *r) {
        sqlite3_stmt *st = store_prepare(s, "INSERT INTO dhcp_reservations(" COLUMNS ") VALUES(?1, ?2, ?3, ?4)");
        if (!st)
                return -EIO;
        sqlite3_bind_text(st, 1, r->mac, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, r->ip);
        sqlite3_bind_text(st, 3, r->hostname, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 4, r->created_at);
        return store_step_done(s, st);
}

int store_dhcp_reservation_delete(Store *s, const char *mac) {
        sqlite3_stmt *st = store_prepare(s, "DELETE FROM dhcp_reservations WHERE mac = ?1");
        if (!st)
                return -EIO;
        sqlite3_bind_text(st, 1, mac, -1, SQLITE_STATIC);
        return store_step_changed(s, st);
}

static int get_one(sqlite3_stmt *st, DhcpReservation *ret) {
        int r = store_step_row(st);
        if (r < 0)
                return r;
        from_row(st, ret);
        sqlite3_reset(st);
        return 0;
}

int store_dhcp_reservation_get(Store *s, const char *mac, DhcpReservation *ret) {
        sqlite3_stmt *st = store_prepare(s, "SELECT " COLUMNS " FROM dhcp_reservations WHERE mac = ?1");
        if (!st)
                return -EIO;
        sqlite3_bind_text(st, 1, mac, -1, SQLITE_STATIC);
        return get_one(st, ret);
}

int store_dhcp_reservation_get_by_ip(Store *s, uint32_t ip, DhcpReservation *ret) {
        sqlite3_stmt *st = store_prepare(s, "SELECT " COLUMNS " FROM dhcp_reservations WHERE ip = ?1");
        if (!st)
                return -EIO;
        sqlite3_bind_int64(st, 1, ip);
        return get_one(st, ret);
}

int store_dhcp_reservation_get_by_hostname(Store *s, const char *hostname, DhcpReservation *ret) {
        sqlite3_stmt *st = store_prepare(s, "SELECT " COLUMNS " FROM dhcp_reservations WHERE hostname = ?1");
        if (!st)
                return -EIO;
        sqlite3_bind_text(st, 1, hostname, -1, SQLITE_STATIC);
        return get_one(st, ret);
}

int store_dhcp_reservation_foreach(Store *s, store_dhcp_reservation_fn fn, void *userdata) {
        /* Not the cached statement: a callback may use the store re-entrantly. */
        sqlite3_stmt *st = NULL;
        if (sqlite3_prepare_v2(store_db(s), "SELECT " COLUMNS " FROM dhcp_reservations ORDER BY ip", -1, &st, NULL) !=
            SQLITE_OK)
                return -EIO;
        int rc, r = 0;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                DhcpReservation d;
                from_row(st, &d);
                r = fn(&d, userdata);
                if (r < 0)
                        break;
        }
        sqlite3_finalize(st);
        if (r < 0)
                return r;
        return rc == SQLITE_DONE ? 0 : store_sqlite_to_errno(rc);
}
