/* The restore journal (STATE/restore-journal) and the rename-only swap it makes crash-safe, plus recovery at
 * start: a journaled restore is finished, unjournaled staging dirs and backup temp files are removed. */
#include "core/backup-journal.h"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <sys/stat.h>

#include "basic/fileio.h"
#include "basic/log.h"
#include "basic/util.h"
#include "core/backup-manifest.h"

#define JOURNAL_NAME "restore-journal"
#define JOURNAL_MAGIC "pic-restore-journal 1"

_Static_assert(PATH_MAX == 4096, "staging path buffers are PATH_MAX");

int backup_path_join(char *buf, size_t size, const char *a, const char *b) {
        if (snprintf(buf, size, "%s/%s", a, b) >= (int) size)
                return -ENAMETOOLONG;
        return 0;
}

bool backup_path_exists(const char *path) {
        struct stat st;
        return lstat(path, &st) == 0;
}

/* Opens (creating as needed) the directory that will hold rel below root_fd, never following a symlink;
 * returns its fd and where rel's last component starts. */
int backup_open_parent(int root_fd, const char *rel, mode_t dir_mode, int *ret_fd, const char **ret_name) {
        int fd = fcntl(root_fd, F_DUPFD_CLOEXEC, 3);
        if (fd < 0)
                return negative_errno();
        const char *c = rel;
        for (const char *slash; (slash = strchr(c, '/')); c = slash + 1) {
                char comp[BACKUP_REL_PATH_MAX + 1];
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

static bool staging_name_is_valid(const char *s) {
        if (!startswith(s, BACKUP_STAGING_PREFIX))
                return false;
        s += strlen(BACKUP_STAGING_PREFIX);
        if (strlen(s) != 12)
                return false;
        for (; *s; s++)
                if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
                        return false;
        return true;
}

void backup_staging_name(char ret[static sizeof BACKUP_STAGING_PREFIX + 12]) {
        uint8_t raw[6];
        char hex[13];
        randombytes_buf(raw, sizeof raw);
        sodium_bin2hex(hex, sizeof hex, raw, sizeof raw);
        snprintf(ret, sizeof BACKUP_STAGING_PREFIX + 12, BACKUP_STAGING_PREFIX "%s", hex);
}

static const char *const db_files[] = { BACKUP_DB_NAME "-wal", BACKUP_DB_NAME "-shm", BACKUP_DB_NAME };
static const char *const tree_dirs[] = { "keys", "etc", BACKUP_DATA_DIR };

/* Moves STATE/name into dst. If dst already holds it, the original went there before a crash and what is in
 * the state dir now was re-created since (prepare_state_dir makes keys/ and etc/): it is removed. */
static int displace(const char *state_dir, const char *dst, const char *name) {
        char from[PATH_MAX], to[PATH_MAX];
        if (backup_path_join(from, sizeof from, state_dir, name) < 0 || backup_path_join(to, sizeof to, dst, name) < 0)
                return -ENAMETOOLONG;
        if (!backup_path_exists(from))
                return 0;
        if (backup_path_exists(to))
                return rm_rf(from);
        return rename(from, to) < 0 ? negative_errno() : 0;
}

static int move_in(const char *state_dir, const char *src, const char *name) {
        char from[PATH_MAX], to[PATH_MAX];
        if (backup_path_join(from, sizeof from, src, name) < 0 || backup_path_join(to, sizeof to, state_dir, name) < 0)
                return -ENAMETOOLONG;
        return rename(from, to) < 0 ? negative_errno() : 0;
}

/* Idempotent: src/<item> present means "still to move in", so it can resume after a crash at any step. */
int backup_swap_in(const char *state_dir, const char *src, const char *dst) {
        char p[PATH_MAX];
        int r = backup_path_join(p, sizeof p, src, BACKUP_DB_NAME);
        if (r < 0)
                return r;
        if (backup_path_exists(p)) {
                for (size_t i = 0; i < ELEMENTSOF(db_files); i++) {
                        r = displace(state_dir, dst, db_files[i]);
                        if (r < 0)
                                return r;
                }
                r = move_in(state_dir, src, BACKUP_DB_NAME);
                if (r < 0)
                        return r;
        }
        for (size_t i = 0; i < ELEMENTSOF(tree_dirs); i++) {
                if (backup_path_join(p, sizeof p, src, tree_dirs[i]) < 0)
                        return -ENAMETOOLONG;
                if (!backup_path_exists(p))
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

int backup_journal_write(const char *state_dir, const char *staging, bool revert) {
        char path[PATH_MAX], text[256];
        if (backup_path_join(path, sizeof path, state_dir, JOURNAL_NAME) < 0)
                return -ENAMETOOLONG;
        snprintf(text, sizeof text, JOURNAL_MAGIC "\n%s\n%s\n", staging, revert ? "revert" : "forward");
        int r = write_file_atomic(path, text, strlen(text), 0600, NULL, NULL, NULL);
        return r < 0 ? r : 0;
}

int backup_journal_remove(const char *state_dir) {
        char path[PATH_MAX];
        if (backup_path_join(path, sizeof path, state_dir, JOURNAL_NAME) < 0)
                return -ENAMETOOLONG;
        if (unlink(path) < 0)
                return errno == ENOENT ? 0 : negative_errno();
        return fsync_directory(state_dir);
}

/* The staging dir's halves for a direction: forward moves new/ in and old/ out, revert the other way. */
int backup_staging_halves(const char *state_dir, const char *staging, bool revert, char src[static PATH_MAX],
                          char dst[static PATH_MAX]) {
        char base[PATH_MAX];
        if (backup_path_join(base, sizeof base, state_dir, staging) < 0 ||
            backup_path_join(src, PATH_MAX, base, revert ? "old" : "new") < 0 ||
            backup_path_join(dst, PATH_MAX, base, revert ? "new" : "old") < 0)
                return -ENAMETOOLONG;
        return 0;
}

/* Removes staging dirs and temp files that an interrupted restore or backup left behind. */
static void remove_leftovers(const char *state_dir) {
        const char *const dirs[] = { "", "/" BACKUP_BACKUPS_DIR };
        for (size_t i = 0; i < ELEMENTSOF(dirs); i++) {
                char dir[PATH_MAX];
                snprintf(dir, sizeof dir, "%s%s", state_dir, dirs[i]);
                DIR *d = opendir(dir);
                if (!d)
                        continue;
                struct dirent *de;
                while ((de = readdir(d))) {
                        bool ours = i == 0 ? startswith(de->d_name, BACKUP_STAGING_PREFIX) ||
                                                     startswith(de->d_name, JOURNAL_NAME BACKUP_TMP_INFIX)
                                           : startswith(de->d_name, BACKUP_SNAPSHOT_PREFIX) ||
                                                     strstr(de->d_name, BACKUP_ARCHIVE_SUFFIX BACKUP_TMP_INFIX);
                        char p[PATH_MAX];
                        if (ours && backup_path_join(p, sizeof p, dir, de->d_name) >= 0) {
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
        int r = backup_path_join(path, sizeof path, state_dir, JOURNAL_NAME);
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
                r = backup_staging_halves(state_dir, staging, revert, src, dst);
                if (r < 0)
                        return r;
                if (backup_path_exists(src) && backup_path_exists(dst)) {
                        r = backup_swap_in(state_dir, src, dst);
                        if (r < 0)
                                return log_debug_errno(r, "cannot finish the interrupted restore from %s", src);
                        done = 1;
                }
                r = backup_journal_remove(state_dir);
                if (r < 0)
                        return r;
        }
        remove_leftovers(state_dir);
        return done;
}

