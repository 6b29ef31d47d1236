/*
 * sim_scenario.c - the libconfuse scenario loader.  Per-option checks run
 * as validate callbacks while parsing, so errors carry the line of the
 * option; the rest is checked after parsing with the section's line.
 */
#include <confuse.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "core/util.h"
#include "sim_model.h"
#include "sim_scenario.h"

/* ---- catalogue -------------------------------------------------------- */

struct catalog_entry {
    const char *slug, *id, *name, *category;
};

/* Destination catalogue ids: amplitude and webhooks as in the fixtures,
 * the others made up in the same 24-hex form. */
static const struct catalog_entry dest_catalog[] = {
    { "amplitude", "54521fd525e721e32a72ee91", "Amplitude", "Analytics" },
    { "webhooks", "54521fdc25e721e32a72ef04", "Webhooks", "Raw Data" },
    { "mixpanel", "54521fd925e721e32a72eee1", "Mixpanel", "Analytics" },
    { "google-analytics-4", "60ad61f9ff47a16b8fb7b5d9",
      "Google Analytics 4 Cloud", "Analytics" },
    { "braze", "5d2d8f56f159f30001b3c3a9", "Braze Cloud Mode (Actions)",
      "Marketing Automation" },
    { "bigquery", "5a4b1f7d6a4ab9c1b0b8c0a1", "BigQuery", "Warehouses" },
    { "snowflake", "5a4b1f7d6a4ab9c1b0b8c0a2", "Snowflake", "Warehouses" },
    { "hubspot", "54521fd625e721e32a72eeb8", "HubSpot", "CRM" },
    { "intercom", "54521fd725e721e32a72eec6", "Intercom", "Customer Success" },
    { "customer-io", "54521fd525e721e32a72ee98", "Customer.io",
      "Email Marketing" },
    { "facebook-conversions-api", "5c7f0e2d5c1a3a0001b3c9e4",
      "Facebook Conversions API", "Advertising" },
    { "slack", "54521fdb25e721e32a72eef7", "Slack", "Raw Data" },
    { "google-ads", "60cb7d5f2a8c5e01a3fde1b2", "Google Ads Conversions",
      "Advertising" },
};

static const struct catalog_entry source_catalog[] = {
    { "javascript", "IqDTy1TpoU", "Javascript", "Website" },
    { "ios", "UBrsG9RVzw", "iOS", "Mobile" },
    { "android", "V6ynUvQgbc", "Android", "Mobile" },
    { "node", "yMu7LWmXDR", "Node.js", "Server" },
    { "http", "LFO6Ws0Kfr", "HTTP API", "Server" },
    { "python", "XRksQPCr7X", "Python", "Server" },
};

static const struct catalog_entry *catalog_find(const struct catalog_entry *c,
                                                size_t n, const char *slug)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(c[i].slug, slug) == 0)
            return &c[i];
    return NULL;
}

static const char id_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/* A Segment-like 22-char id, stable for (seed, kind, key). */
static void make_id(char *out, uint64_t seed, const char *kind,
                    const char *key)
{
    struct rng r;
    uint64_t h = hash_bytes(kind, strlen(kind), seed);
    h = hash_bytes(key, strlen(key), h);
    rng_seed(&r, h);
    for (int i = 0; i < SIM_ID_LEN; i++)
        out[i] = id_alphabet[rng_next(&r) % 62];
    out[SIM_ID_LEN] = '\0';
}

/* Catalogue-like id for unknown slugs: 24 hex digits (dest) or 10 chars. */
static char *made_up_meta_id(const char *slug, bool hex24)
{
    struct rng r;
    char buf[25];
    int n = hex24 ? 24 : 10;
    rng_seed(&r, hash_str(slug));
    for (int i = 0; i < n; i++)
        buf[i] = hex24 ? "0123456789abcdef"[rng_next(&r) % 16]
                       : id_alphabet[rng_next(&r) % 62];
    buf[n] = '\0';
    return xstrdup(buf);
}

static const char *kind_names[INC_KIND_COUNT] = {
    "discard_spike", "latency_spike", "delivery_stall",
    "volume_drop", "volume_spike", "mtu_surge",
};

/* Value used when an incident leaves `value` out. */
static const double kind_default_value[INC_KIND_COUNT] = {
    0.2, 5, 0, 0.2, 3, 5,
};

const char *sim_incident_kind_name(enum sim_incident_kind k)
{
    return (unsigned)k < INC_KIND_COUNT ? kind_names[k] : NULL;
}

static int kind_parse(const char *s)
{
    for (int i = 0; i < INC_KIND_COUNT; i++)
        if (streq(s, kind_names[i]))
            return i;
    return -1;
}

