/* The network self-test behind POST /api/network/test: real checks from inside the cell's network (a DNS query
 * per service name, an NTP request, DHCP's socket, the bridge, WireGuard), each with its result and timing. */
#pragma once
#include <jansson.h>

#include "core/cell.h"

/* {"ok": all non-skipped checks passed, "ms": total, "checks": [{name, ok, ms, detail[, skipped]}]}.
 * A check whose service is not part of this cell has "ok": null and "skipped" with the reason. */
int network_test_run(Cell *c, json_t **ret);
