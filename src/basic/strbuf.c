/* StrBuf implementation: doubling growth bounded by max, sticky error so render code stays linear.
 * Pure memory work; no I/O. */
#include "basic/strbuf.h"

#include <stdarg.h>
#include <stdio.h>

#define STRBUF_DEFAULT_MAX ((size_t) 64 << 20)

static int strbuf_reserve(StrBuf *b, size_t extra) {
        if (b->error)
                return b->error;
        size_t max = b->max ? b->max : STRBUF_DEFAULT_MAX;
        if (extra > max || b->len + extra + 1 > max)
                return b->error = -E2BIG;
        if (b->len + extra + 1 <= b->cap)
                return 0;
        size_t ncap = b->cap ? b->cap : 256;
        while (ncap < b->len + extra + 1)
                ncap *= 2;
        char *n = realloc(b->data, ncap);
        if (!n)
                return b->error = -ENOMEM;
        b->data = n;
        b->cap = ncap;
        return 0;
}

int strbuf_append(StrBuf *b, const char *s, size_t n) {
        int r = strbuf_reserve(b, n);
        if (r < 0)
                return r;
        memcpy(b->data + b->len, s, n);
        b->len += n;
        b->data[b->len] = '\0';
        return 0;
}

int strbuf_puts(StrBuf *b, const char *s) {
        return strbuf_append(b, s, strlen(s));
}

int strbuf_printf(StrBuf *b, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(NULL, 0, fmt, ap);
        va_end(ap);
        if (n < 0)
                return b->error = -EINVAL;
        int r = strbuf_reserve(b, (size_t) n);
        if (r < 0)
                return r;
        va_start(ap, fmt);
        vsnprintf(b->data + b->len, (size_t) n + 1, fmt, ap);
        va_end(ap);
        b->len += (size_t) n;
        return 0;
}

void strbuf_done(StrBuf *b) {
        free(b->data);
        *b = (StrBuf) { .max = b->max };
}

char *strbuf_steal(StrBuf *b) {
        if (b->error) {
                strbuf_done(b);
                return NULL;
        }
        if (!b->data && strbuf_reserve(b, 0) < 0)
                return NULL;
        if (b->len == 0)
                b->data[0] = '\0';
        char *s = b->data;
        *b = (StrBuf) { .max = b->max };
        return s;
}

int strdup_printf(char **ret, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(NULL, 0, fmt, ap);
        va_end(ap);
        *ret = n >= 0 ? malloc((size_t) n + 1) : NULL;
        if (!*ret)
                return -1;
        va_start(ap, fmt);
        vsnprintf(*ret, (size_t) n + 1, fmt, ap);
        va_end(ap);
        return n;
}
