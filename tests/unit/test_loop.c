/* Tests of the event loop (src/core/loop.c): timer order and cancellation on a fake clock the tests move themselves
 * (exact, no sleeping), fd watches, signals through the signalfd, prepare hooks and loop_run/loop_quit. Real epoll,
 * real pipes, real signals to ourselves. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <fcntl.h>
#include <signal.h>
#include <sys/epoll.h>

#include "basic/time-util.h"
#include "basic/util.h"
#include "core/loop.h"

static int setup(void **state) {
        Loop *l = NULL;
        assert_int_equal(loop_new(&l), 0);
        *state = l;
        return 0;
}

/* The fake clock: it moves only when a test says so. Starts far from 0 so no deadline arithmetic leans on 0. */
static uint64_t fake_now;

static uint64_t fake_clock(void *userdata) {
        assert_ptr_equal(userdata, &fake_now);
        return fake_now;
}

static int setup_fake_clock(void **state) {
        setup(state);
        fake_now = 1000 * USEC_PER_SEC;
        loop_set_clock(*state, fake_clock, &fake_now);
        assert_int_equal(loop_now(*state), 1000 * USEC_PER_SEC);
        return 0;
}

/* Moves the fake clock and runs one round without waiting. */
static void advance(Loop *l, uint64_t usec) {
        fake_now += usec;
        assert_true(loop_run_once(l, 0) >= 0);
}

static int teardown(void **state) {
        loop_free(*state);
        return 0;
}

/* Runs the loop until *flag is set or timeout_ms passes; every test waits through this, so none can hang. */
static bool run_until(Loop *l, const bool *flag, unsigned timeout_ms) {
        uint64_t deadline = now_usec() + timeout_ms * USEC_PER_MSEC;
        while (!*flag) {
                uint64_t now = now_usec();
                if (now >= deadline)
                        return false;
                uint64_t left = (deadline - now + 999) / 1000;
                assert_true(loop_run_once(l, left > 50 ? 50 : (int) left) >= 0);
        }
        return true;
}

typedef struct Order {
        int seen[8];
        size_t n;
        bool done;
} Order;

typedef struct TimerArg {
        Order *order;
        int id;
} TimerArg;

static void record_timer(Loop *l, void *userdata) {
        TimerArg *a = userdata;
        a->order->seen[a->order->n++] = a->id;
        if (a->order->n == 5)
                a->order->done = true;
}

static void test_timers_fire_in_deadline_order(void **state) {
        Loop *l = *state;
        Order o = { 0 };
        TimerArg args[] = { { &o, 30 }, { &o, 10 }, { &o, 20 }, { &o, 1 }, { &o, 2 } };
        assert_int_equal(loop_add_timer(l, 30 * USEC_PER_MSEC, record_timer, &args[0], NULL), 0);
        assert_int_equal(loop_add_timer(l, 10 * USEC_PER_MSEC, record_timer, &args[1], NULL), 0);
        assert_int_equal(loop_add_timer(l, 20 * USEC_PER_MSEC, record_timer, &args[2], NULL), 0);
        /* Two due at once: first added, first run. */
        assert_int_equal(loop_add_timer(l, 0, record_timer, &args[3], NULL), 0);
        assert_int_equal(loop_add_timer(l, 0, record_timer, &args[4], NULL), 0);

        /* Each timer runs exactly at its deadline: not a microsecond before, and at once when it is reached. */
        advance(l, 0);
        assert_int_equal(o.n, 2);
        advance(l, 10 * USEC_PER_MSEC - 1);
        assert_int_equal(o.n, 2);
        advance(l, 1);
        assert_int_equal(o.n, 3);
        advance(l, 10 * USEC_PER_MSEC);
        assert_int_equal(o.n, 4);
        advance(l, 10 * USEC_PER_MSEC - 1);
        assert_int_equal(o.n, 4);
        advance(l, 1);
        assert_true(o.done);
        int want[] = { 1, 2, 10, 20, 30 };
        assert_memory_equal(o.seen, want, sizeof want);
}

typedef struct Late {
        unsigned runs;
} Late;

