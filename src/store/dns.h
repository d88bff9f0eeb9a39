/* Stored custom DNS records (table dns_records, schema 2): the DnsRecord value and its typed accessors.
 * Names are stored relative to the cell zone ("www", "@" for the apex) so renaming the cell moves them. */
#pragma once
#include <stdint.h>

#include "store/store.h"

#define DNS_RECORD_NAME_MAX 254  /* relative name + NUL */
#define DNS_RECORD_VALUE_MAX 1100 /* canonical value + NUL (TXT allows 1024 characters) */

typedef struct DnsRecord {
        int64_t id;
        char name[DNS_RECORD_NAME_MAX];
        char type[8];
        char value[DNS_RECORD_VALUE_MAX];
        uint32_t ttl;
        int64_t created_at;
} DnsRecord;

/* Fills r->id. -EEXIST when the same (name, type, value) is stored already. */
int store_dns_record_insert(Store *s, DnsRecord *r);
/* -ENOENT when no such id. */
int store_dns_record_delete(Store *s, int64_t id);
int store_dns_record_get(Store *s, int64_t id, DnsRecord *ret);
typedef int (*store_dns_record_fn)(const DnsRecord *r, void *userdata); /* return <0 to stop */
/* Every record in id order. */
int store_dns_record_foreach(Store *s, store_dns_record_fn fn, void *userdata);
/* The records stored at one relative name, in id order. */
int store_dns_record_foreach_name(Store *s, const char *name, store_dns_record_fn fn, void *userdata);
int store_dns_record_count(Store *s, int64_t *ret);
