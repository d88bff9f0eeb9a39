/* The checks of the network self-test. Sockets are created inside the cell's namespace (they keep it after
 * cell_in_netns returns), so a query travels the same path a client's would, to the service's virtual IP. */
#include "services/nettest/nettest.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/time.h>

#include "basic/time-util.h"
#include "basic/util.h"
#include "core/netns-run.h"
#include "services/dhcp/dhcp.h"
#include "services/nettest/packets.h"

#define QUERY_TIMEOUT_MS 1000

typedef struct Check {
        char name[272];
        int ok; /* 1, 0, or -1 = skipped */
        char detail[512];
        uint64_t start;
        double ms;
} Check;

static void check_begin(Check *k, const char *name) {
        *k = (Check) { .start = now_usec() };
        snprintf(k->name, sizeof k->name, "%s", name);
}

static json_t *check_end(Check *k) {
        k->ms = (double) (now_usec() - k->start) / 1000.0;
        json_t *o = json_pack("{s:s, s:f, s:s}", "name", k->name, "ms", k->ms, "detail", k->detail);
        if (k->ok < 0) {
                json_object_set_new(o, "ok", json_null());
                json_object_set_new(o, "skipped", json_string(k->detail));
        } else
                json_object_set_new(o, "ok", json_boolean(k->ok));
        return o;
}

static json_t *skipped(const char *name, const char *why) {
        Check k;
        check_begin(&k, name);
        k.ok = -1;
        snprintf(k.detail, sizeof k.detail, "%s", why);
        return check_end(&k);
}

static int make_udp_socket(Cell *c, void *userdata) {
        int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return negative_errno();
        *(int *) userdata = fd;
        return 0;
}

/* One request/reply over UDP from the cell's namespace; returns the reply length or negative errno. */
static int udp_exchange(Cell *c, uint32_t ip, uint16_t port, const uint8_t *req, size_t req_len, uint8_t *reply,
                        size_t size, bool (*is_ours)(const uint8_t *, size_t, void *), void *userdata) {
        int fd = -1;
        int r = cell_in_netns(c, make_udp_socket, &fd);
        if (r < 0)
                return r;
        _cleanup_close_ int sock = fd;
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(ip) };
        if (connect(sock, (struct sockaddr *) &sa, sizeof sa) < 0 || send(sock, req, req_len, 0) < 0)
                return negative_errno();
        uint64_t deadline = now_usec() + QUERY_TIMEOUT_MS * USEC_PER_MSEC;
        for (;;) {
                uint64_t now = now_usec();
                if (now >= deadline)
                        return -ETIMEDOUT;
                struct pollfd p = { .fd = sock, .events = POLLIN };
                int k = poll(&p, 1, (int) ((deadline - now + 999) / 1000));
                if (k < 0 && errno != EINTR)
                        return negative_errno();
                if (k <= 0)
                        continue;
                ssize_t n = recv(sock, reply, size, 0);
                if (n < 0)
                        return negative_errno(); /* ECONNREFUSED: nothing listens there */
                if (is_ours(reply, (size_t) n, userdata))
                        return (int) n;
        }
}

static bool vip_of(Cell *c, const char *service, uint32_t *ret) {
        Cidr4 range;
        return settings_ip_range(c->settings, &range) == 0 && registry_vip(&c->registry, &range, service, ret) == 0;
}

static bool any_reply(const uint8_t *buf, size_t len, void *userdata) {
        return true;
}

static json_t *check_ntp(Cell *c) {
        if (!cell_find_service(c, "ntp"))
                return skipped("ntp", "ntp is not part of this cell");
        Check k;
        check_begin(&k, "ntp");
        uint32_t vip;
        char ip[IPV4_STRLEN];
        uint16_t port = (uint16_t) settings_int(c->settings, "ntp.port");
        if (!vip_of(c, "ntp", &vip)) {
                snprintf(k.detail, sizeof k.detail, "ip_range has no NTP address");
                return check_end(&k);
        }
        uint64_t nonce;
        if (getrandom(&nonce, sizeof nonce, 0) != sizeof nonce)
                nonce = now_usec();
        uint8_t req[NTP_PACKET_SIZE], reply[128];
        ntp_build_request(nonce, req);
        int n = udp_exchange(c, vip, port, req, sizeof req, reply, sizeof reply, any_reply, NULL);
        int stratum;
        double server_time;
        if (n < 0)
                snprintf(k.detail, sizeof k.detail, "no NTP answer from %s:%u: %s", ipv4_format(vip, ip), port,
                         n == -ETIMEDOUT ? "timed out" : strerror(-n));
        else if (ntp_parse_reply(reply, (size_t) n, nonce, &stratum, &server_time) < 0)
                snprintf(k.detail, sizeof k.detail, "%s:%u answered with something that is not an NTP reply",
                         ipv4_format(vip, ip), port);
        else {
                struct timeval tv;
                gettimeofday(&tv, NULL);
                double offset = server_time - ((double) tv.tv_sec + (double) tv.tv_usec / 1e6);
                k.ok = 1;
                snprintf(k.detail, sizeof k.detail, "stratum %d from %s:%u, offset %+.3f s", stratum,
                         ipv4_format(vip, ip), port, offset);
        }
        return check_end(&k);
}

static json_t *check_dhcp(Cell *c) {
        if (!cell_find_service(c, "dhcp"))
                return skipped("dhcp", "dhcp is not part of this cell");
        if (!settings_bool(c->settings, "dhcp.enabled"))
                return skipped("dhcp", "dhcp is disabled (dhcp.enabled is false)");
        Check k;
        check_begin(&k, "dhcp");
        k.ok = dhcp_socket_check(c, k.detail, sizeof k.detail) >= 0;
        return check_end(&k);
}

