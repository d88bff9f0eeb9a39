/* Supervisor: owns the managed daemons' processes (fork+execve, reaping via SIGCHLD), their output pipes and
 * log rings, and the state machine STOPPED → RUNNING → BACKOFF/STOPPING/FAILED with its timers. */
#include "core/supervisor.h"

#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <linux/capability.h>
#include <pwd.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "basic/fileio.h"
#include "basic/log.h"
#include "basic/parse.h"
#include "basic/procscan.h"
#include "basic/time-util.h"
#include "basic/util.h"

#define DEFAULT_STOP_TIMEOUT_USEC (5 * USEC_PER_SEC)
#define DEFAULT_RESTART_DELAY_USEC (200 * USEC_PER_MSEC)
#define DEFAULT_CRASH_LOOP_MAX 5U
#define DEFAULT_CRASH_LOOP_WINDOW_USEC (60 * USEC_PER_SEC)
#define MAX_BACKOFF_USEC (30 * USEC_PER_SEC)
/* A process that lived this long was healthy: its exit starts the backoff over. */
#define HEALTHY_RUN_USEC (10 * USEC_PER_SEC)
/* The crash history is an array of this many timestamps at most. */
#define CRASH_LOOP_MAX_LIMIT 100U
/* After SIGKILL a process still needs a moment (exit of a big process, D state): how long stop_all waits. */
#define KILL_GRACE_USEC (2 * USEC_PER_SEC)

#define LOG_RING_SIZE (64 * 1024)
/* Longer lines are cut into pieces so one runaway line cannot hold the whole buffer. */
#define OUTPUT_LINE_MAX 4096
#define LOGS_MAX_LINES 10000U

#define DEFAULT_PATH "PATH=/usr/sbin:/usr/bin:/sbin:/bin"
/* The environment entry every child of a supervisor with a pid dir carries: "PIC_SUPERVISOR=<pid dir>". */
#define MARKER_KEY "PIC_SUPERVISOR="
/* A leftover gets this long after SIGTERM, then this long after SIGKILL (a big process exits slowly). */
#define LEFTOVER_TERM_USEC (3 * USEC_PER_SEC)
#define LEFTOVER_KILL_USEC (2 * USEC_PER_SEC)
#define LEFTOVER_RECORDS_MAX 64

/* What a started-then-stopping service does once its process is reaped. */
typedef enum Pending {
        PENDING_NONE,
        PENDING_START,   /* supervisor_start while stopping */
        PENDING_RESTART, /* supervisor_restart: start and count it */
} Pending;

/* The steps between fork and execve that can fail; the child reports which one through the status pipe. */
typedef enum ChildStep {
        CHILD_STEP_SIGMASK,
        CHILD_STEP_PDEATHSIG,
        CHILD_STEP_SETSID,
        CHILD_STEP_STDIO,
        CHILD_STEP_SETNS,
        CHILD_STEP_CREDS,
        CHILD_STEP_CAPS,
        CHILD_STEP_NO_NEW_PRIVS,
        CHILD_STEP_CLOSE_FDS,
        CHILD_STEP_EXEC,
        _CHILD_STEP_MAX,
} ChildStep;

static const char *const child_step_names[_CHILD_STEP_MAX] = {
        [CHILD_STEP_SIGMASK] = "sigprocmask",   [CHILD_STEP_PDEATHSIG] = "prctl(PR_SET_PDEATHSIG)",
        [CHILD_STEP_SETSID] = "setsid",         [CHILD_STEP_STDIO] = "dup2",
        [CHILD_STEP_SETNS] = "setns",           [CHILD_STEP_CREDS] = "setgroups/setgid/setuid",
        [CHILD_STEP_CAPS] = "capset/prctl(PR_CAP_AMBIENT_RAISE)",
        [CHILD_STEP_NO_NEW_PRIVS] = "prctl(PR_SET_NO_NEW_PRIVS)", [CHILD_STEP_CLOSE_FDS] = "close_range",
        [CHILD_STEP_EXEC] = "exec",
};

typedef struct ChildError {
        int step;
        int error;
} ChildError;

/* Captured output: a byte ring of whole '\n'-terminated lines; the oldest lines go first when full. */
typedef struct LogRing {
        char *buf; /* LOG_RING_SIZE bytes, allocated at the first line */
        size_t start, len;
} LogRing;

typedef struct Service Service;
struct Service {
        Supervisor *sup;
        char *name;
        char **argv;
        char **envp; /* the complete environment, built once at add so the child need not allocate */
        bool in_netns;
        /* The unprivileged identity the child takes before exec (spec.user, resolved at add), or none. */
        bool drop;
        uid_t uid;
        gid_t gid;
        gid_t *groups;
        size_t n_groups;
        uint64_t ambient_caps; /* kept across the change of user (spec.ambient_caps) */
        uint64_t stop_timeout_usec, restart_delay_usec, crash_loop_window_usec;
        unsigned crash_loop_max;

        ServiceState state;
        Pending pending;
        bool removed; /* forgotten by supervisor_remove, waiting to be reaped */
        pid_t pid;
        uint64_t started_usec; /* monotonic, for the healthy-run rule */
        int64_t started_at;
        unsigned restarts;
        int last_exit_code, last_exit_signal;
        int64_t last_exit_at;
        char failure[256];

        uint64_t backoff_usec;  /* the delay the next unexpected exit waits */
        uint64_t *crash_times;  /* ring of the last crash_loop_max unexpected exits (monotonic) */
        unsigned n_crashes, crash_next;
        LoopTimer *restart_timer, *kill_timer;

        int out_fd; /* read end of the child's stdout+stderr, -1 when closed */
        pid_t out_pid;
        char partial[OUTPUT_LINE_MAX + 1];
        size_t partial_len;
        LogRing ring;

        Service *next_removed;
};

struct Supervisor {
        Loop *loop;
        int netns_fd, devnull_fd;
        supervisor_state_fn state_fn;
        void *state_userdata;
        Service **services; /* registration order */
        const char **names; /* parallel to services, for supervisor_list */
        size_t n_services, cap_services;
        Service *removed; /* removed while still running; freed when reaped */
        bool stopping_all;
        char *pid_dir; /* where <name>.pid records live, or NULL */
        char *marker;  /* MARKER_KEY + pid_dir, or NULL */
        pid_t guardian_pid; /* 0 when none */
        int guardian_fd;    /* write end of the guardian's pipe, -1 when none */
};

static const char *const service_state_names[_SERVICE_STATE_MAX] = {
        [SERVICE_STOPPED] = "stopped", [SERVICE_RUNNING] = "running", [SERVICE_BACKOFF] = "backoff",
        [SERVICE_STOPPING] = "stopping", [SERVICE_FAILED] = "failed",
};

