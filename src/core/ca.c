/* The cell CA's life cycle: create or load the root, issue a leaf per named endpoint from the registry, renew
 * leaves at two thirds of their life (loop timer), re-issue after a cell_name/domain/range change, and tell the
 * modules that use the certificates (those reading "ca.leaf_days") to pick up the new files. */
#include "core/ca.h"

#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "basic/fileio.h"
#include "basic/log.h"
#include "basic/strbuf.h"
#include "basic/time-util.h"
#include "basic/util.h"

#define ROOT_LIFETIME (10LL * 365 * 24 * 3600 + 3 * 24 * 3600) /* ten years, leap days included */
#define PEM_MAX (64 * 1024)
#define KEY_ROOT "root.key"
#define CERT_ROOT "root.pem"

/* A formatted string in a new allocation: -1 (and *ret NULL) when out of memory. */
static int _printf_(2, 3) format_alloc(char **ret, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(NULL, 0, fmt, ap);
        va_end(ap);
        *ret = n >= 0 ? malloc((size_t) n + 1) : NULL;
        if (!*ret)
                return -1;
        va_start(ap, fmt);
        vsnprintf(*ret, (size_t) n + 1, fmt, ap);
        va_end(ap);
        return n;
}

typedef struct CaLeaf {
        char endpoint[64];
        CaCert *cert;
        CaCertInfo info;
        char *names;
        char *cert_path, *key_path;
} CaLeaf;

typedef struct CaState {
        Cell *cell;
        CaKey *root_key;
        CaCert *root;
        char *root_pem;
        CaCertInfo root_info;
        char *root_names;
        CaLeaf leaves[REGISTRY_ENDPOINTS_MAX];
        size_t n_leaves;
        LoopTimer *timer;
} CaState;

static int v_leaf_seconds(const char *key, json_t *value, PicError *err) {
        json_int_t v = json_integer_value(value);
        if (v != 0 && v < 60)
                return pic_error(err, -EINVAL, key, "%s must be 0 (use ca.leaf_days) or at least 60", key);
        return 0;
}

static const SettingDef settings[] = {
        { "ca.leaf_days", SETTING_INT, "90", NULL, 1, 397, false,
          "Lifetime of the services' TLS certificates in days; each is renewed at two thirds of it" },
        { "ca.leaf_seconds", SETTING_INT, "0", v_leaf_seconds, 0, 397LL * 86400, false,
          "When not 0, the certificates' lifetime in seconds instead of ca.leaf_days (at least 60; for trials and tests)" },
};

static const char *const watches[] = { "cell_name", "domain", "ip_range", "wireguard.address", NULL };

static CaState *state_get(Cell *c) {
        void **slot = cell_service_data(c, CA_SERVICE);
        return slot ? *slot : NULL;
}

static void leaf_clear(CaLeaf *l) {
        l->cert = ca_cert_free(l->cert);
        free(l->names);
        free(l->cert_path);
        free(l->key_path);
        l->names = l->cert_path = l->key_path = NULL;
}

static void root_clear(CaState *st) {
        st->root_key = ca_key_free(st->root_key);
        st->root = ca_cert_free(st->root);
        free(st->root_pem);
        free(st->root_names);
        st->root_pem = st->root_names = NULL;
        for (size_t i = 0; i < st->n_leaves; i++)
                leaf_clear(&st->leaves[i]);
        st->n_leaves = 0;
}

static char *ca_path(Cell *c, const char *rel) {
        char *p = NULL;
        return format_alloc(&p, "%s/keys/ca%s%s", c->state_dir, rel ? "/" : "", rel ? rel : "") < 0 ? NULL : p;
}

/* A few minutes of back-dating for devices whose clock runs late, except for very short trial lifetimes. */
static int64_t backdate(int64_t life) {
        return life >= 86400 ? 300 : 0;
}

static int64_t leaf_lifetime(Cell *c) {
        int64_t s = settings_int(c->settings, "ca.leaf_seconds");
        return s > 0 ? s : settings_int(c->settings, "ca.leaf_days") * 86400;
}

