/* The "dns" service module: unbound serving the cell zone <cell_name>.<domain>, reverse zones for the
 * cell's ranges, per-peer views by access set, custom records and DHCP host names added at runtime through
 * unbound's control socket, upstream forwarders. See dns-render.h for the view design. */
#pragma once
#include "core/cell.h"
#include "store/dns.h"

extern const ServiceOps svc_dns_ops;
/* One unbound-control command now (forward_add, forward_remove, ...), when unbound is up with its runtime
 * state; otherwise 0, because its next start re-applies the same state. */
int svc_dns_control(Cell *c, const char *command, PicError *err);
