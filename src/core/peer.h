/* The grant model: which services a VPN peer may reach. One grant drives firewall, DNS view and proxy
 * access together; this header is the one list of grantable services and their virtual IPs. */
#pragma once
#include <stdint.h>

#include "core/vip.h"
#include "store/peers.h"

typedef enum Grant {
        GRANT_CALENDAR,
        GRANT_FILES,
        GRANT_MAIL,
        GRANT_WEBDAV,
        _GRANT_MAX,
        _GRANT_INVALID = -EINVAL,
} Grant;

#define GRANT_ALL ((1u << _GRANT_MAX) - 1)

const char *grant_to_string(Grant g);
Grant grant_from_string(const char *s);
/* The service whose virtual IP a grant opens. */
CellService grant_service(Grant g);

/* DNS views: one per access set, each served on its own port of the DNS virtual IP; a peer's queries to
 * dns.port are steered to its view's port (services/dns), and the firewall lets exactly those ports in. */
#define DNS_VIEWS (1u << _GRANT_MAX)
#define DNS_VIEW_PORT_BASE 5300
/* First view port for a given dns.port (moved out of the way if dns.port itself falls in the range). */
uint16_t dns_view_port_base(uint16_t dns_port);
