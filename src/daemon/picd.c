/* picd: the Personal Internet Cell daemon. Parses flags, opens the state dir and store, enters or creates
 * the cell's network namespace for managed daemons, starts the services and the API, runs the loop. */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <sys/stat.h>

#include "basic/fileio.h"
#include "basic/log.h"
#include "basic/time-util.h"
#include "basic/util.h"
#include "core/backup.h"
#include "core/cell.h"
#include "crypto/secret.h"
#include "http/auth.h"
#include "http/http.h"
#include "http/server.h"
#include "net/netns.h"
#include "services/services.h"

typedef struct Args {
        const char *state_dir;
        const char *listen;
        const char *netns;
        json_t *overrides; /* flat key → value from --set */
} Args;

static void usage(FILE *f) {
        fputs("Usage: picd [OPTIONS]\n"
              "Run a Personal Internet Cell: the control plane for its DNS, DHCP, NTP, VPN and services.\n\n"
              "  --state-dir DIR     where the store, keys and generated configs live (default /var/lib/pic)\n"
              "  --listen ADDR:PORT  API and web UI listener (default 127.0.0.1:3000)\n"
              "  --netns NAME        run the managed network in network namespace NAME (created if missing)\n"
              "  --set KEY=VALUE     set a setting at start-up (validated like PUT /api/config); repeatable\n"
              "  --log-level LEVEL   error, warn, info or debug (default info)\n"
              "  --list-routes       print the API route table (method, path, auth) and exit\n"
              "  --help              show this help\n"
              "  --version           show the version\n\n"
              "Environment (testing and operations):\n"
              "  PIC_DNSMASQ_BIN     path of dnsmasq instead of /usr/sbin/dnsmasq\n"
              "  PIC_CHRONYD_BIN     path of chronyd instead of /usr/sbin/chronyd\n",
              f);
}

/* The route table as the tests and docs see it: one "METHOD PATH AUTH [local-only]" line per route. */
static void list_routes(void) {
        static const char *const levels[] = { "unset", "public", "read", "write", "admin" };
        size_t n;
        const Route *routes = http_routes(&n);
        for (size_t i = 0; i < n; i++) {
                /* OpenAPI spells a rest-of-path parameter {id*} as plain {id}. */
                char pattern[256];
                snprintf(pattern, sizeof pattern, "%s", routes[i].pattern);
                for (char *star; (star = strstr(pattern, "*}"));)
                        memmove(star, star + 1, strlen(star));
                printf("%s %s %s%s\n", routes[i].method, pattern,
                       routes[i].auth < _AUTH_LEVEL_MAX ? levels[routes[i].auth] : "invalid",
                       routes[i].flags & ROUTE_LOCAL_ONLY ? " local-only" : "");
        }
}

/* --set values are JSON when they parse as JSON (numbers, booleans), else plain strings. */
static int add_override(json_t *o, const char *arg) {
        const char *eq = strchr(arg, '=');
        if (!eq || eq == arg)
                return -EINVAL;
        char key[128];
        snprintf(key, sizeof key, "%.*s", (int) (eq - arg), arg);
        json_t *v = json_loads(eq + 1, JSON_DECODE_ANY, NULL);
        if (!v || json_is_object(v) || json_is_array(v)) {
                json_decref(v);
                v = json_string(eq + 1);
        }
        char *dot = strchr(key, '.');
        if (!dot)
                return json_object_set_new(o, key, v);
        *dot = '\0';
        json_t *sec = json_object_get(o, key);
        if (!sec) {
                sec = json_object();
                json_object_set_new(o, key, sec);
        }
        return json_object_set_new(sec, dot + 1, v);
}

static int parse_args(int argc, char **argv, Args *a) {
        enum { ARG_STATE = 0x100, ARG_LISTEN, ARG_NETNS, ARG_SET, ARG_LOG, ARG_HELP, ARG_VERSION, ARG_ROUTES };
        static const struct option opts[] = {
                { "state-dir", required_argument, NULL, ARG_STATE }, { "listen", required_argument, NULL, ARG_LISTEN },
                { "netns", required_argument, NULL, ARG_NETNS },     { "set", required_argument, NULL, ARG_SET },
                { "log-level", required_argument, NULL, ARG_LOG },   { "help", no_argument, NULL, ARG_HELP },
                { "version", no_argument, NULL, ARG_VERSION },       { "list-routes", no_argument, NULL, ARG_ROUTES },
                {},
        };
        *a = (Args) { .state_dir = "/var/lib/pic", .listen = "127.0.0.1:3000", .overrides = json_object() };
        int c;
        while ((c = getopt_long(argc, argv, "", opts, NULL)) >= 0) {
                switch (c) {
                case ARG_STATE:
                        a->state_dir = optarg;
                        break;
                case ARG_LISTEN:
                        a->listen = optarg;
                        break;
                case ARG_NETNS:
                        a->netns = optarg;
                        break;
                case ARG_SET:
                        if (add_override(a->overrides, optarg) < 0) {
                                fprintf(stderr, "picd: --set takes KEY=VALUE, got \"%s\"\n", optarg);
                                return -EINVAL;
                        }
                        break;
                case ARG_LOG:
                        if (log_level_from_string(optarg) < 0) {
                                fprintf(stderr, "picd: unknown log level \"%s\"\n", optarg);
                                return -EINVAL;
                        }
                        log_set_level(log_level_from_string(optarg));
                        break;
                case ARG_HELP:
                        usage(stdout);
                        return 0;
                case ARG_VERSION:
                        printf("picd %s\n", PIC_VERSION);
                        return 0;
                case ARG_ROUTES:
                        list_routes();
                        return 0;
                default:
                        usage(stderr);
                        return -EINVAL;
                }
        }
        if (optind < argc) {
                fprintf(stderr, "picd: unexpected argument \"%s\"\n", argv[optind]);
                return -EINVAL;
        }
        return 1;
}

