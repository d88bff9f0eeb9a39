/* The "dns" service module: unbound serving the cell zone <cell_name>.<domain>, reverse zones for the
 * cell's ranges, per-peer views by access set, custom records and DHCP host names added at runtime through
 * unbound's control socket, upstream forwarders. See dns-render.h for the view design. */
#pragma once
#include <jansson.h>

#include "core/cell.h"
#include "store/dns.h"

extern const ServiceOps svc_dns_ops;

/* POST /api/dns/records: validate, check conflicts, store and add to the live server as one unit.
 * -EINVAL/-EEXIST with the field named; -ECONNREFUSED when unbound is down for good (failed, disabled);
 * -EBADMSG with unbound's words when it refuses: then nothing is stored. While unbound is (re)starting the
 * record is stored and published by the re-apply that follows its start. */
int dns_record_add(Cell *c, json_t *body, DnsRecord *ret, PicError *err);
/* DELETE /api/dns/records/<id>: -EINVAL for a malformed id, -ENOENT for an unknown one. */
int dns_record_remove(Cell *c, const char *id, DnsRecord *ret, PicError *err);
