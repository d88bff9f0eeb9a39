/* The "mesh" service module: identity and endpoint at setup, the hooks through which the firewall,
 * WireGuard and DNS modules re-apply links after any restart, invites, and the link views and changes of
 * the API (sharing, remote grants). Joining, accepting and leaving are in mesh-link.c. */
#include "services/mesh/mesh-internal.h"

#include <sodium.h>
#include <stdio.h>

#include "basic/fileio.h"
#include "basic/log.h"
#include "basic/parse.h"
#include "basic/time-util.h"
#include "basic/util.h"
#include "core/accounts.h"
#include "core/body.h"
#include "core/mutation.h"
#include "core/netns-run.h"
#include "core/peers.h"
#include "crypto/qr.h"
#include "crypto/secret.h"
#include "net/link.h"
#include "net/wg-uapi.h"
#include "services/dns/dns.h"
#include "services/firewall/render.h"
#include "services/wireguard/wireguard.h"

#define SERVICE_NAME "mesh"
#define IDENTITY_FILE "identity.key"
#define INVITE_TTL_DEFAULT (7 * 24 * 3600)
#define INVITE_TTL_MAX (30 * 24 * 3600)

MeshState *mesh_state(Cell *c) {
        void **slot = cell_service_data(c, SERVICE_NAME);
        if (!slot)
                return NULL;
        if (!*slot) {
                MeshState *st = calloc(1, sizeof(MeshState));
                if (!st)
                        return NULL;
                st->cell = c;
                st->listen_fd = -1;
                for (size_t i = 0; i < MESH_CONNS_MAX; i++)
                        st->conns[i].fd = -1;
                *slot = st;
        }
        return *slot;
}

static int load_identity(Cell *c, MeshState *st, PicError *err) {
        if (st->have_identity)
                return 0;
        char path[4096];
        snprintf(path, sizeof path, "%s/keys/" IDENTITY_FILE, c->state_dir);
        bool created = false;
        int r = identity_load_or_create(path, &st->id, &created);
        if (r < 0)
                return pic_error(err, r, NULL, "cannot %s the cell identity key %s: %s",
                                 r == -EBADMSG ? "read" : "load or create", path,
                                 r == -EBADMSG ? "it is not an identity key" : strerror(-r));
        st->have_identity = true;
        if (created) {
                char fpr[IDENTITY_FPR_STRLEN];
                identity_fingerprint(st->id.pk, fpr);
                log_info("mesh: created the cell identity (fingerprint %s)", fpr);
        }
        return 0;
}

int mesh_self(Cell *c, MeshSelf *ret, PicError *err) {
        MeshState *st = mesh_state(c);
        if (!st)
                return pic_error(err, -ENOMEM, NULL, "out of memory");
        int r = load_identity(c, st, err);
        if (r < 0)
                return r;
        MeshSelf s = { 0 };
        snprintf(s.name, sizeof s.name, "%s", settings_str(c->settings, "cell_name"));
        snprintf(s.domain, sizeof s.domain, "%s", settings_str(c->settings, "domain"));
        identity_pk_to_string(st->id.pk, s.identity);
        if ((r = svc_wireguard_public_key(c, s.wg_key, err)) < 0)
                return r;
        char ep[300];
        if ((r = svc_wireguard_endpoint(c, ep, sizeof ep, err)) < 0)
                return r;
        char *colon = strrchr(ep, ':');
        uint64_t port = 0;
        if (!colon || parse_uint(colon + 1, 1, 65535, &port) < 0)
                return pic_error(err, -EINVAL, "wireguard.endpoint", "wireguard.endpoint is not host:port");
        *colon = '\0';
        if (strlen(ep) >= sizeof s.host)
                return pic_error(err, -EINVAL, "wireguard.endpoint", "wireguard.endpoint's host is too long");
        memcpy(s.host, ep, strlen(ep) + 1);
        s.port = (uint16_t) port;
        s.dns_port = (uint16_t) settings_int(c->settings, "dns.port");
        if (settings_vpn_address(c->settings, &s.vpn) < 0 || settings_ip_range(c->settings, &s.range) < 0)
                return pic_error(err, -EINVAL, "wireguard.address", "the cell's VPN address or ip_range is invalid");
        s.range.addr = cidr4_network(&s.range);
        *ret = s;
        return 0;
}

int mesh_cell_nets(const MeshCell *m, Cidr4 *ret_vpn, Cidr4 *ret_range) {
        if (cidr4_parse(m->vpn, true, ret_vpn) < 0 || cidr4_parse(m->range, true, ret_range) < 0)
                return -EINVAL;
        return 0;
}

