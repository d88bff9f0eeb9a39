/* Tests of the UAPI `get` parser (src/net/wg-uapi.c) on a dump as wireguard-go writes it, and its refusal of
 * malformed replies (it reads what another process wrote). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "basic/util.h"
#include "net/wg-uapi.h"

#define ZERO64 "0000000000000000000000000000000000000000000000000000000000000000"

static const char dump[] =
        "private_key=e84b5a6d2717c1003a13b431570353dbaca9146cf150c5f8575680feba52027a\n"
        "listen_port=51820\n"
        "public_key=c4655b736cea7091f8cd26b0808215e4a46adec411c2f6aa9fbf21956fd5762a\n"
        "preshared_key=188515093e952f5f22e865cef3012e72f8b5f0b598ac0309d5dacce3b70fcf52\n"
        "protocol_version=1\n"
        "endpoint=10.99.0.2:38332\n"
        "last_handshake_time_sec=1795963292\n"
        "last_handshake_time_nsec=123\n"
        "tx_bytes=6200\n"
        "rx_bytes=828\n"
        "persistent_keepalive_interval=25\n"
        "allowed_ip=10.0.0.2/32\n"
        "allowed_ip=10.0.0.0/24\n"
        "public_key=58402e695ba1772b1cc9309755f043251ea77fdcf10fbe63989ceb7e19321376\n"
        "preshared_key=" ZERO64 "\n"
        "protocol_version=1\n"
        "last_handshake_time_sec=0\n"
        "last_handshake_time_nsec=0\n"
        "tx_bytes=0\n"
        "rx_bytes=0\n"
        "persistent_keepalive_interval=0\n"
        "errno=0\n"
        "\n";

static void test_parse_dump(void **state) {
        WgLiveDevice d;
        assert_int_equal(wg_uapi_parse(dump, &d), 0);
        assert_true(d.has_private_key);
        assert_int_equal(d.listen_port, 51820);
        assert_int_equal(d.n_peers, 2);
        assert_string_equal(d.peers[0].public_key, "xGVbc2zqcJH4zSawgIIV5KRq3sQRwvaqn78hlW/Vdio=");
        assert_true(d.peers[0].has_preshared_key);
        assert_string_equal(d.peers[0].endpoint, "10.99.0.2:38332");
        assert_int_equal(d.peers[0].last_handshake_sec, 1795963292);
        assert_int_equal(d.peers[0].rx_bytes, 828);
        assert_int_equal(d.peers[0].tx_bytes, 6200);
        assert_int_equal(d.peers[0].keepalive, 25);
        assert_string_equal(d.peers[0].allowed_ips, "10.0.0.2/32,10.0.0.0/24");
        assert_int_equal(d.peers[0].n_allowed_ips, 2);
        assert_false(d.peers[1].has_preshared_key);
        assert_string_equal(d.peers[1].endpoint, "");
        assert_int_equal(d.peers[1].n_allowed_ips, 0);

        /* The digest lets the reconciler compare preshared keys without holding them. */
        uint8_t dg[8];
        wg_psk_digest("GIUVCT6VL18i6GXO8wEucvi18LWYrAMJ1drM47cPz1I=", dg);
        assert_memory_equal(dg, d.peers[0].psk_digest, sizeof dg);
        wg_psk_digest("", dg);
        assert_memory_equal(dg, d.peers[1].psk_digest, sizeof dg);
        wg_live_device_done(&d);
}

static void test_parse_rejects_garbage(void **state) {
        const char *bad[] = {
                "listen_port=70000\nerrno=0\n\n",
                "public_key=abc\nerrno=0\n\n",
                "public_key=" ZERO64 "\npreshared_key=xyz\nerrno=0\n\n",
                "public_key=" ZERO64 "\nrx_bytes=-1\nerrno=0\n\n",
                "public_key=" ZERO64 "\nlast_handshake_time_sec=1e9\nerrno=0\n\n",
                "no equals sign\nerrno=0\n\n",
                "listen_port=1\nerrno=-22\n\n",
                "listen_port=1", /* no newline: truncated */
                /* cut before the verdict: a NUL or a short read must not pass for a device with fewer peers */
                "listen_port=1\n",
                "listen_port=1\npublic_key=" ZERO64 "\n",
                "listen_port=1\nerrno=0\n",
                "errno=0\nlisten_port=1\n\n",
                "",
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                WgLiveDevice d = { 0 };
                assert_int_equal(wg_uapi_parse(bad[i], &d), -EBADMSG);
                assert_null(d.peers);
        }
}

/* Found by fuzz/fuzz_wg_uapi: values the API could not show, or would show wrongly, are refused. */
static void test_parse_rejects_unshowable(void **state) {
        const char *bad[] = {
                /* invalid UTF-8 in the endpoint made json_pack fail and the peer vanish from /api/wireguard/peers */
                "public_key=" ZERO64 "\nendpoint=10.0.0.1:51820\xff\xfe\nerrno=0\n\n",
                "public_key=" ZERO64 "\nendpoint=10.0.0.1:1\x1b[2J\nerrno=0\n\n",
                /* a comma inside one allowed_ip turned one entry into two in the list */
                "public_key=" ZERO64 "\nallowed_ip=10.0.0.1/32,10.0.0.2/32\nerrno=0\n\n",
                "public_key=" ZERO64 "\nallowed_ip=\nerrno=0\n\n",
                /* counters above INT64_MAX came out negative as JSON integers */
                "public_key=" ZERO64 "\nrx_bytes=9223372036854775808\nerrno=0\n\n",
                "public_key=" ZERO64 "\ntx_bytes=18446744073709551615\nerrno=0\n\n",
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                WgLiveDevice d = { 0 };
                assert_int_equal(wg_uapi_parse(bad[i], &d), -EBADMSG);
                assert_null(d.peers);
        }
        WgLiveDevice d;
        assert_int_equal(wg_uapi_parse("public_key=" ZERO64 "\nendpoint=[fe80::1%eth0]:51820\nrx_bytes=9223372036854775807\n"
                                       "allowed_ip=fe80::/64\nerrno=0\n\n",
                                       &d),
                         0);
        assert_string_equal(d.peers[0].endpoint, "[fe80::1%eth0]:51820");
        assert_int_equal(d.peers[0].rx_bytes, INT64_MAX);
        wg_live_device_done(&d);
}

static void test_socket_path(void **state) {
        char buf[108];
        assert_int_equal(wg_uapi_socket_path("picwg-0123abcd", buf, sizeof buf), 0);
        assert_string_equal(buf, "/run/wireguard/picwg-0123abcd.sock");
        assert_int_equal(wg_uapi_socket_path("../../etc/x", buf, sizeof buf), -EINVAL);
        assert_int_equal(wg_uapi_socket_path("0123456789abcdef", buf, sizeof buf), -EINVAL);
        assert_int_equal(wg_uapi_socket_path("", buf, sizeof buf), -EINVAL);
        /* Nobody serves this name: a clean "host down", not a crash or a hang. */
        assert_int_equal(wg_uapi_ready("picwg-absent0"), -EHOSTDOWN);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_parse_dump),
                cmocka_unit_test(test_parse_rejects_garbage),
                cmocka_unit_test(test_parse_rejects_unshowable),
                cmocka_unit_test(test_socket_path),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
