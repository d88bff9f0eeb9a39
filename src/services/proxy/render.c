/* Caddy's JSON from a ProxyConfig. The forward_auth form is what `caddy adapt` makes of the Caddyfile
 * directive in 2.6.2 (a reverse_proxy to the auth socket with a handle_response route for 2xx that copies
 * X-Pic-User, here also as X-Remote-User), except that the client's copies are deleted before it, not after. In
 * front of it, for the sources picd lets in, an in-process check of the app passwords picd accepted lately (see
 * fast_route): a second proxied request per request is what forward_auth costs, and that path skips it. */
#include "services/proxy/render.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>

#include "basic/netaddr.h"
#include "basic/util.h"
#include "core/accounts.h"

static json_t *strs1(const char *s) {
        return json_pack("[s]", s);
}

static json_t *dial_unix(const char *path) {
        char buf[4200];
        snprintf(buf, sizeof buf, "unix/%s", path);
        return json_pack("[{s:s}]", "dial", buf);
}

static json_t *dial_site(const ProxySite *s) {
        if (!s->upstream_port)
                return dial_unix(s->upstream);
        char buf[32];
        snprintf(buf, sizeof buf, "127.0.0.1:%u", s->upstream_port);
        return json_pack("[{s:s}]", "dial", buf);
}

/* Headers only picd's answer may set (X-Remote-User is the user Radicale trusts; X-Script-Name would move its
 * base path). A WSGI server folds '-' and '_' together (X_Remote_User arrives as HTTP_X_REMOTE_USER too), so
 * every spelling of each goes; Caddy matches names without regard to case. */
static json_t *identity_headers(void) {
        static const char *const names[] = { "X-Pic-User", "X-Pic-Service", "X-Pic-Auth", "X-Remote-User",
                                             "X-Script-Name" };
        json_t *a = json_array();
        for (size_t i = 0; i < ELEMENTSOF(names); i++)
                /* Each name has two dashes: four spellings. */
                for (unsigned mask = 0; mask < 4; mask++) {
                        char v[32];
                        snprintf(v, sizeof v, "%s", names[i]);
                        unsigned k = 0;
                        for (char *p = v; *p; p++)
                                if (*p == '-' && ((mask >> k++) & 1))
                                        *p = '_';
                        json_array_append_new(a, json_string(v));
                }
        return a;
}

/* Caddy's idle connections to an upstream end before the upstream's own idle timeout (picd's sockets close
 * theirs after 10 s), so Caddy never sends a request on a connection the upstream is closing at that moment. */
static json_t *transport(void) {
        return json_pack("{s:s, s:{s:s}}", "protocol", "http", "keep_alive", "idle_timeout", "5s");
}

/* The client's address and scheme as Caddy saw them, replacing whatever the client sent. */
static json_t *forwarded_headers(void) {
        return json_pack("{s:{s:{s:o, s:o}}}", "request", "set", "X-Forwarded-For", strs1("{http.request.remote.host}"),
                         "X-Forwarded-Proto", strs1("https"));
}

/* GET /auth: "/auth?" with its empty query, because a rewrite without one keeps the client's query string. */
static json_t *forward_auth(const ProxyConfig *cfg, const ProxySite *s) {
        json_t *copy_user = json_pack("[{s:{s:[i]}, s:[{s:[{s:s, s:{s:{s:o, s:o}}}]}]}]", "match", "status_code", 2,
                                      "routes", "handle", "handler", "headers", "request", "set", "X-Pic-User",
                                      strs1("{http.reverse_proxy.header.X-Pic-User}"), "X-Remote-User",
                                      strs1("{http.reverse_proxy.header.X-Pic-User}"));
        json_t *h = forwarded_headers();
        json_t *set = json_object_get(json_object_get(h, "request"), "set");
        json_object_set_new(set, "X-Forwarded-Method", strs1("{http.request.method}"));
        json_object_set_new(set, "X-Forwarded-Uri", strs1("{http.request.uri}"));
        json_object_set_new(set, "X-Forwarded-Host", strs1("{http.request.host}"));
        json_object_set_new(set, "X-Pic-Service", strs1(s->name));
        /* The body is not sent to picd, but its announced length is (a write past a quota is refused first). */
        json_object_set_new(set, "X-Pic-Length", strs1("{http.request.header.Content-Length}"));
        if (s->grant_only)
                json_object_set_new(set, "X-Pic-Auth", strs1("grant-only"));
        return json_pack("{s:s, s:o, s:o, s:o, s:{s:s, s:s}, s:o}", "handler", "reverse_proxy", "upstreams",
                         dial_unix(cfg->auth_socket), "transport", transport(), "headers", h, "rewrite", "method", "GET",
                         "uri", "/auth?", "handle_response", copy_user);
}

