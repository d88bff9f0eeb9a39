/* Roundcube on a private php-fpm: the key it encrypts sessions with (STATE/keys, made once), its data dir
 * (STATE/data/webmail: the SQLite database and temp files), the rendered config (render.c), php-fpm run by the
 * supervisor in the cell namespace, and a health probe and status over FastCGI (fastcgi.c).
 *
 * php-fpm's workers run as www-data, which may not enter the 0700 state dir: picd bind-mounts the two dirs they
 * need, STATE/etc/webmail (read) and STATE/data/webmail (theirs), into a per-cell view dir under /run/pic. The
 * master (root) alone reads php-fpm.conf, where the key is, and owns the socket Caddy connects to. */
#include "services/webmail/webmail.h"

#include <errno.h>
#include <dirent.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "basic/fileio.h"
#include "basic/log.h"
#include "basic/spawn.h"
#include "basic/strbuf.h"
#include "basic/time-util.h"
#include "basic/util.h"
#include "core/ca.h"
#include "crypto/secret.h"
#include "services/mail/mail.h"
#include "services/webmail/fastcgi.h"
#include "services/webmail/render.h"
#include "store/roundcube.h"

#define FPM_CONF "php-fpm.conf"
#define PHP_INI "php.ini"
#define WORKER_USER "www-data"
#define KEY_FILE "webmail.des_key"
#define CHECK_TIMEOUT_USEC (15 * USEC_PER_SEC)
#define PROBE_TIMEOUT_USEC (3 * USEC_PER_SEC)
#define MAIL_ENDPOINT "mail"
#define DB_REL "data/webmail/roundcube.db"

typedef struct WebmailState {
        char des_key[WEBMAIL_DES_KEY_LEN + 1];
        bool mounted;
} WebmailState;

static const char *fpm_bin(void) {
        const char *b = getenv("PIC_PHP_FPM_BIN");
        return b && *b == '/' ? b : "/usr/sbin/php-fpm8.2";
}

static const char *php_bin(void) {
        const char *b = getenv("PIC_PHP_BIN");
        return b && *b == '/' ? b : "/usr/bin/php8.2";
}

static WebmailState *state_get(Cell *c) {
        void **slot = cell_service_data(c, WEBMAIL_SERVICE);
        if (!slot)
                return NULL;
        if (!*slot)
                *slot = calloc(1, sizeof(WebmailState));
        return *slot;
}

/* One view dir per state dir, as the NTP module's run dir: the workers reach it without entering STATE. */
static void view_dir(Cell *c, char buf[static 64]) {
        uint64_t h = 1469598103934665603ULL;
        for (const char *p = c->state_dir; *p; p++)
                h = (h ^ (uint8_t) *p) * 1099511628211ULL;
        snprintf(buf, 64, "/run/pic/webmail-%016llx", (unsigned long long) h);
}

static char *state_path(Cell *c, const char *rel) {
        char *p = NULL;
        return strdup_printf(&p, "%s/%s", c->state_dir, rel) < 0 ? NULL : p;
}

/* The key Roundcube encrypts the IMAP password in its session with: made once, kept 0600 in STATE/keys (so a
 * backup carries it and sessions survive a restart), held in memory after. */
static int load_key(Cell *c, WebmailState *st, PicError *err) {
        if (st->des_key[0])
                return 0;
        _cleanup_free_ char *path = state_path(c, "keys/" KEY_FILE);
        if (!path)
                return -ENOMEM;
        _cleanup_free_ char *text = NULL;
        size_t len = 0;
        int r = read_file_full(path, 256, &text, &len);
        if (r >= 0) {
                if (len < WEBMAIL_DES_KEY_LEN || !webmail_word_is_plain(text) || strlen(text) != WEBMAIL_DES_KEY_LEN) {
                        secret_wipe(text, len);
                        return pic_error(err, -EBADMSG, NULL, "%s is not a webmail key", path);
                }
                memcpy(st->des_key, text, WEBMAIL_DES_KEY_LEN + 1);
                secret_wipe(text, len);
                return 0;
        }
        if (r != -ENOENT)
                return pic_error(err, r, NULL, "cannot read %s: %s", path, strerror(-r));
        char key[WEBMAIL_DES_KEY_LEN + 1];
        r = secret_random_text(key, WEBMAIL_DES_KEY_LEN);
        if (r >= 0)
                r = write_file_atomic(path, key, WEBMAIL_DES_KEY_LEN, 0600, NULL, NULL, err);
        if (r < 0) {
                secret_wipe(key, sizeof key);
                return err && err->message[0] ? r : pic_error(err, r, NULL, "cannot create %s", path);
        }
        memcpy(st->des_key, key, sizeof key);
        secret_wipe(key, sizeof key);
        return 0;
}

