/* pic-testchild: a scriptable stand-in daemon for the supervisor tests. It performs its flags in order,
 * then exits (with --exit-code) unless --sleep-forever or --exit-after-ms keeps it alive.
 *
 *   --print TEXT          one line on stdout         --print-stderr TEXT  one line on stderr
 *   --lines N             N lines "line 1".."line N" on stdout
 *   --print-env           every environment entry, one per line, as "env: KEY=value"
 *   --print-fds           the open fds as "fds: 0 1 2"
 *   --print-signals       "sigblk: HEX" and "sigign: HEX" from /proc/self/status
 *   --print-caps          "caps: inh=HEX prm=HEX eff=HEX bnd=HEX amb=HEX" from /proc/self/status
 *   --bind-tcp PORT       bind a TCP socket to 0.0.0.0:PORT: "bind PORT: ok" or "bind PORT: <strerror>"
 *   --ignore-term         ignore SIGTERM (a slow stopper)
 *   --write-pid FILE      write our pid to FILE
 *   --no-pdeathsig        clear the parent-death signal (what a daemon's privilege drop does)
 *   --fork-sleeper FILE   fork a child that stays in our process group, writes its pid to FILE and sleeps
 *   --daemonize FILE      the classic double fork + setsid: the original exits 0, the grandchild writes its pid
 *                         to FILE and goes on with the remaining flags
 *   --exit-code C         exit status to use (default 0)
 *   --exit-after-ms N     sleep N ms, then exit      --sleep-forever  wait for a signal forever
 */
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static long number(const char *s) {
        char *end;
        errno = 0;
        long v = strtol(s, &end, 10);
        if (errno != 0 || end == s || *end != '\0' || v < 0) {
                fprintf(stderr, "pic-testchild: bad number '%s'\n", s);
                exit(2);
        }
        return v;
}

static void print_fds(void) {
        DIR *d = opendir("/proc/self/fd");
        if (!d)
                return;
        char own[16];
        snprintf(own, sizeof own, "%d", dirfd(d));
        printf("fds:");
        for (struct dirent *de; (de = readdir(d));)
                if (de->d_name[0] != '.' && strcmp(de->d_name, own) != 0)
                        printf(" %s", de->d_name);
        printf("\n");
        closedir(d);
}

static void write_pid(const char *path) {
        FILE *f = fopen(path, "we");
        if (!f || fprintf(f, "%d\n", (int) getpid()) < 0 || fclose(f) != 0)
                exit(3);
}

static void print_signals(void) {
        FILE *f = fopen("/proc/self/status", "re");
        if (!f)
                return;
        char line[256];
        while (fgets(line, sizeof line, f)) {
                if (strncmp(line, "SigBlk:", 7) == 0)
                        printf("sigblk: %s", line + 8);
                else if (strncmp(line, "SigIgn:", 7) == 0)
                        printf("sigign: %s", line + 8);
        }
        fclose(f);
}

/* The five capability sets, as one line (the kernel prints each as 16 hex digits). */
static void print_caps(void) {
        FILE *f = fopen("/proc/self/status", "re");
        if (!f)
                return;
        static const char *const keys[][2] = { { "CapInh:", "inh" }, { "CapPrm:", "prm" }, { "CapEff:", "eff" },
                                               { "CapBnd:", "bnd" }, { "CapAmb:", "amb" } };
        char line[256], out[5][32] = { "", "", "", "", "" };
        while (fgets(line, sizeof line, f))
                for (size_t i = 0; i < 5; i++)
                        if (strncmp(line, keys[i][0], 7) == 0)
                                sscanf(line + 7, "%31s", out[i]);
        fclose(f);
        printf("caps:");
        for (size_t i = 0; i < 5; i++)
                printf(" %s=%s", keys[i][1], out[i]);
        printf("\n");
}

/* Whether this process may bind a port (below 1024 that takes CAP_NET_BIND_SERVICE). */
static void bind_tcp(const char *port) {
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t) number(port)),
                                  .sin_addr.s_addr = htonl(INADDR_ANY) };
        int one = 1;
        (void) setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        int r = fd < 0 ? -1 : bind(fd, (struct sockaddr *) &sa, sizeof sa);
        printf("bind %s: %s\n", port, r == 0 ? "ok" : strerror(errno));
        if (fd >= 0)
                close(fd);
}

