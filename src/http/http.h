/* The HTTP layer's shared types: requests as handlers see them, responses they fill, the route table
 * entry and the principal (who is asking). Only src/http knows about HTTP. */
#pragma once
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "basic/error.h"
#include "core/cell.h"

struct MHD_Connection;

/* What a route requires. Spelled with the AUTH_ prefix pasted by ROUTE(), so a route that names no
 * requirement does not compile. */
typedef enum AuthLevel {
        _AUTH_UNSET = 0, /* never valid in the table; checked at start-up and by a test */
        AUTH_PUBLIC,     /* no credentials (health, login) */
        AUTH_SELF,       /* any valid credential, a user-role session included; the handler allows a
                          * user-role session only its own account (/api/users/{name}...) */
        AUTH_READ,       /* any valid admin session or token */
        AUTH_WRITE,      /* session, or token with scope write/admin */
        AUTH_ADMIN,      /* session, or token with scope admin, or root over the unix socket */
        _AUTH_LEVEL_MAX,
} AuthLevel;

typedef enum PrincipalKind {
        PRINCIPAL_NONE,
        PRINCIPAL_SESSION,
        PRINCIPAL_TOKEN,
        PRINCIPAL_LOCAL_ROOT, /* root over the unix socket (SO_PEERCRED) */
} PrincipalKind;

typedef struct Principal {
        PrincipalKind kind;
        AuthLevel level;        /* highest level this principal may use */
        int64_t user_id;        /* session */
        char user[64];          /* session: the user's name ("" otherwise) */
        int64_t token_id;       /* token */
        uint8_t session_hash[32];
        char csrf[64];
        char name[96];          /* for the audit log: "admin", "token:ci", "root(unix)" */
} Principal;

typedef struct HttpRequest {
        Cell *cell;
        struct MHD_Connection *conn;
        const char *method;
        const char *path;
        const char *params[4]; /* values of {placeholders}, in order */
        size_t n_params;
        json_t *body;          /* parsed JSON body, or NULL */
        const char *raw_body;
        size_t raw_body_len;
        Principal who;
        char remote[64];       /* client address after trusted-proxy handling; "unix" for the socket */
        bool via_unix;
        bool via_proxy_socket; /* came through the cell's reverse proxy (STATE/run/api-proxy.sock) */
        bool via_https_proxy;  /* the trusted proxy says the client spoke HTTPS to it (X-Forwarded-Proto) */
} HttpRequest;

typedef struct HttpResponse {
        int status;
        json_t *json;          /* body as JSON (stolen), or */
        char *raw;             /* raw body (owned) with content_type, or */
        size_t raw_len;
        bool has_fd;           /* a body streamed from fd (owned, fd_size bytes) with content_type */
        int fd;
        uint64_t fd_size;
        const char *content_type;
        char set_cookie[256];
        char pic_user[64];          /* X-Pic-User of a forward_auth answer */
        char www_authenticate[192]; /* WWW-Authenticate of a forward_auth 401 */
        int retry_after;
        char audit_detail[256];
        struct {
                const char *name; /* a literal; NULL ends the list */
                char value[160];
        } headers[2];          /* a handler's own response headers */
} HttpResponse;

typedef int (*http_handler_fn)(HttpRequest *req, HttpResponse *resp);

enum {
        ROUTE_LOCAL_ONLY = 1 << 0, /* also require a local/cell-network client address */
        ROUTE_NO_AUDIT = 1 << 1,   /* mutation that audits itself (e.g. login: never the password) */
};

typedef struct Route {
        const char *method;
        const char *pattern; /* "/api/peers/{name}" */
        AuthLevel auth;
        unsigned flags;
        http_handler_fn handler;
        const char *summary;
} Route;

#define ROUTE(m, p, level, fl, h, sum) { .method = m, .pattern = p, .auth = AUTH_##level, .flags = fl, .handler = h, .summary = sum }

const Route *http_routes(size_t *ret_n);
/* Checks the table: every route has an auth level, no duplicate method+pattern. */
int http_routes_check(void);
/* Matches path against pattern, filling params; true on match. */
bool http_route_match(const char *pattern, const char *path, const char **params, size_t *n_params, char *scratch,
                      size_t scratch_size);

/* Responses. Each returns 0 so handlers can "return http_reply(...)". json is stolen. */
int http_reply(HttpResponse *resp, int status, json_t *json);
int http_reply_raw(HttpResponse *resp, int status, const char *content_type, char *body_owned, size_t len);
/* A body of size bytes read from fd (owned from here, closed when sent or dropped) as the client takes it, so a
 * large file is never in memory whole. */
int http_reply_fd(HttpResponse *resp, int status, const char *content_type, int fd, uint64_t size);
int http_reply_error(HttpResponse *resp, int status, const char *code, const char *field, const char *message);
/* Maps a negative errno + PicError to the one error envelope and status. */
int http_reply_errno(HttpResponse *resp, int r, const PicError *err);
int http_status_from_errno(int r);

const char *http_query(HttpRequest *req, const char *key);
const char *http_header(HttpRequest *req, const char *key);
const char *http_cookie(HttpRequest *req, const char *name);
