/* libmicrohttpd glue: accepts; on the headers alone routing (404/405 + Allow), auth and CSRF checks, the
 * local-only layer, size (413) and media type (415); then body collection with a hard cap, JSON parsing,
 * dispatch, audit of every mutation, and the reply. */
#include "http/server.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "basic/log.h"
#include "basic/netaddr.h"
#include "basic/parse.h"
#include "basic/time-util.h"
#include "basic/util.h"
#include "crypto/secret.h"
#include "http/auth.h"
#include "http/handlers/handlers.h"
#include "http/http.h"
#include "http/static.h"

#define BODY_MAX (1024 * 1024)
/* libmicrohttpd's per-connection pool: request line and headers (up to about half of it, 8 KiB, like
 * nginx's per-line default), their parsed index and the reply headers. Bodies stream through it in pieces.
 * The library zeroes the whole pool on every keep-alive request and touches all of it per open connection,
 * so its size is paid in CPU per request and in RSS per connection: 64 KiB cost 15% of a /health request
 * and 32 MiB of RSS at 512 connections; 16 KiB costs a quarter of that. */
#define CONN_POOL_BYTES (16 * 1024)
/* Slots and how one client is kept from taking them all (a slowloris holds connections open by sending a
 * request very slowly or not at all): no address gets more than CONN_PER_IP of the CONN_LIMIT slots, so
 * the rest stay free for other clients; a request's headers must be complete within HEADER_DEADLINE and the
 * whole request within REQUEST_DEADLINE of the connection being ready for it (accepted, or the previous
 * reply sent), however slowly the bytes trickle in; a connection with no traffic at all for IDLE_TIMEOUT_S
 * (a client that stops reading a reply) is closed by libmicrohttpd itself. Bodies are at most 1 MiB, so 10 s
 * still allows a 1 Mbit/s uplink. Browsers open 6 connections per host and wrk in bench/api 32. */
#define CONN_LIMIT 1024u
#define CONN_PER_IP 64u
#define HEADER_DEADLINE (5 * USEC_PER_SEC)
#define REQUEST_DEADLINE (10 * USEC_PER_SEC)
#define IDLE_TIMEOUT_S 10u /* Caddy drops its idle connections to picd after 5 s (services/proxy/render.c) */
#define SWEEP_INTERVAL (500 * USEC_PER_MSEC)
#define LISTEN_BACKLOG 1024

typedef struct Conn Conn;

typedef struct Listener {
        struct HttpServer *server;
        struct MHD_Daemon *mhd;
        int epfd;
        bool is_unix;
        bool is_authz; /* auth.sock: GET /auth for Caddy's forward_auth, nothing else */
        bool is_proxy; /* the reverse proxy's socket: clients are who X-Forwarded-For says */
        Conn *conns; /* every open connection, for the request deadlines */
        uint64_t next_sweep, last_prepare;
} Listener;

/* One open connection (libmicrohttpd's socket context), from accept until libmicrohttpd closes it. */
struct Conn {
        Conn *prev, *next;
        struct MHD_Connection *conn;
        uint64_t ready_since; /* accepted, or the previous reply fully sent */
        bool cut;
};

struct HttpServer {
        Cell *cell;
        Listener tcp, unix_sock, authz_sock, proxy_sock;
        char *unix_path, *authz_path, *proxy_path;
        char *web_root; /* the built web UI, or NULL */
        int port;
};

/* One request across libmicrohttpd's calls: admitted (route, auth, limits) on its headers, then its body. */
typedef struct ReqCtx {
        HttpRequest req;
        HttpResponse resp;
        const Route *route;
        bool refused; /* resp holds the refusal, sent once the body is complete (absent or dropped) */
        bool drain;   /* the refusal may wait for the body, which is read and dropped */
        char scratch[1024];
        SecretBuf body;
        bool too_large;
} ReqCtx;

int http_status_from_errno(int r) {
        switch (-r) {
        case 0:
                return 200;
        case EINVAL:
        case ERANGE:
        case ENAMETOOLONG:
                return 400;
        case EACCES:
                return 401;
        case EPERM:
                return 403;
        case ENOENT:
                return 404;
        case EEXIST:
        case EBUSY:
        case EXFULL:
        case EADDRNOTAVAIL: /* the cell lacks a setting the request needs (e.g. wireguard.endpoint) */
                return 409;
        case E2BIG:
        case EMSGSIZE:
        case EFBIG:
                return 413;
        case EBADMSG:
                return 422;
        case ENOSPC: /* the disk, never "name taken": clients read 409 that way */
        case EDQUOT:
                return 507;
        case EAGAIN:
                return 429;
        case EHOSTDOWN:
        case ECONNREFUSED:
        case ENOTCONN:
                return 503;
        default:
                return 500;
        }
}