/* HSTS, the body limit, and the client's own identity headers gone (every spelling, identity_headers): only
 * picd's decision (forward_auth or the in-process check it rendered) may say who the user is. */
static json_t *site_head(const ProxySite *s) {
        json_t *handle = json_array();
        json_array_append_new(handle, json_pack("{s:s, s:{s:{s:o}}}", "handler", "headers", "response", "set",
                                                "Strict-Transport-Security", strs1("max-age=31536000")));
        if (!s->streams)
                json_array_append_new(handle, json_pack("{s:s, s:I}", "handler", "request_body", "max_size",
                                                        (json_int_t) (s->forward_auth ? PROXY_APP_BODY_MAX : PROXY_API_BODY_MAX)));
        json_array_append_new(handle, json_pack("{s:s, s:{s:o}}", "handler", "headers", "request", "delete",
                                                identity_headers()));
        return handle;
}

/* WebDAV's request fixes, after picd's decision and before the backend. */
static void dav_fixups(json_t *handle) {
        /* The backend speaks plain HTTP on a unix socket, so an https:// Destination (MOVE, COPY) would not match
         * its own scheme; it gets the path alone, which it maps below the same user's tree. picd has seen (and
         * checked) the client's header in forward_auth. */
        json_array_append_new(handle, json_pack("{s:s, s:{s:{s:[{s:s, s:s}]}}}", "handler", "headers", "request",
                                                "replace", "Destination", "search_regexp",
                                                "^[A-Za-z][A-Za-z0-9+.-]*://[^/]*", "replace", ""));
        /* lighttpd's mod_webdav reads an XML body only under an XML Content-Type (415 otherwise), and clients
         * such as litmus and some file managers send none: XML is the only body these take. */
        json_array_append_new(handle, json_pack("{s:s, s:[{s:[{s:{s:n}, s:[s, s, s]}], s:[{s:s, s:{s:{s:[s]}}}]}]}",
                                                "handler", "subroute", "routes", "match", "header", "Content-Type",
                                                "method", "PROPFIND", "PROPPATCH", "LOCK", "handle", "handler", "headers",
                                                "request", "set", "Content-Type", "application/xml"));
}

/* A PHP application (webmail) behind php-fpm, as Caddy's php_fastcgi would route it but narrower: "/" is
 * /index.php, the one script that runs; any other *.php, include or dot file is 404 rather than executed or
 * shown; everything else is a static file of the root (skins, scripts). */
static json_t *fastcgi_app(const ProxySite *s) {
        json_t *routes = json_array();
        json_array_append_new(routes, json_pack("{s:[{s:[s]}], s:[{s:s, s:s}]}", "match", "path", "/", "handle", "handler",
                                                "rewrite", "uri", "/index.php"));
        json_t *fcgi = json_pack("{s:s, s:s, s:[s], s:s}", "protocol", "fastcgi", "root", s->fastcgi_root, "split_path",
                                 ".php", "dial_timeout", "3s");
        json_array_append_new(routes, json_pack("{s:[{s:[s]}], s:[{s:s, s:o, s:o, s:o}], s:b}", "match", "path",
                                                "/index.php", "handle", "handler", "reverse_proxy", "upstreams",
                                                dial_unix(s->upstream), "transport", fcgi, "headers",
                                                forwarded_headers(), "terminal", 1));
        json_array_append_new(routes, json_pack("{s:[{s:[s, s, s, s, s]}], s:[{s:s, s:i}], s:b}", "match", "path",
                                                "*.php", "*.inc", "*.dist", "*.sh", "*/.*", "handle", "handler",
                                                "static_response", "status_code", 404, "terminal", 1));
        json_array_append_new(routes, json_pack("{s:[{s:s, s:s}]}", "handle", "handler", "file_server", "root",
                                                s->fastcgi_root));
        return json_pack("{s:s, s:o}", "handler", "subroute", "routes", routes);
}

