/* Backup archives (libarchive: pax/ustar + gzip) with a manifest of sizes, SHA-256 and an HMAC-SHA256 under
 * the cell's backup key, and the journaled restore that swaps a verified staging dir in, all or nothing.
 *
 * Restore protocol (why each step is where it is):
 *   1. extract into STATE/.restore-X/new/, accepting only plain files the signed manifest lists, with the
 *      manifest's size and hash; check the database; carry the live audit trail into it; open it once as
 *      the store would. Any failure here removes the staging dir: nothing changed.
 *   2. stop every daemon, close the live store and write STATE/restore-journal naming X (atomically). From here a crash
 *      rolls forward at the next start (backup_recover), because everything in new/ is already verified.
 *   3. move each live item (picd.db and its -wal/-shm, keys/, etc/) into X/old/, then the new one in.
 *      Every step is a rename and the presence of X/new/<item> says whether it is still to do, so rolling
 *      forward from any point converges on the new state.
 *   4. reopen the store, reload settings, start every service again as at boot; on failure the same swap runs from old/ back
 *      (journaled as "revert"). Last, the journal goes, then the staging dir. */
#include "core/backup.h"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <sys/stat.h>
#include <time.h>

#include "basic/archive-lib.h"
#include "basic/fileio.h"
#include "basic/log.h"
#include "basic/time-util.h"
#include "basic/util.h"

#define BACKUP_FORMAT 1

/* libarchive is loaded on first use (basic/archive-lib.h); every archive call goes through it. */
static const ArchiveLib *AR;

static int archive_load(PicError *err) {
        if (!AR)
                AR = archive_lib(err);
        return AR ? 0 : -EHOSTDOWN;
}

#define HMAC_CONTEXT "pic-backup-manifest-v1\n"
#define MANIFEST_NAME "manifest.json"
#define DB_NAME "picd.db"
#define KEY_REL "keys/backup.key"
#define BACKUPS_DIR "backups"
#define ARCHIVE_SUFFIX ".tar.gz"
#define JOURNAL_NAME "restore-journal"
#define JOURNAL_MAGIC "pic-restore-journal 1"
#define STAGING_PREFIX ".restore-"
#define SNAPSHOT_PREFIX ".tmp-"
#define TMP_INFIX ".tmp-" /* write_file_atomic()'s and atomic_file_open()'s temp names */

/* Hard caps on what an archive may make us write, checked before the bytes are written. */
#define MANIFEST_MAX (1024 * 1024)
#define FILES_MAX 4096
#define FILE_SIZE_MAX (UINT64_C(64) << 20)
#define DB_SIZE_MAX (UINT64_C(4) << 30)
#define TOTAL_SIZE_MAX (UINT64_C(8) << 30)
#define REL_PATH_MAX 255
#define DEPTH_MAX 16

#define KEY_BYTES crypto_auth_hmacsha256_KEYBYTES
#define SHA_HEX (crypto_hash_sha256_BYTES * 2 + 1)

typedef struct BackupFile {
        char *path; /* relative to the state dir, which is also the archive's root */
        uint64_t size;
        mode_t mode;
        char sha256[SHA_HEX];
} BackupFile;

typedef struct FileList {
        BackupFile *v;
        size_t n;
} FileList;

static void file_list_done(FileList *l) {
        for (size_t i = 0; i < l->n; i++)
                free(l->v[i].path);
        free(l->v);
        *l = (FileList) { 0 };
}

static BackupFile *file_list_add(FileList *l, const char *path) {
        if (l->n >= FILES_MAX)
                return NULL;
        BackupFile *n = realloc(l->v, (l->n + 1) * sizeof *n);
        if (!n)
                return NULL;
        l->v = n;
        char *p = strdup(path);
        if (!p)
                return NULL;
        l->v[l->n] = (BackupFile) { .path = p };
        return &l->v[l->n++];
}

static BackupFile *file_list_find(FileList *l, const char *path, size_t *ret_idx) {
        for (size_t i = 0; path && i < l->n; i++)
                if (streq(l->v[i].path, path)) {
                        if (ret_idx)
                                *ret_idx = i;
                        return &l->v[i];
                }
        return NULL;
}

static int file_cmp(const void *a, const void *b) {
        return strcmp(((const BackupFile *) a)->path, ((const BackupFile *) b)->path);
}

/* ---- grammars ---- */

