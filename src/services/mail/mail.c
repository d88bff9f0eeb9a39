/* The mail modules: Postfix ("mail"), Dovecot ("mail-imap") and OpenDKIM ("mail-dkim") as private instances run
 * by the supervisor in the cell namespace, their files rendered from the store (render.c), live changes by
 * `postfix reload` / `doveadm reload`; aliases, per-user facts, and the DNS records of the mail domain. */
#include "services/mail/mail.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
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
#include "basic/parse.h"
#include "basic/spawn.h"
#include "basic/strbuf.h"
#include "basic/time-util.h"
#include "basic/util.h"
#include "core/body.h"
#include "core/ca.h"
#include "core/dns-records.h"
#include "core/mutation.h"
#include "crypto/secret.h"
#include "services/mail/render.h"
#include "services/webmail/webmail.h"
#include "store/accounts.h"
#include "store/mail.h"

#define POSTFIX_MASTER "/usr/lib/postfix/sbin/master"
#define DOVECOT_BIN "/usr/sbin/dovecot"
#define DOVECONF_BIN "/usr/bin/doveconf"
#define OPENDKIM_BIN "/usr/sbin/opendkim"
#define OPENDKIM_GENKEY "/usr/sbin/opendkim-genkey"
#define DOVECOT_CONF "dovecot.conf"
#define OPENDKIM_CONF "opendkim.conf"
#define CTL_TIMEOUT_USEC (20 * USEC_PER_SEC)
#define ALIASES_MAX 1000
#define ALIAS_TARGETS_MAX 50
#define DNS_TTL 300
/* The relay's login, "username:password\n", 0600 in keys/ (so backups carry it, and never in the settings, which
 * GET /api/config/settings shows); Postfix gets its own 0600 copy in its map (render.c). RFC 4616 bounds both
 * PLAIN fields to 255 octets. */
#define RELAY_LOGIN_REL "keys/mail/relay-login"
#define RELAY_FIELD_MAX 255
#define RELAY_CAFILE "/etc/ssl/certs/ca-certificates.crt"
#define FLUSH_DELAY_USEC (2 * USEC_PER_SEC)

static const ServiceEndpoint endpoints[] = {
        /* https://mail.<cell>.<domain>/ is the webmail (services/webmail): its users sign in on Roundcube's
         * form with the account password, so the proxy checks the peer's grant only. */
        { .name = "mail", .vip_offset = 12, .dns_labels = (const char *const[]) { "mail", NULL }, .grantable = true,
          .grant_bit = 2, .http_upstream = WEBMAIL_FPM_SOCKET, .http_grant_only = true,
          .http_fastcgi_root = WEBMAIL_DOC_ROOT },
};

static int v_mail_domain(const char *key, json_t *v, PicError *err) {
        const char *s = json_string_value(v);
        if (!*s)
                return 0;
        bool ok = dns_name_is_valid(s, false) && s[strlen(s) - 1] != '.' && strchr(s, '.');
        for (const char *p = s; ok && *p; p++)
                if (*p >= 'A' && *p <= 'Z')
                        ok = false;
        if (!ok)
                return pic_error(err, -EINVAL, key,
                                 "%s must be \"\" (the cell's own <cell_name>.<domain>) or a lower-case DNS name with a dot, "
                                 "such as \"example.org\"", key);
        return 0;
}

static int v_relay_host(const char *key, json_t *v, PicError *err) {
        const char *s = json_string_value(v);
        if (*s && !(dns_name_is_valid(s, false) && s[strlen(s) - 1] != '.'))
                return pic_error(err, -EINVAL, key, "%s must be \"\" (send directly) or a host name", key);
        return 0;
}

static int v_relay_tls(const char *key, json_t *v, PicError *err) {
        const char *s = json_string_value(v);
        if (!streq(s, "verify") && !streq(s, "encrypt"))
                return pic_error(err, -EINVAL, key, "%s must be \"verify\" or \"encrypt\"", key);
        return 0;
}

static const SettingDef settings[] = {
        { "mail.domain", SETTING_STRING, "\"\"", v_mail_domain, 0, 0, false,
          "Mail domain: users are <name>@<mail.domain>; \"\" means <cell_name>.<domain>" },
        SETTING_PORT("mail.smtp_port", 25, "SMTP port on the mail virtual IP"),
        SETTING_PORT("mail.submission_port", 587, "Submission port on the mail virtual IP"),
        SETTING_PORT("mail.imap_port", 993, "IMAPS port on the mail virtual IP"),
        SETTING_PORT("mail.submissions_port", 465, "Submission port with implicit TLS on the mail virtual IP"),
        SETTING_PORT("mail.imap_starttls_port", 143, "IMAP port (STARTTLS required) on the mail virtual IP"),
        { "mail.quota_mb", SETTING_INT, "1024", NULL, 0, 1024 * 1024, false,
          "Mailbox quota of every user in MiB (0 = none)" },
        { "mail.message_size_mb", SETTING_INT, "25", NULL, 1, 1024, false, "Largest message accepted, in MiB" },
        { "mail.recipient_limit", SETTING_INT, "100", NULL, 1, 10000, false, "Most recipients of one message" },
        { "mail.connection_rate", SETTING_INT, "60", NULL, 1, 100000, false,
          "Most SMTP connections one client may open per minute" },
        { "mail.relay_host", SETTING_STRING, "\"\"", v_relay_host, 0, 0, false,
          "Outbound relay (smarthost) for mail to other domains; \"\" sends directly" },
        { "mail.relay_port", SETTING_INT, "587", NULL, 1, 65535, false, "Port of the outbound relay" },
        { "mail.relay_tls", SETTING_STRING, "\"verify\"", v_relay_tls, 0, 0, false,
          "With a relay login (PUT /api/mail/relay): \"verify\" (TLS, the relay's certificate from a CA the system "
          "trusts, for its name) or \"encrypt\" (TLS, any certificate)" },
};

/* Postfix and Dovecot read the certificate and the names; the CA (registered before) re-issues first. */
static const char *const watches[] = { "cell_name", "domain", "ip_range", "ca.leaf_days", "ca.leaf_seconds", NULL };
static const char *const imap_watches[] = { "cell_name", "domain", "ip_range", "ca.leaf_days", "ca.leaf_seconds",
                                            "mail.domain", "mail.imap_port", "mail.imap_starttls_port",
                                            "mail.quota_mb", NULL };
static const char *const dkim_watches[] = { "cell_name", "domain", "mail.domain", NULL };

/* ---- paths ----------------------------------------------------------------------------------------- */

static char *state_path(Cell *c, const char *rel) {
        char *p = NULL;
        return strdup_printf(&p, "%s/%s", c->state_dir, rel) < 0 ? NULL : p;
}

/* The pic-mail-auth helper: PIC_MAIL_AUTH_BIN (absolute), else beside picd's own binary. */
static const char *auth_helper_path(void) {
        static char path[4200];
        return path[0] ? path
                       : spawn_helper_path("PIC_MAIL_AUTH_BIN", "pic-mail-auth", "/usr/lib/pic/pic-mail-auth", path,
                                           sizeof path);
}

int mail_domain(Cell *c, char ret[static 256]) {
        const char *d = settings_str(c->settings, "mail.domain");
        if (d && *d) {
                snprintf(ret, 256, "%s", d);
                return 0;
        }
        char zone[DNS_ZONE_MAX];
        int r = dns_zone_from_settings(c->settings, zone);
        if (r < 0)
                return r;
        snprintf(ret, 256, "%s", zone);
        return 0;
}

/* ---- the config, built from the cell --------------------------------------------------------------- */

typedef struct Build {
        MailConfig m;
        char domain[256], hostname[DNS_ZONE_MAX + 8];
        char *postfix_dir, *queue, *pfdata, *maildirs, *dstate, *dbase, *run, *dkim_sock, *dkim_key, *dkim_pid, *auth;
        MailUser *users;
        char (*names)[64];
        MailAlias *aliases;
        char (*alias_names)[64];
        const char **targets; /* every alias's targets, back to back */
        char (*target_names)[64];
        char *relay_login; /* "username:password" or NULL; wiped when done */
} Build;

