/* The epoll event loop: fd watches in a small array, timers in a sorted list, signals through one signalfd.
 * Sizes here are tens of fds and timers, so linear structures beat trees in code and speed. */
#include "core/loop.h"

#include <signal.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>

#include "basic/log.h"
#include "basic/time-util.h"
#include "basic/util.h"

/* epoll data of the signalfd; an IoWatch id can never take this value because fds are < 2^31. */
#define SIGFD_ID UINT64_MAX

typedef struct IoWatch {
        int fd;
        uint64_t id; /* epoll's data: fd plus a generation, so a stale event never reaches a newer watch */
        loop_io_fn fn;
        void *userdata;
} IoWatch;

struct LoopTimer {
        uint64_t deadline;
        loop_timer_fn fn;
        void *userdata;
        LoopTimer *next;
};

typedef struct SignalWatch {
        int signo;
        loop_signal_fn fn;
        void *userdata;
} SignalWatch;

typedef struct Prepare {
        loop_prepare_fn fn;
        void *userdata;
} Prepare;

struct Loop {
        int epfd, sigfd;
        sigset_t sigmask;
        IoWatch *io;
        size_t n_io, cap_io;
        uint32_t io_generation;
        LoopTimer *timers; /* sorted by deadline */
        LoopTimer *due;    /* the ones this round of dispatch_timers is running, in order */
        loop_clock_fn clock;
        void *clock_userdata;
        SignalWatch signals[16];
        size_t n_signals;
        Prepare prepares[8];
        size_t n_prepares;
        bool quit;
        int exit_code;
};

int loop_new(Loop **ret) {
        Loop *l = calloc(1, sizeof *l);
        if (!l)
                return -ENOMEM;
        l->sigfd = -1;
        sigemptyset(&l->sigmask);
        l->epfd = epoll_create1(EPOLL_CLOEXEC);
        if (l->epfd < 0) {
                int r = negative_errno();
                free(l);
                return r;
        }
        *ret = l;
        return 0;
}

static void timers_free(LoopTimer *t) {
        while (t) {
                LoopTimer *next = t->next;
                free(t);
                t = next;
        }
}

Loop *loop_free(Loop *l) {
        if (!l)
                return NULL;
        timers_free(l->timers);
        timers_free(l->due);
        if (l->sigfd >= 0)
                close(l->sigfd);
        close(l->epfd);
        free(l->io);
        free(l);
        return NULL;
}

void loop_set_clock(Loop *l, loop_clock_fn fn, void *userdata) {
        l->clock = fn;
        l->clock_userdata = userdata;
}

uint64_t loop_now(Loop *l) {
        return l->clock ? l->clock(l->clock_userdata) : now_usec();
}

static IoWatch *find_io(Loop *l, int fd) {
        for (size_t i = 0; i < l->n_io; i++)
                if (l->io[i].fd == fd)
                        return &l->io[i];
        return NULL;
}

int loop_add_io(Loop *l, int fd, uint32_t events, loop_io_fn fn, void *userdata) {
        if (find_io(l, fd))
                return -EEXIST;
        if (l->n_io == l->cap_io) {
                size_t ncap = l->cap_io ? l->cap_io * 2 : 16;
                IoWatch *n = realloc(l->io, ncap * sizeof *n);
                if (!n)
                        return -ENOMEM;
                l->io = n;
                l->cap_io = ncap;
        }
        uint64_t id = (uint64_t) ++l->io_generation << 32 | (uint32_t) fd;
        struct epoll_event ev = { .events = events, .data.u64 = id };
        if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
                return negative_errno();
        l->io[l->n_io++] = (IoWatch) { .fd = fd, .id = id, .fn = fn, .userdata = userdata };
        return 0;
}

int loop_mod_io(Loop *l, int fd, uint32_t events) {
        IoWatch *w = find_io(l, fd);
        if (!w)
                return -ENOENT;
        struct epoll_event ev = { .events = events, .data.u64 = w->id };
        return epoll_ctl(l->epfd, EPOLL_CTL_MOD, fd, &ev) < 0 ? negative_errno() : 0;
}

int loop_del_io(Loop *l, int fd) {
        IoWatch *w = find_io(l, fd);
        if (!w)
                return -ENOENT;
        epoll_ctl(l->epfd, EPOLL_CTL_DEL, fd, NULL);
        *w = l->io[--l->n_io];
        return 0;
}

int loop_add_timer(Loop *l, uint64_t usec, loop_timer_fn fn, void *userdata, LoopTimer **ret) {
        LoopTimer *t = calloc(1, sizeof *t);
        if (!t)
                return -ENOMEM;
        *t = (LoopTimer) { .deadline = loop_now(l) + usec, .fn = fn, .userdata = userdata };
        LoopTimer **p = &l->timers;
        while (*p && (*p)->deadline <= t->deadline)
                p = &(*p)->next;
        t->next = *p;
        *p = t;
        if (ret)
                *ret = t;
        return 0;
}

static bool timer_unlink(LoopTimer **list, LoopTimer *t) {
        for (LoopTimer **p = list; *p; p = &(*p)->next)
                if (*p == t) {
                        *p = t->next;
                        free(t);
                        return true;
                }
        return false;
}

void loop_cancel_timer(Loop *l, LoopTimer *t) {
        /* It may be waiting, or due in the round being dispatched (cancelled by an earlier timer of that round). */
        if (t && !timer_unlink(&l->timers, t))
                (void) timer_unlink(&l->due, t);
}

