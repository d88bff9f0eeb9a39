/* `pic user add|list|show|passwd|rm` and `pic user app-password add|list|rm`. Account passwords are read
 * from the terminal (echo off, asked twice) or one line of stdin, never from argv; every copy is wiped. */
#include <stdio.h>
#include <termios.h>
#include <unistd.h>

#include "basic/parse.h"
#include "cli/cli.h"
#include "crypto/secret.h"

#define PASSWORD_BUF CLI_PASSWORD_BUF

int cli_user_path(const char *name, const char *suffix, char *buf, size_t size) {
        if (!name_is_valid(name))
                return cli_usage_error("\"%.64s\" is not a user name (a-z, 0-9 and '-'); `pic user list` shows them",
                                       name);
        snprintf(buf, size, "/api/users/%s%s", name, suffix);
        return 0;
}

/* One line without its newline; -EINVAL at end of input. */
static int read_line(FILE *f, char buf[static PASSWORD_BUF]) {
        if (!fgets(buf, PASSWORD_BUF, f))
                return -EINVAL;
        buf[strcspn(buf, "\r\n")] = '\0';
        return 0;
}

static int prompt_hidden(const char *prompt, char buf[static PASSWORD_BUF]) {
        struct termios old, quiet;
        fputs(prompt, stderr);
        fflush(stderr);
        bool restore = tcgetattr(STDIN_FILENO, &old) == 0;
        if (restore) {
                quiet = old;
                quiet.c_lflag &= ~(tcflag_t) ECHO;
                tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
        }
        int r = read_line(stdin, buf);
        if (restore)
                tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
        fputc('\n', stderr);
        return r;
}

int cli_read_password(char buf[static PASSWORD_BUF]) {
        if (!isatty(STDIN_FILENO)) {
                if (read_line(stdin, buf) < 0 || !*buf)
                        return cli_usage_error("give the password on stdin (one line)");
                return 0;
        }
        char again[PASSWORD_BUF];
        int r = prompt_hidden("New password: ", buf);
        if (r >= 0)
                r = prompt_hidden("Again: ", again);
        if (r >= 0 && strcmp(buf, again) != 0)
                r = cli_usage_error("the two passwords differ");
        secret_wipe(again, sizeof again);
        return r;
}

int cmd_user_add(Cli *c, char **args, size_t n) {
        char path[128];
        int k = cli_user_path(args[0], "", path, sizeof path);
        if (k < 0)
                return k;
        char pw[PASSWORD_BUF];
        k = cli_read_password(pw);
        json_t *body = k < 0 ? NULL : json_pack("{s:s, s:s, s:s}", "name", args[0], "password", pw, "role",
                                                c->role ? c->role : "user");
        secret_wipe(pw, sizeof pw);
        if (k < 0)
                return k;
        if (!body)
                return cli_usage_error("the password and role must be valid UTF-8 text");
        ApiReply r = { 0 };
        k = api_call(c, "POST", "/api/users", body, &r);
        json_t *p = json_object_get(body, "password");
        secret_wipe((char *) json_string_value(p), json_string_length(p));
        json_decref(body);
        if (k < 0)
                return k;
        if (c->json)
                api_print_raw(&r);
        else {
                char b[64];
                printf("Created user %s with role %s.\n", args[0], json_text(json_object_get(r.json, "role"), b, sizeof b));
        }
        api_reply_done(&r);
        return 0;
}

int cmd_user_passwd(Cli *c, char **args, size_t n) {
        char path[128];
        int k = cli_user_path(args[0], "", path, sizeof path);
        if (k < 0)
                return k;
        char pw[PASSWORD_BUF];
        k = cli_read_password(pw);
        json_t *body = k < 0 ? NULL : json_pack("{s:s}", "password", pw);
        secret_wipe(pw, sizeof pw);
        if (k < 0)
                return k;
        if (!body)
                return cli_usage_error("the password must be valid UTF-8 text");
        ApiReply r = { 0 };
        k = api_call(c, "PUT", path, body, &r);
        json_t *p = json_object_get(body, "password");
        secret_wipe((char *) json_string_value(p), json_string_length(p));
        json_decref(body);
        if (k < 0)
                return k;
        if (c->json)
                api_print_raw(&r);
        else
                printf("Changed the password of %s; %lld session(s) ended.\n", args[0],
                       (long long) json_integer_value(json_object_get(r.json, "sessions_ended")));
        api_reply_done(&r);
        return 0;
}

int cmd_user_list(Cli *c, char **args, size_t n) {
        ApiReply r = { 0 };
        int k = api_call(c, "GET", "/api/users", NULL, &r);
        if (k < 0)
                return k;
        if (c->json) {
                api_print_raw(&r);
                api_reply_done(&r);
                return 0;
        }
        static const JsonColumn cols[] = { { "NAME", "name", COLUMN_TEXT },
                                           { "ROLE", "role", COLUMN_TEXT },
                                           { "CREATED", "created_at", COLUMN_TIME },
                                           { "PASSWORD CHANGED", "password_changed_at", COLUMN_TIME } };
        k = json_table_print(cols, ELEMENTSOF(cols), json_object_get(r.json, "users"), stdout);
        api_reply_done(&r);
        return k;
}