static void build_done(Build *b) {
        free(b->postfix_dir);
        free(b->queue);
        free(b->pfdata);
        free(b->maildirs);
        free(b->dstate);
        free(b->dbase);
        free(b->run);
        free(b->dkim_sock);
        free(b->dkim_key);
        free(b->dkim_pid);
        free(b->auth);
        free(b->users);
        free(b->names);
        free(b->aliases);
        free(b->alias_names);
        free(b->targets);
        free(b->target_names);
        if (b->relay_login) {
                secret_wipe(b->relay_login, strlen(b->relay_login));
                free(b->relay_login);
        }
}

typedef struct UserList {
        char (*names)[64];
        bool *admin;
        size_t n, cap;
        int error;
} UserList;

static void collect_user(const StoreUser *u, void *userdata) {
        UserList *l = userdata;
        if (l->error)
                return;
        if (l->n == l->cap) {
                size_t cap = l->cap ? l->cap * 2 : 16;
                void *n = realloc(l->names, cap * sizeof *l->names), *a = NULL;
                if (n)
                        l->names = n;
                a = n ? realloc(l->admin, cap * sizeof *l->admin) : NULL;
                if (!a) {
                        l->error = -ENOMEM;
                        return;
                }
                l->admin = a;
                l->cap = cap;
        }
        snprintf(l->names[l->n], 64, "%s", u->username);
        l->admin[l->n] = streq(u->role, "admin");
        l->n++;
}

typedef struct AliasRows {
        StoreMailAlias *v;
        size_t n, cap;
} AliasRows;

static int collect_alias(const StoreMailAlias *a, void *userdata) {
        AliasRows *rows = userdata;
        if (rows->n == rows->cap) {
                size_t cap = rows->cap ? rows->cap * 2 : 16;
                StoreMailAlias *n = realloc(rows->v, cap * sizeof *n);
                if (!n)
                        return -ENOMEM;
                rows->v = n;
                rows->cap = cap;
        }
        rows->v[rows->n++] = *a;
        return 0;
}

/* ---- the relay's login ------------------------------------------------------------------------------- */

/* The module's runtime state: the pending retry of the deferred mail after a login change. */
typedef struct PostfixState {
        LoopTimer *flush;
} PostfixState;

static PostfixState *postfix_state(Cell *c) {
        void **slot = cell_service_data(c, MAIL_SERVICE);
        if (!slot)
                return NULL;
        if (!*slot)
                *slot = calloc(1, sizeof(PostfixState));
        return *slot;
}

static void postfix_teardown(Cell *c) {
        void **slot = cell_service_data(c, MAIL_SERVICE);
        PostfixState *st = slot ? *slot : NULL;
        if (!st)
                return;
        if (st->flush)
                loop_cancel_timer(c->loop, st->flush);
        free(st);
        *slot = NULL;
}

/* Printable ASCII without space: what Postfix's map line carries as is (it splits the value at the first ':', so
 * the username has none; the password may). */
static bool relay_field_ok(const char *s, bool colon_ok) {
        size_t n = 0;
        for (; s[n]; n++)
                if (s[n] <= 0x20 || s[n] >= 0x7f || (s[n] == ':' && !colon_ok))
                        return false;
        return n >= 1 && n <= RELAY_FIELD_MAX;
}

/* The stored login ("username:password", no newline) into *ret, NULL when none. A file that does not follow the
 * grammar (edited by hand) is refused rather than handed to Postfix. */
static int relay_login_read(Cell *c, char **ret, PicError *err) {
        *ret = NULL;
        _cleanup_free_ char *path = state_path(c, RELAY_LOGIN_REL);
        if (!path)
                return -ENOMEM;
        char *text = NULL;
        size_t len = 0;
        int r = read_file_full(path, 2 * RELAY_FIELD_MAX + 8, &text, &len);
        if (r == -ENOENT)
                return 0;
        if (r < 0)
                return pic_error(err, r, NULL, "cannot read %s: %s", path, strerror(-r));
        if (len > 0 && text[len - 1] == '\n')
                text[--len] = '\0';
        char *colon = strchr(text, ':');
        bool ok = colon && strlen(text) == len;
        if (ok) {
                *colon = '\0';
                ok = relay_field_ok(text, false) && relay_field_ok(colon + 1, true);
                *colon = ':';
        }
        if (!ok) {
                secret_wipe(text, len);
                free(text);
                return pic_error(err, -EBADMSG, NULL, "%s is not a relay login (username:password)", path);
        }
        *ret = text;
        return 0;
}

static int build(Cell *c, Build *b, PicError *err) {
        *b = (Build) { 0 };
        int r = mail_domain(c, b->domain);
        if (r < 0)
                return pic_error(err, r, NULL, "the cell has no valid mail domain");
        char zone[DNS_ZONE_MAX];
        if ((r = dns_zone_from_settings(c->settings, zone)) < 0)
                return pic_error(err, r, NULL, "the cell has no valid zone name");
        snprintf(b->hostname, sizeof b->hostname, "mail.%s", zone);
        Cidr4 range;
        uint32_t vip;
        if (settings_ip_range(c->settings, &range) < 0 || registry_vip(&c->registry, &range, "mail", &vip) < 0)
                return pic_error(err, -EINVAL, "ip_range", "the mail service has no virtual IP in ip_range");
        const char *cert = NULL, *key = NULL;
        if (cell_ca_leaf(c, "mail", &cert, &key, NULL) < 0)
                return pic_error(err, -EHOSTDOWN, NULL, "the cell CA has no certificate for mail (see the ca service)");
        b->postfix_dir = cell_service_path(c, MAIL_SERVICE, NULL);
        b->queue = state_path(c, "data/mail/queue");
        b->pfdata = state_path(c, "data/mail/postfix");
        b->maildirs = state_path(c, "data/mail/users");
        b->dstate = state_path(c, "data/mail/dovecot");
        b->dbase = state_path(c, "run/mail/dovecot");
        b->run = state_path(c, "run/mail");
        b->dkim_sock = state_path(c, "run/mail/opendkim/opendkim.sock");
        b->dkim_pid = state_path(c, "run/mail/opendkim/opendkim.pid");
        b->auth = state_path(c, "run/auth.sock");
        if (strdup_printf(&b->dkim_key, "%s/keys/mail/dkim/%s.private", c->state_dir, MAIL_DKIM_SELECTOR) < 0)
                b->dkim_key = NULL;
        if (!b->postfix_dir || !b->queue || !b->pfdata || !b->maildirs || !b->dstate || !b->dbase || !b->run ||
            !b->dkim_sock || !b->dkim_pid || !b->auth || !b->dkim_key)
                return -ENOMEM;

        UserList ul = { 0 };
        r = store_user_foreach(c->store, collect_user, &ul);
        if (r >= 0)
                r = ul.error;
        if (r < 0) {
                free(ul.names);
                free(ul.admin);
                return pic_error(err, r, NULL, "cannot read the users");
        }
        b->names = ul.names;
        b->users = calloc(ul.n ? ul.n : 1, sizeof *b->users);
        if (!b->users) {
                free(ul.admin);
                return -ENOMEM;
        }
        for (size_t i = 0; i < ul.n; i++)
                b->users[i] = (MailUser) { b->names[i], ul.admin[i] };
        free(ul.admin);

        AliasRows rows = { 0 };
        if ((r = store_mail_alias_foreach(c->store, collect_alias, &rows)) < 0) {
                free(rows.v);
                return pic_error(err, r, NULL, "cannot read the mail aliases");
        }
        b->aliases = calloc(rows.n ? rows.n : 1, sizeof *b->aliases);
        b->alias_names = calloc(rows.n ? rows.n : 1, sizeof *b->alias_names);
        b->targets = calloc(rows.n ? rows.n : 1, sizeof *b->targets);
        b->target_names = calloc(rows.n ? rows.n : 1, sizeof *b->target_names);
        if (!b->aliases || !b->alias_names || !b->targets || !b->target_names) {
                free(rows.v);
                return -ENOMEM;
        }
        size_t na = 0;
        for (size_t i = 0; i < rows.n; i++) {
                snprintf(b->target_names[i], 64, "%s", rows.v[i].target);
                b->targets[i] = b->target_names[i];
                if (na == 0 || !streq(b->alias_names[na - 1], rows.v[i].alias)) {
                        snprintf(b->alias_names[na], 64, "%s", rows.v[i].alias);
                        b->aliases[na] = (MailAlias) { b->alias_names[na], &b->targets[i], 0 };
                        na++;
                }
                b->aliases[na - 1].n_targets++;
        }
        free(rows.v);

        if ((r = relay_login_read(c, &b->relay_login, err)) < 0)
                return r;

        b->m = (MailConfig) {
                .domain = b->domain,
                .hostname = b->hostname,
                .vip = vip,
                .smtp_port = (unsigned) settings_int(c->settings, "mail.smtp_port"),
                .submission_port = (unsigned) settings_int(c->settings, "mail.submission_port"),
                .submissions_port = (unsigned) settings_int(c->settings, "mail.submissions_port"),
                .imap_port = (unsigned) settings_int(c->settings, "mail.imap_starttls_port"),
                .imaps_port = (unsigned) settings_int(c->settings, "mail.imap_port"),
                .postfix_dir = b->postfix_dir,
                .queue_dir = b->queue,
                .postfix_data = b->pfdata,
                .maildir_root = b->maildirs,
                .dovecot_state = b->dstate,
                .dovecot_base = b->dbase,
                .run_dir = b->run,
                .cert = cert,
                .key = key,
                .dkim_socket = b->dkim_sock,
                .dkim_key = b->dkim_key,
                .dkim_selector = MAIL_DKIM_SELECTOR,
                .dkim_pid = b->dkim_pid,
                .auth_socket = b->auth,
                .auth_helper = auth_helper_path(),
                .quota_mb = (unsigned) settings_int(c->settings, "mail.quota_mb"),
                .message_size_mb = (unsigned) settings_int(c->settings, "mail.message_size_mb"),
                .recipient_limit = (unsigned) settings_int(c->settings, "mail.recipient_limit"),
                .connection_rate = (unsigned) settings_int(c->settings, "mail.connection_rate"),
                .relay_host = settings_str(c->settings, "mail.relay_host"),
                .relay_port = (unsigned) settings_int(c->settings, "mail.relay_port"),
                .relay_login = b->relay_login,
                .relay_tls_verify = streq_ptr(settings_str(c->settings, "mail.relay_tls"), "verify"),
                .relay_cafile = RELAY_CAFILE,
                .users = b->users,
                .n_users = ul.n,
                .aliases = b->aliases,
                .n_aliases = na,
        };
        return 0;
}

