/* pic-mail-auth: Dovecot's checkpassword program for the cell's mail. It asks picd (auth.sock, the same question
 * Caddy's forward_auth asks) whether "user:app password" from this client address may use the mail service.
 *
 * Why ask picd instead of giving Dovecot hashes: picd keeps app passwords as keyed hashes Dovecot cannot verify,
 * and picd alone knows peers, grants, revocations and last-used times. Asking it keeps one authority: a revoke
 * is live on the next login, and no password hash is ever written for Dovecot to read.
 *
 * Protocol (checkpassword, as Dovecot speaks it): fd 3 carries "user\0password\0..."; on success exec argv[1]
 * (Dovecot's checkpassword-reply) with USER set; exit 1 = wrong credentials, 111 = temporary failure.
 * Environment (from Dovecot's import_environment): PIC_AUTH_SOCKET, PIC_MAIL_DOMAIN; TCPREMOTEIP from Dovecot. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* memmem */
#endif
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#define EXIT_DENIED 1
#define EXIT_TEMPFAIL 111
#define INPUT_MAX 1024
#define REPLY_MAX 4096

static void wipe(void *p, size_t n) {
        explicit_bzero(p, n);
}

/* The name grammar of users ([a-z0-9][a-z0-9-]{0,62}), so nothing else reaches picd or Dovecot's USER. */
static bool name_ok(const char *s) {
        size_t n = strlen(s);
        if (n == 0 || n > 63 || s[0] == '-')
                return false;
        for (size_t i = 0; i < n; i++)
                if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
                        return false;
        return true;
}

static bool ip_ok(const char *s) {
        size_t n = strlen(s);
        if (n == 0 || n > 45)
                return false;
        for (size_t i = 0; i < n; i++)
                if (!strchr("0123456789abcdefABCDEF.:", s[i]))
                        return false;
        return true;
}

static size_t b64(const unsigned char *in, size_t n, char *out, size_t size) {
        static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        size_t o = 0;
        for (size_t i = 0; i < n; i += 3) {
                unsigned v = (unsigned) in[i] << 16 | (i + 1 < n ? (unsigned) in[i + 1] << 8 : 0) |
                             (i + 2 < n ? in[i + 2] : 0);
                if (o + 5 > size)
                        return 0;
                out[o++] = tab[(v >> 18) & 63];
                out[o++] = tab[(v >> 12) & 63];
                out[o++] = i + 1 < n ? tab[(v >> 6) & 63] : '=';
                out[o++] = i + 2 < n ? tab[v & 63] : '=';
        }
        out[o] = '\0';
        return o;
}

static int write_all(int fd, const char *p, size_t n) {
        while (n > 0) {
                ssize_t w = write(fd, p, n);
                if (w < 0 && errno == EINTR)
                        continue;
                if (w <= 0)
                        return -1;
                p += w;
                n -= (size_t) w;
        }
        return 0;
}

/* One GET /auth on picd's auth.sock: the HTTP status (0 on a transport failure), the user picd names. */
static int ask_picd(const char *sock, const char *ip, const char *basic, char user_out[64]) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        if (strlen(sock) >= sizeof sa.sun_path)
                return 0;
        memcpy(sa.sun_path, sock, strlen(sock) + 1);
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return 0;
        struct timeval tv = { .tv_sec = 5 };
        (void) setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        (void) setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
        char req[1400];
        int n = snprintf(req, sizeof req,
                         "GET /auth HTTP/1.1\r\nHost: picd\r\nX-Pic-Service: mail\r\nX-Forwarded-For: %s\r\n"
                         "Authorization: Basic %s\r\nConnection: close\r\n\r\n",
                         ip, basic);
        int status = 0;
        char reply[REPLY_MAX + 1];
        size_t got = 0;
        if (n > 0 && (size_t) n < sizeof req && connect(fd, (struct sockaddr *) &sa, sizeof sa) == 0 &&
            write_all(fd, req, (size_t) n) == 0) {
                for (;;) {
                        ssize_t r = read(fd, reply + got, REPLY_MAX - got);
                        if (r < 0 && errno == EINTR)
                                continue;
                        if (r <= 0)
                                break;
                        got += (size_t) r;
                        if (got == REPLY_MAX || memmem(reply, got, "\r\n\r\n", 4))
                                break;
                }
        }
        wipe(req, sizeof req);
        close(fd);
        reply[got] = '\0';
        if (sscanf(reply, "HTTP/1.%*1d %3d", &status) != 1)
                return 0;
        user_out[0] = '\0';
        for (char *l = strstr(reply, "\r\n"); l && *l; l = strstr(l + 2, "\r\n")) {
                if (strncasecmp(l + 2, "X-Pic-User:", 11) != 0)
                        continue;
                const char *v = l + 13;
                while (*v == ' ')
                        v++;
                size_t len = strcspn(v, "\r\n");
                if (len < 64) {
                        memcpy(user_out, v, len);
                        user_out[len] = '\0';
                }
                break;
        }
        return status;
}

