/* Backup and restore of the whole cell: one archive STATE/backups/<id>.tar.gz holding the store, keys/, etc/ and
 * the users' service data (data/) with a signed manifest; restore verifies everything into a staging dir before
 * it swaps anything in. */
#pragma once
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "basic/error.h"
#include "core/backup-journal.h" /* backup_recover() */
#include "core/cell.h"

/* Ids follow [a-z0-9][a-z0-9-]*, at most 64 characters ("pic-20250101-120000-a1b2c3"). */
#define BACKUP_ID_MAX 65

typedef struct BackupInfo {
        char id[BACKUP_ID_MAX];
        int64_t created; /* wall-clock seconds */
        uint64_t size;   /* bytes of the archive */
} BackupInfo;

bool backup_id_is_valid(const char *id);

/* Writes a new archive (0600, atomically) and fills ret. Creates STATE/keys/backup.key on first use: the
 * per-cell secret that signs manifests, so a restore accepts only archives this cell (or a cell given
 * the same key file) made. */
int backup_create(Cell *c, BackupInfo *ret, PicError *err);

/* Array of {id, created, size, cell_name, picd_version, schema_version, verified, readable}, newest first.
 * New reference. */
int backup_list(Cell *c, json_t **ret);

/* -EINVAL (field "id") for an id outside the grammar, -ENOENT when there is no such archive. */
int backup_delete(Cell *c, const char *id, PicError *err);
/* The archive opened for a download, streamed from the fd whatever its size (errors as backup_delete). The
 * caller owns *ret_fd; the bytes stay readable through it even if the archive is deleted meanwhile. */
int backup_open(Cell *c, const char *id, int *ret_fd, uint64_t *ret_size, PicError *err);

/* All or nothing: -EINVAL/-ENOENT as above; -EBADMSG when the archive is damaged, truncated, tampered
 * with, signed by another key or holds an entry that is not a plain file listed in its manifest — and
 * then nothing changed. On success the store, keys/, etc/ and data/ are the archive's (the audit trail is carried
 * forward), c->store and c->settings are reopened, and every service is stopped and started again as at
 * boot (setup included); the names of the restarted services are appended to ret_services (may be NULL).
 * If re-syncing fails the old state is put back and the error returned. */
int backup_restore(Cell *c, const char *id, json_t *ret_services, PicError *err);

