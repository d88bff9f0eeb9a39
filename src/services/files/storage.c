/* The storage side of the files module: usage of each user's tree, quotas, folders shared between users, the
 * per-request checks picd makes for the front door (files_http_authorize) and the user hooks (owns, purge,
 * the storage section). The store holds quotas and shares; the trees are plain directories. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "basic/fileio.h"
#include "basic/log.h"
#include "basic/strbuf.h"
#include "basic/util.h"
#include "services/files/davpath.h"
#include "services/files/files-internal.h"
#include "services/files/files.h"
#include "store/files.h"

#define WALK_DEPTH_MAX 64

static int walk(int dfd, unsigned depth, bool top, FilesUsage *u) {
        DIR *d = fdopendir(dfd);
        if (!d) {
                int r = -errno;
                close(dfd);
                return r;
        }
        struct dirent *de;
        while ((de = readdir(d))) {
                if (streq(de->d_name, ".") || streq(de->d_name, ".."))
                        continue;
                if (top && streq(de->d_name, FILES_SHARED))
                        continue;
                struct stat st;
                if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                        continue; /* gone meanwhile */
                if (S_ISREG(st.st_mode)) {
                        u->files++;
                        u->bytes += st.st_size;
                } else if (S_ISDIR(st.st_mode)) {
                        u->folders++;
                        int fd = depth < WALK_DEPTH_MAX
                                         ? openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
                                         : -1;
                        if (fd >= 0)
                                (void) walk(fd, depth + 1, false, u);
                }
        }
        closedir(d);
        return 0;
}

static int usage_of(const char *path, bool top, FilesUsage *u) {
        struct stat st;
        if (lstat(path, &st) < 0)
                return -errno;
        if (S_ISREG(st.st_mode)) {
                u->files++;
                u->bytes += st.st_size;
                return 0;
        }
        if (!S_ISDIR(st.st_mode))
                return 0;
        int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        return walk(fd, 0, top, u);
}

int files_usage(const char *dir, FilesUsage *u) {
        return usage_of(dir, true, u);
}

static char *user_root(Cell *c, const char *user) {
        return files_path(c, FILES_DATA_DIR, user);
}

int files_ids(uid_t *ret_uid, gid_t *ret_gid) {
        errno = 0;
        struct passwd *pw = getpwnam(FILES_USER);
        if (!pw)
                return errno ? negative_errno() : -ENOENT;
        *ret_uid = pw->pw_uid;
        *ret_gid = pw->pw_gid;
        return 0;
}

int files_user_dir_create(Cell *c, const char *user) {
        _cleanup_free_ char *base = files_path(c, FILES_DATA_DIR, NULL);
        if (!base)
                return -ENOMEM;
        uid_t uid;
        gid_t gid;
        int r = files_ids(&uid, &gid);
        return r < 0 ? r : mkdir_below(base, user, 0700, uid, gid);
}

static void bytes_phrase(int64_t b, char *buf, size_t size) {
        if (b < 1000)
                snprintf(buf, size, "%lld bytes", (long long) b);
        else if (b < 1000000)
                snprintf(buf, size, "%.1f kB", (double) b / 1e3);
        else if (b < 1000000000)
                snprintf(buf, size, "%.1f MB", (double) b / 1e6);
        else
                snprintf(buf, size, "%.1f GB", (double) b / 1e9);
}

int files_user_owns(Cell *c, const char *user, json_t *owned, PicError *err) {
        _cleanup_free_ char *d = user_root(c, user);
        if (!d)
                return pic_error(err, -ENOMEM, NULL, "out of memory");
        FilesUsage u = { 0 };
        int r = files_usage(d, &u);
        if (r == -ENOENT)
                return 0;
        if (r < 0)
                return pic_error(err, r, NULL, "cannot read %s: %s", d, strerror(-r));
        char phrase[96], size[32];
        if (u.files > 0) {
                bytes_phrase(u.bytes, size, sizeof size);
                snprintf(phrase, sizeof phrase, "%lld file%s, %s", (long long) u.files, u.files == 1 ? "" : "s", size);
        } else if (u.folders > 0)
                snprintf(phrase, sizeof phrase, "%lld folder%s", (long long) u.folders, u.folders == 1 ? "" : "s");
        else
                return 0;
        json_array_append_new(owned, json_string(phrase));
        return 0;
}

/* Removes the empty folders that show a share in the recipient's tree: <with>/shared/<owner>/<folder>
 * and its parents up to shared/, as far as they are empty. */
