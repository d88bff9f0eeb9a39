/* lighttpd + mod_webdav under the supervisor: render its config (lighttpd-conf.c) from the users and shares in
 * the store, check it with `lighttpd -tt`, run `lighttpd -D` in the cell namespace and reload it with SIGUSR1
 * (graceful: the new config serves at once). Both endpoints, files and webdav, reach the same daemon. */
#include "services/files/files.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "basic/fileio.h"
#include "basic/log.h"
#include "basic/spawn.h"
#include "basic/strbuf.h"
#include "basic/time-util.h"
#include "basic/util.h"
#include "services/files/files-internal.h"
#include "services/files/lighttpd-conf.h"
#include "store/accounts.h"
#include "store/files.h"

#define CONF_NAME "lighttpd.conf"
#define CHECK_TIMEOUT_USEC (20 * USEC_PER_SEC)
#define PROBE_TIMEOUT_USEC (2 * USEC_PER_SEC)

static const char *lighttpd_bin(void) {
        const char *b = getenv("PIC_LIGHTTPD_BIN");
        return b && *b == '/' ? b : "/usr/sbin/lighttpd";
}

char *files_path(Cell *c, const char *area, const char *name) {
        char *s = NULL;
        if (strdup_printf(&s, "%s/%s%s%s", c->state_dir, area, name ? "/" : "", name ? name : "") < 0)
                return NULL;
        return s;
}

typedef struct Lists {
        char **users;
        size_t n_users;
        StoreShare *shares;
        size_t n_shares;
        int r;
} Lists;

static void lists_done(Lists *l) {
        for (size_t i = 0; i < l->n_users; i++)
                free(l->users[i]);
        free(l->users);
        free(l->shares);
}

static void add_user(const StoreUser *u, void *userdata) {
        Lists *l = userdata;
        char **v = realloc(l->users, (l->n_users + 1) * sizeof *v);
        char *name = strdup(u->username);
        if (!v || !name) {
                free(name);
                if (v)
                        l->users = v;
                l->r = -ENOMEM;
                return;
        }
        l->users = v;
        l->users[l->n_users++] = name;
}

static void add_share(const StoreShare *sh, void *userdata) {
        Lists *l = userdata;
        StoreShare *v = realloc(l->shares, (l->n_shares + 1) * sizeof *v);
        if (!v) {
                l->r = -ENOMEM;
                return;
        }
        l->shares = v;
        l->shares[l->n_shares++] = *sh;
}

static int by_folder_length(const void *a, const void *b) {
        size_t la = strlen(((const StoreShare *) a)->folder), lb = strlen(((const StoreShare *) b)->folder);
        return la < lb ? -1 : la > lb;
}

static int load_lists(Cell *c, Lists *l) {
        int r = store_user_foreach(c->store, add_user, l);
        if (r >= 0)
                r = store_share_foreach(c->store, 0, add_share, l);
        if (r >= 0 && l->r < 0)
                r = l->r;
        if (r >= 0 && l->n_shares > 1)
                qsort(l->shares, l->n_shares, sizeof *l->shares, by_folder_length);
        return r;
}

static int files_render(Cell *c, ServiceFiles *out, PicError *err) {
        _cleanup_(lists_done) Lists l = { 0 };
        int r = load_lists(c, &l);
        if (r < 0)
                return pic_error(err, r, NULL, "cannot read users and shares from the store");
        _cleanup_free_ char *s1 = files_path(c, "run", FILES_SOCKET), *s2 = files_path(c, "run", WEBDAV_SOCKET);
        _cleanup_free_ char *root = files_path(c, FILES_DATA_DIR, NULL), *meta = files_path(c, FILES_META_DIR, NULL);
        _cleanup_free_ char *empty = files_path(c, "run", "files-empty");
        _cleanup_free_ FilesShareConf *shares = calloc(l.n_shares + 1, sizeof *shares);
        if (!s1 || !s2 || !root || !meta || !empty || !shares)
                return -ENOMEM;
        for (size_t i = 0; i < l.n_shares; i++)
                shares[i] = (FilesShareConf) { .owner = l.shares[i].owner, .folder = l.shares[i].folder,
                                               .with = l.shares[i].with, .writable = l.shares[i].writable };
        FilesConf cfg = { .sockets = { s1, s2 }, .files_root = root, .meta_dir = meta, .empty_dir = empty,
                          .user_header = FILES_USER_HEADER, .run_as = FILES_USER, .users = (const char *const *) l.users,
                          .n_users = l.n_users, .shares = shares, .n_shares = l.n_shares };
        char *text = NULL;
        r = files_conf_render(&cfg, &text);
        if (r < 0)
                return pic_error(err, r, NULL, "cannot render the files configuration (state directory path?)");
        /* lighttpd reads it as FILES_USER: its directory (etc/files, 0750, root:FILES_USER) keeps others out. */
        r = service_files_add(out, CONF_NAME, text, 0644);
        return r < 0 ? pic_error(err, r, NULL, "cannot render the files configuration") : 0;
}

