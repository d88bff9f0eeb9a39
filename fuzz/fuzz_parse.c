/* Fuzz harness for the strict grammars and CIDR parsers (src/basic/parse.c, netaddr.c): arbitrary bytes
 * must never crash them, and anything they accept must be free of config-breaking characters. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "basic/netaddr.h"
#include "basic/parse.h"
#include "fuzz-input.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void must_be_clean(const char *s) {
        for (const char *p = s; *p; p++)
                if (strchr("\n\r\"'{};#\\", *p) || (unsigned char) *p < 0x20 || (unsigned char) *p > 0x7e)
                        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char *s = fuzz_cstring(data, size);
        if (!s)
                return 0;
        uint64_t v;
        (void) parse_uint(s, 0, UINT64_MAX, &v);
        if (name_is_valid(s))
                must_be_clean(s);
        if (dns_name_is_valid(s, true))
                must_be_clean(s);
        if (endpoint_is_valid(s))
                must_be_clean(s);
        if (config_text_is_safe(s, 4096))
                must_be_clean(s);
        uint32_t ip;
        if (ipv4_parse(s, &ip) == 0) {
                char back[IPV4_STRLEN];
                if (strcmp(ipv4_format(ip, back), s) != 0)
                        abort(); /* one address, one spelling */
        }
        Cidr4 c;
        if (cidr4_parse(s, false, &c) == 0) {
                if (c.prefix > 32)
                        abort();
                (void) cidr4_is_rfc1918(&c);
                (void) cidr4_host(&c, 5, &ip);
        }
        free(s);
        return 0;
}
