/* Unit tests of the parsers behind /api/ntp/status (chronyc -c output) and /api/network/test (DNS and NTP
 * replies): real samples parse, malformed or foreign replies are refused. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "services/nettest/packets.h"
#include "services/ntp/chrony.h"

static void test_tracking(void **state) {
        ChronyTracking t;
        const char *sample = "7F7F0101,,10,1795962652.256515998,0.000000000,0.000000000,0.000000000,0.000,0.000,"
                             "0.000,0.000000000,0.000000000,0.0,Normal\n";
        assert_int_equal(chrony_parse_tracking(sample, &t), 0);
        assert_string_equal(t.ref_id, "7F7F0101");
        assert_int_equal(t.stratum, 10);
        assert_string_equal(t.leap, "Normal");
        const char *offset = "C0A80001,192.168.0.1,3,1795962652.25,-0.000012500,0.000001,0.00002,1.0,0.0,0.1,0.01,0.02,"
                             "64.0,Not synchronised\n";
        assert_int_equal(chrony_parse_tracking(offset, &t), 0);
        assert_true(t.system_offset < -0.0000124 && t.system_offset > -0.0000126);
        assert_string_equal(t.leap, "Not synchronised");
        assert_int_equal(chrony_parse_tracking("506 Cannot talk to daemon\n", &t), -EBADMSG);
        assert_int_equal(chrony_parse_tracking("", &t), -EBADMSG);
        assert_int_equal(chrony_parse_tracking("7F7F0101,,99,1,0,0,0,0,0,0,0,0,0,Normal", &t), -EBADMSG);
        assert_int_equal(chrony_parse_tracking("7F7F0101,,10,1,x,0,0,0,0,0,0,0,0,Normal", &t), -EBADMSG);
        assert_int_equal(chrony_parse_tracking("zz,,10,1,0,0,0,0,0,0,0,0,0,Normal", &t), -EBADMSG);
}

/* Numbers are taken only in the form chronyc prints (found by fuzz/fuzz_chrony: strtod took ".5"). */
static void test_tracking_numbers_strict(void **state) {
        ChronyTracking t;
        const char *bad[] = { ".5", "5.", "+1.0", " 1.0", "0x1p-3", "1e", "1.0e+", "--1", "1,5" };
        for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
                char line[256];
                snprintf(line, sizeof line, "7F7F0101,,10,1,%s,0,0,0,0,0,0,0,0,Normal\n", bad[i]);
                assert_int_equal(chrony_parse_tracking(line, &t), -EBADMSG);
        }
        assert_int_equal(chrony_parse_tracking("7F7F0101,,10,1,-1.25e-05,0,0,0,0,0,3E2,0,0,Normal\n", &t), 0);
        assert_true(t.system_offset == -1.25e-05);
        assert_true(t.root_delay == 300.0);
}

static void test_serverstats(void **state) {
        ChronyServerStats s;
        assert_int_equal(chrony_parse_serverstats("12,1,8,0,0,0,0,0,0,0,0\n", &s), 0);
        assert_int_equal(s.ntp_received, 12);
        assert_int_equal(s.ntp_dropped, 1);
        assert_int_equal(s.cmd_received, 8);
        assert_int_equal(chrony_parse_serverstats("12,1\n", &s), -EBADMSG);
        assert_int_equal(chrony_parse_serverstats("-1,1,1,1,1\n", &s), -EBADMSG);
}

static void test_clients(void **state) {
        unsigned n;
        assert_int_equal(chrony_count_ntp_clients("", &n), 0);
        assert_int_equal(n, 0);
        const char *sample = "172.31.9.4,1,0,127,127,10,0,0,127,4294967295\n"
                             "10.0.0.7,0,0,-,-,3,0,0,5,1\n"
                             "10.0.0.8,5,0,6,2,0,0,0,-,-\n";
        assert_int_equal(chrony_count_ntp_clients(sample, &n), 0);
        assert_int_equal(n, 2);
        assert_int_equal(chrony_count_ntp_clients("garbage\n", &n), -EBADMSG);
}

