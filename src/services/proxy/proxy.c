/* Caddy under the supervisor: render its whole JSON config (render.c) from the registry, the cell CA and picd's
 * authorization state (granted peers, the fast set of core/accounts.h), check it with `caddy validate`, run
 * `caddy run --config F` in the cell namespace, and apply changes (renewed certificates included) with POST
 * /load on its admin socket, which swaps the config without dropping requests and keeps the old one serving
 * when it refuses the new one. Authorization changes are pushed the same way before the change is reported. */
#include "services/proxy/proxy.h"

#include <errno.h>
#include <linux/capability.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "basic/fileio.h"
#include "basic/log.h"
#include "basic/spawn.h"
#include "basic/strbuf.h"
#include "basic/time-util.h"
#include "basic/util.h"
#include "core/accounts.h"
#include "core/ca.h"
#include "core/loop.h"
#include "services/proxy/caddy-admin.h"
#include "services/proxy/render.h"

#define CONF_NAME "caddy.json"
/* Caddy reads its config as its own user: the file root:caddy 0640 in etc/proxy (2750 root:caddy, so every file
 * root writes there gets Caddy's group), never writable by it. */
#define CONF_MODE 0640
#define CONF_DIR_MODE 02750
#define CHECK_TIMEOUT_USEC (20 * USEC_PER_SEC)
#define LOAD_TIMEOUT_USEC (20 * USEC_PER_SEC)
#define CONF_MAX (4 * 1024 * 1024)
/* A fast-set change waits this long, so a burst of devices seen at once costs one /load. */
#define FAST_PUSH_USEC (2 * 1000 * 1000)

static const SettingDef settings[] = {
        { "proxy.http_port", SETTING_INT, "80", NULL, 1, 65535, false,
          "Plain-HTTP port of every site (the CA root download; everything else redirects to HTTPS)" },
        { "proxy.https_port", SETTING_INT, "443", NULL, 1, 65535, false, "HTTPS port on each service's virtual IP" },
};

/* The certificates and names it serves change with these; the CA module, registered before, re-issues first. */
static const char *const watches[] = { "cell_name", "domain", "ip_range", "wireguard.address", "ca.leaf_days",
                                       "ca.leaf_seconds", "calendar.port" /* an http_upstream_port */, NULL };

static void proxy_authz_changed(Cell *c);

static const char *caddy_bin(void) {
        const char *b = getenv("PIC_CADDY_BIN");
        return b && *b == '/' ? b : "/usr/bin/caddy";
}

static char *run_path(Cell *c, const char *name) {
        StrBuf s = STRBUF_INIT;
        strbuf_printf(&s, "%s/run/%s", c->state_dir, name);
        return strbuf_steal(&s);
}

typedef struct Paths {
        char *admin, *auth, *home, *upstream[REGISTRY_ENDPOINTS_MAX];
        char (*cidrs[REGISTRY_ENDPOINTS_MAX])[CIDR4_STRLEN];
        const char **sources[REGISTRY_ENDPOINTS_MAX];
        AccountsFastCred *fast;
        size_t n_fast;
        ProxyCred *creds;
        char (*held_cidrs)[CIDR4_STRLEN];
        const char **held;
} Paths;

static void paths_done(Paths *p) {
        free(p->admin);
        free(p->auth);
        free(p->home);
        for (size_t i = 0; i < ELEMENTSOF(p->upstream); i++) {
                free(p->upstream[i]);
                free(p->cidrs[i]);
                free(p->sources[i]);
        }
        if (p->fast)
                explicit_bzero(p->fast, p->n_fast * sizeof *p->fast); /* hashes only, but why leave them around */
        free(p->fast);
        free(p->creds);
        free(p->held_cidrs);
        free(p->held);
}

/* Who may be authorized in Caddy itself for endpoint name: the addresses accounts_authorize() lets in (the
 * enabled peers with its grant, and the cell's own: loopback, ip_range, the cell's VPN address). */
