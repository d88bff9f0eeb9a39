/* What the webdav service is to the rest of the cell: its address, name, grant and settings. The registry
 * places it on the bridge, in DNS, in the firewall's grants and in /api/config from these rows alone. */
#include "services/webdav/webdav.h"

#include "basic/util.h"

static const ServiceEndpoint endpoints[] = {
        { .name = "webdav", .vip_offset = 13, .dns_labels = (const char *const[]) { "webdav", NULL }, .grantable = true,
          .grant_bit = 3,
          .http_upstream = "webdav-http.sock" },
};

static const SettingDef settings[] = {
        SETTING_PORT("webdav.port", 80, "HTTP port on the WebDAV virtual IP"),
};

const ServiceOps svc_webdav_ops = {
        .name = "webdav",
        .endpoints = endpoints,
        .n_endpoints = ELEMENTSOF(endpoints),
        .settings = settings,
        .n_settings = ELEMENTSOF(settings),
};
