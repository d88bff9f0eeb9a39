/* Tests of the DNS module's pure parts: unbound.conf and nftables rendering against golden files (and the
 * real unbound-checkconf), reverse zones, view ports, and the record grammar of core/dns-records.c —
 * including the config-injection strings that must never get through. PIC_UPDATE_GOLDEN=1 rewrites the
 * golden files after an intended change. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <sys/wait.h>

#include "basic/fileio.h"
#include "basic/util.h"
#include "core/dns-records.h"
#include "services/dns/dns-render.h"
#include "cell-registry.h"

#define ZONE "mycell.cell"

static void default_params(DnsParams *p) {
        *p = (DnsParams) { .port = 53 };
        snprintf(p->zone, sizeof p->zone, ZONE);
        assert_int_equal(cidr4_parse("172.20.0.0/24", true, &p->ip_range), 0);
        assert_int_equal(cidr4_parse("10.0.0.1/24", true, &p->vpn), 0);
        snprintf(p->directory, sizeof p->directory, "/var/lib/pic/etc/dns");
        snprintf(p->control_path, sizeof p->control_path, "/var/lib/pic/run/dns-ctl.sock");
        snprintf(p->username, sizeof p->username, "unbound");
        p->registry = cell_registry();
}

static void check_golden(const char *name, const char *text) {
        char path[512];
        const char *src = getenv("PIC_SOURCE_DIR");
        snprintf(path, sizeof path, "%s/tests/unit/golden/%s", src ? src : ".", name);
        if (getenv("PIC_UPDATE_GOLDEN")) {
                assert_true(write_file_atomic(path, text, strlen(text), 0644, NULL, NULL, NULL) >= 0);
                return;
        }
        char *want = NULL;
        size_t len;
        assert_int_equal(read_file_full(path, 1 << 20, &want, &len), 0);
        if (!streq(want, text))
                fprintf(stderr, "golden %s differs; rendered:\n%s\n", name, text);
        assert_string_equal(want, text);
        free(want);
}

static bool has_line(const char *text, const char *line) {
        size_t n = strlen(line);
        for (const char *p = text; (p = strstr(p, line)); p += n)
                if ((p == text || p[-1] == '\n') && (p[n] == '\n' || p[n] == '\0'))
                        return true;
        return false;
}

static int checkconf(const char *text) {
        char path[] = "/tmp/pic-test-unbound-XXXXXX";
        int fd = mkstemp(path);
        assert_true(fd >= 0);
        assert_int_equal(write(fd, text, strlen(text)), (ssize_t) strlen(text));
        close(fd);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                int null = open("/dev/null", O_WRONLY);
                dup2(null, 1);
                dup2(null, 2);
                execl("/usr/sbin/unbound-checkconf", "unbound-checkconf", path, (char *) NULL);
                _exit(127);
        }
        int status;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        unlink(path);
        return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void test_unbound_conf_golden(void **state) {
        DnsParams p;
        default_params(&p);
        char *text = NULL;
        assert_int_equal(dns_render_unbound(&p, &text), 0);
        check_golden("dns-unbound.conf", text);
        /* The facts the design rests on, spelled out so a golden update cannot silently drop them. */
        assert_true(has_line(text, "    interface: 172.20.0.2@53"));
        assert_true(has_line(text, "    interface-view: 172.20.0.2@5301 grants-1"));
        assert_true(has_line(text, "    access-control: 172.20.0.0/24 allow_snoop"));
        assert_null(strstr(text, "access-control: 10.0.0.0/24"));
        /* CNAMEs: every non-peer client is in the all-services view, the cell zone is a stub to unbound itself. */
        assert_true(has_line(text, "    access-control-view: 172.20.0.0/24 grants-15"));
        assert_true(has_line(text, "    access-control-view: 127.0.0.0/8 grants-15"));
        assert_null(strstr(text, "access-control-view: 10.0.0.0/24"));
        assert_non_null(strstr(text, "stub-zone:\n    name: \"mycell.cell.\"\n    stub-addr: 172.20.0.2@53\n    stub-no-cache: yes\n"));
        assert_true(has_line(text, "    local-data: \"calendar.mycell.cell. 300 IN A 172.20.0.10\""));
        assert_true(has_line(text, "    local-data: \"mycell.cell. 300 IN A 172.20.0.5\""));
        assert_true(has_line(text, "    local-zone: \"0.0.10.in-addr.arpa.\" static"));
        assert_null(strstr(text, "forward-zone"));
        /* grants-1 = calendar only: files, mail, webdav do not exist there, calendar does. */
        const char *v1 = strstr(text, "name: \"grants-1\"");
        const char *v2 = strstr(text, "name: \"grants-2\"");
        assert_non_null(v1);
        assert_non_null(v2);
        char *view1 = strndup(v1, (size_t) (v2 - v1));
        assert_non_null(strstr(view1, "\"files.mycell.cell.\" always_nxdomain"));
        assert_non_null(strstr(view1, "\"11.0.20.172.in-addr.arpa.\" always_nxdomain"));
        assert_null(strstr(view1, "calendar"));
        free(view1);
        /* unbound's own checker accepts it (as root or not: no user switch in the checked copy; it changes
         * into the directory, so one that exists here). */
        p.username[0] = '\0';
        snprintf(p.directory, sizeof p.directory, "/tmp");
        free(text);
        assert_int_equal(dns_render_unbound(&p, &text), 0);
        assert_int_equal(checkconf(text), 0);
        free(text);
}