/* ---- directories ----------------------------------------------------------------------------------- */

static int dir_owned(const char *path, mode_t mode, uid_t uid, gid_t gid, PicError *err) {
        int r = mkdir_p(path, mode);
        if (r >= 0 && (chown(path, uid, gid) < 0 || chmod(path, mode) < 0))
                r = negative_errno();
        return r < 0 ? pic_error(err, r, NULL, "cannot prepare %s: %s", path, strerror(-r)) : 0;
}

static int sys_ids(const char *user, const char *group, uid_t *uid, gid_t *gid, PicError *err) {
        struct passwd *pw = getpwnam(user);
        struct group *gr = getgrnam(group);
        if (!pw || !gr)
                return pic_error(err, -ENOENT, NULL, "user %s or group %s does not exist (are postfix, dovecot and "
                                 "opendkim installed? see scripts/install-deps.sh)", user, group);
        *uid = pw->pw_uid;
        *gid = gr->gr_gid;
        return 0;
}

/* STATE/data and STATE/data/mail are searchable (0711) so that the daemons' own users reach their dirs below it; what is in
 * them stays theirs (the queue's parts are postfix's and 0700, each mailbox is mail's and 0700). */
static int data_dirs(Cell *c, PicError *err) {
        _cleanup_free_ char *data = state_path(c, "data"), *mail = state_path(c, "data/mail"),
                            *run = state_path(c, "run/mail");
        if (!data || !mail || !run)
                return -ENOMEM;
        /* data/ too, whoever made it first (the calendar's and files' setup, a restore make it 0700): without
         * search permission there, postfix and mail stop at its door. Listing it stays root's. */
        int r = dir_owned(data, 0711, 0, 0, err);
        if (r < 0)
                return r;
        if ((r = dir_owned(mail, 0711, 0, 0, err)) < 0)
                return r;
        return dir_owned(run, 0755, 0, 0, err);
}

static int chown_tree(const char *path, uid_t uid, gid_t gid, unsigned depth);

/* The queue as `postfix check` would lay it out, without its 5 s of scripts: root owns the top and pid/,
 * postfix the rest, postdrop may drop into maildrop/ and reach public/. */
static int postfix_setup(Cell *c, PicError *err) {
        uid_t pf;
        gid_t pfg, postdrop;
        int r = data_dirs(c, err);
        if (r >= 0)
                r = sys_ids("postfix", "postfix", &pf, &pfg, err);
        if (r < 0)
                return r;
        struct group *gr = getgrnam("postdrop");
        if (!gr)
                return pic_error(err, -ENOENT, NULL, "group postdrop does not exist (is postfix installed?)");
        postdrop = gr->gr_gid;
        _cleanup_free_ char *queue = state_path(c, "data/mail/queue"), *pfdata = state_path(c, "data/mail/postfix");
        if (!queue || !pfdata)
                return -ENOMEM;
        if ((r = dir_owned(queue, 0755, 0, 0, err)) < 0 || (r = dir_owned(pfdata, 0700, pf, pfg, err)) < 0)
                return r;
        enum { ROOT, POSTFIX, POSTFIX_POSTDROP };
        static const struct {
                const char *name;
                mode_t mode;
                int owner;
        } dirs[] = { { "active", 0700, POSTFIX },   { "bounce", 0700, POSTFIX },   { "corrupt", 0700, POSTFIX },
                     { "defer", 0700, POSTFIX },    { "deferred", 0700, POSTFIX }, { "flush", 0700, POSTFIX },
                     { "hold", 0700, POSTFIX },     { "incoming", 0700, POSTFIX }, { "private", 0700, POSTFIX },
                     { "saved", 0700, POSTFIX },    { "trace", 0700, POSTFIX },    { "maildrop", 0730, POSTFIX_POSTDROP },
                     { "public", 0710, POSTFIX_POSTDROP }, { "pid", 0755, ROOT } };
        for (size_t i = 0; i < ELEMENTSOF(dirs) && r >= 0; i++) {
                _cleanup_free_ char *p = NULL;
                if (strdup_printf(&p, "%s/%s", queue, dirs[i].name) < 0)
                        return -ENOMEM;
                uid_t u = dirs[i].owner == ROOT ? 0 : pf;
                gid_t g = dirs[i].owner == POSTFIX_POSTDROP ? postdrop : 0;
                r = dir_owned(p, dirs[i].mode, u, g, err);
                /* Queue files restored from a backup come back as root's: Postfix could not read them. */
                if (r >= 0 && dirs[i].owner != ROOT && (r = chown_tree(p, u, g, 0)) < 0)
                        r = pic_error(err, r, NULL, "cannot hand %s to postfix: %s", p, strerror(-r));
        }
        return r;
}

static int chown_tree(const char *path, uid_t uid, gid_t gid, unsigned depth) {
        if (depth > 16)
                return 0;
        if (lchown(path, uid, gid) < 0)
                return negative_errno();
        DIR *d = opendir(path);
        if (!d)
                return errno == ENOTDIR ? 0 : negative_errno();
        struct dirent *e;
        int r = 0;
        while (r >= 0 && (e = readdir(d))) {
                if (streq(e->d_name, ".") || streq(e->d_name, ".."))
                        continue;
                _cleanup_free_ char *p = NULL;
                if (strdup_printf(&p, "%s/%s", path, e->d_name) < 0)
                        r = -ENOMEM;
                else if (e->d_type == DT_DIR)
                        r = chown_tree(p, uid, gid, depth + 1);
                else if (lchown(p, uid, gid) < 0)
                        r = negative_errno();
        }
        closedir(d);
        return r;
}

static int dovecot_setup(Cell *c, PicError *err) {
        uid_t mail;
        gid_t mailg;
        int r = data_dirs(c, err);
        if (r >= 0)
                r = sys_ids("mail", "mail", &mail, &mailg, err);
        if (r < 0)
                return r;
        _cleanup_free_ char *users = state_path(c, "data/mail/users"), *dstate = state_path(c, "data/mail/dovecot"),
                            *dbase = state_path(c, "run/mail/dovecot");
        if (!users || !dstate || !dbase)
                return -ENOMEM;
        if ((r = dir_owned(dstate, 0750, 0, 0, err)) < 0 || (r = dir_owned(dbase, 0755, 0, 0, err)) < 0 ||
            (r = dir_owned(users, 0700, mail, mailg, err)) < 0)
                return r;
        /* Mailboxes restored from a backup, or written while another uid had the name: all mail's again. */
        r = chown_tree(users, mail, mailg, 0);
        return r < 0 ? pic_error(err, r, NULL, "cannot hand %s to mail: %s", users, strerror(-r)) : 0;
}

