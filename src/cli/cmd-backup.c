/* `pic backup create|list|restore`: configuration backups kept by picd. IDs are passed to picd as one
 * percent-encoded path segment, so whatever is typed can only name a backup, never another path. */
#include <stdio.h>

#include "cli/cli.h"
#include "cli/table.h"

int cmd_backup_create(Cli *c, char **args, size_t n) {
        ApiReply r = { 0 };
        int k = api_call(c, "POST", "/api/config/backup", NULL, &r);
        if (k < 0)
                return k;
        if (c->json)
                api_print_raw(&r);
        else {
                char b1[256], b2[64], b3[64];
                printf("Created backup %s at %s (%s).\n", json_text(json_object_get(r.json, "id"), b1, sizeof b1),
                       json_time_text(json_object_get(r.json, "created"), b2, sizeof b2),
                       format_size((uint64_t) json_integer_value(json_object_get(r.json, "size")), b3, sizeof b3));
        }
        api_reply_done(&r);
        return 0;
}

int cmd_backup_list(Cli *c, char **args, size_t n) {
        ApiReply r = { 0 };
        int k = api_call(c, "GET", "/api/config/backups", NULL, &r);
        if (k < 0)
                return k;
        json_t *backups = json_object_get(r.json, "backups");
        if (c->json)
                api_print_raw(&r);
        else if (json_array_size(backups) == 0)
                printf("No backups.\n");
        else {
                static const JsonColumn cols[] = { { "ID", "id", COLUMN_TEXT },
                                                   { "CREATED", "created", COLUMN_TIME },
                                                   { "SIZE", "size", COLUMN_SIZE },
                                                   { "CELL", "cell_name", COLUMN_TEXT } };
                k = json_table_print(cols, ELEMENTSOF(cols), backups, stdout);
        }
        api_reply_done(&r);
        return k;
}

int cmd_backup_restore(Cli *c, char **args, size_t n) {
        char id[256], path[400], b[256];
        if (!*args[0] || client_path_escape(id, sizeof id, args[0]) < 0)
                return cli_usage_error("a backup ID is a short name; `pic backup list` shows them");
        snprintf(path, sizeof path, "/api/config/restore/%s", id);
        ApiReply r = { 0 };
        int k = api_call(c, "POST", path, NULL, &r);
        if (k < 0)
                return k;
        if (c->json)
                api_print_raw(&r);
        else {
                printf("Restored backup %s.\n", text_sanitize(args[0], b, sizeof b));
                if (json_is_true(json_object_get(r.json, "sessions_ended")))
                        printf("Every web session has ended: sign in again. API tokens are those of the backup.\n");
                json_t *pending = json_object_get(r.json, "pending");
                if (json_is_true(json_object_get(r.json, "restart_required")) || json_array_size(pending) > 0)
                        printf("Some restored settings wait for a restart: run `pic config apply`.\n");
        }
        api_reply_done(&r);
        return 0;
}
