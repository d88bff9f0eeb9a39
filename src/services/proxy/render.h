/* Caddy's whole JSON configuration from what the cell wants: one HTTPS and one HTTP server per site, the
 * cell-CA certificates, forward_auth in front of application backends, and picd's own decisions for the
 * app passwords it checked lately, which Caddy then checks in-process. Pure (a golden-file unit test pins it). */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "basic/netaddr.h"
#include "core/registry.h"

typedef struct ProxySite {
        const char *name;     /* the endpoint name: server names, certificate tag, X-Pic-Service */
        uint32_t vip;
        const char *cert, *key; /* PEM files of its cell-CA leaf */
        const char *upstream; /* absolute path of the backend's unix socket */
        unsigned upstream_port; /* nonzero: the backend is at 127.0.0.1:upstream_port instead */

        const char *fastcgi_root; /* non-NULL: the upstream speaks FastCGI; static files come from this root */
        bool forward_auth;    /* ask the authorization socket first */
        bool grant_only;      /* ...about the client's address only (X-Pic-Auth: grant-only): the backend signs
                               * users in itself */
        bool serves_root;     /* its plain-HTTP side serves the CA root at CA_ROOT_URL_PATH */
        /* Sources picd lets reach this site (granted peers, the cell's own addresses) as CIDRs: only their
         * requests may be authorized by Caddy itself; every other one still goes to forward_auth. */
        const char *const *sources;
        size_t n_sources;
        bool streams;         /* ServiceEndpoint.http_streams */
        /* ServiceEndpoint.http_fast_methods and http_fast_not_below: with methods, only those requests (outside
         * not_below) may be authorized in-process; NULL: any request from the sources may be. */
        const char *const *fast_methods;
        const char *fast_not_below;
} ProxySite;

/* An app password picd accepted itself lately (its "fast set"): Caddy's http_basic checks it in-process
 * against this hash for sources in ProxySite.sources, until picd takes it out again. */
typedef struct ProxyCred {
        const char *user;
        const char *hash; /* base64 of scrypt(password, salt) with the PROXY_FAST_SCRYPT_* parameters */
        const char *salt; /* base64 */
} ProxyCred;

typedef struct ProxyConfig {
        const char *admin_socket;
        const char *auth_socket;
        const char *root_pem;
        const char *root_path; /* URL path of the root on the HTTP side */
        unsigned http_port, https_port;
        ProxySite sites[REGISTRY_ENDPOINTS_MAX];
        size_t n_sites;
        const ProxyCred *creds; /* one user may have several: they are tried in this order */
        size_t n_creds;
        /* CIDRs of sources the failed-login limit holds: never checked in-process, picd answers them 429. */
        const char *const *held;
        size_t n_held;
} ProxyConfig;

/* Request bodies: the API takes small JSON; application services take files. */
#define PROXY_API_BODY_MAX (2 * 1024 * 1024)
#define PROXY_APP_BODY_MAX (1024LL * 1024 * 1024)

/* Sorted, distinct addresses as the fewest CIDRs covering exactly them (peers get consecutive addresses, so a
 * cell's peers fit in a few prefixes: Caddy's remote_ip matcher tries its ranges one by one). out has room
 * for n; returns how many were written. */
size_t proxy_cidrs(const uint32_t *ips, size_t n, char (*out)[CIDR4_STRLEN]);

/* The config as indented JSON text (caller frees). -ENOMEM. */
int proxy_render(const ProxyConfig *cfg, char **ret);
