/* The mail stack's configuration as pure functions of a MailConfig: Postfix's main.cf, master.cf and its texthash
 * maps, Dovecot's dovecot.conf, OpenDKIM's opendkim.conf. Every string in a MailConfig has passed a strict
 * grammar before it gets here (names, the mail domain, paths picd made), so rendering only formats. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct MailUser {
        const char *name;
        bool admin; /* admins receive postmaster@ and abuse@ */
} MailUser;

typedef struct MailAlias {
        const char *alias;          /* local part */
        const char *const *targets; /* user names */
        size_t n_targets;
} MailAlias;

typedef struct MailConfig {
        const char *domain;   /* the mail domain: users are <name>@<domain> */
        const char *hostname; /* mail.<cell_name>.<domain>: HELO name and the certificate's name */
        uint32_t vip;         /* the mail virtual IP every listener binds */
        unsigned smtp_port, submission_port, submissions_port, imap_port, imaps_port;
        const char *postfix_dir;  /* STATE/etc/mail: main.cf, master.cf and the maps */
        const char *queue_dir;    /* Postfix's queue (STATE/data/mail/queue: survives restarts and backups) */
        const char *postfix_data; /* Postfix's data_directory */
        const char *maildir_root; /* STATE/data/mail/users: <user>/Maildir */
        const char *dovecot_state, *dovecot_base;
        const char *run_dir;      /* STATE/run/mail: lmtp, auth and quota-status sockets */
        const char *cert, *key;   /* the cell CA's leaf for mail.<zone> */
        const char *dkim_socket;  /* OpenDKIM's milter socket; NULL: no signing */
        const char *dkim_key, *dkim_selector, *dkim_pid;
        const char *auth_socket;  /* picd's auth.sock, which pic-mail-auth asks */
        const char *auth_helper;  /* the pic-mail-auth binary */
        unsigned quota_mb;        /* per mailbox; 0 = none */
        unsigned message_size_mb, recipient_limit, connection_rate; /* connections per client and minute */
        const char *relay_host;   /* "" = deliver directly */
        unsigned relay_port;
        /* The relay's login as Postfix's map wants it, "username:password" (the username has no ':', neither has
         * whitespace); NULL = none. Used only with a relay_host: the password never goes to anyone else. */
        const char *relay_login;
        bool relay_tls_verify;    /* with a login: the relay's certificate must chain to relay_cafile and name it */
        const char *relay_cafile; /* the system's trusted CAs */
        const MailUser *users;
        size_t n_users;
        const MailAlias *aliases;
        size_t n_aliases;
} MailConfig;

/* Each returns 0 and a malloc'ed text, or -ENOMEM. */
int mail_render_main_cf(const MailConfig *m, char **ret);
int mail_render_master_cf(const MailConfig *m, char **ret);
/* virtual_mailbox_maps: one "<user>@<domain> OK" line per user. */
int mail_render_mailboxes(const MailConfig *m, char **ret);
/* virtual_alias_maps: each alias to its targets' addresses; postmaster@ and abuse@ to the admins. */
int mail_render_virtual(const MailConfig *m, char **ret);
/* Port 25's sender access map: our own domain as a sender is refused there (its users sign in on submission). */
int mail_render_local_senders(const MailConfig *m, char **ret);
/* smtpd_sender_login_maps: who may send as each address (a user as themselves, an alias's targets as it). */
int mail_render_senders(const MailConfig *m, char **ret);
/* smtp_sasl_password_maps: "[relay_host]:relay_port username:password", or nothing without a relay or a login.
 * picd writes it 0600 root; Postfix's smtp client reads it before it drops its privileges. */
int mail_render_relay_login(const MailConfig *m, char **ret);
int mail_render_dovecot(const MailConfig *m, char **ret);
int mail_render_opendkim(const MailConfig *m, char **ret);
/* The DKIM public key record's value from opendkim-genkey's <selector>.txt ("v=DKIM1; k=rsa; p=..."), or
 * -EINVAL when the text holds no key. */
int mail_dkim_txt_value(const char *genkey_txt, char **ret);
