/* /proc/PID/net/udp parsing: a line belongs to pid only if one of pid's fds links to its inode, because the
 * file lists every socket of the namespace, not only pid's. */
#include "net/procnet.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <limits.h>
#include <stdio.h>

#include "basic/fileio.h"
#include "basic/parse.h"
#include "basic/util.h"

static bool pid_has_socket(pid_t pid, unsigned long inode) {
        char dir[64], want[64];
        snprintf(dir, sizeof dir, "/proc/%d/fd", (int) pid);
        snprintf(want, sizeof want, "socket:[%lu]", inode);
        DIR *d = opendir(dir);
        if (!d)
                return false;
        bool found = false;
        struct dirent *de;
        while (!found && (de = readdir(d))) {
                char link[64];
                ssize_t n = readlinkat(dirfd(d), de->d_name, link, sizeof link - 1);
                if (n > 0) {
                        link[n] = '\0';
                        found = streq(link, want);
                }
        }
        closedir(d);
        return found;
}

/* Fields are split on what isspace() calls space, as the sscanf() reading this parser replaced did. */
static bool is_blank(char c) {
        return c == ' ' || (c >= '\t' && c <= '\r');
}

static const char *skip_blanks(const char *p) {
        while (is_blank(*p))
                p++;
        return p;
}

static const char *skip_token(const char *p) {
        while (*p && !is_blank(*p))
                p++;
        return p;
}

/* Exactly n hex digits at p into *ret; returns the end or NULL. sscanf's %x would take a sign, "0x" and
 * fewer digits, so a mangled line could yield a port the kernel never printed. */
static const char *hex_field(const char *p, unsigned n, uint32_t *ret) {
        uint32_t v = 0;
        for (unsigned i = 0; i < n; i++, p++) {
                int d = *p >= '0' && *p <= '9' ? *p - '0'
                        : *p >= 'A' && *p <= 'F' ? *p - 'A' + 10
                        : *p >= 'a' && *p <= 'f' ? *p - 'a' + 10
                                                 : -1;
                if (d < 0)
                        return NULL;
                v = v << 4 | (uint32_t) d;
        }
        *ret = v;
        return p;
}

int procnet_udp_parse_line(const char *line, ProcnetUdpEntry *ret) {
        const char *p = skip_blanks(line);
        if (*p < '0' || *p > '9')
                return -EINVAL;
        while (*p >= '0' && *p <= '9')
                p++;
        if (*p++ != ':')
                return -EINVAL;
        p = skip_blanks(p);
        uint32_t addr, port;
        p = hex_field(p, 8, &addr);
        if (!p || *p++ != ':')
                return -EINVAL;
        p = hex_field(p, 4, &port);
        if (!p || !is_blank(*p))
                return -EINVAL;
        /* rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout, then the inode. */
        for (int i = 0; i < 7; i++) {
                p = skip_blanks(p);
                if (!*p)
                        return -EINVAL;
                p = skip_token(p);
        }
        p = skip_blanks(p);
        const char *end = skip_token(p);
        char num[24];
        uint64_t inode;
        if (end == p || (size_t) (end - p) >= sizeof num)
                return -EINVAL;
        memcpy(num, p, (size_t) (end - p));
        num[end - p] = '\0';
        if (parse_uint(num, 0, ULONG_MAX, &inode) < 0)
                return -EINVAL;
        /* The kernel prints the in-memory (network order) address as a host integer. */
        *ret = (ProcnetUdpEntry) { .local_addr = ntohl(addr), .local_port = (uint16_t) port, .inode = (unsigned long) inode };
        return 0;
}

int procnet_udp_socket(pid_t pid, uint16_t port, uint32_t *ret_addr) {
        char path[64];
        snprintf(path, sizeof path, "/proc/%d/net/udp", (int) pid);
        _cleanup_free_ char *text = NULL;
        int r = read_file_full(path, 16 * 1024 * 1024, &text, NULL);
        if (r < 0)
                return r;
        for (char *save = NULL, *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                ProcnetUdpEntry e;
                if (procnet_udp_parse_line(line, &e) < 0)
                        continue;
                if (e.local_port != port || !pid_has_socket(pid, e.inode))
                        continue;
                if (ret_addr)
                        *ret_addr = e.local_addr;
                return 0;
        }
        return -ENOENT;
}
