/* Stored mesh state: invites this cell issued, links to other cells (MeshCell) and remote grants (a local
 * peer may use a service of a linked cell). Addresses are host-order IPv4; CIDRs are stored as text. */
#pragma once
#include <stdbool.h>
#include <stdint.h>

#include "store/store.h"

#define MESH_INVITE_STORED_MAX 2048

typedef struct MeshInvite {
        int64_t id;
        char nonce[24];
        char share[512];   /* comma-separated service names offered */
        int64_t created_at, expires_at, used_at;
        char used_by[64];  /* the cell that used it, "" while unused */
} MeshInvite;

typedef struct MeshCell {
        char name[64];
        char domain[254];
        char identity[44];
        char wg_key[45];
        char host[254];
        uint16_t port;
        char vpn[24];      /* its VPN address/prefix */
        char range[24];    /* its service range */
        uint16_t dns_port;
        char offered[512]; /* services its invite offered (comma-separated) */
        char nonce[24];    /* the invite nonce the link was made with */
        char state[12];    /* "active", or "pending": this cell sent a join and has no answer stored yet */
        char invite[MESH_INVITE_STORED_MAX]; /* a pending join's invite, to send again after a restart */
        uint32_t local_ip;  /* the other cell's address in this cell's VPN subnet (its site peer) */
        uint32_t remote_ip; /* this cell's address in the other cell's VPN subnet (0 while pending) */
        int64_t created_at;
} MeshCell;

int store_mesh_invite_insert(Store *s, MeshInvite *inv);
int store_mesh_invite_get_by_nonce(Store *s, const char *nonce, MeshInvite *ret);
int store_mesh_invite_mark_used(Store *s, int64_t id, const char *by, int64_t at);
int store_mesh_invite_delete(Store *s, int64_t id);
typedef int (*store_mesh_invite_fn)(const MeshInvite *inv, void *userdata);
int store_mesh_invite_foreach(Store *s, store_mesh_invite_fn fn, void *userdata);

/* Inserts or replaces the row of c->name. */
int store_mesh_cell_put(Store *s, const MeshCell *c);
int store_mesh_cell_get(Store *s, const char *name, MeshCell *ret);
int store_mesh_cell_get_by_identity(Store *s, const char *identity, MeshCell *ret);
int store_mesh_cell_delete(Store *s, const char *name);
typedef int (*store_mesh_cell_fn)(const MeshCell *c, void *userdata);
int store_mesh_cell_foreach(Store *s, store_mesh_cell_fn fn, void *userdata);

int store_mesh_grant_add(Store *s, const char *peer, const char *cell, const char *service);
/* Removes the grants of peer (NULL: any) at cell (NULL: any). */
int store_mesh_grant_remove(Store *s, const char *peer, const char *cell);
typedef int (*store_mesh_grant_fn)(const char *peer, const char *cell, const char *service, void *userdata);
/* In peer, cell, service order; peer/cell NULL = any. */
int store_mesh_grant_foreach(Store *s, const char *peer, const char *cell, store_mesh_grant_fn fn, void *userdata);
