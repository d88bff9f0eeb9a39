/* Tests of the supervisor with the real Loop and real child processes ($PIC_BUILD_DIR/pic-testchild):
 * output capture, restart backoff, crash loops, exec failures, TERM→KILL stops, restart, netns. Runs as root. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <linux/capability.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "basic/log.h"
#include "basic/time-util.h"
#include "basic/util.h"
#include "core/loop.h"
#include "core/supervisor.h"
#include "pid-file.h"

typedef struct Transition {
        char name[32];
        ServiceState state;
        pid_t pid;
        uint64_t at;
} Transition;

typedef struct Fixture {
        Loop *loop;
        Supervisor *sup;
        int netns_fd, host_netns_fd;
        Transition tr[256];
        size_t n_tr;
} Fixture;

static char testchild_path[PATH_MAX];

static char *testchild(void) {
        if (!testchild_path[0]) {
                const char *dir = getenv("PIC_BUILD_DIR");
                assert_non_null(dir);
                snprintf(testchild_path, sizeof testchild_path, "%s/pic-testchild", dir);
                assert_int_equal(access(testchild_path, X_OK), 0);
        }
        return testchild_path;
}

static void on_state(Supervisor *s, const char *name, ServiceState state, void *userdata) {
        Fixture *f = userdata;
        if (f->n_tr >= ELEMENTSOF(f->tr))
                return;
        Transition *t = &f->tr[f->n_tr++];
        snprintf(t->name, sizeof t->name, "%s", name);
        t->state = state;
        t->at = now_usec();
        ServiceStatus st;
        assert_int_equal(supervisor_status(s, name, &st), 0);
        assert_int_equal(st.state, state);
        t->pid = st.pid;
}

static int fixture_new(void **state, int netns_fd) {
        Fixture *f = calloc(1, sizeof *f);
        assert_non_null(f);
        f->netns_fd = f->host_netns_fd = -1;
        assert_int_equal(loop_new(&f->loop), 0);
        assert_int_equal(supervisor_new(f->loop, netns_fd, &f->sup), 0);
        assert_int_equal(supervisor_set_state_callback(f->sup, on_state, f), 0);
        *state = f;
        return 0;
}

static int setup(void **state) {
        return fixture_new(state, -1);
}

/* A throwaway network namespace: unshare ours, keep an fd to the new one, go back. */
static int setup_netns(void **state) {
        int host = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
        assert_true(host >= 0);
        assert_int_equal(unshare(CLONE_NEWNET), 0);
        int ns = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
        assert_true(ns >= 0);
        assert_int_equal(setns(host, CLONE_NEWNET), 0);
        fixture_new(state, ns);
        Fixture *f = *state;
        f->netns_fd = ns; /* the supervisor dup()ed it; ours stays for the inode comparison */
        f->host_netns_fd = host;
        return 0;
}

static int teardown(void **state) {
        Fixture *f = *state;
        supervisor_free(f->sup);
        loop_free(f->loop);
        if (f->netns_fd >= 0)
                close(f->netns_fd);
        if (f->host_netns_fd >= 0)
                close(f->host_netns_fd);
        free(f);
        return 0;
}

typedef bool (*cond_fn)(Fixture *f, const void *arg);

/* Every wait in these tests: run the loop until cond holds or timeout_ms passes. */
static bool run_until(Fixture *f, cond_fn cond, const void *arg, unsigned timeout_ms) {
        uint64_t deadline = now_usec() + timeout_ms * USEC_PER_MSEC;
        while (!cond(f, arg)) {
                uint64_t now = now_usec();
                if (now >= deadline)
                        return false;
                uint64_t left = (deadline - now + 999) / 1000;
                assert_true(loop_run_once(f->loop, left > 20 ? 20 : (int) left) >= 0);
        }
        return true;
}

static bool never(Fixture *f, const void *arg) {
        return false;
}

static void run_for(Fixture *f, unsigned ms) {
        (void) run_until(f, never, NULL, ms);
}

static ServiceStatus status_of(Fixture *f, const char *name) {
        ServiceStatus st;
        assert_int_equal(supervisor_status(f->sup, name, &st), 0);
        return st;
}

typedef struct WantState {
        const char *name;
        ServiceState state;
} WantState;

static bool state_is(Fixture *f, const void *arg) {
        const WantState *w = arg;
        return status_of(f, w->name).state == w->state;
}

static bool wait_state(Fixture *f, const char *name, ServiceState state, unsigned timeout_ms) {
        return run_until(f, state_is, &(WantState) { name, state }, timeout_ms);
}

typedef struct WantText {
        const char *name;
        const char *text;
} WantText;

static bool logs_contain(Fixture *f, const void *arg) {
        const WantText *w = arg;
        char *text = NULL;
        assert_int_equal(supervisor_logs(f->sup, w->name, 10000, &text), 0);
        bool found = strstr(text, w->text) != NULL;
        free(text);
        return found;
}

static bool wait_logs(Fixture *f, const char *name, const char *text, unsigned timeout_ms) {
        return run_until(f, logs_contain, &(WantText) { name, text }, timeout_ms);
}

static char *logs_of(Fixture *f, const char *name, unsigned n) {
        char *text = NULL;
        assert_int_equal(supervisor_logs(f->sup, name, n, &text), 0);
        return text;
}

typedef struct WantRestarts {
        const char *name;
        unsigned restarts;
} WantRestarts;

static bool restarted_and_running(Fixture *f, const void *arg) {
        const WantRestarts *w = arg;
        ServiceStatus st = status_of(f, w->name);
        return st.restarts >= w->restarts && st.state == SERVICE_RUNNING;
}

static bool pid_gone(Fixture *f, const void *arg) {
        return kill(*(const pid_t *) arg, 0) < 0 && errno == ESRCH;
}

static void assert_reaped(pid_t pid) {
        assert_true(pid > 0);
        assert_int_equal(kill(pid, 0), -1);
        assert_int_equal(errno, ESRCH);
}

static size_t count_substr(const char *s, const char *sub) {
        size_t n = 0;
        for (const char *p = s; (p = strstr(p, sub)); p += strlen(sub))
                n++;
        return n;
}

/* ---- tests ---------------------------------------------------------------------------------------------- */

