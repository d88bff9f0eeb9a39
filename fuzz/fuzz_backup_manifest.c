/* Fuzz harness for the backup manifest and data-index parsers (src/core/backup-manifest.c): an archive is outside
 * input, and a leaked backup key would let anyone sign one, so each input is tried as it is and re-signed. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "basic/util.h"
#include "core/backup-manifest.h"

#define WANT_ID "pic-20250101-000000-abcdef"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint8_t key[BACKUP_KEY_BYTES] = { 0x70, 0x69, 0x63, 0x2d, 0x66, 0x75, 0x7a, 0x7a };

/* Independent of the parser's own grammar: the path cannot leave the staging dir or name the backup key. */
static bool stays_inside(const char *p) {
        if (streq(p, BACKUP_DB_NAME))
                return true;
        if (!(startswith(p, "keys/") || startswith(p, "etc/")) || streq(p, BACKUP_KEY_REL) || strstr(p, "//"))
                return false;
        for (const char *c = p; *c;) {
                size_t len = strcspn(c, "/");
                if ((len == 1 && c[0] == '.') || (len == 2 && c[0] == '.' && c[1] == '.'))
                        return false;
                c += len;
                if (*c == '/' && *++c == '\0')
                        return false;
        }
        return !strpbrk(p, "\\\n\r\t ");
}

/* Whatever was accepted is something a restore may write: a listed, valid, unique path, picd.db among them,
 * within the caps, and only mode 0600 or 0644 (0600 for secrets). */
static void check_accepted(const BackupFileList *l) {
        uint64_t total = 0;
        bool db = false;
        if (l->n == 0 || l->n > BACKUP_FILES_MAX)
                abort();
        for (size_t i = 0; i < l->n; i++) {
                const BackupFile *f = &l->v[i];
                size_t idx;
                if (!backup_rel_path_is_valid(f->path) || !backup_file_list_find(l, f->path, &idx) || idx != i)
                        abort();
                if (f->mode != 0600 && f->mode != 0644)
                        abort();
                if ((startswith(f->path, "keys/") || streq(f->path, BACKUP_DB_NAME)) && f->mode != 0600)
                        abort();
                if (!stays_inside(f->path))
                        abort();
                if (f->size > (streq(f->path, BACKUP_DB_NAME) ? BACKUP_DB_SIZE_MAX : BACKUP_FILE_SIZE_MAX))
                        abort();
                if (strlen(f->sha256) != BACKUP_SHA_HEX - 1)
                        abort();
                total += f->size;
                db = db || streq(f->path, BACKUP_DB_NAME);
        }
        if (!db || total > BACKUP_TOTAL_SIZE_MAX)
                abort();
}

static void try_parse(const char *text, size_t len) {
        BackupFileList l = { 0 };
        PicError err = { 0 };
        BackupDataInfo d;
        int r = backup_manifest_parse(text, len, WANT_ID, key, &l, &d, &err);
        if (r >= 0)
                check_accepted(&l);
        else if (!err.message[0] && r != -ENOMEM)
                abort(); /* every refusal says why */
        backup_file_list_done(&l);
}

static bool ends_with(const char *s, const char *suffix) {
        size_t n = strlen(s), k = strlen(suffix);
        return n >= k && memcmp(s + n - k, suffix, k) == 0;
}

/* An accepted index line names a path below data/ that cannot climb out or split a line, and formats back to
 * exactly the same line. */
static void try_index_line(const char *line, size_t len) {
        static BackupDataEntry e;
        static char again[BACKUP_INDEX_LINE_MAX + 2];
        if (backup_data_line_parse(line, len, &e) < 0)
                return;
        if (!(streq(e.path, BACKUP_DATA_DIR) || startswith(e.path, BACKUP_DATA_DIR "/")) || strstr(e.path, "//") ||
            strstr(e.path, "/../") || strstr(e.path, "/./") || ends_with(e.path, "/..") || ends_with(e.path, "/.") ||
            ends_with(e.path, "/") || e.mode > 0777)
                abort();
        for (const unsigned char *c = (const unsigned char *) e.path; *c; c++)
                if (*c < 0x20 || *c == 0x7f)
                        abort();
        int n = backup_data_line_format(&e, again, sizeof again);
        if (n < 0 || (size_t) n != len + 1 || memcmp(again, line, len) != 0)
                abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        try_parse((const char *) data, size);
        try_index_line((const char *) data, size);
        /* Signed with the key: the checks after the signature see the input too. */
        json_t *m = json_loadb((const char *) data, size, JSON_REJECT_DUPLICATES, NULL);
        if (json_is_object(m) && backup_manifest_sign(m, key) >= 0) {
                char *text = json_dumps(m, JSON_COMPACT);
                if (text)
                        try_parse(text, strlen(text));
                free(text);
        }
        json_decref(m);
        return 0;
}