static int webmail_render_files(Cell *c, ServiceFiles *out, PicError *err) {
        WebmailState *st = state_get(c);
        if (!st)
                return -ENOMEM;
        int r = load_key(c, st, err);
        if (r < 0)
                return r;
        Cidr4 range;
        uint32_t vip;
        if (settings_ip_range(c->settings, &range) < 0 || registry_vip(&c->registry, &range, MAIL_ENDPOINT, &vip) < 0)
                return pic_error(err, -EINVAL, "ip_range", "ip_range has no room for the mail virtual IP");
        const char *root_pem = NULL;
        if (cell_ca_root(c, &root_pem, NULL, NULL, NULL) < 0)
                return pic_error(err, -EHOSTDOWN, NULL, "the cell CA is not set up (see the ca service)");
        char view[64];
        view_dir(c, view);
        char domain[256];
        if (mail_domain(c, domain) < 0)
                return pic_error(err, -EINVAL, "mail.domain", "the cell has no mail domain");
        /* The mail server's certificate names the service under the cell's zone, whatever the mail domain. */
        _cleanup_free_ char *sock = state_path(c, "run/" WEBMAIL_FPM_SOCKET), *host = NULL;
        if (!sock || strdup_printf(&host, "%s.%s.%s", MAIL_ENDPOINT, settings_str(c->settings, "cell_name"),
                                   settings_str(c->settings, "domain")) < 0)
                return -ENOMEM;
        WebmailConfig cfg = { .fpm_socket = sock, .proxy_group = CELL_PROXY_USER, .view_dir = view, .des_key = st->des_key, .user = WORKER_USER,
                              .mail_host = host, .mail_domain = domain, .mail_vip = vip,
                              .imap_port = (unsigned) settings_int(c->settings, "mail.imap_port"),
                              .submission_port = (unsigned) settings_int(c->settings, "mail.submission_port"),
                              .max_children = 4 };
        /* php.ini first: the check of php-fpm.conf reads it. */
        static const struct {
                const char *name;
                int (*render)(const WebmailConfig *, char **);
                mode_t mode;
        } files[] = {
                { PHP_INI, webmail_render_php_ini, 0644 },
                { FPM_CONF, webmail_render_fpm_conf, 0600 },
                { "config.inc.php", webmail_render_roundcube, 0644 },
        };
        for (size_t i = 0; i < ELEMENTSOF(files); i++) {
                char *text = NULL;
                r = files[i].render(&cfg, &text);
                if (r == -EINVAL)
                        return pic_error(err, r, NULL, "the state dir path %s holds characters php-fpm's config cannot "
                                         "carry", c->state_dir);
                if (r >= 0)
                        r = service_files_add(out, files[i].name, text, files[i].mode);
                if (r < 0)
                        return pic_error(err, r, NULL, "cannot render the webmail configuration");
        }
        char *defaults = NULL, *ca = strdup(root_pem);
        r = ca ? webmail_render_defaults(&defaults) : -ENOMEM;
        if (r >= 0)
                r = service_files_add(out, "defaults.inc.php", defaults, 0644);
        else
                free(defaults);
        if (r >= 0)
                r = service_files_add(out, WEBMAIL_CA_FILE, TAKE_PTR(ca), 0644);
        free(ca);
        return r < 0 ? pic_error(err, r, NULL, "cannot render the webmail configuration") : 0;
}

/* A checker's reason: php-fpm's first "ERROR:" line (the ones after it only say that it failed), else php's
 * last line; without the "[date] " prefix. */
