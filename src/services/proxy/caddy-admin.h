/* A minimal HTTP/1.1 client for Caddy's admin API on its unix socket (the empty Host header it needs), used
 * for POST /load. Blocking with a deadline; one request per connection. */
#pragma once
#include <stddef.h>
#include <stdint.h>

/* Sends method path with body (may be NULL); *ret_status gets the HTTP status, *ret_body (may be NULL) the
 * reply body (caller frees). -ETIMEDOUT, -ECONNREFUSED/-ENOENT (no Caddy), -EPROTO (not HTTP). */
int caddy_admin_request(const char *socket_path, const char *method, const char *path, const char *body,
                        size_t body_len, uint64_t timeout_usec, int *ret_status, char **ret_body);
