/* Tests of Caddy's rendered JSON (src/services/proxy/render.c) against golden files: per site an HTTPS server
 * on its virtual IP with its certificate tag, HSTS, body limit, X-Pic-User stripped, forward_auth only in
 * front of application backends, and an HTTP server that serves the root on the API address and redirects
 * the rest; with a fast set, the in-process check of those app passwords for the granted sources, one level
 * per app password of a user, forward_auth after the last. The real caddy loads it in test_proxy.py. */
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "golden.h"
#include "basic/util.h"
#include "services/proxy/render.h"

static ProxyConfig config(void) {
        ProxyConfig c = {
                .admin_socket = "/var/lib/pic/run/caddy-admin.sock",
                .auth_socket = "/var/lib/pic/run/auth.sock",
                .root_pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
                .root_path = "/ca.pem",
                .http_port = 80,
                .https_port = 443,
        };
        c.sites[c.n_sites++] = (ProxySite) { .name = "api", .vip = 0xac140005, .cert = "/k/api-01.pem", .key = "/k/api-01.key",
                                             .upstream = "/var/lib/pic/run/api-proxy.sock", .serves_root = true };
        c.sites[c.n_sites++] = (ProxySite) { .name = "calendar", .vip = 0xac14000a, .cert = "/k/calendar-02.pem",
                                             .key = "/k/calendar-02.key", .upstream_port = 5232, .forward_auth = true };
        c.sites[c.n_sites++] = (ProxySite) { .name = "files", .vip = 0xac14000b, .cert = "/k/files-03.pem",
                                             .key = "/k/files-03.key", .upstream = "/var/lib/pic/run/files-http.sock",
                                             .forward_auth = true, .streams = true };
        c.sites[c.n_sites++] = (ProxySite) { .name = "mail", .vip = 0xac14000c, .cert = "/k/mail-04.pem",
                                             .key = "/k/mail-04.key", .upstream = "/var/lib/pic/run/webmail-fpm.sock",
                                             .fastcgi_root = "/var/lib/roundcube/public_html", .forward_auth = true,
                                             .grant_only = true };
        return c;
}

/* c rendered and parsed back. */
static json_t *rendered(const ProxyConfig *c) {
        char *text = NULL;
        assert_int_equal(proxy_render(c, &text), 0);
        json_t *j = json_loads(text, 0, NULL);
        free(text);
        assert_non_null(j);
        return j;
}

static void test_golden(void **state) {
        ProxyConfig c = config();
        char *text = NULL;
        assert_int_equal(proxy_render(&c, &text), 0);
        assert_int_equal(golden_check("proxy-caddy.json", text), 0);
        free(text);
}

static const char *const cal_sources[] = { "127.0.0.0/8", "172.20.0.0/24", "10.0.0.1/32", "10.0.0.2/31" };
static const ProxyCred creds[] = {
        { "alice", "aGFzaC1hbGljZS0xLWhhc2gtYWxpY2UtMS1oYXNoLWE=", "c2FsdC1hbGljZS0xLXNhbHQ=" },
        { "alice", "aGFzaC1hbGljZS0yLWhhc2gtYWxpY2UtMi1oYXNoLWE=", "c2FsdC1hbGljZS0yLXNhbHQ=" },
        { "bob", "aGFzaC1ib2ItMS1oYXNoLWJvYi0xLWhhc2gtYm9iLTE=", "c2FsdC1ib2ItMS1zYWx0LWI=" },
};

static ProxyConfig fast_config(void) {
        ProxyConfig c = config();
        c.sites[1].sources = cal_sources;
        c.sites[1].n_sources = ELEMENTSOF(cal_sources);
        c.creds = creds;
        c.n_creds = ELEMENTSOF(creds);
        return c;
}

static void test_golden_fast(void **state) {
        ProxyConfig c = fast_config();
        char *text = NULL;
        assert_int_equal(proxy_render(&c, &text), 0);
        assert_int_equal(golden_check("proxy-caddy-fast.json", text), 0);
        free(text);
}

/* The accounts of level l, as "user/hash-prefix" strings. */
static json_t *level_accounts(json_t *subroute) {
        json_t *basic = json_array_get(json_object_get(json_array_get(json_object_get(subroute, "routes"), 0), "handle"),
                                       0);
        return json_object_get(json_object_get(json_object_get(basic, "providers"), "http_basic"), "accounts");
}

