/* UAPI `set` commands for the cell's peers, as pure functions: one peer's add/fix or removal, and the
 * `wg syncconf`-style diff of the wanted (stored) peers against the live ones. The commands carry
 * preshared keys: WgCmds never reallocates and is wiped when done. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "net/wg-uapi.h"

/* Largest single-peer command (add/fix with preshared key and allowed IP), with slack. */
#define WG_PEER_CMD_MAX 320

typedef struct WgCmds {
        char *buf;
        size_t len, cap;
        bool overflow;
} WgCmds;

int wg_cmds_init(WgCmds *m, size_t cap);
void wg_cmds_done(WgCmds *m);
void wg_cmds_put(WgCmds *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* "public_key=HEX / remove=true". -EINVAL for a key that is not a WireGuard key. */
int wg_cmd_remove(WgCmds *m, const char *public_key_b64);
/* Adds or fixes a peer: its preshared key ("" = none) and exactly one allowed IP, ip/32 — or, for a disabled
 * peer, none: it keeps its session (so enabling it again is one `set`, with no new handshake), but nothing
 * it sends is accepted and nothing is routed to it. */
int wg_cmd_upsert(WgCmds *m, const char *public_key_b64, const char *psk_b64, uint32_t ip, bool enabled);

typedef struct WgWantPeer {
        char public_key[45];
        char preshared_key[45]; /* "" = none */
        uint32_t ip;
        bool enabled; /* false: on the interface with no allowed IPs */
        /* A linked cell's site peer (services/mesh) also carries that cell's service range, and is given
         * its endpoint and a keepalive (both ends are servers: neither waits for the other to speak). */
        uint32_t site_net;
        uint8_t site_prefix; /* 0: not a site peer */
        char endpoint[64];
        unsigned keepalive;
} WgWantPeer;

/* wg_cmd_upsert() for a wanted peer, with a site peer's extra allowed IP, endpoint and keepalive. */
int wg_cmd_upsert_want(WgCmds *m, const WgWantPeer *w);

typedef struct WgSyncStats {
        unsigned added, removed, fixed;
} WgSyncStats;

/* The commands taking the live peers to the wanted ones: add the missing, remove the unknown, fix those
 * whose preshared key or allowed IPs differ (endpoints and counters are the daemon's business). Sorts both
 * arrays in place. *ret is initialised here; the caller calls wg_cmds_done(). */
int wg_sync_commands(WgWantPeer *want, size_t n_want, WgLivePeer *live, size_t n_live, WgCmds *ret,
                     WgSyncStats *ret_stats);
