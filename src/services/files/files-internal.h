/* Shared between the files module's daemon side (files.c) and its storage side (storage.c): where the trees
 * live, how usage is counted, and the per-user hooks. */
#pragma once
#include <stdint.h>

#include "core/cell.h"
#include "services/files/files.h"

#define FILES_SOCKET "files-http.sock"
#define WEBDAV_SOCKET "webdav-http.sock"
#define FILES_DATA_DIR "data/files"     /* STATE/data/files/<user>/: each user's tree, nothing else */
#define FILES_META_DIR "data/files-meta" /* <user>.sqlite: mod_webdav's properties and locks */

typedef struct FilesUsage {
        int64_t bytes, files, folders;
} FilesUsage;

/* STATE/<area>[/<name>]; caller frees. */
char *files_path(Cell *c, const char *area, const char *name);
/* Sums the regular files below dir (symlinks not followed; the top "shared" folder left out); adds to *u. */
int files_usage(const char *dir, FilesUsage *u);
int files_user_dir_create(Cell *c, const char *user);
int files_user_owns(Cell *c, const char *user, json_t *owned, PicError *err);
int files_user_purge(Cell *c, const char *user, PicError *err);
int files_user_storage(Cell *c, const char *user, json_t *storage, PicError *err);