static void test_start_captures_output(void **state) {
        Fixture *f = *state;
        char *argv[] = { testchild(), "--print", "hello stdout", "--print-stderr", "hello stderr",
                         "--sleep-forever", NULL };
        assert_int_equal(supervisor_add(f->sup, &(ServiceSpec) { .name = "echo", .argv = argv }), 0);
        ServiceStatus st = status_of(f, "echo");
        assert_int_equal(st.state, SERVICE_STOPPED);
        assert_int_equal(st.pid, 0);
        assert_int_equal(st.last_exit_code, -1);

        assert_int_equal(supervisor_start(f->sup, "echo"), 0);
        st = status_of(f, "echo");
        assert_int_equal(st.state, SERVICE_RUNNING);
        assert_true(st.pid > 0);
        assert_true(st.started_at > 0);
        assert_int_equal(supervisor_start(f->sup, "echo"), 0); /* already running: nothing happens */
        assert_int_equal(status_of(f, "echo").pid, st.pid);

        assert_true(wait_logs(f, "echo", "hello stderr", 2000));
        char *text = logs_of(f, "echo", 10);
        assert_string_equal(text, "hello stdout\nhello stderr");
        free(text);
        text = logs_of(f, "echo", 1);
        assert_string_equal(text, "hello stderr");
        free(text);
        text = logs_of(f, "echo", 0);
        assert_string_equal(text, "");
        free(text);
        assert_int_equal(supervisor_logs(f->sup, "echo", 10001, &text), -EINVAL);
        assert_int_equal(supervisor_logs(f->sup, "nope", 1, &text), -ENOENT);

        assert_int_equal(f->n_tr, 1);
        assert_string_equal(f->tr[0].name, "echo");
        assert_int_equal(f->tr[0].state, SERVICE_RUNNING);
        /* The direct child is the daemon (no shell in between), leader of its own session. */
        assert_int_equal(getsid(st.pid), st.pid);
}

static void test_child_environment(void **state) {
        Fixture *f = *state;
        char pidfile[] = "/tmp/pic-test-pid-XXXXXX";
        int fd = mkstemp(pidfile);
        assert_true(fd >= 0);
        close(fd);
        char *argv[] = { testchild(), "--write-pid", pidfile, "--print-env", "--print-fds", "--print-signals",
                         "--print", "done", "--sleep-forever", NULL };
        char *env[] = { "PIC_TEST=1", NULL };
        assert_int_equal(supervisor_add(f->sup, &(ServiceSpec) { .name = "env", .argv = argv, .env = env }), 0);
        assert_int_equal(supervisor_start(f->sup, "env"), 0);
        assert_true(wait_logs(f, "env", "done", 2000));

        char *text = logs_of(f, "env", 100);
        /* Only PATH and the spec's entries: nothing of the test's own environment (PIC_BUILD_DIR...). */
        assert_non_null(strstr(text, "env: PATH=/usr/sbin:/usr/bin:/sbin:/bin\n"));
        assert_non_null(strstr(text, "env: PIC_TEST=1\n"));
        assert_int_equal(count_substr(text, "env: "), 2);
        /* Only stdio: every other fd of ours was closed. */
        assert_non_null(strstr(text, "fds: 0 1 2\n"));
        /* The loop blocks SIGCHLD in the parent; the daemon must start with nothing blocked or ignored. */
        assert_non_null(strstr(text, "sigblk: 0000000000000000\n"));
        assert_non_null(strstr(text, "sigign: 0000000000000000\n"));
        free(text);

        char buf[32] = "";
        FILE *p = fopen(pidfile, "re");
        assert_non_null(p);
        assert_non_null(fgets(buf, sizeof buf, p));
        fclose(p);
        unlink(pidfile);
        char want[32];
        snprintf(want, sizeof want, "%d\n", (int) status_of(f, "env").pid);
        assert_string_equal(buf, want);
}

/* A user with kept capabilities (Caddy binding :443 as its own user): the child has exactly the asked one in
 * every set, bounding included, and can use it (a port below 1024 in the test's namespace); the same user
 * without kept capabilities has none and cannot. Kept capabilities without a user mean nothing: refused. */
static void test_user_keeps_ambient_cap(void **state) {
        Fixture *f = *state;
        char *argv[] = { testchild(), "--print-creds", "--print-caps", "--bind-tcp", "80", "--print", "done",
                         "--sleep-forever", NULL };
        const uint64_t bind_cap = UINT64_C(1) << CAP_NET_BIND_SERVICE;
        assert_int_equal(supervisor_add(f->sup, &(ServiceSpec) { .name = "kept", .argv = argv, .in_netns = true,
                                                                  .user = "nobody", .ambient_caps = bind_cap }),
                         0);
        assert_int_equal(supervisor_add(f->sup, &(ServiceSpec) { .name = "plain", .argv = argv, .in_netns = true,
                                                                  .user = "nobody" }),
                         0);
        assert_int_equal(supervisor_start(f->sup, "kept"), 0);
        assert_int_equal(supervisor_start(f->sup, "plain"), 0);
        assert_true(wait_logs(f, "kept", "done", 2000));
        assert_true(wait_logs(f, "plain", "done", 2000));

        char *text = logs_of(f, "kept", 10);
        assert_non_null(strstr(text, "creds: uid=65534 euid=65534 gid=65534 egid=65534 groups=65534 nnp=1 "));
        assert_non_null(strstr(text, "caps: inh=0000000000000400 prm=0000000000000400 eff=0000000000000400 "
                                     "bnd=0000000000000400 amb=0000000000000400\n"));
        assert_non_null(strstr(text, "\nbind 80: ok\n"));
        free(text);

        text = logs_of(f, "plain", 10);
        assert_non_null(strstr(text, "caps: inh=0000000000000000 prm=0000000000000000 eff=0000000000000000 "));
        assert_non_null(strstr(text, " amb=0000000000000000\n"));
        assert_non_null(strstr(text, "\nbind 80: Permission denied\n"));
        free(text);

        assert_int_equal(supervisor_add(f->sup, &(ServiceSpec) { .name = "rootcaps", .argv = argv, .ambient_caps = bind_cap }),
                         -EINVAL);
}

static int cmp_gid(const void *a, const void *b) {
        gid_t x = *(const gid_t *) a, y = *(const gid_t *) b;
        return x < y ? -1 : x > y;
}

/* user_group_only: the primary group alone. Debian's caddy package puts its user in www-data too: with its
 * groups it has both, without them only its own. */
