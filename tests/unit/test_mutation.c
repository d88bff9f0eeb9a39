/* Unit tests of core/mutation.c: cell_mutate() against a real store, with a fake live part. A failed begin,
 * write, apply or commit leaves the store as it was and calls undo exactly when the live part may differ;
 * the commit failure is injected by wrapping store_commit (-Wl,--wrap, see CMakeLists.txt). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "basic/fileio.h"
#include "core/mutation.h"
#include "store/dns.h"

int __real_store_commit(Store *s);
int __wrap_store_commit(Store *s);

static int commit_fails; /* the errno the next commit fails with, 0 = commit for real */

int __wrap_store_commit(Store *s) {
        if (commit_fails) {
                int r = -commit_fails;
                commit_fails = 0;
                return r;
        }
        return __real_store_commit(s);
}

typedef struct Fake {
        int write_result, apply_result;
        unsigned writes, applies, undos;
        bool undo_applied;
        bool live; /* the "live system": set by apply, cleared by undo */
} Fake;

static int fake_write(Cell *c, void *userdata, PicError *err) {
        Fake *f = userdata;
        f->writes++;
        if (f->write_result < 0)
                return pic_error(err, f->write_result, "name", "write refused");
        DnsRecord r = { .ttl = 60 };
        snprintf(r.name, sizeof r.name, "www");
        snprintf(r.type, sizeof r.type, "A");
        snprintf(r.value, sizeof r.value, "192.0.2.1");
        return store_dns_record_insert(c->store, &r);
}

static int fake_apply(Cell *c, void *userdata, PicError *err) {
        Fake *f = userdata;
        f->applies++;
        f->live = true; /* partial work, even when it then fails */
        return f->apply_result < 0 ? pic_error(err, f->apply_result, NULL, "daemon refused") : 0;
}

static void fake_undo(Cell *c, void *userdata, bool applied) {
        Fake *f = userdata;
        f->undos++;
        f->undo_applied = applied;
        f->live = false;
}

static const CellMutation fake = { .what = "the test record", .write = fake_write, .apply = fake_apply, .undo = fake_undo };

typedef struct Fixture {
        char dir[64];
        Cell cell;
} Fixture;

static int setup(void **state) {
        Fixture *fx = calloc(1, sizeof *fx);
        snprintf(fx->dir, sizeof fx->dir, "/tmp/pic-mutation-XXXXXX");
        if (!fx || !mkdtemp(fx->dir))
                return -1;
        char path[128];
        snprintf(path, sizeof path, "%s/pic.db", fx->dir);
        if (store_open(path, &fx->cell.store) < 0)
                return -1;
        *state = fx;
        return 0;
}

static int teardown(void **state) {
        Fixture *fx = *state;
        store_free(fx->cell.store);
        rm_rf(fx->dir);
        free(fx);
        return 0;
}

static int64_t stored(Fixture *fx) {
        int64_t n = -1;
        assert_int_equal(store_dns_record_count(fx->cell.store, &n), 0);
        return n;
}

static void test_success_is_durable_and_live(void **state) {
        Fixture *fx = *state;
        Fake f = { 0 };
        PicError err = { 0 };
        assert_int_equal(cell_mutate(&fx->cell, &fake, &f, &err), 0);
        assert_int_equal(stored(fx), 1);
        assert_true(f.live);
        assert_int_equal(f.undos, 0);
        /* The transaction is closed: the next mutation can begin. */
        assert_int_equal(store_begin(fx->cell.store), 0);
        store_rollback(fx->cell.store);
}

static void test_write_failure_touches_nothing_live(void **state) {
        Fixture *fx = *state;
        Fake f = { .write_result = -EEXIST };
        PicError err = { 0 };
        assert_int_equal(cell_mutate(&fx->cell, &fake, &f, &err), -EEXIST);
        assert_string_equal(err.field, "name");
        assert_int_equal(f.applies, 0);
        assert_int_equal(f.undos, 0);
        assert_int_equal(stored(fx), 0);
}

static void test_apply_failure_rolls_back_and_undoes(void **state) {
        Fixture *fx = *state;
        Fake f = { .apply_result = -EBADMSG };
        PicError err = { 0 };
        assert_int_equal(cell_mutate(&fx->cell, &fake, &f, &err), -EBADMSG);
        assert_string_equal(err.message, "daemon refused"); /* the daemon's words reach the client */
        assert_int_equal(stored(fx), 0);
        assert_int_equal(f.undos, 1);
        assert_false(f.undo_applied);
        assert_false(f.live);
}

static void test_commit_failure_rolls_back_and_undoes(void **state) {
        Fixture *fx = *state;
        Fake f = { 0 };
        PicError err = { 0 };
        commit_fails = ENOSPC;
        assert_int_equal(cell_mutate(&fx->cell, &fake, &f, &err), -ENOSPC);
        assert_non_null(strstr(err.message, "cannot commit the test record"));
        assert_int_equal(stored(fx), 0);
        assert_int_equal(f.undos, 1);
        assert_true(f.undo_applied);
        assert_false(f.live);
}

static void test_begin_failure_does_nothing(void **state) {
        Fixture *fx = *state;
        Fake f = { 0 };
        PicError err = { 0 };
        /* A transaction already open: BEGIN fails for real. */
        assert_int_equal(store_begin(fx->cell.store), 0);
        assert_true(cell_mutate(&fx->cell, &fake, &f, &err) < 0);
        store_rollback(fx->cell.store);
        assert_int_equal(f.writes, 0);
        assert_int_equal(f.applies, 0);
        assert_int_equal(stored(fx), 0);
}

static void test_no_apply_no_undo(void **state) {
        Fixture *fx = *state;
        Fake f = { 0 };
        PicError err = { 0 };
        const CellMutation store_only = { .what = "x", .write = fake_write, .undo = fake_undo };
        commit_fails = EIO;
        assert_int_equal(cell_mutate(&fx->cell, &store_only, &f, &err), -EIO);
        assert_int_equal(f.undos, 0); /* nothing live was touched */
        assert_int_equal(stored(fx), 0);
        assert_int_equal(cell_mutate(&fx->cell, &store_only, &f, &err), 0);
        assert_int_equal(stored(fx), 1);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_success_is_durable_and_live, setup, teardown),
                cmocka_unit_test_setup_teardown(test_write_failure_touches_nothing_live, setup, teardown),
                cmocka_unit_test_setup_teardown(test_apply_failure_rolls_back_and_undoes, setup, teardown),
                cmocka_unit_test_setup_teardown(test_commit_failure_rolls_back_and_undoes, setup, teardown),
                cmocka_unit_test_setup_teardown(test_begin_failure_does_nothing, setup, teardown),
                cmocka_unit_test_setup_teardown(test_no_apply_no_undo, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
