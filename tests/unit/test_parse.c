/* Unit tests of the strict grammars and CIDR maths (src/basic/parse.c, netaddr.c): what they accept and,
 * above all, what they refuse before anything reaches a config file. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "basic/netaddr.h"
#include "basic/parse.h"

static void test_parse_uint(void **state) {
        uint64_t v;
        assert_int_equal(parse_uint("0", 0, 10, &v), 0);
        assert_int_equal(v, 0);
        assert_int_equal(parse_uint("65535", 1, 65535, &v), 0);
        assert_int_equal(v, 65535);
        assert_true(parse_uint("65536", 1, 65535, &v) < 0);
        assert_true(parse_uint("", 0, 10, &v) < 0);
        assert_true(parse_uint("01", 0, 10, &v) < 0);
        assert_true(parse_uint("-1", 0, 10, &v) < 0);
        assert_true(parse_uint("+1", 0, 10, &v) < 0);
        assert_true(parse_uint(" 1", 0, 10, &v) < 0);
        assert_true(parse_uint("1x", 0, 10, &v) < 0);
        assert_true(parse_uint("99999999999999999999", 0, UINT64_MAX, &v) < 0);
        assert_true(parse_uint(NULL, 0, 10, &v) < 0);
}

static void test_names(void **state) {
        assert_true(name_is_valid("mycell"));
        assert_true(name_is_valid("a"));
        assert_true(name_is_valid("0-phone-2"));
        char long_ok[64], long_bad[65];
        memset(long_ok, 'a', 63);
        long_ok[63] = '\0';
        memset(long_bad, 'a', 64);
        long_bad[64] = '\0';
        assert_true(name_is_valid(long_ok));
        assert_false(name_is_valid(long_bad));
        const char *bad[] = { "", "-a", "A", "a b", "a\n", "a\"", "a}", "a;", "a#", "[Peer]", "caf\xc3\xa9", "a.b", "a_b" };
        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
                assert_false(name_is_valid(bad[i]));
        assert_false(name_is_valid(NULL));
}

static void test_dns_names(void **state) {
        assert_true(dns_name_is_valid("calendar.mycell.cell", false));
        assert_true(dns_name_is_valid("Example.ORG.", false));
        assert_true(dns_name_is_valid("*.mycell.cell", true));
        assert_false(dns_name_is_valid("*.mycell.cell", false));
        assert_false(dns_name_is_valid("a..b", false));
        assert_false(dns_name_is_valid(".a", false));
        assert_false(dns_name_is_valid("-a.b", false));
        assert_false(dns_name_is_valid("a-.b", false));
        assert_false(dns_name_is_valid("a b.c", false));
        assert_false(dns_name_is_valid("a\".c", false));
        assert_false(dns_name_is_valid("", false));
        char label[80];
        memset(label, 'a', 64);
        label[64] = '\0';
        assert_false(dns_name_is_valid(label, false));
}

static void test_endpoints(void **state) {
        assert_true(endpoint_is_valid("vpn.example.org"));
        assert_true(endpoint_is_valid("vpn.example.org:51820"));
        assert_true(endpoint_is_valid("192.0.2.1:51820"));
        assert_false(endpoint_is_valid("192.0.2.300"));
        assert_false(endpoint_is_valid("vpn.example.org:0"));
        assert_false(endpoint_is_valid("vpn.example.org:65536"));
        assert_false(endpoint_is_valid("vpn example.org"));
        assert_false(endpoint_is_valid("h\nEndpoint = x"));
        assert_false(endpoint_is_valid(""));
}

static void test_config_text(void **state) {
        assert_true(config_text_is_safe("Alice's phone", 64) == false); /* quote */
        assert_true(config_text_is_safe("Alice phone (work)", 64));
        assert_false(config_text_is_safe("a\nb", 64));
        assert_false(config_text_is_safe("a{b", 64));
        assert_false(config_text_is_safe("a#b", 64));
        assert_false(config_text_is_safe("a;b", 64));
        assert_false(config_text_is_safe("caf\xc3\xa9", 64));
        assert_false(config_text_is_safe("abcdef", 5));
}

static void test_ipv4(void **state) {
        uint32_t ip;
        assert_int_equal(ipv4_parse("10.0.0.1", &ip), 0);
        assert_int_equal(ip, 0x0a000001);
        const char *bad[] = { "10.0.0", "10.0.0.1.1", "10.0.0.256", "010.0.0.1", "10.0.0.1 ", "a.b.c.d", "10..0.1", "" };
        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
                assert_true(ipv4_parse(bad[i], &ip) < 0);
        char buf[IPV4_STRLEN];
        assert_string_equal(ipv4_format(0xc0a80101, buf), "192.168.1.1");
}

