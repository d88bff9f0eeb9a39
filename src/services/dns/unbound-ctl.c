/* unbound remote-control client: one connection per command (that is what unbound serves), blocking with
 * a send/receive timeout so a wedged daemon costs picd's loop a bounded pause, reply capped. */
#include "services/dns/unbound-ctl.h"

#include <stdio.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "basic/strbuf.h"
#include "basic/util.h"

#define CTL_TIMEOUT_SEC 5

static int write_all(int fd, const char *p, size_t n) {
        while (n > 0) {
                ssize_t k = send(fd, p, n, MSG_NOSIGNAL);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return negative_errno();
                }
                p += k;
                n -= (size_t) k;
        }
        return 0;
}

const char *unbound_ctl_reply_error(const char *reply) {
        for (const char *p = reply; p && *p;) {
                if (startswith(p, "error"))
                        return p;
                p = strchr(p, '\n');
                if (p)
                        p++;
        }
        return NULL;
}

int unbound_ctl_reply_check(const char *reply, size_t len, PicError *err) {
        /* Callers read the reply as a C string: a NUL would hide whatever follows it, an error line included. */
        if (memchr(reply, '\0', len))
                return pic_error(err, -EBADMSG, NULL, "unbound's answer holds a NUL byte");
        const char *e = unbound_ctl_reply_error(reply);
        if (!e)
                return 0;
        /* One line of unbound's own words for an API message: short, and plain ASCII, because unbound echoes
         * the offending data line and a cut inside a UTF-8 sequence would make the JSON reply unencodable. */
        char line[401];
        size_t n = 0;
        for (const char *p = e; *p && *p != '\n' && n < sizeof line - 1; p++) {
                unsigned char ch = (unsigned char) *p;
                line[n++] = ch < 0x20 || ch == 0x7f ? ' ' : ch > 0x7f ? '?' : (char) ch;
        }
        while (n > 0 && line[n - 1] == ' ')
                n--;
        line[n] = '\0';
        return pic_error(err, -EBADMSG, NULL, "unbound: %s", line);
}

static int connect_socket(const char *path, int *ret_fd) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        if (strlen(path) >= sizeof sa.sun_path)
                return -ENAMETOOLONG;
        memcpy(sa.sun_path, path, strlen(path) + 1);
        _cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return negative_errno();
        struct timeval tv = { .tv_sec = CTL_TIMEOUT_SEC };
        if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) < 0 ||
            setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) < 0)
                return negative_errno();
        if (connect(fd, (struct sockaddr *) &sa, sizeof sa) < 0) {
                int r = negative_errno();
                /* A missing socket file is the same situation as nobody listening: unbound is not up. */
                return r == -ENOENT ? -ECONNREFUSED : r;
        }
        *ret_fd = TAKE_FD(fd);
        return 0;
}

int unbound_ctl(const char *socket_path, const char *command, const char *lines, char **ret_reply, PicError *err) {
        if (!command || strlen(command) > UNBOUND_CTL_CMD_MAX || strchr(command, '\n'))
                return pic_error(err, -EINVAL, NULL, "invalid unbound control command");
        _cleanup_close_ int fd = -1;
        int r = connect_socket(socket_path, &fd);
        if (r < 0)
                return pic_error(err, r, NULL, "the DNS server (unbound) is not reachable on its control socket: %s",
                                 strerror(-r));

        StrBuf out = { .max = UNBOUND_CTL_REPLY_MAX };
        strbuf_printf(&out, "UBCT1 %s\n", command);
        if (lines) {
                strbuf_puts(&out, lines);
                if (*lines && lines[strlen(lines) - 1] != '\n')
                        strbuf_puts(&out, "\n");
                /* End of the data list. */
                strbuf_puts(&out, "\x04\n");
        }
        if (out.error) {
                strbuf_done(&out);
                return pic_error(err, -ENOMEM, NULL, "out of memory");
        }
        r = write_all(fd, out.data, out.len);
        strbuf_done(&out);
        if (r < 0)
                return pic_error(err, r == -EPIPE || r == -ECONNRESET ? -ECONNREFUSED : r, NULL,
                                 "cannot send a command to unbound: %s", strerror(-r));

        StrBuf reply = { .max = UNBOUND_CTL_REPLY_MAX };
        char buf[4096];
        for (;;) {
                ssize_t k = recv(fd, buf, sizeof buf, 0);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0) {
                        r = negative_errno();
                        strbuf_done(&reply);
                        /* Accepted by a dying process's socket, then dropped: unbound is not there. */
                        if (r == -ECONNRESET)
                                return pic_error(err, -ECONNREFUSED, NULL, "unbound went away while answering");
                        return pic_error(err, r == -EAGAIN ? -ETIMEDOUT : r, NULL,
                                         "no complete answer from unbound: %s", strerror(r == -EAGAIN ? ETIMEDOUT : -r));
                }
                if (k == 0)
                        break;
                if (strbuf_append(&reply, buf, (size_t) k) < 0) {
                        int e = reply.error;
                        strbuf_done(&reply);
                        return pic_error(err, e, NULL, "unbound's answer is too large");
                }
        }
        size_t len = reply.len;
        char *text = strbuf_steal(&reply);
        if (!text)
                return pic_error(err, -ENOMEM, NULL, "out of memory");
        r = unbound_ctl_reply_check(text, len, err);
        if (r < 0) {
                free(text);
                return r;
        }
        if (ret_reply)
                *ret_reply = text;
        else
                free(text);
        return 0;
}
