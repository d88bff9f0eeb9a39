/* Backup and restore of the whole cell, orchestrated: the snapshot a backup is made from, the per-cell key,
 * listing, and the restore that stages, verifies and swaps in all or nothing. The pieces: backup-manifest.c
 * (the signed manifest, pure), backup-archive.c (libarchive, in a child process), backup-journal.c (the swap).
 *
 * Restore protocol (why each step is where it is):
 *   1. extract into STATE/.restore-X/new/, accepting only plain files the signed manifest lists, with the
 *      manifest's size and hash; check the database; carry the live audit trail into it; open it once as
 *      the store would. Any failure here removes the staging dir: nothing changed.
 *   2. stop every daemon, close the live store and write STATE/restore-journal naming X (atomically). From
 *      here a crash rolls forward at the next start (backup_recover): everything in new/ is already verified.
 *   3. move each live item (picd.db and its -wal/-shm, keys/, etc/) into X/old/, then the new one in.
 *      Every step is a rename and the presence of X/new/<item> says whether it is still to do, so rolling
 *      forward from any point converges on the new state.
 *   4. reopen the store, reload settings, start every service again as at boot; on failure the same swap
 *      runs from old/ back (journaled as "revert"). Last, the journal goes, then the staging dir. */
#include "core/backup.h"
#include "core/accounts.h"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <malloc.h>
#include <sodium.h>
#include <stdio.h>
#include <sys/stat.h>
#include <time.h>

#include "basic/fileio.h"
#include "basic/log.h"
#include "basic/time-util.h"
#include "basic/util.h"
#include "core/backup-archive.h"
#include "core/backup-data.h"
#include "core/backup-journal.h"
#include "core/backup-manifest.h"

/* Short local names for the layout and limits the backup-*.h modules share. */
#define KEY_BYTES BACKUP_KEY_BYTES
#define SHA_HEX BACKUP_SHA_HEX
#define DB_NAME BACKUP_DB_NAME
#define KEY_REL BACKUP_KEY_REL
#define BACKUPS_DIR BACKUP_BACKUPS_DIR
#define ARCHIVE_SUFFIX BACKUP_ARCHIVE_SUFFIX
#define TMP_INFIX BACKUP_TMP_INFIX
#define FILES_MAX BACKUP_FILES_MAX
#define FILE_SIZE_MAX BACKUP_FILE_SIZE_MAX
#define DB_SIZE_MAX BACKUP_DB_SIZE_MAX
#define REL_PATH_MAX BACKUP_REL_PATH_MAX
#define DEPTH_MAX BACKUP_DEPTH_MAX

/* After one-off work: the page cache the online copy filled and the heap it grew go back to the system, so a
 * cell at rest is as small as before (the archive work itself ran in a child). */
