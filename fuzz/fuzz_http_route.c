/* Fuzz harness for the route matcher (src/http/routes.c): request paths come from the network, so any path
 * must match at most within bounds, and a parameter never contains '/' unless its pattern takes the rest. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/http.h"
#include "fuzz-input.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char *path = fuzz_cstring(data, size);
        if (!path)
                return 0;
        size_t n;
        const Route *routes = http_routes(&n);
        char scratch[1024];
        for (size_t i = 0; i < n; i++) {
                const char *params[4];
                size_t np = 0;
                if (!http_route_match(routes[i].pattern, path, params, &np, scratch, sizeof scratch))
                        continue;
                if (np > 4)
                        abort();
                bool rest = strstr(routes[i].pattern, "*}") != NULL;
                for (size_t k = 0; k < np; k++)
                        if (!params[k][0] || (!rest && strchr(params[k], '/')))
                                abort();
        }
        free(path);
        return 0;
}
