/* Unit tests of the settings table and its transactional update (src/core/settings.c) against a real
 * SQLite store in a temp dir: validation with fields, all-or-nothing, pending vs applied, reload. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>

#include "basic/fileio.h"
#include "core/settings.h"
#include "services/services.h"

static char dir[256], db[300];

static int setup(void **state) {
        snprintf(dir, sizeof dir, "/tmp/pic-settings-XXXXXX");
        if (!mkdtemp(dir))
                return -1;
        snprintf(db, sizeof db, "%s/picd.db", dir);
        return 0;
}

static int teardown(void **state) {
        return rm_rf(dir);
}

/* Settings as picd builds them: the cell's rows plus every module's. */
static int load(Store *st, Settings **ret) {
        Cell c = { .netns_fd = -1 };
        int r = settings_new(&c.settings);
        if (r >= 0)
                r = services_register_all(&c);
        if (r >= 0)
                r = settings_load(c.settings, st);
        if (r < 0)
                settings_free(c.settings);
        else
                *ret = c.settings;
        return r;
}

static int update(Settings *s, Store *st, const char *json, SettingsChange *ch, PicError *err) {
        json_t *j = json_loads(json, 0, NULL);
        assert_non_null(j);
        int r = settings_update(s, st, j, false, ch, err);
        json_decref(j);
        return r;
}

static void test_defaults_and_update(void **state) {
        Store *st;
        Settings *s;
        assert_int_equal(store_open(db, &st), 0);
        assert_int_equal(load(st, &s), 0);
        assert_string_equal(settings_str(s, "cell_name"), "mycell");
        assert_int_equal(settings_int(s, "wireguard.port"), 51820);

        SettingsChange ch = { 0 };
        PicError err = { 0 };
        assert_int_equal(update(s, st, "{\"cell_name\":\"home\",\"wireguard\":{\"port\":51000}}", &ch, &err), 0);
        assert_int_equal(ch.n, 2);
        settings_change_done(&ch);
        assert_string_equal(settings_str(s, "cell_name"), "home");
        /* needs restart: stored, not applied */
        assert_int_equal(settings_int(s, "wireguard.port"), 51820);
        assert_int_equal(json_integer_value(settings_get(s, "wireguard.port", false)), 51000);
        json_t *pending = settings_pending(s);
        assert_int_equal(json_array_size(pending), 1);
        json_decref(pending);

        SettingsChange applied = { 0 };
        assert_int_equal(settings_apply_pending(s, st, &applied), 0);
        assert_int_equal(applied.n, 1);
        assert_string_equal(applied.keys[0], "wireguard.port");
        settings_change_done(&applied);
        assert_int_equal(settings_int(s, "wireguard.port"), 51000);

        /* Reload from disk: the same values. */
        settings_free(s);
        store_free(st);
        assert_int_equal(store_open(db, &st), 0);
        assert_int_equal(load(st, &s), 0);
        assert_string_equal(settings_str(s, "cell_name"), "home");
        assert_int_equal(settings_int(s, "wireguard.port"), 51000);
        settings_free(s);
        store_free(st);
}

static void test_rejections_change_nothing(void **state) {
        Store *st;
        Settings *s;
        assert_int_equal(store_open(db, &st), 0);
        assert_int_equal(load(st, &s), 0);
        static const struct {
                const char *json, *field;
        } cases[] = {
                { "{\"wireguard\":{\"address\":\"10.0.0.1\"}}", "wireguard.address" },
                { "{\"ip_range\":\"10.0.0.0/16\"}", "ip_range" },
                { "{\"cell_name\":\"ok\",\"domain\":\"BAD\"}", "domain" },
                { "{\"bogus\":1}", "bogus" },
                { "{\"wireguard\":{\"bogus\":1}}", "wireguard.bogus" },
                { "{\"wireguard\":{\"port\":true}}", "wireguard.port" },
        };
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
                PicError err = { 0 };
                assert_int_equal(update(s, st, cases[i].json, NULL, &err), -EINVAL);
                assert_string_equal(err.field, cases[i].field);
        }
        assert_string_equal(settings_str(s, "cell_name"), "mycell");
        json_t *all = settings_to_json(s, false);
        json_t *wg = json_object_get(all, "wireguard");
        assert_string_equal(json_string_value(json_object_get(wg, "address")), "10.0.0.1/24");
        json_decref(all);
        settings_free(s);
        store_free(st);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_defaults_and_update, setup, teardown),
                cmocka_unit_test_setup_teardown(test_rejections_change_nothing, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
