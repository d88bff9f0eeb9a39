/* DHCP domain rules: the dhcp.* settings as one struct, the MAC and host-name grammars, the checks that need
 * the live interface (pool and reservations inside its subnet), and reservation changes (store → reconcile). */
#pragma once
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "basic/error.h"
#include "basic/netaddr.h"
#include "core/cell.h"
#include "store/dhcp.h"

#define DHCP_SERVICE "dhcp"

typedef struct DhcpConfig {
        bool enabled;
        char interface[16];
        uint32_t range_start, range_end; /* 0 when not set */
        int64_t lease_time;              /* seconds */
} DhcpConfig;

/* The applied dhcp.* settings. */
void dhcp_config_from_settings(Settings *s, DhcpConfig *ret);
/* From a flat key → value object (the merged would-be settings of an update). */
void dhcp_config_from_values(json_t *flat, DhcpConfig *ret);

/* "aa:bb:cc:dd:ee:ff" or with '-' separators, any case → lower-case with ':'. Unicast only. */
int dhcp_mac_normalize(const char *s, char ret[static DHCP_MAC_STRLEN]);
/* A host name published as <hostname>.<cell_name>.<domain>: one lower-case DNS label. */
bool dhcp_hostname_is_valid(const char *s);
/* Names a host must never take because they are the cell's service names (mail, dns, ...). */
bool dhcp_hostname_is_service(const Registry *reg, const char *s);

/* The address and prefix of ifname in the cell's namespace whose subnet holds hint (or the first one when
 * hint is 0). -ENODEV: no such interface; -EADDRNOTAVAIL: no (matching) IPv4 address. */
int dhcp_interface_subnet(Cell *c, const char *ifname, uint32_t hint, Cidr4 *ret);

/* Checks a would-be DHCP configuration against the live interface, the service VIPs and the stored
 * reservations. flat: the keys being changed (to name the field at fault), may be NULL. */
int dhcp_config_check(Cell *c, const DhcpConfig *cfg, json_t *flat, PicError *err);

/* Validates (400 with the field), stores (409 on a taken MAC/IP/name), writes the host file dnsmasq picks up
 * by inotify, then publishes the name; all or nothing. */
int dhcp_reservation_add(Cell *c, const char *mac, const char *ip, const char *hostname, DhcpReservation *ret,
                         PicError *err);
/* Removes by MAC (404 when unknown); dnsmasq forgets the host without a restart. */
int dhcp_reservation_remove(Cell *c, const char *mac, PicError *err);
/* Every reservation ordered by IP; caller frees *ret. */
int dhcp_reservations_list(Cell *c, DhcpReservation **ret, size_t *ret_n);
