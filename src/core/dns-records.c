/* Custom DNS record grammar and normalisation (see dns-records.h for the naming rule), the rule that keeps
 * them off the services' names, and the RR text unbound receives. Every byte that reaches unbound passed one of these grammars. */
#include "core/dns-records.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <strings.h>

#include "basic/netaddr.h"
#include "basic/parse.h"
#include "basic/util.h"

static const char *const type_names[_DNS_TYPE_MAX] = {
        [DNS_TYPE_A] = "A",     [DNS_TYPE_AAAA] = "AAAA", [DNS_TYPE_CNAME] = "CNAME",
        [DNS_TYPE_TXT] = "TXT", [DNS_TYPE_MX] = "MX",     [DNS_TYPE_SRV] = "SRV",
};

const char *dns_type_to_string(DnsType t) {
        return t >= 0 && t < _DNS_TYPE_MAX ? type_names[t] : NULL;
}

DnsType dns_type_from_string(const char *s) {
        for (int i = 0; s && i < _DNS_TYPE_MAX; i++)
                if (strcasecmp(type_names[i], s) == 0)
                        return i;
        return _DNS_TYPE_INVALID;
}

bool dns_name_is_builtin(const Registry *reg, const char *relname) {
        return !streq(relname, "@") && registry_find_label(reg, relname);
}

int dns_zone_from_settings(Settings *s, char ret[static DNS_ZONE_MAX]) {
        const char *cell = settings_str(s, "cell_name"), *domain = settings_str(s, "domain");
        if (!*cell || !*domain)
                return -EINVAL;
        int n = snprintf(ret, DNS_ZONE_MAX, "%s.%s", cell, domain);
        return n < 0 || n > 253 ? -ENAMETOOLONG : 0;
}

int dns_fqdn(const char *zone, const char *relname, char *ret, size_t size) {
        int n = streq(relname, "@") ? snprintf(ret, size, "%s.", zone) : snprintf(ret, size, "%s.%s.", relname, zone);
        return n < 0 || (size_t) n >= size ? -ENAMETOOLONG : 0;
}

void dns_reverse_name(uint32_t ip, char ret[static 32]) {
        snprintf(ret, 32, "%u.%u.%u.%u.in-addr.arpa.", ip & 0xff, (ip >> 8) & 0xff, (ip >> 16) & 0xff, ip >> 24);
}