/* ---- libconfuse schema ------------------------------------------------- */

static cfg_opt_t dest_opts[] = {
    CFG_STR("name", NULL, CFGF_NONE),
    CFG_STR("slug", NULL, CFGF_NONE),
    CFG_BOOL("enabled", cfg_true, CFGF_NONE),
    CFG_FLOAT("discard_ratio", 0.001, CFGF_NONE),
    CFG_FLOAT("expired_ratio", 0.0001, CFGF_NONE),
    CFG_FLOAT("retry_ratio", 0.005, CFGF_NONE),
    CFG_STR("latency_avg", "400ms", CFGF_NONE),
    CFG_STR("latency_p95", "1500ms", CFGF_NONE),
    CFG_STR("first_attempt_avg", NULL, CFGF_NONE),
    CFG_STR("first_attempt_p95", NULL, CFGF_NONE),
    CFG_END()
};

static cfg_opt_t source_opts[] = {
    CFG_STR("name", NULL, CFGF_NONE),
    CFG_STR("type", "javascript", CFGF_NONE),
    CFG_BOOL("enabled", cfg_true, CFGF_NONE),
    CFG_FLOAT("events_per_minute", 100, CFGF_NONE),
    CFG_FLOAT("daily_amplitude", 0.3, CFGF_NONE),
    CFG_FLOAT("noise", 0.03, CFGF_NONE),
    CFG_FLOAT("mtu_per_day", 1000, CFGF_NONE),
    CFG_FLOAT("api_calls_per_day", -1, CFGF_NONE),
    CFG_STR_LIST("labels", "{}", CFGF_NONE),
    CFG_SEC("destination", dest_opts,
            CFGF_MULTI | CFGF_TITLE | CFGF_NO_TITLE_DUPES),
    CFG_END()
};

static cfg_opt_t generate_opts[] = {
    CFG_INT("sources", 0, CFGF_NONE),
    CFG_INT("destinations_per_source", 0, CFGF_NONE),
    CFG_FLOAT("events_per_minute", 100, CFGF_NONE),
    CFG_FLOAT("mtu_per_day", 500, CFGF_NONE),
    CFG_FLOAT("api_calls_per_day", -1, CFGF_NONE),
    CFG_FLOAT("discard_ratio", 0.001, CFGF_NONE),
    CFG_FLOAT("retry_ratio", 0.005, CFGF_NONE),
    CFG_STR("latency_avg", "400ms", CFGF_NONE),
    CFG_STR("latency_p95", "1500ms", CFGF_NONE),
    CFG_STR_LIST("destination_slugs",
                 "{amplitude, mixpanel, webhooks, google-analytics-4, braze, "
                 "bigquery}", CFGF_NONE),
    CFG_STR_LIST("source_types", "{javascript, ios, android, node}",
                 CFGF_NONE),
    CFG_END()
};

static cfg_opt_t incident_opts[] = {
    CFG_STR("kind", NULL, CFGF_NODEFAULT),
    CFG_STR("source", "*", CFGF_NONE),
    CFG_STR("destination", "*", CFGF_NONE),
    CFG_STR("start", "0s", CFGF_NONE),
    CFG_STR("at", NULL, CFGF_NONE),
    CFG_STR("duration", "5m", CFGF_NONE),
    CFG_STR("every", "0", CFGF_NONE),
    CFG_FLOAT("value", NAN, CFGF_NONE),
    CFG_END()
};

static cfg_opt_t faults_opts[] = {
    CFG_FLOAT("error_5xx", 0, CFGF_NONE),
    CFG_FLOAT("garbage", 0, CFGF_NONE),
    CFG_FLOAT("truncated", 0, CFGF_NONE),
    CFG_FLOAT("html", 0, CFGF_NONE),
    CFG_FLOAT("slow", 0, CFGF_NONE),
    CFG_FLOAT("drop", 0, CFGF_NONE),
    CFG_FLOAT("error_422", 0, CFGF_NONE),
    CFG_INT("fail_first", 0, CFGF_NONE),
    CFG_STR("slow_for", "30s", CFGF_NONE),
    CFG_STR_LIST("paths", "{*}", CFGF_NONE),
    CFG_END()
};

