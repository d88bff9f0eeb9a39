/* /api/config: settings as nested JSON plus service virtual IPs, partial updates validated as a whole and
 * stored in one transaction, the pending (restart-needing) changes and their apply, the metadata table. */
#include <stdio.h>

#include "basic/log.h"
#include "http/handlers/handlers.h"

/* Every registered endpoint's virtual IP, by name. */
static json_t *service_ips(Cell *c) {
        json_t *ips = json_object();
        Cidr4 range;
        if (settings_ip_range(c->settings, &range) < 0)
                return ips;
        for (size_t i = 0; i < c->registry.n; i++) {
                uint32_t ip;
                char buf[IPV4_STRLEN];
                if (registry_vip_of(c->registry.endpoints[i], &range, &ip) == 0)
                        json_object_set_new(ips, c->registry.endpoints[i]->name, json_string(ipv4_format(ip, buf)));
        }
        return ips;
}

/* GET /api/config is what UIs and monitors poll, and building it (jansson objects, an snprintf per address,
 * then json_dumps) cost more than all the rest of the request. The last rendered body is kept together with
 * a copy of every setting's stored and applied value it was rendered from, and reused while each one is
 * json_equal to the current value. It is checked on every request, so no writer of settings (PUT, apply,
 * --set, or any future handler) has to remember to invalidate anything: the body is a pure function of
 * those values, so a reused body is byte for byte what a fresh rendering would give. */
typedef struct ConfigBodyCache {
        size_t n;
        json_t **stored, **applied; /* deep copies per SettingDef; NULL where the key had no value */
        char *body;
        size_t len;
} ConfigBodyCache;

static ConfigBodyCache config_cache;

static void config_cache_clear(void) {
        for (size_t i = 0; i < config_cache.n; i++) {
                json_decref(config_cache.stored[i]);
                json_decref(config_cache.applied[i]);
        }
        free(config_cache.stored);
        free(config_cache.applied);
        free(config_cache.body);
        config_cache = (ConfigBodyCache) { 0 };
}

static bool same_value(json_t *a, json_t *b) {
        return (!a && !b) || (a && b && json_equal(a, b));
}

static bool config_cache_valid(Settings *s) {
        size_t n;
        const SettingDef *defs = settings_defs(s, &n);
        if (!config_cache.body || config_cache.n != n)
                return false;
        for (size_t i = 0; i < n; i++)
                if (!same_value(config_cache.stored[i], settings_get(s, defs[i].key, false)) ||
                    !same_value(config_cache.applied[i], settings_get(s, defs[i].key, true)))
                        return false;
        return true;
}

/* Takes body on success. On allocation failure nothing is cached, body stays the caller's, and the next
 * request renders again. */
static int config_cache_store(Settings *s, char *body, size_t len) {
        size_t n;
        const SettingDef *defs = settings_defs(s, &n);
        config_cache_clear();
        config_cache.stored = calloc(n, sizeof *config_cache.stored);
        config_cache.applied = calloc(n, sizeof *config_cache.applied);
        if (!config_cache.stored || !config_cache.applied) {
                config_cache_clear();
                return -ENOMEM;
        }
        config_cache.n = n;
        for (size_t i = 0; i < n; i++) {
                json_t *v = settings_get(s, defs[i].key, false), *a = settings_get(s, defs[i].key, true);
                config_cache.stored[i] = v ? json_deep_copy(v) : NULL;
                config_cache.applied[i] = a ? json_deep_copy(a) : NULL;
                if ((v && !config_cache.stored[i]) || (a && !config_cache.applied[i])) {
                        config_cache_clear();
                        return -ENOMEM;
                }
        }
        config_cache.body = body;
        config_cache.len = len;
        return 0;
}

static json_t *config_render(Cell *c) {
        Settings *s = c->settings;
        json_t *root = settings_to_json(s, false);
        json_object_set_new(root, "service_ips", service_ips(c));
        json_t *pending = settings_pending(s);
        json_object_set_new(root, "restart_required", json_boolean(json_array_size(pending) > 0));
        json_decref(pending);
        return root;
}

int http_config_get(HttpRequest *req, HttpResponse *resp) {
        Settings *s = req->cell->settings;
        if (!config_cache_valid(s)) {
                json_t *root = config_render(req->cell);
                /* The same flags the server's JSON path uses, so the bytes do not depend on the cache. */
                char *body = json_dumps(root, JSON_COMPACT);
                json_decref(root);
                if (!body)
                        return http_reply_errno(resp, -ENOMEM, NULL);
                if (config_cache_store(s, body, strlen(body)) < 0)
                        return http_reply_raw(resp, 200, "application/json", body, strlen(body));
        }
        char *copy = malloc(config_cache.len);
        if (!copy)
                return http_reply_errno(resp, -ENOMEM, NULL);
        memcpy(copy, config_cache.body, config_cache.len);
        return http_reply_raw(resp, 200, "application/json", copy, config_cache.len);
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
        json_object_set_new(root, "service_ips", service_ips(c));
        return http_reply(resp, 200,
                          json_pack("{s:o, s:o, s:o, s:o, s:b}", "config", root, "applied", changed, "pending", pending,
                                    "reconfigured", services, "restart_required", json_array_size(pending) > 0));
}

int http_config_pending_get(HttpRequest *req, HttpResponse *resp) {
        json_t *p = settings_pending(req->cell->settings), *e;
        size_t i;
        /* Which modules each key reaches: the owner and the modules that watch it. */
        json_array_foreach(p, i, e)
                json_object_set_new(e, "services", cell_key_services(req->cell, json_string_value(json_object_get(e, "key"))));
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
        const SettingDef *defs = settings_defs(req->cell->settings, &n);
        json_t *arr = json_array();
        for (size_t i = 0; i < n; i++) {
                json_t *def = json_loads(defs[i].default_json, JSON_DECODE_ANY, NULL);
                const char *module = settings_def_owner(req->cell->settings, defs[i].key);
                json_t *o = json_pack("{s:s, s:s, s:o, s:b, s:s, s:o}", "key", defs[i].key, "type",
                                      setting_type_to_string(defs[i].type), "default", def ? def : json_null(),
                                      "needs_restart", defs[i].needs_restart, "description", defs[i].description,
                                      "module", module ? json_string(module) : json_null());
                if (defs[i].type == SETTING_INT) {
                        json_object_set_new(o, "min", json_integer(defs[i].min));
                        json_object_set_new(o, "max", json_integer(defs[i].max));
                }
                json_array_append_new(arr, o);
        }
        return http_reply(resp, 200, json_pack("{s:o}", "settings", arr));
}
