/* Shared by the files of services/mesh: the module's private state, this cell's own facts as the mesh
 * states them, the live edits of a link (route, firewall elements, DNS forward) and the mesh endpoint. */
#pragma once
#include <stdio.h>

#include "basic/netaddr.h"
#include "basic/strbuf.h"
#include "crypto/identity.h"
#include "crypto/invite.h"
#include "services/mesh/mesh.h"
#include "store/mesh.h"

#define MESH_CONNS_MAX 8
#define MESH_MSG_MAX 16384
#define MESH_CONTEXT "pic-mesh-msg-v1"
#define MESH_KEEPALIVE 25
#define MESH_LINKS_MAX 64

typedef struct MeshConn {
        int fd; /* -1: free slot */
        char buf[MESH_MSG_MAX];
        size_t len;
        LoopTimer *timeout;
        struct MeshState *st;
} MeshConn;

typedef struct MeshState {
        Cell *cell;
        Identity id;
        bool have_identity;
        int listen_fd;
        LoopTimer *retry;
        MeshConn conns[MESH_CONNS_MAX];
        struct {
                char name[64];
                int64_t at;
        } dns_ok[MESH_LINKS_MAX]; /* the last answer of each link's DNS over the tunnel */
} MeshState;

MeshState *mesh_state(Cell *c);

/* The site peer's name of a linked cell (names longer than fits are refused when linking). */
static inline void mesh_site_name(const char *cell, char ret[static PEER_NAME_MAX]) {
        snprintf(ret, PEER_NAME_MAX, "mesh-%.58s", cell);
}

/* This cell as the mesh states it to others. */
typedef struct MeshSelf {
        char name[64];
        char domain[254];
        char identity[IDENTITY_PK_STRLEN];
        char wg_key[45];
        char host[254];
        uint16_t port;
        uint16_t dns_port;
        Cidr4 vpn, range;
} MeshSelf;
int mesh_self(Cell *c, MeshSelf *ret, PicError *err);

/* A link's parsed CIDRs. */
int mesh_cell_nets(const MeshCell *m, Cidr4 *ret_vpn, Cidr4 *ret_range);
/* "<name>.<domain>" of a linked cell. */
void mesh_cell_zone(const MeshCell *m, char *buf, size_t size);
/* The nft lines adding (or deleting) a link's elements: its SNAT range and the remote grants of local peers. */
int mesh_link_nft(Cell *c, const MeshCell *m, bool add, StrBuf *b);
/* Route and DNS forward of a link (the firewall part goes through mesh_link_nft). */
int mesh_link_route(Cell *c, const MeshCell *m, bool add, PicError *err);
int mesh_link_dns(Cell *c, const MeshCell *m, bool add, PicError *err);
/* An existing link's JSON view; live adds handshake and DNS liveness. */
json_t *mesh_cell_to_json(Cell *c, const MeshCell *m, bool live);
/* Removes a link on this side only: store and live state. */
int mesh_link_remove(Cell *c, const MeshCell *m, PicError *err);
/* Stores a link (active) with its site peer and applies it; inviter marks its invite used. */
int mesh_link_add(Cell *c, const MeshCell *m, uint32_t access, int64_t used_invite_id, PicError *err);

/* Asks the linked cell's DNS over the tunnel once (a short timeout); the time of the last answer, 0 = none. */
int64_t mesh_dns_probe(Cell *c, const MeshCell *m);

/* The mesh endpoint. */
int mesh_wire_listen(Cell *c, MeshState *st, PicError *err);
void mesh_wire_close(MeshState *st);
/* Sends env to host:port and returns the reply envelope. *ret_sent tells whether the request may have
 * reached the other side (then a failure leaves the outcome unknown). */
int mesh_wire_call(Cell *c, const char *host, uint16_t port, json_t *env, json_t **ret_env, bool *ret_sent,
                   PicError *err);
/* Finishes stored pending joins (after a restart or a lost answer); reschedules itself while any is left. */
void mesh_retry_schedule(Cell *c, uint64_t usec);
/* The signed leave notice to m (best effort); true when the other side confirmed. */
bool mesh_send_leave(Cell *c, const MeshCell *m);