static int site_sources(Cell *c, const char *name, const Cidr4 *range, char (**ret_cidrs)[CIDR4_STRLEN],
                        const char ***ret_sources, size_t *ret_n) {
        int grant = registry_grant_from_string(&c->registry, name);
        _cleanup_free_ uint32_t *ips = NULL;
        size_t n_ips = 0;
        int r = accounts_granted_peers(c, grant, &ips, &n_ips);
        if (r < 0)
                return r;
        char (*cidrs)[CIDR4_STRLEN] = calloc(n_ips + 3, sizeof *cidrs);
        const char **sources = calloc(n_ips + 3, sizeof *sources);
        if (!cidrs || !sources) {
                free(cidrs);
                free(sources);
                return -ENOMEM;
        }
        size_t n = 0;
        snprintf(cidrs[n++], CIDR4_STRLEN, "127.0.0.0/8");
        cidr4_format_network(range, cidrs[n++]);
        Cidr4 vpn;
        if (settings_vpn_address(c->settings, &vpn) == 0) {
                char ip[IPV4_STRLEN];
                snprintf(cidrs[n++], CIDR4_STRLEN, "%s/32", ipv4_format(vpn.addr, ip));
        }
        n += proxy_cidrs(ips, n_ips, cidrs + n);
        for (size_t i = 0; i < n; i++)
                sources[i] = cidrs[i];
        *ret_cidrs = cidrs;
        *ret_sources = sources;
        *ret_n = n;
        return 0;
}

static int proxy_render_files(Cell *c, ServiceFiles *out, PicError *err) {
        Cidr4 range;
        if (settings_ip_range(c->settings, &range) < 0)
                return pic_error(err, -EINVAL, "ip_range", "ip_range is not a valid range");
        const char *root_pem = NULL;
        if (cell_ca_root(c, &root_pem, NULL, NULL, NULL) < 0)
                return pic_error(err, -EHOSTDOWN, NULL, "the cell CA is not set up (see the ca service)");
        _cleanup_(paths_done) Paths p = { .admin = run_path(c, PROXY_ADMIN_SOCKET), .auth = run_path(c, PROXY_AUTH_SOCKET) };
        ProxyConfig cfg = { .admin_socket = p.admin, .auth_socket = p.auth, .root_pem = root_pem,
                            .root_path = CA_ROOT_URL_PATH,
                            .http_port = (unsigned) settings_int(c->settings, "proxy.http_port"),
                            .https_port = (unsigned) settings_int(c->settings, "proxy.https_port") };
        if (!p.admin || !p.auth)
                return -ENOMEM;
        if (accounts_fast_creds(c, &p.fast, &p.n_fast) < 0 || (p.n_fast && !(p.creds = calloc(p.n_fast, sizeof *p.creds))))
                return -ENOMEM;
        size_t n_fast = p.n_fast;
        for (size_t i = 0; i < n_fast; i++)
                p.creds[i] = (ProxyCred) { .user = p.fast[i].user, .hash = p.fast[i].hash, .salt = p.fast[i].salt };
        cfg.creds = p.creds;
        cfg.n_creds = n_fast;
        _cleanup_free_ uint32_t *held = NULL;
        size_t n_held = 0;
        if (accounts_held_sources(c, wall_sec(), &held, &n_held) < 0)
                return -ENOMEM;
        if (n_held) {
                p.held_cidrs = calloc(n_held, sizeof *p.held_cidrs);
                p.held = calloc(n_held, sizeof *p.held);
                if (!p.held_cidrs || !p.held)
                        return -ENOMEM;
                cfg.n_held = proxy_cidrs(held, n_held, p.held_cidrs);
                for (size_t i = 0; i < cfg.n_held; i++)
                        p.held[i] = p.held_cidrs[i];
                cfg.held = p.held;
        }
        for (size_t i = 0; i < c->registry.n; i++) {
                const ServiceEndpoint *e = c->registry.endpoints[i];
                uint32_t vip;
                if ((!e->http_upstream && !e->http_upstream_port) || !e->dns_labels || !e->dns_labels[0] ||
                    registry_vip_of(e, &range, &vip) < 0)
                        continue;
                ProxySite *s = &cfg.sites[cfg.n_sites];
                if (cell_ca_leaf(c, e->name, &s->cert, &s->key, NULL) < 0)
                        return pic_error(err, -EHOSTDOWN, NULL, "the cell CA has no certificate for %s", e->name);
                if (e->http_upstream_port)
                        s->upstream_port = (unsigned) settings_int(c->settings, e->http_upstream_port);
                else if (!(p.upstream[cfg.n_sites] = run_path(c, e->http_upstream)))
                        return -ENOMEM;
                s->name = e->name;
                s->vip = vip;
                s->upstream = p.upstream[cfg.n_sites];
                s->forward_auth = !e->http_own_auth;
                s->fastcgi_root = e->http_fastcgi_root;
                s->grant_only = e->http_grant_only;
                s->serves_root = streq(e->name, "api");
                /* Only with something to check in-process: then a peer change leaves the config as it was (no
                 * /load for each of 10,000 peers added while no device is active). For a service that checks
                 * requests itself (WebDAV's Destination, shares, quota) only the requests it declares it never
                 * refuses (files: reads outside /shared/); everything else still goes to picd. */
                bool fast_ok = !cell_http_authorizes(c, e->name) || e->http_fast_methods;
                s->fast_methods = e->http_fast_methods;
                s->fast_not_below = e->http_fast_not_below;
                if (s->forward_auth && n_fast && fast_ok &&
                    site_sources(c, e->name, &range, &p.cidrs[cfg.n_sites], &p.sources[cfg.n_sites], &s->n_sources) < 0)
                        return -ENOMEM;
                s->sources = p.sources[cfg.n_sites];
                s->streams = e->http_streams;
                cfg.n_sites++;
        }
        char *text = NULL;
        int r = proxy_render(&cfg, &text);
        if (r < 0)
                return pic_error(err, r, NULL, "cannot render the proxy configuration");
        r = service_files_add(out, CONF_NAME, text, CONF_MODE);
        return r < 0 ? pic_error(err, r, NULL, "cannot render the proxy configuration") : 0;
}