/* ---- DKIM key ------------------------------------------------------------------------------------- */

static char *dkim_dir(Cell *c) {
        return state_path(c, "keys/mail/dkim");
}

/* The cell's signing key, made once by opendkim-genkey into STATE/keys/mail/dkim/ (0700, key 0600): a backup
 * carries it, so a restore keeps the published record valid. One key whatever the mail domain is called: a
 * DKIM key is not bound to a name (d= is the signer's setting), so a rename republishes it without making a
 * new one (2048-bit RSA takes seconds). */
static int dkim_key_ensure(Cell *c, const char *domain, PicError *err) {
        _cleanup_free_ char *dir = dkim_dir(c), *key = NULL, *tmp = NULL;
        if (!dir || strdup_printf(&key, "%s/%s.private", dir, MAIL_DKIM_SELECTOR) < 0 ||
            strdup_printf(&tmp, "%s.new", dir) < 0)
                return -ENOMEM;
        struct stat st;
        if (stat(key, &st) == 0)
                return 0;
        _cleanup_free_ char *keys = state_path(c, "keys/mail");
        if (!keys)
                return -ENOMEM;
        int r = mkdir_p(keys, 0700);
        if (r >= 0)
                (void) rm_rf(tmp);
        if (r >= 0 && mkdir(tmp, 0700) < 0)
                r = negative_errno();
        if (r < 0)
                return pic_error(err, r, NULL, "cannot create %s: %s", tmp, strerror(-r));
        /* Made aside and renamed into place: a crash leaves no half key behind. */
        char *argv[] = { OPENDKIM_GENKEY, "-b", "2048", "-d", (char *) domain, "-s", MAIL_DKIM_SELECTOR, "-D", tmp, NULL };
        _cleanup_free_ char *out = NULL;
        int status = 0;
        r = spawn_capture(argv, 60 * USEC_PER_SEC, 8192, &out, &status);
        if (r < 0 || status != 0) {
                (void) rm_rf(tmp);
                return pic_error(err, r < 0 ? r : -EIO, NULL, "opendkim-genkey failed: %s",
                                 r < 0 ? strerror(-r) : out ? out : "");
        }
        _cleanup_free_ char *tkey = NULL;
        if (strdup_printf(&tkey, "%s/%s.private", tmp, MAIL_DKIM_SELECTOR) < 0)
                return -ENOMEM;
        if (chmod(tkey, 0600) < 0 || rename(tmp, dir) < 0 || fsync_directory(keys) < 0) {
                r = negative_errno();
                (void) rm_rf(tmp);
                return pic_error(err, r, NULL, "cannot keep the DKIM key in %s: %s", dir, strerror(-r));
        }
        log_info("mail: made the cell's DKIM key (selector %s, mail domain %s)", MAIL_DKIM_SELECTOR, domain);
        return 0;
}

/* The public key record's value ("v=DKIM1; h=sha256; k=rsa; p=..."), or -ENOENT before the key exists. */
static int dkim_public(Cell *c, char **ret) {
        _cleanup_free_ char *dir = dkim_dir(c), *path = NULL, *text = NULL;
        size_t len;
        if (!dir || strdup_printf(&path, "%s/%s.txt", dir, MAIL_DKIM_SELECTOR) < 0)
                return -ENOMEM;
        int r = read_file_full(path, 16384, &text, &len);
        if (r < 0)
                return r;
        return mail_dkim_txt_value(text, ret);
}

/* ---- DNS records ---------------------------------------------------------------------------------- */

typedef struct MailRecords {
        DnsRecord v[4];
        size_t n;
        bool in_zone; /* the mail domain is the cell's zone or below it: the cell's DNS publishes them */
        char domain[256];
} MailRecords;

static void rec(MailRecords *m, const char *name, const char *type, const char *value) {
        DnsRecord *d = &m->v[m->n++];
        *d = (DnsRecord) { .ttl = DNS_TTL };
        snprintf(d->name, sizeof d->name, "%s", name);
        snprintf(d->type, sizeof d->type, "%s", type);
        snprintf(d->value, sizeof d->value, "%s", value);
}

static void drop_overridden(Cell *c, MailRecords *m);

/* MX, SPF, DKIM (once its key exists) and DMARC of the mail domain, names relative to the cell zone when the
 * domain lies in it (else relative to the domain, for GET /api/mail/dns only). */
static int mail_records(Cell *c, MailRecords *ret) {
        *ret = (MailRecords) { 0 };
        char zone[DNS_ZONE_MAX];
        int r = mail_domain(c, ret->domain);
        if (r >= 0)
                r = dns_zone_from_settings(c->settings, zone);
        if (r < 0)
                return r;
        size_t dl = strlen(ret->domain), zl = strlen(zone);
        char rel[256];
        if (streq(ret->domain, zone)) {
                ret->in_zone = true;
                snprintf(rel, sizeof rel, "@");
        } else if (dl > zl && ret->domain[dl - zl - 1] == '.' && streq(ret->domain + dl - zl, zone)) {
                ret->in_zone = true;
                snprintf(rel, sizeof rel, "%.*s", (int) (dl - zl - 1), ret->domain);
        } else
                snprintf(rel, sizeof rel, "@");
        char value[600], name[300];
        snprintf(value, sizeof value, "10 mail.%s.", zone);
        rec(ret, rel, "MX", value);
        rec(ret, rel, "TXT", "v=spf1 mx -all");
        _cleanup_free_ char *dkim = NULL;
        if (dkim_public(c, &dkim) >= 0 && strlen(dkim) < DNS_TXT_MAX) {
                snprintf(name, sizeof name, "%s._domainkey%s%s", MAIL_DKIM_SELECTOR, streq(rel, "@") ? "" : ".",
                         streq(rel, "@") ? "" : rel);
                rec(ret, name, "TXT", dkim);
        }
        snprintf(name, sizeof name, "_dmarc%s%s", streq(rel, "@") ? "" : ".", streq(rel, "@") ? "" : rel);
        snprintf(value, sizeof value, "v=DMARC1; p=quarantine; adkim=s; aspf=s; rua=mailto:postmaster@%s",
                 ret->domain);
        rec(ret, name, "TXT", value);
        drop_overridden(c, ret);
        return 0;
}

/* What kind of record a TXT value is ("v=spf1", "v=DMARC1", ...): its first word, up to ';' or a space. */
static size_t txt_kind(const char *v) {
        return strcspn(v, "; ");
}

typedef struct Override {
        const DnsRecord *ours;
        bool found;
} Override;

static int override_row(const DnsRecord *r, void *userdata) {
        Override *o = userdata;
        if (!streq(r->type, o->ours->type))
                return 0;
        size_t k = txt_kind(o->ours->value);
        if (!streq(r->type, "TXT") || (txt_kind(r->value) == k && strncmp(r->value, o->ours->value, k) == 0))
                o->found = true;
        return 0;
}

/* A custom record the admin stored at the same name wins over ours: any MX, or a TXT of the same kind (their own
 * SPF or DMARC policy), so the zone never answers two contradicting policies. */
static void drop_overridden(Cell *c, MailRecords *m) {
        size_t keep = 0;
        for (size_t i = 0; i < m->n; i++) {
                Override o = { &m->v[i], false };
                if (m->in_zone)
                        (void) store_dns_record_foreach_name(c->store, m->v[i].name, override_row, &o);
                if (!o.found)
                        m->v[keep++] = m->v[i];
        }
        m->n = keep;
}

static int mail_dns_records(Cell *c, DnsRecord **ret, size_t *ret_n) {
        MailRecords m;
        *ret = NULL;
        *ret_n = 0;
        if (mail_records(c, &m) < 0 || !m.in_zone)
                return 0;
        DnsRecord *v = malloc(m.n * sizeof *v);
        if (!v)
                return -ENOMEM;
        memcpy(v, m.v, m.n * sizeof *v);
        *ret = v;
        *ret_n = m.n;
        return 0;
}

/* The records the DNS module last heard of from us, so a change publishes the new and withdraws the old. */
typedef struct DkimState {
        MailRecords published;
} DkimState;