static cfg_opt_t top_opts[] = {
    CFG_INT("seed", 42, CFGF_NONE),
    CFG_STR("token", "sim-token", CFGF_NONE),
    CFG_STR("workspace_id", NULL, CFGF_NONE),
    CFG_INT("rate_limit", 0, CFGF_NONE),
    CFG_STR("rate_window", "60s", CFGF_NONE),
    CFG_STR("latency", "0", CFGF_NONE),
    CFG_STR("latency_jitter", "0", CFGF_NONE),
    CFG_STR("latency_unit", "s", CFGF_NONE),
    CFG_INT("max_page_size", 1000, CFGF_NONE),
    CFG_INT("default_page_size", 200, CFGF_NONE),
    CFG_STR("mtu_period_start", NULL, CFGF_NONE),
    CFG_SEC("source", source_opts,
            CFGF_MULTI | CFGF_TITLE | CFGF_NO_TITLE_DUPES),
    CFG_SEC("generate", generate_opts, CFGF_NONE),
    CFG_SEC("incident", incident_opts,
            CFGF_MULTI | CFGF_TITLE | CFGF_NO_TITLE_DUPES),
    CFG_SEC("faults", faults_opts, CFGF_NONE),
    CFG_END()
};

/* The workspace served without --scenario. */
static const char builtin_scenario[] =
    "source \"web_prod\" {\n"
    "  name = \"Web (prod)\"\n"
    "  events_per_minute = 2000\n"
    "  mtu_per_day = 5000\n"
    "  labels = {\"environment=prod\"}\n"
    "  destination \"amplitude\" { name = \"Amplitude (prod)\" }\n"
    "  destination \"webhooks\" { name = \"Webhooks\" }\n"
    "}\n"
    "source \"ios_prod\" {\n"
    "  name = \"iOS (prod)\"\n"
    "  type = \"ios\"\n"
    "  events_per_minute = 300\n"
    "  destination \"mixpanel\" { name = \"Mixpanel\" }\n"
    "}\n";

/* ---- error reporting and validation ------------------------------------ */

/* Name for error messages: the text is parsed from a buffer (see
 * prepare_text), so cfg->filename would say "[buf]".  Loading happens
 * once, in main, before any thread starts. */
static const char *err_file = "[scenario]";

static void cfg_errfunc(cfg_t *cfg, const char *fmt, va_list ap)
{
    const char *file = err_file;
    fprintf(stderr, "%s:%d: ", file, cfg ? cfg->line : 0);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
}

static int v_duration(cfg_t *cfg, cfg_opt_t *opt)
{
    const char *s = cfg_opt_getnstr(opt, 0);
    double d;
    if (s && parse_duration(s, &d) != 0) {
        cfg_error(cfg, "invalid duration '%s' for option '%s' "
                  "(use e.g. \"250ms\", \"30s\", \"5m\", \"1h\")",
                  s, cfg_opt_name(opt));
        return -1;
    }
    return 0;
}

static int v_ratio(cfg_t *cfg, cfg_opt_t *opt)
{
    double v = cfg_opt_getnfloat(opt, 0);
    if (!(v >= 0 && v <= 1)) {
        cfg_error(cfg, "option '%s' must be between 0 and 1, got %g",
                  cfg_opt_name(opt), v);
        return -1;
    }
    return 0;
}

static int v_nonneg_float(cfg_t *cfg, cfg_opt_t *opt)
{
    double v = cfg_opt_getnfloat(opt, 0);
    if (!(v >= 0) || !isfinite(v)) {
        cfg_error(cfg, "option '%s' must be >= 0, got %g",
                  cfg_opt_name(opt), v);
        return -1;
    }
    return 0;
}

static int v_nonneg_int(cfg_t *cfg, cfg_opt_t *opt)
{
    if (cfg_opt_getnint(opt, 0) < 0) {
        cfg_error(cfg, "option '%s' must be >= 0", cfg_opt_name(opt));
        return -1;
    }
    return 0;
}

static int v_page_size(cfg_t *cfg, cfg_opt_t *opt)
{
    long v = cfg_opt_getnint(opt, 0);
    if (v < 1 || v > 1000) {
        cfg_error(cfg, "option '%s' must be 1..1000, got %ld",
                  cfg_opt_name(opt), v);
        return -1;
    }
    return 0;
}

static int v_latency_unit(cfg_t *cfg, cfg_opt_t *opt)
{
    const char *s = cfg_opt_getnstr(opt, 0);
    if (!streq(s, "s") && !streq(s, "ms")) {
        cfg_error(cfg, "latency_unit must be \"s\" or \"ms\", got '%s'",
                  s ? s : "");
        return -1;
    }
    return 0;
}

static int v_date(cfg_t *cfg, cfg_opt_t *opt)
{
    const char *s = cfg_opt_getnstr(opt, 0);
    double t;
    if (s && parse_iso8601(s, &t) != 0) {
        cfg_error(cfg, "invalid date '%s' for option '%s' (use YYYY-MM-DD "
                  "or an ISO-8601 UTC time)", s, cfg_opt_name(opt));
        return -1;
    }
    return 0;
}

