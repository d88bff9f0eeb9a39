/* Stored app passwords (keyed hashes, schema 3), the sessions as a whole for the in-memory auth index, and
 * the cell's own keys (cell_keys: secrets that must travel with the store in a backup). */
#pragma once
#include <stdint.h>

#include "store/store.h"

typedef struct StoreAppPassword {
        int64_t id, user_id;
        char username[64];
        char label[64];
        uint8_t hash[32];
        int64_t created_at, last_used_at;
} StoreAppPassword;

int store_app_password_insert(Store *s, int64_t user_id, const char *label, const uint8_t hash[32], int64_t now,
                              int64_t *ret_id);
/* -ENOENT when user_id has no app password id. */
int store_app_password_delete(Store *s, int64_t user_id, int64_t id);
typedef void (*store_app_password_fn)(const StoreAppPassword *a, void *userdata);
/* user_id 0: every user's. In id order. */
int store_app_password_foreach(Store *s, int64_t user_id, store_app_password_fn fn, void *userdata);
int store_app_password_count(Store *s, int64_t user_id, int64_t *ret);
int store_app_password_touch(Store *s, int64_t id, int64_t last_used_at);

typedef struct StoreSessionRow {
        uint8_t hash[32];
        int64_t user_id;
        char username[64];
        int64_t last_seen, expires_at;
} StoreSessionRow;
typedef void (*store_session_fn)(const StoreSessionRow *r, void *userdata);
int store_session_foreach(Store *s, store_session_fn fn, void *userdata);

/* The cell key called name (exactly len bytes): -ENOENT when there is none yet; -EEXIST from put when there is. */
int store_cell_key_get(Store *s, const char *name, uint8_t *buf, size_t len);
int store_cell_key_put(Store *s, const char *name, const uint8_t *buf, size_t len);
