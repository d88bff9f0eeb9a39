/* `pic peer add|list|show|set|config|qr|rm`: VPN peers and their grants. A peer's wg-quick config (and its QR
 * code) holds the peer's private key: it goes from picd's reply to stdout or a 0600 file, and is wiped after. */
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "basic/fileio.h"
#include "basic/parse.h"
#include "cli/cli.h"
#include "cli/table.h"
#include "crypto/qr.h"
#include "crypto/secret.h"

#define PEER_PATH_MAX 320

/* /api/peers/NAME plus suffix. A name outside the grammar cannot exist, so it is a usage error here rather
 * than a path picd's router does not know; the escaping keeps it one path segment all the same. */
static int peer_path(const char *name, const char *suffix, char *buf, size_t size) {
        char seg[256], b[80];
        if (!name_is_valid(name) || client_path_escape(seg, sizeof seg, name) < 0)
                return cli_usage_error("\"%s\" is not a peer name (a-z, 0-9 and '-'); `pic peer list` shows them",
                                       text_sanitize(name, b, sizeof b));
        snprintf(buf, size, "/api/peers/%s%s", seg, suffix);
        return 0;
}

static int set_text(json_t *o, const char *key, const char *text, const char *option) {
        json_t *v = json_string(text);
        if (!v)
                return cli_usage_error("%s must be valid UTF-8 text", option);
        return json_object_set_new(o, key, v) < 0 ? -ENOMEM : 0;
}

/* "calendar, files" → ["calendar","files"]; "" → [] (no grants). The names themselves are picd's to check:
 * it refuses unknown ones and names the field. */
static int access_to_json(const char *text, json_t **ret) {
        json_t *arr = json_array();
        if (!arr)
                return -ENOMEM;
        for (const char *p = text; *p;) {
                size_t len = strcspn(p, ","), l = len;
                const char *s = p;
                while (l > 0 && *s == ' ')
                        s++, l--;
                while (l > 0 && s[l - 1] == ' ')
                        l--;
                if (json_array_append_new(arr, json_stringn(s, l)) < 0) {
                        json_decref(arr);
                        return cli_usage_error("--access must be valid UTF-8 text");
                }
                p += len;
                if (*p == ',')
                        p++;
        }
        *ret = arr;
        return 0;
}

/* The request body of add (with name) and set (without): only what was given on the command line. */
static int peer_body(const Cli *c, const char *name, json_t **ret) {
        json_t *o = json_object();
        if (!o)
                return -ENOMEM;
        int k = 0;
        if (name)
                k = set_text(o, "name", name, "the peer name");
        if (k >= 0 && c->access) {
                json_t *arr = NULL;
                k = access_to_json(c->access, &arr);
                if (k >= 0 && json_object_set_new(o, "service_access", arr) < 0)
                        k = -ENOMEM;
        }
        if (k >= 0 && c->ip)
                k = set_text(o, "ip", c->ip, "--ip");
        if (k >= 0 && c->public_key)
                k = set_text(o, "public_key", c->public_key, "--public-key");
        if (k >= 0 && c->description)
                k = set_text(o, "description", c->description, "--description");
        /* --owner '' gives the peer to nobody. */
        if (k >= 0 && c->owner)
                k = *c->owner ? set_text(o, "owner", c->owner, "--owner")
                              : (json_object_set_new(o, "owner", json_null()) < 0 ? -ENOMEM : 0);
        if (k >= 0 && c->enabled >= 0 && json_object_set_new(o, "enabled", json_boolean(c->enabled)) < 0)
                k = -ENOMEM;
        if (k >= 0 && c->route_all >= 0 && json_object_set_new(o, "route_all", json_boolean(c->route_all)) < 0)
                k = -ENOMEM;
        if (k < 0) {
                json_decref(o);
                return k;
        }
        *ret = o;
        return 0;
}

/* Grants as typed on the command line: "calendar,files", "-" for none. */
static const char *access_text(const json_t *arr, char *buf, size_t size) {
        size_t i, o = 0;
        json_t *g;
        buf[0] = '\0';
        json_array_foreach(arr, i, g) {
                char b[64];
                int k = snprintf(buf + o, size - o, "%s%s", i ? "," : "", json_text(g, b, sizeof b));
                if (k < 0 || (size_t) k >= size - o)
                        break;
                o += (size_t) k;
        }
        if (o == 0)
                snprintf(buf, size, "-");
        return buf;
}

