/* WireGuard module (see wireguard.h). The backend is wireguard-go driven over UAPI; kernel WireGuard is
 * detected through generic netlink and reported, but not driven (see choose_backend). A disabled peer stays
 * on the interface with no allowed IPs: WireGuard then drops everything it sends and routes nothing to it
 * (and the firewall drops it too), but its session survives, so enabling it again is one `set` and its
 * traffic flows at once — removing it made the client wait ~11 s for its own timeouts and a new handshake. */
#include "services/wireguard/wireguard.h"

#include <stdarg.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "basic/fileio.h"
#include "basic/log.h"
#include "basic/time-util.h"
#include "basic/util.h"
#include "core/netns-run.h"
#include "core/peer.h"
#include "core/peers.h"
#include "crypto/secret.h"
#include "crypto/wgkey.h"
#include "net/genl.h"
#include "net/link.h"
#include "net/wg-uapi.h"
#include "services/mesh/mesh.h"
#include "services/network/network.h"
#include "services/wireguard/sync.h"
#include "services/wireguard/wgconfig.h"

#define SERVICE_NAME "wireguard"
#define KEY_FILE "wireguard.key"
/* wireguard-go answers ~20 ms after exec; this bounds the wait when it is slow (a loaded CI machine). */
#define READY_TIMEOUT_USEC (5 * USEC_PER_SEC)
/* An interface left by a previous wireguard-go that is still exiting (picd was killed, PDEATHSIG sent). */
#define STALE_LINK_TIMEOUT_USEC (3 * USEC_PER_SEC)

typedef struct WgState {
        char public_key[WG_KEY_STRLEN]; /* the server's, derived from STATE/keys/wireguard.key */
        pid_t configured_pid;           /* the wireguard-go process the live configuration was applied to */
        const char *backend;            /* "userspace", or NULL when no backend could be chosen */
        char backend_note[200];
} WgState;

static WgState *wg_state(Cell *c) {
        void **slot = cell_service_data(c, SERVICE_NAME);
        if (!slot)
                return NULL;
        if (!*slot)
                *slot = calloc(1, sizeof(WgState));
        return *slot;
}

void svc_wireguard_ifname(const Cell *c, char ret[static IFNAMSIZ]) {
        if (!c->netns_name) {
                snprintf(ret, IFNAMSIZ, "pic-wg");
                return;
        }
        uint32_t h = 2166136261u;
        for (const unsigned char *p = (const unsigned char *) c->netns_name; *p; p++)
                h = (h ^ *p) * 16777619u;
        snprintf(ret, IFNAMSIZ, "picwg-%08x", h);
}

/* ---- keys --------------------------------------------------------------------------------------------- */

static int key_path(Cell *c, char *buf, size_t size) {
        int n = snprintf(buf, size, "%s/keys/" KEY_FILE, c->state_dir);
        return n < 0 || (size_t) n >= size ? -ENAMETOOLONG : 0;
}

/* Reads the server's private key (base64) into ret. The caller wipes ret. */
static int read_private_key(Cell *c, char ret[static WG_KEY_STRLEN]) {
        char path[4096];
        int r = key_path(c, path, sizeof path);
        if (r < 0)
                return r;
        char *text = NULL;
        size_t len = 0;
        r = read_file_full(path, 256, &text, &len);
        if (r < 0)
                return r;
        while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == ' '))
                text[--len] = '\0';
        r = wg_key_is_valid(text) ? 0 : -EBADMSG;
        if (r == 0)
                memcpy(ret, text, WG_KEY_STRLEN);
        secret_wipe(text, len);
        free(text);
        return r;
}

/* Generated once, kept 0600 in STATE/keys (0700). An unreadable or corrupt key is an error, never
 * silently replaced: that would change the cell's identity and cut off every peer. */
