/* chronyc -c parsing: one comma-separated line per record, fields in the order chronyc 4.3 documents.
 * Split into a bounded field array; numbers parsed strictly. */
#include "services/ntp/chrony.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include "basic/parse.h"
#include "basic/util.h"

#define FIELDS_MAX 20

/* Splits the first line of text into fields (in buf, NUL-separated); returns how many. */
static size_t split_line(const char *text, char *buf, size_t size, char *field[static FIELDS_MAX]) {
        size_t len = strcspn(text, "\n");
        if (len >= size)
                return 0;
        memcpy(buf, text, len);
        buf[len] = '\0';
        size_t n = 0;
        for (char *p = buf; n < FIELDS_MAX;) {
                field[n++] = p;
                char *comma = strchr(p, ',');
                if (!comma)
                        break;
                *comma = '\0';
                p = comma + 1;
        }
        return n;
}

/* What chronyc prints with %f or %e: [-]digits[.digits][e[+-]digits]. strtod() alone would also take
 * leading blanks, "+", ".5", hex floats and "infinity". */
static bool is_number_text(const char *s) {
        if (*s == '-')
                s++;
        size_t n = strspn(s, "0123456789");
        if (n == 0)
                return false;
        s += n;
        if (*s == '.') {
                n = strspn(++s, "0123456789");
                if (n == 0)
                        return false;
                s += n;
        }
        if (*s == 'e' || *s == 'E') {
                s++;
                if (*s == '-' || *s == '+')
                        s++;
                n = strspn(s, "0123456789");
                if (n == 0)
                        return false;
                s += n;
        }
        return *s == '\0';
}

static int parse_double(const char *s, double *ret) {
        if (!s || !is_number_text(s))
                return -EINVAL;
        char *end;
        errno = 0;
        double v = strtod(s, &end);
        if (errno != 0 || *end != '\0' || !isfinite(v))
                return -EINVAL;
        *ret = v;
        return 0;
}

int chrony_parse_tracking(const char *text, ChronyTracking *ret) {
        char buf[1024], *f[FIELDS_MAX];
        if (split_line(text, buf, sizeof buf, f) != 14)
                return -EBADMSG;
        ChronyTracking t = { 0 };
        uint64_t stratum;
        if (strlen(f[0]) == 0 || strlen(f[0]) >= sizeof t.ref_id || parse_uint(f[2], 0, 16, &stratum) < 0 ||
            parse_double(f[4], &t.system_offset) < 0 || parse_double(f[5], &t.last_offset) < 0 ||
            parse_double(f[6], &t.rms_offset) < 0 || parse_double(f[10], &t.root_delay) < 0 ||
            parse_double(f[11], &t.root_dispersion) < 0 || strlen(f[13]) >= sizeof t.leap)
                return -EBADMSG;
        for (const char *p = f[0]; *p; p++)
                if (!((*p >= '0' && *p <= '9') || (*p >= 'A' && *p <= 'F')))
                        return -EBADMSG;
        snprintf(t.ref_id, sizeof t.ref_id, "%s", f[0]);
        snprintf(t.leap, sizeof t.leap, "%s", f[13]);
        t.stratum = (int) stratum;
        *ret = t;
        return 0;
}

int chrony_parse_serverstats(const char *text, ChronyServerStats *ret) {
        char buf[1024], *f[FIELDS_MAX];
        size_t n = split_line(text, buf, sizeof buf, f);
        if (n < 5)
                return -EBADMSG;
        ChronyServerStats s;
        if (parse_uint(f[0], 0, UINT64_MAX, &s.ntp_received) < 0 || parse_uint(f[1], 0, UINT64_MAX, &s.ntp_dropped) < 0 ||
            parse_uint(f[2], 0, UINT64_MAX, &s.cmd_received) < 0 || parse_uint(f[3], 0, UINT64_MAX, &s.cmd_dropped) < 0)
                return -EBADMSG;
        *ret = s;
        return 0;
}

int chrony_count_ntp_clients(const char *text, unsigned *ret) {
        unsigned count = 0;
        for (const char *p = text; *p;) {
                char buf[1024], *f[FIELDS_MAX];
                size_t len = strcspn(p, "\n");
                if (len > 0) {
                        uint64_t packets;
                        if (split_line(p, buf, sizeof buf, f) < 3 || parse_uint(f[1], 0, UINT64_MAX, &packets) < 0)
                                return -EBADMSG;
                        if (packets > 0)
                                count++;
                }
                p += len;
                if (*p == '\n')
                        p++;
        }
        *ret = count;
        return 0;
}
