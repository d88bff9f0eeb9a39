/* "Adding a service = one folder + one table entry", shown: a module declared in one ops table below gets
 * its virtual IP, DNS name and view, grant (firewall and peer JSON), health and settings from the real code
 * paths, and a module that clashes with an existing one is refused whole. Also the registry's own rules. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>

#include "basic/fileio.h"
#include "basic/util.h"
#include "core/cell.h"
#include "core/dns-records.h"
#include "core/peers.h"
#include "core/service-info.h"
#include "services/dns/dns-render.h"
#include "services/firewall/render.h"
#include "services/services.h"

/* ---- the new module: everything about it is in this one table ---- */

static int photos_health = 0;

static int photos_probe(Cell *c, PicError *err) {
        return photos_health < 0 ? pic_error(err, photos_health, NULL, "photos does not answer on its port") : 0;
}

static const ServiceEndpoint photos_endpoints[] = {
        { .name = "photos", .vip_offset = 14, .dns_labels = (const char *const[]) { "photos", NULL }, .grantable = true,
          .grant_bit = 4 },
};

static const SettingDef photos_settings[] = {
        SETTING_PORT("photos.port", 8080, "HTTP port on the photos virtual IP"),
};

static const char *const photos_watches[] = { "cell_name", NULL };

static const ServiceOps photos_ops = {
        .name = "photos",
        .endpoints = photos_endpoints,
        .n_endpoints = ELEMENTSOF(photos_endpoints),
        .settings = photos_settings,
        .n_settings = ELEMENTSOF(photos_settings),
        .watches = photos_watches,
        .probe = photos_probe,
};

/* ---- a cell as picd builds it, plus the new module ---- */

typedef struct TestCell {
        char dir[64];
        Cell c;
} TestCell;

static int cell_up(void **state) {
        TestCell *t = calloc(1, sizeof *t);
        snprintf(t->dir, sizeof t->dir, "/tmp/pic-registry-XXXXXX");
        if (!t || !mkdtemp(t->dir))
                return -1;
        char db[128];
        snprintf(db, sizeof db, "%s/picd.db", t->dir);
        Cell *c = &t->c;
        c->netns_fd = -1;
        c->state_dir = strdup(t->dir);
        if (settings_new(&c->settings) < 0 || services_register_all(c) < 0 || cell_register_service(c, &photos_ops) < 0 ||
            store_open(db, &c->store) < 0 || settings_load(c->settings, c->store) < 0 || loop_new(&c->loop) < 0 ||
            supervisor_new(c->loop, -1, &c->supervisor) < 0 || cell_attach(c) < 0)
                return -1;
        *state = t;
        return 0;
}

static int cell_down(void **state) {
        TestCell *t = *state;
        supervisor_free(t->c.supervisor);
        loop_free(t->c.loop);
        settings_free(t->c.settings);
        store_free(t->c.store);
        free(t->c.state_dir);
        int r = rm_rf(t->dir);
        free(t);
        return r;
}

static Cidr4 range(Cell *c) {
        Cidr4 r;
        assert_int_equal(settings_ip_range(c->settings, &r), 0);
        return r;
}

/* The text of one unbound view, from its "name:" line to the next clause. */
static char *view_text(const char *conf, unsigned v) {
        char name[64];
        snprintf(name, sizeof name, "    name: \"grants-%u\"\n", v);
        const char *p = strstr(conf, name);
        assert_non_null(p);
        const char *end = strstr(p + 1, "\nview:");
        if (!end)
                end = strstr(p + 1, "\nremote-control:");
        assert_non_null(end);
        return strndup(p, (size_t) (end - p));
}

