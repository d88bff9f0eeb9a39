/* `pic config get|set|pending|apply`: dotted keys mapped onto picd's nested settings object, values typed
 * by picd's own settings metadata (/api/config/settings), and the applied/pending outcome spelled out. */
#include <stdio.h>

#include "cli/cli.h"
#include "cli/table.h"

#define KEY_MAX 128

/* Follows a dotted key ("wireguard.address") through nested objects; NULL when any part is missing. */
static json_t *json_lookup(json_t *root, const char *key) {
        json_t *v = root;
        for (const char *p = key; v;) {
                char part[KEY_MAX];
                size_t len = strcspn(p, ".");
                if (len == 0 || len >= sizeof part)
                        return NULL;
                memcpy(part, p, len);
                part[len] = '\0';
                v = json_object_get(v, part);
                if (!p[len])
                        return v;
                p += len + 1;
        }
        return NULL;
}

/* One row per scalar, nested objects flattened to dotted keys, in picd's order. */
static int add_flat(Table *t, const char *prefix, json_t *v) {
        char b[512];
        if (!json_is_object(v)) {
                int r = table_add(t, prefix);
                if (r >= 0)
                        r = table_add(t, json_is_string(v) && !*json_string_value(v) ? "\"\"" : json_text(v, b, sizeof b));
                return r;
        }
        const char *k;
        json_t *child;
        json_object_foreach(v, k, child) {
                char key[KEY_MAX * 2];
                snprintf(key, sizeof key, "%s%s%s", prefix, *prefix ? "." : "", k);
                if (!*prefix && streq(k, "restart_required"))
                        continue; /* said in words below the table */
                int r = add_flat(t, key, child);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int print_settings_table(json_t *v, const char *prefix) {
        static const char *const hdr[] = { "KEY", "VALUE" };
        _cleanup_table_ Table *t = NULL;
        int r = table_new(hdr, ELEMENTSOF(hdr), &t);
        if (r >= 0)
                r = add_flat(t, prefix, v);
        if (r >= 0)
                table_print(t, stdout);
        return r;
}

int cmd_config_get(Cli *c, char **args, size_t n) {
        const char *key = n > 0 ? args[0] : NULL;
        ApiReply r = { 0 };
        int k = api_call(c, "GET", "/api/config", NULL, &r);
        if (k < 0)
                return k;
        if (!key) {
                if (c->json)
                        api_print_raw(&r);
                else {
                        k = print_settings_table(r.json, "");
                        if (k >= 0 && json_is_true(json_object_get(r.json, "restart_required")))
                                printf("\nSome stored changes wait for a restart: see `pic config pending`.\n");
                }
                api_reply_done(&r);
                return k;
        }
        json_t *v = json_lookup(r.json, key);
        if (!v) {
                api_reply_done(&r);
                char b[KEY_MAX];
                return cli_usage_error("unknown setting \"%s\"; `pic config get` lists them all",
                                       text_sanitize(key, b, sizeof b));
        }
        if (c->json) {
                /* The value at KEY, as JSON: a sub-document of picd's reply. */
                _cleanup_free_ char *d = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
                printf("%s\n", d ? d : "null");
        } else if (json_is_object(v))
                k = print_settings_table(v, key);
        else {
                char b[1024];
                printf("%s\n", json_text(v, b, sizeof b));
        }
        api_reply_done(&r);
        return k;
}

/* The type picd declares for key ("string", "integer", "boolean"), from its settings metadata. -ENOENT
 * after reporting a usage error when picd has no such setting. */
static int setting_type(Cli *c, const char *key, char *ret_type, size_t size) {
        ApiReply r = { 0 };
        int k = api_call(c, "GET", "/api/config/settings", NULL, &r);
        if (k < 0)
                return k;
        size_t i;
        json_t *def;
        k = -ENOENT;
        json_array_foreach(json_object_get(r.json, "settings"), i, def) {
                const char *dk = json_string_value(json_object_get(def, "key"));
                const char *type = json_string_value(json_object_get(def, "type"));
                if (dk && type && streq(dk, key)) {
                        snprintf(ret_type, size, "%s", type);
                        k = 0;
                        break;
                }
        }
        api_reply_done(&r);
        return k;
}

/* VALUE as the JSON type the setting has. Text that does not fit the type is sent as a string anyway, so
 * picd — the one validator — refuses it and names the field. */
static json_t *typed_value(const char *type, const char *text) {
        if (streq(type, "integer") && text[0] && (text[0] == '-' || (text[0] >= '0' && text[0] <= '9'))) {
                char *end = NULL;
                errno = 0;
                long long v = strtoll(text, &end, 10);
                if (errno == 0 && end && *end == '\0')
                        return json_integer(v);
        }
        if (streq(type, "boolean")) {
                static const char *const yes[] = { "true", "yes", "on", "1" }, *const no[] = { "false", "no", "off", "0" };
                for (size_t i = 0; i < ELEMENTSOF(yes); i++) {
                        if (streq(text, yes[i]))
                                return json_true();
                        if (streq(text, no[i]))
                                return json_false();
                }
        }
        return json_string(text);
}

/* {"a":{"b":value}} for "a.b"; takes the reference to value. */
static json_t *nest(const char *key, json_t *value) {
        char buf[KEY_MAX];
        snprintf(buf, sizeof buf, "%s", key);
        json_t *v = value;
        for (;;) {
                char *dot = strrchr(buf, '.');
                json_t *o = json_object();
                if (!o || json_object_set_new(o, dot ? dot + 1 : buf, v) < 0) {
                        json_decref(o);
                        return NULL;
                }
                v = o;
                if (!dot)
                        return v;
                *dot = '\0';
        }
}

static void print_list(const char *label, json_t *arr) {
        char b[1024];
        printf("%s %s\n", label, json_join(arr, b, sizeof b));
}

int cmd_config_set(Cli *c, char **args, size_t n) {
        const char *key = args[0], *text = args[1];
        char type[32], b[KEY_MAX];
        if (strlen(key) >= KEY_MAX)
                return cli_usage_error("setting name is too long");
        int k = setting_type(c, key, type, sizeof type);
        if (k == -ENOENT)
                return cli_usage_error("unknown setting \"%s\"; `pic config get` lists them all",
                                       text_sanitize(key, b, sizeof b));
        if (k < 0)
                return k;
        json_t *value = typed_value(type, text);
        if (!value)
                return cli_usage_error("the value for %s is not valid UTF-8 text", key);
        json_t *body = nest(key, value);
        if (!body)
                return -ENOMEM;
        ApiReply r = { 0 };
        k = api_call(c, "PUT", "/api/config", body, &r);
        json_decref(body);
        if (k < 0)
                return k;
        if (c->json) {
                api_print_raw(&r);
                api_reply_done(&r);
                return 0;
        }
        json_t *applied = json_object_get(r.json, "applied"), *pending = json_object_get(r.json, "pending");
        json_t *reconf = json_object_get(r.json, "reconfigured");
        if (json_array_size(applied) == 0 && json_array_size(pending) == 0)
                printf("No change: %s already has that value.\n", key);
        if (json_array_size(applied) > 0)
                print_list("Applied:", applied);
        if (json_array_size(reconf) > 0)
                print_list("Reconfigured:", reconf);
        if (json_array_size(pending) > 0) {
                print_list("Stored, pending restart:", pending);
                printf("Run `pic config apply` to apply pending changes.\n");
        }
        api_reply_done(&r);
        return 0;
}

int cmd_config_pending(Cli *c, char **args, size_t n) {
        ApiReply r = { 0 };
        int k = api_call(c, "GET", "/api/config/pending", NULL, &r);
        if (k < 0)
                return k;
        json_t *pending = json_object_get(r.json, "pending");
        if (c->json)
                api_print_raw(&r);
        else if (json_array_size(pending) == 0)
                printf("No changes wait for a restart.\n");
        else {
                static const char *const hdr[] = { "KEY", "STORED", "RUNNING", "SERVICES" };
                _cleanup_table_ Table *t = NULL;
                k = table_new(hdr, ELEMENTSOF(hdr), &t);
                size_t i;
                json_t *p;
                json_array_foreach(pending, i, p) {
                        char b[512];
                        if (k >= 0)
                                k = table_add(t, json_string_value(json_object_get(p, "key")));
                        if (k >= 0)
                                k = table_add(t, json_text(json_object_get(p, "value"), b, sizeof b));
                        if (k >= 0)
                                k = table_add(t, json_text(json_object_get(p, "applied"), b, sizeof b));
                        if (k >= 0)
                                k = table_add(t, json_join(json_object_get(p, "services"), b, sizeof b));
                }
                if (k >= 0) {
                        table_print(t, stdout);
                        printf("Run `pic config apply` to apply them.\n");
                }
        }
        api_reply_done(&r);
        return k;
}

int cmd_config_apply(Cli *c, char **args, size_t n) {
        ApiReply r = { 0 };
        int k = api_call(c, "POST", "/api/config/apply", NULL, &r);
        if (k < 0)
                return k;
        json_t *applied = json_object_get(r.json, "applied"), *restarted = json_object_get(r.json, "restarted");
        if (c->json)
                api_print_raw(&r);
        else if (json_array_size(applied) == 0)
                printf("Nothing to apply.\n");
        else {
                print_list("Applied:", applied);
                if (json_array_size(restarted) > 0)
                        print_list("Restarted:", restarted);
        }
        api_reply_done(&r);
        return 0;
}
