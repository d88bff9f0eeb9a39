/* Tests of the X.509 layer of the cell CA (src/crypto/ca.c): the root carries exactly the permitted subtrees
 * asked for, leaves carry their SANs and chain to the root (and not to another), the PEM forms round-trip with
 * the same fingerprint, and bad input (no names, no lifetime) is refused. Verification against the name
 * constraints themselves is proven with the openssl CLI in tests/integration/test_ca.py. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "basic/util.h"
#include "crypto/ca.h"

#define T0 1767225600 /* 2026-01-01T00:00:00Z */

static CaNames root_names(void) {
        CaNames n = { .dns = { "home.cell" }, .n_dns = 1 };
        n.ip[n.n_ip++] = (Cidr4) { 0xAC140000u, 24 }; /* 172.20.0.0/24 */
        n.ip[n.n_ip++] = (Cidr4) { 0x0A000000u, 24 }; /* 10.0.0.0/24 */
        return n;
}

static void test_root(void **state) {
        CaKey *k;
        CaCert *root;
        CaNames n = root_names();
        assert_int_equal(ca_key_generate(&k), 0);
        assert_int_equal(ca_root_create(k, "pic cell CA home.cell", &n, T0, 3600, &root), 0);
        char *s = NULL;
        assert_int_equal(ca_cert_names_string(root, &s), 0);
        assert_string_equal(s, "DNS:home.cell IP:172.20.0.0/24 IP:10.0.0.0/24");
        char *want = ca_names_string(&n);
        assert_string_equal(s, want); /* what the cell compares to decide on a re-issue */
        free(s);
        free(want);
        CaCertInfo info;
        assert_int_equal(ca_cert_info(root, &info), 0);
        assert_int_equal(info.not_before, T0);
        assert_int_equal(info.not_after, T0 + 3600);
        assert_int_equal(strlen(info.fingerprint), 95);
        assert_true(ca_key_matches(root, k));
        assert_true(ca_cert_issued_by(root, root));

        /* PEM round trip: same certificate, same key. */
        char *pem = NULL, *kpem = NULL;
        assert_int_equal(ca_cert_to_pem(root, &pem), 0);
        assert_int_equal(ca_key_to_pem(k, &kpem), 0);
        assert_non_null(strstr(pem, "-----BEGIN CERTIFICATE-----"));
        assert_non_null(strstr(kpem, "-----BEGIN PRIVATE KEY-----"));
        CaCert *again;
        CaKey *k2;
        assert_int_equal(ca_cert_from_pem(pem, strlen(pem), &again), 0);
        assert_int_equal(ca_key_from_pem(kpem, strlen(kpem), &k2), 0);
        CaCertInfo info2;
        assert_int_equal(ca_cert_info(again, &info2), 0);
        assert_string_equal(info.fingerprint, info2.fingerprint);
        assert_string_equal(info.serial, info2.serial);
        assert_true(ca_key_matches(again, k2));
        unsigned char *der;
        size_t len;
        assert_int_equal(ca_cert_to_der(root, &der, &len), 0);
        assert_true(len > 100 && der[0] == 0x30);
        free(der);
        CaCert *bad = NULL;
        assert_int_equal(ca_cert_from_pem("junk", 4, &bad), -EBADMSG);
        assert_null(bad);
        free(pem);
        free(kpem);
        ca_cert_free(again);
        ca_key_free(k2);
        ca_cert_free(root);
        ca_key_free(k);
}

static void test_leaf(void **state) {
        CaKey *rk, *rk2, *lk;
        CaCert *root, *other, *leaf;
        CaNames n = root_names();
        assert_int_equal(ca_key_generate(&rk), 0);
        assert_int_equal(ca_key_generate(&rk2), 0);
        assert_int_equal(ca_key_generate(&lk), 0);
        assert_int_equal(ca_root_create(rk, "root one", &n, T0, 86400, &root), 0);
        assert_int_equal(ca_root_create(rk2, "root two", &n, T0, 86400, &other), 0);
        CaNames ln = { .dns = { "api.home.cell", "home.cell" }, .n_dns = 2 };
        ln.ip[ln.n_ip++] = (Cidr4) { 0xAC140005u, 32 };
        assert_int_equal(ca_leaf_create(root, rk, lk, &ln, T0, 120, &leaf), 0);
        char *s = NULL;
        assert_int_equal(ca_cert_names_string(leaf, &s), 0);
        assert_string_equal(s, "DNS:api.home.cell DNS:home.cell IP:172.20.0.5/32");
        free(s);
        assert_true(ca_cert_issued_by(leaf, root));
        assert_false(ca_cert_issued_by(leaf, other));
        assert_true(ca_key_matches(leaf, lk));
        assert_false(ca_key_matches(leaf, rk));
        CaCertInfo a, b;
        assert_int_equal(ca_cert_info(leaf, &a), 0);
        assert_int_equal(a.not_after - a.not_before, 120);
        /* Serials are random: two leaves for the same names differ. */
        CaCert *leaf2;
        assert_int_equal(ca_leaf_create(root, rk, lk, &ln, T0, 120, &leaf2), 0);
        assert_int_equal(ca_cert_info(leaf2, &b), 0);
        assert_string_not_equal(a.serial, b.serial);

        /* Refused: a leaf without a DNS name, a root without any constraint, no lifetime. */
        CaCert *x = NULL;
        CaNames none = { 0 };
        assert_int_equal(ca_leaf_create(root, rk, lk, &none, T0, 120, &x), -EINVAL);
        assert_int_equal(ca_root_create(rk, "r", &none, T0, 120, &x), -EINVAL);
        assert_int_equal(ca_leaf_create(root, rk, lk, &ln, T0, 0, &x), -EINVAL);
        assert_null(x);
        ca_cert_free(leaf);
        ca_cert_free(leaf2);
        ca_cert_free(root);
        ca_cert_free(other);
        ca_key_free(rk);
        ca_key_free(rk2);
        ca_key_free(lk);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_root),
                cmocka_unit_test(test_leaf),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
