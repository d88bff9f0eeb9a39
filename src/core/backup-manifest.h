/* The signed manifest of a backup archive: what an archive may name (paths, sizes, modes), its canonical form
 * and HMAC, building and parsing it. Pure (no I/O), so it is fuzzed: fuzz/fuzz_backup_manifest.c. */
#pragma once
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "basic/error.h"

#define BACKUP_FORMAT 1
#define BACKUP_MANIFEST_NAME "manifest.json"
#define BACKUP_DB_NAME "picd.db"
#define BACKUP_KEY_REL "keys/backup.key"

/* Hard caps on what an archive may make us write, checked before the bytes are written. */
#define BACKUP_MANIFEST_MAX (1024 * 1024)
#define BACKUP_FILES_MAX 4096
#define BACKUP_FILE_SIZE_MAX (UINT64_C(64) << 20)
#define BACKUP_DB_SIZE_MAX (UINT64_C(4) << 30)
#define BACKUP_TOTAL_SIZE_MAX (UINT64_C(8) << 30)
#define BACKUP_REL_PATH_MAX 255
#define BACKUP_DEPTH_MAX 16

#define BACKUP_KEY_BYTES 32 /* crypto_auth_hmacsha256_KEYBYTES */
#define BACKUP_SHA_HEX 65   /* SHA-256 in lower-case hex, NUL-terminated */

typedef struct BackupFile {
        char *path; /* relative to the state dir, which is also the archive's root */
        uint64_t size;
        mode_t mode;
        char sha256[BACKUP_SHA_HEX];
} BackupFile;

/* Owns its paths; backup_file_list_done() frees them. */
typedef struct BackupFileList {
        BackupFile *v;
        size_t n;
} BackupFileList;

void backup_file_list_done(BackupFileList *l);
/* NULL when out of memory or beyond BACKUP_FILES_MAX. */
BackupFile *backup_file_list_add(BackupFileList *l, const char *path);
BackupFile *backup_file_list_find(const BackupFileList *l, const char *path, size_t *ret_idx);
void backup_file_list_sort(BackupFileList *l);

/* What a manifest may name: picd.db, or a file below keys/ or etc/ in plain relative components. */
bool backup_rel_path_is_valid(const char *p);
/* The only modes a restore writes: keys/ is always 0600; anything else 0644 if the manifest made it readable by
 * others, else 0600. Never setuid/setgid/sticky, executable or group/world-writable, whatever was signed. */
mode_t backup_mode_mask(const char *path, mode_t mode);

typedef struct BackupManifestInfo {
        const char *id;
        int64_t created;
        const char *cell_name;
        int schema_version;
} BackupManifestInfo;

/* The manifest text (pretty JSON with "hmac"), or NULL when out of memory. Caller frees. */
char *backup_manifest_build(const BackupManifestInfo *info, const BackupFileList *files,
                            const uint8_t key[static BACKUP_KEY_BYTES]);
/* Sets m's "hmac" to the HMAC of everything else in m under key. */
int backup_manifest_sign(json_t *m, const uint8_t key[static BACKUP_KEY_BYTES]);
/* Whether m (a parsed manifest) carries a valid HMAC under key. */
bool backup_manifest_signed_by(json_t *m, const uint8_t key[static BACKUP_KEY_BYTES]);
/* Signature first (a foreign or altered manifest is not looked at further), then every field as strictly as if
 * it were unsigned. On success *ret lists the files with masked modes (picd.db always among them); on failure
 * -EBADMSG with err saying why, or -ENOMEM. */
int backup_manifest_parse(const char *text, size_t len, const char *want_id, const uint8_t key[static BACKUP_KEY_BYTES],
                          BackupFileList *ret, PicError *err);