static bool is_lower_alnum(char c) {
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/* One label after folding: an optional leading '_' (service labels such as _sip, _dmarc, _domainkey),
 * then [a-z0-9]([a-z0-9-]*[a-z0-9])?, at most 63 bytes. */
static bool label_ok(const char *s, size_t n) {
        if (n == 0 || n > 63)
                return false;
        if (s[0] == '_') {
                s++;
                n--;
                if (n == 0)
                        return false;
        }
        if (!is_lower_alnum(s[0]) || !is_lower_alnum(s[n - 1]))
                return false;
        for (size_t i = 0; i < n; i++)
                if (!is_lower_alnum(s[i]) && s[i] != '-')
                        return false;
        return true;
}

static bool ends_with_zone(const char *name, const char *zone) {
        size_t n = strlen(name), z = strlen(zone);
        return streq(name, zone) || (n > z + 1 && name[n - z - 1] == '.' && streq(name + n - z, zone));
}

/* Any name of the grammar → absolute, folded, with trailing dot, per the rule in dns-records.h. */
static int name_to_absolute(const char *zone, const char *in, char ret[static DNS_ZONE_MAX + 1]) {
        if (!in)
                return -EINVAL;
        if (streq(in, "@"))
                return snprintf(ret, DNS_ZONE_MAX + 1, "%s.", zone) > DNS_ZONE_MAX ? -ENAMETOOLONG : 0;
        size_t len = strlen(in);
        if (len == 0 || len > 254)
                return -EINVAL;
        char buf[256];
        for (size_t i = 0; i < len; i++) {
                char ch = in[i];
                if (ch >= 'A' && ch <= 'Z')
                        ch = (char) (ch - 'A' + 'a');
                else if (!is_lower_alnum(ch) && ch != '-' && ch != '_' && ch != '.')
                        return -EINVAL;
                buf[i] = ch;
        }
        buf[len] = '\0';
        bool absolute = buf[len - 1] == '.';
        if (absolute)
                buf[--len] = '\0';
        if (len == 0)
                return -EINVAL;
        char full[512];
        if (absolute || ends_with_zone(buf, zone))
                snprintf(full, sizeof full, "%s", buf);
        else
                snprintf(full, sizeof full, "%s.%s", buf, zone);
        size_t total = strlen(full);
        if (total > 253)
                return -ENAMETOOLONG;
        for (size_t start = 0, i = 0; i <= total; i++)
                if (i == total || full[i] == '.') {
                        if (!label_ok(full + start, i - start))
                                return -EINVAL;
                        start = i + 1;
                }
        snprintf(ret, DNS_ZONE_MAX + 1, "%.253s.", full);
        return 0;
}

int dns_hostname_normalize(const char *s, char ret[static 64]) {
        if (!s || !dns_label_is_valid(s))
                return -EINVAL;
        size_t n = strlen(s);
        for (size_t i = 0; i <= n; i++)
                ret[i] = (s[i] >= 'A' && s[i] <= 'Z') ? (char) (s[i] - 'A' + 'a') : s[i];
        return 0;
}

static int parse_target(const char *zone, const char *in, bool allow_root, char ret[static DNS_ZONE_MAX + 1]) {
        if (allow_root && in && streq(in, ".")) {
                snprintf(ret, DNS_ZONE_MAX + 1, ".");
                return 0;
        }
        return name_to_absolute(zone, in, ret);
}

/* "N N ... TARGET": n numbers 0..65535 separated by single spaces, then a target name. */
static int parse_numbers_target(const char *zone, const char *v, unsigned n, uint64_t nums[static 3],
                                char target[static DNS_ZONE_MAX + 1]) {
        const char *p = v;
        for (unsigned i = 0; i < n; i++) {
                const char *sp = strchr(p, ' ');
                if (!sp || sp == p || sp - p > 5)
                        return -EINVAL;
                char num[8];
                snprintf(num, sizeof num, "%.*s", (int) (sp - p), p);
                if (parse_uint(num, 0, 65535, &nums[i]) < 0)
                        return -EINVAL;
                p = sp + 1;
        }
        return parse_target(zone, p, true, target);
}

/* TXT: printable ASCII; never '"' or '\\' (they would end or escape the quoted string unbound parses) nor
 * braces. ';' and spaces are allowed: DKIM and DMARC records need them, and inside the quoted string they
 * are plain characters. */
static bool txt_ok(const char *v) {
        size_t n = 0;
        for (const unsigned char *p = (const unsigned char *) v; *p; p++, n++)
                if (n >= DNS_TXT_MAX || *p < 0x20 || *p > 0x7e || strchr("\"\\{}", *p))
                        return false;
        return n > 0;
}

static int value_error(PicError *err, DnsType t) {
        static const char *const hint[_DNS_TYPE_MAX] = {
                [DNS_TYPE_A] = "an IPv4 address such as 192.168.1.10",
                [DNS_TYPE_AAAA] = "an IPv6 address such as fd00::10",
                [DNS_TYPE_CNAME] = "a host name (relative to the cell zone, or absolute with a trailing dot)",
                [DNS_TYPE_TXT] = "1-1024 printable ASCII characters without '\"', '\\', '{' or '}'",
                [DNS_TYPE_MX] = "\"PREFERENCE HOST\" such as \"10 mail\"",
                [DNS_TYPE_SRV] = "\"PRIORITY WEIGHT PORT HOST\" such as \"10 5 5060 sip\"",
        };
        return pic_error(err, -EINVAL, "value", "value of a %s record must be %s", dns_type_to_string(t), hint[t]);
}

static int normalize_value(const char *zone, DnsType t, const char *v, char *ret, size_t size, PicError *err) {
        char target[DNS_ZONE_MAX + 1];
        uint64_t nums[3];
        if (!v || !*v || strlen(v) > (t == DNS_TYPE_TXT ? DNS_TXT_MAX : 300))
                return value_error(err, t);
        switch (t) {
        case DNS_TYPE_A: {
                uint32_t ip;
                char buf[IPV4_STRLEN];
                if (ipv4_parse(v, &ip) < 0)
                        return value_error(err, t);
                snprintf(ret, size, "%s", ipv4_format(ip, buf));
                return 0;
        }
        case DNS_TYPE_AAAA: {
                struct in6_addr a;
                char buf[INET6_ADDRSTRLEN];
                if (inet_pton(AF_INET6, v, &a) != 1 || !inet_ntop(AF_INET6, &a, buf, sizeof buf))
                        return value_error(err, t);
                snprintf(ret, size, "%s", buf);
                return 0;
        }
        case DNS_TYPE_CNAME:
                if (parse_target(zone, v, false, target) < 0)
                        return value_error(err, t);
                snprintf(ret, size, "%s", target);
                return 0;
        case DNS_TYPE_TXT:
                if (!txt_ok(v))
                        return value_error(err, t);
                snprintf(ret, size, "%s", v);
                return 0;
        case DNS_TYPE_MX:
                if (parse_numbers_target(zone, v, 1, nums, target) < 0)
                        return value_error(err, t);
                snprintf(ret, size, "%u %s", (unsigned) nums[0], target);
                return 0;
        case DNS_TYPE_SRV:
                if (parse_numbers_target(zone, v, 3, nums, target) < 0)
                        return value_error(err, t);
                snprintf(ret, size, "%u %u %u %s", (unsigned) nums[0], (unsigned) nums[1], (unsigned) nums[2],
                         target);
                return 0;
        default:
                return -EINVAL;
        }
}

int dns_record_from_json(const char *zone, json_t *body, DnsRecord *ret, PicError *err) {
        static const char *const known[] = { "name", "type", "value", "ttl" };
        if (!json_is_object(body))
                return pic_error(err, -EINVAL, NULL, "request body must be a JSON object {name, type, value, ttl?}");
        const char *k;
        json_t *v;
        json_object_foreach(body, k, v) {
                bool ok = false;
                for (size_t i = 0; i < ELEMENTSOF(known); i++)
                        ok = ok || streq(k, known[i]);
                if (!ok)
                        return pic_error(err, -EINVAL, config_text_is_safe(k, 64) ? k : NULL,
                                         "unknown field; a record has name, type, value and ttl");
        }

        DnsRecord r = { .ttl = DNS_TTL_DEFAULT };
        const char *name = json_string_value(json_object_get(body, "name"));
        char abs[DNS_ZONE_MAX + 1], zone_dot[DNS_ZONE_MAX + 1];
        if (!name || name_to_absolute(zone, name, abs) < 0)
                return pic_error(err, -EINVAL, "name",
                                 "name must be a DNS name of letters, digits, '-' (and '_' first in a label), "
                                 "at most 253 characters, relative to %s or ending in it", zone);
        snprintf(zone_dot, sizeof zone_dot, "%s.", zone);
        size_t al = strlen(abs), zl = strlen(zone_dot);
        if (streq(abs, zone_dot))
                snprintf(r.name, sizeof r.name, "@");
        else if (al > zl && abs[al - zl - 1] == '.' && streq(abs + al - zl, zone_dot))
                snprintf(r.name, sizeof r.name, "%.*s", (int) (al - zl - 1), abs);
        else
                return pic_error(err, -EINVAL, "name", "name must lie inside the cell zone %s", zone);

        DnsType t = dns_type_from_string(json_string_value(json_object_get(body, "type")));
        if (t < 0)
                return pic_error(err, -EINVAL, "type", "type must be one of A, AAAA, CNAME, TXT, MX, SRV");
        snprintf(r.type, sizeof r.type, "%s", dns_type_to_string(t));

        json_t *value = json_object_get(body, "value");
        if (!json_is_string(value))
                return value_error(err, t);
        int k2 = normalize_value(zone, t, json_string_value(value), r.value, sizeof r.value, err);
        if (k2 < 0)
                return k2;

        json_t *ttl = json_object_get(body, "ttl");
        if (ttl) {
                if (!json_is_integer(ttl) || json_integer_value(ttl) < 0 || json_integer_value(ttl) > DNS_TTL_MAX)
                        return pic_error(err, -EINVAL, "ttl", "ttl must be an integer between 0 and %d seconds",
                                         DNS_TTL_MAX);
                r.ttl = (uint32_t) json_integer_value(ttl);
        }
        ret->ttl = r.ttl;
        memcpy(ret->name, r.name, sizeof r.name);
        memcpy(ret->type, r.type, sizeof r.type);
        memcpy(ret->value, r.value, sizeof r.value);
        return 0;
}

typedef struct ConflictCtx {
        const DnsRecord *r;
        bool cname_there, other_there;
} ConflictCtx;

static int conflict_cb(const DnsRecord *other, void *userdata) {
        ConflictCtx *cc = userdata;
        if (streq(other->type, "CNAME"))
                cc->cname_there = true;
        else
                cc->other_there = true;
        return 0;
}

int dns_record_check_conflicts(Store *store, const Registry *reg, const DnsRecord *r, PicError *err) {
        if (dns_name_is_builtin(reg, r->name))
                return pic_error(err, -EEXIST, "name", "\"%s\" is a service name of the cell; pick another name",
                                 r->name);
        bool cname = streq(r->type, "CNAME");
        if (streq(r->name, "@") && (cname || streq(r->type, "A")))
                return pic_error(err, -EEXIST, "name", "the zone apex already points at the cell; %s is not allowed there",
                                 r->type);
        ConflictCtx cc = { .r = r };
        int k = store_dns_record_foreach_name(store, r->name, conflict_cb, &cc);
        if (k < 0)
                return pic_error(err, k, NULL, "cannot read the stored records");
        if (cname && (cc.other_there || cc.cname_there))
                return pic_error(err, -EEXIST, "name", "\"%s\" already has records; a CNAME must be the only record of a name",
                                 r->name);
        if (!cname && cc.cname_there)
                return pic_error(err, -EEXIST, "name", "\"%s\" is a CNAME; it cannot have other records", r->name);
        return 0;
}

int dns_record_to_rr(const char *zone, const DnsRecord *r, char *ret, size_t size) {
        char fqdn[DNS_ZONE_MAX + 2];
        int k = dns_fqdn(zone, r->name, fqdn, sizeof fqdn);
        if (k < 0)
                return k;
        int n = snprintf(ret, size, "%s %u IN %s ", fqdn, r->ttl, r->type);
        if (n < 0 || (size_t) n >= size)
                return -ENAMETOOLONG;
        size_t used = (size_t) n;
        if (!streq(r->type, "TXT")) {
                n = snprintf(ret + used, size - used, "%s", r->value);
                return n < 0 || (size_t) n >= size - used ? -ENAMETOOLONG : 0;
        }
        /* A TXT character-string holds at most 255 bytes: longer text becomes several strings. */
        size_t len = strlen(r->value);
        for (size_t off = 0; off < len || off == 0; off += 255) {
                size_t chunk = len - off < 255 ? len - off : 255;
                n = snprintf(ret + used, size - used, "%s\"%.*s\"", off ? " " : "", (int) chunk, r->value + off);
                if (n < 0 || (size_t) n >= size - used)
                        return -ENAMETOOLONG;
                used += (size_t) n;
                if (len == 0)
                        break;
        }
        return 0;
}

json_t *dns_record_to_json(const char *zone, const DnsRecord *r) {
        char fqdn[DNS_ZONE_MAX + 2];
        if (dns_fqdn(zone, r->name, fqdn, sizeof fqdn) < 0)
                fqdn[0] = '\0';
        return json_pack("{s:I, s:s, s:s, s:s, s:s, s:I, s:I}", "id", (json_int_t) r->id, "name", r->name, "fqdn",
                         fqdn, "type", r->type, "value", r->value, "ttl", (json_int_t) r->ttl, "created_at",
                         (json_int_t) r->created_at);
}

int dns_forwarders_parse(const char *s, uint32_t ret[static DNS_FORWARDERS_MAX], size_t *ret_n) {
        if (!s || strlen(s) > 255)
                return -EINVAL;
        size_t n = 0;
        const char *p = s;
        while (*p) {
                size_t sep = strspn(p, " ,");
                p += sep;
                size_t len = strcspn(p, " ,");
                if (len == 0)
                        break;
                if (len >= IPV4_STRLEN || n >= DNS_FORWARDERS_MAX)
                        return -EINVAL;
                char buf[IPV4_STRLEN];
                snprintf(buf, sizeof buf, "%.*s", (int) len, p);
                uint32_t ip;
                /* unbound never queries loopback upstreams (do-not-query-localhost), and 0/32 or broadcast
                 * cannot answer: refuse them here rather than forward into silence. */
                if (ipv4_parse(buf, &ip) < 0 || ip == 0 || ip == UINT32_MAX || (ip >> 24) == 127)
                        return -EINVAL;
                ret[n++] = ip;
                p += len;
        }
        *ret_n = n;
        return 0;
}
