/* /api/users/{name}/storage and /shares: what a user stores (each module's section), the files quota, and
 * folders shared between users. Thin: services/files and core/accounts.c hold the rules. */
#include <stdio.h>

#include "basic/parse.h"
#include "core/accounts.h"
#include "http/handlers/handlers.h"
#include "services/files/files.h"

int http_user_storage_get(HttpRequest *req, HttpResponse *resp) {
        if (!http_user_allowed(req, resp, false))
                return 0;
        PicError err = { 0 };
        json_t *o = NULL;
        int r = users_storage(req->cell, req->params[0], &o, &err);
        return r < 0 ? http_reply_errno(resp, r, &err) : http_reply(resp, 200, o);
}

int http_user_storage_put(HttpRequest *req, HttpResponse *resp) {
        PicError err = { 0 };
        int r = files_quota_put(req->cell, req->params[0], req->body, &err);
        if (r < 0)
                return http_reply_errno(resp, r, &err);
        json_t *q = json_object_get(req->body, "quota");
        if (json_is_null(q))
                snprintf(resp->audit_detail, sizeof resp->audit_detail, "files quota of \"%s\" removed (unlimited)",
                         req->params[0]);
        else
                snprintf(resp->audit_detail, sizeof resp->audit_detail, "files quota of \"%s\" set to %lld bytes",
                         req->params[0], (long long) json_integer_value(q));
        json_t *o = NULL;
        r = users_storage(req->cell, req->params[0], &o, &err);
        return r < 0 ? http_reply_errno(resp, r, &err) : http_reply(resp, 200, o);
}

int http_user_shares_get(HttpRequest *req, HttpResponse *resp) {
        if (!http_user_allowed(req, resp, false))
                return 0;
        PicError err = { 0 };
        json_t *o = NULL;
        int r = files_shares_list(req->cell, req->params[0], &o, &err);
        return r < 0 ? http_reply_errno(resp, r, &err) : http_reply(resp, 200, o);
}

int http_user_shares_post(HttpRequest *req, HttpResponse *resp) {
        if (!http_user_allowed(req, resp, true))
                return 0;
        PicError err = { 0 };
        json_t *o = NULL;
        int r = files_share_create(req->cell, req->params[0], req->body, &o, &err);
        if (r < 0)
                return http_reply_errno(resp, r, &err);
        snprintf(resp->audit_detail, sizeof resp->audit_detail, "\"%s\" shares \"%s\" with \"%s\" (%s)", req->params[0],
                 json_string_value(json_object_get(o, "folder")), json_string_value(json_object_get(o, "with")),
                 json_string_value(json_object_get(o, "access")));
        return http_reply(resp, 201, o);
}

int http_user_share_delete(HttpRequest *req, HttpResponse *resp) {
        if (!http_user_allowed(req, resp, true))
                return 0;
        uint64_t id;
        if (parse_uint(req->params[1], 1, INT64_MAX, &id) < 0)
                return http_reply_error(resp, 400, "invalid", "id", "share id must be a positive integer");
        PicError err = { 0 };
        int r = files_share_delete(req->cell, req->params[0], (int64_t) id, &err);
        if (r < 0)
                return http_reply_errno(resp, r, &err);
        snprintf(resp->audit_detail, sizeof resp->audit_detail, "share %llu of \"%s\" revoked", (unsigned long long) id,
                 req->params[0]);
        return http_reply(resp, 200, json_pack("{s:I, s:b}", "id", (json_int_t) id, "revoked", 1));
}
