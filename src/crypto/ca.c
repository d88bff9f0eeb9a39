/* X.509 for the cell CA with OpenSSL 3: P-256 keys, the root with critical Name Constraints, leaves, and
 * their PEM/DER/fingerprint forms. Extensions are built from openssl.cnf-style strings (X509V3_EXT_nconf_nid),
 * the same grammar the tests' openssl CLI uses, so what the test checks is what this code writes. */
#include "crypto/ca.h"

#include <errno.h>
#include <stdarg.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "basic/strbuf.h"
#include "basic/util.h"

#define PKEY(k) ((EVP_PKEY *) (k))
#define X509P(c) ((X509 *) (c))

int ca_key_generate(CaKey **ret) {
        EVP_PKEY *k = EVP_EC_gen("P-256");
        if (!k)
                return -EIO;
        *ret = (CaKey *) k;
        return 0;
}

CaKey *ca_key_free(CaKey *k) {
        EVP_PKEY_free(PKEY(k));
        return NULL;
}

CaCert *ca_cert_free(CaCert *c) {
        X509_free(X509P(c));
        return NULL;
}

static int add_ext(X509 *x, X509V3_CTX *ctx, int nid, const char *value) {
        X509_EXTENSION *e = X509V3_EXT_nconf_nid(NULL, ctx, nid, value);
        if (!e)
                return -EINVAL;
        int ok = X509_add_ext(x, e, -1);
        X509_EXTENSION_free(e);
        return ok ? 0 : -EIO;
}

static int prefix_of_mask(uint32_t mask) {
        int p = 0;
        while (p < 32 && (mask & (0x80000000u >> p)))
                p++;
        return p;
}

/* "permitted;DNS:a,permitted;IP:10.0.0.0/255.255.255.0" or "DNS:a,IP:10.0.0.5" (prefix = "" for SANs). */
static char *names_conf(const CaNames *n, const char *prefix, bool with_mask) {
        StrBuf s = STRBUF_INIT;
        for (size_t i = 0; i < n->n_dns; i++)
                strbuf_printf(&s, "%s%sDNS:%s", s.len ? "," : "", prefix, n->dns[i]);
        for (size_t i = 0; i < n->n_ip; i++) {
                char ip[IPV4_STRLEN], mask[IPV4_STRLEN];
                ipv4_format(cidr4_network(&n->ip[i]), ip);
                if (with_mask)
                        strbuf_printf(&s, "%s%sIP:%s/%s", s.len ? "," : "", prefix, ip,
                                      ipv4_format(cidr4_mask(&n->ip[i]), mask));
                else
                        strbuf_printf(&s, "%s%sIP:%s", s.len ? "," : "", prefix, ip);
        }
        return strbuf_steal(&s);
}

static int random_serial(X509 *x) {
        BIGNUM *bn = BN_new();
        int r = -EIO;
        /* 159 random bits: positive and at most 20 bytes, as RFC 5280 asks. */
        if (bn && BN_rand(bn, 159, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) &&
            BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)))
                r = 0;
        BN_free(bn);
        return r;
}

static int cert_new(CaKey *subject_key, const char *cn, int64_t not_before, int64_t lifetime, X509 **ret) {
        if (lifetime <= 0 || !cn || !*cn)
                return -EINVAL;
        X509 *x = X509_new();
        if (!x)
                return -ENOMEM;
        X509_NAME *name = X509_get_subject_name(x);
        if (!X509_set_version(x, 2) || random_serial(x) < 0 ||
            !ASN1_TIME_set(X509_getm_notBefore(x), (time_t) not_before) ||
            !ASN1_TIME_set(X509_getm_notAfter(x), (time_t) (not_before + lifetime)) ||
            !X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *) cn, -1, -1, 0) ||
            !X509_set_pubkey(x, PKEY(subject_key))) {
                X509_free(x);
                return -EIO;
        }
        *ret = x;
        return 0;
}

