/* Tests of the files module's pure parts: request paths decoded and normalized as lighttpd does
 * (services/files/davpath.c), shared-folder names, and the lighttpd config against a golden file. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "golden.h"
#include "services/files/davpath.h"
#include "services/files/lighttpd-conf.h"

static void norm_is(const char *in, const char *want) {
        char out[DAVPATH_MAX];
        int r = davpath_normalize(in, out, sizeof out);
        if (r < 0 || strcmp(out, want) != 0)
                fail_msg("normalize(\"%s\") = %d \"%s\", want \"%s\"", in, r, r < 0 ? "" : out, want);
}

static void test_normalize(void **state) {
        norm_is("/", "/");
        norm_is("/a/b.txt", "/a/b.txt");
        norm_is("/a/b/", "/a/b/");
        norm_is("/a//b", "/a/b");
        norm_is("/a/./b", "/a/b");
        norm_is("/a/../b", "/b");
        norm_is("/../../etc/passwd", "/etc/passwd");
        norm_is("/%2e%2e/bob/x", "/bob/x");
        norm_is("/%2E%2E/bob/x", "/bob/x");
        norm_is("/.%2e/bob/x", "/bob/x");
        norm_is("/a/..%2fbob", "/bob");
        norm_is("/%252e%252e/bob", "/%2e%2e/bob"); /* decoded once, as lighttpd does: a name, not a step up */
        norm_is("/shared/alice/docs/..", "/shared/alice/");
        norm_is("/a/b?x=/../..", "/a/b");
        norm_is("/a%20b", "/a b");
        char out[DAVPATH_MAX];
        assert_int_equal(davpath_normalize("/a%2", out, sizeof out), -EINVAL);
        assert_int_equal(davpath_normalize("/a%zz", out, sizeof out), -EINVAL);
        assert_int_equal(davpath_normalize("/a%00b", out, sizeof out), -EINVAL);
        assert_int_equal(davpath_normalize("/a%0ab", out, sizeof out), -EINVAL);
        assert_int_equal(davpath_normalize("a/b", out, sizeof out), -EINVAL);
        assert_int_equal(davpath_normalize("", out, sizeof out), -EINVAL);
}

static void test_destination(void **state) {
        char out[DAVPATH_MAX];
        assert_int_equal(davpath_destination("https://files.c.cell/a/b", "files.c.cell", out, sizeof out), 0);
        assert_string_equal(out, "/a/b");
        assert_int_equal(davpath_destination("https://FILES.c.cell:443/../x", "files.c.cell", out, sizeof out), 0);
        assert_string_equal(out, "/x");
        assert_int_equal(davpath_destination("/%2e%2e/bob/x", "files.c.cell", out, sizeof out), 0);
        assert_string_equal(out, "/bob/x");
        assert_int_equal(davpath_destination("https://evil.example/x", "files.c.cell", out, sizeof out), -EXDEV);
        assert_int_equal(davpath_destination("https://files.c.cell.evil/x", "files.c.cell", out, sizeof out), -EXDEV);
        assert_int_equal(davpath_destination("https://files.c.cell", "files.c.cell", out, sizeof out), -EINVAL);
}

static void test_under_and_folders(void **state) {
        assert_true(davpath_under("/shared", "/shared"));
        assert_true(davpath_under("/shared/a", "/shared/"));
        assert_false(davpath_under("/sharedx", "/shared"));
        assert_true(davpath_folder_is_valid("photos"));
        assert_true(davpath_folder_is_valid("photos/2024 summer"));
        assert_false(davpath_folder_is_valid("shared"));
        assert_true(davpath_folder_is_valid("a/shared"));
        assert_false(davpath_folder_is_valid("../x"));
        assert_false(davpath_folder_is_valid("a/../b"));
        assert_false(davpath_folder_is_valid(".hidden"));
        assert_false(davpath_folder_is_valid("a//b"));
        assert_false(davpath_folder_is_valid("/a"));
        assert_false(davpath_folder_is_valid("a/"));
        assert_false(davpath_folder_is_valid("a\"b"));
        assert_false(davpath_folder_is_valid("a$b"));
        assert_false(davpath_folder_is_valid("a\nb"));
        assert_false(davpath_folder_is_valid(""));
        assert_false(davpath_folder_is_valid("a/b/c/d/e/f/g/h/i"));
        assert_true(davpath_method_reads("PROPFIND"));
        assert_false(davpath_method_reads("PROPPATCH"));
}

static FilesConf conf(void) {
        static const char *const users[] = { "alice", "bob" };
        static const FilesShareConf shares[] = { { "alice", "docs", "bob", false }, { "alice", "docs/team", "bob", true } };
        return (FilesConf) { .sockets = { "/s/run/proxied/files-http.sock", "/s/run/proxied/webdav-http.sock" },
                             .files_root = "/s/data/files", .meta_dir = "/s/data/files-meta",
                             .empty_dir = "/s/run/files-empty", .user_header = "X-Pic-User", .run_as = "pic-files",
                             .users = users,
                             .n_users = 2, .shares = shares, .n_shares = 2 };
}

static void test_conf_golden(void **state) {
        FilesConf c = conf();
        char *text = NULL;
        assert_int_equal(files_conf_render(&c, &text), 0);
        assert_int_equal(golden_check("files-lighttpd.conf", text), 0);
        free(text);
}

static void test_conf_refuses(void **state) {
        char *text = NULL;
        FilesConf c = conf();
        c.files_root = "/s/da\"ta";
        assert_int_equal(files_conf_render(&c, &text), -EINVAL);
        c = conf();
        c.run_as = "root\"";
        assert_int_equal(files_conf_render(&c, &text), -EINVAL);
        c = conf();
        const char *const bad_users[] = { "alice\" { }" };
        c.users = bad_users;
        c.n_users = 1;
        assert_int_equal(files_conf_render(&c, &text), -EINVAL);
        c = conf();
        const FilesShareConf bad[] = { { "alice", "a/../b", "bob", true } };
        c.shares = bad;
        c.n_shares = 1;
        assert_int_equal(files_conf_render(&c, &text), -EINVAL);
        assert_null(text);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_normalize),
                cmocka_unit_test(test_destination),
                cmocka_unit_test(test_under_and_folders),
                cmocka_unit_test(test_conf_golden),
                cmocka_unit_test(test_conf_refuses),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
