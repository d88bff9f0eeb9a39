/* Caddy's whole JSON configuration from what the cell wants: one HTTPS and one HTTP server per site, the
 * cell-CA certificates, forward_auth in front of application backends. Pure (a golden-file unit test pins it). */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/registry.h"

typedef struct ProxySite {
        const char *name;     /* the endpoint name: server names, certificate tag, X-Pic-Service */
        uint32_t vip;
        const char *cert, *key; /* PEM files of its cell-CA leaf */
        const char *upstream; /* absolute path of the backend's unix socket */
        const char *fastcgi_root; /* non-NULL: the upstream speaks FastCGI; static files come from this root */
        bool forward_auth;    /* ask the authorization socket first */
        bool grant_only;      /* ...about the client's address only (X-Pic-Auth: grant-only): the backend signs
                               * users in itself */
        bool serves_root;     /* its plain-HTTP side serves the CA root at CA_ROOT_URL_PATH */
} ProxySite;

typedef struct ProxyConfig {
        const char *admin_socket;
        const char *auth_socket;
        const char *root_pem;
        const char *root_path; /* URL path of the root on the HTTP side */
        unsigned http_port, https_port;
        ProxySite sites[REGISTRY_ENDPOINTS_MAX];
        size_t n_sites;
} ProxyConfig;

/* Request bodies: the API takes small JSON; application services take files. */
#define PROXY_API_BODY_MAX (2 * 1024 * 1024)
#define PROXY_APP_BODY_MAX (1024LL * 1024 * 1024)

/* The config as indented JSON text (caller frees). -ENOMEM. */
int proxy_render(const ProxyConfig *cfg, char **ret);
