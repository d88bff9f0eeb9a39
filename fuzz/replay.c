/* Standalone driver for the fuzz harnesses: replays every file of a corpus directory and then a bounded
 * number of pseudo-random mutations of them, so ordinary CI (and the sanitizer build) exercises each
 * harness without libFuzzer. With clang -fsanitize=fuzzer the harness links libFuzzer's main instead. */
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define SEED_MAX ((size_t) 1 << 20)
#define MUTANT_MAX ((size_t) 64 << 10)

static uint64_t rng = 0x9e3779b97f4a7c15u;
static uint64_t next(void) {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        return rng;
}

/* The input under test, written out by the crash handler so a failure found by a mutation can be replayed. */
static const uint8_t *current;
static size_t current_len;

static void on_crash(int sig) {
        int fd = open("replay-crash.bin", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd >= 0) {
                for (size_t off = 0; off < current_len;) {
                        ssize_t k = write(fd, current + off, current_len - off);
                        if (k <= 0)
                                break;
                        off += (size_t) k;
                }
                close(fd);
        }
        static const char msg[] = "replay: the failing input is in replay-crash.bin\n";
        (void) !write(2, msg, sizeof msg - 1);
        signal(sig, SIG_DFL);
        raise(sig);
}

/* Every input is handed over in a heap block of exactly its size, as libFuzzer does: a parser that reads
 * one byte past the end then trips ASan instead of reading the slack of a larger buffer. */
static void run_one(const uint8_t *data, size_t len) {
        uint8_t *copy = malloc(len ? len : 1);
        if (!copy) {
                perror("malloc");
                exit(2);
        }
        memcpy(copy, data, len);
        current = copy;
        current_len = len;
        LLVMFuzzerTestOneInput(copy, len);
        current = NULL;
        current_len = 0;
        free(copy);
}

static int cmp_name(const void *a, const void *b) {
        return strcmp(*(char *const *) a, *(char *const *) b);
}

int main(int argc, char **argv) {
        if (argc < 2) {
                fprintf(stderr, "usage: %s CORPUS_DIR [ITERATIONS]\n", argv[0]);
                return 2;
        }
        long iterations = argc > 2 ? strtol(argv[2], NULL, 10) : 20000;
        signal(SIGABRT, on_crash);
        signal(SIGSEGV, on_crash);
        DIR *d = opendir(argv[1]);
        if (!d) {
                perror(argv[1]);
                return 2;
        }
        /* Read in name order so a run is the same on every file system. */
        char *names[256];
        size_t n_names = 0;
        struct dirent *de;
        while ((de = readdir(d)) && n_names < 256)
                if (de->d_name[0] != '.')
                        names[n_names++] = strdup(de->d_name);
        closedir(d);
        qsort(names, n_names, sizeof *names, cmp_name);

        uint8_t *seeds[256];
        size_t lens[256], n = 0;
        for (size_t i = 0; i < n_names; i++) {
                char path[4096];
                snprintf(path, sizeof path, "%s/%s", argv[1], names[i]);
                free(names[i]);
                FILE *f = fopen(path, "rb");
                if (!f) {
                        perror(path);
                        return 2;
                }
                uint8_t *buf = malloc(SEED_MAX);
                size_t len = buf ? fread(buf, 1, SEED_MAX, f) : 0;
                fclose(f);
                if (!buf || len == SEED_MAX) {
                        fprintf(stderr, "%s: seed larger than %zu bytes\n", path, SEED_MAX - 1);
                        return 2;
                }
                run_one(buf, len);
                uint8_t *fit = realloc(buf, len ? len : 1);
                seeds[n] = fit ? fit : buf;
                lens[n++] = len;
        }
        if (n == 0) {
                fprintf(stderr, "%s: empty corpus\n", argv[1]);
                return 2;
        }
        uint8_t *scratch = malloc(MUTANT_MAX);
        if (!scratch)
                return 2;
        for (long i = 0; i < iterations; i++) {
                size_t k = next() % n, len = lens[k] < MUTANT_MAX ? lens[k] : MUTANT_MAX;
                memcpy(scratch, seeds[k], len);
                int edits = 1 + (int) (next() % 4);
                for (int e = 0; e < edits; e++) {
                        switch (next() % 5) {
                        case 0: /* flip a byte */
                                if (len)
                                        scratch[next() % len] ^= (uint8_t) (1u << (next() % 8));
                                break;
                        case 1: /* insert an interesting byte */
                                if (len < MUTANT_MAX) {
                                        static const uint8_t interesting[] = { 0, '\n', '"', '{', '}', ';', '#', '.', '/',
                                                                               ':', '-', '0', '9', 0xff, 0xc3, ',', '=',
                                                                               ' ', '\t', 'e' };
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
                        case 3: /* overwrite a run with digits: huge numbers */
                                if (len) {
                                        size_t at = next() % len, run = 1 + next() % 24;
                                        for (size_t j = at; j < len && j < at + run; j++)
                                                scratch[j] = (uint8_t) ('0' + next() % 10);
                                }
                                break;
                        default: /* duplicate a run */
                                if (len && len * 2 < MUTANT_MAX) {
                                        memcpy(scratch + len, scratch, len);
                                        len *= 2;
                                }
                        }
                }
                run_one(scratch, len);
        }
        free(scratch);
        for (size_t i = 0; i < n; i++)
                free(seeds[i]);
        printf("%s: %zu seeds, %ld mutations: no crash\n", argv[0], n, iterations);
        return 0;
}
