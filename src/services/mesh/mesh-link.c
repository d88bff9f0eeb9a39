/* Making and ending links: the mesh endpoint (one signed JSON line each way over TCP on wireguard.port),
 * joining with an invite (a pending row is stored before the request leaves, so a crash is finished by
 * sending the same join again, which the inviter answers idempotently), accepting, and leaving. */
#include "services/mesh/mesh-internal.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <sys/epoll.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <sys/socket.h>

#include "basic/fileio.h"
#include "basic/log.h"
#include "basic/parse.h"
#include "basic/time-util.h"
#include "basic/util.h"
#include "core/accounts.h"
#include "core/mutation.h"
#include "core/netns-run.h"
#include "core/peers.h"
#include "crypto/secret.h"
#include "crypto/wgkey.h"
#include "services/firewall/firewall.h"

#define CONN_TIMEOUT_USEC (5 * USEC_PER_SEC)
#define CALL_CONNECT_MS 3000
#define CALL_REPLY_SEC 10
#define LEAVE_SKEW_SEC 600
#define RETRY_USEC (5 * USEC_PER_SEC)

/* ---- link add / remove (store + live, one unit) -------------------------------------------------------------- */

typedef struct LinkChange {
        const MeshCell *m;
        Peer peer;
        int64_t invite_id; /* > 0: mark this invite used */
        bool add;
        char *nft;         /* the link's elements, rendered before the store changes */
        bool peer_applied, nft_applied, route_applied, dns_applied;
} LinkChange;

static int link_write(Cell *c, void *userdata, PicError *err) {
        LinkChange *lc = userdata;
        int r;
        if (lc->add) {
                if ((r = store_mesh_cell_put(c->store, lc->m)) < 0)
                        return pic_error(err, r, NULL, "cannot store the link");
                if ((r = store_peer_insert(c->store, &lc->peer)) < 0)
                        return pic_error(err, r == -EEXIST ? -EEXIST : r, "invite",
                                         "the site peer \"%s\" or its address or key is already taken", lc->peer.name);
                if (lc->invite_id > 0 &&
                    (r = store_mesh_invite_mark_used(c->store, lc->invite_id, lc->m->name, wall_sec())) < 0)
                        return pic_error(err, r, NULL, "cannot mark the invite used");
                return 0;
        }
        if ((r = store_mesh_cell_delete(c->store, lc->m->name)) < 0 && r != -ENOENT)
                return pic_error(err, r, NULL, "cannot remove the link");
        if (lc->peer.id && (r = store_peer_delete(c->store, lc->peer.id)) < 0 && r != -ENOENT)
                return pic_error(err, r, NULL, "cannot remove the site peer");
        return 0;
}

static int run_nft(Cell *c, const char *script, PicError *err) {
        _cleanup_free_ char *nft_err = NULL;
        if (!script || !*script)
                return 0;
        int r = cell_nft_run(c, script, NULL, &nft_err);
        return r < 0 ? pic_error(err, r, NULL, "nftables rejected the link's rules: %s", nft_err ? nft_err : "") : 0;
}

/* add: the other side's peer, then elements, route, DNS; remove in the reverse order. Each step done is
 * recorded, so a failure (or the undo of a failed commit) takes back exactly those. */
static void link_unwind(Cell *c, LinkChange *lc) {
        PicError ignored = { 0 };
        bool add = lc->add;
        if (lc->dns_applied)
                (void) mesh_link_dns(c, lc->m, !add, &ignored);
        if (lc->route_applied)
                (void) mesh_link_route(c, lc->m, !add, &ignored);
        if (lc->nft_applied) {
                /* the same elements, the other verb */
                StrBuf b = STRBUF_INIT;
                (void) mesh_link_nft(c, lc->m, !add, &b);
                _cleanup_free_ char *s = strbuf_steal(&b);
                (void) run_nft(c, s, &ignored);
        }
        if (lc->peer_applied)
                (void) cell_peer_changed(c, add ? &lc->peer : NULL, add ? NULL : &lc->peer, &ignored);
        lc->dns_applied = lc->route_applied = lc->nft_applied = lc->peer_applied = false;
}

static int link_apply(Cell *c, void *userdata, PicError *err) {
        LinkChange *lc = userdata;
        int r;
        if (lc->add) {
                if ((r = cell_peer_changed(c, NULL, &lc->peer, err)) < 0)
                        return r;
                lc->peer_applied = true;
                if ((r = run_nft(c, lc->nft, err)) < 0)
                        goto fail;
                lc->nft_applied = true;
                if ((r = mesh_link_route(c, lc->m, true, err)) < 0)
                        goto fail;
                lc->route_applied = true;
                /* This cell forwards its peers' granted traffic into the tunnel towards the other cell. */
                if ((r = svc_firewall_forwarding_on(c)) < 0) {
                        pic_error(err, r, NULL, "cannot enable IPv4 forwarding: %s", strerror(-r));
                        goto fail;
                }
                if ((r = mesh_link_dns(c, lc->m, true, err)) < 0)
                        goto fail;
                lc->dns_applied = true;
                return 0;
        }
        if ((r = mesh_link_dns(c, lc->m, false, err)) < 0)
                goto fail;
        lc->dns_applied = true;
        if ((r = mesh_link_route(c, lc->m, false, err)) < 0)
                goto fail;
        lc->route_applied = true;
        if ((r = run_nft(c, lc->nft, err)) < 0)
                goto fail;
        lc->nft_applied = true;
        if (lc->peer.id) {
                if ((r = cell_peer_changed(c, &lc->peer, NULL, err)) < 0)
                        goto fail;
                lc->peer_applied = true;
        }
        return 0;
fail:
        link_unwind(c, lc);
        return r;
}