static DkimState *dkim_state(Cell *c) {
        void **slot = cell_service_data(c, MAIL_DKIM_SERVICE);
        if (!slot)
                return NULL;
        if (!*slot)
                *slot = calloc(1, sizeof(DkimState));
        return *slot;
}

static bool record_in(const MailRecords *m, const DnsRecord *d) {
        for (size_t i = 0; m->in_zone && i < m->n; i++)
                if (streq(m->v[i].name, d->name) && streq(m->v[i].type, d->type) && streq(m->v[i].value, d->value))
                        return true;
        return false;
}

static void publish_records(Cell *c) {
        DkimState *st = dkim_state(c);
        MailRecords now;
        if (!st || mail_records(c, &now) < 0)
                return;
        for (size_t i = 0; st->published.in_zone && i < st->published.n; i++)
                if (!record_in(&now, &st->published.v[i])) {
                        PicError err = { 0 };
                        if (cell_dns_record_changed(c, &st->published.v[i], NULL, &err) < 0)
                                log_warn("mail: cannot withdraw %s %s: %s", st->published.v[i].name,
                                         st->published.v[i].type, err.message);
                }
        for (size_t i = 0; now.in_zone && i < now.n; i++)
                if (!record_in(&st->published, &now.v[i])) {
                        PicError err = { 0 };
                        if (cell_dns_record_changed(c, NULL, &now.v[i], &err) < 0)
                                log_warn("mail: cannot publish %s %s: %s", now.v[i].name, now.v[i].type, err.message);
                }
        st->published = now;
}

/* ---- control --------------------------------------------------------------------------------------- */

/* 1: the daemon is running (apply hot), 0: on its way (it reads the new files anyway), -1: start it fresh. */
static int running(Cell *c, const char *name) {
        ServiceStatus ss;
        if (supervisor_status(c->supervisor, name, &ss) < 0)
                return -1;
        if (ss.state == SERVICE_RUNNING)
                return 1;
        return ss.state == SERVICE_BACKOFF || ss.state == SERVICE_STOPPING ? 0 : -1;
}

/* ---- Postfix ("mail") ------------------------------------------------------------------------------- */

static int postfix_render(Cell *c, ServiceFiles *out, PicError *err) {
        Build b;
        int r = build(c, &b, err);
        if (r < 0) {
                build_done(&b);
                return r;
        }
        static const struct {
                const char *name;
                int (*fn)(const MailConfig *, char **);
        } files[] = { { "main.cf", mail_render_main_cf },     { "master.cf", mail_render_master_cf },
                      { "mailboxes", mail_render_mailboxes }, { "virtual", mail_render_virtual },
                      { "senders", mail_render_senders },     { "local-senders", mail_render_local_senders } };
        for (size_t i = 0; r >= 0 && i < ELEMENTSOF(files); i++) {
                char *text = NULL;
                r = files[i].fn(&b.m, &text);
                if (r >= 0)
                        r = service_files_add(out, files[i].name, text, 0644);
        }
        /* Read by Postfix's smtp client while it is still root (before it drops to postfix): root's alone. */
        char *login = NULL;
        if (r >= 0 && (r = mail_render_relay_login(&b.m, &login)) >= 0)
                r = service_files_add(out, "relay-login", login, 0600);
        build_done(&b);
        return r < 0 ? pic_error(err, r, NULL, "cannot render the Postfix configuration") : 0;
}

static int postfix_argv(Cell *c, char ***ret_argv, char ***ret_env) {
        char **argv = calloc(5, sizeof *argv);
        if (!argv)
                return -ENOMEM;
        argv[0] = strdup(POSTFIX_MASTER);
        argv[1] = strdup("-c");
        argv[2] = cell_service_path(c, MAIL_SERVICE, NULL);
        argv[3] = strdup("-s");
        for (int i = 0; i < 4; i++)
                if (!argv[i]) {
                        strv_free(argv);
                        return -ENOMEM;
                }
        *ret_argv = argv;
        *ret_env = NULL;
        return 0;
}

/* SIGHUP to the supervised master is what `postfix reload` and `doveadm reload` send, without their start-up cost
 * (the postfix command closes every possible descriptor first: seconds under picd's high RLIMIT_NOFILE). */
static int reload(Cell *c, const char *name, const char *pid_rel, PicError *err) {
        ServiceStatus ss;
        _cleanup_free_ char *pid = state_path(c, pid_rel);
        if (!pid)
                return -ENOMEM;
        if (supervisor_status(c->supervisor, name, &ss) < 0 || ss.pid <= 0)
                return 1;
        /* Just started and not up yet (no pid file): it may have read the old files, so start it again. */
        if (access(pid, F_OK) < 0)
                return 1;
        if (kill(ss.pid, SIGHUP) < 0)
                return pic_error(err, negative_errno(), NULL, "cannot signal %s: %s", name, strerror(errno));
        return 0;
}

static int postfix_apply(Cell *c, bool files_changed, PicError *err) {
        int k = running(c, MAIL_SERVICE);
        if (k <= 0)
                return k < 0 ? 1 : 0;
        /* master re-reads main.cf/master.cf; its children finish their sessions and the next ones read the new
         * maps (texthash is read at process start). */
        return files_changed ? reload(c, MAIL_SERVICE, "data/mail/queue/pid/master.pid", err) : 0;
}

static int postfix_probe(Cell *c, PicError *err) {
        _cleanup_free_ char *pid = state_path(c, "data/mail/queue/pid/master.pid");
        if (!pid)
                return -ENOMEM;
        ServiceStatus ss;
        /* master closes every possible descriptor before it writes its pid file, which takes a second or two
         * under a high RLIMIT_NOFILE: still starting, not failing (a master that dies is the supervisor's). */
        if (access(pid, F_OK) < 0 && !(supervisor_status(c->supervisor, MAIL_SERVICE, &ss) >= 0 &&
                                       ss.state == SERVICE_RUNNING && wall_sec() - ss.started_at < 15))
                return pic_error(err, -EHOSTDOWN, NULL, "postfix has not started (no %s)", pid);
        return 0;
}

/* Messages waiting in Postfix's queue (postqueue -j: one JSON object a line). */
static int postfix_status(Cell *c, json_t **ret, PicError *err) {
        _cleanup_free_ char *dir = cell_service_path(c, MAIL_SERVICE, NULL), *out = NULL;
        if (!dir)
                return -ENOMEM;
        char *argv[] = { "/usr/sbin/postqueue", "-c", dir, "-j", NULL };
        int status = 0;
        int r = spawn_capture(argv, CTL_TIMEOUT_USEC, 1024 * 1024, &out, &status);
        if (r < 0 || status != 0)
                return pic_error(err, -EHOSTDOWN, NULL, "postqueue failed: %s", r < 0 ? strerror(-r) : out ? out : "");
        json_int_t queued = 0, deferred = 0;
        for (char *line = out, *nl; line && *line; line = nl ? nl + 1 : NULL) {
                nl = strchr(line, '\n');
                if (nl)
                        *nl = '\0';
                json_t *o = json_loads(line, 0, NULL);
                if (json_is_object(o)) {
                        queued++;
                        if (streq_ptr(json_string_value(json_object_get(o, "queue_name")), "deferred"))
                                deferred++;
                }
                json_decref(o);
        }
        char domain[256];
        if (mail_domain(c, domain) < 0)
                domain[0] = '\0';
        *ret = json_pack("{s:s, s:I, s:I}", "domain", domain, "queued", queued, "deferred", deferred);
        return *ret ? 0 : -ENOMEM;
}

static void mail_user_changed(Cell *c, const char *user, UserEvent ev) {
        if (ev == USER_CREDS)
                return; /* app passwords are picd's own: Dovecot asks on every login */
        PicError err = { 0 };
        if (cell_service_sync(c, &svc_mail_ops, false, &err) < 0)
                log_error("mail: the Postfix maps did not follow user %s: %s", user, err.message);
}

typedef struct Usage {
        int64_t messages, bytes;
} Usage;

/* Messages are the files in cur/ and new/ of every folder (Maildir++: ".Folder/" beside the inbox). */
static void count_dir(const char *path, Usage *u, unsigned depth) {
        DIR *d = opendir(path);
        if (!d)
                return;
        const char *base = strrchr(path, '/');
        bool msgs = base && (streq(base, "/cur") || streq(base, "/new"));
        struct dirent *e;
        while ((e = readdir(d))) {
                if (streq(e->d_name, ".") || streq(e->d_name, ".."))
                        continue;
                _cleanup_free_ char *p = NULL;
                if (strdup_printf(&p, "%s/%s", path, e->d_name) < 0)
                        break;
                struct stat st;
                if (lstat(p, &st) < 0)
                        continue;
                if (S_ISDIR(st.st_mode) && depth < 4 && !msgs)
                        count_dir(p, u, depth + 1);
                else if (S_ISREG(st.st_mode) && msgs) {
                        u->messages++;
                        u->bytes += st.st_size;
                }
        }
        closedir(d);
}

