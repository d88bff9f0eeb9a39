/* Tests of spawn_capture (src/basic/spawn.c) with real child processes ($PIC_BUILD_DIR/pic-testchild): output and
 * exit status, a missing binary, and that no helper outlives its deadline or a SIGKILLed caller. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>

#include "basic/spawn.h"
#include "basic/time-util.h"
#include "basic/util.h"
#include "pid-file.h"

static char testchild_path[PATH_MAX];

static char *testchild(void) {
        if (!testchild_path[0]) {
                const char *dir = getenv("PIC_BUILD_DIR");
                assert_non_null(dir);
                snprintf(testchild_path, sizeof testchild_path, "%s/pic-testchild", dir);
                assert_int_equal(access(testchild_path, X_OK), 0);
        }
        return testchild_path;
}

/* Alive in the sense that matters: not gone, not a zombie waiting for init to reap it. */
static bool proc_alive(pid_t pid) {
        char path[64], buf[512];
        snprintf(path, sizeof path, "/proc/%d/stat", (int) pid);
        FILE *f = fopen(path, "re");
        if (!f)
                return false;
        size_t n = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
        buf[n] = '\0';
        const char *p = strrchr(buf, ')');
        return p && p[1] == ' ' && p[2] != 'Z' && p[2] != 'X';
}

/* Bounded waits: every poll here ends within timeout_ms. */
static bool wait_dead(pid_t pid, unsigned timeout_ms) {
        uint64_t deadline = now_usec() + timeout_ms * USEC_PER_MSEC;
        while (proc_alive(pid)) {
                if (now_usec() >= deadline)
                        return false;
                usleep(5000);
        }
        return true;
}


static void temp_path(char *buf, size_t size) {
        snprintf(buf, size, "/tmp/pic-test-spawn-XXXXXX");
        int fd = mkstemp(buf);
        assert_true(fd >= 0);
        close(fd);
        unlink(buf); /* the child creates it: its existence means the pid is in */
}

static void test_output_and_status(void **state) {
        char *argv[] = { testchild(), "--print", "out", "--print-stderr", "err", "--exit-code", "3", NULL };
        char *out = NULL;
        int status = -1;
        assert_int_equal(spawn_capture(argv, 5 * USEC_PER_SEC, 4096, &out, &status), 0);
        assert_string_equal(out, "out\nerr\n");
        assert_int_equal(status, 3);
        free(out);

        char *missing[] = { "/nonexistent/pic-no-such-binary", NULL };
        assert_int_equal(spawn_capture(missing, 5 * USEC_PER_SEC, 4096, &out, &status), -ENOENT);
}

static void test_deadline_takes_the_helpers_children(void **state) {
        char file[PATH_MAX];
        temp_path(file, sizeof file);
        char *argv[] = { testchild(), "--fork-sleeper", file, "--sleep-forever", NULL };
        char *out = NULL;
        int status = -1;
        assert_int_equal(spawn_capture(argv, 300 * USEC_PER_MSEC, 4096, &out, &status), -ETIME);
        pid_t sleeper = read_pid_file(file, 2000);
        unlink(file);
        assert_true(sleeper > 0);
        assert_true(wait_dead(sleeper, 2000));
}

static void test_helper_dies_with_a_killed_caller(void **state) {
        char file[PATH_MAX];
        temp_path(file, sizeof file);
        pid_t caller = fork();
        assert_true(caller >= 0);
        if (caller == 0) {
                /* A picd in the middle of a slow checker run. */
                char *argv[] = { testchild(), "--write-pid", file, "--sleep-forever", NULL };
                char *out = NULL;
                int status;
                (void) spawn_capture(argv, 30 * USEC_PER_SEC, 4096, &out, &status);
                _exit(0);
        }
        pid_t helper = read_pid_file(file, 2000);
        unlink(file);
        assert_true(helper > 0);
        assert_int_equal(kill(caller, SIGKILL), 0);
        assert_int_equal(waitpid(caller, NULL, 0), caller);
        assert_true(wait_dead(helper, 2000));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_output_and_status),
                cmocka_unit_test(test_deadline_takes_the_helpers_children),
                cmocka_unit_test(test_helper_dies_with_a_killed_caller),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
