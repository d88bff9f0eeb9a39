/* Reconciles pic0's addresses to the wanted set: adds missing VIPs, removes ones no longer in ip_range
 * (after an ip_range change). The bridge outlives picd so a restart does not drop service addresses. */
#include "services/network/network.h"

#include "basic/log.h"
#include "basic/util.h"
#include "net/link.h"
#include "core/netns-run.h"

static int sync_bridge(Cell *c, void *userdata) {
        PicError *err = userdata;
        Cidr4 range;
        int r = settings_ip_range(c->settings, &range);
        if (r < 0)
                return pic_error(err, r, "ip_range", "ip_range is not a valid CIDR");
        r = link_bridge_ensure(NETWORK_BRIDGE);
        if (r >= 0)
                r = link_set_up(NETWORK_BRIDGE);
        if (r < 0)
                return pic_error(err, r, NULL, "cannot create bridge %s: %s", NETWORK_BRIDGE, strerror(-r));

        /* Every virtual IP any module declared (the registry), so a new service's address appears here by
         * itself. */
        uint32_t want[REGISTRY_ENDPOINTS_MAX];
        size_t n_want = 0;
        for (size_t i = 0; i < c->registry.n; i++)
                if (registry_vip_of(c->registry.endpoints[i], &range, &want[n_want]) == 0)
                        n_want++;

        uint32_t *have = NULL;
        uint8_t *prefixes = NULL;
        size_t n_have = 0;
        r = addr_list(NETWORK_BRIDGE, &have, &prefixes, &n_have);
        if (r < 0)
                return pic_error(err, r, NULL, "cannot list addresses of %s: %s", NETWORK_BRIDGE, strerror(-r));
        /* pic0 belongs to pic alone: anything not wanted (an old ip_range) goes. */
        for (size_t i = 0; i < n_have && r >= 0; i++) {
                bool wanted = false;
                for (size_t j = 0; j < n_want; j++)
                        if (have[i] == want[j] && prefixes[i] == range.prefix)
                                wanted = true;
                if (!wanted)
                        r = addr_del(NETWORK_BRIDGE, have[i], prefixes[i]);
        }
        free(have);
        free(prefixes);
        for (size_t j = 0; j < n_want && r >= 0; j++)
                r = addr_add(NETWORK_BRIDGE, want[j], range.prefix);
        if (r < 0)
                return pic_error(err, r, NULL, "cannot set the service addresses on %s: %s", NETWORK_BRIDGE,
                                 strerror(-r));
        return 0;
}

static int network_setup(Cell *c, PicError *err) {
        return cell_in_netns(c, sync_bridge, err);
}

static int network_apply(Cell *c, bool files_changed, PicError *err) {
        return cell_in_netns(c, sync_bridge, err);
}

static int check_up(Cell *c, void *userdata) {
        return link_exists(NETWORK_BRIDGE) ? 0 : -ENODEV;
}

static int network_probe(Cell *c, PicError *err) {
        int r = cell_in_netns(c, check_up, NULL);
        return r < 0 ? pic_error(err, r, NULL, "bridge %s is missing", NETWORK_BRIDGE) : 0;
}

/* The cell's own addresses: its gateway on the bridge, and the API (the web UI at the zone apex). */
static const ServiceEndpoint endpoints[] = {
        { .name = "gateway", .vip_offset = 1 },
        { .name = "api", .vip_offset = 5, .dns_labels = (const char *const[]) { "@", "api", NULL },
          /* picd itself, through its proxy socket (src/http/server.c), which authenticates every request. */
          .http_upstream = "proxied/api-proxy.sock", .http_own_auth = true },
};

static const char *const watches[] = { "ip_range", NULL };

const ServiceOps svc_network_ops = {
        .name = "network",
        .endpoints = endpoints,
        .n_endpoints = ELEMENTSOF(endpoints),
        .watches = watches,
        .setup = network_setup,
        .apply = network_apply,
        .probe = network_probe,
};
