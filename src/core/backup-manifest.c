/* The backup manifest and data index: the archive-path grammars, the mode masks, the canonical form signed with
 * HMAC-SHA256 under the cell's backup key, building and strict parsing. Pure: no I/O (fuzz/fuzz_backup_manifest.c). */
#include "core/backup-manifest.h"

#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "basic/util.h"

#define HMAC_CONTEXT "pic-backup-manifest-v1\n"

_Static_assert(BACKUP_KEY_BYTES == crypto_auth_hmacsha256_KEYBYTES, "backup key size");
_Static_assert(BACKUP_SHA_HEX == crypto_hash_sha256_BYTES * 2 + 1, "sha256 hex size");

void backup_file_list_done(BackupFileList *l) {
        for (size_t i = 0; i < l->n; i++)
                free(l->v[i].path);
        free(l->v);
        *l = (BackupFileList) { 0 };
}

BackupFile *backup_file_list_add(BackupFileList *l, const char *path) {
        if (l->n >= BACKUP_FILES_MAX)
                return NULL;
        BackupFile *n = realloc(l->v, (l->n + 1) * sizeof *n);
        if (!n)
                return NULL;
        l->v = n;
        char *p = strdup(path);
        if (!p)
                return NULL;
        l->v[l->n] = (BackupFile) { .path = p };
        return &l->v[l->n++];
}

BackupFile *backup_file_list_find(const BackupFileList *l, const char *path, size_t *ret_idx) {
        for (size_t i = 0; path && i < l->n; i++)
                if (streq(l->v[i].path, path)) {
                        if (ret_idx)
                                *ret_idx = i;
                        return &l->v[i];
                }
        return NULL;
}

static int file_cmp(const void *a, const void *b) {
        return strcmp(((const BackupFile *) a)->path, ((const BackupFile *) b)->path);
}

void backup_file_list_sort(BackupFileList *l) {
        if (l->n > 0)
                qsort(l->v, l->n, sizeof *l->v, file_cmp);
}

static bool path_char(char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
               c == '-' || c == '+' || c == '@';
}

/* Plain relative components (no "", ".", ".."; so nothing absolute and nothing that climbs out).
 * keys/backup.key is never in an archive: the key that verifies an archive must not travel inside it. */
bool backup_rel_path_is_valid(const char *p) {
        size_t n = strlen(p);
        if (n == 0 || n > BACKUP_REL_PATH_MAX)
                return false;
        if (streq(p, BACKUP_DB_NAME))
                return true;
        if ((!startswith(p, "keys/") && !startswith(p, "etc/")) || streq(p, BACKUP_KEY_REL))
                return false;
        unsigned depth = 0;
        for (const char *c = p;;) {
                size_t len = strcspn(c, "/");
                if (len == 0 || (len == 1 && c[0] == '.') || (len == 2 && c[0] == '.' && c[1] == '.'))
                        return false;
                for (size_t i = 0; i < len; i++)
                        if (!path_char(c[i]))
                                return false;
                if (++depth > BACKUP_DEPTH_MAX)
                        return false;
                if (c[len] == '\0')
                        break;
                c += len + 1;
        }
        return depth >= 2;
}

mode_t backup_mode_mask(const char *path, mode_t mode) {
        if (streq(path, BACKUP_DB_NAME))
                return 0600;
        bool key = startswith(path, "keys/");
        if (!key && (mode & 0004))
                return 0644;
        /* A key others could read was a mistake, not a choice: it comes back private. */
        if ((mode & 0044) == 0040)
                return 0640;
        return 0600;
}

/* ---- data paths and index lines ---- */

/* Length of the UTF-8 sequence at s (at most n bytes) that encodes a printable scalar value, or 0: no C0, DEL or
 * C1 control, no overlong form, no surrogate, nothing beyond U+10FFFF. */
