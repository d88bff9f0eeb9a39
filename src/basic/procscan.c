/* procscan: a scan of /proc for processes that carry an environment entry or belong to given sessions, and a
 * bounded TERM→KILL of what it finds. Signals go through pidfds opened and re-checked first: no reused pid is hit. */
#include "basic/procscan.h"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <sys/syscall.h>

#include "basic/time-util.h"
#include "basic/util.h"

/* Our children get the entry first in a small environment; a descendant that grew its own is still read this far. */
#define ENVIRON_MAX (64 * 1024)
/* Enough for a cell's daemons and their helpers many times over; a scan stops adding beyond it. */
#define TARGETS_MAX 1024
#define SESSIONS_MAX 256
/* A target that forks while it is being stopped leaves a new process behind: scan again, a bounded number of times. */
#define ROUNDS_MAX 3

typedef struct Target {
        pid_t pid;
        unsigned long long start;
        int pidfd; /* -1: not opened (gone, or no pidfd support) */
        bool exited;
        bool signalled; /* at least once: what *ret_found counts, each process once however many rounds */
} Target;

typedef struct Scan {
        const char *env_entry;
        pid_t self, own_sid;
        Target targets[TARGETS_MAX];
        size_t n_targets;
        pid_t sessions[SESSIONS_MAX];
        size_t n_sessions;
} Scan;

static void closedirp(DIR **d) {
        if (*d)
                closedir(*d);
}

static ssize_t read_retry(int fd, void *buf, size_t size) {
        ssize_t n;
        do
                n = read(fd, buf, size);
        while (n < 0 && errno == EINTR);
        return n;
}

/* Fields of /proc/PID/stat after the command name, which may itself contain spaces and parentheses. */
static int proc_stat(pid_t pid, char *ret_state, pid_t *ret_sid, unsigned long long *ret_start) {
        char path[64], buf[1024];
        snprintf(path, sizeof path, "/proc/%d/stat", (int) pid);
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return negative_errno();
        ssize_t n = read_retry(fd, buf, sizeof buf - 1);
        if (n <= 0)
                return -EIO;
        buf[n] = '\0';
        const char *p = strrchr(buf, ')');
        if (!p || p[1] != ' ' || !p[2])
                return -EIO;
        char state = p[2];
        long long sid = -1;
        unsigned long long start = 0;
        /* Token 1 is the state (field 3), token 4 the session (field 6), token 20 the start time (field 22). */
        p += 2;
        for (int token = 1; token <= 20; token++) {
                if (token == 4 || token == 20) {
                        char *end;
                        errno = 0;
                        unsigned long long v = strtoull(p, &end, 10);
                        if (errno || end == p || (*end != ' ' && *end != '\0'))
                                return -EIO;
                        if (token == 4)
                                sid = (long long) v;
                        else
                                start = v;
                }
                if (token < 20) {
                        p = strchr(p, ' ');
                        if (!p)
                                return -EIO;
                        p++;
                }
        }
        if (ret_state)
                *ret_state = state;
        if (ret_sid)
                *ret_sid = (pid_t) sid;
        if (ret_start)
                *ret_start = start;
        return 0;
}

int proc_starttime(pid_t pid, unsigned long long *ret_starttime, char *ret_state) {
        return proc_stat(pid, ret_state, NULL, ret_starttime);
}

static bool environ_has(pid_t pid, const char *entry) {
        char path[64];
        snprintf(path, sizeof path, "/proc/%d/environ", (int) pid);
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return false;
        _cleanup_free_ char *buf = malloc(ENVIRON_MAX + 1);
        if (!buf)
                return false;
        size_t len = 0;
        while (len < ENVIRON_MAX) {
                ssize_t n = read_retry(fd, buf + len, ENVIRON_MAX - len);
                if (n <= 0)
                        break;
                len += (size_t) n;
        }
        buf[len] = '\0';
        size_t want = strlen(entry);
        for (size_t i = 0; i < len;) {
                size_t l = strnlen(buf + i, len - i);
                if (l == want && memcmp(buf + i, entry, want) == 0)
                        return true;
                i += l + 1;
        }
        return false;
}

static bool is_dead(char state) {
        return state == 'Z' || state == 'X';
}

static bool session_known(const Scan *s, pid_t sid) {
        for (size_t i = 0; i < s->n_sessions; i++)
                if (s->sessions[i] == sid)
                        return true;
        return false;
}

static void session_add(Scan *s, pid_t sid) {
        /* Never our own session (whoever started picd), nor the kernel's or init's. */
        if (sid <= 1 || sid == s->own_sid || session_known(s, sid) || s->n_sessions == SESSIONS_MAX)
                return;
        s->sessions[s->n_sessions++] = sid;
}

static Target *target_find(Scan *s, pid_t pid) {
        for (size_t i = 0; i < s->n_targets; i++)
                if (s->targets[i].pid == pid)
                        return &s->targets[i];
        return NULL;
}

