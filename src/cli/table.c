/* Column layout for the CLI's lists (tokens, backups, settings): cells are stored sanitized, widths are
 * measured over all rows, and each row is printed with two spaces between columns. */
#include "cli/table.h"

#include <stdarg.h>


#define TABLE_CELLS_MAX 100000

struct Table {
        size_t n_cols;
        char **cells; /* row-major, header row first */
        size_t n_cells, cap;
};

const char *text_sanitize(const char *s, char *buf, size_t size) {
        size_t o = 0;
        for (const unsigned char *p = (const unsigned char *) s; *p && o + 1 < size; p++)
                buf[o++] = *p >= 0x20 && *p < 0x7f ? (char) *p : '?';
        if (size > 0)
                buf[o] = '\0';
        return buf;
}

int table_new(const char *const *headers, size_t n_cols, Table **ret) {
        Table *t = calloc(1, sizeof *t);
        if (!t)
                return -ENOMEM;
        t->n_cols = n_cols;
        for (size_t i = 0; i < n_cols; i++) {
                int r = table_add(t, headers[i]);
                if (r < 0) {
                        table_free(t);
                        return r;
                }
        }
        *ret = t;
        return 0;
}

Table *table_free(Table *t) {
        if (!t)
                return NULL;
        for (size_t i = 0; i < t->n_cells; i++)
                free(t->cells[i]);
        free(t->cells);
        free(t);
        return NULL;
}

int table_add(Table *t, const char *cell) {
        if (t->n_cells >= TABLE_CELLS_MAX)
                return -E2BIG;
        if (t->n_cells == t->cap) {
                size_t ncap = t->cap ? t->cap * 2 : 32;
                char **n = realloc(t->cells, ncap * sizeof *n);
                if (!n)
                        return -ENOMEM;
                t->cells = n;
                t->cap = ncap;
        }
        char buf[256];
        char *c = strdup(text_sanitize(cell ? cell : "-", buf, sizeof buf));
        if (!c)
                return -ENOMEM;
        t->cells[t->n_cells++] = c;
        return 0;
}

int table_addf(Table *t, const char *fmt, ...) {
        char buf[256];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(buf, sizeof buf, fmt, ap);
        va_end(ap);
        return table_add(t, buf);
}

size_t table_rows(const Table *t) {
        return t->n_cols ? t->n_cells / t->n_cols - 1 : 0;
}

void table_print(const Table *t, FILE *f) {
        size_t width[16] = { 0 };
        size_t n_cols = t->n_cols < ELEMENTSOF(width) ? t->n_cols : ELEMENTSOF(width);
        for (size_t i = 0; i < t->n_cells; i++) {
                size_t col = i % t->n_cols, len = strlen(t->cells[i]);
                if (col < n_cols && len > width[col])
                        width[col] = len;
        }
        for (size_t i = 0; i < t->n_cells; i++) {
                size_t col = i % t->n_cols;
                bool last = col + 1 == t->n_cols || i + 1 == t->n_cells;
                if (last || col >= n_cols)
                        fprintf(f, "%s%s", t->cells[i], last ? "\n" : "  ");
                else
                        fprintf(f, "%-*s  ", (int) width[col], t->cells[i]);
        }
}
