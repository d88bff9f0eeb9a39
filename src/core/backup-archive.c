/* libarchive I/O of backup archives, run in a forked child that reports back over a pipe: writing an archive,
 * reading its manifest, and extracting a verified archive into a staging dir (never outside it). */
#include "core/backup-archive.h"

#include <fcntl.h>
#include <limits.h>
#include <locale.h>
#include <sodium.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>

#include "basic/archive-lib.h"
#include "basic/fileio.h"
#include "basic/util.h"
#include "core/backup-data.h"
#include "core/backup-journal.h"

/* Loaded in the child only (basic/archive-lib.h); every archive call goes through it. */
static const ArchiveLib *AR;

/* In the child only. libarchive converts names between UTF-8 (pax headers) and the locale's charset, and in the
 * "C" locale a non-ASCII name has no conversion (3.6.2 then crashes writing its header): the child works in
 * C.UTF-8, where the names of the archive grammars are what they are. */
static int archive_load(PicError *err) {
        if (!setlocale(LC_CTYPE, "C.UTF-8"))
                return pic_error(err, -EHOSTDOWN, NULL, "the C.UTF-8 locale is not available");
        if (!AR)
                AR = archive_lib(err);
        return AR ? 0 : -EHOSTDOWN;
}

/* ---- the child ---- */

typedef int (*child_fn)(void *userdata, char **ret_out, size_t *ret_len, PicError *err);

typedef struct ChildReply {
        int r;
        PicError err;
        uint64_t len; /* bytes of output that follow */
} ChildReply;

static size_t read_full(int fd, void *buf, size_t n) {
        size_t got = 0;
        while (got < n) {
                ssize_t k = read(fd, (char *) buf + got, n - got);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k <= 0)
                        break;
                got += (size_t) k;
        }
        return got;
}

/* Runs fn in a child and hands back its result, error and output (at most BACKUP_MANIFEST_MAX bytes). The child
 * ends with _exit: no atexit handler, stdio flush or sanitizer report of the parent's state runs twice. A child
 * that dies returns `died`: reading, that is an archive libarchive could not survive (-EBADMSG, nothing was
 * changed), writing an I/O failure. */
static int run_in_child(child_fn fn, void *userdata, int died, char **ret_out, size_t *ret_len, PicError *err) {
        int p[2];
        if (pipe2(p, O_CLOEXEC) < 0)
                return pic_error(err, negative_errno(), NULL, "cannot start the archive worker: %m");
        pid_t pid = fork();
        if (pid < 0) {
                int r = negative_errno();
                close(p[0]);
                close(p[1]);
                return pic_error(err, r, NULL, "cannot start the archive worker: %s", strerror(-r));
        }
        if (pid == 0) {
                close(p[0]);
                ChildReply rep = { 0 };
                char *out = NULL;
                size_t len = 0;
                rep.r = fn(userdata, &out, &len, &rep.err);
                if (rep.r < 0 && !rep.err.message[0])
                        pic_error(&rep.err, rep.r, NULL, "%s", strerror(-rep.r));
                rep.len = rep.r >= 0 && out ? len : 0;
                bool ok = fd_write_all(p[1], &rep, sizeof rep) >= 0 &&
                          (rep.len == 0 || fd_write_all(p[1], out, (size_t) rep.len) >= 0);
                _exit(ok ? 0 : 1);
        }
        close(p[1]);
        ChildReply rep;
        _cleanup_free_ char *out = NULL;
        int r = 0;
        if (read_full(p[0], &rep, sizeof rep) != sizeof rep)
                r = pic_error(err, died, NULL, "the archive worker died on this archive");
        else if (rep.r < 0) {
                if (err)
                        *err = rep.err;
                r = rep.r;
        } else if (rep.len > BACKUP_MANIFEST_MAX || !(out = malloc((size_t) rep.len + 1)))
                r = -ENOMEM;
        else if (read_full(p[0], out, (size_t) rep.len) != rep.len)
                r = pic_error(err, died, NULL, "the archive worker died on this archive");
        close(p[0]);
        int status = 0;
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
                ;
        if (r >= 0 && !(WIFEXITED(status) && WEXITSTATUS(status) == 0))
                r = pic_error(err, died, NULL, "the archive worker failed on this archive");
        if (r < 0)
                return r;
        if (ret_out) {
                out[rep.len] = '\0';
                *ret_out = TAKE_PTR(out);
                *ret_len = (size_t) rep.len;
        }
        return r;
}

