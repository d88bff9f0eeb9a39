/* The "network" service module: the service bridge pic0 in the cell namespace carrying every service's
 * virtual IP from ip_range (offsets owned by core/vip.c). Other modules bind those addresses. */
#pragma once
#include "core/cell.h"

#define NETWORK_BRIDGE "pic0"

extern const ServiceOps svc_network_ops;
