/* libarchive I/O of backup archives, run in a forked child that reports back over a pipe: writing an archive,
 * reading its manifest, and extracting a verified archive into a staging dir (never outside it). */
#include "core/backup-archive.h"

#include <fcntl.h>
#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "basic/archive-lib.h"
#include "basic/fileio.h"
#include "basic/util.h"
#include "core/backup-journal.h"

/* Loaded in the child only (basic/archive-lib.h); every archive call goes through it. */
static const ArchiveLib *AR;

static int archive_load(PicError *err) {
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

static int archive_put(struct archive *a, const char *name, uint64_t size, mode_t mode, int64_t mtime, const void *buf,
                       int src_fd, PicError *err) {
        struct archive_entry *e = AR->archive_entry_new();
        if (!e)
                return -ENOMEM;
        AR->archive_entry_set_pathname(e, name);
        AR->archive_entry_set_size(e, (la_int64_t) size);
        AR->archive_entry_set_filetype(e, AE_IFREG);
        AR->archive_entry_set_perm(e, mode);
        AR->archive_entry_set_mtime(e, mtime, 0);
        int rc = AR->archive_write_header(a, e);
        AR->archive_entry_free(e);
        if (rc != ARCHIVE_OK)
                return archive_fail(a, err, "cannot write the archive");
        if (buf) {
                if (AR->archive_write_data(a, buf, size) != (la_ssize_t) size)
                        return archive_fail(a, err, "cannot write the archive");
                return 0;
        }
        uint64_t done = 0;
        char chunk[64 * 1024];
        for (;;) {
                ssize_t n = read(src_fd, chunk, sizeof chunk);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return pic_error(err, negative_errno(), NULL, "cannot read the snapshot of %s: %m", name);
                if (n == 0)
                        break;
                done += (uint64_t) n;
                if (done > size || AR->archive_write_data(a, chunk, (size_t) n) != n)
                        return archive_fail(a, err, "cannot write the archive");
        }
        return done == size ? 0 : pic_error(err, -EIO, NULL, "the snapshot of %s changed while archiving", name);
}

static int write_archive(int fd, const char *manifest, const char *snap, const BackupFileList *files, int64_t mtime,
                         PicError *err) {
        struct archive *a = AR->archive_write_new();
        if (!a)
                return -ENOMEM;
        int r = 0;
        if (AR->archive_write_add_filter_gzip(a) != ARCHIVE_OK || AR->archive_write_set_format_pax_restricted(a) != ARCHIVE_OK ||
            AR->archive_write_open_fd(a, fd) != ARCHIVE_OK) {
                r = archive_fail(a, err, "cannot start the archive");
                AR->archive_write_free(a);
                return r;
        }
        r = archive_put(a, BACKUP_MANIFEST_NAME, strlen(manifest), 0600, mtime, manifest, -1, err);
        for (size_t i = 0; r >= 0 && i < files->n; i++) {
                char src[PATH_MAX];
                r = backup_path_join(src, sizeof src, snap, files->v[i].path);
                if (r < 0)
                        break;
                _cleanup_close_ int in = open(src, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
                if (in < 0) {
                        r = pic_error(err, negative_errno(), NULL, "cannot read %s: %m", src);
                        break;
                }
                r = archive_put(a, files->v[i].path, files->v[i].size, files->v[i].mode, mtime, NULL, in, err);
        }
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
        if (!streq_ptr(AR->archive_entry_pathname(e), BACKUP_MANIFEST_NAME) || !entry_is_plain(e) ||
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

static int extract_entries(struct archive *a, int new_fd, BackupFileList *manifest, PicError *err) {
        _cleanup_free_ bool *seen = calloc(manifest->n + 1, sizeof *seen);
        if (!seen)
                return -ENOMEM;
        for (;;) {
                struct archive_entry *e;
                int rc = AR->archive_read_next_header(a, &e);
                if (rc == ARCHIVE_EOF)
                        break;
                if (rc != ARCHIVE_OK)
                        return pic_error(err, -EBADMSG, NULL, "the archive is damaged or truncated: %s",
                                         AR->archive_error_string(a) ? AR->archive_error_string(a) : "bad entry");
                const char *name = AR->archive_entry_pathname(e);
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
                int r = backup_open_parent(new_fd, f->path, dir_mode_for(f->path), &parent, &leaf);
                if (r == -ENOTDIR || r == -EEXIST || r == -ELOOP)
                        return pic_error(err, -EBADMSG, NULL, "\"%s\" in the archive clashes with another entry", name);
                if (r < 0)
                        return pic_error(err, r, NULL, "cannot stage \"%s\": %s", name, strerror(-r));
                _cleanup_close_ int out = openat(parent, leaf, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
                if (out < 0)
                        return errno == EEXIST || errno == EISDIR
                                       ? pic_error(err, -EBADMSG, NULL, "\"%s\" in the archive clashes with another entry", name)
                                       : pic_error(err, negative_errno(), NULL, "cannot stage \"%s\": %m", name);

                crypto_hash_sha256_state st;
                crypto_hash_sha256_init(&st);
                uint64_t total = 0;
                char buf[64 * 1024];
                for (;;) {
                        la_ssize_t n = AR->archive_read_data(a, buf, sizeof buf);
                        if (n == 0)
                                break;
                        if (n < 0)
                                return pic_error(err, -EBADMSG, NULL, "the archive is damaged or truncated in \"%s\": %s",
                                                 name, AR->archive_error_string(a) ? AR->archive_error_string(a) : "read error");
                        total += (uint64_t) n;
                        if (total > f->size)
                                return pic_error(err, -EBADMSG, NULL, "\"%s\" in the archive is longer than stated", name);
                        crypto_hash_sha256_update(&st, (const unsigned char *) buf, (unsigned long long) n);
                        r = fd_write_all(out, buf, (size_t) n);
                        if (r < 0)
                                return pic_error(err, r, NULL, "cannot stage \"%s\": %s", name, strerror(-r));
                }
                uint8_t digest[crypto_hash_sha256_BYTES];
                char hex[BACKUP_SHA_HEX];
                crypto_hash_sha256_final(&st, digest);
                sodium_bin2hex(hex, sizeof hex, digest, sizeof digest);
                if (total != f->size || !streq(hex, f->sha256))
                        return pic_error(err, -EBADMSG, NULL, "\"%s\" in the archive does not match its manifest (altered or truncated)",
                                         name);
                /* f->mode is already masked (backup_manifest_parse): 0600 or 0644, secrets always 0600. */
                if (fchmod(out, backup_mode_mask(f->path, f->mode)) < 0 || fsync(out) < 0)
                        return pic_error(err, negative_errno(), NULL, "cannot stage \"%s\": %m", name);
        }
        for (size_t i = 0; i < manifest->n; i++)
                if (!seen[i])
                        return pic_error(err, -EBADMSG, NULL, "\"%s\" is listed in the manifest but missing from the archive (truncated?)",
                                         manifest->v[i].path);
        return 0;
}

static int stage_archive(int archive_fd, const char *id, const uint8_t key[static BACKUP_KEY_BYTES], int new_fd, PicError *err) {
        struct archive *a = NULL;
        if (archive_reader_open(archive_fd, &a) < 0)
                return pic_error(err, -EBADMSG, NULL, "the archive cannot be read as a gzip'ed tar");
        _cleanup_free_ char *text = NULL;
        size_t len;
        BackupFileList manifest = { 0 };
        int r = read_manifest_entry(a, &text, &len, err);
        if (r >= 0)
                r = backup_manifest_parse(text, len, id, key, &manifest, err);
        if (r >= 0)
                r = extract_entries(a, new_fd, &manifest, err);
        AR->archive_read_free(a);
        backup_file_list_done(&manifest);
        return r;
}

/* ---- the public calls: each runs its libarchive work in a child ---- */

typedef struct WriteArgs {
        int fd;
        const char *manifest, *snap_dir;
        const BackupFileList *files;
        int64_t mtime;
} WriteArgs;

static int write_child(void *userdata, char **ret_out, size_t *ret_len, PicError *err) {
        WriteArgs *a = userdata;
        int r = archive_load(err);
        return r < 0 ? r : write_archive(a->fd, a->manifest, a->snap_dir, a->files, a->mtime, err);
}

int backup_archive_write(int fd, const char *manifest, const char *snap_dir, const BackupFileList *files, int64_t mtime,
                         PicError *err) {
        WriteArgs a = { fd, manifest, snap_dir, files, mtime };
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
        const char *id;
        const uint8_t *key;
} ExtractArgs;

static int extract_child(void *userdata, char **ret_out, size_t *ret_len, PicError *err) {
        ExtractArgs *a = userdata;
        int r = archive_load(err);
        return r < 0 ? r : stage_archive(a->fd, a->id, a->key, a->new_fd, err);
}

int backup_archive_extract(int fd, const char *want_id, const uint8_t key[static BACKUP_KEY_BYTES], int new_fd,
                           PicError *err) {
        ExtractArgs a = { .fd = fd, .new_fd = new_fd, .id = want_id, .key = key };
        return run_in_child(extract_child, &a, -EBADMSG, NULL, NULL, err);
}
