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
        VERB_OPT_ACCESS = 1 << 2,
        VERB_OPT_IP = 1 << 3,
        VERB_OPT_PUBLIC_KEY = 1 << 4,
        VERB_OPT_DESCRIPTION = 1 << 5,
        VERB_OPT_ENABLE = 1 << 6,
        VERB_OPT_DISABLE = 1 << 7,
        VERB_OPT_ROUTE_ALL = 1 << 8,
        VERB_OPT_NO_ROUTE_ALL = 1 << 9,
        VERB_OPT_PNG = 1 << 10,
        VERB_OPT_ROLE = 1 << 11,
        VERB_OPT_PURGE = 1 << 12,
        VERB_OPT_OWNER = 1 << 13,
        VERB_OPT_PEER = VERB_OPT_ACCESS | VERB_OPT_IP | VERB_OPT_PUBLIC_KEY | VERB_OPT_DESCRIPTION | VERB_OPT_ENABLE |
                        VERB_OPT_DISABLE | VERB_OPT_ROUTE_ALL | VERB_OPT_NO_ROUTE_ALL | VERB_OPT_OWNER,
};

/* Each option's name, for "--x is not an option of ..." */
static const struct {
        unsigned flag;
        const char *name;
} verb_option_names[] = {
        { VERB_OPT_SCOPE, "--scope" },
        { VERB_OPT_EXPIRES, "--expires-days" },
        { VERB_OPT_ACCESS, "--access" },
        { VERB_OPT_IP, "--ip" },
        { VERB_OPT_PUBLIC_KEY, "--public-key" },
        { VERB_OPT_DESCRIPTION, "--description" },
        { VERB_OPT_ENABLE, "--enable" },
        { VERB_OPT_DISABLE, "--disable" },
        { VERB_OPT_ROUTE_ALL, "--route-all" },
        { VERB_OPT_NO_ROUTE_ALL, "--no-route-all" },
        { VERB_OPT_PNG, "--png" },
        { VERB_OPT_ROLE, "--role" },
        { VERB_OPT_PURGE, "--purge" },
        { VERB_OPT_OWNER, "--owner" },
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
        { "peer", "add", 1, 1, VERB_OPT_PEER, cmd_peer_add,
          "NAME [--access LIST] [--ip IP] [--public-key KEY] [--route-all] [--disabled] [--description TEXT] "
          "[--owner USER]",
          "Create a VPN peer; LIST of grants like calendar,files (default: none)" },
        { "peer", "list", 0, 0, 0, cmd_peer_list, "", "List VPN peers with their grants and latest handshake" },
        { "peer", "show", 1, 1, 0, cmd_peer_show, "NAME", "Show one peer, with its live endpoint and transfer" },
        { "peer", "set", 1, 1, VERB_OPT_PEER, cmd_peer_set,
          "NAME [--access LIST] [--enable|--disable] [--route-all|--no-route-all] [--ip IP] [--public-key KEY] "
          "[--description TEXT] [--owner USER|'']",
          "Change what is given; --access '' takes every grant away" },
        { "peer", "config", 1, 1, 0, cmd_peer_config, "NAME", "Print the peer's wg-quick config (holds its private key)" },
        { "peer", "qr", 1, 1, VERB_OPT_PNG, cmd_peer_qr, "NAME [--png FILE]",
          "Draw the config as a QR code in the terminal, or write it as a PNG (mode 0600) to FILE" },
        { "peer", "rm", 1, 1, 0, cmd_peer_rm, "NAME", "Delete a peer and everything it was granted" },
        { "user", "add", 1, 1, VERB_OPT_ROLE, cmd_user_add, "NAME [--role admin|user]",
          "Create a user account (role user by default); the password is asked for, or read from stdin" },
        { "user", "list", 0, 0, 0, cmd_user_list, "", "List user accounts" },
        { "user", "show", 1, 1, 0, cmd_user_show, "NAME", "Show a user with their peers and app passwords" },
        { "user", "passwd", 1, 1, 0, cmd_user_passwd, "NAME",
          "Set a user's password (asked for, or read from stdin); ends their sessions" },
        { "user", "rm", 1, 1, VERB_OPT_PURGE, cmd_user_rm, "NAME [--purge]",
          "Delete a user; --purge also deletes their peers and app passwords" },
        { "user", "app-password", 2, 3, 0, cmd_user_app_password, "add USER LABEL | list USER | rm USER ID",
          "App passwords for a user's devices: add prints one once; rm revokes one" },
        { "user", "storage", 1, 2, 0, cmd_user_storage, "NAME [BYTES|unlimited]",
          "A user's files: usage, quota, folders; with BYTES sets the quota (a write past it gets 507)" },
        { "user", "share", 3, 4, 0, cmd_user_share, "NAME FOLDER WITH [read-only|read-write]",
          "Share NAME's FOLDER with user WITH; it appears in their files under /shared/NAME/FOLDER/" },
        { "user", "shares", 1, 1, 0, cmd_user_shares, "NAME", "Folders NAME shares and those shared with NAME" },
        { "user", "unshare", 2, 2, 0, cmd_user_unshare, "NAME ID", "Stop sharing; access ends at once" },
        { "ca", "show", 0, 0, 0, cmd_ca_show, "", "The cell CA's root: fingerprint, name constraints, expiry, download URL" },
        { "mesh", "invite", 0, 8, 0, cmd_mesh_invite, "[SERVICE...]",
          "Issue a single-use invite offering SERVICEs (text on stdout, QR code on stderr)" },
        { "mesh", "join", 1, 1, 0, cmd_mesh_join, "INVITE", "Link with the cell that issued INVITE" },
        { "mesh", "list", 0, 0, 0, cmd_mesh_list, "", "This cell's identity and the linked cells with liveness" },
        { "mesh", "share", 1, 9, 0, cmd_mesh_share, "CELL [SERVICE...]",
          "Set what CELL may reach of this cell (none when no SERVICE)" },
        { "mesh", "grant", 2, 10, 0, cmd_mesh_grant, "CELL PEER [SERVICE...]",
          "Set which of CELL's services PEER may use (\"calendar@CELL\")" },
        { "mesh", "leave", 1, 1, 0, cmd_mesh_leave, "CELL", "End the link with CELL (CELL is told, signed)" },

        { "mail", "aliases", 0, 0, 0, cmd_mail_aliases, "", "List mail aliases and who they reach" },
        { "mail", "alias-add", 2, 2, 0, cmd_mail_alias_add, "ALIAS USER[,USER...]",
          "Deliver ALIAS@<mail domain> to these users (who may also send as it)" },
        { "mail", "alias-rm", 1, 1, 0, cmd_mail_alias_rm, "ALIAS", "Delete a mail alias" },
        { "mail", "dns", 0, 0, 0, cmd_mail_dns, "", "The MX, SPF, DKIM and DMARC records of the mail domain" },
        { "mail", "user", 1, 1, 0, cmd_mail_user, "NAME", "A user's address, aliases, messages, usage and quota" },
        { "mail", "relay", 0, 2, 0, cmd_mail_relay, "[set USERNAME | clear]",
          "The outbound relay and its login; set asks for the password (or reads it from stdin), clear removes it" },
        { NULL, "help", 0, 1, 0, cmd_help, "[GROUP]", "Show this help, or the commands of GROUP (like peer)" },
};