const char *service_state_to_string(ServiceState s) {
        if (s < 0 || s >= _SERVICE_STATE_MAX)
                return NULL;
        return service_state_names[s];
}

static char **strv_free(char **v) {
        if (v)
                for (char **p = v; *p; p++)
                        free(*p);
        return mfree(v);
}

static void strv_freep(char ***v) {
        strv_free(*v);
}

/* ---- output capture ---------------------------------------------------------------------------------- */

static char ring_at(const LogRing *r, size_t i) {
        return r->buf[(r->start + i) % LOG_RING_SIZE];
}

static void ring_append(LogRing *r, const char *line, size_t len) {
        if (!r->buf) {
                r->buf = malloc(LOG_RING_SIZE);
                if (!r->buf)
                        return; /* the line was logged already; only the history misses it */
        }
        size_t need = len + 1;
        /* Drop whole lines from the front; the ring always ends with '\n', so each scan terminates. */
        while (r->len + need > LOG_RING_SIZE) {
                size_t i = 0;
                while (ring_at(r, i) != '\n')
                        i++;
                r->start = (r->start + i + 1) % LOG_RING_SIZE;
                r->len -= i + 1;
        }
        for (size_t i = 0; i < need; i++)
                r->buf[(r->start + r->len + i) % LOG_RING_SIZE] = i < len ? line[i] : '\n';
        r->len += need;
}

static void output_line(Service *svc) {
        char *line = svc->partial;
        size_t len = svc->partial_len;
        svc->partial_len = 0;
        if (len > 0 && line[len - 1] == '\r')
                len--;
        /* Daemon output ends up in our log and in API replies: no NUL cutting it short, no terminal escapes. */
        for (size_t i = 0; i < len; i++) {
                unsigned char c = (unsigned char) line[i];
                if ((c < 0x20 && c != '\t') || c == 0x7f)
                        line[i] = '?';
        }
        line[len] = '\0';
        log_info("%s[%d]: %s", svc->name, (int) svc->out_pid, line);
        ring_append(&svc->ring, line, len);
}

static void output_feed(Service *svc, const char *buf, size_t n) {
        for (size_t i = 0; i < n; i++) {
                if (buf[i] == '\n') {
                        output_line(svc);
                        continue;
                }
                svc->partial[svc->partial_len++] = buf[i];
                if (svc->partial_len == OUTPUT_LINE_MAX)
                        output_line(svc);
        }
}

/* Reads at most max_reads chunks. Returns 1 at EOF (or a read error), 0 when the pipe is merely empty. */
static int output_read(Service *svc, unsigned max_reads) {
        char buf[4096];
        for (unsigned i = 0; i < max_reads; i++) {
                ssize_t n = read(svc->out_fd, buf, sizeof buf);
                if (n > 0) {
                        output_feed(svc, buf, (size_t) n);
                        continue;
                }
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0 && errno == EAGAIN)
                        return 0;
                return 1;
        }
        return 0;
}

static void output_close(Service *svc) {
        if (svc->out_fd < 0)
                return;
        if (svc->partial_len > 0)
                output_line(svc);
        (void) loop_del_io(svc->sup->loop, svc->out_fd);
        close(svc->out_fd);
        svc->out_fd = -1;
}

static void on_output(Loop *l, int fd, uint32_t events, void *userdata) {
        Service *svc = userdata;
        /* EOF is decided by read() alone, never by EPOLLHUP: a hang-up still leaves unread lines. Bounded
         * per wakeup so one chatty daemon cannot starve the loop; level-triggered epoll calls us again. */
        if (output_read(svc, 16) > 0)
                output_close(svc);
}

/* ---- state ------------------------------------------------------------------------------------------- */

static void service_set_state(Service *svc, ServiceState state) {
        Supervisor *s = svc->sup;
        if (svc->state == state)
                return;
        svc->state = state;
        if (state != SERVICE_FAILED)
                svc->failure[0] = '\0';
        log_debug("service %s: %s", svc->name, service_state_to_string(state));
        /* Last thing a caller does with svc: the callback may add, remove or restart services. */
        if (s->state_fn && !svc->removed)
                s->state_fn(s, svc->name, state, s->state_userdata);
}

static void crash_history_clear(Service *svc) {
        svc->n_crashes = 0;
        svc->crash_next = 0;
        svc->backoff_usec = svc->restart_delay_usec;
}

/* Records an unexpected exit; true when crash_loop_max of them fell within the window. */
static bool crash_history_add(Service *svc, uint64_t now) {
        svc->crash_times[svc->crash_next] = now;
        svc->crash_next = (svc->crash_next + 1) % svc->crash_loop_max;
        if (svc->n_crashes < svc->crash_loop_max)
                svc->n_crashes++;
        if (svc->n_crashes < svc->crash_loop_max)
                return false;
        /* Full ring: the next slot holds the oldest of the last crash_loop_max exits. */
        return now - svc->crash_times[svc->crash_next] <= svc->crash_loop_window_usec;
}

static void exit_describe(const Service *svc, char *buf, size_t size) {
        if (svc->last_exit_signal > 0)
                snprintf(buf, size, "killed by signal %d (%s)", svc->last_exit_signal,
                         strsignal(svc->last_exit_signal));
        else
                snprintf(buf, size, "exit code %d", svc->last_exit_code);
}

/* ---- spawning ---------------------------------------------------------------------------------------- */

static _Noreturn void child_fail(int status_fd, ChildStep step) {
        ChildError e = { .step = step, .error = errno };
        /* One write below PIPE_BUF is atomic; if even that fails the parent sees EOF and the exit code 127. */
        (void) !write(status_fd, &e, sizeof e);
        _exit(127);
}

/* Runs in the forked child: only system calls, no allocation, no logging (the parent's state is a copy). */
/* Every signal to its default action and none blocked (picd blocks those its signalfd reads). The raw system call:
 * glibc's sigaction() refuses its reserved real-time signals, which an ignoring ancestor (a shell, make) may have
 * passed down — and an ignored disposition survives exec. -1/errno when the mask cannot be set. */
static int signals_reset(void) {
        struct {
                void *handler;
                unsigned long flags;
                void *restorer;
                uint64_t mask;
        } ksa = { .handler = SIG_DFL };
        for (int sig = 1; sig < _NSIG; sig++)
                if (sig != SIGKILL && sig != SIGSTOP)
                        (void) syscall(SYS_rt_sigaction, sig, &ksa, NULL, sizeof ksa.mask);
        sigset_t empty;
        sigemptyset(&empty);
        return sigprocmask(SIG_SETMASK, &empty, NULL);
}

/* Before setuid (still root): shrink the bounding set to caps and keep the permitted set across the change of
 * user. Raw system calls, no libcap: this runs in the forked child. -1/errno on failure. */
