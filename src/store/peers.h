/* Stored VPN peers: the Peer record and its typed accessors. Keys are WireGuard base64 (44 chars);
 * private_key is empty when the client supplied its own public key. `access` is a bitmask of grants
 * (bit i = grant i of core/peer.h). IPs are host-order IPv4. */
#pragma once
#include <stdbool.h>
#include <stdint.h>

#include "store/store.h"

#define PEER_NAME_MAX 64
#define PEER_KEY_STRLEN 45 /* base64 of 32 bytes + NUL */

typedef struct Peer {
        int64_t id;
        char name[PEER_NAME_MAX];
        uint32_t ip;
        char public_key[PEER_KEY_STRLEN];
        char private_key[PEER_KEY_STRLEN];   /* "" when client-supplied */
        char preshared_key[PEER_KEY_STRLEN]; /* "" when none */
        uint32_t access;
        bool enabled;
        bool route_all;
        char description[256];
        char owner[64]; /* user name, "" when the peer belongs to nobody */
        int64_t created_at, updated_at;
} Peer;

int store_peer_insert(Store *s, Peer *p); /* fills p->id */
int store_peer_update(Store *s, const Peer *p); /* by id */
int store_peer_delete(Store *s, int64_t id);
int store_peer_get_by_name(Store *s, const char *name, Peer *ret);
int store_peer_get_by_ip(Store *s, uint32_t ip, Peer *ret);
int store_peer_count(Store *s, int64_t *ret);
typedef int (*store_peer_fn)(const Peer *p, void *userdata); /* return <0 to stop */
int store_peer_foreach(Store *s, store_peer_fn fn, void *userdata);
/* All allocated IPs, ascending (for allocation); caller frees *ret. */
int store_peer_ips(Store *s, uint32_t **ret, size_t *ret_n);