static int load_or_create_key(Cell *c, WgState *s, PicError *err) {
        char path[4096], priv[WG_KEY_STRLEN];
        int r = key_path(c, path, sizeof path);
        if (r < 0)
                return pic_error(err, r, NULL, "state dir path too long");
        r = read_private_key(c, priv);
        if (r == -ENOENT) {
                char pub[WG_KEY_STRLEN], line[WG_KEY_STRLEN + 1];
                r = wg_key_generate(priv, pub);
                if (r < 0)
                        return pic_error(err, r, NULL, "cannot generate the WireGuard server key");
                snprintf(line, sizeof line, "%s\n", priv);
                r = write_file_atomic(path, line, strlen(line), 0600, NULL, NULL, err);
                secret_wipe(line, sizeof line);
                if (r < 0) {
                        secret_wipe(priv, sizeof priv);
                        return r;
                }
                log_info("wireguard: generated the server key pair (public key %s)", pub);
        } else if (r < 0) {
                return pic_error(err, r, NULL, "cannot read the WireGuard server key %s: %s", path,
                                 r == -EBADMSG ? "not a WireGuard key" : strerror(-r));
        } else {
                struct stat st;
                if (stat(path, &st) == 0 && (st.st_mode & 077) != 0) {
                        log_warn("wireguard: %s was readable by others; making it 0600", path);
                        (void) chmod(path, 0600);
                }
        }
        r = wg_key_public_from_private(priv, s->public_key);
        secret_wipe(priv, sizeof priv);
        return r < 0 ? pic_error(err, r, NULL, "cannot derive the WireGuard public key") : 0;
}

/* ---- backend -------------------------------------------------------------------------------------------- */

/* auto: kernel WireGuard would be preferred, but pic drives wireguard-go over UAPI only, so auto always
 * lands on userspace and says why; an explicit "kernel" fails with the reason instead of pretending. */
static int choose_backend(Cell *c, WgState *s, PicError *err) {
        const char *want = settings_str(c->settings, "wireguard.backend");
        int k = genl_family_exists("wireguard");
        s->backend = NULL;
        if (streq(want, "kernel")) {
                snprintf(s->backend_note, sizeof s->backend_note, "%s",
                         k > 0 ? "the kernel backend is not supported by this version of pic"
                               : "this kernel has no WireGuard (no generic netlink family \"wireguard\")");
                return pic_error(err, -EOPNOTSUPP, "wireguard.backend",
                                 "wireguard.backend is \"kernel\" but %s; set it to auto or userspace", s->backend_note);
        }
        s->backend = "userspace";
        if (streq(want, "userspace"))
                snprintf(s->backend_note, sizeof s->backend_note, "wireguard-go, as configured");
        else if (k > 0)
                snprintf(s->backend_note, sizeof s->backend_note,
                         "auto: kernel WireGuard is present but pic drives wireguard-go only");
        else
                snprintf(s->backend_note, sizeof s->backend_note,
                         "auto: this kernel has no WireGuard (no generic netlink family \"wireguard\")");
        log_info("wireguard: backend userspace (wireguard-go): %s", s->backend_note);
        return 0;
}

static const char *find_wireguard_go(void) {
        static const char *const paths[] = { "/usr/bin/wireguard-go", "/usr/local/bin/wireguard-go",
                                             "/usr/sbin/wireguard-go" };
        for (size_t i = 0; i < ELEMENTSOF(paths); i++)
                if (access(paths[i], X_OK) == 0)
                        return paths[i];
        return NULL;
}

/* ---- setup / argv ------------------------------------------------------------------------------------------ */

static int wait_stale_link_gone(Cell *c, void *userdata) {
        const char *ifname = userdata;
        uint64_t deadline = now_usec() + STALE_LINK_TIMEOUT_USEC;
        while (link_exists(ifname) && now_usec() < deadline)
                usleep(20 * 1000);
        if (!link_exists(ifname))
                return 0;
        log_warn("wireguard: removing stale interface %s", ifname);
        return link_delete(ifname);
}

static int wg_setup(Cell *c, PicError *err) {
        WgState *s = wg_state(c);
        if (!s)
                return pic_error(err, -ENOMEM, NULL, "out of memory");
        int r = choose_backend(c, s, err);
        if (r < 0)
                return r;
        if (!find_wireguard_go())
                return pic_error(err, -ENOENT, NULL, "wireguard-go is not installed (Debian package wireguard-go)");
        r = load_or_create_key(c, s, err);
        if (r < 0)
                return r;
        char ifname[IFNAMSIZ];
        svc_wireguard_ifname(c, ifname);
        r = cell_in_netns(c, wait_stale_link_gone, ifname);
        if (r < 0)
                log_warn_errno(r, "wireguard: interface %s from an earlier run is still there", ifname);
        return 0;
}

