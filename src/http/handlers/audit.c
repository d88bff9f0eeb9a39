/* GET /api/audit?limit=N&before=ID: the audit trail of every mutation, newest first, paged by id. */
#include "basic/parse.h"
#include "http/handlers/handlers.h"

static void add_row(const StoreAudit *a, void *userdata) {
        json_array_append_new(userdata, json_pack("{s:I, s:I, s:s, s:s, s:s, s:s, s:i, s:s}", "id", (json_int_t) a->id,
                                                  "ts", (json_int_t) a->ts, "actor", a->actor, "remote", a->remote,
                                                  "method", a->method, "path", a->path, "status", a->status, "detail",
                                                  a->detail));
}

int http_audit_get(HttpRequest *req, HttpResponse *resp) {
        uint64_t limit = 100, before = 0;
        const char *l = http_query(req, "limit"), *b = http_query(req, "before");
        if (l && parse_uint(l, 1, 1000, &limit) < 0)
                return http_reply_error(resp, 400, "invalid", "limit", "limit must be an integer from 1 to 1000");
        if (b && parse_uint(b, 1, INT64_MAX, &before) < 0)
                return http_reply_error(resp, 400, "invalid", "before", "before must be a positive audit id");
        json_t *arr = json_array();
        int r = store_audit_foreach(req->cell->store, (int64_t) before, (unsigned) limit, add_row, arr);
        if (r < 0) {
                json_decref(arr);
                return http_reply_errno(resp, r, NULL);
        }
        return http_reply(resp, 200, json_pack("{s:o}", "entries", arr));
}
