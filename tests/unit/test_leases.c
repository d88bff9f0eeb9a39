/* Unit tests of the dnsmasq lease-file parser and the DHCP grammars (MAC, host name): what a lease file or a
 * request may contain, and that nothing outside the grammar gets through. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/dhcp.h"
#include "services/dhcp/leases.h"
#include "cell-registry.h"

static int parse(const char *text, int64_t now, DhcpLease **ret, size_t *n) {
        return dhcp_leases_parse(text, strlen(text), now, ret, n);
}

static void test_typical_file(void **state) {
        const char *text = "1795966409 02:00:00:00:00:02 192.168.77.20 printer 01:02:00:00:00:00:02\n"
                           "0 02:00:00:00:00:01 192.168.77.145 * *\n"
                           "duid 00:01:00:01:2c:00:00:00:02:00:00:00:00:01\n";
        DhcpLease *l = NULL;
        size_t n = 0;
        assert_int_equal(parse(text, 0, &l, &n), 0);
        assert_int_equal(n, 2);
        assert_int_equal(l[0].expires, 1795966409);
        assert_string_equal(l[0].mac, "02:00:00:00:00:02");
        assert_int_equal(l[0].ip, 0xc0a84d14);
        assert_string_equal(l[0].hostname, "printer");
        assert_int_equal(l[1].expires, 0);
        assert_string_equal(l[1].hostname, "");
        free(l);
}

static void test_expired_dropped(void **state) {
        const char *text = "100 02:00:00:00:00:02 10.1.1.2 old *\n"
                           "300 02:00:00:00:00:03 10.1.1.3 new *\n"
                           "0 02:00:00:00:00:04 10.1.1.4 forever *\n";
        DhcpLease *l = NULL;
        size_t n = 0;
        assert_int_equal(parse(text, 200, &l, &n), 0);
        assert_int_equal(n, 2);
        assert_string_equal(l[0].hostname, "new");
        assert_string_equal(l[1].hostname, "forever");
        free(l);
}

static void test_hostile_lines_skipped(void **state) {
        /* Host names come from clients: anything that is not one DNS label is dropped, the lease kept. */
        const char *text = "5 02:00:00:00:00:05 10.1.1.5 evil;rm *\n"
                           "5 02:00:00:00:00:06 10.1.1.6 UPPER *\n"
                           "5 02:00:00:00:00:07 10.1.1.7 -dash *\n"
                           "5 02:00:00:00:00:08 10.1.1.8 a.b *\n"
                           "5 02:00:00:00:00:09 10.1.1.999 bad-ip *\n"
                           "5 02:00:00:00:00 10.1.1.10 short-mac *\n"
                           "x 02:00:00:00:00:0a 10.1.1.11 bad-expiry *\n"
                           "5 02:00:00:00:00:0b 10.1.1.12 too many fields here\n"
                           "5  02:00:00:00:00:0c 10.1.1.13 double-space *\n"
                           "5 02:00:00:00:00:0d fe80::1 v6 *\n"
                           "\n"
                           "5 02:00:00:00:00:0e 010.1.1.14 octal *\n";
        DhcpLease *l = NULL;
        size_t n = 0;
        assert_int_equal(parse(text, 0, &l, &n), 0);
        assert_int_equal(n, 4);
        assert_string_equal(l[0].hostname, "");      /* "evil;rm" */
        assert_string_equal(l[1].hostname, "upper");  /* lower-cased */
        assert_string_equal(l[2].hostname, "");      /* leading dash */
        assert_string_equal(l[3].hostname, "");      /* not one label */
        free(l);
}

static void test_embedded_nul_and_no_newline(void **state) {
        const char text[] = "5 02:00:00:00:00:05 10.1.1.5 a\0b *\n5 02:00:00:00:00:06 10.1.1.6 last *";
        DhcpLease *l = NULL;
        size_t n = 0;
        assert_int_equal(dhcp_leases_parse(text, sizeof text - 1, 0, &l, &n), 0);
        assert_int_equal(n, 1);
        assert_string_equal(l[0].hostname, "last");
        free(l);
}

