/*
 * parse.h - the libconfuse glue: declares a file schema's options to
 * libconfuse and runs one parse of a text, turning libconfuse's error
 * messages into diagnostics.
 *
 * Every option is declared as a string or a list of strings (converted
 * later by the section readers) and every section ignores unknown options
 * (CFGF_IGNORE_UNKNOWN): the scanner reports those with a did-you-mean.
 * Duplicate titles are allowed too (the scanner reports them; libconfuse
 * keeps the last copy), so the only errors left to libconfuse are real
 * syntax errors, which end the parse.
 *
 * Ownership: parse_opts_new() returns declarations that parse_opts_free()
 * releases; one may serve many parses (cfg_init copies them).  A tree
 * returned by parse_buf() is the caller's to cfg_free().
 * Errors: parse_buf() returns NULL after a syntax error, reported in
 * rep->diags as "FILE:LINE: message" unless the parse is quiet.
 * Thread safety: parses may run on several threads at once, one per
 * thread (libconfuse's error callback has no user pointer: the report is
 * found through a thread-local).
 */
#ifndef SEGALERT_CONFIG_PARSE_H
#define SEGALERT_CONFIG_PARSE_H

#include <stdbool.h>

#include "config/schema.h"
#include "core/diag.h"

struct cfg_t;                   /* libconfuse's tree */
struct parse_opts;

/* How one parse reports libconfuse's errors. */
struct parse_report {
    const char *file;           /* named in diagnostics */
    struct diag_list *diags;    /* NULL: a quiet (trial) parse, errors are
                                   only noted in failed */
    int syntax_line;            /* line of the first error reported,
                                   0 = none yet */
    bool failed;                /* libconfuse complained (set, never
                                   cleared, by parse_buf) */
};

struct parse_opts *parse_opts_new(const struct file_schema *fs);
void parse_opts_free(struct parse_opts *po);   /* NULL is a no-op */

/* Parse text (up to its first NUL byte) with po.  Returns the tree, or
 * NULL after a syntax error. */
struct cfg_t *parse_buf(const struct parse_opts *po, const char *text,
                        struct parse_report *rep);

#endif