static void test_unbound_conf_forwarders_and_port(void **state) {
        DnsParams p;
        default_params(&p);
        p.username[0] = '\0';
        snprintf(p.directory, sizeof p.directory, "/tmp");
        size_t n = 0;
        assert_int_equal(dns_forwarders_parse("192.0.2.1, 192.0.2.2", p.forwarders, &n), 0);
        p.n_forwarders = n;
        p.port = 5305; /* inside the default view range: the view ports move */
        char *text = NULL;
        assert_int_equal(dns_render_unbound(&p, &text), 0);
        assert_true(has_line(text, "forward-zone:"));
        assert_true(has_line(text, "    forward-addr: 192.0.2.1"));
        assert_true(has_line(text, "    forward-addr: 192.0.2.2"));
        assert_true(has_line(text, "    interface: 172.20.0.2@5305"));
        assert_true(has_line(text, "    interface: 172.20.0.2@5316"));
        assert_null(strstr(text, "@5300\n"));
        assert_int_equal(checkconf(text), 0);
        free(text);
        assert_int_equal(registry_dns_views(cell_registry()), 16);
        assert_int_equal(dns_view_port_base(53, 16), 5300);
        assert_int_equal(dns_view_port_base(5315, 16), 5316);
        assert_int_equal(dns_view_port_base(5316, 16), 5300);
        assert_int_equal(dns_view_port_base(5316, 32), 5332);
}

static void test_nft_golden(void **state) {
        DnsParams p;
        default_params(&p);
        DnsViewMember m[] = { { 0x0a000002, 1 }, { 0x0a000003, 0 }, { 0x0a000004, registry_grant_mask(cell_registry()) } };
        char *text = NULL;
        assert_int_equal(dns_render_nft(&p, m, ELEMENTSOF(m), &text), 0);
        check_golden("dns-views.nft", text);
        assert_non_null(strstr(text, "elements = { 10.0.0.2 : 5301, 10.0.0.3 : 5300, 10.0.0.4 : 5315 }"));
        free(text);
        assert_int_equal(dns_render_nft(&p, NULL, 0, &text), 0);
        assert_null(strstr(text, "elements"));
        free(text);

        DnsViewMember old = { 0x0a000002, 1 }, new = { 0x0a000002, 3 };
        assert_int_equal(dns_render_nft_change(&p, &old, &new, &text), 0);
        assert_string_equal(text, "delete element ip pic_dns views { 10.0.0.2 }\n"
                                  "add element ip pic_dns views { 10.0.0.2 : 5303 }\n");
        free(text);
        assert_int_equal(dns_render_nft_change(&p, NULL, &new, &text), 0);
        assert_string_equal(text, "add element ip pic_dns views { 10.0.0.2 : 5303 }\n");
        free(text);
}

