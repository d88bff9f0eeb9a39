/* `pic mesh invite|join|list|share|grant|leave`: links with cells of other owners. An invite's text goes
 * to stdout alone (so it can be piped or pasted), its QR code and notes to stderr. */
#include <stdio.h>

#include "cli/cli.h"
#include "crypto/qr.h"

static json_t *word_list(char **args, size_t n) {
        json_t *a = json_array();
        for (size_t i = 0; a && i < n; i++)
                json_array_append_new(a, json_string(args[i]));
        return a;
}

static int finish(Cli *c, int k, ApiReply *r, const char *what) {
        if (k >= 0) {
                if (c->json)
                        api_print_raw(r);
                else if (what)
                        fprintf(stderr, "%s\n", what);
        }
        api_reply_done(r);
        return k;
}

int cmd_mesh_invite(Cli *c, char **args, size_t n) {
        json_t *body = json_pack("{s:o}", "share", word_list(args, n));
        ApiReply r = { 0 };
        int k = api_call(c, "POST", "/api/mesh/invites", body, &r);
        json_decref(body);
        if (k < 0)
                return k;
        const char *text = json_string_value(json_object_get(r.json, "invite"));
        if (c->json || !text)
                return finish(c, k, &r, NULL);
        char *qr = NULL, when[64];
        printf("%s\n", text);
        fflush(stdout);
        if (qr_render_terminal(text, false, &qr) >= 0)
                fputs(qr, stderr);
        free(qr);
        fprintf(stderr, "Invite %lld, single use, valid until %s. The other cell runs: pic mesh join INVITE\n",
                (long long) json_integer_value(json_object_get(r.json, "id")),
                format_time(json_integer_value(json_object_get(r.json, "expires_at")), when, sizeof when));
        api_reply_done(&r);
        return 0;
}

int cmd_mesh_join(Cli *c, char **args, size_t n) {
        json_t *body = json_pack("{s:s}", "invite", args[0]);
        if (!body)
                return cli_usage_error("the invite must be text");
        ApiReply r = { 0 };
        int k = api_call(c, "POST", "/api/mesh/join", body, &r);
        json_decref(body);
        char msg[256], name[80], fpr[120];
        snprintf(msg, sizeof msg, "Linked with cell %s (identity %s).", json_text(json_object_get(r.json, "name"), name,
                                                                               sizeof name),
                 json_text(json_object_get(r.json, "fingerprint"), fpr, sizeof fpr));
        return finish(c, k, &r, msg);
}

int cmd_mesh_list(Cli *c, char **args, size_t n) {
        ApiReply me = { 0 }, r = { 0 };
        int k = api_call(c, "GET", "/api/mesh", NULL, &me);
        if (k >= 0)
                k = api_call(c, "GET", "/api/mesh/cells", NULL, &r);
        if (k >= 0 && c->json)
                api_print_raw(&r);
        else if (k >= 0) {
                char b1[120], b2[120];
                printf("This cell: %s, identity %s\n", json_text(json_object_get(me.json, "endpoint"), b1, sizeof b1),
                       json_text(json_object_get(me.json, "fingerprint"), b2, sizeof b2));
                static const JsonColumn cols[] = {
                        { "CELL", "name", COLUMN_TEXT },          { "STATE", "state", COLUMN_TEXT },
                        { "ENDPOINT", "endpoint", COLUMN_TEXT },  { "SHARED", "share", COLUMN_TEXT },
                        { "GRANTS", "grants", COLUMN_TEXT },      { "HANDSHAKE", "latest_handshake", COLUMN_TIME },
                        { "DNS", "last_dns_forward", COLUMN_TIME },
                };
                json_table_print(cols, sizeof cols / sizeof cols[0], json_object_get(r.json, "cells"), stdout);
        }
        api_reply_done(&me);
        api_reply_done(&r);
        return k;
}

static int put_cell(Cli *c, const char *cell, json_t *body, const char *what) {
        char path[160];
        if (snprintf(path, sizeof path, "/api/mesh/cells/%s", cell) >= (int) sizeof path)
                return cli_usage_error("the cell name is too long");
        ApiReply r = { 0 };
        int k = api_call(c, "PUT", path, body, &r);
        json_decref(body);
        return finish(c, k, &r, what);
}

int cmd_mesh_share(Cli *c, char **args, size_t n) {
        return put_cell(c, args[0], json_pack("{s:o}", "share", word_list(args + 1, n - 1)),
                        "Shared; the other cell's peers see the change at once.");
}

int cmd_mesh_grant(Cli *c, char **args, size_t n) {
        return put_cell(c, args[0], json_pack("{s:{s:o}}", "grants", args[1], word_list(args + 2, n - 2)),
                        "Granted; the peer reaches what the other cell shares of these.");
}

int cmd_mesh_leave(Cli *c, char **args, size_t n) {
        char path[160];
        if (snprintf(path, sizeof path, "/api/mesh/cells/%s", args[0]) >= (int) sizeof path)
                return cli_usage_error("the cell name is too long");
        ApiReply r = { 0 };
        int k = api_call(c, "DELETE", path, NULL, &r);
        const char *what = json_is_true(json_object_get(r.json, "notified"))
                                   ? "Left; the other cell was told."
                                   : "Left on this side; the other cell did not answer and keeps its side until it leaves too.";
        return finish(c, k, &r, what);
}