size_t backup_utf8_printable(const unsigned char *s, size_t n) {
        unsigned char c = s[0];
        if (c < 0x20 || c == 0x7f)
                return 0;
        if (c < 0x80)
                return 1;
        size_t len;
        uint32_t cp;
        if (c >= 0xc2 && c <= 0xdf) {
                len = 2;
                cp = c & 0x1f;
        } else if (c >= 0xe0 && c <= 0xef) {
                len = 3;
                cp = c & 0x0f;
        } else if (c >= 0xf0 && c <= 0xf4) {
                len = 4;
                cp = c & 0x07;
        } else
                return 0;
        if (n < len)
                return 0;
        for (size_t i = 1; i < len; i++) {
                if ((s[i] & 0xc0) != 0x80)
                        return 0;
                cp = (cp << 6) | (s[i] & 0x3f);
        }
        if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff) ||
            (cp >= 0x80 && cp <= 0x9f))
                return 0;
        return len;
}

const char *backup_data_path_problem(const char *p) {
        size_t n = strlen(p);
        if (n > BACKUP_DATA_PATH_MAX)
                return "the path is longer than 4095 bytes";
        if (streq(p, BACKUP_DATA_DIR))
                return NULL;
        if (!startswith(p, BACKUP_DATA_DIR "/"))
                return "the path is not below data/";
        unsigned depth = 0;
        for (const char *c = p + strlen(BACKUP_DATA_DIR "/");;) {
                size_t len = strcspn(c, "/");
                if (len == 0)
                        return "the path has an empty component";
                if ((len == 1 && c[0] == '.') || (len == 2 && c[0] == '.' && c[1] == '.'))
                        return "the path has a \".\" or \"..\" component";
                if (len > BACKUP_NAME_MAX)
                        return "a name is longer than 255 bytes";
                for (size_t i = 0; i < len;) {
                        size_t k = backup_utf8_printable((const unsigned char *) c + i, len - i);
                        if (k == 0)
                                return "a name holds a control character or is not valid UTF-8";
                        i += k;
                }
                if (++depth > BACKUP_DATA_DEPTH_MAX)
                        return "the path is more than 64 directories deep";
                if (c[len] == '\0')
                        return NULL;
                c += len + 1;
        }
}

bool backup_data_path_is_valid(const char *p) {
        return backup_data_path_problem(p) == NULL;
}

mode_t backup_data_mode_mask(mode_t mode) {
        return mode & 0775;
}

int backup_data_line_format(const BackupDataEntry *e, char *buf, size_t size) {
        int n = e->is_dir ? snprintf(buf, size, "d %04o %" PRIu32 " %" PRIu32 " %s\n", (unsigned) e->mode, e->uid, e->gid,
                                     e->path)
                          : snprintf(buf, size, "f %04o %" PRIu32 " %" PRIu32 " %" PRId64 ".%09" PRIu32 " %" PRIu64 " %s %s\n",
                                     (unsigned) e->mode, e->uid, e->gid, e->mtime_sec, e->mtime_nsec, e->size, e->sha256,
                                     e->path);
        return n < 0 || (size_t) n >= size ? -ENAMETOOLONG : n;
}

/* A decimal field in canonical form (no sign, no leading zero, no blank), at most max; advances *s past it and
 * the one character that must follow. */
static bool take_u64(const char **s, char end, uint64_t max, uint64_t *ret) {
        const char *c = *s;
        if (*c < '0' || *c > '9' || (c[0] == '0' && c[1] >= '0' && c[1] <= '9'))
                return false;
        uint64_t v = 0;
        for (; *c >= '0' && *c <= '9'; c++) {
                if (v > (max - (uint64_t) (*c - '0')) / 10)
                        return false;
                v = v * 10 + (uint64_t) (*c - '0');
        }
        if (*c != end)
                return false;
        *s = c + 1;
        *ret = v;
        return true;
}

