/* Pure rendering for the DNS module: the cell's parameters → unbound.conf text, and the peers' view
 * membership → the nftables table that steers each VPN peer's queries to its view. No I/O here; the unit
 * tests check these texts directly.
 *
 * How per-peer views work: unbound 1.17 cannot change access-control-view at runtime (set_option refuses
 * it; only a reload, which drops all runtime data, would). So the config holds one view per access set
 * (2^grants of them), each served on its own port of the DNS virtual IP (interface-view). A peer's queries
 * to <dns vip>:<dns.port> are rewritten statelessly by nftables (raw prerouting, notrack) to its view's port
 * through one map element `peer_ip : port`, and the replies' source port is rewritten back. Creating,
 * changing or deleting a peer is one map element edit: no config change, no reload, effective for the very
 * next packet (stateless, so no conntrack entry keeps an old mapping alive). */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "basic/netaddr.h"
#include "core/dns-records.h"
#include "core/peer.h"

#define DNS_NFT_TABLE "pic_dns"

typedef struct DnsParams {
        char zone[DNS_ZONE_MAX];    /* "mycell.cell", no trailing dot */
        Cidr4 ip_range;
        Cidr4 vpn;                  /* wireguard.address: the cell's VPN address and the VPN subnet */
        Cidr4 lan;                  /* the DHCP interface's subnet (its clients ask us), when have_lan */
        bool have_lan;
        uint16_t port;              /* dns.port */
        uint32_t forwarders[DNS_FORWARDERS_MAX];
        size_t n_forwarders;
        char directory[512];        /* unbound's working directory (its config dir) */
        char control_path[108];     /* unix control socket */
        char username[32];          /* user unbound drops to after binding; "" = stay root */
        const Registry *registry;   /* the services' names, virtual IPs and grants (pure data) */
} DnsParams;

typedef struct DnsViewMember {
        uint32_t ip;
        uint32_t access; /* grant bitmask */
} DnsViewMember;

uint16_t dns_view_port(const DnsParams *p, uint32_t access);
/* The service virtual IP of the DNS server. */
int dns_params_vip(const DnsParams *p, uint32_t *ret);

/* Reverse zones ("c.b.a.in-addr.arpa.") covering c: one zone on an octet boundary when that stays inside
 * private space, else the octet-aligned zones inside c. Returns the count written (≤ max) or -E2BIG. */
int dns_reverse_zones(const Cidr4 *c, char (*zones)[32], size_t max);

/* unbound.conf for p. Caller frees *ret. */
int dns_render_unbound(const DnsParams *p, char **ret);
/* The whole nftables table (replaces any old one) with these members. Caller frees *ret. */
int dns_render_nft(const DnsParams *p, const DnsViewMember *members, size_t n, char **ret);
/* One atomic edit of the view map: remove old (if non-NULL), add new (if non-NULL). Caller frees *ret. */
int dns_render_nft_change(const DnsParams *p, const DnsViewMember *old, const DnsViewMember *new, char **ret);
/* A data line for a published host or service: "<fqdn> <ttl> IN A <ip>" / PTR. */
int dns_render_a(const char *fqdn, uint32_t ip, char *ret, size_t size);
int dns_render_ptr(const char *fqdn, uint32_t ip, char *ret, size_t size);
