/* What the mail service is to the rest of the cell: its address, name, grant and settings. The registry
 * places it on the bridge, in DNS, in the firewall's grants and in /api/config from these rows alone. */
#include "services/mail/mail.h"

#include "basic/util.h"
#include "services/webmail/webmail.h"

static const ServiceEndpoint endpoints[] = {
        /* https://mail.<cell>.<domain>/ is the webmail (services/webmail): its users sign in on Roundcube's
         * form with the account password, so the proxy checks the peer's grant only. */
        { .name = "mail", .vip_offset = 12, .dns_labels = (const char *const[]) { "mail", NULL }, .grantable = true,
          .grant_bit = 2, .http_upstream = WEBMAIL_FPM_SOCKET, .http_grant_only = true,
          .http_fastcgi_root = WEBMAIL_DOC_ROOT },
};

static const SettingDef settings[] = {
        SETTING_PORT("mail.smtp_port", 25, "SMTP port on the mail virtual IP"),
        SETTING_PORT("mail.submission_port", 587, "Submission port on the mail virtual IP"),
        SETTING_PORT("mail.imap_port", 993, "IMAPS port on the mail virtual IP"),
};

const ServiceOps svc_mail_ops = {
        .name = "mail",
        .endpoints = endpoints,
        .n_endpoints = ELEMENTSOF(endpoints),
        .settings = settings,
        .n_settings = ELEMENTSOF(settings),
};
