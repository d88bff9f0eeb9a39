/* /api/mail: the mail domain's aliases and the DNS records it needs (services/mail does the work; this maps
 * requests and results). A user's own mail facts are in users.c (GET /api/users/{name}/mail, SELF level). */
#include <stdio.h>

#include "http/handlers/handlers.h"
#include "services/mail/mail.h"

int http_mail_aliases_get(HttpRequest *req, HttpResponse *resp) {
        PicError err = { 0 };
        json_t *o = NULL;
        int r = mail_aliases_json(req->cell, &o, &err);
        return r < 0 ? http_reply_errno(resp, r, &err) : http_reply(resp, 200, o);
}

int http_mail_aliases_post(HttpRequest *req, HttpResponse *resp) {
        PicError err = { 0 };
        json_t *o = NULL;
        int r = mail_alias_add(req->cell, req->body, &o, &err);
        if (r < 0)
                return http_reply_errno(resp, r, &err);
        snprintf(resp->audit_detail, sizeof resp->audit_detail, "mail alias \"%s\" created",
                 json_string_value(json_object_get(o, "alias")));
        return http_reply(resp, 201, o);
}

int http_mail_alias_delete(HttpRequest *req, HttpResponse *resp) {
        PicError err = { 0 };
        int r = mail_alias_remove(req->cell, req->params[0], &err);
        if (r < 0)
                return http_reply_errno(resp, r, &err);
        snprintf(resp->audit_detail, sizeof resp->audit_detail, "mail alias \"%s\" deleted", req->params[0]);
        return http_reply(resp, 200, json_pack("{s:s, s:b}", "alias", req->params[0], "deleted", 1));
}

int http_mail_dns_get(HttpRequest *req, HttpResponse *resp) {
        PicError err = { 0 };
        json_t *o = NULL;
        int r = mail_dns_json(req->cell, &o, &err);
        return r < 0 ? http_reply_errno(resp, r, &err) : http_reply(resp, 200, o);
}

int http_mail_relay_get(HttpRequest *req, HttpResponse *resp) {
        PicError err = { 0 };
        json_t *o = NULL;
        int r = mail_relay_json(req->cell, &o, &err);
        return r < 0 ? http_reply_errno(resp, r, &err) : http_reply(resp, 200, o);
}

int http_mail_relay_put(HttpRequest *req, HttpResponse *resp) {
        PicError err = { 0 };
        json_t *o = NULL;
        int r = mail_relay_set(req->cell, req->body, &o, &err);
        if (r < 0)
                return http_reply_errno(resp, r, &err);
        /* The audit names the login, never the password. */
        snprintf(resp->audit_detail, sizeof resp->audit_detail, "relay login set for \"%s\"",
                 json_string_value(json_object_get(o, "username")));
        return http_reply(resp, 200, o);
}

int http_mail_relay_delete(HttpRequest *req, HttpResponse *resp) {
        PicError err = { 0 };
        json_t *o = NULL;
        int r = mail_relay_clear(req->cell, &o, &err);
        if (r < 0)
                return http_reply_errno(resp, r, &err);
        snprintf(resp->audit_detail, sizeof resp->audit_detail, "relay login removed");
        return http_reply(resp, 200, o);
}