static const char *yes_no(const json_t *v) {
        return json_is_true(v) ? "yes" : "no";
}

static const char *handshake_text(const json_t *live, char *buf, size_t size) {
        if (!live)
                return "-";
        int64_t t = json_integer_value(json_object_get(live, "latest_handshake"));
        if (t <= 0)
                return "never";
        char d[64];
        snprintf(buf, size, "%s ago", format_duration((int64_t) time(NULL) - t, d, sizeof d));
        return buf;
}

/* The live entry (endpoint, handshake, transfer) of the peer with this public key; NULL when unknown. */
static json_t *live_find(const ApiReply *live, const json_t *peer) {
        const char *key = json_string_value(json_object_get(peer, "public_key"));
        size_t i;
        json_t *e;
        if (!key)
                return NULL;
        json_array_foreach(json_object_get(live->json, "peers"), i, e) {
                const char *k = json_string_value(json_object_get(e, "public_key"));
                if (k && streq(k, key))
                        return e;
        }
        return NULL;
}

static void print_peer(const json_t *p, const json_t *live) {
        char b[512];
        printf("name:         %s\n", json_text(json_object_get(p, "name"), b, sizeof b));
        printf("ip:           %s\n", json_text(json_object_get(p, "ip"), b, sizeof b));
        printf("access:       %s\n", access_text(json_object_get(p, "service_access"), b, sizeof b));
        printf("enabled:      %s\n", yes_no(json_object_get(p, "enabled")));
        printf("route all:    %s\n", yes_no(json_object_get(p, "route_all")));
        const char *desc = json_string_value(json_object_get(p, "description"));
        printf("description:  %s\n", desc && *desc ? text_sanitize(desc, b, sizeof b) : "-");
        printf("owner:        %s\n", json_is_string(json_object_get(p, "owner"))
                                             ? json_text(json_object_get(p, "owner"), b, sizeof b) : "-");
        printf("public key:   %s\n", json_text(json_object_get(p, "public_key"), b, sizeof b));
        printf("keys:         %s\n", json_is_true(json_object_get(p, "keys_generated_by_cell"))
                                             ? "generated by the cell (its config holds the private key)"
                                             : "the peer's own (the cell never saw its private key)");
        printf("created:      %s\n", json_time_text(json_object_get(p, "created_at"), b, sizeof b));
        printf("updated:      %s\n", json_time_text(json_object_get(p, "updated_at"), b, sizeof b));
        if (live) {
                char b2[64];
                const json_t *ep = json_object_get(live, "endpoint");
                printf("endpoint:     %s\n", json_is_string(ep) ? json_text(ep, b, sizeof b) : "-");
                printf("handshake:    %s\n", handshake_text(live, b, sizeof b));
                printf("transfer:     %s received, ",
                       format_size((uint64_t) json_integer_value(json_object_get(live, "rx_bytes")), b2, sizeof b2));
                printf("%s sent\n",
                       format_size((uint64_t) json_integer_value(json_object_get(live, "tx_bytes")), b2, sizeof b2));
        }
}

/* Writes straight to the fd, bypassing stdio, so no copy of a secret stays behind in stdout's buffer. */
static int write_secret(int fd, const char *p, size_t n) {
        fflush(stdout);
        while (n > 0) {
                ssize_t k = write(fd, p, n);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k <= 0) {
                        int r = k < 0 ? negative_errno() : -EIO;
                        fprintf(stderr, "pic: cannot write the output: %s\n", strerror(-r));
                        return r;
                }
                p += k;
                n -= (size_t) k;
        }
        return 0;
}

/* picd's "warnings" (e.g. wireguard.endpoint unset) on stderr, where they do not mix with a config or JSON. */
static void print_warnings(const json_t *warnings) {
        size_t i;
        json_t *w;
        json_array_foreach(warnings, i, w) {
                char b[600];
                fprintf(stderr, "pic: warning: %s\n", json_text(w, b, sizeof b));
        }
}

