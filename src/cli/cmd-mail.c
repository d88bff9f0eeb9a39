/* `pic mail aliases|alias-add|alias-rm|dns|user|relay`: the mail domain's aliases, the DNS records to publish, one
 * user's mail (address, aliases, usage, quota) and the outbound relay's login; --json prints picd's reply as is. */
#include <stdio.h>
#include <string.h>

#include "basic/parse.h"
#include "cli/cli.h"
#include "crypto/secret.h"

static int print_reply(Cli *c, const char *method, const char *path, json_t *body, int (*human)(json_t *)) {
        ApiReply r = { 0 };
        int k = api_call(c, method, path, body, &r);
        if (k < 0)
                return k;
        if (c->json)
                api_print_raw(&r);
        else
                k = human(r.json);
        api_reply_done(&r);
        return k;
}

static int aliases_human(json_t *j) {
        json_t *list = json_object_get(j, "aliases"), *a;
        size_t i;
        if (json_array_size(list) == 0) {
                printf("No mail aliases.\n");
                return 0;
        }
        printf("%-40s  %s\n", "ALIAS", "DELIVERED TO");
        json_array_foreach(list, i, a) {
                char addr[300], t[1024];
                printf("%-40s  %s\n", json_text(json_object_get(a, "address"), addr, sizeof addr),
                       json_join(json_object_get(a, "targets"), t, sizeof t));
        }
        return 0;
}

int cmd_mail_aliases(Cli *c, char **args, size_t n) {
        return print_reply(c, "GET", "/api/mail/aliases", NULL, aliases_human);
}

static int alias_added(json_t *j) {
        char addr[300], t[1024];
        printf("Mail to %s now reaches %s.\n", json_text(json_object_get(j, "address"), addr, sizeof addr),
               json_join(json_object_get(j, "targets"), t, sizeof t));
        return 0;
}

/* pic mail alias-add ALIAS USER[,USER...] */
int cmd_mail_alias_add(Cli *c, char **args, size_t n) {
        json_t *targets = json_array();
        char list[1024];
        snprintf(list, sizeof list, "%s", args[1]);
        char *save = NULL;
        for (char *t = strtok_r(list, ",", &save); t; t = strtok_r(NULL, ",", &save))
                json_array_append_new(targets, json_string(t));
        json_t *body = json_pack("{s:s, s:o}", "alias", args[0], "targets", targets);
        int k = print_reply(c, "POST", "/api/mail/aliases", body, alias_added);
        json_decref(body);
        return k;
}

static int alias_removed(json_t *j) {
        char a[128];
        printf("Deleted the alias %s.\n", json_text(json_object_get(j, "alias"), a, sizeof a));
        return 0;
}

int cmd_mail_alias_rm(Cli *c, char **args, size_t n) {
        if (!name_is_valid(args[0]))
                return cli_usage_error("\"%.64s\" is not an alias (a-z, 0-9 and '-'); `pic mail aliases` lists them",
                                       args[0]);
        char path[160];
        snprintf(path, sizeof path, "/api/mail/aliases/%s", args[0]);
        return print_reply(c, "DELETE", path, NULL, alias_removed);
}

static int dns_human(json_t *j) {
        json_t *list = json_object_get(j, "records"), *r;
        size_t i;
        char d[300];
        printf("Mail domain %s: %s\n\n", json_text(json_object_get(j, "domain"), d, sizeof d),
               json_is_true(json_object_get(j, "published_in_cell_dns"))
                       ? "the cell's DNS publishes these; copy them to a public DNS provider for mail from outside"
                       : "outside the cell's zone: publish these at the domain's DNS provider");
        json_array_foreach(list, i, r) {
                char name[300], type[16], value[1200], ttl[16];
                printf("%s %s IN %s %s\n", json_text(json_object_get(r, "name"), name, sizeof name),
                       json_text(json_object_get(r, "ttl"), ttl, sizeof ttl),
                       json_text(json_object_get(r, "type"), type, sizeof type),
                       json_text(json_object_get(r, "value"), value, sizeof value));
        }
        return 0;
}

int cmd_mail_dns(Cli *c, char **args, size_t n) {
        return print_reply(c, "GET", "/api/mail/dns", NULL, dns_human);
}

static int user_human(json_t *j) {
        char b[300], a[1024], m[32];
        json_t *q = json_object_get(j, "quota_bytes");
        printf("address   %s\n", json_text(json_object_get(j, "address"), b, sizeof b));
        printf("aliases   %s\n", json_join(json_object_get(j, "aliases"), a, sizeof a));
        printf("messages  %s\n", json_text(json_object_get(j, "messages"), m, sizeof m));
        printf("usage     %.1f MB", (double) json_integer_value(json_object_get(j, "usage_bytes")) / 1e6);
        if (json_is_integer(q))
                printf(" of %.1f MB", (double) json_integer_value(q) / 1e6);
        printf("\n");
        return 0;
}

int cmd_mail_user(Cli *c, char **args, size_t n) {
        char path[160];
        int k = cli_user_path(args[0], "/mail", path, sizeof path);
        if (k < 0)
                return k;
        return print_reply(c, "GET", path, NULL, user_human);
}

static int relay_human(json_t *j) {
        char host[300], port[16], tls[16], user[300];
        const char *h = json_text(json_object_get(j, "host"), host, sizeof host);
        if (!*h)
                printf("relay     none (mail goes to each domain's servers directly)\n");
        else
                printf("relay     %s port %s\n", h, json_text(json_object_get(j, "port"), port, sizeof port));
        json_t *u = json_object_get(j, "username");
        printf("login     %s\n", json_is_string(u) ? json_text(u, user, sizeof user) : "none");
        printf("password  %s\n", json_is_true(json_object_get(j, "password_set")) ? "set" : "not set");
        printf("tls       %s\n", json_text(json_object_get(j, "tls"), tls, sizeof tls));
        if (json_is_string(u) && !*h)
                printf("The login is kept but unused until mail.relay_host is set.\n");
        return 0;
}

/* pic mail relay | pic mail relay set USERNAME (password asked for, or one line of stdin) | pic mail relay clear */
int cmd_mail_relay(Cli *c, char **args, size_t n) {
        if (n == 0)
                return print_reply(c, "GET", "/api/mail/relay", NULL, relay_human);
        if (n == 1 && streq(args[0], "clear"))
                return print_reply(c, "DELETE", "/api/mail/relay", NULL, relay_human);
        if (n != 2 || !streq(args[0], "set"))
                return cli_usage_error("usage: pic mail relay [set USERNAME | clear]");
        char pw[CLI_PASSWORD_BUF];
        int k = cli_read_password(pw);
        json_t *body = k < 0 ? NULL : json_pack("{s:s, s:s}", "username", args[1], "password", pw);
        secret_wipe(pw, sizeof pw);
        if (k < 0)
                return k;
        if (!body)
                return cli_usage_error("the username and password must be valid UTF-8 text");
        k = print_reply(c, "PUT", "/api/mail/relay", body, relay_human);
        json_t *p = json_object_get(body, "password");
        secret_wipe((char *) json_string_value(p), json_string_length(p));
        json_decref(body);
        return k;
}
