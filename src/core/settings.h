/* Settings: the metadata rows (key, type, default, validator, needs-restart) that drive GET/PUT /api/config,
 * the CLI and docs/settings.md — the cell's own plus those each service module declares in its ops table —
 * and the in-memory copy of the stored values. Values are jansson json_t; Settings owns them. */
#pragma once
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "basic/error.h"
#include "basic/netaddr.h"
#include "store/store.h"

typedef enum SettingType {
        SETTING_STRING,
        SETTING_INT,
        SETTING_BOOL,
        _SETTING_TYPE_MAX,
        _SETTING_TYPE_INVALID = -EINVAL,
} SettingType;

typedef struct Settings Settings;

/* Validates one value in isolation (type already checked). Fills err with the key as field. */
typedef int (*setting_validate_fn)(const char *key, json_t *value, PicError *err);

typedef struct SettingDef {
        const char *key;           /* "section.name" or "name" */
        SettingType type;
        const char *default_json;  /* JSON text of the default */
        setting_validate_fn validate;
        int64_t min, max;          /* for SETTING_INT */
        bool needs_restart;        /* applied only by POST /api/config/apply */
        const char *description;
} SettingDef;

/* A port on a service's virtual IP: every one needs a restart of the daemon that binds it. */
#define SETTING_PORT(k, d, desc) { k, SETTING_INT, #d, NULL, 1, 65535, true, desc }

/* Validators shared by modules' rows. */
int setting_validate_endpoint(const char *key, json_t *value, PicError *err);     /* host[:port] or "" */
int setting_validate_optional_ipv4(const char *key, json_t *value, PicError *err); /* IPv4 or "" */
int setting_validate_ifname(const char *key, json_t *value, PicError *err);       /* interface name or "" */

/* A Settings with the cell's own rows; modules add theirs, then settings_load reads the store. */
int settings_new(Settings **ret);
/* The same rows, no values (to check another store, e.g. one inside a backup). */
int settings_new_like(const Settings *tmpl, Settings **ret);
/* Adds a module's rows (owner = module name). -EEXIST for a key declared twice, -EINVAL for a row without a
 * description or with a default not of its type; why says which. */
int settings_add_defs(Settings *s, const char *owner, const SettingDef *defs, size_t n, char *why, size_t size);
/* Defaults for every row, then the stored values (unknown stored keys are logged and ignored). */
int settings_load(Settings *s, Store *store);
Settings *settings_free(Settings *s);

const SettingDef *settings_defs(const Settings *s, size_t *ret_n);
const SettingDef *settings_def_find(const Settings *s, const char *key);
/* The module that declared key; NULL for the cell's own keys and unknown ones. */
const char *settings_def_owner(const Settings *s, const char *key);
const char *setting_type_to_string(SettingType t);

/* Nested object by section: {"cell_name":..., "wireguard":{"address":...}}. applied=true gives the values
 * the running system uses. New reference. */
json_t *settings_to_json(Settings *s, bool applied);
/* Value of one key (borrowed); applied=false gives the stored (possibly pending) one. NULL if unknown. */
json_t *settings_get(Settings *s, const char *key, bool applied);
const char *settings_str(Settings *s, const char *key);  /* applied value */
int64_t settings_int(Settings *s, const char *key);      /* applied value */
bool settings_bool(Settings *s, const char *key);        /* applied value */

typedef struct SettingsChange {
        char **keys;      /* keys whose stored value changed */
        bool *pending;    /* per key: needs restart, so not applied yet */
        size_t n;
        json_t *before;   /* key → {"value","applied"} as they were, for settings_revert() */
} SettingsChange;
void settings_change_done(SettingsChange *c);

/* Validates the whole partial object first (unknown keys, types, grammars, cross-field rules), then writes
 * all changes in one store transaction: everything or nothing. Keys that need no restart are applied at
 * once; with apply_all (first start, --set) every key is. */
int settings_update(Settings *s, Store *store, json_t *partial, bool apply_all, SettingsChange *ret,
                    PicError *err);
/* Puts back the values a change replaced (store and memory), when applying it to the live system failed. */
int settings_revert(Settings *s, Store *store, const SettingsChange *change);
/* Flattens a partial nested object into key → value pairs; rejects non-objects and unknown keys. */
int settings_flatten(const Settings *s, json_t *partial, json_t **ret_flat, PicError *err);

/* Keys stored but not applied yet (need a restart). New reference: array of {key,value,applied}. */
json_t *settings_pending(Settings *s);
/* Marks every pending key applied (in one transaction); ret lists them (revertible with settings_revert). */
int settings_apply_pending(Settings *s, Store *store, SettingsChange *ret);

/* A rule that needs more than the values themselves (e.g. an interface's live address): called by
 * settings_update after the built-in checks with the merged would-be values (flat key → value) and the keys
 * being changed (flat); a negative return rejects the whole update. One check per Settings. */
typedef int (*settings_check_fn)(json_t *merged, json_t *flat, void *userdata, PicError *err);
void settings_set_check(Settings *s, settings_check_fn fn, void *userdata);

/* Parsed forms of the network settings (applied values). */
int settings_ip_range(Settings *s, Cidr4 *ret);
int settings_vpn_address(Settings *s, Cidr4 *ret);
