/* The mail service: three supervised daemons on the mail virtual IP, each a module of its own so the
 * supervisor runs, restarts and reports each — "mail" (Postfix: SMTP 25, submission 587/465), "mail-imap"
 * (Dovecot: IMAP 143/993, LMTP delivery, SASL for Postfix, quota) and "mail-dkim" (OpenDKIM signing) — plus
 * the mail domain's aliases, per-user facts and DNS records for the API. Mail data lives in STATE/data/mail. */
#pragma once
#include <jansson.h>

#include "core/cell.h"

#define MAIL_SERVICE "mail"
#define MAIL_IMAP_SERVICE "mail-imap"
#define MAIL_DKIM_SERVICE "mail-dkim"
#define MAIL_DKIM_SELECTOR "pic"

extern const ServiceOps svc_mail_ops;
extern const ServiceOps svc_mail_imap_ops;
extern const ServiceOps svc_mail_dkim_ops;

/* The mail domain (mail.domain, else <cell_name>.<domain>) into ret. */
int mail_domain(Cell *c, char ret[static 256]);

/* GET /api/mail/aliases: {"aliases": [{alias, address, targets[]}]}. */
int mail_aliases_json(Cell *c, json_t **ret, PicError *err);
/* POST /api/mail/aliases {alias, targets[]}: -EINVAL naming the field, -EEXIST when the alias or a user has that
 * name; stored and live in Postfix as one unit. ret: the alias as GET lists it. */
int mail_alias_add(Cell *c, json_t *body, json_t **ret, PicError *err);
/* DELETE /api/mail/aliases/{alias}: -ENOENT when there is none. */
int mail_alias_remove(Cell *c, const char *alias, PicError *err);
/* GET /api/users/{name}/mail: address, aliases, messages, usage and quota in bytes. */
int mail_user_json(Cell *c, const char *user, json_t **ret, PicError *err);
/* GET /api/mail/dns: the MX, SPF, DKIM and DMARC records of the mail domain, and whether the cell's own zone
 * publishes them (it does when the mail domain is the zone or below it). */
int mail_dns_json(Cell *c, json_t **ret, PicError *err);
/* GET /api/mail/relay: the outbound relay (host, port, tls from the settings), its login's username and whether a
 * password is set; never the password. */
int mail_relay_json(Cell *c, json_t **ret, PicError *err);
/* PUT /api/mail/relay {username, password}: -EINVAL naming the field (nothing changed); stored 0600 and live in
 * Postfix (reloaded, deferred mail retried 2 s later) before it returns. ret: as GET. */
int mail_relay_set(Cell *c, json_t *body, json_t **ret, PicError *err);
/* DELETE /api/mail/relay: -ENOENT when no login is set. */
int mail_relay_clear(Cell *c, json_t **ret, PicError *err);