/* The backend, after the site's own request fixes: one array of handlers. */
static json_t *backend(const ProxySite *s) {
        json_t *h = json_array();
        if (s->fastcgi_root) {
                json_array_append_new(h, fastcgi_app(s));
                return h;
        }
        if (s->streams)
                dav_fixups(h);
        json_array_append_new(h, json_pack("{s:s, s:o, s:o, s:o}", "handler", "reverse_proxy", "upstreams", dial_site(s),
                                           "transport", transport(), "headers", forwarded_headers()));
        return h;
}

/* The handlers of h appended to handle (h is consumed). */
static void extend_new(json_t *handle, json_t *h) {
        json_array_extend(handle, h);
        json_decref(h);
}

/* An http_basic level that failed before this one left its WWW-Authenticate on the response. */
static json_t *drop_challenge(void) {
        return json_pack("{s:s, s:{s:[s]}}", "handler", "headers", "response", "delete", "WWW-Authenticate");
}

/* How often user already appeared in creds[0..i): the level at which creds[i] is tried. */
static size_t cred_rank(const ProxyConfig *cfg, size_t i) {
        size_t rank = 0;
        for (size_t j = 0; j < i; j++)
                rank += streq(cfg->creds[j].user, cfg->creds[i].user);
        return rank;
}

/* Level `level` of the ladder: http_basic with each user's level-th app password (http_basic keys accounts
 * by user name, one hash each). Success: the user name from http_basic, then the backend. A 401 (the
 * password is not at this level) goes on to on_401; any other error (the backend's 502) goes up unchanged,
 * so the backend is never asked twice. */
static json_t *auth_level(const ProxyConfig *cfg, const ProxySite *s, size_t level, json_t *on_401) {
        json_t *accounts = json_array();
        for (size_t i = 0; i < cfg->n_creds; i++)
                if (cred_rank(cfg, i) == level)
                        json_array_append_new(accounts, json_pack("{s:s, s:s, s:s}", "username", cfg->creds[i].user,
                                                                  "password", cfg->creds[i].hash, "salt",
                                                                  cfg->creds[i].salt));
        json_t *basic = json_pack("{s:s, s:{s:{s:{s:s, s:i, s:i, s:i, s:i}, s:o, s:s}}}", "handler", "authentication",
                                  "providers", "http_basic", "hash", "algorithm", "scrypt", "N", PROXY_FAST_SCRYPT_N, "r",
                                  PROXY_FAST_SCRYPT_R, "p", PROXY_FAST_SCRYPT_P, "key_length", PROXY_FAST_HASH_BYTES, "accounts",
                                  accounts, "realm", s->name);
        json_t *user = json_pack("{s:s, s:{s:{s:o, s:o}}, s:{s:[s]}}", "handler", "headers", "request", "set",
                                 "X-Pic-User", strs1("{http.auth.user.id}"), "X-Remote-User", strs1("{http.auth.user.id}"),
                                 "response", "delete", "WWW-Authenticate");
        json_t *handle = json_pack("[o, o]", basic, user);
        extend_new(handle, backend(s));
        return json_pack("{s:s, s:[{s:o}], s:{s:[{s:[{s:{s:[s]}}], s:o}, {s:[{s:s, s:s}]}]}}", "handler",
                         "subroute", "routes", "handle", handle, "errors", "routes", "match", "vars",
                         "{http.error.status_code}", "401", "handle", on_401, "handle", "handler", "error",
                         "status_code", "{http.error.status_code}");
}

