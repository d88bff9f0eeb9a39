/* Caddy's JSON from a ProxyConfig. The forward_auth form is what `caddy adapt` makes of the Caddyfile
 * directive in 2.6.2 (a reverse_proxy to the auth socket with a handle_response route for 2xx that copies
 * X-Pic-User), except that the client's X-Pic-User is deleted before it, not after. */
#include "services/proxy/render.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>

#include "basic/netaddr.h"
#include "basic/util.h"

static json_t *strs1(const char *s) {
        return json_pack("[s]", s);
}

static json_t *dial_unix(const char *path) {
        char buf[4200];
        snprintf(buf, sizeof buf, "unix/%s", path);
        return json_pack("[{s:s}]", "dial", buf);
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
        json_t *copy_user = json_pack("[{s:{s:[i]}, s:[{s:[{s:s, s:{s:{s:o}}}]}]}]", "match", "status_code", 2, "routes",
                                      "handle", "handler", "headers", "request", "set", "X-Pic-User",
                                      strs1("{http.reverse_proxy.header.X-Pic-User}"));
        json_t *h = forwarded_headers();
        json_t *set = json_object_get(json_object_get(h, "request"), "set");
        json_object_set_new(set, "X-Forwarded-Method", strs1("{http.request.method}"));
        json_object_set_new(set, "X-Forwarded-Uri", strs1("{http.request.uri}"));
        json_object_set_new(set, "X-Forwarded-Host", strs1("{http.request.host}"));
        json_object_set_new(set, "X-Pic-Service", strs1(s->name));
        if (s->grant_only)
                json_object_set_new(set, "X-Pic-Auth", strs1("grant-only"));
        return json_pack("{s:s, s:o, s:o, s:o, s:{s:s, s:s}, s:o}", "handler", "reverse_proxy", "upstreams",
                         dial_unix(cfg->auth_socket), "transport", transport(), "headers", h, "rewrite", "method", "GET",
                         "uri", "/auth?", "handle_response", copy_user);
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

static json_t *https_server(const ProxyConfig *cfg, const ProxySite *s, const char *ip) {
        char listen[64];
        snprintf(listen, sizeof listen, "%s:%u", ip, cfg->https_port);
        json_t *handle = json_array();
        json_array_append_new(handle, json_pack("{s:s, s:{s:{s:o}}}", "handler", "headers", "response", "set",
                                                "Strict-Transport-Security", strs1("max-age=31536000")));
        json_array_append_new(handle, json_pack("{s:s, s:I}", "handler", "request_body", "max_size",
                                                (json_int_t) (s->forward_auth ? PROXY_APP_BODY_MAX : PROXY_API_BODY_MAX)));
        /* Only forward_auth may say who the user is, and only the site which question picd answers. */
        json_array_append_new(handle, json_pack("{s:s, s:{s:[s, s, s]}}", "handler", "headers", "request", "delete",
                                                "X-Pic-User", "X-Pic-Service", "X-Pic-Auth"));
        if (s->forward_auth)
                json_array_append_new(handle, forward_auth(cfg, s));
        if (s->fastcgi_root)
                json_array_append_new(handle, fastcgi_app(s));
        else
                json_array_append_new(handle, json_pack("{s:s, s:o, s:o, s:o}", "handler", "reverse_proxy", "upstreams",
                                                        dial_unix(s->upstream), "transport", transport(), "headers",
                                                        forwarded_headers()));
        /* HTTP/1.1 and HTTP/2 only: HTTP/3 would need UDP on the port too, which the firewall does not open. */
        return json_pack("{s:o, s:[s, s], s:s, s:s, s:s, s:s, s:i, s:{s:b}, s:[{s:{s:o}}], s:[{s:o, s:b}]}", "listen",
                         strs1(listen), "protocols", "h1", "h2", "read_header_timeout", "10s", "read_timeout", "5m", "write_timeout", "5m", "idle_timeout",
                         "2m", "max_header_bytes", 65536, "automatic_https", "disable", 1, "tls_connection_policies",
                         "certificate_selection", "any_tag", strs1(s->name), "routes", "handle", handle, "terminal", 1);
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
