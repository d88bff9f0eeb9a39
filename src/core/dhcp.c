/* DHCP rules and reservation changes. Everything a request can put into dnsmasq's files (MAC, IP, host name,
 * interface, pool) is checked here first; the dnsmasq module renders only what passed. */
#include "core/dhcp.h"

#include <stdio.h>

#include "basic/log.h"
#include "basic/parse.h"
#include "basic/time-util.h"
#include "basic/util.h"
#include "core/mutation.h"
#include "core/netns-run.h"
#include "net/link.h"

static void config_fill(DhcpConfig *c, json_t *enabled, json_t *ifname, json_t *start, json_t *end, json_t *lease) {
        *c = (DhcpConfig) { .enabled = json_is_true(enabled), .lease_time = json_integer_value(lease) };
        snprintf(c->interface, sizeof c->interface, "%s", json_string_value(ifname) ?: "");
        if (ipv4_parse(json_string_value(start), &c->range_start) < 0)
                c->range_start = 0;
        if (ipv4_parse(json_string_value(end), &c->range_end) < 0)
                c->range_end = 0;
}

void dhcp_config_from_settings(Settings *s, DhcpConfig *ret) {
        config_fill(ret, settings_get(s, "dhcp.enabled", true), settings_get(s, "dhcp.interface", true),
                    settings_get(s, "dhcp.range_start", true), settings_get(s, "dhcp.range_end", true),
                    settings_get(s, "dhcp.lease_time", true));
}

void dhcp_config_from_values(json_t *flat, DhcpConfig *ret) {
        config_fill(ret, json_object_get(flat, "dhcp.enabled"), json_object_get(flat, "dhcp.interface"),
                    json_object_get(flat, "dhcp.range_start"), json_object_get(flat, "dhcp.range_end"),
                    json_object_get(flat, "dhcp.lease_time"));
}

static int hex_value(char c) {
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        if (c >= 'A' && c <= 'F')
                return c - 'A' + 10;
        return -1;
}

int dhcp_mac_normalize(const char *s, char ret[static DHCP_MAC_STRLEN]) {
        if (!s || strlen(s) != 17)
                return -EINVAL;
        char sep = s[2];
        if (sep != ':' && sep != '-')
                return -EINVAL;
        uint8_t b[6];
        for (int i = 0; i < 6; i++) {
                const char *p = s + i * 3;
                int hi = hex_value(p[0]), lo = hex_value(p[1]);
                if (hi < 0 || lo < 0 || (i < 5 && p[2] != sep))
                        return -EINVAL;
                b[i] = (uint8_t) (hi << 4 | lo);
        }
        /* A group address can never be a client; all-zero is no address at all. */
        if ((b[0] & 1) || (b[0] | b[1] | b[2] | b[3] | b[4] | b[5]) == 0)
                return -EINVAL;
        snprintf(ret, DHCP_MAC_STRLEN, "%02x:%02x:%02x:%02x:%02x:%02x", b[0], b[1], b[2], b[3], b[4], b[5]);
        return 0;
}

bool dhcp_hostname_is_valid(const char *s) {
        return name_is_valid(s) && dns_label_is_valid(s);
}

bool dhcp_hostname_is_service(const Registry *reg, const char *s) {
        return registry_find(reg, s) || registry_find_label(reg, s);
}

typedef struct SubnetQuery {
        const char *ifname;
        uint32_t hint;
        Cidr4 found;
} SubnetQuery;

static int query_subnet(Cell *c, void *userdata) {
        SubnetQuery *q = userdata;
        uint32_t *ips = NULL;
        uint8_t *prefixes = NULL;
        size_t n = 0;
        int r = addr_list(q->ifname, &ips, &prefixes, &n);
        if (r < 0)
                return r;
        r = -EADDRNOTAVAIL;
        for (size_t i = 0; i < n && r < 0; i++) {
                Cidr4 a = { ips[i], prefixes[i] };
                if (q->hint == 0 || cidr4_contains(&a, q->hint)) {
                        q->found = a;
                        r = 0;
                }
        }
        free(ips);
        free(prefixes);
        return r;
}

int dhcp_interface_subnet(Cell *c, const char *ifname, uint32_t hint, Cidr4 *ret) {
        if (!ifname || !*ifname)
                return -ENODEV;
        SubnetQuery q = { .ifname = ifname, .hint = hint };
        int r = cell_in_netns(c, query_subnet, &q);
        if (r < 0)
                return r;
        *ret = q.found;
        return 0;
}

static const char *pick(json_t *flat, const char *preferred, const char *other) {
        if (!flat || json_object_get(flat, preferred) || !json_object_get(flat, other))
                return preferred;
        return other;
}

