/* Implementation of the peer lifecycle (see peers.h). Validation is complete before anything is written;
 * the store transaction stays open while services apply, so a failed apply rolls back both. */
#include "core/peers.h"

#include <stdio.h>

#include "basic/log.h"
#include "basic/parse.h"
#include "basic/time-util.h"
#include "basic/util.h"
#include "core/accounts.h"
#include "core/body.h"
#include "core/mutation.h"
#include "crypto/secret.h"
#include "crypto/wgkey.h"

json_t *peer_access_to_json(const Registry *reg, uint32_t access) {
        json_t *a = json_array();
        for (unsigned g = 0; g < REGISTRY_GRANTS_MAX; g++)
                if ((access & (1u << g)) && registry_grant_to_string(reg, g))
                        json_array_append_new(a, json_string(registry_grant_to_string(reg, g)));
        return a;
}

json_t *peer_to_json(const Registry *reg, const Peer *p) {
        char ip[IPV4_STRLEN];
        return json_pack("{s:s, s:s, s:s, s:o, s:b, s:b, s:s, s:b, s:I, s:I, s:o}", "name", p->name, "ip",
                         ipv4_format(p->ip, ip), "public_key", p->public_key, "service_access",
                         peer_access_to_json(reg, p->access), "enabled", p->enabled, "route_all", p->route_all,
                         "description", p->description, "keys_generated_by_cell", p->private_key[0] != '\0',
                         "created_at", (json_int_t) p->created_at, "updated_at", (json_int_t) p->updated_at, "owner",
                         p->owner[0] ? json_string(p->owner) : json_null());
}

json_t *peers_warnings(Cell *c) {
        json_t *a = json_array();
        const char *endpoint = settings_str(c->settings, "wireguard.endpoint");
        if (a && (!endpoint || !*endpoint))
                json_array_append_new(a, json_string("wireguard.endpoint is not set, so peer configs use a LAN address "
                                                     "of the cell as Endpoint, which devices on other networks cannot "
                                                     "reach: set wireguard.endpoint to the host name or public "
                                                     "address of this cell (pic config set wireguard.endpoint "
                                                     "HOST[:PORT])"));
        return a;
}

static const char *const known_fields[] = { "name", "ip", "service_access", "enabled", "route_all", "public_key",
                                            "description", "owner" };

static int parse_access(const Registry *reg, json_t *v, uint32_t *ret, PicError *err) {
        char names[256];
        registry_grant_names(reg, names, sizeof names);
        if (!json_is_array(v))
                return pic_error(err, -EINVAL, "service_access", "service_access must be a list drawn from %s", names);
        uint32_t access = 0;
        size_t i;
        json_t *e;
        json_array_foreach(v, i, e) {
                int g = registry_grant_from_string(reg, json_string_value(e));
                if (g < 0)
                        return pic_error(err, -EINVAL, "service_access", "service_access may contain only %s", names);
                access |= 1u << g;
        }
        *ret = access;
        return 0;
}

static int parse_bool(json_t *body, const char *key, bool *ret, PicError *err) {
        json_t *v = json_object_get(body, key);
        if (!v)
                return 0;
        if (!json_is_boolean(v))
                return pic_error(err, -EINVAL, key, "%s must be true or false", key);
        *ret = json_is_true(v);
        return 0;
}

/* Checks a requested VPN address: inside the subnet, not the cell's own, network or broadcast. */
static int parse_ip(Cell *c, json_t *v, uint32_t *ret, PicError *err) {
        Cidr4 vpn, want;
        int r = settings_vpn_address(c->settings, &vpn);
        if (r < 0)
                return pic_error(err, r, "wireguard.address", "the cell's VPN address is not configured");
        const char *s = json_string_value(v);
        if (!s || cidr4_parse(s, false, &want) < 0 || want.prefix != 32)
                return pic_error(err, -EINVAL, "ip", "ip must be an IPv4 address (optionally /32) inside the VPN subnet");
        if (!cidr4_contains(&vpn, want.addr) || want.addr == cidr4_network(&vpn) || want.addr == cidr4_broadcast(&vpn))
                return pic_error(err, -EINVAL, "ip", "ip must be a host address inside the VPN subnet");
        if (want.addr == vpn.addr)
                return pic_error(err, -EEXIST, "ip", "ip is the cell's own VPN address");
        *ret = want.addr;
        return 0;
}

