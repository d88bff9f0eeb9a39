/* What sockets a process holds, read from /proc/PID/net/udp (which shows the process's own network namespace)
 * and /proc/PID/fd — cheap enough for /health probes, no netlink round trip. */
#pragma once
#include <stdint.h>
#include <sys/types.h>

typedef struct ProcnetUdpEntry {
        uint32_t local_addr;    /* host order, 0 = any */
        uint16_t local_port;
        unsigned long inode;
} ProcnetUdpEntry;

/* Parses one line of /proc/net/udp ("sl: AAAAAAAA:PPPP rem st tx:rx tr:when retrnsmt uid timeout inode ...").
 * Strict: exactly 8 and 4 hex digits for the local address and port, a plain decimal inode. -EINVAL for the
 * header, an IPv6 (udp6) line or anything else. */
int procnet_udp_parse_line(const char *line, ProcnetUdpEntry *ret);
/* Finds an IPv4 UDP socket of pid bound to port; *ret_addr gets its local address (host order, 0 = any).
 * -ENOENT when pid holds none, other negative errno when /proc cannot be read. */
int procnet_udp_socket(pid_t pid, uint16_t port, uint32_t *ret_addr);
