/* /api/users: accounts (admin), self-service for a user's own account and app passwords, and the
 * forward_auth answer Caddy asks for on auth.sock. Thin: core/accounts.c holds the rules. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "basic/fileio.h"
#include "basic/netaddr.h"
#include "basic/parse.h"
#include "basic/time-util.h"
#include "core/accounts.h"
#include "crypto/secret.h"
#include "http/auth.h"
#include "http/handlers/handlers.h"
#include "services/mail/mail.h"

static AccountsActor actor_of(const HttpRequest *req) {
        bool session = req->who.kind == PRINCIPAL_SESSION;
        return (AccountsActor) {
                .admin = req->who.level >= AUTH_ADMIN,
                .reader = req->who.level >= AUTH_READ,
                .user = session ? req->who.user : NULL,
                .session_hash = session ? req->who.session_hash : NULL,
        };
}

bool http_user_allowed(HttpRequest *req, HttpResponse *resp, bool write) {
        AccountsActor a = actor_of(req);
        PicError err = { 0 };
        if (accounts_may(&a, req->params[0], write, &err) == 0)
                return true;
        http_reply_errno(resp, -EPERM, &err);
        return false;
}

static void add_user(const StoreUser *u, void *userdata) {
        json_array_append_new(userdata, user_to_json(NULL, u, false));
}

int http_users_get(HttpRequest *req, HttpResponse *resp) {
        json_t *arr = json_array();
        int r = store_user_foreach(req->cell->store, add_user, arr);
        if (r < 0) {
                json_decref(arr);
                return http_reply_errno(resp, r, NULL);
        }
        return http_reply(resp, 200, json_pack("{s:o, s:I}", "users", arr, "count", (json_int_t) json_array_size(arr)));
}

int http_users_post(HttpRequest *req, HttpResponse *resp) {
        PicError err = { 0 };
        StoreUser u;
        int r = users_create(req->cell, req->body, &u, &err);
        if (r < 0)
                return http_reply_errno(resp, r, &err);
        snprintf(resp->audit_detail, sizeof resp->audit_detail, "user \"%s\" created with role %s", u.username, u.role);
        json_t *o = user_to_json(req->cell, &u, true);
        secret_wipe(&u, sizeof u);
        return http_reply(resp, 201, o);
}

int http_user_get(HttpRequest *req, HttpResponse *resp) {
        if (!http_user_allowed(req, resp, false))
                return 0;
        PicError err = { 0 };
        StoreUser u;
        int r = users_get(req->cell, req->params[0], &u, &err);
        if (r < 0)
                return http_reply_errno(resp, r, &err);
        json_t *o = user_to_json(req->cell, &u, true);
        secret_wipe(&u, sizeof u);
        return http_reply(resp, 200, o);
}

int http_user_mail_get(HttpRequest *req, HttpResponse *resp) {
        if (!http_user_allowed(req, resp, false))
                return 0;
        PicError err = { 0 };
        json_t *o = NULL;
        int r = mail_user_json(req->cell, req->params[0], &o, &err);
        return r < 0 ? http_reply_errno(resp, r, &err) : http_reply(resp, 200, o);
}

int http_user_put(HttpRequest *req, HttpResponse *resp) {
        if (!http_user_allowed(req, resp, true))
                return 0;
        PicError err = { 0 };
        AccountsActor a = actor_of(req);
        StoreUser u;
        int ended = 0;
        int r = users_update(req->cell, req->params[0], req->body, &a, &u, &ended, &err);
        if (r < 0)
                return http_reply_errno(resp, r, &err);
        bool pw = json_object_get(req->body, "password") != NULL;
        snprintf(resp->audit_detail, sizeof resp->audit_detail, "user \"%s\" changed (role %s%s; %d other session(s) ended)",
                 u.username, u.role, pw ? ", new password" : "", ended);
        if (pw && streq(u.username, "admin")) {
                /* The first-start password is no longer the password. */
                char path[4096];
                snprintf(path, sizeof path, "%s/initial-admin-password", req->cell->state_dir);
                if (unlink(path) == 0)
                        fsync_directory_of(path);
        }
        json_t *o = user_to_json(req->cell, &u, true);
        secret_wipe(&u, sizeof u);
        if (o)
                json_object_set_new(o, "sessions_ended", json_integer(ended));
        return http_reply(resp, 200, o);
}