static void late_count(Loop *l, void *userdata) {
        ((Late *) userdata)->runs++;
}

static void test_overdue_timers_run_once_in_one_round(void **state) {
        Loop *l = *state;
        Late a = { 0 }, b = { 0 };
        /* The loop was busy (or the machine suspended) far past both deadlines: each runs once, in one round. */
        assert_int_equal(loop_add_timer(l, 5 * USEC_PER_MSEC, late_count, &a, NULL), 0);
        assert_int_equal(loop_add_timer(l, 6 * USEC_PER_MSEC, late_count, &b, NULL), 0);
        advance(l, 3600 * USEC_PER_SEC);
        assert_int_equal(a.runs, 1);
        assert_int_equal(b.runs, 1);
        advance(l, 3600 * USEC_PER_SEC);
        assert_int_equal(a.runs + b.runs, 2);
}

typedef struct CancelCtx {
        LoopTimer *victim;
        bool victim_ran, killer_ran, late_ran;
} CancelCtx;

static void victim_timer(Loop *l, void *userdata) {
        ((CancelCtx *) userdata)->victim_ran = true;
}

static void killer_timer(Loop *l, void *userdata) {
        CancelCtx *c = userdata;
        c->killer_ran = true;
        /* The victim is already due in this same dispatch round: cancelling it must still win. */
        loop_cancel_timer(l, c->victim);
        c->victim = NULL;
}

static void late_timer(Loop *l, void *userdata) {
        ((CancelCtx *) userdata)->late_ran = true;
}

static void test_timer_cancel(void **state) {
        Loop *l = *state;
        CancelCtx c = { 0 };
        LoopTimer *t = NULL;

        /* Cancelled before it is due. */
        assert_int_equal(loop_add_timer(l, 5 * USEC_PER_MSEC, victim_timer, &c, &t), 0);
        assert_non_null(t);
        loop_cancel_timer(l, t);
        loop_cancel_timer(l, NULL); /* no-op */

        /* Cancelled from another timer's callback while both are due in the same round. */
        assert_int_equal(loop_add_timer(l, 10 * USEC_PER_MSEC, killer_timer, &c, NULL), 0);
        assert_int_equal(loop_add_timer(l, 10 * USEC_PER_MSEC, victim_timer, &c, &c.victim), 0);
        assert_int_equal(loop_add_timer(l, 40 * USEC_PER_MSEC, late_timer, &c, NULL), 0);
        advance(l, 10 * USEC_PER_MSEC);
        assert_true(c.killer_ran);
        assert_false(c.victim_ran);
        assert_false(c.late_ran);
        advance(l, 30 * USEC_PER_MSEC);
        assert_true(c.late_ran);
        assert_false(c.victim_ran);
}

typedef struct Rearm {
        unsigned runs;
} Rearm;

static void rearm_timer(Loop *l, void *userdata) {
        Rearm *r = userdata;
        r->runs++;
        assert_int_equal(loop_add_timer(l, 0, rearm_timer, r, NULL), 0);
}

static void test_timer_rearming_itself_does_not_livelock(void **state) {
        Loop *l = *state;
        Rearm r = { 0 };
        assert_int_equal(loop_add_timer(l, 0, rearm_timer, &r, NULL), 0);
        /* The clock stands still, so the re-armed timer is due at once, every time: each round still runs only
         * the timers there were when it began, so loop_run_once returns after exactly one run. */
        for (unsigned i = 1; i <= 3; i++) {
                assert_true(loop_run_once(l, 0) >= 0);
                assert_int_equal(r.runs, i);
        }
        /* The pending timer is freed by loop_free in teardown. */
}

typedef struct IoCtx {
        unsigned calls;
        uint32_t events;
        char buf[16];
        bool got;
} IoCtx;

static void read_io(Loop *l, int fd, uint32_t events, void *userdata) {
        IoCtx *c = userdata;
        c->calls++;
        c->events = events;
        ssize_t n = read(fd, c->buf, sizeof c->buf - 1);
        if (n > 0) {
                c->buf[n] = '\0';
                c->got = true;
        }
}