static void test_empty_and_garbage(void **state) {
        DhcpLease *l = (DhcpLease *) 1;
        size_t n = 99;
        assert_int_equal(parse("", 0, &l, &n), 0);
        assert_null(l);
        assert_int_equal(n, 0);
        /* Bytes of every value must not crash or be accepted. */
        char junk[4096];
        for (size_t i = 0; i < sizeof junk; i++)
                junk[i] = (char) (i * 131 + 7);
        assert_int_equal(dhcp_leases_parse(junk, sizeof junk, 0, &l, &n), 0);
        assert_int_equal(n, 0);
        free(l);
}

static void test_long_line_skipped(void **state) {
        char text[2048];
        memset(text, 'a', sizeof text);
        memcpy(text + sizeof text - 40, "\n5 02:00:00:00:00:05 10.1.1.5 ok *\n", 35);
        DhcpLease *l = NULL;
        size_t n = 0;
        assert_int_equal(dhcp_leases_parse(text, sizeof text - 5, 0, &l, &n), 0);
        assert_int_equal(n, 1);
        assert_string_equal(l[0].hostname, "ok");
        free(l);
}

static void test_mac_normalize(void **state) {
        char m[DHCP_MAC_STRLEN];
        assert_int_equal(dhcp_mac_normalize("02:AA:bb:0C:dd:EE", m), 0);
        assert_string_equal(m, "02:aa:bb:0c:dd:ee");
        assert_int_equal(dhcp_mac_normalize("02-aa-bb-cc-dd-ee", m), 0);
        assert_string_equal(m, "02:aa:bb:cc:dd:ee");
        const char *bad[] = { "", "02:aa:bb:cc:dd", "02:aa:bb:cc:dd:ee:ff", "02:aa-bb:cc:dd:ee", "0g:aa:bb:cc:dd:ee",
                              "01:00:5e:00:00:01" /* multicast */, "ff:ff:ff:ff:ff:ff", "00:00:00:00:00:00",
                              "02:aa:bb:cc:dd:e\n", "02:aa:bb:cc:dd:ee\n", "02:aa:bb:cc:dd,e", NULL };
        for (size_t i = 0; bad[i]; i++)
                assert_int_equal(dhcp_mac_normalize(bad[i], m), -EINVAL);
        assert_int_equal(dhcp_mac_normalize(NULL, m), -EINVAL);
}

static void test_hostname(void **state) {
        assert_true(dhcp_hostname_is_valid("printer"));
        assert_true(dhcp_hostname_is_valid("nas-2"));
        assert_false(dhcp_hostname_is_valid("nas-"));
        assert_false(dhcp_hostname_is_valid("-nas"));
        assert_false(dhcp_hostname_is_valid("Nas"));
        assert_false(dhcp_hostname_is_valid("a.b"));
        assert_false(dhcp_hostname_is_valid("x\ndhcp-range=1.2.3.4"));
        assert_false(dhcp_hostname_is_valid("a,b"));
        assert_false(dhcp_hostname_is_valid(""));
        assert_true(dhcp_hostname_is_service(cell_registry(), "mail"));
        assert_true(dhcp_hostname_is_service(cell_registry(), "dns"));
        assert_false(dhcp_hostname_is_service(cell_registry(), "printer"));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_typical_file),
                cmocka_unit_test(test_expired_dropped),
                cmocka_unit_test(test_hostile_lines_skipped),
                cmocka_unit_test(test_embedded_nul_and_no_newline),
                cmocka_unit_test(test_empty_and_garbage),
                cmocka_unit_test(test_long_line_skipped),
                cmocka_unit_test(test_mac_normalize),
                cmocka_unit_test(test_hostname),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
