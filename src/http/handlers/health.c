/* GET /health: unauthenticated and cheap — overall status plus each managed service's state, "degraded"
 * with the failing services named (and why) when one is down, crash-looping or fails its probe. */
#include "basic/time-util.h"
#include "core/service-info.h"
#include "http/handlers/handlers.h"

int http_health_get(HttpRequest *req, HttpResponse *resp) {
        Cell *c = req->cell;
        json_t *services = json_object();
        json_t *failing = json_array();
        json_t *problems = json_object();
        for (size_t k = 0; k < c->n_services; k++) {
                if (!cell_service_is_listed(c->services[k]))
                        continue; /* declares endpoints and settings only: nothing runs */
                CellServiceInfo i;
                /* Probes are /proc reads and netlink dumps, reused for 2 s: no subprocess, no network wait. */
                cell_service_info(c, c->services[k], CELL_INFO_PROBE, &i);
                json_object_set_new(services, i.name, json_string(i.state));
                if (!i.healthy) {
                        json_array_append_new(failing, json_string(i.name));
                        json_object_set_new(problems, i.name, json_string(i.problem));
                }
        }
        bool ok = json_array_size(failing) == 0;
        return http_reply(resp, 200,
                          json_pack("{s:s, s:s, s:s, s:I, s:o, s:o, s:o}", "status", ok ? "ok" : "degraded", "version",
                                    PIC_VERSION, "cell", settings_str(c->settings, "cell_name"), "uptime",
                                    (json_int_t) (wall_sec() - c->started_at), "services", services, "failing",
                                    failing, "problems", problems));
}
