/* Where the DNS view ports lie. The grant names and bits themselves are the registry's: the modules
 * declare them next to their virtual IPs. */
#include "core/peer.h"

uint16_t dns_view_port_base(uint16_t dns_port, unsigned n_views) {
        if (dns_port >= DNS_VIEW_PORT_BASE && dns_port < DNS_VIEW_PORT_BASE + n_views)
                return (uint16_t) (DNS_VIEW_PORT_BASE + n_views);
        return DNS_VIEW_PORT_BASE;
}