static void share_folders_remove(Cell *c, const char *owner, const char *folder, const char *with) {
        /* The recipient's tree is lighttpd's user's: walked without following a link it may have put there. */
        _cleanup_free_ char *base = NULL, *rel = NULL;
        if (strdup_printf(&base, "%s/%s/%s", c->state_dir, FILES_DATA_DIR, with) < 0 ||
            strdup_printf(&rel, "%s/%s/%s", FILES_SHARED, owner, folder) < 0)
                return;
        rmdir_below(base, rel);
}

/* The empty folders that make a share show in a listing of the recipient's tree (lighttpd's alias serves what is
 * inside the last one from the owner's tree). */
static int share_folders_create(Cell *c, const char *owner, const char *folder, const char *with) {
        _cleanup_free_ char *base = NULL, *rel = NULL;
        if (strdup_printf(&base, "%s/%s", c->state_dir, FILES_DATA_DIR) < 0 ||
            strdup_printf(&rel, "%s/%s/%s/%s", with, FILES_SHARED, owner, folder) < 0)
                return -ENOMEM;
        uid_t uid;
        gid_t gid;
        int r = files_ids(&uid, &gid);
        /* Made as lighttpd's user's (it must list them), never through a link it may have put there. */
        return r < 0 ? r : mkdir_below(base, rel, 0700, uid, gid);
}

typedef struct ShareList {
        StoreShare *v;
        size_t n;
        int r;
} ShareList;

static void collect_share(const StoreShare *sh, void *userdata) {
        ShareList *l = userdata;
        StoreShare *v = realloc(l->v, (l->n + 1) * sizeof *v);
        if (!v) {
                l->r = -ENOMEM;
                return;
        }
        l->v = v;
        l->v[l->n++] = *sh;
}

static int shares_of(Cell *c, int64_t user_id, ShareList *l) {
        int r = store_share_foreach(c->store, user_id, collect_share, l);
        return r < 0 ? r : l->r;
}

int files_user_purge(Cell *c, const char *user, PicError *err) {
        StoreUser u;
        if (store_user_get_by_name(c->store, user, &u) == 0) {
                ShareList l = { 0 };
                if (shares_of(c, u.id, &l) >= 0)
                        for (size_t i = 0; i < l.n; i++)
                                share_folders_remove(c, l.v[i].owner, l.v[i].folder, l.v[i].with);
                free(l.v);
        }
        _cleanup_free_ char *d = user_root(c, user), *meta = NULL;
        if (!d || strdup_printf(&meta, "%s/%s/%s.sqlite", c->state_dir, FILES_META_DIR, user) < 0)
                return pic_error(err, -ENOMEM, NULL, "out of memory");
        int r = rm_rf(d);
        if (r < 0 && r != -ENOENT)
                return pic_error(err, r, NULL, "cannot remove %s: %s", d, strerror(-r));
        if (unlink(meta) < 0 && errno != ENOENT)
                return pic_error(err, -errno, NULL, "cannot remove %s: %s", meta, strerror(errno));
        return 0;
}

static json_t *share_json(const StoreShare *s) {
        char path[700];
        snprintf(path, sizeof path, "/%s/%s/%s/", FILES_SHARED, s->owner, s->folder);
        return json_pack("{s:I, s:s, s:s, s:s, s:s, s:s, s:I}", "id", (json_int_t) s->id, "owner", s->owner, "folder",
                         s->folder, "with", s->with, "access", s->writable ? "read-write" : "read-only", "path", path,
                         "created_at", (json_int_t) s->created_at);
}

static int user_lookup(Cell *c, const char *name, StoreUser *u, const char *field, PicError *err) {
        int r = store_user_get_by_name(c->store, name, u);
        if (r == -ENOENT)
                return pic_error(err, -ENOENT, field, "no user named \"%s\"", name);
        return r < 0 ? pic_error(err, r, NULL, "cannot read the user") : 0;
}

