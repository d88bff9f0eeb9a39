/* Fuzz harness for the X-Forwarded-For entry parser (src/basic/netaddr.c ip_client_parse): the entry comes
 * from the network through a proxy, so any text must either be refused or give a canonical address. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "basic/netaddr.h"
#include "fuzz-input.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char *s = fuzz_cstring(data, size);
        if (!s)
                return 0;
        char ip[IP_STRLEN], again[IP_STRLEN];
        if (ip_client_parse(s, ip) == 0) {
                uint32_t v4;
                /* canonical: non-empty, an address of one family, and a fixed point of the parser */
                if (!ip[0] || strlen(ip) >= IP_STRLEN || (ipv4_parse(ip, &v4) < 0 && !ipv6_is_valid(ip)))
                        abort();
                if (ip_client_parse(ip, again) < 0 || strcmp(ip, again) != 0)
                        abort();
        }
        free(s);
        return 0;
}
