/* Fuzz harness for the chronyc -c parsers (src/services/ntp/chrony.c) behind /api/ntp/status: whatever
 * chronyc prints, an accepted reply must hold in-range values that print back to a line parsing the same. */
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "services/ntp/chrony.h"
#include "fuzz-input.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* chronyc prints numbers with printf's %f or %e: [-]digits[.digits][e[+-]digits], nothing else. */
static bool is_chronyc_number(const char *s, size_t n) {
        size_t i = 0;
        if (i < n && s[i] == '-')
                i++;
        size_t d = i;
        while (i < n && s[i] >= '0' && s[i] <= '9')
                i++;
        if (i == d)
                return false;
        if (i < n && s[i] == '.') {
                d = ++i;
                while (i < n && s[i] >= '0' && s[i] <= '9')
                        i++;
                if (i == d)
                        return false;
        }
        if (i < n && (s[i] == 'e' || s[i] == 'E')) {
                i++;
                if (i < n && (s[i] == '-' || s[i] == '+'))
                        i++;
                d = i;
                while (i < n && s[i] >= '0' && s[i] <= '9')
                        i++;
                if (i == d)
                        return false;
        }
        return i == n;
}

static void check_tracking(const char *text) {
        ChronyTracking t;
        if (chrony_parse_tracking(text, &t) < 0)
                return;
        /* Every number taken is one chronyc could have printed. */
        const char *p = text;
        for (int field = 0; field < 14; field++) {
                size_t n = strcspn(p, ",\n");
                if ((field == 4 || field == 5 || field == 6 || field == 10 || field == 11) && !is_chronyc_number(p, n))
                        abort();
                p += n + (p[n] == ',');
        }
        size_t n = strnlen(t.ref_id, sizeof t.ref_id);
        if (n == 0 || n == sizeof t.ref_id || strspn(t.ref_id, "0123456789ABCDEF") != n)
                abort();
        if (strnlen(t.leap, sizeof t.leap) == sizeof t.leap || strpbrk(t.leap, ",\n"))
                abort();
        if (t.stratum < 0 || t.stratum > 16)
                abort();
        double v[] = { t.system_offset, t.last_offset, t.rms_offset, t.root_delay, t.root_dispersion };
        for (size_t i = 0; i < sizeof v / sizeof *v; i++)
                if (!isfinite(v[i]))
                        abort();
        /* Round trip: the line chronyc would print for these values (%.17g is exact) parses the same. */
        char line[1024];
        snprintf(line, sizeof line, "%s,,%d,0.0,%.17g,%.17g,%.17g,0.0,0.0,0.0,%.17g,%.17g,0.0,%s\n", t.ref_id, t.stratum,
                 t.system_offset, t.last_offset, t.rms_offset, t.root_delay, t.root_dispersion, t.leap);
        ChronyTracking u;
        if (chrony_parse_tracking(line, &u) < 0)
                abort();
        if (strcmp(t.ref_id, u.ref_id) || strcmp(t.leap, u.leap) || t.stratum != u.stratum ||
            t.system_offset != u.system_offset || t.last_offset != u.last_offset || t.rms_offset != u.rms_offset ||
            t.root_delay != u.root_delay || t.root_dispersion != u.root_dispersion)
                abort();
}

static void check_serverstats(const char *text) {
        ChronyServerStats s;
        if (chrony_parse_serverstats(text, &s) < 0)
                return;
        char line[256];
        snprintf(line, sizeof line, "%llu,%llu,%llu,%llu,0,0,0,0,0,0,0\n", (unsigned long long) s.ntp_received,
                 (unsigned long long) s.ntp_dropped, (unsigned long long) s.cmd_received,
                 (unsigned long long) s.cmd_dropped);
        ChronyServerStats u;
        if (chrony_parse_serverstats(line, &u) < 0 || s.ntp_received != u.ntp_received ||
            s.ntp_dropped != u.ntp_dropped || s.cmd_received != u.cmd_received || s.cmd_dropped != u.cmd_dropped)
                abort();
}

static void check_clients(const char *text) {
        unsigned count;
        if (chrony_count_ntp_clients(text, &count) < 0)
                return;
        size_t lines = 0, len = strlen(text);
        for (const char *p = text; *p;) {
                size_t k = strcspn(p, "\n");
                lines += k > 0;
                p += k + (p[k] == '\n');
        }
        if (count > lines)
                abort();
        /* One more client that sent packets (even one) counts once more; one that sent none does not. */
        const char *sep = len > 0 && text[len - 1] != '\n' ? "\n" : "";
        const char *more[] = { "192.0.2.1,7,0,3,127,0,0,0,127,4294967295\n", "192.0.2.2,0,0,-,-,3,0,0,5,1\n",
                               "192.0.2.3,1,0,127,127,0,0,0,127,4294967295\n" };
        const unsigned delta[] = { 1, 0, 1 };
        for (unsigned i = 0; i < 3; i++) {
                size_t size = len + 1 + strlen(more[i]) + 1;
                char *t = malloc(size);
                if (!t)
                        return;
                snprintf(t, size, "%s%s%s", text, sep, more[i]);
                unsigned c2;
                if (chrony_count_ntp_clients(t, &c2) < 0 || c2 != count + delta[i])
                        abort();
                free(t);
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        /* chronyc's output as ntp.c holds it: a NUL-terminated capture. */
        char *text = fuzz_cstring(data, size);
        if (!text)
                return 0;
        check_tracking(text);
        check_serverstats(text);
        check_clients(text);
        free(text);
        return 0;
}
