/* IPv4/CIDR arithmetic for the network model (VPN subnet, service range, DHCP ranges).
 * Pure functions; the parsers reject anything inet_aton would "helpfully" accept (octal, short forms). */
#include "basic/netaddr.h"

#include <arpa/inet.h>
#include <stdio.h>

#include "basic/parse.h"
#include "basic/util.h"

int ipv4_parse(const char *s, uint32_t *ret) {
        if (!s)
                return -EINVAL;
        uint32_t v = 0;
        int parts = 0;
        const char *p = s;
        while (parts < 4) {
                char part[4];
                size_t n = 0;
                while (*p >= '0' && *p <= '9') {
                        if (n >= 3)
                                return -EINVAL;
                        part[n++] = *p++;
                }
                part[n] = '\0';
                uint64_t octet;
                if (n == 0 || parse_uint(part, 0, 255, &octet) < 0)
                        return -EINVAL;
                v = (v << 8) | (uint32_t) octet;
                parts++;
                if (parts < 4) {
                        if (*p != '.')
                                return -EINVAL;
                        p++;
                }
        }
        if (*p != '\0')
                return -EINVAL;
        *ret = v;
        return 0;
}

bool ipv6_is_valid(const char *s) {
        struct in6_addr a;
        return s && strlen(s) < INET6_ADDRSTRLEN && strchr(s, ':') && inet_pton(AF_INET6, s, &a) == 1;
}

int cidr4_parse(const char *s, bool require_prefix, Cidr4 *ret) {
        if (!s || strlen(s) >= CIDR4_STRLEN)
                return -EINVAL;
        char buf[CIDR4_STRLEN];
        snprintf(buf, sizeof buf, "%s", s);
        char *slash = strchr(buf, '/');
        uint64_t prefix = 32;
        if (slash) {
                *slash = '\0';
                if (parse_uint(slash + 1, 0, 32, &prefix) < 0)
                        return -EINVAL;
        } else if (require_prefix)
                return -EINVAL;
        uint32_t addr;
        if (ipv4_parse(buf, &addr) < 0)
                return -EINVAL;
        *ret = (Cidr4) { .addr = addr, .prefix = (uint8_t) prefix };
        return 0;
}

uint32_t cidr4_mask(const Cidr4 *c) {
        return c->prefix == 0 ? 0 : UINT32_MAX << (32 - c->prefix);
}

uint32_t cidr4_network(const Cidr4 *c) {
        return c->addr & cidr4_mask(c);
}

uint32_t cidr4_broadcast(const Cidr4 *c) {
        return cidr4_network(c) | ~cidr4_mask(c);
}

uint64_t cidr4_size(const Cidr4 *c) {
        return (uint64_t) 1 << (32 - c->prefix);
}

bool cidr4_contains(const Cidr4 *c, uint32_t ip) {
        return (ip & cidr4_mask(c)) == cidr4_network(c);
}

bool cidr4_overlaps(const Cidr4 *a, const Cidr4 *b) {
        const Cidr4 *wide = a->prefix <= b->prefix ? a : b;
        const Cidr4 *narrow = wide == a ? b : a;
        return cidr4_contains(wide, cidr4_network(narrow));
}

bool cidr4_is_rfc1918(const Cidr4 *c) {
        static const Cidr4 private[] = {
                { 0x0a000000u, 8 },  /* 10.0.0.0/8 */
                { 0xac100000u, 12 }, /* 172.16.0.0/12 */
                { 0xc0a80000u, 16 }, /* 192.168.0.0/16 */
        };
        for (size_t i = 0; i < ELEMENTSOF(private); i++)
                if (c->prefix >= private[i].prefix && cidr4_contains(&private[i], cidr4_network(c)))
                        return true;
        return false;
}

int cidr4_host(const Cidr4 *c, uint32_t offset, uint32_t *ret) {
        if ((uint64_t) offset >= cidr4_size(c) - (c->prefix < 31 ? 1 : 0))
                return -ERANGE;
        *ret = cidr4_network(c) + offset;
        return 0;
}

char *ipv4_format(uint32_t ip, char buf[static IPV4_STRLEN]) {
        snprintf(buf, IPV4_STRLEN, "%u.%u.%u.%u", ip >> 24, (ip >> 16) & 0xff, (ip >> 8) & 0xff, ip & 0xff);
        return buf;
}

char *cidr4_format_network(const Cidr4 *c, char buf[static CIDR4_STRLEN]) {
        char ip[IPV4_STRLEN];
        snprintf(buf, CIDR4_STRLEN, "%s/%u", ipv4_format(cidr4_network(c), ip), c->prefix);
        return buf;
}