int files_user_storage(Cell *c, const char *user, json_t *storage, PicError *err) {
        StoreUser u;
        int r = user_lookup(c, user, &u, "name", err);
        if (r < 0)
                return r;
        int64_t quota = -1;
        r = store_quota_get(c->store, u.id, &quota);
        if (r < 0 && r != -ENOENT)
                return pic_error(err, r, NULL, "cannot read the quota");
        _cleanup_free_ char *d = user_root(c, user);
        if (!d)
                return -ENOMEM;
        FilesUsage total = { 0 };
        json_t *cols = json_array();
        DIR *dir = opendir(d);
        if (dir) {
                struct dirent *de;
                while ((de = readdir(dir))) {
                        if (de->d_name[0] == '.' && (!de->d_name[1] || streq(de->d_name, "..")))
                                continue;
                        if (streq(de->d_name, FILES_SHARED))
                                continue;
                        _cleanup_free_ char *p = NULL;
                        if (strdup_printf(&p, "%s/%s", d, de->d_name) < 0)
                                continue;
                        struct stat st;
                        if (lstat(p, &st) < 0)
                                continue;
                        FilesUsage one = { 0 };
                        (void) usage_of(p, false, &one);
                        total.bytes += one.bytes;
                        total.files += one.files;
                        total.folders += one.folders;
                        if (S_ISDIR(st.st_mode)) {
                                total.folders++;
                                json_array_append_new(cols, json_pack("{s:s, s:I, s:I}", "name", de->d_name, "bytes",
                                                                      (json_int_t) one.bytes, "files", (json_int_t) one.files));
                        }
                }
                closedir(dir);
        }
        ShareList l = { 0 };
        r = shares_of(c, u.id, &l);
        json_t *owned = json_array(), *received = json_array();
        for (size_t i = 0; r >= 0 && i < l.n; i++)
                json_array_append_new(streq(l.v[i].owner, user) ? owned : received, share_json(&l.v[i]));
        free(l.v);
        json_t *o = json_pack("{s:I, s:I, s:I, s:o, s:o, s:o, s:o, s:o}", "usage_bytes", (json_int_t) total.bytes, "files",
                              (json_int_t) total.files, "folders", (json_int_t) total.folders, "quota_bytes",
                              quota >= 0 ? json_integer(quota) : json_null(), "available_bytes",
                              quota >= 0 ? json_integer(quota > total.bytes ? quota - total.bytes : 0) : json_null(),
                              "collections", cols, "shares", owned, "received", received);
        if (!o)
                return pic_error(err, -ENOMEM, NULL, "out of memory");
        json_object_set_new(storage, FILES_SERVICE, o);
        return 0;
}

int files_quota_put(Cell *c, const char *user, json_t *body, PicError *err) {
        const char *key;
        json_t *v;
        json_object_foreach(body, key, v) {
                if (!streq(key, "quota"))
                        return pic_error(err, -EINVAL, key, "unknown field \"%s\"", key);
        }
        json_t *q = json_object_get(body, "quota");
        if (!q)
                return pic_error(err, -EINVAL, "quota", "quota is required (bytes, or null for unlimited)");
        if (!json_is_null(q) && (!json_is_integer(q) || json_integer_value(q) < 0))
                return pic_error(err, -EINVAL, "quota", "quota must be a number of bytes (0 or more) or null");
        StoreUser u;
        int r = user_lookup(c, user, &u, "name", err);
        if (r < 0)
                return r;
        r = store_quota_set(c->store, u.id, json_is_null(q) ? -1 : (int64_t) json_integer_value(q));
        return r < 0 ? pic_error(err, r, NULL, "cannot store the quota") : 0;
}

int files_shares_list(Cell *c, const char *user, json_t **ret, PicError *err) {
        StoreUser u;
        int r = user_lookup(c, user, &u, "name", err);
        if (r < 0)
                return r;
        ShareList l = { 0 };
        r = shares_of(c, u.id, &l);
        if (r < 0) {
                free(l.v);
                return pic_error(err, r, NULL, "cannot read the shares");
        }
        json_t *owned = json_array(), *received = json_array();
        for (size_t i = 0; i < l.n; i++)
                json_array_append_new(streq(l.v[i].owner, user) ? owned : received, share_json(&l.v[i]));
        free(l.v);
        *ret = json_pack("{s:s, s:o, s:o}", "user", user, "shares", owned, "received", received);
        return *ret ? 0 : pic_error(err, -ENOMEM, NULL, "out of memory");
}

