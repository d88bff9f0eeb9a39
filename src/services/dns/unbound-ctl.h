/* Client for unbound's remote-control protocol over its unix socket without TLS (control-use-cert: no):
 * write "UBCT1 <command>\n" (then, for list commands, data lines and "\x04\n"), read the reply until the
 * daemon closes. unbound reports failures in the reply text with rc 0, so replies are parsed here. */
#pragma once
#include "basic/error.h"

/* unbound reads a command line of at most 1024 bytes and data lines of at most 2048. */
#define UNBOUND_CTL_CMD_MAX 1000
#define UNBOUND_CTL_LINE_MAX 2000
#define UNBOUND_CTL_REPLY_MAX (4u << 20)

/* Runs one command. lines: NULL, or newline-separated data lines for a list command (local_datas, ...).
 * Returns 0 with the reply (caller frees) when it holds no error line; -EBADMSG with unbound's own message
 * when it does; -ECONNREFUSED when unbound does not listen (not running, or starting). */
int unbound_ctl(const char *socket_path, const char *command, const char *lines, char **ret_reply, PicError *err);
/* The first line of reply starting with "error" (unbound's failure report), or NULL. */
const char *unbound_ctl_reply_error(const char *reply);
/* Judges a whole reply of len bytes: 0 when it holds no error line; -EBADMSG with err naming unbound's first
 * error line (control characters blanked, at most 400 bytes) when it does, or when it holds a NUL byte. */
int unbound_ctl_reply_check(const char *reply, size_t len, PicError *err);
