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

int fd_write_all(int fd, const void *data, size_t len) {
        const char *p = data;
        while (len > 0) {
                ssize_t n = write(fd, p, len);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return negative_errno();
                }
                p += n;
                len -= (size_t) n;
        }
        return 0;
}

int write_file_atomic(const char *path, const void *data, size_t len, mode_t mode, atomic_check_fn check,
                      void *userdata, PicError *err) {
        if (content_equals(path, data, len, mode))
                return WRITE_ATOMIC_UNCHANGED;
        AtomicFile f;
        int r = atomic_file_open(path, mode, &f);
        if (r < 0)
                return pic_error(err, r, NULL, "cannot create a temporary file beside %s: %s", path, strerror(-r));
        r = fd_write_all(f.fd, data, len);
        if (r >= 0)
                r = atomic_file_finish(&f);
        if (r < 0) {
                atomic_file_abort(&f); /* clears f.tmp: name the file the caller asked for */
                return pic_error(err, r, NULL, "cannot write %s: %s", path, strerror(-r));
        }
        if (check) {
                r = check(f.tmp, userdata, err);
                if (r < 0) {
                        atomic_file_abort(&f);
                        return r;
                }
        }
        r = atomic_file_commit(&f, false);
        if (r < 0)
                return pic_error(err, r, NULL, "cannot replace %s: %s", path, strerror(-r));
        return WRITE_ATOMIC_WRITTEN;
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

/* Deep enough for any tree a person makes; each level holds one fd. */
#define CHOWN_TREE_DEPTH_MAX 256

static int chown_tree_fd(int fd, dev_t dev, uid_t uid, gid_t gid, unsigned depth) {
        if (fchown(fd, uid, gid) < 0)
                return negative_errno();
        int dfd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
        if (dfd < 0)
                return negative_errno();
        DIR *d = fdopendir(dfd);
        if (!d) {
                close(dfd);
                return negative_errno();
        }
        int r = 0;
        struct dirent *de;
        while (r >= 0 && (de = readdir(d))) {
                if (streq(de->d_name, ".") || streq(de->d_name, ".."))
                        continue;
                struct stat st;
                if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
                        if (errno != ENOENT) /* gone meanwhile: nothing to give */
                                r = negative_errno();
                        continue;
                }
                if (st.st_dev != dev)
                        continue;
                if (S_ISDIR(st.st_mode)) {
                        if (depth >= CHOWN_TREE_DEPTH_MAX) {
                                r = -ELOOP;
                                break;
                        }
                        int sub = openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                        if (sub < 0) {
                                if (errno != ENOENT)
                                        r = negative_errno();
                                continue;
                        }
                        r = chown_tree_fd(sub, dev, uid, gid, depth + 1);
                        close(sub);
                        continue;
                }
                if (st.st_uid == uid && st.st_gid == gid)
                        continue;
                if (!S_ISLNK(st.st_mode) && st.st_nlink > 1)
                        continue;
                if (fchownat(dirfd(d), de->d_name, uid, gid, AT_SYMLINK_NOFOLLOW) < 0 && errno != ENOENT)
                        r = negative_errno();
        }
        closedir(d);
        return r;
}

int chown_tree_nofollow(const char *path, uid_t uid, gid_t gid) {
        _cleanup_close_ int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return negative_errno();
        struct stat st;
        if (fstat(fd, &st) < 0)
                return negative_errno();
        return chown_tree_fd(fd, st.st_dev, uid, gid, 0);
}

#define BELOW_DEPTH_MAX 16

/* Splits rel into at most BELOW_DEPTH_MAX components in buf; -EINVAL for "." or "..", or too many. */
static int split_rel(const char *rel, char buf[static PATH_MAX], char *parts[static BELOW_DEPTH_MAX]) {
        if (snprintf(buf, PATH_MAX, "%s", rel) >= PATH_MAX)
                return -ENAMETOOLONG;
        int n = 0;
        char *save = NULL;
        for (char *t = strtok_r(buf, "/", &save); t; t = strtok_r(NULL, "/", &save)) {
                if (streq(t, ".") || streq(t, "..") || n == BELOW_DEPTH_MAX)
                        return -EINVAL;
                parts[n++] = t;
        }
        return n;
}

