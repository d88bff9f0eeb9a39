/* Fuzz harness for the WireGuard UAPI `get` reply parser (src/net/wg-uapi.c), whose result drives peer
 * reconciliation and /api/wireguard/peers: an accepted dump holds only in-range, well-formed fields and
 * prints back (as wireguard-go would) to a dump that parses the same. */
#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "basic/strbuf.h"
#include "net/wg-uapi.h"
#include "fuzz-input.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static size_t count_lines_with(const char *text, const char *prefix) {
        size_t n = 0, k = strlen(prefix);
        for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
                n += strncmp(p, prefix, k) == 0;
        return n;
}

static size_t count_entries(const char *list) {
        size_t n = *list ? 1 : 0;
        for (const char *p = list; *p; p++)
                n += *p == ',';
        return n;
}

static void check_peer(const WgLivePeer *p) {
        unsigned char key[32];
        size_t len = 0;
        if (strnlen(p->public_key, sizeof p->public_key) != 44 ||
            sodium_base642bin(key, sizeof key, p->public_key, 44, NULL, &len, NULL, sodium_base64_VARIANT_ORIGINAL) != 0 ||
            len != 32)
                abort();
        size_t e = strnlen(p->endpoint, sizeof p->endpoint);
        if (e == sizeof p->endpoint || strspn(p->endpoint, "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.:[]%-_") != e)
                abort();
        size_t a = strnlen(p->allowed_ips, sizeof p->allowed_ips);
        if (a == sizeof p->allowed_ips || strspn(p->allowed_ips, "0123456789abcdefABCDEF.:/,") != a)
                abort();
        if (a > 0 && (p->allowed_ips[0] == ',' || p->allowed_ips[a - 1] == ',' || strstr(p->allowed_ips, ",,")))
                abort();
        /* A list cut for space still counts every entry: never fewer counted than listed. */
        if (count_entries(p->allowed_ips) > p->n_allowed_ips)
                abort();
        if (p->keepalive > 65535 || p->last_handshake_sec < 0 || p->rx_bytes > INT64_MAX || p->tx_bytes > INT64_MAX)
                abort();
        static const uint8_t zero[8];
        if (p->has_preshared_key != (memcmp(p->psk_digest, zero, 8) != 0))
                abort();
}

/* The dump wireguard-go would write for d (preshared keys left out: only their digest is kept). */
static char *print_dump(const WgLiveDevice *d) {
        StrBuf b = { .max = 64u << 20 };
        strbuf_printf(&b, "private_key=%s\nlisten_port=%u\n",
                      d->has_private_key ? "e84b5a6d2717c1003a13b431570353dbaca9146cf150c5f8575680feba52027a"
                                         : "0000000000000000000000000000000000000000000000000000000000000000",
                      d->listen_port);
        for (size_t i = 0; i < d->n_peers; i++) {
                const WgLivePeer *p = &d->peers[i];
                unsigned char key[32];
                char hex[65];
                size_t len = 0;
                if (sodium_base642bin(key, sizeof key, p->public_key, strlen(p->public_key), NULL, &len, NULL,
                                      sodium_base64_VARIANT_ORIGINAL) != 0)
                        abort();
                sodium_bin2hex(hex, sizeof hex, key, sizeof key);
                strbuf_printf(&b, "public_key=%s\nprotocol_version=1\n", hex);
                if (p->endpoint[0])
                        strbuf_printf(&b, "endpoint=%s\n", p->endpoint);
                strbuf_printf(&b,
                              "last_handshake_time_sec=%lld\nlast_handshake_time_nsec=0\ntx_bytes=%llu\nrx_bytes=%llu\n"
                              "persistent_keepalive_interval=%u\n",
                              (long long) p->last_handshake_sec, (unsigned long long) p->tx_bytes,
                              (unsigned long long) p->rx_bytes, p->keepalive);
                char ips[sizeof p->allowed_ips];
                memcpy(ips, p->allowed_ips, sizeof ips);
                for (char *save = NULL, *t = strtok_r(ips, ",", &save); t; t = strtok_r(NULL, ",", &save))
                        strbuf_printf(&b, "allowed_ip=%s\n", t);
        }
        strbuf_puts(&b, "errno=0\n\n");
        if (b.error)
                abort();
        return strbuf_steal(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        /* As wg_uapi_get() hands the reply over: NUL-terminated. */
        char *text = fuzz_cstring(data, size);
        if (!text)
                return 0;
        WgLiveDevice d;
        memset(&d, 0xa5, sizeof d);
        int r = wg_uapi_parse(text, &d);
        if (r < 0) {
                if (r != -EBADMSG && r != -ENOMEM)
                        abort();
                free(text);
                return 0;
        }
        if (!strstr(text, "errno=0\n\n") || d.listen_port > 65535 || (d.n_peers > 0) != (d.peers != NULL) ||
            d.n_peers > count_lines_with(text, "public_key="))
                abort();
        for (size_t i = 0; i < d.n_peers; i++)
                check_peer(&d.peers[i]);

        char *again = print_dump(&d);
        WgLiveDevice e;
        if (wg_uapi_parse(again, &e) < 0 || e.n_peers != d.n_peers || e.listen_port != d.listen_port ||
            e.has_private_key != d.has_private_key)
                abort();
        for (size_t i = 0; i < d.n_peers; i++) {
                const WgLivePeer *p = &d.peers[i], *q = &e.peers[i];
                if (strcmp(p->public_key, q->public_key) || strcmp(p->endpoint, q->endpoint) ||
                    strcmp(p->allowed_ips, q->allowed_ips) || p->last_handshake_sec != q->last_handshake_sec ||
                    p->rx_bytes != q->rx_bytes || p->tx_bytes != q->tx_bytes || p->keepalive != q->keepalive)
                        abort();
                /* The count survives whenever the list was not cut for space. */
                if (count_entries(p->allowed_ips) == p->n_allowed_ips && q->n_allowed_ips != p->n_allowed_ips)
                        abort();
        }
        wg_live_device_done(&e);
        free(again);
        wg_live_device_done(&d);
        free(text);
        return 0;
}