static void test_fast_structure(void **state) {
        ProxyConfig c = fast_config();
        json_t *j = rendered(&c);
        json_t *servers = json_object_get(json_object_get(json_object_get(j, "apps"), "http"), "servers");
        /* The API has no fast route: it authenticates itself. */
        assert_int_equal(json_array_size(json_object_get(json_object_get(servers, "api-https"), "routes")), 1);
        json_t *routes = json_object_get(json_object_get(servers, "calendar-https"), "routes");
        assert_int_equal(json_array_size(routes), 2);
        json_t *fast = json_array_get(routes, 0);
        json_t *match = json_array_get(json_object_get(fast, "match"), 0);
        assert_int_equal(json_array_size(json_object_get(json_object_get(match, "remote_ip"), "ranges")), 4);
        assert_string_equal(json_string_value(json_array_get(json_object_get(json_object_get(match, "header"),
                                                                             "Authorization"), 0)),
                            "Basic *");
        json_t *handle = json_object_get(fast, "handle");
        /* HSTS, body limit, the client's X-Pic-User deleted: first, as on the plain route. */
        assert_int_equal(json_array_size(handle), 4);
        assert_string_equal(json_string_value(json_array_get(json_object_get(json_object_get(json_array_get(handle, 2),
                                                                                              "request"), "delete"), 0)),
                            "X-Pic-User");
        /* Level 0: alice's first and bob's app password; level 1: alice's second; then forward_auth. */
        json_t *l0 = json_array_get(handle, 3);
        assert_int_equal(json_array_size(level_accounts(l0)), 2);
        json_t *err_routes = json_object_get(json_object_get(l0, "errors"), "routes");
        /* Only a 401 goes on to the next level; anything else (the backend's 502) goes up unchanged. */
        assert_string_equal(json_string_value(json_array_get(json_object_get(json_object_get(json_array_get(json_object_get(
                                    json_array_get(err_routes, 0), "match"), 0), "vars"), "{http.error.status_code}"), 0)),
                            "401");
        assert_string_equal(json_string_value(json_object_get(json_array_get(json_object_get(json_array_get(err_routes, 1),
                                                                                              "handle"), 0), "handler")),
                            "error");
        json_t *l1 = json_array_get(json_object_get(json_array_get(err_routes, 0), "handle"), 0);
        json_t *acc1 = level_accounts(l1);
        assert_int_equal(json_array_size(acc1), 1);
        assert_string_equal(json_string_value(json_object_get(json_array_get(acc1, 0), "username")), "alice");
        assert_string_equal(json_string_value(json_object_get(json_array_get(acc1, 0), "password")), creds[1].hash);
        json_t *last = json_object_get(json_array_get(json_object_get(json_object_get(l1, "errors"), "routes"), 0), "handle");
        assert_int_equal(json_array_size(last), 3);
        assert_string_equal(json_string_value(json_object_get(json_object_get(json_array_get(last, 1), "rewrite"), "uri")),
                            "/auth?");
        /* On success the user is http_basic's, and the backend is asked once. */
        json_t *ok = json_object_get(json_array_get(json_object_get(l1, "routes"), 0), "handle");
        assert_int_equal(json_array_size(ok), 3);
        assert_string_equal(json_string_value(json_array_get(json_object_get(json_object_get(json_object_get(
                                    json_array_get(ok, 1), "request"), "set"), "X-Pic-User"), 0)),
                            "{http.auth.user.id}");
        json_decref(j);
        /* No sources or no credentials: no fast route. */
        c.sites[1].n_sources = 0;
        char *text = NULL;
        assert_int_equal(proxy_render(&c, &text), 0);
        assert_null(strstr(text, "http_basic"));
        free(text);
}

/* A site whose backend checks requests itself (files) declares the requests it never refuses: only those are
 * matched by the in-process route, and never below the folder it checks live; held sources stay out too. */
static void test_fast_methods(void **state) {
        ProxyConfig c = fast_config();
        static const char *const methods[] = { "GET", "HEAD", NULL }, *const held[] = { "10.0.0.9/32" };
        c.sites[2].sources = cal_sources;
        c.sites[2].n_sources = ELEMENTSOF(cal_sources);
        c.sites[2].fast_methods = methods;
        c.sites[2].fast_not_below = "/shared";
        c.held = held;
        c.n_held = 1;
        json_t *j = rendered(&c);
        json_t *servers = json_object_get(json_object_get(json_object_get(j, "apps"), "http"), "servers");
        json_t *routes = json_object_get(json_object_get(servers, "files-https"), "routes");
        assert_int_equal(json_array_size(routes), 2);
        json_t *match = json_array_get(json_object_get(json_array_get(routes, 0), "match"), 0);
        json_t *m = json_object_get(match, "method");
        assert_int_equal(json_array_size(m), 2);
        assert_string_equal(json_string_value(json_array_get(m, 0)), "GET");
        assert_string_equal(json_string_value(json_array_get(m, 1)), "HEAD");
        json_t *not = json_object_get(match, "not");
        assert_int_equal(json_array_size(not), 2);
        assert_string_equal(json_string_value(json_array_get(json_object_get(json_object_get(json_array_get(not, 0),
                                                                                              "remote_ip"), "ranges"), 0)),
                            "10.0.0.9/32");
        json_t *paths = json_object_get(json_array_get(not, 1), "path");
        assert_int_equal(json_array_size(paths), 2);
        assert_string_equal(json_string_value(json_array_get(paths, 0)), "/shared");
        assert_string_equal(json_string_value(json_array_get(paths, 1)), "/shared/*");
        /* The calendar, without declared methods: any request from its sources, held ones excepted. */
        json_t *cal = json_array_get(json_object_get(json_array_get(json_object_get(json_object_get(servers,
                                                                                                    "calendar-https"),
                                                                                    "routes"), 0), "match"), 0);
        assert_null(json_object_get(cal, "method"));
        assert_int_equal(json_array_size(json_object_get(cal, "not")), 1);
        json_decref(j);
}

