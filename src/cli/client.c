/* The pic CLI's HTTP/1.1 client over picd's unix socket: connect, send one request with Content-Length and
 * "Connection: close", read the reply under hard caps and one deadline, so the CLI never hangs or balloons. */
#include "cli/client.h"

#include <limits.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "basic/parse.h"
#include "basic/strbuf.h"
#include "basic/time-util.h"
#include "crypto/secret.h"

static int ms_left(uint64_t deadline) {
        uint64_t now = now_usec();
        if (now >= deadline)
                return 0;
        uint64_t ms = (deadline - now + USEC_PER_MSEC - 1) / USEC_PER_MSEC;
        return ms > INT_MAX ? INT_MAX : (int) ms;
}

/* Waits until fd is ready for events or the deadline passes. Readiness includes errors and hang-ups: the
 * following read or write reports them. */
static int wait_fd(int fd, short events, uint64_t deadline) {
        for (;;) {
                int ms = ms_left(deadline);
                if (ms <= 0)
                        return -ETIMEDOUT;
                struct pollfd p = { .fd = fd, .events = events };
                int r = poll(&p, 1, ms);
                if (r < 0 && errno == EINTR)
                        continue;
                if (r < 0)
                        return negative_errno();
                return r == 0 ? -ETIMEDOUT : 0;
        }
}

static int connect_error(PicError *err, int r, const char *path) {
        switch (-r) {
        case ENOENT:
        case ENOTDIR:
                return pic_error(err, r, NULL, "cannot connect to picd: %s does not exist (is picd running?)", path);
        case ECONNREFUSED:
                return pic_error(err, r, NULL,
                                 "cannot connect to picd: nothing listens on %s (is picd running?)", path);
        case EACCES:
        case EPERM:
                return pic_error(err, r, NULL,
                                 "cannot connect to picd: permission denied on %s (the socket is for root only; are you root?)",
                                 path);
        case ETIMEDOUT:
                return pic_error(err, r, NULL, "cannot connect to picd: %s did not accept the connection in time",
                                 path);
        default:
                return pic_error(err, r, NULL, "cannot connect to picd at %s: %s", path, strerror(-r));
        }
}

static int connect_unix(const char *path, uint64_t deadline, int *ret_fd, PicError *err) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        size_t len = strlen(path);
        if (len == 0 || len >= sizeof sa.sun_path)
                return pic_error(err, -ENAMETOOLONG, NULL, "socket path \"%.200s\" is empty or longer than %zu bytes",
                                 path, sizeof sa.sun_path - 1);
        memcpy(sa.sun_path, path, len);

        _cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
                return pic_error(err, negative_errno(), NULL, "cannot create a unix socket: %m");
        for (;;) {
                if (connect(fd, (struct sockaddr *) &sa, sizeof sa) == 0)
                        break;
                int r = negative_errno();
                if (r == -EINTR)
                        continue;
                if (r == -EAGAIN) {
                        /* picd's accept backlog is full; a unix connect is not queued, so try again shortly. */
                        if (ms_left(deadline) <= 0)
                                return connect_error(err, -ETIMEDOUT, path);
                        poll(NULL, 0, 20);
                        continue;
                }
                if (r == -EINPROGRESS) {
                        int soerr = 0;
                        socklen_t sl = sizeof soerr;
                        r = wait_fd(fd, POLLOUT, deadline);
                        if (r >= 0 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0)
                                r = negative_errno();
                        if (r >= 0 && soerr != 0)
                                r = -soerr;
                        if (r >= 0)
                                break;
                }
                return connect_error(err, r, path);
        }
        *ret_fd = TAKE_FD(fd);
        return 0;
}

/* Returns 0 when everything was sent, 1 when picd closed its end early (it may have replied already,
 * e.g. refusing the request, so the caller still reads), negative errno on failure. */
static int send_all(int fd, const char *p, size_t n, uint64_t deadline) {
        while (n > 0) {
                ssize_t k = send(fd, p, n, MSG_NOSIGNAL);
                if (k > 0) {
                        p += k;
                        n -= (size_t) k;
                        continue;
                }
                int r = k < 0 ? negative_errno() : -EIO;
                if (r == -EINTR)
                        continue;
                if (r == -EAGAIN) {
                        r = wait_fd(fd, POLLOUT, deadline);
                        if (r < 0)
                                return r;
                        continue;
                }
                if (r == -EPIPE || r == -ECONNRESET)
                        return 1;
                return r;
        }
        return 0;
}

