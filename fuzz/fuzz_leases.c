/* Fuzz harness for dnsmasq's lease file parser (src/services/dhcp/leases.c): DHCP clients choose the host
 * names and client ids in that file, so arbitrary bytes must never crash it, and every lease it returns must
 * carry only grammar-clean fields. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "basic/parse.h"
#include "services/dhcp/leases.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        DhcpLease *v = NULL;
        size_t n = 0;
        if (dhcp_leases_parse((const char *) data, size, 0, &v, &n) < 0)
                return 0;
        for (size_t i = 0; i < n; i++) {
                if (v[i].hostname[0] && !dns_label_is_valid(v[i].hostname))
                        abort();
                if (strlen(v[i].mac) != 17)
                        abort();
        }
        free(v);
        return 0;
}