static void test_dns_query_and_reply(void **state) {
        uint8_t q[300];
        int n = dns_build_query(0x1234, "ntp.mycell.cell", q, sizeof q);
        assert_int_equal(n, 12 + 17 + 4);
        assert_int_equal(q[0], 0x12);
        assert_int_equal(q[12], 3);
        assert_memory_equal(q + 13, "ntp", 3);
        assert_int_equal(dns_build_query(1, "bad name", q, sizeof q), -EINVAL);
        assert_int_equal(dns_build_query(1, "a.b", q, 10), -EINVAL);

        /* The reply: our question echoed, one compressed A answer 172.20.0.4. */
        uint8_t r[512];
        memcpy(r, q, (size_t) n);
        r[2] = 0x81;
        r[3] = 0x80;
        r[7] = 1;
        uint8_t ans[] = { 0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 172, 20, 0, 4 };
        memcpy(r + n, ans, sizeof ans);
        uint32_t ips[4];
        size_t k;
        assert_int_equal(dns_parse_a_reply(r, (size_t) n + sizeof ans, 0x1234, ips, 4, &k), 0);
        assert_int_equal(k, 1);
        assert_int_equal(ips[0], 0xac140004);
        /* Wrong id, truncated answer, NXDOMAIN. */
        assert_int_equal(dns_parse_a_reply(r, (size_t) n + sizeof ans, 0x1235, ips, 4, &k), -EBADMSG);
        assert_int_equal(dns_parse_a_reply(r, (size_t) n + sizeof ans - 1, 0x1234, ips, 4, &k), -EBADMSG);
        r[3] = 0x83;
        assert_int_equal(dns_parse_a_reply(r, (size_t) n + sizeof ans, 0x1234, ips, 4, &k), 3);
        /* A label length running off the end. */
        r[3] = 0x80;
        r[12] = 60;
        assert_int_equal(dns_parse_a_reply(r, (size_t) n, 0x1234, ips, 4, &k), -EBADMSG);
}

static void test_ntp(void **state) {
        uint8_t req[NTP_PACKET_SIZE], rep[NTP_PACKET_SIZE];
        uint64_t nonce = 0x0102030405060708ULL;
        ntp_build_request(nonce, req);
        assert_int_equal(req[0], 0x23);
        memset(rep, 0, sizeof rep);
        rep[0] = 0x24;
        rep[1] = 10;
        memcpy(rep + 24, req + 40, 8);
        /* 2026-01-01T00:00:00Z as NTP seconds. */
        uint32_t sec = (uint32_t) (1767225600ULL + 2208988800ULL);
        rep[40] = (uint8_t) (sec >> 24);
        rep[41] = (uint8_t) (sec >> 16);
        rep[42] = (uint8_t) (sec >> 8);
        rep[43] = (uint8_t) sec;
        int stratum;
        double t;
        assert_int_equal(ntp_parse_reply(rep, sizeof rep, nonce, &stratum, &t), 0);
        assert_int_equal(stratum, 10);
        assert_true(t > 1767225599.9 && t < 1767225600.1);
        assert_int_equal(ntp_parse_reply(rep, sizeof rep, nonce + 1, &stratum, &t), -EBADMSG);
        assert_int_equal(ntp_parse_reply(rep, 47, nonce, &stratum, &t), -EBADMSG);
        rep[1] = 0; /* kiss-o'-death */
        assert_int_equal(ntp_parse_reply(rep, sizeof rep, nonce, &stratum, &t), -EBADMSG);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_tracking),         cmocka_unit_test(test_serverstats),
                cmocka_unit_test(test_clients),          cmocka_unit_test(test_dns_query_and_reply),
                cmocka_unit_test(test_ntp),              cmocka_unit_test(test_tracking_numbers_strict),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