static void link_undo(Cell *c, void *userdata, bool applied) {
        if (applied)
                link_unwind(c, userdata);
}

static const CellMutation link_mutation = {
        .what = "the link", .write = link_write, .apply = link_apply, .undo = link_undo,
};

int mesh_link_add(Cell *c, const MeshCell *m, uint32_t access, int64_t used_invite_id, PicError *err) {
        LinkChange lc = { .m = m, .invite_id = used_invite_id, .add = true };
        mesh_site_name(m->name, lc.peer.name);
        snprintf(lc.peer.public_key, sizeof lc.peer.public_key, "%s", m->wg_key);
        snprintf(lc.peer.description, sizeof lc.peer.description, "site peer of linked cell %s", m->name);
        lc.peer.ip = m->local_ip;
        lc.peer.access = access;
        lc.peer.enabled = true;
        lc.peer.created_at = lc.peer.updated_at = wall_sec();
        /* Rendered from the link itself (no grants yet on a new link). */
        StrBuf b = STRBUF_INIT;
        int r = mesh_link_nft(c, m, true, &b);
        lc.nft = strbuf_steal(&b);
        if (r < 0 || !lc.nft) {
                free(lc.nft);
                return pic_error(err, r < 0 ? r : -ENOMEM, NULL, "cannot render the link's rules");
        }
        r = cell_mutate(c, &link_mutation, &lc, err);
        if (r >= 0)
                accounts_peer_changed(c, NULL, &lc.peer);
        free(lc.nft);
        return r;
}

int mesh_link_remove(Cell *c, const MeshCell *m, PicError *err) {
        LinkChange lc = { .m = m, .add = false };
        char site[PEER_NAME_MAX];
        mesh_site_name(m->name, site);
        bool have_peer = store_peer_get_by_name(c->store, site, &lc.peer) >= 0;
        StrBuf b = STRBUF_INIT;
        int r = mesh_link_nft(c, m, false, &b);
        lc.nft = strbuf_steal(&b);
        if (r < 0 || !lc.nft) {
                free(lc.nft);
                return pic_error(err, r < 0 ? r : -ENOMEM, NULL, "cannot render the link's rules");
        }
        r = cell_mutate(c, &link_mutation, &lc, err);
        if (r >= 0 && have_peer)
                accounts_peer_changed(c, &lc.peer, NULL);
        free(lc.nft);
        secret_wipe(&lc.peer, sizeof lc.peer);
        return r;
}

/* ---- checks shared by both sides ---------------------------------------------------------------------------- */

typedef struct OverlapCtx {
        const char *name;
        const char *identity;
        Cidr4 vpn, range;
        PicError *err;
        int r;
} OverlapCtx;

static int overlap_link(const MeshCell *m, void *userdata) {
        OverlapCtx *o = userdata;
        Cidr4 vpn, range;
        if (streq(m->name, o->name))
                return o->r = pic_error(o->err, -EEXIST, "invite", "a cell named \"%s\" is already linked", m->name);
        if (streq(m->identity, o->identity))
                return o->r = pic_error(o->err, -EEXIST, "invite", "this cell is already linked as \"%s\"", m->name);
        if (mesh_cell_nets(m, &vpn, &range) < 0)
                return 0;
        if (cidr4_overlaps(&vpn, &o->vpn) || cidr4_overlaps(&vpn, &o->range) || cidr4_overlaps(&range, &o->vpn) ||
            cidr4_overlaps(&range, &o->range))
                return o->r = pic_error(o->err, -EEXIST, "invite",
                                        "the subnets of \"%s\" (%s, %s) overlap those of linked cell \"%s\" (%s, %s)",
                                        o->name, "vpn", "range", m->name, m->vpn, m->range);
        return 0;
}

/* 409 when the other cell's name or subnets clash with this cell or one already linked. */
static int check_conflicts(Cell *c, const MeshSelf *self, const char *name, const char *identity, const Cidr4 *vpn,
                           const Cidr4 *range, PicError *err) {
        if (streq(identity, self->identity))
                return pic_error(err, -EINVAL, "invite", "the invite is this cell's own");
        if (streq(name, self->name))
                return pic_error(err, -EEXIST, "invite", "the other cell has this cell's name \"%s\"", name);
        if (strlen(name) + strlen(PEERS_SITE_PREFIX) >= PEER_NAME_MAX)
                return pic_error(err, -EINVAL, "invite", "the other cell's name is too long to link");
        char a[CIDR4_STRLEN], b[CIDR4_STRLEN];
        if (cidr4_overlaps(vpn, &self->vpn) || cidr4_overlaps(vpn, &self->range) || cidr4_overlaps(range, &self->vpn) ||
            cidr4_overlaps(range, &self->range))
                return pic_error(err, -EEXIST, "invite",
                                 "the subnets of \"%s\" (%s, %s) overlap this cell's VPN subnet or service range", name,
                                 cidr4_format_network(vpn, a), cidr4_format_network(range, b));
        Peer p;
        char site[PEER_NAME_MAX];
        mesh_site_name(name, site);
        if (store_peer_get_by_name(c->store, site, &p) >= 0) {
                secret_wipe(&p, sizeof p);
                return pic_error(err, -EEXIST, "invite", "a peer named \"%s\" already exists", site);
        }
        OverlapCtx o = { name, identity, *vpn, *range, err, 0 };
        int r = store_mesh_cell_foreach(c->store, overlap_link, &o);
        return o.r < 0 ? o.r : r < 0 ? pic_error(err, r, NULL, "cannot read the linked cells") : 0;
}