int http_reply(HttpResponse *resp, int status, json_t *json) {
        json_decref(resp->json);
        resp->status = status;
        resp->json = json;
        return 0;
}

int http_reply_raw(HttpResponse *resp, int status, const char *content_type, char *body_owned, size_t len) {
        free(resp->raw);
        resp->status = status;
        resp->raw = body_owned;
        resp->raw_len = len;
        resp->content_type = content_type;
        return 0;
}

int http_reply_fd(HttpResponse *resp, int status, const char *content_type, int fd, uint64_t size) {
        if (resp->has_fd)
                close(resp->fd);
        resp->status = status;
        resp->has_fd = true;
        resp->fd = fd;
        resp->fd_size = size;
        resp->content_type = content_type;
        return 0;
}

/* Closes a streamed body that was never handed to libmicrohttpd. */
static void resp_fd_drop(HttpResponse *resp) {
        if (resp->has_fd)
                close(resp->fd);
        resp->has_fd = false;
}

int http_reply_error(HttpResponse *resp, int status, const char *code, const char *field, const char *message) {
        json_t *e = json_pack("{s:s, s:s}", "code", code, "message", message);
        if (field && *field)
                json_object_set_new(e, "field", json_string(field));
        else
                json_object_set_new(e, "field", json_null());
        snprintf(resp->audit_detail, sizeof resp->audit_detail, "%s", message);
        return http_reply(resp, status, json_pack("{s:o}", "error", e));
}

int http_reply_errno(HttpResponse *resp, int r, const PicError *err) {
        int status = http_status_from_errno(r);
        const char *code = err && err->code[0] ? err->code : pic_error_code_from_errno(r);
        const char *msg = err && err->message[0] ? err->message : strerror(-r);
        return http_reply_error(resp, status, code, err ? err->field : NULL, msg);
}

const char *http_query(HttpRequest *req, const char *key) {
        return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, key);
}

const char *http_header(HttpRequest *req, const char *key) {
        return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, key);
}

const char *http_cookie(HttpRequest *req, const char *name) {
        return MHD_lookup_connection_value(req->conn, MHD_COOKIE_KIND, name);
}

static bool is_mutation(const char *method) {
        return !streq(method, "GET") && !streq(method, "HEAD");
}

/* The client address as pic believes it: the socket peer, or — only when that peer is the configured
 * trusted proxy — the right-most X-Forwarded-For entry (the one the proxy itself appended). */
