/* Logging backend: one line per message on stderr, "LEVEL file:line: text", with errno text appended.
 * stderr is line-buffered by the daemon so lines from picd and its children interleave whole. */
#include "basic/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <time.h>

static LogLevel max_level = LOG_LEVEL_INFO;
static const char *const level_names[_LOG_LEVEL_MAX] = { "error", "warn", "info", "debug" };

void log_set_level(LogLevel level) {
        if (level >= 0 && level < _LOG_LEVEL_MAX)
                max_level = level;
}

LogLevel log_get_level(void) {
        return max_level;
}

LogLevel log_level_from_string(const char *s) {
        for (int i = 0; i < _LOG_LEVEL_MAX; i++)
                if (streq(s, level_names[i]))
                        return i;
        return _LOG_LEVEL_INVALID;
}

int log_internal(LogLevel level, int error, const char *file, int line, const char *fmt, ...) {
        int r = error > 0 ? -error : error;
        if (level > max_level)
                return r;
        const char *base = strrchr(file, '/');
        char msg[2048];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof msg, fmt, ap);
        va_end(ap);
        if (r < 0)
                fprintf(stderr, "picd %s %s:%d: %s: %s\n", level_names[level], base ? base + 1 : file, line, msg,
                        strerror(-r));
        else
                fprintf(stderr, "picd %s %s:%d: %s\n", level_names[level], base ? base + 1 : file, line, msg);
        return r;
}
