/* For the fuzz harnesses: the input as the parsers get it, a NUL-terminated copy in a heap block of exactly
 * size + 1 bytes (so ASan sees a read past the end). Header-only. */
#pragma once
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static inline char *fuzz_cstring(const uint8_t *data, size_t size) {
        char *s = malloc(size + 1);
        if (!s)
                return NULL;
        memcpy(s, data, size);
        s[size] = '\0';
        return s;
}
