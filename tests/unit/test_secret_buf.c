/* Unit tests of SecretBuf (src/crypto/secret.c), the buffer request bodies are collected in: geometric
 * growth (a body in many small pieces is copied a logarithmic number of times, not once per piece) and a cap. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <string.h>

#include "crypto/secret.h"

#define MAX (1024 * 1024)

static void test_growth_is_geometric(void **state) {
        SecretBuf b = { 0 };
        size_t growths = 0, last_cap = 0;
        for (size_t i = 0; i < MAX; i++) {
                char c = (char) ('a' + i % 26);
                assert_int_equal(secret_buf_append(&b, &c, 1, MAX), 0);
                if (b.cap != last_cap) {
                        growths++;
                        last_cap = b.cap;
                }
        }
        /* 1 KiB doubled up to 1 MiB: 11 allocations; one per piece would be a million copies */
        assert_true(growths <= 12);
        assert_int_equal(b.len, MAX);
        assert_int_equal(b.data[MAX], '\0');
        for (size_t i = 0; i < MAX; i += 4093)
                assert_int_equal(b.data[i], 'a' + i % 26);
        secret_buf_done(&b);
        assert_null(b.data);
        assert_int_equal(b.len, 0);
}

static void test_cap(void **state) {
        SecretBuf b = { 0 };
        char piece[1000];
        memset(piece, 'x', sizeof piece);
        size_t total = 0;
        int r;
        while ((r = secret_buf_append(&b, piece, sizeof piece, MAX)) == 0)
                total += sizeof piece;
        assert_int_equal(r, -E2BIG);
        /* the refused piece left the buffer as it was, and it never grew past the cap */
        assert_int_equal(b.len, total);
        assert_true(total <= MAX && total + sizeof piece > MAX);
        assert_true(b.cap <= MAX + 1);
        assert_int_equal(b.data[b.len], '\0');
        /* exactly up to the cap is fine */
        assert_int_equal(secret_buf_append(&b, piece, MAX - total, MAX), 0);
        assert_int_equal(b.len, MAX);
        assert_int_equal(secret_buf_append(&b, piece, 1, MAX), -E2BIG);
        assert_int_equal(secret_buf_append(&b, piece, SIZE_MAX, MAX), -E2BIG);
        secret_buf_done(&b);
}

static void test_reserve_then_append_does_not_move(void **state) {
        SecretBuf b = { 0 };
        assert_int_equal(secret_buf_append(&b, "{\"a\":", 5, MAX), 0);
        assert_int_equal(secret_buf_reserve(&b, 100000), 0);
        assert_string_equal(b.data, "{\"a\":"); /* kept across the move */
        char *data = b.data;
        char piece[1000];
        memset(piece, ' ', sizeof piece);
        for (int i = 0; i < 99; i++)
                assert_int_equal(secret_buf_append(&b, piece, sizeof piece, MAX), 0);
        assert_ptr_equal(b.data, data);
        secret_buf_done(&b);
        secret_buf_done(&b); /* idempotent */
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_growth_is_geometric),
                cmocka_unit_test(test_cap),
                cmocka_unit_test(test_reserve_then_append_does_not_move),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
