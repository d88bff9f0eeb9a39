/* GET /health: unauthenticated and cheap — overall status plus each managed service's state, "degraded"
 * with the failing services named when one is down or crash-looping. */
#include "basic/time-util.h"
#include "http/handlers/handlers.h"

int http_health_get(HttpRequest *req, HttpResponse *resp) {
        Cell *c = req->cell;
        json_t *services = json_object();
        json_t *failing = json_array();
        const char *const *names;
        size_t n = supervisor_list(c->supervisor, &names);
        for (size_t i = 0; i < n; i++) {
                ServiceStatus st;
                if (supervisor_status(c->supervisor, names[i], &st) < 0)
                        continue;
                json_object_set_new(services, names[i], json_string(service_state_to_string(st.state)));
                if (st.state != SERVICE_RUNNING)
                        json_array_append_new(failing, json_string(names[i]));
        }
        bool ok = json_array_size(failing) == 0;
        return http_reply(resp, 200,
                          json_pack("{s:s, s:s, s:s, s:I, s:o, s:o}", "status", ok ? "ok" : "degraded", "version",
                                    PIC_VERSION, "cell", settings_str(c->settings, "cell_name"), "uptime",
                                    (json_int_t) (wall_sec() - c->started_at), "services", services, "failing",
                                    failing));
}