/* For the site's sources and a Basic credential: the ladder of levels, and after the last one forward_auth,
 * which decides everything Caddy could not (a password picd has not seen lately, a wrong one, which it counts
 * for the rate limit). NULL when there is nothing to check in-process. */
static json_t *fast_route(const ProxyConfig *cfg, const ProxySite *s) {
        if (!s->forward_auth || s->grant_only || s->n_sources == 0 || cfg->n_creds == 0)
                return NULL;
        size_t levels = 0;
        for (size_t i = 0; i < cfg->n_creds; i++) {
                size_t r = cred_rank(cfg, i);
                levels = r + 1 > levels ? r + 1 : levels;
        }
        json_t *next = json_pack("[o, o]", drop_challenge(), forward_auth(cfg, s));
        extend_new(next, backend(s));
        for (size_t l = levels; l-- > 0;)
                next = json_pack("[o]", auth_level(cfg, s, l, next));
        json_t *ranges = json_array();
        for (size_t i = 0; i < s->n_sources; i++)
                json_array_append_new(ranges, json_string(s->sources[i]));
        json_t *handle = site_head(s);
        json_array_extend(handle, next);
        json_decref(next);
        json_t *match = json_pack("{s:{s:o}, s:{s:[s]}}", "remote_ip", "ranges", ranges, "header", "Authorization",
                                  "Basic *");
        json_t *not = json_array();
        if (cfg->n_held) {
                json_t *held = json_array();
                for (size_t i = 0; i < cfg->n_held; i++)
                        json_array_append_new(held, json_string(cfg->held[i]));
                json_array_append_new(not, json_pack("{s:{s:o}}", "remote_ip", "ranges", held));
        }
        if (s->fast_methods) {
                json_t *methods = json_array();
                for (const char *const *m = s->fast_methods; *m; m++)
                        json_array_append_new(methods, json_string(*m));
                json_object_set_new(match, "method", methods);
        }
        /* Caddy's path matcher compares the decoded, cleaned path (slashes merged, dot segments resolved) without
         * regard to case: "/%73hared/x", "//shared/x", "/a/../shared/x" and "/SHARED/x" are all under it, so every
         * spelling lighttpd could map below the folder is left to picd. */
        if (s->fast_not_below) {
                char below[256];
                snprintf(below, sizeof below, "%s/*", s->fast_not_below);
                json_array_append_new(not, json_pack("{s:[s, s]}", "path", s->fast_not_below, below));
        }
        if (json_array_size(not))
                json_object_set_new(match, "not", not);
        else
                json_decref(not);
        return json_pack("{s:[o], s:o, s:b}", "match", match, "handle", handle, "terminal", 1);
}

static json_t *https_server(const ProxyConfig *cfg, const ProxySite *s, const char *ip) {
        char listen[64];
        snprintf(listen, sizeof listen, "%s:%u", ip, cfg->https_port);
        json_t *handle = site_head(s);
        if (s->forward_auth)
                json_array_append_new(handle, forward_auth(cfg, s));
        extend_new(handle, backend(s));
        json_t *routes = json_array(), *fast = fast_route(cfg, s);
        if (fast)
                json_array_append_new(routes, fast);
        json_array_append_new(routes, json_pack("{s:o, s:b}", "handle", handle, "terminal", 1));
        /* HTTP/1.1 and HTTP/2 only: HTTP/3 would need UDP on the port too, which the firewall does not open. */
        json_t *srv = json_pack("{s:o, s:[s, s], s:s, s:s, s:i, s:{s:b}, s:[{s:{s:o}}], s:o}", "listen",
                                strs1(listen), "protocols", "h1", "h2", "read_header_timeout", "10s", "idle_timeout",
                                "2m", "max_header_bytes", 65536, "automatic_https", "disable", 1, "tls_connection_policies",
                                "certificate_selection", "any_tag", strs1(s->name), "routes", routes);
        /* A deadline on a whole request would cut a large upload or download short on a slow link. */
        if (srv && !s->streams) {
                json_object_set_new(srv, "read_timeout", json_string("5m"));
                json_object_set_new(srv, "write_timeout", json_string("5m"));
        }
        return srv;
}

