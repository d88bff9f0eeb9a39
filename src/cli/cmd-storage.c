/* `pic user storage NAME [BYTES|unlimited]`, `pic user share|shares|unshare`: a user's stored files, their
 * quota, and folders shared between users (GET/PUT /api/users/NAME/storage, /api/users/NAME/shares). */
#include <stdio.h>
#include <string.h>

#include "basic/parse.h"
#include "cli/cli.h"

int cmd_user_storage(Cli *c, char **args, size_t n) {
        char path[160];
        int k = cli_user_path(args[0], "/storage", path, sizeof path);
        if (k < 0)
                return k;
        json_t *body = NULL;
        if (n == 2) {
                uint64_t q;
                if (streq(args[1], "unlimited"))
                        body = json_pack("{s:n}", "quota");
                else if (parse_uint(args[1], 0, INT64_MAX, &q) >= 0)
                        body = json_pack("{s:I}", "quota", (json_int_t) q);
                else
                        return cli_usage_error("the quota is a number of bytes or \"unlimited\"");
        }
        ApiReply r = { 0 };
        k = api_call(c, body ? "PUT" : "GET", path, body, &r);
        json_decref(body);
        if (k < 0)
                return k;
        json_t *f = json_object_get(r.json, "files");
        if (c->json || !f)
                api_print_raw(&r);
        else {
                json_t *q = json_object_get(f, "quota_bytes");
                printf("Files:      %lld in %lld folders\n", (long long) json_integer_value(json_object_get(f, "files")),
                       (long long) json_integer_value(json_object_get(f, "folders")));
                printf("Usage:      %lld bytes\n", (long long) json_integer_value(json_object_get(f, "usage_bytes")));
                if (json_is_integer(q))
                        printf("Quota:      %lld bytes (%lld available)\n", (long long) json_integer_value(q),
                               (long long) json_integer_value(json_object_get(f, "available_bytes")));
                else
                        printf("Quota:      unlimited\n");
                printf("Shares:     %zu given, %zu received\n", json_array_size(json_object_get(f, "shares")),
                       json_array_size(json_object_get(f, "received")));
                static const JsonColumn cols[] = { { "FOLDER", "name", COLUMN_TEXT },
                                                   { "FILES", "files", COLUMN_TEXT },
                                                   { "SIZE", "bytes", COLUMN_SIZE } };
                if (json_array_size(json_object_get(f, "collections")) > 0)
                        k = json_table_print(cols, ELEMENTSOF(cols), json_object_get(f, "collections"), stdout);
        }
        api_reply_done(&r);
        return k;
}

int cmd_user_share(Cli *c, char **args, size_t n) {
        char path[160];
        int k = cli_user_path(args[0], "/shares", path, sizeof path);
        if (k < 0)
                return k;
        const char *access = n == 4 ? args[3] : "read-only";
        json_t *body = json_pack("{s:s, s:s, s:s}", "folder", args[1], "with", args[2], "access", access);
        if (!body)
                return cli_usage_error("the folder must be valid UTF-8 text");
        ApiReply r = { 0 };
        k = api_call(c, "POST", path, body, &r);
        json_decref(body);
        if (k < 0)
                return k;
        if (c->json)
                api_print_raw(&r);
        else
                printf("Shared %s's \"%s\" with %s (%s) as %s; `pic user unshare %s %lld` ends it.\n", args[0], args[1],
                       args[2], access, json_string_value(json_object_get(r.json, "path")), args[0],
                       (long long) json_integer_value(json_object_get(r.json, "id")));
        api_reply_done(&r);
        return 0;
}

int cmd_user_shares(Cli *c, char **args, size_t n) {
        (void) n;
        char path[160];
        int k = cli_user_path(args[0], "/shares", path, sizeof path);
        if (k < 0)
                return k;
        ApiReply r = { 0 };
        k = api_call(c, "GET", path, NULL, &r);
        if (k < 0)
                return k;
        if (c->json)
                api_print_raw(&r);
        else {
                static const JsonColumn cols[] = { { "ID", "id", COLUMN_TEXT },     { "OWNER", "owner", COLUMN_TEXT },
                                                   { "FOLDER", "folder", COLUMN_TEXT }, { "WITH", "with", COLUMN_TEXT },
                                                   { "ACCESS", "access", COLUMN_TEXT }, { "PATH", "path", COLUMN_TEXT } };
                json_t *all = json_array();
                json_array_extend(all, json_object_get(r.json, "shares"));
                json_array_extend(all, json_object_get(r.json, "received"));
                if (json_array_size(all) == 0)
                        printf("%s shares nothing and receives nothing.\n", args[0]);
                else
                        k = json_table_print(cols, ELEMENTSOF(cols), all, stdout);
                json_decref(all);
        }
        api_reply_done(&r);
        return k;
}

int cmd_user_unshare(Cli *c, char **args, size_t n) {
        (void) n;
        uint64_t id;
        if (parse_uint(args[1], 1, INT64_MAX, &id) < 0)
                return cli_usage_error("usage: pic user unshare NAME ID (`pic user shares NAME` shows the IDs)");
        char path[192], suffix[48];
        snprintf(suffix, sizeof suffix, "/shares/%llu", (unsigned long long) id);
        int k = cli_user_path(args[0], suffix, path, sizeof path);
        if (k < 0)
                return k;
        ApiReply r = { 0 };
        k = api_call(c, "DELETE", path, NULL, &r);
        if (k < 0)
                return k;
        if (c->json)
                api_print_raw(&r);
        else
                printf("Share %llu of %s revoked.\n", (unsigned long long) id, args[0]);
        api_reply_done(&r);
        return 0;
}
