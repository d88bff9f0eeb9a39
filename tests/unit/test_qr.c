/* Tests of the QR renderers (src/crypto/qr.c): sizes follow the symbol plus quiet zone, the PNG is a real
 * PNG, the terminal text has two module rows per line, and text too long for any QR code is refused. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>

#include "basic/util.h"
#include "crypto/qr.h"

#define TEXT "[Interface]\nPrivateKey = yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk=\n"

static void test_svg(void **state) {
        int w;
        assert_int_equal(qr_symbol_width(TEXT, &w), 0);
        assert_true(w >= 21 && (w - 21) % 4 == 0);
        char *svg = NULL;
        size_t len = 0;
        assert_int_equal(qr_render_svg(TEXT, &svg, &len), 0);
        assert_int_equal(strlen(svg), len);
        char view[64];
        snprintf(view, sizeof view, "viewBox=\"0 0 %d %d\"", w + 2 * QR_QUIET_ZONE, w + 2 * QR_QUIET_ZONE);
        assert_non_null(strstr(svg, view));
        /* The top-left finder pattern: a 7-module run right inside the quiet zone. */
        assert_non_null(strstr(svg, "M4 4h7v1h-7z"));
        assert_non_null(strstr(svg, "</svg>\n"));
        free(svg);
}

static void test_png(void **state) {
        int w;
        assert_int_equal(qr_symbol_width(TEXT, &w), 0);
        uint8_t *png = NULL;
        size_t len = 0;
        assert_int_equal(qr_render_png(TEXT, 4, &png, &len), 0);
        assert_true(len > 33);
        assert_memory_equal(png, "\x89PNG\r\n\x1a\n", 8);
        uint32_t px = (uint32_t) png[16] << 24 | (uint32_t) png[17] << 16 | (uint32_t) png[18] << 8 | png[19];
        assert_int_equal(px, (uint32_t) (w + 2 * QR_QUIET_ZONE) * 4);
        assert_int_equal(png[24], 1); /* bit depth */
        assert_int_equal(png[25], 0); /* greyscale */
        free(png);
        assert_int_equal(qr_render_png(TEXT, 0, &png, &len), -EINVAL);
}

static void test_terminal(void **state) {
        int w;
        assert_int_equal(qr_symbol_width(TEXT, &w), 0);
        char *t = NULL;
        assert_int_equal(qr_render_terminal(TEXT, false, &t), 0);
        int lines = 0;
        for (char *p = t; *p; p++)
                lines += *p == '\n';
        assert_int_equal(lines, (w + 2 * QR_QUIET_ZONE + 1) / 2);
        /* The first line is all quiet zone: light over light, full blocks. */
        assert_true(startswith(t, "\xe2\x96\x88\xe2\x96\x88\xe2\x96\x88"));
        free(t);
        assert_int_equal(qr_render_terminal(TEXT, true, &t), 0);
        assert_true(startswith(t, "\033[40;97m"));
        free(t);
}

static void test_too_long(void **state) {
        char *big = malloc(8000);
        memset(big, 'x', 7999);
        big[7999] = '\0';
        char *svg = NULL;
        size_t len;
        assert_int_equal(qr_render_svg(big, &svg, &len), -ERANGE);
        assert_int_equal(qr_render_svg("", &svg, &len), -EINVAL);
        assert_null(svg);
        free(big);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_svg),
                cmocka_unit_test(test_png),
                cmocka_unit_test(test_terminal),
                cmocka_unit_test(test_too_long),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
