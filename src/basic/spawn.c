/* Synchronous run of a short helper program with a hard deadline and a bounded output buffer.
 * picd is single-threaded, so the deadline is what keeps a hung helper from stalling the event loop. */
#include "basic/spawn.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>

#include "basic/time-util.h"
#include "basic/util.h"

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

static _Noreturn void child(char *const argv[], int out_fd, int status_fd, pid_t parent) {
        static char *const envp[] = { "PATH=/usr/sbin:/usr/bin:/sbin:/bin", NULL };
        sigset_t none;
        sigemptyset(&none);
        /* picd blocks the signals its loop reads through signalfd and ignores SIGPIPE; both would be
         * inherited across exec. */
        sigprocmask(SIG_SETMASK, &none, NULL);
        for (int sig = 1; sig < NSIG; sig++)
                if (sig != SIGKILL && sig != SIGSTOP)
                        signal(sig, SIG_DFL);
        /* Nobody is left to read or reap it after a kill -9 of picd: die with the caller (these helpers keep their
         * credentials, so the signal stays armed), and if the caller is already gone, do not start at all. */
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
                _exit(127);
        /* Its own process group, so a deadline's SIGKILL also reaches whatever it started. */
        (void) setpgid(0, 0);
        int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (devnull < 0 || dup2(devnull, 0) < 0 || dup2(out_fd, 1) < 0 || dup2(out_fd, 2) < 0)
                goto fail;
        /* Nothing of picd (store, sockets, netns fds) may leak into the helper. */
#ifdef SYS_close_range
        (void) syscall(SYS_close_range, 3U, ~0U, CLOSE_RANGE_CLOEXEC);
#endif
        execve(argv[0], argv, envp);
fail:;
        int e = errno;
        (void) !write(status_fd, &e, sizeof e);
        _exit(127);
}

static int wait_child(pid_t pid, uint64_t deadline, int *ret_status) {
        for (;;) {
                int status;
                pid_t p = waitpid(pid, &status, WNOHANG);
                if (p == pid) {
                        *ret_status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
                        return 0;
                }
                if (p < 0 && errno != EINTR)
                        return negative_errno();
                if (now_usec() >= deadline)
                        return -ETIME;
                nanosleep(&(struct timespec) { .tv_nsec = 1000 * 1000 }, NULL);
        }
}

int spawn_capture(char *const argv[], uint64_t timeout_usec, size_t max_output, char **ret_output, int *ret_status) {
        if (!argv || !argv[0] || argv[0][0] != '/')
                return -EINVAL;
        int out[2], st[2];
        if (pipe2(out, O_CLOEXEC) < 0)
                return negative_errno();
        if (pipe2(st, O_CLOEXEC) < 0) {
                int r = negative_errno();
                close(out[0]);
                close(out[1]);
                return r;
        }
        uint64_t deadline = now_usec() + timeout_usec;
        pid_t parent = getpid();
        pid_t pid = fork();
        if (pid < 0) {
                int r = negative_errno();
                close(out[0]);
                close(out[1]);
                close(st[0]);
                close(st[1]);
                return r;
        }
        if (pid == 0) {
                close(out[0]);
                close(st[0]);
                child(argv, out[1], st[1], parent);
        }
        close(out[1]);
        close(st[1]);
        _cleanup_close_ int out_fd = out[0];

        /* The status pipe closes on a successful exec; otherwise it carries the exec's errno. */
        int exec_errno = 0;
        ssize_t n;
        do
                n = read(st[0], &exec_errno, sizeof exec_errno);
        while (n < 0 && errno == EINTR);
        close(st[0]);
        if (n == (ssize_t) sizeof exec_errno && exec_errno > 0) {
                int status;
                (void) wait_child(pid, deadline + USEC_PER_SEC, &status);
                return -exec_errno;
        }

        size_t cap = max_output + 1, len = 0;
        _cleanup_free_ char *buf = malloc(cap);
        if (!buf) {
                kill(pid, SIGKILL);
                int status;
                (void) wait_child(pid, now_usec() + USEC_PER_SEC, &status);
                return -ENOMEM;
        }
        int r = 0;
        for (;;) {
                uint64_t now = now_usec();
                if (now >= deadline) {
                        r = -ETIME;
                        break;
                }
                struct pollfd p = { .fd = out_fd, .events = POLLIN };
                int k = poll(&p, 1, (int) ((deadline - now + 999) / 1000));
                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0) {
                        r = negative_errno();
                        break;
                }
                if (k == 0)
                        continue;
                char chunk[4096];
                n = read(out_fd, chunk, sizeof chunk);
                if (n < 0 && (errno == EINTR || errno == EAGAIN))
                        continue;
                if (n <= 0)
                        break;
                size_t take = (size_t) n;
                if (take > max_output - len)
                        take = max_output - len;
                memcpy(buf + len, chunk, take);
                len += take;
        }
        buf[len] = '\0';
        int status = -1;
        if (r >= 0)
                r = wait_child(pid, deadline, &status);
        if (r < 0) {
                /* The group first, while the unreaped child keeps its id from being reused. */
                kill(-pid, SIGKILL);
                kill(pid, SIGKILL);
                int ignored;
                (void) wait_child(pid, now_usec() + 2 * USEC_PER_SEC, &ignored);
                return r;
        }
        *ret_output = TAKE_PTR(buf);
        *ret_status = status;
        return 0;
}

const char *spawn_helper_path(const char *env_var, const char *name, const char *fallback, char *buf, size_t size) {
        const char *b = getenv(env_var);
        if (b && *b == '/') {
                snprintf(buf, size, "%s", b);
                return buf;
        }
        char dir[4096];
        ssize_t n = readlink("/proc/self/exe", dir, sizeof dir - 1);
        char *slash = n > 0 ? memrchr(dir, '/', (size_t) n) : NULL;
        if (!slash) {
                if (size)
                        buf[0] = '\0';
                return fallback;
        }
        *slash = '\0';
        snprintf(buf, size, "%s/%s", dir, name);
        return buf;
}
