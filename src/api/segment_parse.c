/*
 * segment_parse.c - pure parsers for Segment Public API response bodies.
 *
 * Every public function parses the body into a cJSON tree, walks it, copies
 * out what it keeps and deletes the tree before returning.  Nothing here
 * logs or does I/O: problems come back as an error string (whole body
 * refused) or as skipped/warning in the result (some rows refused).
 */
#include "api/segment_parse.h"

#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cjson/cJSON.h>

#include "core/utf8.h"
#include "core/util.h"

#define WARN_LEN 256

/* ---- small helpers ------------------------------------------------------ */

/* Keep only the first warning: it is the one a log line should show, and
 * later ones are usually consequences of the same upstream change. */
static void warn(char warning[WARN_LEN], const char *fmt, ...)
    PRINTF_LIKE(2, 3);

static void warn(char warning[WARN_LEN], const char *fmt, ...)
{
    va_list ap;
    char raw[WARN_LEN];
    if (warning[0] != '\0')
        return;
    va_start(ap, fmt);
    vsnprintf(raw, sizeof(raw), fmt, ap);
    va_end(ap);
    /* names from the body may be in it */
    utf8_sanitize_copy(warning, WARN_LEN, raw);
}

static const char *type_name(const cJSON *j)
{
    if (!j)
        return "missing";
    if (cJSON_IsObject(j))
        return "an object";
    if (cJSON_IsArray(j))
        return "an array";
    if (cJSON_IsString(j))
        return "a string";
    if (cJSON_IsNumber(j))
        return "a number";
    if (cJSON_IsBool(j))
        return "a bool";
    if (cJSON_IsNull(j))
        return "null";
    return "invalid";
}

static const cJSON *get(const cJSON *obj, const char *key)
{
    return cJSON_GetObjectItemCaseSensitive(obj, key);
}

/* The string value of obj[key], or NULL when absent or not a string. */
static const char *get_str(const cJSON *obj, const char *key)
{
    const cJSON *j = get(obj, key);
    return cJSON_IsString(j) ? j->valuestring : NULL;
}

/*
 * Every string copied out of a body goes through one of these two, which
 * repair ill-formed UTF-8 (U+FFFD, core/utf8.h): from here on names, ids
 * and messages are well-formed wherever they go (labels, logs, payloads,
 * /metrics, the page).
 */

/* A heap copy of obj[key] when it is a string, else of dflt (may be NULL). */
static char *dup_str(const cJSON *obj, const char *key, const char *dflt)
{
    const char *s = get_str(obj, key);
    return utf8_sanitize_dup(s ? s : dflt);
}

/* s (NULL = "") into dst, cut without splitting a character. */
static void copy_str(char *dst, size_t dstlen, const char *s)
{
    utf8_sanitize_copy(dst, dstlen, s);
}

/*
 * A numeric string as the API sends big counts ("20412").  strtod alone
 * would also take " 12", "0x1f", "nan" and "inf", none of which is a count,
 * so the characters are checked first.  Returns 0, -1 for a string that
 * is not a number, or -2 for a number out of the double range ("1e400").
 * A leading '-' is read (a negative count is implausible, not absent).
 */
static int parse_num_str(const char *s, double *out)
{
    const char *d = s[0] == '-' ? s + 1 : s;
    if (!isdigit((unsigned char)d[0]))
        return -1;
    for (const char *p = d; *p; p++)
        if (!isdigit((unsigned char)*p) && !strchr(".eE+-", *p))
            return -1;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || *end != '\0')
        return -1;
    if (errno == ERANGE && fabs(v) > 1)
        return -2;
    *out = v;
    return 0;
}

enum count_kind {
    COUNT_OK,
    COUNT_ABSENT,           /* missing, or not a number at all */
    COUNT_IMPLAUSIBLE       /* a number no count can be */
};

/* A count or latency: a finite number in [0, SEGPARSE_MAX_COUNT], as a
 * JSON number or a numeric string.  A bool, an object, "abc" are absent;
 * a negative, non-finite or larger number (1e400 -> inf, 1.79e308, -3) is
 * implausible: never a value, or sums would become inf and ratios 0. */
static enum count_kind get_count(const cJSON *j, double *out)
{
    double v;
    if (cJSON_IsNumber(j)) {
        v = j->valuedouble;
    } else if (cJSON_IsString(j)) {
        int r = parse_num_str(j->valuestring, &v);
        if (r == -1)
            return COUNT_ABSENT;
        if (r == -2)
            return COUNT_IMPLAUSIBLE;
    } else {
        return COUNT_ABSENT;
    }
    if (!isfinite(v) || v < 0 || v > SEGPARSE_MAX_COUNT)
        return COUNT_IMPLAUSIBLE;
    *out = v;
    return COUNT_OK;
}

/* Count an implausible value j of field name (the first one is kept as
 * "name = value" for the log). */