static void resolve_remote(HttpRequest *req, bool is_unix) {
        if (is_unix) {
                snprintf(req->remote, sizeof req->remote, "unix");
                return;
        }
        const union MHD_ConnectionInfo *ci = MHD_get_connection_info(req->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
        char peer[INET6_ADDRSTRLEN] = "?";
        if (ci && ci->client_addr->sa_family == AF_INET)
                inet_ntop(AF_INET, &((const struct sockaddr_in *) ci->client_addr)->sin_addr, peer, sizeof peer);
        else if (ci && ci->client_addr->sa_family == AF_INET6)
                inet_ntop(AF_INET6, &((const struct sockaddr_in6 *) ci->client_addr)->sin6_addr, peer, sizeof peer);
        snprintf(req->remote, sizeof req->remote, "%s", peer);

        /* The proxy socket is reached only by the cell's own reverse proxy (a root-only socket under STATE/run):
         * trusted like api.trusted_proxy, never like the CLI's socket. */
        const char *proxy = settings_str(req->cell->settings, "api.trusted_proxy");
        if (req->via_proxy_socket)
                snprintf(req->remote, sizeof req->remote, "xff:");
        else if (!*proxy || !streq(proxy, peer))
                return;
        const char *proto = http_header(req, "X-Forwarded-Proto");
        req->via_https_proxy = proto && strcasecmp(proto, "https") == 0;
        const char *xff = http_header(req, "X-Forwarded-For");
        if (!xff)
                return;
        const char *last = strrchr(xff, ',');
        last = last ? last + 1 : xff;
        char ip[IP_STRLEN];
        if (ip_client_parse(last, ip) == 0) {
                snprintf(req->remote, sizeof req->remote, "%s", ip);
                return;
        }
        /* Not an address: never fall back to the proxy's own (often local) address, which would make the
         * client local and put every such client in one login rate-limit bucket. "xff:" + the entry's
         * printable characters is no address (so never local) and a key of its own. */
        size_t o = (size_t) snprintf(req->remote, sizeof req->remote, "xff:");
        for (const char *p = last; *p && o + 1 < sizeof req->remote; p++)
                if (*p > ' ' && *p < 0x7f && *p != '"' && *p != '\\')
                        req->remote[o++] = *p;
        req->remote[o] = '\0';
}

/* Local: loopback, the unix socket, or inside the cell's own networks (VPN subnet, service range). */
static bool remote_is_local(HttpRequest *req) {
        if (req->via_unix)
                return true;
        if (streq(req->remote, "::1"))
                return true;
        uint32_t ip;
        if (ipv4_parse(req->remote, &ip) < 0)
                return false;
        if ((ip >> 24) == 127)
                return true;
        Cidr4 vpn, range;
        if (settings_vpn_address(req->cell->settings, &vpn) == 0 && cidr4_contains(&vpn, ip))
                return true;
        if (settings_ip_range(req->cell->settings, &range) == 0 && cidr4_contains(&range, ip))
                return true;
        return false;
}

static void audit(HttpRequest *req, HttpResponse *resp) {
        int r = store_audit_insert(req->cell->store, wall_sec(), req->who.name[0] ? req->who.name : "-", req->remote,
                                   req->method, req->path, resp->status, resp->audit_detail);
        if (r < 0)
                log_error_errno(r, "cannot write audit record for %s %s", req->method, req->path);
}

/* A disk that filled up inside the store reaches here as a message without a file; the store is the file
 * every mutation writes, so it is named (a message with a path in it already names its file). */
static void name_full_file(HttpRequest *req, HttpResponse *resp) {
        json_t *e = json_object_get(resp->json, "error");
        const char *msg = json_string_value(json_object_get(e, "message"));
        const char *db = req->cell->store ? store_path(req->cell->store) : NULL;
        if (!msg || !db || strchr(msg, '/'))
                return;
        char text[1024];
        snprintf(text, sizeof text, "%s (writing %s)", msg, db);
        json_object_set_new(e, "message", json_string(text));
}

static void audit_mutation(ReqCtx *rc, HttpResponse *resp) {
        if (is_mutation(rc->req.method) && !(rc->route->flags & ROUTE_NO_AUDIT))
                audit(&rc->req, resp);
}

/* application/json in any case, optionally with parameters ("; charset=utf-8"). */
static bool content_type_is_json(const char *ct) {
        static const char json[] = "application/json";
        if (!ct)
                return false;
        ct += strspn(ct, " \t");
        if (strncasecmp(ct, json, sizeof json - 1) != 0)
                return false;
        ct += sizeof json - 1;
        ct += strspn(ct, " \t");
        return *ct == '\0' || *ct == ';';
}

static bool announces_body(HttpRequest *req) {
        const char *cl = http_header(req, MHD_HTTP_HEADER_CONTENT_LENGTH);
        return (cl && cl[strspn(cl, "0")] != '\0') || http_header(req, MHD_HTTP_HEADER_TRANSFER_ENCODING);
}

/* Everything decided on the headers alone, before a byte of the body is read: route, credentials, CSRF,
 * the local-only layer, the declared size and the media type. Returns false with resp filled when the
 * request is refused; one that announces a body is answered without reading it (nor sending 100 Continue). */
static bool admit(ReqCtx *rc, HttpResponse *resp, bool is_unix) {
        HttpRequest *req = &rc->req;
        size_t n_routes;
        const Route *routes = http_routes(&n_routes);
        char allow[128] = "";

        resolve_remote(req, is_unix);
        for (size_t i = 0; i < n_routes; i++) {
                size_t np = 0;
                /* scratch holds the path parameters handlers see through req->params. */
                if (!http_route_match(routes[i].pattern, req->path, req->params, &np, rc->scratch, sizeof rc->scratch))
                        continue;
                if (streq(routes[i].method, req->method) || (streq(req->method, "HEAD") && streq(routes[i].method, "GET"))) {
                        rc->route = &routes[i];
                        req->n_params = np;
                        break;
                }
                if (!strstr(allow, routes[i].method)) {
                        if (*allow)
                                strncat(allow, ", ", sizeof allow - strlen(allow) - 1);
                        strncat(allow, routes[i].method, sizeof allow - strlen(allow) - 1);
                }
        }
        const Route *route = rc->route;
        if (!route) {
                if (*allow) {
                        http_reply_error(resp, 405, "method_not_allowed", NULL, "method not allowed on this path");
                        json_object_set_new(resp->json, "allow", json_string(allow));
                } else
                        http_reply_error(resp, 404, "not_found", NULL, "no such API path");
                return false;
        }
        if (route->auth != AUTH_PUBLIC) {
                int r = http_auth_resolve(req, &req->who);
                if (r < 0 || req->who.kind == PRINCIPAL_NONE) {
                        http_reply_error(resp, 401, "unauthorized", NULL,
                                         r == -EKEYEXPIRED ? "credentials expired; log in again"
                                                           : "authentication required");
                        goto refused;
                }
                if (req->who.level < route->auth) {
                        http_reply_error(resp, 403, "forbidden", NULL, "this credential's scope does not allow this");
                        goto refused;
                }
                if (req->who.kind == PRINCIPAL_SESSION && is_mutation(req->method) && !http_auth_csrf_ok(req)) {
                        http_reply_error(resp, 403, "csrf", NULL, "missing or wrong X-CSRF-Token header");
                        goto refused;
                }
        }
        if ((route->flags & ROUTE_LOCAL_ONLY) && !remote_is_local(req)) {
                http_reply_error(resp, 403, "local_only", NULL, "this operation is allowed only from the cell's own networks");
                goto refused;
        }
        const char *cl = http_header(req, MHD_HTTP_HEADER_CONTENT_LENGTH);
        uint64_t declared = 0;
        /* From here a client with credentials is authorized: a refusal may wait until its body is read and
         * dropped (never stored), so a client that is still sending gets the answer rather than a reset
         * connection. Nobody's body on a public route (login) is read for a refusal. */
        rc->drain = route->auth != AUTH_PUBLIC;
        if (cl && parse_uint(cl, 0, UINT64_MAX, &declared) == 0 && declared > BODY_MAX) {
                http_reply_error(resp, 413, "too_large", NULL, "request body exceeds 1 MiB");
                goto refused;
        }
        if (announces_body(req) && !content_type_is_json(http_header(req, MHD_HTTP_HEADER_CONTENT_TYPE))) {
                http_reply_error(resp, 415, "unsupported_media_type", NULL,
                                 "request body must be JSON, sent with Content-Type: application/json");
                goto refused;
        }
        return true;
refused:
        audit_mutation(rc, resp);
        return false;
}

/* The body has arrived: parse it, run the handler, audit. */
static void dispatch(ReqCtx *rc, HttpResponse *resp) {
        HttpRequest *req = &rc->req;
        if (rc->too_large) {
                http_reply_error(resp, 413, "too_large", NULL, "request body exceeds 1 MiB");
                goto audit;
        }
        if (rc->body.len > 0) {
                json_error_t jerr;
                req->body = json_loadb(rc->body.data, rc->body.len, JSON_REJECT_DUPLICATES, &jerr);
                req->raw_body = rc->body.data;
                req->raw_body_len = rc->body.len;
                if (!req->body) {
                        char msg[256];
                        snprintf(msg, sizeof msg, "request body is not valid JSON: %s (line %d)", jerr.text, jerr.line);
                        http_reply_error(resp, 400, "invalid_json", NULL, msg);
                        goto audit;
                }
        }
        rc->route->handler(req, resp);
        if (resp->status == 0)
                http_reply_error(resp, 500, "internal", NULL, "handler produced no response");
        if (resp->status == 507)
                name_full_file(req, resp);
audit:
        audit_mutation(rc, resp);
}

static enum MHD_Result send_response(struct MHD_Connection *conn, HttpResponse *resp, const char *allow_hdr) {
        char *body = NULL;
        size_t len = 0;
        const char *ctype;
        struct MHD_Response *r;
        if (resp->has_fd) {
                /* libmicrohttpd reads (or sendfile()s) the fd as the socket drains, and closes it when done. */
                ctype = resp->content_type ? resp->content_type : "application/octet-stream";
                r = MHD_create_response_from_fd(resp->fd_size, resp->fd);
                if (!r)
                        return MHD_NO;
                resp->has_fd = false;
                goto headers;
        }
        if (resp->raw) {
                body = TAKE_PTR(resp->raw);
                len = resp->raw_len;
                ctype = resp->content_type ? resp->content_type : "application/octet-stream";
        } else {
                body = resp->json ? json_dumps(resp->json, JSON_COMPACT) : strdup("{}");
                if (!body)
                        return MHD_NO;
                len = strlen(body);
                ctype = "application/json";
        }
        /* Bodies can carry a private key or a new token: wiped when libmicrohttpd is done with them. */
        r = MHD_create_response_from_buffer_with_free_callback(len, body, secret_free);
        if (!r) {
                free(body);
                return MHD_NO;
        }
headers:
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
        MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
        MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
        if (resp->set_cookie[0])
                MHD_add_response_header(r, MHD_HTTP_HEADER_SET_COOKIE, resp->set_cookie);
        if (resp->pic_user[0])
                MHD_add_response_header(r, "X-Pic-User", resp->pic_user);
        if (resp->www_authenticate[0])
                MHD_add_response_header(r, MHD_HTTP_HEADER_WWW_AUTHENTICATE, resp->www_authenticate);
        if (allow_hdr)
                MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, allow_hdr);
        for (size_t i = 0; i < ELEMENTSOF(resp->headers) && resp->headers[i].name; i++)
                MHD_add_response_header(r, resp->headers[i].name, resp->headers[i].value);
        if (resp->retry_after > 0) {
                char ra[16];
                snprintf(ra, sizeof ra, "%d", resp->retry_after);
                MHD_add_response_header(r, MHD_HTTP_HEADER_RETRY_AFTER, ra);
        }
        enum MHD_Result ret = MHD_queue_response(conn, (unsigned) resp->status, r);
        MHD_destroy_response(r);
        return ret;
}

