/* pic-ca: the cell CA's X.509 work in a process of its own, so that picd never maps libcrypto (issue 7). picd runs it
 * with argv it validated (core/ca.c); it works on files and prints one JSON object of facts on stdout. */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "basic/fileio.h"
#include "basic/netaddr.h"
#include "basic/util.h"
#include "crypto/ca.h"

#define PEM_MAX (64 * 1024)

static int usage(void) {
        fprintf(stderr, "usage: pic-ca root KEY CERT CN NOT_BEFORE SECONDS NAME...\n"
                        "       pic-ca leaf ROOT_KEY ROOT_CERT DIR ENDPOINT NOT_BEFORE SECONDS NAME...\n"
                        "       pic-ca info CERT [KEY|- [ROOT_CERT]]\n"
                        "NAME is DNS:<name> or IP:<a.b.c.d/prefix>\n");
        return 2;
}

static int fail(const char *what, int r) {
        fprintf(stderr, "pic-ca: %s: %s\n", what, strerror(r < 0 ? -r : EIO));
        return 1;
}

static int parse_int(const char *s, int64_t *ret) {
        char *end;
        errno = 0;
        long long v = strtoll(s, &end, 10);
        if (errno || end == s || *end)
                return -EINVAL;
        *ret = v;
        return 0;
}

static int parse_names(char **args, int n, CaNames *ret) {
        CaNames names = { 0 };
        for (int i = 0; i < n; i++)
                if (strncmp(args[i], "DNS:", 4) == 0 && args[i][4] && names.n_dns < CA_NAMES_MAX)
                        names.dns[names.n_dns++] = args[i] + 4;
                else if (strncmp(args[i], "IP:", 3) == 0 && names.n_ip < CA_NAMES_MAX &&
                         cidr4_parse(args[i] + 3, true, &names.ip[names.n_ip]) >= 0)
                        names.n_ip++;
                else
                        return -EINVAL;
        *ret = names;
        return 0;
}

static int load_cert(const char *path, CaCert **ret) {
        _cleanup_free_ char *pem = NULL;
        size_t len;
        int r = read_file_full(path, PEM_MAX, &pem, &len);
        return r < 0 ? r : ca_cert_from_pem(pem, len, ret);
}

static int load_key(const char *path, CaKey **ret) {
        _cleanup_free_ char *pem = NULL;
        size_t len = 0;
        int r = read_file_full(path, PEM_MAX, &pem, &len);
        if (r >= 0)
                r = ca_key_from_pem(pem, len, ret);
        if (pem)
                explicit_bzero(pem, len);
        return r;
}

/* Writes key (key_mode) then certificate: a certificate on disk always has its key beside it. A root's key is
 * 0600; a leaf's 0640, for the group of the directory it lands in (core/ca.c makes that setgid root:caddy, so
 * Caddy, running as its own user, reads the leaves' keys and never the root's). */
static int write_pair(const char *kp, const char *cp, mode_t key_mode, CaKey *key, CaCert *cert) {
        _cleanup_free_ char *kpem = NULL, *cpem = NULL;
        PicError err = { 0 };
        int r = ca_key_to_pem(key, &kpem);
        if (r >= 0)
                r = ca_cert_to_pem(cert, &cpem);
        if (r >= 0)
                r = write_file_atomic(kp, kpem, strlen(kpem), key_mode, NULL, NULL, &err);
        if (kpem)
                explicit_bzero(kpem, strlen(kpem));
        if (r >= 0)
                r = write_file_atomic(cp, cpem, strlen(cpem), 0644, NULL, NULL, &err);
        return r;
}

static int print_info(CaCert *cert, json_t *extra) {
        CaCertInfo info;
        _cleanup_free_ char *names = NULL;
        int r = ca_cert_info(cert, &info);
        if (r >= 0)
                r = ca_cert_names_string(cert, &names);
        if (r < 0)
                return r;
        json_t *o = json_pack("{s:s, s:s, s:I, s:I, s:s}", "serial", info.serial, "fingerprint", info.fingerprint,
                              "not_before", (json_int_t) info.not_before, "not_after", (json_int_t) info.not_after,
                              "names", names);
        if (!o)
                return -ENOMEM;
        if (extra)
                json_object_update(o, extra);
        r = json_dumpf(o, stdout, JSON_COMPACT) < 0 ? -EIO : 0;
        json_decref(o);
        return r;
}