static int v_label(cfg_t *cfg, cfg_opt_t *opt)
{
    for (unsigned i = 0; i < cfg_opt_size(opt); i++) {
        const char *s = cfg_opt_getnstr(opt, i);
        if (!s || !strchr(s, '=') || s[0] == '=') {
            cfg_error(cfg, "label '%s' is not of the form \"key=value\"",
                      s ? s : "");
            return -1;
        }
    }
    return 0;
}

/* Section callbacks: the section just parsed is the last one of opt. */
static cfg_t *last_sec(cfg_opt_t *opt)
{
    unsigned n = cfg_opt_size(opt);
    return n ? cfg_opt_getnsec(opt, n - 1) : NULL;
}

static int v_incident(cfg_t *cfg, cfg_opt_t *opt)
{
    cfg_t *sec = last_sec(opt);
    if (!sec)
        return 0;
    const char *kind = cfg_getstr(sec, "kind");
    if (!kind) {
        cfg_error(cfg, "incident '%s': option 'kind' is required",
                  cfg_title(sec));
        return -1;
    }
    int k = kind_parse(kind);
    if (k < 0) {
        cfg_error(cfg, "incident '%s': unknown kind '%s' (one of "
                  "discard_spike, latency_spike, delivery_stall, volume_drop, "
                  "volume_spike, mtu_surge)", cfg_title(sec), kind);
        return -1;
    }
    double v = cfg_getfloat(sec, "value");
    if (!isnan(v)) {
        if (!(v >= 0) || !isfinite(v) ||
            (k == INC_DISCARD_SPIKE && v > 1)) {
            cfg_error(cfg, "incident '%s': value %g out of range for %s",
                      cfg_title(sec), v, kind);
            return -1;
        }
    }
    double every, dur;
    if (parse_duration(cfg_getstr(sec, "every"), &every) == 0 &&
        parse_duration(cfg_getstr(sec, "duration"), &dur) == 0 &&
        every > 0 && every < dur) {
        cfg_error(cfg, "incident '%s': 'every' must be at least 'duration'",
                  cfg_title(sec));
        return -1;
    }
    return 0;
}

static int v_faults(cfg_t *cfg, cfg_opt_t *opt)
{
    cfg_t *sec = last_sec(opt);
    static const char *names[] = { "error_5xx", "garbage", "truncated",
                                   "html", "slow", "drop", "error_422" };
    double sum = 0;
    if (!sec)
        return 0;
    for (size_t i = 0; i < ARRAY_SIZE(names); i++)
        sum += cfg_getfloat(sec, names[i]);
    if (sum > 1 + 1e-9) {
        cfg_error(cfg, "faults: shares add up to %g, more than 1", sum);
        return -1;
    }
    return 0;
}

static void set_validators(cfg_t *cfg)
{
    static const char *durations[] = {
        "latency", "latency_jitter",
        "source|destination|latency_avg", "source|destination|latency_p95",
        "source|destination|first_attempt_avg",
        "source|destination|first_attempt_p95",
        "generate|latency_avg", "generate|latency_p95",
        "incident|start", "incident|duration", "incident|every",
        "faults|slow_for", "rate_window",
    };
    static const char *ratios[] = {
        "source|destination|discard_ratio", "source|destination|expired_ratio",
        "source|destination|retry_ratio", "source|daily_amplitude",
        "source|noise", "generate|discard_ratio", "generate|retry_ratio",
        "faults|error_5xx", "faults|garbage", "faults|truncated",
        "faults|html", "faults|slow", "faults|drop", "faults|error_422",
    };
    static const char *nonneg_f[] = {
        "source|events_per_minute", "source|mtu_per_day",
        "generate|events_per_minute", "generate|mtu_per_day",
    };
    static const char *nonneg_i[] = {
        "rate_limit", "seed", "generate|sources",
        "generate|destinations_per_source",
    };
    for (size_t i = 0; i < ARRAY_SIZE(durations); i++)
        cfg_set_validate_func(cfg, durations[i], v_duration);
    for (size_t i = 0; i < ARRAY_SIZE(ratios); i++)
        cfg_set_validate_func(cfg, ratios[i], v_ratio);
    for (size_t i = 0; i < ARRAY_SIZE(nonneg_f); i++)
        cfg_set_validate_func(cfg, nonneg_f[i], v_nonneg_float);
    for (size_t i = 0; i < ARRAY_SIZE(nonneg_i); i++)
        cfg_set_validate_func(cfg, nonneg_i[i], v_nonneg_int);
    cfg_set_validate_func(cfg, "max_page_size", v_page_size);
    cfg_set_validate_func(cfg, "default_page_size", v_page_size);
    cfg_set_validate_func(cfg, "latency_unit", v_latency_unit);
    cfg_set_validate_func(cfg, "mtu_period_start", v_date);
    cfg_set_validate_func(cfg, "incident|at", v_date);
    cfg_set_validate_func(cfg, "source|labels", v_label);
    cfg_set_validate_func(cfg, "incident", v_incident);
    cfg_set_validate_func(cfg, "faults", v_faults);
}

