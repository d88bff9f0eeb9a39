/* The lease file parser. Fields are split on single spaces as dnsmasq writes them; a line that does not
 * match the grammar exactly is ignored rather than half-used. Fuzzed by the unit test's corpus. */
#include "services/dhcp/leases.h"

#include <stdio.h>

#include "basic/netaddr.h"
#include "basic/parse.h"
#include "basic/util.h"

static bool mac_ok(const char *s) {
        if (strlen(s) != 17)
                return false;
        for (int i = 0; i < 17; i++) {
                char c = s[i];
                bool hex = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
                if (i % 3 == 2 ? c != ':' : !hex)
                        return false;
        }
        return true;
}

/* One line, NUL-terminated, at most a few hundred bytes; fills l and returns 0, or -EINVAL to skip it. */
static int parse_line(char *line, DhcpLease *l) {
        char *field[6];
        size_t n = 0;
        for (char *p = line; n < ELEMENTSOF(field);) {
                field[n++] = p;
                char *sp = strchr(p, ' ');
                if (!sp)
                        break;
                *sp = '\0';
                p = sp + 1;
        }
        if (n != 5)
                return -EINVAL;
        uint64_t expires;
        if (parse_uint(field[0], 0, INT64_MAX, &expires) < 0)
                return -EINVAL;
        if (!mac_ok(field[1]))
                return -EINVAL;
        *l = (DhcpLease) { .expires = (int64_t) expires };
        for (int i = 0; i < 17; i++)
                l->mac[i] = (char) (field[1][i] >= 'A' && field[1][i] <= 'F' ? field[1][i] + 32 : field[1][i]);
        l->mac[17] = '\0';
        if (ipv4_parse(field[2], &l->ip) < 0)
                return -EINVAL;
        if (!streq(field[3], "*") && strlen(field[3]) < sizeof l->hostname) {
                char h[DHCP_HOSTNAME_MAX];
                size_t k = 0;
                for (; field[3][k]; k++)
                        h[k] = (char) (field[3][k] >= 'A' && field[3][k] <= 'Z' ? field[3][k] + 32 : field[3][k]);
                h[k] = '\0';
                if (name_is_valid(h) && dns_label_is_valid(h))
                        memcpy(l->hostname, h, k + 1);
        }
        return 0;
}

int dhcp_leases_parse(const char *text, size_t len, int64_t now, DhcpLease **ret, size_t *ret_n) {
        DhcpLease *v = NULL;
        size_t n = 0, cap = 0;
        const char *p = text, *end = text + len;
        while (p < end) {
                const char *nl = memchr(p, '\n', (size_t) (end - p));
                size_t ll = nl ? (size_t) (nl - p) : (size_t) (end - p);
                char line[512];
                DhcpLease l;
                if (ll < sizeof line && !memchr(p, '\0', ll)) {
                        memcpy(line, p, ll);
                        line[ll] = '\0';
                        if (parse_line(line, &l) == 0 && (now == 0 || l.expires == 0 || l.expires > now)) {
                                if (n == cap) {
                                        if (cap >= DHCP_LEASES_MAX) {
                                                free(v);
                                                return -E2BIG;
                                        }
                                        size_t ncap = cap ? cap * 2 : 16;
                                        DhcpLease *nv = realloc(v, ncap * sizeof *nv);
                                        if (!nv) {
                                                free(v);
                                                return -ENOMEM;
                                        }
                                        v = nv;
                                        cap = ncap;
                                }
                                v[n++] = l;
                        }
                }
                if (!nl)
                        break;
                p = nl + 1;
        }
        *ret = v;
        *ret_n = n;
        return 0;
}
