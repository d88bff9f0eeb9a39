/* Stored file-storage rows (schema 4): each user's quota (no row: unlimited) and the folders users share with
 * each other. Both go with the user (ON DELETE CASCADE). */
#pragma once
#include <stdbool.h>
#include <stdint.h>

#include "store/store.h"

/* -ENOENT when the user has no quota (unlimited). */
int store_quota_get(Store *s, int64_t user_id, int64_t *ret);
/* quota < 0 removes it (unlimited). */
int store_quota_set(Store *s, int64_t user_id, int64_t quota);

typedef struct StoreShare {
        int64_t id;
        char owner[64];
        char folder[512];
        char with[64];
        bool writable;
        int64_t created_at;
} StoreShare;

/* -EEXIST when the owner already shares that folder with that user. */
int store_share_insert(Store *s, int64_t owner_id, const char *folder, int64_t with_id, bool writable, int64_t now,
                       int64_t *ret_id);
/* -ENOENT when owner_id has no share id. */
int store_share_delete(Store *s, int64_t owner_id, int64_t id);
typedef void (*store_share_fn)(const StoreShare *sh, void *userdata);
/* Every share whose owner or recipient is user_id (0: all), in id order. */
int store_share_foreach(Store *s, int64_t user_id, store_share_fn fn, void *userdata);
