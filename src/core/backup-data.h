/* The users' service data (STATE/data/) in a backup: the snapshot a backup archives (hard links, small files
 * copied), the data.index it writes beside it, and the bounded line reader both archive directions use. */
#pragma once
#include <stdint.h>
#include <sys/types.h>

#include "basic/error.h"
#include "core/backup-manifest.h"

/* Files up to this size are copied into the snapshot, larger ones hard-linked (copied only where a link cannot
 * be made). A copy is immune to a writer that changes a file in place (dovecot's index files, a partial PUT),
 * and small files are where such writers live; a link costs no space and no time for a multi-GB file, which
 * WebDAV and Maildir only ever replace by rename. */
#define BACKUP_DATA_COPY_MAX (UINT64_C(1) << 20)

/* Copies src_fd to dst_fd (dst_fd -1: hash only), counting and hashing; -EFBIG beyond max. */
int backup_copy_hashing(int src_fd, int dst_fd, uint64_t max, uint64_t *ret_size, char ret_hex[static BACKUP_SHA_HEX]);

/* Walks STATE/data and lays it out below snap_fd as data/ (see BACKUP_DATA_COPY_MAX), writing snap_fd's
 * data.index in the same order and filling ret with what the manifest says of it. No data/ is an empty index.
 * A name outside backup_data_path_is_valid(), a symlink or device, or too many entries fail the whole backup
 * with err naming the path: nothing is left out silently but sockets and fifos (a daemon's rendezvous points,
 * with no content, which it makes anew at start). */
int backup_data_snapshot(const char *state_dir, int snap_fd, BackupDataInfo *ret, PicError *err);

/* Reads data.index line by line from fd in a fixed buffer. */
typedef struct BackupIndexReader {
        int fd;
        size_t start, end;
        char buf[64 * 1024];
} BackupIndexReader;

/* 1 with *ret set, 0 at the end, -EBADMSG for a line longer than BACKUP_INDEX_LINE_MAX or one without its
 * newline, or a negative errno. */
int backup_index_next(BackupIndexReader *r, BackupDataEntry *ret);
