/* Tests of the webmail's generated files (src/services/webmail/render.c) against golden copies, and the grammar
 * that keeps a path or key with a quote, space or newline out of php-fpm's ini and Roundcube's PHP. The real
 * php-fpm and Roundcube read these files in tests/integration/test_webmail.py. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "golden.h"
#include "services/webmail/render.h"

static WebmailConfig config(void) {
        return (WebmailConfig) { .fpm_socket = "/var/lib/pic/run/proxied/webmail-fpm.sock",
                                 .proxy_group = "caddy",
                                 .view_dir = "/run/pic/webmail-0123456789abcdef",
                                 .des_key = "abcdefghijklmnopqrstuv-_",
                                 .user = "www-data",
                                 .mail_host = "mail.mycell.cell",
                                 .mail_domain = "mycell.cell",
                                 .mail_vip = 0xac14000c,
                                 .imap_port = 993,
                                 .submission_port = 587,
                                 .max_children = 4 };
}

static void check(int (*render)(const WebmailConfig *, char **), const char *golden) {
        WebmailConfig c = config();
        char *text = NULL;
        assert_int_equal(render(&c, &text), 0);
        assert_int_equal(golden_check(golden, text), 0);
        free(text);
}

static void test_golden(void **state) {
        check(webmail_render_fpm_conf, "webmail-php-fpm.conf");
        check(webmail_render_php_ini, "webmail-php.ini");
        check(webmail_render_roundcube, "webmail-config.inc.php");
        char *text = NULL;
        assert_int_equal(webmail_render_defaults(&text), 0);
        assert_int_equal(golden_check("webmail-defaults.inc.php", text), 0);
        free(text);
}

static void test_what_the_files_promise(void **state) {
        WebmailConfig c = config();
        char *fpm = NULL, *rc = NULL;
        assert_int_equal(webmail_render_fpm_conf(&c, &fpm), 0);
        assert_int_equal(webmail_render_roundcube(&c, &rc), 0);
        /* The key is handed to the workers by the root-only php-fpm.conf, never written into Roundcube's file. */
        assert_non_null(strstr(fpm, "env[PIC_WEBMAIL_DES_KEY] = abcdefghijklmnopqrstuv-_\n"));
        assert_null(strstr(rc, c.des_key));
        /* Caddy, its own user, connects through its group; no one else can. */
        assert_non_null(strstr(fpm, "listen.owner = root\nlisten.group = caddy\nlisten.mode = 0660\n"));
        assert_null(strstr(fpm, "include"));
        /* IMAP over implicit TLS and submission with STARTTLS to the mail address, both checked against the CA. */
        assert_non_null(strstr(rc, "$config['imap_host'] = 'ssl://172.20.0.12:993';\n"));
        assert_non_null(strstr(rc, "$config['smtp_host'] = 'tls://172.20.0.12:587';\n"));
        assert_non_null(strstr(rc, "'cafile' => '/run/pic/webmail-0123456789abcdef/etc/ca.pem'"));
        assert_non_null(strstr(rc, "'peer_name' => 'mail.mycell.cell'"));
        /* From the mail address itself, the one source where picd takes the account password. */
        assert_non_null(strstr(rc, "'socket' => ['bindto' => '172.20.0.12:0'],"));
        free(fpm);
        free(rc);
}

static void test_words_that_are_not_plain(void **state) {
        const char *bad[] = { "", "/a b", "/a'b", "/a\"b", "/a\nb", "/a;b", "/a/../b", "/a$b", "/a\\b", "/a{b}", "/ä" };
        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
                assert_false(webmail_word_is_plain(bad[i]));
                WebmailConfig c = config();
                c.view_dir = bad[i];
                char *text = NULL;
                assert_int_equal(webmail_render_fpm_conf(&c, &text), -EINVAL);
                assert_int_equal(webmail_render_roundcube(&c, &text), -EINVAL);
                assert_null(text);
        }
        assert_true(webmail_word_is_plain("/var/lib/pic-1/run_x.sock"));
        WebmailConfig c = config();
        char *text = NULL;
        c.des_key = "short";
        assert_int_equal(webmail_render_fpm_conf(&c, &text), -EINVAL);
        c = config();
        c.fpm_socket = "relative.sock";
        assert_int_equal(webmail_render_fpm_conf(&c, &text), -EINVAL);
        c = config();
        c.imap_port = 0;
        assert_int_equal(webmail_render_roundcube(&c, &text), -EINVAL);
        assert_null(text);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_golden),
                cmocka_unit_test(test_what_the_files_promise),
                cmocka_unit_test(test_words_that_are_not_plain),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
