/* Caddy's admin API over its unix socket: one request, Connection: close, the reply read to EOF within the
 * deadline. Caddy 2.6.2 refuses admin requests whose Host is not empty (DNS-rebinding protection). */
#include "services/proxy/caddy-admin.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "basic/fileio.h"
#include "basic/strbuf.h"
#include "basic/time-util.h"
#include "basic/util.h"

#define REPLY_MAX (1024 * 1024)

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

static int send_all(int fd, const char *p, size_t n, uint64_t deadline) {
        while (n > 0) {
                ssize_t k = send(fd, p, n, MSG_NOSIGNAL | MSG_DONTWAIT);
                if (k < 0 && (errno == EAGAIN || errno == EINTR)) {
                        int r = wait_fd(fd, POLLOUT, deadline);
                        if (r < 0)
                                return r;
                        continue;
                }
                if (k < 0)
                        return -errno;
                p += k;
                n -= (size_t) k;
        }
        return 0;
}

int caddy_admin_request(const char *socket_path, uid_t peer_uid, pid_t peer_pid, const char *method,
                        const char *path, const char *body, size_t body_len, uint64_t timeout_usec, int *ret_status,
                        char **ret_body) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        if (strlen(socket_path) >= sizeof sa.sun_path)
                return -ENAMETOOLONG;
        memcpy(sa.sun_path, socket_path, strlen(socket_path) + 1);
        _cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        if (connect(fd, (struct sockaddr *) &sa, sizeof sa) < 0)
                return -errno;
        /* Caddy's user could have put a link to another socket (picd's own) in its place: check who listens. */
        struct ucred cred;
        socklen_t cl = sizeof cred;
        if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &cl) < 0)
                return -errno;
        if (cred.uid != peer_uid || (peer_pid > 0 && cred.pid != peer_pid))
                return -EPERM;
        uint64_t deadline = now_usec() + timeout_usec;
        StrBuf req = STRBUF_INIT;
        strbuf_printf(&req,
                      "%s %s HTTP/1.1\r\nHost: \r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
                      "Connection: close\r\n\r\n",
                      method, path, body ? body_len : 0);
        char *head = strbuf_steal(&req);
        if (!head)
                return -ENOMEM;
        int r = send_all(fd, head, strlen(head), deadline);
        free(head);
        if (r >= 0 && body)
                r = send_all(fd, body, body_len, deadline);
        if (r < 0)
                return r;
        StrBuf reply = STRBUF_INIT;
        char buf[8192];
        for (;;) {
                r = wait_fd(fd, POLLIN, deadline);
                if (r < 0)
                        break;
                ssize_t k = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
                if (k < 0 && (errno == EAGAIN || errno == EINTR))
                        continue;
                if (k < 0) {
                        r = -errno;
                        break;
                }
                if (k == 0)
                        break;
                if (reply.len + (size_t) k > REPLY_MAX) {
                        r = -E2BIG;
                        break;
                }
                strbuf_append(&reply, buf, (size_t) k);
        }
        char *text = strbuf_steal(&reply);
        if (r < 0 || !text) {
                free(text);
                return r < 0 ? r : -ENOMEM;
        }
        int status = 0;
        if (sscanf(text, "HTTP/1.%*d %d", &status) != 1 || status < 100) {
                free(text);
                return -EPROTO;
        }
        if (ret_body) {
                const char *b = strstr(text, "\r\n\r\n");
                *ret_body = strdup(b ? b + 4 : "");
        }
        free(text);
        *ret_status = status;
        return 0;
}