static int allocate_ip(Cell *c, uint32_t *ret, PicError *err) {
        return peers_allocate_ip(c, 0, ret, err);
}

int peers_allocate_ip(Cell *c, uint32_t also_taken, uint32_t *ret, PicError *err) {
        Cidr4 vpn;
        int r = settings_vpn_address(c->settings, &vpn);
        if (r < 0)
                return pic_error(err, r, "wireguard.address", "the cell's VPN address is not configured");
        uint32_t *taken = NULL;
        size_t n = 0;
        r = store_peer_ips(c->store, &taken, &n);
        if (r < 0)
                return pic_error(err, r, NULL, "cannot read allocated addresses");
        /* Lowest free host address: walk the sorted list once. */
        uint32_t cand = cidr4_network(&vpn) + 1, last = cidr4_broadcast(&vpn) - 1;
        size_t i = 0;
        for (; cand <= last; cand++) {
                while (i < n && taken[i] < cand)
                        i++;
                if (cand == vpn.addr || cand == also_taken || (i < n && taken[i] == cand))
                        continue;
                break;
        }
        free(taken);
        if (cand > last)
                return pic_error(err, -EXFULL, "ip", "the VPN subnet is full");
        *ret = cand;
        return 0;
}

static int parse_description(json_t *body, Peer *p, PicError *err) {
        json_t *v = json_object_get(body, "description");
        if (!v)
                return 0;
        if (!json_is_string(v) || !config_text_is_safe(json_string_value(v), 200))
                return pic_error(err, -EINVAL, "description",
                                 "description must be up to 200 printable characters without quotes, braces, '#' or ';'");
        snprintf(p->description, sizeof p->description, "%s", json_string_value(v));
        return 0;
}

/* owner: an existing user's name, or null/"" for nobody. */
static int parse_owner(Cell *c, json_t *body, Peer *p, PicError *err) {
        json_t *v = json_object_get(body, "owner");
        if (!v)
                return 0;
        if (json_is_null(v) || (json_is_string(v) && !*json_string_value(v))) {
                p->owner[0] = '\0';
                return 0;
        }
        const char *name = json_string_value(v);
        StoreUser u;
        if (!name || !name_is_valid(name) || store_user_get_by_name(c->store, name, &u) < 0)
                return pic_error(err, -EINVAL, "owner", "owner must be the name of an existing user, or null");
        snprintf(p->owner, sizeof p->owner, "%s", name);
        return 0;
}

static int parse_public_key(json_t *body, Peer *p, bool *ret_given, PicError *err) {
        json_t *v = json_object_get(body, "public_key");
        *ret_given = false;
        if (!v || json_is_null(v))
                return 0;
        if (!json_is_string(v) || !wg_key_is_valid(json_string_value(v)))
                return pic_error(err, -EINVAL, "public_key", "public_key must be a WireGuard key (44 characters of base64)");
        if (streq(p->public_key, json_string_value(v)))
                return 0; /* unchanged (a PUT echoing the peer back): keep the cell's keys */
        snprintf(p->public_key, sizeof p->public_key, "%s", json_string_value(v));
        /* The owner made the key pair and configures the client by hand: a preshared key it was never told
         * about would make every handshake fail, so a client key means no preshared key either. */
        secret_wipe(p->private_key, sizeof p->private_key);
        secret_wipe(p->preshared_key, sizeof p->preshared_key);
        *ret_given = true;
        return 0;
}