/* The names the root may vouch for: the cell's zone and its two address ranges. */
static int wanted_root(Cell *c, char zone[static 256], CaNames *ret) {
        Cidr4 range, vpn;
        if (settings_ip_range(c->settings, &range) < 0)
                return -EINVAL;
        if (snprintf(zone, 256, "%s.%s", settings_str(c->settings, "cell_name"), settings_str(c->settings, "domain")) >= 256)
                return -ENAMETOOLONG;
        CaNames n = { .dns = { zone }, .n_dns = 1 };
        n.ip[n.n_ip++] = (Cidr4) { cidr4_network(&range), range.prefix };
        if (settings_vpn_address(c->settings, &vpn) == 0)
                n.ip[n.n_ip++] = (Cidr4) { cidr4_network(&vpn), vpn.prefix };
        *ret = n;
        return 0;
}

/* An endpoint's leaf names: every DNS label under the zone, then its virtual IP. -ENOENT: it gets none. */
static int wanted_leaf(Cell *c, const ServiceEndpoint *e, const char *zone, char names[][256], CaNames *ret) {
        Cidr4 range;
        uint32_t vip;
        if (!e->dns_labels || !e->dns_labels[0] || settings_ip_range(c->settings, &range) < 0 ||
            registry_vip_of(e, &range, &vip) < 0)
                return -ENOENT;
        CaNames n = { 0 };
        /* The first label names the service (CN); the apex comes last so "api.<zone>" leads for the API. */
        for (const char *const *l = e->dns_labels; *l && n.n_dns < CA_NAMES_MAX - 1; l++)
                if (!streq(*l, "@")) {
                        if (snprintf(names[n.n_dns], 256, "%s.%s", *l, zone) >= 256)
                                return -ENAMETOOLONG;
                        n.dns[n.n_dns] = names[n.n_dns];
                        n.n_dns++;
                }
        for (const char *const *l = e->dns_labels; *l; l++)
                if (streq(*l, "@") && n.n_dns < CA_NAMES_MAX) {
                        if (snprintf(names[n.n_dns], 256, "%s", zone) >= 256)
                                return -ENAMETOOLONG;
                        n.dns[n.n_dns] = names[n.n_dns];
                        n.n_dns++;
                }
        n.ip[n.n_ip++] = (Cidr4) { vip, 32 };
        *ret = n;
        return 0;
}

static int write_pem(const char *path, const char *pem, mode_t mode, PicError *err) {
        int r = write_file_atomic(path, pem, strlen(pem), mode, NULL, NULL, err);
        return r < 0 ? pic_error(err, r, NULL, "cannot write %s: %s", path, strerror(-r)) : 0;
}

static int root_adopt(CaState *st, CaKey *key, CaCert *cert) {
        char *pem = NULL, *names = NULL;
        CaCertInfo info;
        int r = ca_cert_to_pem(cert, &pem);
        if (r >= 0)
                r = ca_cert_names_string(cert, &names);
        if (r >= 0)
                r = ca_cert_info(cert, &info);
        if (r < 0) {
                free(pem);
                free(names);
                return r;
        }
        root_clear(st);
        st->root_key = key;
        st->root = cert;
        st->root_pem = pem;
        st->root_names = names;
        st->root_info = info;
        return 0;
}

static void root_load(CaState *st) {
        Cell *c = st->cell;
        _cleanup_free_ char *kp = ca_path(c, KEY_ROOT), *cp = ca_path(c, CERT_ROOT);
        _cleanup_free_ char *kpem = NULL, *cpem = NULL;
        size_t kl = 0, cl = 0;
        if (!kp || !cp || read_file_full(kp, PEM_MAX, &kpem, &kl) < 0 || read_file_full(cp, PEM_MAX, &cpem, &cl) < 0)
                return;
        CaKey *key = NULL;
        CaCert *cert = NULL;
        if (ca_key_from_pem(kpem, kl, &key) >= 0 && ca_cert_from_pem(cpem, cl, &cert) >= 0 &&
            ca_key_matches(cert, key) && root_adopt(st, key, cert) >= 0) {
                explicit_bzero(kpem, kl);
                return;
        }
        explicit_bzero(kpem, kl);
        log_warn("ca: %s does not hold a usable root; a new one is made", cp);
        ca_key_free(key);
        ca_cert_free(cert);
}

