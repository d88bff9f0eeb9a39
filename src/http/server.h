/* The HTTP server: libmicrohttpd driven from picd's own event loop (no threads), one TCP listener for the
 * API and web UI, one unix socket, restricted to root, for the CLI, and one for Caddy's forward_auth. */
#pragma once
#include "core/cell.h"

typedef struct HttpServer HttpServer;

/* listen: "ADDR:PORT" (IPv4); unix_path: the CLI's socket file to create (mode 0600), or NULL; authz_path:
 * the forward_auth socket (GET /auth only, for Caddy: mode 0660 root:CELL_PROXY_USER, 0600 without that group),
 * or NULL. */
int http_server_new(Cell *cell, const char *listen, const char *unix_path, const char *authz_path, HttpServer **ret);
HttpServer *http_server_free(HttpServer *s);
/* The TCP port actually bound (useful with port 0). */
/* A unix socket for the cell's own reverse proxy (Caddy; modes as authz_path's): a request's client is the right-most
 * X-Forwarded-For entry, as from api.trusted_proxy; without one it is no address (remote, never local). */
int http_server_add_proxy_socket(HttpServer *s, const char *path);
int http_server_port(HttpServer *s);
/* Where the built web UI lives (index.html, assets/); NULL: the UI is not installed and "/" says so. */
int http_server_set_web_root(HttpServer *s, const char *dir);