/* Reads at most n bytes; 0 means end of stream. */
static ssize_t recv_some(int fd, char *buf, size_t n, uint64_t deadline) {
        for (;;) {
                ssize_t k = recv(fd, buf, n, 0);
                if (k >= 0)
                        return k;
                int r = negative_errno();
                if (r == -EINTR)
                        continue;
                if (r != -EAGAIN)
                        return r;
                r = wait_fd(fd, POLLIN, deadline);
                if (r < 0)
                        return r;
        }
}

static int read_error(PicError *err, ssize_t r, const char *what) {
        if (r == -ETIMEDOUT)
                return pic_error(err, -ETIMEDOUT, NULL, "picd did not finish its reply in time (waiting for %s)", what);
        if (r < 0)
                return pic_error(err, (int) r, NULL, "reading the reply from picd failed: %s", strerror((int) -r));
        return pic_error(err, -EPROTO, NULL, "picd closed the connection before sending the %s", what);
}

typedef struct Head {
        int status;
        bool have_length;
        uint64_t length;
} Head;

static int parse_head(char *text, Head *ret, PicError *err) {
        /* Status line: "HTTP/1.x SSS reason". */
        if (!startswith(text, "HTTP/1.") || (text[7] != '0' && text[7] != '1') || text[8] != ' ')
                return pic_error(err, -EPROTO, NULL, "picd's reply does not start with an HTTP/1.x status line");
        Head h = { 0 };
        for (int i = 9; i < 12; i++) {
                if (text[i] < '0' || text[i] > '9')
                        return pic_error(err, -EPROTO, NULL, "picd's reply has a malformed status code");
                h.status = h.status * 10 + (text[i] - '0');
        }
        if (text[12] != ' ' && text[12] != '\r' && text[12] != '\0')
                return pic_error(err, -EPROTO, NULL, "picd's reply has a malformed status line");

        char *save = NULL;
        char *line = strtok_r(text, "\r\n", &save); /* the status line, checked above */
        while ((line = strtok_r(NULL, "\r\n", &save))) {
                char *colon = strchr(line, ':');
                if (!colon)
                        return pic_error(err, -EPROTO, NULL, "picd's reply has a malformed header line");
                *colon = '\0';
                char *value = colon + 1;
                value += strspn(value, " \t");
                size_t vl = strlen(value);
                while (vl > 0 && (value[vl - 1] == ' ' || value[vl - 1] == '\t'))
                        value[--vl] = '\0';
                if (strcasecmp(line, "Content-Length") == 0) {
                        uint64_t n;
                        if (parse_uint(value, 0, UINT64_MAX, &n) < 0 || (h.have_length && n != h.length))
                                return pic_error(err, -EPROTO, NULL, "picd's reply has an invalid Content-Length");
                        h.have_length = true;
                        h.length = n;
                } else if (strcasecmp(line, "Transfer-Encoding") == 0 && strcasecmp(value, "identity") != 0)
                        return pic_error(err, -EPROTO, NULL, "picd's reply uses Transfer-Encoding \"%.40s\", which pic does not read",
                                         value);
        }
        *ret = h;
        return 0;
}

/* The head buffer may also hold the start of the body, which can carry a new token. */
static void head_wipe(char (*h)[CLIENT_HEAD_MAX + 1]) {
        secret_wipe(*h, sizeof *h);
}

static int build_request(const char *method, const char *path, const char *body, char **ret, size_t *ret_len) {
        StrBuf b = STRBUF_INIT;
        strbuf_printf(&b,
                      "%s %s HTTP/1.1\r\nHost: localhost\r\nUser-Agent: pic/" PIC_VERSION
                      "\r\nAccept: application/json\r\nConnection: close\r\n",
                      method, path);
        if (body)
                strbuf_printf(&b, "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s", strlen(body), body);
        else
                strbuf_puts(&b, "Content-Length: 0\r\n\r\n");
        int r = b.error;
        size_t len = b.len;
        char *text = strbuf_steal(&b);
        if (!text)
                return r < 0 ? r : -ENOMEM;
        *ret = text;
        *ret_len = len;
        return 0;
}

