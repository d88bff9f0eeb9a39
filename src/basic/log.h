/* Logging to stderr with level and source location; the daemon sets the threshold once at start.
 * Library code logs at debug only: the caller decides what is worth reporting. Never pass a secret. */
#pragma once
#include "basic/util.h"

typedef enum LogLevel {
        LOG_LEVEL_ERROR,
        LOG_LEVEL_WARN,
        LOG_LEVEL_INFO,
        LOG_LEVEL_DEBUG,
        _LOG_LEVEL_MAX,
        _LOG_LEVEL_INVALID = -EINVAL,
} LogLevel;

void log_set_level(LogLevel level);
LogLevel log_get_level(void);
LogLevel log_level_from_string(const char *s);
/* Returns -abs(error) when error is non-zero, so "return log_error_errno(r, ...)" works. */
int log_internal(LogLevel level, int error, const char *file, int line, const char *fmt, ...) _printf_(5, 6);

#define log_full(level, ...) log_internal(level, 0, __FILE__, __LINE__, __VA_ARGS__)
#define log_error(...) log_full(LOG_LEVEL_ERROR, __VA_ARGS__)
#define log_warn(...) log_full(LOG_LEVEL_WARN, __VA_ARGS__)
#define log_info(...) log_full(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_debug(...) log_full(LOG_LEVEL_DEBUG, __VA_ARGS__)
#define log_error_errno(e, ...) log_internal(LOG_LEVEL_ERROR, e, __FILE__, __LINE__, __VA_ARGS__)
#define log_warn_errno(e, ...) log_internal(LOG_LEVEL_WARN, e, __FILE__, __LINE__, __VA_ARGS__)
#define log_debug_errno(e, ...) log_internal(LOG_LEVEL_DEBUG, e, __FILE__, __LINE__, __VA_ARGS__)