static void implausible(struct seg_implausible *imp, const char *name,
                        const cJSON *j)
{
    if (imp->n++ > 0)
        return;
    char raw[sizeof(imp->first)];
    if (cJSON_IsNumber(j))
        snprintf(raw, sizeof(raw), "%s = %g", name, j->valuedouble);
    else
        snprintf(raw, sizeof(raw), "%s = \"%.40s\"", name,
                 cJSON_IsString(j) ? j->valuestring : "");
    utf8_sanitize_copy(imp->first, sizeof(imp->first), raw);
}

/* get_count() that counts implausible values in imp. */
static bool take_count(const cJSON *j, const char *name,
                       struct seg_implausible *imp, double *out)
{
    switch (get_count(j, out)) {
    case COUNT_OK:
        return true;
    case COUNT_IMPLAUSIBLE:
        implausible(imp, name, j);
        return false;
    case COUNT_ABSENT:
        break;
    }
    return false;
}

/* ---- body -> tree -------------------------------------------------------- */

static size_t skip_ws(const char *s, size_t len, size_t i)
{
    while (i < len && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' ||
                       s[i] == '\r'))
        i++;
    return i;
}

/* Bracket depth at byte off, outside strings: tells a nesting-limit
 * failure (cJSON stops at depth CJSON_NESTING_LIMIT) from a syntax error. */
static size_t depth_at(const char *s, size_t off)
{
    size_t depth = 0;
    bool in_str = false;
    for (size_t i = 0; i < off; i++) {
        if (in_str) {
            if (s[i] == '\\')
                i++;
            else if (s[i] == '"')
                in_str = false;
        } else if (s[i] == '"') {
            in_str = true;
        } else if (s[i] == '[' || s[i] == '{') {
            depth++;
        } else if ((s[i] == ']' || s[i] == '}') && depth > 0) {
            depth--;
        }
    }
    return depth;
}

static void describe_syntax_error(const char *buf, size_t len, size_t off,
                                  char *err, size_t errlen)
{
    if (depth_at(buf, off) >= CJSON_NESTING_LIMIT)
        err_set(err, errlen, "invalid JSON at byte %zu: nested deeper than "
                "%d levels", off, CJSON_NESTING_LIMIT);
    else if (off + 1 >= len)
        err_set(err, errlen, "invalid JSON at byte %zu (truncated body?)",
                off);
    else
        err_set(err, errlen, "invalid JSON at byte %zu", off);
}

/* Refusals that need no parse: empty, too big, HTML, NUL bytes. */
static int precheck(const char *body, size_t len, char *err, size_t errlen)
{
    if (!body || len == 0) {
        err_set(err, errlen, "empty body");
        return -1;
    }
    if (len > SEGPARSE_MAX_BODY) {
        err_set(err, errlen, "body too large (%zu bytes, limit %u)", len,
                SEGPARSE_MAX_BODY);
        return -1;
    }
    size_t i = skip_ws(body, len, 0);
    if (i == len) {
        err_set(err, errlen, "empty body (whitespace only)");
        return -1;
    }
    if (body[i] == '<') {
        err_set(err, errlen,
                "body is HTML, not JSON (status page or proxy error?)");
        return -1;
    }
    /* A raw NUL is never valid JSON, and cJSON would silently cut a string
     * at it (an id "ab\0cd" would become "ab"). */
    const char *nul = memchr(body, '\0', len);
    if (nul) {
        err_set(err, errlen, "invalid JSON at byte %zu: NUL byte in body",
                (size_t)(nul - body));
        return -1;
    }
    return 0;
}

/*
 * Parse body into a tree whose root is an object; the caller deletes it.
 * cJSON 1.7.15's ParseWithLengthOpts can read one byte past `len` on a
 * truncated body (DaveGamble/cJSON#800), so it is given a NUL-terminated
 * copy: the length still bounds the parse, the terminator bounds the
 * overread.
 */
static cJSON *parse_root(const char *body, size_t len, char *err,
                         size_t errlen)
{
    if (precheck(body, len, err, errlen) < 0)
        return NULL;
    char *buf = xstrndup(body, len);
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(buf, len, &end, 0);
    size_t off = end ? (size_t)(end - buf) : 0;
    if (!root) {
        describe_syntax_error(buf, len, off, err, errlen);
        goto fail;
    }
    if (skip_ws(buf, len, off) != len) {
        err_set(err, errlen, "invalid JSON: trailing data at byte %zu",
                skip_ws(buf, len, off));
        goto fail;
    }
    if (!cJSON_IsObject(root)) {
        err_set(err, errlen, "top-level JSON is %s, expected an object",
                type_name(root));
        goto fail;
    }
    free(buf);
    return root;
fail:
    cJSON_Delete(root);
    free(buf);
    return NULL;
}

