/* File helpers: the one atomic writer every file picd writes goes through, bounded reads, mkdir -p.
 * Callers own the buffers returned by read_file_full(). */
#pragma once
#include <stdint.h>
#include <sys/types.h>

#include "basic/error.h"

/* Runs a daemon's own checker on the candidate file at tmp_path before it replaces the old one.
 * Returns 0 to accept, negative errno to refuse (with the checker's message in err). */
typedef int (*atomic_check_fn)(const char *tmp_path, void *userdata, PicError *err);

typedef enum WriteAtomicResult {
        WRITE_ATOMIC_UNCHANGED = 0, /* content identical: nothing was written */
        WRITE_ATOMIC_WRITTEN = 1,
} WriteAtomicResult;

/* Temp file in the same directory (O_CREAT|O_EXCL|O_CLOEXEC), write, fchmod, fsync, optional check,
 * rename, fsync the directory. The temp file is unlinked on any failure. Returns WRITE_ATOMIC_* or
 * negative errno. */
int write_file_atomic(const char *path, const void *data, size_t len, mode_t mode, atomic_check_fn check,
                      void *userdata, PicError *err);
/* write() until done, retrying on EINTR and short writes. */
int fd_write_all(int fd, const void *data, size_t len);
/* Reads a whole file of at most max bytes (-EFBIG beyond). *ret is NUL-terminated. */
int read_file_full(const char *path, size_t max, char **ret, size_t *ret_len);
int mkdir_p(const char *path, mode_t mode);
int fsync_directory_of(const char *path);
/* Removes a directory tree (no symlink following). Missing is not an error. */
int rm_rf(const char *path);
/* Gives a directory tree to uid:gid, for a daemon that runs as that user. Never follows a symlink: path itself
 * must be a directory (else -ENOTDIR), and every step below is an openat/fchownat relative to its parent's fd,
 * so a link or a rename by the tree's owner cannot send it elsewhere. Stays on path's file system, and leaves
 * alone a file with more than one name that is not the user's yet (a hard link to something outside). */
int chown_tree_nofollow(const char *path, uid_t uid, gid_t gid);
/* mkdir -p of rel ("a/b/c", no "." or ".." parts) below base, in a tree an unprivileged daemon owns: each step an
 * openat with O_NOFOLLOW from the one before (a symlink on the way is -ENOTDIR/-ELOOP, never followed), and each
 * directory it makes is given to uid:gid. What exists already is left as it is. */
int mkdir_below(const char *base, const char *rel, mode_t mode, uid_t uid, gid_t gid);
/* Removes rel's directories below base, deepest first, as far as they are empty; the same O_NOFOLLOW walk. */
void rmdir_below(const char *base, const char *rel);

/* The same discipline for content streamed through an fd (archives too big for one buffer):
 * atomic_file_open() creates PATH.tmp-XXXXXXXX (O_EXCL, mode), the caller writes to f->fd, then
 * atomic_file_commit() fchmods, fsyncs, renames (never over an existing file when no_replace) and fsyncs
 * the directory. atomic_file_abort() closes and unlinks the temp file; both may be called after a failed
 * commit. */
typedef struct AtomicFile {
        int fd;
        mode_t mode;
        char path[4096];
        char tmp[4096 + 16];
} AtomicFile;
int atomic_file_open(const char *path, mode_t mode, AtomicFile *ret);
/* fchmod, fsync and close without renaming, so a checker can read the complete candidate at f->tmp. */
int atomic_file_finish(AtomicFile *f);
int atomic_file_commit(AtomicFile *f, bool no_replace);
void atomic_file_abort(AtomicFile *f);
/* fsync of a directory itself (not its parent). */
int fsync_directory(const char *path);