typedef struct RangeCheck {
        const DhcpConfig *cfg;
        DhcpReservation inside;
        bool found;
} RangeCheck;

static int reservation_in_range(const DhcpReservation *r, void *userdata) {
        RangeCheck *rc = userdata;
        if (r->ip >= rc->cfg->range_start && r->ip <= rc->cfg->range_end) {
                rc->inside = *r;
                rc->found = true;
                return -ECANCELED;
        }
        return 0;
}

int dhcp_config_check(Cell *c, const DhcpConfig *cfg, json_t *flat, PicError *err) {
        char a[IPV4_STRLEN], b[IPV4_STRLEN], net[CIDR4_STRLEN];
        if (cfg->range_start && cfg->range_end && cfg->range_start > cfg->range_end)
                return pic_error(err, -EINVAL, pick(flat, "dhcp.range_end", "dhcp.range_start"),
                                 "dhcp.range_end (%s) must not come before dhcp.range_start (%s)",
                                 ipv4_format(cfg->range_end, a), ipv4_format(cfg->range_start, b));
        if (!cfg->enabled)
                return 0;
        if (!cfg->interface[0])
                return pic_error(err, -EINVAL, "dhcp.interface",
                                 "dhcp.interface must name the LAN interface DHCP serves before DHCP is enabled");
        if (!cfg->range_start)
                return pic_error(err, -EINVAL, "dhcp.range_start", "dhcp.range_start must be set before DHCP is enabled");
        if (!cfg->range_end)
                return pic_error(err, -EINVAL, "dhcp.range_end", "dhcp.range_end must be set before DHCP is enabled");

        Cidr4 sub;
        int r = dhcp_interface_subnet(c, cfg->interface, 0, &sub);
        if (r == -ENODEV)
                return pic_error(err, -EINVAL, "dhcp.interface", "there is no interface \"%s\" in the cell's network",
                                 cfg->interface);
        if (r == -EADDRNOTAVAIL)
                return pic_error(err, -EINVAL, "dhcp.interface", "interface \"%s\" has no IPv4 address to serve DHCP from",
                                 cfg->interface);
        if (r < 0)
                return pic_error(err, r, "dhcp.interface", "cannot read the addresses of \"%s\": %s", cfg->interface,
                                 strerror(-r));
        r = dhcp_interface_subnet(c, cfg->interface, cfg->range_start, &sub);
        if (r < 0)
                return pic_error(err, -EINVAL, pick(flat, "dhcp.range_start", "dhcp.interface"),
                                 "dhcp.range_start (%s) is not inside a subnet of interface \"%s\"",
                                 ipv4_format(cfg->range_start, a), cfg->interface);
        if (!cidr4_contains(&sub, cfg->range_end))
                return pic_error(err, -EINVAL, pick(flat, "dhcp.range_end", "dhcp.interface"),
                                 "dhcp.range_end (%s) is not inside %s, the subnet of \"%s\"",
                                 ipv4_format(cfg->range_end, a), cidr4_format_network(&sub, net), cfg->interface);
        if (sub.prefix < 31 && (cfg->range_start == cidr4_network(&sub) || cfg->range_end == cidr4_broadcast(&sub)))
                return pic_error(err, -EINVAL,
                                 cfg->range_start == cidr4_network(&sub) ? "dhcp.range_start" : "dhcp.range_end",
                                 "the pool must not include the network or broadcast address of %s",
                                 cidr4_format_network(&sub, net));
        Cidr4 range;
        const char *ip_range = flat ? json_string_value(json_object_get(flat, "ip_range")) : NULL;
        if (!ip_range || cidr4_parse(ip_range, true, &range) < 0)
                r = settings_ip_range(c->settings, &range);
        else
                r = 0;
        for (size_t i = 0; r >= 0 && i < c->registry.n; i++) {
                const ServiceEndpoint *e = c->registry.endpoints[i];
                uint32_t vip;
                if (registry_vip_of(e, &range, &vip) == 0 && vip >= cfg->range_start && vip <= cfg->range_end)
                        return pic_error(err, -EINVAL, pick(flat, "dhcp.range_start", "ip_range"),
                                         "the pool contains %s, the virtual IP of the %s service",
                                         ipv4_format(vip, a), e->name);
        }

        if (sub.addr >= cfg->range_start && sub.addr <= cfg->range_end)
                return pic_error(err, -EINVAL, pick(flat, "dhcp.range_start", "dhcp.range_end"),
                                 "the pool %s-%s contains %s, the address of \"%s\" itself",
                                 ipv4_format(cfg->range_start, a), ipv4_format(cfg->range_end, b),
                                 ipv4_format(sub.addr, net), cfg->interface);

        RangeCheck rc = { .cfg = cfg };
        r = store_dhcp_reservation_foreach(c->store, reservation_in_range, &rc);
        if (r < 0 && r != -ECANCELED)
                return pic_error(err, r, NULL, "cannot read DHCP reservations: %s", strerror(-r));
        if (rc.found)
                return pic_error(err, -EEXIST, pick(flat, "dhcp.range_start", "dhcp.range_end"),
                                 "the pool would contain %s, reserved for %s (%s); delete that reservation first",
                                 ipv4_format(rc.inside.ip, a), rc.inside.hostname, rc.inside.mac);
        return 0;
}

