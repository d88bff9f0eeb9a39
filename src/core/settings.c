/* The settings metadata table and the validated, transactional update of stored settings.
 * The cell's own rows are here; each service module declares its rows in its ops table (core/cell.h). */
#include "core/settings.h"

#include <stdio.h>

#include "basic/log.h"
#include "basic/parse.h"
#include "basic/util.h"
#include "core/registry.h"

struct Settings {
        SettingDef *defs; /* the core rows, then every module's, in registration order */
        const char **owners; /* per row: the module that declared it, NULL for the cell's */
        size_t n_defs;
        json_t *values;  /* flat key → stored value */
        json_t *applied; /* flat key → applied value */
        settings_check_fn check;
        void *check_userdata;
};

static int v_name(const char *key, json_t *v, PicError *err) {
        if (!name_is_valid(json_string_value(v)))
                return pic_error(err, -EINVAL, key,
                                 "%s must be 1-63 characters of a-z, 0-9 and '-', starting with a letter or digit", key);
        return 0;
}

static int v_domain(const char *key, json_t *v, PicError *err) {
        const char *s = json_string_value(v);
        bool ok = dns_name_is_valid(s, false) && s[strlen(s) - 1] != '.';
        for (const char *p = s; ok && *p; p++)
                if (*p >= 'A' && *p <= 'Z')
                        ok = false;
        if (!ok)
                return pic_error(err, -EINVAL, key, "%s must be a lower-case DNS name such as \"cell\" or \"home.arpa\"", key);
        return 0;
}

static int v_ip_range(const char *key, json_t *v, PicError *err) {
        Cidr4 c;
        char net[CIDR4_STRLEN];
        if (cidr4_parse(json_string_value(v), true, &c) < 0)
                return pic_error(err, -EINVAL, key, "%s must be an IPv4 CIDR such as 172.20.0.0/16", key);
        if (!cidr4_is_rfc1918(&c))
                return pic_error(err, -EINVAL, key,
                                 "%s must lie inside 10.0.0.0/8, 172.16.0.0/12 or 192.168.0.0/16 (RFC 1918)", key);
        if (c.prefix > VIP_MAX_PREFIX)
                return pic_error(err, -EINVAL, key, "%s is too small: the prefix must be /%d or shorter", key,
                                 VIP_MAX_PREFIX);
        if (c.addr != cidr4_network(&c))
                return pic_error(err, -EINVAL, key, "%s must be a network address (did you mean %s?)", key,
                                 cidr4_format_network(&c, net));
        return 0;
}

static int v_vpn_address(const char *key, json_t *v, PicError *err) {
        Cidr4 c;
        if (cidr4_parse(json_string_value(v), true, &c) < 0)
                return pic_error(err, -EINVAL, key,
                                 "%s must be the cell's VPN address with a prefix length, such as 10.0.0.1/24", key);
        if (c.prefix < 8 || c.prefix > 30)
                return pic_error(err, -EINVAL, key, "%s prefix length must be between /8 and /30", key);
        if (c.addr == cidr4_network(&c) || c.addr == cidr4_broadcast(&c))
                return pic_error(err, -EINVAL, key, "%s must be a host address, not the network or broadcast address",
                                 key);
        return 0;
}

int setting_validate_endpoint(const char *key, json_t *v, PicError *err) {
        const char *s = json_string_value(v);
        if (*s && !endpoint_is_valid(s))
                return pic_error(err, -EINVAL, key, "%s must be a host name or IPv4 address, optionally with :port", key);
        return 0;
}

int setting_validate_optional_ipv4(const char *key, json_t *v, PicError *err) {
        const char *s = json_string_value(v);
        uint32_t ip;
        if (*s && ipv4_parse(s, &ip) < 0)
                return pic_error(err, -EINVAL, key, "%s must be an IPv4 address or empty", key);
        return 0;
}

/* An interface name as the kernel takes it (IFNAMSIZ-1 characters, no '/', no space), narrowed to the characters
 * interface names use in practice so it is safe on a dnsmasq config line. Empty means "not configured". */
int setting_validate_ifname(const char *key, json_t *v, PicError *err) {
        const char *s = json_string_value(v);
        size_t n = strlen(s);
        bool ok = n < 16 && !streq(s, ".") && !streq(s, "..");
        for (const char *p = s; ok && *p; p++)
                ok = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '-' ||
                     *p == '_' || *p == '.';
        if (!ok)
                return pic_error(err, -EINVAL, key,
                                 "%s must be an interface name of at most 15 letters, digits, '-', '_' or '.'", key);
        return 0;
}

