/* Loop: picd's single event loop (epoll) with fd watches, one-shot timers, signals via signalfd and
 * prepare hooks (for libraries such as libmicrohttpd that tell us their own timeout). Single-threaded. */
#pragma once
#include <stdbool.h>
#include <stdint.h>

typedef struct Loop Loop;
typedef struct LoopTimer LoopTimer;

typedef void (*loop_io_fn)(Loop *l, int fd, uint32_t events, void *userdata);
typedef void (*loop_timer_fn)(Loop *l, void *userdata);
typedef void (*loop_signal_fn)(Loop *l, int signo, void *userdata);
/* Called before every wait; returns the longest the loop may sleep in ms (-1: no limit). */
typedef int (*loop_prepare_fn)(Loop *l, void *userdata);

int loop_new(Loop **ret);
Loop *loop_free(Loop *l);

/* The clock timers run on, in microseconds (monotonic). Default: CLOCK_MONOTONIC. Tests inject a fake one and
 * move it forward themselves, so timer behaviour is checked exactly and without sleeping. fn NULL: the default. */
typedef uint64_t (*loop_clock_fn)(void *userdata);
void loop_set_clock(Loop *l, loop_clock_fn fn, void *userdata);
uint64_t loop_now(Loop *l);

/* events are EPOLLIN/EPOLLOUT/...; one watch per fd. */
int loop_add_io(Loop *l, int fd, uint32_t events, loop_io_fn fn, void *userdata);
int loop_mod_io(Loop *l, int fd, uint32_t events);
int loop_del_io(Loop *l, int fd);

/* One-shot timer usec after loop_now(); the returned handle is valid until it fires or is cancelled. A round of
 * loop_run_once runs only the timers that were due when it began, so one that re-arms itself with no delay waits
 * for the next round. */
int loop_add_timer(Loop *l, uint64_t usec, loop_timer_fn fn, void *userdata, LoopTimer **ret);
void loop_cancel_timer(Loop *l, LoopTimer *t);

/* Blocks signo for the process and delivers it through the loop. One handler per signal. */
int loop_add_signal(Loop *l, int signo, loop_signal_fn fn, void *userdata);
int loop_del_signal(Loop *l, int signo);
int loop_add_prepare(Loop *l, loop_prepare_fn fn, void *userdata);
int loop_del_prepare(Loop *l, loop_prepare_fn fn, void *userdata);

/* One iteration: wait at most max_wait_ms (-1 forever) and dispatch. */
int loop_run_once(Loop *l, int max_wait_ms);
/* Runs until loop_quit(); returns the code given to it. */
int loop_run(Loop *l);
void loop_quit(Loop *l, int code);
bool loop_is_quitting(Loop *l);