/* Where the reservation must stay out of: the interface's subnet rules and the dynamic pool. */
static int check_reservation_ip(Cell *c, uint32_t ip, PicError *err) {
        DhcpConfig cfg;
        char a[IPV4_STRLEN], b[IPV4_STRLEN], net[CIDR4_STRLEN];
        dhcp_config_from_settings(c->settings, &cfg);
        if (!cfg.interface[0] || !cfg.range_start || !cfg.range_end)
                return pic_error(err, -EEXIST, "ip",
                                 "set dhcp.interface, dhcp.range_start and dhcp.range_end before adding reservations");
        Cidr4 sub;
        int r = dhcp_interface_subnet(c, cfg.interface, cfg.range_start, &sub);
        if (r < 0)
                return pic_error(err, -EEXIST, "ip", "interface \"%s\" has no address in the DHCP pool's subnet",
                                 cfg.interface);
        if (!cidr4_contains(&sub, ip))
                return pic_error(err, -EINVAL, "ip", "ip %s is not inside %s, the subnet DHCP serves",
                                 ipv4_format(ip, a), cidr4_format_network(&sub, net));
        if (sub.prefix < 31 && (ip == cidr4_network(&sub) || ip == cidr4_broadcast(&sub)))
                return pic_error(err, -EINVAL, "ip", "ip %s is the network or broadcast address of %s",
                                 ipv4_format(ip, a), cidr4_format_network(&sub, net));
        if (ip == sub.addr)
                return pic_error(err, -EINVAL, "ip", "ip %s is the address of \"%s\" itself", ipv4_format(ip, a),
                                 cfg.interface);
        if (ip >= cfg.range_start && ip <= cfg.range_end)
                return pic_error(err, -EINVAL, "ip", "ip %s is inside the dynamic pool %s-%s; pick one outside it",
                                 ipv4_format(ip, a), ipv4_format(cfg.range_start, b), ipv4_format(cfg.range_end, net));
        Cidr4 range;
        if (settings_ip_range(c->settings, &range) == 0)
                for (size_t i = 0; i < c->registry.n; i++) {
                        uint32_t vip;
                        if (registry_vip_of(c->registry.endpoints[i], &range, &vip) == 0 && vip == ip)
                                return pic_error(err, -EINVAL, "ip", "ip %s is the virtual IP of the %s service",
                                                 ipv4_format(ip, a), c->registry.endpoints[i]->name);
                }
        return 0;
}

/* Reconciles dnsmasq's files with the store (inside the caller's transaction). */
static int sync_dhcp(Cell *c, PicError *err) {
        const ServiceOps *ops = cell_find_service(c, DHCP_SERVICE);
        return ops ? cell_service_sync(c, ops, false, err) : 0;
}

/* After a failed change was rolled back, put the files back to the stored state. */
static void resync_after_rollback(Cell *c, void *userdata, bool applied) {
        PicError ignored = { 0 };
        if (sync_dhcp(c, &ignored) < 0)
                log_error("dhcp: could not restore the reservation files after a rollback: %s", ignored.message);
}

static int sync_step(Cell *c, void *userdata, PicError *err) {
        return sync_dhcp(c, err);
}

static int insert_step(Cell *c, void *userdata, PicError *err) {
        int r = store_dhcp_reservation_insert(c->store, userdata);
        if (r < 0)
                return pic_error(err, r, r == -EEXIST ? "mac" : NULL, "cannot store the reservation: %s",
                                 r == -EEXIST ? "mac, ip or hostname is already taken" : strerror(-r));
        return 0;
}

static int delete_step(Cell *c, void *userdata, PicError *err) {
        int r = store_dhcp_reservation_delete(c->store, userdata);
        return r < 0 ? pic_error(err, r, NULL, "cannot remove the reservation: %s", strerror(-r)) : 0;
}

