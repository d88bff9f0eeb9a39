/* Fuzz harness for the WebDAV path checks picd makes for the files service (src/services/files/davpath.c):
 * arbitrary request paths and Destination headers never crash them, and what they accept never climbs. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz-input.h"
#include "services/files/davpath.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A normalized path starts with "/", has no "." or ".." segment, no "//" and no control character. */
static void must_be_normal(const char *p) {
        if (p[0] != '/' || strstr(p, "//") || strstr(p, "/./") || strstr(p, "/../"))
                abort();
        size_t n = strlen(p);
        if ((n >= 2 && strcmp(p + n - 2, "/.") == 0) || (n >= 3 && strcmp(p + n - 3, "/..") == 0))
                abort();
        for (const char *c = p; *c; c++)
                if ((unsigned char) *c < 0x20 || *c == 0x7f)
                        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char *s = fuzz_cstring(data, size);
        if (!s)
                return 0;
        char out[DAVPATH_MAX];
        if (davpath_normalize(s, out, sizeof out) == 0) {
                must_be_normal(out);
                /* Normalizing is idempotent once no escape is left to decode. */
                char again[DAVPATH_MAX];
                if (!strpbrk(out, "%?#") && (davpath_normalize(out, again, sizeof again) != 0 || strcmp(out, again) != 0))
                        abort();
        }
        if (davpath_destination(s, "files.c.cell", out, sizeof out) == 0)
                must_be_normal(out);
        if (davpath_folder_is_valid(s) && (strstr(s, "..") == s || strstr(s, "/..") || strchr(s, '"') || strchr(s, '\\')))
                abort();
        (void) davpath_under(s, "/shared");
        (void) davpath_method_reads(s);
        free(s);
        return 0;
}
