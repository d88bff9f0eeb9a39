/* Implementations of the strict grammars in parse.h; pure functions, fuzzed by fuzz/fuzz_parse.c.
 * Written as explicit character loops (no regex) so every accepted byte is visible. */
#include "basic/parse.h"

#include <arpa/inet.h>
#include <stdio.h>

#include "basic/util.h"

int parse_uint(const char *s, uint64_t min, uint64_t max, uint64_t *ret) {
        if (!s || !*s || strlen(s) > 20)
                return -EINVAL;
        if (s[0] == '0' && s[1] != '\0')
                return -EINVAL;
        uint64_t v = 0;
        for (const char *p = s; *p; p++) {
                if (*p < '0' || *p > '9')
                        return -EINVAL;
                unsigned d = (unsigned) (*p - '0');
                if (v > (UINT64_MAX - d) / 10)
                        return -ERANGE;
                v = v * 10 + d;
        }
        if (v < min || v > max)
                return -ERANGE;
        *ret = v;
        return 0;
}

static bool is_lower_alnum(char c) {
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static bool is_alnum(char c) {
        return is_lower_alnum(c) || (c >= 'A' && c <= 'Z');
}

bool name_is_valid(const char *s) {
        if (!s || !is_lower_alnum(s[0]))
                return false;
        size_t n = 1;
        for (const char *p = s + 1; *p; p++, n++)
                if (n >= 63 || !(is_lower_alnum(*p) || *p == '-'))
                        return false;
        return true;
}

static bool label_ok(const char *s, size_t n) {
        if (n == 0 || n > 63 || !is_alnum(s[0]) || !is_alnum(s[n - 1]))
                return false;
        for (size_t i = 0; i < n; i++)
                if (!(is_alnum(s[i]) || s[i] == '-'))
                        return false;
        return true;
}

bool dns_label_is_valid(const char *s) {
        return s && label_ok(s, strlen(s));
}

bool dns_name_is_valid(const char *s, bool allow_wildcard) {
        if (!s)
                return false;
        size_t total = strlen(s);
        if (total == 0 || total > 254 || (total == 254 && s[253] != '.'))
                return false;
        if (allow_wildcard && startswith(s, "*.")) {
                s += 2;
                total -= 2;
        }
        if (total > 0 && s[total - 1] == '.')
                total--;
        if (total == 0)
                return false;
        size_t start = 0;
        for (size_t i = 0; i <= total; i++) {
                if (i == total || s[i] == '.') {
                        if (!label_ok(s + start, i - start))
                                return false;
                        start = i + 1;
                }
        }
        return true;
}

bool endpoint_is_valid(const char *s) {
        if (!s || !*s || strlen(s) > 260)
                return false;
        char host[261];
        snprintf(host, sizeof host, "%s", s);
        char *colon = strrchr(host, ':');
        if (colon) {
                uint64_t port;
                if (parse_uint(colon + 1, 1, 65535, &port) < 0)
                        return false;
                *colon = '\0';
        }
        struct in_addr a;
        if (inet_pton(AF_INET, host, &a) == 1)
                return true;
        /* A name made only of digits and dots that did not parse as IPv4 is a typo, not a hostname. */
        bool all_numeric = true;
        for (const char *p = host; *p; p++)
                if (!((*p >= '0' && *p <= '9') || *p == '.'))
                        all_numeric = false;
        return !all_numeric && dns_name_is_valid(host, false);
}

bool config_text_is_safe(const char *s, size_t max_len) {
        if (!s)
                return false;
        size_t n = 0;
        for (const unsigned char *p = (const unsigned char *) s; *p; p++, n++) {
                if (n >= max_len || *p < 0x20 || *p > 0x7e)
                        return false;
                if (strchr("\"'`\\{}#;$", *p))
                        return false;
        }
        return true;
}
