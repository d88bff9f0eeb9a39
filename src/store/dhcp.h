/* Stored DHCP reservations (schema 2, table dhcp_reservations): a fixed IP and host name per MAC.
 * MACs are stored lower-case "aa:bb:cc:dd:ee:ff"; IPs are host-order IPv4. */
#pragma once
#include <stdint.h>

#include "store/store.h"

#define DHCP_MAC_STRLEN 18
#define DHCP_HOSTNAME_MAX 64

typedef struct DhcpReservation {
        char mac[DHCP_MAC_STRLEN];
        uint32_t ip;
        char hostname[DHCP_HOSTNAME_MAX];
        int64_t created_at;
} DhcpReservation;

/* -EEXIST when the MAC, IP or host name is taken. */
int store_dhcp_reservation_insert(Store *s, const DhcpReservation *r);
/* -ENOENT when no reservation has that MAC. */
int store_dhcp_reservation_delete(Store *s, const char *mac);
int store_dhcp_reservation_get(Store *s, const char *mac, DhcpReservation *ret);
int store_dhcp_reservation_get_by_ip(Store *s, uint32_t ip, DhcpReservation *ret);
int store_dhcp_reservation_get_by_hostname(Store *s, const char *hostname, DhcpReservation *ret);
typedef int (*store_dhcp_reservation_fn)(const DhcpReservation *r, void *userdata); /* <0 stops */
/* Ordered by IP. */
int store_dhcp_reservation_foreach(Store *s, store_dhcp_reservation_fn fn, void *userdata);
