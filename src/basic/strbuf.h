/* StrBuf: a growable, NUL-terminated text buffer with a hard cap, for rendering configs and replies.
 * The owner frees it with strbuf_done(); strbuf_steal() hands the text to the caller. */
#pragma once
#include <stddef.h>

#include "basic/util.h"

typedef struct StrBuf {
        char *data;
        size_t len, cap, max; /* max 0 means the default cap of 64 MiB */
        int error;            /* first failure (-ENOMEM, -E2BIG); sticky so callers check once */
} StrBuf;

#define STRBUF_INIT { 0 }

int strbuf_append(StrBuf *b, const char *s, size_t n);
int strbuf_puts(StrBuf *b, const char *s);
int strbuf_printf(StrBuf *b, const char *fmt, ...) _printf_(2, 3);
/* A formatted string in a new allocation (caller frees): its length, or -1 (and *ret NULL) when out of memory. */
int strdup_printf(char **ret, const char *fmt, ...) _printf_(2, 3);
void strbuf_done(StrBuf *b);
/* Returns the text (never NULL on success) and resets the buffer; NULL if an append failed. */
char *strbuf_steal(StrBuf *b);
