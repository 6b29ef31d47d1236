/*
 * section.h - the section reader: how a section loader reads the options
 * of one configuration section and reports problems with them.  Every
 * loader (globals, workspace, defaults, receiver and each receiver type,
 * route, rule) and secret resolution read options only through this API,
 * so none of them depends on libconfuse or on the scanner.
 *
 * A struct cfg_section is one section of a file being loaded (or the top
 * level of the file): its parsed values, its label for messages
 * ('workspace "prod"') and where it and each of its options were written.
 * Diagnostics name FILE:LINE of the option they are about (the last place
 * it was set), or of the section when opt is NULL, and start with the
 * label: "config.conf:7: workspace \"prod\": invalid duration ...".
 *
 * The section_get_*() readers leave *out untouched when the option is not
 * given, so the caller sets defaults first.  An invalid value is reported
 * as an error (naming the option and the value) and also leaves *out
 * untouched; the readers that return bool return false then.
 *
 * Ownership: section_open() returns a section that section_close() frees;
 * the struct cfg_file, the libconfuse tree and the scan it points to are
 * the loader's and must outlive it.  Strings returned by section_str() and
 * section_title() belong to the tree.  Strings stored through char **out
 * are fresh copies that the caller owns (an old *out is freed).
 * Errors: added to file->diags; loading goes on so that every mistake is
 * reported in one run.  Thread safety: none; one loader per thread.
 */
#ifndef SEGALERT_CONFIG_SECTION_H
#define SEGALERT_CONFIG_SECTION_H

#include <stdbool.h>
#include <stddef.h>

#include "core/diag.h"
#include "core/kv.h"
#include "core/util.h"

struct cfg_t;                   /* libconfuse's parsed section */
struct scan;                    /* scan.h */

/* A file being loaded, as its sections see it.  Owned by the loader, which
 * may point diags elsewhere between sections (to hold back what one
 * section reports). */
struct cfg_file {
    const char *name;           /* for diagnostics; points into
                                   config->files */
    const char *basedir;        /* "" or "dir/": the main file's directory,
                                   against which relative paths resolve */
    const struct scan *sc;      /* where sections and options were written */
    struct diag_list *diags;    /* where problems are added */
};

struct cfg_section;

/* Open section sec of kind name ("workspace"), or the top level of the
 * file when name is NULL. */
struct cfg_section *section_open(const struct cfg_file *file,
                                 struct cfg_t *sec, const char *name);
void section_close(struct cfg_section *s);      /* NULL is a no-op */

/* The section's title (NULL at top level and for untitled sections), the
 * file it is in and the line it starts on (0 = unknown). */
const char *section_title(const struct cfg_section *s);
const char *section_file(const struct cfg_section *s);
int section_line(const struct cfg_section *s);
/* Where option name was last set, or the section's line. */
int section_opt_line(const struct cfg_section *s, const char *name);
/* Whether option name was written in the section at all, even when it
 * could not be used (a list given for a single value). */
bool section_wrote(const struct cfg_section *s, const char *name);

/* ---- diagnostics about an option (opt) or the section (opt NULL) ------- */

void section_error(const struct cfg_section *s, const char *opt,
                   const char *fmt, ...) PRINTF_LIKE(3, 4);
void section_warning(const struct cfg_section *s, const char *opt,
                     const char *fmt, ...) PRINTF_LIKE(3, 4);

/* ---- values ------------------------------------------------------------ */

/* The single value of option name as written, or NULL when not given. */
const char *section_str(const struct cfg_section *s, const char *name);
/* Whether option name was given (a list may be given empty). */
bool section_is_set(const struct cfg_section *s, const char *name);

void section_get_string(const struct cfg_section *s, const char *name,
                        char **out);
/* A text (expression, template) with where its first character is: *line
 * and *col (1-based, inside the quotes; 0 = unknown) for errors found in
 * it later. */
void section_get_text(const struct cfg_section *s, const char *name,
                      char **out, int *line, int *col);
bool section_get_duration(const struct cfg_section *s, const char *name,
                          double *out);
/* A duration that must be > 0 (>= 0 with allow_zero). */
void section_get_interval(const struct cfg_section *s, const char *name,
                          double *out, bool allow_zero);
bool section_get_number(const struct cfg_section *s, const char *name,
                        double *out);
/* An integer in [min, max]. */
void section_get_int(const struct cfg_section *s, const char *name, int *out,
                     long min, long max);
/* true/yes/on or false/no/off, any case. */
void section_get_bool(const struct cfg_section *s, const char *name,
                      bool *out);
/* The index of the value among names[0, n), def when not given, -1 when
 * it is none of them (reported with the choices). */
int section_get_enum(const struct cfg_section *s, const char *name,
                     const char *const *names, size_t n, int def);
/* Replace *out with the list when it was given; returns whether it was. */
bool section_get_list(const struct cfg_section *s, const char *name,
                      struct str_list *out);
/* "key=value" entries with label-name keys, appended to *out; what names
 * an entry in messages ("label") and expect its form ("key=value"). */
void section_get_kv(const struct cfg_section *s, const char *name,
                    struct kv_list *out, const char *what,
                    const char *expect);

/* A path as written in the file, resolved against the main file's
 * directory unless absolute.  The caller frees it. */
char *section_resolve_path(const struct cfg_section *s, const char *path);
char *cfg_file_resolve_path(const struct cfg_file *file, const char *path);

/* ---- checks loaders share --------------------------------------------- */

/* Letters, digits and '_', not starting with a digit. */
bool section_is_label_name(const char *name);
/* Starts with http:// or https://. */
bool section_is_http_url(const char *url);
/* The host of url is a loopback one: localhost, 127.0.0.0/8, [::1] (or
 * 127.x mapped in IPv6).  A name that merely resolves to loopback is not:
 * what the name resolves to can change. */
bool section_url_is_loopback(const char *url);
/* The host of url (no userinfo, port or IPv6 brackets; a trailing '.'
 * dropped) into host[len]: 0, or -1 when url has none or it is longer. */
int section_url_host(const char *url, char *host, size_t len);
/* Drop trailing '/' in place (NULL is a no-op). */
void section_strip_trailing_slashes(char *url);
/* An error (at the section, without quoting url: receiver URLs often
 * carry credentials) when url is given and not http(s). */
void section_check_secret_url(const struct cfg_section *s, const char *url);
/* HTTP request headers, "Name=value" or "Name: value" entries, appended to
 * *out.  Values are never echoed in messages (they often carry
 * credentials); those of names that look like credentials (auth, token,
 * key, secret) are registered with log_secret_register(). */
void section_get_http_headers(const struct cfg_section *s, const char *name,
                              struct kv_list *out);
/* Append "a, b or c" to sb. */
void section_add_choices(struct strbuf *sb, const char *const *names,
                         size_t n);

#endif
