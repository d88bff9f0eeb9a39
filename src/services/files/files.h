/* The "files" service module: each user's WebDAV storage (lighttpd + mod_webdav) at files.<cell> and, the same
 * trees, at webdav.<cell>; per-user quotas and folders shared between users. */
#pragma once
#include <jansson.h>

#include "core/cell.h"

#define FILES_SERVICE "files"
/* The header the front door sets from picd's decision (and deletes from a client's request). */
#define FILES_USER_HEADER "X-Pic-User"
#define FILES_SHARED "shared" /* the top folder of a user's tree where others' shares appear */

extern const ServiceOps svc_files_ops;

/* What files_http_authorize never refuses a signed-in user: GET and HEAD (lighttpd itself refuses a path through
 * a symlink for these two; PROPFIND it would follow), anywhere but under /shared/, whose shares picd checks live
 * on every request. Caddy authorizes these in-process for app passwords in its fast set. */
#define FILES_FAST_METHODS ((const char *const[]) { "GET", "HEAD", NULL })
#define FILES_FAST_NOT_BELOW "/" FILES_SHARED

/* ServiceOps.http_authorize of both endpoints (files and webdav): shares, the reserved /shared/ tree and
 * quotas, checked on the decoded path the backend will serve. */
int files_http_authorize(Cell *c, const char *endpoint, const char *user, const ProxiedRequest *req, PicError *err);

/* PUT /api/users/{name}/storage: body {"quota": bytes | null (unlimited)}. */
int files_quota_put(Cell *c, const char *user, json_t *body, PicError *err);
/* {"shares": [what user shares], "received": [what others share with user]}. */
int files_shares_list(Cell *c, const char *user, json_t **ret, PicError *err);
/* body {"folder", "with", "access": "read-only" | "read-write"}; *ret the new share. */
int files_share_create(Cell *c, const char *owner, json_t *body, json_t **ret, PicError *err);
/* -ENOENT when owner has no share id. Access ends with this call. */
int files_share_delete(Cell *c, const char *owner, int64_t id, PicError *err);