/* Maps a UNIQUE violation to the field at fault by asking the store which one is taken. */
static int conflict_error(Cell *c, const Peer *p, PicError *err) {
        Peer other;
        if (store_peer_get_by_name(c->store, p->name, &other) == 0 && other.id != p->id)
                return pic_error(err, -EEXIST, "name", "a peer named \"%s\" already exists", p->name);
        if (store_peer_get_by_ip(c->store, p->ip, &other) == 0 && other.id != p->id) {
                char ip[IPV4_STRLEN];
                return pic_error(err, -EEXIST, "ip", "%s is already used by peer \"%s\"", ipv4_format(p->ip, ip),
                                 other.name);
        }
        return pic_error(err, -EEXIST, "public_key", "another peer already uses this public key");
}

typedef struct PeerChange {
        const Peer *old;
        Peer *new;
        int write; /* 0 insert, 1 update, 2 delete */
} PeerChange;

static int peer_write(Cell *c, void *userdata, PicError *err) {
        PeerChange *pc = userdata;
        int r = pc->write == 0 ? store_peer_insert(c->store, pc->new)
                : pc->write == 1 ? store_peer_update(c->store, pc->new)
                                 : store_peer_delete(c->store, pc->old->id);
        if (r < 0)
                return r == -EEXIST ? conflict_error(c, pc->new, err) : pic_error(err, r, NULL, "cannot store the peer");
        return 0;
}

static int peer_apply(Cell *c, void *userdata, PicError *err) {
        PeerChange *pc = userdata;
        return cell_peer_changed(c, pc->old, pc->write == 2 ? NULL : pc->new, err);
}

/* cell_peer_changed() already takes back its own partial work when it fails: only a failed commit needs
 * the reverse change. */
static void peer_undo(Cell *c, void *userdata, bool applied) {
        PeerChange *pc = userdata;
        PicError ignored = { 0 };
        if (applied && cell_peer_changed(c, pc->write == 2 ? NULL : pc->new, pc->old, &ignored) < 0)
                log_error("peers: could not undo a peer change after a failed commit: %s", ignored.message);
}

static const CellMutation peer_mutation = {
        .what = "the peer change", .write = peer_write, .apply = peer_apply, .undo = peer_undo,
};

/* Store write + live apply as one unit. write: 0 insert, 1 update, 2 delete. */
static int commit_change(Cell *c, const Peer *old, Peer *new, int write, PicError *err) {
        PeerChange pc = { old, new, write };
        int r = cell_mutate(c, &peer_mutation, &pc, err);
        if (r >= 0)
                accounts_peer_changed(c, old, write == 2 ? NULL : new);
        return r;
}

/* The fields a create and an update share, applied onto p; absent fields leave p as it is. */
static int parse_settable(Cell *c, json_t *body, Peer *p, bool *ret_client_key, bool *ret_ip_given, PicError *err) {
        int r;
        json_t *access = json_object_get(body, "service_access");
        if (access && (r = parse_access(&c->registry, access, &p->access, err)) < 0)
                return r;
        if ((r = parse_bool(body, "enabled", &p->enabled, err)) < 0 ||
            (r = parse_bool(body, "route_all", &p->route_all, err)) < 0 || (r = parse_description(body, p, err)) < 0 ||
            (r = parse_owner(c, body, p, err)) < 0 ||
            (r = parse_public_key(body, p, ret_client_key, err)) < 0)
                return r;
        json_t *ip = json_object_get(body, "ip");
        *ret_ip_given = ip != NULL;
        return ip ? parse_ip(c, ip, &p->ip, err) : 0;
}

