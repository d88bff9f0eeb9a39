/* Unit tests of core/backup*.c: the id grammar, the manifest (mode mask, signature, strict fields), crash
 * recovery of a journaled restore from every point of the swap (the state must end old or new, never a mix), and
 * an in-process backup/restore round trip. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "basic/fileio.h"
#include "core/backup-manifest.h"
#include "core/backup.h"

static char *make_tmpdir(void) {
        char tmpl[] = "/tmp/pic-test-backup-XXXXXX";
        char *d = mkdtemp(tmpl);
        assert_non_null(d);
        return strdup(d);
}

static void put(const char *dir, const char *rel, const char *text) {
        char p[4096];
        snprintf(p, sizeof p, "%s/%s", dir, rel);
        char parent[4096];
        snprintf(parent, sizeof parent, "%s", p);
        *strrchr(parent, '/') = '\0';
        assert_int_equal(mkdir_p(parent, 0700), 0);
        assert_true(write_file_atomic(p, text, strlen(text), 0600, NULL, NULL, NULL) >= 0);
}

/* Content of dir/rel, or "<none>". Returned buffer is static per call site use: copy if needed. */
static const char *get(const char *dir, const char *rel) {
        static char buf[256];
        char p[4096];
        snprintf(p, sizeof p, "%s/%s", dir, rel);
        char *t = NULL;
        if (read_file_full(p, 200, &t, NULL) < 0)
                return "<none>";
        snprintf(buf, sizeof buf, "%s", t);
        free(t);
        return buf;
}

static bool present(const char *dir, const char *rel) {
        char p[4096];
        struct stat st;
        snprintf(p, sizeof p, "%s/%s", dir, rel);
        return lstat(p, &st) == 0;
}

static void test_id_grammar(void **state) {
        assert_true(backup_id_is_valid("pic-20250101-120000-a1b2c3"));
        assert_true(backup_id_is_valid("a"));
        assert_true(backup_id_is_valid("0-"));
        char longest[65];
        memset(longest, 'a', 64);
        longest[64] = '\0';
        assert_true(backup_id_is_valid(longest));
        char too_long[66];
        memset(too_long, 'a', 65);
        too_long[65] = '\0';
        assert_false(backup_id_is_valid(too_long));
        const char *bad[] = { "", "-a", "../x", "..", ".", "/etc/passwd", "a/b", "A", "pic-20250101T120000Z-abc",
                              "a b", "a\nb", "a.tar.gz", "a_b" };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                assert_false(backup_id_is_valid(bad[i]));
        assert_false(backup_id_is_valid(NULL));
}

#define STAGING ".restore-0123456789ab"

/* The live state (with a WAL beside the old database, which must never end up beside the new one) and a
 * verified staging dir, in the layout backup_restore() leaves just before its journal is written. */
static char *setup_swap(bool journal) {
        char *d = make_tmpdir();
        put(d, "picd.db", "old-db");
        put(d, "picd.db-wal", "old-wal");
        put(d, "picd.db-shm", "old-shm");
        put(d, "keys/k", "old-key");
        put(d, "etc/dns/e", "old-etc");
        put(d, "etc/only-old", "x");
        put(d, STAGING "/new/picd.db", "new-db");
        put(d, STAGING "/new/keys/k", "new-key");
        put(d, STAGING "/new/etc/dns/e", "new-etc");
        char old[4096];
        snprintf(old, sizeof old, "%s/" STAGING "/old", d);
        assert_int_equal(mkdir(old, 0700), 0);
        if (journal)
                put(d, "restore-journal", "pic-restore-journal 1\n" STAGING "\nforward\n");
        return d;
}

/* The renames of the forward swap in the order backup.c performs them; a crash may stop after any. */
static const struct {
        const char *from, *to;
} steps[] = {
        { "picd.db-wal", STAGING "/old/picd.db-wal" },
        { "picd.db-shm", STAGING "/old/picd.db-shm" },
        { "picd.db", STAGING "/old/picd.db" },
        { STAGING "/new/picd.db", "picd.db" },
        { "keys", STAGING "/old/keys" },
        { STAGING "/new/keys", "keys" },
        { "etc", STAGING "/old/etc" },
        { STAGING "/new/etc", "etc" },
};