int mkdir_below(const char *base, const char *rel, mode_t mode, uid_t uid, gid_t gid) {
        char buf[PATH_MAX];
        char *parts[BELOW_DEPTH_MAX];
        int n = split_rel(rel, buf, parts);
        if (n < 0)
                return n;
        int fd = open(base, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return negative_errno();
        int r = 0;
        for (int i = 0; i < n && r >= 0; i++) {
                bool made = mkdirat(fd, parts[i], mode) == 0;
                if (!made && errno != EEXIST) {
                        r = negative_errno();
                        break;
                }
                int sub = openat(fd, parts[i], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (sub < 0)
                        r = negative_errno();
                else if (made && fchown(sub, uid, gid) < 0)
                        r = negative_errno();
                close(fd);
                fd = sub;
        }
        if (fd >= 0)
                close(fd);
        return r;
}

void rmdir_below(const char *base, const char *rel) {
        char buf[PATH_MAX];
        char *parts[BELOW_DEPTH_MAX];
        int fds[BELOW_DEPTH_MAX + 1];
        int n = split_rel(rel, buf, parts);
        if (n <= 0)
                return;
        int k = 0;
        fds[k] = open(base, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        /* fds[i] is the directory that holds parts[i]. */
        while (fds[k] >= 0 && k < n - 1) {
                fds[k + 1] = openat(fds[k], parts[k], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                k++;
        }
        bool all = fds[k] >= 0;
        for (int i = k; i >= 0; i--) {
                if (all && unlinkat(fds[i], parts[i], AT_REMOVEDIR) < 0)
                        all = false;
                if (fds[i] >= 0)
                        close(fds[i]);
        }
}

int atomic_file_open(const char *path, mode_t mode, AtomicFile *ret) {
        static unsigned counter;
        AtomicFile f = { .fd = -1, .mode = mode };
        if (snprintf(f.path, sizeof f.path, "%s", path) >= (int) sizeof f.path)
                return -ENAMETOOLONG;
        /* A dot file: daemons that watch a directory (dnsmasq's dhcp-hostsdir via inotify) skip hidden
         * names, so they never read a half-made candidate. */
        const char *slash = strrchr(path, '/');
        int dir_len = slash ? (int) (slash - path + 1) : 0;
        for (int attempt = 0;; attempt++) {
                unsigned rnd = (unsigned) getpid() * 2654435761u + ++counter * 40503u + (unsigned) attempt;
                if (snprintf(f.tmp, sizeof f.tmp, "%.*s.%s.tmp-%08x", dir_len, path, path + dir_len, rnd) >=
                    (int) sizeof f.tmp)
                        return -ENAMETOOLONG;
                f.fd = open(f.tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
                if (f.fd >= 0)
                        break;
                if (errno != EEXIST || attempt > 16)
                        return negative_errno();
        }
        *ret = f;
        return 0;
}

int atomic_file_finish(AtomicFile *f) {
        if (f->fd < 0)
                return 0;
        int r = 0;
        /* fchmod because open()'s mode is filtered by the umask. */
        if (fchmod(f->fd, f->mode) < 0 || fsync(f->fd) < 0)
                r = negative_errno();
        int fd = TAKE_FD(f->fd);
        if (close(fd) < 0 && r == 0)
                r = negative_errno();
        return r;
}

int atomic_file_commit(AtomicFile *f, bool no_replace) {
        if (!f->tmp[0])
                return -EBADF;
        int r = atomic_file_finish(f);
        if (r == 0 && renameat2(AT_FDCWD, f->tmp, AT_FDCWD, f->path, no_replace ? RENAME_NOREPLACE : 0) < 0)
                r = negative_errno();
        if (r < 0)
                unlink(f->tmp);
        f->tmp[0] = '\0';
        return r < 0 ? r : fsync_directory_of(f->path);
}

void atomic_file_abort(AtomicFile *f) {
        if (f->fd >= 0)
                close(TAKE_FD(f->fd));
        if (f->tmp[0]) {
                unlink(f->tmp);
                f->tmp[0] = '\0';
        }
}

int fsync_directory(const char *path) {
        _cleanup_close_ int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return negative_errno();
        return fsync(fd) < 0 ? negative_errno() : 0;
}