static void release_memory(Cell *c) {
        store_release_memory(c->store);
        malloc_trim(0);
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

static void random_hex(char *ret, size_t bytes) {
        uint8_t raw[16];
        randombytes_buf(raw, bytes);
        sodium_bin2hex(ret, bytes * 2 + 1, raw, bytes);
}

/* ---- the per-cell key ---- */

static int key_load(const char *state_dir, uint8_t key[static KEY_BYTES]) {
        char path[PATH_MAX];
        int r = backup_path_join(path, sizeof path, state_dir, KEY_REL);
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
        if (backup_path_join(path, sizeof path, state_dir, KEY_REL) < 0 || backup_path_join(dir, sizeof dir, state_dir, "keys") < 0)
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

/* Regular files below STATE/<rel>. Sockets, fifos and symlinks are runtime artefacts, not state, and temp
 * files of an atomic write in progress are not content yet. */
static int collect_dir(const char *state_dir, const char *rel, unsigned depth, BackupFileList *out, PicError *err) {
        char path[PATH_MAX];
        if (backup_path_join(path, sizeof path, state_dir, rel) < 0)
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
                if (!backup_rel_path_is_valid(child)) {
                        r = pic_error(err, -EBUSY, NULL, "cannot back up \"%s\": its name is outside the archive grammar",
                                      child);
                        continue;
                }
                BackupFile *f = backup_file_list_add(out, child);
                if (!f)
                        r = pic_error(err, out->n >= FILES_MAX ? -E2BIG : -ENOMEM, NULL, "too many files to back up");
                else
                        f->mode = st.st_mode & 0777;
        }
        closedir(d);
        return r;
}

/* Copies each live file into the snapshot dir, recording size and hash of exactly what was copied. */
static int snapshot_files(const char *state_dir, int snap_fd, BackupFileList *files, PicError *err) {
        for (size_t i = 0; i < files->n; i++) {
                BackupFile *f = &files->v[i];
                char src[PATH_MAX];
                if (backup_path_join(src, sizeof src, state_dir, f->path) < 0)
                        return pic_error(err, -ENAMETOOLONG, NULL, "path too long");
                _cleanup_close_ int in = open(src, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
                if (in < 0)
                        return pic_error(err, negative_errno(), NULL, "cannot read %s: %m", src);
                _cleanup_close_ int parent = -1;
                const char *name;
                int r = backup_open_parent(snap_fd, f->path, 0700, &parent, &name);
                if (r < 0)
                        return pic_error(err, r, NULL, "cannot create the snapshot of %s: %s", f->path, strerror(-r));
                _cleanup_close_ int out = openat(parent, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
                if (out < 0)
                        return pic_error(err, negative_errno(), NULL, "cannot create the snapshot of %s: %m", f->path);
                r = backup_copy_hashing(in, out, FILE_SIZE_MAX, &f->size, f->sha256);
                if (r < 0)
                        return pic_error(err, r, NULL, "cannot copy %s: %s", f->path,
                                         r == -EFBIG ? "larger than 64 MiB" : strerror(-r));
        }
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
        if (sodium_init() < 0)
                return pic_error(err, -EIO, NULL, "libsodium failed to initialise");
        uint8_t key[KEY_BYTES];
        int r = key_load_or_create(c->state_dir, key, err);
        if (r < 0)
                return r;

        BackupInfo info = { .created = wall_sec() };
        make_id(info.created, info.id);
        char dir[PATH_MAX], snap[PATH_MAX], dest[PATH_MAX], db[PATH_MAX];
        BackupFileList files = { 0 }, live = { 0 };
        char *manifest = NULL;
        int snap_fd = -1;
        AtomicFile af = { .fd = -1 };
        bool snap_made = false;

        if (backup_path_join(dir, sizeof dir, c->state_dir, BACKUPS_DIR) < 0 ||
            snprintf(snap, sizeof snap, "%s/" BACKUP_SNAPSHOT_PREFIX "%s", dir, info.id) >= (int) sizeof snap ||
            archive_path(c->state_dir, info.id, dest, sizeof dest) < 0 || backup_path_join(db, sizeof db, snap, DB_NAME) < 0) {
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
        BackupFile *f = backup_file_list_add(&files, DB_NAME);
        if (!f) {
                r = -ENOMEM;
                goto out;
        }
        f->mode = 0600;
        {
                _cleanup_close_ int dbfd = open(db, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
                r = dbfd < 0 ? negative_errno() : backup_copy_hashing(dbfd, -1, DB_SIZE_MAX, &f->size, f->sha256);
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
        backup_file_list_sort(&live);
        r = snapshot_files(c->state_dir, snap_fd, &live, err);
        if (r < 0)
                goto out;
        for (size_t i = 0; i < live.n; i++) {
                BackupFile *g = backup_file_list_add(&files, live.v[i].path);
                if (!g) {
                        r = pic_error(err, -E2BIG, NULL, "too many files to back up");
                        goto out;
                }
                g->size = live.v[i].size;
                g->mode = live.v[i].mode;
                memcpy(g->sha256, live.v[i].sha256, SHA_HEX);
        }

        /* The users' data: hard links and copies of small files (backup-data.c), so even a large tree is
         * snapshotted in moments, right after the store. */
        BackupDataInfo data = { 0 };
        r = backup_data_snapshot(c->state_dir, snap_fd, &data, err);
        if (r < 0)
                goto out;
        BackupManifestInfo mi = { .id = info.id, .created = info.created,
                                  .cell_name = settings_str(c->settings, "cell_name"),
                                  .schema_version = store_schema_version(c->store), .data = &data };
        manifest = backup_manifest_build(&mi, &files, key);
        if (!manifest) {
                r = -ENOMEM;
                goto out;
        }
        r = atomic_file_open(dest, 0600, &af);
        if (r < 0) {
                r = pic_error(err, r, NULL, "cannot create %s: %s", dest, strerror(-r));
                goto out;
        }
        r = backup_archive_write(af.fd, manifest, snap, &files, &data, info.created, err);
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
        backup_file_list_done(&files);
        backup_file_list_done(&live);
        sodium_memzero(key, sizeof key);
        release_memory(c);
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
        _cleanup_free_ char *text = NULL;
        size_t len;
        int r = backup_archive_read_manifest(fd, &text, &len, NULL);
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
                json_object_set_new(o, "verified", json_boolean(key && backup_manifest_signed_by(m, key)));
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
        if (sodium_init() < 0)
                return -EIO;
        char dir[PATH_MAX];
        int r = backup_path_join(dir, sizeof dir, c->state_dir, BACKUPS_DIR);
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
                if (!backup_id_is_valid(id) || backup_path_join(path, sizeof path, dir, de->d_name) < 0)
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

int backup_open(Cell *c, const char *id, int *ret_fd, uint64_t *ret_size, PicError *err) {
        if (!backup_id_is_valid(id))
                return id_error(err);
        char path[PATH_MAX];
        if (archive_path(c->state_dir, id, path, sizeof path) < 0)
                return pic_error(err, -ENAMETOOLONG, NULL, "state dir path too long");
        int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
        if (fd < 0 && errno == ENOENT)
                return pic_error(err, -ENOENT, "id", "no backup \"%s\"", id);
        if (fd < 0)
                return pic_error(err, negative_errno(), NULL, "cannot read %s: %m", path);
        struct stat st;
        if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
                close(fd);
                return pic_error(err, -EIO, NULL, "%s is not a regular file", path);
        }
        *ret_fd = fd;
        *ret_size = (uint64_t) st.st_size;
        return 0;
}

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
                       : backup_archive_extract(archive_fd, id, key, new_fd, new_dir, err);
        if (r < 0) {
                sodium_memzero(key, sizeof key);
                return r;
        }
        /* keys/, etc/ and data/ are replaced as whole dirs, so they exist even when empty (an archive made before
         * data/ was backed up, format 1, restores an empty one); the backup key stays. */
        if ((mkdirat(new_fd, "keys", 0700) < 0 && errno != EEXIST) || (mkdirat(new_fd, "etc", 0755) < 0 && errno != EEXIST) ||
            (mkdirat(new_fd, BACKUP_DATA_DIR, 0755) < 0 && errno != EEXIST)) {
                sodium_memzero(key, sizeof key);
                return pic_error(err, negative_errno(), NULL, "cannot stage keys/, etc/ and data/: %m");
        }
        char path[PATH_MAX], hex[KEY_BYTES * 2 + 2];
        sodium_bin2hex(hex, sizeof hex, key, KEY_BYTES);
        hex[KEY_BYTES * 2] = '\n';
        sodium_memzero(key, sizeof key);
        r = backup_path_join(path, sizeof path, new_dir, KEY_REL);
        if (r >= 0)
                r = write_file_atomic(path, hex, KEY_BYTES * 2 + 1, 0600, NULL, NULL, err);
        sodium_memzero(hex, sizeof hex);
        if (r < 0)
                return r;

        char db[PATH_MAX], wal[PATH_MAX], shm[PATH_MAX];
        if (backup_path_join(db, sizeof db, new_dir, DB_NAME) < 0 || backup_path_join(wal, sizeof wal, new_dir, DB_NAME "-wal") < 0 ||
            backup_path_join(shm, sizeof shm, new_dir, DB_NAME "-shm") < 0)
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
                r = settings_new_like(c->settings, &set);
        if (r >= 0)
                r = settings_load(set, s);
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
        if (backup_path_exists(wal))
                return pic_error(err, -EIO, NULL, "the staged store was not closed cleanly");
        return 0;
}

/* ---- restore: in process ---- */

static int activate(Cell *c, PicError *err) {
        char db[PATH_MAX];
        if (backup_path_join(db, sizeof db, c->state_dir, DB_NAME) < 0)
                return -ENAMETOOLONG;
        Store *s = NULL;
        Settings *set = NULL;
        int r = store_open(db, &s);
        if (r >= 0)
                r = settings_new_like(c->settings, &set);
        if (r >= 0)
                r = settings_load(set, s);
        settings_free(set);
        /* Loaded once aside to know it loads; then into the cell's own Settings, which keeps the modules'
         * checks hooked in by cell_attach. */
        if (r >= 0)
                r = settings_load(c->settings, s);
        if (r < 0) {
                store_free(s);
                return pic_error(err, r, NULL, "cannot open the store: %s", strerror(-r));
        }
        store_free(c->store);
        c->store = s;
        /* Peers, app passwords and sessions of the restored store: the forward_auth index follows at once. */
        if (c->accounts)
                (void) accounts_reload(c);
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
        int r = backup_staging_halves(c->state_dir, staging, true, src, dst);
        if (r >= 0)
                r = backup_journal_write(c->state_dir, staging, true);
        if (r >= 0)
                r = backup_swap_in(c->state_dir, src, dst);
        if (r >= 0)
                r = backup_journal_remove(c->state_dir);
        if (r < 0)
                log_error_errno(r, "restore: cannot put the old state back");
        reopen_or_quit(c);
        PicError e = { 0 };
        if (r >= 0 && resync(c, NULL, &e) < 0)
                log_error("restore: re-syncing services after putting the old state back failed: %s", e.message);
        return r >= 0;
}

int backup_restore(Cell *c, const char *id, json_t *ret_services, PicError *err) {
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

        char staging[sizeof BACKUP_STAGING_PREFIX + 12], base[PATH_MAX], new_dir[PATH_MAX], old_dir[PATH_MAX];
        char wal[PATH_MAX];
        backup_staging_name(staging);
        if (backup_path_join(base, sizeof base, c->state_dir, staging) < 0 || backup_path_join(new_dir, sizeof new_dir, base, "new") < 0 ||
            backup_path_join(old_dir, sizeof old_dir, base, "old") < 0 || backup_path_join(wal, sizeof wal, c->state_dir, DB_NAME "-wal") < 0)
                return pic_error(err, -ENAMETOOLONG, NULL, "state dir path too long");
        if (mkdir(base, 0700) < 0)
                return pic_error(err, negative_errno(), NULL, "cannot create %s: %m", base);
        int r = 0;
        if (mkdir(new_dir, 0700) < 0 || mkdir(old_dir, 0700) < 0)
                r = pic_error(err, negative_errno(), NULL, "cannot create %s: %m", base);
        if (r >= 0)
                r = stage(c, fd, id, new_dir, err);
        if (r >= 0) {
                /* One sync of the filesystem: every staged file and directory entry is on disk before the journal
                 * makes them the state a crash rolls forward to (a walk fsyncing each would cost more). */
                _cleanup_close_ int bfd = open(base, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (bfd < 0 || syncfs(bfd) < 0)
                        r = pic_error(err, negative_errno(), NULL, "cannot sync %s: %m", base);
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
                r = backup_journal_write(c->state_dir, staging, false);
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
        r = backup_swap_in(c->state_dir, new_dir, old_dir);
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
                int k = backup_journal_remove(c->state_dir);
                if (k < 0)
                        log_error_errno(k, "restore: cannot remove the journal; the next start finishes the restore");
                journal_gone = k >= 0;
        }
        /* Only once the journal is gone: a staging dir without a journal is garbage, never half a restore. */
        if (journal_gone)
                rm_rf(base);
        release_memory(c);
        return r;
}