static void assert_new_state(const char *d) {
        assert_string_equal(get(d, "picd.db"), "new-db");
        assert_false(present(d, "picd.db-wal"));
        assert_false(present(d, "picd.db-shm"));
        assert_string_equal(get(d, "keys/k"), "new-key");
        assert_string_equal(get(d, "etc/dns/e"), "new-etc");
        assert_false(present(d, "etc/only-old"));
        assert_false(present(d, "restore-journal"));
        assert_false(present(d, STAGING));
}

static void assert_old_state(const char *d) {
        assert_string_equal(get(d, "picd.db"), "old-db");
        assert_string_equal(get(d, "picd.db-wal"), "old-wal");
        assert_string_equal(get(d, "keys/k"), "old-key");
        assert_string_equal(get(d, "etc/dns/e"), "old-etc");
        assert_true(present(d, "etc/only-old"));
        assert_false(present(d, STAGING));
}

static const uint8_t test_key[BACKUP_KEY_BYTES] = { 1, 2, 3 };

static char *manifest_of(const char *const *paths, const mode_t *modes, size_t n, const uint8_t *key) {
        BackupFileList l = { 0 };
        for (size_t i = 0; i < n; i++) {
                BackupFile *f = backup_file_list_add(&l, paths[i]);
                assert_non_null(f);
                f->size = 1;
                f->mode = modes[i];
                memset(f->sha256, 'a', BACKUP_SHA_HEX - 1);
                f->sha256[BACKUP_SHA_HEX - 1] = '\0';
        }
        /* An empty data index: SHA-256 of nothing. */
        BackupDataInfo data = { .present = true,
                                .index_sha256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" };
        BackupManifestInfo info = { .id = "pic-1", .created = 1, .cell_name = "c", .schema_version = 1, .data = &data };
        char *text = backup_manifest_build(&info, &l, key);
        assert_non_null(text);
        backup_file_list_done(&l);
        return text;
}

static void test_manifest_masks_modes(void **state) {
        assert_int_equal(backup_mode_mask("etc/a.conf", 0644), 0644);
        assert_int_equal(backup_mode_mask("etc/a.conf", 0777), 0644);
        assert_int_equal(backup_mode_mask("etc/a.conf", 04755), 0644);
        assert_int_equal(backup_mode_mask("etc/a.conf", 0700), 0600);
        assert_int_equal(backup_mode_mask("etc/a.conf", 0), 0600);
        assert_int_equal(backup_mode_mask("keys/wg.key", 0644), 0600);
        /* Shared with one daemon's group (Caddy reads its leaf keys and caddy.json): kept, never wider. */
        assert_int_equal(backup_mode_mask("keys/ca/leaves/api-01.key", 0640), 0640);
        assert_int_equal(backup_mode_mask("keys/ca/leaves/api-01.key", 0660), 0640);
        assert_int_equal(backup_mode_mask("etc/proxy/caddy.json", 0640), 0640);
        assert_int_equal(backup_mode_mask("etc/proxy/caddy.json", 02750), 0640);
        assert_int_equal(backup_mode_mask("picd.db", 0640), 0600);
        assert_int_equal(backup_mode_mask("picd.db", 0666), 0600);

        const char *paths[] = { "picd.db", "etc/dns/unbound.conf", "etc/x", "keys/wg.key" };
        const mode_t modes[] = { 0600, 0644, 0777, 0644 };
        char *text = manifest_of(paths, modes, 4, test_key);
        BackupFileList l = { 0 };
        BackupDataInfo d;
        PicError err = { 0 };
        assert_int_equal(backup_manifest_parse(text, strlen(text), "pic-1", test_key, &l, &d, &err), 0);
        assert_true(d.present);
        assert_int_equal(d.files, 0);
        assert_int_equal(l.n, 4);
        const mode_t want[] = { 0600, 0644, 0644, 0600 };
        for (size_t i = 0; i < 4; i++) {
                assert_string_equal(l.v[i].path, paths[i]);
                assert_int_equal(l.v[i].mode, want[i]);
        }
        backup_file_list_done(&l);

        /* Another key, another id, or one changed byte: refused, with a reason. */
        const uint8_t other[BACKUP_KEY_BYTES] = { 9 };
        assert_int_equal(backup_manifest_parse(text, strlen(text), "pic-1", other, &l, &d, &err), -EBADMSG);
        assert_non_null(strstr(err.message, "backup key"));
        assert_int_equal(backup_manifest_parse(text, strlen(text), "pic-2", test_key, &l, &d, &err), -EBADMSG);
        char *p = strstr(text, "unbound");
        p[0] = 'U';
        assert_int_equal(backup_manifest_parse(text, strlen(text), "pic-1", test_key, &l, &d, &err), -EBADMSG);
        free(text);

        /* Signed, but setuid is no mode at all; and a path that climbs out is refused whatever the signature. */
        const char *bad_paths[] = { "picd.db", "etc/suid" };
        const mode_t bad_modes[] = { 0600, 04755 };
        text = manifest_of(bad_paths, bad_modes, 2, test_key);
        assert_int_equal(backup_manifest_parse(text, strlen(text), "pic-1", test_key, &l, &d, &err), -EBADMSG);
        free(text);
        const char *esc_paths[] = { "picd.db", "etc/../../x" };
        text = manifest_of(esc_paths, modes, 2, test_key);
        assert_int_equal(backup_manifest_parse(text, strlen(text), "pic-1", test_key, &l, &d, &err), -EBADMSG);
        free(text);
}

/* Every name a client sensibly gives a file passes; nothing that climbs out, splits a line or hides a control
 * character does. */
static void test_data_path_grammar(void **state) {
        static const char *const good[] = {
                "data", "data/files/alice/Quarterly report (final) v2.pdf", "data/files/a/Ünïcødé ☃ 日本語 🎉.txt",
                "data/mail/alice/Maildir/cur/1700000000.M1P2.host,S=123:2,S", "data/calendar/c/.Radicale.props",
                "data/f/it's \"quoted\" & #hashed% [x] {y};=,:.txt", "data/f/ leading space", "data/f/...",
                "data/f/-dash", "data/f/back\\slash",
        };
        for (size_t i = 0; i < ELEMENTSOF(good); i++)
                assert_true(backup_data_path_is_valid(good[i]));
        static const char *const bad[] = {
                "", "/data/x", "data/", "data//x", "data/./x", "data/../x", "data/x/..", "etc/x", "datax/y",
                "data/tab\there", "data/new\nline", "data/del\x7f", "data/c1\xc2\x80", "data/latin1-\xe9t\xe9",
                "data/overlong\xc0\xaf", "data/surrogate\xed\xa0\x80", "data/beyond\xf4\x90\x80\x80", "data/cut\xe2\x98",
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                assert_false(backup_data_path_is_valid(bad[i]));
        char p[BACKUP_DATA_PATH_MAX + 300];
        memcpy(p, "data/", 5);
        memset(p + 5, 'x', 255);
        p[260] = '\0';
        assert_true(backup_data_path_is_valid(p));
        memcpy(p + 5, "xx", 2);
        p[260] = 'x';
        p[261] = '\0';
        assert_false(backup_data_path_is_valid(p)); /* 256 bytes in one name */
        size_t n = 4;
        for (int i = 0; i < BACKUP_DATA_DEPTH_MAX; i++)
                n += (size_t) snprintf(p + n, sizeof p - n, "/d");
        assert_true(backup_data_path_is_valid(p));
        snprintf(p + n, sizeof p - n, "/d");
        assert_false(backup_data_path_is_valid(p));
        assert_int_equal(backup_data_mode_mask(04777), 0775);
        assert_int_equal(backup_data_mode_mask(0640), 0640);
}

/* Index lines: what is formatted parses back the same; any field out of its canonical form is refused. */
static void test_data_index_lines(void **state) {
        BackupDataEntry e = { .mode = 0640, .uid = 1234, .gid = 5678, .mtime_sec = 1700000000, .mtime_nsec = 123456789,
                              .size = UINT64_C(107374182400),
                              .sha256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" };
        snprintf(e.path, sizeof e.path, "data/mail/a/cur/1700000000.M1P2.host,S=123:2,S with space");
        char line[BACKUP_INDEX_LINE_MAX + 2];
        int n = backup_data_line_format(&e, line, sizeof line);
        assert_true(n > 0 && line[n - 1] == '\n');
        BackupDataEntry back;
        assert_int_equal(backup_data_line_parse(line, (size_t) n - 1, &back), 0);
        assert_false(back.is_dir);
        assert_int_equal(back.mode, 0640);
        assert_int_equal(back.uid, 1234);
        assert_int_equal(back.mtime_nsec, 123456789);
        assert_true(back.size == e.size);
        assert_string_equal(back.path, e.path);
        const char *dir = "d 0700 0 0 data/mail/a/tmp";
        assert_int_equal(backup_data_line_parse(dir, strlen(dir), &back), 0);
        assert_true(back.is_dir);
        static const char *const bad[] = {
                "d 700 0 0 data/x", "d 0700 00 0 data/x", "d 0700 +1 0 data/x", "d 0700 0 0  data/x", "d 1777 0 0 data/x",
                "d 0700 0 4294967295 data/x", "x 0700 0 0 data/x", "d 0700 0 0 data/../x", "d 0700 0 0 /etc",
                "f 0644 0 0 1.000000000 0 e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855 data",
                "f 0644 0 0 1.00000000 0 e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855 data/x",
                "f 0644 0 0 1.000000000 0 E3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855 data/x",
                "f 0644 0 0 1.000000000 1099511627777 e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855 data/x",
                "f 0644 0 0 1.000000000 0 e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b85 data/x",
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                assert_int_equal(backup_data_line_parse(bad[i], strlen(bad[i]), &back), -EBADMSG);
}

static void test_recover_rolls_forward_from_every_step(void **state) {
        for (size_t k = 0; k <= ELEMENTSOF(steps); k++)
                for (int recreate = 0; recreate <= 1; recreate++) {
                        char *d = setup_swap(true);
                        for (size_t i = 0; i < k; i++) {
                                char a[4096], b[4096];
                                snprintf(a, sizeof a, "%s/%s", d, steps[i].from);
                                snprintf(b, sizeof b, "%s/%s", d, steps[i].to);
                                assert_int_equal(rename(a, b), 0);
                        }
                        if (recreate) {
                                /* picd's prepare_state_dir runs before recovery and re-creates what is missing. */
                                char p[4096];
                                snprintf(p, sizeof p, "%s/keys", d);
                                mkdir(p, 0700);
                                snprintf(p, sizeof p, "%s/etc", d);
                                mkdir(p, 0755);
                        }
                        assert_int_equal(backup_recover(d), 1);
                        assert_new_state(d);
                        /* A second start finds nothing left to do. */
                        assert_int_equal(backup_recover(d), 0);
                        assert_new_state(d);
                        rm_rf(d);
                        free(d);
                }
}

static void test_recover_drops_unjournaled_staging(void **state) {
        char *d = setup_swap(false);
        put(d, "backups/.tmp-pic-x/picd.db", "partial");
        put(d, "backups/pic-x.tar.gz.tmp-0000abcd", "partial");
        put(d, "backups/pic-y.tar.gz", "kept");
        assert_int_equal(backup_recover(d), 0);
        assert_old_state(d);
        assert_false(present(d, "backups/.tmp-pic-x"));
        assert_false(present(d, "backups/pic-x.tar.gz.tmp-0000abcd"));
        assert_string_equal(get(d, "backups/pic-y.tar.gz"), "kept");
        rm_rf(d);
        free(d);
}

static void test_recover_revert_direction(void **state) {
        /* A revert interrupted after its journal: old/ holds the original, the state dir the restored one. */
        char *d = setup_swap(false);
        for (size_t i = 0; i < ELEMENTSOF(steps); i++) {
                char a[4096], b[4096];
                snprintf(a, sizeof a, "%s/%s", d, steps[i].from);
                snprintf(b, sizeof b, "%s/%s", d, steps[i].to);
                assert_int_equal(rename(a, b), 0);
        }
        put(d, "restore-journal", "pic-restore-journal 1\n" STAGING "\nrevert\n");
        assert_int_equal(backup_recover(d), 1);
        assert_string_equal(get(d, "picd.db"), "old-db");
        assert_string_equal(get(d, "keys/k"), "old-key");
        assert_string_equal(get(d, "etc/dns/e"), "old-etc");
        assert_false(present(d, STAGING));
        assert_false(present(d, "restore-journal"));
        rm_rf(d);
        free(d);
}

static void test_recover_refuses_damaged_journal(void **state) {
        const char *journals[] = {
                "pic-restore-journal 1\n../etc\nforward\n",
                "pic-restore-journal 1\n.restore-0123456789ab/../..\nforward\n",
                "pic-restore-journal 1\n" STAGING "\nsideways\n",
                "pic-restore-journal 2\n" STAGING "\nforward\n",
                "pic-restore-journal 1\n" STAGING "\nforward\nextra\n",
                "",
        };
        for (size_t i = 0; i < ELEMENTSOF(journals); i++) {
                char *d = setup_swap(false);
                put(d, "restore-journal", journals[i]);
                assert_int_equal(backup_recover(d), -EBADMSG);
                /* Nothing moved, nothing removed: a person has to look. */
                assert_string_equal(get(d, "picd.db"), "old-db");
                assert_true(present(d, STAGING "/new/picd.db"));
                assert_true(present(d, "restore-journal"));
                rm_rf(d);
                free(d);
        }
}

static void on_audit_row(const StoreAudit *a, void *userdata) {
        if (streq(a->path, "/after"))
                *(bool *) userdata = true;
}

typedef struct TestCell {
        Cell c;
        char *dir;
} TestCell;

static void cell_open(TestCell *t) {
        *t = (TestCell) { .c = { .netns_fd = -1 } };
        t->dir = make_tmpdir();
        t->c.state_dir = strdup(t->dir);
        char p[4096];
        snprintf(p, sizeof p, "%s/picd.db", t->dir);
        assert_int_equal(store_open(p, &t->c.store), 0);
        assert_int_equal(settings_new(&t->c.settings), 0);
        assert_int_equal(settings_load(t->c.settings, t->c.store), 0);
        put(t->dir, "keys/wg.key", "key-one");
        put(t->dir, "etc/dns/unbound.conf", "server:\n");
}

static void cell_close(TestCell *t) {
        settings_free(t->c.settings);
        store_free(t->c.store);
        rm_rf(t->dir);
        free(t->c.state_dir);
        free(t->dir);
}

static void set_name(TestCell *t, const char *name) {
        PicError err = { 0 };
        json_t *v = json_pack("{s:s}", "cell_name", name);
        assert_int_equal(settings_update(t->c.settings, t->c.store, v, true, NULL, &err), 0);
        json_decref(v);
}

static void test_round_trip(void **state) {
        TestCell t;
        cell_open(&t);
        set_name(&t, "alpha");
        BackupInfo info;
        PicError err = { 0 };
        assert_int_equal(backup_create(&t.c, &info, &err), 0);
        assert_true(backup_id_is_valid(info.id));
        assert_true(info.size > 0);
        char p[4096];
        struct stat st;
        snprintf(p, sizeof p, "%s/backups/%s.tar.gz", t.dir, info.id);
        assert_int_equal(stat(p, &st), 0);
        assert_int_equal(st.st_mode & 0777, 0600);
        assert_int_equal((uint64_t) st.st_size, info.size);
        snprintf(p, sizeof p, "%s/keys/backup.key", t.dir);
        assert_int_equal(stat(p, &st), 0);
        assert_int_equal(st.st_mode & 0777, 0600);

        json_t *list = NULL;
        assert_int_equal(backup_list(&t.c, &list), 0);
        assert_int_equal(json_array_size(list), 1);
        json_t *e = json_array_get(list, 0);
        assert_string_equal(json_string_value(json_object_get(e, "id")), info.id);
        assert_string_equal(json_string_value(json_object_get(e, "cell_name")), "alpha");
        assert_true(json_is_true(json_object_get(e, "verified")));
        json_decref(list);

        set_name(&t, "beta");
        put(t.dir, "keys/wg.key", "key-two");
        put(t.dir, "etc/new-after-backup", "x");
        assert_int_equal(store_audit_insert(t.c.store, 1, "tester", "-", "PUT", "/after", 200, "after the backup"), 0);

        json_t *services = json_array();
        assert_int_equal(backup_restore(&t.c, info.id, services, &err), 0);
        json_decref(services);
        assert_string_equal(settings_str(t.c.settings, "cell_name"), "alpha");
        assert_string_equal(get(t.dir, "keys/wg.key"), "key-one");
        assert_false(present(t.dir, "etc/new-after-backup"));
        assert_string_equal(get(t.dir, "etc/dns/unbound.conf"), "server:\n");
        assert_true(present(t.dir, "keys/backup.key"));
        assert_false(present(t.dir, "restore-journal"));

        /* The audit row written after the backup was carried into the restored store. */
        bool found = false;
        assert_int_equal(store_audit_foreach(t.c.store, 0, 100, on_audit_row, &found), 0);
        assert_true(found);

        /* Damaged archives: rejected with -EBADMSG and nothing changes. */
        set_name(&t, "gamma");
        snprintf(p, sizeof p, "%s/backups/%s.tar.gz", t.dir, info.id);
        assert_int_equal(truncate(p, (off_t) info.size / 2), 0);
        err = (PicError) { 0 };
        assert_int_equal(backup_restore(&t.c, info.id, NULL, &err), -EBADMSG);
        assert_string_equal(settings_str(t.c.settings, "cell_name"), "gamma");
        assert_string_equal(get(t.dir, "keys/wg.key"), "key-one");

        err = (PicError) { 0 };
        assert_int_equal(backup_restore(&t.c, "no-such-backup", NULL, &err), -ENOENT);
        assert_string_equal(err.field, "id");
        err = (PicError) { 0 };
        assert_int_equal(backup_restore(&t.c, "../x", NULL, &err), -EINVAL);
        assert_string_equal(err.field, "id");
        assert_int_equal(backup_delete(&t.c, info.id, &err), 0);
        assert_int_equal(backup_delete(&t.c, info.id, &err), -ENOENT);

        /* An archive made under another key (another cell) is refused. */
        assert_int_equal(backup_create(&t.c, &info, &err), 0);
        put(t.dir, "keys/backup.key", "0000000000000000000000000000000000000000000000000000000000000000\n");
        err = (PicError) { 0 };
        set_name(&t, "delta");
        assert_int_equal(backup_restore(&t.c, info.id, NULL, &err), -EBADMSG);
        assert_non_null(strstr(err.message, "backup key"));
        assert_string_equal(settings_str(t.c.settings, "cell_name"), "delta");

        /* Without any key file nothing can be verified. */
        snprintf(p, sizeof p, "%s/keys/backup.key", t.dir);
        assert_int_equal(unlink(p), 0);
        assert_int_equal(backup_restore(&t.c, info.id, NULL, &err), -EBADMSG);
        cell_close(&t);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_id_grammar),
                cmocka_unit_test(test_manifest_masks_modes),
                cmocka_unit_test(test_data_path_grammar),
                cmocka_unit_test(test_data_index_lines),
                cmocka_unit_test(test_recover_rolls_forward_from_every_step),
                cmocka_unit_test(test_recover_drops_unjournaled_staging),
                cmocka_unit_test(test_recover_revert_direction),
                cmocka_unit_test(test_recover_refuses_damaged_journal),
                cmocka_unit_test(test_round_trip),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
