/* Shared between the files module's daemon side (files.c) and its storage side (storage.c): where the trees
 * live, how usage is counted, and the per-user hooks. */
#pragma once
#include <stdint.h>
#include <sys/types.h>

#include "core/cell.h"
#include "services/files/files.h"

/* lighttpd parses what strangers send (WebDAV XML, paths): it becomes a system user of its own, which no other
 * daemon shares (scripts/install-deps.sh makes it), owner of the users' trees and their property databases and
 * nothing else. It binds its sockets as root first: they stay root's, in root's STATE/run/proxied (0750
 * root:caddy, CELL_PROXIED_DIR), so the user it becomes cannot put a link in their place that would send Caddy
 * to another socket, and no one but Caddy (and root) can pass the directory to connect. Relative to STATE/run. */
#define FILES_USER "pic-files"
#define FILES_SOCKET "proxied/files-http.sock"
#define WEBDAV_SOCKET "proxied/webdav-http.sock"
#define FILES_DATA_DIR "data/files"     /* STATE/data/files/<user>/: each user's tree, nothing else */
#define FILES_META_DIR "data/files-meta" /* <user>.sqlite: mod_webdav's properties and locks */

typedef struct FilesUsage {
        int64_t bytes, files, folders;
} FilesUsage;

/* STATE/<area>[/<name>]; caller frees. */
char *files_path(Cell *c, const char *area, const char *name);
/* Sums the regular files below dir (symlinks not followed; the top "shared" folder left out); adds to *u. */
int files_usage(const char *dir, FilesUsage *u);
/* FILES_USER's ids; -ENOENT when it does not exist. */
int files_ids(uid_t *ret_uid, gid_t *ret_gid);
/* The user's tree, made as FILES_USER's. */
int files_user_dir_create(Cell *c, const char *user);
int files_user_owns(Cell *c, const char *user, json_t *owned, PicError *err);
int files_user_purge(Cell *c, const char *user, PicError *err);
int files_user_storage(Cell *c, const char *user, json_t *storage, PicError *err);
