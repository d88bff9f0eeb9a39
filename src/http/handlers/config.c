/* /api/config: settings as nested JSON plus service virtual IPs, partial updates validated as a whole and
 * stored in one transaction, the pending (restart-needing) changes and their apply, the metadata table. */
#include <stdio.h>

#include "basic/log.h"
#include "core/vip.h"
#include "http/handlers/handlers.h"

static json_t *service_ips(Settings *s) {
        json_t *ips = json_object();
        Cidr4 range;
        if (settings_ip_range(s, &range) < 0)
                return ips;
        for (int i = 0; i < _CELL_SERVICE_MAX; i++) {
                uint32_t ip;
                char buf[IPV4_STRLEN];
                if (cell_service_vip(&range, i, &ip) == 0)
                        json_object_set_new(ips, cell_service_to_string(i), json_string(ipv4_format(ip, buf)));
        }
        return ips;
}

int http_config_get(HttpRequest *req, HttpResponse *resp) {
        Settings *s = req->cell->settings;
        json_t *root = settings_to_json(s, false);
        json_object_set_new(root, "service_ips", service_ips(s));
        json_t *pending = settings_pending(s);
        json_object_set_new(root, "restart_required", json_boolean(json_array_size(pending) > 0));
        json_decref(pending);
        return http_reply(resp, 200, root);
}

/* A change the live system refused is taken back from the store too, and the services are brought back to
 * the old values, so the client's error means "nothing changed". */
static void revert(Cell *c, const SettingsChange *change, char *const *keys, size_t n_keys, bool restart) {
        PicError ignored = { 0 };
        int r = settings_revert(c->settings, c->store, change);
        if (r < 0) {
                log_error_errno(r, "could not take back a settings change that failed to apply");
                return;
        }
        if (cell_apply_settings(c, keys, n_keys, restart, NULL, &ignored) < 0)
                log_error("services did not return cleanly to the previous settings: %s", ignored.message);
}

int http_config_put(HttpRequest *req, HttpResponse *resp) {
        Cell *c = req->cell;
        PicError err = { 0 };
        if (!req->body)
                return http_reply_error(resp, 400, "invalid", NULL, "request body must be a JSON object of settings");
        SettingsChange change = { 0 };
        int r = settings_update(c->settings, c->store, req->body, false, &change, &err);
        if (r < 0)
                return http_reply_errno(resp, r, &err);

        /* Hot-apply what needs no restart; the rest waits for POST /api/config/apply. */
        char *hot[64];
        size_t n_hot = 0;
        json_t *changed = json_array(), *pending = json_array();
        for (size_t i = 0; i < change.n; i++) {
                json_array_append_new(change.pending[i] ? pending : changed, json_string(change.keys[i]));
                if (!change.pending[i] && n_hot < 64)
                        hot[n_hot++] = change.keys[i];
        }
        json_t *services = json_array();
        r = cell_apply_settings(c, hot, n_hot, false, services, &err);
        snprintf(resp->audit_detail, sizeof resp->audit_detail, "changed %zu key(s)", change.n);
        if (r < 0)
                revert(c, &change, hot, n_hot, false);
        settings_change_done(&change);
        if (r < 0) {
                json_decref(changed);
                json_decref(pending);
                json_decref(services);
                return http_reply_errno(resp, r, &err);
        }
        json_t *root = settings_to_json(c->settings, false);
        json_object_set_new(root, "service_ips", service_ips(c->settings));
        return http_reply(resp, 200,
                          json_pack("{s:o, s:o, s:o, s:o, s:b}", "config", root, "applied", changed, "pending", pending,
                                    "reconfigured", services, "restart_required", json_array_size(pending) > 0));
}

int http_config_pending_get(HttpRequest *req, HttpResponse *resp) {
        json_t *p = settings_pending(req->cell->settings);
        return http_reply(resp, 200, json_pack("{s:b, s:o}", "restart_required", json_array_size(p) > 0, "pending", p));
}

int http_config_apply_post(HttpRequest *req, HttpResponse *resp) {
        Cell *c = req->cell;
        PicError err = { 0 };
        SettingsChange change = { 0 };
        int r = settings_apply_pending(c->settings, c->store, &change);
        if (r < 0)
                return http_reply_errno(resp, r, NULL);
        json_t *services = json_array(), *keys = json_array();
        for (size_t i = 0; i < change.n; i++)
                json_array_append_new(keys, json_string(change.keys[i]));
        r = cell_apply_settings(c, change.keys, change.n, true, services, &err);
        if (r < 0)
                revert(c, &change, change.keys, change.n, true);
        snprintf(resp->audit_detail, sizeof resp->audit_detail, "applied %zu key(s)", change.n);
        settings_change_done(&change);
        if (r < 0) {
                json_decref(keys);
                json_decref(services);
                return http_reply_errno(resp, r, &err);
        }
        return http_reply(resp, 200, json_pack("{s:o, s:o}", "applied", keys, "restarted", services));
}

int http_config_settings_get(HttpRequest *req, HttpResponse *resp) {
        size_t n;
        const SettingDef *defs = settings_table(&n);
        json_t *arr = json_array();
        for (size_t i = 0; i < n; i++) {
                json_t *def = json_loads(defs[i].default_json, JSON_DECODE_ANY, NULL);
                json_t *o = json_pack("{s:s, s:s, s:o, s:b, s:s}", "key", defs[i].key, "type",
                                      setting_type_to_string(defs[i].type), "default", def ? def : json_null(),
                                      "needs_restart", defs[i].needs_restart, "description", defs[i].description);
                if (defs[i].type == SETTING_INT) {
                        json_object_set_new(o, "min", json_integer(defs[i].min));
                        json_object_set_new(o, "max", json_integer(defs[i].max));
                }
                json_array_append_new(arr, o);
        }
        return http_reply(resp, 200, json_pack("{s:o}", "settings", arr));
}