/* root.data as an object; an error envelope is reported as such. */
static const cJSON *get_data(const cJSON *root, char *err, size_t errlen)
{
    const cJSON *data = get(root, "data");
    const cJSON *errors = get(root, "errors");
    if (!data && cJSON_IsArray(errors)) {
        const cJSON *e0 = cJSON_GetArrayItem(errors, 0);
        char type[64], msg[256];
        copy_str(type, sizeof(type), get_str(e0, "type"));
        copy_str(msg, sizeof(msg), get_str(e0, "message"));
        /* into err cut on a character, not wherever errlen falls */
        char *text = xasprintf("API error %s: %s", type[0] ? type
                                                          : "(no type)",
                               msg[0] ? msg : "(no message)");
        if (err && errlen)
            utf8_sanitize_copy(err, errlen, text);
        free(text);
        return NULL;
    }
    if (!cJSON_IsObject(data)) {
        err_set(err, errlen, "data is %s, expected an object",
                type_name(data));
        return NULL;
    }
    return data;
}

/* data[key] as an array, or an error naming what was found instead. */
static const cJSON *get_array(const cJSON *data, const char *path,
                              const char *key, char *err, size_t errlen)
{
    const cJSON *a = get(data, key);
    if (cJSON_IsArray(a))
        return a;
    if (!a)
        err_set(err, errlen, "missing %s.%s array", path, key);
    else
        err_set(err, errlen, "%s.%s is %s, expected an array", path, key,
                type_name(a));
    return NULL;
}

/* data.pagination.next: a non-empty string is the next cursor; absent,
 * null and "" mean last page; anything else is treated as last page with
 * a warning, since following a garbled cursor could loop forever. */
static char *get_next(const cJSON *data, char warning[WARN_LEN])
{
    const cJSON *pg = get(data, "pagination");
    if (!pg || cJSON_IsNull(pg))
        return NULL;
    if (!cJSON_IsObject(pg)) {
        warn(warning, "pagination is %s, treated as last page",
             type_name(pg));
        return NULL;
    }
    const cJSON *next = get(pg, "next");
    if (!next || cJSON_IsNull(next))
        return NULL;
    if (!cJSON_IsString(next)) {
        warn(warning, "pagination.next is %s, treated as last page",
             type_name(next));
        return NULL;
    }
    /* a cursor is opaque (base64 in practice), but it is shown in
     * messages when it repeats */
    return next->valuestring[0] ? utf8_sanitize_dup(next->valuestring) : NULL;
}

static size_t array_len(const cJSON *a)
{
    int n = cJSON_GetArraySize(a);
    return n > 0 ? (size_t)n : 0;
}

/* ---- sources ------------------------------------------------------------- */

static bool parse_source(const cJSON *j, size_t i, struct seg_source *s,
                         char warning[WARN_LEN])
{
    if (!cJSON_IsObject(j)) {
        warn(warning, "sources[%zu]: %s, not an object", i, type_name(j));
        return false;
    }
    const char *id = get_str(j, "id");
    const cJSON *enabled = get(j, "enabled");
    if (!id || !id[0]) {
        warn(warning, "sources[%zu]: missing id", i);
        return false;
    }
    if (!cJSON_IsBool(enabled)) {
        warn(warning, "sources[%zu]: enabled is %s, expected a bool", i,
             type_name(enabled));
        return false;
    }
    s->id = utf8_sanitize_dup(id);
    s->slug = dup_str(j, "slug", "");
    s->name = dup_str(j, "name", "");
    s->enabled = cJSON_IsTrue(enabled);
    return true;
}

int segparse_sources(const char *body, size_t len, struct seg_sources *out,
                     char *err, size_t errlen)
{
    memset(out, 0, sizeof(*out));
    cJSON *root = parse_root(body, len, err, errlen);
    const cJSON *data = root ? get_data(root, err, errlen) : NULL;
    const cJSON *arr = data ? get_array(data, "data", "sources", err, errlen)
                            : NULL;
    if (!arr) {
        cJSON_Delete(root);
        return -1;
    }
    if (array_len(arr))
        out->items = xcalloc(array_len(arr), sizeof(*out->items));
    size_t i = 0;
    const cJSON *j;
    cJSON_ArrayForEach(j, arr) {
        if (parse_source(j, i++, &out->items[out->n], out->warning))
            out->n++;
        else
            out->skipped++;
    }
    out->next = get_next(data, out->warning);
    cJSON_Delete(root);
    return 0;
}

void seg_sources_free(struct seg_sources *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n; i++) {
        free(s->items[i].id);
        free(s->items[i].slug);
        free(s->items[i].name);
    }
    free(s->items);
    free(s->next);
    memset(s, 0, sizeof(*s));
}

/* ---- connected destinations ---------------------------------------------- */

const char *seg_dest_mode_name(enum seg_dest_mode m)
{
    switch (m) {
    case SEG_MODE_CLOUD: return "cloud";
    case SEG_MODE_DEVICE: return "device";
    case SEG_MODE_UNKNOWN: break;
    }
    return NULL;
}

