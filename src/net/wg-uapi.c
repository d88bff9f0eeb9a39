/* UAPI client (see wg-uapi.h): one short-lived connection per request, bounded reads with a timeout so a
 * stuck daemon cannot hang picd, and a strict parser of `get` dumps. Secrets in replies are wiped. */
#include "net/wg-uapi.h"

#include <net/if.h>
#include <poll.h>
#include <sodium.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "basic/parse.h"
#include "basic/time-util.h"
#include "basic/util.h"
#include "crypto/wgkey.h"

#define UAPI_TIMEOUT_MSEC 5000

int wg_uapi_socket_path(const char *ifname, char *buf, size_t size) {
        size_t n = ifname ? strlen(ifname) : 0;
        if (n == 0 || n >= IFNAMSIZ || strchr(ifname, '/'))
                return -EINVAL;
        if ((size_t) snprintf(buf, size, WG_UAPI_DIR "/%s.sock", ifname) >= size)
                return -ENAMETOOLONG;
        return 0;
}

static int uapi_connect(const char *ifname, int *ret_fd) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        int r = wg_uapi_socket_path(ifname, sa.sun_path, sizeof sa.sun_path);
        if (r < 0)
                return r;
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return negative_errno();
        if (connect(fd, (struct sockaddr *) &sa, sizeof sa) < 0) {
                r = negative_errno();
                close(fd);
                /* No socket, or a stale one after a crash: either way nobody is serving. */
                return r == -ENOENT || r == -ECONNREFUSED ? -EHOSTDOWN : r;
        }
        *ret_fd = fd;
        return 0;
}

int wg_uapi_ready(const char *ifname) {
        int fd;
        int r = uapi_connect(ifname, &fd);
        if (r < 0)
                return r;
        close(fd);
        return 0;
}

static int wait_fd(int fd, short events, uint64_t deadline) {
        for (;;) {
                uint64_t now = now_usec();
                if (now >= deadline)
                        return -ETIMEDOUT;
                struct pollfd p = { .fd = fd, .events = events };
                int n = poll(&p, 1, (int) ((deadline - now) / USEC_PER_MSEC) + 1);
                if (n > 0)
                        return 0;
                if (n < 0 && errno != EINTR)
                        return negative_errno();
        }
}

static int write_all(int fd, const char *p, size_t n, uint64_t deadline) {
        while (n > 0) {
                int r = wait_fd(fd, POLLOUT, deadline);
                if (r < 0)
                        return r;
                ssize_t k = send(fd, p, n, MSG_NOSIGNAL | MSG_DONTWAIT);
                if (k < 0) {
                        if (errno == EINTR || errno == EAGAIN)
                                continue;
                        return negative_errno();
                }
                p += k;
                n -= (size_t) k;
        }
        return 0;
}

/* Reads until the reply's terminating blank line ("\n\n"). The caller wipes and frees *ret. */
static int read_reply(int fd, uint64_t deadline, char **ret, size_t *ret_len) {
        size_t len = 0, cap = 4096;
        char *buf = malloc(cap);
        if (!buf)
                return -ENOMEM;
        int r = 0;
        for (;;) {
                if (len >= 2 && buf[len - 1] == '\n' && buf[len - 2] == '\n')
                        break;
                if (cap - len < 2) {
                        if (cap >= WG_UAPI_REPLY_MAX) {
                                r = -EFBIG;
                                break;
                        }
                        /* Grow by copying, never realloc: the old block may hold the private key. */
                        char *n = malloc(cap * 2);
                        if (!n) {
                                r = -ENOMEM;
                                break;
                        }
                        memcpy(n, buf, len);
                        explicit_bzero(buf, cap);
                        free(buf);
                        buf = n;
                        cap *= 2;
                }
                r = wait_fd(fd, POLLIN, deadline);
                if (r < 0)
                        break;
                ssize_t k = recv(fd, buf + len, cap - len - 1, MSG_DONTWAIT);
                if (k < 0) {
                        if (errno == EINTR || errno == EAGAIN)
                                continue;
                        r = negative_errno();
                        break;
                }
                if (k == 0) {
                        r = -ECONNRESET;
                        break;
                }
                len += (size_t) k;
        }
        if (r < 0) {
                explicit_bzero(buf, cap);
                free(buf);
                return r;
        }
        buf[len] = '\0';
        *ret = buf;
        *ret_len = len;
        return 0;
}

