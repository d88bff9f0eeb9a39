/* X.509 for the cell CA with OpenSSL 3: ECDSA P-256 keys, the name-constrained root, leaf certificates, PEM/DER
 * forms and the facts shown to users (fingerprint, constraints, expiry). Pure: no files, no clock of its own. */
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "basic/netaddr.h"

typedef struct CaKey CaKey;   /* an EC P-256 private key */
typedef struct CaCert CaCert; /* one certificate */

#define CA_SERIAL_STRLEN 41          /* 20 bytes in hex */
#define CA_FINGERPRINT_STRLEN (32 * 3) /* "AB:CD:..." */
#define CA_NAMES_MAX 16

/* What a certificate may name: a root's permitted subtrees, or a leaf's subject alternative names. */
typedef struct CaNames {
        const char *dns[CA_NAMES_MAX];
        size_t n_dns;
        Cidr4 ip[CA_NAMES_MAX]; /* a leaf's IP SANs use prefix 32 */
        size_t n_ip;
} CaNames;

int ca_key_generate(CaKey **ret);
CaKey *ca_key_free(CaKey *k);
CaCert *ca_cert_free(CaCert *c);

/* A self-signed CA (CN = common_name) whose critical Name Constraints permit exactly `permitted`:
 * DNS subtrees and IP ranges. Valid from not_before (unix seconds) for lifetime seconds. */
int ca_root_create(CaKey *key, const char *common_name, const CaNames *permitted, int64_t not_before,
                   int64_t lifetime, CaCert **ret);
/* A TLS server certificate for `names` (CN = the first DNS name) signed by root/root_key. */
int ca_leaf_create(CaCert *root, CaKey *root_key, CaKey *leaf_key, const CaNames *names, int64_t not_before,
                   int64_t lifetime, CaCert **ret);

/* PEM text (NUL-terminated, caller frees). */
int ca_cert_to_pem(CaCert *c, char **ret);
int ca_key_to_pem(CaKey *k, char **ret);
int ca_cert_to_der(CaCert *c, unsigned char **ret, size_t *ret_len);
int ca_cert_from_pem(const char *pem, size_t len, CaCert **ret);
int ca_key_from_pem(const char *pem, size_t len, CaKey **ret);
/* Whether root's key signed cert. */
bool ca_cert_issued_by(CaCert *cert, CaCert *root);
/* Whether key is the private half of cert's public key. */
bool ca_key_matches(CaCert *c, CaKey *k);

typedef struct CaCertInfo {
        char serial[CA_SERIAL_STRLEN];
        char fingerprint[CA_FINGERPRINT_STRLEN]; /* SHA-256 of the DER, "AB:CD:..." as openssl prints it */
        int64_t not_before, not_after;           /* unix seconds */
} CaCertInfo;
int ca_cert_info(CaCert *c, CaCertInfo *ret);

/* Canonical one-line forms, to compare what a certificate says with what the cell wants:
 * "DNS:a.b IP:10.0.0.0/24" — a root's permitted subtrees, or a leaf's SANs (IPs as /32). */
int ca_cert_names_string(CaCert *c, char **ret);
char *ca_names_string(const CaNames *n);
