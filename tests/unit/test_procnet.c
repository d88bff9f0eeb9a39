/* Tests of the /proc/net/udp line parser (src/net/procnet.c) on lines the kernel printed, and its refusal of
 * lines it did not: the NTP and DHCP health probes decide "is the daemon bound?" from what it reads. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "basic/util.h"
#include "net/procnet.h"

static void test_real_lines(void **state) {
        ProcnetUdpEntry e;
        /* Captured from /proc/self/net/udp: a socket bound to 127.0.0.1:12923 with data queued. */
        assert_int_equal(procnet_udp_parse_line("13834: 0100007F:327B 00000000:0000 07 00000000:00000340 00:00000000 "
                                                "00000000     0        0 48100 2 000000002f5d3c05 0         ",
                                                &e),
                         0);
        assert_int_equal(e.local_addr, 0x7f000001);
        assert_int_equal(e.local_port, 12923);
        assert_int_equal(e.inode, 48100);
        /* Bound to any address, and a connected socket (the remote address is not ours). */
        assert_int_equal(procnet_udp_parse_line(" 2245: 00000000:8536 00000000:0000 07 00000000:00000000 00:00000000 "
                                                "00000000     0        0 48103 2 000000003aa5a30d 0",
                                                &e),
                         0);
        assert_int_equal(e.local_addr, 0);
        assert_int_equal(e.local_port, 34102);
        assert_int_equal(procnet_udp_parse_line(" 4249: 0100007F:8D0A 3500007F:0035 01 00000000:00000000 00:00000000 "
                                                "00000000     0        0 48101 2 00000000c9e14913 0",
                                                &e),
                         0);
        assert_int_equal(e.local_port, 0x8d0a);
        assert_int_equal(e.inode, 48101);
}

static void test_refused_lines(void **state) {
        const char *bad[] = {
                "   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref",
                /* udp6 */
                "13836: 00000000000000000000000000000000:327D 00000000000000000000000000000000:0000 07 00000000:00000000 "
                "00:00000000 00000000     0        0 48104 2 000000004b310ea0 0",
                /* sscanf's %x took a sign, a 0x prefix and short fields */
                "   1: -1:-43 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 48103",
                "   2: 0x7F:0x43 0 0 0 0 0 0 0 1",
                "   3: 0100007F:043 0 0 0 0 0 0 0 1",
                "   4: 0100007F:0043 0 0 0 0 0 0 0 -5",
                "   5: 0100007F:0043 0 0 0 0 0 0 0 18446744073709551616",
                "   6: 0100007F:0043 00000000:0000 07",
                "   7: 0100007F:0043",
                "",
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                ProcnetUdpEntry e;
                assert_int_equal(procnet_udp_parse_line(bad[i], &e), -EINVAL);
        }
}

/* Fields are split on every isspace() character, as the sscanf() reading did: a vertical tab inside a field
 * moves the inode, the same way for both (found by fuzz/fuzz_procnet). */
static void test_whitespace_like_sscanf(void **state) {
        ProcnetUdpEntry e;
        assert_int_equal(procnet_udp_parse_line("13878: 00000000:32A7 00000000:0000 07 00\v00000:00000000 00:00000000 "
                                                "00000000     0        0 48099 2 000000009e076bbd 0",
                                                &e),
                         0);
        assert_int_equal(e.inode, 0);
        assert_int_equal(procnet_udp_parse_line("1:\t0100007F:0043\t0\t0\t0\t0\t0\t0\t0\t77", &e), 0);
        assert_int_equal(e.local_port, 67);
        assert_int_equal(e.inode, 77);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_real_lines),
                cmocka_unit_test(test_refused_lines),
                cmocka_unit_test(test_whitespace_like_sscanf),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
