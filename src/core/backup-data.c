/* STATE/data/ in a backup: the snapshot walk (hard links, copies of small files, data.index in one pass with
 * bounded memory whatever the file count) and the line reader for data.index. */
#include "core/backup-data.h"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "basic/fileio.h"
#include "basic/util.h"

int backup_copy_hashing(int src_fd, int dst_fd, uint64_t max, uint64_t *ret_size, char ret_hex[static BACKUP_SHA_HEX]) {
        crypto_hash_sha256_state st;
        crypto_hash_sha256_init(&st);
        uint64_t total = 0;
        char buf[64 * 1024];
        for (;;) {
                ssize_t n = read(src_fd, buf, sizeof buf);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return negative_errno();
                }
                if (n == 0)
                        break;
                total += (uint64_t) n;
                if (total > max)
                        return -EFBIG;
                crypto_hash_sha256_update(&st, (const unsigned char *) buf, (unsigned long long) n);
                if (dst_fd >= 0) {
                        int r = fd_write_all(dst_fd, buf, (size_t) n);
                        if (r < 0)
                                return r;
                }
        }
        uint8_t digest[crypto_hash_sha256_BYTES];
        crypto_hash_sha256_final(&st, digest);
        sodium_bin2hex(ret_hex, BACKUP_SHA_HEX, digest, sizeof digest);
        *ret_size = total;
        return 0;
}

/* ---- the snapshot walk ---- */

typedef struct Walk {
        int index_fd;
        crypto_hash_sha256_state st;
        BackupDataInfo info;
        size_t len; /* of buf */
        char buf[64 * 1024];
        char path[BACKUP_DATA_PATH_MAX + BACKUP_NAME_MAX + 2]; /* the current entry, "data/..." */
        char shown[512];                                         /* path made printable for a message */
        PicError *err;
} Walk;

/* The path for a message, valid UTF-8 whatever the name holds: printable characters as they are, any other byte
 * (and the backslash) as \xNN, cut with "..." when long. */
static const char *shown(Walk *w) {
        const unsigned char *c = (const unsigned char *) w->path;
        size_t n = strlen(w->path), o = 0;
        while (n > 0 && o + 8 < sizeof w->shown) {
                size_t k = *c == '\\' ? 0 : backup_utf8_printable(c, n);
                if (k > 0) {
                        memcpy(w->shown + o, c, k);
                        o += k;
                } else {
                        snprintf(w->shown + o, sizeof w->shown - o, "\\x%02x", *c);
                        o += 4;
                        k = 1;
                }
                c += k;
                n -= k;
        }
        snprintf(w->shown + o, sizeof w->shown - o, "%s", n > 0 ? "..." : "");
        return w->shown;
}

static int flush(Walk *w) {
        int r = fd_write_all(w->index_fd, w->buf, w->len);
        w->len = 0;
        return r;
}

static int emit(Walk *w, const BackupDataEntry *e) {
        if (w->info.files + w->info.dirs >= BACKUP_DATA_ENTRIES_MAX)
                return pic_error(w->err, -E2BIG, NULL, "cannot back up more than %llu files and directories below data/",
                                 (unsigned long long) BACKUP_DATA_ENTRIES_MAX);
        if (sizeof w->buf - w->len < BACKUP_INDEX_LINE_MAX + 1) {
                int r = flush(w);
                if (r < 0)
                        return pic_error(w->err, r, NULL, "cannot write the data index: %s", strerror(-r));
        }
        int n = backup_data_line_format(e, w->buf + w->len, sizeof w->buf - w->len);
        if (n < 0)
                return pic_error(w->err, n, NULL, "cannot back up \"%s\": the path is too long", shown(w));
        crypto_hash_sha256_update(&w->st, (const unsigned char *) w->buf + w->len, (unsigned long long) n);
        w->len += (size_t) n;
        w->info.index_size += (uint64_t) n;
        if (e->is_dir)
                w->info.dirs++;
        else {
                w->info.files++;
                w->info.bytes += e->size;
        }
        return 0;
}

