/* Peer lifecycle: validate a request, allocate the VPN IP, store in one transaction and tell every service
 * (WireGuard, firewall, DNS) through cell_peer_changed(); a failure anywhere leaves store and live system
 * as they were. JSON in, Peer out; the caller owns nothing it did not allocate. */
#pragma once
#include <jansson.h>

#include "core/cell.h"
#include "core/peer.h"

/* body: {name, ip?, service_access?, enabled?, route_all?, public_key?, description?} */
int peers_create(Cell *c, json_t *body, Peer *ret, PicError *err);
/* body: any of {ip, service_access, enabled, route_all, public_key, description}; name is immutable. */
int peers_update(Cell *c, const char *name, json_t *body, Peer *ret, PicError *err);
int peers_delete(Cell *c, const char *name, PicError *err);
int peers_get(Cell *c, const char *name, Peer *ret, PicError *err);
/* What a user must know before handing out peer configs: today, that wireguard.endpoint is unset, so
 * configs carry a LAN address of the cell that devices elsewhere cannot reach. A JSON array of strings
 * (empty when all is well), the "warnings" of the peer create reply and of /api/wireguard/status. New
 * reference, NULL when out of memory. */
json_t *peers_warnings(Cell *c);
/* Public view of a peer (never the private or preshared key). New reference. */
/* Grants are named by the registry (bits of services that are not registered are left out). */
json_t *peer_to_json(const Registry *reg, const Peer *p);
json_t *peer_access_to_json(const Registry *reg, uint32_t access);

/* A linked cell appears as one peer named PEERS_SITE_PREFIX + its cell name (services/mesh): its grants are
 * what this cell shares with it. The peers API refuses to create, change or delete such a name. */
#define PEERS_SITE_PREFIX "mesh-"
/* The lowest free host address of the VPN subnet, also skipping also_taken (0: none). */
int peers_allocate_ip(Cell *c, uint32_t also_taken, uint32_t *ret, PicError *err);