void mesh_cell_zone(const MeshCell *m, char *buf, size_t size) {
        snprintf(buf, size, "%s.%s", m->name, m->domain);
}

static bool is_active(const MeshCell *m) {
        return streq(m->state, "active");
}

/* ---- firewall elements ------------------------------------------------------------------------------------ */

typedef struct GrantCtx {
        Cell *c;
        const Cidr4 *range;
        StrBuf *b;
        const char *verb;
} GrantCtx;

static void put_fwd(StrBuf *b, const char *verb, uint32_t peer_ip, uint32_t vip) {
        char a[IPV4_STRLEN], v[IPV4_STRLEN];
        strbuf_printf(b, "%s element inet " FW_TABLE " mesh_fwd { %s . %s%s }\n", verb, ipv4_format(peer_ip, a),
                      ipv4_format(vip, v), streq(verb, "add") ? " : accept" : "");
}

static int grant_line(const char *peer, const char *cell, const char *service, void *userdata) {
        GrantCtx *g = userdata;
        Peer p;
        if (store_peer_get_by_name(g->c->store, peer, &p) < 0)
                return 0;
        uint32_t vip;
        if (p.enabled && registry_vip(&g->c->registry, g->range, service, &vip) >= 0)
                put_fwd(g->b, g->verb, p.ip, vip);
        secret_wipe(&p, sizeof p);
        return 0;
}

int mesh_link_nft(Cell *c, const MeshCell *m, bool add, StrBuf *b) {
        Cidr4 vpn, range;
        if (!is_active(m) || mesh_cell_nets(m, &vpn, &range) < 0)
                return 0;
        char net[CIDR4_STRLEN], ip[IPV4_STRLEN];
        cidr4_format_network(&range, net);
        if (add)
                strbuf_printf(b, "add element inet " FW_TABLE " mesh_snat { %s : %s }\n", net, ipv4_format(m->remote_ip, ip));
        else
                strbuf_printf(b, "delete element inet " FW_TABLE " mesh_snat { %s }\n", net);
        GrantCtx g = { c, &range, b, add ? "add" : "delete" };
        int r = store_mesh_grant_foreach(c->store, NULL, m->name, grant_line, &g);
        return r < 0 ? r : b->error;
}

typedef struct ScriptCtx {
        Cell *c;
        StrBuf *b;
} ScriptCtx;

static int script_link(const MeshCell *m, void *userdata) {
        ScriptCtx *s = userdata;
        return mesh_link_nft(s->c, m, true, s->b);
}

int svc_mesh_fw_script(Cell *c, const char *table, char **ret) {
        StrBuf b = STRBUF_INIT;
        strbuf_puts(&b, table);
        int r = store_mesh_cell_foreach(c->store, script_link, &(ScriptCtx) { c, &b });
        if (r >= 0 && b.error)
                r = b.error;
        if (r < 0) {
                strbuf_done(&b);
                return r;
        }
        *ret = strbuf_steal(&b);
        return *ret ? 0 : -ENOMEM;
}

/* ---- WireGuard, routes, DNS ---------------------------------------------------------------------------------- */

static int resolve_endpoint(const MeshCell *m, char *buf, size_t size) {
        uint32_t ip;
        char a[IPV4_STRLEN];
        if (ipv4_parse(m->host, &ip) < 0)
                return -EADDRNOTAVAIL; /* WireGuard wants an address; a name is resolved by the next handshake */
        snprintf(buf, size, "%s:%u", ipv4_format(ip, a), m->port);
        return 0;
}

void svc_mesh_site_peer(Cell *c, const Peer *p, WgWantPeer *w) {
        if (!startswith(p->name, PEERS_SITE_PREFIX))
                return;
        MeshCell *m = malloc(sizeof *m);
        Cidr4 vpn, range;
        if (m && store_mesh_cell_get(c->store, p->name + strlen(PEERS_SITE_PREFIX), m) >= 0 && is_active(m) &&
            mesh_cell_nets(m, &vpn, &range) >= 0) {
                w->site_net = cidr4_network(&range);
                w->site_prefix = range.prefix;
                w->keepalive = MESH_KEEPALIVE;
                if (resolve_endpoint(m, w->endpoint, sizeof w->endpoint) < 0)
                        w->endpoint[0] = '\0';
        }
        free(m);
}

typedef struct RouteArgs {
        char ifname[IFNAMSIZ];
        Cidr4 range;
        bool add;
} RouteArgs;

static int route_in_netns(Cell *c, void *userdata) {
        RouteArgs *a = userdata;
        return a->add ? route_add(a->ifname, cidr4_network(&a->range), a->range.prefix)
                      : route_del(a->ifname, cidr4_network(&a->range), a->range.prefix);
}

