/* The offset table behind vip.h. Offsets are part of the user-visible contract (bookmarks, client
 * configs): changing one moves a service, so they are only ever appended. */
#include "core/vip.h"

#include "basic/util.h"

static const struct {
        const char *name;
        uint32_t offset;
} table[_CELL_SERVICE_MAX] = {
        [CELL_SERVICE_GATEWAY] = { "gateway", 1 },
        [CELL_SERVICE_DNS] = { "dns", 2 },
        [CELL_SERVICE_DHCP] = { "dhcp", 3 },
        [CELL_SERVICE_NTP] = { "ntp", 4 },
        [CELL_SERVICE_API] = { "api", 5 },
        [CELL_SERVICE_CALENDAR] = { "calendar", 10 },
        [CELL_SERVICE_FILES] = { "files", 11 },
        [CELL_SERVICE_MAIL] = { "mail", 12 },
        [CELL_SERVICE_WEBDAV] = { "webdav", 13 },
};

const char *cell_service_to_string(CellService s) {
        return s >= 0 && s < _CELL_SERVICE_MAX ? table[s].name : NULL;
}

CellService cell_service_from_string(const char *s) {
        for (int i = 0; i < _CELL_SERVICE_MAX; i++)
                if (streq(table[i].name, s))
                        return i;
        return _CELL_SERVICE_INVALID;
}

uint32_t cell_service_offset(CellService s) {
        return table[s].offset;
}

int cell_service_vip(const Cidr4 *range, CellService s, uint32_t *ret) {
        if (s < 0 || s >= _CELL_SERVICE_MAX)
                return -EINVAL;
        return cidr4_host(range, table[s].offset, ret);
}
