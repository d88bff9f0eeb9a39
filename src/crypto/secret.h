/* Secrets: random tokens, their fast hashes for lookup, and argon2id password hashing (libsodium).
 * Buffers that held a secret are wiped by the caller with secret_wipe() before they are freed. */
#pragma once
#include <stddef.h>
#include <stdint.h>

#define SECRET_TOKEN_BYTES 32
/* "pic_" + unpadded base64url of 32 bytes + NUL */
#define SECRET_TOKEN_STRLEN (4 + 43 + 1)
#define SECRET_HASH_BYTES 32
#define SECRET_PWHASH_STRLEN 128

int secret_init(void);
void secret_wipe(void *p, size_t n);
/* free() that first wipes the whole allocation: for buffers that may hold keys or tokens (response
 * bodies, jansson's strings), whose length the freeing code does not know. */
void secret_free(void *p);
/* A growable buffer for bytes that may hold a secret (a request body carrying a password). It grows
 * geometrically, so filling it costs time linear in its length; each growth copies into a new allocation
 * and wipes the old one, because realloc() could leave an unwiped copy behind. Always NUL-terminated.
 * The owner releases it with secret_buf_done(), which wipes it. */
typedef struct SecretBuf {
        char *data;
        size_t len, cap;
} SecretBuf;
/* Makes room for size bytes (plus the NUL) in one allocation, e.g. a declared Content-Length. */
int secret_buf_reserve(SecretBuf *b, size_t size);
/* -E2BIG (buffer unchanged) when the result would exceed max bytes; -ENOMEM. */
int secret_buf_append(SecretBuf *b, const void *p, size_t n, size_t max);
void secret_buf_done(SecretBuf *b);
/* Random token for people or programs to hold: "pic_" + base64url. */
int secret_token_new(char ret[static SECRET_TOKEN_STRLEN]);
/* Random URL-safe text of exactly len characters (len < 128). */
int secret_random_text(char *ret, size_t len);
/* BLAKE2b-256 of a high-entropy token; tokens are random so a fast hash is enough for storage. */
void secret_token_hash(const char *token, uint8_t ret[static SECRET_HASH_BYTES]);
/* Constant-time string equality. */
int secret_equal(const char *a, const char *b);
int secret_password_hash(const char *password, char ret[static SECRET_PWHASH_STRLEN]);
/* 0 when the password matches, -EACCES when not. */
int secret_password_verify(const char *hash, const char *password);
/* App passwords: 25 random bytes as 40 characters of lowercase base32 in eight groups of five joined by '-'
 * ("abcde-fghij-..."), easy to copy or type on a phone. Being random, they are stored as a keyed BLAKE2b
 * (the key is the cell's, so a copy of the store alone does not let anyone test guesses offline). */
#define SECRET_APP_PASSWORD_CHARS 40
#define SECRET_APP_PASSWORD_STRLEN (SECRET_APP_PASSWORD_CHARS + 7 + 1)
#define SECRET_KEY_BYTES 32
int secret_app_password_new(char ret[static SECRET_APP_PASSWORD_STRLEN]);
/* Hashes the password after dropping '-' and spaces and lowering its case (as typed by hand); -EINVAL when
 * what is left is not 40 base32 characters (nothing is hashed then). */
int secret_app_password_hash(const uint8_t key[static SECRET_KEY_BYTES], const char *password,
                             uint8_t ret[static SECRET_HASH_BYTES]);
void secret_random_bytes(void *buf, size_t n);
/* Hashes nothing useful but takes as long as a verify: keeps unknown users indistinguishable by time. */
void secret_password_dummy_verify(const char *password);