int mesh_link_route(Cell *c, const MeshCell *m, bool add, PicError *err) {
        RouteArgs a = { .add = add };
        Cidr4 vpn;
        if (!is_active(m) || mesh_cell_nets(m, &vpn, &a.range) < 0)
                return 0;
        svc_wireguard_ifname(c, a.ifname);
        int r = cell_in_netns(c, route_in_netns, &a);
        /* No interface yet: wireguard-go is starting, and its configure step adds the routes. */
        if (r == -ENODEV)
                return 0;
        return r < 0 ? pic_error(err, r, NULL, "cannot %s the route to %s: %s", add ? "add" : "remove", m->range,
                                 strerror(-r))
                     : 0;
}

static int routes_link(const MeshCell *m, void *userdata) {
        PicError err = { 0 };
        if (mesh_link_route(userdata, m, true, &err) < 0)
                log_error("mesh: %s", err.message);
        return 0;
}

static int any_link(const MeshCell *m, void *userdata) {
        *(bool *) userdata = true;
        return -ECANCELED;
}

bool svc_mesh_has_links(Cell *c) {
        bool any = false;
        (void) store_mesh_cell_foreach(c->store, any_link, &any);
        return any;
}

void svc_mesh_routes_up(Cell *c) {
        (void) store_mesh_cell_foreach(c->store, routes_link, c);
}

static int forward_cmd(Cell *c, const MeshCell *m, bool add, char *cmd, size_t size) {
        Cidr4 vpn, range;
        uint32_t dns;
        char zone[320], a[IPV4_STRLEN];
        if (mesh_cell_nets(m, &vpn, &range) < 0 || registry_vip(&c->registry, &range, "dns", &dns) < 0)
                return -EINVAL;
        mesh_cell_zone(m, zone, sizeof zone);
        if (add)
                snprintf(cmd, size, "forward_add +i %s. %s@%u", zone, ipv4_format(dns, a), m->dns_port);
        else
                snprintf(cmd, size, "forward_remove +i %s.", zone);
        return 0;
}

int mesh_link_dns(Cell *c, const MeshCell *m, bool add, PicError *err) {
        char cmd[512];
        if (!is_active(m) || forward_cmd(c, m, add, cmd, sizeof cmd) < 0)
                return 0;
        int r = svc_dns_control(c, cmd, err);
        if (r >= 0 && !add) {
                /* Answers already cached from the other cell go with the link. */
                char zone[330];
                mesh_cell_zone(m, zone, sizeof zone);
                snprintf(cmd, sizeof cmd, "flush_zone %s.", zone);
                PicError ignored = { 0 };
                (void) svc_dns_control(c, cmd, &ignored);
        }
        return r;
}

typedef struct DnsCtx {
        Cell *c;
        mesh_ctl_fn fn;
        void *userdata;
        PicError *err;
} DnsCtx;

static int dns_link(const MeshCell *m, void *userdata) {
        DnsCtx *d = userdata;
        char cmd[512];
        if (!is_active(m) || forward_cmd(d->c, m, true, cmd, sizeof cmd) < 0)
                return 0;
        return d->fn(cmd, d->userdata, d->err);
}

int svc_mesh_dns_commands(Cell *c, mesh_ctl_fn fn, void *userdata, PicError *err) {
        return store_mesh_cell_foreach(c->store, dns_link, &(DnsCtx) { c, fn, userdata, err });
}

/* ---- module ops ------------------------------------------------------------------------------------------- */

static int mesh_setup(Cell *c, PicError *err) {
        MeshState *st = mesh_state(c);
        if (!st)
                return pic_error(err, -ENOMEM, NULL, "out of memory");
        int r = load_identity(c, st, err);
        if (r < 0)
                return r;
        mesh_wire_close(st);
        r = mesh_wire_listen(c, st, err);
        if (r < 0)
                return r;
        mesh_retry_schedule(c, USEC_PER_SEC);
        return 0;
}

static void mesh_teardown(Cell *c) {
        void **slot = cell_service_data(c, SERVICE_NAME);
        if (!slot || !*slot)
                return;
        MeshState *st = *slot;
        mesh_wire_close(st);
        if (st->retry)
                loop_cancel_timer(c->loop, st->retry);
        identity_done(&st->id);
        *slot = mfree(st);
}

static int mesh_probe(Cell *c, PicError *err) {
        MeshState *st = mesh_state(c);
        return st && st->listen_fd >= 0 ? 0 : pic_error(err, -EHOSTDOWN, NULL, "the mesh endpoint is not listening");
}