/* Caddy's own error text from a /load or validate answer, on one line. */
static void one_line(char *s) {
        for (char *p = s; *p; p++)
                if (*p == '\n' || *p == '\r' || *p == '\t')
                        *p = ' ';
}

static int proxy_check(Cell *c, const char *file_name, const char *tmp_path, PicError *err) {
        /* validate provisions the config, which may write below HOME: root's own scratch dir, not Caddy's. */
        _cleanup_free_ char *home = run_path(c, PROXY_CHECK_HOME_DIR);
        if (home && mkdir_p(home, 0700) < 0)
                return pic_error(err, -EHOSTDOWN, NULL, "cannot create %s", home);
        StrBuf h = STRBUF_INIT, d = STRBUF_INIT, cf = STRBUF_INIT;
        strbuf_printf(&h, "HOME=%s", home ? home : "/nonexistent");
        strbuf_printf(&d, "XDG_DATA_HOME=%s", home ? home : "/nonexistent");
        strbuf_printf(&cf, "XDG_CONFIG_HOME=%s", home ? home : "/nonexistent");
        _cleanup_free_ char *hs = strbuf_steal(&h), *ds = strbuf_steal(&d), *cs = strbuf_steal(&cf);
        if (!hs || !ds || !cs)
                return -ENOMEM;
        char *argv[] = { "/usr/bin/env", hs, ds, cs, (char *) caddy_bin(), "validate", "--config", (char *) tmp_path, NULL };
        _cleanup_free_ char *out = NULL;
        int status;
        int r = spawn_capture(argv, CHECK_TIMEOUT_USEC, 16384, &out, &status);
        if (r < 0)
                return pic_error(err, -EHOSTDOWN, NULL, "cannot run %s validate: %s", caddy_bin(), strerror(-r));
        if (status != 0) {
                /* The last line says why ("Error: ..."). */
                size_t len = strlen(out);
                while (len > 0 && out[len - 1] == '\n')
                        out[--len] = '\0';
                const char *last = strrchr(out, '\n');
                return pic_error(err, -EBADMSG, NULL, "caddy rejected the configuration: %s", last ? last + 1 : out);
        }
        return 0;
}

