/* What the files service is to the rest of the cell: its address, name, grant and settings. The registry
 * places it on the bridge, in DNS, in the firewall's grants and in /api/config from these rows alone. */
#include "services/files/files.h"

#include "basic/util.h"

static const ServiceEndpoint endpoints[] = {
        { .name = "files", .vip_offset = 11, .dns_labels = (const char *const[]) { "files", NULL }, .grantable = true,
          .grant_bit = 1,
          .http_upstream = "files-http.sock" },
};

static const SettingDef settings[] = {
        SETTING_PORT("files.port", 80, "HTTP port on the files virtual IP"),
};

const ServiceOps svc_files_ops = {
        .name = "files",
        .endpoints = endpoints,
        .n_endpoints = ELEMENTSOF(endpoints),
        .settings = settings,
        .n_settings = ELEMENTSOF(settings),
};