/* dnsmasq reads the reservation files at once (inotify): writing them is the live part. */
static const CellMutation reservation_add = {
        .what = "the reservation", .write = insert_step, .apply = sync_step, .undo = resync_after_rollback,
};
static const CellMutation reservation_remove = {
        .what = "the reservation removal", .write = delete_step, .apply = sync_step, .undo = resync_after_rollback,
};

static void publish(Cell *c, const char *hostname, uint32_t ip) {
        if (!settings_bool(c->settings, "dhcp.enabled"))
                return;
        PicError ignored = { 0 };
        log_debug("dhcp: reserved host \"%s\" %s", hostname, ip ? "published" : "withdrawn");
        (void) cell_host_changed(c, hostname, ip, &ignored);
}

int dhcp_reservation_add(Cell *c, const char *mac, const char *ip, const char *hostname, DhcpReservation *ret,
                         PicError *err) {
        DhcpReservation res = { .created_at = wall_sec() };
        DhcpReservation other;
        char a[IPV4_STRLEN];
        if (dhcp_mac_normalize(mac, res.mac) < 0)
                return pic_error(err, -EINVAL, "mac", "mac must be a unicast MAC address such as 02:11:22:33:44:55");
        if (!ip || ipv4_parse(ip, &res.ip) < 0)
                return pic_error(err, -EINVAL, "ip", "ip must be an IPv4 address such as 192.168.1.50");
        if (!dhcp_hostname_is_valid(hostname))
                return pic_error(err, -EINVAL, "hostname",
                                 "hostname must be 1-63 characters of a-z, 0-9 and '-', not starting or ending with '-'");
        snprintf(res.hostname, sizeof res.hostname, "%s", hostname);
        if (dhcp_hostname_is_service(&c->registry, res.hostname))
                return pic_error(err, -EEXIST, "hostname", "hostname \"%s\" is the name of a cell service", res.hostname);
        int r = check_reservation_ip(c, res.ip, err);
        if (r < 0)
                return r;
        if (store_dhcp_reservation_get(c->store, res.mac, &other) == 0)
                return pic_error(err, -EEXIST, "mac", "mac %s already has a reservation (%s)", res.mac, other.hostname);
        if (store_dhcp_reservation_get_by_ip(c->store, res.ip, &other) == 0)
                return pic_error(err, -EEXIST, "ip", "ip %s is already reserved for %s (%s)", ipv4_format(res.ip, a),
                                 other.hostname, other.mac);
        if (store_dhcp_reservation_get_by_hostname(c->store, res.hostname, &other) == 0)
                return pic_error(err, -EEXIST, "hostname", "hostname \"%s\" is already reserved for %s", res.hostname,
                                 other.mac);

        r = cell_mutate(c, &reservation_add, &res, err);
        if (r < 0)
                return r;
        publish(c, res.hostname, res.ip);
        if (ret)
                *ret = res;
        return 0;
}

int dhcp_reservation_remove(Cell *c, const char *mac, PicError *err) {
        char norm[DHCP_MAC_STRLEN];
        DhcpReservation old;
        if (dhcp_mac_normalize(mac, norm) < 0)
                return pic_error(err, -EINVAL, "mac", "mac must be a unicast MAC address such as 02:11:22:33:44:55");
        int r = store_dhcp_reservation_get(c->store, norm, &old);
        if (r == -ENOENT)
                return pic_error(err, r, "mac", "no reservation for %s", norm);
        if (r < 0)
                return pic_error(err, r, NULL, "cannot read the reservation: %s", strerror(-r));
        r = cell_mutate(c, &reservation_remove, norm, err);
        if (r < 0)
                return r;
        publish(c, old.hostname, 0);
        return 0;
}

typedef struct ListCtx {
        DhcpReservation *v;
        size_t n, cap;
} ListCtx;

static int collect(const DhcpReservation *r, void *userdata) {
        ListCtx *l = userdata;
        if (l->n == l->cap) {
                size_t ncap = l->cap ? l->cap * 2 : 16;
                DhcpReservation *nv = realloc(l->v, ncap * sizeof *nv);
                if (!nv)
                        return -ENOMEM;
                l->v = nv;
                l->cap = ncap;
        }
        l->v[l->n++] = *r;
        return 0;
}

int dhcp_reservations_list(Cell *c, DhcpReservation **ret, size_t *ret_n) {
        ListCtx l = { 0 };
        int r = store_dhcp_reservation_foreach(c->store, collect, &l);
        if (r < 0) {
                free(l.v);
                return r;
        }
        *ret = l.v;
        *ret_n = l.n;
        return 0;
}
