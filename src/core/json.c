/*
 * json.c - see json.h.
 */
#include "core/json.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void json_format_double(double v, char *buf, size_t len)
{
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(buf, len, "%.*g", prec, v);
        if (strtod(buf, NULL) == v)
            return;
    }
}

/* ---- readers ---------------------------------------------------------------- */

const cJSON *json_member(const cJSON *obj, const char *key)
{
    return cJSON_IsObject(obj) ? cJSON_GetObjectItemCaseSensitive(obj, key)
                               : NULL;
}

const char *json_str(const cJSON *obj, const char *key)
{
    const cJSON *m = json_member(obj, key);
    return cJSON_IsString(m) ? m->valuestring : NULL;
}

bool json_number_value(const cJSON *m, double *out)
{
    if (cJSON_IsNumber(m)) {
        *out = m->valuedouble;
        return true;
    }
    /* A Raw from json_double() in a tree built here and not printed yet. */
    if (cJSON_IsRaw(m) && m->valuestring) {
        char *end;
        errno = 0;
        double v = strtod(m->valuestring, &end);
        if (end != m->valuestring && *end == '\0' && isfinite(v)) {
            *out = v;
            return true;
        }
        return false;
    }
    if (cJSON_IsNull(m)) {
        *out = NAN;
        return true;
    }
    if (cJSON_IsString(m) && streq(m->valuestring, "+Inf")) {
        *out = INFINITY;
        return true;
    }
    if (cJSON_IsString(m) && streq(m->valuestring, "-Inf")) {
        *out = -INFINITY;
        return true;
    }
    return false;
}

double json_num(const cJSON *obj, const char *key, double dflt)
{
    double v;
    const cJSON *m = json_member(obj, key);
    return m && json_number_value(m, &v) ? v : dflt;
}

bool json_bool(const cJSON *obj, const char *key)
{
    return cJSON_IsTrue(json_member(obj, key));
}

double json_time(const cJSON *obj, const char *key)
{
    const char *s = json_str(obj, key);
    double t;
    return s && parse_iso8601(s, &t) == 0 ? t : NAN;
}

/* ---- strict getters ------------------------------------------------------- */

static const cJSON *required(const cJSON *obj, const char *key, char *err,
                             size_t errlen)
{
    const cJSON *m = json_member(obj, key);
    if (!m)
        err_set(err, errlen, "%s: missing", key);
    return m;
}

int json_get_double(const cJSON *obj, const char *key, double *out, char *err,
                    size_t errlen)
{
    const cJSON *m = required(obj, key, err, errlen);
    if (!m)
        return -1;
    if (json_number_value(m, out))
        return 0;
    err_set(err, errlen, "%s: not a number", key);
    return -1;
}

int json_get_string(const cJSON *obj, const char *key, bool nullable,
                    const char **out, char *err, size_t errlen)
{
    const cJSON *m = required(obj, key, err, errlen);
    if (!m)
        return -1;
    if (cJSON_IsString(m) && m->valuestring) {
        *out = m->valuestring;
        return 0;
    }
    if (nullable && cJSON_IsNull(m)) {
        *out = NULL;
        return 0;
    }
    err_set(err, errlen, "%s: not a string", key);
    return -1;
}

int json_get_strdup(const cJSON *obj, const char *key, bool nullable,
                    char **out, char *err, size_t errlen)
{
    const char *s;
    if (json_get_string(obj, key, nullable, &s, err, errlen) != 0)
        return -1;
    *out = xstrdup(s);
    return 0;
}

int json_get_bool(const cJSON *obj, const char *key, bool *out, char *err,
                  size_t errlen)
{
    const cJSON *m = required(obj, key, err, errlen);
    if (!m)
        return -1;
    if (!cJSON_IsBool(m)) {
        err_set(err, errlen, "%s: not a boolean", key);
        return -1;
    }
    *out = cJSON_IsTrue(m);
    return 0;
}

int json_get_int(const cJSON *obj, const char *key, double min, double max,
                 double *out, char *err, size_t errlen)
{
    const cJSON *m = required(obj, key, err, errlen);
    if (!m)
        return -1;
    double v;
    if (!json_number_value(m, &v) || !isfinite(v)) {
        err_set(err, errlen, "%s: not a number", key);
        return -1;
    }
    if (v != floor(v) || v < min || v > max) {
        err_set(err, errlen, "%s: %g is not an integer in %.0f..%.0f", key,
                v, min, max);
        return -1;
    }
    *out = v;
    return 0;
}

