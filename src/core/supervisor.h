/* Supervisor: runs managed daemons as direct children (argv, never a shell), optionally inside the cell's
 * network namespace; captures their output, restarts with backoff, detects crash loops, stops TERM→KILL.
 * The Supervisor owns copies of every spec it is given; status snapshots are plain values. */
#pragma once
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "core/loop.h"

typedef struct Supervisor Supervisor;

typedef enum ServiceState {
        SERVICE_STOPPED,  /* never started, or stopped on request */
        SERVICE_RUNNING,  /* process alive */
        SERVICE_BACKOFF,  /* exited unexpectedly, waiting to be restarted */
        SERVICE_STOPPING, /* SIGTERM sent, waiting (SIGKILL after stop_timeout) */
        SERVICE_FAILED,   /* crash loop detected or exec impossible: not restarted until asked */
        _SERVICE_STATE_MAX,
        _SERVICE_STATE_INVALID = -EINVAL,
} ServiceState;

const char *service_state_to_string(ServiceState s);

typedef struct ServiceSpec {
        const char *name;          /* unique, name grammar */
        char *const *argv;         /* argv[0] is an absolute path; NULL-terminated */
        char *const *env;          /* extra "KEY=value" entries added to a minimal environment; may be NULL */
        bool in_netns;             /* enter the supervisor's network namespace before exec */
        const char *user;          /* a system user (not root) to run as, with its groups; NULL = root. The child
                                    * changes user after entering the namespace and before exec, sets
                                    * no_new_privs, and keeps the parent-death signal; add fails (-ENOENT) for an
                                    * unknown user, -EPERM for one with uid or a group 0 */
        bool user_group_only;      /* with user: its primary group alone, none of the groups /etc/group adds */
        uint64_t ambient_caps;     /* with user: the capabilities (bit n = capability n, <linux/capability.h>) the
                                    * daemon keeps across the change of user as ambient ones, and nothing else (the
                                    * bounding set shrinks to them too); 0 = none. -EINVAL without a user */
        uint64_t stop_timeout_usec;   /* SIGTERM → SIGKILL; 0 = 5 s */
        uint64_t restart_delay_usec;  /* first backoff; doubles per quick crash up to 30 s; 0 = 200 ms */
        unsigned crash_loop_max;      /* this many quick exits within crash_loop_window → FAILED; 0 = 5 */
        uint64_t crash_loop_window_usec; /* 0 = 60 s */
} ServiceSpec;

typedef struct ServiceStatus {
        ServiceState state;
        pid_t pid;             /* 0 when not running */
        int64_t started_at;    /* wall-clock seconds of the current/last start, 0 if never */
        unsigned restarts;     /* automatic restarts since added */
        int last_exit_code;    /* exit status, or -1 */
        int last_exit_signal;  /* terminating signal, or 0 */
        int64_t last_exit_at;  /* wall-clock seconds, 0 if never exited */
        char failure[256];     /* why FAILED, "" otherwise */
} ServiceStatus;

/* Called after every state change (e.g. RUNNING after a restart, so a service module can re-apply runtime
 * state such as unbound's local data). */
typedef void (*supervisor_state_fn)(Supervisor *s, const char *name, ServiceState state, void *userdata);

/* netns_fd: an open /run/netns/NAME (or any netns) fd the supervisor dup()s; -1 for none. */
int supervisor_new(Loop *loop, int netns_fd, Supervisor **ret);
/* Stops every child (TERM, then KILL after each one's timeout), reaps them, frees. */
Supervisor *supervisor_free(Supervisor *s);

int supervisor_set_state_callback(Supervisor *s, supervisor_state_fn fn, void *userdata);
/* Keep "<name>.pid" records in dir (absolute) and give every child the environment entry
 * PIC_SUPERVISOR=<dir>, so a later start can find the daemons an earlier, killed picd left running (daemons
 * that drop privileges lose the parent-death signal). Before any supervisor_add; -EBUSY after. */
int supervisor_set_pid_dir(Supervisor *s, const char *dir);
/* Before the first start: stops (TERM, KILL after 3 s) every process with this dir's marker, with a pid record
 * there, or in the session of one of those, and removes the records. The caller makes sure no live supervisor
 * uses the same dir (picd holds a lock on its state dir). -EBUSY once a child runs. *ret_found (may be NULL):
 * how many processes were stopped. */
int supervisor_stop_leftovers(Supervisor *s, size_t *ret_found);
/* Forks a guardian that outlives a killed picd just long enough to stop (TERM, KILL after 3 s) every process with
 * the marker: daemons that dropped privileges lose the parent-death signal, this makes them die with picd all the
 * same. It keeps keep_fd (picd's state-dir lock; -1 for none) open until it is done, and closes all else of picd's.
 * supervisor_free dismisses it. Needs a pid dir. */
int supervisor_guard(Supervisor *s, int keep_fd);

/* Registers a service (copying spec) without starting it. -EEXIST for a duplicate name. */
int supervisor_add(Supervisor *s, const ServiceSpec *spec);
/* Stops (if running) and forgets a service. */
int supervisor_remove(Supervisor *s, const char *name);
/* Starts a STOPPED/FAILED/BACKOFF service now (clears the crash-loop history). */
int supervisor_start(Supervisor *s, const char *name);
/* Asynchronous stop: TERM now, KILL after the timeout; state becomes STOPPED when reaped. */
int supervisor_stop(Supervisor *s, const char *name);
/* Stop, then start as soon as the old process is reaped. Counts as a restart. */
int supervisor_restart(Supervisor *s, const char *name);
/* Synchronous stop of every child for shutdown: runs the loop until all are reaped (bounded by timeouts). */
void supervisor_stop_all(Supervisor *s);
/* The same without running the loop, for callers inside a loop callback (an API request): a nested loop
 * would dispatch other events, that request included, again. Polls waitpid; SIGKILL after the timeout. */
void supervisor_stop_all_blocking(Supervisor *s);

int supervisor_status(Supervisor *s, const char *name, ServiceStatus *ret);
/* Names in registration order; the array and strings belong to the supervisor, valid until add/remove. */
size_t supervisor_list(Supervisor *s, const char *const **ret_names);
/* Last n lines (n ≤ 10000) of the service's captured stdout+stderr, joined with '\n'. Caller frees. */
int supervisor_logs(Supervisor *s, const char *name, unsigned n, char **ret);