int cmd_user_show(Cli *c, char **args, size_t n) {
        char path[128];
        int k = cli_user_path(args[0], "", path, sizeof path);
        if (k < 0)
                return k;
        ApiReply r = { 0 };
        k = api_call(c, "GET", path, NULL, &r);
        if (k < 0)
                return k;
        if (c->json)
                api_print_raw(&r);
        else {
                char b[128], peers[512];
                printf("Name:              %s\n", json_text(json_object_get(r.json, "name"), b, sizeof b));
                printf("Role:              %s\n", json_text(json_object_get(r.json, "role"), b, sizeof b));
                printf("Created:           %s\n", json_time_text(json_object_get(r.json, "created_at"), b, sizeof b));
                printf("Password changed:  %s\n",
                       json_time_text(json_object_get(r.json, "password_changed_at"), b, sizeof b));
                printf("Peers:             %s\n", json_join(json_object_get(r.json, "peers"), peers, sizeof peers));
                printf("App passwords:     %s\n", json_text(json_object_get(r.json, "app_passwords"), b, sizeof b));
        }
        api_reply_done(&r);
        return 0;
}

int cmd_user_rm(Cli *c, char **args, size_t n) {
        char path[160];
        int k = cli_user_path(args[0], c->purge ? "?purge=true" : "", path, sizeof path);
        if (k < 0)
                return k;
        ApiReply r = { 0 };
        k = api_call(c, "DELETE", path, NULL, &r);
        if (k < 0)
                return k;
        if (c->json)
                api_print_raw(&r);
        else
                printf("Deleted user %s (and %lld peer(s)).\n", args[0],
                       (long long) json_integer_value(json_object_get(r.json, "peers_deleted")));
        api_reply_done(&r);
        return 0;
}

static int app_add(Cli *c, const char *user, char **rest, size_t n) {
        if (n != 1)
                return cli_usage_error("usage: pic user app-password add USER LABEL");
        char path[160];
        int k = cli_user_path(user, "/app-passwords", path, sizeof path);
        if (k < 0)
                return k;
        json_t *body = json_pack("{s:s}", "label", rest[0]);
        if (!body)
                return cli_usage_error("the label must be valid UTF-8 text");
        ApiReply r = { 0 };
        k = api_call(c, "POST", path, body, &r);
        json_decref(body);
        if (k < 0)
                return k;
        json_t *pw = json_object_get(r.json, "password");
        if (c->json)
                api_print_raw(&r);
        else if (!json_is_string(pw)) {
                fprintf(stderr, "pic: picd's reply carries no password\n");
                k = -EPROTO;
        } else {
                printf("%s\n", json_string_value(pw));
                fprintf(stderr, "App password %lld \"%s\" for %s: use it with the user name on that device. "
                                "It is not shown again.\n",
                        (long long) json_integer_value(json_object_get(r.json, "id")), rest[0], user);
        }
        if (json_is_string(pw))
                secret_wipe((char *) json_string_value(pw), json_string_length(pw));
        fflush(stdout);
        api_reply_done(&r);
        return k;
}

static int app_list(Cli *c, const char *user, char **rest, size_t n) {
        if (n != 0)
                return cli_usage_error("usage: pic user app-password list USER");
        char path[160];
        int k = cli_user_path(user, "/app-passwords", path, sizeof path);
        if (k < 0)
                return k;
        ApiReply r = { 0 };
        k = api_call(c, "GET", path, NULL, &r);
        if (k < 0)
                return k;
        json_t *list = json_object_get(r.json, "app_passwords");
        if (c->json)
                api_print_raw(&r);
        else if (json_array_size(list) == 0)
                printf("%s has no app passwords.\n", user);
        else {
                static const JsonColumn cols[] = { { "ID", "id", COLUMN_TEXT },
                                                   { "LABEL", "label", COLUMN_TEXT },
                                                   { "CREATED", "created_at", COLUMN_TIME },
                                                   { "LAST USED", "last_used_at", COLUMN_TIME } };
                k = json_table_print(cols, ELEMENTSOF(cols), list, stdout);
        }
        api_reply_done(&r);
        return k;
}

static int app_rm(Cli *c, const char *user, char **rest, size_t n) {
        uint64_t id;
        if (n != 1 || parse_uint(rest[0], 1, INT64_MAX, &id) < 0)
                return cli_usage_error("usage: pic user app-password rm USER ID (`pic user app-password list USER` "
                                       "shows the IDs)");
        char path[192], suffix[48];
        snprintf(suffix, sizeof suffix, "/app-passwords/%llu", (unsigned long long) id);
        int k = cli_user_path(user, suffix, path, sizeof path);
        if (k < 0)
                return k;
        ApiReply r = { 0 };
        k = api_call(c, "DELETE", path, NULL, &r);
        if (k < 0)
                return k;
        if (c->json)
                api_print_raw(&r);
        else
                printf("Revoked app password %llu of %s.\n", (unsigned long long) id, user);
        api_reply_done(&r);
        return 0;
}

int cmd_user_app_password(Cli *c, char **args, size_t n) {
        static const struct {
                const char *verb;
                int (*run)(Cli *c, const char *user, char **rest, size_t n);
        } verbs[] = { { "add", app_add }, { "list", app_list }, { "rm", app_rm } };
        for (size_t i = 0; i < ELEMENTSOF(verbs); i++)
                if (streq(args[0], verbs[i].verb))
                        return verbs[i].run(c, args[1], args + 2, n - 2);
        return cli_usage_error("usage: pic user app-password add|list|rm USER ...");
}
