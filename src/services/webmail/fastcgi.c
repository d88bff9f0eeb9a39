/* The FastCGI records picd sends to and reads from php-fpm (FastCGI 1.0: 8-byte headers, name-value pairs with
 * 1- or 4-byte lengths), and one request-reply exchange on a unix socket with a deadline. */
#include "services/webmail/fastcgi.h"

#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "basic/strbuf.h"
#include "basic/time-util.h"
#include "basic/util.h"

enum {
        FCGI_VERSION = 1,
        FCGI_BEGIN_REQUEST = 1,
        FCGI_END_REQUEST = 3,
        FCGI_PARAMS = 4,
        FCGI_STDIN = 5,
        FCGI_STDOUT = 6,
        FCGI_STDERR = 7,
        FCGI_RESPONDER = 1,
        FCGI_REQUEST_ID = 1,
        FCGI_HEADER_LEN = 8,
        FCGI_CONTENT_MAX = 65535,
};

static void header(uint8_t *h, uint8_t type, size_t content_len) {
        h[0] = FCGI_VERSION;
        h[1] = type;
        h[2] = 0;
        h[3] = FCGI_REQUEST_ID;
        h[4] = (uint8_t) (content_len >> 8);
        h[5] = (uint8_t) content_len;
        h[6] = 0; /* no padding */
        h[7] = 0;
}

static void put_len(StrBuf *b, size_t n) {
        uint8_t l[4];
        if (n < 128) {
                l[0] = (uint8_t) n;
                strbuf_append(b, (const char *) l, 1);
                return;
        }
        l[0] = (uint8_t) (0x80 | (n >> 24));
        l[1] = (uint8_t) (n >> 16);
        l[2] = (uint8_t) (n >> 8);
        l[3] = (uint8_t) n;
        strbuf_append(b, (const char *) l, 4);
}

int fastcgi_encode_get(const char *const *names, const char *const *values, size_t n, uint8_t **ret, size_t *ret_len) {
        StrBuf pairs = STRBUF_INIT;
        for (size_t i = 0; i < n; i++) {
                size_t kn = strlen(names[i]), vn = strlen(values[i]);
                if (kn > FCGI_CONTENT_MAX || vn > FCGI_CONTENT_MAX) {
                        strbuf_done(&pairs);
                        return -EINVAL;
                }
                put_len(&pairs, kn);
                put_len(&pairs, vn);
                strbuf_append(&pairs, names[i], kn);
                strbuf_append(&pairs, values[i], vn);
        }
        if (pairs.error || pairs.len > FCGI_CONTENT_MAX) {
                int r = pairs.error ? pairs.error : -EINVAL;
                strbuf_done(&pairs);
                return r;
        }
        StrBuf out = STRBUF_INIT;
        uint8_t h[FCGI_HEADER_LEN];
        /* BEGIN_REQUEST: role, flags 0 (php-fpm closes the connection after the reply). */
        const uint8_t begin[8] = { 0, FCGI_RESPONDER, 0, 0, 0, 0, 0, 0 };
        header(h, FCGI_BEGIN_REQUEST, sizeof begin);
        strbuf_append(&out, (const char *) h, sizeof h);
        strbuf_append(&out, (const char *) begin, sizeof begin);
        header(h, FCGI_PARAMS, pairs.len);
        strbuf_append(&out, (const char *) h, sizeof h);
        if (pairs.len)
                strbuf_append(&out, pairs.data, pairs.len);
        strbuf_done(&pairs);
        header(h, FCGI_PARAMS, 0);
        strbuf_append(&out, (const char *) h, sizeof h);
        header(h, FCGI_STDIN, 0);
        strbuf_append(&out, (const char *) h, sizeof h);
        if (out.error) {
                int r = out.error;
                strbuf_done(&out);
                return r;
        }
        *ret_len = out.len;
        *ret = (uint8_t *) strbuf_steal(&out);
        return *ret ? 0 : -ENOMEM;
}

/* The CGI reply's status and body: headers end at the first blank line (CRLF or LF). */
static int split_cgi(const char *out, size_t len, int *ret_status, char **ret_body) {
        const char *end = NULL;
        size_t skip = 0;
        for (size_t i = 0; i + 1 < len && !end; i++) {
                if (out[i] == '\n' && out[i + 1] == '\n')
                        end = out + i, skip = 2;
                else if (i + 3 < len && memcmp(out + i, "\r\n\r\n", 4) == 0)
                        end = out + i, skip = 4;
        }
        if (!end)
                return -EBADMSG;
        int status = 200;
        for (const char *line = out; line < end;) {
                const char *nl = memchr(line, '\n', (size_t) (end - line));
                const char *stop = nl ? nl : end;
                if ((size_t) (stop - line) > 8 && strncasecmp(line, "Status:", 7) == 0) {
                        const char *p = line + 7;
                        while (*p == ' ')
                                p++;
                        int v = 0, digits = 0;
                        for (; digits < 3 && p < stop && *p >= '0' && *p <= '9'; p++, digits++)
                                v = v * 10 + (*p - '0');
                        if (digits != 3 || v < 100)
                                return -EBADMSG;
                        status = v;
                }
                line = nl ? nl + 1 : end;
        }
        const char *body = end + skip;
        size_t body_len = len - (size_t) (body - out);
        char *b = malloc(body_len + 1);
        if (!b)
                return -ENOMEM;
        memcpy(b, body, body_len);
        b[body_len] = '\0';
        *ret_status = status;
        *ret_body = b;
        return 0;
}