int peers_create(Cell *c, json_t *body, Peer *ret, PicError *err) {
        int r = body_check_fields(body, known_fields, ELEMENTSOF(known_fields), err);
        if (r < 0)
                return r;
        Peer p = { .enabled = true };
        const char *name = json_string_value(json_object_get(body, "name"));
        if (!name || !name_is_valid(name))
                return pic_error(err, -EINVAL, "name",
                                 "name must be 1-63 characters of a-z, 0-9 and '-', starting with a letter or digit");
        if (startswith(name, PEERS_SITE_PREFIX))
                return pic_error(err, -EINVAL, "name",
                                 "names starting with \"" PEERS_SITE_PREFIX "\" are the site peers of linked cells");
        snprintf(p.name, sizeof p.name, "%s", name);
        bool client_key, ip_given;
        if ((r = parse_settable(c, body, &p, &client_key, &ip_given, err)) < 0)
                return r;
        if (!ip_given && (r = allocate_ip(c, &p.ip, err)) < 0)
                return r;

        Peer existing;
        if (store_peer_get_by_name(c->store, p.name, &existing) == 0)
                return pic_error(err, -EEXIST, "name", "a peer named \"%s\" already exists", p.name);
        if (!client_key) {
                r = wg_key_generate(p.private_key, p.public_key);
                if (r < 0)
                        return pic_error(err, r, NULL, "cannot generate keys");
                wg_key_random(p.preshared_key);
        }
        p.created_at = p.updated_at = wall_sec();

        r = commit_change(c, NULL, &p, 0, err);
        if (r >= 0)
                *ret = p;
        secret_wipe(&p, sizeof p);
        return r;
}

int peers_get(Cell *c, const char *name, Peer *ret, PicError *err) {
        /* A name outside the grammar cannot exist: 404 like any other unknown name (and not echoed back). */
        if (!name_is_valid(name))
                return pic_error(err, -ENOENT, "name", "no such peer");
        int r = store_peer_get_by_name(c->store, name, ret);
        if (r == -ENOENT)
                return pic_error(err, r, "name", "no peer named \"%s\"", name);
        return r < 0 ? pic_error(err, r, NULL, "cannot read the peer") : 0;
}

/* A linked cell's site peer changes only through its link (services/mesh), which keeps both together. */
static int refuse_site_peer(const Peer *p, PicError *err) {
        if (!startswith(p->name, PEERS_SITE_PREFIX))
                return 0;
        return pic_error(err, -EBUSY, "name",
                         "peer \"%s\" is the site peer of linked cell \"%s\": change it with PUT or DELETE "
                         "/api/mesh/cells/%s",
                         p->name, p->name + strlen(PEERS_SITE_PREFIX), p->name + strlen(PEERS_SITE_PREFIX));
}

int peers_update(Cell *c, const char *name, json_t *body, Peer *ret, PicError *err) {
        Peer old, p;
        int r = body_check_fields(body, known_fields, ELEMENTSOF(known_fields), err);
        if (r < 0)
                return r;
        r = peers_get(c, name, &old, err);
        if (r >= 0)
                r = refuse_site_peer(&old, err);
        if (r < 0)
                return r;
        p = old;
        json_t *n = json_object_get(body, "name");
        if (n && !(json_is_string(n) && streq(json_string_value(n), name)))
                return pic_error(err, -EINVAL, "name", "a peer cannot be renamed; delete it and create a new one");
        bool client_key, ip_given;
        if ((r = parse_settable(c, body, &p, &client_key, &ip_given, err)) < 0)
                return r;
        p.updated_at = wall_sec();
        r = commit_change(c, &old, &p, 1, err);
        if (r >= 0)
                *ret = p;
        secret_wipe(&old, sizeof old);
        secret_wipe(&p, sizeof p);
        return r;
}

int peers_delete(Cell *c, const char *name, PicError *err) {
        Peer old;
        int r = peers_get(c, name, &old, err);
        if (r >= 0)
                r = refuse_site_peer(&old, err);
        if (r < 0)
                return r;
        r = commit_change(c, &old, NULL, 2, err);
        secret_wipe(&old, sizeof old);
        return r;
}
