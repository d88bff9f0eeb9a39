/* Implementation of nft.h. Every call enters the bound namespace around libnftables (setns there and
 * back) because the library opens its netlink socket lazily; output and errors are buffered, not printed. */
#include "net/nft.h"

#include <fcntl.h>
#include <nftables/libnftables.h>
#include <stdio.h>

#include "basic/log.h"
#include "basic/util.h"
#include "net/netns.h"

struct Nft {
        struct nft_ctx *ctx;
        int netns_fd;
};

typedef struct NsGuard {
        int saved;
} NsGuard;

static int enter(const Nft *n, NsGuard *g) {
        g->saved = -1;
        if (n->netns_fd < 0)
                return 0;
        return netns_enter(n->netns_fd, &g->saved);
}

static void leave(NsGuard *g) {
        if (g->saved < 0)
                return;
        int r = netns_leave(g->saved);
        if (r < 0) {
                /* Staying in the cell's namespace would misdirect every later call of picd. */
                log_error_errno(r, "cannot return to picd's own network namespace");
                abort();
        }
}

int nft_new(int netns_fd, Nft **ret) {
        Nft *n = calloc(1, sizeof *n);
        if (!n)
                return -ENOMEM;
        n->netns_fd = -1;
        if (netns_fd >= 0) {
                n->netns_fd = fcntl(netns_fd, F_DUPFD_CLOEXEC, 3);
                if (n->netns_fd < 0) {
                        int r = negative_errno();
                        free(n);
                        return r;
                }
        }
        NsGuard g;
        int r = enter(n, &g);
        if (r < 0) {
                nft_free(n);
                return r;
        }
        n->ctx = nft_ctx_new(NFT_CTX_DEFAULT);
        leave(&g);
        if (!n->ctx || nft_ctx_buffer_output(n->ctx) < 0 || nft_ctx_buffer_error(n->ctx) < 0) {
                nft_free(n);
                return -ENOMEM;
        }
        *ret = n;
        return 0;
}

Nft *nft_free(Nft *n) {
        if (!n)
                return NULL;
        if (n->ctx)
                nft_ctx_free(n->ctx);
        if (n->netns_fd >= 0)
                close(n->netns_fd);
        free(n);
        return NULL;
}

static char *dup_trimmed(const char *s) {
        if (!s)
                s = "";
        size_t len = strlen(s);
        while (len > 0 && (s[len - 1] == '\n' || s[len - 1] == ' '))
                len--;
        return strndup(s, len);
}

int nft_run(Nft *n, const char *script, char **ret_output, char **ret_error) {
        NsGuard g;
        int r = enter(n, &g);
        if (r < 0)
                return r;
        int rc = nft_run_cmd_from_buffer(n->ctx, script);
        leave(&g);
        /* Reading a buffer also resets it, so both are always drained for the next call. */
        const char *out = nft_ctx_get_output_buffer(n->ctx);
        const char *err = nft_ctx_get_error_buffer(n->ctx);
        if (rc != 0) {
                if (ret_error)
                        *ret_error = dup_trimmed(err && *err ? err : "nft rejected the ruleset");
                return -EBADMSG;
        }
        if (ret_output) {
                *ret_output = strdup(out ? out : "");
                if (!*ret_output)
                        return -ENOMEM;
        }
        return 0;
}