static enum MHD_Result reply(struct MHD_Connection *conn, HttpRequest *req, HttpResponse *resp) {
        const char *allow = NULL;
        if (resp->status == 405 && resp->json)
                allow = json_string_value(json_object_get(resp->json, "allow"));
        char allow_copy[128] = "";
        if (allow) {
                snprintf(allow_copy, sizeof allow_copy, "%s", allow);
                json_object_del(resp->json, "allow");
        }
        enum MHD_Result ret = send_response(conn, resp, allow ? allow_copy : NULL);
        json_decref(resp->json);
        free(resp->raw);
        resp_fd_drop(resp);
        *resp = (HttpResponse) { 0 };
        json_decref(req->body);
        req->body = NULL;
        return ret;
}

/* The request context of a web UI file request: no ReqCtx, nothing to free. */
static char static_request_marker;
#define STATIC_REQUEST ((void *) &static_request_marker)

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                                  const char *version, const char *upload_data, size_t *upload_data_size,
                                  void **con_cls) {
        Listener *l = cls;
        ReqCtx *rc = *con_cls;
        /* A web UI file: answered on the next call, like any reply, because one queued while the request is
         * still being read makes libmicrohttpd close the connection (a browser would reconnect per file). A
         * body sent with the GET is read and dropped. */
        if (*con_cls == STATIC_REQUEST) {
                if (*upload_data_size > 0) {
                        *upload_data_size = 0;
                        return MHD_YES;
                }
                return http_static_serve(conn, l->server->web_root, url);
        }
        if (!rc && !l->is_unix && http_static_claims(method, url)) {
                *con_cls = STATIC_REQUEST;
                return MHD_YES;
        }
        if (!rc) {
                /* Headers complete, body not read yet. */
                rc = calloc(1, sizeof *rc);
                if (!rc)
                        return MHD_NO;
                *con_cls = rc;
                /* url and method live in the connection's pool until the request completes. */
                rc->req = (HttpRequest) { .cell = l->server->cell, .conn = conn, .method = method, .path = url,
                                          .via_unix = l->is_unix, .via_proxy_socket = l->is_proxy };
                if (l->is_authz) {
                        /* Nothing of the API is here: one path, answered on the headers, never audited (it is
                         * asked on every proxied request) and granting nothing beyond its answer. */
                        snprintf(rc->req.remote, sizeof rc->req.remote, "unix");
                        if (!streq(url, "/auth"))
                                http_reply_error(&rc->resp, 404, "not_found", NULL, "no such path");
                        else if (!streq(method, "GET") && !streq(method, "HEAD"))
                                http_reply_error(&rc->resp, 405, "method_not_allowed", NULL, "only GET /auth");
                        else
                                http_forward_auth(&rc->req, &rc->resp);
                        rc->refused = true;
                        return MHD_YES;
                }
                if (l->is_unix)
                        http_auth_unix_peer(&rc->req);
                if (!admit(rc, &rc->resp, l->is_unix)) {
                        /* Answering now makes libmicrohttpd skip the body and close the connection: so it is for
                         * anyone not authorized, and for a client that waits for "100 Continue" (nothing is in
                         * flight). Its close resets a connection with body bytes still arriving, so an
                         * authorized client that already sends gets its answer after the body (dropped, never
                         * stored). Without a body the answer waits for the next call like any reply, which
                         * keeps the connection open. */
                        const char *expect = http_header(&rc->req, MHD_HTTP_HEADER_EXPECT);
                        if (announces_body(&rc->req) &&
                            (!rc->drain || (expect && strcasecmp(expect, "100-continue") == 0)))
                                return reply(conn, &rc->req, &rc->resp);
                        rc->refused = true;
                }
                return MHD_YES;
        }
        if (*upload_data_size > 0) {
                if (l->is_authz) { /* a body on auth.sock means nothing: dropped */
                        *upload_data_size = 0;
                        return MHD_YES;
                }
                /* Memory follows the bytes that arrived, not the declared length (which costs nothing to
                 * send). A chunked body has no declared length: it is cut off here and answered 413 at its end. */
                if (!rc->too_large && !rc->refused) {
                        int r = secret_buf_append(&rc->body, upload_data, *upload_data_size, BODY_MAX);
                        if (r == -ENOMEM)
                                return MHD_NO;
                        if (r < 0) {
                                rc->too_large = true;
                                secret_buf_done(&rc->body);
                        }
                }
                *upload_data_size = 0;
                return MHD_YES;
        }
        if (!rc->refused)
                dispatch(rc, &rc->resp);
        return reply(conn, &rc->req, &rc->resp);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls, enum MHD_RequestTerminationCode toe) {
        const union MHD_ConnectionInfo *sc = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
        if (sc && sc->socket_context) /* keep-alive: the next request gets its own deadlines */
                ((Conn *) sc->socket_context)->ready_since = now_usec();
        ReqCtx *rc = *con_cls;
        if (!rc || *con_cls == STATIC_REQUEST) {
                *con_cls = NULL;
                return;
        }
        secret_buf_done(&rc->body); /* a login or password change carried a password */
        json_decref(rc->resp.json); /* a refusal never sent: the connection closed first */
        free(rc->resp.raw);
        resp_fd_drop(&rc->resp);
        json_decref(rc->req.body);
        free(rc);
        *con_cls = NULL;
}