static json_t *self_json(const MeshSelf *s) {
        char vpn[CIDR4_STRLEN + 4], range[CIDR4_STRLEN], a[IPV4_STRLEN];
        snprintf(vpn, sizeof vpn, "%s/%u", ipv4_format(s->vpn.addr, a), s->vpn.prefix);
        cidr4_format_network(&s->range, range);
        return json_pack("{s:s, s:s, s:s, s:s, s:s, s:i, s:s, s:s, s:i}", "name", s->name, "domain", s->domain, "id",
                         s->identity, "wg", s->wg_key, "host", s->host, "port", (int) s->port, "vpn", vpn, "range", range,
                         "dns_port", (int) s->dns_port);
}

/* The joiner's facts from a join message, by the same grammar as an invite's. */
static int parse_from(json_t *from, MeshCell *m, Cidr4 *vpn, Cidr4 *range) {
        const char *name = json_string_value(json_object_get(from, "name"));
        const char *domain = json_string_value(json_object_get(from, "domain"));
        const char *id = json_string_value(json_object_get(from, "id"));
        const char *wg = json_string_value(json_object_get(from, "wg"));
        const char *host = json_string_value(json_object_get(from, "host"));
        const char *v = json_string_value(json_object_get(from, "vpn"));
        const char *rg = json_string_value(json_object_get(from, "range"));
        json_t *port = json_object_get(from, "port"), *dport = json_object_get(from, "dns_port");
        uint8_t pk[IDENTITY_PK_BYTES];
        uint32_t ip;
        if (!name || !name_is_valid(name) || !domain || strlen(domain) >= sizeof m->domain ||
            !dns_name_is_valid(domain, false) || !id || identity_pk_from_string(id, pk) < 0 || !wg ||
            !wg_key_is_valid(wg) || !host || strlen(host) >= sizeof m->host ||
            (ipv4_parse(host, &ip) < 0 && !dns_name_is_valid(host, false)) || !json_is_integer(port) ||
            json_integer_value(port) < 1 || json_integer_value(port) > 65535 || !json_is_integer(dport) ||
            json_integer_value(dport) < 1 || json_integer_value(dport) > 65535 || !v || cidr4_parse(v, true, vpn) < 0 ||
            !rg || cidr4_parse(rg, true, range) < 0 || range->addr != cidr4_network(range))
                return -EINVAL;
        snprintf(m->name, sizeof m->name, "%s", name);
        snprintf(m->domain, sizeof m->domain, "%s", domain);
        snprintf(m->identity, sizeof m->identity, "%s", id);
        snprintf(m->wg_key, sizeof m->wg_key, "%s", wg);
        snprintf(m->host, sizeof m->host, "%s", host);
        m->port = (uint16_t) json_integer_value(port);
        m->dns_port = (uint16_t) json_integer_value(dport);
        snprintf(m->vpn, sizeof m->vpn, "%s", v);
        snprintf(m->range, sizeof m->range, "%s", rg);
        return 0;
}

static json_t *error_body(int status, const char *message) {
        return json_pack("{s:s, s:i, s:s}", "type", "error", "status", status, "message", message);
}

static int status_of(int r) {
        return r == -EEXIST ? 409 : r == -EPERM || r == -EACCES ? 403 : r == -EINVAL || r == -EBADMSG ? 400 : 500;
}

/* ---- the inviter's side ------------------------------------------------------------------------------------- */

static json_t *accept_body(const MeshCell *m, const char *joiner_id, const char *nonce) {
        char a[IPV4_STRLEN];
        return json_pack("{s:s, s:s, s:s, s:s}", "type", "accept", "to", joiner_id, "nonce", nonce, "site_ip",
                         ipv4_format(m->local_ip, a));
}

/* A join: the invite must be this cell's, unused (or used by this very joiner: an answer it lost), unexpired;
 * the message signed by the key it names; nothing may clash. Returns the body to sign. */