int http_user_delete(HttpRequest *req, HttpResponse *resp) {
        const char *purge = http_query(req, "purge");
        if (purge && !streq(purge, "true") && !streq(purge, "false"))
                return http_reply_error(resp, 400, "invalid", "purge", "purge must be true or false");
        PicError err = { 0 };
        int peers = 0;
        int r = users_delete(req->cell, req->params[0], purge && streq(purge, "true"), &peers, &err);
        if (r < 0)
                return http_reply_errno(resp, r, &err);
        snprintf(resp->audit_detail, sizeof resp->audit_detail, "user \"%s\" deleted (%d peer(s) purged)", req->params[0],
                 peers);
        return http_reply(resp, 200, json_pack("{s:s, s:b, s:i}", "name", req->params[0], "deleted", 1, "peers_deleted", peers));
}

int http_app_passwords_get(HttpRequest *req, HttpResponse *resp) {
        if (!http_user_allowed(req, resp, false))
                return 0;
        PicError err = { 0 };
        json_t *arr = NULL;
        int r = app_passwords_list(req->cell, req->params[0], &arr, &err);
        if (r < 0)
                return http_reply_errno(resp, r, &err);
        return http_reply(resp, 200, json_pack("{s:s, s:o}", "user", req->params[0], "app_passwords", arr));
}

int http_app_passwords_post(HttpRequest *req, HttpResponse *resp) {
        if (!http_user_allowed(req, resp, true))
                return 0;
        PicError err = { 0 };
        char secret[SECRET_APP_PASSWORD_STRLEN];
        int64_t id = 0;
        int r = app_password_create(req->cell, req->params[0], req->body, secret, &id, &err);
        if (r < 0)
                return http_reply_errno(resp, r, &err);
        const char *label = json_string_value(json_object_get(req->body, "label"));
        snprintf(resp->audit_detail, sizeof resp->audit_detail, "app password %lld \"%s\" created for \"%s\"",
                 (long long) id, label, req->params[0]);
        json_t *o = json_pack("{s:I, s:s, s:s, s:s, s:s}", "id", (json_int_t) id, "user", req->params[0], "label", label,
                              "password", secret, "note",
                              "use it as the password of this device, with the user name; it is not shown again");
        secret_wipe(secret, sizeof secret);
        return http_reply(resp, 201, o);
}

int http_app_password_delete(HttpRequest *req, HttpResponse *resp) {
        if (!http_user_allowed(req, resp, true))
                return 0;
        uint64_t id;
        if (parse_uint(req->params[1], 1, INT64_MAX, &id) < 0)
                return http_reply_error(resp, 400, "invalid", "id", "app password id must be a positive integer");
        PicError err = { 0 };
        int r = app_password_delete(req->cell, req->params[0], (int64_t) id, &err);
        if (r < 0)
                return http_reply_errno(resp, r, &err);
        snprintf(resp->audit_detail, sizeof resp->audit_detail, "app password %llu of \"%s\" revoked",
                 (unsigned long long) id, req->params[0]);
        return http_reply(resp, 200, json_pack("{s:I, s:b}", "id", (json_int_t) id, "revoked", 1));
}

