/* Standalone driver for the fuzz harnesses: replays every file of a corpus directory and then a bounded
 * number of pseudo-random mutations of them, so ordinary CI (and the sanitizer build) exercises each
 * harness without libFuzzer. With clang -fsanitize=fuzzer the harness links libFuzzer's main instead. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint64_t rng = 0x9e3779b97f4a7c15u;
static uint64_t next(void) {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        return rng;
}

int main(int argc, char **argv) {
        if (argc < 2) {
                fprintf(stderr, "usage: %s CORPUS_DIR [ITERATIONS]\n", argv[0]);
                return 2;
        }
        long iterations = argc > 2 ? strtol(argv[2], NULL, 10) : 20000;
        DIR *d = opendir(argv[1]);
        if (!d) {
                perror(argv[1]);
                return 2;
        }
        uint8_t *seeds[256];
        size_t lens[256], n = 0;
        struct dirent *de;
        while ((de = readdir(d)) && n < 256) {
                if (de->d_name[0] == '.')
                        continue;
                char path[4096];
                snprintf(path, sizeof path, "%s/%s", argv[1], de->d_name);
                FILE *f = fopen(path, "rb");
                if (!f)
                        continue;
                uint8_t *buf = malloc(65536);
                size_t len = fread(buf, 1, 65536, f);
                fclose(f);
                LLVMFuzzerTestOneInput(buf, len);
                seeds[n] = buf;
                lens[n++] = len;
        }
        closedir(d);
        uint8_t scratch[4096];
        for (long i = 0; i < iterations && n > 0; i++) {
                size_t k = next() % n, len = lens[k] < sizeof scratch ? lens[k] : sizeof scratch;
                memcpy(scratch, seeds[k], len);
                int edits = 1 + (int) (next() % 4);
                for (int e = 0; e < edits; e++) {
                        switch (next() % 4) {
                        case 0: /* flip a byte */
                                if (len)
                                        scratch[next() % len] ^= (uint8_t) (1u << (next() % 8));
                                break;
                        case 1: /* insert an interesting byte */
                                if (len < sizeof scratch) {
                                        static const uint8_t interesting[] = { 0, '\n', '"', '{', '}', ';', '#', '.',
                                                                               '/', ':', '-', '0', '9', 0xff, 0xc3 };
                                        size_t at = len ? next() % (len + 1) : 0;
                                        memmove(scratch + at + 1, scratch + at, len - at);
                                        scratch[at] = interesting[next() % sizeof interesting];
                                        len++;
                                }
                                break;
                        case 2: /* truncate */
                                if (len)
                                        len = next() % len;
                                break;
                        default: /* duplicate a run */
                                if (len && len * 2 < sizeof scratch) {
                                        memcpy(scratch + len, scratch, len);
                                        len *= 2;
                                }
                        }
                }
                LLVMFuzzerTestOneInput(scratch, len);
        }
        for (size_t i = 0; i < n; i++)
                free(seeds[i]);
        printf("%s: %zu seeds, %ld mutations: no crash\n", argv[0], n, iterations);
        return 0;
}