static json_t *handle_join(Cell *c, MeshState *st, json_t *body, json_t *env) {
        PicError err = { 0 };
        Invite inv;
        char why[200];
        const char *text = json_string_value(json_object_get(body, "invite"));
        char own[IDENTITY_PK_STRLEN];
        identity_pk_to_string(st->id.pk, own);
        if (!text || invite_decode(text, &inv, why, sizeof why) < 0)
                return error_body(400, "the invite is not valid");
        if (!streq(inv.identity, own))
                return error_body(403, "the invite was not issued by this cell");
        _cleanup_free_ MeshCell *m = calloc(1, sizeof *m);
        Cidr4 vpn, range;
        if (!m)
                return NULL;
        if (parse_from(json_object_get(body, "from"), m, &vpn, &range) < 0)
                return error_body(400, "the joining cell's details are invalid");
        uint8_t pk[IDENTITY_PK_BYTES];
        json_t *verified = NULL;
        if (identity_pk_from_string(m->identity, pk) < 0 || signed_msg_open(env, pk, MESH_CONTEXT, &verified) < 0)
                return error_body(403, "the join is not signed by the key it names");
        json_decref(verified);
        const char *site_ip = json_string_value(json_object_get(body, "site_ip"));
        uint32_t remote_ip;
        if (!site_ip || ipv4_parse(site_ip, &remote_ip) < 0 || !cidr4_contains(&vpn, remote_ip))
                return error_body(400, "the joining cell's site address is invalid");
        MeshInvite row;
        if (store_mesh_invite_get_by_nonce(c->store, inv.nonce, &row) < 0)
                return error_body(403, "the invite is unknown here or was withdrawn");
        if (row.used_by[0]) {
                _cleanup_free_ MeshCell *have = malloc(sizeof *have);
                if (have && streq(row.used_by, m->name) && store_mesh_cell_get(c->store, m->name, have) >= 0 &&
                    streq(have->identity, m->identity) && streq(have->nonce, inv.nonce))
                        return accept_body(have, m->identity, inv.nonce);
                return error_body(403, "the invite was already used");
        }
        if (inv.expires_at <= wall_sec() || row.expires_at <= wall_sec())
                return error_body(403, "the invite has expired");
        MeshSelf self;
        if (mesh_self(c, &self, &err) < 0)
                return error_body(500, err.message);
        int r = check_conflicts(c, &self, m->name, m->identity, &vpn, &range, &err);
        if (r < 0)
                return error_body(status_of(r), err.message);
        uint32_t local_ip;
        if (peers_allocate_ip(c, 0, &local_ip, &err) < 0)
                return error_body(409, err.message);
        m->local_ip = local_ip;
        m->remote_ip = remote_ip;
        snprintf(m->nonce, sizeof m->nonce, "%s", inv.nonce);
        snprintf(m->state, sizeof m->state, "active");
        snprintf(m->offered, sizeof m->offered, "%s", "");
        m->created_at = wall_sec();
        uint32_t access = 0;
        for (size_t i = 0; i < inv.n_share; i++) {
                int g = registry_grant_from_string(&c->registry, inv.share[i]);
                if (g >= 0)
                        access |= 1u << g;
        }
        if ((r = mesh_link_add(c, m, access, row.id, &err)) < 0)
                return error_body(status_of(r), err.message);
        log_info("mesh: cell \"%s\" joined with invite %lld", m->name, (long long) row.id);
        return accept_body(m, m->identity, inv.nonce);
}

static json_t *handle_leave(Cell *c, MeshState *st, json_t *body, json_t *env) {
        const char *from = json_string_value(json_object_get(body, "from"));
        const char *to = json_string_value(json_object_get(body, "to"));
        json_t *ts = json_object_get(body, "ts");
        char own[IDENTITY_PK_STRLEN];
        identity_pk_to_string(st->id.pk, own);
        _cleanup_free_ MeshCell *m = malloc(sizeof *m);
        uint8_t pk[IDENTITY_PK_BYTES];
        json_t *verified = NULL;
        if (!m || !from || !to || !streq(to, own) || !json_is_integer(ts) ||
            store_mesh_cell_get_by_identity(c->store, from, m) < 0 || identity_pk_from_string(from, pk) < 0 ||
            signed_msg_open(env, pk, MESH_CONTEXT, &verified) < 0)
                return error_body(403, "not a leave notice of a linked cell");
        json_decref(verified);
        /* The notice names the link it ends (its invite nonce): one recorded from an earlier link between the same
         * cells cannot end a newer one. */
        if (!streq_ptr(json_string_value(json_object_get(body, "nonce")), m->nonce))
                return error_body(403, "the leave notice is for another link");
        int64_t skew = json_integer_value(ts) - wall_sec();
        if (skew > LEAVE_SKEW_SEC || skew < -LEAVE_SKEW_SEC)
                return error_body(403, "the leave notice is too old or from the future");
        PicError err = { 0 };
        if (mesh_link_remove(c, m, &err) < 0)
                return error_body(500, err.message);
        log_info("mesh: cell \"%s\" left", m->name);
        return json_pack("{s:s, s:s}", "type", "left", "to", from);
}

static json_t *handle_message(Cell *c, MeshState *st, const char *line, size_t len) {
        json_t *env = json_loadb(line, len, JSON_REJECT_DUPLICATES, NULL);
        json_t *body = NULL, *reply = NULL;
        uint8_t *raw = NULL, sig[IDENTITY_SIG_BYTES];
        size_t rl;
        if (!env || signed_msg_body(env, &body, &raw, &rl, sig) < 0)
                reply = error_body(400, "not a signed mesh message");
        else {
                const char *type = json_string_value(json_object_get(body, "type"));
                if (type && streq(type, "join"))
                        reply = handle_join(c, st, body, env);
                else if (type && streq(type, "leave"))
                        reply = handle_leave(c, st, body, env);
                else
                        reply = error_body(400, "unknown message type");
        }
        free(raw);
        json_decref(body);
        json_decref(env);
        json_t *signed_reply = NULL;
        if (reply && signed_msg_encode(reply, &st->id, MESH_CONTEXT, &signed_reply) < 0)
                signed_reply = NULL;
        json_decref(reply);
        return signed_reply;
}

/* ---- the endpoint --------------------------------------------------------------------------------------------- */

