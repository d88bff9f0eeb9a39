/* A minimal FastCGI client (one GET, responder role, no keep-alive) for picd's probes of php-fpm: the request
 * encoder and response parser are pure and bounded; fastcgi_get() does the socket I/O with a deadline. */
#pragma once
#include <stddef.h>
#include <stdint.h>

#define FASTCGI_REPLY_MAX (256 * 1024)

/* The request stream for one GET: BEGIN_REQUEST, the params (names[i] = values[i]), an empty PARAMS and an
 * empty STDIN. -EINVAL if a name or value is longer than 65535 bytes, -ENOMEM. Caller frees *ret. */
int fastcgi_encode_get(const char *const *names, const char *const *values, size_t n, uint8_t **ret, size_t *ret_len);

/* Reads a response stream of request id 1. Returns 0 once END_REQUEST is seen, with the HTTP status
 * (the "Status:" header of the CGI output, else 200) and the body after the headers (caller frees);
 * -EAGAIN while more bytes are needed; -EBADMSG for a stream that is not FastCGI or a CGI reply without its
 * blank line; -EFBIG beyond FASTCGI_REPLY_MAX of output. */
int fastcgi_decode(const uint8_t *buf, size_t len, int *ret_status, char **ret_body);

/* GET script_name?query on php-fpm's unix socket, within timeout_usec. -ETIMEDOUT, -errno of the socket, or
 * fastcgi_decode's errors. */
int fastcgi_get(const char *socket_path, const char *script_name, const char *query, uint64_t timeout_usec,
                int *ret_status, char **ret_body);
