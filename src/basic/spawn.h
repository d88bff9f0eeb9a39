/* spawn_capture(): runs one short command (argv, never a shell) to completion with a deadline and collects
 * its stdout+stderr, for daemon checkers and control clients (dnsmasq --test, chronyd -p, chronyc). */
#pragma once
#include <stddef.h>
#include <stdint.h>

/* Runs argv[0] (an absolute path) with a minimal environment (PATH only), stdin from /dev/null and
 * stdout+stderr into one buffer of at most max_output bytes (the rest is read and dropped). After
 * timeout_usec the child is killed with SIGKILL and -ETIME is returned. Reaps only its own child.
 * On success *ret_output (NUL-terminated, caller frees) and *ret_status (exit code 0..255, or 128+signal)
 * are set; a program that cannot be executed gives -errno of the exec (e.g. -ENOENT) and no output. */
int spawn_capture(char *const argv[], uint64_t timeout_usec, size_t max_output, char **ret_output, int *ret_status);

/* Where one of pic's own helper programs (pic-ca, pic-mail-auth) is: $env_var when it holds an absolute path,
 * else name beside the running binary (/proc/self/exe), where the build and the install put it; written into
 * buf and returned. fallback when neither is known (buf then stays ""). */
const char *spawn_helper_path(const char *env_var, const char *name, const char *fallback, char *buf, size_t size);
