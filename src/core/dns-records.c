/* Custom DNS record grammar and normalisation (see dns-records.h for the naming rule), the built-in name
 * table, the CNAME graph rules, the RR text unbound receives, and the record mutations. Every byte that
 * reaches unbound passed one of these grammars; the DNS service module only publishes what is stored. */
#include "core/dns-records.h"

#include <arpa/inet.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

#include "basic/log.h"
#include "basic/netaddr.h"
#include "basic/parse.h"
#include "basic/time-util.h"
#include "basic/util.h"
#include "core/mutation.h"
#include "core/peer.h"

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

/* name lies strictly below ancestor (both relative; "@" is the apex, above everything). */
static bool is_below(const char *name, const char *ancestor) {
        if (streq(ancestor, "@"))
                return !streq(name, "@");
        size_t n = strlen(name), a = strlen(ancestor);
        return n > a + 1 && name[n - a - 1] == '.' && streq(name + n - a, ancestor);
}

/* An absolute name inside the zone → relative ("@" for the apex); false for a name outside it. */
static bool target_relname(const char *zone, const char *abs, char ret[static DNS_RECORD_NAME_MAX]) {
        size_t al = strlen(abs), zl = strlen(zone);
        if (al == zl + 1 && strncmp(abs, zone, zl) == 0 && abs[zl] == '.') {
                snprintf(ret, DNS_RECORD_NAME_MAX, "@");
                return true;
        }
        if (al < zl + 3 || abs[al - 1] != '.' || abs[al - zl - 2] != '.' || strncmp(abs + al - zl - 1, zone, zl) != 0)
                return false;
        snprintf(ret, DNS_RECORD_NAME_MAX, "%.*s", (int) (al - zl - 2), abs);
        return true;
}

static int cname_collect(const DnsRecord *r, void *userdata) {
        DnsCnames *g = userdata;
        if (!streq(r->type, "CNAME"))
                return 0;
        DnsCname *v = realloc(g->v, (g->n + 1) * sizeof *v);
        if (!v)
                return -ENOMEM;
        g->v = v;
        snprintf(v[g->n].name, sizeof v[g->n].name, "%s", r->name);
        /* A stored CNAME value is a normalised name: at most 253 characters and the dot. */
        snprintf(v[g->n].target, sizeof v[g->n].target, "%.254s", r->value);
        g->n++;
        return 0;
}

int dns_cnames_load(Store *s, DnsCnames *ret) {
        DnsCnames g = { 0 };
        int r = store_dns_record_foreach(s, cname_collect, &g);
        if (r < 0) {
                dns_cnames_done(&g);
                return r;
        }
        *ret = g;
        return 0;
}

void dns_cnames_done(DnsCnames *g) {
        free(g->v);
        *g = (DnsCnames) { 0 };
}

const char *dns_cnames_target(const DnsCnames *g, const char *relname) {
        for (size_t i = 0; i < g->n; i++)
                if (streq(g->v[i].name, relname))
                        return g->v[i].target;
        return NULL;
}

/* The in-zone name relname's CNAME points at, in ret; false when relname is no CNAME or points outside. */
static bool next_hop(const char *zone, const DnsCnames *g, const char *relname, char ret[static DNS_RECORD_NAME_MAX]) {
        const char *t = dns_cnames_target(g, relname);
        return t && target_relname(zone, t, ret);
}

int dns_cname_grant(const Registry *reg, const char *zone, const DnsCnames *g, const char *relname) {
        char cur[DNS_RECORD_NAME_MAX], next[DNS_RECORD_NAME_MAX];
        snprintf(cur, sizeof cur, "%s", relname);
        /* Bounded: the store never holds a loop or a chain longer than DNS_CNAME_CHAIN_MAX. */
        for (int hops = 0; hops <= DNS_CNAME_CHAIN_MAX && next_hop(zone, g, cur, next); hops++)
                memcpy(cur, next, sizeof cur);
        /* The grantable services' names (never the apex: registry_add refuses it for a grant). */
        for (unsigned gr = 0; gr < REGISTRY_GRANTS_MAX; gr++)
                for (const char *const *l = reg->grants[gr] ? reg->grants[gr]->dns_labels : NULL; l && *l; l++)
                        if (streq(cur, *l) || is_below(cur, *l))
                                return (int) gr;
        return -1;
}

