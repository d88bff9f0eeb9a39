/* Tests of the firewall renderers (src/services/firewall/render.c): the full table against golden files, the
 * per-peer edits for each kind of change, and a random walk of changes whose edits, replayed on a model of
 * the three sets, always equal the elements of the full render — so deleting everything returns to empty. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>

#include "basic/util.h"
#include "services/firewall/render.h"
#include "cell-registry.h"
#include "golden.h"

static FwConfig config(void) {
        FwConfig c = {
                .ifname = "picwg-0123abcd",
                .vpn = { .addr = 0x0a000001, .prefix = 24 },         /* 10.0.0.1/24 */
                .dns_vip = 0xac140002, .ntp_vip = 0xac140004,          /* 172.20.0.2, .4 */
                .dns_port = 53, .ntp_port = 123, .dns_view_base = 5300,
                .api_vip = 0xac140005, .http_port = 80, .https_port = 443, /* 172.20.0.5 */
                .backend_ports = { 5232 }, .n_backend_ports = 1, .proxy_uid = 995, /* Radicale's; Caddy's user */
        };
        /* The grants the real modules declare, at their addresses in 172.20.0.0/24. */
        const Registry *reg = cell_registry();
        Cidr4 range = { .addr = 0xac140000, .prefix = 24 };
        c.grant_mask = registry_grant_mask(reg);
        c.dns_views = registry_dns_views(reg);
        for (unsigned g = 0; g < REGISTRY_GRANTS_MAX; g++)
                if (reg->grants[g])
                        assert_int_equal(registry_vip_of(reg->grants[g], &range, &c.grant_vip[g]), 0);
        return c;
}

#define G(g) (1u << (g))
#define GRANT(name) G(registry_grant_from_string(cell_registry(), name))
#define GRANT_ALL registry_grant_mask(cell_registry())

static void test_empty_table(void **state) {
        FwConfig cfg = config();
        char *s = NULL;
        assert_int_equal(fw_render_table(&cfg, NULL, 0, &s), 0);
        assert_int_equal(golden_check("firewall-empty.nft", s), 0);
        free(s);
}

/* Only root and the proxy's user connect to a backend that trusts the proxy's user header; no such backend, no
 * output chain; a proxy run as root leaves root alone. */
static void test_backends_are_the_proxys_alone(void **state) {
        FwConfig cfg = config();
        char *s = NULL;
        assert_int_equal(fw_render_table(&cfg, NULL, 0, &s), 0);
        assert_non_null(strstr(s, "\t\tip daddr 127.0.0.1 tcp dport { 5232 } meta skuid != { 0, 995 } reject with tcp reset\n"));
        free(s);
        cfg.backend_ports[1] = 8080;
        cfg.n_backend_ports = 2;
        cfg.proxy_uid = 0;
        assert_int_equal(fw_render_table(&cfg, NULL, 0, &s), 0);
        assert_non_null(strstr(s, "tcp dport { 5232, 8080 } meta skuid != 0 reject with tcp reset\n"));
        free(s);
        cfg.n_backend_ports = 0;
        assert_int_equal(fw_render_table(&cfg, NULL, 0, &s), 0);
        assert_null(strstr(s, "chain output"));
        assert_null(strstr(s, "skuid"));
        free(s);
}

static void test_table_with_peers(void **state) {
        FwConfig cfg = config();
        FwPeer peers[] = {
                { .ip = 0x0a000002, .access = GRANT("calendar") | GRANT("files"), .enabled = true },
                { .ip = 0x0a000003, .access = GRANT("mail"), .enabled = false },         /* disabled: nothing */
                { .ip = 0x0a000004, .access = 0, .enabled = true, .route_all = true },  /* DNS/NTP + NAT only */
                { .ip = 0x0a000005, .access = GRANT_ALL, .enabled = true },
        };
        char *s = NULL;
        assert_int_equal(fw_render_table(&cfg, peers, ELEMENTSOF(peers), &s), 0);
        assert_int_equal(golden_check("firewall-peers.nft", s), 0);
        assert_null(strstr(s, "10.0.0.3"));
        free(s);
        assert_true(fw_needs_forwarding(peers, ELEMENTSOF(peers)));
        assert_false(fw_needs_forwarding(peers, 2));
}

