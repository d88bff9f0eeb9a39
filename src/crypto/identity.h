/* The cell's identity: an Ed25519 key pair (libsodium) kept in STATE/keys/identity.key, the key other cells
 * pin when they link to this one; signing, verifying, and the text forms of public keys and fingerprints. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define IDENTITY_PK_BYTES 32
#define IDENTITY_SK_BYTES 64
#define IDENTITY_SIG_BYTES 64
/* Unpadded base64url of 32 bytes + NUL. */
#define IDENTITY_PK_STRLEN (43 + 1)
/* "SHA256:" + 16 groups of 4 hex digits joined by ':' + NUL. */
#define IDENTITY_FPR_STRLEN (7 + 16 * 5)

typedef struct Identity {
        uint8_t pk[IDENTITY_PK_BYTES];
        uint8_t sk[IDENTITY_SK_BYTES]; /* secret: wiped by identity_done() */
} Identity;

/* Reads the key pair from path (its 32-byte seed as base64url and a newline), or creates one there (0600)
 * when the file does not exist. A file that exists but does not hold a seed is -EBADMSG, never replaced:
 * other cells pin this key, so a new one would cut every link. */
int identity_load_or_create(const char *path, Identity *ret, bool *ret_created);
void identity_done(Identity *id);

void identity_pk_to_string(const uint8_t pk[static IDENTITY_PK_BYTES], char ret[static IDENTITY_PK_STRLEN]);
/* -EINVAL unless s is exactly the canonical 43-character form of a 32-byte key. */
int identity_pk_from_string(const char *s, uint8_t ret[static IDENTITY_PK_BYTES]);
/* SHA-256 of the public key, grouped hex: what a person compares when reading it out. */
void identity_fingerprint(const uint8_t pk[static IDENTITY_PK_BYTES], char ret[static IDENTITY_FPR_STRLEN]);

/* A detached signature over a context string (domain separation: an invite's signature is never a valid
 * message signature) followed by msg. */
int identity_sign(const Identity *id, const char *context, const void *msg, size_t len,
                  uint8_t ret[static IDENTITY_SIG_BYTES]);
/* 0 when sig is pk's signature of context+msg, else -EBADMSG. */
int identity_verify(const uint8_t pk[static IDENTITY_PK_BYTES], const char *context, const void *msg, size_t len,
                    const uint8_t sig[static IDENTITY_SIG_BYTES]);

/* Unpadded base64url; decoding is strict (no padding, no spaces, unused bits zero), so every text has one
 * meaning and a changed character is a changed value. ret_len is the decoded length. */
int b64url_encode(const void *data, size_t len, char **ret);
int b64url_decode(const char *s, size_t slen, uint8_t *buf, size_t size, size_t *ret_len);