static json_t *check_probe(Cell *c, const char *check_name, const char *service, const char *ok_text) {
        const ServiceOps *ops = cell_find_service(c, service);
        if (!ops || !ops->probe) {
                char why[96];
                snprintf(why, sizeof why, "%s is not part of this cell", service);
                return skipped(check_name, why);
        }
        Check k;
        check_begin(&k, check_name);
        PicError err = { 0 };
        int r = ops->probe(c, &err);
        k.ok = r >= 0;
        snprintf(k.detail, sizeof k.detail, "%s", r >= 0 ? ok_text : err.message[0] ? err.message : strerror(-r));
        return check_end(&k);
}

typedef struct DnsMatch {
        uint16_t id;
} DnsMatch;

static bool dns_is_ours(const uint8_t *buf, size_t len, void *userdata) {
        DnsMatch *m = userdata;
        return len >= 2 && (uint16_t) (buf[0] << 8 | buf[1]) == m->id;
}

static json_t *check_dns_name(Cell *c, uint32_t dns_vip, uint16_t port, const char *fqdn, uint32_t want) {
        Check k;
        char name[272], a[IPV4_STRLEN], b[IPV4_STRLEN];
        snprintf(name, sizeof name, "dns:%s", fqdn);
        check_begin(&k, name);
        uint16_t id;
        if (getrandom(&id, sizeof id, 0) != sizeof id)
                id = (uint16_t) now_usec();
        uint8_t req[300], reply[DNS_PACKET_MAX];
        int qlen = dns_build_query(id, fqdn, req, sizeof req);
        if (qlen < 0) {
                snprintf(k.detail, sizeof k.detail, "\"%s\" is not a valid DNS name", fqdn);
                return check_end(&k);
        }
        DnsMatch m = { id };
        int n = udp_exchange(c, dns_vip, port, req, (size_t) qlen, reply, sizeof reply, dns_is_ours, &m);
        if (n < 0) {
                snprintf(k.detail, sizeof k.detail, "no answer from %s:%u: %s", ipv4_format(dns_vip, a), port,
                         n == -ETIMEDOUT ? "timed out" : strerror(-n));
                return check_end(&k);
        }
        uint32_t ips[8];
        size_t n_ips = 0;
        int r = dns_parse_a_reply(reply, (size_t) n, id, ips, ELEMENTSOF(ips), &n_ips);
        if (r < 0)
                snprintf(k.detail, sizeof k.detail, "malformed DNS reply");
        else if (r > 0)
                snprintf(k.detail, sizeof k.detail, "DNS error rcode %d%s", r,
                         r == 3 ? " (NXDOMAIN)" : r == 5 ? " (REFUSED)" : r == 2 ? " (SERVFAIL)" : "");
        else {
                for (size_t i = 0; i < n_ips; i++)
                        if (ips[i] == want)
                                k.ok = 1;
                if (k.ok)
                        snprintf(k.detail, sizeof k.detail, "%s", ipv4_format(want, a));
                else if (n_ips > 0)
                        snprintf(k.detail, sizeof k.detail, "resolves to %s, expected %s", ipv4_format(ips[0], a),
                                 ipv4_format(want, b));
                else
                        snprintf(k.detail, sizeof k.detail, "no A record");
        }
        return check_end(&k);
}

static void check_dns(Cell *c, json_t *checks) {
        if (!cell_find_service(c, "dns")) {
                json_array_append_new(checks, skipped("dns", "dns not running"));
                return;
        }
        uint32_t dns_vip;
        Cidr4 range;
        if (settings_ip_range(c->settings, &range) < 0 || registry_vip(&c->registry, &range, "dns", &dns_vip) < 0)
                return;
        uint16_t port = (uint16_t) settings_int(c->settings, "dns.port");
        const char *cell = settings_str(c->settings, "cell_name"), *domain = settings_str(c->settings, "domain");
        /* Every name a module publishes (the apex is the same address as "api"). */
        for (size_t i = 0; i < c->registry.n; i++) {
                uint32_t vip;
                if (registry_vip_of(c->registry.endpoints[i], &range, &vip) < 0)
                        continue;
                for (const char *const *l = c->registry.endpoints[i]->dns_labels; l && *l; l++) {
                        char fqdn[256];
                        if (streq(*l, "@"))
                                continue;
                        snprintf(fqdn, sizeof fqdn, "%s.%s.%s", *l, cell, domain);
                        json_array_append_new(checks, check_dns_name(c, dns_vip, port, fqdn, vip));
                }
        }
}

int network_test_run(Cell *c, json_t **ret) {
        uint64_t start = now_usec();
        json_t *checks = json_array();
        if (!checks)
                return -ENOMEM;
        json_array_append_new(checks, check_probe(c, "bridge", "network", "bridge is up with the service addresses"));
        check_dns(c, checks);
        json_array_append_new(checks, check_ntp(c));
        json_array_append_new(checks, check_dhcp(c));
        json_array_append_new(checks, check_probe(c, "wireguard", "wireguard", "WireGuard interface is up"));
        bool ok = true;
        size_t i;
        json_t *k;
        json_array_foreach(checks, i, k)
                if (json_is_false(json_object_get(k, "ok")))
                        ok = false;
        *ret = json_pack("{s:b, s:f, s:o}", "ok", ok, "ms", (double) (now_usec() - start) / 1000.0, "checks", checks);
        return *ret ? 0 : -ENOMEM;
}