static char *change(const FwPeer *old, const FwPeer *new) {
        FwConfig cfg = config();
        char *s = NULL;
        assert_int_equal(fw_render_peer_change(&cfg, old, new, &s), 0);
        return s;
}

static void test_create_and_delete_are_mirrors(void **state) {
        FwPeer p = { .ip = 0x0a000002, .access = GRANT("calendar") | GRANT("webdav"), .enabled = true, .route_all = true };
        char *add = change(NULL, &p), *del = change(&p, NULL);
        assert_string_equal(add, "add element inet pic peers { 10.0.0.2 }\n"
                                 "add element inet pic route_all { 10.0.0.2 }\n"
                                 "add element inet pic grants { 10.0.0.2 . 172.20.0.10 : accept, "
                                 "10.0.0.2 . 172.20.0.13 : accept }\n");
        assert_string_equal(del, "delete element inet pic grants { 10.0.0.2 . 172.20.0.10, 10.0.0.2 . 172.20.0.13 }\n"
                                 "delete element inet pic peers { 10.0.0.2 }\n"
                                 "delete element inet pic route_all { 10.0.0.2 }\n");
        free(add);
        free(del);
}

static void test_changes_touch_only_what_differs(void **state) {
        FwPeer a = { .ip = 0x0a000002, .access = GRANT("calendar") | GRANT("files"), .enabled = true };
        FwPeer b = a;
        /* Nothing the firewall knows about changed (a description, a key): no command at all. */
        assert_null(change(&a, &b));
        /* A disabled peer, created or deleted: nothing either. */
        b.enabled = false;
        assert_null(change(NULL, &b));
        assert_null(change(&b, NULL));

        char *s = change(&a, &b);
        assert_string_equal(s, "delete element inet pic grants { 10.0.0.2 . 172.20.0.10, 10.0.0.2 . 172.20.0.11 }\n"
                               "delete element inet pic peers { 10.0.0.2 }\n");
        free(s);

        b = a;
        b.access = GRANT("files") | GRANT("mail");
        s = change(&a, &b);
        assert_string_equal(s, "delete element inet pic grants { 10.0.0.2 . 172.20.0.10 }\n"
                               "add element inet pic grants { 10.0.0.2 . 172.20.0.12 : accept }\n");
        free(s);

        b = a;
        b.route_all = true;
        s = change(&a, &b);
        assert_string_equal(s, "add element inet pic route_all { 10.0.0.2 }\n");
        free(s);

        b = a;
        b.ip = 0x0a000009;
        s = change(&a, &b);
        assert_string_equal(s, "delete element inet pic grants { 10.0.0.2 . 172.20.0.10, 10.0.0.2 . 172.20.0.11 }\n"
                               "delete element inet pic peers { 10.0.0.2 }\n"
                               "add element inet pic peers { 10.0.0.9 }\n"
                               "add element inet pic grants { 10.0.0.9 . 172.20.0.10 : accept, "
                               "10.0.0.9 . 172.20.0.11 : accept }\n");
        free(s);
}

/* ---- model: the three sets as a list of "set|element" strings ---------------------------------------------- */

#define MODEL_MAX 4096

typedef struct Model {
        char *v[MODEL_MAX];
        size_t n;
} Model;

static ssize_t model_find(Model *m, const char *e) {
        for (size_t i = 0; i < m->n; i++)
                if (streq(m->v[i], e))
                        return (ssize_t) i;
        return -1;
}

/* Applies one edit script the way nft would, failing the test on a double add or a missing delete (nft
 * refuses the latter, and a double add would hide a leak). */
