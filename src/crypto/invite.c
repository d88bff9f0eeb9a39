/* Implementation of invite.h. The payload is compact JSON with a fixed member order and is signed as
 * bytes; decoding verifies those bytes before it believes any field, then checks every field's grammar. */
#include "crypto/invite.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "basic/parse.h"
#include "basic/util.h"

#define INVITE_CONTEXT "pic-mesh-invite-v1"
#define BODY_MAX 8192

static int why_set(char *why, size_t size, const char *msg) {
        if (why && size)
                snprintf(why, size, "%s", msg);
        return -EBADMSG;
}

int invite_encode(const Invite *inv, const Identity *id, char **ret) {
        char vpn[CIDR4_STRLEN + 4], range[CIDR4_STRLEN], a[IPV4_STRLEN];
        snprintf(vpn, sizeof vpn, "%s/%u", ipv4_format(inv->vpn.addr, a), inv->vpn.prefix);
        cidr4_format_network(&inv->range, range);
        json_t *share = json_array();
        for (size_t i = 0; i < inv->n_share; i++)
                json_array_append_new(share, json_string(inv->share[i]));
        json_t *o = json_pack("{s:i, s:s, s:s, s:s, s:s, s:s, s:i, s:s, s:s, s:i, s:o, s:I, s:s}", "v", 1, "name",
                              inv->name, "domain", inv->domain, "id", inv->identity, "wg", inv->wg_key, "host", inv->host,
                              "port", (int) inv->port, "vpn", vpn, "range", range, "dns_port", (int) inv->dns_port,
                              "share", share, "exp", (json_int_t) inv->expires_at, "nonce", inv->nonce);
        if (!o)
                return -ENOMEM;
        char *payload = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
        json_decref(o);
        if (!payload)
                return -ENOMEM;
        uint8_t sig[IDENTITY_SIG_BYTES];
        char *p64 = NULL, *s64 = NULL;
        int r = identity_sign(id, INVITE_CONTEXT, payload, strlen(payload), sig);
        if (r >= 0)
                r = b64url_encode(payload, strlen(payload), &p64);
        if (r >= 0)
                r = b64url_encode(sig, sizeof sig, &s64);
        free(payload);
        if (r >= 0) {
                size_t n = strlen(INVITE_PREFIX) + strlen(p64) + 1 + strlen(s64) + 1;
                char *t = malloc(n);
                if (!t)
                        r = -ENOMEM;
                else {
                        snprintf(t, n, "%s%s.%s", INVITE_PREFIX, p64, s64);
                        *ret = t;
                }
        }
        free(p64);
        free(s64);
        return r;
}

static const char *str_field(json_t *o, const char *k, size_t max) {
        const char *s = json_string_value(json_object_get(o, k));
        return s && strlen(s) < max ? s : NULL;
}