int client_request(const char *socket_path, const char *method, const char *path, const char *body, int timeout_ms,
                   ClientReply *ret, PicError *err) {
        uint64_t deadline = now_usec() + (uint64_t) (timeout_ms > 0 ? timeout_ms : 1) * USEC_PER_MSEC;
        _cleanup_close_ int fd = -1;
        int r = connect_unix(socket_path, deadline, &fd, err);
        if (r < 0)
                return r;

        _cleanup_free_ char *req = NULL;
        size_t req_len;
        r = build_request(method, path, body, &req, &req_len);
        if (r < 0)
                return pic_error(err, r, NULL, "cannot build the request: %s", strerror(-r));
        r = send_all(fd, req, req_len, deadline);
        if (r == -ETIMEDOUT)
                return pic_error(err, r, NULL, "picd did not take the request in time");
        if (r < 0)
                return pic_error(err, r, NULL, "sending the request to picd failed: %s", strerror(-r));
        /* Nothing more from us; picd still answers on the other direction. */
        shutdown(fd, SHUT_WR);

        /* Head: status line and headers, up to the blank line, never more than CLIENT_HEAD_MAX. */
        _cleanup_(head_wipe) char head[CLIENT_HEAD_MAX + 1];
        size_t have = 0;
        char *end = NULL;
        while (!end) {
                if (have == CLIENT_HEAD_MAX)
                        return pic_error(err, -E2BIG, NULL, "picd's reply headers exceed %zu bytes", CLIENT_HEAD_MAX);
                ssize_t k = recv_some(fd, head + have, CLIENT_HEAD_MAX - have, deadline);
                if (k <= 0)
                        return read_error(err, k, "reply headers");
                have += (size_t) k;
                end = memmem(head, have, "\r\n\r\n", 4);
        }
        size_t head_len = (size_t) (end - head);
        if (memchr(head, '\0', head_len))
                return pic_error(err, -EPROTO, NULL, "picd's reply headers contain a NUL byte");
        size_t extra = have - head_len - 4;
        head[head_len] = '\0';
        Head h = { 0 };
        r = parse_head(head, &h, err);
        if (r < 0)
                return r;
        if (h.have_length && h.length > CLIENT_BODY_MAX)
                return pic_error(err, -E2BIG, NULL, "picd's reply body of %llu bytes exceeds the limit of %zu bytes",
                                 (unsigned long long) h.length, CLIENT_BODY_MAX);

        /* Body: exactly Content-Length bytes, or up to end of stream (we asked for Connection: close). */
        size_t want = h.have_length ? (size_t) h.length : CLIENT_BODY_MAX;
        size_t cap = h.have_length ? want : (extra > 4096 ? extra : 4096);
        _cleanup_free_ char *buf = malloc(cap + 1);
        if (!buf)
                return pic_error(err, -ENOMEM, NULL, "out of memory");
        size_t len = extra < want ? extra : want;
        memcpy(buf, end + 4, len);
        while (len < want) {
                if (len == cap) {
                        size_t ncap = cap * 2 > CLIENT_BODY_MAX ? CLIENT_BODY_MAX : cap * 2;
                        char *n = realloc(buf, ncap + 1);
                        if (!n)
                                return pic_error(err, -ENOMEM, NULL, "out of memory");
                        buf = n;
                        cap = ncap;
                }
                ssize_t k = recv_some(fd, buf + len, cap - len, deadline);
                if (k < 0 || (k == 0 && h.have_length))
                        return read_error(err, k, "reply body");
                if (k == 0)
                        break;
                len += (size_t) k;
        }
        if (!h.have_length && len == CLIENT_BODY_MAX) {
                char probe;
                if (recv_some(fd, &probe, 1, deadline) != 0)
                        return pic_error(err, -E2BIG, NULL, "picd's reply body exceeds the limit of %zu bytes",
                                         CLIENT_BODY_MAX);
        }
        buf[len] = '\0';
        *ret = (ClientReply) { .status = h.status, .body = TAKE_PTR(buf), .body_len = len };
        return 0;
}

void client_reply_done(ClientReply *r) {
        if (r->body) {
                secret_wipe(r->body, r->body_len);
                free(r->body);
        }
        *r = (ClientReply) { 0 };
}

int client_path_escape(char *buf, size_t size, const char *s) {
        static const char hex[] = "0123456789ABCDEF";
        size_t o = 0;
        for (const unsigned char *p = (const unsigned char *) s; *p; p++) {
                bool plain = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
                             strchr("-._~", *p);
                size_t need = plain ? 1 : 3;
                if (o + need >= size)
                        return -ENAMETOOLONG;
                if (plain)
                        buf[o++] = (char) *p;
                else {
                        buf[o++] = '%';
                        buf[o++] = hex[*p >> 4];
                        buf[o++] = hex[*p & 15];
                }
        }
        if (o >= size)
                return -ENAMETOOLONG;
        buf[o] = '\0';
        return 0;
}
