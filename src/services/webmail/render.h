/* The webmail's generated files, each a pure function of WebmailConfig: php-fpm's own php-fpm.conf (one pool on
 * a unix socket), its php.ini, and Roundcube's config dir (defaults.inc.php, config.inc.php, the cell CA). */
#pragma once
#include <stdbool.h>
#include <stdint.h>

typedef struct WebmailConfig {
        const char *fpm_socket;  /* the pool's unix socket, which only Caddy (and root) may open */
        const char *proxy_group; /* Caddy's group: the socket's (0660 root:proxy_group) */
        const char *view_dir;    /* where the workers see the config (view_dir/etc) and their data (view_dir/data) */
        const char *des_key;     /* Roundcube's session-encryption key (WEBMAIL_DES_KEY_LEN URL-safe characters) */
        const char *user;        /* the workers' unprivileged user */
        const char *mail_host;   /* the mail server's name, checked against its certificate */
        const char *mail_domain; /* the domain of new identities */
        uint32_t mail_vip;       /* where IMAP and submission listen */
        unsigned imap_port;      /* implicit TLS */
        unsigned submission_port; /* STARTTLS */
        unsigned max_children;
} WebmailConfig;

#define WEBMAIL_DES_KEY_LEN 24 /* what Roundcube's default cipher (3DES) takes */
#define WEBMAIL_PING_PATH "/pic-ping"
#define WEBMAIL_STATUS_PATH "/pic-status"
#define WEBMAIL_CA_FILE "ca.pem"

/* Every path and key the files carry must pass this before rendering: no quote, space, newline or other
 * character that php-fpm's ini syntax or a PHP string would read differently. */
bool webmail_word_is_plain(const char *s);

/* Each returns 0 with *ret (caller frees), -EINVAL when a path, name or key in cfg is not plain, -ENOMEM. */
int webmail_render_fpm_conf(const WebmailConfig *cfg, char **ret);
int webmail_render_php_ini(const WebmailConfig *cfg, char **ret);
int webmail_render_roundcube(const WebmailConfig *cfg, char **ret);
int webmail_render_defaults(char **ret);