static int parse_payload(json_t *o, Invite *inv, char *why, size_t ws) {
        static const char *const keys[] = { "v", "name", "domain", "id", "wg", "host", "port", "vpn",
                                            "range", "dns_port", "share", "exp", "nonce" };
        if (!json_is_object(o) || json_object_size(o) != ELEMENTSOF(keys))
                return why_set(why, ws, "the invite does not have the expected fields");
        for (size_t i = 0; i < ELEMENTSOF(keys); i++)
                if (!json_object_get(o, keys[i]))
                        return why_set(why, ws, "the invite does not have the expected fields");
        json_t *v = json_object_get(o, "v");
        if (!json_is_integer(v) || json_integer_value(v) != 1)
                return why_set(why, ws, "unknown invite version");
        const char *s;
        if (!(s = str_field(o, "name", sizeof inv->name)) || !name_is_valid(s))
                return why_set(why, ws, "the invite's cell name is invalid");
        snprintf(inv->name, sizeof inv->name, "%s", s);
        if (!(s = str_field(o, "domain", sizeof inv->domain)) || !dns_name_is_valid(s, false) || s[strlen(s) - 1] == '.')
                return why_set(why, ws, "the invite's domain is invalid");
        snprintf(inv->domain, sizeof inv->domain, "%s", s);
        uint8_t pk[IDENTITY_PK_BYTES];
        if (!(s = str_field(o, "id", sizeof inv->identity)) || identity_pk_from_string(s, pk) < 0)
                return why_set(why, ws, "the invite's identity key is invalid");
        snprintf(inv->identity, sizeof inv->identity, "%s", s);
        if (!(s = str_field(o, "wg", sizeof inv->wg_key)) || strlen(s) != 44)
                return why_set(why, ws, "the invite's WireGuard key is invalid");
        snprintf(inv->wg_key, sizeof inv->wg_key, "%s", s);
        uint32_t ip;
        if (!(s = str_field(o, "host", sizeof inv->host)) ||
            (ipv4_parse(s, &ip) < 0 && (!dns_name_is_valid(s, false) || s[strlen(s) - 1] == '.')))
                return why_set(why, ws, "the invite's host is invalid");
        snprintf(inv->host, sizeof inv->host, "%s", s);
        json_t *n = json_object_get(o, "port");
        if (!json_is_integer(n) || json_integer_value(n) < 1 || json_integer_value(n) > 65535)
                return why_set(why, ws, "the invite's port is invalid");
        inv->port = (uint16_t) json_integer_value(n);
        n = json_object_get(o, "dns_port");
        if (!json_is_integer(n) || json_integer_value(n) < 1 || json_integer_value(n) > 65535)
                return why_set(why, ws, "the invite's DNS port is invalid");
        inv->dns_port = (uint16_t) json_integer_value(n);
        if (!(s = str_field(o, "vpn", CIDR4_STRLEN + 4)) || cidr4_parse(s, true, &inv->vpn) < 0)
                return why_set(why, ws, "the invite's VPN address is invalid");
        if (!(s = str_field(o, "range", CIDR4_STRLEN)) || cidr4_parse(s, true, &inv->range) < 0 ||
            inv->range.addr != cidr4_network(&inv->range))
                return why_set(why, ws, "the invite's service range is invalid");
        json_t *share = json_object_get(o, "share");
        if (!json_is_array(share) || json_array_size(share) > INVITE_SHARE_MAX)
                return why_set(why, ws, "the invite's service list is invalid");
        inv->n_share = 0;
        size_t i;
        json_t *e;
        json_array_foreach(share, i, e) {
                s = json_string_value(e);
                if (!s || strlen(s) >= sizeof inv->share[0] || !name_is_valid(s))
                        return why_set(why, ws, "the invite's service list is invalid");
                snprintf(inv->share[inv->n_share++], sizeof inv->share[0], "%s", s);
        }
        n = json_object_get(o, "exp");
        if (!json_is_integer(n) || json_integer_value(n) <= 0)
                return why_set(why, ws, "the invite's expiry is invalid");
        inv->expires_at = json_integer_value(n);
        size_t nl;
        uint8_t nb[32];
        if (!(s = str_field(o, "nonce", sizeof inv->nonce)) || b64url_decode(s, strlen(s), nb, sizeof nb, &nl) < 0 ||
            nl != 16)
                return why_set(why, ws, "the invite's nonce is invalid");
        snprintf(inv->nonce, sizeof inv->nonce, "%s", s);
        return 0;
}