/*
 * Prepare the file text for libconfuse, which 3.3 gets wrong in two ways:
 * comments make it report later line numbers than the real ones (2 extra
 * lines per "#" comment), and a section left open at end of file is
 * accepted.  So blank every comment (keeping newlines) and find the line
 * of an unmatched '{' ourselves, skipping strings.
 */
static int prepare_text(char *text, const char *file)
{
    int depth = 0, line = 1, open_line[64] = { 0 };
    for (char *p = text; *p; p++) {
        if (*p == '\n') {
            line++;
        } else if (*p == '#' || (p[0] == '/' && p[1] == '/')) {
            while (*p && *p != '\n')
                *p++ = ' ';
            if (!*p)
                break;
            line++;
        } else if (p[0] == '/' && p[1] == '*') {
            for (; *p && !(p[0] == '*' && p[1] == '/'); p++) {
                if (*p == '\n')
                    line++;
                else
                    *p = ' ';
            }
            if (!*p)
                break;
            p[0] = p[1] = ' ';
            p++;
        } else if (*p == '"' || *p == '\'') {
            char q = *p;
            for (p++; *p && *p != q; p++) {
                if (*p == '\\' && p[1])
                    p++;
                if (*p == '\n')
                    line++;
            }
            if (!*p)
                break;
        } else if (*p == '{') {
            if (depth < (int)ARRAY_SIZE(open_line))
                open_line[depth] = line;
            depth++;
        } else if (*p == '}') {
            depth--;
        }
    }
    if (depth > 0) {
        int at = open_line[depth - 1 < (int)ARRAY_SIZE(open_line) ?
                           depth - 1 : 0];
        fprintf(stderr, "%s:%d: premature end of file: section opened here "
                "is never closed\n", file, at);
        return -1;
    }
    return 0;
}

/* ---- building the model ------------------------------------------------ */

static double dur(cfg_t *sec, const char *name, double dflt)
{
    const char *s = cfg_getstr(sec, name);
    double d;
    if (!s || parse_duration(s, &d) != 0)
        return dflt;
    return d;
}

static void dest_set_catalog(struct sim_dest *d)
{
    const struct catalog_entry *c =
        catalog_find(dest_catalog, ARRAY_SIZE(dest_catalog), d->slug);
    d->meta_id = c ? xstrdup(c->id) : made_up_meta_id(d->slug, true);
    d->meta_name = xstrdup(c ? c->name : d->slug);
    d->meta_category = xstrdup(c ? c->category : "Other");
}

static void source_set_catalog(struct sim_source *s)
{
    const struct catalog_entry *c =
        catalog_find(source_catalog, ARRAY_SIZE(source_catalog), s->type);
    s->meta_id = c ? xstrdup(c->id) : made_up_meta_id(s->type, false);
    s->meta_name = xstrdup(c ? c->name : s->type);
    s->meta_category = xstrdup(c ? c->category : "Other");
}

static void source_finish(struct scenario *sc, struct sim_source *s)
{
    make_id(s->id, sc->seed, "source", s->slug);
    s->hash = hash_bytes(s->slug, strlen(s->slug), sc->seed ^ 0x5157ULL);
    if (s->api_calls_per_day < 0)
        s->api_calls_per_day = s->events_per_minute * 1440 / 20;
    source_set_catalog(s);
    for (size_t j = 0; j < s->n_dests; j++) {
        struct sim_dest *d = &s->dests[j];
        char *key = xasprintf("%s/%s", s->slug, d->key);
        make_id(d->id, sc->seed, "destination", key);
        free(key);
        dest_set_catalog(d);
    }
}

static void load_dest(struct sim_dest *d, cfg_t *sec)
{
    d->key = xstrdup(cfg_title(sec));
    d->name = xstrdup(cfg_getstr(sec, "name") ? cfg_getstr(sec, "name")
                                              : d->key);
    d->slug = xstrdup(cfg_getstr(sec, "slug") ? cfg_getstr(sec, "slug")
                                              : d->key);
    d->enabled = cfg_getbool(sec, "enabled");
    d->discard_ratio = cfg_getfloat(sec, "discard_ratio");
    d->expired_ratio = cfg_getfloat(sec, "expired_ratio");
    d->retry_ratio = cfg_getfloat(sec, "retry_ratio");
    d->latency_avg_s = dur(sec, "latency_avg", 0.4);
    d->latency_p95_s = dur(sec, "latency_p95", 1.5);
    /* First attempts happen before retries: a fraction of time to success. */
    d->first_avg_s = dur(sec, "first_attempt_avg", d->latency_avg_s * 0.55);
    d->first_p95_s = dur(sec, "first_attempt_p95", d->latency_p95_s * 0.5);
}

