/* Authentication and authorisation: sessions (cookie + CSRF), scoped API tokens, root over the unix
 * socket, the first-start admin account, and the per-address login rate limit. */
#pragma once
#include "http/http.h"

#define SESSION_COOKIE "pic_session"
#define SESSION_IDLE_SEC (30 * 60)
#define SESSION_MAX_SEC (12 * 60 * 60)

/* Creates the admin account with a random password on first start and writes it to
 * STATE/initial-admin-password (0600). */
int http_auth_bootstrap(Cell *c);
/* Fills ret from the credentials in the request. kind NONE when there are none; -EACCES for invalid,
 * -EKEYEXPIRED for expired ones. */
int http_auth_resolve(HttpRequest *req, Principal *ret);
/* Marks a unix-socket request as root's when SO_PEERCRED says uid 0. */
void http_auth_unix_peer(HttpRequest *req);
bool http_auth_csrf_ok(HttpRequest *req);

/* Per client address: after too many failures in a window, -EAGAIN with the seconds to wait. */
int http_login_check_rate(const char *remote, int *ret_retry_after);
void http_login_failed(const char *remote);
void http_login_succeeded(const char *remote);

AuthLevel auth_level_from_scope(const char *scope);
const char *auth_scope_to_string(AuthLevel level);