/* What each group of commands is about, for `pic GROUP --help`. */
static const struct {
        const char *group, *about;
} groups[] = {
        { "config", "The cell's settings (`pic config get` lists every key)" },
        { "token", "API tokens for scripts and other clients (Authorization: Bearer TOKEN)" },
        { "backup", "Backups of the configuration, kept by picd in its state dir" },
        { "peer", "VPN peers: their keys, address, grants and wg-quick config" },
        { "user", "User accounts (web UI, webmail) and their app passwords (devices)" },
        { "ca", "The cell's certificate authority (its root is what devices install)" },
        { "mesh", "Links with cells of other owners: invites, sharing, remote grants" },

        { "mail", "Mail: aliases, a user's mailbox, the DNS records to publish, the outbound relay's login" },
};

static void verb_usage(const Verb *v, char *buf, size_t size) {
        snprintf(buf, size, "%s%s%s%s%s", v->group ? v->group : "", v->group ? " " : "", v->name,
                 *v->args_help ? " " : "", v->args_help);
}

static void print_verb(FILE *f, const Verb *v) {
        char u[160];
        verb_usage(v, u, sizeof u);
        if (strlen(u) > 28)
                fprintf(f, "  %s\n  %-28s  %s\n", u, "", v->help);
        else
                fprintf(f, "  %-28s  %s\n", u, v->help);
}

