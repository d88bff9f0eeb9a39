/* `pic status`: picd's /health as a short summary — overall state, cell, version, uptime — and one line
 * per managed service with its state. */
#include <stdio.h>

#include "cli/cli.h"
#include "cli/table.h"

int cmd_status(Cli *c, char **args, size_t n) {
        ApiReply r = { 0 };
        int k = api_call(c, "GET", "/health", NULL, &r);
        if (k < 0)
                return k;
        if (c->json) {
                api_print_raw(&r);
                api_reply_done(&r);
                return 0;
        }
        char b1[128], b2[512];
        json_t *j = r.json;
        printf("status:   %s", json_text(json_object_get(j, "status"), b1, sizeof b1));
        json_t *failing = json_object_get(j, "failing");
        if (json_array_size(failing) > 0)
                printf(" (failing: %s)", json_join(failing, b2, sizeof b2));
        printf("\ncell:     %s\n", json_text(json_object_get(j, "cell"), b1, sizeof b1));
        printf("version:  %s\n", json_text(json_object_get(j, "version"), b1, sizeof b1));
        printf("uptime:   %s\n", format_duration(json_integer_value(json_object_get(j, "uptime")), b1, sizeof b1));

        json_t *services = json_object_get(j, "services");
        if (json_object_size(services) == 0) {
                printf("\nNo managed services are running yet.\n");
                api_reply_done(&r);
                return 0;
        }
        static const char *const hdr[] = { "SERVICE", "STATE" };
        _cleanup_table_ Table *t = NULL;
        k = table_new(hdr, ELEMENTSOF(hdr), &t);
        const char *name;
        json_t *state;
        json_object_foreach(services, name, state) {
                if (k >= 0)
                        k = table_add(t, name);
                if (k >= 0)
                        k = table_add(t, json_text(state, b2, sizeof b2));
        }
        if (k >= 0) {
                putchar('\n');
                table_print(t, stdout);
        }
        api_reply_done(&r);
        return k;
}
