/* The "webmail" service module: Roundcube (Debian) on a private php-fpm inside the cell namespace, served by the
 * proxy on the mail endpoint's site (https://mail.<cell>.<domain>/) to peers with the mail grant. Users sign in
 * with their account password, which the cell's IMAP server checks. PIC_PHP_FPM_BIN and PIC_PHP_BIN in picd's
 * environment replace /usr/sbin/php-fpm8.2 and /usr/bin/php8.2 (a test and operations knob). */
#pragma once
#include <jansson.h>

#include "core/cell.h"

#define WEBMAIL_SERVICE "webmail"
/* Under STATE/run: php-fpm's pool socket, which the mail endpoint's HTTPS site forwards to (in CELL_PROXIED_DIR). */
#define WEBMAIL_FPM_SOCKET "proxied/webmail-fpm.sock"
/* Debian's document root for Roundcube: index.php and the static files, nothing else. */
#define WEBMAIL_DOC_ROOT "/var/lib/roundcube/public_html"

extern const ServiceOps svc_webmail_ops;

/* php-fpm's pool status (processes, connections accepted) and where the webmail is. -EHOSTDOWN when php-fpm
 * does not run or answer. *ret is a new reference. */
int webmail_status(Cell *c, json_t **ret, PicError *err);
