/* How the CLI calls picd and reports the outcome: one helper that sends the request, turns transport
 * failures and picd's error envelope into one line on stderr, and maps both to the documented exit codes. */
#include <stdarg.h>
#include <stdio.h>
#include <time.h>

#include "cli/cli.h"
#include "cli/table.h"

int cli_exit_code(int r) {
        if (r >= 0)
                return PIC_EXIT_OK;
        if (r == -EINVAL)
                return PIC_EXIT_USAGE;
        if (r == -EREMOTEIO)
                return PIC_EXIT_API;
        return PIC_EXIT_UNREACHABLE;
}

int cli_usage_error(const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        fputs("pic: ", stderr);
        vfprintf(stderr, fmt, ap);
        fputc('\n', stderr);
        va_end(ap);
        return -EINVAL;
}

/* picd's refusal as a person needs it: the message, the field at fault, the status; plus what to do when
 * the refusal is about who is asking. */
static void report_api_error(const ApiReply *r, const char *method, const char *path) {
        json_t *e = json_object_get(r->json, "error");
        const char *msg = json_string_value(json_object_get(e, "message"));
        const char *code = json_string_value(json_object_get(e, "code"));
        const char *field = json_string_value(json_object_get(e, "field"));
        char m[600], f[128], c[64];
        if (msg) {
                fprintf(stderr, "pic: %s", text_sanitize(msg, m, sizeof m));
                if (field && *field)
                        fprintf(stderr, " (field \"%s\")", text_sanitize(field, f, sizeof f));
                fprintf(stderr, " [HTTP %d %s]\n", r->raw.status, code ? text_sanitize(code, c, sizeof c) : "error");
        } else
                fprintf(stderr, "pic: picd refused %s %s with HTTP %d: %s\n", method, path, r->raw.status,
                        text_sanitize(r->raw.body, m, 200));
        if (r->raw.status == 401)
                fputs("pic: picd trusts the CLI socket only for root; run pic as root\n", stderr);
        else if (r->raw.status == 404 && code && streq(code, "not_found") && !field)
                fprintf(stderr, "pic: this picd does not offer %s %s; is it older than this pic?\n", method, path);
}

/* The one request path: transport failures and non-2xx replies reported (unless quiet) and mapped the same
 * way for JSON and raw callers. On success ret->raw holds the body; ret->json is parsed when want_json. */
static int api_send(Cli *c, const char *method, const char *path, json_t *body, bool want_json, bool quiet,
                    ApiReply *ret) {
        _cleanup_free_ char *text = NULL;
        if (body) {
                text = json_dumps(body, JSON_COMPACT);
                if (!text) {
                        if (!quiet)
                                fputs("pic: cannot encode the request as JSON\n", stderr);
                        return -ENOMEM;
                }
        }
        ApiReply r = { 0 };
        PicError err = { 0 };
        int k = client_request(c->socket_path, method, path, text, c->timeout_ms, &r.raw, &err);
        if (k < 0) {
                if (!quiet)
                        fprintf(stderr, "pic: %s\n", err.message);
                /* Most often picd runs, but with another state dir than the one pic looked in. */
                if (!quiet && (k == -ENOENT || k == -ENOTDIR || k == -ECONNREFUSED))
                        fprintf(stderr,
                                "pic: looked for picd's socket at %s (%s). A picd started with --state-dir DIR "
                                "listens on DIR/run/picd.sock: point pic there with --state-dir DIR or "
                                "--socket PATH, or set PIC_STATE_DIR=DIR or PIC_SOCKET=PATH in the environment\n",
                                c->socket_path, c->socket_origin ? c->socket_origin : "the default");
                /* Keep transport failures out of the usage and API exit codes. */
                return k == -EINVAL || k == -EREMOTEIO ? -EIO : k;
        }
        bool ok = r.raw.status >= 200 && r.raw.status <= 299;
        if (want_json || !ok)
                r.json = json_loadb(r.raw.body, r.raw.body_len, 0, NULL);
        if (!ok) {
                if (!quiet) {
                        if (c->json)
                                api_print_raw(&r);
                        report_api_error(&r, method, path);
                }
                api_reply_done(&r);
                return -EREMOTEIO;
        }
        if (want_json && !json_is_object(r.json)) {
                if (!quiet)
                        fprintf(stderr, "pic: picd answered %s %s with HTTP %d but not with a JSON object\n", method,
                                path, r.raw.status);
                api_reply_done(&r);
                return -EPROTO;
        }
        *ret = r;
        return 0;
}

int api_call(Cli *c, const char *method, const char *path, json_t *body, ApiReply *ret) {
        return api_send(c, method, path, body, true, false, ret);
}

int api_call_quiet(Cli *c, const char *method, const char *path, ApiReply *ret) {
        return api_send(c, method, path, NULL, true, true, ret);
}

