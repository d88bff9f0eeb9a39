/* The cell CA's life cycle: create or load the root, issue a leaf per named endpoint from the registry, renew
 * leaves at two thirds of their life (loop timer), re-issue after a cell_name/domain/range change, and tell the
 * modules that use the certificates (those reading "ca.leaf_days") to pick up the new files. */
#include "core/ca.h"

#include <dirent.h>
#include <sodium.h>
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
#include "basic/spawn.h"
#include "basic/strbuf.h"
#include "basic/time-util.h"
#include "basic/util.h"

#define ROOT_LIFETIME (10LL * 365 * 24 * 3600 + 3 * 24 * 3600) /* ten years, leap days included */
#define PEM_MAX (64 * 1024)
#define KEY_ROOT "root.key"
#define CERT_ROOT "root.pem"

typedef struct CaLeaf {
        char endpoint[64];
        bool have;
        CaCertInfo info;
        char *names;
        char *cert_path, *key_path;
        char root_fingerprint[CA_FINGERPRINT_STRLEN]; /* the root that signed it, as pic-ca checked */
} CaLeaf;

/* Only facts and the root's PEM/DER live here: every OpenSSL operation runs in pic-ca, so that picd never maps
 * libcrypto (its pages were 4 MiB of picd's memory at rest, issue 7). */
typedef struct CaState {
        Cell *cell;
        bool have_root;
        char *root_pem;
        unsigned char *root_der;
        size_t root_der_len;
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
        free(l->names);
        free(l->cert_path);
        free(l->key_path);
        l->names = l->cert_path = l->key_path = NULL;
        l->have = false;
}

static void root_clear(CaState *st) {
        free(st->root_pem);
        free(st->root_der);
        free(st->root_names);
        st->root_pem = st->root_names = NULL;
        st->root_der = NULL;
        st->root_der_len = 0;
        st->have_root = false;
        for (size_t i = 0; i < st->n_leaves; i++)
                leaf_clear(&st->leaves[i]);
        st->n_leaves = 0;
}

static char *ca_path(Cell *c, const char *rel) {
        char *p = NULL;
        return strdup_printf(&p, "%s/keys/ca%s%s", c->state_dir, rel ? "/" : "", rel ? rel : "") < 0 ? NULL : p;
}

/* Who reaches what: Caddy (its own user, CELL_PROXY_USER) passes keys/ and keys/ca (0710 root:caddy: it may not
 * list them) to read the leaves (keys/ca/leaves 2750 root:caddy, keys 0640 root:caddy); the root's key stays 0600
 * root's. Set at every sync, since a restore or an older picd leaves them root's alone. */
