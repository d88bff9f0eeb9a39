/* WireGuard's cross-platform userspace API (UAPI): the line protocol wireguard-go serves on
 * /run/wireguard/IF.sock — `get=1` dumps, `set=1` changes (keys in hex), replies ending in `errno=N`. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WG_UAPI_DIR "/run/wireguard"
/* Largest reply we read: a 10,000-peer dump is ~3 MiB. */
#define WG_UAPI_REPLY_MAX ((size_t) 64 << 20)

typedef struct WgLivePeer {
        char public_key[45];     /* base64, as wg(8) prints it */
        bool has_preshared_key;  /* a non-zero preshared key is set */
        uint8_t psk_digest[8];   /* first bytes of BLAKE2b(psk): compare without keeping the key */
        char endpoint[64];       /* "ip:port" or "[ip6]:port" (address characters only), "" when unknown */
        int64_t last_handshake_sec; /* 0 = never */
        uint64_t rx_bytes, tx_bytes; /* at most INT64_MAX */
        unsigned keepalive;      /* persistent keepalive interval, 0 = off */
        char allowed_ips[256];   /* comma-separated address/prefix entries, in the daemon's order ("" = none) */
        unsigned n_allowed_ips;
} WgLivePeer;

typedef struct WgLiveDevice {
        bool has_private_key;
        unsigned listen_port;
        WgLivePeer *peers;
        size_t n_peers;
} WgLiveDevice;

/* Path of ifname's UAPI socket; -EINVAL for a name that is not an interface name. */
int wg_uapi_socket_path(const char *ifname, char *buf, size_t size);
/* 0 when the daemon accepts connections on its socket, negative errno otherwise (-ENOENT: no socket). */
int wg_uapi_ready(const char *ifname);
/* Sends "set=1\n" + commands (lines "key=value\n") + "\n" and waits for the daemon's errno.
 * Returns 0, the daemon's negative errno (e.g. -EINVAL for a bad key), or a transport error
 * (-EHOSTDOWN when nobody listens). */
int wg_uapi_set(const char *ifname, const char *commands, size_t len);
/* `get=1`: the raw reply (contains the private key in hex: wipe it with wg_uapi_text_free()). */
int wg_uapi_get(const char *ifname, char **ret_text, size_t *ret_len);
void wg_uapi_text_free(char *text, size_t len);
/* Pure parser of a whole `get` reply, which must end "errno=0\n\n". Unknown keys are ignored; the private
 * key is noted, never copied. */
int wg_uapi_parse(const char *text, WgLiveDevice *ret);
/* `get` + parse. */
int wg_uapi_get_device(const char *ifname, WgLiveDevice *ret);
void wg_live_device_done(WgLiveDevice *d);
/* Digest used in WgLivePeer.psk_digest for a base64 key ("" = none, all zero digest). */
void wg_psk_digest(const char *psk_b64, uint8_t ret[8]);