static void test_cidrs(void **state) {
        char out[16][CIDR4_STRLEN];
        /* 10.0.0.2-10.0.0.9 and 10.0.0.11: aligned blocks only. */
        const uint32_t ips[] = { 0x0a000002, 0x0a000003, 0x0a000004, 0x0a000005, 0x0a000006,
                                 0x0a000007, 0x0a000008, 0x0a000009, 0x0a00000b };
        size_t n = proxy_cidrs(ips, ELEMENTSOF(ips), out);
        assert_int_equal(n, 4);
        assert_string_equal(out[0], "10.0.0.2/31");
        assert_string_equal(out[1], "10.0.0.4/30");
        assert_string_equal(out[2], "10.0.0.8/31");
        assert_string_equal(out[3], "10.0.0.11/32");
        const uint32_t one[] = { 0x0a000000 };
        assert_int_equal(proxy_cidrs(one, 1, out), 1);
        assert_string_equal(out[0], "10.0.0.0/32");
        assert_int_equal(proxy_cidrs(ips, 0, out), 0);
        /* A whole /24. */
        uint32_t all[256];
        for (unsigned i = 0; i < 256; i++)
                all[i] = 0x0a010000 + i;
        char big[256][CIDR4_STRLEN];
        assert_int_equal(proxy_cidrs(all, 256, big), 1);
        assert_string_equal(big[0], "10.1.0.0/24");
}

