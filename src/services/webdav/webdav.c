/* What the webdav service is to the rest of the cell: its address, name, grant and settings. Its backend is
 * the files module's lighttpd (the same trees, so a laptop mount and a phone app see the same files), which
 * also makes its per-request checks. */
#include "services/webdav/webdav.h"

#include "basic/util.h"
#include "services/files/files.h"

static const ServiceEndpoint endpoints[] = {
        { .name = "webdav", .vip_offset = 13, .dns_labels = (const char *const[]) { "webdav", NULL }, .grantable = true,
          .grant_bit = 3,
          .http_upstream = "proxied/webdav-http.sock", .http_streams = true,
          .http_fast_methods = FILES_FAST_METHODS, .http_fast_not_below = FILES_FAST_NOT_BELOW },
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
        .http_authorize = files_http_authorize,
};