static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                          enum MHD_ConnectionNotificationCode toe) {
        Listener *l = cls;
        Conn *c = *socket_context;
        if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
                c = calloc(1, sizeof *c);
                if (!c) /* untracked: only libmicrohttpd's idle timeout applies to it */
                        return;
                c->conn = conn;
                c->ready_since = now_usec();
                c->next = l->conns;
                if (l->conns)
                        l->conns->prev = c;
                l->conns = c;
                *socket_context = c;
                return;
        }
        if (!c)
                return;
        if (c->prev)
                c->prev->next = c->next;
        else
                l->conns = c->next;
        if (c->next)
                c->next->prev = c->prev;
        free(c);
        *socket_context = NULL;
}

/* Cuts connections whose request is overdue. libmicrohttpd has no call to drop a connection, so the socket is
 * shut down: its next read sees the end and it closes the connection the ordinary way. A connection whose
 * reply is queued is left alone (a slow reader is the idle timeout's business). */
static void sweep_deadlines(Listener *l, uint64_t now) {
        for (Conn *c = l->conns; c; c = c->next) {
                if (c->cut || MHD_get_connection_info(c->conn, MHD_CONNECTION_INFO_HTTP_STATUS))
                        continue;
                bool have_headers = MHD_get_connection_info(c->conn, MHD_CONNECTION_INFO_REQUEST_HEADER_SIZE) != NULL;
                if (now - c->ready_since < (have_headers ? REQUEST_DEADLINE : HEADER_DEADLINE))
                        continue;
                const union MHD_ConnectionInfo *fd = MHD_get_connection_info(c->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
                if (fd && shutdown(fd->connect_fd, SHUT_RDWR) == 0)
                        c->cut = true;
        }
}

static void on_epoll(Loop *loop, int fd, uint32_t events, void *userdata) {
        Listener *l = userdata;
        MHD_run(l->mhd);
}

/* libmicrohttpd keeps connections with buffered work on an internal ready list and reports timeout 0 for
 * them (and for expired connection timeouts) without making its epoll fd readable again, so run it here
 * until it has nothing immediate left, bounded so one busy client cannot starve the loop. */
static int on_prepare(Loop *loop, void *userdata) {
        Listener *l = userdata;
        uint64_t now = now_usec();
        if (l->conns && now >= l->next_sweep) {
                /* After a long pause of the loop (a slow handler), bytes that arrived meanwhile are still unread:
                 * the deadlines wait for one more round, so picd's own slowness never cuts a client. */
                if (now - l->last_prepare <= 2 * SWEEP_INTERVAL)
                        sweep_deadlines(l, now);
                l->next_sweep = now + SWEEP_INTERVAL;
        }
        l->last_prepare = now;
        MHD_UNSIGNED_LONG_LONG t = 0;
        int ms = -1;
        for (int i = 0; i < 8; i++) {
                if (MHD_get_timeout(l->mhd, &t) != MHD_YES) {
                        ms = -1;
                        break;
                }
                ms = t > 60000 ? 60000 : (int) t;
                if (t > 0)
                        break;
                MHD_run(l->mhd);
        }
        /* While connections are open, wake up for the next sweep even if libmicrohttpd has nothing to time. */
        if (l->conns) {
                now = now_usec();
                int sweep_ms = l->next_sweep > now ? (int) ((l->next_sweep - now + 999) / 1000) : 0;
                if (ms < 0 || sweep_ms < ms)
                        ms = sweep_ms;
        }
        return ms;
}

static void mhd_log(void *cls, const char *fmt, va_list ap) {
        char msg[512];
        vsnprintf(msg, sizeof msg, fmt, ap);
        msg[strcspn(msg, "\n")] = '\0';
        log_debug("http: %s", msg);
}

static int listener_start(HttpServer *s, Listener *l, int fd, bool is_unix, bool is_authz) {
        l->server = s;
        l->is_unix = is_unix;
        l->is_authz = is_authz;
        l->mhd = MHD_start_daemon(MHD_USE_EPOLL | MHD_USE_TURBO, 0, NULL, NULL, on_request, l,
                                  MHD_OPTION_LISTEN_SOCKET, fd, MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL,
                                  MHD_OPTION_NOTIFY_CONNECTION, on_connection, l,
                                  MHD_OPTION_CONNECTION_LIMIT, CONN_LIMIT, MHD_OPTION_PER_IP_CONNECTION_LIMIT,
                                  CONN_PER_IP, MHD_OPTION_CONNECTION_TIMEOUT, IDLE_TIMEOUT_S,
                                  MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t) CONN_POOL_BYTES,
                                  MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL, MHD_OPTION_END);
        if (!l->mhd) {
                close(fd);
                return -EIO;
        }
        const union MHD_DaemonInfo *info = MHD_get_daemon_info(l->mhd, MHD_DAEMON_INFO_EPOLL_FD);
        if (!info)
                return -EIO;
        l->epfd = info->epoll_fd;
        int r = loop_add_io(s->cell->loop, l->epfd, EPOLLIN, on_epoll, l);
        if (r < 0)
                return r;
        return loop_add_prepare(s->cell->loop, on_prepare, l);
}

