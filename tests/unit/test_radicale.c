/* Tests of src/services/calendar/radicale.c: the rendered config against a golden file, and picd's edits of
 * Radicale's storage in a temp dir (default collections, usage, removal, sweep). Radicale itself reads them in
 * tests/integration/test_calendar.py. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "basic/fileio.h"
#include "golden.h"
#include "services/calendar/radicale.h"

static void test_render(void **state) {
        RadicaleConf cfg = { .port = 5232, .storage = "/var/lib/pic/data/calendar" };
        char *text = NULL;
        assert_int_equal(radicale_render(&cfg, &text), 0);
        assert_int_equal(golden_check("radicale.conf", text), 0);
        free(text);
        /* Nothing that would end the INI value early, or a relative folder. */
        cfg.storage = "/var/lib/pic\n[auth]\ntype = none";
        assert_int_equal(radicale_render(&cfg, &text), -EINVAL);
        cfg.storage = "data/calendar";
        assert_int_equal(radicale_render(&cfg, &text), -EINVAL);
}

static void test_user_names(void **state) {
        assert_true(radicale_user_ok("alice"));
        assert_true(radicale_user_ok("a-1"));
        const char *bad[] = { "", ".", "..", ".pic-gone-x", "a/b", "Alice", "-a", "a b", NULL };
        for (size_t i = 0; bad[i]; i++)
                assert_false(radicale_user_ok(bad[i]));
}

static void write_text(const char *path, const char *text) {
        FILE *f = fopen(path, "w");
        assert_non_null(f);
        fputs(text, f);
        fclose(f);
}

static void test_storage(void **state) {
        char root[] = "/tmp/test-radicale-XXXXXX";
        assert_non_null(mkdtemp(root));
        char p[512];
        struct stat st;
        RadicaleUsage u;

        /* Nobody yet. */
        assert_int_equal(radicale_usage(root, "alice", &u), 0);
        assert_false(u.exists);

        /* The defaults, twice: the second call changes nothing. */
        assert_int_equal(radicale_ensure_defaults(root, "alice", 4242, 4243), 0);
        assert_int_equal(radicale_ensure_defaults(root, "alice", 4242, 4243), 0);
        snprintf(p, sizeof p, "%s/collection-root/alice/calendar/.Radicale.props", root);
        assert_int_equal(stat(p, &st), 0);
        /* Everything it made is Radicale's user's (tests run as root, like picd), the lock file included. */
        assert_int_equal(st.st_uid, 4242);
        assert_int_equal(st.st_gid, 4243);
        const char *const made[] = { "collection-root/alice", "collection-root/alice/calendar",
                                     "collection-root/alice/contacts", ".Radicale.lock" };
        for (size_t i = 0; i < sizeof made / sizeof *made; i++) {
                snprintf(p, sizeof p, "%s/%s", root, made[i]);
                assert_int_equal(lstat(p, &st), 0);
                assert_int_equal(st.st_uid, 4242);
                assert_int_equal(st.st_gid, 4243);
        }
        /* Where the principals are stays root's: Radicale's user may read it, not move a principal or plant a link. */
        snprintf(p, sizeof p, "%s/collection-root", root);
        assert_int_equal(lstat(p, &st), 0);
        assert_int_equal(st.st_uid, 0);
        assert_int_equal(st.st_gid, 4243);
        assert_int_equal(st.st_mode & 07777, 0750);
        /* A link Radicale's user put in a principal under the name picd builds a collection at is removed, not
         * followed: nothing appears where it points, and the collection is made all the same. */
        char outside[100], link[160];
        snprintf(outside, sizeof outside, "%s/outside", root);
        assert_int_equal(mkdir(outside, 0700), 0);
        snprintf(link, sizeof link, "%s/collection-root/alice/" ".pic-new-contacts", root);
        snprintf(p, sizeof p, "%s/collection-root/alice/contacts", root);
        char moved[100];
        snprintf(moved, sizeof moved, "%s/contacts-away", root);
        assert_int_equal(rename(p, moved), 0);
        assert_int_equal(symlink(outside, link), 0);
        assert_int_equal(radicale_ensure_defaults(root, "alice", 4242, 4243), 0);
        assert_int_equal(lstat(p, &st), 0);
        assert_true(S_ISDIR(st.st_mode));
        snprintf(p, sizeof p, "%s/.Radicale.props", outside);
        assert_int_equal(access(p, F_OK), -1);
        assert_int_equal(lstat(link, &st), -1); /* the leftover dot name (a link) went, as a link */
        assert_int_equal(rm_rf(moved), 0);
        assert_int_equal(rmdir(outside), 0);
        snprintf(p, sizeof p, "%s/collection-root/alice/contacts/.Radicale.props", root);
        assert_int_equal(stat(p, &st), 0);
        assert_int_equal(radicale_usage(root, "alice", &u), 0);
        assert_true(u.exists);
        assert_int_equal(u.calendars, 1);
        assert_int_equal(u.address_books, 1);
        assert_int_equal(u.items, 0);
        assert_true(u.only_empty_defaults);
        assert_true(u.bytes > 0);

        /* An item in the default calendar, and a second calendar: data. */
        snprintf(p, sizeof p, "%s/collection-root/alice/calendar/e1.ics", root);
        write_text(p, "BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n");
        snprintf(p, sizeof p, "%s/collection-root/alice/work", root);
        assert_int_equal(mkdir(p, 0700), 0);
        snprintf(p, sizeof p, "%s/collection-root/alice/work/.Radicale.props", root);
        write_text(p, "{\"tag\": \"VCALENDAR\"}");
        assert_int_equal(radicale_usage(root, "alice", &u), 0);
        assert_int_equal(u.calendars, 2);
        assert_int_equal(u.address_books, 1);
        assert_int_equal(u.items, 1);
        assert_false(u.only_empty_defaults);

        /* Leftovers of an interrupted change go; users stay. */
        snprintf(p, sizeof p, "%s/collection-root/.pic-gone-bob", root);
        assert_int_equal(mkdir(p, 0700), 0);
        snprintf(p, sizeof p, "%s/collection-root/alice/.pic-new-contacts", root);
        assert_int_equal(mkdir(p, 0700), 0);
        assert_int_equal(radicale_sweep(root), 0);
        assert_int_equal(stat(p, &st), -1);
        snprintf(p, sizeof p, "%s/collection-root/.pic-gone-bob", root);
        assert_int_equal(stat(p, &st), -1);
        snprintf(p, sizeof p, "%s/collection-root/alice/calendar/e1.ics", root);
        assert_int_equal(stat(p, &st), 0);

        /* Removal: the whole tree, and a second time is no error. */
        assert_int_equal(radicale_remove_user(root, "alice"), 0);
        assert_int_equal(radicale_remove_user(root, "alice"), 0);
        snprintf(p, sizeof p, "%s/collection-root/alice", root);
        assert_int_equal(stat(p, &st), -1);
        assert_int_equal(radicale_remove_user(root, "../x"), -EINVAL);
        assert_int_equal(rm_rf(root), 0);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_render),
                cmocka_unit_test(test_user_names),
                cmocka_unit_test(test_storage),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
