/* /proc/PID/net/udp parsing: a line belongs to pid only if one of pid's fds links to its inode, because the
 * file lists every socket of the namespace, not only pid's. */
#include "net/procnet.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <stdio.h>

#include "basic/fileio.h"
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

int procnet_udp_socket(pid_t pid, uint16_t port, uint32_t *ret_addr) {
        char path[64];
        snprintf(path, sizeof path, "/proc/%d/net/udp", (int) pid);
        _cleanup_free_ char *text = NULL;
        int r = read_file_full(path, 16 * 1024 * 1024, &text, NULL);
        if (r < 0)
                return r;
        for (char *save = NULL, *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                unsigned addr, p;
                unsigned long inode;
                /* sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode ... */
                if (sscanf(line, " %*u: %8x:%4x %*s %*s %*s %*s %*s %*s %*s %lu", &addr, &p, &inode) != 3)
                        continue;
                if (p != port || !pid_has_socket(pid, inode))
                        continue;
                /* The kernel prints the in-memory (network order) address as a host integer. */
                if (ret_addr)
                        *ret_addr = ntohl((uint32_t) addr);
                return 0;
        }
        return -ENOENT;
}