static int proxy_argv(Cell *c, char ***ret_argv, char ***ret_env) {
        _cleanup_free_ char *home = run_path(c, PROXY_HOME_DIR);
        char *conf = cell_service_path(c, PROXY_SERVICE, CONF_NAME);
        char **argv = calloc(5, sizeof *argv), **env = calloc(4, sizeof *env);
        if (!argv || !env || !home || !conf) {
                free(argv);
                free(env);
                free(conf);
                return -ENOMEM;
        }
        argv[0] = strdup(caddy_bin());
        argv[1] = strdup("run");
        argv[2] = strdup("--config");
        argv[3] = conf;
        const char *vars[] = { "HOME", "XDG_DATA_HOME", "XDG_CONFIG_HOME" };
        for (size_t i = 0; i < ELEMENTSOF(vars); i++) {
                StrBuf s = STRBUF_INIT;
                strbuf_printf(&s, "%s=%s", vars[i], home);
                env[i] = strbuf_steal(&s);
        }
        for (int i = 0; i < 4; i++)
                if (!argv[i] || (i < 3 && !env[i])) {
                        strv_free(argv);
                        strv_free(env);
                        return -ENOMEM;
                }
        *ret_argv = argv;
        *ret_env = env;
        return 0;
}

/* Caddy's user: the owner of its own dir and the peer its admin socket must show. */
static int caddy_ids(uid_t *ret_uid, gid_t *ret_gid, PicError *err) {
        int r = cell_proxy_ids(ret_uid, ret_gid);
        if (r == -EPERM)
                return pic_error(err, -EPERM, NULL, "the system user %s is root", CELL_PROXY_USER);
        if (r < 0)
                return pic_error(err, -EHOSTDOWN, NULL,
                                 "the system user %s is missing (Debian's caddy package, or scripts/install-deps.sh, makes it)",
                                 CELL_PROXY_USER);
        return 0;
}

/* Before each first start (and after a restore, which brings root's files back): what Caddy reads is root's
 * with its group, what it writes its own. */
static int proxy_setup(Cell *c, PicError *err) {
        _cleanup_free_ char *home = run_path(c, PROXY_HOME_DIR), *etc = cell_service_path(c, PROXY_SERVICE, NULL);
        _cleanup_free_ char *conf = cell_service_path(c, PROXY_SERVICE, CONF_NAME);
        if (!home || !etc || !conf)
                return -ENOMEM;
        uid_t uid;
        gid_t gid;
        int r = caddy_ids(&uid, &gid, err);
        if (r < 0)
                return r;
        const char *path = etc;
        r = cell_proxy_dir(etc, CONF_DIR_MODE);
        if (r >= 0 && (r = cell_proxy_file(path = conf, CONF_MODE)) == -ENOENT)
                r = 0; /* the first render writes it */
        /* Its HOME: autosave.json, locks, the admin socket. Made the user's without following anything in it (an
         * earlier picd ran Caddy as root, so what is there may be root's). */
        if (r >= 0 && (r = mkdir_p(path = home, 0700)) >= 0 && (r = chown_tree_nofollow(home, uid, gid)) >= 0 &&
            chmod(home, 0700) < 0)
                r = negative_errno();
        if (r < 0)
                return pic_error(err, r, NULL, "cannot prepare %s for %s: %s", path, CELL_PROXY_USER, strerror(-r));
        c->authz_changed = proxy_authz_changed;
        return 0;
}