static void test_user_group_only(void **state) {
        Fixture *f = *state;
        struct passwd *pw = getpwnam("caddy");
        assert_non_null(pw);
        char *argv[] = { testchild(), "--print-creds", "--print", "done", "--sleep-forever", NULL };
        assert_int_equal(supervisor_add(f->sup, &(ServiceSpec) { .name = "all", .argv = argv, .user = "caddy" }), 0);
        assert_int_equal(supervisor_add(f->sup, &(ServiceSpec) { .name = "own", .argv = argv, .user = "caddy",
                                                                  .user_group_only = true }),
                         0);
        assert_int_equal(supervisor_start(f->sup, "all"), 0);
        assert_int_equal(supervisor_start(f->sup, "own"), 0);
        assert_true(wait_logs(f, "all", "done", 2000));
        assert_true(wait_logs(f, "own", "done", 2000));
        char want[128];
        snprintf(want, sizeof want, " groups=%d nnp=1 ", (int) pw->pw_gid);
        char *text = logs_of(f, "own", 10);
        assert_non_null(strstr(text, want));
        free(text);
        /* With its groups: every one /etc/group gives it, as the kernel keeps them (sorted). */
        gid_t groups[32];
        int n = ELEMENTSOF(groups);
        assert_true(getgrouplist("caddy", pw->pw_gid, groups, &n) >= 1);
        qsort(groups, (size_t) n, sizeof *groups, cmp_gid);
        size_t k = (size_t) snprintf(want, sizeof want, " groups=");
        for (int i = 0; i < n && k < sizeof want; i++)
                k += (size_t) snprintf(want + k, sizeof want - k, "%s%d", i ? "," : "", (int) groups[i]);
        assert_true(k + 8 < sizeof want);
        snprintf(want + k, sizeof want - k, " nnp=1 ");
        text = logs_of(f, "all", 10);
        assert_non_null(strstr(text, want));
        free(text);
}

/* A spec with a user: the daemon starts as that user with its groups only, cannot gain privileges back through
 * a setuid program, can reopen its own output, and still dies with its parent (the change of user clears the parent-death signal; the
 * supervisor sets it again after). Root, or an unknown user, is refused when the service is added. */
static void test_runs_as_user(void **state) {
        Fixture *f = *state;
        char *argv[] = { testchild(), "--print-creds", "--reopen-stdout", "reopened", "--print", "done",
                         "--sleep-forever", NULL };
        assert_int_equal(supervisor_add(f->sup, &(ServiceSpec) { .name = "nobody", .argv = argv, .user = "nobody" }),
                         0);
        assert_int_equal(supervisor_start(f->sup, "nobody"), 0);
        assert_true(wait_logs(f, "nobody", "done", 2000));
        char *text = logs_of(f, "nobody", 10);
        assert_non_null(strstr(text, "creds: uid=65534 euid=65534 gid=65534 egid=65534 groups=65534 nnp=1 pdeathsig=15\n"));
        /* Its output pipe is its own: it may open /dev/stdout again (lighttpd's errorlog does). */
        assert_non_null(strstr(text, "\nreopened\n"));
        free(text);
        /* Without a user: root, as before, with the parent-death signal and no no_new_privs. */
        assert_int_equal(supervisor_add(f->sup, &(ServiceSpec) { .name = "root", .argv = argv }), 0);
        assert_int_equal(supervisor_start(f->sup, "root"), 0);
        assert_true(wait_logs(f, "root", "done", 2000));
        text = logs_of(f, "root", 10);
        assert_non_null(strstr(text, "creds: uid=0 euid=0 gid=0 egid=0 "));
        assert_non_null(strstr(text, " nnp=0 pdeathsig=15\n"));
        free(text);
        assert_int_equal(supervisor_add(f->sup, &(ServiceSpec) { .name = "r", .argv = argv, .user = "root" }), -EPERM);
        assert_int_equal(supervisor_add(f->sup, &(ServiceSpec) { .name = "u", .argv = argv, .user = "no-such-pic-user" }),
                         -ENOENT);
        const char *const *names;
        assert_int_equal(supervisor_list(f->sup, &names), 2);
}

static void test_crash_restarts_with_backoff(void **state) {
        Fixture *f = *state;
        char *argv[] = { testchild(), "--print", "crashing", "--exit-code", "3", NULL };
        ServiceSpec spec = { .name = "crasher", .argv = argv, .restart_delay_usec = 50 * USEC_PER_MSEC,
                             .crash_loop_max = 10 };
        assert_int_equal(supervisor_add(f->sup, &spec), 0);
        assert_int_equal(supervisor_start(f->sup, "crasher"), 0);
        assert_true(run_until(f, restarted_and_running, &(WantRestarts) { "crasher", 3 }, 3000));

        /* RUNNING, BACKOFF, RUNNING, BACKOFF, RUNNING, BACKOFF, RUNNING: each wait doubles, each pid new. */
        assert_true(f->n_tr >= 7);
        uint64_t want_delay = 50 * USEC_PER_MSEC;
        for (size_t i = 1; i + 1 < 7; i += 2) {
                assert_int_equal(f->tr[i - 1].state, SERVICE_RUNNING);
                assert_int_equal(f->tr[i].state, SERVICE_BACKOFF);
                assert_int_equal(f->tr[i + 1].state, SERVICE_RUNNING);
                assert_true(f->tr[i + 1].at - f->tr[i].at >= want_delay);
                assert_int_not_equal(f->tr[i + 1].pid, f->tr[i - 1].pid);
                want_delay *= 2;
        }
        ServiceStatus st = status_of(f, "crasher");
        assert_true(st.restarts >= 3);
        assert_int_equal(st.last_exit_code, 3);
        assert_int_equal(st.last_exit_signal, 0);
        assert_true(st.last_exit_at > 0);
        assert_string_equal(st.failure, "");
        /* The ring keeps output across restarts. */
        char *text = logs_of(f, "crasher", 100);
        assert_true(count_substr(text, "crashing") >= 3);
        free(text);

        assert_int_equal(supervisor_stop(f->sup, "crasher"), 0);
        assert_true(wait_state(f, "crasher", SERVICE_STOPPED, 2000));
}

