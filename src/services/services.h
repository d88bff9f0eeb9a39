/* The list of managed service modules, each one const ServiceOps table (DESIGN.md); picd registers them
 * all at start. Adding a service = one folder + one entry in services.c. */
#pragma once
#include "core/cell.h"

int services_register_all(Cell *c);
