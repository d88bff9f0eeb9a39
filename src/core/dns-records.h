/* The cell's DNS data model: the zone name, the built-in service names, custom record validation and
 * normalisation, the CNAME graph (chains, loops, the grant a chain reaches), the text form of resource records
 * handed to unbound, and the record mutations (store → live server → commit). Pure functions except the
 * ones taking a Store or a Cell.
 *
 * Names (record names and CNAME/MX/SRV targets) follow one rule, as in zone files: a name ending in "." is
 * absolute; a name equal to the zone or ending in ".<zone>" is taken as absolute too (nobody means
 * www.mycell.cell.mycell.cell); anything else is relative to the zone; "@" is the zone apex. Record names
 * must lie inside the zone and are stored relative ("www", "@"); targets are stored absolute with a
 * trailing dot. Letters are folded to lower case. */
#pragma once
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "basic/error.h"
#include "core/cell.h"
#include "core/settings.h"
#include "core/registry.h"
#include "store/dns.h"

#define DNS_ZONE_MAX 254
#define DNS_TTL_DEFAULT 300
#define DNS_TTL_MAX 604800
#define DNS_TXT_MAX 1024
#define DNS_FORWARDERS_MAX 8
/* Longest CNAME chain inside the zone (unbound restarts a query at most 11 times: max-query-restarts). */
#define DNS_CNAME_CHAIN_MAX 8

typedef enum DnsType {
        DNS_TYPE_A,
        DNS_TYPE_AAAA,
        DNS_TYPE_CNAME,
        DNS_TYPE_TXT,
        DNS_TYPE_MX,
        DNS_TYPE_SRV,
        _DNS_TYPE_MAX,
        _DNS_TYPE_INVALID = -EINVAL,
} DnsType;

const char *dns_type_to_string(DnsType t);
/* Case-insensitive. */
DnsType dns_type_from_string(const char *s);

/* A relative name a service module publishes (the registry's DNS labels): custom records there would
 * shadow or contradict it. The apex is not one: it carries custom MX/TXT records next to its address. */
bool dns_name_is_builtin(const Registry *reg, const char *relname);

/* "<cell_name>.<domain>" from the applied settings, no trailing dot. */
int dns_zone_from_settings(Settings *s, char ret[static DNS_ZONE_MAX]);
/* Relative name ("@" for the apex) → absolute with trailing dot. */
int dns_fqdn(const char *zone, const char *relname, char *ret, size_t size);
/* a.b.c.d → "d.c.b.a.in-addr.arpa." */
void dns_reverse_name(uint32_t ip, char ret[static 32]);
/* A DHCP host name: one DNS label, folded to lower case into ret (64 bytes). */
int dns_hostname_normalize(const char *s, char ret[static 64]);

/* Validates and normalises a request body {name, type, value, ttl?} into ret (id/created_at untouched).
 * -EINVAL with the field named on any grammar error; nothing outside the grammars ever gets through. */
int dns_record_from_json(const char *zone, json_t *body, DnsRecord *ret, PicError *err);
/* Rules between records: built-in names, CNAME exclusivity (RFC 1034 3.6.2), no names below a CNAME (nor a
 * CNAME above existing names or below a service name), no CNAME loops, chains of at most
 * DNS_CNAME_CHAIN_MAX. -EEXIST with field "name" (or "value" for loops and chains). */
int dns_record_check_conflicts(Store *store, const Registry *reg, const char *zone, const DnsRecord *r,
                               PicError *err);
/* One line of unbound local data: "<fqdn> <ttl> IN <type> <value>" (TXT split into quoted strings). */
int dns_record_to_rr(const char *zone, const DnsRecord *r, char *ret, size_t size);
json_t *dns_record_to_json(const char *zone, const DnsRecord *r);

/* dns.forwarders: IPv4 addresses separated by spaces and/or commas; "" = none. */
int dns_forwarders_parse(const char *s, uint32_t ret[static DNS_FORWARDERS_MAX], size_t *ret_n);

/* The zone's CNAME records as a graph (a name has at most one CNAME). */
typedef struct DnsCname {
        char name[DNS_RECORD_NAME_MAX]; /* relative */
        char target[DNS_ZONE_MAX + 2];  /* absolute, trailing dot */
} DnsCname;
typedef struct DnsCnames {
        DnsCname *v;
        size_t n;
} DnsCnames;
int dns_cnames_load(Store *s, DnsCnames *ret);
void dns_cnames_done(DnsCnames *g);
/* The absolute target of relname's CNAME, or NULL when relname is no CNAME. */
const char *dns_cnames_target(const DnsCnames *g, const char *relname);
/* The grant bit of the service name a chain starting at relname ends at or below, or -1: views without that
 * grant must not answer the chain. */
int dns_cname_grant(const Registry *reg, const char *zone, const DnsCnames *g, const char *relname);
/* Calls fn for relname and then for every CNAME whose chain passes through relname (their answers change
 * when relname's data does). Stops at fn's first negative return. */
int dns_cnames_affected(const char *zone, const DnsCnames *g, const char *relname,
                        int (*fn)(const char *name, void *userdata), void *userdata);

/* POST /api/dns/records: validate, check conflicts, store and publish in the live server as one unit
 * (cell_mutate). -EINVAL/-EEXIST with the field named; -ECONNREFUSED when unbound is down for good (failed,
 * disabled); -EBADMSG with unbound's words when it refuses: then nothing is stored. While unbound is
 * (re)starting the record is stored and published by the re-apply that follows its start. */
int dns_record_add(Cell *c, json_t *body, DnsRecord *ret, PicError *err);
/* DELETE /api/dns/records/<id>: -EINVAL for a malformed id, -ENOENT for an unknown one. */
int dns_record_remove(Cell *c, const char *id, DnsRecord *ret, PicError *err);
