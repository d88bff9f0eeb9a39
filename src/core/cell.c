/* The reconciler: for each service module, render (pure) → check (native checker) → atomic write →
 * start, hot apply or restart, as DESIGN.md's "one flow for every change" says. */
#include "core/cell.h"

#include <fcntl.h>
#include <pwd.h>
#include <malloc.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "basic/fileio.h"
#include "basic/log.h"
#include "basic/time-util.h"
#include "basic/util.h"
#include "crypto/secret.h"

void strv_free(char **v) {
        if (!v)
                return;
        for (char **p = v; *p; p++)
                free(*p);
        free(v);
}

int cell_proxy_gid(gid_t *ret) {
        /* The group Caddy runs with (the supervisor gives it its user's own group alone). */
        uid_t uid;
        gid_t gid;
        int r = cell_proxy_ids(&uid, &gid);
        if (r < 0)
                return r;
        /* Group 0 would hand root's group what is meant for Caddy alone. */
        if (gid == 0)
                return -EPERM;
        *ret = gid;
        return 0;
}

int cell_proxy_ids(uid_t *ret_uid, gid_t *ret_gid) {
        errno = 0;
        struct passwd *pw = getpwnam(CELL_PROXY_USER);
        if (!pw)
                return errno ? negative_errno() : -ENOENT;
        if (pw->pw_uid == 0)
                return -EPERM;
        *ret_uid = pw->pw_uid;
        if (ret_gid)
                *ret_gid = pw->pw_gid;
        return 0;
}

static int proxy_own_fd(int fd, mode_t mode) {
        gid_t gid;
        if (cell_proxy_gid(&gid) < 0) {
                gid = 0;
                mode &= ~(mode_t) 02070;
        }
        if (fchown(fd, 0, gid) < 0 || fchmod(fd, mode) < 0)
                return negative_errno();
        return 0;
}

int cell_proxy_dir(const char *path, mode_t mode) {
        int r = mkdir_p(path, 0700);
        if (r < 0)
                return r;
        _cleanup_close_ int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return negative_errno();
        return proxy_own_fd(fd, mode);
}

int cell_proxy_file(const char *path, mode_t mode) {
        _cleanup_close_ int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
        if (fd < 0)
                return negative_errno();
        struct stat st;
        if (fstat(fd, &st) < 0)
                return negative_errno();
        if (!S_ISREG(st.st_mode))
                return -EINVAL;
        return proxy_own_fd(fd, mode);
}

int service_files_add(ServiceFiles *f, const char *name, char *content_owned, mode_t mode) {
        if (!content_owned)
                return -ENOMEM;
        ServiceFile *n = realloc(f->v, (f->n + 1) * sizeof *n);
        char *nm = strdup(name);
        if (!n || !nm) {
                free(nm);
                if ((mode & 077) == 0)
                        secret_wipe(content_owned, strlen(content_owned));
                free(content_owned);
                if (n)
                        f->v = n;
                return -ENOMEM;
        }
        f->v = n;
        f->v[f->n++] = (ServiceFile) { .name = nm, .content = content_owned, .len = strlen(content_owned), .mode = mode };
        return 0;
}

void service_files_done(ServiceFiles *f) {
        for (size_t i = 0; i < f->n; i++) {
                free(f->v[i].name);
                /* A file only its owner may read may hold a secret (the mail relay's login): wiped, not just freed. */
                if ((f->v[i].mode & 077) == 0)
                        secret_wipe(f->v[i].content, f->v[i].len);
                free(f->v[i].content);
        }
        free(f->v);
        *f = (ServiceFiles) { 0 };
}

