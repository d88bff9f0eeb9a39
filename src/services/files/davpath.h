/* Request paths as the files backend (lighttpd) will see them, for the checks picd makes before Caddy passes
 * a WebDAV request on: percent-decoding once, then "." / ".." / "//" removed as lighttpd does. Pure. */
#pragma once
#include <stdbool.h>
#include <stddef.h>

#define DAVPATH_MAX 4096

/* The decoded, normalized path of a request URI (query dropped): always starts with "/", keeps a trailing
 * "/", ".." never climbs above "/". -EINVAL for a bad escape, an encoded NUL or control character, or a path
 * that is not absolute; -ENAMETOOLONG past size. */
int davpath_normalize(const char *uri, char *ret, size_t size);
/* The path of a Destination header ("https://host[:port]/p" or "/p"), normalized the same way. With host
 * (the request's, port ignored) an absolute URL naming another host is -EXDEV. */
int davpath_destination(const char *dest, const char *host, char *ret, size_t size);
/* Whether path is prefix itself or below it ("/a/b" is under "/a", "/ab" is not). */
bool davpath_under(const char *path, const char *prefix);
/* A folder name a user may share: 1-8 segments of [A-Za-z0-9._ -] (1-64 each, not starting with "." or " ",
 * not "shared" as the first), separated by "/", no leading or trailing "/". Safe inside a lighttpd string. */
bool davpath_folder_is_valid(const char *folder);
/* Whether a request method only reads (GET, HEAD, OPTIONS, PROPFIND). */
bool davpath_method_reads(const char *method);
