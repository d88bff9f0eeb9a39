/* Aligned text columns for the CLI's human output: rows of cells collected first, widths computed, then
 * printed. Cells are copied with control and non-ASCII bytes replaced, so no reply can drive the terminal. */
#pragma once
#include <stdio.h>

#include "basic/util.h"

typedef struct Table Table;

/* A table with n_cols columns whose header row is given by the n_cols strings in headers. */
int table_new(const char *const *headers, size_t n_cols, Table **ret);
Table *table_free(Table *t);
static inline void table_freep(Table **t) {
        table_free(*t);
}
#define _cleanup_table_ _cleanup_(table_freep)

/* Appends one cell; rows fill left to right. NULL prints as "-". */
int table_add(Table *t, const char *cell);
int table_addf(Table *t, const char *fmt, ...) _printf_(2, 3);
size_t table_rows(const Table *t); /* data rows, without the header */
/* Prints the header and the rows; the last column is not padded. */
void table_print(const Table *t, FILE *f);

/* Copies s into buf for a terminal: printable ASCII kept, anything else becomes '?'. */
const char *text_sanitize(const char *s, char *buf, size_t size);
