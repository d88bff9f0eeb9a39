/* Clock helpers: monotonic microseconds for timers, wall-clock seconds for stored timestamps. */
#pragma once
#include <stdint.h>
#include <time.h>

#define USEC_PER_SEC UINT64_C(1000000)
#define USEC_PER_MSEC UINT64_C(1000)

static inline uint64_t now_usec(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * USEC_PER_SEC + (uint64_t) ts.tv_nsec / 1000;
}

static inline int64_t wall_sec(void) {
        return (int64_t) time(NULL);
}