static int caps_keep_begin(uint64_t caps) {
        for (unsigned long cap = 0; cap < 64; cap++) {
                if (caps & (UINT64_C(1) << cap))
                        continue;
                if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0) {
                        if (errno == EINVAL)
                                break; /* past the kernel's last capability */
                        return -1;
                }
        }
        return prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0);
}

/* After setuid: permitted, effective and inheritable become exactly caps, then each is raised as ambient —
 * the only way a capability survives the execve of a plain binary by a non-root user. */
static int caps_keep_finish(uint64_t caps) {
        struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };
        struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = { 0 };
        for (unsigned i = 0; i < _LINUX_CAPABILITY_U32S_3; i++) {
                uint32_t word = (uint32_t) (caps >> (32 * i));
                data[i].effective = data[i].permitted = data[i].inheritable = word;
        }
        if (syscall(SYS_capset, &hdr, data) < 0)
                return -1;
        for (unsigned long cap = 0; cap < 64; cap++)
                if ((caps & (UINT64_C(1) << cap)) && prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0) < 0)
                        return -1;
        return prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0);
}

static _Noreturn void child_exec(const Supervisor *s, const Service *svc, int out_fd, int status_fd,
                                 pid_t parent) {
        /* The parent blocks signals for its signalfd and may ignore some; the daemon must start clean. */
        if (signals_reset() < 0)
                child_fail(status_fd, CHILD_STEP_SIGMASK);

        /* Own session and process group: terminal signals to picd do not reach it, and SIGKILL can take
         * the whole group. */
        if (setsid() < 0)
                child_fail(status_fd, CHILD_STEP_SETSID);

        /* All three fds are >= 3 (see fd_above_stdio), so dup2 always makes a new, inheritable fd. */
        if (dup2(s->devnull_fd, STDIN_FILENO) < 0 || dup2(out_fd, STDOUT_FILENO) < 0 ||
            dup2(out_fd, STDERR_FILENO) < 0)
                child_fail(status_fd, CHILD_STEP_STDIO);

        if (svc->in_netns && s->netns_fd >= 0 && setns(s->netns_fd, CLONE_NEWNET) < 0)
                child_fail(status_fd, CHILD_STEP_SETNS);

        /* The daemon's own user, groups first (setuid ends the right to change them). Done here rather than by the
         * daemon: it never runs a line as root, and no setuid program it might exec gives root back. */
        if (svc->drop) {
                /* The output pipe becomes the user's too: a daemon that opens /dev/stderr (lighttpd's errorlog)
                 * reopens it through /proc, which checks the pipe's owner and mode (root's, 0600). */
                if (fchown(STDOUT_FILENO, svc->uid, svc->gid) < 0 || setgroups(svc->n_groups, svc->groups) < 0 ||
                    setgid(svc->gid) < 0)
                        child_fail(status_fd, CHILD_STEP_CREDS);
                /* Kept capabilities: the permitted set survives setuid only with KEEPCAPS; the bounding set goes
                 * first, while we still hold CAP_SETPCAP, so not even a file capability could add another. */
                if (svc->ambient_caps && caps_keep_begin(svc->ambient_caps) < 0)
                        child_fail(status_fd, CHILD_STEP_CAPS);
                if (setuid(svc->uid) < 0)
                        child_fail(status_fd, CHILD_STEP_CREDS);
                if (svc->ambient_caps && caps_keep_finish(svc->ambient_caps) < 0)
                        child_fail(status_fd, CHILD_STEP_CAPS);
                if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
                        child_fail(status_fd, CHILD_STEP_NO_NEW_PRIVS);
        }

        /* A kill -9 of picd must not leave daemons running; if picd died before this line, act now. After the
         * change of user: that clears the parent-death signal, which an exec of a plain binary then keeps. */
        if (prctl(PR_SET_PDEATHSIG, SIGTERM) < 0)
                child_fail(status_fd, CHILD_STEP_PDEATHSIG);
        if (getppid() != parent)
                _exit(0);

        /* Every fd but stdio and the status pipe (CLOEXEC: it closes itself at a successful exec). */
        if ((status_fd > 3 && close_range(3, (unsigned) status_fd - 1, 0) < 0) ||
            close_range((unsigned) status_fd + 1, ~0U, 0) < 0)
                child_fail(status_fd, CHILD_STEP_CLOSE_FDS);

        execve(svc->argv[0], svc->argv, svc->envp);
        child_fail(status_fd, CHILD_STEP_EXEC);
}

/* Moves *fd to a number >= 3 (keeping O_CLOEXEC), so that in the child the dup2 onto 0/1/2 never
 * degenerates into dup2(fd, fd), which would keep the close-on-exec flag. Only matters if picd was
 * started with a closed stdio fd. */
static int fd_above_stdio(int *fd) {
        if (*fd >= 3)
                return 0;
        int n = fcntl(*fd, F_DUPFD_CLOEXEC, 3);
        if (n < 0)
                return negative_errno();
        close(*fd);
        *fd = n;
        return 0;
}

static int pipe_cloexec(int *ret_read, int *ret_write) {
        int p[2];
        if (pipe2(p, O_CLOEXEC) < 0)
                return negative_errno();
        int r = fd_above_stdio(&p[0]);
        if (r >= 0)
                r = fd_above_stdio(&p[1]);
        if (r < 0) {
                close(p[0]);
                close(p[1]);
                return r;
        }
        *ret_read = p[0];
        *ret_write = p[1];
        return 0;
}

static ssize_t read_retry(int fd, void *buf, size_t size) {
        ssize_t n;
        do
                n = read(fd, buf, size);
        while (n < 0 && errno == EINTR);
        return n;
}

static pid_t waitpid_retry(pid_t pid, int *status, int flags) {
        pid_t p;
        do
                p = waitpid(pid, status, flags);
        while (p < 0 && errno == EINTR);
        return p;
}

/* ---- leftovers: a daemon that drops privileges loses PR_SET_PDEATHSIG, so after a kill -9 of picd it keeps
 * running. Every child carries the marker PIC_SUPERVISOR=<pid dir> in its environment (and its own session), and
 * each start records "PID STARTTIME" (clock ticks since boot: proves the pid was not reused). The next supervisor
 * of the same dir stops whatever has the marker, a record, or a session with either — so a daemon is found even
 * when picd died before writing its record. ---- */

static void pid_record_path(const Service *svc, char *buf, size_t size) {
        snprintf(buf, size, "%s/%s.pid", svc->sup->pid_dir, svc->name);
}

static void pid_record_write(const Service *svc) {
        unsigned long long t;
        char path[4096], text[64];
        if (!svc->sup->pid_dir || proc_starttime(svc->pid, &t, NULL) < 0)
                return;
        pid_record_path(svc, path, sizeof path);
        snprintf(text, sizeof text, "%d %llu\n", (int) svc->pid, t);
        int r = write_file_atomic(path, text, strlen(text), 0644, NULL, NULL, NULL);
        if (r < 0)
                log_debug_errno(r, "service %s: cannot record its pid", svc->name);
}

