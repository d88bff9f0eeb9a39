/* /api/mesh: the cell's identity, invites, joining and the linked cells (share, grants, leave).
 * Thin: services/mesh validates, stores and applies; every handler maps its result with one call. */
#include <stdio.h>

#include "basic/util.h"
#include "http/handlers/handlers.h"
#include "services/mesh/mesh.h"

static int reply_json(HttpResponse *resp, int status, int r, json_t *o, const PicError *err) {
        if (r < 0)
                return http_reply_errno(resp, r, err);
        return http_reply(resp, status, o);
}

int http_mesh_get(HttpRequest *req, HttpResponse *resp) {
        PicError err = { 0 };
        json_t *o = NULL;
        int r = svc_mesh_info(req->cell, &o, &err);
        return reply_json(resp, 200, r, o, &err);
}

int http_mesh_invites_get(HttpRequest *req, HttpResponse *resp) {
        PicError err = { 0 };
        json_t *o = NULL;
        int r = svc_mesh_invites_list(req->cell, &o, &err);
        return reply_json(resp, 200, r, o, &err);
}

int http_mesh_invites_post(HttpRequest *req, HttpResponse *resp) {
        PicError err = { 0 };
        json_t *o = NULL;
        int r = svc_mesh_invite_create(req->cell, req->body ? req->body : json_object(), &o, &err);
        if (r >= 0)
                snprintf(resp->audit_detail, sizeof resp->audit_detail, "invite %lld created",
                         (long long) json_integer_value(json_object_get(o, "id")));
        return reply_json(resp, 201, r, o, &err);
}

int http_mesh_invite_delete(HttpRequest *req, HttpResponse *resp) {
        PicError err = { 0 };
        int r = svc_mesh_invite_delete(req->cell, req->params[0], &err);
        if (r >= 0)
                snprintf(resp->audit_detail, sizeof resp->audit_detail, "invite %.32s withdrawn", req->params[0]);
        return reply_json(resp, 200, r, r >= 0 ? json_pack("{s:s, s:b}", "id", req->params[0], "withdrawn", 1) : NULL,
                          &err);
}

int http_mesh_join_post(HttpRequest *req, HttpResponse *resp) {
        PicError err = { 0 };
        json_t *o = NULL;
        int r = svc_mesh_join(req->cell, req->body, &o, &err);
        if (r >= 0)
                snprintf(resp->audit_detail, sizeof resp->audit_detail, "joined cell \"%s\"",
                         json_string_value(json_object_get(o, "name")));
        return reply_json(resp, 201, r, o, &err);
}

int http_mesh_cells_get(HttpRequest *req, HttpResponse *resp) {
        PicError err = { 0 };
        json_t *o = NULL;
        int r = svc_mesh_cells_list(req->cell, &o, &err);
        return reply_json(resp, 200, r, o, &err);
}

int http_mesh_cell_get(HttpRequest *req, HttpResponse *resp) {
        PicError err = { 0 };
        json_t *o = NULL;
        int r = svc_mesh_cell_get(req->cell, req->params[0], &o, &err);
        return reply_json(resp, 200, r, o, &err);
}

int http_mesh_cell_put(HttpRequest *req, HttpResponse *resp) {
        PicError err = { 0 };
        json_t *o = NULL;
        int r = svc_mesh_cell_update(req->cell, req->params[0], req->body, &o, &err);
        if (r >= 0)
                snprintf(resp->audit_detail, sizeof resp->audit_detail, "link \"%.64s\" changed", req->params[0]);
        return reply_json(resp, 200, r, o, &err);
}

int http_mesh_cell_delete(HttpRequest *req, HttpResponse *resp) {
        PicError err = { 0 };
        json_t *o = NULL;
        int r = svc_mesh_cell_delete(req->cell, req->params[0], &o, &err);
        if (r >= 0)
                snprintf(resp->audit_detail, sizeof resp->audit_detail, "left cell \"%.64s\"", req->params[0]);
        return reply_json(resp, 200, r, o, &err);
}