/* What the catalog entry says about one mode. */
struct mode_evidence {
    bool yes;       /* supported */
    bool no;        /* ruled out */
};

static bool str_in(const char *s, const char *const *set)
{
    for (; s && *set; set++)
        if (strcasecmp(s, *set) == 0)
            return true;
    return false;
}

/* supportedFeatures.<key>: "NONE" rules the mode out; SINGLE, MULTIPLE
 * and "1" support it; "0" and anything else say nothing (example payloads
 * carry "0" for plain cloud destinations). */
static void mode_feature(const cJSON *features, const char *key,
                         struct mode_evidence *ev)
{
    static const char *const yes[] = { "SINGLE", "MULTIPLE", "1", NULL };
    const char *v = get_str(features, key);
    if (v && strcasecmp(v, "NONE") == 0)
        ev->no = true;
    else if (str_in(v, yes))
        ev->yes = true;
}

static enum seg_dest_mode parse_mode(const cJSON *meta)
{
    static const char *const device_components[] = { "BROWSER", "IOS",
                                                     "ANDROID", NULL };
    static const char *const device_platforms[] = { "WEB", "MOBILE", NULL };
    struct mode_evidence cloud = { 0 }, device = { 0 };
    const cJSON *j;
    cJSON_ArrayForEach(j, get(meta, "components")) {
        const char *type = get_str(j, "type");
        if (type && strcasecmp(type, "SERVER") == 0)
            cloud.yes = true;
        else if (str_in(type, device_components))
            device.yes = true;
    }
    cJSON_ArrayForEach(j, get(meta, "actions")) {
        const char *platform = get_str(j, "platform");
        if (platform && strcasecmp(platform, "CLOUD") == 0)
            cloud.yes = true;
        else if (str_in(platform, device_platforms))
            device.yes = true;
    }
    const cJSON *features = get(meta, "supportedFeatures");
    mode_feature(features, "cloudModeInstances", &cloud);
    mode_feature(features, "deviceModeInstances", &device);
    if (cloud.yes && !cloud.no && device.no && !device.yes)
        return SEG_MODE_CLOUD;
    if (device.yes && !device.no && cloud.no && !cloud.yes)
        return SEG_MODE_DEVICE;
    return SEG_MODE_UNKNOWN;
}

static bool parse_destination(const cJSON *j, size_t i,
                              struct seg_destination *d,
                              char warning[WARN_LEN])
{
    if (!cJSON_IsObject(j)) {
        warn(warning, "destinations[%zu]: %s, not an object", i,
             type_name(j));
        return false;
    }
    const char *id = get_str(j, "id");
    const cJSON *enabled = get(j, "enabled");
    if (!id || !id[0]) {
        warn(warning, "destinations[%zu]: missing id", i);
        return false;
    }
    if (!cJSON_IsBool(enabled)) {
        warn(warning, "destinations[%zu]: enabled is %s, expected a bool",
             i, type_name(enabled));
        return false;
    }
    /* settings are deliberately never read: they hold (masked) secrets. */
    const cJSON *meta = get(j, "metadata");
    d->id = utf8_sanitize_dup(id);
    d->name = dup_str(j, "name", "");
    d->slug = dup_str(meta, "slug", "");
    d->metadata_id = dup_str(meta, "id", "");
    d->source_id = dup_str(j, "sourceId", "");
    d->enabled = cJSON_IsTrue(enabled);
    d->mode = cJSON_IsObject(meta) ? parse_mode(meta) : SEG_MODE_UNKNOWN;
    return true;
}

int segparse_destinations(const char *body, size_t len,
                          struct seg_destinations *out, char *err,
                          size_t errlen)
{
    memset(out, 0, sizeof(*out));
    cJSON *root = parse_root(body, len, err, errlen);
    const cJSON *data = root ? get_data(root, err, errlen) : NULL;
    const cJSON *arr = data ? get_array(data, "data", "destinations", err,
                                        errlen)
                            : NULL;
    if (!arr) {
        cJSON_Delete(root);
        return -1;
    }
    if (array_len(arr))
        out->items = xcalloc(array_len(arr), sizeof(*out->items));
    size_t i = 0;
    const cJSON *j;
    cJSON_ArrayForEach(j, arr) {
        if (parse_destination(j, i++, &out->items[out->n], out->warning))
            out->n++;
        else
            out->skipped++;
    }
    out->next = get_next(data, out->warning);
    cJSON_Delete(root);
    return 0;
}

void seg_destinations_free(struct seg_destinations *d)
{
    if (!d)
        return;
    for (size_t i = 0; i < d->n; i++) {
        free(d->items[i].id);
        free(d->items[i].name);
        free(d->items[i].slug);
        free(d->items[i].metadata_id);
        free(d->items[i].source_id);
    }
    free(d->items);
    free(d->next);
    memset(d, 0, sizeof(*d));
}

