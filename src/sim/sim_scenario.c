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
    /* device-mode (client-side) integrations */
    { "fullstory", "54521fd625e721e32a72eeb3", "FullStory",
      "Heatmaps & Recordings" },
    { "hotjar", "5e4b3b5e2c6f7a0001c0ffee", "Hotjar",
      "Heatmaps & Recordings" },
    { "google-tag-manager", "54521fd625e721e32a72eeb5",
      "Google Tag Manager", "Tag Managers" },
    { "firebase", "5783fb6e80412f644ff0a6b6", "Firebase", "Analytics" },
    { "appsflyer", "54c02a8adb31d978f14a7f6b", "AppsFlyer", "Attribution" },
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
    "volume_drop", "volume_spike", "mtu_surge", "destination_outage",
};

/* Value used when an incident leaves `value` out. */
static const double kind_default_value[INC_KIND_COUNT] = {
    0.2, 5, 0, 0.2, 3, 5, 1,
};

/* Discard codes when a list leaves them out: a destination's baseline,
 * a discard_spike (a bad payload) and an outage (the endpoint answering
 * 503 to retries that give up). */
#define DEFAULT_DISCARD_REASONS "{\"400=1\"}"
#define DEFAULT_SPIKE_REASON "400"
#define DEFAULT_OUTAGE_REASON "503"
/* Segment retries a failed delivery for up to 4 hours. */
#define DEFAULT_RETRY_FOR_S (4 * 3600.0)
/* Share of an outage's failures that are not retryable. */
#define DEFAULT_OUTAGE_DISCARDED 0.1

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
    CFG_STR("mode", "cloud", CFGF_NONE),
    CFG_FLOAT("filtered", 0, CFGF_NONE),
    CFG_FLOAT("subscribed", 1, CFGF_NONE),
    CFG_FLOAT("fanout", 1, CFGF_NONE),
    CFG_STR_LIST("discard_reasons", DEFAULT_DISCARD_REASONS, CFGF_NONE),
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
    CFG_FLOAT("failed_on_ingest", 0, CFGF_NONE),
    CFG_FLOAT("filtered_at_source", 0, CFGF_NONE),
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
    CFG_STR_LIST("reasons", NULL, CFGF_NONE),
    CFG_STR("retry_for", NULL, CFGF_NONE),
    CFG_FLOAT("discarded", NAN, CFGF_NONE),
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
    CFG_STR_LIST("forbidden", NULL, CFGF_NONE),
    CFG_STR_LIST("not_found_sources", NULL, CFGF_NONE),
    CFG_STR_LIST("repeat_cursor", NULL, CFGF_NONE),
    CFG_STR_LIST("duplicate_items", NULL, CFGF_NONE),
    CFG_END()
};

