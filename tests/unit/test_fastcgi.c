/* Tests of the FastCGI records picd exchanges with php-fpm (src/services/webmail/fastcgi.c): the request's exact
 * bytes, a reply read whole or in pieces, the CGI Status header, and refusal of what is not a FastCGI reply or
 * is larger than the cap. The real php-fpm answers it in tests/integration/test_webmail.py. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "services/webmail/fastcgi.h"

static void test_request_bytes(void **state) {
        const char *names[] = { "SCRIPT_NAME", "LONG" };
        char value[200];
        memset(value, 'v', sizeof value - 1);
        value[sizeof value - 1] = '\0';
        const char *values[] = { "/pic-ping", value };
        uint8_t *req = NULL;
        size_t len = 0;
        assert_int_equal(fastcgi_encode_get(names, values, 2, &req, &len), 0);
        /* BEGIN_REQUEST (id 1, responder, no keep-alive) */
        const uint8_t begin[] = { 1, 1, 0, 1, 0, 8, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0 };
        assert_memory_equal(req, begin, sizeof begin);
        /* PARAMS: 11 + 9 bytes with 1-byte lengths, 4 + 199 with a 4-byte value length. */
        size_t params = 2 + 11 + 9 + 1 + 4 + 4 + 199;
        assert_int_equal(req[16], 1);
        assert_int_equal(req[17], 4);
        assert_int_equal((req[20] << 8) | req[21], params);
        assert_memory_equal(req + 24, "\x0b\x09SCRIPT_NAME/pic-ping\x04\x80\x00\x00\xc7LONG", 2 + 11 + 9 + 1 + 4 + 4);
        /* then an empty PARAMS and an empty STDIN */
        const uint8_t tail[] = { 1, 4, 0, 1, 0, 0, 0, 0, 1, 5, 0, 1, 0, 0, 0, 0 };
        assert_int_equal(len, 16 + 8 + params + sizeof tail);
        assert_memory_equal(req + len - sizeof tail, tail, sizeof tail);
        free(req);
        char *huge = malloc(70000);
        memset(huge, 'x', 69999);
        huge[69999] = '\0';
        values[1] = huge;
        req = NULL;
        assert_int_equal(fastcgi_encode_get(names, values, 2, &req, &len), -EINVAL);
        assert_null(req);
        free(huge);
}

static size_t record(uint8_t *out, uint8_t type, const char *content, size_t len, uint8_t pad) {
        uint8_t h[8] = { 1, type, 0, 1, (uint8_t) (len >> 8), (uint8_t) len, pad, 0 };
        memcpy(out, h, 8);
        memcpy(out + 8, content, len);
        memset(out + 8 + len, 0, pad);
        return 8 + len + pad;
}

static size_t reply(uint8_t *buf, const char *cgi, size_t split) {
        size_t n = 0, len = strlen(cgi);
        n += record(buf + n, 7, "a warning", 9, 7);
        n += record(buf + n, 6, cgi, split, 3);
        n += record(buf + n, 6, cgi + split, len - split, 0);
        n += record(buf + n, 3, "\0\0\0\0\0\0\0\0", 8, 0);
        return n;
}

static void test_reply(void **state) {
        uint8_t buf[1024];
        const char *cgi = "X-Powered-By: PHP\r\nContent-type: text/plain;charset=UTF-8\r\n\r\npong";
        size_t n = reply(buf, cgi, 10);
        int status = 0;
        char *body = NULL;
        assert_int_equal(fastcgi_decode(buf, n, &status, &body), 0);
        assert_int_equal(status, 200);
        assert_string_equal(body, "pong");
        free(body);
        /* Every shorter prefix needs more bytes, and sets nothing. */
        for (size_t k = 0; k < n; k++) {
                body = NULL;
                assert_int_equal(fastcgi_decode(buf, k, &status, &body), -EAGAIN);
                assert_null(body);
        }
        n = reply(buf, "Status: 404 Not Found\nContent-type: text/html\n\nFile not found.\n", 3);
        assert_int_equal(fastcgi_decode(buf, n, &status, &body), 0);
        assert_int_equal(status, 404);
        assert_string_equal(body, "File not found.\n");
        free(body);
}

static void test_bad_replies(void **state) {
        uint8_t buf[1024];
        int status;
        char *body = NULL;
        size_t n = reply(buf, "no blank line after the headers\r\n", 5);
        assert_int_equal(fastcgi_decode(buf, n, &status, &body), -EBADMSG);
        n = reply(buf, "Status: 2x0\r\n\r\n", 5);
        assert_int_equal(fastcgi_decode(buf, n, &status, &body), -EBADMSG);
        n = reply(buf, "\r\n\r\nbody", 1);
        buf[0] = 2; /* not FastCGI 1 */
        assert_int_equal(fastcgi_decode(buf, n, &status, &body), -EBADMSG);
        n = reply(buf, "\r\n\r\nbody", 1);
        buf[3] = 2; /* another request's record */
        assert_int_equal(fastcgi_decode(buf, n, &status, &body), -EBADMSG);
        /* An unknown record type, and an END_REQUEST saying the request was not completed. */
        n = record(buf, 9, "x", 1, 0);
        assert_int_equal(fastcgi_decode(buf, n, &status, &body), -EBADMSG);
        n = record(buf, 6, "\r\n\r\n", 4, 0);
        n += record(buf + n, 3, "\0\0\0\0\2\0\0\0", 8, 0);
        assert_int_equal(fastcgi_decode(buf, n, &status, &body), -EBADMSG);
        assert_null(body);
        /* Output beyond the cap is refused, not buffered. */
        size_t big = FASTCGI_REPLY_MAX + 65535;
        uint8_t *huge = calloc(1, big + 8 * 8);
        char chunk[65535];
        memset(chunk, 'a', sizeof chunk);
        size_t m = 0;
        for (int i = 0; i < 5; i++)
                m += record(huge + m, 6, chunk, sizeof chunk, 0);
        assert_int_equal(fastcgi_decode(huge, m, &status, &body), -EFBIG);
        free(huge);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_request_bytes),
                cmocka_unit_test(test_reply),
                cmocka_unit_test(test_bad_replies),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