static void test_crash_loop_fails(void **state) {
        Fixture *f = *state;
        char *argv[] = { testchild(), "--exit-code", "1", NULL };
        ServiceSpec spec = { .name = "looper", .argv = argv, .restart_delay_usec = 10 * USEC_PER_MSEC,
                             .crash_loop_max = 3, .crash_loop_window_usec = 10 * USEC_PER_SEC };
        assert_int_equal(supervisor_add(f->sup, &spec), 0);
        assert_int_equal(supervisor_start(f->sup, "looper"), 0);
        assert_true(wait_state(f, "looper", SERVICE_FAILED, 3000));

        ServiceStatus st = status_of(f, "looper");
        assert_int_equal(st.restarts, 2); /* three exits: the first run and two restarts */
        assert_int_equal(st.pid, 0);
        assert_non_null(strstr(st.failure, "crash loop"));
        assert_non_null(strstr(st.failure, "exit code 1"));

        /* FAILED stays FAILED. */
        run_for(f, 300);
        st = status_of(f, "looper");
        assert_int_equal(st.state, SERVICE_FAILED);
        assert_int_equal(st.restarts, 2);

        /* supervisor_start clears the history: the next exit backs off instead of failing at once. */
        assert_int_equal(supervisor_start(f->sup, "looper"), 0);
        assert_int_equal(status_of(f, "looper").state, SERVICE_RUNNING);
        assert_string_equal(status_of(f, "looper").failure, "");
        assert_true(wait_state(f, "looper", SERVICE_BACKOFF, 2000));
        assert_int_equal(supervisor_stop(f->sup, "looper"), 0);
        assert_int_equal(status_of(f, "looper").state, SERVICE_STOPPED);
        run_for(f, 50);
        assert_int_equal(status_of(f, "looper").state, SERVICE_STOPPED);
}

static void test_exec_failure_fails_at_once(void **state) {
        Fixture *f = *state;
        char *missing[] = { "/nonexistent/pic-no-such-binary", "--flag", NULL };
        char *not_exec[] = { "/etc/passwd", NULL };
        assert_int_equal(supervisor_add(f->sup, &(ServiceSpec) { .name = "missing", .argv = missing }), 0);
        assert_int_equal(supervisor_add(f->sup, &(ServiceSpec) { .name = "noexec", .argv = not_exec }), 0);

        /* No loop iteration needed: the verdict comes from the child's status pipe. */
        assert_int_equal(supervisor_start(f->sup, "missing"), -ENOENT);
        ServiceStatus st = status_of(f, "missing");
        assert_int_equal(st.state, SERVICE_FAILED);
        assert_int_equal(st.pid, 0);
        assert_string_equal(st.failure, "exec /nonexistent/pic-no-such-binary: No such file or directory");

        assert_int_equal(supervisor_start(f->sup, "noexec"), -EACCES);
        assert_string_equal(status_of(f, "noexec").failure, "exec /etc/passwd: Permission denied");

        run_for(f, 300);
        st = status_of(f, "missing");
        assert_int_equal(st.state, SERVICE_FAILED);
        assert_int_equal(st.restarts, 0);
        assert_int_equal(f->n_tr, 2); /* one FAILED each, no crash loop behind it */
        assert_int_equal(f->tr[0].state, SERVICE_FAILED);
        assert_int_equal(f->tr[1].state, SERVICE_FAILED);
}

static void test_stop_normal(void **state) {
        Fixture *f = *state;
        char *argv[] = { testchild(), "--print", "ready", "--sleep-forever", NULL };
        assert_int_equal(supervisor_add(f->sup, &(ServiceSpec) { .name = "calm", .argv = argv }), 0);
        assert_int_equal(supervisor_start(f->sup, "calm"), 0);
        pid_t pid = status_of(f, "calm").pid;
        assert_true(wait_logs(f, "calm", "ready", 2000));

        assert_int_equal(supervisor_stop(f->sup, "calm"), 0);
        assert_int_equal(status_of(f, "calm").state, SERVICE_STOPPING);
        assert_true(wait_state(f, "calm", SERVICE_STOPPED, 2000));
        assert_reaped(pid);
        ServiceStatus st = status_of(f, "calm");
        assert_int_equal(st.pid, 0);
        assert_int_equal(st.last_exit_signal, SIGTERM);
        assert_int_equal(st.last_exit_code, -1);
        assert_int_equal(st.restarts, 0);

        assert_int_equal(f->n_tr, 3);
        assert_int_equal(f->tr[0].state, SERVICE_RUNNING);
        assert_int_equal(f->tr[1].state, SERVICE_STOPPING);
        assert_int_equal(f->tr[2].state, SERVICE_STOPPED);

        /* A requested stop is not a crash: nothing restarts it. */
        run_for(f, 300);
        assert_int_equal(status_of(f, "calm").state, SERVICE_STOPPED);
        assert_int_equal(supervisor_stop(f->sup, "calm"), 0);
}

static void test_stop_slow_is_killed(void **state) {
        Fixture *f = *state;
        char *argv[] = { testchild(), "--ignore-term", "--print", "ready", "--sleep-forever", NULL };
        ServiceSpec spec = { .name = "stubborn", .argv = argv, .stop_timeout_usec = 300 * USEC_PER_MSEC };
        assert_int_equal(supervisor_add(f->sup, &spec), 0);
        assert_int_equal(supervisor_start(f->sup, "stubborn"), 0);
        pid_t pid = status_of(f, "stubborn").pid;
        assert_true(wait_logs(f, "stubborn", "ready", 2000)); /* SIGTERM is ignored from here on */

        uint64_t t0 = now_usec();
        assert_int_equal(supervisor_stop(f->sup, "stubborn"), 0);
        run_for(f, 150);
        assert_int_equal(status_of(f, "stubborn").state, SERVICE_STOPPING);
        assert_int_equal(kill(pid, 0), 0);

        assert_true(wait_state(f, "stubborn", SERVICE_STOPPED, 3000));
        uint64_t took = now_usec() - t0;
        assert_true(took >= 300 * USEC_PER_MSEC);
        assert_true(took < 2 * USEC_PER_SEC);
        assert_int_equal(status_of(f, "stubborn").last_exit_signal, SIGKILL);
        assert_reaped(pid);
}

static bool running_with_new_pid(Fixture *f, const void *arg) {
        ServiceStatus st = status_of(f, "svc");
        return st.state == SERVICE_RUNNING && st.pid != *(const pid_t *) arg;
}

