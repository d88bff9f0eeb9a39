/* The registry's clash checks and lookups (registry.h). Small linear tables: a cell has a dozen endpoints,
 * and every lookup is on a change or a render, never per packet. */
#include "core/registry.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "basic/parse.h"
#include "basic/util.h"

static bool label_ok(const char *l) {
        return streq(l, "@") || name_is_valid(l);
}

__attribute__((format(printf, 4, 5))) static int clash(char *why, size_t size, int r, const char *fmt, ...) {
        if (why) {
                va_list ap;
                va_start(ap, fmt);
                vsnprintf(why, size, fmt, ap);
                va_end(ap);
        }
        return r;
}

/* http_fast_methods: upper-case method names, at least one; http_fast_not_below: "/" then a path Caddy's path
 * matcher takes literally (no wildcard, no trailing slash), short enough for the proxy's buffer. */
static bool fast_ok(const ServiceEndpoint *e) {
        if (!e->http_fast_methods)
                return !e->http_fast_not_below;
        if (!e->http_fast_methods[0])
                return false;
        for (const char *const *m = e->http_fast_methods; *m; m++) {
                size_t n = strlen(*m);
                if (n == 0 || n > 16 || strspn(*m, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != n)
                        return false;
        }
        const char *b = e->http_fast_not_below;
        size_t n = b ? strlen(b) : 0;
        return !b || (n >= 2 && n < 200 && b[0] == '/' && b[n - 1] != '/' && !strpbrk(b, "*?[]%{}\\"));
}

int registry_add(Registry *r, const char *owner, const ServiceEndpoint *e, char *why, size_t size) {
        if (!e->name || !name_is_valid(e->name))
                return clash(why, size, -EINVAL, "%s: endpoint name \"%s\" is not a valid name", owner,
                             e->name ? e->name : "");
        if (e->vip_offset > VIP_OFFSET_MAX)
                return clash(why, size, -EINVAL, "%s: endpoint %s: virtual IP offset %u is above %d", owner,
                             e->name, e->vip_offset, VIP_OFFSET_MAX);
        if (e->grantable && (e->grant_bit >= REGISTRY_GRANTS_MAX || e->vip_offset == 0))
                return clash(why, size, -EINVAL, "%s: endpoint %s: a grant needs a virtual IP and a bit below %d",
                             owner, e->name, REGISTRY_GRANTS_MAX);
        /* A grant hides the endpoint's names from peers without it: the apex cannot be hidden that way. */
        for (const char *const *l = e->dns_labels; l && *l; l++)
                if (!label_ok(*l) || e->vip_offset == 0 || (e->grantable && streq(*l, "@")))
                        return clash(why, size, -EINVAL, "%s: endpoint %s: DNS name \"%s\" needs a valid label and a "
                                     "virtual IP", owner, e->name, *l);
        if (!fast_ok(e))
                return clash(why, size, -EINVAL, "%s: endpoint %s: in-process methods need HTTP method names and a "
                             "path without wildcards below which they do not apply", owner, e->name);
        if (r->n >= REGISTRY_ENDPOINTS_MAX)
                return clash(why, size, -ENOSPC, "%s: endpoint %s: the registry is full", owner, e->name);
        for (size_t i = 0; i < r->n; i++) {
                const ServiceEndpoint *o = r->endpoints[i];
                if (streq(o->name, e->name))
                        return clash(why, size, -EEXIST, "endpoint name \"%s\" is declared by both %s and %s", e->name,
                                     r->owners[i], owner);
                if (e->vip_offset && o->vip_offset == e->vip_offset)
                        return clash(why, size, -EEXIST, "endpoint %s takes the virtual IP offset of %s (module %s)",
                                     e->name, o->name, r->owners[i]);
                if (e->grantable && o->grantable && o->grant_bit == e->grant_bit)
                        return clash(why, size, -EEXIST, "endpoint %s takes the grant bit of %s (module %s)", e->name,
                                     o->name, r->owners[i]);
                for (const char *const *l = e->dns_labels; l && *l; l++)
                        for (const char *const *m = o->dns_labels; m && *m; m++)
                                if (streq(*l, *m))
                                        return clash(why, size, -EEXIST, "DNS name \"%s\" is declared by %s and %s", *l,
                                                     o->name, e->name);
        }
        r->endpoints[r->n] = e;
        r->owners[r->n++] = owner;
        if (e->grantable) {
                r->grants[e->grant_bit] = e;
                if (e->grant_bit + 1 > r->n_grant_bits)
                        r->n_grant_bits = e->grant_bit + 1;
        }
        return 0;
}

const ServiceEndpoint *registry_find(const Registry *r, const char *name) {
        for (size_t i = 0; name && i < r->n; i++)
                if (streq(r->endpoints[i]->name, name))
                        return r->endpoints[i];
        return NULL;
}

const ServiceEndpoint *registry_find_label(const Registry *r, const char *label) {
        for (size_t i = 0; label && i < r->n; i++)
                for (const char *const *l = r->endpoints[i]->dns_labels; l && *l; l++)
                        if (streq(*l, label))
                                return r->endpoints[i];
        return NULL;
}

int registry_vip_of(const ServiceEndpoint *e, const Cidr4 *range, uint32_t *ret) {
        if (!e || e->vip_offset == 0)
                return -ENOENT;
        return cidr4_host(range, e->vip_offset, ret);
}

int registry_vip(const Registry *r, const Cidr4 *range, const char *name, uint32_t *ret) {
        return registry_vip_of(registry_find(r, name), range, ret);
}

int registry_grant_from_string(const Registry *r, const char *name) {
        const ServiceEndpoint *e = registry_find(r, name);
        return e && e->grantable ? (int) e->grant_bit : -EINVAL;
}

const char *registry_grant_to_string(const Registry *r, unsigned bit) {
        return bit < REGISTRY_GRANTS_MAX && r->grants[bit] ? r->grants[bit]->name : NULL;
}

uint32_t registry_grant_mask(const Registry *r) {
        uint32_t m = 0;
        for (unsigned b = 0; b < REGISTRY_GRANTS_MAX; b++)
                if (r->grants[b])
                        m |= 1u << b;
        return m;
}

void registry_grant_names(const Registry *r, char *ret, size_t size) {
        size_t n = 0;
        ret[0] = '\0';
        for (unsigned b = 0; b < REGISTRY_GRANTS_MAX && n < size; b++)
                if (r->grants[b]) {
                        int k = snprintf(ret + n, size - n, "%s%s", n ? ", " : "", r->grants[b]->name);
                        if (k < 0)
                                break;
                        n += (size_t) k;
                }
}

unsigned registry_dns_views(const Registry *r) {
        return 1u << r->n_grant_bits;
}
