/* SQLite accessors for mail_aliases: one row per (alias, target user). An alias exists while it has a row; a
 * deleted user's rows go with the user (ON DELETE CASCADE). */
#pragma once
#include <stdint.h>

#include "store/store.h"

typedef struct StoreMailAlias {
        char alias[64];
        char target[64];
        int64_t created_at;
} StoreMailAlias;

/* -EEXIST when the pair is there already. */
int store_mail_alias_insert(Store *s, const char *alias, const char *target, int64_t now);
/* Every row of alias; -ENOENT when it had none. */
int store_mail_alias_delete(Store *s, const char *alias);
typedef int (*store_mail_alias_fn)(const StoreMailAlias *a, void *userdata);
/* In (alias, target) order; stops at fn's first negative return. */
int store_mail_alias_foreach(Store *s, store_mail_alias_fn fn, void *userdata);
