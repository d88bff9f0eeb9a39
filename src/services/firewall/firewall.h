/* The "firewall" service module: the one nftables table `inet pic` in the cell namespace that enforces
 * per-peer grants, DNS/NTP for every enabled peer, and NAT for full-tunnel peers (render.h has the rules). */
#pragma once
#include "core/cell.h"

extern const ServiceOps svc_firewall_ops;
/* Switches IPv4 forwarding on in the cell's namespace (full-tunnel peers, linked cells); never off. */
int svc_firewall_forwarding_on(Cell *c);
