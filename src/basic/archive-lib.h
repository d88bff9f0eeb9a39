/* libarchive, loaded with dlopen() the first time a backup or restore needs it: picd's steady state then
 * does not carry it and the ~2 MiB of libraries it pulls in (libxml2, ICU, libstdc++, compressors). */
#pragma once
#include <archive.h>
#include <archive_entry.h>

#include "basic/error.h"

#define ARCHIVE_LIB_FUNCS(X)                                                                             \
        X(archive_error_string) X(archive_read_new) X(archive_read_free) X(archive_read_support_format_tar) \
        X(archive_read_support_filter_gzip) X(archive_read_open_fd) X(archive_read_next_header)           \
        X(archive_read_data) X(archive_write_new) X(archive_write_free) X(archive_write_data)              \
        X(archive_write_header) X(archive_write_close) X(archive_write_open_fd)                           \
        X(archive_write_set_format_pax_restricted) X(archive_write_add_filter_gzip) X(archive_entry_new)  \
        X(archive_entry_free) X(archive_entry_size) X(archive_entry_size_is_set) X(archive_entry_set_size) \
        X(archive_entry_pathname) X(archive_entry_set_pathname) X(archive_entry_symlink)                  \
        X(archive_entry_hardlink) X(archive_entry_filetype) X(archive_entry_set_filetype)                 \
        X(archive_entry_set_perm) X(archive_entry_set_mtime) X(archive_errno) X(archive_entry_pathname_utf8)  \
        X(archive_entry_set_pathname_utf8) X(archive_entry_set_uid) X(archive_entry_set_gid)              \
        X(archive_write_set_filter_option)

typedef struct ArchiveLib {
#define ARCHIVE_LIB_FIELD(f) __typeof__(&f) f;
        ARCHIVE_LIB_FUNCS(ARCHIVE_LIB_FIELD)
#undef ARCHIVE_LIB_FIELD
} ArchiveLib;

/* The loaded library (kept for the life of the process), or NULL with err filled (-EHOSTDOWN). */
const ArchiveLib *archive_lib(PicError *err);
