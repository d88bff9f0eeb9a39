/* The calendar service: Radicale (CalDAV/CardDAV) under the supervisor in the cell namespace, behind the front
 * door (the proxy's calendar site, forward_auth to picd), and each user's collections as account hooks. */
#include "services/calendar/calendar.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "basic/fileio.h"
#include "basic/log.h"
#include "basic/strbuf.h"
#include "basic/time-util.h"
#include "basic/util.h"
#include "core/netns-run.h"
#include "services/calendar/radicale.h"

#define CALENDAR_SERVICE "calendar"
#define CONF_NAME "radicale.conf"
#define PYTHON_BIN "/usr/bin/python3" /* Debian's: the radicale package is not on a pyenv python's path */
/* Radicale parses what strangers send (WebDAV XML, iCalendar, paths): it runs as the Debian package's own system
 * user, which owns the storage and nothing else. */
#define RADICALE_USER "radicale"
/* A daemon that has not answered a trivial request by then is hung, whatever its process state says. */
#define PROBE_TIMEOUT_USEC (2 * USEC_PER_SEC)
/* Python takes about a second to import Radicale before it listens (more under load); a refused connection that
 * soon after a start means "starting", not "broken". A stopped or hung daemon times out instead, and counts. */
#define STARTUP_GRACE_SEC 10

static const ServiceEndpoint endpoints[] = {
        { .name = "calendar", .vip_offset = 10, .dns_labels = (const char *const[]) { "calendar", NULL }, .grantable = true,
          .grant_bit = 0,
          .http_upstream_port = "calendar.port" },
};

static const SettingDef settings[] = {
        { "calendar.enabled", SETTING_BOOL, "true", NULL, 0, 0, false,
          "Run Radicale (CalDAV/CardDAV) behind https://calendar.<cell>.<domain>/" },
        { "calendar.port", SETTING_INT, "5232", NULL, 1, 65535, true,
          "TCP port Radicale listens on at 127.0.0.1 inside the cell's namespace (the proxy's upstream; peers "
          "reach the calendar on HTTPS only)" },
};

static char *storage_dir(Cell *c) {
        char *p = NULL;
        strdup_printf(&p, "%s/data/calendar", c->state_dir);
        return p;
}

static int calendar_render(Cell *c, ServiceFiles *out, PicError *err) {
        _cleanup_free_ char *storage = storage_dir(c);
        if (!storage)
                return -ENOMEM;
        RadicaleConf cfg = { .port = (unsigned) settings_int(c->settings, "calendar.port"), .storage = storage };
        char *text = NULL;
        int r = radicale_render(&cfg, &text);
        if (r < 0)
                return pic_error(err, r, NULL, "cannot render the Radicale configuration (storage %s)", storage);
        /* Radicale reads it as its own user; it holds a port and a path, nothing secret. */
        r = service_files_add(out, CONF_NAME, text, 0644);
        return r < 0 ? pic_error(err, r, NULL, "cannot render the Radicale configuration") : 0;
}

static int calendar_argv(Cell *c, char ***ret_argv, char ***ret_env) {
        char **argv = calloc(6, sizeof *argv);
        if (!argv)
                return -ENOMEM;
        argv[0] = strdup(PYTHON_BIN);
        argv[1] = strdup("-m");
        argv[2] = strdup("radicale");
        argv[3] = strdup("--config");
        argv[4] = cell_service_path(c, CALENDAR_SERVICE, CONF_NAME);
        for (int i = 0; i < 5; i++)
                if (!argv[i]) {
                        strv_free(argv);
                        return -ENOMEM;
                }
        *ret_argv = argv;
        *ret_env = NULL;
        return 0;
}

typedef struct UserList {
        char **names;
        size_t n, cap;
} UserList;

static void user_list_add(const StoreUser *u, void *userdata) {
        UserList *l = userdata;
        if (l->n == l->cap) {
                size_t cap = l->cap ? 2 * l->cap : 16;
                char **v = realloc(l->names, cap * sizeof *v);
                if (!v)
                        return;
                l->names = v;
                l->cap = cap;
        }
        if ((l->names[l->n] = strdup(u->username)))
                l->n++;
}

static int radicale_ids(uid_t *ret_uid, gid_t *ret_gid) {
        errno = 0;
        struct passwd *pw = getpwnam(RADICALE_USER);
        if (!pw)
                return errno ? negative_errno() : -ENOENT;
        *ret_uid = pw->pw_uid;
        *ret_gid = pw->pw_gid;
        return 0;
}