static char *user_dir(Cell *c, const char *user) {
        char *p = NULL;
        return strdup_printf(&p, "%s/data/mail/users/%s", c->state_dir, user) < 0 ? NULL : p;
}

static int mail_user_owns(Cell *c, const char *user, json_t *owned, PicError *err) {
        _cleanup_free_ char *dir = user_dir(c, user);
        if (!dir)
                return -ENOMEM;
        Usage u = { 0 };
        count_dir(dir, &u, 0);
        if (u.messages == 0)
                return 0;
        char phrase[96];
        snprintf(phrase, sizeof phrase, "%lld message%s, %.1f MB", (long long) u.messages, u.messages == 1 ? "" : "s",
                 (double) u.bytes / 1e6);
        return json_array_append_new(owned, json_string(phrase)) < 0 ? -ENOMEM : 0;
}

static int mail_user_purge(Cell *c, const char *user, PicError *err) {
        _cleanup_free_ char *dir = user_dir(c, user);
        if (!dir)
                return -ENOMEM;
        int r = rm_rf(dir);
        if (r < 0 && r != -ENOENT)
                return pic_error(err, r, NULL, "cannot remove the mailbox of %s: %s", user, strerror(-r));
        return 0;
}

const ServiceOps svc_mail_ops = {
        .name = MAIL_SERVICE,
        .endpoints = endpoints,
        .n_endpoints = ELEMENTSOF(endpoints),
        .settings = settings,
        .n_settings = ELEMENTSOF(settings),
        .watches = watches,
        .render = postfix_render,
        .argv = postfix_argv,
        .setup = postfix_setup,
        .apply = postfix_apply,
        .probe = postfix_probe,
        .status = postfix_status,
        .user_changed = mail_user_changed,
        .user_owns = mail_user_owns,
        .user_purge = mail_user_purge,
        .teardown = postfix_teardown,
};

/* ---- Dovecot ("mail-imap") ------------------------------------------------------------------------- */

static int dovecot_render(Cell *c, ServiceFiles *out, PicError *err) {
        Build b;
        int r = build(c, &b, err);
        char *text = NULL;
        if (r >= 0 && (r = mail_render_dovecot(&b.m, &text)) >= 0)
                r = service_files_add(out, DOVECOT_CONF, text, 0644);
        else if (r >= 0)
                r = pic_error(err, r, NULL, "cannot render the Dovecot configuration");
        build_done(&b);
        return r;
}

static int dovecot_check(Cell *c, const char *file_name, const char *tmp_path, PicError *err) {
        char *argv[] = { DOVECONF_BIN, "-c", (char *) tmp_path, "-n", NULL };
        _cleanup_free_ char *out = NULL;
        int status = 0;
        int r = spawn_capture(argv, CTL_TIMEOUT_USEC, 16384, &out, &status);
        if (r < 0)
                return pic_error(err, -EHOSTDOWN, NULL, "cannot run doveconf: %s", strerror(-r));
        if (status != 0) {
                char *nl = out ? strchr(out, '\n') : NULL;
                if (nl)
                        *nl = '\0';
                return pic_error(err, -EBADMSG, NULL, "dovecot rejected the configuration: %.300s", out ? out : "");
        }
        return 0;
}

static int dovecot_argv(Cell *c, char ***ret_argv, char ***ret_env) {
        char **argv = calloc(5, sizeof *argv);
        if (!argv)
                return -ENOMEM;
        argv[0] = strdup(DOVECOT_BIN);
        argv[1] = strdup("-F");
        argv[2] = strdup("-c");
        argv[3] = cell_service_path(c, MAIL_IMAP_SERVICE, DOVECOT_CONF);
        for (int i = 0; i < 4; i++)
                if (!argv[i]) {
                        strv_free(argv);
                        return -ENOMEM;
                }
        *ret_argv = argv;
        *ret_env = NULL;
        return 0;
}

static int dovecot_apply(Cell *c, bool files_changed, PicError *err) {
        int k = running(c, MAIL_IMAP_SERVICE);
        if (k <= 0)
                return k < 0 ? 1 : 0;
        return files_changed ? reload(c, MAIL_IMAP_SERVICE, "run/mail/dovecot/master.pid", err) : 0;
}

static int dovecot_probe(Cell *c, PicError *err) {
        _cleanup_free_ char *lmtp = state_path(c, "run/mail/lmtp.sock"), *auth = state_path(c, "run/mail/auth-postfix.sock");
        if (!lmtp || !auth)
                return -ENOMEM;
        if (access(lmtp, F_OK) < 0 || access(auth, F_OK) < 0)
                return pic_error(err, -EHOSTDOWN, NULL, "dovecot's LMTP and auth sockets are not there yet");
        return 0;
}

const ServiceOps svc_mail_imap_ops = {
        .name = MAIL_IMAP_SERVICE,
        .watches = imap_watches,
        .render = dovecot_render,
        .check = dovecot_check,
        .argv = dovecot_argv,
        .setup = dovecot_setup,
        .apply = dovecot_apply,
        .probe = dovecot_probe,
};

/* ---- OpenDKIM ("mail-dkim") ----------------------------------------------------------------------- */

static int opendkim_render(Cell *c, ServiceFiles *out, PicError *err) {
        Build b;
        int r = build(c, &b, err);
        char *text = NULL;
        if (r >= 0 && (r = mail_render_opendkim(&b.m, &text)) >= 0)
                r = service_files_add(out, OPENDKIM_CONF, text, 0644);
        else if (r >= 0)
                r = pic_error(err, r, NULL, "cannot render the OpenDKIM configuration");
        build_done(&b);
        return r;
}

static int opendkim_setup(Cell *c, PicError *err) {
        uid_t od;
        gid_t odg, pfg;
        char domain[256];
        int r = data_dirs(c, err);
        if (r >= 0)
                r = sys_ids("opendkim", "opendkim", &od, &odg, err);
        if (r >= 0)
                r = sys_ids("opendkim", "postfix", &od, &pfg, err);
        if (r < 0)
                return r;
        _cleanup_free_ char *dir = state_path(c, "run/mail/opendkim");
        if (!dir)
                return -ENOMEM;
        /* Its socket's dir: OpenDKIM (after dropping to opendkim) creates the socket, group postfix connects. */
        if ((r = dir_owned(dir, 0750, od, pfg, err)) < 0)
                return r;
        if ((r = mail_domain(c, domain)) < 0)
                return pic_error(err, r, NULL, "the cell has no valid mail domain");
        return dkim_key_ensure(c, domain, err);
}

static int opendkim_argv(Cell *c, char ***ret_argv, char ***ret_env) {
        char **argv = calloc(5, sizeof *argv);
        if (!argv)
                return -ENOMEM;
        argv[0] = strdup(OPENDKIM_BIN);
        argv[1] = strdup("-f");
        argv[2] = strdup("-x");
        argv[3] = cell_service_path(c, MAIL_DKIM_SERVICE, OPENDKIM_CONF);
        for (int i = 0; i < 4; i++)
                if (!argv[i]) {
                        strv_free(argv);
                        return -ENOMEM;
                }
        *ret_argv = argv;
        *ret_env = NULL;
        return 0;
}

static int opendkim_apply(Cell *c, bool files_changed, PicError *err) {
        char domain[256];
        int r = mail_domain(c, domain);
        if (r >= 0)
                r = dkim_key_ensure(c, domain, err); /* made once; kept across renames */
        if (r < 0)
                return r;
        publish_records(c);
        int k = running(c, MAIL_DKIM_SERVICE);
        if (k < 0)
                return 1;
        /* OpenDKIM reads its key at start: a new domain or key needs a restart (a few ms; Postfix defers). */
        return k > 0 && files_changed ? 1 : 0;
}

static void opendkim_on_running(Cell *c) {
        publish_records(c);
}