/* Before handing out a config: the cell's warnings about it, if picd can tell (a failure costs nothing). */
static void print_config_warnings(Cli *c) {
        ApiReply st = { 0 };
        if (api_call_quiet(c, "GET", "/api/wireguard/status", &st) >= 0)
                print_warnings(json_object_get(st.json, "warnings"));
        api_reply_done(&st);
        /* Where the device gets the cell's root for HTTPS (over the tunnel), and how to check it. */
        ApiReply ca = { 0 };
        if (api_call_quiet(c, "GET", "/api/ca", &ca) >= 0) {
                char url[256], fp[128];
                fprintf(stderr, "The cell's CA certificate (install it for HTTPS to the cell's services): %s\n"
                                "  SHA-256 fingerprint: %s\n",
                        json_text(json_object_get(ca.json, "url"), url, sizeof url),
                        json_text(json_object_get(ca.json, "fingerprint_sha256"), fp, sizeof fp));
        }
        api_reply_done(&ca);
}

static int peer_add_or_set(Cli *c, const char *name, bool create) {
        char path[PEER_PATH_MAX], b[256];
        int k = create ? 0 : peer_path(name, "", path, sizeof path);
        if (k < 0)
                return k;
        json_t *body = NULL;
        k = peer_body(c, create ? name : NULL, &body);
        if (k < 0)
                return k;
        if (!create && json_object_size(body) == 0) {
                json_decref(body);
                return cli_usage_error("nothing to change: give --access, --enable or --disable, --route-all or "
                                       "--no-route-all, --ip, --public-key, --description or --owner");
        }
        ApiReply r = { 0 };
        k = api_call(c, create ? "POST" : "PUT", create ? "/api/peers" : path, body, &r);
        json_decref(body);
        if (k < 0)
                return k;
        print_warnings(json_object_get(r.json, "warnings"));
        if (c->json) {
                api_print_raw(&r);
                api_reply_done(&r);
                return 0;
        }
        const char *shown = text_sanitize(name, b, sizeof b);
        printf("%s peer %s.\n\n", create ? "Created" : "Changed", shown);
        print_peer(r.json, NULL);
        bool cell_keys = json_is_true(json_object_get(r.json, "keys_generated_by_cell"));
        if (create && cell_keys)
                printf("\nIts config holds its private key: `pic peer qr %s` shows it as a QR code for the WireGuard "
                       "app, `pic peer config %s` prints it as text.\n",
                       shown, shown);
        else if (create)
                printf("\nThe peer keeps its own private key: `pic peer config %s` prints its config, to complete "
                       "with that key on the device.\n",
                       shown);
        api_reply_done(&r);
        return 0;
}

int cmd_peer_add(Cli *c, char **args, size_t n) {
        return peer_add_or_set(c, args[0], true);
}

int cmd_peer_set(Cli *c, char **args, size_t n) {
        return peer_add_or_set(c, args[0], false);
}

int cmd_peer_list(Cli *c, char **args, size_t n) {
        ApiReply r = { 0 };
        int k = api_call(c, "GET", "/api/peers", NULL, &r);
        if (k < 0)
                return k;
        json_t *peers = json_object_get(r.json, "peers");
        if (c->json)
                api_print_raw(&r);
        else if (json_array_size(peers) == 0)
                printf("No peers. `pic peer add NAME --access calendar,files` creates one.\n");
        else {
                /* Handshakes come from the running interface; without it the list still shows what is stored. */
                ApiReply live = { 0 };
                bool have_live = api_call_quiet(c, "GET", "/api/wireguard/peers", &live) >= 0;
                static const char *const hdr[] = { "NAME", "IP", "ACCESS", "ENABLED", "HANDSHAKE" };
                _cleanup_table_ Table *t = NULL;
                k = table_new(hdr, ELEMENTSOF(hdr), &t);
                size_t i;
                json_t *p;
                json_array_foreach(peers, i, p) {
                        char b[256];
                        json_t *l = have_live ? live_find(&live, p) : NULL;
                        if (k >= 0)
                                k = table_add(t, json_text(json_object_get(p, "name"), b, sizeof b));
                        if (k >= 0)
                                k = table_add(t, json_text(json_object_get(p, "ip"), b, sizeof b));
                        if (k >= 0)
                                k = table_add(t, access_text(json_object_get(p, "service_access"), b, sizeof b));
                        if (k >= 0)
                                k = table_add(t, yes_no(json_object_get(p, "enabled")));
                        if (k >= 0)
                                k = table_add(t, handshake_text(l, b, sizeof b));
                }
                if (k >= 0)
                        table_print(t, stdout);
                api_reply_done(&live);
        }
        api_reply_done(&r);
        return k;
}

