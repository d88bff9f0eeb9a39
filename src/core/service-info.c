/* Service health as users see it: a daemon that is failed or crash-looping (backoff), whose last reconcile
 * failed, or whose probe fails is unhealthy; a disabled module is not. */
#include "core/service-info.h"

#include <stddef.h>
#include <stdio.h>

#include "basic/fileio.h"
#include "basic/parse.h"
#include "basic/time-util.h"
#include "basic/util.h"

int process_rss_bytes(pid_t pid, uint64_t *ret) {
        char path[64];
        snprintf(path, sizeof path, "/proc/%d/status", (int) pid);
        _cleanup_free_ char *text = NULL;
        int r = read_file_full(path, 64 * 1024, &text, NULL);
        if (r < 0)
                return r;
        const char *p = strstr(text, "\nVmRSS:");
        if (!p)
                return -ENODATA;
        unsigned long long kb;
        if (sscanf(p + 7, " %llu kB", &kb) != 1)
                return -EBADMSG;
        *ret = (uint64_t) kb * 1024;
        return 0;
}

static void describe_exit(const ServiceStatus *st, char *buf, size_t size) {
        if (st->last_exit_signal)
                snprintf(buf, size, "killed by signal %d (%s)", st->last_exit_signal, strsignal(st->last_exit_signal));
        else
                snprintf(buf, size, "exited with status %d", st->last_exit_code);
}

#define PROBE_REUSE_USEC (2 * USEC_PER_SEC)

static int probe_cached(Cell *c, const ServiceOps *ops, const CellServiceInfo *i, PicError *err) {
        size_t idx = 0;
        while (idx < c->n_services && c->services[idx] != ops)
                idx++;
        if (idx >= ELEMENTSOF(c->probe_cache))
                return ops->probe(c, err);
        typeof(c->probe_cache[0]) *pc = &c->probe_cache[idx];
        uint64_t now = now_usec();
        if (pc->at_usec && now - pc->at_usec < PROBE_REUSE_USEC && pc->pid == i->status.pid &&
            pc->restarts == i->status.restarts && pc->state == (int) i->status.state)
                return 0;
        int r = ops->probe(c, err);
        /* Only a pass is reused: a daemon still starting must be seen healthy as soon as it is. */
        pc->at_usec = r >= 0 ? now : 0;
        pc->pid = i->status.pid;
        pc->restarts = i->status.restarts;
        pc->state = (int) i->status.state;
        return r;
}

void cell_service_info(Cell *c, const ServiceOps *ops, unsigned flags, CellServiceInfo *ret) {
        CellServiceInfo i;
        /* Not "= { ... }": that would clear the 512-byte problem text on every call. */
        memset(&i, 0, offsetof(CellServiceInfo, problem));
        i.problem[0] = '\0';
        i.has_process = ops->argv != NULL;
        i.healthy = true;
        snprintf(i.name, sizeof i.name, "%s", ops->name);
        const char *error = cell_service_error(c, ops->name);
        i.supervised = supervisor_status(c->supervisor, ops->name, &i.status) >= 0;

        if (ops->enabled && !ops->enabled(c) && !i.supervised) {
                i.state = "disabled";
                *ret = i;
                return;
        }
        if (i.has_process && !i.supervised) {
                /* Wanted but never handed to the supervisor: its config could not be written or checked. */
                i.state = *error ? "failed" : "stopped";
                i.healthy = false;
                snprintf(i.problem, sizeof i.problem, "%s", *error ? error : "not started");
                *ret = i;
                return;
        }
        if (i.supervised) {
                i.state = service_state_to_string(i.status.state);
                if (i.status.pid > 0 && (flags & CELL_INFO_MEMORY))
                        (void) process_rss_bytes(i.status.pid, &i.memory_bytes);
                char how[96] = "";
                /* Only an unhealthy service needs its last exit in words (this runs on every /health). */
                if (i.status.state == SERVICE_FAILED || i.status.state == SERVICE_BACKOFF)
                        describe_exit(&i.status, how, sizeof how);
                if (i.status.state == SERVICE_FAILED) {
                        i.healthy = false;
                        snprintf(i.problem, sizeof i.problem, "%s", i.status.failure[0] ? i.status.failure : how);
                } else if (i.status.state == SERVICE_BACKOFF) {
                        i.healthy = false;
                        snprintf(i.problem, sizeof i.problem, "%s; restarting (restart %u)", how, i.status.restarts + 1);
                } else if (i.status.state == SERVICE_STOPPED) {
                        i.healthy = false;
                        snprintf(i.problem, sizeof i.problem, "stopped");
                }
        } else
                i.state = *error ? "failed" : "running";
        if (i.healthy && *error) {
                i.healthy = false;
                snprintf(i.problem, sizeof i.problem, "%s", error);
        }
        bool live = !i.supervised || i.status.state == SERVICE_RUNNING;
        if (i.healthy && (flags & CELL_INFO_PROBE) && live && ops->probe) {
                PicError err = { 0 };
                int r = probe_cached(c, ops, &i, &err);
                if (r < 0) {
                        i.healthy = false;
                        snprintf(i.problem, sizeof i.problem, "%s", err.message[0] ? err.message : strerror(-r));
                        if (!i.supervised)
                                i.state = "failed";
                }
        }
        *ret = i;
}