/* ---- delivery metrics ---------------------------------------------------- */

/*
 * The metric names of the 2022 spec example.  total_id is -1 for the
 * latency metrics: their "total" is a sample count (delivery-metrics-recipe
 * has total 0 with a 30.6 average), not a latency, so it is not kept.
 */
struct dm_child {
    const char *name;
    int id;
};

struct dm_metric {
    const char *name;
    int total_id;
    bool latency;
    struct dm_child child[2];
};

static const struct dm_metric dm_table[] = {
    { "successes", M_SUCCESSES, false,
      { { "successes_on_first_attempt", M_SUCCESSES_FIRST_ATTEMPT },
        { "successes_after_retry", M_SUCCESSES_AFTER_RETRY } } },
    { "discarded", M_DISCARDED, false, { { NULL, -1 }, { NULL, -1 } } },
    { "expired", M_EXPIRED, false, { { NULL, -1 }, { NULL, -1 } } },
    { "retried", M_RETRIED, false, { { NULL, -1 }, { NULL, -1 } } },
    { "time_to_success", -1, true,
      { { "time_to_success_average", M_TIME_TO_SUCCESS_AVG },
        { "time_to_success_p95", M_TIME_TO_SUCCESS_P95 } } },
    { "time_to_first_attempt", -1, true,
      { { "time_to_first_attempt_average", M_TIME_TO_FIRST_ATTEMPT_AVG },
        { "time_to_first_attempt_p95", M_TIME_TO_FIRST_ATTEMPT_P95 } } },
};

static const struct dm_metric *dm_lookup(const char *name)
{
    for (size_t i = 0; i < ARRAY_SIZE(dm_table); i++)
        if (streq(dm_table[i].name, name))
            return &dm_table[i];
    return NULL;
}

static int dm_child_id(const struct dm_metric *m, const char *name)
{
    for (size_t i = 0; i < ARRAY_SIZE(m->child); i++)
        if (m->child[i].name && streq(m->child[i].name, name))
            return m->child[i].id;
    return -1;
}

static void dm_unknown(struct seg_delivery *out, const char *name)
{
    if (out->unknown_metrics++ == 0)
        copy_str(out->first_unknown, sizeof(out->first_unknown), name);
}

/* Store one value; first occurrence wins so a duplicated name cannot
 * silently replace a value already seen. */
static void dm_set(struct seg_delivery *out, int id, const cJSON *val,
                   double scale, const char *name)
{
    double v;
    if (out->has[id]) {
        warn(out->warning, "%s: duplicate metric, first value kept", name);
        return;
    }
    enum count_kind k = get_count(val, &v);
    if (k == COUNT_IMPLAUSIBLE) {
        implausible(&out->implausible, name, val);
        if (cJSON_IsNumber(val) && isfinite(val->valuedouble) &&
            val->valuedouble >= 0)
            warn(out->warning, "%s: value %g is above %g, not a count", name,
                 val->valuedouble, SEGPARSE_MAX_COUNT);
        else
            warn(out->warning, "%s: value is %s, not a count", name,
                 cJSON_IsNumber(val) ? "a negative or non-finite number"
                                     : "an implausible numeric string");
        return;
    }
    if (k != COUNT_OK) {
        warn(out->warning, "%s: value is %s, not a count", name,
             type_name(val));
        return;
    }
    out->v[id] = v * scale;
    out->has[id] = true;
}

static void dm_breakdown(struct seg_delivery *out, const struct dm_metric *m,
                         const cJSON *bd, double latency_scale)
{
    if (!bd || cJSON_IsNull(bd))
        return;
    if (!cJSON_IsArray(bd)) {
        warn(out->warning, "%s: breakdown is %s, expected an array",
             m->name, type_name(bd));
        return;
    }
    const cJSON *b;
    cJSON_ArrayForEach(b, bd) {
        const char *name = get_str(b, "metricName");
        if (!name) {
            warn(out->warning, "%s: breakdown entry without metricName",
                 m->name);
            continue;
        }
        int id = dm_child_id(m, name);
        if (id < 0) {
            dm_unknown(out, name);
            continue;
        }
        dm_set(out, id, get(b, "value"), m->latency ? latency_scale : 1.0,
               name);
    }
}

static void dm_metric_entry(struct seg_delivery *out, const cJSON *j,
                            size_t i, double latency_scale)
{
    const char *name = get_str(j, "metricName");
    if (!name) {
        out->skipped++;
        warn(out->warning, "metrics[%zu]: %s without metricName", i,
             type_name(j));
        return;
    }
    const struct dm_metric *m = dm_lookup(name);
    if (!m) {
        dm_unknown(out, name);
        return;
    }
    if (m->total_id >= 0)
        dm_set(out, m->total_id, get(j, "total"), 1.0, name);
    dm_breakdown(out, m, get(j, "breakdown"), latency_scale);
}