static int proxy_apply(Cell *c, bool files_changed, PicError *err) {
        ServiceStatus ss;
        if (supervisor_status(c->supervisor, PROXY_SERVICE, &ss) < 0)
                return 1;
        /* A Caddy on its way back reads the new file anyway; a stopped or failed one gets a fresh start. */
        if (ss.state == SERVICE_BACKOFF || ss.state == SERVICE_STOPPING)
                return 0;
        if (ss.state != SERVICE_RUNNING)
                return 1;
        if (!files_changed)
                return 0;
        _cleanup_free_ char *conf = cell_service_path(c, PROXY_SERVICE, CONF_NAME), *admin = run_path(c, PROXY_ADMIN_SOCKET);
        _cleanup_free_ char *text = NULL, *reply = NULL;
        size_t len;
        if (!conf || !admin)
                return -ENOMEM;
        int r = read_file_full(conf, CONF_MAX, &text, &len);
        if (r < 0)
                return pic_error(err, r, NULL, "cannot read %s: %s", conf, strerror(-r));
        uid_t uid;
        r = caddy_ids(&uid, NULL, err);
        if (r < 0)
                return r;
        int status = 0;
        r = caddy_admin_request(admin, uid, ss.pid, "POST", "/load", text, len, LOAD_TIMEOUT_USEC, &status, &reply);
        if (r == -ENOENT || r == -ECONNREFUSED) {
                /* Started but not listening yet: it may have read the old file already, so restart it. */
                log_warn("proxy: caddy's admin socket is not up (%s); restarting caddy", strerror(-r));
                return 1;
        }
        if (r == -EPERM)
                return pic_error(err, -EHOSTDOWN, NULL, "%s is not the socket of the caddy picd started; no /load sent",
                                 admin);
        if (r < 0)
                return pic_error(err, -EHOSTDOWN, NULL, "caddy's admin API did not answer /load: %s", strerror(-r));
        if (status != 200) {
                json_t *j = reply ? json_loads(reply, 0, NULL) : NULL;
                const char *msg = json_string_value(json_object_get(j, "error"));
                _cleanup_free_ char *m = strdup(msg ? msg : reply ? reply : "");
                json_decref(j);
                if (m)
                        one_line(m);
                /* Caddy keeps serving the config it had; the caller takes the store change back. */
                return pic_error(err, -EBADMSG, NULL, "caddy refused the new configuration (HTTP %d): %.300s", status,
                                 m ? m : "");
        }
        return 0;
}

/* picd's authorization decisions changed (a peer's grant, an app password, the fast set): render, and when
 * the text changed, write it and POST /load. No `caddy validate` first (0.4 s, in the way of every peer
 * change): /load checks the whole config itself and keeps the old one serving when it refuses, and then the
 * old file is put back too, so file and Caddy agree. */
static int proxy_push(Cell *c, PicError *err) {
        ServiceStatus ss;
        if (!c->supervisor || supervisor_status(c->supervisor, PROXY_SERVICE, &ss) < 0)
                return 0; /* not started yet: it renders everything when it starts */
        ServiceFiles files = { 0 };
        int r = proxy_render_files(c, &files, err);
        _cleanup_free_ char *path = cell_service_path(c, PROXY_SERVICE, CONF_NAME), *old = NULL;
        size_t old_len = 0;
        if (r >= 0 && !path)
                r = -ENOMEM;
        if (r >= 0 && read_file_full(path, CONF_MAX, &old, &old_len) < 0)
                old = NULL;
        if (r >= 0)
                r = write_file_atomic(path, files.v[0].content, files.v[0].len, CONF_MODE, NULL, NULL, err);
        service_files_done(&files);
        if (r <= 0)
                return r;
        r = proxy_apply(c, true, err);
        if (r > 0) {
                /* Not running: it reads the new file when it starts. */
                (void) supervisor_restart(c->supervisor, PROXY_SERVICE);
                return 0;
        }
        if (r < 0 && old) {
                PicError ignored = { 0 };
                (void) write_file_atomic(path, old, old_len, CONF_MODE, NULL, NULL, &ignored);
        }
        return r;
}

/* A revoke that Caddy did not take must not leave it accepting what was revoked: empty the fast set, write
 * that config and restart Caddy on it (down, if it refuses even that: closed either way). */
static void proxy_fail_closed(Cell *c, const PicError *why) {
        log_error("proxy: caddy did not take picd's authorization change (%s); restarting it without its "
                  "in-process app-password check", why->message);
        (void) accounts_fast_clear(c);
        ServiceFiles files = { 0 };
        PicError err = { 0 };
        _cleanup_free_ char *path = cell_service_path(c, PROXY_SERVICE, CONF_NAME);
        int r = path ? proxy_render_files(c, &files, &err) : -ENOMEM;
        if (r >= 0)
                r = write_file_atomic(path, files.v[0].content, files.v[0].len, CONF_MODE, NULL, NULL, &err);
        service_files_done(&files);
        if (r < 0 && path)
                (void) unlink(path); /* no file: caddy cannot start with an old one */
        (void) supervisor_restart(c->supervisor, PROXY_SERVICE);
}

