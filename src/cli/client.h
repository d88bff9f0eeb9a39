/* A minimal HTTP/1.1 client over an AF_UNIX stream socket, just enough to talk to picd: one request per
 * connection, hard caps on every part of the reply and one deadline for the whole exchange. */
#pragma once
#include <stddef.h>

#include "basic/error.h"

#define CLIENT_HEAD_MAX ((size_t) 16 << 10) /* status line + headers */
#define CLIENT_BODY_MAX ((size_t) 16 << 20)

typedef struct ClientReply {
        int status;       /* HTTP status code */
        char *body;       /* NUL-terminated; owned, wiped and freed by client_reply_done() */
        size_t body_len;
} ClientReply;

/* Sends one request (body may be NULL) and reads the whole reply within timeout_ms. On failure returns a
 * negative errno and fills err with a sentence for a person: -ENOENT/-ECONNREFUSED (picd not there),
 * -EACCES (socket not ours to use), -ETIMEDOUT, -EPROTO (reply not HTTP or truncated), -E2BIG (reply over
 * the caps). ret is written only on success. */
int client_request(const char *socket_path, const char *method, const char *path, const char *body, int timeout_ms,
                   ClientReply *ret, PicError *err);
/* Wipes (replies may carry a new token) and frees the body; accepts a zeroed reply. */
void client_reply_done(ClientReply *r);
/* Writes s into buf as one URL path segment: everything but RFC 3986 unreserved characters is
 * percent-encoded, so an id can never add a '/' or '?' to the path. -ENAMETOOLONG if it does not fit. */
int client_path_escape(char *buf, size_t size, const char *s);
