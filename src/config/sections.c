/*
 * sections.c - the loaders of the globals, workspace, defaults, route and
 * rule sections (see sections.h), with their defaults.
 */
#include "config/sections.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config/schema.h"
#include "config/secrets.h"
#include "core/util.h"

/* The API's MINUTE granularity covers at most this much. */
#define MAX_DELIVERY_WINDOW_S (4 * 3600.0)

/* ---- defaults ------------------------------------------------------------ */

static void timing_defaults(struct timing_cfg *t)
{
    memset(t, 0, sizeof(*t));
    str_list_add(&t->group_by, "rule");
    str_list_add(&t->group_by, "workspace");
    t->group_wait_s = 30;
    t->group_interval_s = 300;
    t->repeat_interval_s = 14400;
}

static void workspace_defaults(struct workspace_cfg *w)
{
    memset(w, 0, sizeof(*w));
    w->api_url = xstrdup("https://api.segmentapis.com");
    str_list_add(&w->sources, "*");
    str_list_add(&w->destinations, "*");
    w->poll_interval_s = 300;
    w->delivery_window_s = 0;       /* = poll_interval unless set */
    w->volume_interval_s = 60;
    w->usage_interval_s = 21600;
    w->billing_cycle_day = 1;
    w->request_budget = 60;
    w->overview_budget = 10;
    w->max_concurrency = 4;
    w->latency_scale = 1;
    w->connect_timeout_s = 10;
    w->request_timeout_s = 30;
}

static void rule_defaults(struct rule_cfg *r)
{
    memset(r, 0, sizeof(*r));
    r->no_data = NODATA_KEEP;
    r->no_data_after_s = 1800;
    r->severity = xstrdup("critical");
    r->reasons = -1;
    str_list_add(&r->sources, "*");
    str_list_add(&r->destinations, "*");
    str_list_add(&r->workspaces, "*");
}

/* A route's timing starts as the defaults, none of them overridden. */
static void timing_copy(struct timing_cfg *dst, const struct timing_cfg *src)
{
    *dst = *src;
    str_list_copy(&dst->group_by, &src->group_by);
    dst->has_group_by = dst->has_group_wait = false;
    dst->has_group_interval = dst->has_repeat_interval = false;
}

/* What the main file's top level and defaults section mean when empty. */
struct config *config_new_defaults(void)
{
    struct config *cfg = xcalloc(1, sizeof(*cfg));
    cfg->state_dir = xstrdup("/var/lib/segalert");
    cfg->listen = xstrdup("127.0.0.1:9477");
    cfg->log_level = xstrdup("info");
    cfg->log_format = xstrdup("text");
    cfg->max_silences = CONFIG_MAX_SILENCES;
    cfg->max_silence_size_bytes = CONFIG_MAX_SILENCE_SIZE;
    timing_defaults(&cfg->defaults);
    return cfg;
}

/* ---- globals ------------------------------------------------------------- */

static void check_listen(const struct cfg_section *s, const char *listen)
{
    const char *colon = strrchr(listen, ':');
    long port;
    if (!colon || colon == listen || parse_long(colon + 1, &port) != 0 ||
        port < 1 || port > 65535)
        section_error(s, "listen", "invalid listen address '%s' (expected "
                      "HOST:PORT, or \"\" to disable)", listen);
}

/* "name", "name:port", "[v6]" or "[v6]:port": what a Host header holds.
 * Anything with a scheme, a path, spaces or an empty name is refused, so
 * that "http://host/" is reported rather than silently never matching. */
static bool is_host_entry(const char *h)
{
    const char *end = h + strlen(h);
    const char *port = NULL;
    bool v6 = h[0] == '[';
    if (v6) {
        const char *close = strchr(h, ']');
        if (!close || close == h + 1)
            return false;
        if (close[1] == ':')
            port = close + 2;
        else if (close[1])
            return false;
        end = close;
        h++;
    } else {
        const char *colon = strchr(h, ':');
        if (colon) {
            port = colon + 1;
            end = colon;
        }
    }
    if (end == h)
        return false;
    for (const char *p = h; p < end; p++) {
        unsigned char c = (unsigned char)*p;
        if (!(c >= 'a' && c <= 'z') && !(c >= 'A' && c <= 'Z') &&
            !(c >= '0' && c <= '9') && c != '-' && c != '.' && c != '_' &&
            !(c == ':' && v6))
            return false;
    }
    long n;
    if (port && (parse_long(port, &n) != 0 || n < 1 || n > 65535))
        return false;
    return true;
}