int cell_register_service(Cell *c, const ServiceOps *ops) {
        if (c->n_services >= ELEMENTSOF(c->services))
                return -ENOSPC;
        if (cell_find_service(c, ops->name)) {
                log_error("service module \"%s\" is registered twice", ops->name);
                return -EEXIST;
        }
        /* Checked in full before anything is added, so a refused module leaves no endpoint behind. */
        Registry trial = c->registry;
        char why[256] = "";
        int r = 0;
        for (size_t i = 0; r >= 0 && i < ops->n_endpoints; i++)
                r = registry_add(&trial, ops->name, &ops->endpoints[i], why, sizeof why);
        Settings *probe = NULL;
        if (r >= 0 && ops->n_settings > 0) {
                r = settings_new_like(c->settings, &probe);
                if (r >= 0)
                        r = settings_add_defs(probe, ops->name, ops->settings, ops->n_settings, why, sizeof why);
                settings_free(probe);
        }
        if (r >= 0 && ops->n_settings > 0)
                r = settings_add_defs(c->settings, ops->name, ops->settings, ops->n_settings, why, sizeof why);
        if (r < 0) {
                log_error("service module \"%s\": %s", ops->name, why[0] ? why : strerror(-r));
                return r;
        }
        c->registry = trial;
        c->services[c->n_services++] = ops;
        return 0;
}

bool cell_service_is_listed(const ServiceOps *ops) {
        return ops->render || ops->argv || ops->setup || ops->apply || ops->probe || ops->status;
}

bool cell_service_affected(const Settings *s, const ServiceOps *ops, const char *key) {
        const char *owner = settings_def_owner(s, key);
        if (owner && streq(owner, ops->name))
                return true;
        for (const char *const *w = ops->watches; w && *w; w++)
                if (streq(*w, key))
                        return true;
        return false;
}

json_t *cell_key_services(Cell *c, const char *key) {
        json_t *a = json_array();
        for (size_t i = 0; a && i < c->n_services; i++)
                if (cell_service_affected(c->settings, c->services[i], key))
                        json_array_append_new(a, json_string(c->services[i]->name));
        return a;
}

const ServiceOps *cell_find_service(Cell *c, const char *name) {
        for (size_t i = 0; i < c->n_services; i++)
                if (streq(c->services[i]->name, name))
                        return c->services[i];
        return NULL;
}

static const ServiceOps *endpoint_owner(Cell *c, const char *endpoint) {
        for (size_t i = 0; i < c->registry.n; i++)
                if (streq(c->registry.endpoints[i]->name, endpoint))
                        return cell_find_service(c, c->registry.owners[i]);
        return NULL;
}

bool cell_http_authorizes(Cell *c, const char *endpoint) {
        const ServiceOps *ops = endpoint_owner(c, endpoint);
        return ops && ops->http_authorize;
}

int cell_http_authorize(Cell *c, const char *endpoint, const char *user, const ProxiedRequest *req, PicError *err) {
        const ServiceOps *ops = endpoint_owner(c, endpoint);
        return ops && ops->http_authorize ? ops->http_authorize(c, endpoint, user, req, err) : 0;
}

void **cell_service_data(Cell *c, const char *name) {
        for (size_t i = 0; i < c->n_services; i++)
                if (streq(c->services[i]->name, name))
                        return &c->service_data[i];
        return NULL;
}

char *cell_service_path(Cell *c, const char *service, const char *file) {
        size_t n = strlen(c->state_dir) + strlen(service) + (file ? strlen(file) : 0) + 8;
        char *p = malloc(n);
        if (!p)
                return NULL;
        if (file)
                snprintf(p, n, "%s/etc/%s/%s", c->state_dir, service, file);
        else
                snprintf(p, n, "%s/etc/%s", c->state_dir, service);
        return p;
}

typedef struct CheckCtx {
        Cell *cell;
        const ServiceOps *ops;
        const char *file_name;
} CheckCtx;

static int check_trampoline(const char *tmp_path, void *userdata, PicError *err) {
        CheckCtx *cc = userdata;
        return cc->ops->check(cc->cell, cc->file_name, tmp_path, err);
}