static void target_add(Scan *s, pid_t pid, unsigned long long start) {
        Target *t = target_find(s, pid);
        if (t) {
                if (t->start == start && !t->exited)
                        return;
                /* The same number, another process (the first one exited): track the new one instead. */
                if (t->pidfd >= 0)
                        close(t->pidfd);
                *t = (Target) { .pid = pid, .start = start, .pidfd = -1 };
                return;
        }
        if (s->n_targets == TARGETS_MAX)
                return;
        s->targets[s->n_targets++] = (Target) { .pid = pid, .start = start, .pidfd = -1 };
}

/* One pass over /proc: processes with the entry, then (second pass) the members of every session found. */
static int scan(Scan *s) {
        for (int pass = 0; pass < 2; pass++) {
                if (pass == 1 && s->n_sessions == 0)
                        break;
                _cleanup_(closedirp) DIR *d = opendir("/proc");
                if (!d)
                        return negative_errno();
                for (struct dirent *de; (de = readdir(d));) {
                        char *end;
                        errno = 0;
                        long v = strtol(de->d_name, &end, 10);
                        if (errno || end == de->d_name || *end || v <= 1 || (pid_t) v == s->self)
                                continue;
                        pid_t pid = (pid_t) v;
                        char state;
                        pid_t sid;
                        unsigned long long start;
                        if (proc_stat(pid, &state, &sid, &start) < 0 || is_dead(state) || sid == s->own_sid)
                                continue;
                        bool match = pass == 0 ? s->env_entry && environ_has(pid, s->env_entry)
                                               : session_known(s, sid);
                        if (!match)
                                continue;
                        target_add(s, pid, start);
                        session_add(s, sid);
                }
        }
        return 0;
}

/* Sends sig to every live target; opens its pidfd first and checks the start time again, so the signal reaches
 * the process that was found even if its pid has been reused since. Returns how many were signalled. */
static size_t signal_targets(Scan *s, int sig) {
        size_t n = 0;
        for (size_t i = 0; i < s->n_targets; i++) {
                Target *t = &s->targets[i];
                if (t->exited)
                        continue;
                if (t->pidfd < 0) {
                        int fd = (int) syscall(SYS_pidfd_open, t->pid, 0);
                        if (fd < 0 && errno != ENOSYS) {
                                t->exited = true; /* ESRCH: gone already */
                                continue;
                        }
                        t->pidfd = fd;
                }
                unsigned long long start;
                char state;
                if (proc_starttime(t->pid, &start, &state) < 0 || start != t->start || is_dead(state)) {
                        t->exited = true;
                        continue;
                }
                int r = t->pidfd >= 0 ? (int) syscall(SYS_pidfd_send_signal, t->pidfd, sig, NULL, 0) : kill(t->pid, sig);
                if (r == 0) {
                        n++;
                        t->signalled = true;
                }
        }
        return n;
}

static bool target_exited(Target *t) {
        if (t->exited)
                return true;
        if (t->pidfd >= 0) {
                /* A pidfd is readable once the process has exited, zombie or reaped. */
                struct pollfd p = { .fd = t->pidfd, .events = POLLIN };
                t->exited = poll(&p, 1, 0) > 0;
        } else {
                unsigned long long start;
                char state;
                t->exited = proc_starttime(t->pid, &start, &state) < 0 || start != t->start || is_dead(state);
        }
        return t->exited;
}

static bool wait_targets(Scan *s, uint64_t usec) {
        uint64_t deadline = now_usec() + usec;
        for (;;) {
                bool all = true;
                for (size_t i = 0; i < s->n_targets; i++)
                        if (!target_exited(&s->targets[i]))
                                all = false;
                if (all)
                        return true;
                if (now_usec() >= deadline)
                        return false;
                (void) poll(NULL, 0, 10);
        }
}

int proc_stop_matching(const char *env_entry, const pid_t *pids, const unsigned long long *starttimes, size_t n_pids,
                       uint64_t term_usec, uint64_t kill_usec, size_t *ret_found) {
        Scan *s = calloc(1, sizeof *s);
        if (!s)
                return -ENOMEM;
        s->env_entry = env_entry;
        s->self = getpid();
        s->own_sid = getsid(0);
        for (size_t i = 0; i < n_pids; i++) {
                char state;
                pid_t sid;
                unsigned long long start;
                if (pids[i] > 1 && pids[i] != s->self && proc_stat(pids[i], &state, &sid, &start) == 0 &&
                    start == starttimes[i] && !is_dead(state) && sid != s->own_sid) {
                        target_add(s, pids[i], start);
                        session_add(s, sid);
                }
        }
        int r = 0;
        size_t found = 0;
        for (int round = 0; round < ROUNDS_MAX; round++) {
                r = scan(s);
                if (r < 0)
                        break;
                if (signal_targets(s, SIGTERM) == 0)
                        break;
                if (!wait_targets(s, term_usec)) {
                        (void) signal_targets(s, SIGKILL);
                        (void) wait_targets(s, kill_usec);
                }
        }
        /* A process still dying when the next round looks again is signalled again, but found once. */
        for (size_t i = 0; i < s->n_targets; i++) {
                found += s->targets[i].signalled;
                if (s->targets[i].pidfd >= 0)
                        close(s->targets[i].pidfd);
        }
        free(s);
        if (r >= 0 && ret_found)
                *ret_found = found;
        return r;
}