int files_share_create(Cell *c, const char *owner, json_t *body, json_t **ret, PicError *err) {
        const char *key;
        json_t *v;
        json_object_foreach(body, key, v) {
                if (!streq(key, "folder") && !streq(key, "with") && !streq(key, "access"))
                        return pic_error(err, -EINVAL, key, "unknown field \"%s\"", key);
        }
        const char *folder = json_string_value(json_object_get(body, "folder"));
        const char *with = json_string_value(json_object_get(body, "with"));
        json_t *acc = json_object_get(body, "access");
        const char *access = acc ? json_string_value(acc) : "read-only";
        if (!folder)
                return pic_error(err, -EINVAL, "folder", "folder is required (a folder of your files, e.g. \"photos/2024\")");
        char norm[300];
        size_t fl = strlen(folder);
        while (*folder == '/')
                folder++, fl--;
        while (fl > 0 && folder[fl - 1] == '/')
                fl--;
        if (fl >= sizeof norm)
                return pic_error(err, -EINVAL, "folder", "folder is too long");
        memcpy(norm, folder, fl);
        norm[fl] = '\0';
        if (!davpath_folder_is_valid(norm))
                return pic_error(err, -EINVAL, "folder",
                                 "folder must be 1-8 names of letters, digits, \".\", \"_\", \"-\" or spaces, separated "
                                 "by \"/\" (not \"..\", not under shared/)");
        if (!with)
                return pic_error(err, -EINVAL, "with", "with is required (the user to share with)");
        if (!access || (!streq(access, "read-only") && !streq(access, "read-write")))
                return pic_error(err, -EINVAL, "access", "access must be \"read-only\" or \"read-write\"");
        if (streq(with, owner))
                return pic_error(err, -EINVAL, "with", "a folder is shared with another user, not its owner");
        StoreUser o, w;
        int r = user_lookup(c, owner, &o, "name", err);
        if (r < 0)
                return r;
        r = user_lookup(c, with, &w, "with", err);
        if (r == -ENOENT)
                return pic_error(err, -EINVAL, "with", "no user named \"%s\"", with);
        if (r < 0)
                return r;
        _cleanup_free_ char *phys = NULL;
        if (strdup_printf(&phys, "%s/%s/%s/%s", c->state_dir, FILES_DATA_DIR, owner, norm) < 0)
                return -ENOMEM;
        struct stat st;
        if (lstat(phys, &st) < 0 || !S_ISDIR(st.st_mode))
                return pic_error(err, -EINVAL, "folder", "%s has no folder \"%s\"", owner, norm);
        r = share_folders_create(c, owner, norm, with);
        if (r < 0)
                return pic_error(err, -EBUSY, "folder", "cannot make %s/%s/%s in %s's files: %s", FILES_SHARED, owner, norm,
                                 with, strerror(-r));
        r = store_begin(c->store);
        if (r < 0)
                return pic_error(err, r, NULL, "cannot store the share");
        int64_t id = 0;
        r = store_share_insert(c->store, o.id, norm, w.id, streq(access, "read-write"), (int64_t) time(NULL), &id);
        if (r == -EEXIST) {
                store_rollback(c->store);
                return pic_error(err, -EEXIST, "folder", "%s already shares \"%s\" with %s", owner, norm, with);
        }
        if (r >= 0)
                r = cell_service_sync(c, &svc_files_ops, false, err);
        if (r >= 0)
                r = store_commit(c->store);
        if (r < 0) {
                store_rollback(c->store);
                share_folders_remove(c, owner, norm, with);
                PicError again = { 0 };
                (void) cell_service_sync(c, &svc_files_ops, false, &again);
                return err->message[0] ? r : pic_error(err, r, NULL, "cannot store the share");
        }
        StoreShare sh = { .id = id, .writable = streq(access, "read-write"), .created_at = (int64_t) time(NULL) };
        snprintf(sh.owner, sizeof sh.owner, "%s", owner);
        snprintf(sh.folder, sizeof sh.folder, "%s", norm);
        snprintf(sh.with, sizeof sh.with, "%s", with);
        *ret = share_json(&sh);
        return *ret ? 0 : -ENOMEM;
}

int files_share_delete(Cell *c, const char *owner, int64_t id, PicError *err) {
        StoreUser o;
        int r = user_lookup(c, owner, &o, "name", err);
        if (r < 0)
                return r;
        ShareList l = { 0 };
        r = shares_of(c, o.id, &l);
        StoreShare gone = { 0 };
        for (size_t i = 0; r >= 0 && i < l.n; i++)
                if (l.v[i].id == id && streq(l.v[i].owner, owner))
                        gone = l.v[i];
        free(l.v);
        if (r < 0)
                return pic_error(err, r, NULL, "cannot read the shares");
        if (gone.id == 0)
                return pic_error(err, -ENOENT, "id", "%s has no share %lld", owner, (long long) id);
        /* From here on picd's check refuses the share's paths (it reads the store), before lighttpd reloads. */
        r = store_share_delete(c->store, o.id, id);
        if (r < 0)
                return pic_error(err, r, "id", "cannot delete share %lld", (long long) id);
        PicError why = { 0 };
        if (cell_service_sync(c, &svc_files_ops, false, &why) < 0)
                log_warn("files: reload after revoking share %lld failed: %s", (long long) id, why.message);
        share_folders_remove(c, gone.owner, gone.folder, gone.with);
        return 0;
}