/* Writes every rendered file; returns 1 if any changed. */
static int write_files(Cell *c, const ServiceOps *ops, ServiceFiles *files, PicError *err) {
        _cleanup_free_ char *dir = cell_service_path(c, ops->name, NULL);
        if (!dir)
                return -ENOMEM;
        int r = mkdir_p(dir, 0755);
        if (r < 0)
                return pic_error(err, r, NULL, "cannot create %s: %s", dir, strerror(-r));
        bool changed = false;
        for (size_t i = 0; i < files->n; i++) {
                _cleanup_free_ char *path = cell_service_path(c, ops->name, files->v[i].name);
                if (!path)
                        return -ENOMEM;
                /* A file name may carry a sub-directory ("hosts.d/<mac>" for dnsmasq's dhcp-hostsdir). */
                char *slash = strrchr(path, '/');
                if (strchr(files->v[i].name, '/') && slash) {
                        *slash = '\0';
                        r = mkdir_p(path, 0755);
                        *slash = '/';
                        if (r < 0)
                                return pic_error(err, r, NULL, "cannot create the directory of %s: %s", path,
                                                 strerror(-r));
                }
                CheckCtx cc = { c, ops, files->v[i].name };
                r = write_file_atomic(path, files->v[i].content, files->v[i].len, files->v[i].mode,
                                      ops->check ? check_trampoline : NULL, &cc, err);
                if (r < 0)
                        return r;
                if (r == WRITE_ATOMIC_WRITTEN)
                        changed = true;
        }
        return changed;
}

static int service_index(Cell *c, const char *name) {
        for (size_t i = 0; i < c->n_services; i++)
                if (streq(c->services[i]->name, name))
                        return (int) i;
        return -ENOENT;
}

const char *cell_service_error(Cell *c, const char *name) {
        int i = service_index(c, name);
        return i >= 0 ? c->service_error[i] : "";
}

static int service_sync(Cell *c, const ServiceOps *ops, bool restart, PicError *err) {
        ServiceFiles files = { 0 };
        int r = 0;
        bool changed = false;
        if (ops->enabled && !ops->enabled(c)) {
                ServiceStatus was;
                if (supervisor_status(c->supervisor, ops->name, &was) < 0)
                        return 0;
                r = supervisor_remove(c->supervisor, ops->name);
                if (ops->teardown)
                        ops->teardown(c);
                return r < 0 ? pic_error(err, r, NULL, "cannot stop %s: %s", ops->name, strerror(-r)) : 0;
        }
        if (ops->render) {
                r = ops->render(c, &files, err);
                if (r >= 0)
                        r = write_files(c, ops, &files, err);
                service_files_done(&files);
                if (r < 0)
                        return r;
                changed = r > 0;
        }

        ServiceStatus st;
        bool known = supervisor_status(c->supervisor, ops->name, &st) >= 0;
        if (ops->argv && !known) {
                if (ops->setup) {
                        r = ops->setup(c, err);
                        if (r < 0)
                                return r;
                }
                char **argv = NULL, **env = NULL;
                r = ops->argv(c, &argv, &env);
                if (r < 0)
                        return pic_error(err, r, NULL, "cannot build the command line of %s", ops->name);
                ServiceSpec spec = { .name = ops->name, .argv = argv, .env = env, .in_netns = c->netns_fd >= 0,
                                     .user = ops->run_as, .user_group_only = ops->run_as_group_only,
                                     .ambient_caps = ops->ambient_caps };
                r = supervisor_add(c->supervisor, &spec);
                strv_free(argv);
                strv_free(env);
                if (r >= 0)
                        r = supervisor_start(c->supervisor, ops->name);
                /* Whatever the cause (a missing binary is ENOENT), the client sees "service unavailable". */
                return r < 0 ? pic_error(err, -EHOSTDOWN, NULL, "cannot start %s: %s", ops->name, strerror(-r)) : 0;
        }
        if (!ops->argv && ops->setup && !known && restart) {
                r = ops->setup(c, err);
                if (r < 0)
                        return r;
        }
        if ((!restart || ops->apply_decides_restart) && ops->apply) {
                r = ops->apply(c, changed, err);
                if (r < 0)
                        return r;
                restart = r > 0;
        }
        if (restart && known) {
                r = supervisor_restart(c->supervisor, ops->name);
                if (r < 0)
                        return pic_error(err, -EHOSTDOWN, NULL, "cannot restart %s: %s", ops->name, strerror(-r));
        }
        return 0;
}

