/* PicError: the human detail of a failure (code, offending field, message) that travels beside a negative
 * errno from core to the API. The caller owns it; functions fill it only when they fail. */
#pragma once
#include "basic/util.h"

typedef struct PicError {
        char code[32];     /* machine-readable: "invalid", "conflict", "not_found", ... */
        char field[96];    /* the request field at fault, "" when none */
        char message[512]; /* one sentence for a person */
} PicError;

/* Fills e (if non-NULL) and returns r (negative errno), so "return pic_error(e, -EINVAL, ...)" works. */
int pic_error(PicError *e, int r, const char *field, const char *fmt, ...) _printf_(4, 5);
/* The default code word for an errno, used when a caller gave none. */
const char *pic_error_code_from_errno(int r);
