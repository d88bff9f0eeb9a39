/* Decoding and normalizing WebDAV request paths the way lighttpd does (see davpath.h), so that what picd
 * checks is what the backend then serves; and the grammar of a shared folder's name. */
#include "services/files/davpath.h"

#include <errno.h>
#include <string.h>
#include <strings.h>

#include "basic/util.h"

static int hexval(char c) {
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        if (c >= 'A' && c <= 'F')
                return c - 'A' + 10;
        return -1;
}

int davpath_normalize(const char *uri, char *ret, size_t size) {
        size_t len = strcspn(uri, "?#");
        if (len == 0 || uri[0] != '/')
                return -EINVAL;
        if (len >= DAVPATH_MAX || size < 2)
                return -ENAMETOOLONG;
        char dec[DAVPATH_MAX];
        size_t n = 0;
        for (size_t i = 0; i < len; i++) {
                unsigned char ch = (unsigned char) uri[i];
                if (ch == '%') {
                        int hi = i + 2 < len ? hexval(uri[i + 1]) : -1, lo = i + 2 < len ? hexval(uri[i + 2]) : -1;
                        if (hi < 0 || lo < 0)
                                return -EINVAL;
                        ch = (unsigned char) (hi * 16 + lo);
                        i += 2;
                }
                /* lighttpd refuses control characters in a path; picd never lets one through either. */
                if (ch < 0x20 || ch == 0x7f)
                        return -EINVAL;
                dec[n++] = (char) ch;
        }
        dec[n] = '\0';
        /* Segment by segment: "." dropped, ".." pops (never above the root), empty segments collapse. */
        size_t out = 0;
        ret[out++] = '/';
        const char *p = dec;
        while (*p) {
                while (*p == '/')
                        p++;
                if (!*p)
                        break;
                size_t seg = strcspn(p, "/");
                if (seg == 1 && p[0] == '.') {
                        /* nothing */
                } else if (seg == 2 && p[0] == '.' && p[1] == '.') {
                        if (out > 1) {
                                out--; /* the "/" after the last segment */
                                while (out > 1 && ret[out - 1] != '/')
                                        out--;
                        }
                } else {
                        if (out + seg + 1 >= size)
                                return -ENAMETOOLONG;
                        memcpy(ret + out, p, seg);
                        out += seg;
                        ret[out++] = '/';
                }
                p += seg;
        }
        /* A trailing "/" only where the request had one (or for the root). */
        bool slash = dec[n - 1] == '/' || (n >= 2 && dec[n - 1] == '.' && dec[n - 2] == '/') ||
                     (n >= 3 && streq(dec + n - 3, "/.."));
        if (out > 1 && !slash)
                out--;
        ret[out] = '\0';
        return 0;
}

static size_t host_len(const char *h) {
        return strcspn(h, ":/");
}

int davpath_destination(const char *dest, const char *host, char *ret, size_t size) {
        const char *p = dest;
        const char *scheme = strstr(dest, "://");
        if (scheme && scheme < dest + strcspn(dest, "/")) {
                const char *authority = scheme + 3;
                p = authority + strcspn(authority, "/");
                if (!*p)
                        return -EINVAL;
                if (host && (host_len(authority) != host_len(host) || strncasecmp(authority, host, host_len(host)) != 0))
                        return -EXDEV;
        }
        return davpath_normalize(p, ret, size);
}

bool davpath_under(const char *path, const char *prefix) {
        size_t n = strlen(prefix);
        while (n > 1 && prefix[n - 1] == '/')
                n--;
        return strncmp(path, prefix, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

bool davpath_folder_is_valid(const char *folder) {
        size_t total = strlen(folder);
        if (total == 0 || total > 255)
                return false;
        unsigned segs = 0;
        const char *p = folder;
        while (*p) {
                size_t seg = strcspn(p, "/");
                if (seg == 0 || seg > 64 || ++segs > 8 || p[0] == '.' || p[0] == ' ' || p[seg - 1] == ' ')
                        return false;
                for (size_t i = 0; i < seg; i++) {
                        char ch = p[i];
                        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
                              ch == '.' || ch == '_' || ch == '-' || ch == ' '))
                                return false;
                }
                if (segs == 1 && seg == 6 && strncmp(p, "shared", 6) == 0)
                        return false;
                p += seg;
                if (*p == '/') {
                        p++;
                        if (!*p)
                                return false;
                }
        }
        return true;
}

bool davpath_method_reads(const char *method) {
        return streq(method, "GET") || streq(method, "HEAD") || streq(method, "OPTIONS") || streq(method, "PROPFIND");
}