static const char *reason(char *out) {
        size_t len = strlen(out);
        while (len > 0 && (out[len - 1] == '\n' || out[len - 1] == ' '))
                out[--len] = '\0';
        char *l = strstr(out, "ERROR: ");
        if (l) {
                l[strcspn(l, "\n")] = '\0';
                return l + 7;
        }
        l = strrchr(out, '\n');
        return l ? l + 1 : out;
}

static int webmail_check(Cell *c, const char *file_name, const char *tmp_path, PicError *err) {
        _cleanup_free_ char *ini = cell_service_path(c, WEBMAIL_SERVICE, PHP_INI);
        if (!ini)
                return -ENOMEM;
        char *fpm_argv[] = { (char *) fpm_bin(), "-t", "-y", (char *) tmp_path, "-c", ini, NULL };
        char *php_argv[] = { (char *) php_bin(), "-n", "-l", (char *) tmp_path, NULL };
        char **argv;
        if (streq(file_name, FPM_CONF))
                argv = fpm_argv;
        else if (strlen(file_name) > 4 && streq(file_name + strlen(file_name) - 4, ".php"))
                argv = php_argv;
        else
                return 0;
        _cleanup_free_ char *out = NULL;
        int status;
        int r = spawn_capture(argv, CHECK_TIMEOUT_USEC, 16384, &out, &status);
        if (r < 0)
                return pic_error(err, -EHOSTDOWN, NULL, "cannot run %s: %s", argv[0], strerror(-r));
        if (status != 0)
                return pic_error(err, -EBADMSG, NULL, "%s rejected %s: %s", argv[0], file_name, reason(out));
        return 0;
}

static int webmail_argv(Cell *c, char ***ret_argv, char ***ret_env) {
        char **argv = calloc(8, sizeof *argv);
        if (!argv)
                return -ENOMEM;
        argv[0] = strdup(fpm_bin());
        argv[1] = strdup("--nodaemonize");
        argv[2] = strdup("--force-stderr"); /* into the supervisor's pipe, which is no TTY */
        argv[3] = strdup("-y");
        argv[4] = cell_service_path(c, WEBMAIL_SERVICE, FPM_CONF);
        argv[5] = strdup("-c");
        argv[6] = cell_service_path(c, WEBMAIL_SERVICE, PHP_INI);
        for (int i = 0; i < 7; i++)
                if (!argv[i]) {
                        strv_free(argv);
                        return -ENOMEM;
                }
        *ret_argv = argv;
        *ret_env = NULL;
        return 0;
}

static void unmount_views(const char *view) {
        char p[96];
        const char *subs[] = { "etc", "data" };
        for (size_t i = 0; i < ELEMENTSOF(subs); i++) {
                snprintf(p, sizeof p, "%s/%s", view, subs[i]);
                /* Detached, so a worker still holding a file there cannot keep the unmount from happening. */
                while (umount2(p, MNT_DETACH) == 0)
                        ;
        }
}

/* The workers own their data: the database and temp files, also as a restore brings them back (root's). */
static int chown_tree(const char *dir, uid_t uid, gid_t gid, int depth) {
        if (lchown(dir, uid, gid) < 0)
                return negative_errno();
        DIR *d = opendir(dir);
        if (!d)
                return negative_errno();
        int r = 0;
        struct dirent *e;
        while (r >= 0 && (e = readdir(d))) {
                if (streq(e->d_name, ".") || streq(e->d_name, ".."))
                        continue;
                char p[4096];
                if (snprintf(p, sizeof p, "%s/%s", dir, e->d_name) >= (int) sizeof p)
                        continue;
                if (e->d_type == DT_DIR && depth > 0)
                        r = chown_tree(p, uid, gid, depth - 1);
                else if (lchown(p, uid, gid) < 0)
                        r = negative_errno();
        }
        closedir(d);
        return r;
}

static int bind_view(const char *src, const char *view, const char *sub, PicError *err) {
        char target[96];
        snprintf(target, sizeof target, "%s/%s", view, sub);
        if (mkdir(target, 0755) < 0 && errno != EEXIST) {
                int r = negative_errno();
                return pic_error(err, r, NULL, "cannot create %s: %s", target, strerror(-r));
        }
        if (mount(src, target, NULL, MS_BIND, NULL) < 0) {
                int r = negative_errno();
                return pic_error(err, r, NULL, "cannot bind %s to %s: %s", src, target, strerror(-r));
        }
        return 0;
}

