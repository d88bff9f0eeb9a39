/* Unit tests of the atomic file writer: content and mode land together, identical content is skipped, a
 * refusing checker leaves the old file untouched, and no temp file is left behind either way; and of chown_tree. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "basic/fileio.h"

static char dir[256];

static int setup(void **state) {
        snprintf(dir, sizeof dir, "/tmp/pic-fileio-XXXXXX");
        return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state) {
        return rm_rf(dir);
}

static int count_entries(void) {
        DIR *d = opendir(dir);
        int n = 0;
        struct dirent *de;
        while ((de = readdir(d)))
                if (de->d_name[0] != '.')
                        n++;
        closedir(d);
        return n;
}

static int refuse(const char *tmp, void *userdata, PicError *err) {
        struct stat st;
        /* The checker sees the complete candidate file at its temp path. */
        assert_int_equal(stat(tmp, &st), 0);
        assert_int_equal(st.st_size, 3);
        return pic_error(err, -EBADMSG, NULL, "checker says no");
}

static void test_write_skip_and_check(void **state) {
        char path[300], *text = NULL;
        snprintf(path, sizeof path, "%s/a.conf", dir);
        assert_int_equal(write_file_atomic(path, "one\n", 4, 0600, NULL, NULL, NULL), WRITE_ATOMIC_WRITTEN);
        struct stat st;
        assert_int_equal(stat(path, &st), 0);
        assert_int_equal(st.st_mode & 07777, 0600);
        assert_int_equal(write_file_atomic(path, "one\n", 4, 0600, NULL, NULL, NULL), WRITE_ATOMIC_UNCHANGED);
        /* Same content, other mode: rewritten so the mode is right. */
        assert_int_equal(write_file_atomic(path, "one\n", 4, 0644, NULL, NULL, NULL), WRITE_ATOMIC_WRITTEN);

        PicError err = { 0 };
        assert_int_equal(write_file_atomic(path, "two", 3, 0644, refuse, NULL, &err), -EBADMSG);
        assert_string_equal(err.message, "checker says no");
        size_t len;
        assert_int_equal(read_file_full(path, 100, &text, &len), 0);
        assert_string_equal(text, "one\n");
        free(text);
        assert_int_equal(count_entries(), 1);
}

static void test_read_cap(void **state) {
        char path[300], *text = NULL;
        snprintf(path, sizeof path, "%s/big", dir);
        char buf[10000];
        memset(buf, 'x', sizeof buf);
        assert_int_equal(write_file_atomic(path, buf, sizeof buf, 0600, NULL, NULL, NULL), WRITE_ATOMIC_WRITTEN);
        assert_int_equal(read_file_full(path, 5000, &text, NULL), -EFBIG);
        assert_int_equal(read_file_full(path, 10000, &text, NULL), 0);
        free(text);
}

static void owned_by(const char *path, uid_t uid, gid_t gid) {
        struct stat st;
        assert_int_equal(lstat(path, &st), 0);
        assert_int_equal(st.st_uid, uid);
        assert_int_equal(st.st_gid, gid);
}

/* A daemon's tree changes hands (the tests run as root, like picd); what its owner could plant there to reach
 * outside — a symlink, a hard link, a symlink given as the top — does not carry the change out. */