static void test_structure(void **state) {
        ProxyConfig c = config();
        json_t *j = rendered(&c);
        /* The admin block is in every config (caddy 2.6.2 moves its endpoint otherwise). */
        assert_string_equal(json_string_value(json_object_get(json_object_get(j, "admin"), "listen")),
                            "unix//var/lib/pic/run/caddy-admin.sock");
        json_t *servers = json_object_get(json_object_get(json_object_get(j, "apps"), "http"), "servers");
        assert_int_equal(json_object_size(servers), 8); /* api, calendar, files, mail: HTTPS and HTTP each */
        /* The API authenticates itself: no forward_auth; the calendar gets it before its backend. */
        json_t *api = json_array_get(json_object_get(json_array_get(json_object_get(json_object_get(servers, "api-https"),
                                                                                 "routes"), 0), "handle"), 3);
        assert_string_equal(json_string_value(json_object_get(json_array_get(json_object_get(api, "upstreams"), 0), "dial")),
                            "unix//var/lib/pic/run/api-proxy.sock");
        json_t *cal = json_object_get(json_array_get(json_object_get(json_object_get(servers, "calendar-https"), "routes"), 0),
                                      "handle");
        assert_int_equal(json_array_size(cal), 5);
        json_t *fa = json_array_get(cal, 3);
        assert_string_equal(json_string_value(json_object_get(json_object_get(fa, "rewrite"), "uri")), "/auth?");
        assert_string_equal(json_string_value(json_object_get(json_array_get(json_object_get(fa, "upstreams"), 0), "dial")),
                            "unix//var/lib/pic/run/auth.sock");
        /* Radicale is on the namespace's loopback; files on its socket. */
        json_t *up = json_array_get(cal, 4);
        assert_string_equal(json_string_value(json_object_get(json_array_get(json_object_get(up, "upstreams"), 0), "dial")),
                            "127.0.0.1:5232");
        /* Every spelling a WSGI server reads as HTTP_X_REMOTE_USER is deleted before forward_auth sets it. */
        json_t *del = json_object_get(json_object_get(json_array_get(cal, 2), "request"), "delete");
        const char *want[] = { "X-Remote-User", "X_Remote-User", "X-Remote_User", "X_Remote_User", "X_Pic_User" };
        for (size_t w = 0; w < sizeof want / sizeof want[0]; w++) {
                bool seen = false;
                for (size_t k = 0; k < json_array_size(del); k++)
                        seen = seen || strcmp(json_string_value(json_array_get(del, k)), want[w]) == 0;
                assert_true(seen);
        }
        /* A streaming (WebDAV) site: no body limit, no whole-request deadline; the backend gets the Destination's
         * path only and an XML Content-Type where the client sent none. */
        json_t *files = json_object_get(servers, "files-https");
        assert_null(json_object_get(files, "read_timeout"));
        assert_null(json_object_get(files, "write_timeout"));
        assert_non_null(json_object_get(json_object_get(servers, "calendar-https"), "read_timeout"));
        json_t *fh = json_object_get(json_array_get(json_object_get(files, "routes"), 0), "handle");
        size_t i;
        json_t *h;
        bool dest = false;
        json_array_foreach(fh, i, h) {
                assert_string_not_equal(json_string_value(json_object_get(h, "handler")), "request_body");
                if (json_object_get(json_object_get(json_object_get(h, "request"), "replace"), "Destination"))
                        dest = true;
        }
        assert_true(dest);
        json_t *last = json_array_get(fh, json_array_size(fh) - 1);
        assert_string_equal(json_string_value(json_object_get(last, "handler")), "reverse_proxy");
        assert_string_equal(json_string_value(json_object_get(json_array_get(json_object_get(last, "upstreams"), 0), "dial")),
                            "unix//var/lib/pic/run/files-http.sock");
        /* The webmail: after forward_auth, "/" is /index.php, the one script php-fpm runs; other scripts and
         * includes are 404; the rest are the document root's static files. */
        json_t *mail = json_object_get(json_array_get(json_object_get(json_object_get(servers, "mail-https"), "routes"), 0),
                                       "handle");
        assert_int_equal(json_array_size(mail), 5);
        /* Its question to picd is about the address alone; the calendar's is not, whatever its client sends. */
        json_t *mail_set = json_object_get(json_object_get(json_object_get(json_array_get(mail, 3), "headers"), "request"),
                                           "set");
        assert_string_equal(json_string_value(json_array_get(json_object_get(mail_set, "X-Pic-Auth"), 0)), "grant-only");
        assert_null(json_object_get(json_object_get(json_object_get(json_object_get(fa, "headers"), "request"), "set"),
                                    "X-Pic-Auth"));
        bool auth_deleted = false;
        for (size_t k = 0; k < json_array_size(del); k++)
                auth_deleted = auth_deleted || strcmp(json_string_value(json_array_get(del, k)), "X-Pic-Auth") == 0;
        assert_true(auth_deleted);
        assert_string_equal(json_string_value(json_object_get(json_array_get(mail, 3), "handler")), "reverse_proxy");
        json_t *app = json_object_get(json_array_get(mail, 4), "routes");
        assert_string_equal(json_string_value(json_object_get(json_array_get(json_object_get(json_array_get(app, 0),
                                                                                               "handle"), 0), "uri")),
                            "/index.php");
        json_t *fpm = json_array_get(json_object_get(json_array_get(app, 1), "handle"), 0);
        assert_string_equal(json_string_value(json_object_get(json_object_get(fpm, "transport"), "protocol")), "fastcgi");
        assert_string_equal(json_string_value(json_object_get(json_object_get(fpm, "transport"), "root")),
                            "/var/lib/roundcube/public_html");
        assert_string_equal(json_string_value(json_object_get(json_array_get(json_object_get(fpm, "upstreams"), 0), "dial")),
                            "unix//var/lib/pic/run/webmail-fpm.sock");
        assert_int_equal(json_integer_value(json_object_get(json_array_get(json_object_get(json_array_get(app, 2),
                                                                                            "handle"), 0), "status_code")),
                         404);
        assert_string_equal(json_string_value(json_object_get(json_array_get(json_object_get(json_array_get(app, 3),
                                                                                              "handle"), 0), "handler")),
                            "file_server");
        /* Non-default HTTPS port: the redirect names it. */
        json_decref(j);
        c.https_port = 8443;
        char *text = NULL;
        assert_int_equal(proxy_render(&c, &text), 0);
        assert_non_null(strstr(text, "https://{http.request.host}:8443{http.request.uri}"));
        assert_non_null(strstr(text, "\"172.20.0.10:8443\""));
        free(text);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_golden),
                cmocka_unit_test(test_structure),
                cmocka_unit_test(test_golden_fast),
                cmocka_unit_test(test_fast_structure),
                cmocka_unit_test(test_fast_methods),
                cmocka_unit_test(test_cidrs),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
