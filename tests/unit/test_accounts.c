/* The forward_auth decision works from memory alone: after the index is built the cell's store is taken away
 * (a NULL store crashes any accessor), and every kind of answer still comes out right. Also the app-password
 * format and the normalisation of a hand-typed one, and the fast set (what Caddy may check in-process). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <sodium.h>
#include <stdlib.h>

#include "basic/fileio.h"
#include "basic/netaddr.h"
#include "basic/time-util.h"
#include "basic/util.h"
#include "core/accounts.h"
#include "core/cell.h"
#include "services/services.h"

typedef struct TestCell {
        char dir[64];
        Cell c;
} TestCell;

static int cell_up(void **state) {
        TestCell *t = calloc(1, sizeof *t);
        if (!t)
                return -1;
        snprintf(t->dir, sizeof t->dir, "/tmp/pic-accounts-XXXXXX");
        if (!mkdtemp(t->dir))
                return -1;
        char db[128];
        snprintf(db, sizeof db, "%s/picd.db", t->dir);
        Cell *c = &t->c;
        c->netns_fd = -1;
        c->state_dir = strdup(t->dir);
        if (secret_init() < 0 || settings_new(&c->settings) < 0 || services_register_all(c) < 0 ||
            store_open(db, &c->store) < 0 || settings_load(c->settings, c->store) < 0)
                return -1;
        *state = t;
        return 0;
}

static int cell_down(void **state) {
        TestCell *t = *state;
        accounts_free(&t->c);
        settings_free(t->c.settings);
        store_free(t->c.store);
        free(t->c.state_dir);
        int r = rm_rf(t->dir);
        free(t);
        return r;
}

static void add_peer(Cell *c, const char *name, uint32_t ip, uint32_t access, bool enabled) {
        Peer p = { .ip = ip, .access = access, .enabled = enabled, .created_at = 1, .updated_at = 1 };
        snprintf(p.name, sizeof p.name, "%s", name);
        snprintf(p.public_key, sizeof p.public_key, "%s%032u=", "AAAAAAAAAA", ip);
        assert_int_equal(store_peer_insert(c->store, &p), 0);
}

static void last_used(const StoreAppPassword *a, void *userdata) {
        *(int64_t *) userdata = a->last_used_at;
}

static char *basic(const char *user, const char *password, char *buf, size_t size) {
        char plain[256];
        snprintf(plain, sizeof plain, "%s:%s", user, password);
        memcpy(buf, "Basic ", 6);
        sodium_bin2base64(buf + 6, size - 6, (const unsigned char *) plain, strlen(plain), sodium_base64_VARIANT_ORIGINAL);
        return buf;
}

static void test_decision_needs_no_store(void **state) {
        TestCell *t = *state;
        Cell *c = &t->c;
        int cal = registry_grant_from_string(&c->registry, "calendar");
        int files = registry_grant_from_string(&c->registry, "files");
        assert_true(cal >= 0 && files >= 0);
        assert_int_equal(store_user_insert(c->store, "alice", "x", "user", NULL), 0);
        assert_int_equal(store_user_insert(c->store, "bob", "x", "user", NULL), 0);
        add_peer(c, "granted", 0x0a000002, 1u << cal, true);
        add_peer(c, "files-only", 0x0a000003, 1u << files, true);
        add_peer(c, "disabled", 0x0a000004, 1u << cal, false);
        assert_int_equal(accounts_new(c), 0);
        char secret[SECRET_APP_PASSWORD_STRLEN], bob_secret[SECRET_APP_PASSWORD_STRLEN];
        int64_t id;
        PicError err = { 0 };
        json_t *body = json_pack("{s:s}", "label", "phone");
        assert_int_equal(app_password_create(c, "alice", body, secret, &id, &err), 0);
        assert_int_equal(app_password_create(c, "bob", body, bob_secret, &id, &err), 0);
        json_decref(body);
        StoreUser alice;
        assert_int_equal(store_user_get_by_name(c->store, "alice", &alice), 0);
        uint8_t sh[32];
        secret_token_hash("pic_session-cookie-value", sh);
        int64_t now = wall_sec();
        assert_int_equal(store_session_insert(c->store, sh, alice.id, "csrf", now, now + 3600), 0);
        assert_int_equal(accounts_creds_changed(c), 0);

        Store *s = c->store;
        c->store = NULL; /* from here any store access would crash */
        char h[256], user[64];
        bool failed;
        for (int round = 0; round < 1000; round++) {
                assert_int_equal(accounts_authorize(c, "calendar", "10.0.0.2", basic("alice", secret, h, sizeof h), NULL,
                                                    1800, user, &failed), 0);
                assert_string_equal(user, "alice");
        }
        assert_int_equal(accounts_authorize(c, "calendar", "10.0.0.2", NULL, "pic_session-cookie-value", 1800, user,
                                            &failed), 0);
        assert_string_equal(user, "alice");
        assert_int_equal(accounts_authorize(c, "calendar", "10.0.0.2", NULL, "pic_other", 1800, user, &failed), -EACCES);
        assert_int_equal(accounts_authorize(c, "calendar", "10.0.0.2", basic("alice", bob_secret, h, sizeof h), NULL,
                                            1800, user, &failed), -EACCES);
        assert_true(failed);
        assert_int_equal(accounts_authorize(c, "calendar", "10.0.0.2", NULL, NULL, 1800, user, &failed), -EACCES);
        assert_false(failed);
        assert_int_equal(accounts_authorize(c, "calendar", "10.0.0.3", basic("alice", secret, h, sizeof h), NULL,
                                            1800, user, &failed), -EPERM);
        assert_int_equal(accounts_authorize(c, "files", "10.0.0.3", basic("bob", bob_secret, h, sizeof h), NULL,
                                            1800, user, &failed), 0);
        assert_string_equal(user, "bob");
        assert_int_equal(accounts_authorize(c, "calendar", "10.0.0.4", basic("alice", secret, h, sizeof h), NULL,
                                            1800, user, &failed), -EPERM);
        assert_int_equal(accounts_authorize(c, "calendar", "10.0.0.9", basic("alice", secret, h, sizeof h), NULL,
                                            1800, user, &failed), -EPERM);
        assert_int_equal(accounts_authorize(c, "calendar", "127.0.0.1", basic("alice", secret, h, sizeof h), NULL,
                                            1800, user, &failed), 0);
        assert_int_equal(accounts_authorize(c, "nope", "127.0.0.1", basic("alice", secret, h, sizeof h), NULL, 1800,
                                            user, &failed), -EPERM);
        /* The mail site (webmail) is grant-only: its HTTPS site asks about the address alone, and a peer without
         * the grant is refused. The same service asked the ordinary question (IMAP logins) still needs a valid
         * credential, and no other service can be asked the grant-only question. */
        int mail = registry_grant_from_string(&c->registry, "mail");
        assert_true(mail >= 0 && registry_find(&c->registry, "mail")->http_grant_only);
        Peer before = { .ip = 0x0a000005, .access = 1u << cal, .enabled = true };
        Peer after = before;
        after.access |= 1u << mail;
        snprintf(after.name, sizeof after.name, "mailer");
        snprintf(before.name, sizeof before.name, "mailer");
        accounts_peer_changed(c, NULL, &before);
        assert_int_equal(accounts_authorize_source(c, "mail", "10.0.0.5"), -EPERM);
        accounts_peer_changed(c, &before, &after);
        assert_int_equal(accounts_authorize_source(c, "mail", "10.0.0.5"), 0);
        assert_int_equal(accounts_authorize_source(c, "mail", "127.0.0.1"), 0);
        assert_int_equal(accounts_authorize_source(c, "mail", "10.0.0.2"), -EPERM);
        assert_int_equal(accounts_authorize_source(c, "mail", NULL), -EPERM);
        assert_int_equal(accounts_authorize_source(c, "calendar", "10.0.0.5"), -EPERM);
        assert_int_equal(accounts_authorize_source(c, "nope", "127.0.0.1"), -EPERM);
        assert_int_equal(accounts_authorize(c, "mail", "10.0.0.5", NULL, NULL, 1800, user, &failed), -EACCES);
        assert_int_equal(accounts_authorize(c, "mail", "10.0.0.5", basic("alice", "wrong", h, sizeof h), NULL, 1800,
                                            user, &failed), -EACCES);
        assert_true(failed);
        c->store = s;

        /* The last use reaches the store with the flush. */
        accounts_flush(c);
        int64_t used = 0;
        assert_int_equal(store_app_password_foreach(c->store, alice.id, last_used, &used), 0);
        assert_true(used >= now);
}