static void model_apply(Model *m, const char *script) {
        char *copy = strdup(script), *save = NULL;
        for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                char verb[16], set[32];
                int off = 0;
                assert_int_equal(sscanf(line, "%15s element inet pic %31s { %n", verb, set, &off), 2);
                assert_true(off > 0);
                char *body = line + off, *end = strrchr(body, '}');
                assert_non_null(end);
                *end = '\0';
                char *save2 = NULL;
                for (char *e = strtok_r(body, ",", &save2); e; e = strtok_r(NULL, ",", &save2)) {
                        while (*e == ' ')
                                e++;
                        char *colon = strstr(e, " : ");
                        if (colon)
                                *colon = '\0';
                        size_t len = strlen(e);
                        while (len > 0 && e[len - 1] == ' ')
                                e[--len] = '\0';
                        char key[96];
                        snprintf(key, sizeof key, "%s|%s", set, e);
                        ssize_t at = model_find(m, key);
                        if (streq(verb, "add")) {
                                assert_true(at < 0);
                                assert_true(m->n < MODEL_MAX);
                                m->v[m->n++] = strdup(key);
                        } else {
                                assert_string_equal(verb, "delete");
                                assert_true(at >= 0);
                                free(m->v[at]);
                                m->v[at] = m->v[--m->n];
                        }
                }
        }
        free(copy);
}

/* The model holds exactly the elements of the current peers, computed independently of render.c. */
static void assert_model_is(Model *m, const FwPeer *peers, const bool *exists, size_t n) {
        FwConfig cfg = config();
        size_t count = 0;
        for (size_t i = 0; i < n; i++) {
                if (!exists[i] || !peers[i].enabled)
                        continue;
                char ip[IPV4_STRLEN], vip[IPV4_STRLEN], key[96];
                ipv4_format(peers[i].ip, ip);
                snprintf(key, sizeof key, "peers|%s", ip);
                assert_true(model_find(m, key) >= 0);
                count++;
                if (peers[i].route_all) {
                        snprintf(key, sizeof key, "route_all|%s", ip);
                        assert_true(model_find(m, key) >= 0);
                        count++;
                }
                for (int g = 0; g < REGISTRY_GRANTS_MAX; g++)
                        if (peers[i].access & G(g)) {
                                snprintf(key, sizeof key, "grants|%s . %s", ip, ipv4_format(cfg.grant_vip[g], vip));
                                assert_true(model_find(m, key) >= 0);
                                count++;
                        }
        }
        assert_int_equal(m->n, count);
}

static void test_random_walk_returns_to_empty(void **state) {
        enum { SLOTS = 24, STEPS = 3000 };
        FwPeer peers[SLOTS] = { 0 };
        bool exists[SLOTS] = { false };
        Model m = { 0 };
        srand(12345);
        for (int step = 0; step < STEPS + SLOTS; step++) {
                int i = step < STEPS ? rand() % SLOTS : step - STEPS; /* the tail deletes every slot */
                FwPeer next = {
                        /* Slots own distinct addresses, sometimes moving within their own pair. */
                        .ip = 0x0a000100 + (uint32_t) i * 2 + (uint32_t) (rand() % 2),
                        .access = (uint32_t) rand() & GRANT_ALL,
                        .enabled = rand() % 4 != 0,
                        .route_all = rand() % 3 == 0,
                };
                bool remove = step >= STEPS || (exists[i] && rand() % 5 == 0);
                char *s = change(exists[i] ? &peers[i] : NULL, remove ? NULL : &next);
                if (s)
                        model_apply(&m, s);
                free(s);
                if (remove)
                        exists[i] = false;
                else {
                        peers[i] = next;
                        exists[i] = true;
                }
                assert_model_is(&m, peers, exists, SLOTS);
        }
        assert_int_equal(m.n, 0);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_empty_table),
                cmocka_unit_test(test_backends_are_the_proxys_alone),
                cmocka_unit_test(test_table_with_peers),
                cmocka_unit_test(test_create_and_delete_are_mirrors),
                cmocka_unit_test(test_changes_touch_only_what_differs),
                cmocka_unit_test(test_random_walk_returns_to_empty),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