int invite_decode(const char *text, Invite *ret, char *why, size_t ws) {
        size_t tl = text ? strlen(text) : 0;
        if (!text || tl > INVITE_TEXT_MAX || strncmp(text, INVITE_PREFIX, strlen(INVITE_PREFIX)) != 0)
                return why_set(why, ws, "not a pic invite (it starts with \"" INVITE_PREFIX "\")");
        const char *p = text + strlen(INVITE_PREFIX);
        const char *dot = strchr(p, '.');
        if (!dot || strchr(dot + 1, '.'))
                return why_set(why, ws, "the invite is not payload.signature");
        uint8_t *payload = malloc(BODY_MAX);
        if (!payload)
                return -ENOMEM;
        uint8_t sig[IDENTITY_SIG_BYTES + 4];
        size_t pl = 0, sl = 0;
        int r;
        if (b64url_decode(p, (size_t) (dot - p), payload, BODY_MAX - 1, &pl) < 0 ||
            b64url_decode(dot + 1, strlen(dot + 1), sig, sizeof sig, &sl) < 0 || sl != IDENTITY_SIG_BYTES) {
                r = why_set(why, ws, "the invite is not valid base64url");
                goto out;
        }
        json_error_t je;
        json_t *o = json_loadb((const char *) payload, pl, JSON_REJECT_DUPLICATES, &je);
        uint8_t pk[IDENTITY_PK_BYTES];
        const char *id = json_string_value(json_object_get(o, "id"));
        if (!o || !id || identity_pk_from_string(id, pk) < 0) {
                json_decref(o);
                r = why_set(why, ws, "the invite's payload is not readable");
                goto out;
        }
        /* The signature first: nothing in the payload is believed before it is known to be the signer's. */
        if (identity_verify(pk, INVITE_CONTEXT, payload, pl, sig) < 0) {
                json_decref(o);
                r = why_set(why, ws, "the invite's signature does not verify: it was changed or not signed by the "
                                     "cell it names");
                goto out;
        }
        Invite inv = { 0 };
        r = parse_payload(o, &inv, why, ws);
        json_decref(o);
        if (r >= 0)
                *ret = inv;
out:
        free(payload);
        return r;
}

int signed_msg_encode(json_t *body, const Identity *id, const char *context, json_t **ret) {
        char *raw = json_dumps(body, JSON_COMPACT);
        if (!raw)
                return -ENOMEM;
        uint8_t sig[IDENTITY_SIG_BYTES];
        char *b64 = NULL, *s64 = NULL;
        int r = identity_sign(id, context, raw, strlen(raw), sig);
        if (r >= 0)
                r = b64url_encode(raw, strlen(raw), &b64);
        if (r >= 0)
                r = b64url_encode(sig, sizeof sig, &s64);
        free(raw);
        if (r >= 0) {
                *ret = json_pack("{s:s, s:s}", "body", b64, "sig", s64);
                if (!*ret)
                        r = -ENOMEM;
        }
        free(b64);
        free(s64);
        return r;
}

int signed_msg_body(json_t *env, json_t **ret_body, uint8_t **ret_raw, size_t *ret_len,
                    uint8_t ret_sig[static IDENTITY_SIG_BYTES]) {
        const char *b = json_string_value(json_object_get(env, "body"));
        const char *s = json_string_value(json_object_get(env, "sig"));
        if (!json_is_object(env) || json_object_size(env) != 2 || !b || !s || strlen(b) > BODY_MAX * 2)
                return -EBADMSG;
        uint8_t *raw = malloc(BODY_MAX);
        if (!raw)
                return -ENOMEM;
        size_t rl = 0, sl = 0;
        uint8_t sig[IDENTITY_SIG_BYTES + 4];
        json_t *body = NULL;
        if (b64url_decode(b, strlen(b), raw, BODY_MAX - 1, &rl) < 0 || b64url_decode(s, strlen(s), sig, sizeof sig, &sl) < 0 ||
            sl != IDENTITY_SIG_BYTES || !(body = json_loadb((const char *) raw, rl, JSON_REJECT_DUPLICATES, NULL)) ||
            !json_is_object(body)) {
                json_decref(body);
                free(raw);
                return -EBADMSG;
        }
        memcpy(ret_sig, sig, IDENTITY_SIG_BYTES);
        *ret_body = body;
        *ret_raw = raw;
        *ret_len = rl;
        return 0;
}

int signed_msg_open(json_t *env, const uint8_t pk[static IDENTITY_PK_BYTES], const char *context, json_t **ret_body) {
        json_t *body;
        uint8_t *raw, sig[IDENTITY_SIG_BYTES];
        size_t len;
        int r = signed_msg_body(env, &body, &raw, &len, sig);
        if (r < 0)
                return r;
        r = identity_verify(pk, context, raw, len, sig);
        free(raw);
        if (r < 0) {
                json_decref(body);
                return -EBADMSG;
        }
        *ret_body = body;
        return 0;
}
