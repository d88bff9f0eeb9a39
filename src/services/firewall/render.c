/* Renderers of render.h. The chains never change on the hot path; a peer only ever adds or removes its
 * own elements of three sets, so deleting every peer leaves the table byte-identical to the empty one:
 *   peers      enabled peers (DNS, NTP and ping of the cell's VPN address)
 *   route_all  enabled full-tunnel peers (forwarded and masqueraded)
 *   grants     peer_ip . service_vip : accept, one element per grant of an enabled peer */
#include "services/firewall/render.h"

#include <inttypes.h>
#include <stdio.h>

#include "basic/strbuf.h"
#include "basic/util.h"

FwPeer fw_peer_from(const Peer *p) {
        return (FwPeer) { .ip = p->ip, .access = p->access, .enabled = p->enabled, .route_all = p->route_all };
}

static bool in_peers(const FwPeer *p) {
        return p && p->enabled;
}

static bool in_route_all(const FwPeer *p) {
        return p && p->enabled && p->route_all;
}

static bool has_grant(const FwConfig *cfg, const FwPeer *p, int g) {
        return p && p->enabled && (p->access & cfg->grant_mask & (1u << g));
}

static void put_grant(StrBuf *b, const FwConfig *cfg, uint32_t ip, int g, bool first, bool verdict) {
        char a[IPV4_STRLEN], v[IPV4_STRLEN];
        strbuf_printf(b, "%s%s . %s%s", first ? "" : ", ", ipv4_format(ip, a), ipv4_format(cfg->grant_vip[g], v),
                      verdict ? " : accept" : "");
}

static int finish(StrBuf *b, char **ret) {
        if (b->error) {
                int r = b->error;
                strbuf_done(b);
                return r;
        }
        char *s = strbuf_steal(b);
        if (!s)
                return -ENOMEM;
        *ret = s;
        return 0;
}

int fw_render_table(const FwConfig *cfg, const FwPeer *peers, size_t n, char **ret) {
        StrBuf b = STRBUF_INIT;
        char a[IPV4_STRLEN];
        const char *ifn = cfg->ifname;

        strbuf_puts(&b, "table inet " FW_TABLE "\ndelete table inet " FW_TABLE "\ntable inet " FW_TABLE " {\n");

        strbuf_puts(&b, "\tset peers {\n\t\ttype ipv4_addr\n");
        bool first = true;
        for (size_t i = 0; i < n; i++)
                if (in_peers(&peers[i])) {
                        strbuf_printf(&b, "%s%s", first ? "\t\telements = { " : ", ", ipv4_format(peers[i].ip, a));
                        first = false;
                }
        strbuf_puts(&b, first ? "\t}\n" : " }\n\t}\n");

        strbuf_puts(&b, "\tset route_all {\n\t\ttype ipv4_addr\n");
        first = true;
        for (size_t i = 0; i < n; i++)
                if (in_route_all(&peers[i])) {
                        strbuf_printf(&b, "%s%s", first ? "\t\telements = { " : ", ", ipv4_format(peers[i].ip, a));
                        first = false;
                }
        strbuf_puts(&b, first ? "\t}\n" : " }\n\t}\n");

        strbuf_puts(&b, "\tmap grants {\n\t\ttype ipv4_addr . ipv4_addr : verdict\n");
        first = true;
        for (size_t i = 0; i < n; i++)
                for (int g = 0; g < REGISTRY_GRANTS_MAX; g++)
                        if (has_grant(cfg, &peers[i], g)) {
                                if (first)
                                        strbuf_puts(&b, "\t\telements = { ");
                                put_grant(&b, cfg, peers[i].ip, g, first, true);
                                first = false;
                        }
        strbuf_puts(&b, first ? "\t}\n" : " }\n\t}\n");

        /* The cell mesh (services/mesh): mesh_fwd holds local_peer . linked_cell_vip for each remote grant
         * ("calendar@othercell"), mesh_snat maps each linked cell's service range to this cell's address in
         * that cell's VPN subnet, so the other cell sees one site peer and needs no route back. */
        strbuf_puts(&b, "\tmap mesh_fwd {\n\t\ttype ipv4_addr . ipv4_addr : verdict\n\t}\n");
        strbuf_puts(&b, "\tmap mesh_snat {\n\t\ttype ipv4_addr : ipv4_addr\n\t\tflags interval\n\t}\n");

        /* Input: from the tunnel only grants, DNS, NTP and ping of the cell's address get in. WireGuard's
         * crypto routing vouches for the source address of everything arriving on the interface. */
        strbuf_printf(&b,
                      "\tchain input {\n"
                      "\t\ttype filter hook input priority filter; policy accept;\n"
                      "\t\tiifname \"%s\" jump vpn_in\n"
                      "\t}\n",
                      ifn);
        /* Answers to what the cell itself sent into the tunnel (its DNS asking a linked cell): only the
         * reply direction, so a peer's own connections are still judged packet by packet. */
        strbuf_puts(&b, "\tchain vpn_in {\n\t\tct direction reply accept\n\t\tip saddr . ip daddr vmap @grants\n");
        strbuf_printf(&b, "\t\tip saddr @peers ip daddr %s udp dport %u accept\n", ipv4_format(cfg->dns_vip, a),
                      cfg->dns_port);
        strbuf_printf(&b, "\t\tip saddr @peers ip daddr %s tcp dport %u accept\n", a, cfg->dns_port);
        /* The DNS module rewrites a peer's port-53 queries to its view's port before this hook. */
        strbuf_printf(&b, "\t\tip saddr @peers ip daddr %s udp dport %u-%u accept\n", a, cfg->dns_view_base,
                      cfg->dns_view_base + cfg->dns_views - 1);
        strbuf_printf(&b, "\t\tip saddr @peers ip daddr %s tcp dport %u-%u accept\n", a, cfg->dns_view_base,
                      cfg->dns_view_base + cfg->dns_views - 1);
        strbuf_printf(&b, "\t\tip saddr @peers ip daddr %s udp dport %u accept\n", ipv4_format(cfg->ntp_vip, a),
                      cfg->ntp_port);
        if (cfg->api_vip && cfg->http_port && cfg->https_port)
                strbuf_printf(&b, "\t\tip saddr @peers ip daddr %s tcp dport { %u, %u } accept\n",
                              ipv4_format(cfg->api_vip, a), cfg->http_port, cfg->https_port);
        strbuf_printf(&b, "\t\tip saddr @peers ip daddr %s icmp type echo-request accept\n",
                      ipv4_format(cfg->vpn.addr, a));
        strbuf_puts(&b, "\t\tdrop\n\t}\n");

        /* Forward: only full-tunnel peers leave the cell, never towards another peer; towards a linked cell
         * only what a remote grant allows (and the replies of those connections). */
        strbuf_printf(&b,
                      "\tchain forward {\n"
                      "\t\ttype filter hook forward priority filter; policy accept;\n"
                      "\t\tiifname \"%s\" oifname \"%s\" ip saddr . ip daddr vmap @mesh_fwd\n"
                      "\t\tiifname \"%s\" oifname \"%s\" ct direction reply accept\n"
                      "\t\tiifname \"%s\" oifname \"%s\" drop\n"
                      "\t\tiifname \"%s\" ip saddr @route_all accept\n"
                      "\t\tiifname \"%s\" drop\n"
                      "\t}\n",
                      ifn, ifn, ifn, ifn, ifn, ifn, ifn, ifn);
        /* The one NAT rule, in our own table: full-tunnel peers leave with the cell's address. */
        strbuf_printf(&b,
                      "\tchain postrouting {\n"
                      "\t\ttype nat hook postrouting priority srcnat; policy accept;\n"
                      "\t\tip saddr @route_all oifname != \"%s\" masquerade\n"
                      "\t\toifname \"%s\" snat ip to ip daddr map @mesh_snat\n"
                      "\t}\n",
                      ifn, ifn);
        /* Locally made connections to the header-trusting backends: the proxy's and root's alone. A packet
         * without a socket (a time-wait ACK) has no skuid and matches nothing here. */
        if (cfg->n_backend_ports) {
                strbuf_puts(&b, "\tchain output {\n"
                                "\t\ttype filter hook output priority filter; policy accept;\n"
                                "\t\tip daddr 127.0.0.1 tcp dport { ");
                for (size_t i = 0; i < cfg->n_backend_ports; i++)
                        strbuf_printf(&b, "%s%u", i ? ", " : "", cfg->backend_ports[i]);
                if (cfg->proxy_uid)
                        strbuf_printf(&b, " } meta skuid != { 0, %" PRIu32 " } reject with tcp reset\n\t}\n",
                                      cfg->proxy_uid);
                else
                        strbuf_puts(&b, " } meta skuid != 0 reject with tcp reset\n\t}\n");
        }
        strbuf_puts(&b, "}\n");
        return finish(&b, ret);
}