static void entry_from_stat(BackupDataEntry *e, const struct stat *st, const char *path) {
        e->mode = st->st_mode & 0777;
        e->uid = (uint32_t) st->st_uid;
        e->gid = (uint32_t) st->st_gid;
        e->mtime_sec = (int64_t) st->st_mtim.tv_sec;
        e->mtime_nsec = (uint32_t) st->st_mtim.tv_nsec;
        memcpy(e->path, path, strlen(path) + 1);
}

/* One regular file into the snapshot: linked (copied when small or when no link can be made), then hashed from
 * the snapshot, which is exactly what the archive will read. A file gone since readdir was renamed away: it is
 * found under its new name or it is no longer content. Returns 1 when it was gone. */
static int snap_file(Walk *w, int live_fd, int snap_fd, const char *name, const struct stat *st) {
        BackupDataEntry *e = calloc(1, sizeof *e);
        if (!e)
                return -ENOMEM;
        int r = 0;
        _cleanup_close_ int in = -1, out = -1;
        bool linked = false;
        if ((uint64_t) st->st_size > BACKUP_DATA_COPY_MAX) {
                if (linkat(live_fd, name, snap_fd, name, 0) == 0)
                        linked = true;
                else if (errno == ENOENT) {
                        r = 1;
                        goto out;
                } else if (errno != EXDEV && errno != EPERM && errno != EMLINK) {
                        r = pic_error(w->err, negative_errno(), NULL, "cannot snapshot \"%s\": %m", shown(w));
                        goto out;
                }
        }
        in = linked ? openat(snap_fd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY)
                    : openat(live_fd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
        if (in < 0) {
                r = errno == ENOENT && !linked ? 1 : pic_error(w->err, negative_errno(), NULL, "cannot read \"%s\": %m", shown(w));
                goto out;
        }
        struct stat now;
        if (fstat(in, &now) < 0 || !S_ISREG(now.st_mode)) {
                r = pic_error(w->err, -EIO, NULL, "cannot back up \"%s\": it changed into something that is not a file",
                              shown(w));
                goto out;
        }
        entry_from_stat(e, &now, w->path);
        if (!linked) {
                out = openat(snap_fd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
                if (out < 0) {
                        r = pic_error(w->err, negative_errno(), NULL, "cannot snapshot \"%s\": %m", shown(w));
                        goto out;
                }
        }
        r = backup_copy_hashing(in, out, BACKUP_DATA_FILE_SIZE_MAX, &e->size, e->sha256);
        if (r < 0) {
                r = pic_error(w->err, r, NULL, "cannot back up \"%s\": %s", shown(w),
                              r == -EFBIG ? "larger than 1 TiB" : strerror(-r));
                goto out;
        }
        r = emit(w, e);
out:
        free(e);
        return r;
}

static int walk_dir(Walk *w, int live_fd, int snap_fd, unsigned depth);

static int snap_dir(Walk *w, int live_fd, int snap_fd, const char *name, unsigned depth) {
        _cleanup_close_ int sub = openat(live_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (sub < 0)
                return errno == ENOENT ? 1 : pic_error(w->err, negative_errno(), NULL, "cannot read \"%s\": %m", shown(w));
        struct stat st;
        if (fstat(sub, &st) < 0)
                return pic_error(w->err, negative_errno(), NULL, "cannot read \"%s\": %m", shown(w));
        if (mkdirat(snap_fd, name, 0700) < 0)
                return pic_error(w->err, negative_errno(), NULL, "cannot snapshot \"%s\": %m", shown(w));
        _cleanup_close_ int ssub = openat(snap_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (ssub < 0)
                return pic_error(w->err, negative_errno(), NULL, "cannot snapshot \"%s\": %m", shown(w));
        BackupDataEntry *e = calloc(1, sizeof *e);
        if (!e)
                return -ENOMEM;
        entry_from_stat(e, &st, w->path);
        e->is_dir = true;
        int r = emit(w, e);
        free(e);
        return r < 0 ? r : walk_dir(w, sub, ssub, depth);
}

static int walk_dir(Walk *w, int live_fd, int snap_fd, unsigned depth) {
        int fd = fcntl(live_fd, F_DUPFD_CLOEXEC, 3);
        if (fd < 0)
                return negative_errno();
        DIR *d = fdopendir(fd);
        if (!d) {
                close(fd);
                return -ENOMEM;
        }
        size_t base = strlen(w->path);
        int r = 0;
        struct dirent *de;
        while (r >= 0 && (errno = 0, de = readdir(d))) {
                if (streq(de->d_name, ".") || streq(de->d_name, ".."))
                        continue;
                snprintf(w->path + base, sizeof w->path - base, "/%s", de->d_name);
                const char *problem = backup_data_path_problem(w->path);
                if (problem) {
                        r = pic_error(w->err, -EBUSY, NULL, "cannot back up \"%s\": %s", shown(w), problem);
                        break;
                }
                struct stat st;
                if (fstatat(live_fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
                        if (errno != ENOENT)
                                r = pic_error(w->err, negative_errno(), NULL, "cannot read \"%s\": %m", shown(w));
                        continue;
                }
                if (S_ISDIR(st.st_mode))
                        r = snap_dir(w, live_fd, snap_fd, de->d_name, depth + 1);
                else if (S_ISREG(st.st_mode))
                        r = snap_file(w, live_fd, snap_fd, de->d_name, &st);
                else if (S_ISSOCK(st.st_mode) || S_ISFIFO(st.st_mode))
                        continue; /* a daemon's rendezvous (Postfix's queue has both): no content, remade at its start */
                else
                        r = pic_error(w->err, -EBUSY, NULL,
                                      "cannot back up \"%s\": only files and directories belong below data/, this is a %s",
                                      shown(w), S_ISLNK(st.st_mode) ? "symbolic link" : "device");
        }
        if (r >= 0 && errno != 0 && !de)
                r = pic_error(w->err, negative_errno(), NULL, "cannot read \"%s\": %m", shown(w));
        w->path[base] = '\0';
        closedir(d);
        return r < 0 ? r : 0;
}

int backup_data_snapshot(const char *state_dir, int snap_fd, BackupDataInfo *ret, PicError *err) {
        Walk *w = calloc(1, sizeof *w);
        if (!w)
                return -ENOMEM;
        w->err = err;
        crypto_hash_sha256_init(&w->st);
        int r = 0;
        _cleanup_close_ int state_fd = open(state_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        w->index_fd = openat(snap_fd, BACKUP_DATA_INDEX_NAME, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (state_fd < 0 || w->index_fd < 0) {
                r = pic_error(err, negative_errno(), NULL, "cannot start the data snapshot: %m");
                goto out;
        }
        snprintf(w->path, sizeof w->path, "%s", BACKUP_DATA_DIR);
        r = snap_dir(w, state_fd, snap_fd, BACKUP_DATA_DIR, 0);
        if (r == 1)
                r = 0; /* no data/ yet: an empty index */
        if (r >= 0) {
                r = flush(w);
                if (r < 0)
                        r = pic_error(err, r, NULL, "cannot write the data index: %s", strerror(-r));
        }
        if (r >= 0) {
                uint8_t digest[crypto_hash_sha256_BYTES];
                crypto_hash_sha256_final(&w->st, digest);
                sodium_bin2hex(w->info.index_sha256, BACKUP_SHA_HEX, digest, sizeof digest);
                w->info.present = true;
                *ret = w->info;
        }
out:
        if (w->index_fd >= 0)
                close(w->index_fd);
        free(w);
        return r;
}

/* ---- reading data.index ---- */

int backup_index_next(BackupIndexReader *r, BackupDataEntry *ret) {
        for (;;) {
                char *nl = memchr(r->buf + r->start, '\n', r->end - r->start);
                if (nl) {
                        size_t len = (size_t) (nl - (r->buf + r->start));
                        int k = backup_data_line_parse(r->buf + r->start, len, ret);
                        r->start += len + 1;
                        return k < 0 ? k : 1;
                }
                if (r->end - r->start > BACKUP_INDEX_LINE_MAX)
                        return -EBADMSG;
                memmove(r->buf, r->buf + r->start, r->end - r->start);
                r->end -= r->start;
                r->start = 0;
                ssize_t n = read(r->fd, r->buf + r->end, sizeof r->buf - r->end);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return negative_errno();
                if (n == 0)
                        return r->end == 0 ? 0 : -EBADMSG;
                r->end += (size_t) n;
        }
}