int loop_add_signal(Loop *l, int signo, loop_signal_fn fn, void *userdata) {
        /* A second handler would be called beside the first (e.g. with a stale userdata): refuse it. */
        for (size_t i = 0; i < l->n_signals; i++)
                if (l->signals[i].signo == signo)
                        return -EEXIST;
        if (l->n_signals >= ELEMENTSOF(l->signals))
                return -ENOSPC;
        /* Work on a copy so a failure leaves the loop's mask as it was. */
        sigset_t mask = l->sigmask;
        if (sigaddset(&mask, signo) < 0)
                return negative_errno();
        if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
                return negative_errno();
        int fd = signalfd(l->sigfd, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
        if (fd < 0)
                return negative_errno();
        if (l->sigfd < 0) {
                struct epoll_event ev = { .events = EPOLLIN, .data.u64 = SIGFD_ID };
                if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
                        int r = negative_errno();
                        close(fd);
                        return r;
                }
                l->sigfd = fd;
        }
        l->sigmask = mask;
        l->signals[l->n_signals++] = (SignalWatch) { .signo = signo, .fn = fn, .userdata = userdata };
        return 0;
}

int loop_add_prepare(Loop *l, loop_prepare_fn fn, void *userdata) {
        if (l->n_prepares >= ELEMENTSOF(l->prepares))
                return -ENOSPC;
        l->prepares[l->n_prepares++] = (Prepare) { .fn = fn, .userdata = userdata };
        return 0;
}

int loop_del_signal(Loop *l, int signo) {
        /* The signal stays blocked and in the signalfd: unblocking could kill the process with a default
         * action; a signal nobody handles is simply read and dropped. */
        for (size_t i = 0; i < l->n_signals; i++)
                if (l->signals[i].signo == signo) {
                        l->signals[i] = l->signals[--l->n_signals];
                        return 0;
                }
        return -ENOENT;
}

int loop_del_prepare(Loop *l, loop_prepare_fn fn, void *userdata) {
        for (size_t i = 0; i < l->n_prepares; i++)
                if (l->prepares[i].fn == fn && l->prepares[i].userdata == userdata) {
                        memmove(&l->prepares[i], &l->prepares[i + 1], (l->n_prepares - i - 1) * sizeof l->prepares[0]);
                        l->n_prepares--;
                        return 0;
                }
        return -ENOENT;
}

static void dispatch_signals(Loop *l) {
        struct signalfd_siginfo si;
        while (read(l->sigfd, &si, sizeof si) == (ssize_t) sizeof si)
                for (size_t i = 0; i < l->n_signals; i++)
                        if (l->signals[i].signo == (int) si.ssi_signo)
                                l->signals[i].fn(l, (int) si.ssi_signo, l->signals[i].userdata);
}

static void dispatch_timers(Loop *l) {
        uint64_t now = loop_now(l);
        /* This round runs what was due when it began, moved aside first: a timer a callback adds is never part of
         * it, even one due at once (with a clock that does not move between the two, it would run forever). */
        LoopTimer **tail = &l->due;
        while (*tail)
                tail = &(*tail)->next;
        while (l->timers && l->timers->deadline <= now) {
                LoopTimer *t = l->timers;
                l->timers = t->next;
                t->next = NULL;
                *tail = t;
                tail = &t->next;
        }
        /* One at a time: a callback may cancel any of them (loop_cancel_timer looks here too). */
        while (l->due) {
                LoopTimer *t = l->due;
                l->due = t->next;
                loop_timer_fn fn = t->fn;
                void *ud = t->userdata;
                free(t);
                fn(l, ud);
        }
}

static int min_timeout(int a, int b) {
        if (a < 0)
                return b;
        if (b < 0)
                return a;
        return a < b ? a : b;
}

int loop_run_once(Loop *l, int max_wait_ms) {
        int timeout = max_wait_ms;
        for (size_t i = 0; i < l->n_prepares; i++)
                timeout = min_timeout(timeout, l->prepares[i].fn(l, l->prepares[i].userdata));
        if (l->timers) {
                uint64_t now = loop_now(l);
                int64_t ms = l->timers->deadline > now ? (int64_t) ((l->timers->deadline - now + 999) / 1000) : 0;
                timeout = min_timeout(timeout, ms > 60000 ? 60000 : (int) ms);
        }
        struct epoll_event evs[32];
        int n = epoll_wait(l->epfd, evs, (int) ELEMENTSOF(evs), timeout);
        if (n < 0)
                return errno == EINTR ? 0 : negative_errno();
        for (int i = 0; i < n; i++) {
                uint64_t id = evs[i].data.u64;
                if (id == SIGFD_ID) {
                        dispatch_signals(l);
                        continue;
                }
                /* Look up per event: an earlier callback may have removed this watch, or removed it, closed
                 * the fd and watched a new file that got the same number; the id tells them apart. */
                int fd = (int) (uint32_t) id;
                IoWatch *w = find_io(l, fd);
                if (w && w->id == id)
                        w->fn(l, fd, evs[i].events, w->userdata);
        }
        dispatch_timers(l);
        return n;
}

int loop_run(Loop *l) {
        while (!l->quit) {
                int r = loop_run_once(l, -1);
                if (r < 0)
                        return log_error_errno(r, "event loop failed");
        }
        return l->exit_code;
}

void loop_quit(Loop *l, int code) {
        l->quit = true;
        l->exit_code = code;
}

bool loop_is_quitting(Loop *l) {
        return l->quit;
}