static cfg_opt_t top_opts[] = {
    CFG_INT("seed", 42, CFGF_NONE),
    CFG_STR("token", "sim-token", CFGF_NONE),
    CFG_STR("workspace_id", NULL, CFGF_NONE),
    CFG_INT("rate_limit", 0, CFGF_NONE),
    CFG_INT("volume_rate_limit", 0, CFGF_NONE),
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

/* A duration that may be negative ("-2d": before the sim's start). */
static int parse_signed_duration(const char *s, double *out)
{
    bool neg = s && s[0] == '-';
    if (parse_duration(neg ? s + 1 : s, out) != 0)
        return -1;
    if (neg)
        *out = -*out;
    return 0;
}

static int v_signed_duration(cfg_t *cfg, cfg_opt_t *opt)
{
    const char *s = cfg_opt_getnstr(opt, 0);
    double d;
    if (s && parse_signed_duration(s, &d) != 0) {
        cfg_error(cfg, "invalid duration '%s' for option '%s' "
                  "(use e.g. \"30m\", or \"-2d\" for before the start)",
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

static int v_mode(cfg_t *cfg, cfg_opt_t *opt)
{
    const char *s = cfg_opt_getnstr(opt, 0);
    if (!streq(s, "cloud") && !streq(s, "device")) {
        cfg_error(cfg, "mode must be \"cloud\" or \"device\", got '%s'",
                  s ? s : "");
        return -1;
    }
    return 0;
}

static int v_fanout(cfg_t *cfg, cfg_opt_t *opt)
{
    double v = cfg_opt_getnfloat(opt, 0);
    if (!(v >= 1) || !isfinite(v)) {
        cfg_error(cfg, "option '%s' must be >= 1 (deliveries per event), "
                  "got %g", cfg_opt_name(opt), v);
        return -1;
    }
    return 0;
}

/* "CODE=share": CODE non-empty, share a positive number.  0 with the
 * code and share split out, -1 when malformed. */
static int reason_split(const char *s, char *code, size_t len, double *share)
{
    const char *eq = s ? strrchr(s, '=') : NULL;
    if (!eq || eq == s || (size_t)(eq - s) >= len ||
        parse_double(eq + 1, share) != 0 || !(*share > 0) ||
        !isfinite(*share))
        return -1;
    memcpy(code, s, (size_t)(eq - s));
    code[eq - s] = '\0';
    return 0;
}

#define REASON_CODE_MAX 64

static int v_reasons(cfg_t *cfg, cfg_opt_t *opt)
{
    unsigned n = cfg_opt_size(opt);
    if (n > SIM_MAX_REASONS) {
        cfg_error(cfg, "option '%s': at most %d reasons, got %u",
                  cfg_opt_name(opt), SIM_MAX_REASONS, n);
        return -1;
    }
    for (unsigned i = 0; i < n; i++) {
        const char *s = cfg_opt_getnstr(opt, i);
        char code[REASON_CODE_MAX], other[REASON_CODE_MAX];
        double share, x;
        if (reason_split(s, code, sizeof(code), &share) != 0) {
            cfg_error(cfg, "option '%s': '%s' is not of the form "
                      "\"CODE=share\" (e.g. \"401=0.7\")",
                      cfg_opt_name(opt), s ? s : "");
            return -1;
        }
        for (unsigned j = 0; j < i; j++)
            if (reason_split(cfg_opt_getnstr(opt, j), other, sizeof(other),
                             &x) == 0 && streq(code, other)) {
                cfg_error(cfg, "option '%s': reason '%s' given twice",
                          cfg_opt_name(opt), code);
                return -1;
            }
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

/* An incident's `at`: an ISO time, or a signed offset from the sim's
 * start. */
static int v_at(cfg_t *cfg, cfg_opt_t *opt)
{
    const char *s = cfg_opt_getnstr(opt, 0);
    double t;
    if (s && parse_iso8601(s, &t) != 0 && parse_signed_duration(s, &t) != 0) {
        cfg_error(cfg, "invalid time '%s' for option '%s' (use an ISO-8601 "
                  "UTC time, or an offset from the sim's start such as "
                  "\"-30h\")", s, cfg_opt_name(opt));
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
                  "volume_spike, mtu_surge, destination_outage)",
                  cfg_title(sec), kind);
        return -1;
    }
    double v = cfg_getfloat(sec, "value");
    if (!isnan(v)) {
        if (!(v >= 0) || !isfinite(v) ||
            ((k == INC_DISCARD_SPIKE || k == INC_DESTINATION_OUTAGE) &&
             v > 1)) {
            cfg_error(cfg, "incident '%s': value %g out of range for %s",
                      cfg_title(sec), v, kind);
            return -1;
        }
    }
    if (cfg_size(sec, "reasons") > 0 && k != INC_DISCARD_SPIKE &&
        k != INC_DESTINATION_OUTAGE) {
        cfg_error(cfg, "incident '%s': 'reasons' applies to discard_spike "
                  "and destination_outage only", cfg_title(sec));
        return -1;
    }
    if ((cfg_getstr(sec, "retry_for") ||
         !isnan(cfg_getfloat(sec, "discarded"))) &&
        k != INC_DESTINATION_OUTAGE) {
        cfg_error(cfg, "incident '%s': 'retry_for' and 'discarded' apply to "
                  "destination_outage only", cfg_title(sec));
        return -1;
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
        "incident|duration", "incident|every", "incident|retry_for",
        "faults|slow_for", "rate_window",
    };
    static const char *ratios[] = {
        "source|destination|discard_ratio", "source|destination|expired_ratio",
        "source|destination|retry_ratio", "source|daily_amplitude",
        "source|noise", "generate|discard_ratio", "generate|retry_ratio",
        "faults|error_5xx", "faults|garbage", "faults|truncated",
        "faults|html", "faults|slow", "faults|drop", "faults|error_422",
        "source|destination|filtered", "source|destination|subscribed",
        "source|failed_on_ingest", "source|filtered_at_source",
        "incident|discarded",
    };
    static const char *nonneg_f[] = {
        "source|events_per_minute", "source|mtu_per_day",
        "generate|events_per_minute", "generate|mtu_per_day",
    };
    static const char *nonneg_i[] = {
        "rate_limit", "volume_rate_limit", "seed", "generate|sources",
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
    cfg_set_validate_func(cfg, "incident|at", v_at);
    cfg_set_validate_func(cfg, "incident|start", v_signed_duration);
    cfg_set_validate_func(cfg, "incident|reasons", v_reasons);
    cfg_set_validate_func(cfg, "source|destination|discard_reasons",
                          v_reasons);
    cfg_set_validate_func(cfg, "source|destination|mode", v_mode);
    cfg_set_validate_func(cfg, "source|destination|fanout", v_fanout);
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

/* Index of code in the scenario's reason table, adding it; -1 (with a
 * message) when the table is full. */
static int intern_reason(struct scenario *sc, const char *code)
{
    for (size_t i = 0; i < sc->n_reasons; i++)
        if (streq(sc->reason_names[i], code))
            return (int)i;
    if (sc->n_reasons >= SIM_MAX_REASON_NAMES) {
        fprintf(stderr, "%s: more than %d distinct discard reasons\n",
                sc->file, SIM_MAX_REASON_NAMES);
        return -1;
    }
    sc->reason_names[sc->n_reasons] = xstrdup(code);
    return (int)sc->n_reasons++;
}

/* A single-code mix (a default). */
static int reasons_one(struct scenario *sc, const char *code,
                       struct sim_reasons *out)
{
    int i = intern_reason(sc, code);
    if (i < 0)
        return -1;
    *out = (struct sim_reasons){ .n = 1, .idx = { i }, .share = { 1 } };
    return 0;
}

/* The "CODE=share" list opt of sec (validated by v_reasons), shares
 * normalised to 1; dflt when the list is empty. */
static int reasons_load(struct scenario *sc, cfg_t *sec, const char *opt,
                        const char *dflt, struct sim_reasons *out)
{
    unsigned n = cfg_size(sec, opt);
    double sum = 0;
    if (n == 0)
        return reasons_one(sc, dflt, out);
    *out = (struct sim_reasons){ 0 };
    for (unsigned i = 0; i < n && i < SIM_MAX_REASONS; i++) {
        char code[REASON_CODE_MAX];
        double share;
        if (reason_split(cfg_getnstr(sec, opt, i), code, sizeof(code),
                         &share) != 0)
            return -1;
        int k = intern_reason(sc, code);
        if (k < 0)
            return -1;
        out->idx[out->n] = k;
        out->share[out->n++] = share;
        sum += share;
    }
    for (size_t i = 0; i < out->n; i++)
        out->share[i] /= sum;
    return 0;
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
        d->hash = hash_bytes(key, strlen(key), sc->seed ^ 0xDE57ULL);
        free(key);
        dest_set_catalog(d);
    }
}

static int load_dest(struct scenario *sc, struct sim_dest *d, cfg_t *sec)
{
    d->key = xstrdup(cfg_title(sec));
    d->name = xstrdup(cfg_getstr(sec, "name") ? cfg_getstr(sec, "name")
                                              : d->key);
    d->slug = xstrdup(cfg_getstr(sec, "slug") ? cfg_getstr(sec, "slug")
                                              : d->key);
    d->enabled = cfg_getbool(sec, "enabled");
    d->mode = streq(cfg_getstr(sec, "mode"), "device") ? SIM_MODE_DEVICE
                                                      : SIM_MODE_CLOUD;
    d->filtered = cfg_getfloat(sec, "filtered");
    d->subscribed = cfg_getfloat(sec, "subscribed");
    d->fanout = cfg_getfloat(sec, "fanout");
    d->discard_ratio = cfg_getfloat(sec, "discard_ratio");
    d->expired_ratio = cfg_getfloat(sec, "expired_ratio");
    d->retry_ratio = cfg_getfloat(sec, "retry_ratio");
    d->latency_avg_s = dur(sec, "latency_avg", 0.4);
    d->latency_p95_s = dur(sec, "latency_p95", 1.5);
    /* First attempts happen before retries: a fraction of time to success. */
    d->first_avg_s = dur(sec, "first_attempt_avg", d->latency_avg_s * 0.55);
    d->first_p95_s = dur(sec, "first_attempt_p95", d->latency_p95_s * 0.5);
    return reasons_load(sc, sec, "discard_reasons", DEFAULT_SPIKE_REASON,
                        &d->discard_reasons);
}

static int load_source(struct scenario *sc, struct sim_source *s, cfg_t *sec)
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
    s->failed_on_ingest = cfg_getfloat(sec, "failed_on_ingest");
    s->filtered_at_source = cfg_getfloat(sec, "filtered_at_source");
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
    int rc = 0;
    for (size_t j = 0; j < s->n_dests; j++)
        if (load_dest(sc, &s->dests[j],
                      cfg_getnsec(sec, "destination", (unsigned)j)) != 0)
            rc = -1;
    source_finish(sc, s);
    return rc;
}

static int generate_sources(struct scenario *sc, cfg_t *gen, size_t first)
{
    struct sim_reasons reasons;
    if (reasons_one(sc, DEFAULT_SPIKE_REASON, &reasons) != 0)
        return -1;
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
            d->mode = SIM_MODE_CLOUD;
            d->subscribed = 1;
            d->fanout = 1;
            d->discard_reasons = reasons;
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
    return 0;
}

static int load_incident(struct scenario *sc, struct sim_incident *inc,
                         cfg_t *sec)
{
    inc->name = xstrdup(cfg_title(sec));
    inc->kind = (enum sim_incident_kind)kind_parse(cfg_getstr(sec, "kind"));
    inc->source_glob = xstrdup(cfg_getstr(sec, "source"));
    inc->dest_glob = xstrdup(cfg_getstr(sec, "destination"));
    double at;
    /* `at` is an ISO time, or an offset from the sim's start ("-30h"),
     * which puts an incident in history wherever the sim starts. */
    if (cfg_getstr(sec, "at") && parse_iso8601(cfg_getstr(sec, "at"), &at) == 0)
        inc->start = at;
    else if (cfg_getstr(sec, "at") &&
             parse_signed_duration(cfg_getstr(sec, "at"), &at) == 0)
        inc->start = sc->start + at;
    else if (parse_signed_duration(cfg_getstr(sec, "start"), &at) == 0)
        inc->start = sc->start + at;
    else
        inc->start = sc->start;
    inc->duration_s = dur(sec, "duration", 300);
    inc->every_s = dur(sec, "every", 0);
    inc->value = cfg_getfloat(sec, "value");
    if (isnan(inc->value))
        inc->value = kind_default_value[inc->kind];
    inc->retry_for_s = dur(sec, "retry_for", DEFAULT_RETRY_FOR_S);
    inc->discarded = cfg_getfloat(sec, "discarded");
    if (isnan(inc->discarded))
        inc->discarded = DEFAULT_OUTAGE_DISCARDED;
    return reasons_load(sc, sec, "reasons",
                        inc->kind == INC_DESTINATION_OUTAGE
                            ? DEFAULT_OUTAGE_REASON : DEFAULT_SPIKE_REASON,
                        &inc->reasons);
}

static bool is_connection_kind(enum sim_incident_kind k)
{
    return k == INC_DISCARD_SPIKE || k == INC_LATENCY_SPIKE ||
           k == INC_DELIVERY_STALL || k == INC_DESTINATION_OUTAGE;
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
                if (inc->kind == INC_DESTINATION_OUTAGE &&
                    inc->retry_for_s > d->lookback_s)
                    d->lookback_s = inc->retry_for_s;
                matches++;
            }
        }
        if (matches == 0)
            fprintf(stderr, "%s: warning: incident '%s' matches nothing "
                    "(source \"%s\", destination \"%s\")\n", sc->file,
                    inc->name, inc->source_glob, inc->dest_glob);
    }
}

/* A string list option as a NULL-terminated array of copies. */
static char **str_array(cfg_t *sec, const char *opt, size_t *n)
{
    *n = cfg_size(sec, opt);
    char **v = xcalloc(*n + 1, sizeof(char *));
    for (size_t i = 0; i < *n; i++)
        v[i] = xstrdup(cfg_getnstr(sec, opt, (unsigned)i));
    return v;
}

static void str_array_free(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

bool sim_globs_match(char *const *globs, size_t n, const char *path)
{
    for (size_t i = 0; i < n; i++)
        if (glob_match(globs[i], path))
            return true;
    return false;
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
    sc->volume_rate_limit = cfg_getint(cfg, "volume_rate_limit");
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
        if (load_source(sc, &sc->sources[i],
                        cfg_getnsec(cfg, "source", (unsigned)i)) != 0)
            goto fail;
    if (n_gen && generate_sources(sc, gen, n_explicit) != 0)
        goto fail;
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
        if (load_incident(sc, &sc->incidents[i],
                          cfg_getnsec(cfg, "incident", (unsigned)i)) != 0)
            goto fail;

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
        sc->faults.forbidden = str_array(f, "forbidden",
                                         &sc->faults.n_forbidden);
        sc->faults.repeat_cursor = str_array(f, "repeat_cursor",
                                             &sc->faults.n_repeat_cursor);
        sc->faults.duplicate_items = str_array(f, "duplicate_items",
                                               &sc->faults.n_duplicate_items);
        for (unsigned i = 0; i < cfg_size(f, "not_found_sources"); i++) {
            const char *slug = cfg_getnstr(f, "not_found_sources", i);
            bool found = false;
            for (size_t k = 0; k < sc->n_sources; k++)
                if (streq(sc->sources[k].slug, slug)) {
                    sc->sources[k].not_found = true;
                    found = true;
                }
            if (!found) {
                fprintf(stderr, "%s: faults: not_found_sources: no source "
                        "'%s'\n", sc->file, slug);
                goto fail;
            }
        }
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
    str_array_free(sc->faults.paths, sc->faults.n_paths);
    str_array_free(sc->faults.forbidden, sc->faults.n_forbidden);
    str_array_free(sc->faults.repeat_cursor, sc->faults.n_repeat_cursor);
    str_array_free(sc->faults.duplicate_items,
                   sc->faults.n_duplicate_items);
    for (size_t i = 0; i < sc->n_reasons; i++)
        free(sc->reason_names[i]);
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