static const cJSON *dm_summary(const cJSON *root, char *err, size_t errlen)
{
    const cJSON *data = get_data(root, err, errlen);
    if (!data)
        return NULL;
    const cJSON *sum = get(data, "deliveryMetricsSummary");
    if (!cJSON_IsObject(sum)) {
        err_set(err, errlen, "data.deliveryMetricsSummary is %s, expected "
                "an object", type_name(sum));
        return NULL;
    }
    return sum;
}

int segparse_delivery_metrics(const char *body, size_t len,
                              double latency_scale, struct seg_delivery *out,
                              char *err, size_t errlen)
{
    assert(isfinite(latency_scale) && latency_scale > 0);
    memset(out, 0, sizeof(*out));
    cJSON *root = parse_root(body, len, err, errlen);
    const cJSON *sum = root ? dm_summary(root, err, errlen) : NULL;
    const cJSON *arr = sum ? get_array(sum, "data.deliveryMetricsSummary",
                                       "metrics", err, errlen)
                           : NULL;
    if (!arr) {
        cJSON_Delete(root);
        return -1;
    }
    copy_str(out->source_id, sizeof(out->source_id),
             get_str(sum, "sourceId"));
    copy_str(out->destination_metadata_id,
             sizeof(out->destination_metadata_id),
             get_str(sum, "destinationMetadataId"));
    size_t i = 0;
    const cJSON *j;
    cJSON_ArrayForEach(j, arr)
        dm_metric_entry(out, j, i++, latency_scale);
    metrics_derive(out->v, out->has);
    cJSON_Delete(root);
    return 0;
}

/* ---- events volume ------------------------------------------------------- */

static bool parse_point(const cJSON *p, struct seg_volume_point *pt,
                        struct seg_implausible *imp)
{
    const char *t = get_str(p, "time");
    return t && parse_iso8601(t, &pt->time) == 0 &&
           take_count(get(p, "count"), "count", imp, &pt->count);
}

/* The source label of a group.  Absent source = ungrouped (ids stay NULL);
 * a source that is present but has no id is a broken group, not an
 * ungrouped one, or its counts would pose as the workspace total. */
static bool parse_group_source(const cJSON *g, struct seg_volume_group *grp)
{
    const cJSON *src = get(g, "source");
    if (!src || cJSON_IsNull(src))
        return true;
    const char *id = get_str(src, "id");
    if (!id || !id[0])
        return false;
    grp->source_id = utf8_sanitize_dup(id);
    grp->source_name = dup_str(src, "name", NULL);
    grp->source_slug = dup_str(src, "slug", NULL);
    return true;
}

static bool parse_group(const cJSON *g, size_t gi, struct seg_volume *out)
{
    struct seg_volume_group *grp = &out->groups[out->ngroups];
    const cJSON *series = get(g, "series");
    if (!cJSON_IsObject(g)) {
        warn(out->warning, "result[%zu]: %s, not an object", gi,
             type_name(g));
        return false;
    }
    if (!cJSON_IsArray(series)) {
        warn(out->warning, "result[%zu]: series is %s, expected an array",
             gi, type_name(series));
        return false;
    }
    if (!parse_group_source(g, grp)) {
        warn(out->warning, "result[%zu]: source without id", gi);
        return false;
    }
    if (array_len(series))
        grp->points = xcalloc(array_len(series), sizeof(*grp->points));
    size_t pi = 0;
    const cJSON *p;
    cJSON_ArrayForEach(p, series) {
        if (parse_point(p, &grp->points[grp->npoints], &out->implausible)) {
            grp->npoints++;
        } else {
            out->skipped++;
            warn(out->warning, "result[%zu].series[%zu]: bad time or count",
                 gi, pi);
        }
        pi++;
    }
    return true;
}

int segparse_event_volume(const char *body, size_t len, struct seg_volume *out,
                          char *err, size_t errlen)
{
    memset(out, 0, sizeof(*out));
    cJSON *root = parse_root(body, len, err, errlen);
    const cJSON *data = root ? get_data(root, err, errlen) : NULL;
    const cJSON *arr = data ? get_array(data, "data", "result", err, errlen)
                            : NULL;
    if (!arr) {
        cJSON_Delete(root);
        return -1;
    }
    if (array_len(arr))
        out->groups = xcalloc(array_len(arr), sizeof(*out->groups));
    size_t gi = 0;
    const cJSON *g;
    cJSON_ArrayForEach(g, arr) {
        if (parse_group(g, gi++, out))
            out->ngroups++;
        else
            out->skipped++;
    }
    out->next = get_next(data, out->warning);
    cJSON_Delete(root);
    return 0;
}

void seg_volume_free(struct seg_volume *v)
{
    if (!v)
        return;
    for (size_t i = 0; i < v->ngroups; i++) {
        free(v->groups[i].source_id);
        free(v->groups[i].source_name);
        free(v->groups[i].source_slug);
        free(v->groups[i].points);
    }
    free(v->groups);
    free(v->next);
    memset(v, 0, sizeof(*v));
}