static int ca_modes(Cell *c, PicError *err) {
        _cleanup_free_ char *keys = NULL, *dir = ca_path(c, NULL), *leaves = ca_path(c, "leaves"), *rk = ca_path(c, KEY_ROOT);
        if (strdup_printf(&keys, "%s/keys", c->state_dir) < 0 || !dir || !leaves || !rk)
                return -ENOMEM;
        const char *path = keys;
        int r = cell_proxy_dir(keys, 0710);
        if (r >= 0 && (r = cell_proxy_dir(path = dir, 0710)) >= 0)
                r = cell_proxy_dir(path = leaves, 02750);
        if (r >= 0 && chmod(path = rk, 0600) < 0 && errno != ENOENT)
                r = negative_errno();
        if (r < 0)
                return pic_error(err, r, NULL, "cannot set the owner and mode of %s: %s", path, strerror(-r));
        DIR *d = opendir(leaves);
        if (!d) {
                r = negative_errno();
                return pic_error(err, r, NULL, "cannot read %s: %s", leaves, strerror(-r));
        }
        struct dirent *de;
        while ((de = readdir(d))) {
                size_t n = strlen(de->d_name);
                _cleanup_free_ char *kp = NULL;
                if (n < 5 || !streq(de->d_name + n - 4, ".key"))
                        continue;
                if (strdup_printf(&kp, "%s/%s", leaves, de->d_name) < 0) {
                        r = -ENOMEM;
                        break;
                }
                r = cell_proxy_file(kp, 0640);
                if (r < 0) {
                        pic_error(err, r, NULL, "cannot set the owner and mode of %s: %s", kp, strerror(-r));
                        break;
                }
        }
        closedir(d);
        return r;
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

/* pic-ca: PIC_CA_BIN (absolute), else beside picd's own binary, where the build and the install put it. */
static const char *tool_path(void) {
        static char path[4200];
        return path[0] ? path : spawn_helper_path("PIC_CA_BIN", "pic-ca", "/usr/lib/pic/pic-ca", path, sizeof path);
}

/* Runs pic-ca with args (never a shell; every name was validated by the settings and registry grammars) and
 * parses the JSON object it prints. Bounded in time: a stuck helper is killed. */
static int tool_run(const char *const *args, size_t n, json_t **ret, PicError *err) {
        const char *argv[64];
        if (n + 2 > ELEMENTSOF(argv))
                return -E2BIG;
        argv[0] = tool_path();
        memcpy(argv + 1, args, n * sizeof *args);
        argv[n + 1] = NULL;
        _cleanup_free_ char *out = NULL;
        int status = 0;
        int r = spawn_capture((char *const *) argv, 30 * USEC_PER_SEC, 64 * 1024, &out, &status);
        if (r < 0)
                return pic_error(err, r, NULL, "cannot run %s: %s", argv[0], strerror(-r));
        if (status != 0) {
                size_t l = out ? strlen(out) : 0;
                while (l > 0 && out[l - 1] == '\n')
                        out[--l] = '\0';
                return pic_error(err, -EIO, NULL, "%s %s failed (status %d): %s", argv[0], args[0], status,
                                 out ? out : "");
        }
        json_t *o = out ? json_loads(out, 0, NULL) : NULL;
        if (!json_is_object(o)) {
                json_decref(o);
                return pic_error(err, -EIO, NULL, "%s %s printed no facts", argv[0], args[0]);
        }
        *ret = o;
        return 0;
}

/* The facts pic-ca prints about a certificate. */
static int info_from_json(json_t *o, CaCertInfo *info, char **ret_names) {
        const char *serial = json_string_value(json_object_get(o, "serial"));
        const char *fp = json_string_value(json_object_get(o, "fingerprint"));
        const char *names = json_string_value(json_object_get(o, "names"));
        json_t *nb = json_object_get(o, "not_before"), *na = json_object_get(o, "not_after");
        if (!serial || !fp || !names || !json_is_integer(nb) || !json_is_integer(na) ||
            strlen(serial) >= sizeof info->serial || strlen(fp) >= sizeof info->fingerprint)
                return -EIO;
        char *n = strdup(names);
        if (!n)
                return -ENOMEM;
        *info = (CaCertInfo) { .not_before = json_integer_value(nb), .not_after = json_integer_value(na) };
        snprintf(info->serial, sizeof info->serial, "%s", serial);
        snprintf(info->fingerprint, sizeof info->fingerprint, "%s", fp);
        *ret_names = n;
        return 0;
}

/* pic-ca's NAME arguments for names: "DNS:<name>", "IP:<a.b.c.d>/<prefix>". */
static size_t names_args(const CaNames *n, char buf[][300], const char **args) {
        size_t k = 0;
        for (size_t i = 0; i < n->n_dns; i++, k++) {
                snprintf(buf[k], 300, "DNS:%s", n->dns[i]);
                args[k] = buf[k];
        }
        for (size_t i = 0; i < n->n_ip; i++, k++) {
                char ip[IPV4_STRLEN];
                snprintf(buf[k], 300, "IP:%s/%u", ipv4_format(cidr4_network(&n->ip[i]), ip), (unsigned) n->ip[i].prefix);
                args[k] = buf[k];
        }
        return k;
}

/* The DER of a one-certificate PEM: its base64 body (sodium decodes it; no OpenSSL in picd). */
static int pem_to_der(const char *pem, unsigned char **ret, size_t *ret_len) {
        static const char begin[] = "-----BEGIN CERTIFICATE-----", end[] = "-----END CERTIFICATE-----";
        const char *b = strstr(pem, begin), *e = b ? strstr(b, end) : NULL;
        if (!e)
                return -EINVAL;
        b += strlen(begin);
        size_t max = (size_t) (e - b) / 4 * 3 + 3, len = 0;
        unsigned char *der = malloc(max);
        if (!der)
                return -ENOMEM;
        const char *stop = NULL;
        if (sodium_base642bin(der, max, b, (size_t) (e - b), "\r\n", &len, &stop, sodium_base64_VARIANT_ORIGINAL) != 0 ||
            stop != e || len == 0) {
                free(der);
                return -EINVAL;
        }
        *ret = der;
        *ret_len = len;
        return 0;
}

/* Takes the root at CERT_ROOT with the facts pic-ca reported. */
static int root_adopt(CaState *st, json_t *facts) {
        _cleanup_free_ char *cp = ca_path(st->cell, CERT_ROOT);
        char *pem = NULL, *names = NULL;
        unsigned char *der = NULL;
        size_t len = 0, der_len = 0;
        CaCertInfo info;
        int r = cp ? read_file_full(cp, PEM_MAX, &pem, &len) : -ENOMEM;
        if (r >= 0)
                r = pem_to_der(pem, &der, &der_len);
        if (r >= 0)
                r = info_from_json(facts, &info, &names);
        if (r < 0) {
                free(pem);
                free(der);
                return r;
        }
        root_clear(st);
        st->have_root = true;
        st->root_pem = pem;
        st->root_der = der;
        st->root_der_len = der_len;
        st->root_names = names;
        st->root_info = info;
        return 0;
}

static void root_load(CaState *st) {
        Cell *c = st->cell;
        _cleanup_free_ char *kp = ca_path(c, KEY_ROOT), *cp = ca_path(c, CERT_ROOT);
        if (!kp || !cp || access(kp, F_OK) < 0 || access(cp, F_OK) < 0)
                return;
        json_t *facts = NULL;
        PicError err = { 0 };
        const char *args[] = { "info", cp, kp };
        int r = tool_run(args, ELEMENTSOF(args), &facts, &err);
        if (r >= 0 && json_is_true(json_object_get(facts, "key_matches")) && root_adopt(st, facts) >= 0) {
                json_decref(facts);
                return;
        }
        json_decref(facts);
        log_warn("ca: %s does not hold a usable root; a new one is made%s%s", cp, err.message[0] ? ": " : "",
                 err.message);
}

static int root_issue(CaState *st, const char *zone, const CaNames *names, PicError *err) {
        Cell *c = st->cell;
        _cleanup_free_ char *cn = NULL;
        _cleanup_free_ char *dir = ca_path(c, NULL), *leaves = ca_path(c, "leaves");
        _cleanup_free_ char *kp = ca_path(c, KEY_ROOT), *cp = ca_path(c, CERT_ROOT);
        if (!dir || !leaves || !kp || !cp || strdup_printf(&cn, "pic cell CA %s", zone) < 0)
                return -ENOMEM;
        int r = mkdir_p(dir, 0700);
        if (r >= 0)
                r = mkdir_p(leaves, 0700);
        if (r < 0)
                return pic_error(err, r, NULL, "cannot create %s: %s", dir, strerror(-r));
        char nb[24], life[24], buf[2 * CA_NAMES_MAX][300];
        snprintf(nb, sizeof nb, "%lld", (long long) time(NULL) - 300);
        snprintf(life, sizeof life, "%lld", (long long) ROOT_LIFETIME);
        const char *args[6 + 2 * CA_NAMES_MAX] = { "root", kp, cp, cn, nb, life };
        size_t n = 6 + names_args(names, buf, args + 6);
        json_t *facts = NULL;
        /* pic-ca writes the key first: a root certificate on disk without its key would be replaced at the next start. */
        r = tool_run(args, n, &facts, err);
        if (r < 0)
                return r;
        r = root_adopt(st, facts);
        json_decref(facts);
        if (r < 0)
                return pic_error(err, r, NULL, "cannot read the new root %s", cp);
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

static int leaf_adopt(CaState *st, CaLeaf *l, json_t *facts, const char *cert_path, const char *key_path) {
        CaCertInfo info;
        char *names = NULL, *cp = strdup(cert_path), *kp = strdup(key_path);
        int r = cp && kp ? info_from_json(facts, &info, &names) : -ENOMEM;
        if (r < 0) {
                free(cp);
                free(kp);
                return r;
        }
        leaf_clear(l);
        l->have = true;
        l->info = info;
        l->names = names;
        l->cert_path = cp;
        l->key_path = kp;
        snprintf(l->root_fingerprint, sizeof l->root_fingerprint, "%s", st->root_info.fingerprint);
        return 0;
}

/* After a picd restart: the newest leaf on disk for this endpoint that the current root signed. */
static void leaf_load(CaState *st, CaLeaf *l) {
        _cleanup_free_ char *dir = ca_path(st->cell, "leaves"), *rp = ca_path(st->cell, CERT_ROOT);
        DIR *d = dir && rp ? opendir(dir) : NULL;
        if (!d)
                return;
        size_t plen = strlen(l->endpoint);
        struct dirent *de;
        while ((de = readdir(d))) {
                size_t n = strlen(de->d_name);
                if (strncmp(de->d_name, l->endpoint, plen) != 0 || de->d_name[plen] != '-' || n < 5 ||
                    !streq(de->d_name + n - 4, ".pem"))
                        continue;
                _cleanup_free_ char *cp = NULL, *kp = NULL;
                if (strdup_printf(&cp, "%s/%s", dir, de->d_name) < 0 || strdup_printf(&kp, "%s/%.*s.key", dir, (int) (n - 4),
                                                                              de->d_name) < 0)
                        break;
                if (access(kp, R_OK) < 0)
                        continue;
                json_t *facts = NULL;
                PicError err = { 0 };
                const char *args[] = { "info", cp, "-", rp };
                if (tool_run(args, ELEMENTSOF(args), &facts, &err) < 0) {
                        log_warn("ca: skipping %s: %s", cp, err.message);
                        continue;
                }
                json_t *nb = json_object_get(facts, "not_before");
                if (json_is_true(json_object_get(facts, "issued_by")) && json_is_integer(nb) &&
                    (!l->have || json_integer_value(nb) > l->info.not_before))
                        (void) leaf_adopt(st, l, facts, cp, kp);
                json_decref(facts);
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
        int64_t life = leaf_lifetime(c);
        int64_t back = backdate(life);
        _cleanup_free_ char *dir = ca_path(c, "leaves"), *rkp = ca_path(c, KEY_ROOT), *rcp = ca_path(c, CERT_ROOT);
        if (!dir || !rkp || !rcp)
                return -ENOMEM;
        int r = mkdir_p(dir, 0700);
        if (r < 0)
                return pic_error(err, r, NULL, "cannot create %s: %s", dir, strerror(-r));
        char nb[24], lf[24], buf[2 * CA_NAMES_MAX][300];
        snprintf(nb, sizeof nb, "%lld", (long long) time(NULL) - back);
        snprintf(lf, sizeof lf, "%lld", (long long) (life + back));
        const char *args[7 + 2 * CA_NAMES_MAX] = { "leaf", rkp, rcp, dir, l->endpoint, nb, lf };
        size_t n = 7 + names_args(names, buf, args + 7);
        json_t *facts = NULL;
        r = tool_run(args, n, &facts, err);
        if (r < 0)
                return r;
        const char *cp = json_string_value(json_object_get(facts, "cert"));
        const char *kp = json_string_value(json_object_get(facts, "key"));
        char previous[CA_SERIAL_STRLEN] = "";
        if (l->have)
                snprintf(previous, sizeof previous, "%s", l->info.serial);
        r = cp && kp ? leaf_adopt(st, l, facts, cp, kp) : -EIO;
        json_decref(facts);
        if (r < 0)
                return pic_error(err, r, NULL, "cannot issue the certificate of %s", l->endpoint);
        leaf_prune(st, l->endpoint, l->info.serial, previous[0] ? previous : NULL);
        log_info("ca: issued %s serial %s (%s), valid until %lld", l->endpoint, l->info.serial, l->names,
                 (long long) l->info.not_after);
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
                if (st->leaves[i].have && renew_at(&st->leaves[i]) < next)
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
        int m = ca_modes(c, err);
        if (m < 0)
                return m;
        if (!st->have_root)
                root_load(st);
        if (!st->have_root || !streq(st->root_names, want_s)) {
                if (st->have_root)
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
                bool due = !l->have || !streq(l->names, names_s) ||
                           !streq(l->root_fingerprint, st->root_info.fingerprint) ||
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
        if (!l || !l->have)
                return -ENOENT;
        if (ret_cert_path)
                *ret_cert_path = l->cert_path;
        if (ret_key_path)
                *ret_key_path = l->key_path;
        if (ret_info)
                *ret_info = l->info;
        return 0;
}

int cell_ca_root(Cell *c, const char **ret_pem, const unsigned char **ret_der, size_t *ret_der_len,
                 CaCertInfo *ret_info) {
        CaState *st = state_get(c);
        if (!st || !st->have_root)
                return -ENOENT;
        if (ret_pem)
                *ret_pem = st->root_pem;
        if (ret_der)
                *ret_der = st->root_der;
        if (ret_der_len)
                *ret_der_len = st->root_der_len;
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
        return strdup_printf(&url, "http://%s%s", ipv4_format(vip, ip), CA_ROOT_URL_PATH) < 0 ? NULL : url;
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
        if (!st || !st->have_root)
                return pic_error(err, -EHOSTDOWN, NULL, "the cell CA is not set up");
        json_t *leaves = json_array();
        for (size_t i = 0; i < st->n_leaves; i++) {
                const CaLeaf *l = &st->leaves[i];
                if (l->have)
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