static void zones_of(const char *cidr, int want_n, const char *first, const char *last) {
        Cidr4 c;
        char zones[128][32];
        assert_int_equal(cidr4_parse(cidr, true, &c), 0);
        int n = dns_reverse_zones(&c, zones, 128);
        assert_int_equal(n, want_n);
        assert_string_equal(zones[0], first);
        assert_string_equal(zones[n - 1], last);
}

static void test_reverse_zones(void **state) {
        zones_of("172.20.0.0/24", 1, "0.20.172.in-addr.arpa.", "0.20.172.in-addr.arpa.");
        zones_of("10.0.0.1/24", 1, "0.0.10.in-addr.arpa.", "0.0.10.in-addr.arpa.");
        zones_of("192.168.5.32/27", 1, "5.168.192.in-addr.arpa.", "5.168.192.in-addr.arpa.");
        zones_of("10.0.0.0/8", 1, "10.in-addr.arpa.", "10.in-addr.arpa.");
        zones_of("10.64.0.0/10", 1, "10.in-addr.arpa.", "10.in-addr.arpa.");
        /* 172.0.0.0/8 is not private: the /12 becomes its sixteen /16 zones. */
        zones_of("172.16.0.0/12", 16, "16.172.in-addr.arpa.", "31.172.in-addr.arpa.");
        zones_of("100.64.0.0/26", 64, "0.0.64.100.in-addr.arpa.", "63.0.64.100.in-addr.arpa.");
        Cidr4 c;
        char few[4][32];
        assert_int_equal(cidr4_parse("172.16.0.0/12", true, &c), 0);
        assert_int_equal(dns_reverse_zones(&c, few, 4), -E2BIG);
}

/* ---- records -------------------------------------------------------------------------------------- */

static int from_json(const char *json, DnsRecord *r, PicError *err) {
        json_t *body = json_loads(json, 0, NULL);
        assert_non_null(body);
        *r = (DnsRecord) { 0 };
        int k = dns_record_from_json(ZONE, body, r, err);
        json_decref(body);
        return k;
}

static void good(const char *json, const char *name, const char *type, const char *value, const char *rr) {
        DnsRecord r;
        PicError err = { 0 };
        int k = from_json(json, &r, &err);
        if (k < 0)
                fprintf(stderr, "rejected %s: %s (%s)\n", json, err.message, err.field);
        assert_int_equal(k, 0);
        assert_string_equal(r.name, name);
        assert_string_equal(r.type, type);
        assert_string_equal(r.value, value);
        char line[2048];
        assert_int_equal(dns_record_to_rr(ZONE, &r, line, sizeof line), 0);
        assert_string_equal(line, rr);
}

static void bad(const char *json, const char *field) {
        DnsRecord r;
        PicError err = { 0 };
        int k = from_json(json, &r, &err);
        if (k != -EINVAL)
                fprintf(stderr, "accepted %s\n", json);
        assert_int_equal(k, -EINVAL);
        assert_string_equal(err.field, field);
        assert_true(err.message[0] != '\0');
}

static int collect_name(const char *name, void *userdata) {
        char *seen = userdata;
        size_t n = strlen(seen);
        snprintf(seen + n, 128 - n, "%s ", name);
        return 0;
}