static bool id_char(char c) {
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

bool backup_id_is_valid(const char *id) {
        if (!id || !id_char(id[0]))
                return false;
        size_t n = 0;
        for (const char *p = id; *p; p++, n++)
                if (n >= BACKUP_ID_MAX - 1 || !(id_char(*p) || *p == '-'))
                        return false;
        return true;
}

static bool path_char(char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
               c == '-' || c == '+' || c == '@';
}

/* What a manifest may name: picd.db, or a file below keys/ or etc/ in plain relative components (no "",
 * ".", ".."; so nothing absolute and nothing that climbs out). keys/backup.key is never in an archive: the
 * key that verifies an archive must not travel inside it. */
static bool rel_path_is_valid(const char *p) {
        size_t n = strlen(p);
        if (n == 0 || n > REL_PATH_MAX)
                return false;
        if (streq(p, DB_NAME))
                return true;
        if ((!startswith(p, "keys/") && !startswith(p, "etc/")) || streq(p, KEY_REL))
                return false;
        unsigned depth = 0;
        for (const char *c = p;;) {
                size_t len = strcspn(c, "/");
                if (len == 0 || (len == 1 && c[0] == '.') || (len == 2 && c[0] == '.' && c[1] == '.'))
                        return false;
                for (size_t i = 0; i < len; i++)
                        if (!path_char(c[i]))
                                return false;
                if (++depth > DEPTH_MAX)
                        return false;
                if (c[len] == '\0')
                        break;
                c += len + 1;
        }
        return depth >= 2;
}

static bool staging_name_is_valid(const char *s) {
        if (!startswith(s, STAGING_PREFIX))
                return false;
        s += strlen(STAGING_PREFIX);
        if (strlen(s) != 12)
                return false;
        for (; *s; s++)
                if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
                        return false;
        return true;
}

static void random_hex(char *ret, size_t bytes) {
        uint8_t raw[16];
        randombytes_buf(raw, bytes);
        sodium_bin2hex(ret, bytes * 2 + 1, raw, bytes);
}

static int path_join(char *buf, size_t size, const char *a, const char *b) {
        if (snprintf(buf, size, "%s/%s", a, b) >= (int) size)
                return -ENAMETOOLONG;
        return 0;
}

static bool exists(const char *path) {
        struct stat st;
        return lstat(path, &st) == 0;
}

/* ---- the per-cell key ---- */

static int key_load(const char *state_dir, uint8_t key[static KEY_BYTES]) {
        char path[PATH_MAX];
        int r = path_join(path, sizeof path, state_dir, KEY_REL);
        if (r < 0)
                return r;
        _cleanup_free_ char *text = NULL;
        size_t len;
        r = read_file_full(path, 256, &text, &len);
        if (r < 0)
                return r;
        if (len > 0 && text[len - 1] == '\n')
                text[--len] = '\0';
        size_t got = 0;
        r = len == KEY_BYTES * 2 && sodium_hex2bin(key, KEY_BYTES, text, len, NULL, &got, NULL) == 0 &&
                            got == KEY_BYTES
                    ? 0
                    : -EUCLEAN;
        sodium_memzero(text, len);
        return r;
}

static int key_load_or_create(const char *state_dir, uint8_t key[static KEY_BYTES], PicError *err) {
        int r = key_load(state_dir, key);
        if (r == -EUCLEAN)
                return pic_error(err, -EIO, NULL, "%s is not 64 hex digits", KEY_REL);
        if (r != -ENOENT) {
                if (r < 0)
                        return pic_error(err, r, NULL, "cannot read %s: %s", KEY_REL, strerror(-r));
                return 0;
        }
        char path[PATH_MAX], dir[PATH_MAX], hex[KEY_BYTES * 2 + 2];
        if (path_join(path, sizeof path, state_dir, KEY_REL) < 0 || path_join(dir, sizeof dir, state_dir, "keys") < 0)
                return pic_error(err, -ENAMETOOLONG, NULL, "state dir path too long");
        r = mkdir_p(dir, 0700);
        if (r < 0)
                return pic_error(err, r, NULL, "cannot create %s: %s", dir, strerror(-r));
        randombytes_buf(key, KEY_BYTES);
        sodium_bin2hex(hex, sizeof hex, key, KEY_BYTES);
        hex[KEY_BYTES * 2] = '\n';
        r = write_file_atomic(path, hex, KEY_BYTES * 2 + 1, 0600, NULL, NULL, err);
        sodium_memzero(hex, sizeof hex);
        if (r < 0) {
                sodium_memzero(key, KEY_BYTES);
                return r;
        }
        return 0;
}

/* ---- files ---- */

/* Copies src_fd to dst_fd (dst_fd may be -1: hash only), counting and hashing; -EFBIG beyond max. */
static int copy_hashing(int src_fd, int dst_fd, uint64_t max, uint64_t *ret_size, char ret_hex[static SHA_HEX]) {
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
        sodium_bin2hex(ret_hex, SHA_HEX, digest, sizeof digest);
        *ret_size = total;
        return 0;
}

/* Opens (creating as needed) the directory that will hold rel below root_fd, never following a symlink;
 * returns its fd and where rel's last component starts. */
static int open_parent(int root_fd, const char *rel, mode_t dir_mode, int *ret_fd, const char **ret_name) {
        int fd = fcntl(root_fd, F_DUPFD_CLOEXEC, 3);
        if (fd < 0)
                return negative_errno();
        const char *c = rel;
        for (const char *slash; (slash = strchr(c, '/')); c = slash + 1) {
                char comp[REL_PATH_MAX + 1];
                size_t len = (size_t) (slash - c);
                if (len == 0 || len >= sizeof comp) {
                        close(fd);
                        return -EINVAL;
                }
                memcpy(comp, c, len);
                comp[len] = '\0';
                if (mkdirat(fd, comp, dir_mode) < 0 && errno != EEXIST) {
                        int r = negative_errno();
                        close(fd);
                        return r;
                }
                int nfd = openat(fd, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                int r = nfd < 0 ? negative_errno() : 0;
                close(fd);
                if (r < 0)
                        return r;
                fd = nfd;
        }
        *ret_fd = fd;
        *ret_name = c;
        return 0;
}

static mode_t dir_mode_for(const char *rel) {
        return startswith(rel, "keys/") ? 0700 : 0755;
}

/* fsyncs every directory of a tree (files were fsynced as they were written). */
static int fsync_tree(const char *path, unsigned depth) {
        if (depth > DEPTH_MAX + 2)
                return -ELOOP;
        int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return negative_errno();
        DIR *d = fdopendir(fd);
        if (!d) {
                close(fd);
                return negative_errno();
        }
        int r = 0;
        struct dirent *de;
        while (r >= 0 && (de = readdir(d))) {
                struct stat st;
                if (streq(de->d_name, ".") || streq(de->d_name, "..") ||
                    fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISDIR(st.st_mode))
                        continue;
                char sub[PATH_MAX];
                r = path_join(sub, sizeof sub, path, de->d_name);
                if (r >= 0)
                        r = fsync_tree(sub, depth + 1);
        }
        if (r >= 0 && fsync(dirfd(d)) < 0)
                r = negative_errno();
        closedir(d);
        return r;
}

/* Regular files below STATE/<rel>. Sockets, fifos and symlinks are runtime artefacts, not state, and temp
 * files of an atomic write in progress are not content yet. */
static int collect_dir(const char *state_dir, const char *rel, unsigned depth, FileList *out, PicError *err) {
        char path[PATH_MAX];
        if (path_join(path, sizeof path, state_dir, rel) < 0)
                return pic_error(err, -ENAMETOOLONG, NULL, "path too long below %s", state_dir);
        int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return errno == ENOENT ? 0 : pic_error(err, negative_errno(), NULL, "cannot open %s: %m", path);
        DIR *d = fdopendir(fd);
        if (!d) {
                close(fd);
                return pic_error(err, -ENOMEM, NULL, "cannot read %s", path);
        }
        int r = 0;
        struct dirent *de;
        while (r >= 0 && (de = readdir(d))) {
                if (streq(de->d_name, ".") || streq(de->d_name, "..") || strstr(de->d_name, TMP_INFIX))
                        continue;
                struct stat st;
                if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
                        if (errno != ENOENT)
                                r = pic_error(err, negative_errno(), NULL, "cannot stat %s/%s: %m", path, de->d_name);
                        continue;
                }
                char child[REL_PATH_MAX + 2];
                if (snprintf(child, sizeof child, "%s/%s", rel, de->d_name) >= (int) sizeof child) {
                        r = pic_error(err, -ENAMETOOLONG, NULL, "path too long to back up: %s/%.64s...", rel,
                                      de->d_name);
                        continue;
                }
                if (S_ISDIR(st.st_mode)) {
                        if (depth + 1 >= DEPTH_MAX)
                                r = pic_error(err, -ELOOP, NULL, "directory tree too deep to back up: %s", child);
                        else
                                r = collect_dir(state_dir, child, depth + 1, out, err);
                        continue;
                }
                if (!S_ISREG(st.st_mode) || streq(child, KEY_REL))
                        continue;
                if (!rel_path_is_valid(child)) {
                        r = pic_error(err, -ENOTSUP, NULL, "cannot back up \"%s\": its name is outside the archive grammar",
                                      child);
                        continue;
                }
                BackupFile *f = file_list_add(out, child);
                if (!f)
                        r = pic_error(err, out->n >= FILES_MAX ? -E2BIG : -ENOMEM, NULL, "too many files to back up");
                else
                        f->mode = st.st_mode & 0777;
        }
        closedir(d);
        return r;
}

/* Copies each live file into the snapshot dir, recording size and hash of exactly what was copied. */
static int snapshot_files(const char *state_dir, int snap_fd, FileList *files, PicError *err) {
        for (size_t i = 0; i < files->n; i++) {
                BackupFile *f = &files->v[i];
                char src[PATH_MAX];
                if (path_join(src, sizeof src, state_dir, f->path) < 0)
                        return pic_error(err, -ENAMETOOLONG, NULL, "path too long");
                _cleanup_close_ int in = open(src, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
                if (in < 0)
                        return pic_error(err, negative_errno(), NULL, "cannot read %s: %m", src);
                _cleanup_close_ int parent = -1;
                const char *name;
                int r = open_parent(snap_fd, f->path, 0700, &parent, &name);
                if (r < 0)
                        return pic_error(err, r, NULL, "cannot create the snapshot of %s: %s", f->path, strerror(-r));
                _cleanup_close_ int out = openat(parent, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
                if (out < 0)
                        return pic_error(err, negative_errno(), NULL, "cannot create the snapshot of %s: %m", f->path);
                r = copy_hashing(in, out, FILE_SIZE_MAX, &f->size, f->sha256);
                if (r < 0)
                        return pic_error(err, r, NULL, "cannot copy %s: %s", f->path,
                                         r == -EFBIG ? "larger than 64 MiB" : strerror(-r));
        }
        return 0;
}

/* ---- manifest ---- */

static int manifest_mac(json_t *m, const uint8_t key[static KEY_BYTES], uint8_t ret[static crypto_auth_hmacsha256_BYTES]) {
        /* Canonical form: compact, sorted keys, ASCII; everything in the manifest but the mac itself. */
        json_t *copy = json_copy(m);
        if (!copy)
                return -ENOMEM;
        json_object_del(copy, "hmac");
        char *canon = json_dumps(copy, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENSURE_ASCII);
        json_decref(copy);
        if (!canon)
                return -ENOMEM;
        crypto_auth_hmacsha256_state st;
        crypto_auth_hmacsha256_init(&st, key, KEY_BYTES);
        crypto_auth_hmacsha256_update(&st, (const unsigned char *) HMAC_CONTEXT, strlen(HMAC_CONTEXT));
        crypto_auth_hmacsha256_update(&st, (const unsigned char *) canon, strlen(canon));
        crypto_auth_hmacsha256_final(&st, ret);
        free(canon);
        return 0;
}

static char *manifest_build(Cell *c, const BackupInfo *info, const FileList *files, const uint8_t key[static KEY_BYTES]) {
        json_t *arr = json_array();
        for (size_t i = 0; arr && i < files->n; i++)
                json_array_append_new(arr, json_pack("{s:s, s:I, s:i, s:s}", "path", files->v[i].path, "size",
                                                     (json_int_t) files->v[i].size, "mode", (int) files->v[i].mode,
                                                     "sha256", files->v[i].sha256));
        json_t *m = json_pack("{s:i, s:s, s:s, s:I, s:s, s:i, s:o}", "format", BACKUP_FORMAT, "picd_version",
                              PIC_VERSION, "id", info->id, "created", (json_int_t) info->created, "cell_name",
                              settings_str(c->settings, "cell_name"), "schema_version",
                              store_schema_version(c->store), "files", arr);
        if (!m)
                return NULL;
        uint8_t mac[crypto_auth_hmacsha256_BYTES];
        char hex[sizeof mac * 2 + 1];
        if (manifest_mac(m, key, mac) < 0) {
                json_decref(m);
                return NULL;
        }
        sodium_bin2hex(hex, sizeof hex, mac, sizeof mac);
        json_object_set_new(m, "hmac", json_string(hex));
        char *text = json_dumps(m, JSON_INDENT(2) | JSON_SORT_KEYS | JSON_ENSURE_ASCII);
        json_decref(m);
        return text;
}

static bool mac_ok(json_t *m, const uint8_t key[static KEY_BYTES]) {
        const char *hex = json_string_value(json_object_get(m, "hmac"));
        uint8_t want[crypto_auth_hmacsha256_BYTES], got[crypto_auth_hmacsha256_BYTES];
        size_t n = 0;
        if (!hex || strlen(hex) != sizeof want * 2 ||
            sodium_hex2bin(want, sizeof want, hex, strlen(hex), NULL, &n, NULL) != 0 || n != sizeof want)
                return false;
        if (manifest_mac(m, key, got) < 0)
                return false;
        return crypto_verify_32(want, got) == 0;
}

static bool sha_hex_ok(const char *s) {
        if (!s || strlen(s) != SHA_HEX - 1)
                return false;
        for (; *s; s++)
                if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
                        return false;
        return true;
}

/* Signature first (a foreign or altered manifest is not looked at further), then every field as strictly as
 * if it were unsigned: a leaked key must still not let an archive write outside the staging dir. */
static int manifest_parse(const char *text, size_t len, const char *want_id, const uint8_t key[static KEY_BYTES],
                          FileList *ret, PicError *err) {
        json_error_t jerr;
        json_t *m = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
        FileList files = { 0 };
        int r = 0;
        if (!json_is_object(m)) {
                r = pic_error(err, -EBADMSG, NULL, "the archive's manifest is not a JSON object");
                goto out;
        }
        if (!mac_ok(m, key)) {
                r = pic_error(err, -EBADMSG, NULL,
                              "the archive's manifest is not signed with this cell's backup key (altered, or made by "
                              "another cell)");
                goto out;
        }
        json_t *format = json_object_get(m, "format"), *arr = json_object_get(m, "files");
        if (!json_is_integer(format) || json_integer_value(format) != BACKUP_FORMAT) {
                r = pic_error(err, -EBADMSG, NULL, "unsupported backup format");
                goto out;
        }
        if (!streq_ptr(json_string_value(json_object_get(m, "id")), want_id)) {
                r = pic_error(err, -EBADMSG, NULL, "the archive's manifest belongs to another backup id");
                goto out;
        }
        if (!json_is_array(arr) || json_array_size(arr) > FILES_MAX) {
                r = pic_error(err, -EBADMSG, NULL, "the archive's manifest has no valid file list");
                goto out;
        }
        uint64_t total = 0;
        size_t i;
        json_t *e;
        json_array_foreach(arr, i, e) {
                const char *path = json_string_value(json_object_get(e, "path"));
                json_t *size = json_object_get(e, "size"), *mode = json_object_get(e, "mode");
                const char *sha = json_string_value(json_object_get(e, "sha256"));
                if (!path || !rel_path_is_valid(path) || file_list_find(&files, path, NULL)) {
                        r = pic_error(err, -EBADMSG, NULL, "the manifest names a path that is not allowed: \"%.100s\"",
                                      path ? path : "");
                        goto out;
                }
                uint64_t max = streq(path, DB_NAME) ? DB_SIZE_MAX : FILE_SIZE_MAX;
                if (!json_is_integer(size) || json_integer_value(size) < 0 || (uint64_t) json_integer_value(size) > max ||
                    !json_is_integer(mode) || json_integer_value(mode) < 0 || json_integer_value(mode) > 0777 ||
                    !sha_hex_ok(sha)) {
                        r = pic_error(err, -EBADMSG, NULL, "the manifest entry of \"%s\" is invalid", path);
                        goto out;
                }
                total += (uint64_t) json_integer_value(size);
                if (total > TOTAL_SIZE_MAX) {
                        r = pic_error(err, -EBADMSG, NULL, "the archive is larger than a cell backup can be");
                        goto out;
                }
                BackupFile *f = file_list_add(&files, path);
                if (!f) {
                        r = -ENOMEM;
                        goto out;
                }
                f->size = (uint64_t) json_integer_value(size);
                f->mode = (mode_t) json_integer_value(mode);
                memcpy(f->sha256, sha, SHA_HEX);
        }
        if (!file_list_find(&files, DB_NAME, NULL)) {
                r = pic_error(err, -EBADMSG, NULL, "the archive holds no database");
                goto out;
        }
        *ret = files;
        files = (FileList) { 0 };
out:
        file_list_done(&files);
        json_decref(m);
        return r;
}

/* ---- archives ---- */

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

static int write_archive(int fd, const char *manifest, const char *snap, const FileList *files, int64_t mtime,
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
        r = archive_put(a, MANIFEST_NAME, strlen(manifest), 0600, mtime, manifest, -1, err);
        for (size_t i = 0; r >= 0 && i < files->n; i++) {
                char src[PATH_MAX];
                r = path_join(src, sizeof src, snap, files->v[i].path);
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
        if (!streq_ptr(AR->archive_entry_pathname(e), MANIFEST_NAME) || !entry_is_plain(e) ||
            AR->archive_entry_size(e) > MANIFEST_MAX)
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

/* ---- create, list, delete ---- */

static void make_id(int64_t now, char ret[static BACKUP_ID_MAX]) {
        time_t t = (time_t) now;
        struct tm tm;
        char stamp[32], rnd[7];
        gmtime_r(&t, &tm);
        strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", &tm);
        random_hex(rnd, 3);
        snprintf(ret, BACKUP_ID_MAX, "pic-%s-%s", stamp, rnd);
}

static int archive_path(const char *state_dir, const char *id, char *buf, size_t size) {
        if (snprintf(buf, size, "%s/" BACKUPS_DIR "/%s" ARCHIVE_SUFFIX, state_dir, id) >= (int) size)
                return -ENAMETOOLONG;
        return 0;
}

int backup_create(Cell *c, BackupInfo *ret, PicError *err) {
        if (archive_load(err) < 0)
                return -EHOSTDOWN;
        if (sodium_init() < 0)
                return pic_error(err, -EIO, NULL, "libsodium failed to initialise");
        uint8_t key[KEY_BYTES];
        int r = key_load_or_create(c->state_dir, key, err);
        if (r < 0)
                return r;

        BackupInfo info = { .created = wall_sec() };
        make_id(info.created, info.id);
        char dir[PATH_MAX], snap[PATH_MAX], dest[PATH_MAX], db[PATH_MAX];
        FileList files = { 0 }, live = { 0 };
        char *manifest = NULL;
        int snap_fd = -1;
        AtomicFile af = { .fd = -1 };
        bool snap_made = false;

        if (path_join(dir, sizeof dir, c->state_dir, BACKUPS_DIR) < 0 ||
            snprintf(snap, sizeof snap, "%s/" SNAPSHOT_PREFIX "%s", dir, info.id) >= (int) sizeof snap ||
            archive_path(c->state_dir, info.id, dest, sizeof dest) < 0 || path_join(db, sizeof db, snap, DB_NAME) < 0) {
                r = pic_error(err, -ENAMETOOLONG, NULL, "state dir path too long");
                goto out;
        }
        r = mkdir_p(dir, 0700);
        if (r >= 0 && mkdir(snap, 0700) < 0)
                r = negative_errno();
        if (r < 0) {
                r = pic_error(err, r, NULL, "cannot create %s: %s", snap, strerror(-r));
                goto out;
        }
        snap_made = true;
        snap_fd = open(snap, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (snap_fd < 0) {
                r = pic_error(err, negative_errno(), NULL, "cannot open %s: %m", snap);
                goto out;
        }

        /* The database through SQLite's online backup: a consistent copy while picd keeps running. */
        r = store_backup_to(c->store, db);
        if (r < 0) {
                r = pic_error(err, r, NULL, "cannot copy the store to %s: %s", db, strerror(-r));
                goto out;
        }
        BackupFile *f = file_list_add(&files, DB_NAME);
        if (!f) {
                r = -ENOMEM;
                goto out;
        }
        f->mode = 0600;
        {
                _cleanup_close_ int dbfd = open(db, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
                r = dbfd < 0 ? negative_errno() : copy_hashing(dbfd, -1, DB_SIZE_MAX, &f->size, f->sha256);
                if (r < 0) {
                        r = pic_error(err, r, NULL, "cannot read the store's copy: %s", strerror(-r));
                        goto out;
                }
        }

        r = collect_dir(c->state_dir, "keys", 1, &live, err);
        if (r >= 0)
                r = collect_dir(c->state_dir, "etc", 1, &live, err);
        if (r < 0)
                goto out;
        if (live.n > 0)
                qsort(live.v, live.n, sizeof *live.v, file_cmp);
        r = snapshot_files(c->state_dir, snap_fd, &live, err);
        if (r < 0)
                goto out;
        for (size_t i = 0; i < live.n; i++) {
                BackupFile *g = file_list_add(&files, live.v[i].path);
                if (!g) {
                        r = pic_error(err, -E2BIG, NULL, "too many files to back up");
                        goto out;
                }
                g->size = live.v[i].size;
                g->mode = live.v[i].mode;
                memcpy(g->sha256, live.v[i].sha256, SHA_HEX);
        }

        manifest = manifest_build(c, &info, &files, key);
        if (!manifest) {
                r = -ENOMEM;
                goto out;
        }
        r = atomic_file_open(dest, 0600, &af);
        if (r < 0) {
                r = pic_error(err, r, NULL, "cannot create %s: %s", dest, strerror(-r));
                goto out;
        }
        r = write_archive(af.fd, manifest, snap, &files, info.created, err);
        if (r == -ENOSPC || r == -EDQUOT)
                r = pic_error(err, r, NULL, "cannot write %s: %s", dest, strerror(-r));
        if (r < 0)
                goto out;
        struct stat st;
        if (fstat(af.fd, &st) < 0) {
                r = pic_error(err, negative_errno(), NULL, "cannot stat %s: %m", af.tmp);
                goto out;
        }
        info.size = (uint64_t) st.st_size;
        r = atomic_file_commit(&af, true);
        if (r < 0) {
                r = pic_error(err, r, NULL, "cannot store %s: %s", dest, strerror(-r));
                goto out;
        }
        *ret = info;
out:
        atomic_file_abort(&af);
        if (snap_fd >= 0)
                close(snap_fd);
        if (snap_made)
                rm_rf(snap);
        free(manifest);
        file_list_done(&files);
        file_list_done(&live);
        sodium_memzero(key, sizeof key);
        return r;
}

typedef struct ListItem {
        json_t *o;
        int64_t created;
        struct timespec mtime; /* orders backups made within the same second */
} ListItem;

static int list_entry(const char *path, const char *id, const uint8_t *key, ListItem *ret) {
        struct stat st;
        _cleanup_close_ int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
        if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
                return -ENOENT;
        json_t *o = json_pack("{s:s, s:I, s:I, s:b, s:b}", "id", id, "size", (json_int_t) st.st_size, "created",
                              (json_int_t) st.st_mtime, "readable", 0, "verified", 0);
        if (!o)
                return -ENOMEM;
        *ret = (ListItem) { .o = o, .created = st.st_mtime, .mtime = st.st_mtim };
        struct archive *a = NULL;
        _cleanup_free_ char *text = NULL;
        size_t len;
        if (archive_reader_open(fd, &a) < 0)
                return 0;
        int r = read_manifest_entry(a, &text, &len, NULL);
        AR->archive_read_free(a);
        json_t *m = r >= 0 ? json_loadb(text, len, JSON_REJECT_DUPLICATES, NULL) : NULL;
        json_t *created = json_object_get(m, "created"), *name = json_object_get(m, "cell_name");
        json_t *ver = json_object_get(m, "picd_version"), *schema = json_object_get(m, "schema_version");
        if (json_is_object(m) && json_is_integer(created) && json_is_string(name) && json_is_string(ver) &&
            json_is_integer(schema)) {
                json_object_set(o, "created", created);
                json_object_set(o, "cell_name", name);
                json_object_set(o, "picd_version", ver);
                json_object_set(o, "schema_version", schema);
                json_object_set_new(o, "readable", json_true());
                json_object_set_new(o, "verified", json_boolean(key && mac_ok(m, key)));
                ret->created = json_integer_value(created);
        }
        json_decref(m);
        return 0;
}

static int item_cmp(const void *a, const void *b) {
        const ListItem *x = a, *y = b;
        if (x->created != y->created)
                return x->created < y->created ? 1 : -1;
        if (x->mtime.tv_sec != y->mtime.tv_sec)
                return x->mtime.tv_sec < y->mtime.tv_sec ? 1 : -1;
        if (x->mtime.tv_nsec != y->mtime.tv_nsec)
                return x->mtime.tv_nsec < y->mtime.tv_nsec ? 1 : -1;
        return -strcmp(json_string_value(json_object_get(x->o, "id")), json_string_value(json_object_get(y->o, "id")));
}

int backup_list(Cell *c, json_t **ret) {
        if (archive_load(NULL) < 0)
                return -EHOSTDOWN;
        if (sodium_init() < 0)
                return -EIO;
        char dir[PATH_MAX];
        int r = path_join(dir, sizeof dir, c->state_dir, BACKUPS_DIR);
        if (r < 0)
                return r;
        DIR *d = opendir(dir);
        if (!d && errno != ENOENT)
                return negative_errno();
        uint8_t key[KEY_BYTES];
        bool have_key = key_load(c->state_dir, key) >= 0;
        ListItem *items = NULL;
        size_t n = 0;
        struct dirent *de;
        while (d && (de = readdir(d))) {
                size_t len = strlen(de->d_name), sl = strlen(ARCHIVE_SUFFIX);
                char id[BACKUP_ID_MAX], path[PATH_MAX];
                if (len <= sl || len - sl >= sizeof id || !streq(de->d_name + len - sl, ARCHIVE_SUFFIX))
                        continue;
                memcpy(id, de->d_name, len - sl);
                id[len - sl] = '\0';
                if (!backup_id_is_valid(id) || path_join(path, sizeof path, dir, de->d_name) < 0)
                        continue;
                ListItem *ni = realloc(items, (n + 1) * sizeof *ni);
                if (!ni) {
                        r = -ENOMEM;
                        break;
                }
                items = ni;
                if (list_entry(path, id, have_key ? key : NULL, &items[n]) >= 0)
                        n++;
        }
        if (d)
                closedir(d);
        sodium_memzero(key, sizeof key);
        json_t *arr = r >= 0 ? json_array() : NULL;
        if (n > 0)
                qsort(items, n, sizeof *items, item_cmp);
        for (size_t i = 0; i < n; i++) {
                if (arr)
                        json_array_append(arr, items[i].o);
                json_decref(items[i].o);
        }
        free(items);
        if (!arr)
                return r < 0 ? r : -ENOMEM;
        *ret = arr;
        return 0;
}

static int id_error(PicError *err) {
        return pic_error(err, -EINVAL, "id",
                         "backup id must be 1-64 characters of a-z, 0-9 and '-', starting with a letter or digit");
}

int backup_delete(Cell *c, const char *id, PicError *err) {
        if (!backup_id_is_valid(id))
                return id_error(err);
        char path[PATH_MAX];
        if (archive_path(c->state_dir, id, path, sizeof path) < 0)
                return pic_error(err, -ENAMETOOLONG, NULL, "state dir path too long");
        if (unlink(path) < 0)
                return errno == ENOENT ? pic_error(err, -ENOENT, "id", "no backup \"%s\"", id)
                                       : pic_error(err, negative_errno(), NULL, "cannot delete %s: %m", path);
        return fsync_directory_of(path);
}

/* ---- restore: staging ---- */

static int extract_entries(struct archive *a, int new_fd, FileList *manifest, PicError *err) {
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
                BackupFile *f = file_list_find(manifest, name, &idx);
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
                int r = open_parent(new_fd, f->path, dir_mode_for(f->path), &parent, &leaf);
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
                char hex[SHA_HEX];
                crypto_hash_sha256_final(&st, digest);
                sodium_bin2hex(hex, sizeof hex, digest, sizeof digest);
                if (total != f->size || !streq(hex, f->sha256))
                        return pic_error(err, -EBADMSG, NULL, "\"%s\" in the archive does not match its manifest (altered or truncated)",
                                         name);
                /* Secrets stay private whatever a manifest says. */
                mode_t mode = startswith(f->path, "keys/") ? f->mode & 0700 : f->mode;
                if (fchmod(out, mode) < 0 || fsync(out) < 0)
                        return pic_error(err, negative_errno(), NULL, "cannot stage \"%s\": %m", name);
        }
        for (size_t i = 0; i < manifest->n; i++)
                if (!seen[i])
                        return pic_error(err, -EBADMSG, NULL, "\"%s\" is listed in the manifest but missing from the archive (truncated?)",
                                         manifest->v[i].path);
        return 0;
}

static int stage_archive(int archive_fd, const char *id, const uint8_t key[static KEY_BYTES], int new_fd, PicError *err) {
        struct archive *a = NULL;
        if (archive_reader_open(archive_fd, &a) < 0)
                return pic_error(err, -EBADMSG, NULL, "the archive cannot be read as a gzip'ed tar");
        _cleanup_free_ char *text = NULL;
        size_t len;
        FileList manifest = { 0 };
        int r = read_manifest_entry(a, &text, &len, err);
        if (r >= 0)
                r = manifest_parse(text, len, id, key, &manifest, err);
        if (r >= 0)
                r = extract_entries(a, new_fd, &manifest, err);
        AR->archive_read_free(a);
        file_list_done(&manifest);
        return r;
}

/* Everything that can be checked before the point of no return: the archive, the database as SQLite sees
 * it, the audit rows to carry forward, and that the store and settings open on it. */
static int stage(Cell *c, int archive_fd, const char *id, const char *new_dir, PicError *err) {
        uint8_t key[KEY_BYTES];
        int r = key_load(c->state_dir, key);
        if (r == -ENOENT)
                return pic_error(err, -EBADMSG, NULL,
                                 "this cell has no %s, so no archive can be verified; copy the key file of the cell that "
                                 "made the archive there first", KEY_REL);
        if (r < 0)
                return pic_error(err, -EIO, NULL, "cannot read %s: %s", KEY_REL, strerror(-r));
        _cleanup_close_ int new_fd = open(new_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        r = new_fd < 0 ? pic_error(err, negative_errno(), NULL, "cannot open %s: %m", new_dir)
                       : stage_archive(archive_fd, id, key, new_fd, err);
        if (r < 0) {
                sodium_memzero(key, sizeof key);
                return r;
        }
        /* keys/ and etc/ are replaced as whole dirs, so they exist even when empty; the backup key stays. */
        if ((mkdirat(new_fd, "keys", 0700) < 0 && errno != EEXIST) || (mkdirat(new_fd, "etc", 0755) < 0 && errno != EEXIST)) {
                sodium_memzero(key, sizeof key);
                return pic_error(err, negative_errno(), NULL, "cannot stage keys/ and etc/: %m");
        }
        char path[PATH_MAX], hex[KEY_BYTES * 2 + 2];
        sodium_bin2hex(hex, sizeof hex, key, KEY_BYTES);
        hex[KEY_BYTES * 2] = '\n';
        sodium_memzero(key, sizeof key);
        r = path_join(path, sizeof path, new_dir, KEY_REL);
        if (r >= 0)
                r = write_file_atomic(path, hex, KEY_BYTES * 2 + 1, 0600, NULL, NULL, err);
        sodium_memzero(hex, sizeof hex);
        if (r < 0)
                return r;

        char db[PATH_MAX], wal[PATH_MAX], shm[PATH_MAX];
        if (path_join(db, sizeof db, new_dir, DB_NAME) < 0 || path_join(wal, sizeof wal, new_dir, DB_NAME "-wal") < 0 ||
            path_join(shm, sizeof shm, new_dir, DB_NAME "-shm") < 0)
                return -ENAMETOOLONG;
        r = store_check_file(db, err);
        if (r < 0)
                return r;
        r = store_carry_audit_into(c->store, db);
        if (r < 0)
                return pic_error(err, r, NULL, "cannot carry the audit trail into the restored store: %s", strerror(-r));
        Store *s = NULL;
        Settings *set = NULL;
        r = store_open(db, &s);
        if (r >= 0)
                r = settings_load(s, &set);
        /* A session from the archive would come back from the past (one signed out since, too): every
         * session ends with a restore, and the response says so. */
        if (r >= 0) {
                int k = store_session_delete_all(s);
                r = k < 0 ? k : 0;
        }
        settings_free(set);
        store_free(s);
        if (r < 0)
                return pic_error(err, -EBADMSG, NULL, "the database in the archive cannot be used as the store: %s",
                                 strerror(-r));
        /* A clean close leaves no WAL; one left behind would be data the swap does not move. */
        unlink(shm);
        if (exists(wal))
                return pic_error(err, -EIO, NULL, "the staged store was not closed cleanly");
        return 0;
}

/* ---- restore: the swap ---- */

static const char *const db_files[] = { DB_NAME "-wal", DB_NAME "-shm", DB_NAME };
static const char *const tree_dirs[] = { "keys", "etc" };

/* Moves STATE/name into dst. If dst already holds it, the original went there before a crash and what is in
 * the state dir now was re-created since (prepare_state_dir makes keys/ and etc/): it is removed. */
static int displace(const char *state_dir, const char *dst, const char *name) {
        char from[PATH_MAX], to[PATH_MAX];
        if (path_join(from, sizeof from, state_dir, name) < 0 || path_join(to, sizeof to, dst, name) < 0)
                return -ENAMETOOLONG;
        if (!exists(from))
                return 0;
        if (exists(to))
                return rm_rf(from);
        return rename(from, to) < 0 ? negative_errno() : 0;
}

static int move_in(const char *state_dir, const char *src, const char *name) {
        char from[PATH_MAX], to[PATH_MAX];
        if (path_join(from, sizeof from, src, name) < 0 || path_join(to, sizeof to, state_dir, name) < 0)
                return -ENAMETOOLONG;
        return rename(from, to) < 0 ? negative_errno() : 0;
}

/* Idempotent: src/<item> present means "still to move in", so it can resume after a crash at any step. */
static int swap_in(const char *state_dir, const char *src, const char *dst) {
        char p[PATH_MAX];
        int r = path_join(p, sizeof p, src, DB_NAME);
        if (r < 0)
                return r;
        if (exists(p)) {
                for (size_t i = 0; i < ELEMENTSOF(db_files); i++) {
                        r = displace(state_dir, dst, db_files[i]);
                        if (r < 0)
                                return r;
                }
                r = move_in(state_dir, src, DB_NAME);
                if (r < 0)
                        return r;
        }
        for (size_t i = 0; i < ELEMENTSOF(tree_dirs); i++) {
                if (path_join(p, sizeof p, src, tree_dirs[i]) < 0)
                        return -ENAMETOOLONG;
                if (!exists(p))
                        continue;
                r = displace(state_dir, dst, tree_dirs[i]);
                if (r >= 0)
                        r = move_in(state_dir, src, tree_dirs[i]);
                if (r < 0)
                        return r;
        }
        r = fsync_directory(state_dir);
        if (r >= 0)
                r = fsync_directory(src);
        if (r >= 0)
                r = fsync_directory(dst);
        return r;
}

static int journal_write(const char *state_dir, const char *staging, bool revert) {
        char path[PATH_MAX], text[256];
        if (path_join(path, sizeof path, state_dir, JOURNAL_NAME) < 0)
                return -ENAMETOOLONG;
        snprintf(text, sizeof text, JOURNAL_MAGIC "\n%s\n%s\n", staging, revert ? "revert" : "forward");
        int r = write_file_atomic(path, text, strlen(text), 0600, NULL, NULL, NULL);
        return r < 0 ? r : 0;
}

static int journal_remove(const char *state_dir) {
        char path[PATH_MAX];
        if (path_join(path, sizeof path, state_dir, JOURNAL_NAME) < 0)
                return -ENAMETOOLONG;
        if (unlink(path) < 0)
                return errno == ENOENT ? 0 : negative_errno();
        return fsync_directory(state_dir);
}

/* The staging dir's halves for a direction: forward moves new/ in and old/ out, revert the other way. */
static int staging_halves(const char *state_dir, const char *staging, bool revert, char src[static PATH_MAX],
                          char dst[static PATH_MAX]) {
        char base[PATH_MAX];
        if (path_join(base, sizeof base, state_dir, staging) < 0 || path_join(src, PATH_MAX, base, revert ? "old" : "new") < 0 ||
            path_join(dst, PATH_MAX, base, revert ? "new" : "old") < 0)
                return -ENAMETOOLONG;
        return 0;
}

/* Removes staging dirs and temp files that an interrupted restore or backup left behind. */
static void remove_leftovers(const char *state_dir) {
        const char *const dirs[] = { "", "/" BACKUPS_DIR };
        for (size_t i = 0; i < ELEMENTSOF(dirs); i++) {
                char dir[PATH_MAX];
                snprintf(dir, sizeof dir, "%s%s", state_dir, dirs[i]);
                DIR *d = opendir(dir);
                if (!d)
                        continue;
                struct dirent *de;
                while ((de = readdir(d))) {
                        bool ours = i == 0 ? startswith(de->d_name, STAGING_PREFIX) ||
                                                     startswith(de->d_name, JOURNAL_NAME TMP_INFIX)
                                           : startswith(de->d_name, SNAPSHOT_PREFIX) || strstr(de->d_name, ARCHIVE_SUFFIX TMP_INFIX);
                        char p[PATH_MAX];
                        if (ours && path_join(p, sizeof p, dir, de->d_name) >= 0) {
                                int r = rm_rf(p);
                                if (r < 0)
                                        log_debug_errno(r, "cannot remove %s", p);
                        }
                }
                closedir(d);
        }
}

int backup_recover(const char *state_dir) {
        char path[PATH_MAX];
        int r = path_join(path, sizeof path, state_dir, JOURNAL_NAME);
        if (r < 0)
                return r;
        _cleanup_free_ char *text = NULL;
        r = read_file_full(path, 4096, &text, NULL);
        if (r < 0 && r != -ENOENT)
                return r;
        int done = 0;
        if (r >= 0) {
                char *save = NULL;
                char *magic = strtok_r(text, "\n", &save);
                char *staging = strtok_r(NULL, "\n", &save);
                char *dir = strtok_r(NULL, "\n", &save);
                if (!magic || !streq(magic, JOURNAL_MAGIC) || !staging || !staging_name_is_valid(staging) || !dir ||
                    !(streq(dir, "forward") || streq(dir, "revert")) || strtok_r(NULL, "\n", &save))
                        return log_debug_errno(-EBADMSG, "restore journal %s is damaged", path);
                bool revert = streq(dir, "revert");
                char src[PATH_MAX], dst[PATH_MAX];
                r = staging_halves(state_dir, staging, revert, src, dst);
                if (r < 0)
                        return r;
                if (exists(src) && exists(dst)) {
                        r = swap_in(state_dir, src, dst);
                        if (r < 0)
                                return log_debug_errno(r, "cannot finish the interrupted restore from %s", src);
                        done = 1;
                }
                r = journal_remove(state_dir);
                if (r < 0)
                        return r;
        }
        remove_leftovers(state_dir);
        return done;
}

/* ---- restore: in process ---- */

static int activate(Cell *c, PicError *err) {
        char db[PATH_MAX];
        if (path_join(db, sizeof db, c->state_dir, DB_NAME) < 0)
                return -ENAMETOOLONG;
        Store *s = NULL;
        Settings *set = NULL;
        int r = store_open(db, &s);
        if (r >= 0)
                r = settings_load(s, &set);
        if (r < 0) {
                store_free(s);
                return pic_error(err, r, NULL, "cannot open the store: %s", strerror(-r));
        }
        store_free(c->store);
        settings_free(c->settings);
        c->store = s;
        c->settings = set;
        return 0;
}

/* Every module starts again as at boot on the state now in place: a restart alone would skip setup, and
 * the generated dirs a daemon needs (dnsmasq's hosts.d) are not in an archive when they were empty. */
static int resync(Cell *c, json_t *names, PicError *err) {
        cell_services_down(c);
        return cell_services_up(c, names, err);
}

/* Last resort when the store cannot be opened at all: an empty in-memory store (every credential fails,
 * nothing dereferences NULL) and a shutdown, so the next start recovers from the journal on disk. */
static void reopen_or_quit(Cell *c) {
        PicError e = { 0 };
        int r = activate(c, &e);
        if (r >= 0)
                return;
        log_error("restore: %s; shutting down so the next start recovers", e.message);
        if (!c->store && store_open(":memory:", &c->store) < 0)
                abort();
        if (c->loop)
                loop_quit(c->loop, 1);
}

/* Puts the old state back after a failure past the point of no return, journaled as "revert" so a crash
 * in the middle still converges. Returns whether the journal is gone (the staging dir may then go). */
static bool revert(Cell *c, const char *staging) {
        char src[PATH_MAX], dst[PATH_MAX];
        /* Daemons already started on the new state must not read files while they move back. */
        cell_services_down(c);
        c->store = store_free(c->store);
        int r = staging_halves(c->state_dir, staging, true, src, dst);
        if (r >= 0)
                r = journal_write(c->state_dir, staging, true);
        if (r >= 0)
                r = swap_in(c->state_dir, src, dst);
        if (r >= 0)
                r = journal_remove(c->state_dir);
        if (r < 0)
                log_error_errno(r, "restore: cannot put the old state back");
        reopen_or_quit(c);
        PicError e = { 0 };
        if (r >= 0 && resync(c, NULL, &e) < 0)
                log_error("restore: re-syncing services after putting the old state back failed: %s", e.message);
        return r >= 0;
}

int backup_restore(Cell *c, const char *id, json_t *ret_services, PicError *err) {
        if (archive_load(err) < 0)
                return -EHOSTDOWN;
        if (!backup_id_is_valid(id))
                return id_error(err);
        if (sodium_init() < 0)
                return pic_error(err, -EIO, NULL, "libsodium failed to initialise");
        char path[PATH_MAX];
        if (archive_path(c->state_dir, id, path, sizeof path) < 0)
                return pic_error(err, -ENAMETOOLONG, NULL, "state dir path too long");
        _cleanup_close_ int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
        if (fd < 0 && errno == ENOENT)
                return pic_error(err, -ENOENT, "id", "no backup \"%s\"", id);
        struct stat st;
        if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
                return pic_error(err, -EBADMSG, NULL, "backup \"%s\" is not a regular file", id);

        char staging[sizeof STAGING_PREFIX + 12], hex[13], base[PATH_MAX], new_dir[PATH_MAX], old_dir[PATH_MAX];
        char wal[PATH_MAX];
        random_hex(hex, 6);
        snprintf(staging, sizeof staging, STAGING_PREFIX "%s", hex);
        if (path_join(base, sizeof base, c->state_dir, staging) < 0 || path_join(new_dir, sizeof new_dir, base, "new") < 0 ||
            path_join(old_dir, sizeof old_dir, base, "old") < 0 || path_join(wal, sizeof wal, c->state_dir, DB_NAME "-wal") < 0)
                return pic_error(err, -ENAMETOOLONG, NULL, "state dir path too long");
        if (mkdir(base, 0700) < 0)
                return pic_error(err, negative_errno(), NULL, "cannot create %s: %m", base);
        int r = 0;
        if (mkdir(new_dir, 0700) < 0 || mkdir(old_dir, 0700) < 0)
                r = pic_error(err, negative_errno(), NULL, "cannot create %s: %m", base);
        if (r >= 0)
                r = stage(c, fd, id, new_dir, err);
        if (r >= 0) {
                r = fsync_tree(base, 0);
                if (r < 0)
                        pic_error(err, r, NULL, "cannot sync %s: %s", base, strerror(-r));
        }
        if (r < 0) {
                rm_rf(base);
                return r;
        }

        /* The point of no return is the journal; the daemons stop first (their modules still read the old
         * store as they let go), then the store closes so its WAL is checkpointed away and the swap moves a
         * database that is whole in one file. */
        cell_services_down(c);
        c->store = store_free(c->store);
        struct stat wst;
        if (stat(wal, &wst) == 0 && wst.st_size > 0)
                r = pic_error(err, -EBUSY, NULL, "the store did not close cleanly; nothing was restored");
        if (r >= 0) {
                r = journal_write(c->state_dir, staging, false);
                if (r < 0)
                        pic_error(err, r, NULL, "cannot write the restore journal: %s", strerror(-r));
        }
        if (r < 0) {
                reopen_or_quit(c);
                PicError e = { 0 };
                if (cell_services_up(c, NULL, &e) < 0)
                        log_error("restore: restarting the services failed: %s", e.message);
                rm_rf(base);
                return r;
        }

        bool journal_gone;
        r = swap_in(c->state_dir, new_dir, old_dir);
        if (r < 0)
                pic_error(err, r, NULL, "cannot move the restored files into place: %s", strerror(-r));
        if (r >= 0)
                r = activate(c, err);
        if (r >= 0)
                r = resync(c, ret_services, err);
        if (r < 0) {
                journal_gone = revert(c, staging);
                if (ret_services)
                        json_array_clear(ret_services);
        } else {
                int k = journal_remove(c->state_dir);
                if (k < 0)
                        log_error_errno(k, "restore: cannot remove the journal; the next start finishes the restore");
                journal_gone = k >= 0;
        }
        /* Only once the journal is gone: a staging dir without a journal is garbage, never half a restore. */
        if (journal_gone)
                rm_rf(base);
        return r;
}
