/* Golden-file comparison for renderer tests: tests/unit/golden/NAME holds the expected text; running a test
 * with PIC_UPDATE_GOLDEN=1 rewrites the files instead (then review the diff). Header-only, test code only. */
#pragma once
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static inline char *golden_path(const char *name) {
        const char *src = getenv("PIC_SOURCE_DIR");
        size_t n = (src ? strlen(src) : 1) + strlen(name) + 32;
        char *p = malloc(n);
        snprintf(p, n, "%s/tests/unit/golden/%s", src ? src : ".", name);
        return p;
}

/* Compares text with the golden file; prints both on a mismatch. Returns 0 when equal. */
static inline int golden_check(const char *name, const char *text) {
        char *path = golden_path(name);
        if (getenv("PIC_UPDATE_GOLDEN")) {
                FILE *f = fopen(path, "w");
                if (f) {
                        fputs(text, f);
                        fclose(f);
                }
                free(path);
                return f ? 0 : -1;
        }
        FILE *f = fopen(path, "r");
        if (!f) {
                fprintf(stderr, "golden file %s missing (run with PIC_UPDATE_GOLDEN=1)\n", path);
                free(path);
                return -1;
        }
        char *want = calloc(1, 1 << 20);
        size_t n = fread(want, 1, (1 << 20) - 1, f);
        fclose(f);
        want[n] = '\0';
        int r = strcmp(want, text) == 0 ? 0 : -1;
        if (r < 0)
                fprintf(stderr, "%s differs.\n--- expected\n%s--- got\n%s---\n", path, want, text);
        free(want);
        free(path);
        return r;
}