/* The keys of the cell itself; each service module declares its own rows in its ops table. */
static const SettingDef core_defs[] = {
        { "cell_name", SETTING_STRING, "\"mycell\"", v_name, 0, 0, false,
          "Name of this cell; services are named SERVICE.CELL_NAME.DOMAIN" },
        { "domain", SETTING_STRING, "\"cell\"", v_domain, 0, 0, false, "DNS domain the cell lives under" },
        { "ip_range", SETTING_STRING, "\"172.20.0.0/24\"", v_ip_range, 0, 0, true,
          "RFC 1918 range the service virtual IPs are taken from" },
        { "wireguard.address", SETTING_STRING, "\"10.0.0.1/24\"", v_vpn_address, 0, 0, true,
          "The cell's VPN address with prefix; the prefix is the VPN subnet" },
        { "api.trusted_proxy", SETTING_STRING, "\"\"", setting_validate_optional_ipv4, 0, 0, false,
          "Address of the reverse proxy whose X-Forwarded-For (right-most entry) is believed" },
};

static int add_def(Settings *s, const SettingDef *d, const char *owner, char *why, size_t size) {
        json_t *def = json_loads(d->default_json ? d->default_json : "", JSON_DECODE_ANY, NULL);
        bool typed = def && ((d->type == SETTING_STRING && json_is_string(def)) ||
                             (d->type == SETTING_INT && json_is_integer(def)) ||
                             (d->type == SETTING_BOOL && json_is_boolean(def)));
        json_decref(def);
        if (!d->key || !d->description || !typed) {
                snprintf(why, size, "setting \"%s\": a key, a description and a default of its type are required",
                         d->key ? d->key : "");
                return -EINVAL;
        }
        if (settings_def_find(s, d->key)) {
                snprintf(why, size, "setting \"%s\" is declared twice", d->key);
                return -EEXIST;
        }
        SettingDef *n = realloc(s->defs, (s->n_defs + 1) * sizeof *n);
        if (!n)
                return -ENOMEM;
        s->defs = n;
        const char **o = realloc(s->owners, (s->n_defs + 1) * sizeof *o);
        if (!o)
                return -ENOMEM;
        s->owners = o;
        s->defs[s->n_defs] = *d;
        s->owners[s->n_defs++] = owner;
        return 0;
}

int settings_add_defs(Settings *s, const char *owner, const SettingDef *defs, size_t n, char *why, size_t size) {
        for (size_t i = 0; i < n; i++) {
                int r = add_def(s, &defs[i], owner, why, size);
                if (r < 0)
                        return r;
        }
        return 0;
}

int settings_new(Settings **ret) {
        Settings *s = calloc(1, sizeof *s);
        if (!s)
                return -ENOMEM;
        s->values = json_object();
        s->applied = json_object();
        char why[256];
        int r = s->values && s->applied ? settings_add_defs(s, NULL, core_defs, ELEMENTSOF(core_defs), why, sizeof why)
                                        : -ENOMEM;
        if (r < 0) {
                settings_free(s);
                return r;
        }
        *ret = s;
        return 0;
}

int settings_new_like(const Settings *tmpl, Settings **ret) {
        Settings *s = calloc(1, sizeof *s);
        if (!s)
                return -ENOMEM;
        s->values = json_object();
        s->applied = json_object();
        s->defs = malloc((tmpl->n_defs ? tmpl->n_defs : 1) * sizeof *s->defs);
        s->owners = malloc((tmpl->n_defs ? tmpl->n_defs : 1) * sizeof *s->owners);
        if (!s->values || !s->applied || !s->defs || !s->owners) {
                settings_free(s);
                return -ENOMEM;
        }
        memcpy(s->defs, tmpl->defs, tmpl->n_defs * sizeof *s->defs);
        memcpy(s->owners, tmpl->owners, tmpl->n_defs * sizeof *s->owners);
        s->n_defs = tmpl->n_defs;
        *ret = s;
        return 0;
}

const SettingDef *settings_defs(const Settings *s, size_t *ret_n) {
        *ret_n = s->n_defs;
        return s->defs;
}

