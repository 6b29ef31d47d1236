/*
 * table.h - plain-text tables for the terminal (segalert status, silence
 * list): rows of cells, columns padded to their widest cell.
 *
 * The table owns copies of its cells; table_free releases them and
 * leaves the table empty.  Widths are counted
 * in UTF-8 characters; control characters in a cell print as spaces, so
 * an error message with a newline cannot break the layout.  Not
 * thread-safe (one table per caller).
 */
#ifndef SEGALERT_TABLE_H
#define SEGALERT_TABLE_H

#include <stdbool.h>
#include <stddef.h>

#include "core/util.h"

/* A cell longer than this many characters is cut with "..." (unless the
 * table is wide). */
#define TABLE_CELL_MAX 64

struct table {
    size_t ncols, nrows, cap;
    char **cells;               /* nrows * ncols */
    bool wide;                  /* cells are never cut (--wide) */
};

void table_init(struct table *t, size_t ncols);
/* Cells of rows added from now on are kept whole when wide is true. */
void table_set_wide(struct table *t, bool wide);
/* Append a row of exactly ncols const char * (NULL or "" prints as "-"). */
void table_row(struct table *t, ...);
/* Write the table (the first row is the header) to out. */
void table_write(const struct table *t, struct strbuf *out);
void table_free(struct table *t);

#endif