static void conn_close(MeshConn *k) {
        if (k->fd < 0)
                return;
        loop_del_io(k->st->cell->loop, k->fd);
        close(k->fd);
        k->fd = -1;
        if (k->timeout)
                loop_cancel_timer(k->st->cell->loop, k->timeout);
        k->timeout = NULL;
        k->len = 0;
}

static void conn_timeout(Loop *l, void *userdata) {
        MeshConn *k = userdata;
        k->timeout = NULL;
        conn_close(k);
}

static void conn_io(Loop *l, int fd, uint32_t events, void *userdata) {
        MeshConn *k = userdata;
        ssize_t n = read(fd, k->buf + k->len, sizeof k->buf - k->len);
        if (n <= 0) {
                if (n < 0 && (errno == EAGAIN || errno == EINTR))
                        return;
                conn_close(k);
                return;
        }
        k->len += (size_t) n;
        char *nl = memchr(k->buf, '\n', k->len);
        if (!nl) {
                if (k->len == sizeof k->buf)
                        conn_close(k);
                return;
        }
        json_t *reply = handle_message(k->st->cell, k->st, k->buf, (size_t) (nl - k->buf));
        char *text = reply ? json_dumps(reply, JSON_COMPACT) : NULL;
        json_decref(reply);
        if (text) {
                /* A small reply on a fresh socket: it fits the send buffer, so this does not block. */
                size_t tl = strlen(text);
                int flags = fcntl(fd, F_GETFL);
                (void) fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
                struct timeval tv = { .tv_sec = 2 };
                (void) setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
                (void) fd_write_all(fd, text, tl);
                (void) fd_write_all(fd, "\n", 1);
                free(text);
        }
        conn_close(k);
}

static void listen_io(Loop *l, int fd, uint32_t events, void *userdata) {
        MeshState *st = userdata;
        int cfd = accept4(fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (cfd < 0)
                return;
        MeshConn *k = NULL;
        for (size_t i = 0; i < MESH_CONNS_MAX && !k; i++)
                if (st->conns[i].fd < 0)
                        k = &st->conns[i];
        if (!k) {
                close(cfd); /* busy: the other side retries */
                return;
        }
        k->fd = cfd;
        k->len = 0;
        k->st = st;
        if (loop_add_io(l, cfd, EPOLLIN, conn_io, k) < 0) {
                close(cfd);
                k->fd = -1;
                return;
        }
        (void) loop_add_timer(l, CONN_TIMEOUT_USEC, conn_timeout, k, &k->timeout);
}

typedef struct SockArgs {
        uint16_t port;
        uint32_t ip;
        int fd;
} SockArgs;

static int listen_in_netns(Cell *c, void *userdata) {
        SockArgs *a = userdata;
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
                return negative_errno();
        int one = 1;
        (void) setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(a->port) };
        if (bind(fd, (struct sockaddr *) &sa, sizeof sa) < 0 || listen(fd, 16) < 0) {
                int r = negative_errno();
                close(fd);
                return r;
        }
        a->fd = fd;
        return 0;
}

int mesh_wire_listen(Cell *c, MeshState *st, PicError *err) {
        SockArgs a = { .port = (uint16_t) settings_int(c->settings, "wireguard.port"), .fd = -1 };
        int r = cell_in_netns(c, listen_in_netns, &a);
        if (r < 0)
                return pic_error(err, r, "wireguard.port", "the mesh endpoint cannot listen on TCP port %u: %s", a.port,
                                 strerror(-r));
        r = loop_add_io(c->loop, a.fd, EPOLLIN, listen_io, st);
        if (r < 0) {
                close(a.fd);
                return pic_error(err, r, NULL, "cannot watch the mesh endpoint");
        }
        st->listen_fd = a.fd;
        return 0;
}

void mesh_wire_close(MeshState *st) {
        for (size_t i = 0; i < MESH_CONNS_MAX; i++)
                if (st->conns[i].st)
                        conn_close(&st->conns[i]);
        if (st->listen_fd >= 0) {
                loop_del_io(st->cell->loop, st->listen_fd);
                close(st->listen_fd);
                st->listen_fd = -1;
        }
}

