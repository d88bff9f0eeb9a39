/* Internals shared by the accessor files of src/store (store.c, peers.c, ...): the prepared-statement
 * cache and error mapping. Never included outside src/store. */
#pragma once
#include <sqlite3.h>

#include "store/store.h"

/* Cached statement for a string literal (identity by pointer), reset and unbound. NULL on error. */
sqlite3_stmt *store_prepare(Store *s, const char *sql);
/* Runs a statement that returns no rows; 0 or negative errno. */
int store_step_done(Store *s, sqlite3_stmt *st);
int store_sqlite_to_errno(int rc);
/* Runs a statement expected to return one row: 0 with the row ready to read (the caller resets the
 * statement after reading), -ENOENT when there is none, another negative errno on failure. */
int store_step_row(sqlite3_stmt *st);
/* store_step_done() for an UPDATE/DELETE by key: -ENOENT when it touched no row. */
int store_step_changed(Store *s, sqlite3_stmt *st);
sqlite3 *store_db(Store *s);
/* Column col of the current row as text into buf (truncated to size, "" for NULL). */
void store_copy_text(sqlite3_stmt *st, int col, char *buf, size_t size);