/* The share of with that holds path ("/shared/<owner>/<folder>[/...]"), the deepest if several. *ret_above
 * says whether path is a folder above a live share's own folder ("/shared/<owner>/"), which lists it. */
static bool share_for(Cell *c, int64_t with_id, const char *with, const char *path, StoreShare *ret, bool *ret_above) {
        ShareList l = { 0 };
        bool found = false;
        size_t best = 0;
        *ret_above = false;
        if (shares_of(c, with_id, &l) >= 0)
                for (size_t i = 0; i < l.n; i++) {
                        if (!streq(l.v[i].with, with))
                                continue;
                        char prefix[700];
                        snprintf(prefix, sizeof prefix, "/%s/%s/%s", FILES_SHARED, l.v[i].owner, l.v[i].folder);
                        if (davpath_under(prefix, path))
                                *ret_above = true;
                        if (davpath_under(path, prefix) && strlen(prefix) > best) {
                                best = strlen(prefix);
                                *ret = l.v[i];
                                found = true;
                        }
                }
        free(l.v);
        return found;
}

/* -EPERM when a folder on the way from base to base/rel (as far as it exists) is a symlink: mod_webdav
 * follows them whatever server.follow-symlink says, and no WebDAV method makes one, so one found in a tree
 * came from outside and must not lead anywhere. */
static int no_symlink(const char *base, const char *rel, PicError *err) {
        char p[DAVPATH_MAX + 1024];
        size_t n = (size_t) snprintf(p, sizeof p, "%s", base);
        const char *s = rel;
        while (*s && n < sizeof p - 1) {
                while (*s == '/')
                        s++;
                if (!*s)
                        break;
                size_t seg = strcspn(s, "/");
                if (n + 1 + seg >= sizeof p)
                        return pic_error(err, -EINVAL, NULL, "the request path is too long");
                p[n++] = '/';
                memcpy(p + n, s, seg);
                n += seg;
                p[n] = '\0';
                s += seg;
                struct stat st;
                if (lstat(p, &st) < 0)
                        return 0; /* what does not exist yet cannot lead elsewhere */
                if (S_ISLNK(st.st_mode))
                        return pic_error(err, -EPERM, NULL, "the path goes through a symbolic link, which is never followed");
        }
        return 0;
}

/* Where path lives on disk: the user's own tree, or the owner's tree for a share. */
static char *physical(Cell *c, const char *user, const char *path, const StoreShare *share) {
        char *p = NULL;
        if (share) {
                size_t skip = strlen(FILES_SHARED) + strlen(share->owner) + strlen(share->folder) + 3;
                const char *rest = strlen(path) > skip ? path + skip : "";
                if (strdup_printf(&p, "%s/%s/%s/%s%s", c->state_dir, FILES_DATA_DIR, share->owner, share->folder, rest) < 0)
                        return NULL;
        } else if (strdup_printf(&p, "%s/%s/%s%s", c->state_dir, FILES_DATA_DIR, user, path) < 0)
                return NULL;
        return p;
}

/* 507 when adding `more` bytes to owner's tree would pass their quota. */
static int quota_check(Cell *c, const char *owner, int64_t more, PicError *err) {
        StoreUser u;
        int64_t quota;
        if (store_user_get_by_name(c->store, owner, &u) < 0 || store_quota_get(c->store, u.id, &quota) < 0)
                return 0; /* unlimited */
        _cleanup_free_ char *d = user_root(c, owner);
        if (!d)
                return -ENOMEM;
        FilesUsage use = { 0 };
        (void) files_usage(d, &use);
        if (use.bytes + more > quota)
                return pic_error(err, -EDQUOT, NULL,
                                 "this write needs %lld bytes and %s's quota of %lld bytes has %lld left", (long long) more,
                                 owner, (long long) quota, (long long) (quota > use.bytes ? quota - use.bytes : 0));
        return 0;
}

static bool has_quota(Cell *c, const char *owner) {
        StoreUser u;
        int64_t quota;
        return store_user_get_by_name(c->store, owner, &u) == 0 && store_quota_get(c->store, u.id, &quota) == 0;
}

