/* The web UI's files on the API listener: which requests are the UI's (never /api/ or /health) and how a
 * file is answered (cache headers, precompressed variant, Content-Security-Policy). */
#pragma once
#include <microhttpd.h>
#include <stdbool.h>

/* True for a GET or HEAD outside /api/ and /health: the UI's, never an API route. */
bool http_static_claims(const char *method, const char *path);
/* Queues the file for path under root ("/" is index.html); 404 for anything else. root NULL: not installed. */
enum MHD_Result http_static_serve(struct MHD_Connection *conn, const char *root, const char *path);