static int opendkim_probe(Cell *c, PicError *err) {
        _cleanup_free_ char *sock = state_path(c, "run/mail/opendkim/opendkim.sock");
        if (!sock)
                return -ENOMEM;
        if (access(sock, F_OK) < 0)
                return pic_error(err, -EHOSTDOWN, NULL, "opendkim's milter socket is not there yet");
        return 0;
}

static void opendkim_teardown(Cell *c) {
        void **slot = cell_service_data(c, MAIL_DKIM_SERVICE);
        if (slot) {
                free(*slot);
                *slot = NULL;
        }
}

const ServiceOps svc_mail_dkim_ops = {
        .name = MAIL_DKIM_SERVICE,
        .watches = dkim_watches,
        .render = opendkim_render,
        .argv = opendkim_argv,
        .setup = opendkim_setup,
        .apply = opendkim_apply,
        .on_running = opendkim_on_running,
        .probe = opendkim_probe,
        .teardown = opendkim_teardown,
        .dns_records = mail_dns_records,
        .apply_decides_restart = true,
};

/* ---- aliases, per-user facts, DNS for the API ------------------------------------------------------ */

static json_t *alias_obj(const char *alias, const char *domain) {
        char addr[400];
        snprintf(addr, sizeof addr, "%s@%s", alias, domain);
        return json_pack("{s:s, s:s, s:[]}", "alias", alias, "address", addr, "targets");
}

typedef struct AliasJson {
        json_t *arr;
        const char *domain;
        const char *only; /* one alias, or NULL */
} AliasJson;

static int alias_json_row(const StoreMailAlias *a, void *userdata) {
        AliasJson *aj = userdata;
        if (aj->only && !streq(aj->only, a->alias))
                return 0;
        size_t n = json_array_size(aj->arr);
        json_t *last = n ? json_array_get(aj->arr, n - 1) : NULL;
        if (!last || !streq(json_string_value(json_object_get(last, "alias")), a->alias)) {
                last = alias_obj(a->alias, aj->domain);
                if (!last || json_array_append_new(aj->arr, last) < 0)
                        return -ENOMEM;
        }
        return json_array_append_new(json_object_get(last, "targets"), json_string(a->target));
}

static int aliases_array(Cell *c, const char *only, json_t **ret) {
        char domain[256];
        int r = mail_domain(c, domain);
        if (r < 0)
                return r;
        AliasJson aj = { json_array(), domain, only };
        if (!aj.arr)
                return -ENOMEM;
        r = store_mail_alias_foreach(c->store, alias_json_row, &aj);
        if (r < 0) {
                json_decref(aj.arr);
                return r;
        }
        *ret = aj.arr;
        return 0;
}

int mail_aliases_json(Cell *c, json_t **ret, PicError *err) {
        json_t *arr = NULL;
        int r = aliases_array(c, NULL, &arr);
        if (r < 0)
                return pic_error(err, r, NULL, "cannot read the mail aliases");
        *ret = json_pack("{s:o}", "aliases", arr);
        return *ret ? 0 : -ENOMEM;
}

typedef struct AliasFind {
        const char *alias;
        bool found;
} AliasFind;

static int alias_find_row(const StoreMailAlias *a, void *userdata) {
        AliasFind *f = userdata;
        f->found = f->found || streq(a->alias, f->alias);
        return 0;
}

typedef struct AliasAdd {
        const char *alias;
        const char *targets[ALIAS_TARGETS_MAX];
        size_t n;
} AliasAdd;

static int alias_write(Cell *c, void *userdata, PicError *err) {
        AliasAdd *a = userdata;
        int64_t now = wall_sec();
        for (size_t i = 0; i < a->n; i++) {
                int r = store_mail_alias_insert(c->store, a->alias, a->targets[i], now);
                if (r < 0)
                        return pic_error(err, r, "targets", "cannot store the alias: %s", strerror(-r));
        }
        return 0;
}

static int alias_delete_write(Cell *c, void *userdata, PicError *err) {
        int r = store_mail_alias_delete(c->store, userdata);
        if (r == -ENOENT)
                return pic_error(err, r, "alias", "no alias \"%s\"", (const char *) userdata);
        return r < 0 ? pic_error(err, r, NULL, "cannot delete the alias: %s", strerror(-r)) : 0;
}

/* Postfix's maps from the written store: reloaded before the commit, so a 2xx means it is live. */
static int alias_apply(Cell *c, void *userdata, PicError *err) {
        return cell_service_sync(c, &svc_mail_ops, false, err);
}

static void alias_undo(Cell *c, void *userdata, bool applied) {
        PicError err = { 0 };
        if (cell_service_sync(c, &svc_mail_ops, false, &err) < 0)
                log_error("mail: cannot bring the Postfix maps back after a failed alias change: %s", err.message);
}

int mail_alias_add(Cell *c, json_t *body, json_t **ret, PicError *err) {
        static const char *const known[] = { "alias", "targets" };
        int r = body_check_fields(body, known, ELEMENTSOF(known), err);
        if (r < 0)
                return r;
        AliasAdd a = { .alias = json_string_value(json_object_get(body, "alias")) };
        if (!a.alias || !name_is_valid(a.alias))
                return pic_error(err, -EINVAL, "alias",
                                 "alias must be a local part of 1-63 characters of a-z, 0-9 and '-', starting with a "
                                 "letter or digit");
        if (streq(a.alias, "postmaster") || streq(a.alias, "abuse"))
                return pic_error(err, -EEXIST, "alias", "%s@ goes to the cell's admins already", a.alias);
        json_t *targets = json_object_get(body, "targets");
        if (!json_is_array(targets) || json_array_size(targets) == 0 || json_array_size(targets) > ALIAS_TARGETS_MAX)
                return pic_error(err, -EINVAL, "targets", "targets must be a list of 1 to %d user names",
                                 ALIAS_TARGETS_MAX);
        size_t i;
        json_t *v;
        json_array_foreach(targets, i, v) {
                const char *t = json_string_value(v);
                StoreUser u;
                if (!t || !name_is_valid(t) || store_user_get_by_name(c->store, t, &u) < 0)
                        return pic_error(err, -EINVAL, "targets", "targets[%zu] is not a user", i);
                for (size_t j = 0; j < a.n; j++)
                        if (streq(a.targets[j], t))
                                return pic_error(err, -EINVAL, "targets", "targets[%zu] is listed twice", i);
                a.targets[a.n++] = t;
        }
        StoreUser u;
        if (store_user_get_by_name(c->store, a.alias, &u) >= 0)
                return pic_error(err, -EEXIST, "alias", "\"%s\" is a user's own address", a.alias);
        AliasFind f = { a.alias, false };
        r = store_mail_alias_foreach(c->store, alias_find_row, &f);
        if (r < 0)
                return pic_error(err, r, NULL, "cannot read the mail aliases");
        if (f.found)
                return pic_error(err, -EEXIST, "alias", "alias \"%s\" exists (delete it to change its targets)", a.alias);
        CellMutation m = { .what = "the alias", .write = alias_write, .apply = alias_apply, .undo = alias_undo };
        r = cell_mutate(c, &m, &a, err);
        if (r < 0)
                return r;
        json_t *arr = NULL;
        if (aliases_array(c, a.alias, &arr) < 0)
                return -ENOMEM;
        *ret = json_incref(json_array_get(arr, 0));
        json_decref(arr);
        return *ret ? 0 : -ENOMEM;
}

int mail_alias_remove(Cell *c, const char *alias, PicError *err) {
        if (!name_is_valid(alias))
                return pic_error(err, -ENOENT, "alias", "no such alias");
        CellMutation m = { .what = "the alias", .write = alias_delete_write, .apply = alias_apply, .undo = alias_undo };
        return cell_mutate(c, &m, (void *) alias, err);
}

typedef struct UserAliases {
        const char *user;
        json_t *arr;
        const char *domain;
} UserAliases;

static int user_alias_row(const StoreMailAlias *a, void *userdata) {
        UserAliases *ua = userdata;
        if (!streq(a->target, ua->user))
                return 0;
        char addr[400];
        snprintf(addr, sizeof addr, "%s@%s", a->alias, ua->domain);
        return json_array_append_new(ua->arr, json_string(addr));
}

