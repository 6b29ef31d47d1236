/*
 * schema.h - what a configuration file may contain: for each kind of file
 * (the main file, a rule file) the options allowed at top level and the
 * sections allowed, and for each section its options and whether it takes
 * a title.  Also the "did you mean" helper that every unknown-name message
 * uses.
 *
 * The scanner checks structure against these tables (scan.h) and the
 * libconfuse glue declares its options from them (parse.h), so the two
 * can never disagree.  The options of a receiver section are the common
 * ones plus those of every registered receiver type (receiver_type.h).
 *
 * Every option is declared as a string or a list of strings: values are
 * converted by the section readers (section.h), so a wrong type is one
 * error that names section and option, not the end of parsing.
 *
 * Ownership: every table is static and read-only; nothing is freed.
 * Errors: none.  Thread safety: schema_main() may be called from any
 * thread (it completes the receiver section once); receiver types must be
 * registered before the first call.
 */
#ifndef SEGALERT_CONFIG_SCHEMA_H
#define SEGALERT_CONFIG_SCHEMA_H

#include <stdbool.h>
#include <stddef.h>

/* Sections one kind of file may declare, and options one section may
 * declare (the receiver section's are the longest list). */
#define SCHEMA_MAX_SECS 8
#define SCHEMA_MAX_OPTS 64

enum opt_kind { OPT_STR, OPT_LIST };

struct opt_spec {
    const char *name;           /* NULL ends a table */
    enum opt_kind kind;
};
#define OPT_END { NULL, OPT_STR }

struct sec_spec {
    const char *name;
    const struct opt_spec *opts;
    bool titled;                /* titled sections may appear many times */
};

/* What a kind of file may hold at top level. */
struct file_schema {
    const struct opt_spec *root_opts;
    const struct sec_spec *const *secs;
    size_t nsecs;               /* <= SCHEMA_MAX_SECS */
    bool rule_file;
};

/* The main configuration file, and a file named by rule_files (rule
 * sections only). */
const struct file_schema *schema_main(void);
const struct file_schema *schema_rulefile(void);

/* Lookups by name; NULL when absent. */
const struct opt_spec *schema_find_opt(const struct opt_spec *opts,
                                       const char *name);
const struct sec_spec *schema_find_sec(const struct file_schema *fs,
                                       const char *name);

/* The closest of cands (NULL entries skipped) to word, close enough to be
 * what was meant (edit distance 1 for short words, up to 3 for long ones),
 * or NULL.  The first candidate wins a tie.  For "did you mean". */
const char *schema_closest(const char *word, const char *const *cands,
                           size_t n);

/* The same among the names of an option table. */
const char *schema_closest_opt(const char *word, const struct opt_spec *opts);

#endif
