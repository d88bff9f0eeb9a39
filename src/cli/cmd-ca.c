/* `pic ca show`: the cell CA's root — fingerprint, name constraints, expiry, where devices download it — and
 * its service certificates; `pic ca show --json` prints picd's reply as is. */
#include <stdio.h>

#include "cli/cli.h"

int cmd_ca_show(Cli *c, char **args, size_t n) {
        ApiReply r = { 0 };
        int k = api_call(c, "GET", "/api/ca", NULL, &r);
        if (k < 0)
                return k;
        if (c->json) {
                api_print_raw(&r);
                api_reply_done(&r);
                return 0;
        }
        char b1[128], b2[64], b3[512], b4[512];
        json_t *nc = json_object_get(r.json, "name_constraints");
        printf("Root certificate of the cell CA\n");
        printf("  SHA-256 fingerprint  %s\n", json_text(json_object_get(r.json, "fingerprint_sha256"), b1, sizeof b1));
        printf("  valid until          %s\n", json_text(json_object_get(r.json, "not_after"), b2, sizeof b2));
        printf("  only for names       %s\n", json_join(json_object_get(nc, "permitted_dns"), b3, sizeof b3));
        printf("  only for addresses   %s\n", json_join(json_object_get(nc, "permitted_ip"), b4, sizeof b4));
        printf("  download (over VPN)  %s\n", json_text(json_object_get(r.json, "url"), b3, sizeof b3));
        json_t *leaves = json_object_get(r.json, "leaves"), *l;
        size_t i;
        if (json_array_size(leaves) > 0)
                printf("\n%-10s  %-22s  %s\n", "SERVICE", "VALID UNTIL", "NAMES");
        json_array_foreach(leaves, i, l) {
                char s[64], t[64], d[512];
                printf("%-10s  %-22s  %s\n", json_text(json_object_get(l, "service"), s, sizeof s),
                       json_text(json_object_get(l, "not_after"), t, sizeof t),
                       json_join(json_object_get(l, "dns"), d, sizeof d));
        }
        api_reply_done(&r);
        return 0;
}