int ca_root_create(CaKey *key, const char *common_name, const CaNames *permitted, int64_t not_before,
                   int64_t lifetime, CaCert **ret) {
        if (permitted->n_dns + permitted->n_ip == 0)
                return -EINVAL;
        X509 *x;
        int r = cert_new(key, common_name, not_before, lifetime, &x);
        if (r < 0)
                return r;
        X509_set_issuer_name(x, X509_get_subject_name(x));
        X509V3_CTX ctx;
        X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
        X509V3_set_ctx_nodb(&ctx);
        _cleanup_free_ char *nc = names_conf(permitted, "permitted;", true);
        _cleanup_free_ char *ncv = NULL;
        if (!nc || strdup_printf(&ncv, "critical,%s", nc) < 0)
                r = -ENOMEM;
        if (r >= 0)
                r = add_ext(x, &ctx, NID_basic_constraints, "critical,CA:TRUE,pathlen:0");
        if (r >= 0)
                r = add_ext(x, &ctx, NID_key_usage, "critical,keyCertSign,cRLSign");
        if (r >= 0)
                r = add_ext(x, &ctx, NID_subject_key_identifier, "hash");
        if (r >= 0)
                r = add_ext(x, &ctx, NID_name_constraints, ncv);
        if (r >= 0 && !X509_sign(x, PKEY(key), EVP_sha256()))
                r = -EIO;
        if (r < 0) {
                X509_free(x);
                return r;
        }
        *ret = (CaCert *) x;
        return 0;
}

int ca_leaf_create(CaCert *root, CaKey *root_key, CaKey *leaf_key, const CaNames *names, int64_t not_before,
                   int64_t lifetime, CaCert **ret) {
        if (names->n_dns == 0)
                return -EINVAL;
        X509 *x;
        int r = cert_new(leaf_key, names->dns[0], not_before, lifetime, &x);
        if (r < 0)
                return r;
        X509_set_issuer_name(x, X509_get_subject_name(X509P(root)));
        X509V3_CTX ctx;
        X509V3_set_ctx(&ctx, X509P(root), x, NULL, NULL, 0);
        X509V3_set_ctx_nodb(&ctx);
        _cleanup_free_ char *san = names_conf(names, "", false);
        if (!san)
                r = -ENOMEM;
        if (r >= 0)
                r = add_ext(x, &ctx, NID_basic_constraints, "critical,CA:FALSE");
        if (r >= 0)
                r = add_ext(x, &ctx, NID_key_usage, "critical,digitalSignature");
        if (r >= 0)
                r = add_ext(x, &ctx, NID_ext_key_usage, "serverAuth");
        if (r >= 0)
                r = add_ext(x, &ctx, NID_authority_key_identifier, "keyid:always");
        if (r >= 0)
                r = add_ext(x, &ctx, NID_subject_alt_name, san);
        if (r >= 0 && !X509_sign(x, PKEY(root_key), EVP_sha256()))
                r = -EIO;
        if (r < 0) {
                X509_free(x);
                return r;
        }
        *ret = (CaCert *) x;
        return 0;
}

static int bio_steal(BIO *b, char **ret) {
        char *data;
        long n = BIO_get_mem_data(b, &data);
        char *s = n >= 0 ? malloc((size_t) n + 1) : NULL;
        if (!s)
                return -ENOMEM;
        memcpy(s, data, (size_t) n);
        s[n] = '\0';
        *ret = s;
        return 0;
}

int ca_cert_to_pem(CaCert *c, char **ret) {
        BIO *b = BIO_new(BIO_s_mem());
        int r = b && PEM_write_bio_X509(b, X509P(c)) ? bio_steal(b, ret) : -EIO;
        BIO_free(b);
        return r;
}

int ca_key_to_pem(CaKey *k, char **ret) {
        BIO *b = BIO_new(BIO_s_mem());
        int r = b && PEM_write_bio_PrivateKey(b, PKEY(k), NULL, NULL, 0, NULL, NULL) ? bio_steal(b, ret) : -EIO;
        /* The mem BIO held the key: clear it before it goes back to the allocator. */
        if (b) {
                char *data;
                long n = BIO_get_mem_data(b, &data);
                if (n > 0)
                        OPENSSL_cleanse(data, (size_t) n);
        }
        BIO_free(b);
        return r;
}

int ca_cert_to_der(CaCert *c, unsigned char **ret, size_t *ret_len) {
        unsigned char *der = NULL;
        int n = i2d_X509(X509P(c), &der);
        if (n <= 0)
                return -EIO;
        unsigned char *copy = malloc((size_t) n);
        if (copy)
                memcpy(copy, der, (size_t) n);
        OPENSSL_free(der);
        if (!copy)
                return -ENOMEM;
        *ret = copy;
        *ret_len = (size_t) n;
        return 0;
}

int ca_cert_from_pem(const char *pem, size_t len, CaCert **ret) {
        BIO *b = BIO_new_mem_buf(pem, (int) len);
        X509 *x = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
        BIO_free(b);
        if (!x)
                return -EBADMSG;
        *ret = (CaCert *) x;
        return 0;
}