/* Every directory lighttpd reaches, with its owner and mode: what the root owns, lighttpd's user cannot replace
 * (data/files itself stays root's, so a user's tree is always found where picd looks). data/ is searchable on
 * the way (a restore makes it 0700). */
static int make_dirs(Cell *c, PicError *err) {
        uid_t uid;
        gid_t gid;
        int r = files_ids(&uid, &gid);
        if (r < 0)
                return pic_error(err, r, NULL, "user %s does not exist (run scripts/install-deps.sh)", FILES_USER);
        enum { ROOT, ROOT_GROUP, DAEMON };
        const struct {
                const char *area, *name;
                mode_t mode;
                int owner;
        } dirs[] = {
                { "data", NULL, 0711, ROOT },
                { FILES_DATA_DIR, NULL, 0710, ROOT_GROUP },
                { FILES_META_DIR, NULL, 0700, DAEMON },
                { "run", "files-empty", 0755, ROOT },
                { "etc", FILES_SERVICE, 0750, ROOT_GROUP },
        };
        for (size_t i = 0; i < ELEMENTSOF(dirs); i++) {
                _cleanup_free_ char *d = files_path(c, dirs[i].area, dirs[i].name);
                if (!d)
                        return -ENOMEM;
                r = mkdir_p(d, 0700);
                if (r >= 0 && (lchown(d, dirs[i].owner == DAEMON ? uid : 0, dirs[i].owner == ROOT ? 0 : gid) < 0 ||
                               chmod(d, dirs[i].mode) < 0))
                        r = negative_errno();
                if (r < 0)
                        return pic_error(err, r, NULL, "cannot prepare %s for %s: %s", d, FILES_USER, strerror(-r));
        }
        return 0;
}

/* The property databases are lighttpd's, also those `lighttpd -tt` (run as root) has just created. */
static int meta_owned(Cell *c, PicError *err) {
        uid_t uid;
        gid_t gid;
        _cleanup_free_ char *meta = files_path(c, FILES_META_DIR, NULL);
        if (!meta)
                return -ENOMEM;
        int r = files_ids(&uid, &gid);
        if (r >= 0)
                r = chown_tree_nofollow(meta, uid, gid);
        return r < 0 ? pic_error(err, r, NULL, "cannot give %s to %s: %s", meta, FILES_USER, strerror(-r)) : 0;
}

static int files_check(Cell *c, const char *file_name, const char *tmp_path, PicError *err) {
        (void) file_name;
        /* lighttpd -tt opens each user's property database, so its folder must exist before the first start. */
        int r = make_dirs(c, err);
        if (r < 0)
                return r;
        char *argv[] = { (char *) lighttpd_bin(), "-tt", "-f", (char *) tmp_path, NULL };
        _cleanup_free_ char *out = NULL;
        int status;
        r = spawn_capture(argv, CHECK_TIMEOUT_USEC, 16384, &out, &status);
        if (r < 0)
                return pic_error(err, -EHOSTDOWN, NULL, "cannot run %s -tt: %s", lighttpd_bin(), strerror(-r));
        if (status != 0) {
                size_t len = strlen(out);
                while (len > 0 && out[len - 1] == '\n')
                        out[--len] = '\0';
                const char *last = strrchr(out, '\n');
                return pic_error(err, -EBADMSG, NULL, "lighttpd rejected the configuration: %.300s", last ? last + 1 : out);
        }
        return meta_owned(c, err);
}

static int files_argv(Cell *c, char ***ret_argv, char ***ret_env) {
        char **argv = calloc(5, sizeof *argv);
        if (!argv)
                return -ENOMEM;
        argv[0] = strdup(lighttpd_bin());
        argv[1] = strdup("-D");
        argv[2] = strdup("-f");
        argv[3] = cell_service_path(c, FILES_SERVICE, CONF_NAME);
        for (int i = 0; i < 4; i++)
                if (!argv[i]) {
                        strv_free(argv);
                        return -ENOMEM;
                }
        *ret_argv = argv;
        *ret_env = NULL;
        return 0;
}

