/* The list of managed service modules, each one const ServiceOps table (DESIGN.md); picd registers them
 * all at start. Adding a service = one folder (its ops table declares its endpoints, settings and daemon)
 * + one entry in services.c. */
#pragma once
#include "core/cell.h"

/* The modules in start order (NULL-terminated). */
const ServiceOps *const *services_all(size_t *ret_n);
/* Registers every module (c->settings must exist; settings_load comes after). */
int services_register_all(Cell *c);