static int wg_argv(Cell *c, char ***ret_argv, char ***ret_env) {
        const char *bin = find_wireguard_go();
        if (!bin)
                return -ENOENT;
        char ifname[IFNAMSIZ];
        svc_wireguard_ifname(c, ifname);
        char **argv = calloc(4, sizeof *argv);
        char **env = calloc(2, sizeof *env);
        if (!argv || !env) {
                free(argv);
                free(env);
                return -ENOMEM;
        }
        argv[0] = strdup(bin);
        argv[1] = strdup("-f");
        argv[2] = strdup(ifname);
        /* What wireguard-go sets for its own foreground child: also silences its "use the kernel" banner. */
        env[0] = strdup("WG_PROCESS_FOREGROUND=1");
        if (!argv[0] || !argv[1] || !argv[2] || !env[0]) {
                strv_free(argv);
                strv_free(env);
                return -ENOMEM;
        }
        *ret_argv = argv;
        *ret_env = env;
        return 0;
}

/* ---- UAPI commands --------------------------------------------------------------------------------------- */

static int set_cmds(const char *ifname, WgCmds *m, PicError *err) {
        if (m->overflow)
                return pic_error(err, -E2BIG, NULL, "WireGuard command too long");
        if (m->len == 0)
                return 0;
        int r = wg_uapi_set(ifname, m->buf, m->len);
        if (r == -EHOSTDOWN || r == -ETIMEDOUT || r == -ECONNRESET)
                return pic_error(err, -EHOSTDOWN, NULL, "wireguard-go (%s) is not answering: %s", ifname, strerror(-r));
        if (r < 0)
                return pic_error(err, -EIO, NULL, "wireguard-go refused the change: %s", strerror(-r));
        return 0;
}

/* ---- reconcile -------------------------------------------------------------------------------------------- */

typedef struct WantList {
        Cell *cell;
        WgWantPeer *v;
        size_t n, cap;
        int error;
} WantList;

static int collect_want(const Peer *p, void *userdata) {
        WantList *w = userdata;
        if (w->n == w->cap) {
                size_t ncap = w->cap ? w->cap * 2 : 64;
                WgWantPeer *nv = malloc(ncap * sizeof *nv);
                if (!nv)
                        return w->error = -ENOMEM;
                if (w->v) {
                        memcpy(nv, w->v, w->n * sizeof *nv);
                        secret_wipe(w->v, w->cap * sizeof *w->v);
                        free(w->v);
                }
                w->v = nv;
                w->cap = ncap;
        }
        WgWantPeer *x = &w->v[w->n++];
        snprintf(x->public_key, sizeof x->public_key, "%s", p->public_key);
        snprintf(x->preshared_key, sizeof x->preshared_key, "%s", p->preshared_key);
        x->ip = p->ip;
        x->enabled = p->enabled;
        x->site_prefix = 0;
        x->endpoint[0] = '\0';
        x->keepalive = 0;
        svc_mesh_site_peer(w->cell, p, x);
        return 0;
}

/* Like `wg syncconf`: one `get`, then one `set` that adds the missing, removes the unknown and fixes the
 * changed peers. Only what pic manages is compared (keys, preshared key, allowed IPs), never endpoints. */
static int reconcile(Cell *c, const char *ifname, PicError *err) {
        WgLiveDevice live = { 0 };
        WantList want = { .cell = c };
        WgCmds m = { 0 };
        WgSyncStats st = { 0 };
        int r = wg_uapi_get_device(ifname, &live);
        if (r < 0) {
                pic_error(err, r == -EHOSTDOWN ? r : -EIO, NULL, "cannot read the live peers of %s: %s", ifname,
                          strerror(-r));
                goto out;
        }
        r = store_peer_foreach(c->store, collect_want, &want);
        if (r >= 0 && want.error < 0)
                r = want.error;
        if (r < 0) {
                pic_error(err, r, NULL, "cannot read the stored peers");
                goto out;
        }
        r = wg_sync_commands(want.v, want.n, live.peers, live.n_peers, &m, &st);
        if (r < 0) {
                pic_error(err, r, NULL, r == -EINVAL ? "a stored peer has an invalid key" : "out of memory");
                goto out;
        }
        r = set_cmds(ifname, &m, err);
        if (r >= 0 && (st.added || st.removed || st.fixed))
                log_info("wireguard: reconciled %s with the store: %u added, %u removed, %u fixed", ifname, st.added,
                         st.removed, st.fixed);
out:
        wg_cmds_done(&m);
        if (want.v) {
                secret_wipe(want.v, want.cap * sizeof *want.v);
                free(want.v);
        }
        wg_live_device_done(&live);
        return r;
}

