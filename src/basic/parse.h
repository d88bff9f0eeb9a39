/* Strict parsers and grammars for untrusted text: numbers, names, hostnames, domains, endpoints.
 * Every string that may reach a generated config passes one of these first (DESIGN.md security model). */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Decimal only, no sign, no spaces, no leading zeros beyond "0", within [min,max]. */
int parse_uint(const char *s, uint64_t min, uint64_t max, uint64_t *ret);

/* Name grammar of DESIGN.md: [a-z0-9][a-z0-9-]{0,62}. */
bool name_is_valid(const char *s);
/* One DNS label, case-insensitive letters allowed: [A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])? */
bool dns_label_is_valid(const char *s);
/* Dotted DNS name of valid labels, total ≤ 253, optional trailing dot; wildcard "*." first label if allowed. */
bool dns_name_is_valid(const char *s, bool allow_wildcard);
/* Host for an endpoint: a DNS name or an IPv4 address; optional ":port" (1-65535). */
bool endpoint_is_valid(const char *s);
/* Printable ASCII with none of the characters that could break out of a config line or string. */
bool config_text_is_safe(const char *s, size_t max_len);