static void test_new_module_gets_vip_dns_and_view(void **state) {
        Cell *c = &((TestCell *) *state)->c;
        Cidr4 r = range(c);
        uint32_t ip;
        char a[IPV4_STRLEN];
        assert_int_equal(registry_vip(&c->registry, &r, "photos", &ip), 0);
        assert_string_equal(ipv4_format(ip, a), "172.20.0.14");
        assert_true(dns_name_is_builtin(&c->registry, "photos")); /* a custom record cannot take its name */

        DnsParams p = { .port = 53, .ip_range = r, .registry = &c->registry };
        assert_int_equal(dns_zone_from_settings(c->settings, p.zone), 0);
        assert_int_equal(settings_vpn_address(c->settings, &p.vpn), 0);
        snprintf(p.directory, sizeof p.directory, "%s", c->state_dir);
        snprintf(p.control_path, sizeof p.control_path, "%s/ctl.sock", c->state_dir);
        char *conf = NULL;
        assert_int_equal(dns_render_unbound(&p, &conf), 0);
        assert_non_null(strstr(conf, "local-data: \"photos.mycell.cell. 300 IN A 172.20.0.14\"\n"));
        assert_non_null(strstr(conf, "local-data: \"14.0.20.172.in-addr.arpa. 300 IN PTR photos.mycell.cell.\"\n"));
        /* A fifth grant bit doubles the views: 32 access sets, each with its port. */
        assert_int_equal(registry_dns_views(&c->registry), 32);
        assert_non_null(strstr(conf, "interface: 172.20.0.2@5331\n"));
        char *without = view_text(conf, 0), *with = view_text(conf, 1u << 4);
        assert_non_null(strstr(without, "local-zone: \"photos.mycell.cell.\" always_nxdomain"));
        assert_non_null(strstr(without, "local-zone: \"14.0.20.172.in-addr.arpa.\" always_nxdomain"));
        assert_null(strstr(with, "photos"));
        assert_non_null(strstr(with, "local-zone: \"calendar.mycell.cell.\" always_nxdomain"));
        free(without);
        free(with);
        free(conf);
}

static void test_new_module_is_a_grant(void **state) {
        Cell *c = &((TestCell *) *state)->c;
        const Registry *reg = &c->registry;
        assert_int_equal(registry_grant_from_string(reg, "photos"), 4);
        assert_int_equal(registry_grant_from_string(reg, "dns"), -EINVAL); /* not grantable */
        json_t *names = peer_access_to_json(reg, (1u << 4) | 1u);
        assert_int_equal(json_array_size(names), 2);
        assert_string_equal(json_string_value(json_array_get(names, 0)), "calendar");
        assert_string_equal(json_string_value(json_array_get(names, 1)), "photos");
        json_decref(names);
        char list[128];
        registry_grant_names(reg, list, sizeof list);
        assert_string_equal(list, "calendar, files, mail, webdav, photos");

        /* The firewall opens its address to a peer holding the grant, and only to that peer. */
        Cidr4 r = range(c);
        FwConfig cfg = { .ifname = "picwg-test", .vpn = { 0x0a000001, 24 }, .dns_port = 53, .ntp_port = 123,
                         .dns_view_base = 5300, .grant_mask = registry_grant_mask(reg), .dns_views = registry_dns_views(reg) };
        for (unsigned g = 0; g < REGISTRY_GRANTS_MAX; g++)
                if (reg->grants[g])
                        assert_int_equal(registry_vip_of(reg->grants[g], &r, &cfg.grant_vip[g]), 0);
        FwPeer peers[] = { { .ip = 0x0a000002, .access = 1u << 4, .enabled = true },
                           { .ip = 0x0a000003, .access = 1u, .enabled = true } };
        char *nft = NULL;
        assert_int_equal(fw_render_table(&cfg, peers, ELEMENTSOF(peers), &nft), 0);
        assert_non_null(strstr(nft, "10.0.0.2 . 172.20.0.14 : accept"));
        assert_null(strstr(nft, "10.0.0.3 . 172.20.0.14"));
        assert_non_null(strstr(nft, "udp dport 5300-5331 accept"));
        free(nft);
}

static void test_new_module_health(void **state) {
        Cell *c = &((TestCell *) *state)->c;
        assert_true(cell_service_is_listed(&photos_ops));
        CellServiceInfo i;
        photos_health = -ECONNREFUSED;
        cell_service_info(c, &photos_ops, CELL_INFO_PROBE, &i);
        assert_string_equal(i.name, "photos");
        assert_false(i.healthy);
        assert_string_equal(i.problem, "photos does not answer on its port");
        photos_health = 0;
        cell_service_info(c, &photos_ops, CELL_INFO_PROBE, &i);
        assert_true(i.healthy);
        assert_string_equal(i.state, "running");
        /* The application modules that only declare addresses and settings are not listed as services; one
         * that runs a daemon is. */
        assert_false(cell_service_is_listed(cell_find_service(c, "webdav")));
        assert_true(cell_service_is_listed(cell_find_service(c, "mail")));
}

