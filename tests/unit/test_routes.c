/* Unit tests of the route table and matcher (src/http/routes.c) and the one errno → HTTP status map. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "http/http.h"

static void test_table_is_sound(void **state) {
        assert_int_equal(http_routes_check(), 0);
        size_t n;
        const Route *r = http_routes(&n);
        assert_true(n > 10);
        for (size_t i = 0; i < n; i++) {
                assert_true(r[i].auth > _AUTH_UNSET && r[i].auth < _AUTH_LEVEL_MAX);
                assert_non_null(r[i].handler);
                assert_true(r[i].pattern[0] == '/');
        }
}

static void test_match(void **state) {
        const char *params[4];
        size_t n = 0;
        char scratch[256];
        assert_true(http_route_match("/api/peers/{name}", "/api/peers/phone", params, &n, scratch, sizeof scratch));
        assert_int_equal(n, 1);
        assert_string_equal(params[0], "phone");
        assert_false(http_route_match("/api/peers/{name}", "/api/peers/", params, &n, scratch, sizeof scratch));
        assert_false(http_route_match("/api/peers/{name}", "/api/peers/a/b", params, &n, scratch, sizeof scratch));
        assert_false(http_route_match("/api/peers", "/api/peers/", params, &n, scratch, sizeof scratch));
        assert_true(http_route_match("/api/x/{id*}", "/api/x/../etc/passwd", params, &n, scratch, sizeof scratch));
        assert_string_equal(params[0], "../etc/passwd");
        assert_true(http_route_match("/health", "/health", params, &n, scratch, sizeof scratch));
        assert_int_equal(n, 0);
}

static void test_status_map(void **state) {
        assert_int_equal(http_status_from_errno(-EINVAL), 400);
        assert_int_equal(http_status_from_errno(-EACCES), 401);
        assert_int_equal(http_status_from_errno(-EPERM), 403);
        assert_int_equal(http_status_from_errno(-ENOENT), 404);
        assert_int_equal(http_status_from_errno(-EEXIST), 409);
        /* A full disk is never "name taken"; a full VPN subnet is a conflict with its own code. */
        assert_int_equal(http_status_from_errno(-ENOSPC), 507);
        assert_int_equal(http_status_from_errno(-EDQUOT), 507);
        assert_string_equal(pic_error_code_from_errno(-ENOSPC), "insufficient_storage");
        assert_int_equal(http_status_from_errno(-EXFULL), 409);
        assert_string_equal(pic_error_code_from_errno(-EXFULL), "exhausted");
        assert_int_equal(http_status_from_errno(-E2BIG), 413);
        assert_int_equal(http_status_from_errno(-EBADMSG), 422);
        assert_int_equal(http_status_from_errno(-EAGAIN), 429);
        assert_int_equal(http_status_from_errno(-ECONNREFUSED), 503);
        assert_int_equal(http_status_from_errno(-EIO), 500);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_table_is_sound),
                cmocka_unit_test(test_match),
                cmocka_unit_test(test_status_map),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
