/* rtnetlink (libmnl) helpers for the current network namespace: bridges, addresses, link state.
 * Callers enter the cell namespace first (netns_enter) when there is one. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

int link_bridge_ensure(const char *ifname);
int link_delete(const char *ifname);
int link_exists(const char *ifname);
int link_set_up(const char *ifname);
/* IPv4 address with prefix on ifname; an address already present is success. */
int addr_add(const char *ifname, uint32_t ip, uint8_t prefix);
/* A missing address is success. */
int addr_del(const char *ifname, uint32_t ip, uint8_t prefix);
/* IPv4 addresses (with prefixes) on ifname; caller frees both arrays. */
int addr_list(const char *ifname, uint32_t **ret_ips, uint8_t **ret_prefixes, size_t *ret_n);
/* First global-scope IPv4 address (kernel's dump order) on an interface not named in skip_ifnames
 * (NULL-terminated); -EADDRNOTAVAIL when there is none. */
int addr_first_global(const char *const *skip_ifnames, uint32_t *ret);
/* A route to net/prefix out of ifname in the current namespace (add replaces, delete of a missing one is 0). */
int route_add(const char *ifname, uint32_t net, uint8_t prefix);
int route_del(const char *ifname, uint32_t net, uint8_t prefix);