const SettingDef *settings_def_find(const Settings *s, const char *key) {
        for (size_t i = 0; key && i < s->n_defs; i++)
                if (streq(s->defs[i].key, key))
                        return &s->defs[i];
        return NULL;
}

const char *settings_def_owner(const Settings *s, const char *key) {
        const SettingDef *d = settings_def_find(s, key);
        return d ? s->owners[d - s->defs] : NULL;
}

const char *setting_type_to_string(SettingType t) {
        static const char *const names[_SETTING_TYPE_MAX] = { "string", "integer", "boolean" };
        return t >= 0 && t < _SETTING_TYPE_MAX ? names[t] : NULL;
}

static void load_row(const StoreSetting *row, void *userdata) {
        Settings *s = userdata;
        if (!settings_def_find(s, row->key)) {
                log_warn("ignoring unknown stored setting \"%s\"", row->key);
                return;
        }
        json_t *v = json_loads(row->value, JSON_DECODE_ANY, NULL);
        json_t *a = row->applied ? json_loads(row->applied, JSON_DECODE_ANY, NULL) : NULL;
        if (v)
                json_object_set_new(s->values, row->key, v);
        if (a)
                json_object_set_new(s->applied, row->key, a);
        else if (v)
                json_object_set(s->applied, row->key, v);
}

int settings_load(Settings *s, Store *store) {
        json_object_clear(s->values);
        json_object_clear(s->applied);
        for (size_t i = 0; i < s->n_defs; i++) {
                json_t *d = json_loads(s->defs[i].default_json, JSON_DECODE_ANY, NULL);
                if (!d)
                        return -EINVAL;
                json_object_set(s->values, s->defs[i].key, d);
                json_object_set_new(s->applied, s->defs[i].key, d);
        }
        return store_settings_foreach(store, load_row, s);
}

Settings *settings_free(Settings *s) {
        if (!s)
                return NULL;
        json_decref(s->values);
        json_decref(s->applied);
        free(s->defs);
        free(s->owners);
        free(s);
        return NULL;
}

json_t *settings_get(Settings *s, const char *key, bool applied) {
        return json_object_get(applied ? s->applied : s->values, key);
}

const char *settings_str(Settings *s, const char *key) {
        const char *v = json_string_value(settings_get(s, key, true));
        return v ? v : "";
}

int64_t settings_int(Settings *s, const char *key) {
        return json_integer_value(settings_get(s, key, true));
}

bool settings_bool(Settings *s, const char *key) {
        return json_is_true(settings_get(s, key, true));
}

json_t *settings_to_json(Settings *s, bool applied) {
        json_t *root = json_object();
        for (size_t i = 0; i < s->n_defs; i++) {
                json_t *v = settings_get(s, s->defs[i].key, applied);
                const char *dot = strchr(s->defs[i].key, '.');
                if (!dot) {
                        json_object_set(root, s->defs[i].key, v);
                        continue;
                }
                char section[64];
                snprintf(section, sizeof section, "%.*s", (int) (dot - s->defs[i].key), s->defs[i].key);
                json_t *sec = json_object_get(root, section);
                if (!sec) {
                        sec = json_object();
                        json_object_set_new(root, section, sec);
                }
                json_object_set(sec, dot + 1, v);
        }
        return root;
}

int settings_flatten(const Settings *s, json_t *partial, json_t **ret_flat, PicError *err) {
        if (!json_is_object(partial))
                return pic_error(err, -EINVAL, NULL, "request body must be a JSON object of settings");
        json_t *flat = json_object();
        const char *k;
        json_t *v;
        json_object_foreach(partial, k, v) {
                if (json_is_object(v)) {
                        const char *k2;
                        json_t *v2;
                        json_object_foreach(v, k2, v2) {
                                char key[128];
                                if (snprintf(key, sizeof key, "%s.%s", k, k2) >= (int) sizeof key ||
                                    !settings_def_find(s, key)) {
                                        json_decref(flat);
                                        return pic_error(err, -EINVAL, key, "unknown setting \"%.100s\"", key);
                                }
                                json_object_set(flat, key, v2);
                        }
                        if (json_object_size(v) == 0 && !settings_def_find(s, k)) {
                                bool section = false;
                                size_t kl = strlen(k);
                                for (size_t i = 0; i < s->n_defs; i++)
                                        if (strncmp(s->defs[i].key, k, kl) == 0 && s->defs[i].key[kl] == '.')
                                                section = true;
                                if (!section) {
                                        json_decref(flat);
                                        return pic_error(err, -EINVAL, k, "unknown setting section \"%.100s\"", k);
                                }
                        }
                        continue;
                }
                if (!settings_def_find(s, k)) {
                        json_decref(flat);
                        return pic_error(err, -EINVAL, k, "unknown setting \"%.100s\"", k);
                }
                json_object_set(flat, k, v);
        }
        *ret_flat = flat;
        return 0;
}

