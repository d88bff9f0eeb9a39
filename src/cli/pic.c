/* pic, the command-line client of picd: global options, the one table of commands (words, argument
 * counts, options, handler, help) that drives both dispatch and `pic --help`, and the exit-code contract. */
#include <getopt.h>
#include <stdio.h>

#include "basic/parse.h"
#include "cli/cli.h"

/* Options that belong to one command; the table says which command takes which. */
enum {
        VERB_OPT_SCOPE = 1 << 0,
        VERB_OPT_EXPIRES = 1 << 1,
};

typedef struct Verb {
        const char *group;  /* first word ("config"), NULL for a one-word command */
        const char *name;   /* the word after the group, or the command itself */
        size_t min_args, max_args;
        unsigned options;   /* VERB_OPT_* accepted */
        int (*run)(Cli *c, char **args, size_t n);
        const char *args_help;
        const char *help;
} Verb;

static int cmd_help(Cli *c, char **args, size_t n);

static const Verb verbs[] = {
        { NULL, "status", 0, 0, 0, cmd_status, "", "Health of picd and the state of each managed service" },
        { "config", "get", 0, 1, 0, cmd_config_get, "[KEY]", "Show all settings, or one (KEY like wireguard.address)" },
        { "config", "set", 2, 2, 0, cmd_config_set, "KEY VALUE", "Change one setting; says if it waits for a restart" },
        { "config", "pending", 0, 0, 0, cmd_config_pending, "", "Stored changes that wait for a restart" },
        { "config", "apply", 0, 0, 0, cmd_config_apply, "", "Apply the pending changes (restarts what they affect)" },
        { "token", "create", 1, 1, VERB_OPT_SCOPE | VERB_OPT_EXPIRES, cmd_token_create,
          "NAME [--scope read|write|admin] [--expires-days N]",
          "Create an API token (default scope read, 90 days; 0 days = never); printed once" },
        { "token", "list", 0, 0, 0, cmd_token_list, "", "List API tokens" },
        { "token", "revoke", 1, 1, 0, cmd_token_revoke, "ID", "Revoke an API token" },
        { "backup", "create", 0, 0, 0, cmd_backup_create, "", "Back up the configuration" },
        { "backup", "list", 0, 0, 0, cmd_backup_list, "", "List configuration backups" },
        { "backup", "restore", 1, 1, 0, cmd_backup_restore, "ID", "Restore a configuration backup" },
        { NULL, "help", 0, 0, 0, cmd_help, "", "Show this help" },
};

static void verb_usage(const Verb *v, char *buf, size_t size) {
        snprintf(buf, size, "%s%s%s%s%s", v->group ? v->group : "", v->group ? " " : "", v->name,
                 *v->args_help ? " " : "", v->args_help);
}

static void print_help(FILE *f) {
        fprintf(f,
                "pic %s — command-line client of picd, the Personal Internet Cell daemon\n\n"
                "Usage: pic [OPTIONS] COMMAND [ARGS]\n\nCommands:\n",
                PIC_VERSION);
        for (size_t i = 0; i < ELEMENTSOF(verbs); i++) {
                char u[160];
                verb_usage(&verbs[i], u, sizeof u);
                if (strlen(u) > 28)
                        fprintf(f, "  %s\n  %-28s  %s\n", u, "", verbs[i].help);
                else
                        fprintf(f, "  %-28s  %s\n", u, verbs[i].help);
        }
        fprintf(f,
                "\nOptions:\n"
                "  --socket PATH     picd's unix socket (default $PIC_SOCKET, else %s)\n"
                "  --json            print picd's JSON reply unchanged (config get KEY: the value at KEY)\n"
                "  --timeout SEC     give up when picd has not answered within SEC seconds (default %d)\n"
                "  -h, --help        show this help\n"
                "  -V, --version     show the version\n"
                "\nThe socket accepts root only: picd checks the caller's uid (SO_PEERCRED).\n"
                "Put -- before a VALUE that starts with '-'.\n"
                "\nExit status:\n"
                "  0  success\n"
                "  1  picd refused the request (its message and the field at fault go to stderr)\n"
                "  2  usage error (unknown command, option or setting; bad arguments)\n"
                "  3  picd could not be reached (not running, no permission) or its reply was unreadable\n",
                PIC_SOCKET_DEFAULT, PIC_TIMEOUT_DEFAULT_SEC);
}

static int cmd_help(Cli *c, char **args, size_t n) {
        print_help(stdout);
        return 0;
}