static int root_issue(CaState *st, const char *zone, const CaNames *names, PicError *err) {
        Cell *c = st->cell;
        CaKey *key = NULL;
        CaCert *cert = NULL;
        _cleanup_free_ char *cn = NULL, *kpem = NULL, *cpem = NULL;
        _cleanup_free_ char *dir = ca_path(c, NULL), *leaves = ca_path(c, "leaves");
        _cleanup_free_ char *kp = ca_path(c, KEY_ROOT), *cp = ca_path(c, CERT_ROOT);
        if (!dir || !leaves || !kp || !cp || format_alloc(&cn, "pic cell CA %s", zone) < 0)
                return -ENOMEM;
        int r = mkdir_p(dir, 0700);
        if (r >= 0)
                r = mkdir_p(leaves, 0700);
        if (r < 0)
                return pic_error(err, r, NULL, "cannot create %s: %s", dir, strerror(-r));
        r = ca_key_generate(&key);
        if (r >= 0)
                r = ca_root_create(key, cn, names, (int64_t) time(NULL) - 300, ROOT_LIFETIME, &cert);
        if (r >= 0)
                r = ca_key_to_pem(key, &kpem);
        if (r >= 0)
                r = ca_cert_to_pem(cert, &cpem);
        if (r < 0) {
                ca_key_free(key);
                ca_cert_free(cert);
                return pic_error(err, r, NULL, "cannot create the cell's root certificate");
        }
        /* The key first: a root certificate on disk without its key would be replaced at the next start. */
        r = write_pem(kp, kpem, 0600, err);
        explicit_bzero(kpem, strlen(kpem));
        if (r >= 0)
                r = write_pem(cp, cpem, 0644, err);
        if (r >= 0)
                r = root_adopt(st, key, cert);
        if (r < 0) {
                ca_key_free(key);
                ca_cert_free(cert);
                return r;
        }
        log_info("ca: new root %s for %s (fingerprint %s)", st->root_info.serial, st->root_names,
                 st->root_info.fingerprint);
        return 1;
}

static CaLeaf *leaf_find(CaState *st, const char *endpoint) {
        for (size_t i = 0; i < st->n_leaves; i++)
                if (streq(st->leaves[i].endpoint, endpoint))
                        return &st->leaves[i];
        return NULL;
}

static int leaf_adopt(CaLeaf *l, CaCert *cert, const char *cert_path, const char *key_path) {
        CaCertInfo info;
        char *names = NULL, *cp = strdup(cert_path), *kp = strdup(key_path);
        int r = cp && kp ? ca_cert_info(cert, &info) : -ENOMEM;
        if (r >= 0)
                r = ca_cert_names_string(cert, &names);
        if (r < 0) {
                free(cp);
                free(kp);
                return r;
        }
        leaf_clear(l);
        l->cert = cert;
        l->info = info;
        l->names = names;
        l->cert_path = cp;
        l->key_path = kp;
        return 0;
}

/* After a picd restart: the newest leaf on disk for this endpoint that the current root signed. */
static void leaf_load(CaState *st, CaLeaf *l) {
        _cleanup_free_ char *dir = ca_path(st->cell, "leaves");
        DIR *d = dir ? opendir(dir) : NULL;
        if (!d)
                return;
        size_t plen = strlen(l->endpoint);
        struct dirent *de;
        while ((de = readdir(d))) {
                size_t n = strlen(de->d_name);
                if (strncmp(de->d_name, l->endpoint, plen) != 0 || de->d_name[plen] != '-' || n < 5 ||
                    !streq(de->d_name + n - 4, ".pem"))
                        continue;
                _cleanup_free_ char *cp = NULL, *kp = NULL, *pem = NULL;
                size_t len;
                if (format_alloc(&cp, "%s/%s", dir, de->d_name) < 0 || format_alloc(&kp, "%s/%.*s.key", dir, (int) (n - 4),
                                                                              de->d_name) < 0)
                        break;
                CaCert *cert = NULL;
                if (read_file_full(cp, PEM_MAX, &pem, &len) < 0 || ca_cert_from_pem(pem, len, &cert) < 0)
                        continue;
                CaCertInfo info;
                if (access(kp, R_OK) < 0 || !ca_cert_issued_by(cert, st->root) || ca_cert_info(cert, &info) < 0 ||
                    (l->cert && info.not_before <= l->info.not_before) || leaf_adopt(l, cert, cp, kp) < 0)
                        ca_cert_free(cert);
        }
        closedir(d);
}