/* ---- on_running ------------------------------------------------------------------------------------------- */

/* The child exited (not reaped: WNOWAIT leaves that to the supervisor). */
static bool child_exited(pid_t pid) {
        siginfo_t si = { 0 };
        return waitid(P_PID, (id_t) pid, &si, WEXITED | WNOHANG | WNOWAIT) == 0 && si.si_pid == pid;
}

static int wait_ready(const char *ifname, pid_t pid) {
        uint64_t deadline = now_usec() + READY_TIMEOUT_USEC;
        for (;;) {
                int r = wg_uapi_ready(ifname);
                if (r == 0)
                        return 0;
                if (child_exited(pid))
                        return -ECHILD;
                if (now_usec() >= deadline)
                        return -ETIMEDOUT;
                usleep(5 * 1000);
        }
}

typedef struct AddrArgs {
        const char *ifname;
        Cidr4 vpn;
} AddrArgs;

static int address_up(Cell *c, void *userdata) {
        AddrArgs *a = userdata;
        uint32_t *ips = NULL;
        uint8_t *prefixes = NULL;
        size_t n = 0;
        /* Only the configured address: a previous one (wireguard.address changed) goes. */
        int r = addr_list(a->ifname, &ips, &prefixes, &n);
        for (size_t i = 0; r >= 0 && i < n; i++)
                if (ips[i] != a->vpn.addr || prefixes[i] != a->vpn.prefix)
                        r = addr_del(a->ifname, ips[i], prefixes[i]);
        free(ips);
        free(prefixes);
        if (r >= 0)
                r = addr_add(a->ifname, a->vpn.addr, a->vpn.prefix);
        if (r >= 0)
                r = link_set_up(a->ifname);
        return r;
}

static int configure(Cell *c, const char *ifname, PicError *err) {
        char priv[WG_KEY_STRLEN], hex[WG_KEY_HEXLEN];
        int r = read_private_key(c, priv);
        if (r < 0)
                return pic_error(err, r, NULL, "cannot read the WireGuard server key: %s", strerror(-r));
        r = wg_key_to_hex(priv, hex);
        secret_wipe(priv, sizeof priv);
        if (r < 0)
                return pic_error(err, r, NULL, "the WireGuard server key is invalid");
        WgCmds m;
        r = wg_cmds_init(&m, 256);
        if (r < 0) {
                secret_wipe(hex, sizeof hex);
                return r;
        }
        wg_cmds_put(&m, "private_key=%s\nlisten_port=%u\n", hex, (unsigned) settings_int(c->settings, "wireguard.port"));
        secret_wipe(hex, sizeof hex);
        r = set_cmds(ifname, &m, err);
        wg_cmds_done(&m);
        if (r < 0)
                return r;

        AddrArgs a = { .ifname = ifname };
        r = settings_vpn_address(c->settings, &a.vpn);
        if (r < 0)
                return pic_error(err, r, "wireguard.address", "wireguard.address is not a valid address/prefix");
        r = cell_in_netns(c, address_up, &a);
        if (r < 0)
                return pic_error(err, r, NULL, "cannot set the address of %s: %s", ifname, strerror(-r));
        /* Routes of linked cells go with the interface: a new wireguard-go has none. */
        svc_mesh_routes_up(c);
        return reconcile(c, ifname, err);
}