/* ---- delivery overview ------------------------------------------------- */

/* A dataset's count: its total, else the sum of its series' counts. */
static bool dataset_count(const cJSON *ds, size_t di, struct seg_overview *out,
                          double *count)
{
    if (take_count(get(ds, "total"), "total", &out->implausible, count))
        return true;
    const cJSON *series = get(ds, "series");
    if (!cJSON_IsArray(series))
        return false;
    double sum = 0;
    bool any = false;
    const cJSON *p;
    cJSON_ArrayForEach(p, series) {
        double c;
        if (take_count(get(p, "count"), "count", &out->implausible, &c)) {
            sum += c;
            any = true;
        } else {
            warn(out->warning, "dataset[%zu]: a point without a count", di);
        }
    }
    *count = sum;
    return any;
}

int segparse_failed_delivery(const char *body, size_t len,
                             struct discard_reasons *reasons,
                             struct seg_overview *out, char *err,
                             size_t errlen)
{
    memset(out, 0, sizeof(*out));
    cJSON *root = parse_root(body, len, err, errlen);
    const cJSON *data = root ? get_data(root, err, errlen) : NULL;
    const cJSON *arr = data ? get_array(data, "data", "dataset", err, errlen)
                            : NULL;
    if (!arr) {
        cJSON_Delete(root);
        return -1;
    }
    size_t di = 0;
    const cJSON *ds;
    cJSON_ArrayForEach(ds, arr) {
        const char *code = get_str(ds, "discardReason");
        double count;
        if (!cJSON_IsObject(ds) || !code || !code[0]) {
            out->skipped++;
            warn(out->warning, "dataset[%zu]: no discardReason", di);
        } else if (!dataset_count(ds, di, out, &count)) {
            out->skipped++;
            warn(out->warning, "dataset[%zu]: no total", di);
        } else {
            char clean[DISCARD_REASON_CODE_MAX];
            copy_str(clean, sizeof(clean), code);
            discard_reasons_add(reasons, clean, count);
            out->datasets++;
        }
        di++;
    }
    out->next = get_next(data, out->warning);
    cJSON_Delete(root);
    return 0;
}

void seg_overview_free(struct seg_overview *o)
{
    if (!o)
        return;
    free(o->next);
    memset(o, 0, sizeof(*o));
}

/* ---- usage --------------------------------------------------------------- */

struct usage_kind_info {
    const char *path;
    const char *key;
    bool per_source;
    bool mtu;
};

static const struct usage_kind_info usage_kinds[USAGE__COUNT] = {
    [USAGE_MTU_SOURCES] = { "/usage/mtu/sources/daily",
                            "dailyPerSourceMTUUsage", true, true },
    [USAGE_MTU_WORKSPACE] = { "/usage/mtu/daily",
                              "dailyWorkspaceMTUUsage", false, true },
    [USAGE_API_CALLS_SOURCES] = { "/usage/api-calls/sources/daily",
                                  "dailyPerSourceAPICallsUsage", true,
                                  false },
    [USAGE_API_CALLS_WORKSPACE] = { "/usage/api-calls/daily",
                                    "dailyWorkspaceAPICallsUsage", false,
                                    false },
};

const char *seg_usage_path(enum seg_usage_kind kind)
{
    if ((int)kind < 0 || kind >= USAGE__COUNT)
        return NULL;
    return usage_kinds[kind].path;
}

static const struct {
    const char *field;
    int id;
} mtu_fields[] = {
    { "identified", M_MTU_IDENTIFIED },
    { "anonymous", M_MTU_ANONYMOUS },
    { "anonymousIdentified", M_MTU_ANONYMOUS_IDENTIFIED },
    { "neverIdentified", M_MTU_NEVER_IDENTIFIED },
};

/* Returns how many counts were present. */
static int usage_counts(const struct usage_kind_info *k, const cJSON *r,
                        size_t i, struct seg_usage_row *row, char *warning,
                        struct seg_implausible *imp)
{
    int n = 0;
    if (!k->mtu) {
        n = take_count(get(r, "apiCalls"), "apiCalls", imp,
                       &row->v[M_API_CALLS]);
        row->has[M_API_CALLS] = n > 0;
        return n;
    }
    for (size_t f = 0; f < ARRAY_SIZE(mtu_fields); f++) {
        int id = mtu_fields[f].id;
        row->has[id] = take_count(get(r, mtu_fields[f].field),
                                  mtu_fields[f].field, imp, &row->v[id]);
        if (row->has[id])
            n++;
        else
            warn(warning, "%s[%zu]: %s is not a count", k->key, i,
                 mtu_fields[f].field);
    }
    if (row->has[M_MTU_IDENTIFIED] && row->has[M_MTU_NEVER_IDENTIFIED]) {
        row->v[M_MTU] = row->v[M_MTU_IDENTIFIED] +
                        row->v[M_MTU_NEVER_IDENTIFIED];
        row->has[M_MTU] = true;
    }
    return n;
}

