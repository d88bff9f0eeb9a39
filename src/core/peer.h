/* The grant model: which services a VPN peer may reach. One grant drives firewall, DNS view and proxy
 * access together; the grantable services and their bits are the registry's (core/registry.h). */
#pragma once
#include <stdint.h>

#include "core/registry.h"
#include "store/peers.h"

/* DNS views: one per access set, each served on its own port of the DNS virtual IP; a peer's queries to
 * dns.port are steered to its view's port (services/dns), and the firewall lets exactly those ports in. */
#define DNS_VIEW_PORT_BASE 5300
/* First of the n_views view ports for a given dns.port (moved out of the way if dns.port falls in the range). */
uint16_t dns_view_port_base(uint16_t dns_port, unsigned n_views);