/* ---- staging ---- */

static mode_t dir_mode_for(const char *rel) {
        return startswith(rel, "keys/") ? 0700 : 0755;
}

/* ---- archives (child side) ---- */

static int archive_fail(struct archive *a, PicError *err, const char *what) {
        /* A full disk stays that (507 naming the file, from the caller), not an anonymous I/O error. */
        int e = AR->archive_errno(a);
        return pic_error(err, e == ENOSPC || e == EDQUOT ? -e : -EIO, NULL, "%s: %s", what,
                         AR->archive_error_string(a) ? AR->archive_error_string(a) : "error");
}

/* One entry's header fields. */
typedef struct PutEntry {
        const char *name;
        uint64_t size;
        mode_t mode;
        uint32_t uid, gid;
        int64_t mtime_sec;
        uint32_t mtime_nsec;
        const char *want_sha; /* the hash the snapshot pass recorded, checked as the bytes go by; or NULL */
} PutEntry;

/* Writes one entry from buf (the manifest) or streamed from src_fd, never holding a file whole. */
static int archive_put(struct archive *a, const PutEntry *pe, const void *buf, int src_fd, PicError *err) {
        struct archive_entry *e = AR->archive_entry_new();
        if (!e)
                return -ENOMEM;
        /* The names are UTF-8 (the grammars say so): stored as they are, whatever the locale. */
        AR->archive_entry_set_pathname_utf8(e, pe->name);
        AR->archive_entry_set_size(e, (la_int64_t) pe->size);
        AR->archive_entry_set_filetype(e, AE_IFREG);
        AR->archive_entry_set_perm(e, pe->mode);
        AR->archive_entry_set_uid(e, pe->uid);
        AR->archive_entry_set_gid(e, pe->gid);
        AR->archive_entry_set_mtime(e, (time_t) pe->mtime_sec, (long) pe->mtime_nsec);
        int rc = AR->archive_write_header(a, e);
        AR->archive_entry_free(e);
        if (rc != ARCHIVE_OK)
                return archive_fail(a, err, "cannot write the archive");
        if (buf) {
                if (AR->archive_write_data(a, buf, pe->size) != (la_ssize_t) pe->size)
                        return archive_fail(a, err, "cannot write the archive");
                return 0;
        }
        crypto_hash_sha256_state st;
        crypto_hash_sha256_init(&st);
        uint64_t done = 0;
        char chunk[64 * 1024];
        for (;;) {
                ssize_t n = read(src_fd, chunk, sizeof chunk);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return pic_error(err, negative_errno(), NULL, "cannot read the snapshot of \"%s\": %m", pe->name);
                if (n == 0)
                        break;
                done += (uint64_t) n;
                if (done > pe->size)
                        break;
                crypto_hash_sha256_update(&st, (const unsigned char *) chunk, (unsigned long long) n);
                if (AR->archive_write_data(a, chunk, (size_t) n) != n)
                        return archive_fail(a, err, "cannot write the archive");
        }
        bool same = done == pe->size;
        if (same && pe->want_sha) {
                uint8_t digest[crypto_hash_sha256_BYTES];
                char hex[BACKUP_SHA_HEX];
                crypto_hash_sha256_final(&st, digest);
                sodium_bin2hex(hex, sizeof hex, digest, sizeof digest);
                same = streq(hex, pe->want_sha);
        }
        /* Only a file written in place (not replaced by rename) changes under a hard link. */
        return same ? 0
                    : pic_error(err, -EBUSY, NULL, "\"%s\" was written in place while it was being backed up; try again",
                                pe->name);
}

