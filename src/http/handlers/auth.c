/* /api/auth: login (rate-limited per address), logout, session info, password change (ends the other
 * sessions), and scoped API tokens that are shown once and stored hashed. */
#include <stdio.h>

#include "basic/fileio.h"
#include "basic/log.h"
#include "basic/parse.h"
#include "basic/time-util.h"
#include "core/accounts.h"
#include "crypto/secret.h"
#include "http/auth.h"
#include "http/handlers/handlers.h"

#define PASSWORD_MIN 10
#define PASSWORD_MAX 256

static const char *body_string(HttpRequest *req, const char *key) {
        return json_string_value(json_object_get(req->body, key));
}

static void audit_login(HttpRequest *req, const char *user, int status, const char *detail) {
        char actor[96];
        snprintf(actor, sizeof actor, "%s", user && name_is_valid(user) ? user : "-");
        store_audit_insert(req->cell->store, wall_sec(), actor, req->remote, req->method, req->path, status, detail);
}

/* The first-start password is still in force while STATE/initial-admin-password exists: a password change
 * removes it. The UI sends such an admin to the change-password form before anything else. */
static bool must_change_password(Cell *c, const char *username) {
        if (!username || !streq(username, "admin"))
                return false;
        char path[4096];
        snprintf(path, sizeof path, "%s/initial-admin-password", c->state_dir);
        return access(path, F_OK) == 0;
}

int http_auth_login_post(HttpRequest *req, HttpResponse *resp) {
        int retry;
        if (http_login_check_rate(req->remote, &retry) < 0) {
                resp->retry_after = retry;
                audit_login(req, NULL, 429, "rate limited");
                return http_reply_error(resp, 429, "rate_limited", NULL, "too many failed logins; try again later");
        }
        const char *user = body_string(req, "username"), *pass = body_string(req, "password");
        if (!user)
                return http_reply_error(resp, 400, "invalid", "username", "username is required");
        if (!pass)
                return http_reply_error(resp, 400, "invalid", "password", "password is required");
        StoreUser u;
        int r = strlen(user) < 64 ? store_user_get_by_name(req->cell->store, user, &u) : -ENOENT;
        if (r < 0)
                secret_password_dummy_verify(pass);
        else
                r = secret_password_verify(u.pwhash, pass);
        if (r < 0) {
                http_login_failed(req->remote);
                audit_login(req, user, 401, "login failed");
                return http_reply_error(resp, 401, "unauthorized", NULL, "wrong username or password");
        }
        http_login_succeeded(req->remote);

        char token[SECRET_TOKEN_STRLEN], csrf[44];
        uint8_t hash[SECRET_HASH_BYTES];
        secret_token_new(token);
        secret_random_text(csrf, 40);
        secret_token_hash(token, hash);
        int64_t now = wall_sec();
        store_session_prune(req->cell->store, now, SESSION_IDLE_SEC);
        r = store_session_insert(req->cell->store, hash, u.id, csrf, now, now + SESSION_MAX_SEC);
        if (r < 0) {
                secret_wipe(token, sizeof token);
                return http_reply_errno(resp, r, NULL);
        }
        accounts_creds_changed(req->cell);
        /* Secure whenever the browser reached us over HTTPS (through the trusted proxy); plain http on the
         * box itself could not send a Secure cookie back. */
        snprintf(resp->set_cookie, sizeof resp->set_cookie, "%s=%s; Path=/; HttpOnly; SameSite=Strict; Max-Age=%d%s",
                 SESSION_COOKIE, token, SESSION_MAX_SEC, req->via_https_proxy ? "; Secure" : "");
        secret_wipe(token, sizeof token);
        audit_login(req, user, 200, "login");
        return http_reply(resp, 200,
                          json_pack("{s:s, s:s, s:I, s:i, s:b}", "username", u.username, "csrf_token", csrf, "expires_at",
                                    (json_int_t) (now + SESSION_MAX_SEC), "idle_timeout", SESSION_IDLE_SEC,
                                    "must_change_password", must_change_password(req->cell, u.username)));
}

int http_auth_logout_post(HttpRequest *req, HttpResponse *resp) {
        if (req->who.kind == PRINCIPAL_SESSION) {
                store_session_delete(req->cell->store, req->who.session_hash);
                accounts_creds_changed(req->cell);
        }
        snprintf(resp->set_cookie, sizeof resp->set_cookie, "%s=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0",
                 SESSION_COOKIE);
        return http_reply(resp, 200, json_pack("{s:b}", "logged_out", 1));
}

int http_auth_session_get(HttpRequest *req, HttpResponse *resp) {
        static const char *const kinds[] = { "none", "session", "token", "local-root" };
        json_t *o = json_pack("{s:s, s:s, s:s}", "kind", kinds[req->who.kind], "name", req->who.name, "scope",
                              auth_scope_to_string(req->who.level));
        if (req->who.kind == PRINCIPAL_SESSION) {
                json_object_set_new(o, "role", json_string(req->who.level >= AUTH_ADMIN ? "admin" : "user"));
                json_object_set_new(o, "csrf_token", json_string(req->who.csrf));
                json_object_set_new(o, "must_change_password",
                                    json_boolean(must_change_password(req->cell, req->who.name)));
        }
        return http_reply(resp, 200, o);
}