static void pid_record_remove(const Service *svc) {
        char path[4096];
        if (!svc->sup->pid_dir)
                return;
        pid_record_path(svc, path, sizeof path);
        (void) unlink(path);
}

/* Forks and execs svc; on success the process runs and its output is watched. On failure svc->failure
 * says why. The parent waits for the exec verdict (EOF of the CLOEXEC status pipe, or the child's errno):
 * the child only makes a few system calls first, and a missing binary then fails at once instead of
 * crash-looping. */
static int service_spawn(Service *svc) {
        Supervisor *s = svc->sup;
        _cleanup_close_ int out_r = -1, out_w = -1, status_r = -1, status_w = -1;
        int r;

        r = pipe_cloexec(&out_r, &out_w);
        if (r >= 0)
                r = pipe_cloexec(&status_r, &status_w);
        if (r < 0) {
                snprintf(svc->failure, sizeof svc->failure, "pipe: %s", strerror(-r));
                return r;
        }
        /* Only our end: O_NONBLOCK on the child's end would leak into the daemon's stdout. */
        if (fcntl(out_r, F_SETFL, O_NONBLOCK) < 0) {
                r = negative_errno();
                snprintf(svc->failure, sizeof svc->failure, "fcntl: %s", strerror(-r));
                return r;
        }

        pid_t parent = getpid();
        pid_t pid = fork();
        if (pid < 0) {
                r = negative_errno();
                snprintf(svc->failure, sizeof svc->failure, "fork: %s", strerror(-r));
                return r;
        }
        if (pid == 0)
                child_exec(s, svc, out_w, status_w, parent);

        /* Our copies of the child's ends: the status pipe reaches EOF only once the child's copy goes too. */
        closep(&out_w);
        out_w = -1;
        closep(&status_w);
        status_w = -1;

        ChildError ce;
        ssize_t n = read_retry(status_r, &ce, sizeof ce);
        if (n != 0) {
                /* The child reported a failed step (or the pipe broke): it is exiting, so this wait is short. */
                if (n == (ssize_t) sizeof ce && ce.step >= 0 && ce.step < _CHILD_STEP_MAX && ce.error > 0) {
                        r = -ce.error;
                        if (ce.step == CHILD_STEP_EXEC)
                                snprintf(svc->failure, sizeof svc->failure, "exec %s: %s", svc->argv[0],
                                         strerror(ce.error));
                        else
                                snprintf(svc->failure, sizeof svc->failure, "%s: %s",
                                         child_step_names[ce.step], strerror(ce.error));
                } else {
                        r = n < 0 ? negative_errno() : -EIO;
                        (void) kill(pid, SIGKILL);
                        snprintf(svc->failure, sizeof svc->failure, "reading exec status: %s", strerror(-r));
                }
                (void) waitpid_retry(pid, NULL, 0);
                return r;
        }

        r = loop_add_io(s->loop, out_r, EPOLLIN, on_output, svc);
        if (r < 0) {
                /* Running unwatched would fill the pipe and block the daemon: better not run at all. */
                (void) kill(pid, SIGKILL);
                (void) waitpid_retry(pid, NULL, 0);
                snprintf(svc->failure, sizeof svc->failure, "watching output: %s", strerror(-r));
                return r;
        }

        svc->out_fd = TAKE_FD(out_r);
        svc->out_pid = pid;
        svc->partial_len = 0;
        svc->pid = pid;
        svc->started_usec = loop_now(s->loop);
        svc->started_at = wall_sec();
        pid_record_write(svc);
        log_debug("service %s: started as pid %d", svc->name, (int) pid);
        return 0;
}

/* Spawns and moves to RUNNING, or to FAILED with the reason. */
static int service_launch(Service *svc) {
        int r = service_spawn(svc);
        service_set_state(svc, r < 0 ? SERVICE_FAILED : SERVICE_RUNNING);
        return r;
}

static void on_restart_timer(Loop *l, void *userdata) {
        Service *svc = userdata;
        svc->restart_timer = NULL;
        svc->restarts++;
        (void) service_launch(svc);
}

static void on_stop_timeout(Loop *l, void *userdata) {
        Service *svc = userdata;
        svc->kill_timer = NULL;
        if (svc->pid <= 0)
                return;
        log_debug("service %s: pid %d did not stop within its timeout, sending SIGKILL", svc->name,
                  (int) svc->pid);
        /* The whole process group (setsid made it pid's), so stuck helper processes go too; the group
         * cannot be reused while pid is unreaped. */
        (void) kill(-svc->pid, SIGKILL);
        (void) kill(svc->pid, SIGKILL);
}

/* Sends SIGTERM and arms the SIGKILL timer; the caller sets the state. */
static int service_terminate(Service *svc) {
        if (kill(svc->pid, SIGTERM) < 0 && errno != ESRCH)
                return negative_errno();
        if (!svc->kill_timer) {
                int r = loop_add_timer(svc->sup->loop, svc->stop_timeout_usec, on_stop_timeout, svc,
                                       &svc->kill_timer);
                if (r < 0) {
                        /* Without a timer nothing would escalate: do it now. */
                        (void) kill(-svc->pid, SIGKILL);
                        (void) kill(svc->pid, SIGKILL);
                }
        }
        return 0;
}

static void service_free(Service *svc) {
        if (!svc)
                return;
        if (svc->sup) {
                loop_cancel_timer(svc->sup->loop, svc->restart_timer);
                loop_cancel_timer(svc->sup->loop, svc->kill_timer);
                output_close(svc);
        }
        free(svc->ring.buf);
        free(svc->crash_times);
        free(svc->groups);
        strv_free(svc->envp);
        strv_free(svc->argv);
        free(svc->name);
        free(svc);
}