void sections_load_globals(const struct cfg_section *s, struct config *cfg)
{
    static const char *const levels[] = { "error", "warn", "info", "debug" };
    static const char *const formats[] = { "text", "json" };

    section_get_string(s, "state_dir", &cfg->state_dir);
    if (!cfg->state_dir[0])
        section_error(s, "state_dir", "state_dir must not be empty");
    section_get_string(s, "listen", &cfg->listen);
    if (cfg->listen[0])
        check_listen(s, cfg->listen);
    if (section_get_enum(s, "log_level", levels, ARRAY_SIZE(levels), 2) >= 0)
        section_get_string(s, "log_level", &cfg->log_level);
    if (section_get_enum(s, "log_format", formats, ARRAY_SIZE(formats),
                         0) >= 0)
        section_get_string(s, "log_format", &cfg->log_format);
    section_get_string(s, "external_url", &cfg->external_url);
    if (cfg->external_url) {
        section_strip_trailing_slashes(cfg->external_url);
        if (!section_is_http_url(cfg->external_url))
            section_error(s, "external_url", "external_url must start with "
                          "http:// or https://");
    }
    secret_get(s, "admin_token", true, &cfg->admin_token);
    if (section_get_list(s, "allowed_hosts", &cfg->allowed_hosts))
        for (size_t i = 0; i < cfg->allowed_hosts.n; i++)
            if (!is_host_entry(cfg->allowed_hosts.items[i]))
                section_error(s, "allowed_hosts", "allowed_hosts: '%s' is "
                              "not a host name (expected HOST or HOST:PORT, "
                              "without scheme or path)",
                              cfg->allowed_hosts.items[i]);
    section_get_bool(s, "enable_lifecycle", &cfg->enable_lifecycle);
    section_get_int(s, "max_silences", &cfg->max_silences, 0, INT_MAX);
    section_get_int(s, "max_silence_size_bytes",
                    &cfg->max_silence_size_bytes, 0, INT_MAX);
    section_get_list(s, "rule_files", &cfg->rule_files);
}

/* ---- workspace ----------------------------------------------------------- */

/* The Segment Public API's regional hosts (docs/segment-api.md). */
static const char *const segment_hosts[] = {
    "api.segmentapis.com", "eu1.api.segmentapis.com",
};

/* A warning when api_url's host is neither a Segment region nor loopback
 * (segalert-sim, a local proxy): a plausible typo such as
 * api.eu1.segmentapis.com would otherwise only show as failed polls. */
static void warn_unknown_region(const struct cfg_section *s, const char *url)
{
    char host[256];
    if (section_url_host(url, host, sizeof(host)) != 0 ||
        section_url_is_loopback(url))
        return;
    for (size_t i = 0; i < ARRAY_SIZE(segment_hosts); i++)
        if (strcasecmp(host, segment_hosts[i]) == 0)
            return;
    const char *dym = schema_closest(host, segment_hosts,
                                     ARRAY_SIZE(segment_hosts));
    section_warning(s, "api_url", "api_url host '%s' is not a Segment "
                    "region (api.segmentapis.com, eu1.api.segmentapis.com)"
                    "%s%s%s", host, dym ? "; did you mean '" : "",
                    dym ? dym : "", dym ? "'?" : "");
}

void sections_load_workspace(const struct cfg_file *file, struct cfg_t *sec,
                             struct workspace_cfg *w)
{
    static const char *const units[] = { "s", "ms" };
    struct cfg_section *s = section_open(file, sec, "workspace");
    workspace_defaults(w);
    w->name = xstrdup(section_title(s));
    w->loc.file = file->name;
    w->loc.line = section_line(s);

    section_get_string(s, "api_url", &w->api_url);
    section_strip_trailing_slashes(w->api_url);
    section_get_bool(s, "allow_insecure_http", &w->allow_insecure_http);
    if (!section_is_http_url(w->api_url))
        section_error(s, "api_url", "api_url must start with http:// or "
                      "https:// (got '%s')", w->api_url);
    else if (str_has_prefix(w->api_url, "http://") &&
             !section_url_is_loopback(w->api_url) && !w->allow_insecure_http)
        /* every request carries the token as a bearer header */
        section_error(s, "api_url", "api_url '%s' is plain http:// to a host "
                      "that is not loopback: the token would cross the "
                      "network in cleartext (use https://, or set "
                      "allow_insecure_http = true in this workspace)",
                      w->api_url);
    else
        warn_unknown_region(s, w->api_url);
    secret_require(s, "token", true, &w->token);
    section_get_list(s, "sources", &w->sources);
    section_get_list(s, "exclude_sources", &w->exclude_sources);
    section_get_list(s, "destinations", &w->destinations);