static int open_tcp(const char *listen_spec, int *ret_fd, int *ret_port) {
        char host[64];
        snprintf(host, sizeof host, "%s", listen_spec);
        char *colon = strrchr(host, ':');
        if (!colon)
                return -EINVAL;
        *colon = '\0';
        uint64_t port;
        uint32_t ip;
        if (parse_uint(colon + 1, 0, 65535, &port) < 0 || ipv4_parse(host, &ip) < 0)
                return -EINVAL;
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
                return negative_errno();
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t) port), .sin_addr.s_addr = htonl(ip) };
        if (bind(fd, (struct sockaddr *) &sa, sizeof sa) < 0 || listen(fd, LISTEN_BACKLOG) < 0) {
                int r = negative_errno();
                close(fd);
                return r;
        }
        socklen_t sl = sizeof sa;
        getsockname(fd, (struct sockaddr *) &sa, &sl);
        *ret_fd = fd;
        *ret_port = ntohs(sa.sin_port);
        return 0;
}

/* for_proxy: Caddy connects to it (auth.sock, the API's proxy socket): 0660 root:CELL_PROXY_USER, else 0600. */
static int open_unix(const char *path, bool for_proxy, int *ret_fd) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        if (strlen(path) >= sizeof sa.sun_path)
                return -ENAMETOOLONG;
        memcpy(sa.sun_path, path, strlen(path) + 1);
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
                return negative_errno();
        unlink(path);
        /* Bind under umask 077 so the socket is never briefly reachable by others. */
        mode_t old = umask(0077);
        int r = bind(fd, (struct sockaddr *) &sa, sizeof sa);
        umask(old);
        gid_t gid = 0;
        if (r >= 0 && for_proxy && cell_proxy_gid(&gid) >= 0 && (chown(path, 0, gid) < 0 || chmod(path, 0660) < 0))
                r = -1;
        if (r < 0 || (gid == 0 && chmod(path, 0600) < 0) || listen(fd, 32) < 0) {
                r = negative_errno();
                close(fd);
                return r;
        }
        *ret_fd = fd;
        return 0;
}

