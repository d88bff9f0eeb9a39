/* The cell CA as the cell runs it: the name-constrained root and one leaf per named service endpoint, kept in
 * STATE/keys/ca/ (so backups carry them), re-issued when the names they must carry change and renewed at two
 * thirds of their life by a loop timer. A module like the others ("ca"), so settings changes reach it. */
#pragma once
#include <jansson.h>

#include "core/cell.h"
#include "crypto/ca.h"

#define CA_SERVICE "ca"
/* The public path the root is served at over plain HTTP on the API virtual IP (the proxy module serves it). */
#define CA_ROOT_URL_PATH "/ca.pem"

extern const ServiceOps cell_ca_ops;

/* The current leaf of a service endpoint (borrowed paths, valid until the next renewal); -ENOENT without one
 * (the endpoint has no virtual IP or DNS name, or the CA is not set up). */
int cell_ca_leaf(Cell *c, const char *endpoint, const char **ret_cert_path, const char **ret_key_path,
                 CaCertInfo *ret_info);
/* The root's PEM text and DER (borrowed, kept from when it was adopted: serving them runs no helper) and facts;
 * -ENOENT before setup. */
int cell_ca_root(Cell *c, const char **ret_pem, const unsigned char **ret_der, size_t *ret_der_len,
                 CaCertInfo *ret_info);
/* GET /api/ca's body: fingerprint, serial, validity, name constraints, where to download it, the leaves. */
int cell_ca_json(Cell *c, json_t **ret, PicError *err);
/* "http://<api vip>/ca.pem": where a peer fetches the root over the tunnel (caller frees); NULL on error. */
char *cell_ca_root_url(Cell *c);
