/* /api/services (and the predecessor's /api/containers aliases): every managed service's state, process,
 * memory, restarts and last exit; a restart; a daemon's captured log lines. */
#include <stdio.h>

#include "basic/parse.h"
#include "basic/time-util.h"
#include "core/service-info.h"
#include "http/handlers/handlers.h"

static json_t *info_json(const CellServiceInfo *i) {
        json_t *o = json_pack("{s:s, s:s, s:s, s:b}", "name", i->name, "kind", i->has_process ? "daemon" : "module",
                              "state", i->state, "healthy", i->healthy);
        json_object_set_new(o, "problem", i->problem[0] ? json_string(i->problem) : json_null());
        bool running = i->supervised && i->status.pid > 0;
        json_object_set_new(o, "pid", running ? json_integer(i->status.pid) : json_null());
        json_object_set_new(o, "uptime", running ? json_integer(wall_sec() - i->status.started_at) : json_null());
        json_object_set_new(o, "started_at", i->supervised && i->status.started_at ? json_integer(i->status.started_at)
                                                                                  : json_null());
        json_object_set_new(o, "restarts", json_integer(i->supervised ? i->status.restarts : 0));
        json_object_set_new(o, "memory", running ? json_integer((json_int_t) i->memory_bytes) : json_null());
        if (i->supervised && i->status.last_exit_at)
                json_object_set_new(o, "last_exit",
                                    json_pack("{s:o, s:o, s:I}", "code",
                                              i->status.last_exit_signal ? json_null()
                                                                         : json_integer(i->status.last_exit_code),
                                              "signal",
                                              i->status.last_exit_signal ? json_integer(i->status.last_exit_signal)
                                                                         : json_null(),
                                              "at", (json_int_t) i->status.last_exit_at));
        else
                json_object_set_new(o, "last_exit", json_null());
        return o;
}

int http_services_get(HttpRequest *req, HttpResponse *resp) {
        Cell *c = req->cell;
        json_t *arr = json_array();
        for (size_t k = 0; k < c->n_services; k++) {
                if (!cell_service_is_listed(c->services[k]))
                        continue; /* declares endpoints and settings only: nothing runs */
                CellServiceInfo i;
                cell_service_info(c, c->services[k], CELL_INFO_PROBE | CELL_INFO_MEMORY, &i);
                json_array_append_new(arr, info_json(&i));
        }
        return http_reply(resp, 200, json_pack("{s:o}", "services", arr));
}

int http_services_status_get(HttpRequest *req, HttpResponse *resp) {
        Cell *c = req->cell;
        json_t *services = json_object(), *failing = json_array();
        size_t running = 0, total = 0;
        for (size_t k = 0; k < c->n_services; k++) {
                if (!cell_service_is_listed(c->services[k]))
                        continue; /* declares endpoints and settings only: nothing runs */
                CellServiceInfo i;
                cell_service_info(c, c->services[k], CELL_INFO_PROBE | CELL_INFO_MEMORY, &i);
                json_object_set_new(services, i.name,
                                    json_pack("{s:s, s:b, s:o}", "status", i.state, "healthy", i.healthy, "problem",
                                              i.problem[0] ? json_string(i.problem) : json_null()));
                if (streq(i.state, "disabled"))
                        continue;
                total++;
                if (i.healthy)
                        running++;
                else
                        json_array_append_new(failing, json_string(i.name));
        }
        return http_reply(resp, 200,
                          json_pack("{s:s, s:I, s:I, s:o, s:o}", "status",
                                    json_array_size(failing) ? "degraded" : "ok", "total", (json_int_t) total,
                                    "running", (json_int_t) running, "failing", failing, "services", services));
}

static const ServiceOps *find(HttpRequest *req, HttpResponse *resp) {
        const char *name = req->params[0];
        const ServiceOps *ops = name_is_valid(name) ? cell_find_service(req->cell, name) : NULL;
        if (ops && cell_service_is_listed(ops))
                return ops;
        http_reply_error(resp, 404, "not_found", NULL, "no such service");
        return NULL;
}

static int reply_status(HttpRequest *req, HttpResponse *resp, const ServiceOps *ops) {
        if (!ops->status)
                return http_reply_error(resp, 404, "not_found", NULL, "this service has no status of its own");
        PicError err = { 0 };
        json_t *o = NULL;
        int r = ops->status(req->cell, &o, &err);
        return r < 0 ? http_reply_errno(resp, r, &err) : http_reply(resp, 200, o);
}

int http_service_status_get(HttpRequest *req, HttpResponse *resp) {
        const ServiceOps *ops = find(req, resp);
        return ops ? reply_status(req, resp, ops) : 0;
}

/* The older per-service paths, kept for the clients that know them. */
int http_ntp_status_get(HttpRequest *req, HttpResponse *resp) {
        return reply_status(req, resp, cell_find_service(req->cell, "ntp"));
}

int http_wireguard_status_get(HttpRequest *req, HttpResponse *resp) {
        return reply_status(req, resp, cell_find_service(req->cell, "wireguard"));
}

int http_services_restart_post(HttpRequest *req, HttpResponse *resp) {
        Cell *c = req->cell;
        const ServiceOps *ops = find(req, resp);
        if (!ops)
                return 0;
        if (ops->enabled && !ops->enabled(c)) {
                char msg[128];
                snprintf(msg, sizeof msg, "%s is disabled; enable it in the settings first", ops->name);
                return http_reply_error(resp, 409, "conflict", NULL, msg);
        }
        PicError err = { 0 };
        ServiceStatus st;
        int r;
        if (supervisor_status(c->supervisor, ops->name, &st) >= 0) {
                r = supervisor_restart(c->supervisor, ops->name);
                /* The errno of a failed exec (ENOENT) is not "no such service": report it as our failure. */
                if (r < 0) {
                        bool why = supervisor_status(c->supervisor, ops->name, &st) >= 0 && st.failure[0];
                        r = pic_error(&err, -EIO, NULL, "cannot restart %s: %s", ops->name,
                                      why ? st.failure : strerror(-r));
                }
        } else
                /* Never handed to the supervisor (its config failed) or no process: reconcile from scratch. */
                r = cell_service_sync(c, ops, true, &err);
        snprintf(resp->audit_detail, sizeof resp->audit_detail, "restart %s", ops->name);
        if (r < 0)
                return http_reply_errno(resp, r, &err);
        CellServiceInfo i;
        cell_service_info(c, ops, CELL_INFO_MEMORY, &i);
        return http_reply(resp, 200, json_pack("{s:s, s:b, s:s}", "name", ops->name, "restarted", true, "state", i.state));
}

int http_services_logs_get(HttpRequest *req, HttpResponse *resp) {
        const ServiceOps *ops = find(req, resp);
        if (!ops)
                return 0;
        uint64_t lines = 100;
        const char *l = http_query(req, "lines");
        if (l && parse_uint(l, 1, 10000, &lines) < 0)
                return http_reply_error(resp, 400, "invalid", "lines", "lines must be an integer from 1 to 10000");
        char *text = NULL;
        int r = supervisor_logs(req->cell->supervisor, ops->name, (unsigned) lines, &text);
        if (r == -ENOENT)
                return http_reply_error(resp, 404, "not_found", NULL,
                                        ops->argv ? "this service has not run a process yet" : "this service has no process");
        if (r < 0)
                return http_reply_errno(resp, r, NULL);
        json_t *arr = json_array();
        for (char *save = NULL, *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
                json_array_append_new(arr, json_string(line));
        free(text);
        return http_reply(resp, 200, json_pack("{s:s, s:o}", "name", ops->name, "lines", arr));
}