int cmd_peer_show(Cli *c, char **args, size_t n) {
        char path[PEER_PATH_MAX];
        int k = peer_path(args[0], "", path, sizeof path);
        if (k < 0)
                return k;
        ApiReply r = { 0 };
        k = api_call(c, "GET", path, NULL, &r);
        if (k < 0)
                return k;
        if (c->json)
                api_print_raw(&r);
        else {
                ApiReply live = { 0 };
                bool have_live = api_call_quiet(c, "GET", "/api/wireguard/peers", &live) >= 0;
                print_peer(r.json, have_live ? live_find(&live, r.json) : NULL);
                api_reply_done(&live);
        }
        api_reply_done(&r);
        return 0;
}

int cmd_peer_config(Cli *c, char **args, size_t n) {
        char path[PEER_PATH_MAX];
        int k = peer_path(args[0], "/config", path, sizeof path);
        if (k < 0)
                return k;
        ApiReply r = { 0 };
        k = api_call_raw(c, "GET", path, &r);
        if (k < 0)
                return k;
        print_config_warnings(c);
        k = write_secret(STDOUT_FILENO, r.raw.body, r.raw.body_len);
        api_reply_done(&r);
        return k;
}

static int qr_to_terminal(const ApiReply *r) {
        if (strlen(r->raw.body) != r->raw.body_len) {
                fputs("pic: picd's config reply is not text\n", stderr);
                return -EPROTO;
        }
        char *qr = NULL;
        int k = qr_render_terminal(r->raw.body, isatty(STDOUT_FILENO) == 1, &qr);
        if (k == -ERANGE) {
                fputs("pic: the config is too long for a QR code; use `pic peer config` instead\n", stderr);
                return -EIO;
        }
        if (k < 0) {
                fprintf(stderr, "pic: cannot draw the QR code: %s\n", strerror(-k));
                return k;
        }
        size_t len = strlen(qr);
        k = write_secret(STDOUT_FILENO, qr, len);
        secret_wipe(qr, len);
        free(qr);
        return k;
}

static int qr_to_png(const ApiReply *r, const char *file, const char *shown) {
        static const char png_magic[8] = "\x89PNG\r\n\x1a\n";
        if (r->raw.body_len < sizeof png_magic || memcmp(r->raw.body, png_magic, sizeof png_magic) != 0) {
                fputs("pic: picd's reply is not a PNG image\n", stderr);
                return -EPROTO;
        }
        /* The image encodes the private key: owner-only, and never a half-written file. */
        PicError err = { 0 };
        int k = write_file_atomic(file, r->raw.body, r->raw.body_len, 0600, NULL, NULL, &err);
        if (k < 0) {
                fprintf(stderr, "pic: %s\n", err.message);
                return k == -EINVAL ? -EIO : k;
        }
        char b[512];
        printf("Wrote the QR code of peer %s's config to %s (mode 0600: it holds the private key).\n", shown,
               text_sanitize(file, b, sizeof b));
        return 0;
}

int cmd_peer_qr(Cli *c, char **args, size_t n) {
        char path[PEER_PATH_MAX], b[256];
        int k = peer_path(args[0], c->png ? "/config?format=png" : "/config", path, sizeof path);
        if (k < 0)
                return k;
        if (c->png && !*c->png)
                return cli_usage_error("--png needs a file name");
        ApiReply r = { 0 };
        k = api_call_raw(c, "GET", path, &r);
        if (k < 0)
                return k;
        print_config_warnings(c);
        k = c->png ? qr_to_png(&r, c->png, text_sanitize(args[0], b, sizeof b)) : qr_to_terminal(&r);
        api_reply_done(&r);
        return k;
}

int cmd_peer_rm(Cli *c, char **args, size_t n) {
        char path[PEER_PATH_MAX], b[256];
        int k = peer_path(args[0], "", path, sizeof path);
        if (k < 0)
                return k;
        ApiReply r = { 0 };
        k = api_call(c, "DELETE", path, NULL, &r);
        if (k < 0)
                return k;
        if (c->json)
                api_print_raw(&r);
        else
                printf("Deleted peer %s and everything it was granted.\n", text_sanitize(args[0], b, sizeof b));
        api_reply_done(&r);
        return 0;
}
