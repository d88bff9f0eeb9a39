/* The cell mesh: this cell's Ed25519 identity, signed single-use invites, links to cells of other owners
 * (a site peer each way, routes, firewall elements, a DNS forward zone), per-service sharing and remote
 * grants ("calendar@othercell"), and the mesh endpoint other cells talk to (TCP on wireguard.port). */
#pragma once
#include <jansson.h>
#include <stdbool.h>

#include "core/cell.h"
#include "services/wireguard/sync.h"

extern const ServiceOps svc_mesh_ops;

/* ---- hooks for the modules a link reaches ---------------------------------------------------------------- */

/* If p is the site peer of an active link, fills w's site fields (service range, endpoint, keepalive). */
void svc_mesh_site_peer(Cell *c, const Peer *p, WgWantPeer *w);
/* table (the firewall's whole-table script) followed by the elements of every link and remote grant. */
int svc_mesh_fw_script(Cell *c, const char *table, char **ret);
/* Calls fn with each unbound-control command that installs the forward zones of the active links. */
typedef int (*mesh_ctl_fn)(const char *command, void *userdata, PicError *err);
int svc_mesh_dns_commands(Cell *c, mesh_ctl_fn fn, void *userdata, PicError *err);
/* Whether any link is stored (the firewall then keeps IPv4 forwarding on for remote grants). */
bool svc_mesh_has_links(Cell *c);
/* Adds the routes of every active link (the WireGuard interface was just configured). Logs failures. */
void svc_mesh_routes_up(Cell *c);

/* ---- API (handlers are thin; every error names its field) --------------------------------------------------- */

int svc_mesh_info(Cell *c, json_t **ret, PicError *err);
int svc_mesh_invite_create(Cell *c, json_t *body, json_t **ret, PicError *err);
int svc_mesh_invites_list(Cell *c, json_t **ret, PicError *err);
int svc_mesh_invite_delete(Cell *c, const char *id, PicError *err);
int svc_mesh_join(Cell *c, json_t *body, json_t **ret, PicError *err);
int svc_mesh_cells_list(Cell *c, json_t **ret, PicError *err);
int svc_mesh_cell_get(Cell *c, const char *name, json_t **ret, PicError *err);
int svc_mesh_cell_update(Cell *c, const char *name, json_t *body, json_t **ret, PicError *err);
int svc_mesh_cell_delete(Cell *c, const char *name, json_t **ret, PicError *err);
