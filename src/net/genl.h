/* Generic netlink queries (libmnl): whether the kernel offers a family such as "wireguard". */
#pragma once

/* 1 when the family is registered, 0 when not, negative errno when the question could not be asked. */
int genl_family_exists(const char *name);
