/* Runs an nftables script through libnftables as one atomic transaction in the current network namespace
 * (callers enter the cell namespace first). nft's own error text comes back in the PicError. */
#pragma once
#include "basic/error.h"

/* Applies script (nft syntax, several commands allowed) all or nothing. -EINVAL with nft's message when
 * nft rejects it; the ruleset is then unchanged. */
int nft_script_run(const char *script, PicError *err);