static void wg_on_running(Cell *c) {
        WgState *s = wg_state(c);
        ServiceStatus st;
        if (!s || supervisor_status(c->supervisor, SERVICE_NAME, &st) < 0 || st.state != SERVICE_RUNNING)
                return;
        s->configured_pid = 0;
        char ifname[IFNAMSIZ];
        svc_wireguard_ifname(c, ifname);
        uint64_t t0 = now_usec();
        int r = wait_ready(ifname, st.pid);
        if (r < 0) {
                log_error_errno(r, "wireguard: wireguard-go (pid %d) did not open its control socket", (int) st.pid);
                return;
        }
        PicError err = { 0 };
        r = configure(c, ifname, &err);
        if (r < 0) {
                log_error("wireguard: cannot configure %s: %s", ifname, err.message);
                return;
        }
        s->configured_pid = st.pid;
        int64_t n = 0;
        (void) store_peer_count(c->store, &n);
        log_info("wireguard: %s up in %.1f ms (pid %d, port %lld, %lld stored peers)", ifname,
                 (double) (now_usec() - t0) / 1000.0, (int) st.pid, (long long) settings_int(c->settings, "wireguard.port"),
                 (long long) n);
}

/* ---- peer_changed / probe ---------------------------------------------------------------------------------- */

static int require_running(Cell *c, PicError *err) {
        WgState *s = wg_state(c);
        ServiceStatus st;
        int r = supervisor_status(c->supervisor, SERVICE_NAME, &st);
        if (r < 0 || !s)
                return pic_error(err, -EHOSTDOWN, NULL, "WireGuard is not set up%s%s", s && s->backend_note[0] ? ": " : "",
                                 s ? s->backend_note : "");
        if (st.state != SERVICE_RUNNING || st.pid != s->configured_pid)
                return pic_error(err, -EHOSTDOWN, NULL, "WireGuard is not running (%s); try again",
                                 st.state == SERVICE_RUNNING ? "starting" : service_state_to_string(st.state));
        return 0;
}

/* Every stored peer is on the interface, a disabled one with no allowed IPs (see the top of this file). */
static int wg_peer_changed(Cell *c, const Peer *old, const Peer *new, PicError *err) {
        bool was = old != NULL, is = new != NULL;
        if (!was && !is)
                return 0;
        bool same_key = was && is && streq(old->public_key, new->public_key);
        if (same_key && old->ip == new->ip && streq(old->preshared_key, new->preshared_key) &&
            old->enabled == new->enabled)
                return 0; /* nothing WireGuard knows about changed (grants, description, route_all) */
        int r = require_running(c, err);
        if (r < 0)
                return r;
        if (is && streq(new->public_key, wg_state(c)->public_key))
                return pic_error(err, -EEXIST, "public_key", "public_key is the cell's own public key");
        char ifname[IFNAMSIZ];
        svc_wireguard_ifname(c, ifname);
        WgCmds m;
        r = wg_cmds_init(&m, 2 * WG_PEER_CMD_MAX);
        if (r < 0)
                return pic_error(err, r, NULL, "out of memory");
        if (was && !same_key)
                r = wg_cmd_remove(&m, old->public_key);
        if (r >= 0 && is) {
                WgWantPeer w = { .ip = new->ip, .enabled = new->enabled };
                snprintf(w.public_key, sizeof w.public_key, "%s", new->public_key);
                snprintf(w.preshared_key, sizeof w.preshared_key, "%s", new->preshared_key);
                svc_mesh_site_peer(c, new, &w);
                r = wg_cmd_upsert_want(&m, &w);
                secret_wipe(&w, sizeof w);
        }
        if (r < 0)
                r = pic_error(err, r, "public_key", "the peer's key is invalid");
        else
                r = set_cmds(ifname, &m, err);
        wg_cmds_done(&m);
        return r;
}

static int wg_probe(Cell *c, PicError *err) {
        int r = require_running(c, err);
        if (r < 0)
                return r;
        char ifname[IFNAMSIZ];
        svc_wireguard_ifname(c, ifname);
        r = wg_uapi_ready(ifname);
        return r < 0 ? pic_error(err, -EHOSTDOWN, NULL, "wireguard-go does not answer on its socket: %s", strerror(-r)) : 0;
}

static void wg_teardown(Cell *c) {
        void **slot = cell_service_data(c, SERVICE_NAME);
        if (slot)
                *slot = mfree(*slot);
}

typedef struct SubnetCheck {
        Cidr4 vpn;
        size_t outside;
        char first[PEER_NAME_MAX];
} SubnetCheck;