static int has_grant(const char *peer, const char *cell, const char *service, void *userdata) {
        *(bool *) userdata = true;
        return -ECANCELED;
}

typedef struct PeerWalk {
        Cell *c;
        StrBuf *b;
        const Peer *peer;
        const char *verb;
} PeerWalk;

static int peer_walk(const char *peer, const char *cell, const char *service, void *userdata) {
        PeerWalk *w = userdata;
        MeshCell *m = malloc(sizeof *m);
        Cidr4 vpn, range;
        uint32_t vip;
        if (!m)
                return -ENOMEM;
        if (store_mesh_cell_get(w->c->store, cell, m) >= 0 && is_active(m) && mesh_cell_nets(m, &vpn, &range) >= 0 &&
            w->peer->enabled && registry_vip(&w->c->registry, &range, service, &vip) >= 0)
                put_fwd(w->b, w->verb, w->peer->ip, vip);
        free(m);
        return 0;
}

/* A local peer with remote grants changed: its mesh_fwd elements follow its address and state, and go (with
 * its grant rows) when it is deleted. The rows come back with a rolled-back delete, and so do the elements
 * through the reverse call. */
static int mesh_peer_changed(Cell *c, const Peer *old, const Peer *new, PicError *err) {
        const Peer *p = old ? old : new;
        if (!p || startswith(p->name, PEERS_SITE_PREFIX))
                return 0;
        bool any = false;
        (void) store_mesh_grant_foreach(c->store, p->name, NULL, has_grant, &any);
        if (!any || (old && new && old->ip == new->ip && old->enabled == new->enabled))
                return 0;
        StrBuf b = STRBUF_INIT;
        int r = 0;
        if (old)
                r = store_mesh_grant_foreach(c->store, p->name, NULL, peer_walk, &(PeerWalk) { c, &b, old, "delete" });
        if (r >= 0 && new)
                r = store_mesh_grant_foreach(c->store, p->name, NULL, peer_walk, &(PeerWalk) { c, &b, new, "add" });
        if (r >= 0 && new == NULL)
                r = store_mesh_grant_remove(c->store, old->name, NULL);
        if (r >= 0 && b.error)
                r = b.error;
        if (r < 0) {
                strbuf_done(&b);
                return pic_error(err, r, NULL, "cannot update the peer's remote grants");
        }
        _cleanup_free_ char *script = strbuf_steal(&b), *nft_err = NULL;
        if (script && *script && (r = cell_nft_run(c, script, NULL, &nft_err)) < 0)
                return pic_error(err, r, NULL, "nftables rejected the peer's remote grants: %s", nft_err ? nft_err : "");
        return 0;
}

/* ---- API: identity and invites ------------------------------------------------------------------------------ */

int svc_mesh_info(Cell *c, json_t **ret, PicError *err) {
        MeshState *st = mesh_state(c);
        if (!st)
                return pic_error(err, -ENOMEM, NULL, "out of memory");
        int r = load_identity(c, st, err);
        if (r < 0)
                return r;
        char pk[IDENTITY_PK_STRLEN], fpr[IDENTITY_FPR_STRLEN];
        identity_pk_to_string(st->id.pk, pk);
        identity_fingerprint(st->id.pk, fpr);
        MeshSelf self;
        PicError ignored = { 0 };
        bool have_self = mesh_self(c, &self, &ignored) >= 0;
        char ep[320] = "";
        if (have_self)
                snprintf(ep, sizeof ep, "%s:%u", self.host, self.port);
        *ret = json_pack("{s:s, s:s, s:s, s:s, s:s?, s:b}", "cell_name", settings_str(c->settings, "cell_name"), "domain",
                         settings_str(c->settings, "domain"), "public_key", pk, "fingerprint", fpr, "endpoint",
                         have_self ? ep : NULL, "listening", st->listen_fd >= 0);
        return *ret ? 0 : pic_error(err, -ENOMEM, NULL, "out of memory");
}

/* A list of grantable service names of this cell's registry, as a bit mask and a comma-separated text. */
static int parse_services(Cell *c, json_t *v, const char *field, uint32_t *ret_mask, char *text, size_t size,
                          PicError *err) {
        char names[256];
        registry_grant_names(&c->registry, names, sizeof names);
        if (!json_is_array(v))
                return pic_error(err, -EINVAL, field, "%s must be a list drawn from %s", field, names);
        uint32_t mask = 0;
        size_t i, used = 0;
        json_t *e;
        if (text)
                text[0] = '\0';
        json_array_foreach(v, i, e) {
                int g = registry_grant_from_string(&c->registry, json_string_value(e));
                if (g < 0)
                        return pic_error(err, -EINVAL, field, "%s may contain only %s", field, names);
                if (mask & (1u << g))
                        continue;
                mask |= 1u << g;
                if (text)
                        used += (size_t) snprintf(text + used, size - used, "%s%s", used ? "," : "", json_string_value(e));
        }
        *ret_mask = mask;
        return 0;
}