static int socket_in_netns(Cell *c, void *userdata) {
        SockArgs *a = userdata;
        int fd = socket(AF_INET, a->port ? SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK : SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return negative_errno();
        a->fd = fd;
        return 0;
}

int mesh_wire_call(Cell *c, const char *host, uint16_t port, json_t *env, json_t **ret_env, bool *ret_sent,
                   PicError *err) {
        *ret_sent = false;
        uint32_t ip;
        if (ipv4_parse(host, &ip) < 0)
                return pic_error(err, -EHOSTDOWN, "invite", "the other cell's endpoint \"%s\" is not an IPv4 address", host);
        SockArgs a = { .port = port, .fd = -1 };
        int r = cell_in_netns(c, socket_in_netns, &a);
        if (r < 0)
                return pic_error(err, r, NULL, "cannot open a socket: %s", strerror(-r));
        _cleanup_close_ int fd = a.fd;
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(ip) };
        if (connect(fd, (struct sockaddr *) &sa, sizeof sa) < 0 && errno != EINPROGRESS)
                return pic_error(err, -EHOSTDOWN, "invite", "cannot reach the other cell at %s:%u: %s", host, port,
                                 strerror(errno));
        struct pollfd pfd = { .fd = fd, .events = POLLOUT };
        int soerr = 0;
        socklen_t sl = sizeof soerr;
        if (poll(&pfd, 1, CALL_CONNECT_MS) != 1 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0 || soerr)
                return pic_error(err, -EHOSTDOWN, "invite", "cannot reach the other cell at %s:%u: %s", host, port,
                                 soerr ? strerror(soerr) : "no answer");
        (void) fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
        struct timeval tv = { .tv_sec = CALL_REPLY_SEC };
        (void) setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        (void) setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
        _cleanup_free_ char *text = json_dumps(env, JSON_COMPACT);
        if (!text)
                return pic_error(err, -ENOMEM, NULL, "out of memory");
        *ret_sent = true;
        if (fd_write_all(fd, text, strlen(text)) < 0 || fd_write_all(fd, "\n", 1) < 0)
                return pic_error(err, -EHOSTDOWN, NULL, "the other cell closed the connection");
        _cleanup_free_ char *buf = malloc(MESH_MSG_MAX);
        size_t len = 0;
        if (!buf)
                return pic_error(err, -ENOMEM, NULL, "out of memory");
        while (len < MESH_MSG_MAX) {
                ssize_t n = read(fd, buf + len, MESH_MSG_MAX - len);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        break;
                len += (size_t) n;
                if (memchr(buf, '\n', len))
                        break;
        }
        char *nl = memchr(buf, '\n', len);
        json_t *reply = nl ? json_loadb(buf, (size_t) (nl - buf), JSON_REJECT_DUPLICATES, NULL) : NULL;
        if (!reply)
                return pic_error(err, -EHOSTDOWN, NULL, "the other cell gave no answer");
        *ret_env = reply;
        return 0;
}

/* ---- the joiner's side --------------------------------------------------------------------------------------- */

static int errno_of_status(int status) {
        return status == 409 ? -EEXIST : status == 403 ? -EPERM : status == 400 ? -EINVAL : -EIO;
}

/* Sends the stored pending join m and, on an accept, makes the link. *ret_final: the pending row must go
 * (an answer that refuses, or a request that never left); otherwise the outcome is unknown and it stays. */
static int finish_join(Cell *c, MeshCell *m, bool *ret_final, PicError *err) {
        MeshState *st = mesh_state(c);
        *ret_final = true;
        MeshSelf self;
        int r = mesh_self(c, &self, err);
        if (r < 0)
                return r;
        char a[IPV4_STRLEN];
        json_t *body = json_pack("{s:s, s:s, s:o, s:s, s:I}", "type", "join", "invite", m->invite, "from",
                                 self_json(&self), "site_ip", ipv4_format(m->local_ip, a), "ts", (json_int_t) wall_sec());
        json_t *env = NULL, *reply_env = NULL, *reply = NULL;
        if (!body || signed_msg_encode(body, &st->id, MESH_CONTEXT, &env) < 0) {
                json_decref(body);
                return pic_error(err, -ENOMEM, NULL, "out of memory");
        }
        json_decref(body);
        bool sent = false;
        r = mesh_wire_call(c, m->host, m->port, env, &reply_env, &sent, err);
        json_decref(env);
        if (r < 0) {
                *ret_final = !sent;
                if (sent)
                        pic_error(err, -EHOSTDOWN, "invite",
                                  "cell \"%s\" did not answer the join; it stays pending and is sent again", m->name);
                return -EHOSTDOWN;
        }
        uint8_t pk[IDENTITY_PK_BYTES];
        if (identity_pk_from_string(m->identity, pk) < 0 || signed_msg_open(reply_env, pk, MESH_CONTEXT, &reply) < 0) {
                json_decref(reply_env);
                return pic_error(err, -EPERM, "invite", "the answer was not signed by the cell the invite names");
        }
        json_decref(reply_env);
        const char *type = json_string_value(json_object_get(reply, "type"));
        if (type && streq(type, "error")) {
                int status = (int) json_integer_value(json_object_get(reply, "status"));
                r = pic_error(err, errno_of_status(status), "invite", "cell \"%s\" refused the join: %s", m->name,
                              json_string_value(json_object_get(reply, "message")) ?: "no reason given");
                json_decref(reply);
                return r;
        }
        const char *to = json_string_value(json_object_get(reply, "to"));
        const char *nonce = json_string_value(json_object_get(reply, "nonce"));
        const char *site_ip = json_string_value(json_object_get(reply, "site_ip"));
        uint32_t remote_ip;
        Cidr4 vpn, range;
        if (!type || !streq(type, "accept") || !to || !streq(to, self.identity) || !nonce || !streq(nonce, m->nonce) ||
            !site_ip || ipv4_parse(site_ip, &remote_ip) < 0 || mesh_cell_nets(m, &vpn, &range) < 0 ||
            !cidr4_contains(&vpn, remote_ip)) {
                json_decref(reply);
                return pic_error(err, -EPERM, "invite", "cell \"%s\" gave an answer that does not fit the join", m->name);
        }
        json_decref(reply);
        m->remote_ip = remote_ip;
        snprintf(m->state, sizeof m->state, "active");
        m->invite[0] = '\0';
        r = mesh_link_add(c, m, 0, 0, err);
        if (r < 0) {
                /* The other side has the link: tell it this one could not. */
                (void) mesh_send_leave(c, m);
                return r;
        }
        log_info("mesh: joined cell \"%s\"", m->name);
        return 0;
}

