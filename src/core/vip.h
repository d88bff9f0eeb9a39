/* Service virtual IPs: the one module that owns each service's fixed offset inside ip_range.
 * No other code computes or hard-codes a service address. */
#pragma once
#include <errno.h>
#include <stdint.h>

#include "basic/netaddr.h"

typedef enum CellService {
        CELL_SERVICE_GATEWAY, /* the cell's own address on the pic0 bridge */
        CELL_SERVICE_DNS,
        CELL_SERVICE_DHCP,
        CELL_SERVICE_NTP,
        CELL_SERVICE_API,
        CELL_SERVICE_CALENDAR,
        CELL_SERVICE_FILES,
        CELL_SERVICE_MAIL,
        CELL_SERVICE_WEBDAV,
        _CELL_SERVICE_MAX,
        _CELL_SERVICE_INVALID = -EINVAL,
} CellService;

/* Smallest ip_range that still holds every offset (prefix length). */
#define VIP_MAX_PREFIX 27

const char *cell_service_to_string(CellService s);
CellService cell_service_from_string(const char *s);
uint32_t cell_service_offset(CellService s);
/* Address of service s inside range; -ERANGE if the range is too small. */
int cell_service_vip(const Cidr4 *range, CellService s, uint32_t *ret);
