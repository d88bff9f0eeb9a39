/* Cell: the running cell's context (store, settings, loop, supervisor, namespace, registered service
 * modules) and the reconciler that drives each service module's ops table after a change.
 * picd's main owns the Cell; handlers borrow it. */
#pragma once
#include <stdbool.h>
#include <sys/types.h>

#include "core/loop.h"
#include "core/registry.h"
#include "net/nft.h"
#include "core/settings.h"
#include "core/supervisor.h"
#include "store/dns.h"
#include "store/peers.h"
#include "store/store.h"

typedef struct Cell Cell;

/* One generated file of a service, relative to the service's config dir STATE/etc/<service>/. */
typedef struct ServiceFile {
        char *name;
        char *content;
        size_t len;
        mode_t mode;
} ServiceFile;

typedef struct ServiceFiles {
        ServiceFile *v;
        size_t n;
} ServiceFiles;

int service_files_add(ServiceFiles *f, const char *name, char *content_owned, mode_t mode);
void service_files_done(ServiceFiles *f);

/* What happened to a user account (ServiceOps.user_changed). */
typedef enum UserEvent {
        USER_CREATED, /* a new account */
        USER_CREDS,   /* its account password changed, or an app password was created or revoked */
        USER_DELETED, /* gone, after every module's user_purge */
} UserEvent;

/* One request Caddy is about to pass to a module's backend, as forward_auth describes it to picd. */
typedef struct ProxiedRequest {
        const char *method;      /* "PUT" */
        const char *uri;         /* path and query as the client sent them, still percent-encoded */
        const char *destination; /* WebDAV Destination header, or NULL */
        const char *host;        /* the Host the client asked for, or NULL */
        int64_t length;          /* Content-Length, -1 when the body has none (chunked, or no body) */
} ProxiedRequest;

/* A managed service module (DESIGN.md "one const ops table"): everything about a service is declared here —
 * its addresses, DNS names and grants (endpoints), its settings rows and the other keys it reads — and the
 * cell derives the rest (virtual IPs on the bridge, DNS data and views, firewall grants, /api/config, which
 * module a settings change reaches). Every callback may be NULL; a module with no callback at all only
 * reserves its endpoints and settings for a daemon that comes later, and is not listed as a service. */