static int fast_calls;
static void count_fast(Cell *c) {
        fast_calls++;
}

/* An accepted app password enters the fast set once, as scrypt of exactly what the client sent; a revoke takes
 * it out with its entry while the user's other one stays; held sources are listed until their time. */
static void test_fast_set(void **state) {
        TestCell *t = *state;
        Cell *c = &t->c;
        int cal = registry_grant_from_string(&c->registry, "calendar");
        assert_int_equal(store_user_insert(c->store, "carol", "x", "user", NULL), 0);
        add_peer(c, "p1", 0x0a000005, 1u << cal, true);
        add_peer(c, "p2", 0x0a000006, 1u << cal, false);
        add_peer(c, "p3", 0x0a000007, 0, true);
        assert_int_equal(accounts_new(c), 0);
        c->authz_changed = count_fast;
        char s1[SECRET_APP_PASSWORD_STRLEN], s2[SECRET_APP_PASSWORD_STRLEN], h[256], user[64];
        int64_t id1, id2;
        PicError err = { 0 };
        json_t *body = json_pack("{s:s}", "label", "phone");
        assert_int_equal(app_password_create(c, "carol", body, s1, &id1, &err), 0);
        assert_int_equal(app_password_create(c, "carol", body, s2, &id2, &err), 0);
        json_decref(body);
        uint32_t *ips = NULL;
        size_t n = 0;
        assert_int_equal(accounts_granted_peers(c, cal, &ips, &n), 0);
        assert_int_equal(n, 1);
        assert_int_equal(ips[0], 0x0a000005);
        free(ips);

        bool failed;
        AccountsFastCred *fast = NULL;
        assert_int_equal(accounts_authorize(c, "calendar", "10.0.0.5", basic("carol", "wrong", h, sizeof h), NULL, 1800,
                                            user, &failed), -EACCES);
        assert_int_equal(fast_calls, 0);
        assert_int_equal(accounts_authorize(c, "calendar", "10.0.0.5", basic("carol", s2, h, sizeof h), NULL, 1800, user,
                                            &failed), 0);
        assert_int_equal(fast_calls, 1);
        /* Again before the proxy rendered it: the client is still busy, so the push waits longer (debounce). */
        assert_int_equal(accounts_authorize(c, "calendar", "10.0.0.5", basic("carol", s2, h, sizeof h), NULL, 1800, user,
                                            &failed), 0);
        assert_int_equal(fast_calls, 2);
        assert_int_equal(accounts_authorize(c, "calendar", "10.0.0.5", basic("carol", s1, h, sizeof h), NULL, 1800, user,
                                            &failed), 0);
        assert_int_equal(fast_calls, 3);
        assert_int_equal(accounts_fast_creds(c, &fast, &n), 0);
        assert_int_equal(n, 2);
        /* Rendered: a use that still reaches picd (another site, a source outside the route) asks for no push. */
        assert_int_equal(accounts_authorize(c, "calendar", "10.0.0.5", basic("carol", s2, h, sizeof h), NULL, 1800, user,
                                            &failed), 0);
        assert_int_equal(fast_calls, 3);
        /* By user, then oldest first. */
        assert_true(fast[0].id == id1 && fast[1].id == id2);
        assert_string_equal(fast[0].user, "carol");
        uint8_t salt[PROXY_FAST_SALT_BYTES], want[PROXY_FAST_HASH_BYTES];
        size_t len;
        assert_int_equal(sodium_base642bin(salt, sizeof salt, fast[0].salt, strlen(fast[0].salt), NULL, &len, NULL,
                                           sodium_base64_VARIANT_ORIGINAL), 0);
        assert_int_equal(crypto_pwhash_scryptsalsa208sha256_ll((const uint8_t *) s1, strlen(s1), salt, sizeof salt,
                                                               PROXY_FAST_SCRYPT_N, PROXY_FAST_SCRYPT_R,
                                                               PROXY_FAST_SCRYPT_P, want, sizeof want), 0);
        char want64[48];
        sodium_bin2base64(want64, sizeof want64, want, sizeof want, sodium_base64_VARIANT_ORIGINAL);
        assert_string_equal(fast[0].hash, want64);
        free(fast);

        /* Revoked: gone from the set; the other one stays. */
        assert_int_equal(app_password_delete(c, "carol", id1, &err), 0);
        assert_int_equal(accounts_fast_creds(c, &fast, &n), 0);
        assert_int_equal(n, 1);
        assert_int_equal(fast[0].id, id2);
        free(fast);
        assert_true(accounts_fast_clear(c));
        assert_false(accounts_fast_clear(c));
        assert_int_equal(accounts_fast_creds(c, &fast, &n), 0);
        assert_int_equal(n, 0);
        free(fast);

        int64_t now = wall_sec();
        accounts_source_held(c, 0x0a000009, now + 60);
        accounts_source_held(c, 0x0a000008, now - 1);
        assert_int_equal(accounts_held_sources(c, now, &ips, &n), 0);
        assert_int_equal(n, 1);
        assert_int_equal(ips[0], 0x0a000009);
        free(ips);
        c->authz_changed = NULL;
}

