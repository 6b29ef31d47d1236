/*
 * exports.c - export sections (see sections.h and config.h struct
 * export_cfg): which intake types exist, which options each one uses,
 * their defaults and the checks that make `segalert check` report every
 * mistake as FILE:LINE.
 *
 * The intake types are few and fixed, so they are a table here rather
 * than a registry like the receivers': the export layer (export/intake.h)
 * has one file per type for what goes on the wire, and asks nothing of
 * the configuration beyond struct export_cfg.
 */
#include <stdlib.h>
#include <string.h>

#include "config/schema.h"
#include "config/secrets.h"
#include "config/sections.h"
#include "core/util.h"

/* Defaults (README.md "Export to your observability tool"). */
#define EXPORT_DEFAULT_PREFIX "segment."
#define EXPORT_DEFAULT_INTERVAL_S 60.0
#define EXPORT_DEFAULT_BUFFER 100000
#define EXPORT_MAX_BUFFER 10000000L
#define EXPORT_MAX_BATCH 100000L
#define EXPORT_DEFAULT_TIMEOUT_S 10.0
#define EXPORT_MIN_INTERVAL_S 1.0

struct type_info {
    const char *name;
    const char *default_url;        /* NULL: url is required */
    /* the options only some types use, NULL-terminated */
    const char *const *opts;
};

static const char *const datadog_opts[] = {
    "api_version", "api_key", "api_key_env", "api_key_file", NULL
};
static const char *const newrelic_opts[] = {
    "api_key", "api_key_env", "api_key_file", NULL
};
static const char *const influx_opts[] = {
    "token", "token_env", "token_file", "database", "bucket", "org", NULL
};
static const char *const otlp_opts[] = { NULL };

static const struct type_info types[EXPORT__COUNT] = {
    [EXPORT_DATADOG] = { "datadog", "https://api.datadoghq.com",
                         datadog_opts },
    [EXPORT_NEWRELIC] = { "newrelic",
                          "https://metric-api.newrelic.com/metric/v1",
                          newrelic_opts },
    [EXPORT_INFLUX] = { "influx", NULL, influx_opts },
    [EXPORT_OTLP] = { "otlp", NULL, otlp_opts },
};

/* Every option some type uses and another does not. */
static const char *const typed_opts[] = {
    "api_version", "api_key", "api_key_env", "api_key_file", "token",
    "token_env", "token_file", "database", "bucket", "org"
};

const char *export_type_name(int type)
{
    return type >= 0 && type < EXPORT__COUNT ? types[type].name : "unknown";
}

bool export_influx_write_url(const char *url)
{
    const char *q = url ? strchr(url, '?') : NULL;
    if (!q)
        return false;
    static const char *const ends[] = { "/write", "/api/v2/write" };
    for (size_t i = 0; i < ARRAY_SIZE(ends); i++) {
        size_t n = strlen(ends[i]);
        if ((size_t)(q - url) >= n && strncmp(q - n, ends[i], n) == 0)
            return true;
    }
    return false;
}

/* Whether the query of url has parameter name (name given with its '='). */
static bool query_has(const char *url, const char *name)
{
    const char *q = strchr(url, '?');
    size_t n = strlen(name);
    for (const char *p = q; p; p = strchr(p + 1, '&'))
        if (strncmp(p + 1, name, n) == 0)
            return true;
    return false;
}

static bool type_uses(int type, const char *opt)
{
    for (const char *const *o = types[type].opts; *o; o++)
        if (streq(*o, opt))
            return true;
    return false;
}

static void export_defaults(struct export_cfg *x)
{
    memset(x, 0, sizeof(*x));
    x->type = -1;
    x->api_version = 2;
    x->prefix = xstrdup(EXPORT_DEFAULT_PREFIX);
    x->interval_s = EXPORT_DEFAULT_INTERVAL_S;
    str_list_add(&x->workspaces, "*");
    x->buffer_points = EXPORT_DEFAULT_BUFFER;
    x->batch_points = 0;
    x->gzip = true;
    x->timeout_s = EXPORT_DEFAULT_TIMEOUT_S;
}