/* data.index, then each file it lists, in its order, read from the snapshot. */
static int write_data(struct archive *a, int snap_fd, const BackupDataInfo *data, int64_t mtime, PicError *err) {
        _cleanup_close_ int ifd = openat(snap_fd, BACKUP_DATA_INDEX_NAME, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        if (ifd < 0)
                return pic_error(err, negative_errno(), NULL, "cannot read the data index: %m");
        PutEntry ie = { .name = BACKUP_DATA_INDEX_NAME, .size = data->index_size, .mode = 0600, .mtime_sec = mtime,
                        .want_sha = data->index_sha256 };
        int r = archive_put(a, &ie, NULL, ifd, err);
        if (r < 0)
                return r;
        if (lseek(ifd, 0, SEEK_SET) < 0)
                return pic_error(err, negative_errno(), NULL, "cannot read the data index: %m");
        _cleanup_free_ BackupIndexReader *rd = calloc(1, sizeof *rd);
        _cleanup_free_ BackupDataEntry *e = calloc(1, sizeof *e);
        if (!rd || !e)
                return -ENOMEM;
        rd->fd = ifd;
        while ((r = backup_index_next(rd, e)) > 0) {
                if (e->is_dir)
                        continue;
                _cleanup_close_ int in = openat(snap_fd, e->path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
                if (in < 0)
                        return pic_error(err, negative_errno(), NULL, "cannot read the snapshot of \"%s\": %m", e->path);
                PutEntry pe = { .name = e->path, .size = e->size, .mode = e->mode, .uid = e->uid, .gid = e->gid,
                                .mtime_sec = e->mtime_sec, .mtime_nsec = e->mtime_nsec, .want_sha = e->sha256 };
                r = archive_put(a, &pe, NULL, in, err);
                if (r < 0)
                        return r;
        }
        return r < 0 ? pic_error(err, r, NULL, "cannot read the data index back: %s", strerror(-r)) : 0;
}

static int write_archive(int fd, const char *manifest, const char *snap, const BackupFileList *files,
                         const BackupDataInfo *data, int64_t mtime, PicError *err) {
        struct archive *a = AR->archive_write_new();
        if (!a)
                return -ENOMEM;
        int r = 0;
        /* Level 1: several times faster than the default 6 and within a few percent of its size on what a cell
         * holds (a database, text, and user files that are mostly compressed already). */
        if (AR->archive_write_add_filter_gzip(a) != ARCHIVE_OK ||
            AR->archive_write_set_filter_option(a, "gzip", "compression-level", "1") != ARCHIVE_OK ||
            AR->archive_write_set_format_pax_restricted(a) != ARCHIVE_OK || AR->archive_write_open_fd(a, fd) != ARCHIVE_OK) {
                r = archive_fail(a, err, "cannot start the archive");
                AR->archive_write_free(a);
                return r;
        }
        PutEntry me = { .name = BACKUP_MANIFEST_NAME, .size = strlen(manifest), .mode = 0600, .mtime_sec = mtime };
        r = archive_put(a, &me, manifest, -1, err);
        _cleanup_close_ int snap_fd = open(snap, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (r >= 0 && snap_fd < 0)
                r = pic_error(err, negative_errno(), NULL, "cannot open %s: %m", snap);
        for (size_t i = 0; r >= 0 && i < files->n; i++) {
                _cleanup_close_ int in = openat(snap_fd, files->v[i].path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
                if (in < 0) {
                        r = pic_error(err, negative_errno(), NULL, "cannot read %s/%s: %m", snap, files->v[i].path);
                        break;
                }
                PutEntry pe = { .name = files->v[i].path, .size = files->v[i].size, .mode = files->v[i].mode,
                                .mtime_sec = mtime };
                r = archive_put(a, &pe, NULL, in, err);
        }
        if (r >= 0 && data->present)
                r = write_data(a, snap_fd, data, mtime, err);
        /* close writes the gzip trailer: only a closed archive is complete. */
        if (AR->archive_write_close(a) != ARCHIVE_OK && r >= 0)
                r = archive_fail(a, err, "cannot finish the archive");
        AR->archive_write_free(a);
        return r;
}

static int archive_reader_open(int fd, struct archive **ret) {
        struct archive *a = AR->archive_read_new();
        if (!a)
                return -ENOMEM;
        if (AR->archive_read_support_filter_gzip(a) != ARCHIVE_OK || AR->archive_read_support_format_tar(a) != ARCHIVE_OK ||
            AR->archive_read_open_fd(a, fd, 64 * 1024) != ARCHIVE_OK) {
                AR->archive_read_free(a);
                return -EBADMSG;
        }
        *ret = a;
        return 0;
}

/* An entry we accept is a plain file: no link of any kind, no device, with its size stated up front. */
static bool entry_is_plain(struct archive_entry *e) {
        return AR->archive_entry_filetype(e) == AE_IFREG && !AR->archive_entry_hardlink(e) && !AR->archive_entry_symlink(e) &&
               AR->archive_entry_size_is_set(e) && AR->archive_entry_size(e) >= 0;
}

/* The manifest is the first entry, so every later entry is checked against it before a byte is written. */
static int read_manifest_entry(struct archive *a, char **ret, size_t *ret_len, PicError *err) {
        struct archive_entry *e;
        if (AR->archive_read_next_header(a, &e) != ARCHIVE_OK)
                return pic_error(err, -EBADMSG, NULL, "the archive is damaged or not a cell backup: %s",
                                 AR->archive_error_string(a) ? AR->archive_error_string(a) : "no entries");
        if (!streq_ptr(AR->archive_entry_pathname_utf8(e), BACKUP_MANIFEST_NAME) || !entry_is_plain(e) ||
            AR->archive_entry_size(e) > BACKUP_MANIFEST_MAX)
                return pic_error(err, -EBADMSG, NULL, "the archive does not start with a valid manifest");
        size_t len = (size_t) AR->archive_entry_size(e);
        _cleanup_free_ char *buf = malloc(len + 1);
        if (!buf)
                return -ENOMEM;
        size_t got = 0;
        while (got < len) {
                la_ssize_t n = AR->archive_read_data(a, buf + got, len - got);
                if (n <= 0)
                        return pic_error(err, -EBADMSG, NULL, "the archive's manifest is truncated");
                got += (size_t) n;
        }
        buf[len] = '\0';
        *ret = TAKE_PTR(buf);
        *ret_len = len;
        return 0;
}

/* Streams the current entry's data into out, hashing; -EBADMSG unless it is exactly size bytes with hash sha. */
static int stage_data(struct archive *a, int out, const char *name, uint64_t size, const char *sha, PicError *err) {
        crypto_hash_sha256_state st;
        crypto_hash_sha256_init(&st);
        uint64_t total = 0;
        char buf[64 * 1024];
        for (;;) {
                la_ssize_t n = AR->archive_read_data(a, buf, sizeof buf);
                if (n == 0)
                        break;
                if (n < 0)
                        return pic_error(err, -EBADMSG, NULL, "the archive is damaged or truncated in \"%s\": %s", name,
                                         AR->archive_error_string(a) ? AR->archive_error_string(a) : "read error");
                total += (uint64_t) n;
                if (total > size)
                        return pic_error(err, -EBADMSG, NULL, "\"%s\" in the archive is longer than stated", name);
                crypto_hash_sha256_update(&st, (const unsigned char *) buf, (unsigned long long) n);
                int r = fd_write_all(out, buf, (size_t) n);
                if (r < 0)
                        return pic_error(err, r, NULL, "cannot stage \"%s\": %s", name, strerror(-r));
        }
        uint8_t digest[crypto_hash_sha256_BYTES];
        char hex[BACKUP_SHA_HEX];
        crypto_hash_sha256_final(&st, digest);
        sodium_bin2hex(hex, sizeof hex, digest, sizeof digest);
        if (total != size || !streq(hex, sha))
                return pic_error(err, -EBADMSG, NULL, "\"%s\" in the archive does not match its manifest (altered or truncated)",
                                 name);
        return 0;
}

/* The next header, which must be a plain file named want of size bytes. */
static int next_entry(struct archive *a, const char *want, uint64_t size, PicError *err) {
        struct archive_entry *e;
        int rc = AR->archive_read_next_header(a, &e);
        if (rc == ARCHIVE_EOF)
                return pic_error(err, -EBADMSG, NULL, "\"%s\" is listed but missing from the archive (truncated?)", want);
        if (rc != ARCHIVE_OK)
                return pic_error(err, -EBADMSG, NULL, "the archive is damaged or truncated: %s",
                                 AR->archive_error_string(a) ? AR->archive_error_string(a) : "bad entry");
        if (!streq_ptr(AR->archive_entry_pathname_utf8(e), want))
                return pic_error(err, -EBADMSG, NULL, "the archive holds an entry its index does not list next (\"%s\" expected)",
                                 want);
        if (!entry_is_plain(e) || (uint64_t) AR->archive_entry_size(e) != size)
                return pic_error(err, -EBADMSG, NULL, "\"%s\" in the archive is not the plain file of its index's size", want);
        return 0;
}

/* Opens (creating parents as needed) a new file or directory for index entry e below new_fd, with e's masked
 * mode, owner and (files) modification time applied by the caller through the returned fd. */
static int stage_open(int new_fd, const BackupDataEntry *e, PicError *err) {
        _cleanup_close_ int parent = -1;
        const char *leaf = BACKUP_DATA_DIR;
        int r = 0;
        if (streq(e->path, BACKUP_DATA_DIR))
                r = (parent = fcntl(new_fd, F_DUPFD_CLOEXEC, 3)) < 0 ? negative_errno() : 0;
        else
                r = backup_open_parent(new_fd, e->path, 0700, &parent, &leaf);
        if (r == -ENOTDIR || r == -EEXIST || r == -ELOOP)
                return pic_error(err, -EBADMSG, NULL, "\"%s\" in the archive clashes with another entry", e->path);
        if (r < 0)
                return pic_error(err, r, NULL, "cannot stage \"%s\": %s", e->path, strerror(-r));
        int fd;
        if (e->is_dir) {
                fd = mkdirat(parent, leaf, 0700) < 0 ? -1 : openat(parent, leaf, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        } else
                fd = openat(parent, leaf, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0)
                return errno == EEXIST || errno == EISDIR
                               ? pic_error(err, -EBADMSG, NULL, "\"%s\" in the archive clashes with another entry", e->path)
                               : pic_error(err, negative_errno(), NULL, "cannot stage \"%s\": %m", e->path);
        return fd;
}

static int stage_attrs(int fd, const BackupDataEntry *e, PicError *err) {
        struct timespec ts[2] = { { .tv_nsec = UTIME_OMIT }, { .tv_sec = (time_t) e->mtime_sec, .tv_nsec = e->mtime_nsec } };
        if (fchown(fd, (uid_t) e->uid, (gid_t) e->gid) < 0 || fchmod(fd, backup_data_mode_mask(e->mode)) < 0 ||
            (!e->is_dir && futimens(fd, ts) < 0))
                return pic_error(err, negative_errno(), NULL, "cannot stage \"%s\": %m", e->path);
        return 0;
}

#define INDEX_SPOOL ".data.index" /* below the staging dir's new/, never moved into the state dir */

/* data.index is spooled to the staging dir and checked against the manifest before anything it lists is
 * written; then each line in turn: a directory is made, a file must be the next entry, streamed and checked. */
static int extract_data(struct archive *a, int new_fd, const BackupDataInfo *data, PicError *err) {
        int r = next_entry(a, BACKUP_DATA_INDEX_NAME, data->index_size, err);
        if (r < 0)
                return r;
        _cleanup_close_ int spool = openat(new_fd, INDEX_SPOOL, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (spool < 0)
                return pic_error(err, negative_errno(), NULL, "cannot stage the data index: %m");
        r = stage_data(a, spool, BACKUP_DATA_INDEX_NAME, data->index_size, data->index_sha256, err);
        if (r < 0)
                return r;
        if (lseek(spool, 0, SEEK_SET) < 0)
                return pic_error(err, negative_errno(), NULL, "cannot read the staged data index: %m");
        _cleanup_free_ BackupIndexReader *rd = calloc(1, sizeof *rd);
        _cleanup_free_ BackupDataEntry *e = calloc(1, sizeof *e);
        if (!rd || !e)
                return -ENOMEM;
        rd->fd = spool;
        uint64_t files = 0, dirs = 0, bytes = 0;
        while ((r = backup_index_next(rd, e)) > 0) {
                /* The first line is data/ itself; nothing else may come first. */
                if ((files + dirs == 0) != streq(e->path, BACKUP_DATA_DIR))
                        return pic_error(err, -EBADMSG, NULL, "the data index does not start with data/");
                bool over;
                if (e->is_dir)
                        over = ++dirs > data->dirs;
                else {
                        bytes += e->size; /* each at most 1 TiB and checked at once: no overflow */
                        over = ++files > data->files || bytes > data->bytes;
                }
                if (over)
                        return pic_error(err, -EBADMSG, NULL, "the data index lists more than its manifest says");
                if (!e->is_dir) {
                        r = next_entry(a, e->path, e->size, err);
                        if (r < 0)
                                return r;
                }
                _cleanup_close_ int fd = stage_open(new_fd, e, err);
                if (fd < 0)
                        return fd;
                if (!e->is_dir) {
                        r = stage_data(a, fd, e->path, e->size, e->sha256, err);
                        if (r < 0)
                                return r;
                }
                r = stage_attrs(fd, e, err);
                if (r < 0)
                        return r;
        }
        if (r < 0)
                return pic_error(err, -EBADMSG, NULL, "the data index is damaged");
        if (files != data->files || dirs != data->dirs || bytes != data->bytes)
                return pic_error(err, -EBADMSG, NULL, "the data index lists less than its manifest says");
        return 0;
}

/* Whether the staging dir's filesystem has room for what the manifest lists (the old state stays until the
 * swap): a restore that cannot fit fails before it writes a byte. */
static int check_room(int new_fd, const char *new_dir, const BackupFileList *manifest, const BackupDataInfo *data,
                      PicError *err) {
        uint64_t need = data->bytes + data->index_size;
        for (size_t i = 0; i < manifest->n; i++)
                need += manifest->v[i].size;
        struct statvfs sv;
        if (fstatvfs(new_fd, &sv) < 0)
                return pic_error(err, negative_errno(), NULL, "cannot stat the staging dir: %m");
        uint64_t avail = (uint64_t) sv.f_bavail * sv.f_frsize;
        if (avail < need)
                return pic_error(err, -ENOSPC, NULL, "not enough space to restore into %s: %llu MiB needed, %llu MiB free",
                                 new_dir, (unsigned long long) ((need + (1 << 20) - 1) >> 20),
                                 (unsigned long long) (avail >> 20));
        return 0;
}

static int extract_entries(struct archive *a, int new_fd, const char *new_dir, BackupFileList *manifest,
                           const BackupDataInfo *data, PicError *err) {
        _cleanup_free_ bool *seen = calloc(manifest->n + 1, sizeof *seen);
        if (!seen)
                return -ENOMEM;
        int r = check_room(new_fd, new_dir, manifest, data, err);
        if (r < 0)
                return r;
        /* The manifest's files, in any order, then (format 2) the data index and what it lists. */
        for (size_t left = manifest->n; left > 0; left--) {
                struct archive_entry *e;
                int rc = AR->archive_read_next_header(a, &e);
                if (rc == ARCHIVE_EOF)
                        break;
                if (rc != ARCHIVE_OK)
                        return pic_error(err, -EBADMSG, NULL, "the archive is damaged or truncated: %s",
                                         AR->archive_error_string(a) ? AR->archive_error_string(a) : "bad entry");
                const char *name = AR->archive_entry_pathname_utf8(e);
                size_t idx;
                BackupFile *f = backup_file_list_find(manifest, name, &idx);
                if (!name || name[0] == '/' || strstr(name, ".."))
                        return pic_error(err, -EBADMSG, NULL, "the archive holds an entry that escapes it: \"%.100s\"",
                                         name ? name : "");
                if (!f || seen[idx])
                        return pic_error(err, -EBADMSG, NULL, "the archive holds \"%.100s\", which its manifest does not list",
                                         name);
                if (!entry_is_plain(e))
                        return pic_error(err, -EBADMSG, NULL, "\"%s\" in the archive is not a plain file", name);
                if ((uint64_t) AR->archive_entry_size(e) != f->size)
                        return pic_error(err, -EBADMSG, NULL, "\"%s\" in the archive does not have its manifest's size", name);
                seen[idx] = true;

                _cleanup_close_ int parent = -1;
                const char *leaf;
                r = backup_open_parent(new_fd, f->path, dir_mode_for(f->path), &parent, &leaf);
                if (r == -ENOTDIR || r == -EEXIST || r == -ELOOP)
                        return pic_error(err, -EBADMSG, NULL, "\"%s\" in the archive clashes with another entry", name);
                if (r < 0)
                        return pic_error(err, r, NULL, "cannot stage \"%s\": %s", name, strerror(-r));
                _cleanup_close_ int out = openat(parent, leaf, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
                if (out < 0)
                        return errno == EEXIST || errno == EISDIR
                                       ? pic_error(err, -EBADMSG, NULL, "\"%s\" in the archive clashes with another entry", name)
                                       : pic_error(err, negative_errno(), NULL, "cannot stage \"%s\": %m", name);
                r = stage_data(a, out, name, f->size, f->sha256, err);
                if (r < 0)
                        return r;
                /* f->mode is already masked (backup_manifest_parse): 0600, 0640 or 0644, never wider for secrets. */
                if (fchmod(out, backup_mode_mask(f->path, f->mode)) < 0)
                        return pic_error(err, negative_errno(), NULL, "cannot stage \"%s\": %m", name);
        }
        for (size_t i = 0; i < manifest->n; i++)
                if (!seen[i])
                        return pic_error(err, -EBADMSG, NULL, "\"%s\" is listed in the manifest but missing from the archive (truncated?)",
                                         manifest->v[i].path);
        if (data->present) {
                r = extract_data(a, new_fd, data, err);
                if (r < 0)
                        return r;
        }
        struct archive_entry *e;
        int rc = AR->archive_read_next_header(a, &e);
        if (rc == ARCHIVE_OK)
                return pic_error(err, -EBADMSG, NULL, "the archive holds \"%.100s\", which its manifest does not list",
                                 AR->archive_entry_pathname_utf8(e) ? AR->archive_entry_pathname_utf8(e) : "");
        if (rc != ARCHIVE_EOF)
                return pic_error(err, -EBADMSG, NULL, "the archive is damaged after its last entry");
        /* One sync for everything staged: one fsync per file would cost more than the copy for many small files. */
        if (syncfs(new_fd) < 0)
                return pic_error(err, negative_errno(), NULL, "cannot sync the staged files: %m");
        return 0;
}

static int stage_archive(int archive_fd, const char *id, const uint8_t key[static BACKUP_KEY_BYTES], int new_fd,
                         const char *new_dir, PicError *err) {
        struct archive *a = NULL;
        if (archive_reader_open(archive_fd, &a) < 0)
                return pic_error(err, -EBADMSG, NULL, "the archive cannot be read as a gzip'ed tar");
        _cleanup_free_ char *text = NULL;
        size_t len;
        BackupFileList manifest = { 0 };
        BackupDataInfo data = { 0 };
        int r = read_manifest_entry(a, &text, &len, err);
        if (r >= 0)
                r = backup_manifest_parse(text, len, id, key, &manifest, &data, err);
        if (r >= 0)
                r = extract_entries(a, new_fd, new_dir, &manifest, &data, err);
        AR->archive_read_free(a);
        backup_file_list_done(&manifest);
        return r;
}

/* ---- the public calls: each runs its libarchive work in a child ---- */

typedef struct WriteArgs {
        int fd;
        const char *manifest, *snap_dir;
        const BackupFileList *files;
        const BackupDataInfo *data;
        int64_t mtime;
} WriteArgs;

static int write_child(void *userdata, char **ret_out, size_t *ret_len, PicError *err) {
        WriteArgs *a = userdata;
        int r = archive_load(err);
        return r < 0 ? r : write_archive(a->fd, a->manifest, a->snap_dir, a->files, a->data, a->mtime, err);
}

int backup_archive_write(int fd, const char *manifest, const char *snap_dir, const BackupFileList *files,
                         const BackupDataInfo *data, int64_t mtime, PicError *err) {
        WriteArgs a = { fd, manifest, snap_dir, files, data, mtime };
        return run_in_child(write_child, &a, -EIO, NULL, NULL, err);
}

static int manifest_child(void *userdata, char **ret_out, size_t *ret_len, PicError *err) {
        int r = archive_load(err);
        if (r < 0)
                return r;
        struct archive *a = NULL;
        if (archive_reader_open(*(int *) userdata, &a) < 0)
                return pic_error(err, -EBADMSG, NULL, "the archive cannot be read as a gzip'ed tar");
        r = read_manifest_entry(a, ret_out, ret_len, err);
        AR->archive_read_free(a);
        return r;
}

int backup_archive_read_manifest(int fd, char **ret, size_t *ret_len, PicError *err) {
        return run_in_child(manifest_child, &fd, -EBADMSG, ret, ret_len, err);
}

typedef struct ExtractArgs {
        int fd, new_fd;
        const char *id, *new_dir;
        const uint8_t *key;
} ExtractArgs;

static int extract_child(void *userdata, char **ret_out, size_t *ret_len, PicError *err) {
        ExtractArgs *a = userdata;
        int r = archive_load(err);
        return r < 0 ? r : stage_archive(a->fd, a->id, a->key, a->new_fd, a->new_dir, err);
}

int backup_archive_extract(int fd, const char *want_id, const uint8_t key[static BACKUP_KEY_BYTES], int new_fd,
                           const char *new_dir, PicError *err) {
        ExtractArgs a = { .fd = fd, .new_fd = new_fd, .id = want_id, .new_dir = new_dir, .key = key };
        return run_in_child(extract_child, &a, -EBADMSG, NULL, NULL, err);
}