int cell_service_sync(Cell *c, const ServiceOps *ops, bool restart, PicError *err) {
        PicError local = { 0 };
        if (!err)
                err = &local;
        int r = service_sync(c, ops, restart, err);
        int i = service_index(c, ops->name);
        if (i >= 0)
                snprintf(c->service_error[i], sizeof c->service_error[i], "%s",
                         r >= 0 ? "" : err->message[0] ? err->message : strerror(-r));
        return r;
}

/* The supervisor reports every state change; a (re)started daemon gets its module's on_running so runtime
 * state that lives outside its config files is applied again. */
static void on_service_state(Supervisor *s, const char *name, ServiceState state, void *userdata) {
        Cell *c = userdata;
        const ServiceOps *ops = cell_find_service(c, name);
        if (ops && ops->on_running && state == SERVICE_RUNNING)
                ops->on_running(c);
}

static int check_settings(json_t *merged, json_t *flat, void *userdata, PicError *err) {
        Cell *c = userdata;
        for (size_t i = 0; i < c->n_services; i++)
                if (c->services[i]->validate) {
                        int r = c->services[i]->validate(c, merged, flat, err);
                        if (r < 0)
                                return r;
                }
        return 0;
}

int cell_attach(Cell *c) {
        for (size_t i = 0; i < c->n_services; i++)
                for (const char *const *w = c->services[i]->watches; w && *w; w++)
                        if (!settings_def_find(c->settings, *w)) {
                                log_error("service module \"%s\" watches \"%s\", which no module declares",
                                          c->services[i]->name, *w);
                                return -ENOENT;
                        }
        supervisor_set_state_callback(c->supervisor, on_service_state, c);
        settings_set_check(c->settings, check_settings, c);
        return 0;
}

void cell_start_services(Cell *c) {
        for (size_t i = 0; i < c->n_services; i++) {
                PicError err = { 0 };
                const ServiceOps *ops = c->services[i];
                if (!ops->argv && ops->setup) {
                        int r = ops->setup(c, &err);
                        if (r < 0) {
                                log_error("service %s: setup failed: %s", ops->name, err.message);
                                continue;
                        }
                }
                int r = cell_service_sync(c, ops, false, &err);
                if (r < 0)
                        log_error("service %s: %s", ops->name, err.message[0] ? err.message : strerror(-r));
        }
}

int cell_apply_settings(Cell *c, char *const *keys, size_t n_keys, bool restart, json_t *ret_services,
                        PicError *err) {
        for (size_t i = 0; i < c->n_services; i++) {
                const ServiceOps *ops = c->services[i];
                bool affected = false;
                for (size_t k = 0; k < n_keys && !affected; k++)
                        affected = cell_service_affected(c->settings, ops, keys[k]);
                if (!affected)
                        continue;
                int r = cell_service_sync(c, ops, restart, err);
                if (r < 0)
                        return r;
                if (ret_services && cell_service_is_listed(ops))
                        json_array_append_new(ret_services, json_string(ops->name));
        }
        return 0;
}

void cell_stop_services(Cell *c) {
        supervisor_stop_all(c->supervisor);
        for (size_t i = c->n_services; i > 0; i--)
                if (c->services[i - 1]->teardown)
                        c->services[i - 1]->teardown(c);
        loop_cancel_timer(c->loop, c->nft_idle);
        c->nft_idle = NULL;
        c->nft = nft_free(c->nft);
}

void cell_services_down(Cell *c) {
        supervisor_stop_all_blocking(c->supervisor);
        for (size_t i = c->n_services; i > 0; i--)
                if (c->services[i - 1]->teardown)
                        c->services[i - 1]->teardown(c);
        /* Forgotten by the supervisor too, so the next sync takes the first-start path, setup included. */
        for (size_t i = 0; i < c->n_services; i++)
                (void) supervisor_remove(c->supervisor, c->services[i]->name);
}