/* Every connection is an fd: the soft limit (often 1024) must hold all the slots of both listeners plus what
 * the rest of picd opens, or accept() fails with EMFILE and libmicrohttpd stops accepting altogether. */
static void raise_fd_limit(void) {
        const rlim_t want = 2 * CONN_LIMIT + 1024;
        struct rlimit rl;
        if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur >= want)
                return;
        rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > want ? want : rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur < want)
                log_warn("open-file limit is %llu: fewer than %u API connections fit",
                            (unsigned long long) rl.rlim_cur, CONN_LIMIT);
}

int http_server_new(Cell *cell, const char *listen_spec, const char *unix_path, const char *authz_path,
                    HttpServer **ret) {
        int r = http_routes_check();
        if (r < 0)
                return r;
        raise_fd_limit();
        HttpServer *s = calloc(1, sizeof *s);
        if (!s)
                return -ENOMEM;
        s->cell = cell;
        int fd;
        r = open_tcp(listen_spec, &fd, &s->port);
        if (r < 0) {
                log_error_errno(r, "cannot listen on %s", listen_spec);
                free(s);
                return r;
        }
        r = listener_start(s, &s->tcp, fd, false, false);
        if (r >= 0 && unix_path) {
                s->unix_path = strdup(unix_path);
                r = open_unix(unix_path, false, &fd);
                if (r < 0)
                        log_error_errno(r, "cannot create unix socket %s", unix_path);
                else
                        r = listener_start(s, &s->unix_sock, fd, true, false);
        }
        if (r >= 0 && authz_path) {
                s->authz_path = strdup(authz_path);
                r = s->authz_path ? open_unix(authz_path, true, &fd) : -ENOMEM;
                if (r < 0)
                        log_error_errno(r, "cannot create unix socket %s", authz_path);
                else
                        r = listener_start(s, &s->authz_sock, fd, true, true);
        }
        if (r < 0) {
                http_server_free(s);
                return r;
        }
        *ret = s;
        return 0;
}

