/* The service registry: every address, DNS name and grant a service module declares in its ops table
 * (ServiceEndpoint rows), checked for clashes when the module registers, and the one place that maps them. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "basic/netaddr.h"

/* Something a service offers at its own virtual IP inside ip_range. Offsets, names and grant bits are part
 * of the user-visible contract (bookmarks, client configs, stored peer grants): a module never changes one,
 * it only adds new ones. */
typedef struct ServiceEndpoint {
        const char *name;              /* "dns", "calendar": the name in the API, DNS and grants */
        uint32_t vip_offset;           /* host number inside ip_range (1..VIP_OFFSET_MAX); 0 = no virtual IP */
        const char *const *dns_labels; /* names under the cell zone, NULL-terminated ("@" = the zone apex) */
        bool grantable;                /* a VPN peer reaches it only with this grant */
        unsigned grant_bit;            /* its bit in Peer.access (stored: never reuse or move one) */
        /* Its HTTP backend, a unix socket under STATE/run ("proxied/files-http.sock": in CELL_PROXIED_DIR, which
         * only root and Caddy pass), or NULL: the proxy module gives an endpoint with one an HTTPS site on its
         * virtual IP that forwards there. */
        const char *http_upstream;
        /* Or, for a daemon that cannot listen on a unix socket (Radicale): the settings key of a TCP port it
         * listens on at 127.0.0.1 inside the cell namespace, where only the cell's own daemons can connect. */
        const char *http_upstream_port;
        /* The backend checks credentials itself (picd's API): no forward_auth in front of it. */
        bool http_own_auth;
        /* Whole files go through it (WebDAV): Caddy puts no cap on a body and no deadline on a whole request
         * (the backend's quota check and idle timeouts bound them), only its header and idle timeouts. */
        bool http_streams;

        /* The backend signs its users in itself on its own form (webmail takes the account password), so
         * forward_auth checks the source's grant only and asks for no credentials. */
        bool http_grant_only;
        /* Non-NULL: http_upstream speaks FastCGI (php-fpm), and this is the document root: Caddy serves its
         * static files itself and sends only /index.php to the upstream. */
        const char *http_fastcgi_root;
        /* For a module with an http_authorize: the requests it never refuses a signed-in user, which Caddy may
         * then let through on its own check of the app passwords picd accepted lately (the proxy's fast set):
         * these methods (NULL-terminated), at any path except http_fast_not_below and what lies under it.
         * NULL: every request is asked of picd. */
        const char *const *http_fast_methods;
        const char *http_fast_not_below;
} ServiceEndpoint;

#define REGISTRY_ENDPOINTS_MAX 32
#define REGISTRY_GRANTS_MAX 8 /* 2^grants DNS views each take a port and a view in unbound.conf */
#define VIP_OFFSET_MAX 30
/* Smallest ip_range that still holds every possible offset (prefix length). */
#define VIP_MAX_PREFIX 27

typedef struct Registry {
        const ServiceEndpoint *endpoints[REGISTRY_ENDPOINTS_MAX];
        const char *owners[REGISTRY_ENDPOINTS_MAX]; /* the module that declared each */
        size_t n;
        const ServiceEndpoint *grants[REGISTRY_GRANTS_MAX]; /* by bit; NULL for an unused bit */
        unsigned n_grant_bits;                              /* highest used bit + 1 */
} Registry;

/* Adds one endpoint. -EINVAL (bad name, label, offset or bit) or -EEXIST (a name, label, offset or grant bit
 * another endpoint has), with a message naming both in ret_why (may be NULL). */
int registry_add(Registry *r, const char *owner, const ServiceEndpoint *e, char *ret_why, size_t why_size);

const ServiceEndpoint *registry_find(const Registry *r, const char *name);
/* The endpoint that publishes this relative DNS name ("@" for the apex), or NULL. */
const ServiceEndpoint *registry_find_label(const Registry *r, const char *label);
/* The virtual IP of endpoint e inside range; -ENOENT without one, -ERANGE if the range is too small. */
int registry_vip_of(const ServiceEndpoint *e, const Cidr4 *range, uint32_t *ret);
int registry_vip(const Registry *r, const Cidr4 *range, const char *name, uint32_t *ret);

/* Grants: bit ↔ name. -EINVAL for a name that is no grantable endpoint. */
int registry_grant_from_string(const Registry *r, const char *name);
const char *registry_grant_to_string(const Registry *r, unsigned bit);
/* Every grant bit in use. */
uint32_t registry_grant_mask(const Registry *r);
/* "calendar, files, mail, webdav": the grant names for error messages. */
void registry_grant_names(const Registry *r, char *ret, size_t size);
/* DNS views: one per access set, 2^(highest grant bit + 1). */
unsigned registry_dns_views(const Registry *r);