/* Removes this endpoint's files but the current and the one before it (a proxy may still be loading that). */
static void leaf_prune(CaState *st, const char *endpoint, const char *keep1, const char *keep2) {
        _cleanup_free_ char *dir = ca_path(st->cell, "leaves");
        DIR *d = dir ? opendir(dir) : NULL;
        if (!d)
                return;
        size_t plen = strlen(endpoint);
        struct dirent *de;
        while ((de = readdir(d))) {
                if (strncmp(de->d_name, endpoint, plen) != 0 || de->d_name[plen] != '-')
                        continue;
                const char *stem = de->d_name + plen + 1;
                if ((keep1 && strncmp(stem, keep1, strlen(keep1)) == 0) ||
                    (keep2 && strncmp(stem, keep2, strlen(keep2)) == 0))
                        continue;
                (void) unlinkat(dirfd(d), de->d_name, 0);
        }
        closedir(d);
}

static int leaf_issue(CaState *st, CaLeaf *l, const CaNames *names, PicError *err) {
        Cell *c = st->cell;
        CaKey *key = NULL;
        CaCert *cert = NULL;
        _cleanup_free_ char *kpem = NULL, *cpem = NULL, *kp = NULL, *cp = NULL;
        int64_t life = leaf_lifetime(c);
        int64_t back = backdate(life);
        int r = ca_key_generate(&key);
        if (r >= 0)
                r = ca_leaf_create(st->root, st->root_key, key, names, (int64_t) time(NULL) - back, life + back, &cert);
        CaCertInfo info;
        if (r >= 0)
                r = ca_cert_info(cert, &info);
        if (r >= 0)
                r = ca_key_to_pem(key, &kpem);
        if (r >= 0)
                r = ca_cert_to_pem(cert, &cpem);
        ca_key_free(key);
        if (r < 0) {
                ca_cert_free(cert);
                return pic_error(err, r, NULL, "cannot issue the certificate of %s", l->endpoint);
        }
        _cleanup_free_ char *dir = ca_path(c, "leaves");
        /* The serial in the file names: a proxy that caches certificates by file name sees new files. */
        if (!dir || format_alloc(&kp, "%s/%s-%s.key", dir, l->endpoint, info.serial) < 0 ||
            format_alloc(&cp, "%s/%s-%s.pem", dir, l->endpoint, info.serial) < 0) {
                ca_cert_free(cert);
                return -ENOMEM;
        }
        r = mkdir_p(dir, 0700);
        if (r < 0)
                r = pic_error(err, r, NULL, "cannot create %s: %s", dir, strerror(-r));
        if (r >= 0)
                r = write_pem(kp, kpem, 0600, err);
        explicit_bzero(kpem, strlen(kpem));
        if (r >= 0)
                r = write_pem(cp, cpem, 0644, err);
        char previous[CA_SERIAL_STRLEN] = "";
        if (l->cert)
                snprintf(previous, sizeof previous, "%s", l->info.serial);
        if (r >= 0)
                r = leaf_adopt(l, cert, cp, kp);
        if (r < 0) {
                ca_cert_free(cert);
                return r;
        }
        leaf_prune(st, l->endpoint, info.serial, previous[0] ? previous : NULL);
        log_info("ca: issued %s serial %s (%s), valid until %lld", l->endpoint, info.serial, l->names,
                 (long long) info.not_after);
        return 1;
}

static int64_t renew_at(const CaLeaf *l) {
        return l->info.not_before + (l->info.not_after - l->info.not_before) * 2 / 3;
}

static void on_timer(Loop *loop, void *userdata);

static void arm_timer(CaState *st) {
        Cell *c = st->cell;
        if (st->timer)
                loop_cancel_timer(c->loop, st->timer);
        st->timer = NULL;
        int64_t next = INT64_MAX;
        for (size_t i = 0; i < st->n_leaves; i++)
                if (st->leaves[i].cert && renew_at(&st->leaves[i]) < next)
                        next = renew_at(&st->leaves[i]);
        if (next == INT64_MAX)
                return;
        int64_t delay = next - (int64_t) time(NULL);
        if (delay < 0)
                delay = 0;
        /* One second late rather than early: the wall clock and the loop's clock are different clocks. */
        if (loop_add_timer(c->loop, (uint64_t) (delay + 1) * USEC_PER_SEC, on_timer, st, &st->timer) < 0)
                log_error("ca: cannot arm the renewal timer");
}

