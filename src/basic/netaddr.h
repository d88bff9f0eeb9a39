/* IPv4 addresses and CIDR prefixes: strict parsing, containment, overlap, RFC 1918 checks, offsets.
 * Addresses are host-order uint32_t inside pic; formatting turns them back into dotted quads. */
#pragma once
#include <stdbool.h>
#include <stdint.h>

typedef struct Cidr4 {
        uint32_t addr;   /* as written (may have host bits: 10.0.0.1/24 is the cell's own address) */
        uint8_t prefix;  /* 0..32 */
} Cidr4;

#define IPV4_STRLEN 16
#define CIDR4_STRLEN 19
#define IP_STRLEN 46 /* INET6_ADDRSTRLEN */

/* Dotted quad, exactly four decimal parts 0..255, no leading zeros. */
int ipv4_parse(const char *s, uint32_t *ret);
bool ipv6_is_valid(const char *s);
/* A client address as a proxy reports it (one X-Forwarded-For entry): IPv4 or IPv6, optionally with a port
 * ("203.0.113.9:4444", "[2001:db8::1]:443") and surrounding blanks. Writes the address in canonical form
 * (IPv6 compressed and lower case, IPv4-mapped IPv6 as IPv4); -EINVAL for anything else. */
int ip_client_parse(const char *s, char ret[static IP_STRLEN]);
/* "a.b.c.d/len". A bare address is -EINVAL when require_prefix, else /32. */
int cidr4_parse(const char *s, bool require_prefix, Cidr4 *ret);
uint32_t cidr4_mask(const Cidr4 *c);
uint32_t cidr4_network(const Cidr4 *c);
uint32_t cidr4_broadcast(const Cidr4 *c);
uint64_t cidr4_size(const Cidr4 *c);
bool cidr4_contains(const Cidr4 *c, uint32_t ip);
bool cidr4_overlaps(const Cidr4 *a, const Cidr4 *b);
/* The whole prefix lies inside 10/8, 172.16/12 or 192.168/16. */
bool cidr4_is_rfc1918(const Cidr4 *c);
/* Network address + offset, -ERANGE if it leaves the prefix or hits the broadcast address. */
int cidr4_host(const Cidr4 *c, uint32_t offset, uint32_t *ret);
char *ipv4_format(uint32_t ip, char buf[static IPV4_STRLEN]);
char *cidr4_format_network(const Cidr4 *c, char buf[static CIDR4_STRLEN]);
