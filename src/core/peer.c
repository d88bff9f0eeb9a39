/* Grant names and their services (see peer.h). The names are the predecessor's service_access values. */
#include "core/peer.h"

#include "basic/util.h"

static const struct {
        const char *name;
        CellService service;
} grants[_GRANT_MAX] = {
        [GRANT_CALENDAR] = { "calendar", CELL_SERVICE_CALENDAR },
        [GRANT_FILES] = { "files", CELL_SERVICE_FILES },
        [GRANT_MAIL] = { "mail", CELL_SERVICE_MAIL },
        [GRANT_WEBDAV] = { "webdav", CELL_SERVICE_WEBDAV },
};

const char *grant_to_string(Grant g) {
        return g >= 0 && g < _GRANT_MAX ? grants[g].name : NULL;
}

Grant grant_from_string(const char *s) {
        for (int i = 0; i < _GRANT_MAX; i++)
                if (s && streq(grants[i].name, s))
                        return i;
        return _GRANT_INVALID;
}

CellService grant_service(Grant g) {
        return grants[g].service;
}

uint16_t dns_view_port_base(uint16_t dns_port) {
        if (dns_port >= DNS_VIEW_PORT_BASE && dns_port < DNS_VIEW_PORT_BASE + DNS_VIEWS)
                return DNS_VIEW_PORT_BASE + DNS_VIEWS;
        return DNS_VIEW_PORT_BASE;
}
