/* The "network" service module: the service bridge pic0 in the cell namespace carrying every virtual IP the
 * registered modules declare (core/registry.h), plus the cell's own gateway and API addresses. */
#pragma once
#include "core/cell.h"

#define NETWORK_BRIDGE "pic0"

extern const ServiceOps svc_network_ops;