/* Who the process is: ids, groups, no_new_privs and the parent-death signal, as one line. */
static void print_creds(void) {
        gid_t groups[64];
        int n = getgroups(64, groups);
        int sig = -1;
        (void) prctl(PR_GET_PDEATHSIG, &sig);
        printf("creds: uid=%d euid=%d gid=%d egid=%d", (int) getuid(), (int) geteuid(), (int) getgid(),
               (int) getegid());
        printf(" groups=");
        for (int i = 0; i < n; i++)
                printf("%s%d", i ? "," : "", (int) groups[i]);
        printf(" nnp=%d pdeathsig=%d\n", prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0), sig);
}

int main(int argc, char **argv) {
        int exit_code = 0;
        /* Never outlive a crashed test run, even when told to ignore SIGTERM. */
        alarm(60);
        /* stdout is a pipe: without line buffering the supervisor would see nothing until exit. */
        setvbuf(stdout, NULL, _IOLBF, 0);

        for (int i = 1; i < argc; i++) {
                const char *a = argv[i];
                const char *v = i + 1 < argc ? argv[i + 1] : NULL;
                if (strcmp(a, "--print") == 0 && v) {
                        printf("%s\n", v);
                        i++;
                } else if (strcmp(a, "--print-stderr") == 0 && v) {
                        fprintf(stderr, "%s\n", v);
                        i++;
                } else if (strcmp(a, "--lines") == 0 && v) {
                        for (long n = 1, max = number(v); n <= max; n++)
                                printf("line %ld\n", n);
                        i++;
                } else if (strcmp(a, "--print-env") == 0) {
                        for (char **e = environ; *e; e++)
                                printf("env: %s\n", *e);
                } else if (strcmp(a, "--print-fds") == 0) {
                        print_fds();
                } else if (strcmp(a, "--reopen-stdout") == 0 && v) {
                        /* As lighttpd does with errorlog "/dev/stderr": a new open of the pipe, through /proc. */
                        FILE *o = fopen("/dev/stdout", "we");
                        if (!o) {
                                printf("reopen: %s\n", strerror(errno));
                        } else {
                                fprintf(o, "%s\n", v);
                                fclose(o);
                        }
                        i++;
                } else if (strcmp(a, "--print-creds") == 0) {
                        print_creds();
                } else if (strcmp(a, "--print-caps") == 0) {
                        print_caps();
                } else if (strcmp(a, "--bind-tcp") == 0 && v) {
                        bind_tcp(v);
                        i++;
                } else if (strcmp(a, "--print-signals") == 0) {
                        print_signals();
                } else if (strcmp(a, "--ignore-term") == 0) {
                        signal(SIGTERM, SIG_IGN);
                } else if (strcmp(a, "--write-pid") == 0 && v) {
                        write_pid(v);
                        i++;
                } else if (strcmp(a, "--no-pdeathsig") == 0) {
                        if (prctl(PR_SET_PDEATHSIG, 0) < 0)
                                return 4;
                } else if (strcmp(a, "--fork-sleeper") == 0 && v) {
                        pid_t pid = fork();
                        if (pid < 0)
                                return 5;
                        if (pid == 0) {
                                alarm(60); /* alarms are not inherited across fork */
                                write_pid(v);
                                for (;;)
                                        pause();
                        }
                        i++;
                } else if (strcmp(a, "--daemonize") == 0 && v) {
                        pid_t pid = fork();
                        if (pid < 0)
                                return 5;
                        if (pid > 0) {
                                waitpid(pid, NULL, 0);
                                return 0;
                        }
                        if (setsid() < 0)
                                _exit(6);
                        pid = fork();
                        if (pid != 0)
                                _exit(pid < 0 ? 5 : 0);
                        alarm(60);
                        write_pid(v);
                        i++;
                } else if (strcmp(a, "--exit-code") == 0 && v) {
                        exit_code = (int) number(v);
                        i++;
                } else if (strcmp(a, "--exit-after-ms") == 0 && v) {
                        long ms = number(v);
                        struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = ms % 1000 * 1000000 };
                        while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
                                ;
                        return exit_code;
                } else if (strcmp(a, "--sleep-forever") == 0) {
                        for (;;)
                                pause();
                } else {
                        fprintf(stderr, "pic-testchild: unknown or incomplete flag '%s'\n", a);
                        return 2;
                }
        }
        return exit_code;
}