static double get_period(const cJSON *r, const char *key,
                         struct seg_implausible *imp)
{
    double v;
    return take_count(get(r, key), key, imp, &v) ? v : NAN;
}

static bool parse_usage_row(const struct usage_kind_info *k, const cJSON *r,
                            size_t i, struct seg_usage_row *row,
                            char *warning, struct seg_implausible *imp)
{
    const char *ts = get_str(r, "timestamp");
    const char *sid = get_str(r, "sourceId");
    memset(row, 0, sizeof(*row));
    if (!cJSON_IsObject(r)) {
        warn(warning, "%s[%zu]: %s, not an object", k->key, i, type_name(r));
        return false;
    }
    if (!ts || parse_iso8601(ts, &row->time) < 0) {
        warn(warning, "%s[%zu]: missing or bad timestamp", k->key, i);
        return false;
    }
    if (k->per_source && (!sid || !sid[0])) {
        warn(warning, "%s[%zu]: missing sourceId", k->key, i);
        return false;
    }
    if (usage_counts(k, r, i, row, warning, imp) == 0) {
        warn(warning, "%s[%zu]: no usable count", k->key, i);
        memset(row, 0, sizeof(*row));
        return false;
    }
    row->period_start = get_period(r, "periodStart", imp);
    row->period_end = get_period(r, "periodEnd", imp);
    row->source_id = k->per_source ? utf8_sanitize_dup(sid) : NULL;
    return true;
}

int segparse_usage(enum seg_usage_kind kind, const char *body, size_t len,
                   struct seg_usage *out, char *err, size_t errlen)
{
    assert((int)kind >= 0 && kind < USAGE__COUNT);
    const struct usage_kind_info *k = &usage_kinds[kind];
    memset(out, 0, sizeof(*out));
    cJSON *root = parse_root(body, len, err, errlen);
    const cJSON *data = root ? get_data(root, err, errlen) : NULL;
    const cJSON *arr = data ? get_array(data, "data", k->key, err, errlen)
                            : NULL;
    if (!arr) {
        cJSON_Delete(root);
        return -1;
    }
    if (array_len(arr))
        out->rows = xcalloc(array_len(arr), sizeof(*out->rows));
    size_t i = 0;
    const cJSON *r;
    cJSON_ArrayForEach(r, arr) {
        if (parse_usage_row(k, r, i++, &out->rows[out->nrows], out->warning,
                            &out->implausible))
            out->nrows++;
        else
            out->skipped++;
    }
    out->next = get_next(data, out->warning);
    cJSON_Delete(root);
    return 0;
}

void seg_usage_free(struct seg_usage *u)
{
    if (!u)
        return;
    for (size_t i = 0; i < u->nrows; i++)
        free(u->rows[i].source_id);
    free(u->rows);
    free(u->next);
    memset(u, 0, sizeof(*u));
}

/* ---- error envelope ------------------------------------------------------ */

/* A short description of a body that is not an error envelope. */
static void describe_non_envelope(const char *body, size_t len,
                                  const char *perr, struct seg_error *out)
{
    size_t i = body && len <= SEGPARSE_MAX_BODY ? skip_ws(body, len, 0) : 0;
    if (len > SEGPARSE_MAX_BODY)
        copy_str(out->message, sizeof(out->message), "body too large");
    else if (!body || i == len)
        copy_str(out->message, sizeof(out->message), "empty body");
    else if (body[i] == '<')
        copy_str(out->message, sizeof(out->message), "HTML page");
    else
        snprintf(out->message, sizeof(out->message), "not JSON (%s)", perr);
}

int segparse_error(const char *body, size_t len, struct seg_error *out)
{
    char perr[256] = "";
    memset(out, 0, sizeof(*out));
    out->ms_before_next = -1;
    cJSON *root = parse_root(body, len, perr, sizeof(perr));
    if (!root) {
        describe_non_envelope(body, len, perr, out);
        return -1;
    }
    const cJSON *e0 = cJSON_GetArrayItem(get(root, "errors"), 0);
    if (!cJSON_IsArray(get(root, "errors")) || !cJSON_IsObject(e0)) {
        copy_str(out->message, sizeof(out->message), "JSON without errors[]");
        cJSON_Delete(root);
        return -1;
    }
    copy_str(out->type, sizeof(out->type), get_str(e0, "type"));
    copy_str(out->message, sizeof(out->message), get_str(e0, "message"));
    copy_str(out->field, sizeof(out->field), get_str(e0, "field"));
    double ms;
    if (get_count(get(get(e0, "data"), "msBeforeNext"), &ms) == COUNT_OK)
        out->ms_before_next = ms;
    cJSON_Delete(root);
    return 0;
}
