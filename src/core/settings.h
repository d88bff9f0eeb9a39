/* Settings: the metadata table (key, type, default, validator, needs-restart, services) that drives
 * GET/PUT /api/config, the CLI and docs/settings.md, plus the in-memory copy of the stored values.
 * Values are jansson json_t; Settings owns them. */
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
        const char *services;      /* space-separated service modules the key affects */
        const char *description;
} SettingDef;

const SettingDef *settings_table(size_t *ret_n);
const SettingDef *setting_def_find(const char *key);
const char *setting_type_to_string(SettingType t);

int settings_load(Store *store, Settings **ret);
Settings *settings_free(Settings *s);

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
int settings_flatten(json_t *partial, json_t **ret_flat, PicError *err);

/* Keys stored but not applied yet (need a restart). New reference: array of {key,value,applied,services}. */
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