typedef struct ServiceOps {
        const char *name;
        const ServiceEndpoint *endpoints;
        size_t n_endpoints;
        const SettingDef *settings; /* keys it owns; a change reaches this module */
        size_t n_settings;
        const char *const *watches; /* other keys (the cell's or another module's) it reads; NULL-terminated */
        /* Pure: the cell's state → the files the daemon reads. */
        int (*render)(Cell *c, ServiceFiles *out, PicError *err);
        /* The daemon's own checker on a candidate file (tmp_path) before it replaces the live one. */
        int (*check)(Cell *c, const char *file_name, const char *tmp_path, PicError *err);
        /* argv/env of the daemon (NULL-terminated, caller frees with strv_free); NULL ops = no process. */
        int (*argv)(Cell *c, char ***ret_argv, char ***ret_env);
        /* The system user the supervisor runs the daemon as (with that user's groups); NULL = root, for daemons
         * that need root to start and drop privileges themselves. setup makes what the daemon writes its own. */
        const char *run_as;
        /* With run_as: capabilities (bit n = capability n) the daemon keeps as ambient ones across the change of
         * user, e.g. CAP_NET_BIND_SERVICE for a daemon that binds ports below 1024 itself; 0 = none. */
        uint64_t ambient_caps;
        /* With run_as: its primary group alone, not the ones /etc/group adds (a package may put its user in a
         * group that reaches more than the daemon needs: Debian's caddy is in www-data). */
        bool run_as_group_only;
        /* Prepare the host side before the first start (interfaces, dirs, ownership). */
        int (*setup)(Cell *c, PicError *err);
        /* Hot apply after files_changed or a settings change; return 1 to ask for a restart instead. */
        int (*apply)(Cell *c, bool files_changed, PicError *err);
        /* The daemon (re)started: re-apply runtime state (unbound local data, UAPI peers, ...). Called from the
         * supervisor's state callback right after the fork, so the daemon may not be ready yet. */
        void (*on_running)(Cell *c);
        /* Cheap health check of the live daemon. */
        int (*probe)(Cell *c, PicError *err);
        /* The module's own live view as JSON (chronyd's stratum and clients, the WireGuard interface, ...),
         * served as GET /api/services/{name}/status without a handler of its own. */
        int (*status)(Cell *c, json_t **ret, PicError *err);
        /* Undo setup at shutdown (optional). */
        void (*teardown)(Cell *c);
        /* A peer was created (old NULL), changed, or deleted (new NULL): edit only that peer's live state
         * (UAPI peer, nft elements, DNS view membership). Must be reversible by the opposite call. */
        int (*peer_changed)(Cell *c, const Peer *old, const Peer *new, PicError *err);
        /* A dynamic host name appeared (ip != 0) or went away (ip == 0), e.g. a DHCP lease. */
        int (*host_changed)(Cell *c, const char *hostname, uint32_t ip, PicError *err);
        /* A custom DNS record was stored (added non-NULL: publish it alongside what is there) or deleted
         * (removed non-NULL: publish what the store now holds at its name, which also mends the name after a
         * rollback), inside the caller's transaction. A CNAME also re-publishes the chains through it. */
        int (*dns_record_changed)(Cell *c, const DnsRecord *removed, const DnsRecord *added, PicError *err);
        /* DNS data the module publishes in the cell's zone (the mail domain's MX, SPF, DKIM, DMARC): records
         * with names relative to the zone, in a malloc'ed array the caller frees. The dns module adds them to
         * what it publishes after every unbound start and whenever it republishes a name; the module itself
         * announces a change through cell_dns_record_changed (removed, then added). */
        int (*dns_records)(Cell *c, DnsRecord **ret, size_t *ret_n);
        /* A user account changed (core/accounts.c, after the store committed it): the module brings its own
         * per-user state in step (a default calendar, a password file, a mail directory). Errors are the
         * module's to log: an account change is never undone because one module lagged. */
        void (*user_changed)(Cell *c, const char *user, UserEvent ev);
        /* What the user still owns here, as short phrases appended to the array owned ("2 calendars",
         * "14 files, 3.1 MB"): any makes DELETE /api/users/{name} a 409 naming them unless ?purge=true. */
        int (*user_owns)(Cell *c, const char *user, json_t *owned, PicError *err);
        /* Removes everything the user owns here (DELETE /api/users/{name}?purge=true), before the account. */
        int (*user_purge)(Cell *c, const char *user, PicError *err);
        /* Adds the module's section to GET /api/users/{name}/storage (json object owned by the caller), e.g.
         * "files": {usage, quota, ...}; each module names its own key. */
        int (*user_storage)(Cell *c, const char *user, json_t *storage, PicError *err);
        /* After forward_auth accepted user for one of the module's endpoints: may refuse this request anyway
         * (-EPERM 403, -EDQUOT 507, -EMSGSIZE 411 a length is needed, -EINVAL 400), e.g. a write past the
         * user's quota, before Caddy sends a byte of its body to the backend. */
        int (*http_authorize)(Cell *c, const char *endpoint, const char *user, const ProxiedRequest *req,
                              PicError *err);
        /* Whether the module should run now (e.g. dhcp.enabled); NULL = always. When it turns false the
         * reconciler removes the daemon and calls teardown. */
        bool (*enabled)(Cell *c);
        /* Settings rules that need the live system (an interface's address): run on the merged would-be
         * values before a change is stored; flat holds the keys being changed. */
        int (*validate)(Cell *c, json_t *merged, json_t *flat, PicError *err);
        /* A restart the caller asks for (POST /api/config/apply) still goes through apply, which returns 1
         * only when the daemon must really restart (chrony's allowed networks change live via chronyc). */
        bool apply_decides_restart;
} ServiceOps;

/* The front door's system user (Debian's caddy package makes it). Its group is what reaches, and all that
 * reaches, what Caddy must read or connect to: the leaf certificates' keys (core/ca.c), the rendered proxy
 * config, auth.sock, and the backends' sockets in CELL_PROXIED_DIR. */
#define CELL_PROXY_USER "caddy"
/* Under STATE: the directory (0750 root:CELL_PROXY_USER) of the sockets Caddy proxies to, so that only root and
 * Caddy can connect to them whatever their own modes (lighttpd cannot give its sockets a group). */
#define CELL_PROXIED_DIR "run/proxied"

/* CELL_PROXY_USER's own group (the one Caddy runs with), or -ENOENT when the system has no such user (then what it
 * would reach stays root's). */
int cell_proxy_gid(gid_t *ret);
/* CELL_PROXY_USER's uid and primary gid (ret_gid may be NULL): -ENOENT when the system has no such user, -EPERM
 * when it is root. */
int cell_proxy_ids(uid_t *ret_uid, gid_t *ret_gid);
/* mkdir -p path (else the path must be a directory already, never a symlink), then root:CELL_PROXY_USER's group
 * with mode (setgid included: what root writes in it gets that group too). Without that group: root:root and mode
 * without its group bits. The same for a file that exists (cell_proxy_file). */
int cell_proxy_dir(const char *path, mode_t mode);
int cell_proxy_file(const char *path, mode_t mode);

