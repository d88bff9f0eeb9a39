/* Tests of the client configuration renderer (src/services/wireguard/wgconfig.c) against golden files, its
 * refusal of anything that is not a well-formed key or endpoint, and the endpoint fallback rules. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>

#include "basic/util.h"
#include "services/wireguard/wgconfig.h"
#include "golden.h"

#define PRIV "yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk="
#define SERVER "HIgo9xNzJMWLKASShiTqIybxZ0U3wGLiUeJ1PKf8ykw="
#define PSK "FpCyhws9cxwWoV4xELtfJvjJN+zQVRPISllRWgeopVE="

static WgClientConfig base(void) {
        return (WgClientConfig) {
                .private_key = PRIV,
                .address = 0x0a000002,
                .dns = 0xac140002,
                .server_public_key = SERVER,
                .preshared_key = PSK,
                .endpoint = "vpn.example.org:51820",
                .vpn = { 0x0a000001, 24 },
                .ip_range = { 0xac140000, 24 },
                .keepalive = WG_CLIENT_KEEPALIVE,
        };
}

static void render_golden(const WgClientConfig *c, const char *golden) {
        char *s = NULL;
        assert_int_equal(wg_client_config_render(c, &s), 0);
        assert_int_equal(golden_check(golden, s), 0);
        free(s);
}

static void test_split_tunnel(void **state) {
        WgClientConfig c = base();
        render_golden(&c, "wg-client.conf");
}

static void test_full_tunnel(void **state) {
        WgClientConfig c = base();
        c.route_all = true;
        render_golden(&c, "wg-client-route-all.conf");
}

static void test_client_made_key(void **state) {
        WgClientConfig c = base();
        c.private_key = "";
        c.preshared_key = NULL;
        render_golden(&c, "wg-client-own-key.conf");
}

/* wireguard.endpoint unset: the LAN address picd guessed, with a comment telling what to set. */
static void test_guessed_endpoint(void **state) {
        WgClientConfig c = base();
        c.endpoint = "192.168.1.20:51820";
        c.endpoint_guessed = true;
        render_golden(&c, "wg-client-lan-endpoint.conf");
}

static void test_refuses_malformed_inputs(void **state) {
        const char *bad_endpoints[] = { "vpn.example.org", "vpn.example.org:0", "vpn.example.org:51820\n[Peer]",
                                        "vpn example.org:1", "\"vpn\":1", "", "[::1]:51820" };
        for (size_t i = 0; i < ELEMENTSOF(bad_endpoints); i++) {
                WgClientConfig c = base();
                c.endpoint = bad_endpoints[i];
                char *s = NULL;
                assert_int_equal(wg_client_config_render(&c, &s), -EINVAL);
                assert_null(s);
        }
        const char *bad_keys[] = { "x", PRIV "\n", "yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBml=", PRIV "\nAllowedIPs = 0.0.0.0/0" };
        for (size_t i = 0; i < ELEMENTSOF(bad_keys); i++) {
                WgClientConfig c = base();
                char *s = NULL;
                c.private_key = bad_keys[i];
                assert_int_equal(wg_client_config_render(&c, &s), -EINVAL);
                c = base();
                c.server_public_key = bad_keys[i];
                assert_int_equal(wg_client_config_render(&c, &s), -EINVAL);
                c = base();
                c.preshared_key = bad_keys[i];
                assert_int_equal(wg_client_config_render(&c, &s), -EINVAL);
                assert_null(s);
        }
}

static void test_endpoint_format(void **state) {
        char buf[300];
        assert_int_equal(wg_endpoint_format("vpn.example.org", 0, 51820, buf, sizeof buf), 0);
        assert_string_equal(buf, "vpn.example.org:51820");
        assert_int_equal(wg_endpoint_format("vpn.example.org:4500", 0x0a000001, 51820, buf, sizeof buf), 0);
        assert_string_equal(buf, "vpn.example.org:4500");
        assert_int_equal(wg_endpoint_format("", 0xc0a80105, 51820, buf, sizeof buf), 0);
        assert_string_equal(buf, "192.168.1.5:51820");
        assert_int_equal(wg_endpoint_format(NULL, 0xc0a80105, 4000, buf, sizeof buf), 0);
        assert_string_equal(buf, "192.168.1.5:4000");
        assert_int_equal(wg_endpoint_format("", 0, 51820, buf, sizeof buf), -EADDRNOTAVAIL);
        assert_int_equal(wg_endpoint_format("bad host", 0, 51820, buf, sizeof buf), -EINVAL);
        assert_int_equal(wg_endpoint_format("h\n", 0, 51820, buf, sizeof buf), -EINVAL);
        assert_int_equal(wg_endpoint_format("h", 0, 0, buf, sizeof buf), -EINVAL);
        assert_int_equal(wg_endpoint_format("vpn.example.org", 0, 51820, buf, 8), -ENAMETOOLONG);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_split_tunnel),
                cmocka_unit_test(test_full_tunnel),
                cmocka_unit_test(test_client_made_key),
                cmocka_unit_test(test_guessed_endpoint),
                cmocka_unit_test(test_refuses_malformed_inputs),
                cmocka_unit_test(test_endpoint_format),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