static void print_help(FILE *f) {
        fprintf(f,
                "pic %s — command-line client of picd, the Personal Internet Cell daemon\n\n"
                "Usage: pic [OPTIONS] COMMAND [ARGS]\n\nCommands:\n",
                PIC_VERSION);
        for (size_t i = 0; i < ELEMENTSOF(verbs); i++)
                print_verb(f, &verbs[i]);
        fprintf(f,
                "\nOptions:\n"
                "  --state-dir DIR   talk to the picd started with --state-dir DIR (its socket DIR/run/picd.sock)\n"
                "  --socket PATH     picd's unix socket; without either option: $PIC_SOCKET, else\n"
                "                    $PIC_STATE_DIR/run/picd.sock, else %s\n"
                "  --json            print picd's JSON reply unchanged (config get KEY: the value at KEY)\n"
                "  --timeout SEC     give up when picd has not answered within SEC seconds (default %d)\n"
                "  -h, --help        show this help; after a command (pic peer --help): that command's help\n"
                "  -V, --version     show the version\n"
                "\nThe socket accepts root only: picd checks the caller's uid (SO_PEERCRED).\n"
                "Put -- before a VALUE that starts with '-'.\n"
                "\nExit status:\n"
                "  0  success\n"
                "  1  picd refused the request (its message and the field at fault go to stderr)\n"
                "  2  usage error (unknown command, option or setting; bad arguments)\n"
                "  3  picd could not be reached (not running, no permission), its reply was unreadable, or the\n"
                "     output could not be written\n",
                PIC_SOCKET_DEFAULT, PIC_TIMEOUT_DEFAULT_SEC);
}

/* `pic GROUP --help`, `pic help GROUP`: the group's commands with their options. false: no such group. */
static bool print_group_help(FILE *f, const char *group) {
        const char *about = NULL;
        for (size_t i = 0; i < ELEMENTSOF(groups); i++)
                if (streq(groups[i].group, group))
                        about = groups[i].about;
        if (!about)
                return false;
        fprintf(f, "Usage: pic [OPTIONS] %s COMMAND [ARGS]\n\n%s.\n\nCommands:\n", group, about);
        for (size_t i = 0; i < ELEMENTSOF(verbs); i++)
                if (verbs[i].group && streq(verbs[i].group, group))
                        print_verb(f, &verbs[i]);
        fprintf(f, "\nOptions every command takes (--socket, --state-dir, --json, --timeout) and the exit status: "
                   "`pic --help`.\n");
        return true;
}

/* -h/--help with a command before or after it: that command's help, else the global one. */
static int help_for(char **args, size_t n) {
        if (n > 0 && print_group_help(stdout, args[0]))
                return 0;
        for (size_t i = 0; n > 0 && i < ELEMENTSOF(verbs); i++)
                if (!verbs[i].group && streq(verbs[i].name, args[0]) && !streq(args[0], "help")) {
                        char u[160];
                        verb_usage(&verbs[i], u, sizeof u);
                        printf("Usage: pic [OPTIONS] %s\n\n%s.\n\nOptions every command takes and the exit status: "
                               "`pic --help`.\n",
                               u, verbs[i].help);
                        return 0;
                }
        print_help(stdout);
        return 0;
}