static void mkdir_user(const StoreUser *u, void *userdata) {
        Cell *c = userdata;
        (void) files_user_dir_create(c, u->username);
}

static int files_setup(Cell *c, PicError *err) {
        int r = make_dirs(c, err);
        if (r < 0)
                return r;
        /* A restored state brings users whose trees may not exist yet. */
        r = store_user_foreach(c->store, mkdir_user, c);
        if (r < 0)
                return pic_error(err, r, NULL, "cannot read the users");
        /* Every tree is lighttpd's: one an older picd ran as root, or a restore wrote with another machine's ids,
         * becomes so now, never through a symlink or out of the tree. data/files itself stays root's. */
        uid_t uid;
        gid_t gid;
        _cleanup_free_ char *root = files_path(c, FILES_DATA_DIR, NULL);
        if (!root)
                return -ENOMEM;
        if ((r = files_ids(&uid, &gid)) >= 0 && (r = chown_tree_nofollow(root, uid, gid)) >= 0 &&
            (lchown(root, 0, gid) < 0 || chmod(root, 0710) < 0))
                r = negative_errno();
        if (r < 0)
                return pic_error(err, r, NULL, "cannot give %s to %s: %s", root, FILES_USER, strerror(-r));
        return meta_owned(c, err);
}

static int files_apply(Cell *c, bool files_changed, PicError *err) {
        (void) err;
        ServiceStatus ss;
        if (supervisor_status(c->supervisor, FILES_SERVICE, &ss) < 0)
                return 1;
        if (ss.state == SERVICE_BACKOFF || ss.state == SERVICE_STOPPING)
                return 0;
        if (ss.state != SERVICE_RUNNING || ss.pid <= 0)
                return 1;
        if (!files_changed)
                return 0;
        /* Graceful reload: lighttpd re-reads the file; requests under way finish with the old one. */
        if (kill(ss.pid, SIGUSR1) < 0)
                return 1;
        return 0;
}

/* An anonymous request must get lighttpd's 403 within the deadline: a hung or misconfigured daemon fails. */
static int probe_socket(const char *path, PicError *err) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        if (strlen(path) >= sizeof sa.sun_path)
                return pic_error(err, -ENAMETOOLONG, NULL, "socket path too long: %s", path);
        memcpy(sa.sun_path, path, strlen(path) + 1);
        _cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
                return pic_error(err, -errno, NULL, "socket: %s", strerror(errno));
        if (connect(fd, (struct sockaddr *) &sa, sizeof sa) < 0 && errno != EINPROGRESS && errno != EAGAIN)
                return pic_error(err, -EHOSTDOWN, NULL, "lighttpd does not accept on %s: %s", path, strerror(errno));
        static const char req[] = "OPTIONS / HTTP/1.0\r\n\r\n";
        uint64_t deadline = now_usec() + PROBE_TIMEOUT_USEC;
        size_t sent = 0;
        char buf[64];
        size_t got = 0;
        while (got < 12) {
                uint64_t now = now_usec();
                if (now >= deadline)
                        return pic_error(err, -EHOSTDOWN, NULL, "lighttpd did not answer within %llu ms",
                                         (unsigned long long) (PROBE_TIMEOUT_USEC / USEC_PER_MSEC));
                struct pollfd p = { .fd = fd, .events = sent < sizeof req - 1 ? POLLOUT : POLLIN };
                int k = poll(&p, 1, (int) ((deadline - now) / 1000 + 1));
                if (k < 0 && errno != EINTR)
                        return pic_error(err, -errno, NULL, "poll: %s", strerror(errno));
                if (k <= 0)
                        continue;
                if (sent < sizeof req - 1) {
                        ssize_t w = send(fd, req + sent, sizeof req - 1 - sent, MSG_NOSIGNAL);
                        if (w < 0 && errno != EAGAIN && errno != EINTR)
                                return pic_error(err, -EHOSTDOWN, NULL, "lighttpd closed the probe: %s", strerror(errno));
                        if (w > 0)
                                sent += (size_t) w;
                        continue;
                }
                ssize_t n = recv(fd, buf + got, sizeof buf - 1 - got, 0);
                if (n == 0)
                        break;
                if (n < 0 && errno != EAGAIN && errno != EINTR)
                        return pic_error(err, -EHOSTDOWN, NULL, "lighttpd closed the probe: %s", strerror(errno));
                if (n > 0)
                        got += (size_t) n;
        }
        buf[got] = '\0';
        if (strncmp(buf, "HTTP/1.0 403", 12) != 0)
                return pic_error(err, -EHOSTDOWN, NULL, "lighttpd answered an anonymous request with \"%.12s\", not 403",
                                 buf);
        return 0;
}