int backup_data_line_parse(const char *line, size_t len, BackupDataEntry *ret) {
        BackupDataEntry e = { 0 };
        if (len < 2 || len > BACKUP_INDEX_LINE_MAX || memchr(line, '\0', len) || (line[0] != 'd' && line[0] != 'f') ||
            line[1] != ' ')
                return -EBADMSG;
        /* A copy with a terminator, so the fields parse as a string. */
        char buf[BACKUP_INDEX_LINE_MAX + 1];
        memcpy(buf, line, len);
        buf[len] = '\0';
        e.is_dir = buf[0] == 'd';
        const char *c = buf + 2;
        /* Mode: exactly four octal digits. */
        unsigned mode = 0;
        for (int i = 0; i < 4; i++, c++) {
                if (*c < '0' || *c > '7')
                        return -EBADMSG;
                mode = mode * 8 + (unsigned) (*c - '0');
        }
        if (*c++ != ' ' || mode > 0777)
                return -EBADMSG;
        e.mode = (mode_t) mode;
        uint64_t uid, gid;
        if (!take_u64(&c, ' ', UINT32_MAX - 1, &uid) || !take_u64(&c, ' ', UINT32_MAX - 1, &gid))
                return -EBADMSG;
        e.uid = (uint32_t) uid;
        e.gid = (uint32_t) gid;
        if (!e.is_dir) {
                uint64_t sec, size;
                if (!take_u64(&c, '.', INT64_MAX, &sec))
                        return -EBADMSG;
                uint32_t nsec = 0;
                for (int i = 0; i < 9; i++, c++) {
                        if (*c < '0' || *c > '9')
                                return -EBADMSG;
                        nsec = nsec * 10 + (uint32_t) (*c - '0');
                }
                if (*c++ != ' ' || !take_u64(&c, ' ', BACKUP_DATA_FILE_SIZE_MAX, &size))
                        return -EBADMSG;
                e.mtime_sec = (int64_t) sec;
                e.mtime_nsec = nsec;
                e.size = size;
                for (int i = 0; i < BACKUP_SHA_HEX - 1; i++, c++) {
                        if (!((*c >= '0' && *c <= '9') || (*c >= 'a' && *c <= 'f')))
                                return -EBADMSG;
                        e.sha256[i] = *c;
                }
                e.sha256[BACKUP_SHA_HEX - 1] = '\0';
                if (*c++ != ' ')
                        return -EBADMSG;
        }
        if (strlen(c) > BACKUP_DATA_PATH_MAX || !backup_data_path_is_valid(c) || (streq(c, BACKUP_DATA_DIR) && !e.is_dir))
                return -EBADMSG;
        memcpy(e.path, c, strlen(c) + 1);
        *ret = e;
        return 0;
}

static int manifest_mac(json_t *m, const uint8_t key[static BACKUP_KEY_BYTES],
                        uint8_t ret[static crypto_auth_hmacsha256_BYTES]) {
        /* Canonical form: compact, sorted keys, ASCII; everything in the manifest but the mac itself. */
        json_t *copy = json_copy(m);
        if (!copy)
                return -ENOMEM;
        json_object_del(copy, "hmac");
        char *canon = json_dumps(copy, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENSURE_ASCII);
        json_decref(copy);
        if (!canon)
                return -ENOMEM;
        crypto_auth_hmacsha256_state st;
        crypto_auth_hmacsha256_init(&st, key, BACKUP_KEY_BYTES);
        crypto_auth_hmacsha256_update(&st, (const unsigned char *) HMAC_CONTEXT, strlen(HMAC_CONTEXT));
        crypto_auth_hmacsha256_update(&st, (const unsigned char *) canon, strlen(canon));
        crypto_auth_hmacsha256_final(&st, ret);
        free(canon);
        return 0;
}

int backup_manifest_sign(json_t *m, const uint8_t key[static BACKUP_KEY_BYTES]) {
        uint8_t mac[crypto_auth_hmacsha256_BYTES];
        char hex[sizeof mac * 2 + 1];
        int r = manifest_mac(m, key, mac);
        if (r < 0)
                return r;
        sodium_bin2hex(hex, sizeof hex, mac, sizeof mac);
        return json_object_set_new(m, "hmac", json_string(hex)) < 0 ? -ENOMEM : 0;
}

