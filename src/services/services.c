/* Registry of service modules in start order (network before the daemons that bind its addresses). */
#include "services/services.h"

#include "basic/util.h"
#include "core/ca.h"
#include "services/calendar/calendar.h"
#include "services/dhcp/dhcp.h"
#include "services/dns/dns.h"
#include "services/files/files.h"
#include "services/firewall/firewall.h"
#include "services/mail/mail.h"
#include "services/mesh/mesh.h"
#include "services/network/network.h"
#include "services/ntp/ntp.h"
#include "services/proxy/proxy.h"
#include "services/webdav/webdav.h"
#include "services/webmail/webmail.h"
#include "services/wireguard/wireguard.h"

static const ServiceOps *const all_services[] = {
        &svc_network_ops,
        &svc_firewall_ops,
        &svc_wireguard_ops,
        &svc_dns_ops,
        &svc_dhcp_ops,
        &svc_ntp_ops,
        &cell_ca_ops, /* before the modules that serve its certificates */
        &svc_calendar_ops,
        &svc_files_ops,
        &svc_mail_dkim_ops, /* the mail modules: signer and mailboxes before the Postfix that uses them */
        &svc_mail_imap_ops,
        &svc_mail_ops,
        &svc_webdav_ops,
        &svc_mesh_ops, /* after the modules a link reaches (firewall, WireGuard, DNS) */

        &svc_webmail_ops, /* after the CA, whose root it trusts */
        &svc_proxy_ops, /* after the CA and every module that declares an HTTP backend */
        NULL, /* the list ends at the first NULL */
};

const ServiceOps *const *services_all(size_t *ret_n) {
        *ret_n = ELEMENTSOF(all_services) - 1;
        return all_services;
}

int services_register_all(Cell *c) {
        for (size_t i = 0; i < ELEMENTSOF(all_services) && all_services[i]; i++) {
                int r = cell_register_service(c, all_services[i]);
                if (r < 0)
                        return r;
        }
        return 0;
}