static int files_probe(Cell *c, PicError *err) {
        ServiceStatus ss;
        if (supervisor_status(c->supervisor, FILES_SERVICE, &ss) < 0 || ss.state != SERVICE_RUNNING)
                return pic_error(err, -EHOSTDOWN, NULL, "lighttpd is not running");
        const char *socks[] = { FILES_SOCKET, WEBDAV_SOCKET };
        for (size_t i = 0; i < ELEMENTSOF(socks); i++) {
                _cleanup_free_ char *p = files_path(c, "run", socks[i]);
                if (!p)
                        return -ENOMEM;
                int r = probe_socket(p, err);
                if (r < 0)
                        return r;
        }
        return 0;
}

static void count_share(const StoreShare *sh, void *userdata) {
        (void) sh;
        (*(int64_t *) userdata)++;
}

static int files_status(Cell *c, json_t **ret, PicError *err) {
        ServiceStatus ss;
        if (supervisor_status(c->supervisor, FILES_SERVICE, &ss) < 0 || ss.state != SERVICE_RUNNING)
                return pic_error(err, -EHOSTDOWN, NULL, "the files server (lighttpd) is not running");
        int64_t users = 0, shares = 0;
        if (store_user_count(c->store, &users) < 0 || store_share_foreach(c->store, 0, count_share, &shares) < 0)
                return pic_error(err, -EIO, NULL, "cannot read the store");
        _cleanup_free_ char *root = files_path(c, FILES_DATA_DIR, NULL);
        if (!root)
                return -ENOMEM;
        FilesUsage u = { 0 };
        (void) files_usage(root, &u);
        *ret = json_pack("{s:b, s:i, s:I, s:I, s:I, s:I, s:s, s:[s, s]}", "running", true, "pid", (int) ss.pid, "users",
                         (json_int_t) users, "shares", (json_int_t) shares, "files", (json_int_t) u.files, "bytes",
                         (json_int_t) u.bytes, "root", root, "endpoints", "files", "webdav");
        return *ret ? 0 : -ENOMEM;
}

static void files_user_changed(Cell *c, const char *user, UserEvent ev) {
        if (ev == USER_CREDS)
                return;
        if (ev == USER_CREATED) {
                int r = files_user_dir_create(c, user);
                if (r < 0)
                        log_warn("files: cannot create the tree of \"%s\": %s", user, strerror(-r));
        }
        /* One conditional per user in lighttpd.conf: a new user gets theirs, a deleted one loses it. */
        PicError err = { 0 };
        if (cell_service_sync(c, &svc_files_ops, false, &err) < 0)
                log_warn("files: reload after a change of user \"%s\" failed: %s", user, err.message);
}

static const ServiceEndpoint endpoints[] = {
        { .name = "files", .vip_offset = 11, .dns_labels = (const char *const[]) { "files", NULL }, .grantable = true,
          .grant_bit = 1, .http_upstream = FILES_SOCKET, .http_streams = true,
          .http_fast_methods = FILES_FAST_METHODS, .http_fast_not_below = FILES_FAST_NOT_BELOW },
};

static const SettingDef settings[] = {
        SETTING_PORT("files.port", 80, "HTTP port on the files virtual IP"),
};

const ServiceOps svc_files_ops = {
        .name = FILES_SERVICE,
        .endpoints = endpoints,
        .n_endpoints = ELEMENTSOF(endpoints),
        .settings = settings,
        .n_settings = ELEMENTSOF(settings),
        .render = files_render,
        .check = files_check,
        .argv = files_argv,
        .setup = files_setup,
        .apply = files_apply,
        .probe = files_probe,
        .status = files_status,
        .user_changed = files_user_changed,
        .user_owns = files_user_owns,
        .user_purge = files_user_purge,
        .user_storage = files_user_storage,
        .http_authorize = files_http_authorize,
};
