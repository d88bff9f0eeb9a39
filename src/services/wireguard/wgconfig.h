/* The client side of a peer: the wg-quick configuration a phone or laptop imports (as text or QR code).
 * Pure functions of their inputs; unit-tested against golden files. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "basic/netaddr.h"

#define WG_CLIENT_KEEPALIVE 25

typedef struct WgClientConfig {
        const char *private_key;       /* NULL/"": the peer made its own key pair; a comment says so */
        uint32_t address;              /* the peer's VPN address */
        uint32_t dns;                  /* the cell's DNS virtual IP; 0 = no DNS line */
        const char *server_public_key;
        const char *preshared_key;     /* NULL/"": none */
        const char *endpoint;          /* "host:port", from wg_endpoint_format() */
        bool endpoint_guessed;         /* a LAN address of the cell (wireguard.endpoint unset): a comment says so */
        Cidr4 vpn;                     /* the cell's VPN address with prefix (the subnet is routed) */
        Cidr4 ip_range;                /* the service range (routed) */
        bool route_all;                /* full tunnel: AllowedIPs = 0.0.0.0/0 */
        unsigned keepalive;            /* seconds, 0 = none */
} WgClientConfig;

/* Renders the wg-quick text. Every input is re-checked (keys are canonical base64, the endpoint passes
 * the endpoint grammar), so nothing but well-formed lines can come out: -EINVAL otherwise. The text may
 * hold a private key: the caller wipes and frees it. */
int wg_client_config_render(const WgClientConfig *cfg, char **ret);

/* The Endpoint clients dial: the wireguard.endpoint setting ("host" or "host:port"; the listen port is
 * appended when it has none), else fallback_ip:port. -EADDRNOTAVAIL when the setting is empty and there
 * is no fallback address, -EINVAL when the setting is not a valid endpoint. */
int wg_endpoint_format(const char *setting, uint32_t fallback_ip, unsigned port, char *buf, size_t size);