static void service_exited(Service *svc, int status) {
        Supervisor *s = svc->sup;

        /* Everything the process wrote is in the pipe by now: take it before reporting the exit. A helper
         * that inherited the pipe loses it, which is better than a pipe per dead process. */
        if (svc->out_fd >= 0) {
                (void) output_read(svc, 64);
                output_close(svc);
        }
        loop_cancel_timer(s->loop, svc->kill_timer);
        svc->kill_timer = NULL;
        pid_record_remove(svc);
        svc->pid = 0;
        svc->last_exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
        svc->last_exit_signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
        svc->last_exit_at = wall_sec();

        if (svc->removed) {
                for (Service **p = &s->removed; *p; p = &(*p)->next_removed)
                        if (*p == svc) {
                                *p = svc->next_removed;
                                break;
                        }
                service_free(svc);
                return;
        }

        char how[96];
        exit_describe(svc, how, sizeof how);

        if (svc->state == SERVICE_STOPPING) {
                Pending p = svc->pending;
                svc->pending = PENDING_NONE;
                log_debug("service %s: stopped (%s)", svc->name, how);
                if (p == PENDING_NONE) {
                        service_set_state(svc, SERVICE_STOPPED);
                        return;
                }
                if (p == PENDING_RESTART)
                        svc->restarts++;
                (void) service_launch(svc);
                return;
        }

        /* Not asked to stop: a crash, whatever the exit code (a daemon that exits 0 is not running). Timed on the
         * loop's clock, like the restart timers it arms. */
        uint64_t now = loop_now(s->loop);
        if (now - svc->started_usec >= HEALTHY_RUN_USEC)
                svc->backoff_usec = svc->restart_delay_usec;
        if (crash_history_add(svc, now)) {
                snprintf(svc->failure, sizeof svc->failure,
                         "crash loop: exited %u times within %" PRIu64 " s (last: %s); not restarted until started "
                         "again",
                         svc->crash_loop_max, svc->crash_loop_window_usec / USEC_PER_SEC, how);
                service_set_state(svc, SERVICE_FAILED);
                return;
        }

        uint64_t delay = svc->backoff_usec;
        /* A configured first delay above the cap is kept, not shortened by the doubling. */
        uint64_t cap = svc->restart_delay_usec > MAX_BACKOFF_USEC ? svc->restart_delay_usec : MAX_BACKOFF_USEC;
        svc->backoff_usec = delay >= cap / 2 ? cap : delay * 2;
        int r = loop_add_timer(s->loop, delay, on_restart_timer, svc, &svc->restart_timer);
        if (r < 0) {
                snprintf(svc->failure, sizeof svc->failure, "exited (%s), cannot schedule restart: %s", how,
                         strerror(-r));
                service_set_state(svc, SERVICE_FAILED);
                return;
        }
        log_debug("service %s: exited unexpectedly (%s), restarting in %" PRIu64 " ms", svc->name, how,
                  delay / USEC_PER_MSEC);
        service_set_state(svc, SERVICE_BACKOFF);
}

/* True (status set) when pid exited and was reaped. Before reaping, whatever is left in its process group (setsid
 * made it pid's) gets SIGKILL: helpers a daemon started must not outlive it and hold its ports. While the zombie is
 * unreaped the group id cannot be reused, so the signal reaches nothing else. */
static bool child_reap(pid_t pid, int *ret_status) {
        siginfo_t si = { 0 };
        int r;
        do
                r = waitid(P_PID, (id_t) pid, &si, WEXITED | WNOHANG | WNOWAIT);
        while (r < 0 && errno == EINTR);
        if (r < 0 || si.si_pid != pid)
                return false;
        (void) kill(-pid, SIGKILL);
        return waitpid_retry(pid, ret_status, WNOHANG) == pid;
}

/* Reaps our own children only (never waitpid(-1): other parts of picd may run short commands). One
 * SIGCHLD can stand for several exits, so every pid is polled. */
static void reap_children(Supervisor *s) {
        for (;;) {
                Service *exited = NULL;
                int status = 0;
                for (size_t i = 0; i < s->n_services && !exited; i++) {
                        Service *svc = s->services[i];
                        if (svc->pid > 0 && child_reap(svc->pid, &status))
                                exited = svc;
                }
                for (Service *svc = s->removed; svc && !exited; svc = svc->next_removed)
                        if (svc->pid > 0 && child_reap(svc->pid, &status))
                                exited = svc;
                if (!exited)
                        return;
                /* Its callback may change the lists: scan again from the start. */
                service_exited(exited, status);
        }
}

static void on_sigchld(Loop *l, int signo, void *userdata) {
        reap_children(userdata);
}

/* ---- the guardian: a daemon that dropped privileges does not die with picd (its parent-death signal is gone).
 * A small process forked at start waits for picd to die — EOF on a pipe only picd holds — and then stops everything
 * that carries the marker. It keeps picd's state-dir lock meanwhile, so a new picd cannot start daemons it would
 * stop. When picd stops normally it says so with one byte, and the guardian just exits. ---- */

/* Closes every fd >= 3 except a and b (either may be -1). */
static void close_all_but(int a, int b) {
        int lo = a < b ? a : b, hi = a < b ? b : a;
        unsigned from = 3;
        for (int keep_fd = 0; keep_fd < 2; keep_fd++) {
                int k = keep_fd == 0 ? lo : hi;
                if (k < 3)
                        continue;
                if ((unsigned) k > from)
                        (void) close_range(from, (unsigned) k - 1, 0);
                from = (unsigned) k + 1;
        }
        (void) close_range(from, ~0U, 0);
}

static _Noreturn void guardian_main(const char *marker, int pipe_fd, int keep_fd) {
        (void) signals_reset();
        /* Out of picd's session and group: a Ctrl-C or a group kill meant for picd does not take the guardian
         * along — it is the one to clean up after exactly that. */
        (void) setsid();
        /* Nothing of picd's (listeners, the store, the netns) stays open in here; only the pipe and the lock. */
        close_all_but(pipe_fd, keep_fd);
        char c;
        if (read_retry(pipe_fd, &c, 1) == 1)
                _exit(0);
        size_t found = 0;
        if (proc_stop_matching(marker, NULL, NULL, 0, LEFTOVER_TERM_USEC, LEFTOVER_KILL_USEC, &found) >= 0 &&
            found > 0)
                log_info("picd is gone: its guardian stopped %zu process(es) it had started", found);
        _exit(0);
}

int supervisor_guard(Supervisor *s, int keep_fd) {
        if (!s || !s->marker)
                return -EINVAL;
        if (s->guardian_pid > 0)
                return 0;
        int p[2];
        if (pipe2(p, O_CLOEXEC) < 0)
                return negative_errno();
        pid_t pid = fork();
        if (pid < 0) {
                int r = negative_errno();
                close(p[0]);
                close(p[1]);
                return r;
        }
        if (pid == 0) {
                close(p[1]);
                guardian_main(s->marker, p[0], keep_fd);
        }
        close(p[0]);
        s->guardian_pid = pid;
        s->guardian_fd = p[1];
        return 0;
}

/* Normal stop (our children are stopped already): tell the guardian, and wait for it, bounded. */
static void guardian_dismiss(Supervisor *s) {
        if (s->guardian_pid <= 0)
                return;
        (void) !write(s->guardian_fd, "q", 1);
        close(s->guardian_fd);
        s->guardian_fd = -1;
        for (int i = 0; i < 200; i++) {
                if (waitpid_retry(s->guardian_pid, NULL, WNOHANG) != 0) {
                        s->guardian_pid = 0;
                        return;
                }
                usleep(10 * 1000);
        }
        (void) kill(s->guardian_pid, SIGKILL);
        (void) waitpid_retry(s->guardian_pid, NULL, 0);
        s->guardian_pid = 0;
}