    section_get_interval(s, "poll_interval", &w->poll_interval_s, false);
    section_get_interval(s, "volume_interval", &w->volume_interval_s, false);
    section_get_interval(s, "usage_interval", &w->usage_interval_s, false);
    section_get_interval(s, "connect_timeout", &w->connect_timeout_s, false);
    section_get_interval(s, "request_timeout", &w->request_timeout_s, false);
    double win = w->delivery_window_s;
    if (section_str(s, "delivery_window") &&
        section_get_duration(s, "delivery_window", &win)) {
        char buf[32];
        format_duration(win, buf, sizeof(buf));
        if (win > MAX_DELIVERY_WINDOW_S)
            section_error(s, "delivery_window", "delivery_window must be at "
                          "most 4h (the API's MINUTE granularity limit), got "
                          "%s", buf);
        else if (win < 60)
            section_error(s, "delivery_window", "delivery_window must be at "
                          "least 1m, got %s", buf);
        else
            w->delivery_window_s = win;
    }

    /* By default each delivery summary covers the time since the previous
     * poll: windows that neither overlap nor leave gaps, which is what the
     * shipped rules add up with sum(m, 30m). */
    if (w->delivery_window_s <= 0)
        w->delivery_window_s = w->poll_interval_s < MAX_DELIVERY_WINDOW_S
                                   ? (w->poll_interval_s >= 60
                                          ? w->poll_interval_s : 60)
                                   : MAX_DELIVERY_WINDOW_S;

    double budget = w->request_budget;
    if (section_get_number(s, "request_budget", &budget)) {
        if (budget <= 0)
            section_error(s, "request_budget", "request_budget must be "
                          "greater than 0 (requests per minute)");
        else
            w->request_budget = budget;
    }
    double ob = w->overview_budget;
    if (section_get_number(s, "overview_budget", &ob)) {
        if (ob < 0)
            section_error(s, "overview_budget", "overview_budget must be 0 "
                          "(never read discard reasons) or more (requests "
                          "per minute)");
        else if (ob > w->request_budget)
            section_error(s, "overview_budget", "overview_budget (%g) must "
                          "not exceed request_budget (%g): it is a share "
                          "of it", ob, w->request_budget);
        else
            w->overview_budget = ob;
    } else if (w->overview_budget > w->request_budget) {
        w->overview_budget = w->request_budget / 6;
    }
    section_get_int(s, "max_concurrency", &w->max_concurrency, 1, 64);
    int unit = section_get_enum(s, "latency_unit", units, ARRAY_SIZE(units),
                                0);
    w->latency_scale = unit == 1 ? 0.001 : 1;

    const char *limits[] = { "mtu_limit", "api_calls_limit" };
    double *limit_out[] = { &w->mtu_limit, &w->api_calls_limit };
    for (size_t i = 0; i < ARRAY_SIZE(limits); i++) {
        double v = 0;
        if (section_get_number(s, limits[i], &v) && v < 0)
            section_error(s, limits[i], "%s must not be negative", limits[i]);
        else if (v >= 0)
            *limit_out[i] = v;
    }
    section_get_int(s, "billing_cycle_day", &w->billing_cycle_day, 1, 28);
    section_get_kv(s, "labels", &w->labels, "label", "key=value");
    section_close(s);
}

/* ---- defaults and routes ------------------------------------------------- */

/* The grouping and timing options of a defaults or route section. */
static void load_timing(const struct cfg_section *s, struct timing_cfg *t)
{
    if (section_get_list(s, "group_by", &t->group_by)) {
        t->has_group_by = true;
        for (size_t i = 0; i < t->group_by.n; i++)
            /* "..." groups by every label (as Alertmanager). */
            if (!streq(t->group_by.items[i], "...") &&
                !section_is_label_name(t->group_by.items[i]))
                section_error(s, "group_by", "invalid label name '%s' in "
                              "group_by", t->group_by.items[i]);
    }
    if (section_str(s, "group_wait")) {
        t->has_group_wait = true;
        section_get_interval(s, "group_wait", &t->group_wait_s, true);
    }
    if (section_str(s, "group_interval")) {
        t->has_group_interval = true;
        section_get_interval(s, "group_interval", &t->group_interval_s,
                             false);
    }
    if (section_str(s, "repeat_interval")) {
        t->has_repeat_interval = true;
        section_get_interval(s, "repeat_interval", &t->repeat_interval_s,
                             false);
    }
}

