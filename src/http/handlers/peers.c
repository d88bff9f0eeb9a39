/* /api/peers (and the predecessor's POST /api/wireguard/peers alias): list, create, show, change, delete.
 * Thin: core/peers.c does validation, allocation and the atomic store + live apply. */
#include <stdio.h>

#include "basic/parse.h"
#include "basic/util.h"
#include "core/peers.h"
#include "crypto/secret.h"
#include "http/handlers/handlers.h"

typedef struct Collect {
        const Registry *registry;
        json_t *peers;
        const char *owner; /* only this user's, when set */
} Collect;

static int collect(const Peer *p, void *userdata) {
        Collect *co = userdata;
        if (!co->owner || streq(co->owner, p->owner))
                json_array_append_new(co->peers, peer_to_json(co->registry, p));
        return 0;
}

int http_peers_get(HttpRequest *req, HttpResponse *resp) {
        const char *owner = http_query(req, "owner");
        if (owner && !name_is_valid(owner))
                return http_reply_error(resp, 400, "invalid", "owner", "owner must be a user name");
        json_t *arr = json_array();
        int r = store_peer_foreach(req->cell->store, collect, &(Collect) { &req->cell->registry, arr, owner });
        if (r < 0) {
                json_decref(arr);
                return http_reply_errno(resp, r, NULL);
        }
        /* The grant names a peer may be given, so a client (the web UI's checkboxes) need not hard-code them. */
        const Registry *reg = &req->cell->registry;
        json_t *grants = json_array();
        for (unsigned bit = 0; bit < reg->n_grant_bits; bit++)
                if (reg->grants[bit])
                        json_array_append_new(grants, json_string(reg->grants[bit]->name));
        return http_reply(resp, 200, json_pack("{s:o, s:I, s:o}", "peers", arr, "count", (json_int_t) json_array_size(arr),
                                               "grants", grants));
}

int http_peers_post(HttpRequest *req, HttpResponse *resp) {
        PicError err = { 0 };
        Peer p;
        int r = peers_create(req->cell, req->body, &p, &err);
        if (r < 0)
                return http_reply_errno(resp, r, &err);
        snprintf(resp->audit_detail, sizeof resp->audit_detail, "peer \"%s\" created", p.name);
        json_t *o = peer_to_json(&req->cell->registry, &p);
        secret_wipe(&p, sizeof p);
        if (o)
                json_object_set_new(o, "warnings", peers_warnings(req->cell));
        return http_reply(resp, 201, o);
}

int http_peer_get(HttpRequest *req, HttpResponse *resp) {
        PicError err = { 0 };
        Peer p;
        int r = peers_get(req->cell, req->params[0], &p, &err);
        if (r < 0)
                return http_reply_errno(resp, r, &err);
        json_t *o = peer_to_json(&req->cell->registry, &p);
        secret_wipe(&p, sizeof p);
        return http_reply(resp, 200, o);
}

int http_peer_put(HttpRequest *req, HttpResponse *resp) {
        PicError err = { 0 };
        Peer p;
        int r = peers_update(req->cell, req->params[0], req->body, &p, &err);
        if (r < 0)
                return http_reply_errno(resp, r, &err);
        snprintf(resp->audit_detail, sizeof resp->audit_detail, "peer \"%s\" changed", p.name);
        json_t *o = peer_to_json(&req->cell->registry, &p);
        secret_wipe(&p, sizeof p);
        return http_reply(resp, 200, o);
}

int http_peer_delete(HttpRequest *req, HttpResponse *resp) {
        PicError err = { 0 };
        int r = peers_delete(req->cell, req->params[0], &err);
        if (r < 0)
                return http_reply_errno(resp, r, &err);
        snprintf(resp->audit_detail, sizeof resp->audit_detail, "peer \"%s\" deleted", req->params[0]);
        return http_reply(resp, 200, json_pack("{s:s, s:b}", "name", req->params[0], "deleted", 1));
}
