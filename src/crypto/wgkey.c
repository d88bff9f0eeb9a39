/* Curve25519 keys with libsodium: clamped random scalar, public = scalar·base, standard base64 with
 * padding (what wg(8) and wg-quick use). */
#include "crypto/wgkey.h"

#include <errno.h>
#include <sodium.h>
#include <string.h>

static int b64_decode(const char *b64, unsigned char out[32]) {
        if (!b64 || strlen(b64) != WG_KEY_B64_LEN || b64[43] != '=')
                return -EINVAL;
        size_t len = 0;
        const char *end = NULL;
        if (sodium_base642bin(out, 32, b64, WG_KEY_B64_LEN, NULL, &len, &end, sodium_base64_VARIANT_ORIGINAL) != 0 ||
            len != 32 || end != b64 + WG_KEY_B64_LEN)
                return -EINVAL;
        /* Reject non-canonical encodings (unused low bits set): one key, one spelling. */
        char again[WG_KEY_STRLEN];
        sodium_bin2base64(again, sizeof again, out, 32, sodium_base64_VARIANT_ORIGINAL);
        return strcmp(again, b64) == 0 ? 0 : -EINVAL;
}

static void b64_encode(const unsigned char in[32], char out[static WG_KEY_STRLEN]) {
        sodium_bin2base64(out, WG_KEY_STRLEN, in, 32, sodium_base64_VARIANT_ORIGINAL);
}

int wg_key_generate(char ret_private[static WG_KEY_STRLEN], char ret_public[static WG_KEY_STRLEN]) {
        unsigned char sk[32], pk[32];
        randombytes_buf(sk, sizeof sk);
        sk[0] &= 248;
        sk[31] = (sk[31] & 127) | 64;
        if (crypto_scalarmult_curve25519_base(pk, sk) != 0) {
                sodium_memzero(sk, sizeof sk);
                return -EIO;
        }
        b64_encode(sk, ret_private);
        b64_encode(pk, ret_public);
        sodium_memzero(sk, sizeof sk);
        return 0;
}

int wg_key_public_from_private(const char *private_b64, char ret_public[static WG_KEY_STRLEN]) {
        unsigned char sk[32], pk[32];
        int r = b64_decode(private_b64, sk);
        if (r < 0)
                return r;
        r = crypto_scalarmult_curve25519_base(pk, sk) == 0 ? 0 : -EINVAL;
        sodium_memzero(sk, sizeof sk);
        if (r == 0)
                b64_encode(pk, ret_public);
        return r;
}

int wg_key_random(char ret[static WG_KEY_STRLEN]) {
        unsigned char k[32];
        randombytes_buf(k, sizeof k);
        b64_encode(k, ret);
        sodium_memzero(k, sizeof k);
        return 0;
}

bool wg_key_is_valid(const char *b64) {
        unsigned char k[32];
        bool ok = b64_decode(b64, k) == 0;
        sodium_memzero(k, sizeof k);
        return ok;
}

int wg_key_to_hex(const char *b64, char ret[static WG_KEY_HEXLEN]) {
        unsigned char k[32];
        int r = b64_decode(b64, k);
        if (r < 0)
                return r;
        sodium_bin2hex(ret, WG_KEY_HEXLEN, k, sizeof k);
        sodium_memzero(k, sizeof k);
        return 0;
}

int wg_key_from_hex(const char *hex, char ret[static WG_KEY_STRLEN]) {
        unsigned char k[32];
        size_t len = 0;
        if (!hex || strlen(hex) != 64 || sodium_hex2bin(k, sizeof k, hex, 64, NULL, &len, NULL) != 0 || len != 32)
                return -EINVAL;
        b64_encode(k, ret);
        sodium_memzero(k, sizeof k);
        return 0;
}
