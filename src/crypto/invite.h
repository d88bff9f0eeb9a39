/* Signed documents between cells: the invite (a text a person pastes: "pic-invite:" + base64url of a compact
 * JSON payload + "." + base64url of its Ed25519 signature) and the signed messages of the mesh endpoint
 * (the same two parts as a JSON object). Decoding is strict: any changed byte is rejected. */
#pragma once
#include <jansson.h>
#include <stdint.h>

#include "basic/netaddr.h"
#include "crypto/identity.h"

#define INVITE_PREFIX "pic-invite:"
#define INVITE_SHARE_MAX 8
#define INVITE_NONCE_STRLEN (22 + 1) /* base64url of 16 random bytes */
#define INVITE_TEXT_MAX 2000
#define INVITE_HOST_MAX 254

typedef struct Invite {
        char name[64];                      /* the inviting cell's cell_name */
        char domain[INVITE_HOST_MAX];       /* its domain */
        char identity[IDENTITY_PK_STRLEN];  /* its identity key: signs this invite */
        char wg_key[45];                    /* its WireGuard public key (base64) */
        char host[INVITE_HOST_MAX];         /* where it is reached: WireGuard on UDP port, the mesh endpoint on TCP */
        uint16_t port;
        Cidr4 vpn;                          /* its VPN address/prefix */
        Cidr4 range;                        /* its service range */
        uint16_t dns_port;
        char share[INVITE_SHARE_MAX][64];   /* services it offers the joiner */
        size_t n_share;
        int64_t expires_at;                 /* unix seconds */
        char nonce[INVITE_NONCE_STRLEN];    /* single use */
} Invite;

/* Signs inv with id (whose public key must be inv->identity) and returns the text (caller frees). */
int invite_encode(const Invite *inv, const Identity *id, char **ret);
/* Parses and verifies text against the identity key it names. -EBADMSG for anything malformed or a bad
 * signature (the message in why says which), never a partial result. Expiry is the caller's to check. */
int invite_decode(const char *text, Invite *ret, char *why, size_t why_size);

/* Signed messages: {"body":"<base64url of compact JSON>","sig":"<base64url>"}. */
int signed_msg_encode(json_t *body, const Identity *id, const char *context, json_t **ret);
/* Decodes env's body without trusting it yet (to learn who claims to have signed it). */
int signed_msg_body(json_t *env, json_t **ret_body, uint8_t **ret_raw, size_t *ret_len,
                    uint8_t ret_sig[static IDENTITY_SIG_BYTES]);
/* Verifies env against pk and returns its body (new reference). -EBADMSG on any failure. */
int signed_msg_open(json_t *env, const uint8_t pk[static IDENTITY_PK_BYTES], const char *context, json_t **ret_body);
