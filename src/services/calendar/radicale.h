/* Radicale's configuration file from what the cell wants, and its on-disk collections: each user's default
 * calendar and address book, what a user holds there, removing a user's tree. Callers own returned text. */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/* What Radicale is told. Every field comes from picd's own state (validated settings, its state dir). */
typedef struct RadicaleConf {
        unsigned port;          /* on 127.0.0.1 in the cell namespace */
        const char *storage;    /* filesystem_folder: STATE/data/calendar */
} RadicaleConf;

/* The config as INI text (caller frees). Pure. -EINVAL for a storage path an INI value cannot carry. */
int radicale_render(const RadicaleConf *cfg, char **ret);

/* The default collections every new user gets (directory names under the user's principal). */
#define RADICALE_DEFAULT_CALENDAR "calendar"
#define RADICALE_DEFAULT_CONTACTS "contacts"

typedef struct RadicaleUsage {
        bool exists;              /* the user has a tree at all */
        unsigned calendars;       /* collections tagged VCALENDAR */
        unsigned address_books;   /* collections tagged VADDRESSBOOK */
        unsigned items;           /* events, tasks, contacts in them */
        uint64_t bytes;           /* every file of the user's tree */
        bool only_empty_defaults; /* nothing but the untouched default collections: no data to speak of */
} RadicaleUsage;

/* Creates the user's principal and whichever default collection is missing, each appearing whole (built
 * under a dot name Radicale ignores, then renamed) and owned by uid:gid, Radicale's own user, so it can write
 * there the moment it sees them. collection-root itself stays root's (group gid, 0750): inside a principal,
 * which Radicale's user could fill with links, picd works relative to the principal's fd only. Holds
 * Radicale's storage lock meanwhile. */
int radicale_ensure_defaults(const char *storage, const char *user, uid_t uid, gid_t gid);
int radicale_usage(const char *storage, const char *user, RadicaleUsage *ret);
/* Calls fn for each user with a tree, in no particular order. */
int radicale_foreach_user(const char *storage, void (*fn)(const char *user, void *userdata), void *userdata);
/* Takes the user's whole tree away at once (renamed to a dot name under the lock), then deletes it.
 * A missing tree is success. */
int radicale_remove_user(const char *storage, const char *user);
/* Deletes what an interrupted ensure/remove left (dot names of picd's own), after a crash. */
int radicale_sweep(const char *storage);
/* A user name that is one safe path component (the account grammar: a-z, 0-9, '-'). */
bool radicale_user_ok(const char *user);