static int calendar_setup(Cell *c, PicError *err) {
        /* Radicale believes X-Remote-User from whoever connects: on the host's loopback that would be any local
         * process, in the cell's own namespace it is only the cell's daemons. */
        if (c->netns_fd < 0)
                return pic_error(err, -EPERM, NULL,
                                 "the calendar runs only in the cell's own network namespace (picd --netns NAME)");
        uid_t uid;
        gid_t gid;
        int r = radicale_ids(&uid, &gid);
        if (r < 0)
                return pic_error(err, r, NULL, "user %s does not exist (is the radicale package installed? see "
                                 "scripts/install-deps.sh)", RADICALE_USER);
        _cleanup_free_ char *storage = storage_dir(c), *data = NULL;
        if (!storage || strdup_printf(&data, "%s/data", c->state_dir) < 0)
                return -ENOMEM;
        r = mkdir_p(storage, 0700);
        /* Radicale passes through STATE (0711) and data/ on its way to the storage: data/ must be searchable
         * (not readable) whoever made it first (a restore makes it 0700). */
        if (r >= 0 && chmod(data, 0711) < 0)
                r = negative_errno();
        if (r < 0)
                return pic_error(err, r, NULL, "cannot create %s: %s", storage, strerror(-r));
        if ((r = radicale_sweep(storage)) < 0)
                log_warn_errno(r, "calendar: cannot clear what an interrupted change left in %s", storage);
        /* Accounts older than the calendar get their defaults now; one with a tree keeps it as its user left it
         * (a default collection deleted on purpose stays deleted). */
        UserList l = { 0 };
        (void) store_user_foreach(c->store, user_list_add, &l);
        for (size_t i = 0; i < l.n; i++) {
                RadicaleUsage u;
                if (radicale_usage(storage, l.names[i], &u) == 0 && !u.exists &&
                    (r = radicale_ensure_defaults(storage, l.names[i], uid, gid)) < 0)
                        log_warn_errno(r, "calendar: cannot create the default collections of \"%s\"", l.names[i]);
                free(l.names[i]);
        }
        free(l.names);
        /* The tree is Radicale's: one an older picd ran as root, or a restore wrote with the ids of another
         * machine, becomes so now. Never through a symlink, never outside the tree. The storage root and
         * collection-root stay root's (Radicale's group may enter and read): Radicale cannot move a principal
         * or put a link where picd, root, looks for one. So does its config dir (radicale.conf is 0644). */
        _cleanup_free_ char *root = NULL, *etc = cell_service_path(c, CALENDAR_SERVICE, NULL);
        if (!etc || strdup_printf(&root, "%s/collection-root", storage) < 0)
                return -ENOMEM;
        if ((r = mkdir_p(root, 0750)) < 0 || (r = chown_tree_nofollow(storage, uid, gid)) < 0)
                return pic_error(err, r, NULL, "cannot give %s to %s: %s", storage, RADICALE_USER, strerror(-r));
        const struct {
                const char *path;
                mode_t mode;
        } own[] = { { storage, 0710 }, { root, 0750 }, { etc, 0750 } };
        for (size_t i = 0; i < ELEMENTSOF(own); i++)
                if (lchown(own[i].path, 0, gid) < 0 || chmod(own[i].path, own[i].mode) < 0)
                        return pic_error(err, negative_errno(), NULL, "cannot prepare %s for %s: %s", own[i].path,
                                         RADICALE_USER, strerror(errno));
        return 0;
}

static int calendar_apply(Cell *c, bool files_changed, PicError *err) {
        ServiceStatus ss;
        if (supervisor_status(c->supervisor, CALENDAR_SERVICE, &ss) < 0)
                return 1;
        if (ss.state == SERVICE_BACKOFF || ss.state == SERVICE_STOPPING)
                return 0;
        /* Radicale reads its file only at start; it is back in well under a second. */
        return ss.state != SERVICE_RUNNING || files_changed;
}

static bool calendar_enabled(Cell *c) {
        return settings_bool(c->settings, "calendar.enabled");
}

typedef struct ProbeSocket {
        int fd;
} ProbeSocket;

