/* The web UI's built files (web/ → vite build) served on the API listener: GET/HEAD of any path outside /api/
 * and /health, hashed assets cached for a year, index.html revalidated, .gz variants by Accept-Encoding, strict CSP. */
#include "http/static.h"

#include <fcntl.h>
#include <microhttpd.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "basic/util.h"

/* Only the UI's own origin: no inline script or style, no third-party host, no framing. img-src allows data:
 * and blob: for the QR code picture the UI loads; connect-src 'self' is the REST API. */
#define CSP                                                                                                          \
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; connect-src 'self'; " \
        "font-src 'self'; manifest-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

bool http_static_claims(const char *method, const char *path) {
        if (!streq(method, "GET") && !streq(method, "HEAD"))
                return false;
        if (streq(path, "/health") || startswith(path, "/api/") || streq(path, "/api"))
                return false;
        return true;
}

static const char *content_type_of(const char *name) {
        static const struct {
                const char *ext, *type;
        } types[] = {
                { ".html", "text/html; charset=utf-8" }, { ".js", "text/javascript; charset=utf-8" },
                { ".css", "text/css; charset=utf-8" },   { ".svg", "image/svg+xml" },
                { ".png", "image/png" },                 { ".ico", "image/x-icon" },
                { ".json", "application/json" },         { ".txt", "text/plain; charset=utf-8" },
                { ".woff2", "font/woff2" },              { ".webmanifest", "application/manifest+json" },
        };
        const char *dot = strrchr(name, '.');
        for (size_t i = 0; dot && i < ELEMENTSOF(types); i++)
                if (streq(dot, types[i].ext))
                        return types[i].type;
        return "application/octet-stream";
}

/* A request path names a file only if every segment is plain: letters, digits, '.', '-', '_', no segment
 * starting with '.', so "..", dotfiles and encoded tricks never reach openat(). */
static bool path_is_plain(const char *p) {
        if (*p != '/')
                return false;
        for (const char *s = p; *s; s++) {
                if (*s == '/') {
                        if (s[1] == '.' || s[1] == '/')
                                return false;
                        continue;
                }
                if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') || *s == '.' ||
                      *s == '-' || *s == '_'))
                        return false;
        }
        return strlen(p) < 256;
}

static bool accepts_gzip(const char *ae) {
        /* "gzip" listed and not refused with q=0 (browsers never send that; curl without --compressed sends none). */
        const char *g = ae ? strstr(ae, "gzip") : NULL;
        if (!g)
                return false;
        const char *q = g + 4;
        q += strspn(q, " \t");
        return !(startswith(q, ";q=0") && !startswith(q, ";q=0."));
}

static int open_regular(int dirfd, const char *rel, struct stat *st) {
        int fd = openat(dirfd, rel, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0)
                return -1;
        if (fstat(fd, st) < 0 || !S_ISREG(st->st_mode)) {
                close(fd);
                return -1;
        }
        return fd;
}

static enum MHD_Result send_text(struct MHD_Connection *conn, unsigned status, const char *text) {
        struct MHD_Response *r = MHD_create_response_from_buffer(strlen(text), (void *) text, MHD_RESPMEM_PERSISTENT);
        if (!r)
                return MHD_NO;
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain; charset=utf-8");
        MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
        MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
        MHD_add_response_header(r, "Content-Security-Policy", CSP);
        enum MHD_Result ret = MHD_queue_response(conn, status, r);
        MHD_destroy_response(r);
        return ret;
}

enum MHD_Result http_static_serve(struct MHD_Connection *conn, const char *root, const char *path) {
        if (!root)
                return send_text(conn, MHD_HTTP_NOT_FOUND, "the web UI is not installed (build it: make build)\n");
        /* Hash routing (#/peers) keeps every page at "/": the server never guesses which unknown path is a page. */
        const char *file = streq(path, "/") ? "/index.html" : path;
        if (!path_is_plain(file))
                return send_text(conn, MHD_HTTP_NOT_FOUND, "not found\n");
        int dirfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dirfd < 0)
                return send_text(conn, MHD_HTTP_NOT_FOUND, "the web UI is not installed (build it: make build)\n");
        const char *rel = file + 1;
        char gz[300];
        struct stat st;
        int fd = -1;
        bool gzip = false;
        if (accepts_gzip(MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_ACCEPT_ENCODING))) {
                snprintf(gz, sizeof gz, "%s.gz", rel);
                fd = open_regular(dirfd, gz, &st);
                gzip = fd >= 0;
        }
        if (fd < 0)
                fd = open_regular(dirfd, rel, &st);
        close(dirfd);
        if (fd < 0)
                return send_text(conn, MHD_HTTP_NOT_FOUND, "not found\n");
        struct MHD_Response *r = MHD_create_response_from_fd((uint64_t) st.st_size, fd);
        if (!r) {
                close(fd);
                return MHD_NO;
        }
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, content_type_of(rel));
        /* Vite puts a content hash in every name under assets/: such a file never changes, so a year is safe.
         * index.html names the current hashes and must be revalidated on every load. */
        MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL,
                                startswith(rel, "assets/") ? "public, max-age=31536000, immutable" : "no-cache");
        if (gzip)
                MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_ENCODING, "gzip");
        MHD_add_response_header(r, MHD_HTTP_HEADER_VARY, "Accept-Encoding");
        MHD_add_response_header(r, "Content-Security-Policy", CSP);
        MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
        MHD_add_response_header(r, "X-Frame-Options", "DENY");
        MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
        MHD_add_response_header(r, "Cross-Origin-Opener-Policy", "same-origin");
        MHD_add_response_header(r, "Cross-Origin-Resource-Policy", "same-origin");
        enum MHD_Result ret = MHD_queue_response(conn, MHD_HTTP_OK, r);
        MHD_destroy_response(r);
        return ret;
}