int http_auth_password_put(HttpRequest *req, HttpResponse *resp) {
        Cell *c = req->cell;
        const char *cur = body_string(req, "current_password"), *next = body_string(req, "new_password");
        const char *username = body_string(req, "username");
        if (!next)
                return http_reply_error(resp, 400, "invalid", "new_password", "new_password is required");
        size_t len = strlen(next);
        if (len < PASSWORD_MIN || len > PASSWORD_MAX)
                return http_reply_error(resp, 400, "invalid", "new_password",
                                        "new_password must be 10 to 256 characters long");
        StoreUser u;
        int r;
        if (req->who.kind == PRINCIPAL_SESSION)
                r = store_user_get(c->store, req->who.user_id, &u);
        else
                r = store_user_get_by_name(c->store, username ? username : "admin", &u);
        if (r < 0)
                return http_reply_error(resp, 404, "not_found", "username", "no such user");
        /* A person at a browser proves they know the old password; root on the box and admin tokens need not. */
        if (req->who.kind == PRINCIPAL_SESSION) {
                if (!cur)
                        return http_reply_error(resp, 400, "invalid", "current_password", "current_password is required");
                if (secret_password_verify(u.pwhash, cur) < 0)
                        return http_reply_error(resp, 403, "forbidden", "current_password", "current_password is wrong");
        }
        char hash[SECRET_PWHASH_STRLEN];
        r = secret_password_hash(next, hash);
        if (r >= 0)
                r = store_begin(c->store);
        if (r >= 0)
                r = store_user_set_password(c->store, u.id, hash);
        int ended = 0;
        if (r >= 0)
                r = ended = store_session_delete_user(c->store, u.id,
                                                      req->who.kind == PRINCIPAL_SESSION ? req->who.session_hash : NULL);
        if (r >= 0)
                r = store_commit(c->store);
        if (r < 0) {
                store_rollback(c->store);
                return http_reply_errno(resp, r, NULL);
        }
        accounts_creds_changed(c);
        char path[4096];
        snprintf(path, sizeof path, "%s/initial-admin-password", c->state_dir);
        if (unlink(path) == 0)
                fsync_directory_of(path);
        snprintf(resp->audit_detail, sizeof resp->audit_detail, "password of %s changed; %d other session(s) ended",
                 u.username, ended);
        return http_reply(resp, 200, json_pack("{s:s, s:i}", "username", u.username, "sessions_ended", ended));
}

static void add_token(const StoreToken *t, void *userdata) {
        json_array_append_new(userdata,
                              json_pack("{s:I, s:s, s:s, s:s, s:I, s:I, s:I}", "id", (json_int_t) t->id, "name", t->name,
                                        "prefix", t->prefix, "scope", t->scope, "created_at", (json_int_t) t->created_at,
                                        "expires_at", (json_int_t) t->expires_at, "last_used", (json_int_t) t->last_used));
}

int http_auth_tokens_get(HttpRequest *req, HttpResponse *resp) {
        json_t *arr = json_array();
        int r = store_token_foreach(req->cell->store, add_token, arr);
        if (r < 0) {
                json_decref(arr);
                return http_reply_errno(resp, r, NULL);
        }
        return http_reply(resp, 200, json_pack("{s:o}", "tokens", arr));
}

int http_auth_tokens_post(HttpRequest *req, HttpResponse *resp) {
        if (!json_is_object(req->body))
                return http_reply_error(resp, 400, "invalid", NULL, "request body must be a JSON object");
        const char *name = body_string(req, "name");
        const char *scope = body_string(req, "scope");
        json_t *exp = json_object_get(req->body, "expires_in_days");
        if (!name || !name_is_valid(name))
                return http_reply_error(resp, 400, "invalid", "name",
                                        "name must be 1-63 characters of a-z, 0-9 and '-', starting with a letter or digit");
        if (!scope || auth_level_from_scope(scope) == _AUTH_UNSET)
                return http_reply_error(resp, 400, "invalid", "scope", "scope must be read, write or admin");
        json_int_t days = 90;
        if (exp && (!json_is_integer(exp) || json_integer_value(exp) < 0 || json_integer_value(exp) > 3650))
                return http_reply_error(resp, 400, "invalid", "expires_in_days",
                                        "expires_in_days must be an integer from 0 (never) to 3650");
        if (exp)
                days = json_integer_value(exp);
        char token[SECRET_TOKEN_STRLEN], prefix[12];
        uint8_t hash[SECRET_HASH_BYTES];
        secret_token_new(token);
        secret_token_hash(token, hash);
        snprintf(prefix, sizeof prefix, "%.10s", token);
        int64_t now = wall_sec(), expires = days ? now + days * 86400 : 0;
        int64_t id;
        int r = store_token_insert(req->cell->store, name, prefix, hash, scope, now, expires, &id);
        if (r < 0) {
                secret_wipe(token, sizeof token);
                return http_reply_errno(resp, r, NULL);
        }
        snprintf(resp->audit_detail, sizeof resp->audit_detail, "token %lld \"%s\" scope %s", (long long) id, name, scope);
        json_t *o = json_pack("{s:I, s:s, s:s, s:s, s:I, s:s}", "id", (json_int_t) id, "name", name, "scope", scope,
                              "token", token, "expires_at", (json_int_t) expires, "note",
                              "store this token now: it is not shown again");
        secret_wipe(token, sizeof token);
        return http_reply(resp, 201, o);
}

int http_auth_tokens_delete(HttpRequest *req, HttpResponse *resp) {
        uint64_t id;
        if (parse_uint(req->params[0], 1, INT64_MAX, &id) < 0)
                return http_reply_error(resp, 400, "invalid", "id", "token id must be a positive integer");
        int r = store_token_delete(req->cell->store, (int64_t) id);
        if (r == -ENOENT)
                return http_reply_error(resp, 404, "not_found", "id", "no such token");
        if (r < 0)
                return http_reply_errno(resp, r, NULL);
        snprintf(resp->audit_detail, sizeof resp->audit_detail, "token %llu revoked", (unsigned long long) id);
        return http_reply(resp, 200, json_pack("{s:I, s:b}", "id", (json_int_t) id, "revoked", 1));
}