/* ---- public API -------------------------------------------------------------------------------------- */

int supervisor_new(Loop *loop, int netns_fd, Supervisor **ret) {
        if (!loop || !ret)
                return -EINVAL;
        Supervisor *s = calloc(1, sizeof *s);
        if (!s)
                return -ENOMEM;
        s->loop = loop;
        s->netns_fd = -1;
        s->devnull_fd = -1;
        s->guardian_fd = -1;
        int r = 0;
        if (netns_fd >= 0) {
                s->netns_fd = fcntl(netns_fd, F_DUPFD_CLOEXEC, 3);
                if (s->netns_fd < 0)
                        r = negative_errno();
        }
        if (r >= 0) {
                s->devnull_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
                if (s->devnull_fd < 0 || fd_above_stdio(&s->devnull_fd) < 0)
                        r = negative_errno();
        }
        if (r >= 0)
                r = loop_add_signal(loop, SIGCHLD, on_sigchld, s);
        if (r < 0) {
                if (s->netns_fd >= 0)
                        close(s->netns_fd);
                if (s->devnull_fd >= 0)
                        close(s->devnull_fd);
                free(s);
                return r;
        }
        *ret = s;
        return 0;
}

Supervisor *supervisor_free(Supervisor *s) {
        if (!s)
                return NULL;
        /* The owner is tearing down: calling into it now would reach half-freed state. */
        s->state_fn = NULL;
        supervisor_stop_all(s);
        guardian_dismiss(s);
        for (size_t i = 0; i < s->n_services; i++)
                service_free(s->services[i]);
        while (s->removed) {
                Service *svc = s->removed;
                s->removed = svc->next_removed;
                service_free(svc);
        }
        free(s->services);
        free(s->names);
        loop_del_signal(s->loop, SIGCHLD);
        free(s->pid_dir);
        free(s->marker);
        if (s->netns_fd >= 0)
                close(s->netns_fd);
        close(s->devnull_fd);
        free(s);
        return NULL;
}

int supervisor_set_pid_dir(Supervisor *s, const char *dir) {
        if (!s || !dir || dir[0] != '/')
                return -EINVAL;
        /* The marker is part of each service's environment, built when it is added. */
        if (s->n_services > 0 || s->removed)
                return -EBUSY;
        char *d = strdup(dir);
        char *m = malloc(strlen(MARKER_KEY) + strlen(dir) + 1);
        if (!d || !m) {
                free(d);
                free(m);
                return -ENOMEM;
        }
        stpcpy(stpcpy(m, MARKER_KEY), dir);
        free(s->pid_dir);
        free(s->marker);
        s->pid_dir = d;
        s->marker = m;
        return 0;
}

static bool any_child(Supervisor *s);

