/* Tests of how unbound remote-control replies are judged (src/services/dns/unbound-ctl.c), on replies a real
 * unbound 1.17 wrote: unbound answers failures with text, not a status, so this decides what the API says. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <setjmp.h>
#include <cmocka.h>

#include "services/dns/unbound-ctl.h"

static int check(const char *reply, size_t len, PicError *err) {
        memset(err, 0, sizeof *err);
        return unbound_ctl_reply_check(reply, len, err);
}

static void test_real_replies(void **state) {
        PicError err;
        const char status[] = "version: 1.17.1\nverbosity: 1\nthreads: 1\nmodules: 3 [ subnetcache validator iterator ]\n"
                              "uptime: 7 seconds\noptions: reuseport control(namedpipe)\nunbound (pid 16681) is running...\n";
        assert_int_equal(check(status, strlen(status), &err), 0);
        assert_int_equal(check("added 2 datas\n", 14, &err), 0);
        assert_int_equal(check("", 0, &err), 0);
        const char bad[] = "error parsing local-data at line 1 position 26 'www.mycell.cell. 300 IN A 999.1.1.1': "
                           "Conversion error, ip4 addr expected\nadded 0 datas\n";
        assert_int_equal(check(bad, strlen(bad), &err), -EBADMSG);
        assert_string_equal(err.code, "rejected");
        assert_string_equal(err.message, "unbound: error parsing local-data at line 1 position 26 'www.mycell.cell. 300 IN "
                                         "A 999.1.1.1': Conversion error, ip4 addr expected");
        assert_int_equal(check("error unknown command 'frobnicate'\n", 35, &err), -EBADMSG);
        assert_string_equal(err.message, "unbound: error unknown command 'frobnicate'");
}

/* A NUL byte used to end the reply early for every reader, so an error line after it went unseen. */
static void test_nul_is_refused(void **state) {
        PicError err;
        const char reply[] = "ok\0error hidden behind a NUL\n";
        assert_int_equal(check(reply, sizeof reply - 1, &err), -EBADMSG);
        assert_string_equal(err.message, "unbound's answer holds a NUL byte");
}

/* unbound echoes the data line it refused; the API message must stay valid UTF-8 (jansson refuses anything
 * else and the error reply would be lost), so it is cut to plain ASCII and one short line. */
static void test_message_is_short_ascii(void **state) {
        PicError err;
        const char cut[] = "added 0 datas\nerror parsing local-data 'txt.mycell.cell. 300 IN TXT \"caf\xc3\xa9\xe2\x82";
        assert_int_equal(check(cut, strlen(cut), &err), -EBADMSG);
        assert_string_equal(err.message, "unbound: error parsing local-data 'txt.mycell.cell. 300 IN TXT \"caf????");
        char big[3100];
        memset(big, 'A', sizeof big);
        memcpy(big, "error ", 6);
        memcpy(big + sizeof big - 8, "\r\t\x1b[31m\n", 8);
        assert_int_equal(check(big, sizeof big, &err), -EBADMSG);
        assert_int_equal(strlen(err.message), strlen("unbound: ") + 400);
        const char ctl[] = "error at\tcolumn\r\n";
        assert_int_equal(check(ctl, strlen(ctl), &err), -EBADMSG);
        assert_string_equal(err.message, "unbound: error at column");
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_real_replies),
                cmocka_unit_test(test_nul_is_refused),
                cmocka_unit_test(test_message_is_short_ascii),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
