/* Tests of Caddy's rendered JSON (src/services/proxy/render.c) against a golden file: per site an HTTPS server
 * on its virtual IP with its certificate tag, HSTS, body limit, X-Pic-User stripped, forward_auth only in
 * front of application backends, and an HTTP server that serves the root on the API address and redirects
 * the rest. The real caddy loads it in tests/integration/test_proxy.py. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "golden.h"
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
                                             .key = "/k/calendar-02.key", .upstream = "/var/lib/pic/run/calendar-http.sock",
                                             .forward_auth = true };
        c.sites[c.n_sites++] = (ProxySite) { .name = "mail", .vip = 0xac14000c, .cert = "/k/mail-03.pem",
                                             .key = "/k/mail-03.key", .upstream = "/var/lib/pic/run/webmail-fpm.sock",
                                             .fastcgi_root = "/var/lib/roundcube/public_html", .forward_auth = true,
                                             .grant_only = true };
        return c;
}

static void test_golden(void **state) {
        ProxyConfig c = config();
        char *text = NULL;
        assert_int_equal(proxy_render(&c, &text), 0);
        assert_int_equal(golden_check("proxy-caddy.json", text), 0);
        free(text);
}

static void test_structure(void **state) {
        ProxyConfig c = config();
        char *text = NULL;
        assert_int_equal(proxy_render(&c, &text), 0);
        json_t *j = json_loads(text, 0, NULL);
        free(text);
        assert_non_null(j);
        /* The admin block is in every config (caddy 2.6.2 moves its endpoint otherwise). */
        assert_string_equal(json_string_value(json_object_get(json_object_get(j, "admin"), "listen")),
                            "unix//var/lib/pic/run/caddy-admin.sock");
        json_t *servers = json_object_get(json_object_get(json_object_get(j, "apps"), "http"), "servers");
        assert_int_equal(json_object_size(servers), 6);
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
        json_t *del = json_object_get(json_object_get(json_array_get(cal, 2), "request"), "delete");
        assert_string_equal(json_string_value(json_array_get(del, 2)), "X-Pic-Auth");
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
        assert_int_equal(proxy_render(&c, &text), 0);
        assert_non_null(strstr(text, "https://{http.request.host}:8443{http.request.uri}"));
        assert_non_null(strstr(text, "\"172.20.0.10:8443\""));
        free(text);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_golden),
                cmocka_unit_test(test_structure),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
