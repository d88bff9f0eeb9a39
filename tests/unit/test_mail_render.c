/* Tests of the mail stack's rendered files (src/services/mail/render.c) against golden files, and the rules that
 * matter most stated on their own: no relaying without AUTH, the login map, the policy check at RCPT, limits, TLS
 * on submission, devices through pic-mail-auth only. The real daemons load them in tests/integration/test_mail.py. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>
#include <errno.h>

#include "golden.h"
#include "services/mail/render.h"

static const MailUser users[] = { { "admin", true }, { "alice", false }, { "bob", false } };
static const char *const team[] = { "alice", "bob" };
static const MailAlias aliases[] = { { "team", team, 2 } };

static MailConfig config(void) {
        return (MailConfig) {
                .domain = "mycell.cell",
                .hostname = "mail.mycell.cell",
                .vip = 0xac14000c,
                .smtp_port = 25,
                .submission_port = 587,
                .submissions_port = 465,
                .imap_port = 143,
                .imaps_port = 993,
                .postfix_dir = "/var/lib/pic/etc/mail",
                .queue_dir = "/var/lib/pic/data/mail/queue",
                .postfix_data = "/var/lib/pic/data/mail/postfix",
                .maildir_root = "/var/lib/pic/data/mail/users",
                .dovecot_state = "/var/lib/pic/data/mail/dovecot",
                .dovecot_base = "/var/lib/pic/run/mail/dovecot",
                .run_dir = "/var/lib/pic/run/mail",
                .cert = "/var/lib/pic/keys/ca/mail-01.pem",
                .key = "/var/lib/pic/keys/ca/mail-01.key",
                .dkim_socket = "/var/lib/pic/run/mail/opendkim/opendkim.sock",
                .dkim_key = "/var/lib/pic/keys/mail/dkim/mycell.cell/pic.private",
                .dkim_selector = "pic",
                .dkim_pid = "/var/lib/pic/run/mail/opendkim/opendkim.pid",
                .auth_socket = "/var/lib/pic/run/auth.sock",
                .auth_helper = "/usr/lib/pic/pic-mail-auth",
                .quota_mb = 1024,
                .message_size_mb = 25,
                .recipient_limit = 100,
                .connection_rate = 60,
                .relay_host = "",
                .relay_port = 587,
                .users = users,
                .n_users = 3,
                .aliases = aliases,
                .n_aliases = 1,
        };
}

/* The text lives on the heap: GCC's dangling-pointer check cannot see through a helper that returns it. */
#define RENDER(fn, m, out)                              \
        do {                                            \
                (out) = NULL;                           \
                assert_int_equal((fn)((m), &(out)), 0); \
                assert_non_null(out);                   \
        } while (0)

static void test_golden(void **state) {
        MailConfig m = config();
        static const struct {
                const char *golden;
                int (*fn)(const MailConfig *, char **);
        } files[] = { { "mail-main.cf", mail_render_main_cf },         { "mail-master.cf", mail_render_master_cf },
                      { "mail-mailboxes", mail_render_mailboxes },     { "mail-virtual", mail_render_virtual },
                      { "mail-senders", mail_render_senders },         { "mail-local-senders", mail_render_local_senders },
                      { "mail-dovecot.conf", mail_render_dovecot },    { "mail-opendkim.conf", mail_render_opendkim } };
        for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
                char *text;
                RENDER(files[i].fn, &m, text);
                assert_int_equal(golden_check(files[i].golden, text), 0);
                free(text);
        }
}

static void test_rules(void **state) {
        MailConfig m = config();
        char *main_cf, *master;
        RENDER(mail_render_main_cf, &m, main_cf);
        RENDER(mail_render_master_cf, &m, master);
        /* Port 25 never relays and refuses our own domain as a sender; unknown users are refused at RCPT. */
        assert_non_null(strstr(main_cf, "smtpd_relay_restrictions = reject_unauth_destination\n"));
        assert_non_null(strstr(main_cf, "check_sender_access texthash:/var/lib/pic/etc/mail/local-senders"));
        assert_non_null(strstr(main_cf, "smtpd_reject_unlisted_recipient = yes\n"));
        assert_non_null(strstr(main_cf, "mynetworks =\n"));
        assert_non_null(strstr(main_cf, "message_size_limit = 26214400\n"));
        assert_non_null(strstr(main_cf, "smtpd_client_connection_rate_limit = 60\n"));
        assert_null(strstr(main_cf, "relayhost"));
        /* Both submission ports: TLS required before AUTH, the login map checked, signed by OpenDKIM. */
        const char *p = strstr(master, "172.20.0.12:587 inet");
        const char *q = strstr(master, "172.20.0.12:465 inet");
        assert_non_null(p);
        assert_non_null(q);
        assert_non_null(strstr(p, "smtpd_tls_security_level=encrypt"));
        assert_non_null(strstr(q, "smtpd_tls_wrappermode=yes"));
        assert_non_null(strstr(p, "reject_sender_login_mismatch"));
        assert_non_null(strstr(p, "smtpd_tls_auth_only=yes"));
        assert_non_null(strstr(p, "smtpd_milters=unix:/var/lib/pic/run/mail/opendkim/opendkim.sock"));
        free(main_cf);
        free(master);

        char *dc;
        RENDER(mail_render_dovecot, &m, dc);
        assert_non_null(strstr(dc, "driver = checkpassword\n  args = /usr/lib/pic/pic-mail-auth\n"));
        assert_non_null(strstr(dc, "auth_cache_size = 0\n"));
        assert_non_null(strstr(dc, "quota_rule = *:storage=1024M\n"));
        assert_non_null(strstr(dc, "quota_full_tempfail = yes\n"));
        assert_null(strstr(dc, "passwd-file"));
        free(dc);

        /* An alias's targets may send as it; postmaster@ and abuse@ reach the admins only. */
        char *senders, *virt;
        RENDER(mail_render_senders, &m, senders);
        RENDER(mail_render_virtual, &m, virt);
        assert_non_null(strstr(senders, "team@mycell.cell alice, bob\n"));
        assert_non_null(strstr(virt, "postmaster@mycell.cell admin@mycell.cell\n"));
        free(senders);
        free(virt);
}

