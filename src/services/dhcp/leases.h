/* dnsmasq's lease file parsed into plain records. Pure and bounded: the file's content comes from DHCP clients
 * (host names, client ids), so every field passes a grammar and anything odd is skipped, never trusted. */
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "store/dhcp.h"

/* Upper bounds that keep a hostile or corrupt lease file from costing more than a little memory. */
#define DHCP_LEASES_MAX 65536
#define DHCP_LEASE_FILE_MAX (8 * 1024 * 1024)

typedef struct DhcpLease {
        int64_t expires;                   /* wall-clock seconds; 0 = never */
        char mac[DHCP_MAC_STRLEN];         /* lower-case aa:bb:cc:dd:ee:ff */
        uint32_t ip;
        char hostname[DHCP_HOSTNAME_MAX];  /* lower-case DNS label, "" when the client sent none (or a bad one) */
} DhcpLease;

/* Parses "<expiry> <mac> <ip> <hostname|*> <client-id|*>" lines (IPv4, Ethernet only; "duid" and IPv6 lines
 * are skipped). Leases that expired before now are dropped (now 0 keeps all). *ret is NULL when there are
 * none; the caller frees it. Returns -E2BIG beyond DHCP_LEASES_MAX entries. */
int dhcp_leases_parse(const char *text, size_t len, int64_t now, DhcpLease **ret, size_t *ret_n);