int mail_user_json(Cell *c, const char *user, json_t **ret, PicError *err) {
        StoreUser u;
        if (!name_is_valid(user) || store_user_get_by_name(c->store, user, &u) < 0)
                return pic_error(err, -ENOENT, NULL, "no user \"%s\"", name_is_valid(user) ? user : "?");
        char domain[256], addr[400];
        int r = mail_domain(c, domain);
        if (r < 0)
                return pic_error(err, r, NULL, "the cell has no valid mail domain");
        snprintf(addr, sizeof addr, "%s@%s", user, domain);
        UserAliases ua = { user, json_array(), domain };
        if (!ua.arr)
                return -ENOMEM;
        if ((r = store_mail_alias_foreach(c->store, user_alias_row, &ua)) < 0) {
                json_decref(ua.arr);
                return pic_error(err, r, NULL, "cannot read the mail aliases");
        }
        _cleanup_free_ char *dir = user_dir(c, user);
        Usage us = { 0 };
        if (dir)
                count_dir(dir, &us, 0);
        int64_t quota = settings_int(c->settings, "mail.quota_mb") * 1024 * 1024;
        *ret = json_pack("{s:s, s:s, s:o, s:I, s:I, s:o}", "user", user, "address", addr, "aliases", ua.arr,
                         "messages", (json_int_t) us.messages, "usage_bytes", (json_int_t) us.bytes, "quota_bytes",
                         quota > 0 ? json_integer(quota) : json_null());
        return *ret ? 0 : -ENOMEM;
}

int mail_dns_json(Cell *c, json_t **ret, PicError *err) {
        MailRecords m;
        char zone[DNS_ZONE_MAX];
        int r = mail_records(c, &m);
        if (r >= 0)
                r = dns_zone_from_settings(c->settings, zone);
        if (r < 0)
                return pic_error(err, r, NULL, "the cell has no valid mail domain");
        json_t *arr = json_array();
        for (size_t i = 0; arr && i < m.n; i++) {
                char fqdn[DNS_ZONE_MAX + 300];
                const char *rel = m.v[i].name;
                const char *base = m.in_zone ? zone : m.domain;
                if (streq(rel, "@"))
                        snprintf(fqdn, sizeof fqdn, "%s.", base);
                else
                        snprintf(fqdn, sizeof fqdn, "%s.%s.", rel, base);
                json_array_append_new(arr, json_pack("{s:s, s:s, s:s, s:I}", "name", fqdn, "type", m.v[i].type,
                                                     "value", m.v[i].value, "ttl", (json_int_t) m.v[i].ttl));
        }
        *ret = json_pack("{s:s, s:b, s:o}", "domain", m.domain, "published_in_cell_dns", m.in_zone, "records", arr);
        return *ret ? 0 : -ENOMEM;
}

/* ---- the relay's login, for the API ----------------------------------------------------------------- */

int mail_relay_json(Cell *c, json_t **ret, PicError *err) {
        char *login = NULL;
        int r = relay_login_read(c, &login, err);
        if (r < 0)
                return r;
        json_t *user = json_null();
        if (login) {
                user = json_stringn(login, (size_t) (strchr(login, ':') - login));
                secret_wipe(login, strlen(login));
                free(login);
        }
        const char *host = settings_str(c->settings, "mail.relay_host");
        *ret = json_pack("{s:s, s:I, s:s, s:o, s:b, s:b}", "host", host ? host : "", "port",
                         (json_int_t) settings_int(c->settings, "mail.relay_port"), "tls",
                         settings_str(c->settings, "mail.relay_tls"), "username", user, "password_set", user && !json_is_null(user),
                         "in_use", user && !json_is_null(user) && host && *host);
        return *ret ? 0 : -ENOMEM;
}

/* Writes (text) or removes (NULL) the stored login, durably either way. */
static int relay_store(Cell *c, const char *text, size_t len, PicError *err) {
        _cleanup_free_ char *path = state_path(c, RELAY_LOGIN_REL), *dir = state_path(c, "keys/mail");
        if (!path || !dir)
                return -ENOMEM;
        int r = mkdir_p(dir, 0700);
        if (r < 0)
                return pic_error(err, r, NULL, "cannot create %s: %s", dir, strerror(-r));
        if (text) {
                r = write_file_atomic(path, text, len, 0600, NULL, NULL, err);
                return r < 0 && !err->message[0] ? pic_error(err, r, NULL, "cannot write %s: %s", path, strerror(-r)) : r;
        }
        if (unlink(path) < 0 && errno != ENOENT)
                return pic_error(err, negative_errno(), NULL, "cannot remove %s: %m", path);
        r = fsync_directory(dir);
        return r < 0 ? pic_error(err, r, NULL, "cannot sync %s: %s", dir, strerror(-r)) : 0;
}

/* Mail deferred while the relay refused us is tried again soon rather than at its next retry: what `postqueue -f`
 * asks of the queue manager (scan the deferred queue ignoring the time stamps, forget dead sites), sent to its
 * public/qmgr socket directly (the postqueue command costs seconds under picd's descriptor limit). */
static void flush_now(Loop *l, void *userdata) {
        Cell *c = userdata;
        PostfixState *st = postfix_state(c);
        if (st)
                st->flush = NULL;
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        int n = snprintf(sa.sun_path, sizeof sa.sun_path, "%s/data/mail/queue/public/qmgr", c->state_dir);
        if (n < 0 || (size_t) n >= sizeof sa.sun_path) {
                log_warn("mail: the queue manager's socket path is too long; deferred mail waits for its next retry");
                return;
        }
        _cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0 || connect(fd, (struct sockaddr *) &sa, sizeof sa) < 0 || write(fd, "DAF", 3) != 3)
                log_warn("mail: cannot ask Postfix to retry its deferred mail now: %m");
}

/* Not at once: after the reload, delivery agents of the old configuration that sit idle leave only when they next
 * wake, and one of them could take the retry with the old login (a second refusal doubles the wait). */
static void flush_deferred(Cell *c) {
        PostfixState *st = postfix_state(c);
        if (st && !st->flush)
                (void) loop_add_timer(c->loop, FLUSH_DELAY_USEC, flush_now, c, &st->flush);
}

/* Stores the new login (or none), then renders and reloads Postfix; if that fails the old file comes back. */
static int relay_change(Cell *c, const char *text, PicError *err) {
        _cleanup_free_ char *path = state_path(c, RELAY_LOGIN_REL);
        if (!path)
                return -ENOMEM;
        char *old = NULL;
        size_t old_len = 0;
        int r = read_file_full(path, 4096, &old, &old_len);
        if (r < 0 && r != -ENOENT)
                return pic_error(err, r, NULL, "cannot read %s: %s", path, strerror(-r));
        r = relay_store(c, text, text ? strlen(text) : 0, err);
        if (r >= 0 && (r = cell_service_sync(c, &svc_mail_ops, false, err)) < 0) {
                PicError undo = { 0 };
                if (relay_store(c, old, old_len, &undo) < 0 || cell_service_sync(c, &svc_mail_ops, false, &undo) < 0)
                        log_error("mail: cannot bring the previous relay login back: %s", undo.message);
        }
        if (old) {
                secret_wipe(old, old_len);
                free(old);
        }
        return r;
}

int mail_relay_set(Cell *c, json_t *body, json_t **ret, PicError *err) {
        static const char *const known[] = { "username", "password" };
        int r = body_check_fields(body, known, ELEMENTSOF(known), err);
        if (r < 0)
                return r;
        const char *user = json_string_value(json_object_get(body, "username"));
        const char *pass = json_string_value(json_object_get(body, "password"));
        if (!user || !relay_field_ok(user, false))
                return pic_error(err, -EINVAL, "username",
                                 "username must be 1-%d printable ASCII characters without spaces or ':'", RELAY_FIELD_MAX);
        if (!pass || !relay_field_ok(pass, true))
                return pic_error(err, -EINVAL, "password",
                                 "password must be 1-%d printable ASCII characters without spaces", RELAY_FIELD_MAX);
        char text[2 * RELAY_FIELD_MAX + 3];
        snprintf(text, sizeof text, "%s:%s\n", user, pass);
        r = relay_change(c, text, err);
        secret_wipe(text, sizeof text);
        if (r < 0)
                return r;
        flush_deferred(c);
        return mail_relay_json(c, ret, err);
}

int mail_relay_clear(Cell *c, json_t **ret, PicError *err) {
        _cleanup_free_ char *path = state_path(c, RELAY_LOGIN_REL);
        if (!path)
                return -ENOMEM;
        if (access(path, F_OK) < 0)
                return pic_error(err, -ENOENT, NULL, "no relay login is set");
        int r = relay_change(c, NULL, err);
        return r < 0 ? r : mail_relay_json(c, ret, err);
}
