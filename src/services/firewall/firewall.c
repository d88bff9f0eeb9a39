/* Firewall module: setup/apply replace the whole table atomically from the store; a peer change edits only
 * that peer's elements in one transaction. Full-tunnel peers need IPv4 forwarding in the namespace: it is
 * switched on when the first one appears and never off (something else on the box may rely on it). On a
 * dedicated box (no --netns) that makes the host a router for its full-tunnel peers; our forward chain
 * still drops every other packet arriving from the tunnel, and other traffic is left to the host's rules. */
#include "services/firewall/firewall.h"

#include <fcntl.h>
#include <stdio.h>

#include "basic/log.h"
#include "basic/util.h"
#include "core/netns-run.h"
#include "core/peer.h"
#include "net/nft.h"
#include "services/firewall/render.h"
#include "services/mesh/mesh.h"
#include "services/wireguard/wireguard.h"

#define SERVICE_NAME "firewall"
#define IP_FORWARD "/proc/sys/net/ipv4/ip_forward"

static int fw_config(Cell *c, FwConfig *ret, PicError *err) {
        FwConfig cfg = { 0 };
        Cidr4 range;
        svc_wireguard_ifname(c, cfg.ifname);
        if (settings_vpn_address(c->settings, &cfg.vpn) < 0)
                return pic_error(err, -EINVAL, "wireguard.address", "wireguard.address is not a valid address/prefix");
        if (settings_ip_range(c->settings, &range) < 0)
                return pic_error(err, -EINVAL, "ip_range", "ip_range is not a valid CIDR");
        const Registry *reg = &c->registry;
        int r = 0;
        cfg.grant_mask = registry_grant_mask(reg);
        cfg.dns_views = registry_dns_views(reg);
        for (unsigned g = 0; g < REGISTRY_GRANTS_MAX && r >= 0; g++)
                if (reg->grants[g])
                        r = registry_vip_of(reg->grants[g], &range, &cfg.grant_vip[g]);
        if (r >= 0)
                r = registry_vip(reg, &range, "dns", &cfg.dns_vip);
        if (r >= 0)
                r = registry_vip(reg, &range, "ntp", &cfg.ntp_vip);
        if (r < 0)
                return pic_error(err, r, "ip_range", "ip_range is too small for the service addresses");
        cfg.dns_port = (unsigned) settings_int(c->settings, "dns.port");
        cfg.dns_view_base = dns_view_port_base((uint16_t) cfg.dns_port, cfg.dns_views);
        cfg.ntp_port = (unsigned) settings_int(c->settings, "ntp.port");
        if (registry_vip(reg, &range, "api", &cfg.api_vip) < 0)
                cfg.api_vip = 0;
        cfg.http_port = (unsigned) settings_int(c->settings, "proxy.http_port");
        cfg.https_port = (unsigned) settings_int(c->settings, "proxy.https_port");
        for (size_t i = 0; i < reg->n; i++)
                if (reg->endpoints[i]->http_upstream_port)
                        cfg.backend_ports[cfg.n_backend_ports++] =
                                (unsigned) settings_int(c->settings, reg->endpoints[i]->http_upstream_port);
        uid_t uid;
        if (cfg.n_backend_ports && cell_proxy_ids(&uid, NULL) == 0)
                cfg.proxy_uid = (uint32_t) uid;
        *ret = cfg;
        return 0;
}

/* /proc/sys/net belongs to the namespace of whoever opens it, so this runs inside the cell namespace.
 * Not write_file_atomic: a sysctl is not a file that can be replaced by rename. */
static int enable_forwarding(Cell *c, void *userdata) {
        _cleanup_close_ int fd = open(IP_FORWARD, O_RDWR | O_CLOEXEC);
        if (fd < 0)
                return negative_errno();
        char v = 0;
        if (read(fd, &v, 1) == 1 && v == '1')
                return 0;
        if (pwrite(fd, "1\n", 2, 0) != 2)
                return negative_errno();
        log_info("firewall: enabled IPv4 forwarding for full-tunnel peers");
        return 0;
}

typedef struct FwPeerList {
        FwPeer *v;
        size_t n, cap;
} FwPeerList;