static void on_quit(Loop *l, int signo, void *userdata) {
        log_info("received %s, shutting down", strsignal(signo));
        loop_quit(l, 0);
}

static void on_hup(Loop *l, int signo, void *userdata) {
        Cell *c = userdata;
        /* SIGHUP re-reads nothing that could break a running cell: it only prunes expired sessions. */
        store_session_prune(c->store, wall_sec(), SESSION_IDLE_SEC);
        log_info("SIGHUP: expired sessions pruned; configuration is changed through the API only");
}

static int prepare_state_dir(const char *dir) {
        static const char *const subdirs[] = { "", "/etc", "/keys", "/backups", "/run" };
        for (size_t i = 0; i < ELEMENTSOF(subdirs); i++) {
                char p[4096];
                snprintf(p, sizeof p, "%s%s", dir, subdirs[i]);
                int r = mkdir_p(p, 0700);
                if (r < 0)
                        return log_error_errno(r, "cannot create %s", p);
                if (*subdirs[i] == '\0' || streq(subdirs[i], "/keys") || streq(subdirs[i], "/backups"))
                        chmod(p, 0700);
                else
                        chmod(p, 0755);
        }
        return 0;
}

int main(int argc, char **argv) {
        setvbuf(stderr, NULL, _IOLBF, 0);
        Args args;
        int r = parse_args(argc, argv, &args);
        if (r <= 0) {
                json_decref(args.overrides);
                return r < 0 ? 2 : 0;
        }
        umask(0022);
        signal(SIGPIPE, SIG_IGN);
        if (secret_init() < 0)
                return log_error("libsodium failed to initialise"), 1;

        Cell cell = { .netns_fd = -1, .started_at = wall_sec() };
        HttpServer *server = NULL;
        int exit_code = 1;
        char path[4096];

        cell.state_dir = realpath(args.state_dir, NULL);
        if (!cell.state_dir) {
                if (mkdir_p(args.state_dir, 0700) < 0 || !(cell.state_dir = realpath(args.state_dir, NULL))) {
                        log_error("cannot use state dir %s: %s", args.state_dir, strerror(errno));
                        goto out;
                }
        }
        if (prepare_state_dir(cell.state_dir) < 0)
                goto out;
        /* Before the store opens: an interrupted restore is finished (or its staging dropped) first. */
        r = backup_recover(cell.state_dir);
        if (r < 0) {
                log_error_errno(r, "cannot recover from an interrupted restore in %s (see %s/restore-journal)",
                                cell.state_dir, cell.state_dir);
                goto out;
        }
        if (r > 0)
                log_info("finished a restore that was interrupted before picd stopped");

        snprintf(path, sizeof path, "%s/picd.db", cell.state_dir);
        r = store_open(path, &cell.store);
        if (r < 0) {
                log_error_errno(r, "cannot open the store %s", path);
                goto out;
        }
        r = settings_load(cell.store, &cell.settings);
        if (r < 0) {
                log_error_errno(r, "cannot load settings");
                goto out;
        }
        if (json_object_size(args.overrides) > 0) {
                PicError err = { 0 };
                r = settings_update(cell.settings, cell.store, args.overrides, true, NULL, &err);
                if (r < 0) {
                        log_error("--set %s: %s", err.field, err.message);
                        goto out;
                }
        }
        if (args.netns) {
                r = netns_open_or_create(args.netns, &cell.netns_fd);
                if (r < 0) {
                        log_error_errno(r, "cannot open or create network namespace \"%s\"", args.netns);
                        goto out;
                }
                cell.netns_name = strdup(args.netns);
        }

        r = loop_new(&cell.loop);
        if (r >= 0)
                r = loop_add_signal(cell.loop, SIGTERM, on_quit, &cell);
        if (r >= 0)
                r = loop_add_signal(cell.loop, SIGINT, on_quit, &cell);
        if (r >= 0)
                r = loop_add_signal(cell.loop, SIGHUP, on_hup, &cell);
        if (r >= 0)
                r = supervisor_new(cell.loop, cell.netns_fd, &cell.supervisor);
        if (r < 0) {
                log_error_errno(r, "cannot set up the event loop");
                goto out;
        }
        r = http_auth_bootstrap(&cell);
        if (r < 0)
                goto out;
        r = services_register_all(&cell);
        if (r < 0) {
                log_error_errno(r, "cannot register services");
                goto out;
        }
        cell_start_services(&cell);

        snprintf(path, sizeof path, "%s/run/picd.sock", cell.state_dir);
        r = http_server_new(&cell, args.listen, path, &server);
        if (r < 0)
                goto out;
        log_info("picd %s ready: API on http://%s, CLI socket %s%s%s", PIC_VERSION, args.listen, path,
                 cell.netns_name ? ", network namespace " : "", cell.netns_name ? cell.netns_name : "");

        exit_code = loop_run(cell.loop);
        cell_stop_services(&cell);
out:
        /* Supervisor first: stopping children runs the loop, which still needs the listeners. */
        supervisor_free(cell.supervisor);
        http_server_free(server);
        loop_free(cell.loop);
        settings_free(cell.settings);
        store_free(cell.store);
        if (cell.netns_fd >= 0)
                close(cell.netns_fd);
        free(cell.netns_name);
        free(cell.state_dir);
        json_decref(args.overrides);
        return exit_code;
}