static void test_restart_counts(void **state) {
        Fixture *f = *state;
        char *argv[] = { testchild(), "--sleep-forever", NULL };
        assert_int_equal(supervisor_add(f->sup, &(ServiceSpec) { .name = "svc", .argv = argv }), 0);
        assert_int_equal(supervisor_start(f->sup, "svc"), 0);

        for (unsigned i = 1; i <= 2; i++) {
                pid_t old = status_of(f, "svc").pid;
                assert_int_equal(supervisor_restart(f->sup, "svc"), 0);
                assert_int_equal(status_of(f, "svc").state, SERVICE_STOPPING);
                assert_true(run_until(f, running_with_new_pid, &old, 2000));
                assert_reaped(old);
                assert_int_equal(status_of(f, "svc").restarts, i);
        }
        /* The callback saw STOPPING → RUNNING for each restart. */
        assert_int_equal(f->n_tr, 5);
        assert_int_equal(f->tr[3].state, SERVICE_STOPPING);
        assert_int_equal(f->tr[4].state, SERVICE_RUNNING);

        /* Restarting a stopped service starts it, and counts. */
        assert_int_equal(supervisor_stop(f->sup, "svc"), 0);
        assert_true(wait_state(f, "svc", SERVICE_STOPPED, 2000));
        assert_int_equal(supervisor_restart(f->sup, "svc"), 0);
        assert_int_equal(status_of(f, "svc").state, SERVICE_RUNNING);
        assert_int_equal(status_of(f, "svc").restarts, 3);

        /* start while stopping: runs again once reaped, not counted as a restart. */
        pid_t old = status_of(f, "svc").pid;
        assert_int_equal(supervisor_stop(f->sup, "svc"), 0);
        assert_int_equal(supervisor_start(f->sup, "svc"), 0);
        assert_true(run_until(f, running_with_new_pid, &old, 2000));
        assert_int_equal(status_of(f, "svc").restarts, 3);
}

static void test_free_stops_all(void **state) {
        Fixture *f = *state;
        char *calm[] = { testchild(), "--print", "ready", "--sleep-forever", NULL };
        char *stubborn[] = { testchild(), "--ignore-term", "--print", "ready", "--sleep-forever", NULL };
        char *crasher[] = { testchild(), "--exit-code", "2", NULL };
        assert_int_equal(supervisor_add(f->sup, &(ServiceSpec) { .name = "a", .argv = calm }), 0);
        assert_int_equal(supervisor_add(f->sup, &(ServiceSpec) { .name = "b", .argv = calm }), 0);
        assert_int_equal(supervisor_add(f->sup, &(ServiceSpec) { .name = "c", .argv = stubborn,
                                                                  .stop_timeout_usec = 200 * USEC_PER_MSEC }), 0);
        /* In BACKOFF with a long delay when freed: its timer must go too (ASan would see the leak). */
        assert_int_equal(supervisor_add(f->sup, &(ServiceSpec) { .name = "d", .argv = crasher,
                                                                  .restart_delay_usec = 10 * USEC_PER_SEC }), 0);
        const char *names[] = { "a", "b", "c", "d" };
        pid_t pids[3];
        for (size_t i = 0; i < 4; i++)
                assert_int_equal(supervisor_start(f->sup, names[i]), 0);
        for (size_t i = 0; i < 3; i++) {
                pids[i] = status_of(f, names[i]).pid;
                assert_true(wait_logs(f, names[i], "ready", 2000));
        }
        assert_true(wait_state(f, "d", SERVICE_BACKOFF, 2000));

        const char *const *list = NULL;
        assert_int_equal(supervisor_list(f->sup, &list), 4);
        for (size_t i = 0; i < 4; i++)
                assert_string_equal(list[i], names[i]);

        size_t transitions = f->n_tr;
        uint64_t t0 = now_usec();
        f->sup = supervisor_free(f->sup);
        assert_null(f->sup);
        assert_true(now_usec() - t0 < 3 * USEC_PER_SEC);
        for (size_t i = 0; i < 3; i++)
                assert_reaped(pids[i]);
        /* No callbacks into an owner that is tearing down. */
        assert_int_equal(f->n_tr, transitions);
}

static void test_stop_all_then_usable(void **state) {
        Fixture *f = *state;
        char *argv[] = { testchild(), "--sleep-forever", NULL };
        assert_int_equal(supervisor_add(f->sup, &(ServiceSpec) { .name = "one", .argv = argv }), 0);
        assert_int_equal(supervisor_add(f->sup, &(ServiceSpec) { .name = "two", .argv = argv }), 0);
        assert_int_equal(supervisor_start(f->sup, "one"), 0);
        assert_int_equal(supervisor_start(f->sup, "two"), 0);
        pid_t p1 = status_of(f, "one").pid, p2 = status_of(f, "two").pid;
        supervisor_stop_all(f->sup);
        assert_int_equal(status_of(f, "one").state, SERVICE_STOPPED);
        assert_int_equal(status_of(f, "two").state, SERVICE_STOPPED);
        assert_reaped(p1);
        assert_reaped(p2);
        assert_int_equal(supervisor_start(f->sup, "one"), 0);
        assert_int_equal(status_of(f, "one").state, SERVICE_RUNNING);
}

static void mark_fired(Loop *l, void *userdata) {
        *(bool *) userdata = true;
}

/* The restore stops every daemon from inside an API request: a nested loop would dispatch that request again.
 * The blocking stop reaps (and kills what ignores SIGTERM) without running the loop. */
static void test_stop_all_blocking_runs_no_loop(void **state) {
        Fixture *f = *state;
        char *calm[] = { testchild(), "--print", "ready", "--sleep-forever", NULL };
        char *stubborn[] = { testchild(), "--ignore-term", "--print", "ready", "--sleep-forever", NULL };
        assert_int_equal(supervisor_add(f->sup, &(ServiceSpec) { .name = "calm", .argv = calm }), 0);
        assert_int_equal(supervisor_add(f->sup, &(ServiceSpec) { .name = "stubborn", .argv = stubborn,
                                                                  .stop_timeout_usec = 200 * USEC_PER_MSEC }), 0);
        assert_int_equal(supervisor_start(f->sup, "calm"), 0);
        assert_int_equal(supervisor_start(f->sup, "stubborn"), 0);
        pid_t p1 = status_of(f, "calm").pid, p2 = status_of(f, "stubborn").pid;
        assert_true(wait_logs(f, "calm", "ready", 2000));
        assert_true(wait_logs(f, "stubborn", "ready", 2000));

        bool fired = false;
        LoopTimer *t = NULL;
        assert_int_equal(loop_add_timer(f->loop, 0, mark_fired, &fired, &t), 0);
        uint64_t t0 = now_usec();
        supervisor_stop_all_blocking(f->sup);
        uint64_t took = now_usec() - t0;
        assert_false(fired);
        assert_int_equal(status_of(f, "calm").state, SERVICE_STOPPED);
        assert_int_equal(status_of(f, "stubborn").state, SERVICE_STOPPED);
        assert_int_equal(status_of(f, "stubborn").last_exit_signal, SIGKILL);
        assert_true(took >= 200 * USEC_PER_MSEC && took < 3 * USEC_PER_SEC);
        assert_reaped(p1);
        assert_reaped(p2);
        loop_cancel_timer(f->loop, t);
        assert_int_equal(supervisor_start(f->sup, "calm"), 0);
        assert_int_equal(status_of(f, "calm").state, SERVICE_RUNNING);
}

