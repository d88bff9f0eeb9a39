/* What the calendar service is to the rest of the cell: its address, name, grant and settings. The registry
 * places it on the bridge, in DNS, in the firewall's grants and in /api/config from these rows alone. */
#include "services/calendar/calendar.h"

#include "basic/util.h"

static const ServiceEndpoint endpoints[] = {
        { .name = "calendar", .vip_offset = 10, .dns_labels = (const char *const[]) { "calendar", NULL }, .grantable = true,
          .grant_bit = 0,
          .http_upstream = "calendar-http.sock" },
};

static const SettingDef settings[] = {
        SETTING_PORT("calendar.port", 5232, "CalDAV/CardDAV port on the calendar virtual IP"),
};

const ServiceOps svc_calendar_ops = {
        .name = "calendar",
        .endpoints = endpoints,
        .n_endpoints = ELEMENTSOF(endpoints),
        .settings = settings,
        .n_settings = ELEMENTSOF(settings),
};