static int affected_walk(const char *zone, const DnsCnames *g, const char *relname, unsigned depth,
                         int (*fn)(const char *name, void *userdata), void *userdata) {
        int r = fn(relname, userdata);
        char hop[DNS_RECORD_NAME_MAX];
        for (size_t i = 0; r >= 0 && depth < DNS_CNAME_CHAIN_MAX + 1 && i < g->n; i++)
                if (next_hop(zone, g, g->v[i].name, hop) && streq(hop, relname))
                        r = affected_walk(zone, g, g->v[i].name, depth + 1, fn, userdata);
        return r;
}

int dns_cnames_affected(const char *zone, const DnsCnames *g, const char *relname,
                        int (*fn)(const char *name, void *userdata), void *userdata) {
        return affected_walk(zone, g, relname, 0, fn, userdata);
}

/* Longest chain of CNAMEs that ends at relname (0: none points at it). */
static unsigned chain_into(const char *zone, const DnsCnames *g, const char *relname, unsigned depth) {
        unsigned best = 0;
        char hop[DNS_RECORD_NAME_MAX];
        for (size_t i = 0; depth <= DNS_CNAME_CHAIN_MAX && i < g->n; i++)
                if (next_hop(zone, g, g->v[i].name, hop) && streq(hop, relname)) {
                        unsigned k = 1 + chain_into(zone, g, g->v[i].name, depth + 1);
                        best = k > best ? k : best;
                }
        return best;
}

typedef struct ConflictCtx {
        const DnsRecord *r;
        bool cname_there, other_there;
        char below[DNS_RECORD_NAME_MAX]; /* a stored name below r's name, "" if none */
} ConflictCtx;

static int conflict_cb(const DnsRecord *other, void *userdata) {
        ConflictCtx *cc = userdata;
        if (streq(other->type, "CNAME"))
                cc->cname_there = true;
        else
                cc->other_there = true;
        return 0;
}

static int below_cb(const DnsRecord *other, void *userdata) {
        ConflictCtx *cc = userdata;
        if (!cc->below[0] && is_below(other->name, cc->r->name))
                snprintf(cc->below, sizeof cc->below, "%s", other->name);
        return 0;
}

/* The CNAME graph rules: nothing below a CNAME (unbound answers a CNAME's whole subtree with it), no loops,
 * no chain longer than DNS_CNAME_CHAIN_MAX. */
static int check_cname_rules(Store *store, const Registry *reg, const char *zone, const DnsRecord *r, PicError *err) {
        DnsCnames g;
        int k = dns_cnames_load(store, &g);
        if (k < 0)
                return pic_error(err, k, NULL, "cannot read the stored records");
        for (size_t i = 0; i < g.n; i++)
                if (is_below(r->name, g.v[i].name)) {
                        k = pic_error(err, -EEXIST, "name", "\"%s\" lies below the CNAME \"%s\"; a CNAME's name can have no names below it",
                                      r->name, g.v[i].name);
                        goto out;
                }
        if (!streq(r->type, "CNAME"))
                goto out;
        for (size_t i = 0; i < reg->n; i++)
                for (const char *const *l = reg->endpoints[i]->dns_labels; l && *l; l++)
                        if (!streq(*l, "@") && is_below(r->name, *l)) {
                                k = pic_error(err, -EEXIST, "name",
                                              "\"%s\" lies below the service name \"%s\"; a CNAME is not allowed there",
                                              r->name, *l);
                                goto out;
                        }
        ConflictCtx cc = { .r = r };
        if ((k = store_dns_record_foreach(store, below_cb, &cc)) < 0) {
                k = pic_error(err, k, NULL, "cannot read the stored records");
                goto out;
        }
        if (cc.below[0]) {
                k = pic_error(err, -EEXIST, "name", "\"%s\" has names below it (\"%s\"); a CNAME's name can have none", r->name,
                              cc.below);
                goto out;
        }
        char cur[DNS_RECORD_NAME_MAX], next[DNS_RECORD_NAME_MAX];
        /* A name below a CNAME answers like the CNAME (unbound redirect zone): pointing there, or putting a
         * CNAME above where another one points, would hide a chain link (and a loop) from the walk below. */
        for (size_t i = 0; i < g.n; i++) {
                bool target_below = target_relname(zone, r->value, cur) && is_below(cur, g.v[i].name);
                bool other_below = target_relname(zone, g.v[i].target, next) && is_below(next, r->name);
                if (target_below || other_below) {
                        k = pic_error(err, -EEXIST, "value", "%s lies below the CNAME \"%s\"; CNAMEs may not point below a CNAME",
                                      target_below ? r->value : g.v[i].target, target_below ? g.v[i].name : r->name);
                        goto out;
                }
        }
        unsigned fwd = 0;
        if (target_relname(zone, r->value, cur)) {
                for (;;) {
                        if (streq(cur, r->name)) {
                                k = pic_error(err, -EEXIST, "value", "a CNAME from \"%s\" to %s would make a loop", r->name, r->value);
                                goto out;
                        }
                        if (fwd > DNS_CNAME_CHAIN_MAX || !next_hop(zone, &g, cur, next))
                                break;
                        memcpy(cur, next, sizeof cur);
                        fwd++;
                }
        }
        unsigned total = chain_into(zone, &g, r->name, 0) + 1 + fwd;
        if (total > DNS_CNAME_CHAIN_MAX)
                k = pic_error(err, -EEXIST, "value", "this CNAME would make a chain of %u CNAMEs; at most %d are allowed", total,
                              DNS_CNAME_CHAIN_MAX);
out:
        dns_cnames_done(&g);
        return k < 0 ? k : 0;
}