static json_t *split_list(const char *text) {
        json_t *a = json_array();
        char buf[512];
        snprintf(buf, sizeof buf, "%s", text);
        for (char *save = NULL, *t = strtok_r(buf, ",", &save); a && t; t = strtok_r(NULL, ",", &save))
                json_array_append_new(a, json_string(t));
        return a;
}

static json_t *invite_to_json(const MeshInvite *inv) {
        int64_t now = wall_sec();
        const char *state = inv->used_by[0] ? "used" : inv->expires_at <= now ? "expired" : "open";
        return json_pack("{s:I, s:s, s:o, s:I, s:I, s:s, s:s?, s:I}", "id", (json_int_t) inv->id, "nonce", inv->nonce,
                         "share", split_list(inv->share), "created_at", (json_int_t) inv->created_at, "expires_at",
                         (json_int_t) inv->expires_at, "state", state, "used_by", inv->used_by[0] ? inv->used_by : NULL,
                         "used_at", (json_int_t) inv->used_at);
}

int svc_mesh_invite_create(Cell *c, json_t *body, json_t **ret, PicError *err) {
        static const char *const known[] = { "expires_in", "share" };
        int r = body_check_fields(body, known, ELEMENTSOF(known), err);
        if (r < 0)
                return r;
        int64_t ttl = INVITE_TTL_DEFAULT;
        json_t *v = json_object_get(body, "expires_in");
        if (v) {
                if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > INVITE_TTL_MAX)
                        return pic_error(err, -EINVAL, "expires_in", "expires_in must be a number of seconds from 1 to %d",
                                         INVITE_TTL_MAX);
                ttl = json_integer_value(v);
        }
        uint32_t mask = 0;
        MeshInvite row = { 0 };
        v = json_object_get(body, "share");
        if (v && (r = parse_services(c, v, "share", &mask, row.share, sizeof row.share, err)) < 0)
                return r;
        MeshSelf self;
        if ((r = mesh_self(c, &self, err)) < 0)
                return r;
        Invite inv = { 0 };
        snprintf(inv.name, sizeof inv.name, "%s", self.name);
        snprintf(inv.domain, sizeof inv.domain, "%s", self.domain);
        snprintf(inv.identity, sizeof inv.identity, "%s", self.identity);
        snprintf(inv.wg_key, sizeof inv.wg_key, "%s", self.wg_key);
        snprintf(inv.host, sizeof inv.host, "%s", self.host);
        inv.port = self.port;
        inv.vpn = self.vpn;
        inv.range = self.range;
        inv.dns_port = self.dns_port;
        json_t *e;
        size_t i;
        json_t *sv = v ? v : json_array();
        json_array_foreach(sv, i, e) {
                if (inv.n_share < INVITE_SHARE_MAX)
                        snprintf(inv.share[inv.n_share++], sizeof inv.share[0], "%s", json_string_value(e));
        }
        if (!v)
                json_decref(sv);
        uint8_t nonce[16];
        char *nonce_text = NULL;
        randombytes_buf(nonce, sizeof nonce);
        if (b64url_encode(nonce, sizeof nonce, &nonce_text) < 0)
                return pic_error(err, -ENOMEM, NULL, "out of memory");
        snprintf(inv.nonce, sizeof inv.nonce, "%s", nonce_text);
        free(nonce_text);
        inv.expires_at = wall_sec() + ttl;
        snprintf(row.nonce, sizeof row.nonce, "%s", inv.nonce);
        row.created_at = wall_sec();
        row.expires_at = inv.expires_at;

        _cleanup_free_ char *text = NULL;
        r = invite_encode(&inv, &mesh_state(c)->id, &text);
        if (r < 0)
                return pic_error(err, r, NULL, "cannot sign the invite");
        r = store_mesh_invite_insert(c->store, &row);
        if (r < 0)
                return pic_error(err, r, NULL, "cannot store the invite");
        char *svg = NULL;
        size_t svg_len = 0;
        json_t *o = invite_to_json(&row);
        if (o) {
                json_object_set_new(o, "invite", json_string(text));
                if (qr_render_svg(text, &svg, &svg_len) >= 0)
                        json_object_set_new(o, "qr_svg", json_stringn(svg, svg_len));
                free(svg);
        }
        if (!o)
                return pic_error(err, -ENOMEM, NULL, "out of memory");
        *ret = o;
        return 0;
}

