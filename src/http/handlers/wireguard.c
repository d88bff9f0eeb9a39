/* /api/wireguard/peers (live) and /api/peers/{name}/config (wg-quick text or its
 * QR code as SVG/PNG). Thin: services/wireguard gathers and renders, crypto/qr draws. */
#include "core/ca.h"
#include "core/peers.h"
#include "crypto/qr.h"
#include "crypto/secret.h"
#include "http/handlers/handlers.h"
#include "services/wireguard/wireguard.h"

#define QR_PNG_SCALE 8

int http_wireguard_peers_get(HttpRequest *req, HttpResponse *resp) {
        PicError err = { 0 };
        json_t *o = NULL;
        int r = svc_wireguard_live_peers(req->cell, &o, &err);
        return r < 0 ? http_reply_errno(resp, r, &err) : http_reply(resp, 200, o);
}

int http_peer_config_get(HttpRequest *req, HttpResponse *resp) {
        PicError err = { 0 };
        const char *format = http_query(req, "format");
        if (!format)
                format = "text";
        if (!streq(format, "text") && !streq(format, "svg") && !streq(format, "png"))
                return http_reply_error(resp, 400, "invalid", "format", "format must be text, svg or png");
        /* Where the device gets the cell's root over the tunnel, and the fingerprint to check it against. */
        CaCertInfo ca;
        char *url = cell_ca_root_url(req->cell);
        if (url && cell_ca_root(req->cell, NULL, NULL, NULL, &ca) >= 0) {
                resp->headers[0].name = "X-Pic-CA-URL";
                snprintf(resp->headers[0].value, sizeof resp->headers[0].value, "%s", url);
                resp->headers[1].name = "X-Pic-CA-Fingerprint";
                snprintf(resp->headers[1].value, sizeof resp->headers[1].value, "%s", ca.fingerprint);
        }
        free(url);
        Peer p;
        int r = peers_get(req->cell, req->params[0], &p, &err);
        if (r < 0)
                return http_reply_errno(resp, r, &err);
        char *text = NULL;
        r = svc_wireguard_client_config(req->cell, &p, &text, &err);
        secret_wipe(&p, sizeof p);
        if (r < 0)
                return http_reply_errno(resp, r, &err);
        size_t text_len = strlen(text);
        if (streq(format, "text"))
                return http_reply_raw(resp, 200, "text/plain; charset=utf-8", text, text_len);

        char *out = NULL;
        uint8_t *png = NULL;
        size_t len = 0;
        if (streq(format, "svg"))
                r = qr_render_svg(text, &out, &len);
        else
                r = qr_render_png(text, QR_PNG_SCALE, &png, &len);
        secret_wipe(text, text_len);
        free(text);
        if (r < 0)
                return http_reply_errno(resp, r == -ERANGE ? -E2BIG : r, NULL);
        return png ? http_reply_raw(resp, 200, "image/png", (char *) png, len)
                   : http_reply_raw(resp, 200, "image/svg+xml", out, len);
}
