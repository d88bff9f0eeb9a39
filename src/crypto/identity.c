/* Implementation of identity.h on libsodium: crypto_sign (Ed25519) for keys and signatures, SHA-256 for
 * fingerprints, sodium_bin2base64/base642bin (URL-safe, no padding) for every text form. */
#include "crypto/identity.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "basic/fileio.h"
#include "crypto/secret.h"

#define SEED_BYTES 32
#define B64 sodium_base64_VARIANT_URLSAFE_NO_PADDING

int b64url_encode(const void *data, size_t len, char **ret) {
        size_t n = sodium_base64_encoded_len(len, B64);
        char *s = malloc(n);
        if (!s)
                return -ENOMEM;
        sodium_bin2base64(s, n, data, len, B64);
        *ret = s;
        return 0;
}

int b64url_decode(const char *s, size_t slen, uint8_t *buf, size_t size, size_t *ret_len) {
        size_t n = 0;
        const char *end = NULL;
        /* libsodium refuses non-zero unused bits, so a text decodes to its bytes and no other text does. */
        if (sodium_base642bin(buf, size, s, slen, NULL, &n, &end, B64) != 0 || end != s + slen)
                return -EINVAL;
        *ret_len = n;
        return 0;
}

void identity_pk_to_string(const uint8_t pk[static IDENTITY_PK_BYTES], char ret[static IDENTITY_PK_STRLEN]) {
        sodium_bin2base64(ret, IDENTITY_PK_STRLEN, pk, IDENTITY_PK_BYTES, B64);
}

int identity_pk_from_string(const char *s, uint8_t ret[static IDENTITY_PK_BYTES]) {
        size_t n;
        uint8_t buf[IDENTITY_PK_BYTES];
        if (!s || strlen(s) != IDENTITY_PK_STRLEN - 1 || b64url_decode(s, strlen(s), buf, sizeof buf, &n) < 0 ||
            n != IDENTITY_PK_BYTES)
                return -EINVAL;
        memcpy(ret, buf, sizeof buf);
        return 0;
}

void identity_fingerprint(const uint8_t pk[static IDENTITY_PK_BYTES], char ret[static IDENTITY_FPR_STRLEN]) {
        uint8_t h[crypto_hash_sha256_BYTES];
        crypto_hash_sha256(h, pk, IDENTITY_PK_BYTES);
        size_t used = (size_t) snprintf(ret, IDENTITY_FPR_STRLEN, "SHA256:");
        for (size_t i = 0; i < 16; i++)
                used += (size_t) snprintf(ret + used, IDENTITY_FPR_STRLEN - used, "%s%02x%02x", i ? ":" : "", h[2 * i],
                                          h[2 * i + 1]);
}

static int from_seed(const uint8_t seed[static SEED_BYTES], Identity *ret) {
        return crypto_sign_seed_keypair(ret->pk, ret->sk, seed) == 0 ? 0 : -EIO;
}

int identity_load_or_create(const char *path, Identity *ret, bool *ret_created) {
        uint8_t seed[SEED_BYTES];
        char *text = NULL;
        size_t len = 0;
        bool created = false;
        int r = read_file_full(path, 256, &text, &len);
        if (r == -ENOENT) {
                char *b64 = NULL;
                randombytes_buf(seed, sizeof seed);
                r = b64url_encode(seed, sizeof seed, &b64);
                if (r < 0)
                        goto out;
                char line[64];
                snprintf(line, sizeof line, "%s\n", b64);
                secret_wipe(b64, strlen(b64));
                free(b64);
                r = write_file_atomic(path, line, strlen(line), 0600, NULL, NULL, NULL);
                secret_wipe(line, sizeof line);
                created = r >= 0;
        } else if (r >= 0) {
                size_t n = 0;
                while (len > 0 && text[len - 1] == '\n')
                        len--;
                r = b64url_decode(text, len, seed, sizeof seed, &n) < 0 || n != SEED_BYTES ? -EBADMSG : 0;
        }
        if (r >= 0)
                r = from_seed(seed, ret);
        if (r >= 0 && ret_created)
                *ret_created = created;
out:
        secret_wipe(seed, sizeof seed);
        if (text) {
                secret_wipe(text, len);
                free(text);
        }
        return r;
}

void identity_done(Identity *id) {
        if (id)
                secret_wipe(id, sizeof *id);
}

/* context || 0x00 || msg: the NUL ends the context, so no two (context, msg) pairs give the same bytes. */
static int framed(const char *context, const void *msg, size_t len, uint8_t **ret, size_t *ret_len) {
        size_t cl = strlen(context);
        uint8_t *b = malloc(cl + 1 + len);
        if (!b)
                return -ENOMEM;
        memcpy(b, context, cl + 1);
        if (len)
                memcpy(b + cl + 1, msg, len);
        *ret = b;
        *ret_len = cl + 1 + len;
        return 0;
}

int identity_sign(const Identity *id, const char *context, const void *msg, size_t len,
                  uint8_t ret[static IDENTITY_SIG_BYTES]) {
        uint8_t *b;
        size_t n;
        int r = framed(context, msg, len, &b, &n);
        if (r < 0)
                return r;
        r = crypto_sign_detached(ret, NULL, b, n, id->sk) == 0 ? 0 : -EIO;
        free(b);
        return r;
}

int identity_verify(const uint8_t pk[static IDENTITY_PK_BYTES], const char *context, const void *msg, size_t len,
                    const uint8_t sig[static IDENTITY_SIG_BYTES]) {
        uint8_t *b;
        size_t n;
        int r = framed(context, msg, len, &b, &n);
        if (r < 0)
                return r;
        r = crypto_sign_verify_detached(sig, b, n, pk) == 0 ? 0 : -EBADMSG;
        free(b);
        return r;
}