static void load_source(struct scenario *sc, struct sim_source *s, cfg_t *sec)
{
    s->slug = xstrdup(cfg_title(sec));
    s->name = xstrdup(cfg_getstr(sec, "name") ? cfg_getstr(sec, "name")
                                              : s->slug);
    s->type = xstrdup(cfg_getstr(sec, "type"));
    s->enabled = cfg_getbool(sec, "enabled");
    s->events_per_minute = cfg_getfloat(sec, "events_per_minute");
    s->daily_amplitude = cfg_getfloat(sec, "daily_amplitude");
    s->noise = cfg_getfloat(sec, "noise");
    s->mtu_per_day = cfg_getfloat(sec, "mtu_per_day");
    s->api_calls_per_day = cfg_getfloat(sec, "api_calls_per_day");
    s->n_labels = cfg_size(sec, "labels");
    s->label_keys = xcalloc(s->n_labels + 1, sizeof(char *));
    s->label_values = xcalloc(s->n_labels + 1, sizeof(char *));
    for (size_t i = 0; i < s->n_labels; i++) {
        const char *kv = cfg_getnstr(sec, "labels", (unsigned)i);
        const char *eq = strchr(kv, '=');
        s->label_keys[i] = xstrndup(kv, (size_t)(eq - kv));
        s->label_values[i] = xstrdup(eq + 1);
    }
    s->n_dests = cfg_size(sec, "destination");
    s->dests = xcalloc(s->n_dests + 1, sizeof(*s->dests));
    for (size_t j = 0; j < s->n_dests; j++)
        load_dest(&s->dests[j],
                  cfg_getnsec(sec, "destination", (unsigned)j));
    source_finish(sc, s);
}

static void generate_sources(struct scenario *sc, cfg_t *gen, size_t first)
{
    size_t n = (size_t)cfg_getint(gen, "sources");
    size_t nd = (size_t)cfg_getint(gen, "destinations_per_source");
    size_t n_slugs = cfg_size(gen, "destination_slugs");
    size_t n_types = cfg_size(gen, "source_types");
    for (size_t i = 0; i < n; i++) {
        struct sim_source *s = &sc->sources[first + i];
        s->slug = xasprintf("src-%04zu", i + 1);
        s->name = xstrdup(s->slug);
        s->type = xstrdup(n_types ? cfg_getnstr(gen, "source_types",
                                                (unsigned)(i % n_types))
                                  : "javascript");
        s->enabled = true;
        s->events_per_minute = cfg_getfloat(gen, "events_per_minute");
        s->daily_amplitude = 0.3;
        s->noise = 0.03;
        s->mtu_per_day = cfg_getfloat(gen, "mtu_per_day");
        s->api_calls_per_day = cfg_getfloat(gen, "api_calls_per_day");
        s->label_keys = xcalloc(1, sizeof(char *));
        s->label_values = xcalloc(1, sizeof(char *));
        s->n_dests = nd;
        s->dests = xcalloc(nd + 1, sizeof(*s->dests));
        for (size_t j = 0; j < nd; j++) {
            struct sim_dest *d = &s->dests[j];
            d->key = xasprintf("dst-%04zu-%02zu", i + 1, j + 1);
            d->name = xstrdup(d->key);
            d->slug = xstrdup(n_slugs ? cfg_getnstr(gen, "destination_slugs",
                                                    (unsigned)(j % n_slugs))
                                      : "webhooks");
            d->enabled = true;
            d->discard_ratio = cfg_getfloat(gen, "discard_ratio");
            d->expired_ratio = d->discard_ratio / 10;
            d->retry_ratio = cfg_getfloat(gen, "retry_ratio");
            d->latency_avg_s = dur(gen, "latency_avg", 0.4);
            d->latency_p95_s = dur(gen, "latency_p95", 1.5);
            d->first_avg_s = d->latency_avg_s * 0.55;
            d->first_p95_s = d->latency_p95_s * 0.5;
        }
        source_finish(sc, s);
    }
}

