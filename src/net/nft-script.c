/* libnftables wrapper: one context per call, so the netlink socket is opened in whatever namespace the
 * caller is in at that moment (a context made earlier would keep talking to its old namespace). */
#include "net/nft-script.h"

#include <nftables/libnftables.h>
#include <stdio.h>

#include "basic/util.h"

int nft_script_run(const char *script, PicError *err) {
        struct nft_ctx *ctx = nft_ctx_new(NFT_CTX_DEFAULT);
        if (!ctx)
                return pic_error(err, -ENOMEM, NULL, "cannot create an nftables context");
        /* Buffered so nft's messages come back to us instead of going to picd's stderr. */
        if (nft_ctx_buffer_output(ctx) < 0 || nft_ctx_buffer_error(ctx) < 0) {
                nft_ctx_free(ctx);
                return pic_error(err, -ENOMEM, NULL, "cannot buffer nftables output");
        }
        int r = 0;
        if (nft_run_cmd_from_buffer(ctx, script) != 0) {
                const char *msg = nft_ctx_get_error_buffer(ctx);
                /* nft's message is several lines (error, the offending line, a caret); the first says why. */
                size_t n = msg ? strcspn(msg, "\n") : 0;
                r = pic_error(err, -EINVAL, NULL, "nftables rejected the change: %.*s", (int) n, msg ? msg : "");
        }
        nft_ctx_free(ctx);
        return r;
}