static int cmd_root(char **a, int n) {
        int64_t nb, life;
        CaNames names;
        if (n < 6 || parse_int(a[3], &nb) < 0 || parse_int(a[4], &life) < 0 || parse_names(a + 5, n - 5, &names) < 0)
                return usage();
        CaKey *key = NULL;
        CaCert *cert = NULL;
        int r = ca_key_generate(&key);
        if (r >= 0)
                r = ca_root_create(key, a[2], &names, nb, life, &cert);
        if (r >= 0)
                r = write_pair(a[0], a[1], 0600, key, cert);
        if (r >= 0)
                r = print_info(cert, NULL);
        ca_key_free(key);
        ca_cert_free(cert);
        return r < 0 ? fail("cannot create the root", r) : 0;
}

static int cmd_leaf(char **a, int n) {
        int64_t nb, life;
        CaNames names;
        if (n < 7 || parse_int(a[4], &nb) < 0 || parse_int(a[5], &life) < 0 || parse_names(a + 6, n - 6, &names) < 0)
                return usage();
        CaKey *root_key = NULL, *key = NULL;
        CaCert *root = NULL, *cert = NULL;
        CaCertInfo info;
        char kp[4096], cp[4096];
        int r = load_key(a[0], &root_key);
        if (r >= 0)
                r = load_cert(a[1], &root);
        if (r >= 0)
                r = ca_key_generate(&key);
        if (r >= 0)
                r = ca_leaf_create(root, root_key, key, &names, nb, life, &cert);
        if (r >= 0)
                r = ca_cert_info(cert, &info);
        /* The serial in the file names: a proxy that caches certificates by file name sees new files. */
        if (r >= 0 && ((size_t) snprintf(kp, sizeof kp, "%s/%s-%s.key", a[2], a[3], info.serial) >= sizeof kp ||
                       (size_t) snprintf(cp, sizeof cp, "%s/%s-%s.pem", a[2], a[3], info.serial) >= sizeof cp))
                r = -ENAMETOOLONG;
        if (r >= 0)
                r = write_pair(kp, cp, 0640, key, cert);
        if (r >= 0) {
                json_t *extra = json_pack("{s:s, s:s}", "cert", cp, "key", kp);
                r = extra ? print_info(cert, extra) : -ENOMEM;
                json_decref(extra);
        }
        ca_key_free(root_key);
        ca_key_free(key);
        ca_cert_free(root);
        ca_cert_free(cert);
        return r < 0 ? fail("cannot issue the certificate", r) : 0;
}

static int cmd_info(char **a, int n) {
        if (n < 1 || n > 3)
                return usage();
        CaCert *cert = NULL, *root = NULL;
        CaKey *key = NULL;
        int r = load_cert(a[0], &cert);
        if (r < 0)
                return fail(a[0], r);
        json_t *extra = json_object();
        if (n >= 2 && !streq(a[1], "-"))
                json_object_set_new(extra, "key_matches",
                                    json_boolean(load_key(a[1], &key) >= 0 && ca_key_matches(cert, key)));
        if (n >= 3)
                json_object_set_new(extra, "issued_by",
                                    json_boolean(load_cert(a[2], &root) >= 0 && ca_cert_issued_by(cert, root)));
        r = print_info(cert, extra);
        json_decref(extra);
        ca_key_free(key);
        ca_cert_free(cert);
        ca_cert_free(root);
        return r < 0 ? fail(a[0], r) : 0;
}

int main(int argc, char **argv) {
        if (argc < 2)
                return usage();
        if (streq(argv[1], "root"))
                return cmd_root(argv + 2, argc - 2);
        if (streq(argv[1], "leaf"))
                return cmd_leaf(argv + 2, argc - 2);
        if (streq(argv[1], "info"))
                return cmd_info(argv + 2, argc - 2);
        return usage();
}
