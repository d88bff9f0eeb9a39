/* Backup archives on disk (pax/ustar + gzip through libarchive). Every call does its libarchive work in a
 * forked child: picd itself never loads libarchive and the ~3 MiB of libraries it pulls in (ICU, libxml2,
 * libstdc++), nor keeps the heap it grows, so a cell at rest after a backup or restore is as small as before. */
#pragma once
#include <stdint.h>

#include "basic/error.h"
#include "core/backup-manifest.h"

/* Writes the archive to fd: the manifest first, then each of files, read from snap_dir/<path>, then (data->present)
 * snap_dir/data.index and each file it lists, checked against the hash it records as it streams. A full disk
 * is -ENOSPC/-EDQUOT, a data file written in place since the snapshot -EBUSY, other write failures -EIO. */
int backup_archive_write(int fd, const char *manifest, const char *snap_dir, const BackupFileList *files,
                         const BackupDataInfo *data, int64_t mtime, PicError *err);

/* The manifest (the archive's first entry) of the archive on fd, NUL-terminated; caller frees. -EBADMSG when the
 * archive is not a cell backup. */
int backup_archive_read_manifest(int fd, char **ret, size_t *ret_len, PicError *err);

/* Verifies the manifest of the archive on fd (signed with key, naming want_id) and extracts below new_fd
 * exactly the plain files it lists, each with its listed size and SHA-256 and its masked mode, then data/ as its
 * index lists it (directories, files with owner and mtime), all synced. new_dir is new_fd's path, for messages. -ENOSPC before anything is written
 * when it cannot fit; -EBADMSG for anything else (damaged, truncated, altered, foreign, unlisted, links,
 * devices); the caller removes what was written then. */
int backup_archive_extract(int fd, const char *want_id, const uint8_t key[static BACKUP_KEY_BYTES], int new_fd,
                           const char *new_dir, PicError *err);
