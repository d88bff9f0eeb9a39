/* The "wireguard" service module: the cell's WireGuard interface inside the cell namespace, run as
 * wireguard-go by the supervisor and driven at runtime over UAPI — server key, listen port, address, and
 * one `set` per peer change; the live peer set is reconciled to the store whenever the daemon (re)starts. */
#pragma once
#include <jansson.h>
#include <net/if.h>

#include "core/cell.h"
#include "crypto/wgkey.h"

extern const ServiceOps svc_wireguard_ops;

/* The interface name, unique per cell on one machine: "pic-wg" in the host namespace, else "picwg-" + 8
 * hex digits of the FNV-1a hash of the namespace name. wireguard-go's control socket
 * /run/wireguard/IF.sock lives in a directory every namespace shares, so two cells must never use the
 * same name; 14 characters fit IFNAMSIZ. */
void svc_wireguard_ifname(const Cell *c, char ret[static IFNAMSIZ]);

/* GET /api/wireguard/status: interface, backend, running, public key, port, address, endpoint, counts. */
int svc_wireguard_status(Cell *c, json_t **ret, PicError *err);
/* GET /api/wireguard/peers: the live peers from the daemon (endpoint, latest handshake, rx/tx, allowed
 * IPs) joined with their stored names. */
int svc_wireguard_live_peers(Cell *c, json_t **ret, PicError *err);
/* The wg-quick text for peer p. -EADDRNOTAVAIL (field wireguard.endpoint) when the cell does not know an
 * address clients can reach. The text may hold a private key: the caller wipes and frees it. */
int svc_wireguard_client_config(Cell *c, const Peer *p, char **ret, PicError *err);
/* Host:port where other networks reach this cell's WireGuard (wireguard.endpoint, else a guess). */
int svc_wireguard_endpoint(Cell *c, char *buf, size_t size, PicError *err);
int svc_wireguard_public_key(Cell *c, char ret[static WG_KEY_STRLEN], PicError *err);