static void test_relay_and_no_quota(void **state) {
        MailConfig m = config();
        m.relay_host = "smtp.example.net";
        m.quota_mb = 0;
        char *main_cf, *dc;
        RENDER(mail_render_main_cf, &m, main_cf);
        RENDER(mail_render_dovecot, &m, dc);
        assert_non_null(strstr(main_cf, "relayhost = [smtp.example.net]:587\n"));
        /* A relay without a login: no SASL, opportunistic TLS as for any other server. */
        assert_null(strstr(main_cf, "smtp_sasl"));
        assert_non_null(strstr(main_cf, "smtp_tls_security_level = may\n"));
        assert_null(strstr(dc, "quota_rule"));
        free(main_cf);
        free(dc);
}

/* With a login: SASL on, the map is the 0600 file, TLS required (verified against the system's CAs when asked), and
 * the map's key is the relay exactly as relayhost names it. */
static void test_relay_login(void **state) {
        MailConfig m = config();
        m.relay_host = "smtp.example.net";
        m.relay_port = 465;
        m.relay_login = "cell@example.net:pa:ss!w0rd";
        m.relay_tls_verify = true;
        m.relay_cafile = "/etc/ssl/certs/ca-certificates.crt";
        char *main_cf, *map;
        RENDER(mail_render_main_cf, &m, main_cf);
        RENDER(mail_render_relay_login, &m, map);
        assert_int_equal(golden_check("mail-main-relay-login.cf", main_cf), 0);
        assert_string_equal(map, "[smtp.example.net]:465 cell@example.net:pa:ss!w0rd\n");
        assert_non_null(strstr(main_cf, "smtp_sasl_password_maps = texthash:/var/lib/pic/etc/mail/relay-login\n"));
        assert_non_null(strstr(main_cf, "smtp_tls_security_level = secure\n"));
        assert_null(strstr(main_cf, "smtp_tls_security_level = may"));
        assert_null(strstr(main_cf, "pa:ss"));
        free(main_cf);

        m.relay_tls_verify = false;
        RENDER(mail_render_main_cf, &m, main_cf);
        assert_non_null(strstr(main_cf, "smtp_tls_security_level = encrypt\n"));
        assert_null(strstr(main_cf, "smtp_tls_CAfile"));
        free(main_cf);
        free(map);

        /* A login without a relay host is kept for later but used nowhere: no server gets it. */
        m.relay_host = "";
        RENDER(mail_render_main_cf, &m, main_cf);
        RENDER(mail_render_relay_login, &m, map);
        assert_null(strstr(main_cf, "smtp_sasl"));
        assert_string_equal(map, "");
        free(main_cf);
        free(map);
}

static void test_dkim_txt(void **state) {
        const char *genkey = "pic._domainkey\tIN\tTXT\t( \"v=DKIM1; h=sha256; k=rsa; \"\n\t  \"p=MIIBIjAN\"\n"
                             "\t  \"BgkqhkiG\" )  ; ----- DKIM key pic for mycell.cell\n";
        char *v = NULL;
        assert_int_equal(mail_dkim_txt_value(genkey, &v), 0);
        assert_string_equal(v, "v=DKIM1; h=sha256; k=rsa; p=MIIBIjANBgkqhkiG");
        free(v);
        assert_int_equal(mail_dkim_txt_value("no record here", &v), -EINVAL);
        assert_int_equal(mail_dkim_txt_value("x ( \"v=DKIM1; k=rsa\" )", &v), -EINVAL);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_golden),
                cmocka_unit_test(test_rules),
                cmocka_unit_test(test_relay_and_no_quota),
                cmocka_unit_test(test_relay_login),
                cmocka_unit_test(test_dkim_txt),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