int json_get_kv(const cJSON *obj, const char *key, bool nullable,
                struct kv **out, size_t *n, char *err, size_t errlen)
{
    const cJSON *o = required(obj, key, err, errlen);
    if (!o)
        return -1;
    if (!cJSON_IsObject(o)) {
        err_set(err, errlen, "%s: not an object", key);
        return -1;
    }
    size_t count = (size_t)cJSON_GetArraySize(o);
    struct kv *kv = xcalloc(count ? count : 1, sizeof(*kv));
    size_t i = 0;
    for (const cJSON *e = o->child; e; e = e->next, i++) {
        bool is_str = cJSON_IsString(e) && e->valuestring;
        if ((!is_str && !(nullable && cJSON_IsNull(e))) || !e->string) {
            err_set(err, errlen, "%s.%s: not a string", key,
                    e->string ? e->string : "?");
            kv_array_free(kv, i);
            return -1;
        }
        kv[i].key = xstrdup(e->string);
        kv[i].value = is_str ? xstrdup(e->valuestring) : NULL;
    }
    *out = kv;
    *n = i;
    return 0;
}

int json_get_enum(const cJSON *obj, const char *key,
                  const char *(*name)(int), int count, int *out, char *err,
                  size_t errlen)
{
    const char *s;
    if (json_get_string(obj, key, false, &s, err, errlen) != 0)
        return -1;
    for (int i = 0; i < count; i++) {
        if (streq(name(i), s)) {
            *out = i;
            return 0;
        }
    }
    err_set(err, errlen, "%s: unknown value '%s'", key, s);
    return -1;
}

/* ---- cJSON builders ------------------------------------------------------ */

cJSON *json_double(double v)
{
    if (isnan(v))
        return cJSON_CreateNull();
    if (isinf(v))
        return cJSON_CreateString(v > 0 ? "+Inf" : "-Inf");
    char buf[40];
    json_format_double(v, buf, sizeof(buf));
    return cJSON_CreateRaw(buf);
}

cJSON *json_str_or_null(const char *s)
{
    return s ? cJSON_CreateString(s) : cJSON_CreateNull();
}

cJSON *json_kv_object(const struct kv *kv, size_t n)
{
    cJSON *o = cJSON_CreateObject();
    for (size_t i = 0; i < n; i++)
        cJSON_AddItemToObject(o, kv[i].key ? kv[i].key : "",
                              json_str_or_null(kv[i].value));
    return o;
}

/* ---- streaming writer ------------------------------------------------------ */

static void jw_sep(struct strbuf *sb)
{
    if (sb->len == 0)
        return;
    char c = sb->buf[sb->len - 1];
    if (c != '{' && c != '[' && c != ':')
        strbuf_addc(sb, ',');
}

void jw_key(struct strbuf *sb, const char *key)
{
    jw_sep(sb);
    if (key) {
        strbuf_add_json_str(sb, key);
        strbuf_addc(sb, ':');
    }
}

void jw_open(struct strbuf *sb, const char *key, char bracket)
{
    jw_key(sb, key);
    strbuf_addc(sb, bracket);
}

void jw_close(struct strbuf *sb, char bracket)
{
    strbuf_addc(sb, bracket);
}

void jw_str(struct strbuf *sb, const char *key, const char *v)
{
    jw_key(sb, key);
    strbuf_add_json_str(sb, v ? v : "");
}

void jw_str_bytes(struct strbuf *sb, const char *key, const char *v)
{
    jw_key(sb, key);
    strbuf_add_json_bytes(sb, v ? v : "");
}

void jw_str_or_null(struct strbuf *sb, const char *key, const char *v)
{
    jw_key(sb, key);
    if (v)
        strbuf_add_json_str(sb, v);
    else
        strbuf_adds(sb, "null");
}

void jw_int(struct strbuf *sb, const char *key, long long v)
{
    jw_key(sb, key);
    strbuf_addf(sb, "%lld", v);
}

void jw_uint(struct strbuf *sb, const char *key, unsigned long long v)
{
    jw_key(sb, key);
    strbuf_addf(sb, "%llu", v);
}

void jw_bool(struct strbuf *sb, const char *key, bool v)
{
    jw_key(sb, key);
    strbuf_adds(sb, v ? "true" : "false");
}

void jw_null(struct strbuf *sb, const char *key)
{
    jw_key(sb, key);
    strbuf_adds(sb, "null");
}

void jw_double(struct strbuf *sb, const char *key, double v)
{
    jw_key(sb, key);
    if (isnan(v)) {
        strbuf_adds(sb, "null");
    } else if (isinf(v)) {
        strbuf_adds(sb, v > 0 ? "\"+Inf\"" : "\"-Inf\"");
    } else {
        char buf[40];
        json_format_double(v, buf, sizeof(buf));
        strbuf_adds(sb, buf);
    }
}

void jw_time(struct strbuf *sb, const char *key, double t)
{
    if (!(t > 0)) {
        jw_null(sb, key);
        return;
    }
    char buf[32];
    format_iso8601(t, buf, sizeof(buf));
    jw_str(sb, key, buf);
}

void jw_kv_object(struct strbuf *sb, const char *key, const struct kv *kv,
                  size_t n)
{
    jw_open(sb, key, '{');
    for (size_t i = 0; i < n; i++)
        jw_str_or_null(sb, kv[i].key ? kv[i].key : "", kv[i].value);
    jw_close(sb, '}');
}

void jw_raw(struct strbuf *sb, const char *key, const char *json)
{
    jw_key(sb, key);
    strbuf_adds(sb, json);
}