int main(int argc, char **argv) {
        if (argc < 2)
                return EXIT_TEMPFAIL;
        const char *sock = getenv("PIC_AUTH_SOCKET"), *domain = getenv("PIC_MAIL_DOMAIN");
        const char *ip = getenv("TCPREMOTEIP");
        if (!sock || !domain)
                return EXIT_TEMPFAIL;
        char in[INPUT_MAX + 1];
        size_t got = 0;
        for (;;) {
                ssize_t r = read(3, in + got, INPUT_MAX - got);
                if (r < 0 && errno == EINTR)
                        continue;
                if (r <= 0)
                        break;
                got += (size_t) r;
                if (got == INPUT_MAX)
                        break;
        }
        close(3);
        in[got] = '\0';
        /* user\0password\0: both must be there, and the password may not be empty. */
        size_t ulen = strnlen(in, got);
        if (ulen >= got) {
                wipe(in, sizeof in);
                return EXIT_DENIED;
        }
        char *pass = in + ulen + 1;
        size_t plen = strnlen(pass, got - ulen - 1);
        char user[128];
        int rc = EXIT_DENIED;
        if (ulen == 0 || ulen >= sizeof user || plen == 0 || plen > 256)
                goto out;
        for (size_t i = 0; i <= ulen; i++)
                user[i] = (char) ((in[i] >= 'A' && in[i] <= 'Z') ? in[i] + 32 : in[i]);
        /* "alice" or "alice@<mail domain>"; any other domain is nobody here. */
        char *at = strchr(user, '@');
        if (at) {
                if (strcasecmp(at + 1, domain) != 0)
                        goto out;
                *at = '\0';
        }
        if (!name_ok(user))
                goto out;
        /* Without an address picd treats the caller as no peer at all (refused): Dovecot always gives one. */
        if (!ip || !ip_ok(ip))
                goto out;
        char cred[400], basic[600];
        int n = snprintf(cred, sizeof cred, "%s:%.*s", user, (int) plen, pass);
        if (n <= 0 || (size_t) n >= sizeof cred || b64((unsigned char *) cred, (size_t) n, basic, sizeof basic) == 0) {
                wipe(cred, sizeof cred);
                goto out;
        }
        wipe(cred, sizeof cred);
        char who[64];
        int status = ask_picd(sock, ip, basic, who);
        wipe(basic, sizeof basic);
        if (status == 200 && strcmp(who, user) == 0) {
                wipe(in, sizeof in);
                if (setenv("USER", user, 1) < 0)
                        return EXIT_TEMPFAIL;
                execv(argv[1], argv + 1);
                return EXIT_TEMPFAIL;
        }
        /* 401 wrong, 403 this address may not use mail, 429 too many failures: all a refusal to the client. */
        rc = status == 401 || status == 403 || status == 429 ? EXIT_DENIED : EXIT_TEMPFAIL;
out:
        wipe(in, sizeof in);
        return rc;
}