static void test_new_module_settings(void **state) {
        Cell *c = &((TestCell *) *state)->c;
        assert_int_equal(settings_int(c->settings, "photos.port"), 8080);
        assert_string_equal(settings_def_owner(c->settings, "photos.port"), "photos");
        assert_null(settings_def_owner(c->settings, "cell_name"));

        PicError err = { 0 };
        json_t *bad = json_pack("{s:{s:i}}", "photos", "port", 0);
        assert_int_equal(settings_update(c->settings, c->store, bad, false, NULL, &err), -EINVAL);
        assert_string_equal(err.field, "photos.port");
        json_decref(bad);

        SettingsChange ch = { 0 };
        json_t *good = json_pack("{s:{s:i}}", "photos", "port", 8443);
        assert_int_equal(settings_update(c->settings, c->store, good, false, &ch, &err), 0);
        json_decref(good);
        assert_int_equal(ch.n, 1);
        assert_true(ch.pending[0]); /* a port: waits for POST /api/config/apply */
        settings_change_done(&ch);

        /* A change reaches the owner, and every module that watches the key. */
        json_t *who = cell_key_services(c, "photos.port");
        assert_int_equal(json_array_size(who), 1);
        assert_string_equal(json_string_value(json_array_get(who, 0)), "photos");
        json_decref(who);
        who = cell_key_services(c, "cell_name");
        assert_int_equal(json_array_size(who), 8);
        assert_string_equal(json_string_value(json_array_get(who, 0)), "dns");
        assert_string_equal(json_string_value(json_array_get(who, 1)), "ca");        /* re-issues the certificates */
        assert_string_equal(json_string_value(json_array_get(who, 2)), "mail-dkim"); /* the mail domain's key */
        assert_string_equal(json_string_value(json_array_get(who, 3)), "mail-imap"); /* names and certificates */
        assert_string_equal(json_string_value(json_array_get(who, 4)), "mail");
        assert_string_equal(json_string_value(json_array_get(who, 5)), "webmail");   /* the mail server's name */
        assert_string_equal(json_string_value(json_array_get(who, 6)), "proxy");     /* serves them */
        assert_string_equal(json_string_value(json_array_get(who, 7)), "photos");
        json_decref(who);
        who = cell_key_services(c, "ip_range");
        /* network, firewall, wireguard, dns, dhcp, ntp, ca, mail-imap, mail, webmail, proxy */
        assert_int_equal(json_array_size(who), 11);
        json_decref(who);
}

/* ---- clashes: refused whole, named, nothing half-added ---- */

static const char *const calendar_label[] = { "calendar", NULL }, *const apex_label[] = { "@", NULL },
                         *const web_label[] = { "web", NULL }, *const bad_label[] = { "-web", NULL },
                         *const web_www[] = { "web", "www", NULL };

static void try_clash(Cell *c, const ServiceOps *ops) {
        size_t n = c->registry.n, n_services = c->n_services, n_defs;
        settings_defs(c->settings, &n_defs);
        assert_int_equal(cell_register_service(c, ops), -EEXIST);
        size_t after;
        settings_defs(c->settings, &after);
        assert_int_equal(c->registry.n, n);
        assert_int_equal(c->n_services, n_services);
        assert_int_equal(after, n_defs);
        assert_ptr_not_equal(cell_find_service(c, ops->name), ops); /* "dns" stays the real one */
}

static void test_clashes_are_refused(void **state) {
        Cell *c = &((TestCell *) *state)->c;
        static const SettingDef fresh[] = { SETTING_PORT("thief.port", 1, "a port") };
        static const SettingDef taken[] = { SETTING_PORT("thief.port", 1, "a port"), SETTING_PORT("dns.port", 53, "dup") };
        /* The first endpoint is fine and the second takes the DNS offset: neither may stay behind. */
        static const ServiceEndpoint offset[] = { { .name = "thief", .vip_offset = 20 }, { .name = "thief2", .vip_offset = 2 } };
        static const ServiceEndpoint label[] = { { .name = "thief", .vip_offset = 20,
                                                   .dns_labels = calendar_label } };
        static const ServiceEndpoint bit[] = { { .name = "thief", .vip_offset = 20, .grantable = true, .grant_bit = 0 } };
        static const ServiceEndpoint name[] = { { .name = "ntp", .vip_offset = 20 } };
        static const ServiceOps ops[] = {
                { .name = "thief", .endpoints = offset, .n_endpoints = 2, .settings = fresh, .n_settings = 1 },
                { .name = "thief", .endpoints = label, .n_endpoints = 1 },
                { .name = "thief", .endpoints = bit, .n_endpoints = 1 },
                { .name = "thief", .endpoints = name, .n_endpoints = 1 },
                { .name = "thief", .settings = taken, .n_settings = 2 },
                { .name = "dns" },
        };
        for (size_t i = 0; i < ELEMENTSOF(ops); i++)
                try_clash(c, &ops[i]);
        assert_null(settings_def_find(c->settings, "thief.port"));

        /* A module that reads a key nobody declares is caught when the cell is wired up. */
        static const char *const watches[] = { "nosuch.key", NULL };
        static const ServiceOps blind = { .name = "blind", .watches = watches };
        assert_int_equal(cell_register_service(c, &blind), 0);
        assert_int_equal(cell_attach(c), -ENOENT);
}