/* The command that args name, and how many words its name took. NULL after reporting a usage error. */
static const Verb *verb_find(char **args, size_t n, size_t *ret_words) {
        bool group_known = false;
        for (size_t i = 0; i < ELEMENTSOF(verbs); i++) {
                const Verb *v = &verbs[i];
                if (!v->group && streq(v->name, args[0])) {
                        *ret_words = 1;
                        return v;
                }
                if (v->group && streq(v->group, args[0])) {
                        group_known = true;
                        if (n > 1 && streq(v->name, args[1])) {
                                *ret_words = 2;
                                return v;
                        }
                }
        }
        if (!group_known) {
                cli_usage_error("unknown command \"%.64s\"; see `pic --help`", args[0]);
                return NULL;
        }
        if (n > 1)
                fprintf(stderr, "pic: unknown command \"%.64s %.64s\"; the %s commands are:\n", args[0], args[1], args[0]);
        else
                fprintf(stderr, "pic: `pic %.64s` needs one of:\n", args[0]);
        for (size_t i = 0; i < ELEMENTSOF(verbs); i++)
                if (verbs[i].group && streq(verbs[i].group, args[0])) {
                        char u[160];
                        verb_usage(&verbs[i], u, sizeof u);
                        fprintf(stderr, "  pic %s\n", u);
                }
        return NULL;
}

int main(int argc, char **argv) {
        enum { OPT_SOCKET = 0x100, OPT_JSON, OPT_TIMEOUT, OPT_SCOPE, OPT_EXPIRES };
        static const struct option longopts[] = {
                { "socket", required_argument, NULL, OPT_SOCKET },
                { "json", no_argument, NULL, OPT_JSON },
                { "timeout", required_argument, NULL, OPT_TIMEOUT },
                { "scope", required_argument, NULL, OPT_SCOPE },
                { "expires-days", required_argument, NULL, OPT_EXPIRES },
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, 'V' },
                {},
        };
        const char *env = getenv("PIC_SOCKET");
        Cli c = { .socket_path = env && *env ? env : PIC_SOCKET_DEFAULT,
                  .timeout_ms = PIC_TIMEOUT_DEFAULT_SEC * 1000 };
        unsigned given = 0;
        uint64_t sec;
        int opt;
        opterr = 0; /* our own messages, without argv[0]'s full path */
        while ((opt = getopt_long(argc, argv, ":hV", longopts, NULL)) >= 0) {
                switch (opt) {
                case OPT_SOCKET:
                        c.socket_path = optarg;
                        break;
                case OPT_JSON:
                        c.json = true;
                        break;
                case OPT_TIMEOUT:
                        if (parse_uint(optarg, 1, 3600, &sec) < 0)
                                return cli_exit_code(cli_usage_error("--timeout needs a number of seconds from 1 to 3600"));
                        c.timeout_ms = (int) sec * 1000;
                        break;
                case OPT_SCOPE:
                        c.scope = optarg;
                        given |= VERB_OPT_SCOPE;
                        break;
                case OPT_EXPIRES:
                        c.expires_days = optarg;
                        given |= VERB_OPT_EXPIRES;
                        break;
                case 'h':
                        print_help(stdout);
                        return PIC_EXIT_OK;
                case 'V':
                        printf("pic %s\n", PIC_VERSION);
                        return PIC_EXIT_OK;
                case ':':
                        return cli_exit_code(cli_usage_error("option %s needs a value", argv[optind - 1]));
                default:
                        return cli_exit_code(cli_usage_error("unknown option %s; see `pic --help`", argv[optind - 1]));
                }
        }
        char **args = argv + optind;
        size_t n = (size_t) (argc - optind), words;
        if (n == 0) {
                print_help(stderr);
                return PIC_EXIT_USAGE;
        }
        const Verb *v = verb_find(args, n, &words);
        if (!v)
                return PIC_EXIT_USAGE;
        char u[160];
        verb_usage(v, u, sizeof u);
        if (n - words < v->min_args || n - words > v->max_args)
                return cli_exit_code(cli_usage_error("usage: pic %s", u));
        if (given & ~v->options)
                return cli_exit_code(cli_usage_error("%s is not an option of `pic %s`",
                                                     given & ~v->options & VERB_OPT_SCOPE ? "--scope" : "--expires-days",
                                                     u));
        return cli_exit_code(v->run(&c, args + words, n - words));
}
