/* What a person asks about a managed service: its state, process, memory, restarts, last exit and health
 * (supervisor state plus the module's probe). Shared by /api/services and /health. */
#pragma once
#include <stdbool.h>
#include <stdint.h>

#include "core/cell.h"

typedef struct CellServiceInfo {
        char name[64];
        bool has_process;      /* a daemon (argv) rather than host-side state such as the bridge */
        bool supervised;       /* the supervisor knows it: status is valid */
        ServiceStatus status;
        const char *state;     /* running, stopped, stopping, backoff, failed, disabled */
        uint64_t memory_bytes; /* VmRSS of the daemon, 0 when none */
        bool healthy;
        char problem[512];     /* why it is not healthy, "" when it is */
} CellServiceInfo;

enum {
        CELL_INFO_PROBE = 1 << 0,  /* run the module's probe (its result is reused for up to 2 s) */
        CELL_INFO_MEMORY = 1 << 1, /* read the daemon's VmRSS */
};

/* Fills ret for a registered module; flags choose the costlier parts. */
void cell_service_info(Cell *c, const ServiceOps *ops, unsigned flags, CellServiceInfo *ret);
/* VmRSS of pid in bytes; negative errno if it cannot be read. */
int process_rss_bytes(pid_t pid, uint64_t *ret);
