/* Fuzz harness for the DNS record grammar (src/core/dns-records.c) and the forwarders list: input is
 * "name\ntype\nvalue" of arbitrary bytes. Whatever is accepted must render to one unbound data line that
 * fits the control protocol and holds nothing that could end a line, a quoted string or a config block. */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/dns-records.h"
#include "fuzz-input.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_line(const char *line, bool txt) {
        size_t n = strlen(line), quotes = 0;
        if (n >= 2000)
                abort();
        for (const unsigned char *p = (const unsigned char *) line; *p; p++) {
                if (*p < 0x20 || *p > 0x7e || strchr("\\{}", *p))
                        abort();
                if (*p == '"')
                        quotes++;
                if (!txt && strchr("\";#'", *p))
                        abort();
        }
        if (quotes % 2)
                abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        const char *parts[3] = { "", "", "" };
        size_t lens[3] = { 0, 0, 0 };
        const char *p = (const char *) data, *end = p + size;
        for (int i = 0; i < 3 && p <= end; i++) {
                const char *nl = i < 2 ? memchr(p, '\n', (size_t) (end - p)) : NULL;
                parts[i] = p;
                lens[i] = nl ? (size_t) (nl - p) : (size_t) (end - p);
                p += lens[i] + 1;
        }
        json_t *body = json_object();
        /* _nocheck: let invalid UTF-8 and NUL reach the grammar, as a hostile client's bytes could. */
        json_object_set_new(body, "name", json_stringn_nocheck(parts[0], lens[0]));
        json_object_set_new(body, "type", json_stringn_nocheck(parts[1], lens[1]));
        json_object_set_new(body, "value", json_stringn_nocheck(parts[2], lens[2]));
        DnsRecord r = { 0 };
        PicError err = { 0 };
        if (dns_record_from_json("mycell.cell", body, &r, &err) == 0) {
                char line[4096];
                if (dns_record_to_rr("mycell.cell", &r, line, sizeof line) < 0)
                        abort();
                check_line(line, strcmp(r.type, "TXT") == 0);
                check_line(r.name, false);
        }
        json_decref(body);

        char *s = fuzz_cstring(data, size);
        if (!s)
                return 0;
        uint32_t ips[DNS_FORWARDERS_MAX];
        size_t n;
        if (dns_forwarders_parse(s, ips, &n) == 0 && n > DNS_FORWARDERS_MAX)
                abort();
        free(s);
        return 0;
}