static int find_type(const struct cfg_section *s)
{
    const char *names[EXPORT__COUNT];
    for (int i = 0; i < EXPORT__COUNT; i++)
        names[i] = types[i].name;
    struct strbuf choices = STRBUF_INIT;
    section_add_choices(&choices, names, EXPORT__COUNT);
    const char *type = section_str(s, "type");
    int found = -1;
    if (!type) {
        section_error(s, NULL, "type is required (%s)", strbuf_str(&choices));
    } else {
        for (int i = 0; i < EXPORT__COUNT; i++)
            if (streq(type, names[i]))
                found = i;
        if (found < 0) {
            const char *dym = schema_closest(type, names, EXPORT__COUNT);
            if (dym)
                section_error(s, "type", "unknown type '%s' (did you mean "
                              "'%s'?)", type, dym);
            else
                section_error(s, "type", "unknown type '%s' (expected %s)",
                              type, strbuf_str(&choices));
        }
    }
    strbuf_free(&choices);
    return found;
}

/* Letters, digits, '-', '_' and '.': the name is part of a file name. */
static bool valid_name(const char *n)
{
    if (!n || !*n)
        return false;
    for (; *n; n++)
        if (!((*n >= 'a' && *n <= 'z') || (*n >= 'A' && *n <= 'Z') ||
              (*n >= '0' && *n <= '9') || *n == '-' || *n == '_' ||
              *n == '.'))
            return false;
    return true;
}

/* A metric name prefix: empty, or a letter then letters, digits, '_'
 * and '.' (what every intake accepts in a metric name). */
static bool valid_prefix(const char *p)
{
    if (!*p)
        return true;
    if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')))
        return false;
    for (; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
              (*p >= '0' && *p <= '9') || *p == '_' || *p == '.'))
            return false;
    return true;
}

/* tags = {"k:v", "k=v"}: a key of letters, digits, '_', '-', '.', '/'
 * and a value without line breaks. */
static void load_tags(const struct cfg_section *s, struct kv_list *out)
{
    struct str_list entries = { NULL, 0 };
    section_get_list(s, "tags", &entries);
    for (size_t i = 0; i < entries.n; i++) {
        const char *e = entries.items[i];
        size_t kl = strcspn(e, ":=");
        bool ok = e[kl] && kl > 0 && !strpbrk(e, "\r\n");
        for (size_t k = 0; ok && k < kl; k++) {
            char c = e[k];
            ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                 (c >= '0' && c <= '9') || strchr("_-./", c);
        }
        if (!ok) {
            section_error(s, "tags", "invalid tag '%s' (expected key:value "
                          "with a key of letters, digits, '_', '-', '.' or "
                          "'/')", e);
            continue;
        }
        char *key = xstrndup(e, kl);
        kv_list_add(out, key, e + kl + 1);
        free(key);
    }
    str_list_free(&entries);
}

/* A whole number option in [min, max] into a size_t. */
static void get_count(const struct cfg_section *s, const char *name,
                      size_t *out, long min, long max)
{
    int v = (int)*out;
    section_get_int(s, name, &v, min, max);
    *out = (size_t)v;
}

void sections_load_export(const struct cfg_file *file, struct cfg_t *sec,
                          struct export_cfg *x)
{
    static const char *const versions[] = { "1", "2" };
    struct cfg_section *s = section_open(file, sec, "export");
    export_defaults(x);
    x->name = xstrdup(section_title(s));
    x->loc.file = file->name;
    x->loc.line = section_line(s);
    if (!valid_name(x->name))
        section_error(s, NULL, "invalid export name '%s' (letters, digits, "
                      "'-', '_' and '.')", x->name ? x->name : "");