static void test_remove_running(void **state) {
        Fixture *f = *state;
        char *argv[] = { testchild(), "--sleep-forever", NULL };
        assert_int_equal(supervisor_add(f->sup, &(ServiceSpec) { .name = "gone", .argv = argv }), 0);
        assert_int_equal(supervisor_add(f->sup, &(ServiceSpec) { .name = "kept", .argv = argv }), 0);
        assert_int_equal(supervisor_start(f->sup, "gone"), 0);
        pid_t pid = status_of(f, "gone").pid;
        size_t transitions = f->n_tr;

        assert_int_equal(supervisor_remove(f->sup, "gone"), 0);
        ServiceStatus st;
        assert_int_equal(supervisor_status(f->sup, "gone", &st), -ENOENT);
        assert_int_equal(supervisor_remove(f->sup, "gone"), -ENOENT);
        const char *const *list = NULL;
        assert_int_equal(supervisor_list(f->sup, &list), 1);
        assert_string_equal(list[0], "kept");
        /* The name is free again at once, while the old process is still being stopped. */
        assert_int_equal(supervisor_add(f->sup, &(ServiceSpec) { .name = "gone", .argv = argv }), 0);

        assert_true(run_until(f, pid_gone, &pid, 2000));
        assert_int_equal(f->n_tr, transitions);
        assert_int_equal(status_of(f, "gone").state, SERVICE_STOPPED);
}

static void test_add_validation(void **state) {
        Fixture *f = *state;
        char *argv[] = { testchild(), NULL };
        char *relative[] = { "pic-testchild", NULL };
        char *empty[] = { NULL };
        char *bad_env[] = { "NOEQUALS", NULL };
        assert_int_equal(supervisor_add(f->sup, &(ServiceSpec) { .name = "ok", .argv = argv }), 0);
        assert_int_equal(supervisor_add(f->sup, &(ServiceSpec) { .name = "ok", .argv = argv }), -EEXIST);
        assert_int_equal(supervisor_add(f->sup, &(ServiceSpec) { .name = "Bad_Name", .argv = argv }), -EINVAL);
        assert_int_equal(supervisor_add(f->sup, &(ServiceSpec) { .name = "rel", .argv = relative }), -EINVAL);
        assert_int_equal(supervisor_add(f->sup, &(ServiceSpec) { .name = "empty", .argv = empty }), -EINVAL);
        assert_int_equal(supervisor_add(f->sup, &(ServiceSpec) { .name = "env", .argv = argv, .env = bad_env }),
                         -EINVAL);
        assert_int_equal(supervisor_start(f->sup, "nope"), -ENOENT);
        assert_int_equal(supervisor_stop(f->sup, "nope"), -ENOENT);
        assert_int_equal(supervisor_restart(f->sup, "nope"), -ENOENT);
        assert_int_equal(supervisor_list(f->sup, NULL), 1);
        assert_string_equal(service_state_to_string(SERVICE_BACKOFF), "backoff");
        assert_null(service_state_to_string(_SERVICE_STATE_MAX));
        /* One supervisor per loop: a second SIGCHLD handler is refused. */
        Supervisor *other = NULL;
        assert_int_equal(supervisor_new(f->loop, -1, &other), -EEXIST);
        assert_null(other);
}

static void test_log_ring_keeps_last_whole_lines(void **state) {
        Fixture *f = *state;
        char long_line[5001];
        memset(long_line, 'x', 5000);
        long_line[5000] = '\0';
        char *argv[] = { testchild(), "--lines", "10000", "--print", long_line, "--print", "done",
                         "--sleep-forever", NULL };
        assert_int_equal(supervisor_add(f->sup, &(ServiceSpec) { .name = "chatty", .argv = argv }), 0);
        LogLevel saved = log_get_level();
        log_set_level(LOG_LEVEL_WARN); /* 10,000 lines on stderr help nobody */
        assert_int_equal(supervisor_start(f->sup, "chatty"), 0);
        bool done = wait_logs(f, "chatty", "\ndone", 5000);
        log_set_level(saved);
        assert_true(done);

        /* A 5000-byte line arrives cut at 4096 bytes. */
        char *text = logs_of(f, "chatty", 4);
        assert_true(startswith(text, "line 10000\nxxxx"));
        assert_int_equal(strlen(text), strlen("line 10000\n") + 4096 + 1 + 904 + strlen("\ndone"));
        free(text);

        /* Everything kept is a sequence of whole lines ending at the last one, within 64 KiB. */
        text = logs_of(f, "chatty", 10000);
        assert_true(strlen(text) < 64 * 1024);
        assert_true(strlen(text) > 48 * 1024);
        assert_true(startswith(text, "line "));
        long first = strtol(text + 5, NULL, 10);
        assert_true(first > 1000 && first < 10000);
        char *p = text;
        for (long n = first; n <= 10000; n++) {
                char want[32];
                int len = snprintf(want, sizeof want, "line %ld\n", n);
                assert_memory_equal(p, want, (size_t) len);
                p += len;
        }
        free(text);
}

static void assert_readlink_netns(Fixture *f, const char *name, int ns_fd) {
        struct stat stt;
        assert_int_equal(fstat(ns_fd, &stt), 0);
        char want[64];
        snprintf(want, sizeof want, "net:[%lu]", (unsigned long) stt.st_ino);
        char *text = logs_of(f, name, 1);
        assert_string_equal(text, want);
        free(text);
}

static void test_netns(void **state) {
        Fixture *f = *state;
        char *argv[] = { "/usr/bin/readlink", "/proc/self/ns/net", NULL };
        /* They print once and exit; a long delay keeps them in BACKOFF instead of restarting. */
        uint64_t delay = 10 * USEC_PER_SEC;
        assert_int_equal(supervisor_add(f->sup, &(ServiceSpec) { .name = "inside", .argv = argv, .in_netns = true,
                                                                  .restart_delay_usec = delay }),
                         0);
        assert_int_equal(supervisor_add(f->sup, &(ServiceSpec) { .name = "outside", .argv = argv,
                                                                  .restart_delay_usec = delay }),
                         0);
        assert_int_equal(supervisor_start(f->sup, "inside"), 0);
        assert_int_equal(supervisor_start(f->sup, "outside"), 0);
        assert_true(wait_state(f, "inside", SERVICE_BACKOFF, 2000));
        assert_true(wait_state(f, "outside", SERVICE_BACKOFF, 2000));
        assert_int_equal(status_of(f, "inside").last_exit_code, 0);

        assert_readlink_netns(f, "inside", f->netns_fd);
        assert_readlink_netns(f, "outside", f->host_netns_fd);
        struct stat a, b;
        assert_int_equal(fstat(f->netns_fd, &a), 0);
        assert_int_equal(fstat(f->host_netns_fd, &b), 0);
        assert_true(a.st_ino != b.st_ino);
}

