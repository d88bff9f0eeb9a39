/* What sockets a process holds, read from /proc/PID/net/udp (which shows the process's own network namespace)
 * and /proc/PID/fd — cheap enough for /health probes, no netlink round trip. */
#pragma once
#include <stdint.h>
#include <sys/types.h>

/* Finds an IPv4 UDP socket of pid bound to port; *ret_addr gets its local address (host order, 0 = any).
 * -ENOENT when pid holds none, other negative errno when /proc cannot be read. */
int procnet_udp_socket(pid_t pid, uint16_t port, uint32_t *ret_addr);