static int count_outside(const Peer *p, void *userdata) {
        SubnetCheck *sc = userdata;
        if (cidr4_contains(&sc->vpn, p->ip) && p->ip != sc->vpn.addr && p->ip != cidr4_network(&sc->vpn) &&
            p->ip != cidr4_broadcast(&sc->vpn))
                return 0;
        if (sc->outside++ == 0)
                snprintf(sc->first, sizeof sc->first, "%s", p->name);
        return 0;
}

/* A new VPN subnet must still hold every peer's address (and not hand the cell a peer's address): peers are
 * not renumbered behind their owners' backs, since each device holds its address in its own config. */
static int wg_validate(Cell *c, json_t *merged, json_t *flat, PicError *err) {
        if (!json_object_get(flat, "wireguard.address"))
                return 0;
        SubnetCheck sc = { 0 };
        if (cidr4_parse(json_string_value(json_object_get(merged, "wireguard.address")), true, &sc.vpn) < 0)
                return 0; /* the settings grammar reports it */
        int r = store_peer_foreach(c->store, count_outside, &sc);
        if (r < 0)
                return pic_error(err, r, NULL, "cannot read the stored peers");
        if (sc.outside > 0)
                return pic_error(err, -EINVAL, "wireguard.address",
                                 "%zu peer(s) (first \"%s\") would fall outside the new VPN subnet or onto its special "
                                 "addresses; peers are not renumbered (each device keeps its address in its own "
                                 "config): delete them first, or choose a subnet that contains them",
                                 sc.outside, sc.first);
        return 0;
}

static int v_backend(const char *key, json_t *v, PicError *err) {
        const char *s = json_string_value(v);
        if (!streq(s, "auto") && !streq(s, "kernel") && !streq(s, "userspace"))
                return pic_error(err, -EINVAL, key, "%s must be one of auto, kernel, userspace", key);
        return 0;
}

static const SettingDef settings[] = {
        SETTING_PORT("wireguard.port", 51820, "UDP port WireGuard listens on"),
        { "wireguard.endpoint", SETTING_STRING, "\"\"", setting_validate_endpoint, 0, 0, false,
          "Host[:port] peers use to reach the cell; empty means a guess, the host's first address (the API, "
          "peer configs and the CLI warn about it)" },
        { "wireguard.backend", SETTING_STRING, "\"auto\"", v_backend, 0, 0, true,
          "auto, kernel or userspace (wireguard-go)" },
};

/* ip_range moves the DNS address written into client configs; wireguard.address is the interface's. */
static const char *const watches[] = { "ip_range", "wireguard.address", NULL };

const ServiceOps svc_wireguard_ops = {
        .name = SERVICE_NAME,
        .settings = settings,
        .n_settings = ELEMENTSOF(settings),
        .watches = watches,
        .validate = wg_validate,
        .setup = wg_setup,
        .argv = wg_argv,
        .on_running = wg_on_running,
        .probe = wg_probe,
        .status = svc_wireguard_status,
        .peer_changed = wg_peer_changed,
        .teardown = wg_teardown,
};

/* ---- API views ----------------------------------------------------------------------------------------------- */

typedef struct EndpointArgs {
        const char *skip[4];
        uint32_t ip;
} EndpointArgs;

static int first_address(Cell *c, void *userdata) {
        EndpointArgs *a = userdata;
        return addr_first_global(a->skip, &a->ip);
}

/* The endpoint setting, else the first global address of the cell's namespace that is not one of
 * pic's own interfaces (on a dedicated box: the host's LAN address). */
static int client_endpoint(Cell *c, char *buf, size_t size, PicError *err) {
        char ifname[IFNAMSIZ];
        svc_wireguard_ifname(c, ifname);
        const char *setting = settings_str(c->settings, "wireguard.endpoint");
        EndpointArgs a = { .skip = { "lo", NETWORK_BRIDGE, ifname, NULL } };
        if (!*setting)
                (void) cell_in_netns(c, first_address, &a);
        int r = wg_endpoint_format(setting, a.ip, (unsigned) settings_int(c->settings, "wireguard.port"), buf, size);
        if (r == -EADDRNOTAVAIL)
                return pic_error(err, r, "wireguard.endpoint",
                                 "the cell does not know an address peers can reach: set wireguard.endpoint to the host "
                                 "name or public address of this cell");
        if (r < 0)
                return pic_error(err, r, "wireguard.endpoint", "wireguard.endpoint is not a valid host[:port]");
        return 0;
}