static int webmail_setup(Cell *c, PicError *err) {
        WebmailState *st = state_get(c);
        if (!st)
                return -ENOMEM;
        int r = load_key(c, st, err);
        if (r < 0)
                return r;
        struct passwd *pw = getpwnam(WORKER_USER);
        if (!pw)
                return pic_error(err, -ENOENT, NULL, "user %s does not exist (is php8.2-fpm installed?)", WORKER_USER);
        _cleanup_free_ char *data = state_path(c, "data/webmail"), *temp = state_path(c, "data/webmail/temp");
        _cleanup_free_ char *etc = cell_service_path(c, WEBMAIL_SERVICE, NULL);
        if (!data || !temp || !etc)
                return -ENOMEM;
        r = mkdir_p(temp, 0700);
        if (r >= 0 && chmod(data, 0700) < 0)
                r = negative_errno();
        if (r >= 0)
                r = chown_tree(data, pw->pw_uid, pw->pw_gid, 2);
        if (r < 0)
                return pic_error(err, r, NULL, "cannot prepare %s for %s: %s", data, WORKER_USER, strerror(-r));
        char view[64];
        view_dir(c, view);
        /* /run/pic stays searchable for the workers; a mount left by a killed picd is replaced. */
        r = mkdir_p("/run/pic", 0755);
        if (r >= 0 && mkdir(view, 0755) < 0 && errno != EEXIST)
                r = negative_errno();
        if (r < 0)
                return pic_error(err, r, NULL, "cannot create %s: %s", view, strerror(-r));
        unmount_views(view);
        r = bind_view(etc, view, "etc", err);
        if (r >= 0)
                r = bind_view(data, view, "data", err);
        if (r < 0) {
                unmount_views(view);
                return r;
        }
        st->mounted = true;
        return 0;
}

static int webmail_apply(Cell *c, bool files_changed, PicError *err) {
        ServiceStatus ss;
        if (supervisor_status(c->supervisor, WEBMAIL_SERVICE, &ss) < 0)
                return 1;
        if (ss.state == SERVICE_BACKOFF || ss.state == SERVICE_STOPPING)
                return 0;
        /* What changes with the settings (the mail server's address, ports, name, the CA) is in Roundcube's
         * files, which it reads on every request; php-fpm's own config depends on the state dir and key only. */
        return ss.state == SERVICE_RUNNING ? 0 : 1;
}

static int fpm_get(Cell *c, const char *path, const char *query, int *ret_status, char **ret_body, PicError *err) {
        ServiceStatus ss;
        if (supervisor_status(c->supervisor, WEBMAIL_SERVICE, &ss) < 0 || ss.state != SERVICE_RUNNING)
                return pic_error(err, -EHOSTDOWN, NULL, "php-fpm is not running");
        _cleanup_free_ char *sock = state_path(c, "run/" WEBMAIL_FPM_SOCKET);
        if (!sock)
                return -ENOMEM;
        int r = fastcgi_get(sock, path, query, PROBE_TIMEOUT_USEC, ret_status, ret_body);
        if (r < 0)
                return pic_error(err, -EHOSTDOWN, NULL, "php-fpm (pid %d) did not answer %s over FastCGI: %s",
                                 (int) ss.pid, path, strerror(-r));
        return 0;
}

/* A real FastCGI request, answered by a php-fpm worker: the socket, the pool and a worker are all alive. */
static int webmail_probe(Cell *c, PicError *err) {
        int status;
        _cleanup_free_ char *body = NULL;
        int r = fpm_get(c, WEBMAIL_PING_PATH, "", &status, &body, err);
        if (r < 0)
                return r;
        if (status != 200 || !startswith(body, "pong"))
                return pic_error(err, -EHOSTDOWN, NULL, "php-fpm answered its ping with HTTP %d", status);
        return 0;
}

