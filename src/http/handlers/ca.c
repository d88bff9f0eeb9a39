/* GET /api/ca: the cell CA's root as JSON (fingerprint, name constraints, expiry, leaves), PEM or DER.
 * Thin: core/ca keeps the certificates. */
#include <stdlib.h>
#include <string.h>

#include "core/ca.h"
#include "http/handlers/handlers.h"

int http_ca_get(HttpRequest *req, HttpResponse *resp) {
        const char *format = http_query(req, "format");
        if (!format)
                format = "json";
        if (!streq(format, "json") && !streq(format, "pem") && !streq(format, "der"))
                return http_reply_error(resp, 400, "invalid", "format", "format must be json, pem or der");
        PicError err = { 0 };
        if (streq(format, "json")) {
                json_t *o = NULL;
                int r = cell_ca_json(req->cell, &o, &err);
                return r < 0 ? http_reply_errno(resp, r, &err) : http_reply(resp, 200, o);
        }
        const char *pem;
        const unsigned char *der;
        size_t len;
        if (cell_ca_root(req->cell, &pem, &der, &len, NULL) < 0)
                return http_reply_errno(resp, -EHOSTDOWN,
                                        &(PicError) { .message = "the cell CA is not set up" });
        if (streq(format, "pem")) {
                char *copy = strdup(pem);
                return copy ? http_reply_raw(resp, 200, "application/x-pem-file", copy, strlen(copy))
                            : http_reply_errno(resp, -ENOMEM, NULL);
        }
        char *copy = malloc(len);
        if (!copy)
                return http_reply_errno(resp, -ENOMEM, NULL);
        memcpy(copy, der, len);
        return http_reply_raw(resp, 200, "application/pkix-cert", copy, len);
}