/* The daemon's verdict: the last line before the blank one is "errno=N". */
static int reply_errno(const char *text, size_t len) {
        if (len < 2)
                return -EBADMSG;
        const char *end = text + len - 2; /* at the final "\n\n" */
        const char *line = end;
        while (line > text && line[-1] != '\n')
                line--;
        if (!startswith(line, "errno="))
                return -EBADMSG;
        char num[16];
        size_t n = (size_t) (end - line) - 6;
        if (n == 0 || n >= sizeof num)
                return -EBADMSG;
        memcpy(num, line + 6, n);
        num[n] = '\0';
        bool neg = num[0] == '-';
        uint64_t v;
        if (parse_uint(num + neg, 0, 4095, &v) < 0)
                return -EBADMSG;
        /* wireguard-go answers negative errnos (-22), the kernel's wg tool positive ones: accept both. */
        return v == 0 ? 0 : -(int) v;
}

static int request(const char *ifname, const char *head, const char *body, size_t body_len, char **ret,
                   size_t *ret_len) {
        _cleanup_close_ int fd = -1;
        int r = uapi_connect(ifname, &fd);
        if (r < 0)
                return r;
        uint64_t deadline = now_usec() + UAPI_TIMEOUT_MSEC * USEC_PER_MSEC;
        r = write_all(fd, head, strlen(head), deadline);
        if (r >= 0 && body_len > 0)
                r = write_all(fd, body, body_len, deadline);
        if (r >= 0)
                r = write_all(fd, "\n", 1, deadline);
        if (r < 0)
                return r == -EPIPE || r == -ECONNRESET ? -EHOSTDOWN : r;
        return read_reply(fd, deadline, ret, ret_len);
}

void wg_uapi_text_free(char *text, size_t len) {
        if (!text)
                return;
        explicit_bzero(text, len);
        free(text);
}

int wg_uapi_set(const char *ifname, const char *commands, size_t len) {
        if (len > 0 && commands[len - 1] != '\n')
                return -EINVAL;
        char *reply = NULL;
        size_t n = 0;
        int r = request(ifname, "set=1\n", commands, len, &reply, &n);
        if (r < 0)
                return r;
        r = reply_errno(reply, n);
        wg_uapi_text_free(reply, n);
        return r;
}

int wg_uapi_get(const char *ifname, char **ret_text, size_t *ret_len) {
        char *reply = NULL;
        size_t n = 0;
        int r = request(ifname, "get=1\n", NULL, 0, &reply, &n);
        if (r < 0)
                return r;
        r = reply_errno(reply, n);
        if (r < 0) {
                wg_uapi_text_free(reply, n);
                return r;
        }
        *ret_text = reply;
        *ret_len = n;
        return 0;
}

void wg_live_device_done(WgLiveDevice *d) {
        if (!d)
                return;
        free(d->peers);
        *d = (WgLiveDevice) { 0 };
}

static void digest_raw(const unsigned char key[32], uint8_t ret[8]) {
        static const unsigned char zero[32];
        if (sodium_memcmp(key, zero, 32) == 0) {
                memset(ret, 0, 8);
                return;
        }
        crypto_generichash(ret, 8, key, 32, NULL, 0);
}

void wg_psk_digest(const char *psk_b64, uint8_t ret[8]) {
        unsigned char k[32] = { 0 };
        size_t len = 0;
        if (psk_b64 && *psk_b64 &&
            (sodium_base642bin(k, sizeof k, psk_b64, strlen(psk_b64), NULL, &len, NULL, sodium_base64_VARIANT_ORIGINAL) != 0 ||
             len != 32))
                memset(k, 0, sizeof k);
        digest_raw(k, ret);
        sodium_memzero(k, sizeof k);
}

#define ENDPOINT_CHARS "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.:[]%-_"

static int parse_u64(const char *v, uint64_t *ret) {
        return parse_uint(v, 0, UINT64_MAX, ret);
}

/* Byte counters are shown as JSON integers (signed 64 bits); no interface moves 8 EiB. */
static int parse_counter(const char *v, uint64_t *ret) {
        return parse_uint(v, 0, INT64_MAX, ret);
}