int webmail_status(Cell *c, json_t **ret, PicError *err) {
        int status;
        _cleanup_free_ char *body = NULL;
        int r = fpm_get(c, WEBMAIL_STATUS_PATH, "json", &status, &body, err);
        if (r < 0)
                return r;
        json_t *j = status == 200 ? json_loads(body, 0, NULL) : NULL;
        if (!json_is_object(j)) {
                json_decref(j);
                return pic_error(err, -EBADMSG, NULL, "php-fpm's status page gave HTTP %d and no JSON", status);
        }
        _cleanup_free_ char *url = NULL;
        if (strdup_printf(&url, "https://%s.%s.%s/", MAIL_ENDPOINT, settings_str(c->settings, "cell_name"),
                          settings_str(c->settings, "domain")) < 0) {
                json_decref(j);
                return -ENOMEM;
        }
        const char *keys[] = { "active processes", "idle processes", "total processes", "accepted conn",
                               "max children reached", "start since" };
        const char *names[] = { "active_processes", "idle_processes", "total_processes", "accepted_connections",
                                "max_children_reached", "uptime_seconds" };
        json_t *o = json_pack("{s:b, s:s, s:s, s:s}", "running", true, "url", url, "document_root", WEBMAIL_DOC_ROOT,
                              "grant", MAIL_ENDPOINT);
        for (size_t i = 0; o && i < ELEMENTSOF(keys); i++)
                json_object_set_new(o, names[i], json_integer(json_integer_value(json_object_get(j, keys[i]))));
        json_decref(j);
        if (!o)
                return -ENOMEM;
        *ret = o;
        return 0;
}

static void webmail_teardown(Cell *c) {
        void **slot = cell_service_data(c, WEBMAIL_SERVICE);
        if (!slot || !*slot)
                return;
        WebmailState *st = *slot;
        if (st->mounted) {
                char view[64], p[96];
                view_dir(c, view);
                unmount_views(view);
                snprintf(p, sizeof p, "%s/etc", view);
                (void) rmdir(p);
                snprintf(p, sizeof p, "%s/data", view);
                (void) rmdir(p);
                (void) rmdir(view);
        }
        secret_wipe(st, sizeof *st);
        free(st);
        *slot = NULL;
}

/* ---- a user's rows in Roundcube's database ------------------------------------------------------------ */

/* What the user keeps in the webmail: their settings row (made at the first sign-in), identities and contacts. */
static int webmail_user_owns(Cell *c, const char *user, json_t *owned, PicError *err) {
        _cleanup_free_ char *path = state_path(c, DB_REL);
        if (!path)
                return -ENOMEM;
        RoundcubeUserRows rows;
        int r = roundcube_user_rows(path, user, &rows, err);
        if (r == -ENOENT || (r == 0 && rows.users == 0))
                return 0;
        if (r < 0)
                return r;
        char phrase[128];
        snprintf(phrase, sizeof phrase, "webmail settings with %lld identit%s and %lld contact%s",
                 (long long) rows.identities, rows.identities == 1 ? "y" : "ies", (long long) rows.contacts,
                 rows.contacts == 1 ? "" : "s");
        return json_array_append_new(owned, json_string(phrase)) < 0 ? -ENOMEM : 0;
}

/* Deletes the user's Roundcube rows and, by the schema's cascade, everything that is theirs (identities, contacts
 * and groups, collected addresses, responses, searches, caches, filestore), so a new user of the same name starts
 * clean. All of it or nothing. */
static int webmail_user_purge(Cell *c, const char *user, PicError *err) {
        _cleanup_free_ char *path = state_path(c, DB_REL);
        if (!path)
                return -ENOMEM;
        return roundcube_user_delete(path, user, err);
}

/* The mail server's name, address and ports are in its config; the CA and names change with these. */
static const char *const watches[] = { "cell_name", "domain", "ip_range", "mail.domain", "mail.imap_port",
                                       "mail.submission_port", NULL };

const ServiceOps svc_webmail_ops = {
        .name = WEBMAIL_SERVICE,
        .watches = watches,
        .render = webmail_render_files,
        .check = webmail_check,
        .argv = webmail_argv,
        .setup = webmail_setup,
        .apply = webmail_apply,
        .probe = webmail_probe,
        .status = webmail_status,
        .teardown = webmail_teardown,
        .user_owns = webmail_user_owns,
        .user_purge = webmail_user_purge,
};
