/* The atomic file writer and the small file utilities around it.
 * Durability order matters: data fsync before rename, directory fsync after, so a crash leaves old or new. */
#include "basic/fileio.h"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <sys/stat.h>

#include "basic/util.h"

static int content_equals(const char *path, const void *data, size_t len, mode_t mode) {
        struct stat st;
        if (stat(path, &st) < 0 || !S_ISREG(st.st_mode) || (size_t) st.st_size != len ||
            (st.st_mode & 07777) != mode)
                return 0;
        _cleanup_free_ char *old = NULL;
        size_t old_len = 0;
        if (read_file_full(path, len + 1, &old, &old_len) < 0)
                return 0;
        return old_len == len && memcmp(old, data, len) == 0;
}

int fsync_directory_of(const char *path) {
        char dir[PATH_MAX];
        snprintf(dir, sizeof dir, "%s", path);
        char *slash = strrchr(dir, '/');
        if (!slash)
                snprintf(dir, sizeof dir, ".");
        else if (slash == dir)
                dir[1] = '\0';
        else
                *slash = '\0';
        _cleanup_close_ int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return negative_errno();
        if (fsync(fd) < 0)
                return negative_errno();
        return 0;
}

int write_file_atomic(const char *path, const void *data, size_t len, mode_t mode, atomic_check_fn check,
                      void *userdata, PicError *err) {
        if (content_equals(path, data, len, mode))
                return WRITE_ATOMIC_UNCHANGED;

        char tmp[PATH_MAX];
        int fd = -1, r;
        for (int attempt = 0;; attempt++) {
                unsigned rnd = (unsigned) getpid() * 2654435761u + (unsigned) attempt * 40503u;
                /* A dot file: daemons that watch a directory (dnsmasq's dhcp-hostsdir via inotify) skip
                 * hidden names, so they never read a half-made candidate. */
                const char *slash = strrchr(path, '/');
                int dir_len = slash ? (int) (slash - path + 1) : 0;
                if (snprintf(tmp, sizeof tmp, "%.*s.%s.tmp-%08x", dir_len, path, path + dir_len, rnd) >=
                    (int) sizeof tmp)
                        return pic_error(err, -ENAMETOOLONG, NULL, "path too long: %s", path);
                fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
                if (fd >= 0)
                        break;
                if (errno != EEXIST || attempt > 16)
                        return pic_error(err, negative_errno(), NULL, "cannot create %s: %s", tmp, strerror(errno));
        }

        const char *p = data;
        size_t left = len;
        while (left > 0) {
                ssize_t n = write(fd, p, left);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        r = pic_error(err, negative_errno(), NULL, "write %s: %s", tmp, strerror(errno));
                        goto fail;
                }
                p += n;
                left -= (size_t) n;
        }
        /* fchmod because open()'s mode is filtered by the umask. */
        if (fchmod(fd, mode) < 0 || fsync(fd) < 0) {
                r = pic_error(err, negative_errno(), NULL, "sync %s: %s", tmp, strerror(errno));
                goto fail;
        }
        if (close(fd) < 0) {
                fd = -1;
                r = pic_error(err, negative_errno(), NULL, "close %s: %s", tmp, strerror(errno));
                goto fail;
        }
        fd = -1;
        if (check) {
                r = check(tmp, userdata, err);
                if (r < 0)
                        goto fail;
        }
        if (rename(tmp, path) < 0) {
                r = pic_error(err, negative_errno(), NULL, "rename to %s: %s", path, strerror(errno));
                goto fail;
        }
        r = fsync_directory_of(path);
        if (r < 0)
                return pic_error(err, r, NULL, "sync directory of %s: %s", path, strerror(-r));
        return WRITE_ATOMIC_WRITTEN;
fail:
        if (fd >= 0)
                close(fd);
        unlink(tmp);
        return r;
}

int read_file_full(const char *path, size_t max, char **ret, size_t *ret_len) {
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return negative_errno();
        size_t cap = 4096, len = 0;
        _cleanup_free_ char *buf = malloc(cap);
        if (!buf)
                return -ENOMEM;
        for (;;) {
                if (len + 1 >= cap) {
                        if (cap > max + 1)
                                return -EFBIG;
                        size_t ncap = cap * 2;
                        char *n = realloc(buf, ncap);
                        if (!n)
                                return -ENOMEM;
                        buf = n;
                        cap = ncap;
                }
                ssize_t k = read(fd, buf + len, cap - len - 1);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return negative_errno();
                }
                if (k == 0)
                        break;
                len += (size_t) k;
                if (len > max)
                        return -EFBIG;
        }
        buf[len] = '\0';
        *ret = TAKE_PTR(buf);
        if (ret_len)
                *ret_len = len;
        return 0;
}

int mkdir_p(const char *path, mode_t mode) {
        char buf[PATH_MAX];
        if (snprintf(buf, sizeof buf, "%s", path) >= (int) sizeof buf)
                return -ENAMETOOLONG;
        for (char *p = buf + 1; *p; p++) {
                if (*p != '/')
                        continue;
                *p = '\0';
                if (mkdir(buf, mode) < 0 && errno != EEXIST)
                        return negative_errno();
                *p = '/';
        }
        if (mkdir(buf, mode) < 0 && errno != EEXIST)
                return negative_errno();
        return 0;
}

static int rm_rf_at(int parent_fd, const char *name) {
        struct stat st;
        if (fstatat(parent_fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return errno == ENOENT ? 0 : negative_errno();
        if (!S_ISDIR(st.st_mode))
                return unlinkat(parent_fd, name, 0) < 0 && errno != ENOENT ? negative_errno() : 0;
        int fd = openat(parent_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return negative_errno();
        DIR *d = fdopendir(fd);
        if (!d) {
                close(fd);
                return negative_errno();
        }
        int r = 0;
        struct dirent *de;
        while ((de = readdir(d))) {
                if (streq(de->d_name, ".") || streq(de->d_name, ".."))
                        continue;
                int k = rm_rf_at(dirfd(d), de->d_name);
                if (k < 0 && r == 0)
                        r = k;
        }
        closedir(d);
        if (unlinkat(parent_fd, name, AT_REMOVEDIR) < 0 && errno != ENOENT && r == 0)
                r = negative_errno();
        return r;
}

int rm_rf(const char *path) {
        return rm_rf_at(AT_FDCWD, path);
}