static void test_setns_failure_reported(void **state) {
        /* Not a netns fd: the child's setns fails and says so, instead of running in the wrong namespace. */
        int not_ns = open("/dev/null", O_RDONLY | O_CLOEXEC);
        assert_true(not_ns >= 0);
        Loop *loop = NULL;
        Supervisor *sup = NULL;
        assert_int_equal(loop_new(&loop), 0);
        assert_int_equal(supervisor_new(loop, not_ns, &sup), 0);
        close(not_ns);
        char *argv[] = { testchild(), NULL };
        assert_int_equal(supervisor_add(sup, &(ServiceSpec) { .name = "ns", .argv = argv, .in_netns = true }), 0);
        assert_int_equal(supervisor_start(sup, "ns"), -EINVAL);
        ServiceStatus st;
        assert_int_equal(supervisor_status(sup, "ns", &st), 0);
        assert_int_equal(st.state, SERVICE_FAILED);
        assert_string_equal(st.failure, "setns: Invalid argument");
        supervisor_free(sup);
        loop_free(loop);
}


/* ---- leftovers ------------------------------------------------------------------------------------------- */

/* Alive in the sense that matters: not gone, not a zombie waiting for init (which reaps slowly here). */
/* How many processes hold entry in their environment. In the sanitizer build a process's exit-time leak check
 * runs in a helper task that shares its memory, environment included, for a moment: b's daemonizing parents
 * leave such helpers behind them briefly, which a sweep would rightly stop too. */
static size_t count_with_env(const char *entry) {
        size_t n = 0;
        DIR *d = opendir("/proc");
        assert_non_null(d);
        for (struct dirent *de; (de = readdir(d));) {
                char path[300], buf[8192];
                if (atoi(de->d_name) <= 0)
                        continue;
                snprintf(path, sizeof path, "/proc/%s/environ", de->d_name);
                int fd = open(path, O_RDONLY | O_CLOEXEC);
                if (fd < 0)
                        continue;
                ssize_t len = read(fd, buf, sizeof buf - 1);
                close(fd);
                for (ssize_t i = 0; len > 0 && i < len; i += (ssize_t) strlen(buf + i) + 1) {
                        buf[len] = '\0';
                        if (strcmp(buf + i, entry) == 0) {
                                n++;
                                break;
                        }
                }
        }
        closedir(d);
        return n;
}

static bool proc_alive(pid_t pid) {
        char path[64], buf[512];
        snprintf(path, sizeof path, "/proc/%d/stat", (int) pid);
        FILE *f = fopen(path, "re");
        if (!f)
                return false;
        size_t n = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
        buf[n] = '\0';
        const char *p = strrchr(buf, ')');
        return p && p[1] == ' ' && p[2] != 'Z' && p[2] != 'X';
}

static bool proc_dead(Fixture *f, const void *arg) {
        return !proc_alive(*(const pid_t *) arg);
}


static void test_exit_takes_its_process_group(void **state) {
        Fixture *f = *state;
        char file[] = "/tmp/pic-test-sleeper-XXXXXX";
        int fd = mkstemp(file);
        assert_true(fd >= 0);
        close(fd);
        /* The daemon leaves a helper behind in its group and exits: the helper must not outlive it. */
        char *argv[] = { testchild(), "--fork-sleeper", file, "--exit-after-ms", "100", NULL };
        assert_int_equal(supervisor_add(f->sup, &(ServiceSpec) { .name = "leaver", .argv = argv,
                                                                  .restart_delay_usec = 10 * USEC_PER_SEC }), 0);
        assert_int_equal(supervisor_start(f->sup, "leaver"), 0);
        pid_t helper = read_pid_file(file, 2000);
        unlink(file);
        assert_true(helper > 0);
        assert_true(wait_state(f, "leaver", SERVICE_BACKOFF, 2000));
        assert_true(run_until(f, proc_dead, &helper, 2000));
}

/* What a kill -9 of picd leaves: a forked "picd" with its own supervisor starts daemons that dropped the
 * parent-death signal (one of them double-forked away from its session) and dies by SIGKILL. */
static void old_picd(const char *dir, const char *pidfile_a, const char *pidfile_b, int guard_keep_fd) {
        Loop *loop = NULL;
        Supervisor *sup = NULL;
        char *a[] = { testchild(), "--no-pdeathsig", "--write-pid", (char *) pidfile_a, "--sleep-forever", NULL };
        char *b[] = { testchild(), "--no-pdeathsig", "--daemonize", (char *) pidfile_b, "--sleep-forever", NULL };
        if (loop_new(&loop) < 0 || supervisor_new(loop, -1, &sup) < 0 || supervisor_set_pid_dir(sup, dir) < 0 ||
            supervisor_add(sup, &(ServiceSpec) { .name = "a", .argv = a }) < 0 ||
            supervisor_add(sup, &(ServiceSpec) { .name = "b", .argv = b }) < 0 ||
            (guard_keep_fd >= 0 && supervisor_guard(sup, guard_keep_fd) < 0) ||
            supervisor_start(sup, "a") < 0 || supervisor_start(sup, "b") < 0)
                _exit(1);
        if (read_pid_file(pidfile_a, 2000) <= 0 || read_pid_file(pidfile_b, 2000) <= 0)
                _exit(2);
        raise(SIGKILL);
        _exit(3);
}

