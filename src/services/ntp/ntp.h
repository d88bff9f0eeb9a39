/* The "ntp" service module: chronyd -x (serves time, never sets the host clock) on the NTP virtual IP for the
 * VPN subnet and ip_range; allowed networks follow the settings live through chronyc, never SIGHUP (it kills
 * chronyd). PIC_CHRONYD_BIN in picd's environment replaces /usr/sbin/chronyd (a test and operations knob). */
#pragma once
#include <jansson.h>

#include "core/cell.h"

#define NTP_SERVICE "ntp"

extern const ServiceOps svc_ntp_ops;

/* Stratum, offsets, reference, leap status, clients served and packet counters from chronyc (bounded time).
 * -EHOSTDOWN when chronyd is not running. *ret is a new reference. */
int ntp_status(Cell *c, json_t **ret, PicError *err);
