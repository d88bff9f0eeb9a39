/* Caddy under the supervisor: render its whole JSON config (render.c) from the registry and the cell CA, check
 * it with `caddy validate`, run `caddy run --config F` in the cell namespace, and apply changes (renewed
 * certificates included) with POST /load on its admin socket, which swaps the config without dropping requests
 * and keeps the old one serving when it refuses the new one. */
#include "services/proxy/proxy.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "basic/fileio.h"
#include "basic/log.h"
#include "basic/spawn.h"
#include "basic/strbuf.h"
#include "basic/time-util.h"
#include "basic/util.h"
#include "core/ca.h"
#include "services/proxy/caddy-admin.h"
#include "services/proxy/render.h"

#define CONF_NAME "caddy.json"
#define CHECK_TIMEOUT_USEC (20 * USEC_PER_SEC)
#define LOAD_TIMEOUT_USEC (20 * USEC_PER_SEC)
#define CONF_MAX (4 * 1024 * 1024)

static const SettingDef settings[] = {
        { "proxy.http_port", SETTING_INT, "80", NULL, 1, 65535, false,
          "Plain-HTTP port of every site (the CA root download; everything else redirects to HTTPS)" },
        { "proxy.https_port", SETTING_INT, "443", NULL, 1, 65535, false, "HTTPS port on each service's virtual IP" },
};

/* The certificates and names it serves change with these; the CA module, registered before, re-issues first. */
static const char *const watches[] = { "cell_name", "domain", "ip_range", "wireguard.address", "ca.leaf_days",
                                       "ca.leaf_seconds", NULL };

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
} Paths;

static void paths_done(Paths *p) {
        free(p->admin);
        free(p->auth);
        free(p->home);
        for (size_t i = 0; i < ELEMENTSOF(p->upstream); i++)
                free(p->upstream[i]);
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
        for (size_t i = 0; i < c->registry.n; i++) {
                const ServiceEndpoint *e = c->registry.endpoints[i];
                uint32_t vip;
                if (!e->http_upstream || !e->dns_labels || !e->dns_labels[0] || registry_vip_of(e, &range, &vip) < 0)
                        continue;
                ProxySite *s = &cfg.sites[cfg.n_sites];
                if (cell_ca_leaf(c, e->name, &s->cert, &s->key, NULL) < 0)
                        return pic_error(err, -EHOSTDOWN, NULL, "the cell CA has no certificate for %s", e->name);
                p.upstream[cfg.n_sites] = run_path(c, e->http_upstream);
                if (!p.upstream[cfg.n_sites])
                        return -ENOMEM;
                s->name = e->name;
                s->vip = vip;
                s->upstream = p.upstream[cfg.n_sites];
                s->forward_auth = !e->http_own_auth;
                s->fastcgi_root = e->http_fastcgi_root;
                s->grant_only = e->http_grant_only;
                s->serves_root = streq(e->name, "api");
                cfg.n_sites++;
        }
        char *text = NULL;
        int r = proxy_render(&cfg, &text);
        if (r < 0)
                return pic_error(err, r, NULL, "cannot render the proxy configuration");
        r = service_files_add(out, CONF_NAME, text, 0600);
        return r < 0 ? pic_error(err, r, NULL, "cannot render the proxy configuration") : 0;
}

/* Caddy's own error text from a /load or validate answer, on one line. */
static void one_line(char *s) {
        for (char *p = s; *p; p++)
                if (*p == '\n' || *p == '\r' || *p == '\t')
                        *p = ' ';
}

static int proxy_check(Cell *c, const char *file_name, const char *tmp_path, PicError *err) {
        _cleanup_free_ char *home = run_path(c, "caddy");
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
        _cleanup_free_ char *home = run_path(c, "caddy");
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

static int proxy_setup(Cell *c, PicError *err) {
        _cleanup_free_ char *home = run_path(c, "caddy");
        if (!home)
                return -ENOMEM;
        int r = mkdir_p(home, 0700);
        return r < 0 ? pic_error(err, r, NULL, "cannot create %s: %s", home, strerror(-r)) : 0;
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
        int status = 0;
        r = caddy_admin_request(admin, "POST", "/load", text, len, LOAD_TIMEOUT_USEC, &status, &reply);
        if (r == -ENOENT || r == -ECONNREFUSED) {
                /* Started but not listening yet: it may have read the old file already, so restart it. */
                log_warn("proxy: caddy's admin socket is not up (%s); restarting caddy", strerror(-r));
                return 1;
        }
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
        .setup = proxy_setup,
        .apply = proxy_apply,
        .validate = proxy_validate,
};
