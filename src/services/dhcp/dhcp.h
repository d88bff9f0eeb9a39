/* The "dhcp" service module: dnsmasq in DHCP-only mode on dhcp.interface, reservations as one file per host in
 * its dhcp-hostsdir (read by inotify, no restart), and lease changes published to the cell's DNS.
 * PIC_DNSMASQ_BIN in picd's environment replaces /usr/sbin/dnsmasq (a test and operations knob). */
#pragma once
#include "core/cell.h"
#include "services/dhcp/leases.h"

extern const ServiceOps svc_dhcp_ops;

/* The live leases (expired ones dropped), read from dnsmasq's lease file; caller frees *ret. */
int dhcp_leases_read(Cell *c, DhcpLease **ret, size_t *ret_n);
/* Whether the running dnsmasq holds its UDP port 67 socket; detail says what was found.
 * -ENOTCONN when it is not running, -EADDRNOTAVAIL when it holds no such socket. */
int dhcp_socket_check(Cell *c, char *detail, size_t size);
