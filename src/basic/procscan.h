/* procscan: finds processes by what they carry (an environment entry, a session) rather than by a remembered pid,
 * and stops them TERM→KILL through pidfds, so a pid reused in between is never signalled. */
#pragma once
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* The process' start time in clock ticks since boot (field 22 of /proc/PID/stat) and its state letter; together
 * with the pid it names one process for good. */
int proc_starttime(pid_t pid, unsigned long long *ret_starttime, char *ret_state);

/* Stops every process (never the caller, never a zombie) that
 *   - has env_entry ("KEY=value", matched exactly) in its environment (NULL: none), or
 *   - is one of pids[i] still started at starttimes[i] (e.g. from pid records), or
 *   - shares the session of one of those (a daemon's helpers, or a daemon that rewrote its environment),
 * except any process in the caller's own session. SIGTERM first, SIGKILL after term_usec, then waits kill_usec at
 * most. *ret_found (may be NULL) is how many processes were signalled (each once); returns -errno only when
 * /proc cannot be read. */
int proc_stop_matching(const char *env_entry, const pid_t *pids, const unsigned long long *starttimes, size_t n_pids,
                       uint64_t term_usec, uint64_t kill_usec, size_t *ret_found);
