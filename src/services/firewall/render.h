/* The cell's nftables ruleset as a pure function of settings and peers: the whole table `inet pic` (setup
 * and reconcile) and the element edits of one peer change (the hot path). Golden-file tested. */
#pragma once
#include <net/if.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "basic/netaddr.h"
#include "core/peer.h"

#define FW_TABLE "pic"

typedef struct FwConfig {
        char ifname[IFNAMSIZ];          /* the cell's WireGuard interface */
        Cidr4 vpn;                      /* the cell's VPN address with prefix */
        uint32_t grant_vip[REGISTRY_GRANTS_MAX]; /* virtual IP each grant bit opens */
        uint32_t grant_mask;            /* the grant bits in use (registry_grant_mask) */
        unsigned dns_views;             /* registry_dns_views: how many view ports follow dns_view_base */
        uint32_t dns_vip, ntp_vip;
        unsigned dns_port, ntp_port;
        unsigned dns_view_base;         /* peers' DNS arrives here, steered to its view (core/peer.h) */
        /* The API's virtual IP with the proxy's ports (0: none): every peer may fetch the cell CA's root over
         * plain HTTP there, and reach the API and web UI over HTTPS (which authenticate themselves). */
        uint32_t api_vip;
        unsigned http_port, https_port;
        /* TCP ports of backends listening on 127.0.0.1 that trust the user header the proxy sets (Radicale has no
         * unix socket listener): only root (picd's probes) and proxy_uid may connect to them, else any local
         * user could name any cell user. None: no output chain. */
        unsigned backend_ports[REGISTRY_ENDPOINTS_MAX];
        size_t n_backend_ports;
        uint32_t proxy_uid; /* the proxy's user (0: it runs as root) */
} FwConfig;

/* What the firewall needs of a peer. */
typedef struct FwPeer {
        uint32_t ip;
        uint32_t access; /* grant bitmask */
        bool enabled;
        bool route_all;
} FwPeer;

FwPeer fw_peer_from(const Peer *p);
/* The full replacement: "table inet pic / delete table inet pic / table inet pic { ... }", applied as one
 * transaction. Caller frees *ret. */
int fw_render_table(const FwConfig *cfg, const FwPeer *peers, size_t n, char **ret);
/* `delete element` / `add element` commands taking the ruleset from old's to new's elements (either may
 * be NULL: create/delete). *ret is NULL when nothing changes. Caller frees *ret. */
int fw_render_peer_change(const FwConfig *cfg, const FwPeer *old, const FwPeer *new, char **ret);
/* Any enabled route_all peer: the namespace must forward IPv4. */
bool fw_needs_forwarding(const FwPeer *peers, size_t n);