/* The socket is made inside the cell namespace, where Radicale's loopback is; it keeps that namespace. */
static int probe_socket(Cell *c, void *userdata) {
        ProbeSocket *p = userdata;
        p->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        return p->fd < 0 ? negative_errno() : 0;
}

static int wait_fd(int fd, short events, uint64_t deadline) {
        for (;;) {
                uint64_t now = now_usec();
                if (now >= deadline)
                        return -ETIME;
                struct pollfd pfd = { .fd = fd, .events = events };
                int n = poll(&pfd, 1, (int) ((deadline - now + 999) / 1000));
                if (n > 0)
                        return 0;
                if (n < 0 && errno != EINTR)
                        return negative_errno();
        }
}

/* One real HTTP request to Radicale, answered within PROBE_TIMEOUT_USEC: its status line. */
static int probe_request(Cell *c, unsigned port, int *ret_status) {
        ProbeSocket p = { .fd = -1 };
        int r = cell_in_netns(c, probe_socket, &p);
        if (r < 0)
                return r;
        _cleanup_close_ int fd = p.fd;
        uint64_t deadline = now_usec() + PROBE_TIMEOUT_USEC;
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t) port),
                                  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        if (connect(fd, (struct sockaddr *) &sa, sizeof sa) < 0) {
                if (errno != EINPROGRESS)
                        return negative_errno();
                if ((r = wait_fd(fd, POLLOUT, deadline)) < 0)
                        return r;
                int so = 0;
                socklen_t len = sizeof so;
                if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &so, &len) < 0)
                        return negative_errno();
                if (so)
                        return -so;
        }
        /* Radicale's discovery redirect: parsed, routed and answered by the application, without a user. */
        static const char req[] = "GET /.well-known/caldav HTTP/1.0\r\nHost: localhost\r\n\r\n";
        if (send(fd, req, sizeof req - 1, MSG_NOSIGNAL) != (ssize_t) sizeof req - 1)
                return -EIO;
        char buf[64];
        size_t got = 0;
        while (got < 12) {
                if ((r = wait_fd(fd, POLLIN, deadline)) < 0)
                        return r;
                ssize_t n = recv(fd, buf + got, sizeof buf - 1 - got, 0);
                if (n < 0 && (errno == EAGAIN || errno == EINTR))
                        continue;
                if (n <= 0)
                        return n < 0 ? negative_errno() : -ECONNRESET;
                got += (size_t) n;
        }
        buf[got] = '\0';
        int status;
        if (sscanf(buf, "HTTP/1.%*1[01] %3d", &status) != 1)
                return -EBADMSG;
        *ret_status = status;
        return 0;
}

static int calendar_probe(Cell *c, PicError *err) {
        ServiceStatus ss;
        if (supervisor_status(c->supervisor, CALENDAR_SERVICE, &ss) < 0 || ss.state != SERVICE_RUNNING)
                return pic_error(err, -EHOSTDOWN, NULL, "radicale is not running");
        unsigned port = (unsigned) settings_int(c->settings, "calendar.port");
        int status = 0;
        int r = probe_request(c, port, &status);
        if (r == -ECONNREFUSED && wall_sec() - ss.started_at < STARTUP_GRACE_SEC)
                return 0;
        if (r == -ETIME)
                return pic_error(err, -EHOSTDOWN, NULL,
                                 "radicale (pid %d) did not answer on 127.0.0.1:%u within %llu s", (int) ss.pid, port,
                                 (unsigned long long) (PROBE_TIMEOUT_USEC / USEC_PER_SEC));
        if (r < 0)
                return pic_error(err, -EHOSTDOWN, NULL, "radicale (pid %d) on 127.0.0.1:%u: %s", (int) ss.pid, port,
                                 strerror(-r));
        if (status >= 500)
                return pic_error(err, -EHOSTDOWN, NULL, "radicale (pid %d) answers HTTP %d", (int) ss.pid, status);
        return 0;
}

typedef struct Totals {
        const char *storage;
        json_t *users;
        RadicaleUsage sum;
} Totals;

static void add_user_usage(const char *user, void *userdata) {
        Totals *t = userdata;
        RadicaleUsage u;
        if (radicale_usage(t->storage, user, &u) < 0)
                return;
        t->sum.calendars += u.calendars;
        t->sum.address_books += u.address_books;
        t->sum.items += u.items;
        t->sum.bytes += u.bytes;
        json_array_append_new(t->users, json_pack("{s:s, s:i, s:i, s:i, s:I}", "user", user, "calendars",
                                                  (int) u.calendars, "address_books", (int) u.address_books, "items",
                                                  (int) u.items, "bytes", (json_int_t) u.bytes));
}