char *backup_manifest_build(const BackupManifestInfo *info, const BackupFileList *files,
                            const uint8_t key[static BACKUP_KEY_BYTES]) {
        json_t *arr = json_array();
        for (size_t i = 0; arr && i < files->n; i++)
                json_array_append_new(arr, json_pack("{s:s, s:I, s:i, s:s}", "path", files->v[i].path, "size",
                                                     (json_int_t) files->v[i].size, "mode", (int) files->v[i].mode,
                                                     "sha256", files->v[i].sha256));
        json_t *m = json_pack("{s:i, s:s, s:s, s:I, s:s, s:i, s:o}", "format", BACKUP_FORMAT, "picd_version",
                              PIC_VERSION, "id", info->id, "created", (json_int_t) info->created, "cell_name",
                              info->cell_name, "schema_version", info->schema_version, "files", arr);
        const BackupDataInfo *d = info->data;
        json_t *data = m && d ? json_pack("{s:s, s:I, s:s, s:I, s:I, s:I}", "index", BACKUP_DATA_INDEX_NAME, "index_size",
                                          (json_int_t) d->index_size, "index_sha256", d->index_sha256, "files",
                                          (json_int_t) d->files, "dirs", (json_int_t) d->dirs, "bytes", (json_int_t) d->bytes)
                                : NULL;
        if (!m || !data || json_object_set_new(m, "data", data) < 0 || backup_manifest_sign(m, key) < 0) {
                json_decref(m);
                return NULL;
        }
        char *text = json_dumps(m, JSON_INDENT(2) | JSON_SORT_KEYS | JSON_ENSURE_ASCII);
        json_decref(m);
        return text;
}

bool backup_manifest_signed_by(json_t *m, const uint8_t key[static BACKUP_KEY_BYTES]) {
        const char *hex = json_string_value(json_object_get(m, "hmac"));
        uint8_t want[crypto_auth_hmacsha256_BYTES], got[crypto_auth_hmacsha256_BYTES];
        size_t n = 0;
        if (!hex || strlen(hex) != sizeof want * 2 ||
            sodium_hex2bin(want, sizeof want, hex, strlen(hex), NULL, &n, NULL) != 0 || n != sizeof want)
                return false;
        if (manifest_mac(m, key, got) < 0)
                return false;
        return crypto_verify_32(want, got) == 0;
}

static bool sha_hex_ok(const char *s) {
        if (!s || strlen(s) != BACKUP_SHA_HEX - 1)
                return false;
        for (; *s; s++)
                if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
                        return false;
        return true;
}

/* Strict even though signed: a leaked key must still not let an archive write outside the staging dir. */
/* The "data" object of a format-2 manifest: every count within its cap and consistent with the others. */
static bool data_info_parse(json_t *d, BackupDataInfo *ret) {
        json_t *isize = json_object_get(d, "index_size"), *files = json_object_get(d, "files");
        json_t *dirs = json_object_get(d, "dirs"), *bytes = json_object_get(d, "bytes");
        const char *sha = json_string_value(json_object_get(d, "index_sha256"));
        if (!json_is_object(d) || json_object_size(d) != 6 ||
            !streq_ptr(json_string_value(json_object_get(d, "index")), BACKUP_DATA_INDEX_NAME) || !sha_hex_ok(sha))
                return false;
        json_t *nums[] = { isize, files, dirs, bytes };
        for (size_t i = 0; i < ELEMENTSOF(nums); i++)
                if (!json_is_integer(nums[i]) || json_integer_value(nums[i]) < 0)
                        return false;
        BackupDataInfo v = { .present = true,
                             .index_size = (uint64_t) json_integer_value(isize),
                             .files = (uint64_t) json_integer_value(files),
                             .dirs = (uint64_t) json_integer_value(dirs),
                             .bytes = (uint64_t) json_integer_value(bytes) };
        if (v.index_size > BACKUP_DATA_INDEX_MAX || v.files > BACKUP_DATA_ENTRIES_MAX ||
            v.dirs > BACKUP_DATA_ENTRIES_MAX - v.files || (v.files > 0 && v.dirs == 0) ||
            (v.files == 0 && v.bytes != 0) || (v.files > 0 && v.bytes / v.files > BACKUP_DATA_FILE_SIZE_MAX))
                return false;
        memcpy(v.index_sha256, sha, BACKUP_SHA_HEX);
        *ret = v;
        return true;
}

