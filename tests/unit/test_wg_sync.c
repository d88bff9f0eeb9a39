/* Tests of the reconcile diff (src/services/wireguard/sync.c): missing peers are added, unknown ones removed,
 * wrong preshared keys and allowed IPs fixed, matching ones left alone — and a second pass has nothing to do.
 * Disabled peers stay on the interface with no allowed IPs. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>

#include "basic/netaddr.h"
#include "basic/util.h"
#include "crypto/secret.h"
#include "crypto/wgkey.h"
#include "services/wireguard/sync.h"

static WgLivePeer live_of(const WgWantPeer *w) {
        WgLivePeer l = { 0 };
        char ip[IPV4_STRLEN];
        snprintf(l.public_key, sizeof l.public_key, "%s", w->public_key);
        if (w->enabled) {
                snprintf(l.allowed_ips, sizeof l.allowed_ips, "%s/32", ipv4_format(w->ip, ip));
                l.n_allowed_ips = 1;
        }
        wg_psk_digest(w->preshared_key, l.psk_digest);
        l.has_preshared_key = *w->preshared_key != '\0';
        return l;
}

static bool has_line_for(const char *cmds, const char *key_b64, const char *then) {
        char hex[WG_KEY_HEXLEN], needle[200];
        assert_int_equal(wg_key_to_hex(key_b64, hex), 0);
        snprintf(needle, sizeof needle, "public_key=%s\n%s", hex, then);
        return strstr(cmds, needle) != NULL;
}

static void test_sync(void **state) {
        WgWantPeer want[4];
        char unknown[WG_KEY_STRLEN], psk[WG_KEY_STRLEN];
        for (int i = 0; i < 4; i++) {
                want[i] = (WgWantPeer) { .ip = 0x0a000002 + (uint32_t) i, .enabled = true };
                wg_key_random(want[i].public_key);
                wg_key_random(want[i].preshared_key);
        }
        want[1].preshared_key[0] = '\0'; /* a client-key peer: no preshared key */
        wg_key_random(unknown);
        wg_key_random(psk);

        WgLivePeer live[4];
        live[0] = live_of(&want[0]);                   /* right: untouched */
        live[1] = live_of(&want[1]);
        snprintf(live[1].allowed_ips, sizeof live[1].allowed_ips, "0.0.0.0/0"); /* wrong allowed IP */
        live[2] = live_of(&want[2]);
        wg_psk_digest(psk, live[2].psk_digest);        /* wrong preshared key */
        WgWantPeer other = { .ip = 0x0a0000fe, .enabled = true };
        snprintf(other.public_key, sizeof other.public_key, "%s", unknown);
        live[3] = live_of(&other);                     /* unknown: removed */
        /* want[3] is not live: added */

        WgCmds m;
        WgSyncStats st;
        assert_int_equal(wg_sync_commands(want, 4, live, 4, &m, &st), 0);
        assert_int_equal(st.added, 1);
        assert_int_equal(st.removed, 1);
        assert_int_equal(st.fixed, 2);
        /* want[] was sorted in place: find the peers by key again. */
        const char *cmds = m.buf;
        assert_true(has_line_for(cmds, unknown, "remove=true\n"));
        int untouched = 0;
        for (int i = 0; i < 4; i++) {
                bool listed = has_line_for(cmds, want[i].public_key, "preshared_key=");
                untouched += !listed;
                if (listed) {
                        char ip[IPV4_STRLEN], line[64];
                        snprintf(line, sizeof line, "allowed_ip=%s/32\n", ipv4_format(want[i].ip, ip));
                        assert_non_null(strstr(cmds, line));
                }
        }
        assert_int_equal(untouched, 1);
        assert_non_null(strstr(cmds, "preshared_key=0000000000000000000000000000000000000000000000000000000000000000\n"));
        wg_cmds_done(&m);

        /* Once live equals wanted, a second pass has nothing to send. */
        for (int i = 0; i < 4; i++)
                live[i] = live_of(&want[i]);
        assert_int_equal(wg_sync_commands(want, 4, live, 4, &m, &st), 0);
        assert_int_equal(m.len, 0);
        assert_int_equal(st.added + st.removed + st.fixed, 0);
        wg_cmds_done(&m);

        /* Nothing at all on either side. */
        assert_int_equal(wg_sync_commands(NULL, 0, NULL, 0, &m, &st), 0);
        assert_int_equal(m.len, 0);
        wg_cmds_done(&m);

        /* A corrupt stored key is refused, not sent. */
        snprintf(want[0].public_key, sizeof want[0].public_key, "not a key");
        assert_int_equal(wg_sync_commands(want, 1, NULL, 0, &m, &st), -EINVAL);
}

/* A disabled peer keeps its place (and so its session) with no allowed IPs; toggling it is one fix. */
static void test_disabled(void **state) {
        WgWantPeer want[3];
        for (int i = 0; i < 3; i++) {
                want[i] = (WgWantPeer) { .ip = 0x0a000002 + (uint32_t) i, .enabled = i != 0 };
                wg_key_random(want[i].public_key);
                wg_key_random(want[i].preshared_key);
        }
        char key0[WG_KEY_STRLEN], key1[WG_KEY_STRLEN], key2[WG_KEY_STRLEN];
        snprintf(key0, sizeof key0, "%s", want[0].public_key);
        snprintf(key1, sizeof key1, "%s", want[1].public_key);
        snprintf(key2, sizeof key2, "%s", want[2].public_key);

        /* Not live yet: the disabled one is added too, with no allowed_ip line. */
        WgCmds m;
        WgSyncStats st;
        assert_int_equal(wg_sync_commands(want, 1, NULL, 0, &m, &st), 0);
        assert_int_equal(st.added, 1);
        assert_true(has_line_for(m.buf, key0, "preshared_key="));
        assert_null(strstr(m.buf, "allowed_ip="));
        assert_non_null(strstr(m.buf, "replace_allowed_ips=true\n"));
        assert_null(strstr(m.buf, "remove=true"));
        wg_cmds_done(&m);

        /* Live as wanted: nothing to do. */
        WgLivePeer live[3];
        for (int i = 0; i < 3; i++)
                live[i] = live_of(&want[i]);
        assert_int_equal(live[0].n_allowed_ips, 0);
        assert_int_equal(wg_sync_commands(want, 3, live, 3, &m, &st), 0);
        assert_int_equal(m.len, 0);
        wg_cmds_done(&m);

        /* want[] is sorted now: flip by key. key0 enabled again (live has none), key1 disabled (live has one). */
        for (int i = 0; i < 3; i++) {
                if (streq(want[i].public_key, key0))
                        want[i].enabled = true;
                else if (streq(want[i].public_key, key1))
                        want[i].enabled = false;
        }
        assert_int_equal(wg_sync_commands(want, 3, live, 3, &m, &st), 0);
        assert_int_equal(st.added + st.removed, 0);
        assert_int_equal(st.fixed, 2);
        assert_null(strstr(m.buf, "remove=true"));
        assert_false(has_line_for(m.buf, key2, "preshared_key="));
        assert_non_null(strstr(m.buf, "allowed_ip=10.0.0.2/32\n")); /* key0 routed again */
        assert_null(strstr(m.buf, "allowed_ip=10.0.0.3/32\n"));     /* key1 has none */
        assert_true(has_line_for(m.buf, key1, "preshared_key="));
        wg_cmds_done(&m);
}

int main(void) {
        assert_int_equal(secret_init(), 0);
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_sync),
                cmocka_unit_test(test_disabled),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