int dns_record_check_conflicts(Store *store, const Registry *reg, const char *zone, const DnsRecord *r,
                               PicError *err) {
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
        return check_cname_rules(store, reg, zone, r, err);
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

/* ---- mutations ---------------------------------------------------------------------------------------- */

typedef struct RecordChange {
        DnsRecord *rec;
        bool remove;
} RecordChange;

static int record_write(Cell *c, void *userdata, PicError *err) {
        RecordChange *rc = userdata;
        int r = rc->remove ? store_dns_record_delete(c->store, rc->rec->id) : store_dns_record_insert(c->store, rc->rec);
        if (r == -EEXIST)
                return pic_error(err, r, "value", "this %s record of \"%s\" exists already", rc->rec->type, rc->rec->name);
        return r < 0 ? pic_error(err, r, NULL, "cannot %s the record", rc->remove ? "delete" : "store") : 0;
}

static int record_apply(Cell *c, void *userdata, PicError *err) {
        RecordChange *rc = userdata;
        return cell_dns_record_changed(c, rc->remove ? rc->rec : NULL, rc->remove ? NULL : rc->rec, err);
}

/* Publishing a removal rebuilds the whole name from the store: after the rollback that mends a failed or
 * partial publish of either kind. */
static void record_undo(Cell *c, void *userdata, bool applied) {
        RecordChange *rc = userdata;
        PicError ignored = { 0 };
        if (cell_dns_record_changed(c, rc->rec, NULL, &ignored) < 0)
                log_error("dns: could not restore \"%s\" after a rollback: %s", rc->rec->name, ignored.message);
}

static const CellMutation record_mutation = {
        .what = "the DNS record", .write = record_write, .apply = record_apply, .undo = record_undo,
};

int dns_record_add(Cell *c, json_t *body, DnsRecord *ret, PicError *err) {
        char zone[DNS_ZONE_MAX], line[2000];
        DnsRecord rec = { 0 };
        int r = dns_zone_from_settings(c->settings, zone);
        if (r < 0)
                return pic_error(err, r, NULL, "the cell has no valid zone name");
        if ((r = dns_record_from_json(zone, body, &rec, err)) < 0 ||
            (r = dns_record_check_conflicts(c->store, &c->registry, zone, &rec, err)) < 0)
                return r;
        rec.created_at = wall_sec();
        /* unbound takes a data line of at most 2048 bytes (UNBOUND_CTL_LINE_MAX). */
        if (dns_record_to_rr(zone, &rec, line, sizeof line) < 0)
                return pic_error(err, -ENAMETOOLONG, "value", "the record is too long");
        RecordChange rc = { &rec, false };
        r = cell_mutate(c, &record_mutation, &rc, err);
        if (r >= 0)
                *ret = rec;
        return r;
}

int dns_record_remove(Cell *c, const char *id, DnsRecord *ret, PicError *err) {
        uint64_t v;
        if (parse_uint(id, 1, INT64_MAX, &v) < 0)
                return pic_error(err, -EINVAL, "id", "a record id is a positive integer");
        DnsRecord rec;
        int r = store_dns_record_get(c->store, (int64_t) v, &rec);
        if (r < 0)
                return r == -ENOENT ? pic_error(err, r, "id", "no DNS record with id %" PRIu64, v)
                                    : pic_error(err, r, NULL, "cannot read the record");
        RecordChange rc = { &rec, true };
        r = cell_mutate(c, &record_mutation, &rc, err);
        if (r >= 0)
                *ret = rec;
        return r;
}