static int check_type(const SettingDef *d, json_t *v, PicError *err) {
        switch (d->type) {
        case SETTING_STRING:
                if (!json_is_string(v))
                        return pic_error(err, -EINVAL, d->key, "%s must be a string", d->key);
                if (!config_text_is_safe(json_string_value(v), 255))
                        return pic_error(err, -EINVAL, d->key,
                                         "%s contains characters that are not allowed (control, quote, brace, '#', ';')",
                                         d->key);
                return 0;
        case SETTING_INT:
                if (!json_is_integer(v))
                        return pic_error(err, -EINVAL, d->key, "%s must be an integer", d->key);
                if (json_integer_value(v) < d->min || json_integer_value(v) > d->max)
                        return pic_error(err, -EINVAL, d->key, "%s must be between %lld and %lld", d->key,
                                         (long long) d->min, (long long) d->max);
                return 0;
        case SETTING_BOOL:
                if (!json_is_boolean(v))
                        return pic_error(err, -EINVAL, d->key, "%s must be true or false", d->key);
                return 0;
        default:
                return -EINVAL;
        }
}

/* Rules that involve more than one key, checked on the merged (would-be) values. */
static int check_cross(json_t *merged, json_t *flat, PicError *err) {
        Cidr4 range, vpn;
        if (cidr4_parse(json_string_value(json_object_get(merged, "ip_range")), true, &range) < 0 ||
            cidr4_parse(json_string_value(json_object_get(merged, "wireguard.address")), true, &vpn) < 0)
                return 0; /* already reported by the per-key validators */
        if (cidr4_overlaps(&range, &vpn)) {
                const char *field = json_object_get(flat, "wireguard.address") ? "wireguard.address" : "ip_range";
                return pic_error(err, -EINVAL, field, "the VPN subnet and ip_range must not overlap");
        }
        return 0;
}

void settings_change_done(SettingsChange *c) {
        for (size_t i = 0; i < c->n; i++)
                free(c->keys[i]);
        free(c->keys);
        free(c->pending);
        json_decref(c->before);
        *c = (SettingsChange) { 0 };
}

int settings_update(Settings *s, Store *store, json_t *partial, bool apply_all, SettingsChange *ret,
                    PicError *err) {
        json_t *flat = NULL, *merged = NULL;
        SettingsChange change = { 0 };
        int r = settings_flatten(s, partial, &flat, err);
        if (r < 0)
                return r;
        if (json_object_size(flat) == 0) {
                r = pic_error(err, -EINVAL, NULL, "no settings given");
                goto out;
        }

        const char *k;
        json_t *v;
        json_object_foreach(flat, k, v) {
                const SettingDef *d = settings_def_find(s, k);
                r = check_type(d, v, err);
                if (r >= 0 && d->validate)
                        r = d->validate(k, v, err);
                if (r < 0)
                        goto out;
        }
        merged = json_deep_copy(s->values);
        json_object_update(merged, flat);
        r = check_cross(merged, flat, err);
        if (r >= 0 && s->check)
                r = s->check(merged, flat, s->check_userdata, err);
        if (r < 0)
                goto out;

        size_t n = json_object_size(flat);
        change.keys = calloc(n, sizeof *change.keys);
        change.pending = calloc(n, sizeof *change.pending);
        change.before = json_object();
        if (!change.keys || !change.pending || !change.before) {
                r = -ENOMEM;
                goto out;
        }
        r = store_begin(store);
        if (r < 0)
                goto out;
        json_object_foreach(flat, k, v) {
                const SettingDef *d = settings_def_find(s, k);
                bool same_stored = json_equal(v, json_object_get(s->values, k));
                bool same_applied = json_equal(v, json_object_get(s->applied, k));
                if (same_stored && same_applied)
                        continue;
                char *text = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
                if (!text) {
                        r = -ENOMEM;
                        break;
                }
                r = store_setting_put(store, k, text);
                free(text);
                bool pending = d->needs_restart && !apply_all && !same_applied;
                if (r >= 0 && !pending)
                        r = store_setting_mark_applied(store, k);
                if (r < 0)
                        break;
                json_object_set_new(change.before, k,
                                    json_pack("{s:O, s:O}", "value", json_object_get(s->values, k), "applied",
                                              json_object_get(s->applied, k)));
                change.keys[change.n] = strdup(k);
                change.pending[change.n++] = pending;
        }
        if (r >= 0)
                r = store_commit(store);
        if (r < 0) {
                store_rollback(store);
                pic_error(err, r, NULL, "could not store settings: %s", strerror(-r));
                goto out;
        }
        /* Durable: now mirror into memory. */
        for (size_t i = 0; i < change.n; i++) {
                json_t *nv = json_object_get(flat, change.keys[i]);
                json_object_set(s->values, change.keys[i], nv);
                if (!change.pending[i])
                        json_object_set(s->applied, change.keys[i], nv);
        }
        if (ret)
                *ret = change;
        else
                settings_change_done(&change);
        change = (SettingsChange) { 0 };
        r = 0;
out:
        settings_change_done(&change);
        json_decref(flat);
        json_decref(merged);
        return r;
}

