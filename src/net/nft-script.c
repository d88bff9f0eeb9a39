/* libnftables wrapper: contexts with buffered output/error (nft's messages come back to us instead of going
 * to picd's stderr), so a caller can keep one per namespace or make one per script. */
#include "net/nft-script.h"

#include <nftables/libnftables.h>
#include <stdio.h>

#include "basic/util.h"

struct NftContext {
        struct nft_ctx *ctx;
};

int nft_context_new(NftContext **ret) {
        NftContext *c = calloc(1, sizeof *c);
        if (!c)
                return -ENOMEM;
        c->ctx = nft_ctx_new(NFT_CTX_DEFAULT);
        if (!c->ctx || nft_ctx_buffer_output(c->ctx) < 0 || nft_ctx_buffer_error(c->ctx) < 0) {
                nft_context_free(c);
                return -ENOMEM;
        }
        *ret = c;
        return 0;
}

NftContext *nft_context_free(NftContext *c) {
        if (!c)
                return NULL;
        if (c->ctx)
                nft_ctx_free(c->ctx);
        free(c);
        return NULL;
}

int nft_context_run(NftContext *c, const char *script, PicError *err) {
        if (nft_run_cmd_from_buffer(c->ctx, script) == 0)
                return 0;
        const char *msg = nft_ctx_get_error_buffer(c->ctx);
        /* nft's message is several lines (error, the offending line, a caret); the first says why. */
        size_t n = msg ? strcspn(msg, "\n") : 0;
        return pic_error(err, -EINVAL, NULL, "nftables rejected the change: %.*s", (int) (n > 300 ? 300 : n),
                         msg ? msg : "");
}

int nft_script_run(const char *script, PicError *err) {
        NftContext *c = NULL;
        int r = nft_context_new(&c);
        if (r < 0)
                return pic_error(err, r, NULL, "cannot create an nftables context");
        r = nft_context_run(c, script, err);
        nft_context_free(c);
        return r;
}
