/*
 * diag.h - a list of diagnostics ("FILE:LINE[:COL]: message") collected
 * while loading configuration, rules and rule tests, so that every mistake
 * is reported at once instead of only the first.
 */
#ifndef SEGALERT_DIAG_H
#define SEGALERT_DIAG_H

#include <stdio.h>

#include "core/util.h"

enum diag_severity { DIAG_ERROR = 0, DIAG_WARNING };

struct diag {
    enum diag_severity severity;
    char *file;         /* may be NULL */
    int line;           /* 0 = unknown */
    int col;            /* 0 = unknown */
    char *msg;          /* one line, no trailing newline; may be followed by
                           extra lines (e.g. an expression and a caret) */
};

struct diag_list {
    struct diag *items;
    size_t n, cap;
    size_t nerrors;
};
#define DIAG_LIST_INIT { NULL, 0, 0, 0 }

void diag_add(struct diag_list *dl, enum diag_severity sev, const char *file,
              int line, int col, const char *fmt, ...) PRINTF_LIKE(6, 7);
#define diag_error(dl, file, line, col, ...) \
    diag_add((dl), DIAG_ERROR, (file), (line), (col), __VA_ARGS__)
#define diag_warning(dl, file, line, col, ...) \
    diag_add((dl), DIAG_WARNING, (file), (line), (col), __VA_ARGS__)

/* Print each diagnostic: "FILE:LINE:COL: message" ("warning: " prefixed for
 * warnings), in the order added. */
void diag_print(const struct diag_list *dl, FILE *out);
/* Format one diagnostic into sb (no newline). */
void diag_format(const struct diag *d, struct strbuf *sb);
void diag_list_free(struct diag_list *dl);

#endif
