/*
 * scan.h - the configuration scanner: finds where every section and option
 * of a file was written, and checks the file's structure against its
 * schema before libconfuse parses it.
 *
 * libconfuse keeps no line per option, accepts a section left open at end
 * of file, and aborts the whole parse on an unknown or nested section or a
 * list given to a single-value option.  The scanner follows libconfuse's
 * lexical rules ('#', '//' and C comments, "..." and '...' strings with
 * backslash escapes, bare words, { } ( ) , = +=) closely enough to record
 * each section and option with its line, and scan_check() reports:
 * unclosed, unknown, misplaced, nested and duplicated sections, sections
 * with a missing or unexpected title, unknown options (with did-you-mean),
 * lists given to single-value options and single values set twice.  The
 * constructs libconfuse would abort on are blanked out of the text (line
 * breaks kept) so that libconfuse still parses the rest.
 *
 * Ownership: struct scan owns its sections and options (names, titles);
 * scan_free() releases them.  A zeroed struct scan is empty.  Pointers
 * returned by the lookups point into the scan.
 * Errors: scan_text() never fails (bytes it does not understand are
 * skipped: libconfuse reports them); scan_check() adds diagnostics to the
 * list it is given.  Thread safety: none; one scan per thread.
 */
#ifndef SEGALERT_CONFIG_SCAN_H
#define SEGALERT_CONFIG_SCAN_H

#include <stdbool.h>
#include <stddef.h>

#include "config/schema.h"
#include "core/diag.h"
#include "core/index.h"

struct scan_sec {
    char *name;
    char *title;        /* NULL when the section has none */
    int line, col;
    int parent;         /* index of the enclosing section, -1 = top level */
    bool closed;
    bool blanked;       /* removed from the text given to libconfuse */
    size_t off, end;    /* from its name to its closing brace */
    size_t first_opt, end_opt; /* its options are among opts[first, end) */
    int last;           /* first copy of a top-level name and title: the
                           index of the last copy (set by scan_check) */
};

struct scan_opt {
    int sec;            /* index of its section, -1 = top level */
    char *name;
    int line;           /* of the option name */
    int val_line;       /* of the first character of the value */
    int val_col;        /* inside the quotes for strings */
    bool is_list;
    bool append;        /* written with += */
    size_t off, end;    /* from the name to the end of the value */
};

struct scan {
    struct scan_sec *secs;
    size_t nsecs, secs_cap;
    struct scan_opt *opts;
    size_t nopts, opts_cap;
    /* top-level sections kept for libconfuse (not blanked), by name and
     * title, to their first copy; filled by scan_check */
    struct index_map by_title;
};

/* Record the sections and options of text[0, len) into an empty sc. */
void scan_text(struct scan *sc, const char *text, size_t len);

void scan_free(struct scan *sc);

/*
 * Check sc (scanned from text) against fs; report to diags as FILE:LINE
 * with file.  Blanks in text what libconfuse must not see.  Must be called
 * once, before scan_find_sec() is used.
 */
void scan_check(struct scan *sc, const struct file_schema *fs,
                const char *file, struct diag_list *diags, char *text);

/* The last copy of top-level section name "title" (libconfuse keeps the
 * last copy of a duplicated title), or -1. */
int scan_find_sec(const struct scan *sc, const char *name, const char *title);

/* The last setting of option name in section sec (-1 = top level), or
 * NULL. */
const struct scan_opt *scan_find_opt(const struct scan *sc, int sec,
                                     const char *name);

/* Whether section i is a rule section libconfuse will see. */
bool scan_is_rule_sec(const struct scan *sc, size_t i);

/* Replace text[off, end) with spaces, keeping line breaks (and so lines). */
void scan_blank(char *text, size_t off, size_t end);

/* 'name "title"', or name when title is NULL, as messages name a
 * section.  The caller frees it. */
char *scan_label(const char *name, const char *title);

#endif