/* The account password counts only from the webmail's own address (the mail virtual IP, where the mail server
 * sees Roundcube), is checked against its argon2id hash once and then answered from memory, and a new password or
 * a deleted user holds from the next login on. */
static void test_webmail_account_password(void **state) {
        TestCell *t = *state;
        Cell *c = &t->c;
        char pwhash[SECRET_PWHASH_STRLEN], h[256], user[64];
        bool failed;
        int64_t id;
        assert_int_equal(secret_password_hash("carol-password-1", pwhash), 0);
        assert_int_equal(store_user_insert(c->store, "carol", pwhash, "user", &id), 0);
        add_peer(c, "mailer", 0x0a000007, 1u << registry_grant_from_string(&c->registry, "mail"), true);
        assert_int_equal(accounts_new(c), 0);
        Cidr4 range;
        uint32_t vip;
        char webmail[IPV4_STRLEN];
        assert_int_equal(settings_ip_range(c->settings, &range), 0);
        assert_int_equal(registry_vip(&c->registry, &range, "mail", &vip), 0);
        ipv4_format(vip, webmail);

        assert_int_equal(accounts_authorize(c, "mail", webmail, basic("carol", "carol-password-1", h, sizeof h), NULL,
                                            1800, user, &failed), 0);
        assert_string_equal(user, "carol");
        /* Anywhere else it is no credential: a peer, another local address, another service. */
        assert_int_equal(accounts_authorize(c, "mail", "10.0.0.7", basic("carol", "carol-password-1", h, sizeof h), NULL,
                                            1800, user, &failed), -EACCES);
        assert_true(failed);
        assert_int_equal(accounts_authorize(c, "mail", "127.0.0.1", basic("carol", "carol-password-1", h, sizeof h),
                                            NULL, 1800, user, &failed), -EACCES);
        assert_int_equal(accounts_authorize(c, "calendar", webmail, basic("carol", "carol-password-1", h, sizeof h),
                                            NULL, 1800, user, &failed), -EACCES);
        /* A wrong one is refused, and not counted against the address every webmail user shares. */
        assert_int_equal(accounts_authorize(c, "mail", webmail, basic("carol", "carol-password-2", h, sizeof h), NULL,
                                            1800, user, &failed), -EACCES);
        assert_false(failed);
        assert_int_equal(accounts_authorize(c, "mail", webmail, basic("nobody", "carol-password-1", h, sizeof h), NULL,
                                            1800, user, &failed), -EACCES);
        /* Answered from memory the second time. */
        Store *s = c->store;
        c->store = NULL;
        assert_int_equal(accounts_authorize(c, "mail", webmail, basic("carol", "carol-password-1", h, sizeof h), NULL,
                                            1800, user, &failed), 0);
        c->store = s;
        /* An app password is a device's: not the webmail's. */
        char app[SECRET_APP_PASSWORD_STRLEN];
        json_t *label = json_pack("{s:s}", "label", "phone");
        PicError err = { 0 };
        int64_t app_id;
        assert_int_equal(app_password_create(c, "carol", label, app, &app_id, &err), 0);
        json_decref(label);
        assert_int_equal(accounts_authorize(c, "mail", webmail, basic("carol", app, h, sizeof h), NULL, 1800, user,
                                            &failed), -EACCES);
        assert_int_equal(accounts_authorize(c, "mail", "10.0.0.7", basic("carol", app, h, sizeof h), NULL, 1800, user,
                                            &failed), 0);
        /* A new password: the old one stops at once. */
        assert_int_equal(secret_password_hash("carol-password-3", pwhash), 0);
        assert_int_equal(store_user_set_password(c->store, id, pwhash), 0);
        assert_int_equal(accounts_creds_changed(c), 0);
        assert_int_equal(accounts_authorize(c, "mail", webmail, basic("carol", "carol-password-1", h, sizeof h), NULL,
                                            1800, user, &failed), -EACCES);
        assert_int_equal(accounts_authorize(c, "mail", webmail, basic("carol", "carol-password-3", h, sizeof h), NULL,
                                            1800, user, &failed), 0);
        /* The user deleted: refused too. */
        assert_int_equal(store_user_delete(c->store, id), 0);
        assert_int_equal(accounts_creds_changed(c), 0);
        assert_int_equal(accounts_authorize(c, "mail", webmail, basic("carol", "carol-password-3", h, sizeof h), NULL,
                                            1800, user, &failed), -EACCES);
}