int api_call_raw(Cli *c, const char *method, const char *path, ApiReply *ret) {
        return api_send(c, method, path, NULL, false, false, ret);
}

void api_reply_done(ApiReply *r) {
        json_decref(r->json);
        client_reply_done(&r->raw);
        *r = (ApiReply) { 0 };
}

int api_print_raw(const ApiReply *r) {
        fwrite(r->raw.body, 1, r->raw.body_len, stdout);
        if (r->raw.body_len == 0 || r->raw.body[r->raw.body_len - 1] != '\n')
                fputc('\n', stdout);
        return 0;
}

const char *format_time(int64_t t, char *buf, size_t size) {
        struct tm tm;
        time_t tt = (time_t) t;
        if (t <= 0)
                snprintf(buf, size, "never");
        else if (!localtime_r(&tt, &tm) || strftime(buf, size, "%Y-%m-%d %H:%M", &tm) == 0)
                snprintf(buf, size, "%lld", (long long) t);
        return buf;
}

const char *format_size(uint64_t bytes, char *buf, size_t size) {
        static const char *const units[] = { "KiB", "MiB", "GiB", "TiB" };
        if (bytes < 1024) {
                snprintf(buf, size, "%llu B", (unsigned long long) bytes);
                return buf;
        }
        double v = (double) bytes / 1024;
        size_t u = 0;
        while (v >= 1024 && u + 1 < ELEMENTSOF(units)) {
                v /= 1024;
                u++;
        }
        snprintf(buf, size, "%.1f %s", v, units[u]);
        return buf;
}

const char *format_duration(int64_t sec, char *buf, size_t size) {
        if (sec < 0)
                sec = 0;
        int64_t d = sec / 86400, h = sec / 3600 % 24, m = sec / 60 % 60, s = sec % 60;
        if (d > 0)
                snprintf(buf, size, "%lldd %lldh %lldm", (long long) d, (long long) h, (long long) m);
        else if (h > 0)
                snprintf(buf, size, "%lldh %lldm", (long long) h, (long long) m);
        else if (m > 0)
                snprintf(buf, size, "%lldm %llds", (long long) m, (long long) s);
        else
                snprintf(buf, size, "%llds", (long long) s);
        return buf;
}

const char *json_text(const json_t *v, char *buf, size_t size) {
        char tmp[1024];
        if (json_is_string(v))
                return text_sanitize(json_string_value(v), buf, size);
        if (json_is_integer(v))
                snprintf(tmp, sizeof tmp, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        else if (json_is_real(v))
                snprintf(tmp, sizeof tmp, "%g", json_real_value(v));
        else if (json_is_true(v) || json_is_false(v))
                snprintf(tmp, sizeof tmp, "%s", json_is_true(v) ? "true" : "false");
        else if (!v || json_is_null(v))
                snprintf(tmp, sizeof tmp, "null");
        else {
                _cleanup_free_ char *d = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
                snprintf(tmp, sizeof tmp, "%s", d ? d : "?");
        }
        return text_sanitize(tmp, buf, size);
}

const char *json_time_text(const json_t *v, char *buf, size_t size) {
        if (json_is_integer(v))
                return format_time(json_integer_value(v), buf, size);
        return json_text(v, buf, size);
}

int json_table_print(const JsonColumn *cols, size_t n_cols, const json_t *rows, FILE *f) {
        const char *hdr[16];
        if (n_cols > ELEMENTSOF(hdr))
                return -E2BIG;
        for (size_t c = 0; c < n_cols; c++)
                hdr[c] = cols[c].header;
        _cleanup_table_ Table *t = NULL;
        int k = table_new(hdr, n_cols, &t);
        size_t i;
        const json_t *row;
        json_array_foreach(rows, i, row)
                for (size_t c = 0; k >= 0 && c < n_cols; c++) {
                        const json_t *v = json_object_get(row, cols[c].key);
                        char b[256];
                        k = table_add(t, cols[c].kind == COLUMN_TIME   ? json_time_text(v, b, sizeof b)
                                         : cols[c].kind == COLUMN_SIZE ? format_size((uint64_t) json_integer_value(v), b,
                                                                                     sizeof b)
                                                                       : json_text(v, b, sizeof b));
                }
        if (k >= 0)
                table_print(t, f);
        return k;
}

const char *json_join(const json_t *arr, char *buf, size_t size) {
        size_t i, o = 0;
        json_t *x;
        if (size == 0)
                return buf;
        buf[0] = '\0';
        json_array_foreach(arr, i, x) {
                char b[256];
                int k = snprintf(buf + o, size - o, "%s%s", i ? ", " : "", json_text(x, b, sizeof b));
                if (k < 0 || (size_t) k >= size - o)
                        break;
                o += (size_t) k;
        }
        if (o == 0)
                snprintf(buf, size, "-");
        return buf;
}