int cell_services_up(Cell *c, json_t *ret_names, PicError *err) {
        int k = cell_attach(c);
        if (k < 0)
                return pic_error(err, k, NULL, "a service module watches a setting no module declares");
        for (size_t i = 0; i < c->n_services; i++) {
                const ServiceOps *ops = c->services[i];
                int r = 0;
                /* A daemon's setup runs inside the sync (first start); one without a process runs it here. */
                if (!ops->argv && ops->setup && (!ops->enabled || ops->enabled(c)))
                        r = ops->setup(c, err);
                if (r >= 0)
                        r = cell_service_sync(c, ops, false, err);
                if (r < 0)
                        return r;
                if (ret_names && cell_service_is_listed(ops))
                        json_array_append_new(ret_names, json_string(ops->name));
        }
        return 0;
}

int cell_peer_changed(Cell *c, const Peer *old, const Peer *new, PicError *err) {
        size_t done = 0;
        int r = 0;
        for (; done < c->n_services; done++) {
                const ServiceOps *ops = c->services[done];
                if (!ops->peer_changed)
                        continue;
                r = ops->peer_changed(c, old, new, err);
                if (r < 0)
                        break;
        }
        if (r >= 0)
                return 0;
        /* Undo in reverse order what the earlier services applied. */
        for (size_t i = done; i > 0; i--) {
                const ServiceOps *ops = c->services[i - 1];
                if (!ops->peer_changed)
                        continue;
                PicError ignored = { 0 };
                int k = ops->peer_changed(c, new, old, &ignored);
                if (k < 0)
                        log_error("service %s: could not undo a peer change: %s", ops->name, ignored.message);
        }
        return r;
}

int cell_host_changed(Cell *c, const char *hostname, uint32_t ip, PicError *err) {
        int first = 0;
        for (size_t i = 0; i < c->n_services; i++) {
                const ServiceOps *ops = c->services[i];
                if (!ops->host_changed)
                        continue;
                int r = ops->host_changed(c, hostname, ip, err);
                if (r < 0) {
                        log_warn("service %s: host \"%s\": %s", ops->name, hostname, err ? err->message : strerror(-r));
                        if (first == 0)
                                first = r;
                }
        }
        return first;
}

int cell_dns_record_changed(Cell *c, const DnsRecord *removed, const DnsRecord *added, PicError *err) {
        for (size_t i = 0; i < c->n_services; i++) {
                const ServiceOps *ops = c->services[i];
                int r = ops->dns_record_changed ? ops->dns_record_changed(c, removed, added, err) : 0;
                if (r < 0)
                        return r;
        }
        return 0;
}

/* A burst of changes (a bulk import, bench/peers) reuses the context; a cell at rest does not carry it.
 * Re-creating one later costs 1-25 ms (it re-reads the ruleset), which a person at the API does not notice. */
#define NFT_IDLE_USEC (2 * USEC_PER_SEC)

static void on_nft_idle(Loop *l, void *userdata) {
        Cell *c = userdata;
        c->nft_idle = NULL;
        c->nft = nft_free(c->nft);
        malloc_trim(0);
}

int cell_nft_run(Cell *c, const char *script, char **ret_output, char **ret_error) {
        if (!c->nft) {
                int r = nft_new(c->netns_fd, &c->nft);
                if (r < 0) {
                        if (ret_error)
                                *ret_error = strdup("cannot open nftables in the cell namespace");
                        return r;
                }
        }
        int r = nft_run(c->nft, script, ret_output, ret_error);
        if (r < 0)
                c->nft = nft_free(c->nft); /* its socket or cache may be what went wrong */
        if (c->loop) {
                loop_cancel_timer(c->loop, c->nft_idle);
                c->nft_idle = NULL;
                if (c->nft)
                        (void) loop_add_timer(c->loop, NFT_IDLE_USEC, on_nft_idle, c, &c->nft_idle);
        }
        return r;
}

int cell_nft_query(Cell *c, const char *script, char **ret_output, char **ret_error) {
        if (c->nft)
                return nft_run(c->nft, script, ret_output, ret_error);
        /* No edit is under way: a throwaway context, so a health probe does not keep one alive. */
        Nft *n = NULL;
        int r = nft_new(c->netns_fd, &n);
        if (r >= 0)
                r = nft_run(n, script, ret_output, ret_error);
        nft_free(n);
        malloc_trim(0);
        return r;
}
