/* The restore journal and the swap it protects: the state-dir layout of backups and restores, moving a verified
 * staging dir in (or the old state back) by renames that resume from any point, and recovery at start. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define BACKUP_BACKUPS_DIR "backups"
#define BACKUP_ARCHIVE_SUFFIX ".tar.gz"
#define BACKUP_STAGING_PREFIX ".restore-" /* STATE/.restore-<12 hex>/{new,old} */
#define BACKUP_SNAPSHOT_PREFIX ".tmp-"    /* STATE/backups/.tmp-<id>/ while an archive is made */
#define BACKUP_TMP_INFIX ".tmp-"          /* write_file_atomic()'s and atomic_file_open()'s temp names */

int backup_path_join(char *buf, size_t size, const char *a, const char *b);
bool backup_path_exists(const char *path);
/* Opens (creating with dir_mode as needed) the directory that will hold rel below root_fd, never following a
 * symlink; returns its fd and where rel's last component starts. */
int backup_open_parent(int root_fd, const char *rel, mode_t dir_mode, int *ret_fd, const char **ret_name);

/* Fills ret (BACKUP_STAGING_PREFIX + 12 hex digits) with a new random staging dir name. */
void backup_staging_name(char ret[static sizeof BACKUP_STAGING_PREFIX + 12]);
/* The staging dir's halves for a direction: forward moves new/ in and old/ out, revert the other way. */
int backup_staging_halves(const char *state_dir, const char *staging, bool revert, char src[static 4096],
                          char dst[static 4096]);

/* Atomically records "restore from STATE/<staging> in this direction": from here a crash rolls on at start. */
int backup_journal_write(const char *state_dir, const char *staging, bool revert);
int backup_journal_remove(const char *state_dir);

/* Moves picd.db (displacing its -wal/-shm), keys/, etc/ and data/ from src into the state dir, the live ones into dst.
 * Idempotent: src/<item> present means "still to move in", so it resumes after a crash at any step. */
int backup_swap_in(const char *state_dir, const char *src, const char *dst);

/* Called by picd before the store is opened: finishes a restore that was interrupted after its journal
 * was written (the staged files were verified before that), and removes unjournaled staging dirs and
 * temp files of interrupted backups. Returns 1 if it completed a restore, 0 if there was none, negative
 * errno on failure (-EBADMSG for a damaged journal: then picd must not start). */
int backup_recover(const char *state_dir);