static int collect_invite(const MeshInvite *inv, void *userdata) {
        return json_array_append_new(userdata, invite_to_json(inv)) < 0 ? -ENOMEM : 0;
}

int svc_mesh_invites_list(Cell *c, json_t **ret, PicError *err) {
        json_t *a = json_array();
        int r = a ? store_mesh_invite_foreach(c->store, collect_invite, a) : -ENOMEM;
        if (r < 0) {
                json_decref(a);
                return pic_error(err, r, NULL, "cannot read the invites");
        }
        *ret = json_pack("{s:o, s:I}", "invites", a, "count", (json_int_t) json_array_size(a));
        return *ret ? 0 : pic_error(err, -ENOMEM, NULL, "out of memory");
}

int svc_mesh_invite_delete(Cell *c, const char *id, PicError *err) {
        uint64_t n;
        if (parse_uint(id, 1, INT64_MAX, &n) < 0)
                return pic_error(err, -ENOENT, "id", "no such invite");
        int r = store_mesh_invite_delete(c->store, (int64_t) n);
        if (r == -ENOENT)
                return pic_error(err, r, "id", "no invite %s", id);
        return r < 0 ? pic_error(err, r, NULL, "cannot withdraw the invite") : 0;
}

/* ---- API: links ---------------------------------------------------------------------------------------------- */

static int grant_json(const char *peer, const char *cell, const char *service, void *userdata) {
        json_t *o = userdata;
        json_t *a = json_object_get(o, peer);
        if (!a) {
                a = json_array();
                json_object_set_new(o, peer, a);
        }
        char g[140];
        snprintf(g, sizeof g, "%s@%s", service, cell);
        json_array_append_new(a, json_string(g));
        return 0;
}

static int64_t latest_handshake(Cell *c, const char *wg_key) {
        char ifname[IFNAMSIZ];
        svc_wireguard_ifname(c, ifname);
        WgLiveDevice live = { 0 };
        int64_t t = 0;
        if (wg_uapi_get_device(ifname, &live) >= 0)
                for (size_t i = 0; i < live.n_peers; i++)
                        if (streq(live.peers[i].public_key, wg_key))
                                t = live.peers[i].last_handshake_sec;
        wg_live_device_done(&live);
        return t;
}

json_t *mesh_cell_to_json(Cell *c, const MeshCell *m, bool live) {
        char site[PEER_NAME_MAX], local[IPV4_STRLEN], remote[IPV4_STRLEN], ep[300];
        uint8_t pk[IDENTITY_PK_BYTES];
        char fpr[IDENTITY_FPR_STRLEN] = "";
        if (identity_pk_from_string(m->identity, pk) >= 0)
                identity_fingerprint(pk, fpr);
        mesh_site_name(m->name, site);
        snprintf(ep, sizeof ep, "%s:%u", m->host, m->port);
        Peer p;
        json_t *share = store_peer_get_by_name(c->store, site, &p) >= 0 ? peer_access_to_json(&c->registry, p.access)
                                                                       : json_array();
        secret_wipe(&p, sizeof p);
        json_t *grants = json_object();
        (void) store_mesh_grant_foreach(c->store, NULL, m->name, grant_json, grants);
        json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:o, s:o, s:o, s:s, s:s, s:I}", "name",
                              m->name, "domain", m->domain, "identity", m->identity, "fingerprint", fpr, "endpoint", ep,
                              "vpn", m->vpn, "range", m->range, "state", m->state, "site_peer", site, "share", share,
                              "offered", split_list(m->offered), "grants", grants, "address",
                              ipv4_format(m->local_ip, local), "our_address",
                              m->remote_ip ? ipv4_format(m->remote_ip, remote) : "", "created_at",
                              (json_int_t) m->created_at);
        if (o && live && is_active(m)) {
                int64_t hs = latest_handshake(c, m->wg_key);
                json_object_set_new(o, "latest_handshake", hs ? json_integer(hs) : json_null());
                int64_t dns = mesh_dns_probe(c, m);
                json_object_set_new(o, "last_dns_forward", dns ? json_integer(dns) : json_null());
                json_object_set_new(o, "up", json_boolean(hs > 0 && wall_sec() - hs < 180));
        }
        return o;
}

typedef struct ListCtx {
        Cell *c;
        json_t *a;
} ListCtx;

static int collect_cell(const MeshCell *m, void *userdata) {
        ListCtx *l = userdata;
        return json_array_append_new(l->a, mesh_cell_to_json(l->c, m, true)) < 0 ? -ENOMEM : 0;
}