static json_t *http_server(const ProxyConfig *cfg, const ProxySite *s, const char *ip) {
        char listen[64];
        snprintf(listen, sizeof listen, "%s:%u", ip, cfg->http_port);
        json_t *routes = json_array();
        if (s->serves_root && cfg->root_pem)
                json_array_append_new(routes, json_pack("{s:[{s:o}], s:[{s:s, s:i, s:{s:o}, s:s}], s:b}", "match", "path",
                                                        strs1(cfg->root_path), "handle", "handler", "static_response",
                                                        "status_code", 200, "headers", "Content-Type",
                                                        strs1("application/x-pem-file"), "body", cfg->root_pem,
                                                        "terminal", 1));
        /* Everything else only ever over HTTPS. */
        char target[128];
        if (cfg->https_port == 443)
                snprintf(target, sizeof target, "https://{http.request.host}{http.request.uri}");
        else
                snprintf(target, sizeof target, "https://{http.request.host}:%u{http.request.uri}", cfg->https_port);
        json_array_append_new(routes, json_pack("{s:[{s:s, s:i, s:{s:o}}]}", "handle", "handler", "static_response",
                                                "status_code", 308, "headers", "Location", strs1(target)));
        return json_pack("{s:o, s:s, s:s, s:s, s:i, s:{s:b}, s:o}", "listen", strs1(listen), "read_header_timeout", "10s",
                         "read_timeout", "30s", "idle_timeout", "1m", "max_header_bytes", 65536, "automatic_https",
                         "disable", 1, "routes", routes);
}

size_t proxy_cidrs(const uint32_t *ips, size_t n, char (*out)[CIDR4_STRLEN]) {
        size_t k = 0;
        for (size_t i = 0; i < n;) {
                /* The largest aligned block starting here whose every address is in the list. */
                unsigned bits = 0;
                while (bits < 32) {
                        uint64_t size = 1ULL << (bits + 1);
                        if ((ips[i] & (uint32_t) (size - 1)) != 0 || i + size > n ||
                            (uint64_t) ips[i + size - 1] - ips[i] != size - 1)
                                break;
                        bits++;
                }
                Cidr4 c = { ips[i], (uint8_t) (32 - bits) };
                cidr4_format_network(&c, out[k++]);
                i += (size_t) 1 << bits;
        }
        return k;
}

int proxy_render(const ProxyConfig *cfg, char **ret) {
        json_t *servers = json_object(), *files = json_array();
        for (size_t i = 0; i < cfg->n_sites; i++) {
                const ProxySite *s = &cfg->sites[i];
                char ip[IPV4_STRLEN], name[96];
                ipv4_format(s->vip, ip);
                snprintf(name, sizeof name, "%s-https", s->name);
                json_object_set_new(servers, name, https_server(cfg, s, ip));
                snprintf(name, sizeof name, "%s-http", s->name);
                json_object_set_new(servers, name, http_server(cfg, s, ip));
                json_array_append_new(files, json_pack("{s:s, s:s, s:o}", "certificate", s->cert, "key", s->key, "tags",
                                                       strs1(s->name)));
        }
        char admin[4200];
        snprintf(admin, sizeof admin, "unix/%s", cfg->admin_socket);
        /* The admin block in every config: caddy 2.6.2 moves its endpoint to :2019 otherwise. */
        json_t *root = json_pack("{s:{s:s, s:{s:b}}, s:{s:{s:{s:s}}}, s:{s:{s:o, s:s, s:o}, s:{s:{s:o}}}}", "admin", "listen",
                                 admin, "config", "persist", 0, "logging", "logs", "default", "level", "ERROR", "apps",
                                 "http", "servers", servers, "grace_period", "10s", "http_port",
                                 json_integer(cfg->http_port), "tls", "certificates", "load_files", files);
        if (!root)
                return -ENOMEM;
        json_object_set_new(json_object_get(json_object_get(root, "apps"), "http"), "https_port",
                            json_integer(cfg->https_port));
        char *s = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        json_decref(root);
        if (!s)
                return -ENOMEM;
        *ret = s;
        return 0;
}
