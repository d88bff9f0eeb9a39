/* lighttpd's whole configuration for the files backend from the cell's users and shares: one conditional per
 * user, keyed on the user header the front door sets, that roots WebDAV at the user's own tree. Pure (a
 * golden-file unit test pins it). */
#pragma once
#include <stdbool.h>
#include <stddef.h>

typedef struct FilesShareConf {
        const char *owner, *folder, *with;
        bool writable;
} FilesShareConf;

typedef struct FilesConf {
        const char *sockets[2];    /* absolute paths of the backend sockets Caddy dials (files, webdav) */
        const char *files_root;    /* STATE/data/files: each user's tree is <root>/<user>/ */
        const char *meta_dir;      /* per-user property and lock databases (<meta>/<user>.sqlite) */
        const char *empty_dir;     /* the document root of a request without a known user */
        const char *user_header;   /* "X-Pic-User" */
        const char *run_as;        /* the user (and group of the same name) lighttpd becomes after binding */
        const char *const *users;  /* names (the account grammar) */
        size_t n_users;
        const FilesShareConf *shares;
        size_t n_shares;
} FilesConf;

/* The config text (caller frees). -EINVAL when a string would not fit the config grammar. */
int files_conf_render(const FilesConf *cfg, char **ret);
