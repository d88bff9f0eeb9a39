/* Runs nftables scripts through libnftables, each as one atomic transaction. nft's own error text comes back
 * in the PicError. A context keeps its netlink socket in the network namespace it was created in, and its
 * cache of the ruleset: reuse one for repeated small edits (a fresh context per edit re-reads and frees the
 * whole cache — 8-15 ms with a 10,000-element map, against 0.2 ms for the edit itself). */
#pragma once
#include "basic/error.h"

typedef struct NftContext NftContext;

/* Create while inside the target namespace (the caller enters it first); usable from anywhere after. */
int nft_context_new(NftContext **ret);
NftContext *nft_context_free(NftContext *c);
/* Applies script (nft syntax, several commands allowed) all or nothing. -EINVAL with nft's message when nft
 * rejects it; the ruleset is then unchanged. */
int nft_context_run(NftContext *c, const char *script, PicError *err);
/* One-shot: a context for this script only, in the current namespace. */
int nft_script_run(const char *script, PicError *err);