/* Reads every "<name>.pid" record in the pid dir (then removes it). Returns how many were read. */
static size_t pid_records_take(Supervisor *s, pid_t *pids, unsigned long long *starts, size_t max) {
        DIR *d = opendir(s->pid_dir);
        if (!d)
                return 0;
        size_t n = 0;
        for (struct dirent *de; (de = readdir(d));) {
                size_t len = strlen(de->d_name);
                if (len < 5 || !streq(de->d_name + len - 4, ".pid"))
                        continue;
                char text[64] = "";
                _cleanup_close_ int fd = openat(dirfd(d), de->d_name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
                ssize_t k = fd >= 0 ? read_retry(fd, text, sizeof text - 1) : -1;
                int pid = 0;
                unsigned long long t = 0;
                if (k > 0 && sscanf(text, "%d %llu", &pid, &t) == 2 && pid > 1 && n < max) {
                        pids[n] = pid;
                        starts[n] = t;
                        n++;
                }
                (void) unlinkat(dirfd(d), de->d_name, 0);
        }
        closedir(d);
        return n;
}

int supervisor_stop_leftovers(Supervisor *s, size_t *ret_found) {
        if (!s || !s->pid_dir)
                return -EINVAL;
        /* Our own children carry the marker too: this is for before the first start only. */
        if (any_child(s))
                return -EBUSY;
        pid_t pids[LEFTOVER_RECORDS_MAX];
        unsigned long long starts[LEFTOVER_RECORDS_MAX];
        size_t n = pid_records_take(s, pids, starts, LEFTOVER_RECORDS_MAX), found = 0;
        int r = proc_stop_matching(s->marker, pids, starts, n, LEFTOVER_TERM_USEC, LEFTOVER_KILL_USEC, &found);
        if (r < 0)
                return r;
        if (ret_found)
                *ret_found = found;
        return 0;
}

int supervisor_set_state_callback(Supervisor *s, supervisor_state_fn fn, void *userdata) {
        if (!s)
                return -EINVAL;
        s->state_fn = fn;
        s->state_userdata = userdata;
        return 0;
}

static Service *service_find(Supervisor *s, const char *name, size_t *ret_index) {
        if (!name)
                return NULL;
        for (size_t i = 0; i < s->n_services; i++)
                if (streq(s->services[i]->name, name)) {
                        if (ret_index)
                                *ret_index = i;
                        return s->services[i];
                }
        return NULL;
}

/* Copies the NULL-terminated v, after the string first if that is non-NULL. */
static int strv_copy(const char *first, char *const *v, char ***ret) {
        size_t n = 0;
        while (v && v[n])
                n++;
        _cleanup_(strv_freep) char **c = calloc(n + 2, sizeof *c);
        if (!c)
                return -ENOMEM;
        size_t k = 0;
        if (first && !(c[k++] = strdup(first)))
                return -ENOMEM;
        for (size_t i = 0; i < n; i++)
                if (!(c[k++] = strdup(v[i])))
                        return -ENOMEM;
        *ret = TAKE_PTR(c);
        return 0;
}

/* The child gets PATH plus the spec's entries and nothing of picd's own environment (no secrets, no
 * accidental configuration through inherited variables) — and the supervisor's marker, first, where the leftover
 * scan of a later start looks for it. */
static int build_envp(const char *marker, char *const *env, char ***ret) {
        bool has_path = false;
        size_t n = 0;
        for (; env && env[n]; n++) {
                const char *eq = strchr(env[n], '=');
                if (!eq || eq == env[n] || startswith(env[n], MARKER_KEY))
                        return -EINVAL;
                if (startswith(env[n], "PATH="))
                        has_path = true;
        }
        _cleanup_(strv_freep) char **c = calloc(n + 3, sizeof *c);
        if (!c)
                return -ENOMEM;
        size_t k = 0;
        if (marker && !(c[k++] = strdup(marker)))
                return -ENOMEM;
        if (!has_path && !(c[k++] = strdup(DEFAULT_PATH)))
                return -ENOMEM;
        for (size_t i = 0; i < n; i++)
                if (!(c[k++] = strdup(env[i])))
                        return -ENOMEM;
        *ret = TAKE_PTR(c);
        return 0;
}

/* The user's ids and every group /etc/group gives it (only its primary one when group_only), looked up once here:
 * the child may not allocate. */
static int resolve_user(Service *svc, const char *user, bool group_only) {
        errno = 0;
        struct passwd *pw = getpwnam(user);
        if (!pw)
                return errno ? negative_errno() : -ENOENT;
        /* Running as root by accident would be the very thing this is for; refuse it. */
        if (pw->pw_uid == 0 || pw->pw_gid == 0)
                return -EPERM;
        int n = 16;
        if (group_only) {
                svc->groups = malloc(sizeof *svc->groups);
                if (!svc->groups)
                        return -ENOMEM;
                svc->groups[0] = pw->pw_gid;
                n = 1;
        }
        while (!group_only) {
                gid_t *g = realloc(svc->groups, (size_t) n * sizeof *g);
                if (!g)
                        return -ENOMEM;
                svc->groups = g;
                int want = n;
                if (getgrouplist(pw->pw_name, pw->pw_gid, g, &want) >= 0) {
                        n = want;
                        break;
                }
                if (want <= n || want > 65536)
                        return -E2BIG;
                n = want;
        }
        for (int i = 0; i < n; i++)
                if (svc->groups[i] == 0)
                        return -EPERM;
        svc->n_groups = (size_t) n;
        svc->uid = pw->pw_uid;
        svc->gid = pw->pw_gid;
        svc->drop = true;
        return 0;
}

int supervisor_add(Supervisor *s, const ServiceSpec *spec) {
        if (!s || !spec || !name_is_valid(spec->name) || !spec->argv || !spec->argv[0] ||
            spec->argv[0][0] != '/')
                return -EINVAL;
        if (spec->crash_loop_max > CRASH_LOOP_MAX_LIMIT)
                return -EINVAL;
        if (service_find(s, spec->name, NULL))
                return -EEXIST;

        Service *svc = calloc(1, sizeof *svc);
        if (!svc)
                return -ENOMEM;
        svc->out_fd = -1;
        svc->last_exit_code = -1;
        svc->state = SERVICE_STOPPED;
        svc->in_netns = spec->in_netns;
        svc->stop_timeout_usec = spec->stop_timeout_usec ?: DEFAULT_STOP_TIMEOUT_USEC;
        svc->restart_delay_usec = spec->restart_delay_usec ?: DEFAULT_RESTART_DELAY_USEC;
        svc->crash_loop_max = spec->crash_loop_max ?: DEFAULT_CRASH_LOOP_MAX;
        svc->crash_loop_window_usec = spec->crash_loop_window_usec ?: DEFAULT_CRASH_LOOP_WINDOW_USEC;
        svc->backoff_usec = svc->restart_delay_usec;

        int r = -ENOMEM;
        svc->name = strdup(spec->name);
        svc->crash_times = calloc(svc->crash_loop_max, sizeof *svc->crash_times);
        if (!svc->name || !svc->crash_times)
                goto fail;
        r = strv_copy(NULL, spec->argv, &svc->argv);
        if (r < 0)
                goto fail;
        r = build_envp(s->marker, spec->env, &svc->envp);
        if (r < 0)
                goto fail;
        if (spec->user && (r = resolve_user(svc, spec->user, spec->user_group_only)) < 0)
                goto fail;
        /* Root keeps every capability anyway: kept caps only mean something with a change of user. */
        if (spec->ambient_caps && !spec->user) {
                r = -EINVAL;
                goto fail;
        }
        svc->ambient_caps = spec->ambient_caps;

        if (s->n_services == s->cap_services) {
                size_t ncap = s->cap_services ? s->cap_services * 2 : 8;
                Service **ns = realloc(s->services, ncap * sizeof *ns);
                if (!ns) {
                        r = -ENOMEM;
                        goto fail;
                }
                s->services = ns;
                const char **nn = realloc(s->names, ncap * sizeof *nn);
                if (!nn) {
                        r = -ENOMEM;
                        goto fail;
                }
                s->names = nn;
                s->cap_services = ncap;
        }
        svc->sup = s;
        s->services[s->n_services] = svc;
        s->names[s->n_services] = svc->name;
        s->n_services++;
        return 0;

fail:
        service_free(svc);
        return r;
}

int supervisor_remove(Supervisor *s, const char *name) {
        size_t i;
        Service *svc = s ? service_find(s, name, &i) : NULL;
        if (!svc)
                return -ENOENT;
        memmove(s->services + i, s->services + i + 1, (s->n_services - i - 1) * sizeof *s->services);
        memmove(s->names + i, s->names + i + 1, (s->n_services - i - 1) * sizeof *s->names);
        s->n_services--;

        loop_cancel_timer(s->loop, svc->restart_timer);
        svc->restart_timer = NULL;
        if (svc->pid <= 0) {
                service_free(svc);
                return 0;
        }
        /* Still running: stop it without callbacks and free it once reaped. */
        svc->removed = true;
        svc->pending = PENDING_NONE;
        svc->next_removed = s->removed;
        s->removed = svc;
        if (svc->state != SERVICE_STOPPING) {
                svc->state = SERVICE_STOPPING;
                return service_terminate(svc);
        }
        return 0;
}

int supervisor_start(Supervisor *s, const char *name) {
        Service *svc = s ? service_find(s, name, NULL) : NULL;
        if (!svc)
                return -ENOENT;
        if (s->stopping_all)
                return -ECANCELED;
        switch (svc->state) {
        case SERVICE_RUNNING:
                return 0;
        case SERVICE_STOPPING:
                if (svc->pending == PENDING_NONE)
                        svc->pending = PENDING_START;
                return 0;
        case SERVICE_BACKOFF:
                loop_cancel_timer(s->loop, svc->restart_timer);
                svc->restart_timer = NULL;
                break;
        default:
                break;
        }
        crash_history_clear(svc);
        return service_launch(svc);
}

int supervisor_stop(Supervisor *s, const char *name) {
        Service *svc = s ? service_find(s, name, NULL) : NULL;
        if (!svc)
                return -ENOENT;
        switch (svc->state) {
        case SERVICE_RUNNING: {
                int r = service_terminate(svc);
                if (r < 0)
                        return r;
                service_set_state(svc, SERVICE_STOPPING);
                return 0;
        }
        case SERVICE_STOPPING:
                svc->pending = PENDING_NONE; /* a later stop wins over an earlier restart */
                return 0;
        case SERVICE_BACKOFF:
                loop_cancel_timer(s->loop, svc->restart_timer);
                svc->restart_timer = NULL;
                service_set_state(svc, SERVICE_STOPPED);
                return 0;
        case SERVICE_FAILED:
                service_set_state(svc, SERVICE_STOPPED);
                return 0;
        default:
                return 0;
        }
}

int supervisor_restart(Supervisor *s, const char *name) {
        Service *svc = s ? service_find(s, name, NULL) : NULL;
        if (!svc)
                return -ENOENT;
        if (s->stopping_all)
                return -ECANCELED;
        switch (svc->state) {
        case SERVICE_RUNNING: {
                int r = service_terminate(svc);
                if (r < 0)
                        return r;
                svc->pending = PENDING_RESTART;
                crash_history_clear(svc);
                service_set_state(svc, SERVICE_STOPPING);
                return 0;
        }
        case SERVICE_STOPPING:
                svc->pending = PENDING_RESTART;
                crash_history_clear(svc);
                return 0;
        case SERVICE_BACKOFF:
                loop_cancel_timer(s->loop, svc->restart_timer);
                svc->restart_timer = NULL;
                break;
        default:
                break;
        }
        crash_history_clear(svc);
        svc->restarts++;
        return service_launch(svc);
}

static bool any_child(Supervisor *s) {
        for (size_t i = 0; i < s->n_services; i++)
                if (s->services[i]->pid > 0)
                        return true;
        return s->removed != NULL;
}

/* How long the slowest of the children still running (or removed and stopping) may take to stop. */
static uint64_t longest_stop_timeout(Supervisor *s) {
        uint64_t longest = 0;
        for (size_t i = 0; i < s->n_services; i++)
                if (s->services[i]->pid > 0 && s->services[i]->stop_timeout_usec > longest)
                        longest = s->services[i]->stop_timeout_usec;
        for (Service *svc = s->removed; svc; svc = svc->next_removed)
                if (svc->stop_timeout_usec > longest)
                        longest = svc->stop_timeout_usec;
        return longest;
}

void supervisor_stop_all(Supervisor *s) {
        if (!s)
                return;
        s->stopping_all = true;

        /* A callback may add or remove services while we stop them, so look again; a bounded number of
         * times, because a stop that fails (kill refused) leaves its service as it was. */
        for (unsigned pass = 0; pass < 3; pass++) {
                bool any = false;
                for (size_t i = 0; i < s->n_services; i++) {
                        Service *svc = s->services[i];
                        if (svc->state == SERVICE_RUNNING || svc->state == SERVICE_BACKOFF ||
                            (svc->state == SERVICE_STOPPING && svc->pending != PENDING_NONE)) {
                                (void) supervisor_stop(s, svc->name);
                                any = true;
                        }
                }
                if (!any)
                        break;
        }

        uint64_t longest = longest_stop_timeout(s);
        uint64_t deadline = now_usec() + longest + KILL_GRACE_USEC;

        /* Poll as well as wait for SIGCHLD: cheap (one waitpid per child) and it does not depend on the signal
         * still being pending, e.g. when a child had exited before the loop was first run. */
        reap_children(s);
        while (any_child(s)) {
                uint64_t now = now_usec();
                if (now >= deadline) {
                        log_warn("supervisor: children still running after SIGKILL; giving up waiting");
                        break;
                }
                uint64_t left_ms = (deadline - now + 999) / 1000;
                (void) loop_run_once(s->loop, left_ms > 100 ? 100 : (int) left_ms);
                reap_children(s);
        }
        s->stopping_all = false;
}

void supervisor_stop_all_blocking(Supervisor *s) {
        if (!s)
                return;
        s->stopping_all = true;
        for (size_t i = 0; i < s->n_services; i++) {
                Service *svc = s->services[i];
                if (svc->state == SERVICE_RUNNING || svc->state == SERVICE_BACKOFF ||
                    (svc->state == SERVICE_STOPPING && svc->pending != PENDING_NONE))
                        (void) supervisor_stop(s, svc->name);
        }
        uint64_t longest = longest_stop_timeout(s);
        uint64_t t0 = now_usec(), deadline = t0 + longest + KILL_GRACE_USEC;
        /* The kill timers are loop timers, which do not fire here: each child past its own stop timeout gets
         * SIGKILL from this loop instead (again each round: harmless, an unreaped pid is not reused). */
        reap_children(s);
        while (any_child(s)) {
                uint64_t now = now_usec();
                if (now >= deadline) {
                        log_warn("supervisor: children still running after SIGKILL; giving up waiting");
                        break;
                }
                for (size_t i = 0; i < s->n_services; i++)
                        if (s->services[i]->pid > 0 && now >= t0 + s->services[i]->stop_timeout_usec)
                                (void) kill(s->services[i]->pid, SIGKILL);
                for (Service *svc = s->removed; svc; svc = svc->next_removed)
                        if (svc->pid > 0 && now >= t0 + svc->stop_timeout_usec)
                                (void) kill(svc->pid, SIGKILL);
                usleep(5 * 1000);
                reap_children(s);
        }
        s->stopping_all = false;
}

int supervisor_status(Supervisor *s, const char *name, ServiceStatus *ret) {
        if (!ret)
                return -EINVAL;
        Service *svc = s ? service_find(s, name, NULL) : NULL;
        if (!svc)
                return -ENOENT;
        ServiceStatus st = {
                .state = svc->state,
                .pid = svc->pid,
                .started_at = svc->started_at,
                .restarts = svc->restarts,
                .last_exit_code = svc->last_exit_code,
                .last_exit_signal = svc->last_exit_signal,
                .last_exit_at = svc->last_exit_at,
        };
        snprintf(st.failure, sizeof st.failure, "%s", svc->failure);
        *ret = st;
        return 0;
}

size_t supervisor_list(Supervisor *s, const char *const **ret_names) {
        if (!s)
                return 0;
        if (ret_names)
                *ret_names = s->names;
        return s->n_services;
}

int supervisor_logs(Supervisor *s, const char *name, unsigned n, char **ret) {
        Service *svc = s ? service_find(s, name, NULL) : NULL;
        if (!svc)
                return -ENOENT;
        if (n > LOGS_MAX_LINES || !ret)
                return -EINVAL;
        const LogRing *r = &svc->ring;
        /* Walk back from the final '\n' to the start of the n-th line from the end. */
        size_t begin = r->len, found = 0;
        if (n > 0 && r->len > 0) {
                begin = 0;
                for (size_t j = r->len - 1; j > 0; j--)
                        if (ring_at(r, j - 1) == '\n' && ++found == n) {
                                begin = j;
                                break;
                        }
        }
        size_t len = r->len > begin ? r->len - begin - 1 : 0; /* without the last '\n' */
        char *text = malloc(len + 1);
        if (!text)
                return -ENOMEM;
        for (size_t i = 0; i < len; i++)
                text[i] = ring_at(r, begin + i);
        text[len] = '\0';
        *ret = text;
        return 0;
}
