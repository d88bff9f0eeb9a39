/* GET /api/ntp/status: what chronyd reports (stratum, offset, clients served) via its command socket. */
#include "http/handlers/handlers.h"
#include "services/ntp/ntp.h"

int http_ntp_status_get(HttpRequest *req, HttpResponse *resp) {
        PicError err = { 0 };
        json_t *status = NULL;
        int r = ntp_status(req->cell, &status, &err);
        if (r < 0)
                return http_reply_errno(resp, r, &err);
        return http_reply(resp, 200, status);
}
