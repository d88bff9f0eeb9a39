/* For unit tests that start children writing their pid to a file: a bounded poll for it. Header-only, test
 * code only. */
#pragma once
#include <stdbool.h>
#include <stdio.h>
#include <unistd.h>

#include "basic/time-util.h"

/* Polls path (bounded by timeout_ms) until a child wrote its pid there; 0 if none came. */
static inline pid_t read_pid_file(const char *path, unsigned timeout_ms) {
        uint64_t deadline = now_usec() + timeout_ms * USEC_PER_MSEC;
        while (now_usec() < deadline) {
                FILE *p = fopen(path, "re");
                int pid = 0;
                if (p) {
                        bool ok = fscanf(p, "%d", &pid) == 1;
                        fclose(p);
                        if (ok && pid > 0)
                                return pid;
                }
                usleep(5000);
        }
        return 0;
}
