/* Fuzz harness for judging unbound remote-control replies (src/services/dns/unbound-ctl.c): any reply is
 * accepted only when it holds no error line and no NUL, and a refusal carries a short plain-ASCII message. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "services/dns/unbound-ctl.h"
#include "fuzz-input.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The reference reading: some line (start of the reply or after a newline) begins with "error". */
static bool has_error_line(const char *s, size_t len) {
        for (size_t i = 0; i + 5 <= len; i++)
                if ((i == 0 || s[i - 1] == '\n') && memcmp(s + i, "error", 5) == 0)
                        return true;
        return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        /* As unbound_ctl() holds a reply: the bytes read, NUL-terminated by the buffer. */
        char *text = fuzz_cstring(data, size);
        if (!text)
                return 0;
        bool nul = memchr(text, '\0', size) != NULL;

        PicError err = { 0 };
        memset(err.message, 'x', sizeof err.message);
        int r = unbound_ctl_reply_check(text, size, &err);
        if (r != 0 && r != -EBADMSG)
                abort();
        if ((r == 0) != (!nul && !has_error_line(text, size)))
                abort();
        if (r == 0) {
                if (unbound_ctl_reply_error(text))
                        abort();
        } else {
                size_t n = strnlen(err.message, sizeof err.message);
                if (n == sizeof err.message || n > strlen("unbound: ") + 400)
                        abort();
                for (size_t i = 0; i < n; i++)
                        if ((unsigned char) err.message[i] < 0x20 || (unsigned char) err.message[i] > 0x7e)
                                abort();
                if (strcmp(err.code, "rejected") != 0)
                        abort();
                /* The message quotes unbound's first error line, as far as it goes. */
                const char *e = unbound_ctl_reply_error(text);
                if (!nul && (!e || strncmp(err.message, "unbound: error", 14) != 0))
                        abort();
        }
        /* The error finder points into the reply, at a line start. */
        const char *e = unbound_ctl_reply_error(text);
        if (e && (e < text || e >= text + size || (e > text && e[-1] != '\n') || strncmp(e, "error", 5) != 0))
                abort();
        free(text);
        return 0;
}