static void test_registry_rules(void **state) {
        Registry r = { 0 };
        char why[256];
        static const ServiceEndpoint big = { .name = "big", .vip_offset = VIP_OFFSET_MAX + 1 };
        static const ServiceEndpoint apex = { .name = "web", .vip_offset = 9, .grantable = true,
                                              .dns_labels = apex_label };
        static const ServiceEndpoint nobit = { .name = "web", .vip_offset = 9, .grantable = true, .grant_bit = 8 };
        static const ServiceEndpoint noip = { .name = "web", .dns_labels = web_label };
        static const ServiceEndpoint badlabel = { .name = "web", .vip_offset = 9,
                                                  .dns_labels = bad_label };
        static const ServiceEndpoint ok = { .name = "web", .vip_offset = 9, .grantable = true, .grant_bit = 2,
                                            .dns_labels = web_www };
        /* In-process methods: names Caddy's method matcher takes, a literal path below which they stop. */
        static const char *const lower[] = { "get", NULL }, *const none[] = { NULL }, *const get[] = { "GET", NULL };
        static const ServiceEndpoint fast_lower = { .name = "web", .http_fast_methods = lower };
        static const ServiceEndpoint fast_none = { .name = "web", .http_fast_methods = none };
        static const ServiceEndpoint fast_glob = { .name = "web", .http_fast_methods = get, .http_fast_not_below = "/s*" };
        static const ServiceEndpoint fast_slash = { .name = "web", .http_fast_methods = get, .http_fast_not_below = "/s/" };
        static const ServiceEndpoint fast_alone = { .name = "web", .http_fast_not_below = "/s" };
        const struct {
                const ServiceEndpoint *e;
                const char *why;
        } refused[] = { { &big, "offset 31" }, { &apex, NULL }, { &nobit, NULL }, { &noip, NULL }, { &badlabel, NULL },
                        { &fast_lower, "in-process methods" }, { &fast_none, NULL }, { &fast_glob, NULL },
                        { &fast_slash, NULL }, { &fast_alone, NULL } };
        for (size_t i = 0; i < ELEMENTSOF(refused); i++) {
                assert_int_equal(registry_add(&r, "m", refused[i].e, why, sizeof why), -EINVAL);
                if (refused[i].why)
                        assert_non_null(strstr(why, refused[i].why));
        }
        assert_int_equal(r.n, 0);
        assert_int_equal(registry_add(&r, "m", &ok, why, sizeof why), 0);
        assert_ptr_equal(registry_find_label(&r, "www"), &ok);
        assert_int_equal(registry_grant_mask(&r), 1u << 2);
        assert_int_equal(registry_dns_views(&r), 8); /* bits 0-2 in use, even if 0 and 1 are not declared */
        assert_null(registry_grant_to_string(&r, 0));
        Cidr4 small = { 0xc0a80000, 29 }; /* 8 addresses: offset 9 does not fit */
        uint32_t ip;
        assert_int_equal(registry_vip(&r, &small, "web", &ip), -ERANGE);
        assert_int_equal(registry_vip(&r, &small, "nope", &ip), -ENOENT);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_new_module_gets_vip_dns_and_view, cell_up, cell_down),
                cmocka_unit_test_setup_teardown(test_new_module_is_a_grant, cell_up, cell_down),
                cmocka_unit_test_setup_teardown(test_new_module_health, cell_up, cell_down),
                cmocka_unit_test_setup_teardown(test_new_module_settings, cell_up, cell_down),
                cmocka_unit_test_setup_teardown(test_clashes_are_refused, cell_up, cell_down),
                cmocka_unit_test(test_registry_rules),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
