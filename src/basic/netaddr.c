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

static bool port_is_valid(const char *s) {
        uint64_t port;
        return parse_uint(s, 1, 65535, &port) == 0;
}

int ip_client_parse(const char *s, char ret[static IP_STRLEN]) {
        if (!s)
                return -EINVAL;
        while (*s == ' ' || *s == '\t')
                s++;
        size_t n = strlen(s);
        while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
                n--;
        /* The longest valid form is "[" + an IPv6 address + "]:65535". */
        char buf[IP_STRLEN + 8];
        if (n == 0 || n >= sizeof buf)
                return -EINVAL;
        memcpy(buf, s, n);
        buf[n] = '\0';

        char *host = buf;
        if (buf[0] == '[') {
                char *close = strchr(buf, ']');
                if (!close || (close[1] && (close[1] != ':' || !port_is_valid(close + 2))))
                        return -EINVAL;
                *close = '\0';
                host = buf + 1;
                if (!strchr(host, ':'))
                        return -EINVAL; /* brackets are for IPv6 only */
        } else {
                char *colon = strchr(buf, ':');
                /* exactly one colon: IPv4 with a port; more: a bare IPv6 address */
                if (colon && !strchr(colon + 1, ':')) {
                        if (!port_is_valid(colon + 1))
                                return -EINVAL;
                        *colon = '\0';
                        if (!strchr(buf, '.'))
                                return -EINVAL;
                }
        }

        uint32_t v4;
        if (ipv4_parse(host, &v4) == 0) {
                ipv4_format(v4, ret);
                return 0;
        }
        struct in6_addr a;
        /* inet_pton takes no zone index ("%eth0") and no other text around the address. */
        if (!strchr(host, ':') || inet_pton(AF_INET6, host, &a) != 1)
                return -EINVAL;
        if (IN6_IS_ADDR_V4MAPPED(&a)) {
                v4 = (uint32_t) a.s6_addr[12] << 24 | (uint32_t) a.s6_addr[13] << 16 | (uint32_t) a.s6_addr[14] << 8 |
                     a.s6_addr[15];
                ipv4_format(v4, ret);
                return 0;
        }
        if (!inet_ntop(AF_INET6, &a, ret, IP_STRLEN))
                return -EINVAL;
        return 0;
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