static void load_incident(struct scenario *sc, struct sim_incident *inc,
                          cfg_t *sec)
{
    inc->name = xstrdup(cfg_title(sec));
    inc->kind = (enum sim_incident_kind)kind_parse(cfg_getstr(sec, "kind"));
    inc->source_glob = xstrdup(cfg_getstr(sec, "source"));
    inc->dest_glob = xstrdup(cfg_getstr(sec, "destination"));
    double at;
    if (cfg_getstr(sec, "at") && parse_iso8601(cfg_getstr(sec, "at"), &at) == 0)
        inc->start = at;
    else
        inc->start = sc->start + dur(sec, "start", 0);
    inc->duration_s = dur(sec, "duration", 300);
    inc->every_s = dur(sec, "every", 0);
    inc->value = cfg_getfloat(sec, "value");
    if (isnan(inc->value))
        inc->value = kind_default_value[inc->kind];
}

static bool is_connection_kind(enum sim_incident_kind k)
{
    return k == INC_DISCARD_SPIKE || k == INC_LATENCY_SPIKE ||
           k == INC_DELIVERY_STALL;
}

/* Attach each incident to the sources/connections it matches. */
static void link_incidents(struct scenario *sc)
{
    for (size_t i = 0; i < sc->n_incidents; i++) {
        const struct sim_incident *inc = &sc->incidents[i];
        size_t matches = 0;
        for (size_t s = 0; s < sc->n_sources; s++) {
            struct sim_source *src = &sc->sources[s];
            if (!glob_match(inc->source_glob, src->slug))
                continue;
            if (!is_connection_kind(inc->kind)) {
                src->incidents = xrealloc(src->incidents,
                    (src->n_incidents + 1) * sizeof(*src->incidents));
                src->incidents[src->n_incidents++] = inc;
                matches++;
                continue;
            }
            for (size_t j = 0; j < src->n_dests; j++) {
                struct sim_dest *d = &src->dests[j];
                if (!glob_match(inc->dest_glob, d->key) &&
                    !glob_match(inc->dest_glob, d->slug))
                    continue;
                d->incidents = xrealloc(d->incidents,
                    (d->n_incidents + 1) * sizeof(*d->incidents));
                d->incidents[d->n_incidents++] = inc;
                matches++;
            }
        }
        if (matches == 0)
            fprintf(stderr, "%s: warning: incident '%s' matches nothing "
                    "(source \"%s\", destination \"%s\")\n", sc->file,
                    inc->name, inc->source_glob, inc->dest_glob);
    }
}

struct scenario *scenario_load(const char *path, long long seed_override,
                               const char *token_override, double start)
{
    struct scenario *sc = xcalloc(1, sizeof(*sc));
    cfg_t *cfg = cfg_init(top_opts, CFGF_NONE);
    char *text = NULL;
    int rc;

    sc->file = xstrdup(path ? path : "[built-in]");
    sc->start = start;
    cfg_set_error_function(cfg, cfg_errfunc);
    set_validators(cfg);
    if (path) {
        size_t len;
        text = read_file(path, 4 << 20, &len);
        if (!text) {
            fprintf(stderr, "%s: cannot read scenario: %s\n", path,
                    strerror(errno));
            goto fail;
        }
        if (prepare_text(text, path) != 0)
            goto fail;
        err_file = path;
        rc = cfg_parse_buf(cfg, text);
    } else {
        err_file = "[built-in]";
        rc = cfg_parse_buf(cfg, builtin_scenario);
    }
    if (rc == CFG_FILE_ERROR) {
        fprintf(stderr, "%s: cannot read scenario: %s\n", sc->file,
                strerror(errno));
        goto fail;
    }
    if (rc != CFG_SUCCESS)
        goto fail;

    sc->seed = seed_override >= 0 ? (uint64_t)seed_override
                                  : (uint64_t)cfg_getint(cfg, "seed");
    sc->token = xstrdup(token_override ? token_override
                                       : cfg_getstr(cfg, "token"));
    if (cfg_getstr(cfg, "workspace_id"))
        snprintf(sc->workspace_id, sizeof(sc->workspace_id), "%s",
                 cfg_getstr(cfg, "workspace_id"));
    else
        make_id(sc->workspace_id, sc->seed, "workspace", "workspace");
    sc->rate_limit = cfg_getint(cfg, "rate_limit");
    sc->rate_window_s = dur(cfg, "rate_window", 60);
    if (sc->rate_window_s < 1)
        sc->rate_window_s = 60;
    sc->latency_s = dur(cfg, "latency", 0);
    sc->latency_jitter_s = dur(cfg, "latency_jitter", 0);
    sc->latency_ms = streq(cfg_getstr(cfg, "latency_unit"), "ms");
    sc->max_page_size = cfg_getint(cfg, "max_page_size");
    sc->default_page_size = cfg_getint(cfg, "default_page_size");
    sc->period_anchor_day = 1;
    if (cfg_getstr(cfg, "mtu_period_start")) {
        double t;
        int y, m, d;
        parse_iso8601(cfg_getstr(cfg, "mtu_period_start"), &t);
        model_civil_from_days((int64_t)floor(t / 86400), &y, &m, &d);
        sc->period_anchor_day = d;
    }

    cfg_t *gen = cfg_getsec(cfg, "generate");
    size_t n_explicit = cfg_size(cfg, "source");
    size_t n_gen = gen ? (size_t)cfg_getint(gen, "sources") : 0;
    sc->n_sources = n_explicit + n_gen;
    sc->sources = xcalloc(sc->n_sources + 1, sizeof(*sc->sources));
    for (size_t i = 0; i < n_explicit; i++)
        load_source(sc, &sc->sources[i],
                    cfg_getnsec(cfg, "source", (unsigned)i));
    if (n_gen)
        generate_sources(sc, gen, n_explicit);
    for (size_t i = 0; i < sc->n_sources; i++)
        for (size_t j = 0; j < i; j++)
            if (strcmp(sc->sources[i].slug, sc->sources[j].slug) == 0) {
                fprintf(stderr, "%s: source '%s' defined twice (explicit "
                        "and generated)\n", sc->file, sc->sources[i].slug);
                goto fail;
            }

    sc->n_incidents = cfg_size(cfg, "incident");
    sc->incidents = xcalloc(sc->n_incidents + 1, sizeof(*sc->incidents));
    for (size_t i = 0; i < sc->n_incidents; i++)
        load_incident(sc, &sc->incidents[i],
                      cfg_getnsec(cfg, "incident", (unsigned)i));

    cfg_t *f = cfg_getsec(cfg, "faults");
    if (f) {
        static const char *names[SIM_FAULT_COUNT] = {
            "error_5xx", "garbage", "truncated", "html", "slow", "drop",
            "error_422" };
        for (int i = 0; i < SIM_FAULT_COUNT; i++)
            sc->faults.share[i] = cfg_getfloat(f, names[i]);
        sc->faults.slow_for_s = dur(f, "slow_for", 30);
        sc->faults.fail_first = cfg_getint(f, "fail_first");
        sc->faults.n_paths = cfg_size(f, "paths");
        sc->faults.paths = xcalloc(sc->faults.n_paths + 1, sizeof(char *));
        for (size_t i = 0; i < sc->faults.n_paths; i++)
            sc->faults.paths[i] = xstrdup(cfg_getnstr(f, "paths",
                                                      (unsigned)i));
    }
    link_incidents(sc);
    cfg_free(cfg);
    free(text);
    return sc;
fail:
    cfg_free(cfg);
    free(text);
    scenario_free(sc);
    return NULL;
}

