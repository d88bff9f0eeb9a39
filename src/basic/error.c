/* Filling PicError and the errno → code-word table shared by every layer.
 * HTTP status mapping lives in src/http (the only layer that knows HTTP). */
#include "basic/error.h"

#include <stdarg.h>
#include <stdio.h>

const char *pic_error_code_from_errno(int r) {
        switch (-r) {
        case EINVAL:
                return "invalid";
        case ENOENT:
                return "not_found";
        case EEXIST:
        case EBUSY:
                return "conflict";
        case EXFULL: /* a pool the cell hands out from (VPN addresses) has nothing left: not the disk */
                return "exhausted";
        case ENOSPC:
        case EDQUOT:
                return "insufficient_storage";
        case EADDRNOTAVAIL:
                return "not_configured";
        case EACCES:
                return "unauthorized";
        case EPERM:
                return "forbidden";
        case E2BIG:
        case EMSGSIZE:
                return "too_large";
        case EBADMSG:
                return "rejected";
        case EHOSTDOWN:
        case ECONNREFUSED:
        case ENOTCONN:
                return "unavailable";
        case EAGAIN:
                return "rate_limited";
        default:
                return "internal";
        }
}

int pic_error(PicError *e, int r, const char *field, const char *fmt, ...) {
        if (!e)
                return r;
        snprintf(e->code, sizeof e->code, "%s", pic_error_code_from_errno(r));
        snprintf(e->field, sizeof e->field, "%s", field ? field : "");
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(e->message, sizeof e->message, fmt, ap);
        va_end(ap);
        return r;
}