static void test_cidr(void **state) {
        Cidr4 c, d;
        assert_int_equal(cidr4_parse("10.0.0.1/24", true, &c), 0);
        assert_int_equal(c.prefix, 24);
        assert_int_equal(cidr4_network(&c), 0x0a000000);
        assert_int_equal(cidr4_broadcast(&c), 0x0a0000ff);
        assert_true(cidr4_parse("10.0.0.1", true, &c) < 0);
        assert_int_equal(cidr4_parse("10.0.0.1", false, &c), 0);
        assert_int_equal(c.prefix, 32);
        assert_true(cidr4_parse("10.0.0.1/33", true, &c) < 0);
        assert_true(cidr4_parse("10.0.0.1/", true, &c) < 0);
        assert_true(cidr4_parse("10.0.0.1/024", true, &c) < 0);

        assert_int_equal(cidr4_parse("172.20.0.0/16", true, &c), 0);
        assert_true(cidr4_is_rfc1918(&c));
        assert_int_equal(cidr4_parse("172.32.0.0/16", true, &d), 0);
        assert_false(cidr4_is_rfc1918(&d));
        assert_int_equal(cidr4_parse("10.0.0.0/7", true, &d), 0);
        assert_false(cidr4_is_rfc1918(&d));
        assert_int_equal(cidr4_parse("192.168.7.0/24", true, &d), 0);
        assert_true(cidr4_is_rfc1918(&d));

        assert_int_equal(cidr4_parse("172.20.5.0/24", true, &d), 0);
        assert_true(cidr4_overlaps(&c, &d));
        assert_true(cidr4_overlaps(&d, &c));
        assert_int_equal(cidr4_parse("172.21.0.0/24", true, &d), 0);
        assert_false(cidr4_overlaps(&c, &d));

        uint32_t ip;
        assert_int_equal(cidr4_parse("192.168.1.0/28", true, &c), 0);
        assert_int_equal(cidr4_host(&c, 14, &ip), 0);
        assert_true(cidr4_host(&c, 15, &ip) < 0); /* broadcast */
        assert_true(cidr4_host(&c, 16, &ip) < 0);
}

/* X-Forwarded-For entries: every address form a proxy writes is the client; anything else is refused so the
 * caller never falls back to the proxy's own address. */
static void test_client_addr(void **state) {
        static const struct {
                const char *in, *out;
        } good[] = {
                { "203.0.113.9", "203.0.113.9" },     { " 203.0.113.9 ", "203.0.113.9" },
                { "203.0.113.9:4444", "203.0.113.9" }, { "2001:DB8:0::1", "2001:db8::1" },
                { "[2001:db8::1]", "2001:db8::1" },    { "[2001:db8::1]:443", "2001:db8::1" },
                { "::1", "::1" },                      { "::ffff:127.0.0.1", "127.0.0.1" },
                { "[::ffff:10.0.0.2]:80", "10.0.0.2" },
        };
        char ip[IP_STRLEN];
        for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
                assert_int_equal(ip_client_parse(good[i].in, ip), 0);
                assert_string_equal(ip, good[i].out);
        }
        const char *bad[] = { "", " ", "garbage", "203.0.113.9:", "203.0.113.9:0", "203.0.113.9:65536",
                              "203.0.113.9:44x", "[203.0.113.9]", "[2001:db8::1", "[2001:db8::1]x", "[2001:db8::1]:",
                              "::1%lo", "2001:db8::1:", "unknown", "1.2.3.4 5.6.7.8", "_hidden", "localhost:80",
                              "0x7f.0.0.1", "127.1", ":80" };
        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
                assert_true(ip_client_parse(bad[i], ip) < 0);
        char longer[200];
        memset(longer, '1', sizeof longer - 1);
        longer[sizeof longer - 1] = '\0';
        assert_true(ip_client_parse(longer, ip) < 0);
        assert_true(ip_client_parse(NULL, ip) < 0);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_parse_uint), cmocka_unit_test(test_names),  cmocka_unit_test(test_dns_names),
                cmocka_unit_test(test_endpoints),  cmocka_unit_test(test_config_text), cmocka_unit_test(test_ipv4),
                cmocka_unit_test(test_cidr),       cmocka_unit_test(test_client_addr),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