static void test_io_callback(void **state) {
        Loop *l = *state;
        int p[2];
        assert_int_equal(pipe2(p, O_CLOEXEC | O_NONBLOCK), 0);
        IoCtx c = { 0 };
        assert_int_equal(loop_add_io(l, p[0], EPOLLIN, read_io, &c), 0);
        assert_int_equal(loop_add_io(l, p[0], EPOLLIN, read_io, &c), -EEXIST);

        /* Nothing to read: the callback is not called. */
        assert_int_equal(loop_run_once(l, 0), 0);
        assert_int_equal(c.calls, 0);

        assert_int_equal(write(p[1], "ping", 4), 4);
        assert_true(run_until(l, &c.got, 1000));
        assert_string_equal(c.buf, "ping");
        assert_true(c.events & EPOLLIN);

        /* Watching the write end for EPOLLOUT through loop_mod_io. */
        IoCtx w = { 0 };
        assert_int_equal(loop_add_io(l, p[1], EPOLLIN, read_io, &w), 0);
        assert_int_equal(loop_mod_io(l, p[1], EPOLLOUT), 0);
        assert_true(loop_run_once(l, 1000) >= 1);
        assert_true(w.events & EPOLLOUT);
        assert_int_equal(loop_del_io(l, p[1]), 0);

        /* After loop_del_io a readable fd no longer calls back. */
        assert_int_equal(loop_del_io(l, p[0]), 0);
        assert_int_equal(loop_del_io(l, p[0]), -ENOENT);
        assert_int_equal(loop_mod_io(l, p[0], EPOLLIN), -ENOENT);
        unsigned before = c.calls;
        assert_int_equal(write(p[1], "x", 1), 1);
        assert_int_equal(loop_run_once(l, 20), 0);
        assert_int_equal(c.calls, before);
        close(p[0]);
        close(p[1]);
}

/* Two hung-up pipes are ready in the same epoll_wait. Whichever callback runs first removes and closes the
 * other read end and puts a brand-new, empty pipe on the same fd number. The stale event of the old fd
 * must not reach the new watch (it used to: events were matched by fd number only). */
typedef struct Reuse {
        int fds[2];
        bool first_done;
        unsigned stale_calls;
        int fresh_write;
} Reuse;

static void fresh_io(Loop *l, int fd, uint32_t events, void *userdata) {
        ((Reuse *) userdata)->stale_calls++;
}

static void reusing_io(Loop *l, int fd, uint32_t events, void *userdata) {
        Reuse *r = userdata;
        assert_false(r->first_done);
        r->first_done = true;
        int other = r->fds[0] == fd ? r->fds[1] : r->fds[0];
        assert_int_equal(loop_del_io(l, other), 0);
        int p[2];
        assert_int_equal(pipe2(p, O_CLOEXEC | O_NONBLOCK), 0);
        assert_int_equal(dup3(p[0], other, O_CLOEXEC), other); /* closes the old file, reuses its number */
        close(p[0]);
        r->fresh_write = p[1];
        assert_int_equal(loop_add_io(l, other, EPOLLIN, fresh_io, r), 0);
        assert_int_equal(loop_del_io(l, fd), 0);
}

static void test_io_stale_event_after_fd_reuse(void **state) {
        Loop *l = *state;
        Reuse r = { .fresh_write = -1 };
        int a[2], b[2];
        assert_int_equal(pipe2(a, O_CLOEXEC | O_NONBLOCK), 0);
        assert_int_equal(pipe2(b, O_CLOEXEC | O_NONBLOCK), 0);
        close(a[1]);
        close(b[1]);
        r.fds[0] = a[0];
        r.fds[1] = b[0];
        assert_int_equal(loop_add_io(l, a[0], EPOLLIN, reusing_io, &r), 0);
        assert_int_equal(loop_add_io(l, b[0], EPOLLIN, reusing_io, &r), 0);

        assert_int_equal(loop_run_once(l, 1000), 2);
        assert_true(r.first_done);
        assert_int_equal(r.stale_calls, 0);
        /* The new watch works normally once its own data arrives. */
        assert_int_equal(write(r.fresh_write, "y", 1), 1);
        assert_true(loop_run_once(l, 1000) >= 1);
        assert_int_equal(r.stale_calls, 1);

        for (int i = 0; i < 2; i++) {
                (void) loop_del_io(l, r.fds[i]);
                close(r.fds[i]);
        }
        close(r.fresh_write);
}