void sections_load_defaults(const struct cfg_file *file, struct cfg_t *sec,
                            struct timing_cfg *defaults)
{
    struct cfg_section *s = section_open(file, sec, "defaults");
    load_timing(s, defaults);
    section_close(s);
}

void sections_load_route(const struct cfg_file *file, struct cfg_t *sec,
                         const struct config *cfg, struct route_cfg *rt)
{
    struct cfg_section *s = section_open(file, sec, "route");
    memset(rt, 0, sizeof(*rt));
    rt->name = xstrdup(section_title(s));
    rt->loc.file = file->name;
    rt->loc.line = section_line(s);
    rt->receiver_index = -1;
    timing_copy(&rt->timing, &cfg->defaults);

    section_get_kv(s, "match", &rt->match, "match", "label=glob");
    section_get_string(s, "receiver", &rt->receiver);
    if (!rt->receiver) {
        section_error(s, NULL, "receiver is required");
    } else {
        const char **names = xcalloc(cfg->nreceivers + 1, sizeof(*names));
        for (size_t i = 0; i < cfg->nreceivers; i++) {
            names[i] = cfg->receivers[i].name;
            if (strcmp(names[i], rt->receiver) == 0)
                rt->receiver_index = (int)i;
        }
        if (rt->receiver_index < 0) {
            const char *dym = schema_closest(rt->receiver, names,
                                             cfg->nreceivers);
            if (dym)
                section_error(s, "receiver", "unknown receiver '%s' (did you "
                              "mean '%s'?)", rt->receiver, dym);
            else
                section_error(s, "receiver", "unknown receiver '%s'",
                              rt->receiver);
        }
        free(names);
    }
    section_get_bool(s, "continue", &rt->cont);
    load_timing(s, &rt->timing);
    section_close(s);
}

/* ---- rules --------------------------------------------------------------- */

void sections_load_rule(const struct cfg_file *file, struct cfg_t *sec,
                        struct rule_cfg *r)
{
    static const char *const nodata[] = { "keep", "ok", "alert" };
    static const char *const sev[] = { "critical", "error", "warning",
                                       "info" };
    struct cfg_section *s = section_open(file, sec, "rule");
    rule_defaults(r);
    r->name = xstrdup(section_title(s));
    r->loc.file = file->name;
    r->loc.line = section_line(s);

    section_get_text(s, "expr", &r->expr, &r->expr_line, &r->expr_col);
    /* an expr written wrongly was reported already */
    if (!r->expr && !section_wrote(s, "expr"))
        section_error(s, NULL, "expr is required");
    else if (r->expr && !r->expr[strspn(r->expr, " \t\r\n")])
        section_error(s, "expr", "expr is empty");
    section_get_text(s, "warn", &r->warn, &r->warn_line, &r->warn_col);
    section_get_text(s, "recover", &r->recover, &r->recover_line,
                     &r->recover_col);
    section_get_interval(s, "for", &r->for_s, true);
    section_get_interval(s, "keep_firing_for", &r->keep_firing_for_s, true);
    section_get_interval(s, "no_data_after", &r->no_data_after_s, true);
    int nd = section_get_enum(s, "no_data", nodata, ARRAY_SIZE(nodata),
                              NODATA_KEEP);
    if (nd >= 0)
        r->no_data = (enum no_data_mode)nd;
    section_get_bool(s, "flap_detection", &r->flap_detection);
    if (section_is_set(s, "reasons")) {
        bool on = false;
        section_get_bool(s, "reasons", &on);
        r->reasons = on;
    }
    if (section_get_enum(s, "severity", sev, ARRAY_SIZE(sev), 0) >= 0)
        section_get_string(s, "severity", &r->severity);
    section_get_list(s, "sources", &r->sources);
    section_get_list(s, "destinations", &r->destinations);
    section_get_list(s, "workspaces", &r->workspaces);
    section_get_kv(s, "labels", &r->labels, "label", "key=value");
    section_get_text(s, "summary", &r->summary, &r->summary_line,
                     &r->summary_col);
    section_get_text(s, "description", &r->description, &r->description_line,
                     &r->description_col);
    section_get_string(s, "runbook_url", &r->runbook_url);
    section_close(s);
}