/* GET /auth on auth.sock (Caddy's forward_auth): 200 + X-Pic-User, 401 + WWW-Authenticate, 403, or 429. */
int http_forward_auth(HttpRequest *req, HttpResponse *resp) {
        Cell *c = req->cell;
        const char *service = http_header(req, "X-Pic-Service");
        char source[IP_STRLEN] = "";
        const char *xff = http_header(req, "X-Forwarded-For");
        if (xff) {
                const char *last = strrchr(xff, ',');
                if (ip_client_parse(last ? last + 1 : xff, source) < 0)
                        source[0] = '\0';
        }
        /* The HTTPS site of a grant-only endpoint (the webmail) asks about the address alone: Caddy sets this
         * header on that site's question and removes a client's own on every site. */
        const char *mode = http_header(req, "X-Pic-Auth");
        if (mode && streq(mode, "grant-only")) {
                if (accounts_authorize_source(c, service, source[0] ? source : NULL) < 0)
                        return http_reply_error(resp, 403, "forbidden", NULL, "this address may not use this service");
                char *empty = strdup("");
                return empty ? http_reply_raw(resp, 200, "text/plain", empty, 0)
                             : http_reply_error(resp, 500, "internal", NULL, "out of memory");
        }
        /* Failed Basic attempts are counted per source address, in buckets of their own (not the login's). */
        char bucket[80];
        snprintf(bucket, sizeof bucket, "authz:%s", source);
        int retry;
        const char *authz = http_header(req, "Authorization");
        if (authz && http_login_check_rate(bucket, &retry) < 0) {
                resp->retry_after = retry;
                return http_reply_error(resp, 429, "rate_limited", NULL, "too many failed attempts; try again later");
        }
        const char *cookie = http_cookie(req, SESSION_COOKIE);
        char user[64];
        bool basic_failed = false;
        int r = accounts_authorize(c, service, source[0] ? source : NULL, authz, cookie, SESSION_IDLE_SEC, user,
                                   &basic_failed);
        if (r == 0) {
                /* The module behind the endpoint may still refuse this request (a write past a quota). */
                const char *len = http_header(req, "X-Pic-Length");
                uint64_t n = 0;
                ProxiedRequest pr = { .method = http_header(req, "X-Forwarded-Method"),
                                      .uri = http_header(req, "X-Forwarded-Uri"),
                                      .destination = http_header(req, "Destination"),
                                      .host = http_header(req, "X-Forwarded-Host"),
                                      .length = len && *len && parse_uint(len, 0, INT64_MAX, &n) >= 0 ? (int64_t) n : -1 };
                PicError err = { 0 };
                int a = pr.method && pr.uri ? cell_http_authorize(c, service, user, &pr, &err) : 0;
                if (a == -EMSGSIZE)
                        return http_reply_error(resp, 411, "length_required", NULL, err.message);
                if (a < 0)
                        return http_reply_errno(resp, a, &err);
                snprintf(resp->pic_user, sizeof resp->pic_user, "%s", user);
                /* No body: Caddy's handle_response closes a 2xx body unread, and Go's transport then drops the
                 * connection instead of keeping it alive; an empty body lets it reuse the connection. */
                char *empty = strdup("");
                if (!empty)
                        return http_reply_error(resp, 500, "internal", NULL, "out of memory");
                return http_reply_raw(resp, 200, "text/plain", empty, 0);
        }
        if (r == -EPERM)
                return http_reply_error(resp, 403, "forbidden", NULL, "this address may not use this service");
        if (basic_failed) {
                http_login_failed(bucket);
                /* Now held: Caddy must stop checking this source's passwords itself (core/accounts.h). */
                uint32_t ip;
                if (http_login_check_rate(bucket, &retry) < 0 && ipv4_parse(source, &ip) == 0)
                        accounts_source_held(c, ip, wall_sec() + retry);
        }
        snprintf(resp->www_authenticate, sizeof resp->www_authenticate, "Basic realm=\"%s.%s.%s\", charset=\"UTF-8\"",
                 service, settings_str(c->settings, "cell_name"), settings_str(c->settings, "domain"));
        return http_reply_error(resp, 401, "unauthorized", NULL, "a user name and app password are required");
}