typedef struct SigCtx {
        int got[4];
        size_t n;
        bool first, second;
} SigCtx;

static void on_signal(Loop *l, int signo, void *userdata) {
        SigCtx *c = userdata;
        if (c->n < ELEMENTSOF(c->got))
                c->got[c->n] = signo;
        c->n++;
        c->first = true;
        c->second = c->n >= 2;
}

static void test_signal_delivered_through_loop(void **state) {
        Loop *l = *state;
        SigCtx c = { 0 };
        assert_int_equal(loop_add_signal(l, SIGUSR1, on_signal, &c), 0);
        assert_int_equal(loop_add_signal(l, SIGUSR2, on_signal, &c), 0);
        /* One handler per signal: a second one is refused rather than called beside the first. */
        assert_int_equal(loop_add_signal(l, SIGUSR1, on_signal, &c), -EEXIST);
        assert_int_equal(loop_add_signal(l, 12345, on_signal, &c), -EINVAL);

        /* Blocked now: without the loop these would kill the test process. */
        assert_int_equal(kill(getpid(), SIGUSR1), 0);
        assert_true(run_until(l, &c.first, 1000));
        assert_int_equal(c.n, 1);
        assert_int_equal(c.got[0], SIGUSR1);
        assert_int_equal(raise(SIGUSR2), 0);
        assert_true(run_until(l, &c.second, 1000));
        assert_int_equal(c.n, 2);
        assert_int_equal(c.got[1], SIGUSR2);
}

static int prepare_10ms(Loop *l, void *userdata) {
        (*(unsigned *) userdata)++;
        return 10;
}

static void test_prepare_bounds_the_wait(void **state) {
        Loop *l = *state;
        unsigned calls = 0;
        assert_int_equal(loop_add_prepare(l, prepare_10ms, &calls), 0);
        uint64_t t0 = now_usec();
        /* -1 would sleep forever; the prepare hook says 10 ms. */
        assert_int_equal(loop_run_once(l, -1), 0);
        assert_int_equal(calls, 1);
        assert_true(now_usec() - t0 < 2 * USEC_PER_SEC);
}

static void quit_timer(Loop *l, void *userdata) {
        loop_quit(l, 42);
}

/* On the default clock (CLOCK_MONOTONIC), for real: loop_run sleeps until the timer and returns its code. */
static void test_run_until_quit(void **state) {
        Loop *l = *state;
        assert_false(loop_is_quitting(l));
        assert_int_equal(loop_add_timer(l, 5 * USEC_PER_MSEC, quit_timer, NULL, NULL), 0);
        /* Bounded by the timer; a safety timer far later is freed by loop_free unrun. */
        assert_int_equal(loop_add_timer(l, 60 * USEC_PER_SEC, quit_timer, NULL, NULL), 0);
        assert_int_equal(loop_run(l), 42);
        assert_true(loop_is_quitting(l));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_timers_fire_in_deadline_order, setup_fake_clock, teardown),
                cmocka_unit_test_setup_teardown(test_overdue_timers_run_once_in_one_round, setup_fake_clock, teardown),
                cmocka_unit_test_setup_teardown(test_timer_cancel, setup_fake_clock, teardown),
                cmocka_unit_test_setup_teardown(test_timer_rearming_itself_does_not_livelock, setup_fake_clock,
                                                teardown),
                cmocka_unit_test_setup_teardown(test_io_callback, setup, teardown),
                cmocka_unit_test_setup_teardown(test_io_stale_event_after_fd_reuse, setup, teardown),
                cmocka_unit_test_setup_teardown(test_signal_delivered_through_loop, setup, teardown),
                cmocka_unit_test_setup_teardown(test_prepare_bounds_the_wait, setup, teardown),
                cmocka_unit_test_setup_teardown(test_run_until_quit, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
