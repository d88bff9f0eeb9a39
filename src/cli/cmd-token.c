/* `pic token create|list|revoke`: scoped API tokens. A new token goes to stdout alone (so
 * `T=$(pic token create ci)` works) and is wiped from memory after; the note about it goes to stderr. */
#include <stdio.h>
#include <time.h>

#include "basic/parse.h"
#include "cli/cli.h"
#include "cli/table.h"
#include "crypto/secret.h"

int cmd_token_create(Cli *c, char **args, size_t n) {
        const char *name = args[0];
        json_t *body = json_pack("{s:s, s:s}", "name", name, "scope", c->scope ? c->scope : "read");
        if (!body)
                return cli_usage_error("the token name and scope must be valid UTF-8 text");
        if (c->expires_days) {
                uint64_t days;
                if (parse_uint(c->expires_days, 0, INT32_MAX, &days) < 0) {
                        json_decref(body);
                        return cli_usage_error("--expires-days needs a whole number of days (0 means never)");
                }
                json_object_set_new(body, "expires_in_days", json_integer((json_int_t) days));
        }
        ApiReply r = { 0 };
        int k = api_call(c, "POST", "/api/auth/tokens", body, &r);
        json_decref(body);
        if (k < 0)
                return k;
        json_t *token = json_object_get(r.json, "token");
        if (c->json)
                api_print_raw(&r);
        else if (!json_is_string(token)) {
                fprintf(stderr, "pic: picd's reply carries no token\n");
                k = -EPROTO;
        } else {
                char b1[128], b2[64], b3[32], b4[64];
                printf("%s\n", json_string_value(token));
                fprintf(stderr, "Created token %s \"%s\" with scope %s, expires: %s.\n",
                        json_text(json_object_get(r.json, "id"), b3, sizeof b3),
                        json_text(json_object_get(r.json, "name"), b1, sizeof b1),
                        json_text(json_object_get(r.json, "scope"), b2, sizeof b2),
                        format_time(json_integer_value(json_object_get(r.json, "expires_at")), b4, sizeof b4));
                fprintf(stderr, "Store it now: it is not shown again.\n");
        }
        if (json_is_string(token))
                secret_wipe((char *) json_string_value(token), json_string_length(token));
        fflush(stdout);
        api_reply_done(&r);
        return k;
}

int cmd_token_list(Cli *c, char **args, size_t n) {
        ApiReply r = { 0 };
        int k = api_call(c, "GET", "/api/auth/tokens", NULL, &r);
        if (k < 0)
                return k;
        json_t *tokens = json_object_get(r.json, "tokens");
        if (c->json)
                api_print_raw(&r);
        else if (json_array_size(tokens) == 0)
                printf("No API tokens.\n");
        else {
                static const char *const hdr[] = { "ID", "NAME", "SCOPE", "PREFIX", "CREATED", "EXPIRES", "LAST USED" };
                _cleanup_table_ Table *t = NULL;
                k = table_new(hdr, ELEMENTSOF(hdr), &t);
                int64_t now = (int64_t) time(NULL);
                size_t i;
                json_t *tk;
                json_array_foreach(tokens, i, tk) {
                        char b[128], when[64];
                        int64_t exp = json_integer_value(json_object_get(tk, "expires_at"));
                        if (k >= 0)
                                k = table_add(t, json_text(json_object_get(tk, "id"), b, sizeof b));
                        if (k >= 0)
                                k = table_add(t, json_text(json_object_get(tk, "name"), b, sizeof b));
                        if (k >= 0)
                                k = table_add(t, json_text(json_object_get(tk, "scope"), b, sizeof b));
                        if (k >= 0)
                                k = table_addf(t, "%s...", json_text(json_object_get(tk, "prefix"), b, sizeof b));
                        if (k >= 0)
                                k = table_add(t, json_time_text(json_object_get(tk, "created_at"), b, sizeof b));
                        if (k >= 0)
                                k = table_addf(t, "%s%s", format_time(exp, when, sizeof when),
                                               exp > 0 && exp <= now ? " (expired)" : "");
                        if (k >= 0)
                                k = table_add(t, json_time_text(json_object_get(tk, "last_used"), b, sizeof b));
                }
                if (k >= 0)
                        table_print(t, stdout);
        }
        api_reply_done(&r);
        return k;
}

int cmd_token_revoke(Cli *c, char **args, size_t n) {
        uint64_t id;
        if (parse_uint(args[0], 1, INT64_MAX, &id) < 0)
                return cli_usage_error("a token ID is a positive number; `pic token list` shows them");
        char path[64];
        snprintf(path, sizeof path, "/api/auth/tokens/%llu", (unsigned long long) id);
        ApiReply r = { 0 };
        int k = api_call(c, "DELETE", path, NULL, &r);
        if (k < 0)
                return k;
        if (c->json)
                api_print_raw(&r);
        else
                printf("Revoked token %llu.\n", (unsigned long long) id);
        api_reply_done(&r);
        return 0;
}