int backup_manifest_parse(const char *text, size_t len, const char *want_id, const uint8_t key[static BACKUP_KEY_BYTES],
                          BackupFileList *ret, BackupDataInfo *ret_data, PicError *err) {
        json_error_t jerr;
        json_t *m = len <= BACKUP_MANIFEST_MAX ? json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr) : NULL;
        BackupFileList files = { 0 };
        int r = 0;
        if (!json_is_object(m)) {
                r = pic_error(err, -EBADMSG, NULL, "the archive's manifest is not a JSON object");
                goto out;
        }
        if (!backup_manifest_signed_by(m, key)) {
                r = pic_error(err, -EBADMSG, NULL,
                              "the archive's manifest is not signed with this cell's backup key (altered, or made by "
                              "another cell)");
                goto out;
        }
        json_t *format = json_object_get(m, "format"), *arr = json_object_get(m, "files");
        if (!json_is_integer(format) || json_integer_value(format) < BACKUP_FORMAT_MIN ||
            json_integer_value(format) > BACKUP_FORMAT) {
                r = pic_error(err, -EBADMSG, NULL, "unsupported backup format");
                goto out;
        }
        BackupDataInfo data = { 0 };
        json_t *jdata = json_object_get(m, "data");
        if (json_integer_value(format) >= 2 ? !data_info_parse(jdata, &data) : jdata != NULL) {
                r = pic_error(err, -EBADMSG, NULL, "the archive's manifest has no valid data index");
                goto out;
        }
        if (!streq_ptr(json_string_value(json_object_get(m, "id")), want_id)) {
                r = pic_error(err, -EBADMSG, NULL, "the archive's manifest belongs to another backup id");
                goto out;
        }
        if (!json_is_array(arr) || json_array_size(arr) > BACKUP_FILES_MAX) {
                r = pic_error(err, -EBADMSG, NULL, "the archive's manifest has no valid file list");
                goto out;
        }
        uint64_t total = 0;
        size_t i;
        json_t *e;
        json_array_foreach(arr, i, e) {
                const char *path = json_string_value(json_object_get(e, "path"));
                json_t *size = json_object_get(e, "size"), *mode = json_object_get(e, "mode");
                const char *sha = json_string_value(json_object_get(e, "sha256"));
                if (!path || !backup_rel_path_is_valid(path) || backup_file_list_find(&files, path, NULL)) {
                        r = pic_error(err, -EBADMSG, NULL, "the manifest names a path that is not allowed: \"%.100s\"",
                                      path ? path : "");
                        goto out;
                }
                uint64_t max = streq(path, BACKUP_DB_NAME) ? BACKUP_DB_SIZE_MAX : BACKUP_FILE_SIZE_MAX;
                if (!json_is_integer(size) || json_integer_value(size) < 0 || (uint64_t) json_integer_value(size) > max ||
                    !json_is_integer(mode) || json_integer_value(mode) < 0 || json_integer_value(mode) > 0777 ||
                    !sha_hex_ok(sha)) {
                        r = pic_error(err, -EBADMSG, NULL, "the manifest entry of \"%s\" is invalid", path);
                        goto out;
                }
                total += (uint64_t) json_integer_value(size);
                if (total > BACKUP_TOTAL_SIZE_MAX) {
                        r = pic_error(err, -EBADMSG, NULL, "the archive is larger than a cell backup can be");
                        goto out;
                }
                BackupFile *f = backup_file_list_add(&files, path);
                if (!f) {
                        r = -ENOMEM;
                        goto out;
                }
                f->size = (uint64_t) json_integer_value(size);
                f->mode = backup_mode_mask(path, (mode_t) json_integer_value(mode));
                memcpy(f->sha256, sha, BACKUP_SHA_HEX);
        }
        if (!backup_file_list_find(&files, BACKUP_DB_NAME, NULL)) {
                r = pic_error(err, -EBADMSG, NULL, "the archive holds no database");
                goto out;
        }
        *ret = files;
        files = (BackupFileList) { 0 };
        *ret_data = data;
out:
        backup_file_list_done(&files);
        json_decref(m);
        return r;
}