static int calendar_status(Cell *c, json_t **ret, PicError *err) {
        ServiceStatus ss;
        bool running = supervisor_status(c->supervisor, CALENDAR_SERVICE, &ss) == 0 && ss.state == SERVICE_RUNNING;
        _cleanup_free_ char *storage = storage_dir(c);
        if (!storage)
                return -ENOMEM;
        Totals t = { .storage = storage, .users = json_array() };
        int r = radicale_foreach_user(storage, add_user_usage, &t);
        if (r < 0) {
                json_decref(t.users);
                return pic_error(err, r, NULL, "cannot read %s: %s", storage, strerror(-r));
        }
        char listen[32];
        snprintf(listen, sizeof listen, "127.0.0.1:%lld", (long long) settings_int(c->settings, "calendar.port"));
        *ret = json_pack("{s:b, s:s, s:s, s:i, s:i, s:i, s:i, s:I, s:o}", "running", running, "listen", listen,
                         "storage", storage, "collections", (int) (t.sum.calendars + t.sum.address_books), "calendars",
                         (int) t.sum.calendars, "address_books", (int) t.sum.address_books, "items", (int) t.sum.items,
                         "storage_bytes", (json_int_t) t.sum.bytes, "users", t.users);
        return *ret ? 0 : -ENOMEM;
}

static void calendar_user_changed(Cell *c, const char *user, UserEvent ev) {
        _cleanup_free_ char *storage = storage_dir(c);
        if (!storage)
                return;
        uid_t uid;
        gid_t gid;
        int r = 0;
        if (ev == USER_CREATED && (r = radicale_ids(&uid, &gid)) >= 0)
                r = radicale_ensure_defaults(storage, user, uid, gid);
        else if (ev == USER_DELETED)
                /* Nothing of the account may remain for a new one of the same name: without purge only empty
                 * defaults can be left here (anything more was a 409). */
                r = radicale_remove_user(storage, user);
        if (r < 0)
                log_error_errno(r, "calendar: cannot %s the collections of \"%s\"",
                                ev == USER_CREATED ? "create" : "remove", user);
}

static const char *plural(unsigned n) {
        return n == 1 ? "" : "s";
}

static int calendar_user_owns(Cell *c, const char *user, json_t *owned, PicError *err) {
        _cleanup_free_ char *storage = storage_dir(c);
        if (!storage)
                return -ENOMEM;
        RadicaleUsage u;
        int r = radicale_usage(storage, user, &u);
        if (r < 0)
                return pic_error(err, r, NULL, "cannot read the calendar storage of \"%s\": %s", user, strerror(-r));
        /* The empty collections every account starts with are not data worth a 409. */
        if (!u.exists || u.only_empty_defaults)
                return 0;
        char phrase[128];
        snprintf(phrase, sizeof phrase, "%u calendar%s, %u address book%s with %u item%s", u.calendars,
                 plural(u.calendars), u.address_books, plural(u.address_books), u.items, plural(u.items));
        return json_array_append_new(owned, json_string(phrase)) < 0 ? -ENOMEM : 0;
}

static int calendar_user_purge(Cell *c, const char *user, PicError *err) {
        _cleanup_free_ char *storage = storage_dir(c);
        if (!storage)
                return -ENOMEM;
        int r = radicale_remove_user(storage, user);
        return r < 0 ? pic_error(err, r, NULL, "cannot remove the calendars of \"%s\": %s", user, strerror(-r)) : 0;
}

const ServiceOps svc_calendar_ops = {
        .name = CALENDAR_SERVICE,
        .endpoints = endpoints,
        .n_endpoints = ELEMENTSOF(endpoints),
        .settings = settings,
        .n_settings = ELEMENTSOF(settings),
        .render = calendar_render,
        .argv = calendar_argv,
        .run_as = RADICALE_USER,
        .setup = calendar_setup,
        .apply = calendar_apply,
        .probe = calendar_probe,
        .status = calendar_status,
        .user_changed = calendar_user_changed,
        .user_owns = calendar_user_owns,
        .user_purge = calendar_user_purge,
        .enabled = calendar_enabled,
};