static void test_chown_tree(void **state) {
        const uid_t u = 4242;
        const gid_t g = 4243;
        char tree[300], sub[320], deep[340], file[360], outside[300], sym[340], hard[330], top[300];
        snprintf(tree, sizeof tree, "%s/tree", dir);
        snprintf(sub, sizeof sub, "%s/a", tree);
        snprintf(deep, sizeof deep, "%s/b", sub);
        snprintf(file, sizeof file, "%s/f", deep);
        snprintf(outside, sizeof outside, "%s/outside", dir);
        snprintf(sym, sizeof sym, "%s/to-outside", sub);
        snprintf(hard, sizeof hard, "%s/hard", sub);
        snprintf(top, sizeof top, "%s/top-link", dir);
        assert_int_equal(mkdir_p(deep, 0700), 0);
        assert_int_equal(write_file_atomic(file, "x", 1, 0600, NULL, NULL, NULL), WRITE_ATOMIC_WRITTEN);
        assert_int_equal(write_file_atomic(outside, "y", 1, 0600, NULL, NULL, NULL), WRITE_ATOMIC_WRITTEN);
        assert_int_equal(symlink(outside, sym), 0);
        assert_int_equal(link(outside, hard), 0);
        assert_int_equal(symlink(tree, top), 0);

        assert_int_equal(chown_tree_nofollow(top, u, g), -ENOTDIR);
        owned_by(tree, 0, 0);
        assert_int_equal(chown_tree_nofollow(tree, u, g), 0);
        owned_by(tree, u, g);
        owned_by(sub, u, g);
        owned_by(deep, u, g);
        owned_by(file, u, g);
        owned_by(sym, u, g); /* the link itself, not what it names */
        owned_by(outside, 0, 0);
        assert_int_equal(chown_tree_nofollow(dir, getuid(), getgid()), 0);
        owned_by(file, 0, 0);
        assert_int_equal(chown_tree_nofollow("/nonexistent-pic-tree", u, g), -ENOENT);
}

/* Directories made in a tree a daemon owns: each new one the daemon's, none through a link, and removed from the
 * deepest up only as far as they are empty. */
static void test_mkdir_below(void **state) {
        const uid_t u = 4242;
        const gid_t g = 4243;
        char base[300], p[400], outside[300];
        snprintf(base, sizeof base, "%s/base", dir);
        snprintf(outside, sizeof outside, "%s/outside", dir);
        assert_int_equal(mkdir_p(base, 0700), 0);
        assert_int_equal(mkdir_p(outside, 0700), 0);
        assert_int_equal(mkdir_below(base, "bob/shared/alice/pics", 0700, u, g), 0);
        snprintf(p, sizeof p, "%s/bob/shared/alice/pics", base);
        owned_by(p, u, g);
        snprintf(p, sizeof p, "%s/bob", base);
        owned_by(p, u, g);
        owned_by(base, 0, 0);
        /* Existing ones keep their owner; a second call changes nothing. */
        assert_int_equal(chown(p, 0, 0), 0);
        assert_int_equal(mkdir_below(base, "bob/shared/alice/pics", 0700, u, g), 0);
        owned_by(p, 0, 0);
        assert_int_equal(mkdir_below(base, "bob/../x", 0700, u, g), -EINVAL);
        /* A link on the way is refused, and nothing appears where it points. */
        snprintf(p, sizeof p, "%s/carol", base);
        assert_int_equal(symlink(outside, p), 0);
        assert_int_equal(mkdir_below(base, "carol/shared/alice", 0700, u, g), -ENOTDIR);
        snprintf(p, sizeof p, "%s/shared", outside);
        assert_int_equal(access(p, F_OK), -1);
        /* Removal: the empty chain goes, up to (not including) base... */
        snprintf(p, sizeof p, "%s/bob", base);
        assert_int_equal(mkdir_below(p, "shared/dave/docs", 0700, u, g), 0);
        rmdir_below(p, "shared/alice/pics");
        snprintf(p, sizeof p, "%s/bob/shared/alice", base);
        assert_int_equal(access(p, F_OK), -1);
        snprintf(p, sizeof p, "%s/bob/shared/dave/docs", base); /* ...and stops at a folder still in use */
        assert_int_equal(access(p, F_OK), 0);
        /* ...and never through a link. */
        snprintf(p, sizeof p, "%s/shared/x", outside);
        assert_int_equal(mkdir_p(p, 0700), 0);
        snprintf(p, sizeof p, "%s/carol", base);
        rmdir_below(p, "shared/x");
        snprintf(p, sizeof p, "%s/shared/x", outside);
        assert_int_equal(access(p, F_OK), 0);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_write_skip_and_check, setup, teardown),
                cmocka_unit_test_setup_teardown(test_read_cap, setup, teardown),
                cmocka_unit_test_setup_teardown(test_chown_tree, setup, teardown),
                cmocka_unit_test_setup_teardown(test_mkdir_below, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
