/* WireGuard keys (Curve25519, base64 as wg(8) prints them): generation, validation, public-from-private,
 * and the hex form the UAPI protocol wants. Callers wipe private-key buffers with secret_wipe(). */
#pragma once
#include <stdbool.h>

#define WG_KEY_B64_LEN 44
#define WG_KEY_STRLEN (WG_KEY_B64_LEN + 1)
#define WG_KEY_HEXLEN (64 + 1)

int wg_key_generate(char ret_private[static WG_KEY_STRLEN], char ret_public[static WG_KEY_STRLEN]);
int wg_key_public_from_private(const char *private_b64, char ret_public[static WG_KEY_STRLEN]);
/* Random 32 bytes, for preshared keys. */
int wg_key_random(char ret[static WG_KEY_STRLEN]);
/* Exactly 44 characters of canonical base64 decoding to 32 bytes. */
bool wg_key_is_valid(const char *b64);
int wg_key_to_hex(const char *b64, char ret[static WG_KEY_HEXLEN]);
int wg_key_from_hex(const char *hex, char ret[static WG_KEY_STRLEN]);