int settings_revert(Settings *s, Store *store, const SettingsChange *change) {
        int r = store_begin(store);
        for (size_t i = 0; r >= 0 && i < change->n; i++) {
                json_t *b = json_object_get(change->before, change->keys[i]);
                char *value = json_dumps(json_object_get(b, "value"), JSON_ENCODE_ANY | JSON_COMPACT);
                char *applied = json_dumps(json_object_get(b, "applied"), JSON_ENCODE_ANY | JSON_COMPACT);
                r = value && applied ? store_setting_restore(store, change->keys[i], value, applied) : -ENOMEM;
                free(value);
                free(applied);
        }
        if (r >= 0)
                r = store_commit(store);
        if (r < 0) {
                store_rollback(store);
                return r;
        }
        for (size_t i = 0; i < change->n; i++) {
                json_t *b = json_object_get(change->before, change->keys[i]);
                json_object_set(s->values, change->keys[i], json_object_get(b, "value"));
                json_object_set(s->applied, change->keys[i], json_object_get(b, "applied"));
        }
        return 0;
}

json_t *settings_pending(Settings *s) {
        json_t *arr = json_array();
        for (size_t i = 0; i < s->n_defs; i++) {
                json_t *v = json_object_get(s->values, s->defs[i].key);
                json_t *a = json_object_get(s->applied, s->defs[i].key);
                if (!json_equal(v, a))
                        json_array_append_new(arr, json_pack("{s:s, s:O, s:O}", "key", s->defs[i].key, "value", v,
                                                             "applied", a));
        }
        return arr;
}

int settings_apply_pending(Settings *s, Store *store, SettingsChange *ret) {
        SettingsChange change = { .before = json_object() };
        change.keys = calloc(s->n_defs + 1, sizeof *change.keys);
        change.pending = calloc(s->n_defs + 1, sizeof *change.pending);
        int r = change.keys && change.pending && change.before ? store_begin(store) : -ENOMEM;
        for (size_t i = 0; r >= 0 && i < s->n_defs; i++) {
                const char *key = s->defs[i].key;
                if (json_equal(json_object_get(s->values, key), json_object_get(s->applied, key)))
                        continue;
                r = store_setting_mark_applied(store, key);
                json_object_set_new(change.before, key,
                                    json_pack("{s:O, s:O}", "value", json_object_get(s->values, key), "applied",
                                              json_object_get(s->applied, key)));
                change.keys[change.n++] = strdup(key);
        }
        if (r >= 0)
                r = store_commit(store);
        if (r < 0) {
                store_rollback(store);
                settings_change_done(&change);
                return r;
        }
        for (size_t i = 0; i < change.n; i++)
                json_object_set(s->applied, change.keys[i], json_object_get(s->values, change.keys[i]));
        *ret = change;
        return 0;
}

void settings_set_check(Settings *s, settings_check_fn fn, void *userdata) {
        s->check = fn;
        s->check_userdata = userdata;
}

int settings_ip_range(Settings *s, Cidr4 *ret) {
        return cidr4_parse(settings_str(s, "ip_range"), true, ret);
}

int settings_vpn_address(Settings *s, Cidr4 *ret) {
        return cidr4_parse(settings_str(s, "wireguard.address"), true, ret);
}
