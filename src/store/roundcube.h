/* Roundcube's own SQLite database (the webmail's users, identities and contacts): the few reads and the one delete
 * pic makes in it, kept here because only the store layer speaks SQLite. */
#pragma once
#include <stdint.h>

#include "basic/error.h"

/* What one user keeps in the webmail. users == 0: nothing (never signed in, or Roundcube has made no tables yet). */
typedef struct RoundcubeUserRows {
        int64_t users, identities, contacts;
} RoundcubeUserRows;

/* Rows of user (matched as "user" or "user@…", how Roundcube names IMAP logins) in the database at path;
 * -ENOENT when the file does not exist (nobody has signed in yet). */
int roundcube_user_rows(const char *path, const char *user, RoundcubeUserRows *ret, PicError *err);
/* Deletes user's rows of Roundcube's users table in one transaction; the schema's foreign keys cascade to
 * everything that is theirs. A missing file or a schema without tables is nothing to delete (0). */
int roundcube_user_delete(const char *path, const char *user, PicError *err);
