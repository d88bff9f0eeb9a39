/* wg-quick rendering (see wgconfig.h). A fixed buffer instead of a growing one: the text holds a private
 * key and a reallocated block would leave a copy behind in freed memory. */
#include "services/wireguard/wgconfig.h"

#include <stdarg.h>
#include <stdio.h>

#include "basic/parse.h"
#include "basic/util.h"
#include "crypto/secret.h"
#include "crypto/wgkey.h"

#define CONFIG_MAX 2048

typedef struct Fixed {
        char buf[CONFIG_MAX];
        size_t len;
        bool overflow;
} Fixed;

_printf_(2, 3) static void put(Fixed *f, const char *fmt, ...) {
        if (f->overflow)
                return;
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(f->buf + f->len, sizeof f->buf - f->len, fmt, ap);
        va_end(ap);
        if (n < 0 || (size_t) n >= sizeof f->buf - f->len) {
                f->overflow = true;
                return;
        }
        f->len += (size_t) n;
}

int wg_client_config_render(const WgClientConfig *cfg, char **ret) {
        bool own_key = cfg->private_key && *cfg->private_key;
        bool psk = cfg->preshared_key && *cfg->preshared_key;
        if ((own_key && !wg_key_is_valid(cfg->private_key)) || !wg_key_is_valid(cfg->server_public_key) ||
            (psk && !wg_key_is_valid(cfg->preshared_key)) || !cfg->endpoint || !endpoint_is_valid(cfg->endpoint) ||
            !strchr(cfg->endpoint, ':') || cfg->address == 0 || cfg->keepalive > 65535)
                return -EINVAL;

        char ip[IPV4_STRLEN], net[CIDR4_STRLEN], range[CIDR4_STRLEN];
        Fixed *f = calloc(1, sizeof *f);
        if (!f)
                return -ENOMEM;
        put(f, "[Interface]\n");
        if (own_key)
                put(f, "PrivateKey = %s\n", cfg->private_key);
        else
                put(f, "# PrivateKey = the private key whose public key was registered for this peer (pic never saw it)\n");
        put(f, "Address = %s/32\n", ipv4_format(cfg->address, ip));
        if (cfg->dns)
                put(f, "DNS = %s\n", ipv4_format(cfg->dns, ip));
        put(f, "\n[Peer]\n");
        put(f, "PublicKey = %s\n", cfg->server_public_key);
        if (psk)
                put(f, "PresharedKey = %s\n", cfg->preshared_key);
        if (cfg->endpoint_guessed)
                put(f, "# Endpoint is a LAN address of the cell (wireguard.endpoint is not set): away from that "
                       "network, set wireguard.endpoint to the cell's public name or address and fetch this again\n");
        put(f, "Endpoint = %s\n", cfg->endpoint);
        if (cfg->route_all)
                put(f, "AllowedIPs = 0.0.0.0/0\n");
        else
                put(f, "AllowedIPs = %s, %s\n", cidr4_format_network(&cfg->vpn, net),
                    cidr4_format_network(&cfg->ip_range, range));
        if (cfg->keepalive)
                put(f, "PersistentKeepalive = %u\n", cfg->keepalive);

        int r = 0;
        char *text = NULL;
        if (f->overflow)
                r = -E2BIG;
        else if (!(text = strndup(f->buf, f->len)))
                r = -ENOMEM;
        secret_wipe(f, sizeof *f);
        free(f);
        if (r < 0)
                return r;
        *ret = text;
        return 0;
}

int wg_endpoint_format(const char *setting, uint32_t fallback_ip, unsigned port, char *buf, size_t size) {
        int n;
        if (port == 0 || port > 65535)
                return -EINVAL;
        if (setting && *setting) {
                if (!endpoint_is_valid(setting))
                        return -EINVAL;
                n = strchr(setting, ':') ? snprintf(buf, size, "%s", setting) : snprintf(buf, size, "%s:%u", setting, port);
        } else {
                if (fallback_ip == 0)
                        return -EADDRNOTAVAIL;
                char ip[IPV4_STRLEN];
                n = snprintf(buf, size, "%s:%u", ipv4_format(fallback_ip, ip), port);
        }
        return n < 0 || (size_t) n >= size ? -ENAMETOOLONG : 0;
}
