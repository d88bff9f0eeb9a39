/* A minimal HTTP/1.1 client for Caddy's admin API on its unix socket (the empty Host header it needs), used
 * for POST /load. Blocking with a deadline; one request per connection. */
#pragma once
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Sends method path with body (may be NULL); *ret_status gets the HTTP status, *ret_body (may be NULL) the
 * reply body (caller frees). The socket lives in a directory Caddy's user owns, so whatever answers there must
 * prove to be that Caddy before it is sent a byte (the config carries credential hashes): the peer's uid must be
 * peer_uid and, when peer_pid > 0, its pid peer_pid (SO_PEERCRED), else -EPERM. -ETIMEDOUT,
 * -ECONNREFUSED/-ENOENT (no Caddy), -EPROTO (not HTTP). */
int caddy_admin_request(const char *socket_path, uid_t peer_uid, pid_t peer_pid, const char *method,
                        const char *path, const char *body, size_t body_len, uint64_t timeout_usec, int *ret_status,
                        char **ret_body);