/* Brings root and leaves in line with the settings and the registry; 1 if anything was issued. */
static int ca_sync(CaState *st, PicError *err) {
        Cell *c = st->cell;
        char zone[256];
        CaNames want;
        if (wanted_root(c, zone, &want) < 0)
                return pic_error(err, -EINVAL, "ip_range", "ip_range is not a valid range");
        _cleanup_free_ char *want_s = ca_names_string(&want);
        if (!want_s)
                return -ENOMEM;
        bool changed = false;
        if (!st->root)
                root_load(st);
        if (!st->root || !streq(st->root_names, want_s)) {
                if (st->root)
                        log_warn("ca: the cell's names changed (%s → %s): the root is re-issued; devices must "
                                   "install the new one", st->root_names, want_s);
                int r = root_issue(st, zone, &want, err);
                if (r < 0)
                        return r;
                changed = true;
        }
        int64_t now = (int64_t) time(NULL), life = leaf_lifetime(c);
        for (size_t i = 0; i < c->registry.n; i++) {
                const ServiceEndpoint *e = c->registry.endpoints[i];
                char buf[CA_NAMES_MAX][256];
                CaNames names;
                if (wanted_leaf(c, e, zone, buf, &names) < 0)
                        continue;
                CaLeaf *l = leaf_find(st, e->name);
                if (!l) {
                        if (st->n_leaves >= ELEMENTSOF(st->leaves))
                                continue;
                        l = &st->leaves[st->n_leaves++];
                        *l = (CaLeaf) { 0 };
                        snprintf(l->endpoint, sizeof l->endpoint, "%s", e->name);
                        leaf_load(st, l);
                }
                _cleanup_free_ char *names_s = ca_names_string(&names);
                if (!names_s)
                        return -ENOMEM;
                /* Re-issued when missing, for other names, from another root, due, or of another lifetime than
                 * the setting now asks (so a changed lifetime takes effect at once, either way). */
                bool due = !l->cert || !streq(l->names, names_s) || !ca_cert_issued_by(l->cert, st->root) ||
                           now + 1 >= renew_at(l) || l->info.not_after - l->info.not_before != life + backdate(life);
                if (!due)
                        continue;
                int r = leaf_issue(st, l, &names, err);
                if (r < 0)
                        return r;
                changed = true;
        }
        arm_timer(st);
        return changed;
}

/* A renewal is due: issue, then let every module that uses the certificates load the new files. */
static void on_timer(Loop *loop, void *userdata) {
        CaState *st = userdata;
        Cell *c = st->cell;
        st->timer = NULL;
        PicError err = { 0 };
        int r = ca_sync(st, &err);
        if (r < 0) {
                log_error("ca: renewal failed: %s; retrying in a minute", err.message[0] ? err.message : strerror(-r));
                (void) loop_add_timer(loop, 60 * USEC_PER_SEC, on_timer, st, &st->timer);
                return;
        }
        if (r == 0)
                return;
        for (size_t i = 0; i < c->n_services; i++) {
                const ServiceOps *ops = c->services[i];
                if (streq(ops->name, CA_SERVICE) || !cell_service_affected(c->settings, ops, "ca.leaf_days"))
                        continue;
                PicError e2 = { 0 };
                r = cell_service_sync(c, ops, false, &e2);
                if (r < 0)
                        log_error("ca: %s did not take the renewed certificates: %s", ops->name,
                                  e2.message[0] ? e2.message : strerror(-r));
        }
}

static int ca_setup(Cell *c, PicError *err) {
        void **slot = cell_service_data(c, CA_SERVICE);
        if (!slot)
                return -ENOENT;
        if (!*slot) {
                CaState *st = calloc(1, sizeof *st);
                if (!st)
                        return -ENOMEM;
                st->cell = c;
                *slot = st;
        }
        int r = ca_sync(*slot, err);
        return r < 0 ? r : 0;
}

static int ca_apply(Cell *c, bool files_changed, PicError *err) {
        CaState *st = state_get(c);
        if (!st)
                return ca_setup(c, err);
        int r = ca_sync(st, err);
        return r < 0 ? r : 0;
}

static void ca_teardown(Cell *c) {
        void **slot = cell_service_data(c, CA_SERVICE);
        CaState *st = slot ? *slot : NULL;
        if (!st)
                return;
        if (st->timer)
                loop_cancel_timer(c->loop, st->timer);
        root_clear(st);
        free(st);
        *slot = NULL;
}

