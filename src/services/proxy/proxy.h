/* The "proxy" service module: Caddy in the cell namespace, the HTTPS front door of every service endpoint that
 * declares an HTTP backend, with the cell CA's certificates and forward_auth to picd before applications. */
#pragma once
#include "core/cell.h"

#define PROXY_SERVICE "proxy"
/* Under STATE/run: Caddy's own dir (HOME, XDG dirs: its autosave and locks; caddy:caddy 0700), its admin API
 * socket in there, a scratch HOME for `caddy validate` (run as root, so it must not leave root's files in
 * Caddy's), and the authorization socket it asks before application backends (0660 root:caddy). */
#define PROXY_HOME_DIR "caddy"
#define PROXY_ADMIN_SOCKET PROXY_HOME_DIR "/admin.sock"
#define PROXY_CHECK_HOME_DIR "caddy-check"
#define PROXY_AUTH_SOCKET "auth.sock"

extern const ServiceOps svc_proxy_ops;