int ca_key_from_pem(const char *pem, size_t len, CaKey **ret) {
        BIO *b = BIO_new_mem_buf(pem, (int) len);
        EVP_PKEY *k = b ? PEM_read_bio_PrivateKey(b, NULL, NULL, NULL) : NULL;
        BIO_free(b);
        if (!k)
                return -EBADMSG;
        *ret = (CaKey *) k;
        return 0;
}

bool ca_cert_issued_by(CaCert *cert, CaCert *root) {
        EVP_PKEY *k = X509_get0_pubkey(X509P(root));
        return k && X509_verify(X509P(cert), k) == 1;
}

bool ca_key_matches(CaCert *c, CaKey *k) {
        return X509_check_private_key(X509P(c), PKEY(k)) == 1;
}

static int64_t asn1_time_unix(const ASN1_TIME *t) {
        struct tm tm;
        if (!ASN1_TIME_to_tm(t, &tm))
                return -1;
        return (int64_t) timegm(&tm);
}

int ca_cert_info(CaCert *c, CaCertInfo *ret) {
        CaCertInfo info = { 0 };
        BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(X509P(c)), NULL);
        char *hex = bn ? BN_bn2hex(bn) : NULL;
        BN_free(bn);
        if (!hex)
                return -ENOMEM;
        snprintf(info.serial, sizeof info.serial, "%s", hex);
        OPENSSL_free(hex);
        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned n = 0;
        if (!X509_digest(X509P(c), EVP_sha256(), md, &n) || n != 32)
                return -EIO;
        for (unsigned i = 0; i < n; i++)
                snprintf(info.fingerprint + i * 3, sizeof info.fingerprint - i * 3, "%02X%s", md[i], i + 1 < n ? ":" : "");
        info.not_before = asn1_time_unix(X509_get0_notBefore(X509P(c)));
        info.not_after = asn1_time_unix(X509_get0_notAfter(X509P(c)));
        if (info.not_before < 0 || info.not_after < 0)
                return -EBADMSG;
        *ret = info;
        return 0;
}

static void general_name_append(StrBuf *dns, StrBuf *ip, const GENERAL_NAME *g) {
        if (g->type == GEN_DNS) {
                const ASN1_STRING *s = g->d.dNSName;
                strbuf_printf(dns, "%sDNS:%.*s", dns->len ? " " : "", ASN1_STRING_length(s),
                              (const char *) ASN1_STRING_get0_data(s));
        } else if (g->type == GEN_IPADD) {
                const unsigned char *p = ASN1_STRING_get0_data(g->d.iPAddress);
                int len = ASN1_STRING_length(g->d.iPAddress);
                if (len != 4 && len != 8)
                        return;
                uint32_t a = (uint32_t) p[0] << 24 | (uint32_t) p[1] << 16 | (uint32_t) p[2] << 8 | p[3];
                int prefix = 32;
                if (len == 8)
                        prefix = prefix_of_mask((uint32_t) p[4] << 24 | (uint32_t) p[5] << 16 |
                                                (uint32_t) p[6] << 8 | p[7]);
                char buf[IPV4_STRLEN];
                strbuf_printf(ip, "%sIP:%s/%d", ip->len ? " " : "", ipv4_format(a, buf), prefix);
        }
}

int ca_cert_names_string(CaCert *c, char **ret) {
        StrBuf dns = STRBUF_INIT, ip = STRBUF_INIT;
        NAME_CONSTRAINTS *nc = X509_get_ext_d2i(X509P(c), NID_name_constraints, NULL, NULL);
        if (nc) {
                for (int i = 0; i < sk_GENERAL_SUBTREE_num(nc->permittedSubtrees); i++)
                        general_name_append(&dns, &ip, sk_GENERAL_SUBTREE_value(nc->permittedSubtrees, i)->base);
                NAME_CONSTRAINTS_free(nc);
        } else {
                GENERAL_NAMES *san = X509_get_ext_d2i(X509P(c), NID_subject_alt_name, NULL, NULL);
                for (int i = 0; san && i < sk_GENERAL_NAME_num(san); i++)
                        general_name_append(&dns, &ip, sk_GENERAL_NAME_value(san, i));
                GENERAL_NAMES_free(san);
        }
        if (dns.len && ip.len)
                strbuf_puts(&dns, " ");
        strbuf_puts(&dns, ip.len ? ip.data : "");
        strbuf_done(&ip);
        char *s = strbuf_steal(&dns);
        if (!s)
                return -ENOMEM;
        *ret = s;
        return 0;
}
