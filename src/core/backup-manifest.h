/* The signed manifest of a backup archive and the data index it vouches for: what an archive may name (paths,
 * sizes, modes), the canonical form and HMAC, building and parsing both. Pure (no I/O), so it is fuzzed:
 * fuzz/fuzz_backup_manifest.c. */
#pragma once
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "basic/error.h"

/* Format 2 adds the users' service data (STATE/data/); a format-1 archive restores an empty data/. */
#define BACKUP_FORMAT 2
#define BACKUP_FORMAT_MIN 1
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

/* The users' service data: STATE/data/<module>/... Its files and directories are listed in a separate entry,
 * data.index (one line each, in archive order), whose size and hash the signed manifest carries: the manifest
 * stays small whatever the file count, and a restore checks each data entry against its index line as it
 * streams by, so memory does not grow with the number of files. */
#define BACKUP_DATA_DIR "data"
#define BACKUP_DATA_INDEX_NAME "data.index"
#define BACKUP_DATA_ENTRIES_MAX (UINT64_C(16) << 20)   /* files + directories */
#define BACKUP_DATA_FILE_SIZE_MAX (UINT64_C(1) << 40)  /* 1 TiB: a disk image in someone's files */
#define BACKUP_DATA_INDEX_MAX (UINT64_C(8) << 30)      /* spooled to disk by a restore, never held whole */
#define BACKUP_DATA_PATH_MAX 4095                      /* "data/..." in bytes, as PATH_MAX allows */
#define BACKUP_DATA_DEPTH_MAX 64                       /* components below data/ */
#define BACKUP_NAME_MAX 255                            /* one component, as NAME_MAX */
/* d MODE UID GID PATH / f MODE UID GID SEC.NSEC SIZE SHA256 PATH, plus the newline. */
#define BACKUP_INDEX_LINE_MAX (BACKUP_DATA_PATH_MAX + 160)

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

/* One line of data.index: a directory (created by a restore even when empty: a Maildir needs cur/, new/ and
 * tmp/) or a regular file, with what a restore gives it back: mode, owner, modification time (Maildir keeps a
 * message's arrival time there) and content. Directories come before what they hold. */
typedef struct BackupDataEntry {
        bool is_dir;
        mode_t mode;
        uint32_t uid, gid;
        int64_t mtime_sec;
        uint32_t mtime_nsec;
        uint64_t size;
        char sha256[BACKUP_SHA_HEX];
        char path[BACKUP_DATA_PATH_MAX + 1]; /* "data" or "data/..." */
} BackupDataEntry;

/* What the manifest says of data.index. */
typedef struct BackupDataInfo {
        bool present;        /* false for a format-1 archive: no data at all */
        uint64_t index_size; /* bytes of data.index */
        char index_sha256[BACKUP_SHA_HEX];
        uint64_t files, dirs, bytes;
} BackupDataInfo;

/* What a data path may be: "data", or "data/" and components of 1-255 bytes that are not "." or "..", in valid
 * UTF-8 without control characters (C0, DEL, C1), at most BACKUP_DATA_DEPTH_MAX below data/. So every name a
 * user's client can sensibly give a file (spaces, quotes, ':', ',', '=', '#', any script, emoji) passes, and
 * nothing absolute, climbing out, splitting an index line or unprintable in a message does. */
bool backup_data_path_is_valid(const char *p);
/* Length of the UTF-8 sequence at s (at most n bytes) if it encodes a printable character, else 0. */
size_t backup_utf8_printable(const unsigned char *s, size_t n);
/* Why p is not valid (for the error naming the file), or NULL if it is. */
const char *backup_data_path_problem(const char *p);
/* The modes a restore writes below data/: as saved, but never setuid/setgid/sticky or world-writable. */
mode_t backup_data_mode_mask(mode_t mode);
/* Formats e as one index line with its newline into buf; the length, or -ENAMETOOLONG. */
int backup_data_line_format(const BackupDataEntry *e, char *buf, size_t size);
/* Parses one line (without its newline) strictly: every field in its canonical form, a valid path, a size
 * within BACKUP_DATA_FILE_SIZE_MAX, a mode within 0777. -EBADMSG otherwise. */
int backup_data_line_parse(const char *line, size_t len, BackupDataEntry *ret);

/* What a manifest may name: picd.db, or a file below keys/ or etc/ in plain relative components. */
bool backup_rel_path_is_valid(const char *p);
/* The only modes a restore writes: 0644 for a file below etc/ the manifest made readable by others; 0640 for one
 * (keys/ too) readable by its group alone, which a module shares with a daemon's group on purpose (a leaf key, or
 * caddy.json, for Caddy; restored as root's group until that module's setup gives the group back); else 0600,
 * and always 0600 for picd.db and a key readable by others. Never setuid/setgid/sticky, executable or
 * group/world-writable, whatever was signed. */
mode_t backup_mode_mask(const char *path, mode_t mode);

typedef struct BackupManifestInfo {
        const char *id;
        int64_t created;
        const char *cell_name;
        int schema_version;
        const BackupDataInfo *data;
} BackupManifestInfo;

/* The manifest text (pretty JSON with "hmac"), or NULL when out of memory. Caller frees. */
char *backup_manifest_build(const BackupManifestInfo *info, const BackupFileList *files,
                            const uint8_t key[static BACKUP_KEY_BYTES]);
/* Sets m's "hmac" to the HMAC of everything else in m under key. */
int backup_manifest_sign(json_t *m, const uint8_t key[static BACKUP_KEY_BYTES]);
/* Whether m (a parsed manifest) carries a valid HMAC under key. */
bool backup_manifest_signed_by(json_t *m, const uint8_t key[static BACKUP_KEY_BYTES]);
/* Signature first (a foreign or altered manifest is not looked at further), then every field as strictly as if
 * it were unsigned. On success *ret lists the files with masked modes (picd.db always among them) and
 * *ret_data what the manifest says of data.index; on failure -EBADMSG with err saying why, or -ENOMEM. */
int backup_manifest_parse(const char *text, size_t len, const char *want_id, const uint8_t key[static BACKUP_KEY_BYTES],
                          BackupFileList *ret, BackupDataInfo *ret_data, PicError *err);