static void test_cname_graph(void **state) {
        DnsCname v[] = {
                { "a", "b.mycell.cell." }, { "b", "calendar.mycell.cell." }, { "c", "x.files.mycell.cell." },
                { "d", "nas.mycell.cell." }, { "e", "a.mycell.cell." }, { "out", "calendar.example.org." },
                { "apex", "mycell.cell." },
        };
        DnsCnames g = { v, ELEMENTSOF(v) };
        const char *zone = "mycell.cell";
        assert_string_equal(dns_cnames_target(&g, "d"), "nas.mycell.cell.");
        assert_null(dns_cnames_target(&g, "nas"));
        /* The grant a chain ends at: through other CNAMEs, at or below the service name, never outside. */
        assert_int_equal(dns_cname_grant(cell_registry(), zone, &g, "b"), registry_grant_from_string(cell_registry(), "calendar"));
        assert_int_equal(dns_cname_grant(cell_registry(), zone, &g, "e"), registry_grant_from_string(cell_registry(), "calendar"));
        assert_int_equal(dns_cname_grant(cell_registry(), zone, &g, "c"), registry_grant_from_string(cell_registry(), "files"));
        assert_int_equal(dns_cname_grant(cell_registry(), zone, &g, "d"), -1);
        assert_int_equal(dns_cname_grant(cell_registry(), zone, &g, "out"), -1);
        assert_int_equal(dns_cname_grant(cell_registry(), zone, &g, "apex"), -1);
        /* Changing b changes the answers of a and e (they lead through it), nothing else. */
        char seen[128] = "";
        assert_int_equal(dns_cnames_affected(zone, &g, "b", collect_name, seen), 0);
        assert_string_equal(seen, "b a e ");
        seen[0] = '\0';
        assert_int_equal(dns_cnames_affected(zone, &g, "nas", collect_name, seen), 0);
        assert_string_equal(seen, "nas d ");
}

static void test_record_names(void **state) {
        const char *rr = "www.mycell.cell. 300 IN A 172.20.0.50";
        good("{\"name\":\"www\",\"type\":\"A\",\"value\":\"172.20.0.50\"}", "www", "A", "172.20.0.50", rr);
        good("{\"name\":\"WWW\",\"type\":\"a\",\"value\":\"172.20.0.50\"}", "www", "A", "172.20.0.50", rr);
        good("{\"name\":\"www.mycell.cell\",\"type\":\"A\",\"value\":\"172.20.0.50\"}", "www", "A", "172.20.0.50", rr);
        good("{\"name\":\"www.MyCell.cell.\",\"type\":\"A\",\"value\":\"172.20.0.50\"}", "www", "A", "172.20.0.50", rr);
        good("{\"name\":\"@\",\"type\":\"TXT\",\"value\":\"hello\"}", "@", "TXT", "hello",
             "mycell.cell. 300 IN TXT \"hello\"");
        good("{\"name\":\"mycell.cell.\",\"type\":\"AAAA\",\"value\":\"fd00::1\"}", "@", "AAAA", "fd00::1",
             "mycell.cell. 300 IN AAAA fd00::1");
        good("{\"name\":\"s1._domainkey\",\"type\":\"TXT\",\"value\":\"v=DKIM1; k=rsa\",\"ttl\":0}", "s1._domainkey",
             "TXT", "v=DKIM1; k=rsa", "s1._domainkey.mycell.cell. 0 IN TXT \"v=DKIM1; k=rsa\"");
        good("{\"name\":\"a.b-c.d\",\"type\":\"A\",\"value\":\"10.1.2.3\",\"ttl\":604800}", "a.b-c.d", "A", "10.1.2.3",
             "a.b-c.d.mycell.cell. 604800 IN A 10.1.2.3");

        bad("{\"name\":\"www.example.com.\",\"type\":\"A\",\"value\":\"1.2.3.4\"}", "name");
        bad("{\"name\":\"cell.\",\"type\":\"A\",\"value\":\"1.2.3.4\"}", "name");
        const char *names[] = {
                "a b", "a\\nb", "a\\\"b", "a}b", "a{b", "a;b", "a#b", "caf\\u00e9", "a..b", ".a", "-a", "a-",
                "*", "*.x", "_", "a_b", "", "a/b",
        };
        for (size_t i = 0; i < ELEMENTSOF(names); i++) {
                char json[256];
                snprintf(json, sizeof json, "{\"name\":\"%s\",\"type\":\"A\",\"value\":\"1.2.3.4\"}", names[i]);
                bad(json, "name");
        }
        char json[2048], label[70];
        memset(label, 'x', 64);
        label[64] = '\0';
        snprintf(json, sizeof json, "{\"name\":\"%s\",\"type\":\"A\",\"value\":\"1.2.3.4\"}", label);
        bad(json, "name");
        label[63] = '\0';
        snprintf(json, sizeof json, "{\"name\":\"%s.%s.%s.%s\",\"type\":\"A\",\"value\":\"1.2.3.4\"}", label, label, label,
                 label);
        bad(json, "name"); /* 255 characters plus the zone: longer than 253 */
        bad("{\"name\":1,\"type\":\"A\",\"value\":\"1.2.3.4\"}", "name");
        bad("{\"type\":\"A\",\"value\":\"1.2.3.4\"}", "name");
}