HttpServer *http_server_free(HttpServer *s) {
        if (!s)
                return NULL;
        Listener *ls[] = { &s->tcp, &s->unix_sock, &s->authz_sock, &s->proxy_sock };
        for (size_t i = 0; i < ELEMENTSOF(ls); i++)
                if (ls[i]->mhd) {
                        loop_del_io(s->cell->loop, ls[i]->epfd);
                        loop_del_prepare(s->cell->loop, on_prepare, ls[i]);
                        MHD_stop_daemon(ls[i]->mhd);
                }
        char *paths[] = { s->unix_path, s->authz_path, s->proxy_path };
        for (size_t i = 0; i < ELEMENTSOF(paths); i++)
                if (paths[i]) {
                        unlink(paths[i]);
                        free(paths[i]);
                }
        free(s->web_root);
        free(s);
        return NULL;
}

int http_server_add_proxy_socket(HttpServer *s, const char *path) {
        int fd;
        int r = open_unix(path, true, &fd);
        if (r < 0)
                return log_error_errno(r, "cannot create the proxy socket %s", path);
        s->proxy_path = strdup(path);
        s->proxy_sock.is_proxy = true;
        return listener_start(s, &s->proxy_sock, fd, false, false);
}

int http_server_port(HttpServer *s) {
        return s->port;
}

int http_server_set_web_root(HttpServer *s, const char *dir) {
        char *d = NULL;
        if (dir && !(d = strdup(dir)))
                return -ENOMEM;
        free(s->web_root);
        s->web_root = d;
        return 0;
}