static void dest_free(struct sim_dest *d)
{
    free(d->key);
    free(d->name);
    free(d->slug);
    free(d->meta_id);
    free(d->meta_name);
    free(d->meta_category);
    free(d->incidents);
}

static void source_free(struct sim_source *s)
{
    free(s->slug);
    free(s->name);
    free(s->type);
    free(s->meta_id);
    free(s->meta_name);
    free(s->meta_category);
    for (size_t i = 0; i < s->n_labels; i++) {
        free(s->label_keys[i]);
        free(s->label_values[i]);
    }
    free(s->label_keys);
    free(s->label_values);
    for (size_t j = 0; j < s->n_dests; j++)
        dest_free(&s->dests[j]);
    free(s->dests);
    free(s->incidents);
}

void scenario_free(struct scenario *sc)
{
    if (!sc)
        return;
    for (size_t i = 0; i < sc->n_sources; i++)
        source_free(&sc->sources[i]);
    free(sc->sources);
    for (size_t i = 0; i < sc->n_incidents; i++) {
        free(sc->incidents[i].name);
        free(sc->incidents[i].source_glob);
        free(sc->incidents[i].dest_glob);
    }
    free(sc->incidents);
    for (size_t i = 0; i < sc->faults.n_paths; i++)
        free(sc->faults.paths[i]);
    free(sc->faults.paths);
    free(sc->token);
    free(sc->file);
    free(sc);
}

const struct sim_source *scenario_find_source(const struct scenario *sc,
                                              const char *id)
{
    for (size_t i = 0; i < sc->n_sources; i++)
        if (strcmp(sc->sources[i].id, id) == 0)
            return &sc->sources[i];
    return NULL;
}

const struct sim_dest *scenario_find_dest(const struct scenario *sc,
                                          const char *id,
                                          const struct sim_source **src)
{
    for (size_t i = 0; i < sc->n_sources; i++)
        for (size_t j = 0; j < sc->sources[i].n_dests; j++)
            if (strcmp(sc->sources[i].dests[j].id, id) == 0) {
                if (src)
                    *src = &sc->sources[i];
                return &sc->sources[i].dests[j];
            }
    return NULL;
}
