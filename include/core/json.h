/*
 * json.h - the one set of JSON helpers, on top of cJSON (reading, and
 * building trees) and of struct strbuf (writing large documents fast).
 *
 * Numbers: JSON has no NaN or infinity.  Everywhere segalert writes a
 * double it uses one convention: NaN is null, +/-infinity are the strings
 * "+Inf" / "-Inf" (Prometheus' spelling), every other value the shortest
 * of 15, 16 or 17 significant digits that reads back to exactly the same
 * double (cJSON's own printer settles for 15 digits when they read back
 * within an epsilon, which turns 0.1 + 0.2 into 0.3).  The readers accept
 * that convention back.
 *
 * Three groups:
 *
 *  1. Lenient readers (json_str, json_num, json_bool, json_time): for
 *     documents we only display (the daemon's API read by the CLI).  A
 *     missing member or a member of another type gives the default.
 *
 *  2. Strict getters (json_get_*): for documents we restore state from.
 *     A missing member or a member of the wrong type is an error naming
 *     the member, written to a caller buffer: "<key>: missing",
 *     "<key>: not a string" - never a crash, never a silent zero.
 *
 *  3. Writers: cJSON builders (json_double, json_str_or_null,
 *     json_kv_object) and a streaming writer on a strbuf (jw_*), which
 *     payloads and API responses use because they are large and written
 *     once.  The streaming writer inserts commas itself: a comma is needed
 *     unless the previous byte opened a container or ended a key, so it
 *     keeps no state; start each document in an empty strbuf (or after
 *     content ending in '{', '[' or ':').
 *
 * Ownership: strings returned by readers point into the cJSON tree (copy
 * them to keep them); cJSON items returned by builders belong to the
 * caller until added to a tree.
 */
#ifndef SEGALERT_JSON_H
#define SEGALERT_JSON_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#include "core/kv.h"
#include "core/util.h"

/* The shortest exact form of a finite v ("0.30000000000000004"); buf holds
 * at least 32 bytes. */
void json_format_double(double v, char *buf, size_t len);

/* ---- 1. lenient readers ------------------------------------------------ */

/* Member key of obj (case-sensitive), or NULL (also when obj is not an
 * object). */
const cJSON *json_member(const cJSON *obj, const char *key);
/* The string member, or NULL. */
const char *json_str(const cJSON *obj, const char *key);
/* The number member (a Number, a Raw number, "+Inf"/"-Inf"; null is NaN),
 * or dflt. */
double json_num(const cJSON *obj, const char *key, double dflt);
/* true only for a JSON true. */
bool json_bool(const cJSON *obj, const char *key);
/* An RFC 3339 string member as unix seconds, or NaN when absent/invalid. */
double json_time(const cJSON *obj, const char *key);
/* The value of item as a number, as json_num does for a member. */
bool json_number_value(const cJSON *item, double *out);

/* ---- 2. strict getters --------------------------------------------------- */

int json_get_double(const cJSON *obj, const char *key, double *out, char *err,
                    size_t errlen);
/* String member; with nullable, a JSON null gives *out = NULL.  *out
 * points into the tree. */
int json_get_string(const cJSON *obj, const char *key, bool nullable,
                    const char **out, char *err, size_t errlen);
/* The same, copied (xstrdup; NULL stays NULL). */
int json_get_strdup(const cJSON *obj, const char *key, bool nullable,
                    char **out, char *err, size_t errlen);
int json_get_bool(const cJSON *obj, const char *key, bool *out, char *err,
                  size_t errlen);
/* An integral number in [min, max]. */
int json_get_int(const cJSON *obj, const char *key, double min, double max,
                 double *out, char *err, size_t errlen);
/* An object of string (or, with nullable, null) values -> a new kv array
 * in member order (kv_array_free). */
int json_get_kv(const cJSON *obj, const char *key, bool nullable,
                struct kv **out, size_t *n, char *err, size_t errlen);
/* An enum written by name: the index i in [0, count) with name(i) equal to
 * the member's string. */
int json_get_enum(const cJSON *obj, const char *key,
                  const char *(*name)(int), int count, int *out, char *err,
                  size_t errlen);

/* ---- 3. writers ------------------------------------------------------------ */

/* A double by the convention above (a Raw number, null, or a string). */
cJSON *json_double(double v);
cJSON *json_str_or_null(const char *s);
/* {"k": "v", ...}; a NULL value is null, a NULL key "". */
cJSON *json_kv_object(const struct kv *kv, size_t n);

/* Streaming writer.  key is NULL for array elements. */
void jw_open(struct strbuf *sb, const char *key, char bracket);  /* '{' '[' */
void jw_close(struct strbuf *sb, char bracket);                  /* '}' ']' */
void jw_key(struct strbuf *sb, const char *key);
void jw_str(struct strbuf *sb, const char *key, const char *v); /* NULL -> "" */
/* jw_str without the UTF-8 repair (strbuf_add_json_bytes): segalert-sim
 * only, to serve the invalid UTF-8 a hostile API may send. */
void jw_str_bytes(struct strbuf *sb, const char *key, const char *v);
void jw_str_or_null(struct strbuf *sb, const char *key, const char *v);
void jw_int(struct strbuf *sb, const char *key, long long v);
void jw_uint(struct strbuf *sb, const char *key, unsigned long long v);
void jw_bool(struct strbuf *sb, const char *key, bool v);
void jw_null(struct strbuf *sb, const char *key);
/* A double by the convention above. */
void jw_double(struct strbuf *sb, const char *key, double v);
/* RFC 3339 UTC ("2026-08-20T12:00:00Z"), or null when t <= 0 or NaN. */
void jw_time(struct strbuf *sb, const char *key, double t);
/* {"k": "v", ...} (NULL values as null). */
void jw_kv_object(struct strbuf *sb, const char *key, const struct kv *kv,
                  size_t n);
/* A literal already encoded as JSON (e.g. a pre-rendered fragment). */
void jw_raw(struct strbuf *sb, const char *key, const char *json);

#endif
