/* Tests of the invite codec and signed messages (src/crypto/invite.c, identity.c): a round trip keeps every
 * field, every single-byte change of the text is refused, another signer is refused, keys load back. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "basic/util.h"
#include "crypto/invite.h"

static Identity make_identity(void) {
        char path[] = "/tmp/pic-test-invite-XXXXXX";
        int fd = mkstemp(path);
        assert_true(fd >= 0);
        close(fd);
        unlink(path);
        Identity id;
        bool created = false;
        assert_int_equal(identity_load_or_create(path, &id, &created), 0);
        assert_true(created);
        /* Loading again gives the same key, and does not create a new one. */
        Identity again;
        assert_int_equal(identity_load_or_create(path, &again, &created), 0);
        assert_false(created);
        assert_memory_equal(id.pk, again.pk, sizeof id.pk);
        unlink(path);
        return id;
}

static Invite sample(const Identity *id) {
        Invite inv = { 0 };
        snprintf(inv.name, sizeof inv.name, "alpha");
        snprintf(inv.domain, sizeof inv.domain, "cell");
        identity_pk_to_string(id->pk, inv.identity);
        snprintf(inv.wg_key, sizeof inv.wg_key, "yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk=");
        snprintf(inv.host, sizeof inv.host, "192.0.2.1");
        inv.port = 51820;
        assert_int_equal(cidr4_parse("10.0.0.1/24", true, &inv.vpn), 0);
        assert_int_equal(cidr4_parse("172.20.0.0/27", true, &inv.range), 0);
        inv.dns_port = 53;
        snprintf(inv.share[inv.n_share++], sizeof inv.share[0], "calendar");
        inv.expires_at = 1900000000;
        snprintf(inv.nonce, sizeof inv.nonce, "AAECAwQFBgcICQoLDA0ODw");
        return inv;
}

static void test_round_trip(void **state) {
        Identity id = make_identity();
        Invite inv = sample(&id), back;
        char *text = NULL, why[200];
        assert_int_equal(invite_encode(&inv, &id, &text), 0);
        assert_true(strncmp(text, INVITE_PREFIX, strlen(INVITE_PREFIX)) == 0);
        assert_int_equal(invite_decode(text, &back, why, sizeof why), 0);
        assert_string_equal(back.name, "alpha");
        assert_string_equal(back.identity, inv.identity);
        assert_string_equal(back.host, "192.0.2.1");
        assert_int_equal(back.port, 51820);
        assert_int_equal(back.vpn.addr, inv.vpn.addr);
        assert_int_equal(back.vpn.prefix, 24);
        assert_int_equal(back.range.addr, inv.range.addr);
        assert_int_equal(back.n_share, 1);
        assert_string_equal(back.share[0], "calendar");
        assert_int_equal(back.expires_at, 1900000000);
        assert_string_equal(back.nonce, inv.nonce);
        free(text);
        identity_done(&id);
}

/* Every position, every other value of that byte that is still printable: refused. */
static void test_every_byte_change(void **state) {
        Identity id = make_identity();
        Invite inv = sample(&id), back;
        char *text = NULL;
        assert_int_equal(invite_encode(&inv, &id, &text), 0);
        size_t n = strlen(text);
        for (size_t i = 0; i < n; i++) {
                char saved = text[i];
                for (int ch = 0x21; ch < 0x7f; ch += 7) {
                        if (ch == saved)
                                continue;
                        text[i] = (char) ch;
                        assert_int_not_equal(invite_decode(text, &back, NULL, 0), 0);
                }
                text[i] = saved;
        }
        /* shorter and longer */
        text[n - 1] = '\0';
        assert_int_not_equal(invite_decode(text, &back, NULL, 0), 0);
        free(text);
        identity_done(&id);
}

/* An invite naming A's key but signed by B's is refused; so is one carrying B's key and A's signature. */
static void test_other_signer(void **state) {
        Identity a = make_identity(), b = make_identity();
        Invite inv = sample(&a), back;
        char *text = NULL, why[200] = "";
        assert_int_equal(invite_encode(&inv, &b, &text), 0);
        assert_int_equal(invite_decode(text, &back, why, sizeof why), -EBADMSG);
        assert_non_null(strstr(why, "signature"));
        free(text);
        identity_done(&a);
        identity_done(&b);
}

static void test_bad_fields(void **state) {
        Identity id = make_identity();
        Invite inv = sample(&id), back;
        char *text = NULL, why[200];
        snprintf(inv.name, sizeof inv.name, "Bad Name");
        assert_int_equal(invite_encode(&inv, &id, &text), 0);
        assert_int_equal(invite_decode(text, &back, why, sizeof why), -EBADMSG);
        assert_non_null(strstr(why, "name"));
        free(text);
        assert_int_equal(invite_decode("pic-invite:", &back, NULL, 0), -EBADMSG);
        assert_int_equal(invite_decode("hello", &back, NULL, 0), -EBADMSG);
        identity_done(&id);
}

static void test_signed_msg(void **state) {
        Identity a = make_identity(), b = make_identity();
        json_t *body = json_pack("{s:s, s:i}", "type", "join", "n", 7), *env = NULL, *back = NULL;
        assert_int_equal(signed_msg_encode(body, &a, "ctx", &env), 0);
        assert_int_equal(signed_msg_open(env, a.pk, "ctx", &back), 0);
        assert_true(json_equal(body, back));
        json_decref(back);
        assert_int_equal(signed_msg_open(env, b.pk, "ctx", &back), -EBADMSG);
        /* The same bytes under another context (an invite's) do not verify. */
        assert_int_equal(signed_msg_open(env, a.pk, "other", &back), -EBADMSG);
        json_decref(body);
        json_decref(env);
        identity_done(&a);
        identity_done(&b);
}

static void test_fingerprint(void **state) {
        uint8_t pk[IDENTITY_PK_BYTES] = { 0 };
        char fpr[IDENTITY_FPR_STRLEN], s[IDENTITY_PK_STRLEN];
        identity_fingerprint(pk, fpr);
        /* SHA-256 of 32 zero bytes */
        assert_string_equal(fpr, "SHA256:6668:7aad:f862:bd77:6c8f:c18b:8e9f:8e20:0897:1485:6ee2:33b3:902a:591d:0d5f:2925");
        identity_pk_to_string(pk, s);
        assert_int_equal(strlen(s), 43);
        assert_int_equal(identity_pk_from_string(s, pk), 0);
        s[42] = 'B'; /* non-zero unused bits: not canonical */
        assert_int_equal(identity_pk_from_string(s, pk), -EINVAL);
}

int main(void) {
        assert_int_equal(sodium_init() >= 0, 1);
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_round_trip),  cmocka_unit_test(test_every_byte_change),
                cmocka_unit_test(test_other_signer), cmocka_unit_test(test_bad_fields),
                cmocka_unit_test(test_signed_msg),  cmocka_unit_test(test_fingerprint),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
