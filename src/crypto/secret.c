/* libsodium-backed implementations of secret.h. Argon2id at libsodium's "interactive" limits: ~64 MiB for
 * a fraction of a second per login, released right after. */
#include "crypto/secret.h"

#include <errno.h>
#include <malloc.h>
#include <stdlib.h>
#include <sodium.h>
#include <string.h>

int secret_init(void) {
        return sodium_init() < 0 ? -EIO : 0;
}

void secret_wipe(void *p, size_t n) {
        if (p)
                sodium_memzero(p, n);
}

void secret_free(void *p) {
        if (!p)
                return;
        sodium_memzero(p, malloc_usable_size(p));
        free(p);
}

int secret_buf_reserve(SecretBuf *b, size_t size) {
        if (size >= SIZE_MAX / 2)
                return -E2BIG;
        if (size < b->cap)
                return 0;
        char *n = malloc(size + 1);
        if (!n)
                return -ENOMEM;
        if (b->len)
                memcpy(n, b->data, b->len);
        n[b->len] = '\0';
        secret_free(b->data);
        b->data = n;
        b->cap = size + 1;
        return 0;
}

int secret_buf_append(SecretBuf *b, const void *p, size_t n, size_t max) {
        if (n > max || b->len > max - n)
                return -E2BIG;
        size_t need = b->len + n;
        if (need >= b->cap) {
                size_t size = b->cap ? b->cap * 2 : 1024;
                while (size < need && size < SIZE_MAX / 4)
                        size *= 2;
                size = size > max ? max : size;
                int r = secret_buf_reserve(b, size > need ? size : need);
                if (r < 0)
                        return r;
        }
        memcpy(b->data + b->len, p, n);
        b->len = need;
        b->data[b->len] = '\0';
        return 0;
}

void secret_buf_done(SecretBuf *b) {
        secret_free(b->data);
        *b = (SecretBuf) { 0 };
}

int secret_token_new(char ret[static SECRET_TOKEN_STRLEN]) {
        uint8_t raw[SECRET_TOKEN_BYTES];
        randombytes_buf(raw, sizeof raw);
        memcpy(ret, "pic_", 4);
        sodium_bin2base64(ret + 4, SECRET_TOKEN_STRLEN - 4, raw, sizeof raw, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
        sodium_memzero(raw, sizeof raw);
        return 0;
}

int secret_random_text(char *ret, size_t len) {
        static const char alphabet[] = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
        if (len >= 128)
                return -EINVAL;
        for (size_t i = 0; i < len; i++)
                ret[i] = alphabet[randombytes_uniform(sizeof alphabet - 1)];
        ret[len] = '\0';
        return 0;
}

void secret_token_hash(const char *token, uint8_t ret[static SECRET_HASH_BYTES]) {
        crypto_generichash(ret, SECRET_HASH_BYTES, (const unsigned char *) token, strlen(token), NULL, 0);
}

int secret_equal(const char *a, const char *b) {
        size_t la = strlen(a), lb = strlen(b);
        if (la != lb)
                return 0;
        return sodium_memcmp(a, b, la) == 0;
}

int secret_password_hash(const char *password, char ret[static SECRET_PWHASH_STRLEN]) {
        if (crypto_pwhash_str(ret, password, strlen(password), crypto_pwhash_OPSLIMIT_INTERACTIVE,
                              crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0)
                return -ENOMEM;
        return 0;
}

int secret_password_verify(const char *hash, const char *password) {
        return crypto_pwhash_str_verify(hash, password, strlen(password)) == 0 ? 0 : -EACCES;
}

void secret_password_dummy_verify(const char *password) {
        static char dummy[SECRET_PWHASH_STRLEN];
        if (!dummy[0] && secret_password_hash("pic-dummy-password", dummy) < 0)
                return;
        (void) secret_password_verify(dummy, password);
}

static const char base32_alphabet[] = "abcdefghijklmnopqrstuvwxyz234567";

int secret_app_password_new(char ret[static SECRET_APP_PASSWORD_STRLEN]) {
        uint8_t raw[SECRET_APP_PASSWORD_CHARS * 5 / 8];
        randombytes_buf(raw, sizeof raw);
        size_t o = 0;
        for (size_t i = 0; i < SECRET_APP_PASSWORD_CHARS; i++) {
                /* bit index 5*i, big-endian within the bytes */
                size_t bit = 5 * i, byte = bit / 8, shift = bit % 8;
                unsigned v = (unsigned) raw[byte] << 8 | (byte + 1 < sizeof raw ? raw[byte + 1] : 0);
                if (i > 0 && i % 5 == 0)
                        ret[o++] = '-';
                ret[o++] = base32_alphabet[(v >> (11 - shift)) & 31];
        }
        ret[o] = '\0';
        sodium_memzero(raw, sizeof raw);
        return 0;
}

int secret_app_password_hash(const uint8_t key[static SECRET_KEY_BYTES], const char *password,
                             uint8_t ret[static SECRET_HASH_BYTES]) {
        char norm[SECRET_APP_PASSWORD_CHARS];
        size_t n = 0;
        for (const char *p = password; *p; p++) {
                if (*p == '-' || *p == ' ')
                        continue;
                char ch = *p >= 'A' && *p <= 'Z' ? (char) (*p - 'A' + 'a') : *p;
                if (n == sizeof norm || !strchr(base32_alphabet, ch) || ch == '\0') {
                        sodium_memzero(norm, sizeof norm);
                        return -EINVAL;
                }
                norm[n++] = ch;
        }
        int r = n == sizeof norm ? 0 : -EINVAL;
        if (r == 0)
                crypto_generichash(ret, SECRET_HASH_BYTES, (const unsigned char *) norm, n, key, SECRET_KEY_BYTES);
        sodium_memzero(norm, sizeof norm);
        return r;
}

void secret_random_bytes(void *buf, size_t n) {
        randombytes_buf(buf, n);
}
