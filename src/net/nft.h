/* libnftables wrapper: one nft context bound to a network namespace; each script runs as one atomic
 * transaction (all commands or none) and nft's own error text comes back to the caller. */
#pragma once
#include <stddef.h>

typedef struct Nft Nft;

/* netns_fd: the namespace every command runs in (dup'ed), -1 for the current one. */
int nft_new(int netns_fd, Nft **ret);
Nft *nft_free(Nft *n);
/* Runs script in one transaction. On failure returns -EBADMSG (nft refused it) or another negative
 * errno, and *ret_error (if non-NULL) gets nft's message; on success *ret_output (if non-NULL) gets
 * what nft printed (e.g. for "list table"). Caller frees both. */
int nft_run(Nft *n, const char *script, char **ret_output, char **ret_error);
