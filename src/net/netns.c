/* Network namespace helpers. Creation follows iproute2: a child unshares CLONE_NEWNET and bind-mounts its
 * /proc/self/ns/net onto /run/netns/NAME, which keeps the namespace alive after the child exits. */
#include "net/netns.h"

#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <linux/magic.h>
#include <sys/wait.h>

#include "basic/fileio.h"
#include "basic/log.h"
#include "basic/parse.h"
#include "basic/util.h"

#define NETNS_RUN_DIR "/run/netns"

int netif_set_up(const char *ifname) {
        _cleanup_close_ int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return negative_errno();
        struct ifreq ifr = { 0 };
        if (strlen(ifname) >= sizeof ifr.ifr_name)
                return -EINVAL;
        memcpy(ifr.ifr_name, ifname, strlen(ifname) + 1);
        if (ioctl(fd, SIOCGIFFLAGS, &ifr) < 0)
                return negative_errno();
        ifr.ifr_flags |= IFF_UP;
        if (ioctl(fd, SIOCSIFFLAGS, &ifr) < 0)
                return negative_errno();
        return 0;
}

static int netns_create(const char *path) {
        int r = mkdir_p(NETNS_RUN_DIR, 0755);
        if (r < 0)
                return r;
        int fd = open(path, O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0);
        if (fd < 0)
                return negative_errno();
        close(fd);
        pid_t pid = fork();
        if (pid < 0) {
                r = negative_errno();
                unlink(path);
                return r;
        }
        if (pid == 0) {
                if (unshare(CLONE_NEWNET) < 0 || mount("/proc/self/ns/net", path, "none", MS_BIND, NULL) < 0)
                        _exit(1);
                _exit(netif_set_up("lo") < 0 ? 2 : 0);
        }
        int status;
        while (waitpid(pid, &status, 0) < 0)
                if (errno != EINTR)
                        return negative_errno();
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
                umount2(path, MNT_DETACH);
                unlink(path);
                return -EIO;
        }
        return 0;
}

int netns_open_or_create(const char *name, int *ret_fd) {
        if (!name_is_valid(name))
                return -EINVAL;
        char path[256];
        snprintf(path, sizeof path, NETNS_RUN_DIR "/%s", name);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd >= 0) {
                struct statfs sf;
                if (fstatfs(fd, &sf) == 0 && sf.f_type == NSFS_MAGIC) {
                        /* Made by someone else (ip netns add leaves lo down): local traffic needs lo up. */
                        int saved, r = netns_enter(fd, &saved);
                        if (r >= 0) {
                                r = netif_set_up("lo");
                                int k = netns_leave(saved);
                                if (k < 0)
                                        abort(); /* staying in the wrong namespace would misdirect everything */
                        }
                        if (r < 0) {
                                close(fd);
                                return log_debug_errno(r, "cannot bring up lo in network namespace %s", name);
                        }
                        *ret_fd = fd;
                        return 0;
                }
                /* An empty file left by an interrupted creation is not a namespace: replace it. */
                close(fd);
                unlink(path);
        }
        int r = netns_create(path);
        if (r < 0 && r != -EEXIST)
                return log_debug_errno(r, "cannot create network namespace %s", name);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return negative_errno();
        *ret_fd = fd;
        return 0;
}

int netns_enter(int netns_fd, int *ret_saved_fd) {
        int saved = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
        if (saved < 0)
                return negative_errno();
        if (setns(netns_fd, CLONE_NEWNET) < 0) {
                int r = negative_errno();
                close(saved);
                return r;
        }
        *ret_saved_fd = saved;
        return 0;
}

int netns_leave(int saved_fd) {
        int r = setns(saved_fd, CLONE_NEWNET) < 0 ? negative_errno() : 0;
        close(saved_fd);
        return r;
}
