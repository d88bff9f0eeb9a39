/* The "proxy" service module: Caddy in the cell namespace, the HTTPS front door of every service endpoint that
 * declares an HTTP backend, with the cell CA's certificates and forward_auth to picd before applications. */
#pragma once
#include "core/cell.h"

#define PROXY_SERVICE "proxy"
/* Under STATE/run: Caddy's admin API, and the authorization socket it asks before application backends. */
#define PROXY_ADMIN_SOCKET "caddy-admin.sock"
#define PROXY_AUTH_SOCKET "auth.sock"

extern const ServiceOps svc_proxy_ops;
