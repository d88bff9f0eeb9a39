/* Runs a function inside the cell's network namespace (or right here when the cell has none), so
 * service modules can make netlink/nftables/socket calls that land in the cell's network. */
#pragma once
#include "core/cell.h"

typedef int (*cell_netns_fn)(Cell *c, void *userdata);
int cell_in_netns(Cell *c, cell_netns_fn fn, void *userdata);