typedef struct ProxyState {
        LoopTimer *push;
} ProxyState;

static ProxyState *proxy_state(Cell *c) {
        void **d = cell_service_data(c, PROXY_SERVICE);
        if (d && !*d)
                *d = calloc(1, sizeof(ProxyState));
        return d ? *d : NULL;
}

static void fast_push_due(Loop *l, void *userdata) {
        Cell *c = userdata;
        ProxyState *st = proxy_state(c);
        if (st)
                st->push = NULL;
        PicError err = { 0 };
        if (proxy_push(c, &err) < 0)
                proxy_fail_closed(c, &err);
}

/* The fast set changed (core/accounts.c): additions and the periodic emptying are not urgent. Debounced: the
 * push goes out once the clients that caused it have been quiet for FAST_PUSH_USEC, because a push swaps
 * Caddy's config and so closes idle keep-alive connections — closed mid-burst, a client that reuses one at that
 * instant sees its request fail; closed after, it just opens a new one next time. */
static void proxy_authz_changed(Cell *c) {
        ProxyState *st = proxy_state(c);
        if (!st || !c->loop)
                return;
        if (st->push)
                loop_cancel_timer(c->loop, st->push);
        if (loop_add_timer(c->loop, FAST_PUSH_USEC, fast_push_due, c, &st->push) < 0)
                st->push = NULL;
}

/* The index the render reads follows the peer change before the store commits it; undone on failure. */
static int proxy_peer_changed(Cell *c, const Peer *old, const Peer *new, PicError *err) {
        accounts_peer_changed(c, old, new);
        int r = proxy_push(c, err);
        if (r < 0) {
                accounts_peer_changed(c, new, old);
                PicError ignored = { 0 };
                (void) proxy_push(c, &ignored);
        }
        return r;
}

/* A revoked app password, a deleted user: out of Caddy before the API call that did it returns. */
static void proxy_user_changed(Cell *c, const char *user, UserEvent ev) {
        if (ev == USER_CREATED)
                return;
        PicError err = { 0 };
        if (proxy_push(c, &err) < 0)
                proxy_fail_closed(c, &err);
}

static void proxy_teardown(Cell *c) {
        void **d = cell_service_data(c, PROXY_SERVICE);
        ProxyState *st = d ? *d : NULL;
        if (st && st->push && c->loop)
                loop_cancel_timer(c->loop, st->push);
        free(st);
        if (d)
                *d = NULL;
        if (c->authz_changed == proxy_authz_changed)
                c->authz_changed = NULL;
}

/* Both servers of a site bind its virtual IP: one port cannot be both. */
static int proxy_validate(Cell *c, json_t *merged, json_t *flat, PicError *err) {
        bool http = json_object_get(flat, "proxy.http_port"), https = json_object_get(flat, "proxy.https_port");
        if (!http && !https)
                return 0;
        if (json_integer_value(json_object_get(merged, "proxy.http_port")) ==
            json_integer_value(json_object_get(merged, "proxy.https_port")))
                return pic_error(err, -EINVAL, http ? "proxy.http_port" : "proxy.https_port",
                                 "proxy.http_port and proxy.https_port must differ");
        return 0;
}

const ServiceOps svc_proxy_ops = {
        .name = PROXY_SERVICE,
        .settings = settings,
        .n_settings = ELEMENTSOF(settings),
        .watches = watches,
        .render = proxy_render_files,
        .check = proxy_check,
        .argv = proxy_argv,
        /* Its own user, with the one privilege it needs: binding :443 and :80 on the virtual IPs. */
        .run_as = CELL_PROXY_USER,
        .ambient_caps = UINT64_C(1) << CAP_NET_BIND_SERVICE,
        /* Debian's package puts caddy in www-data, the group of Roundcube's workers and of /etc/roundcube's
         * secrets: Caddy gets none of that, only its own group. */
        .run_as_group_only = true,
        .setup = proxy_setup,
        .apply = proxy_apply,
        .validate = proxy_validate,
        .peer_changed = proxy_peer_changed,
        .user_changed = proxy_user_changed,
        .teardown = proxy_teardown,
};