struct Cell {
        Registry registry; /* every registered module's endpoints */
        Loop *loop;
        Store *store;
        Settings *settings;
        Supervisor *supervisor;
        char *state_dir;
        char *netns_name; /* NULL: host namespace */
        int netns_fd;     /* -1: host namespace */
        Nft *nft;         /* one libnftables context in the cell namespace for every module (cell_nft_run) */
        LoopTimer *nft_idle; /* drops the context (and its ~2 MiB of parser state and cache) when idle */
        const ServiceOps *services[32];
        size_t n_services;
        void *service_data[32]; /* per-module private state, indexed like services[] */
        char service_error[32][512]; /* why the last reconcile of services[i] failed, "" after a success */
        struct {
                /* The last passing probe of services[i], reused for a short while: /health is
                 * unauthenticated and must stay cheap (a probe reads /proc and dumps netlink). Valid while
                 * the daemon's pid, restart count and state are those it was taken with. */
                uint64_t at_usec;
                pid_t pid;
                unsigned restarts;
                int state;
        } probe_cache[32];
        int64_t started_at;
        struct Accounts *accounts; /* users' credentials and peers by address, in memory (core/accounts.h) */
        /* Set by the proxy module: the fast set of core/accounts.h changed (an app password was added to it,
         * or it was emptied); the proxy pushes a new config soon, not inside the request that caused it. */
        void (*authz_changed)(Cell *c);
};

void strv_free(char **v);

/* Adds a module: its endpoints to the registry, its settings rows to c->settings (which must exist, before
 * settings_load). A clash (name, virtual IP offset, DNS name, grant bit, settings key) is -EEXIST and logged
 * with both sides named. */
int cell_register_service(Cell *c, const ServiceOps *ops);
/* A module that runs or checks something (listed in /api/services and /health), as opposed to one that only
 * declares endpoints and settings. */
bool cell_service_is_listed(const ServiceOps *ops);
/* Whether a change of key reaches module ops (it owns the key or watches it). */
bool cell_service_affected(const Settings *s, const ServiceOps *ops, const char *key);
/* The names of the modules a key reaches, in start order (new reference). */
json_t *cell_key_services(Cell *c, const char *key);
const ServiceOps *cell_find_service(Cell *c, const char *name);
void **cell_service_data(Cell *c, const char *name);
/* STATE/etc/<service>[/file]; caller frees. */
char *cell_service_path(Cell *c, const char *service, const char *file);

/* The last reconcile error of a service ("" when the last one succeeded), for /api/services and /health. */
const char *cell_service_error(Cell *c, const char *name);

/* Render, check, write, then start or hot-apply one service; restart=true forces a daemon restart (unless the
 * module sets apply_decides_restart). A module whose enabled() is false is stopped instead. */
int cell_service_sync(Cell *c, const ServiceOps *ops, bool restart, PicError *err);
/* Wires the registered modules into the supervisor (on_running) and settings updates (validate), after
 * checking that every watched key exists (-ENOENT, logged, if one does not). */
int cell_attach(Cell *c);
/* Start every registered service (first boot or picd restart). Failures are logged, not fatal. Also hooks
 * the modules' on_running into the supervisor and their validate into settings updates. */
void cell_start_services(Cell *c);
/* After settings changed: sync each service a changed key reaches (cell_service_affected).
 * restart=true for POST /api/config/apply. */
int cell_apply_settings(Cell *c, char *const *keys, size_t n_keys, bool restart, json_t *ret_services,
                        PicError *err);
void cell_stop_services(Cell *c);
/* For a restore, which swaps the state every daemon and generated file derives from: stops every daemon
 * (synchronously), drops every module's live state and forgets the daemons, so that cell_services_up() then
 * takes the whole first-start path on the new state — setup (generated dirs such as dnsmasq's hosts.d, keys
 * loaded again), render, start. */
void cell_services_down(Cell *c);
/* Starts every enabled module as at boot; unlike cell_start_services, stops at and returns the first
 * failure. Appends the names of the modules brought up to ret_names (may be NULL). */
int cell_services_up(Cell *c, json_t *ret_names, PicError *err);

/* Runs an nftables script in the cell's namespace as one transaction through the cell's one context (its
 * ruleset cache makes small edits cheap even with 10,000 elements). On failure *ret_error gets nft's own
 * text and the context is dropped, so the next call starts from a fresh cache. Caller frees outputs. */
int cell_nft_run(Cell *c, const char *script, char **ret_output, char **ret_error);
/* For reads such as health probes: uses the cell's context if one is open, else a throwaway one, so a read
 * never keeps a context (and its memory) alive. */
int cell_nft_query(Cell *c, const char *script, char **ret_output, char **ret_error);

/* Whether the module that declared endpoint checks each request itself (http_authorize): then every request
 * to it must reach picd, and Caddy may not authorize one in-process. */
bool cell_http_authorizes(Cell *c, const char *endpoint);
/* The http_authorize of the module that declared endpoint (0 when it has none). */
int cell_http_authorize(Cell *c, const char *endpoint, const char *user, const ProxiedRequest *req, PicError *err);

/* Tells every service about a peer change, in registration order. If one fails, the ones already told
 * are told the reverse change (new → old), so the live system is left as it was; returns the error. */
int cell_peer_changed(Cell *c, const Peer *old, const Peer *new, PicError *err);
/* Tells every service about a dynamic host name (ip 0 = removed). Best effort: logs and returns the first error. */
int cell_host_changed(Cell *c, const char *hostname, uint32_t ip, PicError *err);
/* Tells the services that a stored DNS record changed; returns the first error. */
int cell_dns_record_changed(Cell *c, const DnsRecord *removed, const DnsRecord *added, PicError *err);