static void put_ip_edit(StrBuf *b, const char *verb, const char *set, uint32_t ip) {
        char a[IPV4_STRLEN];
        strbuf_printf(b, "%s element inet " FW_TABLE " %s { %s }\n", verb, set, ipv4_format(ip, a));
}

/* Grants of `from` that `other` does not have (same address and service). */
static void put_grant_edit(StrBuf *b, const FwConfig *cfg, const char *verb, const FwPeer *from, const FwPeer *other,
                           bool verdict) {
        bool first = true;
        for (int g = 0; g < REGISTRY_GRANTS_MAX; g++) {
                if (!has_grant(cfg, from, g) || (has_grant(cfg, other, g) && other->ip == from->ip))
                        continue;
                if (first)
                        strbuf_printf(b, "%s element inet " FW_TABLE " grants { ", verb);
                put_grant(b, cfg, from->ip, g, first, verdict);
                first = false;
        }
        if (!first)
                strbuf_puts(b, " }\n");
}

int fw_render_peer_change(const FwConfig *cfg, const FwPeer *old, const FwPeer *new, char **ret) {
        StrBuf b = STRBUF_INIT;
        /* Deletions first, so a transaction never holds an element twice. */
        put_grant_edit(&b, cfg, "delete", old, new, false);
        if (in_peers(old) && !(in_peers(new) && new->ip == old->ip))
                put_ip_edit(&b, "delete", "peers", old->ip);
        if (in_route_all(old) && !(in_route_all(new) && new->ip == old->ip))
                put_ip_edit(&b, "delete", "route_all", old->ip);
        if (in_peers(new) && !(in_peers(old) && old->ip == new->ip))
                put_ip_edit(&b, "add", "peers", new->ip);
        if (in_route_all(new) && !(in_route_all(old) && old->ip == new->ip))
                put_ip_edit(&b, "add", "route_all", new->ip);
        put_grant_edit(&b, cfg, "add", new, old, true);
        if (!b.error && b.len == 0) {
                strbuf_done(&b);
                *ret = NULL;
                return 0;
        }
        return finish(&b, ret);
}

bool fw_needs_forwarding(const FwPeer *peers, size_t n) {
        for (size_t i = 0; i < n; i++)
                if (in_route_all(&peers[i]))
                        return true;
        return false;
}