static int cmd_help(Cli *c, char **args, size_t n) {
        if (n == 1 && !print_group_help(stdout, args[0]))
                return cli_usage_error("no command group \"%.64s\"; see `pic --help`", args[0]);
        if (n == 0)
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
        enum {
                OPT_SOCKET = 0x100,
                OPT_STATE_DIR,
                OPT_JSON,
                OPT_TIMEOUT,
                OPT_SCOPE,
                OPT_EXPIRES,
                OPT_ACCESS,
                OPT_IP,
                OPT_PUBLIC_KEY,
                OPT_DESCRIPTION,
                OPT_ENABLE,
                OPT_DISABLE,
                OPT_ROUTE_ALL,
                OPT_NO_ROUTE_ALL,
                OPT_PNG,
                OPT_ROLE,
                OPT_PURGE,
                OPT_OWNER,
        };
        static const struct option longopts[] = {
                { "socket", required_argument, NULL, OPT_SOCKET },
                { "state-dir", required_argument, NULL, OPT_STATE_DIR },
                { "json", no_argument, NULL, OPT_JSON },
                { "timeout", required_argument, NULL, OPT_TIMEOUT },
                { "scope", required_argument, NULL, OPT_SCOPE },
                { "expires-days", required_argument, NULL, OPT_EXPIRES },
                { "access", required_argument, NULL, OPT_ACCESS },
                { "ip", required_argument, NULL, OPT_IP },
                { "public-key", required_argument, NULL, OPT_PUBLIC_KEY },
                { "description", required_argument, NULL, OPT_DESCRIPTION },
                { "enable", no_argument, NULL, OPT_ENABLE },
                { "disable", no_argument, NULL, OPT_DISABLE },
                { "disabled", no_argument, NULL, OPT_DISABLE },
                { "route-all", no_argument, NULL, OPT_ROUTE_ALL },
                { "no-route-all", no_argument, NULL, OPT_NO_ROUTE_ALL },
                { "png", required_argument, NULL, OPT_PNG },
                { "role", required_argument, NULL, OPT_ROLE },
                { "purge", no_argument, NULL, OPT_PURGE },
                { "owner", required_argument, NULL, OPT_OWNER },
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, 'V' },
                {},
        };
        Cli c = { .socket_path = PIC_SOCKET_DEFAULT,
                  .socket_origin = "the default",
                  .timeout_ms = PIC_TIMEOUT_DEFAULT_SEC * 1000,
                  .enabled = -1,
                  .route_all = -1 };
        /* Where picd's socket is, strongest first: --socket, --state-dir, $PIC_SOCKET, $PIC_STATE_DIR. */
        const char *socket_opt = NULL, *state_dir_opt = NULL;
        char state_socket[4096];
        bool want_help = false;
        unsigned given = 0;
        uint64_t sec;
        int opt;
        opterr = 0; /* our own messages, without argv[0]'s full path */
        while ((opt = getopt_long(argc, argv, ":hV", longopts, NULL)) >= 0) {
                switch (opt) {
                case OPT_SOCKET:
                        socket_opt = optarg;
                        break;
                case OPT_STATE_DIR:
                        state_dir_opt = optarg;
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
                case OPT_ACCESS:
                        c.access = optarg;
                        given |= VERB_OPT_ACCESS;
                        break;
                case OPT_IP:
                        c.ip = optarg;
                        given |= VERB_OPT_IP;
                        break;
                case OPT_PUBLIC_KEY:
                        c.public_key = optarg;
                        given |= VERB_OPT_PUBLIC_KEY;
                        break;
                case OPT_DESCRIPTION:
                        c.description = optarg;
                        given |= VERB_OPT_DESCRIPTION;
                        break;
                case OPT_ENABLE:
                case OPT_DISABLE:
                        c.enabled = opt == OPT_ENABLE;
                        given |= opt == OPT_ENABLE ? VERB_OPT_ENABLE : VERB_OPT_DISABLE;
                        break;
                case OPT_ROUTE_ALL:
                case OPT_NO_ROUTE_ALL:
                        c.route_all = opt == OPT_ROUTE_ALL;
                        given |= opt == OPT_ROUTE_ALL ? VERB_OPT_ROUTE_ALL : VERB_OPT_NO_ROUTE_ALL;
                        break;
                case OPT_PNG:
                        c.png = optarg;
                        given |= VERB_OPT_PNG;
                        break;
                case OPT_ROLE:
                        c.role = optarg;
                        given |= VERB_OPT_ROLE;
                        break;
                case OPT_OWNER:
                        c.owner = optarg;
                        given |= VERB_OPT_OWNER;
                        break;
                case OPT_PURGE:
                        c.purge = true;
                        given |= VERB_OPT_PURGE;
                        break;
                case 'h':
                        want_help = true; /* after the loop: `pic peer --help` is the peer commands' help */
                        break;
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
        if (want_help)
                return help_for(args, n);
        const char *env_socket = getenv("PIC_SOCKET"), *env_state = getenv("PIC_STATE_DIR");
        const char *state_dir = NULL;
        if (socket_opt && state_dir_opt)
                return cli_exit_code(cli_usage_error("give --socket or --state-dir, not both"));
        if (socket_opt) {
                c.socket_path = socket_opt;
                c.socket_origin = "given with --socket";
        } else if (state_dir_opt) {
                state_dir = state_dir_opt;
                c.socket_origin = "from --state-dir";
        } else if (env_socket && *env_socket) {
                c.socket_path = env_socket;
                c.socket_origin = "from PIC_SOCKET";
        } else if (env_state && *env_state) {
                state_dir = env_state;
                c.socket_origin = "from PIC_STATE_DIR";
        }
        if (state_dir) {
                if (!*state_dir)
                        return cli_exit_code(cli_usage_error("--state-dir needs a directory"));
                int k = snprintf(state_socket, sizeof state_socket, "%s/run/picd.sock", state_dir);
                if (k < 0 || (size_t) k >= sizeof state_socket)
                        return cli_exit_code(cli_usage_error("the state dir path is too long"));
                c.socket_path = state_socket;
        }
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
        for (size_t i = 0; i < ELEMENTSOF(verb_option_names); i++)
                if (given & ~v->options & verb_option_names[i].flag)
                        return cli_exit_code(cli_usage_error("%s is not an option of `pic %s`",
                                                             verb_option_names[i].name, u));
        if ((given & VERB_OPT_ENABLE) && (given & VERB_OPT_DISABLE))
                return cli_exit_code(cli_usage_error("--enable and --disable contradict each other"));
        if ((given & VERB_OPT_ROUTE_ALL) && (given & VERB_OPT_NO_ROUTE_ALL))
                return cli_exit_code(cli_usage_error("--route-all and --no-route-all contradict each other"));
        return cli_exit_code(v->run(&c, args + words, n - words));
}