static void test_stop_leftovers_without_records(void **state) {
        Fixture *f = *state;
        char dir[] = "/tmp/pic-test-run-XXXXXX";
        assert_non_null(mkdtemp(dir));
        char pa[PATH_MAX], pb[PATH_MAX], pc[PATH_MAX];
        snprintf(pa, sizeof pa, "%s/a.out", dir);
        snprintf(pb, sizeof pb, "%s/b.out", dir);
        snprintf(pc, sizeof pc, "%s/c.out", dir);

        pid_t old = fork();
        assert_true(old >= 0);
        if (old == 0)
                old_picd(dir, pa, pb, -1);
        int status;
        assert_int_equal(waitpid(old, &status, 0), old);
        assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
        pid_t a = read_pid_file(pa, 100), b = read_pid_file(pb, 100);
        assert_true(a > 0 && b > 0);
        assert_true(proc_alive(a));
        assert_true(proc_alive(b));
        assert_int_not_equal(getsid(b), getsid(a)); /* b left a's session: only the marker finds it */

        /* An unrelated process with another cell's marker must be left alone. */
        pid_t other = fork();
        assert_true(other >= 0);
        if (other == 0) {
                char *argv[] = { testchild(), "--write-pid", pc, "--sleep-forever", NULL };
                char *envp[] = { "PIC_SUPERVISOR=/tmp/another-cell/run", NULL };
                setsid();
                execve(argv[0], argv, envp);
                _exit(127);
        }
        assert_true(read_pid_file(pc, 2000) == other);

        /* picd was killed before writing (or lost) its records: only what the daemons carry is left. */
        char path[PATH_MAX];
        snprintf(path, sizeof path, "%s/a.pid", dir);
        assert_int_equal(unlink(path), 0);
        snprintf(path, sizeof path, "%s/b.pid", dir);
        (void) unlink(path);

        /* Only a and b carry the marker once b's daemonizing parents are gone (bounded: 10 s). */
        char marker[PATH_MAX + 32];
        snprintf(marker, sizeof marker, "PIC_SUPERVISOR=%s", dir);
        for (int i = 0; i < 200 && count_with_env(marker) != 2; i++)
                usleep(50 * 1000);
        assert_int_equal(count_with_env(marker), 2);

        assert_int_equal(supervisor_set_pid_dir(f->sup, dir), 0);
        size_t found = 0;
        assert_int_equal(supervisor_stop_leftovers(f->sup, &found), 0);
        assert_int_equal(found, 2);
        assert_false(proc_alive(a));
        assert_false(proc_alive(b));
        assert_true(proc_alive(other));
        kill(other, SIGKILL);
        assert_int_equal(waitpid(other, NULL, 0), other);

        /* Nothing left: a second look finds nothing. A running child makes it refuse (it carries the marker). */
        assert_int_equal(supervisor_stop_leftovers(f->sup, &found), 0);
        assert_int_equal(found, 0);
        char *argv[] = { testchild(), "--sleep-forever", NULL };
        assert_int_equal(supervisor_add(f->sup, &(ServiceSpec) { .name = "now", .argv = argv }), 0);
        assert_int_equal(supervisor_set_pid_dir(f->sup, dir), -EBUSY);
        assert_int_equal(supervisor_start(f->sup, "now"), 0);
        assert_int_equal(supervisor_stop_leftovers(f->sup, &found), -EBUSY);
        supervisor_stop_all(f->sup);
        unlink(pa);
        unlink(pb);
        unlink(pc);
        assert_int_equal(rmdir(dir), 0);
}

static bool fd_at_eof(Fixture *f, const void *arg) {
        char c;
        return read(*(const int *) arg, &c, 1) == 0;
}

static void test_guardian_stops_daemons_of_a_killed_parent(void **state) {
        Fixture *f = *state;
        char dir[] = "/tmp/pic-test-run-XXXXXX";
        assert_non_null(mkdtemp(dir));
        char pa[PATH_MAX], pb[PATH_MAX];
        snprintf(pa, sizeof pa, "%s/a.out", dir);
        snprintf(pb, sizeof pb, "%s/b.out", dir);
        /* Stands for picd's state-dir lock: the guardian holds it until its work is done. */
        int lock[2];
        assert_int_equal(pipe2(lock, O_CLOEXEC | O_NONBLOCK), 0);

        pid_t old = fork();
        assert_true(old >= 0);
        if (old == 0) {
                close(lock[0]);
                old_picd(dir, pa, pb, lock[1]);
        }
        close(lock[1]);
        int status;
        assert_int_equal(waitpid(old, &status, 0), old);
        assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
        pid_t a = read_pid_file(pa, 100), b = read_pid_file(pb, 100);
        assert_true(a > 0 && b > 0);
        /* Nobody calls supervisor_stop_leftovers: they die because their supervisor's process did. */
        assert_true(run_until(f, proc_dead, &a, 5000));
        assert_true(run_until(f, proc_dead, &b, 5000));
        assert_true(run_until(f, fd_at_eof, &lock[0], 5000));
        close(lock[0]);
        char path[PATH_MAX];
        const char *const names[] = { "a.out", "b.out", "a.pid", "b.pid" };
        for (size_t i = 0; i < ELEMENTSOF(names); i++) {
                snprintf(path, sizeof path, "%s/%s", dir, names[i]);
                (void) unlink(path);
        }
        assert_int_equal(rmdir(dir), 0);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_start_captures_output, setup, teardown),
                cmocka_unit_test_setup_teardown(test_child_environment, setup, teardown),
                cmocka_unit_test_setup_teardown(test_runs_as_user, setup, teardown),
                cmocka_unit_test_setup_teardown(test_user_keeps_ambient_cap, setup_netns, teardown),
                cmocka_unit_test_setup_teardown(test_user_group_only, setup, teardown),
                cmocka_unit_test_setup_teardown(test_crash_restarts_with_backoff, setup, teardown),
                cmocka_unit_test_setup_teardown(test_crash_loop_fails, setup, teardown),
                cmocka_unit_test_setup_teardown(test_exec_failure_fails_at_once, setup, teardown),
                cmocka_unit_test_setup_teardown(test_stop_normal, setup, teardown),
                cmocka_unit_test_setup_teardown(test_stop_slow_is_killed, setup, teardown),
                cmocka_unit_test_setup_teardown(test_restart_counts, setup, teardown),
                cmocka_unit_test_setup_teardown(test_free_stops_all, setup, teardown),
                cmocka_unit_test_setup_teardown(test_stop_all_then_usable, setup, teardown),
                cmocka_unit_test_setup_teardown(test_stop_all_blocking_runs_no_loop, setup, teardown),
                cmocka_unit_test_setup_teardown(test_remove_running, setup, teardown),
                cmocka_unit_test_setup_teardown(test_add_validation, setup, teardown),
                cmocka_unit_test_setup_teardown(test_log_ring_keeps_last_whole_lines, setup, teardown),
                cmocka_unit_test_setup_teardown(test_netns, setup_netns, teardown),
                cmocka_unit_test(test_setns_failure_reported),
                cmocka_unit_test_setup_teardown(test_exit_takes_its_process_group, setup, teardown),
                cmocka_unit_test_setup_teardown(test_stop_leftovers_without_records, setup, teardown),
                cmocka_unit_test_setup_teardown(test_guardian_stops_daemons_of_a_killed_parent, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