static void test_record_values(void **state) {
        good("{\"name\":\"c\",\"type\":\"CNAME\",\"value\":\"api\"}", "c", "CNAME", "api.mycell.cell.",
             "c.mycell.cell. 300 IN CNAME api.mycell.cell.");
        good("{\"name\":\"c\",\"type\":\"CNAME\",\"value\":\"Example.COM.\"}", "c", "CNAME", "example.com.",
             "c.mycell.cell. 300 IN CNAME example.com.");
        good("{\"name\":\"@\",\"type\":\"MX\",\"value\":\"10 mail\"}", "@", "MX", "10 mail.mycell.cell.",
             "mycell.cell. 300 IN MX 10 mail.mycell.cell.");
        good("{\"name\":\"@\",\"type\":\"MX\",\"value\":\"0 .\"}", "@", "MX", "0 .", "mycell.cell. 300 IN MX 0 .");
        good("{\"name\":\"_sip._tcp\",\"type\":\"SRV\",\"value\":\"10 5 5060 sip.example.net.\"}", "_sip._tcp", "SRV",
             "10 5 5060 sip.example.net.", "_sip._tcp.mycell.cell. 300 IN SRV 10 5 5060 sip.example.net.");
        good("{\"name\":\"v6\",\"type\":\"AAAA\",\"value\":\"FD00:0:0::10\"}", "v6", "AAAA", "fd00::10",
             "v6.mycell.cell. 300 IN AAAA fd00::10");

        /* A TXT longer than one character-string is split into 255-byte strings. */
        char txt[301];
        memset(txt, 'a', 300);
        txt[300] = '\0';
        char json[1200], rr[1200];
        snprintf(json, sizeof json, "{\"name\":\"t\",\"type\":\"TXT\",\"value\":\"%s\"}", txt);
        snprintf(rr, sizeof rr, "t.mycell.cell. 300 IN TXT \"%.255s\" \"%s\"", txt, txt + 255);
        good(json, "t", "TXT", txt, rr);

        const struct {
                const char *type, *value;
        } cases[] = {
                { "A", "1.2.3" },           { "A", "1.2.3.4 " },     { "A", "01.2.3.4" },      { "A", "1.2.3.4\\n" },
                { "A", "1.2.3.256" },       { "A", "" },             { "A", "::1" },           { "AAAA", "1.2.3.4" },
                { "AAAA", "fd00::1::2" },   { "CNAME", "a b" },      { "CNAME", "x;y" },       { "CNAME", "." },
                { "CNAME", "x\\\"" },       { "TXT", "" },           { "TXT", "a\\\"b" },      { "TXT", "a\\\\b" },
                { "TXT", "a}b" },           { "TXT", "a{b" },        { "TXT", "a\\nb" },       { "TXT", "a\\tb" },
                { "TXT", "\\u00e9" },       { "MX", "10" },          { "MX", "10 " },          { "MX", "mail" },
                { "MX", "10  mail" },       { "MX", "-1 mail" },     { "MX", "65536 mail" },   { "MX", "010 mail" },
                { "MX", "10 mail extra" },  { "SRV", "1 2 mail" },   { "SRV", "1 2 3" },       { "SRV", "1 2 3 4 x" },
                { "SRV", "1 2 99999 x" },
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                snprintf(json, sizeof json, "{\"name\":\"x\",\"type\":\"%s\",\"value\":\"%s\"}", cases[i].type,
                         cases[i].value);
                bad(json, "value");
        }
        memset(txt, 'a', 300);
        char big[1100];
        memset(big, 'b', 1025);
        big[1025] = '\0';
        snprintf(json, sizeof json, "{\"name\":\"x\",\"type\":\"TXT\",\"value\":\"%s\"}", big);
        bad(json, "value");
        big[1024] = '\0';
        DnsRecord r;
        PicError err = { 0 };
        snprintf(json, sizeof json, "{\"name\":\"x\",\"type\":\"TXT\",\"value\":\"%s\"}", big);
        assert_int_equal(from_json(json, &r, &err), 0);
        char line[2048];
        assert_int_equal(dns_record_to_rr(ZONE, &r, line, sizeof line), 0);
        assert_true(strlen(line) < 2000); /* fits unbound's 2048-byte control data line */

        bad("{\"name\":\"x\",\"type\":\"PTR\",\"value\":\"a\"}", "type");
        bad("{\"name\":\"x\",\"type\":\"A\\n\",\"value\":\"1.2.3.4\"}", "type");
        bad("{\"name\":\"x\",\"value\":\"1.2.3.4\"}", "type");
        bad("{\"name\":\"x\",\"type\":\"A\",\"value\":4}", "value");
        bad("{\"name\":\"x\",\"type\":\"A\",\"value\":\"1.2.3.4\",\"ttl\":-1}", "ttl");
        bad("{\"name\":\"x\",\"type\":\"A\",\"value\":\"1.2.3.4\",\"ttl\":604801}", "ttl");
        bad("{\"name\":\"x\",\"type\":\"A\",\"value\":\"1.2.3.4\",\"ttl\":\"5\"}", "ttl");
        bad("{\"name\":\"x\",\"type\":\"A\",\"value\":\"1.2.3.4\",\"id\":5}", "id");
}

