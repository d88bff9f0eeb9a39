/* The grant model: which services a VPN peer may reach. One grant drives firewall, DNS view and proxy
 * access together; this header is the one list of grantable services and their virtual IPs. */
#pragma once
#include <stdint.h>

#include "core/vip.h"
#include "store/peers.h"

typedef enum Grant {
        GRANT_CALENDAR,
        GRANT_FILES,
        GRANT_MAIL,
        GRANT_WEBDAV,
        _GRANT_MAX,
        _GRANT_INVALID = -EINVAL,
} Grant;

#define GRANT_ALL ((1u << _GRANT_MAX) - 1)

const char *grant_to_string(Grant g);
Grant grant_from_string(const char *s);
/* The service whose virtual IP a grant opens. */
CellService grant_service(Grant g);