int svc_mesh_join(Cell *c, json_t *body, json_t **ret, PicError *err) {
        if (!json_is_object(body))
                return pic_error(err, -EINVAL, NULL, "request body must be a JSON object");
        const char *k;
        json_t *v;
        json_object_foreach(body, k, v) {
                if (!streq(k, "invite"))
                        return pic_error(err, -EINVAL, k, "unknown field \"%.64s\"", k);
        }
        const char *text = json_string_value(json_object_get(body, "invite"));
        if (!text)
                return pic_error(err, -EINVAL, "invite", "invite must be the text of an invite");
        Invite inv;
        char why[200];
        if (invite_decode(text, &inv, why, sizeof why) < 0)
                return pic_error(err, -EINVAL, "invite", "invite is not valid: %s", why);
        if (inv.expires_at <= wall_sec())
                return pic_error(err, -EINVAL, "invite", "invite has expired");
        MeshSelf self;
        int r = mesh_self(c, &self, err);
        if (r < 0)
                return r;
        if ((r = check_conflicts(c, &self, inv.name, inv.identity, &inv.vpn, &inv.range, err)) < 0)
                return r;
        _cleanup_free_ MeshCell *m = calloc(1, sizeof *m);
        if (!m)
                return pic_error(err, -ENOMEM, NULL, "out of memory");
        if ((r = peers_allocate_ip(c, 0, &m->local_ip, err)) < 0)
                return r;
        char vpn[CIDR4_STRLEN + 4], range[CIDR4_STRLEN], a[IPV4_STRLEN];
        snprintf(vpn, sizeof vpn, "%s/%u", ipv4_format(inv.vpn.addr, a), inv.vpn.prefix);
        snprintf(m->name, sizeof m->name, "%s", inv.name);
        snprintf(m->domain, sizeof m->domain, "%s", inv.domain);
        snprintf(m->identity, sizeof m->identity, "%s", inv.identity);
        snprintf(m->wg_key, sizeof m->wg_key, "%s", inv.wg_key);
        snprintf(m->host, sizeof m->host, "%s", inv.host);
        m->port = inv.port;
        m->dns_port = inv.dns_port;
        snprintf(m->vpn, sizeof m->vpn, "%s", vpn);
        snprintf(m->range, sizeof m->range, "%s", cidr4_format_network(&inv.range, range));
        size_t used = 0;
        for (size_t i = 0; i < inv.n_share; i++)
                used += (size_t) snprintf(m->offered + used, sizeof m->offered - used, "%s%s", i ? "," : "", inv.share[i]);
        snprintf(m->nonce, sizeof m->nonce, "%s", inv.nonce);
        snprintf(m->state, sizeof m->state, "pending");
        snprintf(m->invite, sizeof m->invite, "%s", text);
        m->created_at = wall_sec();
        /* Durable before the request leaves: a crash from here on is finished by sending it again. */
        if ((r = store_mesh_cell_put(c->store, m)) < 0)
                return pic_error(err, r == -EEXIST ? -EEXIST : r, "invite",
                                 r == -EEXIST ? "this cell or its WireGuard key is already linked" : "cannot store the join");
        bool final;
        r = finish_join(c, m, &final, err);
        if (r < 0) {
                if (final)
                        (void) store_mesh_cell_delete(c->store, m->name);
                else
                        mesh_retry_schedule(c, RETRY_USEC);
                return r;
        }
        *ret = mesh_cell_to_json(c, m, false);
        return *ret ? 0 : pic_error(err, -ENOMEM, NULL, "out of memory");
}

typedef struct PendingList {
        char names[MESH_LINKS_MAX][64];
        size_t n;
} PendingList;

static int collect_pending(const MeshCell *m, void *userdata) {
        PendingList *l = userdata;
        if (streq(m->state, "pending") && l->n < MESH_LINKS_MAX)
                snprintf(l->names[l->n++], sizeof l->names[0], "%s", m->name);
        return 0;
}

static void retry_tick(Loop *l, void *userdata) {
        Cell *c = userdata;
        MeshState *st = mesh_state(c);
        if (!st)
                return;
        st->retry = NULL;
        PendingList p = { .n = 0 };
        (void) store_mesh_cell_foreach(c->store, collect_pending, &p);
        size_t left = 0;
        MeshCell *m = malloc(sizeof *m);
        for (size_t i = 0; m && i < p.n; i++) {
                if (store_mesh_cell_get(c->store, p.names[i], m) < 0 || !streq(m->state, "pending"))
                        continue;
                PicError err = { 0 };
                bool final;
                int r = finish_join(c, m, &final, &err);
                Invite inv;
                bool expired = invite_decode(m->invite, &inv, NULL, 0) < 0 || inv.expires_at + 86400 < wall_sec();
                if (r >= 0)
                        continue;
                if (final || expired) {
                        log_warn("mesh: dropping the pending join of \"%s\": %s", m->name, err.message);
                        (void) store_mesh_cell_delete(c->store, m->name);
                } else
                        left++;
        }
        free(m);
        if (left)
                mesh_retry_schedule(c, RETRY_USEC);
}

void mesh_retry_schedule(Cell *c, uint64_t usec) {
        MeshState *st = mesh_state(c);
        if (st && !st->retry)
                (void) loop_add_timer(c->loop, usec, retry_tick, c, &st->retry);
}

/* ---- leaving --------------------------------------------------------------------------------------------------- */