static void test_forwarders_and_hostnames(void **state) {
        uint32_t ips[DNS_FORWARDERS_MAX];
        size_t n = 99;
        assert_int_equal(dns_forwarders_parse("", ips, &n), 0);
        assert_int_equal(n, 0);
        assert_int_equal(dns_forwarders_parse(" 9.9.9.9,1.1.1.1 ,, 8.8.8.8 ", ips, &n), 0);
        assert_int_equal(n, 3);
        assert_int_equal(ips[1], 0x01010101);
        const char *badf[] = { "1.1.1", "127.0.0.1", "0.0.0.0", "255.255.255.255", "1.1.1.1;2.2.2.2",
                               "1.1.1.1\n", "dns.google", "1.1.1.1 2.2.2.2 3.3.3.3 4.4.4.4 5.5.5.5 6.6.6.6 7.7.7.7 8.8.8.8 9.9.9.9" };
        for (size_t i = 0; i < ELEMENTSOF(badf); i++)
                assert_int_equal(dns_forwarders_parse(badf[i], ips, &n), -EINVAL);

        char h[64];
        assert_int_equal(dns_hostname_normalize("Laptop-1", h), 0);
        assert_string_equal(h, "laptop-1");
        assert_int_equal(dns_hostname_normalize("a.b", h), -EINVAL);
        assert_int_equal(dns_hostname_normalize("a b", h), -EINVAL);
        assert_int_equal(dns_hostname_normalize("", h), -EINVAL);
        assert_true(dns_name_is_builtin(cell_registry(), "calendar"));
        assert_true(dns_name_is_builtin(cell_registry(), "api"));
        assert_false(dns_name_is_builtin(cell_registry(), "@"));
        assert_false(dns_name_is_builtin(cell_registry(), "laptop"));
        assert_false(dns_name_is_builtin(cell_registry(), "gateway")); /* an endpoint without a DNS name */
        char rev[32];
        dns_reverse_name(0xac14000a, rev);
        assert_string_equal(rev, "10.0.20.172.in-addr.arpa.");
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_unbound_conf_golden),
                cmocka_unit_test(test_unbound_conf_forwarders_and_port),
                cmocka_unit_test(test_nft_golden),
                cmocka_unit_test(test_reverse_zones),
                cmocka_unit_test(test_record_names),
                cmocka_unit_test(test_cname_graph),
                cmocka_unit_test(test_record_values),
                cmocka_unit_test(test_forwarders_and_hostnames),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