int files_http_authorize(Cell *c, const char *endpoint, const char *user, const ProxiedRequest *req, PicError *err) {
        (void) endpoint;
        char path[DAVPATH_MAX];
        if (davpath_normalize(req->uri, path, sizeof path) < 0)
                return pic_error(err, -EINVAL, NULL, "the request path is not a valid path");
        bool move = streq(req->method, "MOVE"), copy = streq(req->method, "COPY");
        /* COPY only reads its source. */
        bool writes = !davpath_method_reads(req->method) && !copy;
        StoreShare share;
        bool in_share = false;
        if (davpath_under(path, "/" FILES_SHARED)) {
                StoreUser u;
                bool above = false;
                in_share = store_user_get_by_name(c->store, user, &u) == 0 &&
                           share_for(c, u.id, user, path, &share, &above);
                if (!in_share && (writes || copy))
                        return pic_error(err, -EPERM, NULL, "/%s/ holds the folders other users share with you; nothing "
                                         "else can be written there", FILES_SHARED);
                /* Only live shares and the folders leading to them: a revoked share is refused from the next
                 * request on, whether or not lighttpd has reloaded yet. */
                if (!in_share && !above && !streq(path, "/" FILES_SHARED) && !streq(path, "/" FILES_SHARED "/"))
                        return pic_error(err, -EPERM, NULL, "nothing is shared with you at %s", path);
                if (in_share) {
                        char root[700];
                        snprintf(root, sizeof root, "/%s/%s/%s", FILES_SHARED, share.owner, share.folder);
                        size_t rl = strlen(root);
                        bool is_root = strncmp(path, root, rl) == 0 && (path[rl] == '\0' || streq(path + rl, "/"));
                        if (writes && is_root)
                                return pic_error(err, -EPERM, NULL, "a shared folder itself cannot be changed, only what it holds");
                        if (writes && !share.writable)
                                return pic_error(err, -EPERM, NULL, "%s shares \"%s\" with you read-only", share.owner,
                                                 share.folder);
                }
        }
        char dest[DAVPATH_MAX] = "";
        if ((move || copy) && req->destination) {
                int d = davpath_destination(req->destination, req->host, dest, sizeof dest);
                if (d == -EXDEV)
                        return pic_error(err, -EPERM, NULL, "the Destination header names another host");
                if (d < 0)
                        return pic_error(err, -EINVAL, NULL, "the Destination header is not a valid URL or path");
                /* The backend maps a Destination below the user's own tree only: never into a share. */
                if (davpath_under(dest, "/" FILES_SHARED))
                        return pic_error(err, -EPERM, NULL, "nothing can be moved or copied into /%s/", FILES_SHARED);
        }
        _cleanup_free_ char *own = user_root(c, user), *src_base = NULL;
        if (!own)
                return -ENOMEM;
        if (in_share) {
                if (strdup_printf(&src_base, "%s/%s/%s/%s", c->state_dir, FILES_DATA_DIR, share.owner, share.folder) < 0)
                        return -ENOMEM;
        }
        size_t skip = in_share ? strlen(FILES_SHARED) + strlen(share.owner) + strlen(share.folder) + 3 : 0;
        int r = no_symlink(in_share ? src_base : own, strlen(path) > skip ? path + skip : "", err);
        if (r >= 0 && dest[0])
                r = no_symlink(own, dest, err);
        if (r < 0)
                return r;
        const char *grows = NULL;
        if (streq(req->method, "PUT"))
                grows = in_share ? share.owner : user;
        else if (copy || (move && in_share))
                grows = user;
        if (!grows || !has_quota(c, grows))
                return 0;
        _cleanup_free_ char *phys = physical(c, user, path, in_share ? &share : NULL);
        if (!phys)
                return -ENOMEM;
        int64_t more;
        if (streq(req->method, "PUT")) {
                if (req->length < 0)
                        return pic_error(err, -EMSGSIZE, NULL,
                                         "uploads to storage with a quota need a Content-Length (no chunked body)");
                struct stat st;
                more = req->length;
                if (lstat(phys, &st) == 0 && S_ISREG(st.st_mode))
                        more -= st.st_size; /* it replaces that file */
        } else {
                FilesUsage u = { 0 };
                (void) usage_of(phys, false, &u);
                more = u.bytes;
        }
        return more > 0 ? quota_check(c, grows, more, err) : 0;
}