static int ensure_public_key(Cell *c, WgState *s, PicError *err) {
        if (s->public_key[0])
                return 0;
        char priv[WG_KEY_STRLEN];
        int r = read_private_key(c, priv);
        if (r >= 0)
                r = wg_key_public_from_private(priv, s->public_key);
        secret_wipe(priv, sizeof priv);
        return r < 0 ? pic_error(err, -EHOSTDOWN, NULL, "WireGuard is not set up (no server key yet)") : 0;
}

int svc_wireguard_status(Cell *c, json_t **ret, PicError *err) {
        WgState *s = wg_state(c);
        if (!s)
                return pic_error(err, -ENOMEM, NULL, "out of memory");
        char ifname[IFNAMSIZ], endpoint[300];
        svc_wireguard_ifname(c, ifname);
        PicError ignored = { 0 };
        (void) ensure_public_key(c, s, &ignored);
        ServiceStatus st = { 0 };
        bool known = supervisor_status(c->supervisor, SERVICE_NAME, &st) >= 0;
        bool running = known && st.state == SERVICE_RUNNING && st.pid == s->configured_pid;
        int64_t stored = 0;
        (void) store_peer_count(c->store, &stored);
        WgLiveDevice live = { 0 };
        bool have_live = running && wg_uapi_get_device(ifname, &live) >= 0;

        json_t *o = json_pack("{s:s, s:s?, s:s, s:b, s:s, s:I, s:s?, s:I, s:s, s:I}", "interface", ifname, "backend",
                              s->backend, "backend_note", s->backend_note, "running", running, "state",
                              known ? service_state_to_string(st.state) : "not started", "pid",
                              (json_int_t) (running ? st.pid : 0), "public_key", s->public_key[0] ? s->public_key : NULL,
                              "listen_port",
                              (json_int_t) (have_live ? live.listen_port : settings_int(c->settings, "wireguard.port")),
                              "address", settings_str(c->settings, "wireguard.address"), "peers", (json_int_t) stored);
        if (o) {
                json_object_set_new(o, "peers_live", have_live ? json_integer((json_int_t) live.n_peers) : json_null());
                json_object_set_new(o, "endpoint", client_endpoint(c, endpoint, sizeof endpoint, &ignored) >= 0
                                                           ? json_string(endpoint)
                                                           : json_null());
                if (known && st.state == SERVICE_FAILED)
                        json_object_set_new(o, "failure", json_string(st.failure));
                json_object_set_new(o, "warnings", peers_warnings(c));
        }
        wg_live_device_done(&live);
        if (!o)
                return pic_error(err, -ENOMEM, NULL, "out of memory");
        *ret = o;
        return 0;
}

typedef struct NameEntry {
        char public_key[WG_KEY_STRLEN];
        char name[PEER_NAME_MAX];
} NameEntry;

typedef struct NameList {
        NameEntry *v;
        size_t n, cap;
        int error;
} NameList;

static int collect_name(const Peer *p, void *userdata) {
        NameList *l = userdata;
        if (l->n == l->cap) {
                size_t ncap = l->cap ? l->cap * 2 : 64;
                NameEntry *nv = realloc(l->v, ncap * sizeof *nv);
                if (!nv)
                        return l->error = -ENOMEM;
                l->v = nv;
                l->cap = ncap;
        }
        snprintf(l->v[l->n].public_key, WG_KEY_STRLEN, "%s", p->public_key);
        snprintf(l->v[l->n].name, PEER_NAME_MAX, "%s", p->name);
        l->n++;
        return 0;
}

static int cmp_name_entry(const void *a, const void *b) {
        return strcmp(((const NameEntry *) a)->public_key, ((const NameEntry *) b)->public_key);
}