static void test_app_password_format(void **state) {
        uint8_t key[SECRET_KEY_BYTES] = { 1, 2, 3 }, h1[32], h2[32];
        char pw[SECRET_APP_PASSWORD_STRLEN], typed[SECRET_APP_PASSWORD_STRLEN];
        assert_int_equal(secret_init(), 0);
        secret_app_password_new(pw);
        assert_int_equal(strlen(pw), 47);
        for (size_t i = 0; i < strlen(pw); i++)
                assert_true(i % 6 == 5 ? pw[i] == '-' : strchr("abcdefghijklmnopqrstuvwxyz234567", pw[i]) != NULL);
        size_t o = 0;
        for (size_t i = 0; pw[i]; i++)
                if (pw[i] != '-')
                        typed[o++] = (char) (pw[i] >= 'a' && pw[i] <= 'z' ? pw[i] - 'a' + 'A' : pw[i]);
        typed[o] = '\0';
        assert_int_equal(secret_app_password_hash(key, pw, h1), 0);
        assert_int_equal(secret_app_password_hash(key, typed, h2), 0);
        assert_memory_equal(h1, h2, 32);
        typed[o - 1] = '\0';
        assert_int_equal(secret_app_password_hash(key, typed, h2), -EINVAL);
        assert_int_equal(secret_app_password_hash(key, "", h2), -EINVAL);
        key[0] = 9;
        assert_int_equal(secret_app_password_hash(key, pw, h2), 0);
        assert_memory_not_equal(h1, h2, 32);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_decision_needs_no_store, cell_up, cell_down),
                cmocka_unit_test_setup_teardown(test_fast_set, cell_up, cell_down),

                cmocka_unit_test_setup_teardown(test_webmail_account_password, cell_up, cell_down),
                cmocka_unit_test(test_app_password_format),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
