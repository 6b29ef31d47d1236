/*
 * util.h - small helpers shared by every module: allocation that aborts on
 * failure, a growable string builder, time parsing/formatting, durations,
 * globs and a few string utilities.
 *
 * Allocation failure is not an error callers handle: x*alloc() print a
 * message and abort(), as git and redis do.  Everything else returns 0/-1
 * (or a documented sentinel) and never aborts on bad input.
 */
#ifndef SEGALERT_UTIL_H
#define SEGALERT_UTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define SEGALERT_VERSION "0.1.0"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define UNUSED(x) ((void)(x))

#if defined(__GNUC__)
#define PRINTF_LIKE(f, a) __attribute__((format(printf, f, a)))
#else
#define PRINTF_LIKE(f, a)
#endif

void *xmalloc(size_t n);
void *xcalloc(size_t nmemb, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);           /* xstrdup(NULL) returns NULL */
char *xstrndup(const char *s, size_t n);
char *xasprintf(const char *fmt, ...) PRINTF_LIKE(1, 2);

/* Grow *arr (element size elem) so that it holds at least need elements;
 * *cap is updated.  Amortised doubling. */
void xgrow(void **arr, size_t elem, size_t need, size_t *cap);
#define XGROW(arr, need, cap) \
    xgrow((void **)&(arr), sizeof(*(arr)), (need), &(cap))

/* ---- string builder ------------------------------------------------- */

/* A NUL-terminated growable buffer.  Zero-initialise (STRBUF_INIT) before
 * use; strbuf_free() releases and resets it.  buf is never NULL after the
 * first append. */
struct strbuf {
    char *buf;
    size_t len;
    size_t cap;
};
#define STRBUF_INIT { NULL, 0, 0 }

void strbuf_add(struct strbuf *sb, const void *data, size_t len);
void strbuf_adds(struct strbuf *sb, const char *s);
void strbuf_addc(struct strbuf *sb, char c);
void strbuf_addf(struct strbuf *sb, const char *fmt, ...) PRINTF_LIKE(2, 3);
void strbuf_vaddf(struct strbuf *sb, const char *fmt, va_list ap);
void strbuf_reset(struct strbuf *sb);          /* len = 0, keeps memory */
void strbuf_free(struct strbuf *sb);
char *strbuf_detach(struct strbuf *sb);        /* caller frees; sb reset */
const char *strbuf_str(const struct strbuf *sb); /* "" when empty */

/* Append s as a JSON string literal (with quotes and escapes).  The
 * result is always valid JSON in well-formed UTF-8: ill-formed UTF-8 in s
 * becomes U+FFFD (core/utf8.h), and control characters, DEL and the C1
 * controls are escaped (\u001b), so no reader and no terminal gets bytes
 * it would choke on or obey. */
void strbuf_add_json_str(struct strbuf *sb, const char *s);
/* The same without the UTF-8 repair: bytes >= 0x80 go out as they are.
 * Only for segalert-sim, which must be able to send what a hostile API
 * sends (docs/sim.md); everything else uses strbuf_add_json_str(). */
void strbuf_add_json_bytes(struct strbuf *sb, const char *s);
/* Append s percent-encoded for a URL query value (RFC 3986 unreserved kept). */
void strbuf_add_urlenc(struct strbuf *sb, const char *s);

/* ---- time ------------------------------------------------------------ */

/* Wall clock in seconds (with fraction) and monotonic milliseconds. */
double now_wall(void);
int64_t now_mono_ms(void);

/* Parse an ISO-8601 UTC timestamp: "2026-08-20T12:00:00Z",
 * "2026-08-20T12:00:00.000Z", "2026-08-20T12:00:00+00:00" or a date
 * "2026-08-01".  Returns 0 and sets *out (unix seconds), or -1. */
int parse_iso8601(const char *s, double *out);

/* Format unix seconds as "2026-08-20T12:00:00Z" into buf (>= 21 bytes). */
void format_iso8601(double t, char *buf, size_t len);
/* "2026-08-01" (>= 11 bytes) */
void format_date(double t, char *buf, size_t len);

/* Parse an RFC 5322 / RFC 1123 date ("Thu, 20 Aug 2026 16:01:00 +0000" or
 * "... GMT").  Returns 0 and *out (unix seconds), or -1. */
int parse_rfc5322_date(const char *s, double *out);

/* Durations: "30s", "5m", "1h30m", "7d", "1w", "250ms", "0", "0s".
 * Returns 0 and *out_s (seconds), or -1 for anything else. */
int parse_duration(const char *s, double *out_s);
/* Appended to "invalid duration" messages: the format, no blanks. */
#define DURATION_FORMAT_HINT \
    " (use a number and a unit, no space: 90s, 10m, 2h, 1d)"
/* Human form: "5m", "1h30m", "2d", "250ms" into buf. */
void format_duration(double s, char *buf, size_t len);
/* A coarse age for people, read at a glance: "12s", "4m", "2h 5m",
 * "3d 4h" (negative or not finite counts as 0). */
void format_age(double age_s, char *buf, size_t len);

/* Calendar arithmetic (proleptic Gregorian, UTC): days since 1970-01-01
 * for a date, and back. */
int64_t days_from_civil(int64_t y, unsigned m, unsigned d);
void civil_from_days(int64_t z, int *y, int *m, int *d);

/* Start of the UTC calendar month containing t, and of the next month. */
double month_start_utc(double t);
double next_month_start_utc(double t);
/* The billing cycle containing t when cycles start on day `day` (1..28) of
 * every month at 00:00 UTC: [*start, *end).  day 1 is the calendar month. */
void billing_cycle_utc(double t, int day, double *start, double *end);

/* ---- strings --------------------------------------------------------- */

bool str_has_prefix(const char *s, const char *prefix);
bool streq(const char *a, const char *b);        /* NULL-safe */
/* fnmatch(3) glob without flags; NULL string never matches */
bool glob_match(const char *pattern, const char *s);
/* Levenshtein distance, capped at cap+1 (for did-you-mean). */
int edit_distance(const char *a, const char *b, int cap);
/* Parse a whole string as a double / long; 0 ok, -1 on junk or overflow. */
int parse_double(const char *s, double *out);
int parse_long(const char *s, long *out);
/* Split "key=value"; returns 0 and pointers into a fresh copy (*buf, caller
 * frees), -1 when there is no '=' or the key is empty. */
int split_kv(const char *s, char **buf, const char **key, const char **value);

/* Format a message into a caller's error buffer (err may be NULL or
 * errlen 0: nothing is written).  The convention of every function that
 * reports "-1 with a reason in err". */
void err_set(char *err, size_t errlen, const char *fmt, ...) PRINTF_LIKE(3, 4);

/* Read a whole file (capped at max bytes).  Returns a NUL-terminated
 * malloc'd buffer and *len, or NULL with errno set (EFBIG when too big). */
char *read_file(const char *path, size_t max, size_t *len);
/* The same, for files segalert owns (the state): never through a symlink
 * (ELOOP) and only a regular file (EINVAL for a FIFO, device, ...; opening
 * one does not block). */
char *read_file_nofollow(const char *path, size_t max, size_t *len);

/* Cheap 64-bit hash (FNV-1a) for hash tables. */
uint64_t hash_bytes(const void *data, size_t len, uint64_t seed);
uint64_t hash_str(const char *s);

/* Pseudo-random numbers: xorshift64* seeded explicitly (the sim, jitter). */
struct rng { uint64_t s; };
void rng_seed(struct rng *r, uint64_t seed);
uint64_t rng_next(struct rng *r);
double rng_uniform(struct rng *r);               /* [0, 1) */

#endif