bool mesh_send_leave(Cell *c, const MeshCell *m) {
        MeshState *st = mesh_state(c);
        char own[IDENTITY_PK_STRLEN];
        identity_pk_to_string(st->id.pk, own);
        json_t *body = json_pack("{s:s, s:s, s:s, s:s, s:I}", "type", "leave", "from", own, "to", m->identity, "nonce",
                                 m->nonce, "ts", (json_int_t) wall_sec());
        json_t *env = NULL, *reply_env = NULL, *reply = NULL;
        bool ok = false, sent;
        PicError err = { 0 };
        uint8_t pk[IDENTITY_PK_BYTES];
        if (body && signed_msg_encode(body, &st->id, MESH_CONTEXT, &env) >= 0 &&
            mesh_wire_call(c, m->host, m->port, env, &reply_env, &sent, &err) >= 0 &&
            identity_pk_from_string(m->identity, pk) >= 0 && signed_msg_open(reply_env, pk, MESH_CONTEXT, &reply) >= 0)
                ok = streq_ptr(json_string_value(json_object_get(reply, "type")), "left");
        if (!ok)
                log_warn("mesh: cell \"%s\" did not confirm the leave notice%s%s", m->name, err.message[0] ? ": " : "",
                         err.message);
        json_decref(body);
        json_decref(env);
        json_decref(reply_env);
        json_decref(reply);
        return ok;
}

int svc_mesh_cell_delete(Cell *c, const char *name, json_t **ret, PicError *err) {
        _cleanup_free_ MeshCell *m = malloc(sizeof *m);
        if (!m)
                return pic_error(err, -ENOMEM, NULL, "out of memory");
        if (!name_is_valid(name))
                return pic_error(err, -ENOENT, "name", "no such linked cell");
        int r = store_mesh_cell_get(c->store, name, m);
        if (r < 0)
                return pic_error(err, r, "name", r == -ENOENT ? "no linked cell named \"%s\"" : "cannot read the link %s",
                                 name);
        bool notified = mesh_send_leave(c, m);
        if (streq(m->state, "active"))
                r = mesh_link_remove(c, m, err);
        else if ((r = store_mesh_cell_delete(c->store, name)) < 0)
                r = pic_error(err, r, NULL, "cannot remove the pending join");
        if (r < 0)
                return r;
        *ret = json_pack("{s:s, s:b}", "left", name, "notified", notified);
        return *ret ? 0 : pic_error(err, -ENOMEM, NULL, "out of memory");
}

/* ---- liveness ---------------------------------------------------------------------------------------------------- */

int64_t mesh_dns_probe(Cell *c, const MeshCell *m) {
        MeshState *st = mesh_state(c);
        size_t slot = MESH_LINKS_MAX;
        for (size_t i = 0; st && i < MESH_LINKS_MAX; i++)
                if (streq(st->dns_ok[i].name, m->name) || (!st->dns_ok[i].name[0] && slot == MESH_LINKS_MAX))
                        slot = i;
        Cidr4 vpn, range;
        uint32_t dns;
        if (!st || slot == MESH_LINKS_MAX || mesh_cell_nets(m, &vpn, &range) < 0 ||
            registry_vip(&c->registry, &range, "dns", &dns) < 0)
                return 0;
        snprintf(st->dns_ok[slot].name, sizeof st->dns_ok[slot].name, "%s", m->name);
        /* A query for the zone's SOA: any answer with our id proves the forward path. */
        uint8_t q[512];
        uint16_t id = (uint16_t) (now_usec() & 0xffff);
        size_t n = 0;
        q[n++] = (uint8_t) (id >> 8);
        q[n++] = (uint8_t) id;
        q[n++] = 0x01; /* RD */
        q[n++] = 0;
        const uint8_t counts[8] = { 0, 1, 0, 0, 0, 0, 0, 0 };
        memcpy(q + n, counts, sizeof counts);
        n += sizeof counts;
        char zone[320];
        mesh_cell_zone(m, zone, sizeof zone);
        for (char *save = NULL, *lbl = strtok_r(zone, ".", &save); lbl && n + strlen(lbl) + 6 < sizeof q;
             lbl = strtok_r(NULL, ".", &save)) {
                q[n++] = (uint8_t) strlen(lbl);
                memcpy(q + n, lbl, strlen(lbl));
                n += strlen(lbl);
        }
        const uint8_t tail[5] = { 0, 0, 6, 0, 1 }; /* root, SOA, IN */
        memcpy(q + n, tail, sizeof tail);
        n += sizeof tail;
        SockArgs a = { .port = 0, .fd = -1 };
        if (cell_in_netns(c, socket_in_netns, &a) < 0)
                return st->dns_ok[slot].at;
        _cleanup_close_ int fd = a.fd;
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(m->dns_port), .sin_addr.s_addr = htonl(dns) };
        if (connect(fd, (struct sockaddr *) &sa, sizeof sa) < 0 || send(fd, q, n, 0) != (ssize_t) n)
                return st->dns_ok[slot].at;
        struct pollfd pfd = { .fd = fd, .events = POLLIN };
        uint8_t rbuf[512];
        if (poll(&pfd, 1, 300) == 1 && recv(fd, rbuf, sizeof rbuf, 0) >= 12 && rbuf[0] == q[0] && rbuf[1] == q[1])
                st->dns_ok[slot].at = wall_sec();
        return st->dns_ok[slot].at;
}