    x->type = find_type(s);
    section_get_string(s, "url", &x->url);
    if (x->url) {
        section_strip_trailing_slashes(x->url);
        if (!section_is_http_url(x->url))
            section_error(s, "url", "url must start with http:// or "
                          "https://");
    }
    section_get_http_headers(s, "headers", &x->headers);
    secret_get_env_headers(s, "headers_env", &x->headers);
    section_get_string(s, "prefix", &x->prefix);
    if (!valid_prefix(x->prefix))
        section_error(s, "prefix", "invalid prefix '%s' (a letter, then "
                      "letters, digits, '_' or '.'; or \"\")", x->prefix);
    load_tags(s, &x->tags);
    double iv = x->interval_s;
    section_get_interval(s, "interval", &iv, false);
    if (iv < EXPORT_MIN_INTERVAL_S)
        section_error(s, "interval", "interval must be at least 1s");
    else
        x->interval_s = iv;
    section_get_list(s, "workspaces", &x->workspaces);
    get_count(s, "buffer", &x->buffer_points, 1, EXPORT_MAX_BUFFER);
    get_count(s, "batch_size", &x->batch_points, 1, EXPORT_MAX_BATCH);
    section_get_bool(s, "gzip", &x->gzip);
    section_get_interval(s, "timeout", &x->timeout_s, false);

    if (x->type < 0)
        goto done;      /* type-specific checks would only add noise */
    for (size_t i = 0; i < ARRAY_SIZE(typed_opts); i++)
        if (!type_uses(x->type, typed_opts[i]) &&
            section_is_set(s, typed_opts[i]))
            section_warning(s, typed_opts[i], "%s is not used by %s "
                            "exporters", typed_opts[i],
                            types[x->type].name);
    if (!x->url && types[x->type].default_url)
        x->url = xstrdup(types[x->type].default_url);
    else if (!x->url && !section_wrote(s, "url"))
        section_error(s, NULL, "url is required for %s exporters%s",
                      types[x->type].name,
                      x->type == EXPORT_OTLP
                          ? " (the collector's OTLP/HTTP base URL, e.g. "
                            "http://127.0.0.1:4318)" : "");
    switch (x->type) {
    case EXPORT_DATADOG: {
        int v = section_get_enum(s, "api_version", versions,
                                 ARRAY_SIZE(versions), 1);
        if (v >= 0)
            x->api_version = v + 1;
        secret_require(s, "api_key", true, &x->api_key);
        break;
    }
    case EXPORT_NEWRELIC:
        secret_require(s, "api_key", true, &x->api_key);
        break;
    case EXPORT_INFLUX:
        secret_get(s, "token", true, &x->token);
        section_get_string(s, "database", &x->database);
        section_get_string(s, "bucket", &x->bucket);
        section_get_string(s, "org", &x->org);
        if (export_influx_write_url(x->url)) {
            /* the form: url = "http://h:8086/write?db=segment" */
            if (x->database || x->bucket || x->org)
                section_error(s, "url", "url is a write endpoint with its "
                              "query: give the database there or in "
                              "database / bucket and org, not both");
            else if (!query_has(x->url, "db=") &&
                     !query_has(x->url, "bucket="))
                section_error(s, "url", "the write url names no database "
                              "(?db=NAME) or bucket (?org=ORG&bucket=NAME)");
            else if (query_has(x->url, "precision="))
                section_error(s, "url", "drop precision= from the url: "
                              "segalert writes whole seconds and says so");
        } else if (x->database && (x->bucket || x->org))
            section_error(s, "database", "give database (InfluxDB 1.x, "
                          "VictoriaMetrics) or bucket and org (InfluxDB "
                          "2.x), not both");
        else if (!x->database && !(x->bucket && x->org))
            section_error(s, NULL, "influx exporters need database "
                          "(InfluxDB 1.x, VictoriaMetrics) or bucket and org "
                          "(InfluxDB 2.x)");
        break;
    default:
        break;
    }
done:
    section_close(s);
}
