/* Implementation of sync.h: a merge of two lists sorted by public key, so a reconcile of 10,000 peers is
 * O(n log n) and produces one `set` message. */
#include "services/wireguard/sync.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "basic/netaddr.h"
#include "basic/util.h"
#include "crypto/secret.h"
#include "crypto/wgkey.h"

int wg_cmds_init(WgCmds *m, size_t cap) {
        *m = (WgCmds) { .buf = malloc(cap), .cap = cap };
        return m->buf ? 0 : -ENOMEM;
}

void wg_cmds_done(WgCmds *m) {
        if (m->buf) {
                secret_wipe(m->buf, m->cap);
                free(m->buf);
        }
        *m = (WgCmds) { 0 };
}

void wg_cmds_put(WgCmds *m, const char *fmt, ...) {
        if (m->overflow || !m->buf)
                return;
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(m->buf + m->len, m->cap - m->len, fmt, ap);
        va_end(ap);
        if (n < 0 || (size_t) n >= m->cap - m->len)
                m->overflow = true;
        else
                m->len += (size_t) n;
}

int wg_cmd_remove(WgCmds *m, const char *public_key_b64) {
        char hex[WG_KEY_HEXLEN];
        int r = wg_key_to_hex(public_key_b64, hex);
        if (r < 0)
                return r;
        wg_cmds_put(m, "public_key=%s\nremove=true\n", hex);
        return 0;
}

int wg_cmd_upsert(WgCmds *m, const char *public_key_b64, const char *psk_b64, uint32_t ip, bool enabled) {
        char hex[WG_KEY_HEXLEN], psk[WG_KEY_HEXLEN], a[IPV4_STRLEN];
        int r = wg_key_to_hex(public_key_b64, hex);
        if (r < 0)
                return r;
        if (psk_b64 && *psk_b64) {
                r = wg_key_to_hex(psk_b64, psk);
                if (r < 0)
                        return r;
        } else
                snprintf(psk, sizeof psk, "%064d", 0);
        wg_cmds_put(m, "public_key=%s\npreshared_key=%s\nreplace_allowed_ips=true\n", hex, psk);
        if (enabled)
                wg_cmds_put(m, "allowed_ip=%s/32\n", ipv4_format(ip, a));
        secret_wipe(psk, sizeof psk);
        return 0;
}

int wg_cmd_upsert_want(WgCmds *m, const WgWantPeer *w) {
        int r = wg_cmd_upsert(m, w->public_key, w->preshared_key, w->ip, w->enabled);
        if (r < 0 || !w->enabled || w->site_prefix == 0)
                return r;
        char a[IPV4_STRLEN];
        wg_cmds_put(m, "allowed_ip=%s/%u\n", ipv4_format(w->site_net, a), w->site_prefix);
        if (w->endpoint[0])
                wg_cmds_put(m, "endpoint=%s\n", w->endpoint);
        if (w->keepalive)
                wg_cmds_put(m, "persistent_keepalive_interval=%u\n", w->keepalive);
        return 0;
}

static int cmp_want(const void *a, const void *b) {
        return strcmp(((const WgWantPeer *) a)->public_key, ((const WgWantPeer *) b)->public_key);
}

static int cmp_live(const void *a, const void *b) {
        return strcmp(((const WgLivePeer *) a)->public_key, ((const WgLivePeer *) b)->public_key);
}

static bool live_matches(const WgLivePeer *l, const WgWantPeer *w) {
        char ip[IPV4_STRLEN], a[IPV4_STRLEN + 3];
        snprintf(a, sizeof a, "%s/32", ipv4_format(w->ip, ip));
        uint8_t d[8];
        wg_psk_digest(w->preshared_key, d);
        bool ips_ok = w->enabled ? l->n_allowed_ips == 1 && streq(l->allowed_ips, a) : l->n_allowed_ips == 0;
        if (w->enabled && w->site_prefix) {
                /* Two entries in the daemon's order: compare as a set. */
                char net[IPV4_STRLEN + 4], one[sizeof a + sizeof net + 1], two[sizeof one];
                snprintf(net, sizeof net, "%s/%u", ipv4_format(w->site_net, ip), w->site_prefix);
                snprintf(one, sizeof one, "%s,%s", a, net);
                snprintf(two, sizeof two, "%s,%s", net, a);
                ips_ok = l->n_allowed_ips == 2 && (streq(l->allowed_ips, one) || streq(l->allowed_ips, two)) &&
                         l->keepalive == w->keepalive && (!w->endpoint[0] || l->endpoint[0]);
        }
        return ips_ok && memcmp(d, l->psk_digest, sizeof d) == 0;
}

int wg_sync_commands(WgWantPeer *want, size_t n_want, WgLivePeer *live, size_t n_live, WgCmds *ret,
                     WgSyncStats *ret_stats) {
        WgSyncStats st = { 0 };
        /* qsort's array may not be NULL even when empty. */
        if (n_want > 0)
                qsort(want, n_want, sizeof *want, cmp_want);
        if (n_live > 0)
                qsort(live, n_live, sizeof *live, cmp_live);
        int r = wg_cmds_init(ret, (n_want + n_live + 1) * WG_PEER_CMD_MAX);
        if (r < 0)
                return r;
        size_t i = 0, j = 0;
        while (r >= 0 && (i < n_want || j < n_live)) {
                int k = i == n_want ? 1 : j == n_live ? -1 : strcmp(want[i].public_key, live[j].public_key);
                if (k < 0) {
                        r = wg_cmd_upsert_want(ret, &want[i]);
                        st.added++;
                        i++;
                } else if (k > 0) {
                        r = wg_cmd_remove(ret, live[j].public_key);
                        st.removed++;
                        j++;
                } else {
                        if (!live_matches(&live[j], &want[i])) {
                                r = wg_cmd_upsert_want(ret, &want[i]);
                                st.fixed++;
                        }
                        i++;
                        j++;
                }
        }
        if (r >= 0 && ret->overflow)
                r = -E2BIG;
        if (r < 0) {
                wg_cmds_done(ret);
                return r;
        }
        *ret_stats = st;
        return 0;
}