static int collect(const Peer *p, void *userdata) {
        FwPeerList *l = userdata;
        if (l->n == l->cap) {
                size_t ncap = l->cap ? l->cap * 2 : 64;
                FwPeer *nv = realloc(l->v, ncap * sizeof *nv);
                if (!nv)
                        return -ENOMEM;
                l->v = nv;
                l->cap = ncap;
        }
        l->v[l->n++] = fw_peer_from(p);
        return 0;
}

static int replace_table(Cell *c, PicError *err) {
        FwConfig cfg;
        int r = fw_config(c, &cfg, err);
        if (r < 0)
                return r;
        FwPeerList peers = { 0 };
        r = store_peer_foreach(c->store, collect, &peers);
        if (r < 0) {
                free(peers.v);
                return pic_error(err, r, NULL, "cannot read the stored peers");
        }
        _cleanup_free_ char *script = NULL;
        r = fw_render_table(&cfg, peers.v, peers.n, &script);
        bool forward = fw_needs_forwarding(peers.v, peers.n) || svc_mesh_has_links(c);
        free(peers.v);
        if (r < 0)
                return pic_error(err, r, NULL, "cannot render the firewall");
        /* The mesh's elements in the same transaction: a table replaced for any reason keeps its links. */
        _cleanup_free_ char *full = NULL;
        r = svc_mesh_fw_script(c, script, &full);
        if (r < 0)
                return pic_error(err, r, NULL, "cannot render the mesh's firewall elements");
        _cleanup_free_ char *nft_err = NULL;
        r = cell_nft_run(c, full, NULL, &nft_err);
        if (r < 0)
                return pic_error(err, r, NULL, "nftables rejected the firewall: %s", nft_err ? nft_err : strerror(-r));
        if (forward && (r = cell_in_netns(c, enable_forwarding, NULL)) < 0)
                return pic_error(err, r, NULL, "cannot enable IPv4 forwarding: %s", strerror(-r));
        return 0;
}

int svc_firewall_forwarding_on(Cell *c) {
        return cell_in_netns(c, enable_forwarding, NULL);
}

/* Also what a settings change runs: every key the rules depend on needs a restart, which calls setup. */
static int fw_setup(Cell *c, PicError *err) {
        return replace_table(c, err);
}

static int fw_peer_changed(Cell *c, const Peer *old, const Peer *new, PicError *err) {
        FwConfig cfg;
        int r = fw_config(c, &cfg, err);
        if (r < 0)
                return r;
        FwPeer o = { 0 }, n = { 0 };
        if (old)
                o = fw_peer_from(old);
        if (new)
                n = fw_peer_from(new);
        _cleanup_free_ char *script = NULL;
        r = fw_render_peer_change(&cfg, old ? &o : NULL, new ? &n : NULL, &script);
        if (r < 0)
                return pic_error(err, r, NULL, "cannot render the firewall change");
        if (!script)
                return 0;
        _cleanup_free_ char *nft_err = NULL;
        r = cell_nft_run(c, script, NULL, &nft_err);
        if (r < 0)
                return pic_error(err, r, NULL, "nftables rejected the peer's rules: %s", nft_err ? nft_err : strerror(-r));
        if (new && fw_needs_forwarding(&n, 1) && (r = cell_in_netns(c, enable_forwarding, NULL)) < 0)
                return pic_error(err, r, NULL, "cannot enable IPv4 forwarding: %s", strerror(-r));
        return 0;
}

static int fw_probe(Cell *c, PicError *err) {
        _cleanup_free_ char *out = NULL, *nft_err = NULL;
        int r = cell_nft_query(c, "list chain inet " FW_TABLE " vpn_in", &out, &nft_err);
        return r < 0 ? pic_error(err, -EHOSTDOWN, NULL, "the firewall table is missing: %s", nft_err ? nft_err : "") : 0;
}

static const char *const watches[] = { "ip_range", "wireguard.address", "dns.port", "ntp.port", "proxy.http_port",
                                       "proxy.https_port", "calendar.port" /* an http_upstream_port */, NULL };

const ServiceOps svc_firewall_ops = {
        .name = SERVICE_NAME,
        .watches = watches,
        .setup = fw_setup,
        .probe = fw_probe,
        .peer_changed = fw_peer_changed,
};