int svc_mesh_cells_list(Cell *c, json_t **ret, PicError *err) {
        json_t *a = json_array();
        int r = a ? store_mesh_cell_foreach(c->store, collect_cell, &(ListCtx) { c, a }) : -ENOMEM;
        if (r < 0) {
                json_decref(a);
                return pic_error(err, r, NULL, "cannot read the linked cells");
        }
        *ret = json_pack("{s:o, s:I}", "cells", a, "count", (json_int_t) json_array_size(a));
        return *ret ? 0 : pic_error(err, -ENOMEM, NULL, "out of memory");
}

static int get_link(Cell *c, const char *name, MeshCell *ret, PicError *err) {
        if (!name_is_valid(name))
                return pic_error(err, -ENOENT, "name", "no such linked cell");
        int r = store_mesh_cell_get(c->store, name, ret);
        if (r == -ENOENT)
                return pic_error(err, r, "name", "no linked cell named \"%s\"", name);
        return r < 0 ? pic_error(err, r, NULL, "cannot read the linked cell") : 0;
}

int svc_mesh_cell_get(Cell *c, const char *name, json_t **ret, PicError *err) {
        _cleanup_free_ MeshCell *m = malloc(sizeof *m);
        if (!m)
                return pic_error(err, -ENOMEM, NULL, "out of memory");
        int r = get_link(c, name, m, err);
        if (r < 0)
                return r;
        *ret = mesh_cell_to_json(c, m, true);
        return *ret ? 0 : pic_error(err, -ENOMEM, NULL, "out of memory");
}

typedef struct ShareChange {
        MeshCell *m;
        Peer old, new;
        bool share;
        json_t *grants;    /* peer -> [service], validated */
        char *del_old;     /* elements of the grants being replaced */
        char *add_old;
        char *del_new, *add_new;
} ShareChange;

/* The elements of the named peers' grants at m, as the store has them now. */
static int grants_script(Cell *c, const MeshCell *m, json_t *peers, const char *verb, char **ret) {
        StrBuf b = STRBUF_INIT;
        Cidr4 vpn, range;
        if (mesh_cell_nets(m, &vpn, &range) < 0)
                return -EINVAL;
        const char *peer;
        json_t *v;
        int r = 0;
        json_object_foreach(peers, peer, v) {
                GrantCtx g = { c, &range, &b, verb };
                r = store_mesh_grant_foreach(c->store, peer, m->name, grant_line, &g);
                if (r < 0)
                        break;
        }
        if (r >= 0 && b.error)
                r = b.error;
        if (r < 0) {
                strbuf_done(&b);
                return r;
        }
        *ret = strbuf_steal(&b);
        return *ret ? 0 : -ENOMEM;
}

static int run_script(Cell *c, const char *a, const char *b, PicError *err) {
        _cleanup_free_ char *script = NULL, *nft_err = NULL;
        if (strdup_printf(&script, "%s%s", a ? a : "", b ? b : "") < 0)
                return pic_error(err, -ENOMEM, NULL, "out of memory");
        if (!*script)
                return 0;
        int r = cell_nft_run(c, script, NULL, &nft_err);
        return r < 0 ? pic_error(err, r, NULL, "nftables rejected the remote grants: %s", nft_err ? nft_err : "") : 0;
}

static int share_write(Cell *c, void *userdata, PicError *err) {
        ShareChange *sc = userdata;
        int r = 0;
        if (sc->share && (r = store_peer_update(c->store, &sc->new)) < 0)
                return pic_error(err, r, NULL, "cannot store the share");
        const char *peer;
        json_t *v;
        json_object_foreach(sc->grants, peer, v) {
                if ((r = store_mesh_grant_remove(c->store, peer, sc->m->name)) < 0)
                        break;
                size_t i;
                json_t *e;
                json_array_foreach(v, i, e) {
                        if ((r = store_mesh_grant_add(c->store, peer, sc->m->name, json_string_value(e))) < 0)
                                break;
                }
                if (r < 0)
                        break;
        }
        return r < 0 ? pic_error(err, r, NULL, "cannot store the remote grants") : 0;
}

static int share_apply(Cell *c, void *userdata, PicError *err) {
        ShareChange *sc = userdata;
        int r = grants_script(c, sc->m, sc->grants, "add", &sc->add_new);
        if (r >= 0)
                r = grants_script(c, sc->m, sc->grants, "delete", &sc->del_new);
        if (r < 0)
                return pic_error(err, r, NULL, "cannot render the remote grants");
        r = run_script(c, sc->del_old, sc->add_new, err);
        if (r < 0)
                return r;
        if (sc->share && (r = cell_peer_changed(c, &sc->old, &sc->new, err)) < 0) {
                PicError ignored = { 0 };
                (void) run_script(c, sc->del_new, sc->add_old, &ignored);
        }
        return r;
}