static int peer_line(WgLivePeer *p, const char *key, const char *val) {
        uint64_t u;
        if (streq(key, "preshared_key")) {
                unsigned char k[32];
                size_t len = 0;
                if (strlen(val) != 64 || sodium_hex2bin(k, sizeof k, val, 64, NULL, &len, NULL) != 0 || len != 32)
                        return -EBADMSG;
                digest_raw(k, p->psk_digest);
                p->has_preshared_key = p->psk_digest[0] | p->psk_digest[1] | p->psk_digest[2] | p->psk_digest[3] |
                                       p->psk_digest[4] | p->psk_digest[5] | p->psk_digest[6] | p->psk_digest[7];
                sodium_memzero(k, sizeof k);
        } else if (streq(key, "endpoint")) {
                size_t n = strlen(val);
                /* "1.2.3.4:5" or "[fe80::1%eth0]:5": anything else would reach the API's JSON (which refuses
                 * invalid UTF-8, dropping the peer from the list) and the CLI's terminal. */
                if (n >= sizeof p->endpoint || val[strspn(val, ENDPOINT_CHARS)] != '\0')
                        return -EBADMSG;
                memcpy(p->endpoint, val, n + 1);
        } else if (streq(key, "last_handshake_time_sec")) {
                if (parse_u64(val, &u) < 0 || u > INT64_MAX)
                        return -EBADMSG;
                p->last_handshake_sec = (int64_t) u;
        } else if (streq(key, "rx_bytes")) {
                if (parse_counter(val, &p->rx_bytes) < 0)
                        return -EBADMSG;
        } else if (streq(key, "tx_bytes")) {
                if (parse_counter(val, &p->tx_bytes) < 0)
                        return -EBADMSG;
        } else if (streq(key, "persistent_keepalive_interval")) {
                if (parse_uint(val, 0, 65535, &u) < 0)
                        return -EBADMSG;
                p->keepalive = (unsigned) u;
        } else if (streq(key, "allowed_ip")) {
                size_t have = strlen(p->allowed_ips), add = strlen(val);
                /* An address/prefix: a comma would split one entry into two in the comma-separated list. */
                if (add == 0 || val[strspn(val, "0123456789abcdefABCDEF.:/")] != '\0')
                        return -EBADMSG;
                /* Keep what fits; the count stays exact so a comparison never mistakes a cut list for a match. */
                if (have + add + 2 < sizeof p->allowed_ips) {
                        if (have)
                                p->allowed_ips[have++] = ',';
                        memcpy(p->allowed_ips + have, val, add + 1);
                }
                p->n_allowed_ips++;
        }
        return 0;
}

int wg_uapi_parse(const char *text, WgLiveDevice *ret) {
        WgLiveDevice d = { 0 };
        size_t cap = 0;
        WgLivePeer *cur = NULL;
        int r = 0;
        /* A complete dump ends "errno=0\n\n": anything shorter (cut at a NUL, a truncated read) would
         * look like a device with fewer peers, and the reconciler would act on it. */
        bool complete = false, last_errno_ok = false;
        for (const char *line = text; *line;) {
                const char *nl = strchr(line, '\n');
                if (!nl) {
                        r = -EBADMSG;
                        break;
                }
                size_t n = (size_t) (nl - line);
                const char *next = nl + 1;
                if (n == 0) {
                        complete = last_errno_ok; /* the terminating blank line */
                        break;
                }
                const char *eq = memchr(line, '=', n);
                char key[64], val[256];
                if (!eq || (size_t) (eq - line) >= sizeof key || (size_t) (nl - eq - 1) >= sizeof val) {
                        r = -EBADMSG;
                        break;
                }
                memcpy(key, line, (size_t) (eq - line));
                key[eq - line] = '\0';
                memcpy(val, eq + 1, (size_t) (nl - eq - 1));
                val[nl - eq - 1] = '\0';
                line = next;
                last_errno_ok = false;

                if (streq(key, "public_key")) {
                        if (d.n_peers == cap) {
                                size_t ncap = cap ? cap * 2 : 16;
                                WgLivePeer *np = realloc(d.peers, ncap * sizeof *np);
                                if (!np) {
                                        r = -ENOMEM;
                                        break;
                                }
                                d.peers = np;
                                cap = ncap;
                        }
                        cur = &d.peers[d.n_peers++];
                        *cur = (WgLivePeer) { 0 };
                        if (wg_key_from_hex(val, cur->public_key) < 0) {
                                r = -EBADMSG;
                                break;
                        }
                        continue;
                }
                if (streq(key, "errno")) {
                        r = streq(val, "0") ? 0 : -EBADMSG;
                        if (r < 0)
                                break;
                        last_errno_ok = true;
                        continue;
                }
                if (!cur) {
                        uint64_t u;
                        if (streq(key, "private_key"))
                                d.has_private_key = !streq(val, "0000000000000000000000000000000000000000000000000000000000000000");
                        else if (streq(key, "listen_port")) {
                                if (parse_uint(val, 0, 65535, &u) < 0) {
                                        r = -EBADMSG;
                                        explicit_bzero(val, sizeof val);
                                        break;
                                }
                                d.listen_port = (unsigned) u;
                        }
                        explicit_bzero(val, sizeof val);
                        continue;
                }
                r = peer_line(cur, key, val);
                explicit_bzero(val, sizeof val);
                if (r < 0)
                        break;
        }
        if (r == 0 && !complete)
                r = -EBADMSG;
        if (r < 0) {
                wg_live_device_done(&d);
                return r;
        }
        *ret = d;
        return 0;
}

int wg_uapi_get_device(const char *ifname, WgLiveDevice *ret) {
        char *text = NULL;
        size_t len = 0;
        int r = wg_uapi_get(ifname, &text, &len);
        if (r < 0)
                return r;
        r = wg_uapi_parse(text, ret);
        wg_uapi_text_free(text, len);
        return r;
}
