/* The HTTP server: libmicrohttpd driven from picd's own event loop (no threads), one TCP listener for the
 * API and web UI and one unix socket, restricted to root, for the CLI. */
#pragma once
#include "core/cell.h"

typedef struct HttpServer HttpServer;

/* listen: "ADDR:PORT" (IPv4); unix_path: socket file to create (mode 0600), or NULL. */
int http_server_new(Cell *cell, const char *listen, const char *unix_path, HttpServer **ret);
HttpServer *http_server_free(HttpServer *s);
/* The TCP port actually bound (useful with port 0). */
int http_server_port(HttpServer *s);
/* Where the built web UI lives (index.html, assets/); NULL: the UI is not installed and "/" says so. */
int http_server_set_web_root(HttpServer *s, const char *dir);