int cell_ca_leaf(Cell *c, const char *endpoint, const char **ret_cert_path, const char **ret_key_path,
                 CaCertInfo *ret_info) {
        CaState *st = state_get(c);
        CaLeaf *l = st ? leaf_find(st, endpoint) : NULL;
        if (!l || !l->cert)
                return -ENOENT;
        if (ret_cert_path)
                *ret_cert_path = l->cert_path;
        if (ret_key_path)
                *ret_key_path = l->key_path;
        if (ret_info)
                *ret_info = l->info;
        return 0;
}

int cell_ca_root(Cell *c, const char **ret_pem, CaCert **ret_cert, CaCertInfo *ret_info) {
        CaState *st = state_get(c);
        if (!st || !st->root)
                return -ENOENT;
        if (ret_pem)
                *ret_pem = st->root_pem;
        if (ret_cert)
                *ret_cert = st->root;
        if (ret_info)
                *ret_info = st->root_info;
        return 0;
}

char *cell_ca_root_url(Cell *c) {
        Cidr4 range;
        uint32_t vip;
        char ip[IPV4_STRLEN], *url = NULL;
        if (settings_ip_range(c->settings, &range) < 0 || registry_vip(&c->registry, &range, "api", &vip) < 0)
                return NULL;
        return format_alloc(&url, "http://%s%s", ipv4_format(vip, ip), CA_ROOT_URL_PATH) < 0 ? NULL : url;
}

static json_t *names_json(const char *s, const char *prefix) {
        json_t *a = json_array();
        size_t pl = strlen(prefix);
        for (const char *p = s; p && *p;) {
                size_t n = strcspn(p, " ");
                if (n > pl && strncmp(p, prefix, pl) == 0)
                        json_array_append_new(a, json_stringn(p + pl, n - pl));
                p += n;
                p += strspn(p, " ");
        }
        return a;
}

static json_t *time_json(int64_t t) {
        char buf[32];
        struct tm tm;
        time_t tt = (time_t) t;
        gmtime_r(&tt, &tm);
        strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
        return json_string(buf);
}

int cell_ca_json(Cell *c, json_t **ret, PicError *err) {
        CaState *st = state_get(c);
        if (!st || !st->root)
                return pic_error(err, -EHOSTDOWN, NULL, "the cell CA is not set up");
        json_t *leaves = json_array();
        for (size_t i = 0; i < st->n_leaves; i++) {
                const CaLeaf *l = &st->leaves[i];
                if (l->cert)
                        json_array_append_new(leaves, json_pack("{s:s, s:s, s:o, s:o, s:o, s:o}", "service", l->endpoint,
                                                                "serial", l->info.serial, "dns", names_json(l->names, "DNS:"),
                                                                "ip", names_json(l->names, "IP:"), "not_before",
                                                                time_json(l->info.not_before), "not_after",
                                                                time_json(l->info.not_after)));
        }
        char *url = cell_ca_root_url(c);
        json_t *o = json_pack("{s:s, s:s, s:s, s:o, s:o, s:{s:b, s:o, s:o}, s:s?, s:o}", "pem", st->root_pem,
                              "fingerprint_sha256", st->root_info.fingerprint, "serial", st->root_info.serial,
                              "not_before", time_json(st->root_info.not_before), "not_after",
                              time_json(st->root_info.not_after), "name_constraints", "critical", 1, "permitted_dns",
                              names_json(st->root_names, "DNS:"), "permitted_ip", names_json(st->root_names, "IP:"),
                              "url", url, "leaves", leaves);
        free(url);
        if (!o)
                return -ENOMEM;
        *ret = o;
        return 0;
}

static int ca_status(Cell *c, json_t **ret, PicError *err) {
        return cell_ca_json(c, ret, err);
}

const ServiceOps cell_ca_ops = {
        .name = CA_SERVICE,
        .settings = settings,
        .n_settings = ELEMENTSOF(settings),
        .watches = watches,
        .setup = ca_setup,
        .apply = ca_apply,
        .status = ca_status,
        .teardown = ca_teardown,
        /* Its apply re-issues what a change needs and never restarts anything: run it for /api/config/apply too. */
        .apply_decides_restart = true,
};