int fastcgi_decode(const uint8_t *buf, size_t len, int *ret_status, char **ret_body) {
        StrBuf out = STRBUF_INIT;
        out.max = FASTCGI_REPLY_MAX + 1;
        size_t pos = 0;
        bool ended = false;
        int r = 0;
        while (pos + FCGI_HEADER_LEN <= len) {
                const uint8_t *h = buf + pos;
                size_t clen = ((size_t) h[4] << 8) | h[5], plen = h[6];
                if (h[0] != FCGI_VERSION || ((h[2] << 8) | h[3]) != FCGI_REQUEST_ID) {
                        r = -EBADMSG;
                        break;
                }
                if (pos + FCGI_HEADER_LEN + clen + plen > len)
                        break; /* the rest of this record has not arrived */
                const uint8_t *content = h + FCGI_HEADER_LEN;
                if (h[1] == FCGI_STDOUT && clen > 0) {
                        if (out.len + clen > FASTCGI_REPLY_MAX) {
                                r = -EFBIG;
                                break;
                        }
                        strbuf_append(&out, (const char *) content, clen);
                } else if (h[1] == FCGI_END_REQUEST) {
                        /* protocolStatus 0 = request complete. */
                        if (clen < 8 || content[4] != 0)
                                r = -EBADMSG;
                        ended = true;
                        break;
                } else if (h[1] != FCGI_STDOUT && h[1] != FCGI_STDERR) {
                        r = -EBADMSG;
                        break;
                }
                pos += FCGI_HEADER_LEN + clen + plen;
        }
        if (r == 0 && out.error)
                r = out.error;
        if (r == 0 && !ended)
                r = -EAGAIN;
        if (r == 0)
                r = split_cgi(out.data ? out.data : "", out.len, ret_status, ret_body);
        strbuf_done(&out);
        return r;
}

static int wait_fd(int fd, short events, uint64_t deadline) {
        for (;;) {
                uint64_t now = now_usec();
                if (now >= deadline)
                        return -ETIMEDOUT;
                struct pollfd p = { .fd = fd, .events = events };
                int r = poll(&p, 1, (int) ((deadline - now) / 1000 + 1));
                if (r > 0)
                        return 0;
                if (r < 0 && errno != EINTR)
                        return -errno;
        }
}

int fastcgi_get(const char *socket_path, const char *script_name, const char *query, uint64_t timeout_usec,
                int *ret_status, char **ret_body) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        if (strlen(socket_path) >= sizeof sa.sun_path)
                return -ENAMETOOLONG;
        memcpy(sa.sun_path, socket_path, strlen(socket_path) + 1);
        const char *names[] = { "GATEWAY_INTERFACE", "SERVER_PROTOCOL", "REQUEST_METHOD", "SCRIPT_NAME",
                                "SCRIPT_FILENAME", "REQUEST_URI", "QUERY_STRING", "REMOTE_ADDR", "SERVER_NAME" };
        const char *values[] = { "CGI/1.1", "HTTP/1.1", "GET", script_name, script_name, script_name, query,
                                 "127.0.0.1", "localhost" };
        _cleanup_free_ uint8_t *req = NULL;
        size_t req_len;
        int r = fastcgi_encode_get(names, values, ELEMENTSOF(names), &req, &req_len);
        if (r < 0)
                return r;
        _cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
                return -errno;
        uint64_t deadline = now_usec() + timeout_usec;
        if (connect(fd, (struct sockaddr *) &sa, sizeof sa) < 0) {
                if (errno != EAGAIN && errno != EINPROGRESS)
                        return -errno;
                /* A full backlog: wait for room within the deadline. */
                r = wait_fd(fd, POLLOUT, deadline);
                if (r < 0)
                        return r;
        }
        for (size_t sent = 0; sent < req_len;) {
                ssize_t k = send(fd, req + sent, req_len - sent, MSG_NOSIGNAL);
                if (k < 0 && (errno == EAGAIN || errno == EINTR)) {
                        r = wait_fd(fd, POLLOUT, deadline);
                        if (r < 0)
                                return r;
                        continue;
                }
                if (k < 0)
                        return -errno;
                sent += (size_t) k;
        }
        _cleanup_free_ uint8_t *buf = malloc(FASTCGI_REPLY_MAX + 4096);
        if (!buf)
                return -ENOMEM;
        size_t len = 0;
        for (;;) {
                r = wait_fd(fd, POLLIN, deadline);
                if (r < 0)
                        return r;
                ssize_t k = recv(fd, buf + len, FASTCGI_REPLY_MAX + 4096 - len, 0);
                if (k < 0 && (errno == EAGAIN || errno == EINTR))
                        continue;
                if (k < 0)
                        return -errno;
                len += (size_t) k;
                r = fastcgi_decode(buf, len, ret_status, ret_body);
                if (r != -EAGAIN)
                        return r;
                if (k == 0)
                        return -EBADMSG; /* closed before END_REQUEST */
                if (len == FASTCGI_REPLY_MAX + 4096)
                        return -EFBIG;
        }
}
