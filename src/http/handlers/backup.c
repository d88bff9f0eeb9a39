/* /api/config/backup, /backups and /restore/{id}: whole-cell archives made, listed, deleted and restored by
 * core/backup.c; this file only maps results to the API's statuses and bodies. */
#include <stdio.h>

#include "core/backup.h"
#include "http/handlers/handlers.h"

int http_backup_post(HttpRequest *req, HttpResponse *resp) {
        PicError err = { 0 };
        BackupInfo info;
        int r = backup_create(req->cell, &info, &err);
        if (r < 0)
                return http_reply_errno(resp, r, &err);
        snprintf(resp->audit_detail, sizeof resp->audit_detail, "backup %s (%llu bytes)", info.id,
                 (unsigned long long) info.size);
        return http_reply(resp, 201, json_pack("{s:s, s:I, s:I}", "id", info.id, "created", (json_int_t) info.created,
                                               "size", (json_int_t) info.size));
}

int http_backups_get(HttpRequest *req, HttpResponse *resp) {
        json_t *list = NULL;
        int r = backup_list(req->cell, &list);
        if (r < 0)
                return http_reply_errno(resp, r, NULL);
        return http_reply(resp, 200, json_pack("{s:o}", "backups", list));
}

/* The archive itself, to keep off the cell: it holds the cell's keys, so it is admin-only and local-only
 * like making one, and never cached by a browser or a proxy. Streamed: an archive with the users' files can be
 * many GB. */
int http_backup_download_get(HttpRequest *req, HttpResponse *resp) {
        PicError err = { 0 };
        int fd = -1;
        uint64_t size = 0;
        int r = backup_open(req->cell, req->params[0], &fd, &size, &err);
        if (r < 0)
                return http_reply_errno(resp, r, &err);
        resp->headers[0].name = "Content-Disposition";
        snprintf(resp->headers[0].value, sizeof resp->headers[0].value, "attachment; filename=\"%s.tar.gz\"",
                 req->params[0]);
        resp->headers[1].name = "Cache-Control";
        snprintf(resp->headers[1].value, sizeof resp->headers[1].value, "no-store");
        return http_reply_fd(resp, 200, "application/gzip", fd, size);
}

int http_backups_delete(HttpRequest *req, HttpResponse *resp) {
        PicError err = { 0 };
        int r = backup_delete(req->cell, req->params[0], &err);
        if (r < 0)
                return http_reply_errno(resp, r, &err);
        snprintf(resp->audit_detail, sizeof resp->audit_detail, "backup %s deleted", req->params[0]);
        return http_reply(resp, 200, json_pack("{s:s, s:b}", "id", req->params[0], "deleted", 1));
}

int http_restore_post(HttpRequest *req, HttpResponse *resp) {
        PicError err = { 0 };
        json_t *services = json_array();
        int r = backup_restore(req->cell, req->params[0], services, &err);
        if (r < 0) {
                json_decref(services);
                return http_reply_errno(resp, r, &err);
        }
        snprintf(resp->audit_detail, sizeof resp->audit_detail, "restored backup %s", req->params[0]);
        return http_reply(resp, 200,
                          json_pack("{s:s, s:b, s:o, s:b, s:s}", "id", req->params[0], "restored", 1, "restarted", services,
                                    "sessions_ended", 1, "message",
                                    "Restored. Every web session has ended: sign in again. API tokens are those of "
                                    "the backup."));
}