int svc_wireguard_live_peers(Cell *c, json_t **ret, PicError *err) {
        int r = require_running(c, err);
        if (r < 0)
                return r;
        char ifname[IFNAMSIZ];
        svc_wireguard_ifname(c, ifname);
        WgLiveDevice live = { 0 };
        r = wg_uapi_get_device(ifname, &live);
        if (r < 0)
                return pic_error(err, r == -EHOSTDOWN ? r : -EIO, NULL, "cannot read the live peers: %s", strerror(-r));
        NameList names = { 0 };
        r = store_peer_foreach(c->store, collect_name, &names);
        if (r >= 0 && names.error < 0)
                r = names.error;
        if (r < 0) {
                free(names.v);
                wg_live_device_done(&live);
                return pic_error(err, r, NULL, "cannot read the stored peers");
        }
        if (names.n > 0)
                qsort(names.v, names.n, sizeof *names.v, cmp_name_entry);
        json_t *arr = json_array();
        for (size_t i = 0; arr && i < live.n_peers; i++) {
                const WgLivePeer *p = &live.peers[i];
                NameEntry key;
                snprintf(key.public_key, sizeof key.public_key, "%s", p->public_key);
                const NameEntry *e = names.n > 0 ? bsearch(&key, names.v, names.n, sizeof *names.v, cmp_name_entry) : NULL;
                json_t *ips = json_array();
                char buf[sizeof p->allowed_ips];
                snprintf(buf, sizeof buf, "%s", p->allowed_ips);
                for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
                        json_array_append_new(ips, json_string(tok));
                json_array_append_new(
                        arr, json_pack("{s:s?, s:s, s:s?, s:I, s:I, s:I, s:I, s:o}", "name", e ? e->name : NULL,
                                       "public_key", p->public_key, "endpoint", p->endpoint[0] ? p->endpoint : NULL,
                                       "latest_handshake", (json_int_t) p->last_handshake_sec, "rx_bytes",
                                       (json_int_t) p->rx_bytes, "tx_bytes", (json_int_t) p->tx_bytes,
                                       "persistent_keepalive", (json_int_t) p->keepalive, "allowed_ips", ips));
        }
        free(names.v);
        size_t n = live.n_peers;
        wg_live_device_done(&live);
        if (!arr)
                return pic_error(err, -ENOMEM, NULL, "out of memory");
        *ret = json_pack("{s:s, s:o, s:I}", "interface", ifname, "peers", arr, "count", (json_int_t) n);
        return *ret ? 0 : pic_error(err, -ENOMEM, NULL, "out of memory");
}

int svc_wireguard_client_config(Cell *c, const Peer *p, char **ret, PicError *err) {
        WgState *s = wg_state(c);
        if (!s)
                return pic_error(err, -ENOMEM, NULL, "out of memory");
        int r = ensure_public_key(c, s, err);
        if (r < 0)
                return r;
        char endpoint[300];
        r = client_endpoint(c, endpoint, sizeof endpoint, err);
        if (r < 0)
                return r;
        WgClientConfig cfg = {
                .private_key = p->private_key,
                .address = p->ip,
                .server_public_key = s->public_key,
                .preshared_key = p->preshared_key,
                .endpoint = endpoint,
                .route_all = p->route_all,
                .keepalive = WG_CLIENT_KEEPALIVE,
                .endpoint_guessed = !*settings_str(c->settings, "wireguard.endpoint"),
        };
        if (settings_vpn_address(c->settings, &cfg.vpn) < 0 || settings_ip_range(c->settings, &cfg.ip_range) < 0)
                return pic_error(err, -EINVAL, NULL, "the cell's network settings are invalid");
        (void) registry_vip(&c->registry, &cfg.ip_range, "dns", &cfg.dns);
        r = wg_client_config_render(&cfg, ret);
        return r < 0 ? pic_error(err, r == -EINVAL ? -EIO : r, NULL, "cannot render the client configuration") : 0;
}

int svc_wireguard_endpoint(Cell *c, char *buf, size_t size, PicError *err) {
        return client_endpoint(c, buf, size, err);
}

int svc_wireguard_public_key(Cell *c, char ret[static WG_KEY_STRLEN], PicError *err) {
        WgState *s = wg_state(c);
        if (!s)
                return pic_error(err, -ENOMEM, NULL, "out of memory");
        int r = ensure_public_key(c, s, err);
        if (r >= 0)
                memcpy(ret, s->public_key, WG_KEY_STRLEN);
        return r;
}