static void share_undo(Cell *c, void *userdata, bool applied) {
        ShareChange *sc = userdata;
        PicError ignored = { 0 };
        if (!applied)
                return;
        if (sc->share)
                (void) cell_peer_changed(c, &sc->new, &sc->old, &ignored);
        (void) run_script(c, sc->del_new, sc->add_old, &ignored);
}

static const CellMutation share_mutation = {
        .what = "the share change", .write = share_write, .apply = share_apply, .undo = share_undo,
};

int svc_mesh_cell_update(Cell *c, const char *name, json_t *body, json_t **ret, PicError *err) {
        static const char *const known[] = { "share", "grants" };
        int r = body_check_fields(body, known, ELEMENTSOF(known), err);
        if (r < 0)
                return r;
        ShareChange sc = { 0 };
        sc.m = malloc(sizeof *sc.m);
        sc.grants = json_object();
        if (!sc.m || !sc.grants) {
                r = pic_error(err, -ENOMEM, NULL, "out of memory");
                goto out;
        }
        if ((r = get_link(c, name, sc.m, err)) < 0)
                goto out;
        if (!is_active(sc.m)) {
                r = pic_error(err, -EBUSY, "name", "the link with \"%s\" is still being made", name);
                goto out;
        }
        json_t *share = json_object_get(body, "share");
        if (share) {
                char site[PEER_NAME_MAX];
                mesh_site_name(name, site);
                if (store_peer_get_by_name(c->store, site, &sc.old) < 0) {
                        r = pic_error(err, -EIO, NULL, "the site peer of \"%s\" is missing", name);
                        goto out;
                }
                sc.new = sc.old;
                if ((r = parse_services(c, share, "share", &sc.new.access, NULL, 0, err)) < 0)
                        goto out;
                sc.new.updated_at = wall_sec();
                sc.share = true;
        }
        json_t *grants = json_object_get(body, "grants");
        if (grants) {
                if (!json_is_object(grants)) {
                        r = pic_error(err, -EINVAL, "grants", "grants must be an object: peer name -> list of services");
                        goto out;
                }
                const char *peer;
                json_t *v;
                json_object_foreach(grants, peer, v) {
                        Peer p;
                        if (!name_is_valid(peer) || startswith(peer, PEERS_SITE_PREFIX) ||
                            store_peer_get_by_name(c->store, peer, &p) < 0) {
                                r = pic_error(err, -EINVAL, "grants", "grants names \"%.64s\", which is no peer of this cell",
                                              peer);
                                goto out;
                        }
                        secret_wipe(&p, sizeof p);
                        uint32_t mask;
                        if ((r = parse_services(c, v, "grants", &mask, NULL, 0, err)) < 0)
                                goto out;
                        json_t *list = json_array();
                        for (unsigned g = 0; g < REGISTRY_GRANTS_MAX; g++)
                                if (mask & (1u << g))
                                        json_array_append_new(list, json_string(registry_grant_to_string(&c->registry, g)));
                        json_object_set_new(sc.grants, peer, list);
                }
        }
        if (!share && !grants) {
                r = pic_error(err, -EINVAL, "share", "give share (services this cell shares with %s) and/or grants", name);
                goto out;
        }
        if ((r = grants_script(c, sc.m, sc.grants, "delete", &sc.del_old)) < 0 ||
            (r = grants_script(c, sc.m, sc.grants, "add", &sc.add_old)) < 0) {
                r = pic_error(err, r, NULL, "cannot render the remote grants");
                goto out;
        }
        r = cell_mutate(c, &share_mutation, &sc, err);
        if (r >= 0) {
                if (sc.share)
                        accounts_peer_changed(c, &sc.old, &sc.new);
                *ret = mesh_cell_to_json(c, sc.m, false);
                if (!*ret)
                        r = pic_error(err, -ENOMEM, NULL, "out of memory");
        }
out:
        secret_wipe(&sc.old, sizeof sc.old);
        secret_wipe(&sc.new, sizeof sc.new);
        free(sc.m);
        json_decref(sc.grants);
        free(sc.del_old);
        free(sc.add_old);
        free(sc.del_new);
        free(sc.add_new);
        return r;
}

/* The endpoint listens on TCP wireguard.port; names and subnets are read when an invite or join needs them. */
static const char *const watches[] = { "wireguard.port", NULL };

const ServiceOps svc_mesh_ops = {
        .name = SERVICE_NAME,
        .watches = watches,
        .setup = mesh_setup,
        .probe = mesh_probe,
        .peer_changed = mesh_peer_changed,
        .teardown = mesh_teardown,
};
