/* Parsers for chronyc's CSV output (-c): tracking, serverstats and clients. Pure functions over text that
 * came from a subprocess, so every field is checked and a malformed reply is an error, not a guess. */
#pragma once
#include <stdint.h>

typedef struct ChronyTracking {
        char ref_id[16];        /* hex reference id, e.g. 7F7F0101 for the local clock */
        int stratum;
        double system_offset;   /* seconds the system clock is off the reference (chronyd's view) */
        double last_offset, rms_offset;
        double root_delay, root_dispersion;
        char leap[32];          /* Normal, Insert second, Delete second, Not synchronised */
} ChronyTracking;

typedef struct ChronyServerStats {
        uint64_t ntp_received, ntp_dropped, cmd_received, cmd_dropped;
} ChronyServerStats;

int chrony_parse_tracking(const char *text, ChronyTracking *ret);
int chrony_parse_serverstats(const char *text, ChronyServerStats *ret);
/* Number of clients in `chronyc -c clients` output that sent at least one NTP packet. */
int chrony_count_ntp_clients(const char *text, unsigned *ret);
