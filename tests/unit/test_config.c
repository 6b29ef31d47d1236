/*
 * test_config.c - the configuration loader: a full valid file with every
 * value checked, defaults, and each kind of mistake with its exact
 * diagnostic and line.  Fixtures are in tests/fixtures/config; the tests
 * run from tests/fixtures so diagnostics read "config/x.conf:LINE: ...".
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config/config.h"
#include "config/receiver_type.h"
#include "config/section.h"
#include "core/diag.h"
#include "core/log.h"
#include "core/util.h"
#include "notify/recv_alertmanager.h"
#include "notify/recv_email.h"
#include "notify/recv_pagerduty.h"
#include "notify/recv_webhook.h"

#include "receivers_fixture.h"

/* ---- helpers ------------------------------------------------------------- */

static void print_diags(const struct diag_list *dl)
{
    fprintf(stderr, "diagnostics (%zu):\n", dl->n);
    diag_print(dl, stderr);
}

/* Assert that dl holds exactly these diagnostics, in this order. */
static void expect_diags(const struct diag_list *dl, const char *const *texts,
                         size_t n)
{
    struct strbuf sb = STRBUF_INIT;
    bool ok = dl->n == n;
    for (size_t i = 0; ok && i < n; i++) {
        strbuf_reset(&sb);
        diag_format(&dl->items[i], &sb);
        ok = strcmp(strbuf_str(&sb), texts[i]) == 0;
    }
    strbuf_free(&sb);
    if (!ok) {
        fprintf(stderr, "expected (%zu):\n", n);
        for (size_t i = 0; i < n; i++)
            fprintf(stderr, "%s\n", texts[i]);
        print_diags(dl);
        fail();
    }
}

#define EXPECT_DIAGS(dl, ...) do { \
    const char *const exp_[] = { __VA_ARGS__ }; \
    expect_diags((dl), exp_, sizeof(exp_) / sizeof(exp_[0])); \
} while (0)

static void expect_no_diags(const struct diag_list *dl)
{
    if (dl->n != 0) {
        print_diags(dl);
        fail();
    }
}

static void assert_list(const struct str_list *l, size_t n, ...)
{
    va_list ap;
    assert_int_equal(l->n, n);
    va_start(ap, n);
    for (size_t i = 0; i < n; i++)
        assert_string_equal(l->items[i], va_arg(ap, const char *));
    va_end(ap);
}

static void assert_kv(const struct kv_list *l, size_t i, const char *k,
                      const char *v)
{
    assert_true(i < l->n);
    assert_string_equal(l->items[i].key, k);
    assert_string_equal(l->items[i].value, v);
}

static void assert_dbl(double got, double want)
{
    if (fabs(got - want) > 1e-9) {
        fprintf(stderr, "got %.17g, want %.17g\n", got, want);
        fail();
    }
}

static const struct rule_cfg *find_rule(const struct config *cfg,
                                        const char *name)
{
    for (size_t i = 0; i < cfg->nrules; i++)
        if (strcmp(cfg->rules[i].name, name) == 0)
            return &cfg->rules[i];
    return NULL;
}

static const struct route_cfg *find_route(const struct config *cfg,
                                          const char *name)
{
    for (size_t i = 0; i < cfg->nroutes; i++)
        if (strcmp(cfg->routes[i].name, name) == 0)
            return &cfg->routes[i];
    return NULL;
}

static void set_full_env(void)
{
    setenv("SEGALERT_TEST_ADMIN", "admin-token-1", 1);
    setenv("SEGALERT_TEST_TOKEN", "env-token-1", 1);
    setenv("SEGALERT_TEST_SLACK", "https://hooks.slack.com/services/T/B/x", 1);
}

static void write_text(const char *path, const char *text, mode_t mode)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    assert_int_equal(chmod(path, mode), 0);
}

static int setup_dir(void **state)
{
    (void)state;
    if (chdir(FIXTURES_DIR) != 0)
        return -1;
    return 0;
}

static int teardown_secrets(void **state)
{
    (void)state;
    log_secrets_clear();
    return 0;
}

/* ---- the full configuration ---------------------------------------------- */

static void test_full(void **state)
{
    (void)state;
    set_full_env();
    struct diag_list dl = DIAG_LIST_INIT;
    struct config *cfg = config_load("config/full.conf", &dl);
    assert_non_null(cfg);
    /* its billing route is for rules/billing.conf, not loaded here */
    EXPECT_DIAGS(&dl,
        "config/full.conf:73: warning: route \"billing\": match "
        "'rule=mtu-*' names no rule: the route can never match");
    assert_int_equal(dl.nerrors, 0);

    assert_string_equal(cfg->path, "config/full.conf");
    assert_list(&cfg->files, 3, "config/full.conf",
                "config/rules/10-delivery.conf", "config/rules/20-volume.conf");
    assert_string_equal(cfg->state_dir, "/tmp/segalert-state");
    assert_string_equal(cfg->listen, "0.0.0.0:9999");
    assert_string_equal(cfg->log_level, "debug");
    assert_string_equal(cfg->log_format, "json");
    assert_string_equal(cfg->external_url, "https://alerts.example.com");
    assert_string_equal(cfg->admin_token, "admin-token-1");
    assert_list(&cfg->rule_files, 1, "rules/*.conf");

    /* workspaces */
    assert_int_equal(cfg->nworkspaces, 2);
    const struct workspace_cfg *w = config_workspace(cfg, "prod");
    assert_ptr_equal(w, &cfg->workspaces[0]);
    assert_string_equal(w->loc.file, "config/full.conf");
    assert_ptr_equal(w->loc.file, cfg->files.items[0]);
    assert_int_equal(w->loc.line, 10);
    assert_string_equal(w->api_url, "https://eu1.api.segmentapis.com");
    assert_string_equal(w->token, "env-token-1");
    assert_list(&w->sources, 2, "web-*", "ios");
    assert_list(&w->exclude_sources, 1, "web-staging");
    assert_list(&w->destinations, 2, "Amplitude", "webhooks");
    assert_dbl(w->poll_interval_s, 120);
    assert_dbl(w->delivery_window_s, 14400);
    assert_dbl(w->volume_interval_s, 600);
    assert_dbl(w->usage_interval_s, 43200);
    assert_dbl(w->request_budget, 30);
    assert_int_equal(w->max_concurrency, 8);
    assert_dbl(w->latency_scale, 0.001);
    assert_dbl(w->mtu_limit, 100000);
    assert_dbl(w->api_calls_limit, 2.5e6);
    assert_int_equal(w->labels.n, 2);
    assert_kv(&w->labels, 0, "env", "prod");
    assert_kv(&w->labels, 1, "team", "data");
    assert_dbl(w->connect_timeout_s, 5);
    assert_dbl(w->request_timeout_s, 60);
    const struct workspace_cfg *st = config_workspace(cfg, "staging");
    assert_non_null(st);
    assert_string_equal(st->token, "inline-staging-token");
    assert_null(config_workspace(cfg, "nope"));

    /* defaults */
    assert_list(&cfg->defaults.group_by, 3, "rule", "workspace", "source");
    assert_dbl(cfg->defaults.group_wait_s, 10);
    assert_dbl(cfg->defaults.group_interval_s, 120);
    assert_dbl(cfg->defaults.repeat_interval_s, 3600);

    /* receivers */
    assert_int_equal(cfg->nreceivers, 6);
    const struct receiver_cfg *r = config_receiver(cfg, "data-slack");
    assert_non_null(r);
    assert_string_equal(receiver_type_name(r->type), "slack");
    assert_int_equal(r->loc.line, 41);
    assert_string_equal(r->url, "https://hooks.slack.com/services/T/B/x");
    assert_string_equal(r->subject, "{{rule}} on {{source}}");
    assert_int_equal(r->subject_line, 44);
    assert_int_equal(r->subject_col, 14);
    assert_null(r->body);
    assert_false(r->send_resolved);
    assert_dbl(r->timeout_s, 3);

    r = config_receiver(cfg, "oncall");
    assert_string_equal(receiver_type_name(r->type), "pagerduty");
    assert_string_equal(recv_pagerduty_cfg(r)->routing_key,
                        "pd-routing-key-1");
    assert_string_equal(r->url, "https://events.pagerduty.com/v2/enqueue");
    assert_true(r->send_resolved);
    assert_dbl(r->timeout_s, 10);

    r = config_receiver(cfg, "billing-mail");
    assert_string_equal(receiver_type_name(r->type), "email");
    const struct email_cfg *e = recv_email_cfg(r);
    assert_string_equal(e->smtp_host, "smtp.example.com");
    assert_int_equal(e->smtp_port, 587);
    assert_int_equal(e->starttls, STARTTLS_REQUIRED);
    assert_null(e->tls_ca_file);
    assert_string_equal(e->username, "alerts");
    assert_string_equal(e->password, "smtp-password-1");
    assert_string_equal(e->from, "segalert <alerts@example.com>");
    assert_list(&e->to, 2, "billing@example.com", "finance@example.com");
    assert_string_equal(r->subject, "[{{severity|upper}}] {{summary}}");
    assert_int_equal(r->subject_line, 58);
    assert_string_equal(r->body, "{{description}}\nRunbook: {{runbook_url}}");
    /* the text starts on the line after "body =" */
    assert_int_equal(r->body_line, 60);
    assert_int_equal(r->body_col, 6);

    r = config_receiver(cfg, "hook");
    assert_string_equal(receiver_type_name(r->type), "webhook");
    assert_string_equal(r->url, "https://hooks.example.com/segalert");
    assert_string_equal(recv_webhook_cfg(r)->hmac_secret, "hook-secret-1");
    assert_int_equal(r->headers.n, 2);
    assert_kv(&r->headers, 0, "X-Team", "data");
    assert_kv(&r->headers, 1, "Authorization", "Bearer hdr-token-1");

    r = config_receiver(cfg, "am");
    assert_string_equal(receiver_type_name(r->type), "alertmanager");
    assert_string_equal(r->url, "http://127.0.0.1:9093");
    assert_list(&recv_alertmanager_cfg(r)->urls, 2, "http://127.0.0.1:9093",
                "http://127.0.0.2:9093");

    r = config_receiver(cfg, "console");
    assert_string_equal(receiver_type_name(r->type), "log");
    assert_ptr_equal(r, &cfg->receivers[5]);
    assert_null(config_receiver(cfg, "nope"));

    /* routes, in file order */
    assert_int_equal(cfg->nroutes, 3);
    const struct route_cfg *rt = &cfg->routes[0];
    assert_string_equal(rt->name, "pager");
    assert_int_equal(rt->loc.line, 72);
    assert_int_equal(rt->match.n, 1);
    assert_kv(&rt->match, 0, "severity", "critical");
    assert_string_equal(rt->receiver, "oncall");
    assert_int_equal(rt->receiver_index, 1);
    assert_true(rt->cont);
    assert_false(rt->timing.has_group_by);
    assert_false(rt->timing.has_group_wait);
    assert_false(rt->timing.has_group_interval);
    assert_false(rt->timing.has_repeat_interval);
    /* not overridden: the defaults' values */
    assert_list(&rt->timing.group_by, 3, "rule", "workspace", "source");
    assert_dbl(rt->timing.group_wait_s, 10);
    assert_dbl(rt->timing.repeat_interval_s, 3600);

    rt = &cfg->routes[1];
    assert_string_equal(rt->name, "billing");
    assert_int_equal(rt->match.n, 2);
    assert_kv(&rt->match, 0, "rule", "mtu-*");
    assert_kv(&rt->match, 1, "workspace", "prod");
    assert_int_equal(rt->receiver_index, 2);
    assert_false(rt->cont);
    assert_true(rt->timing.has_group_by);
    assert_list(&rt->timing.group_by, 1, "rule");
    assert_true(rt->timing.has_repeat_interval);
    assert_dbl(rt->timing.repeat_interval_s, 86400);
    assert_false(rt->timing.has_group_wait);
    assert_dbl(rt->timing.group_interval_s, 120);

    rt = find_route(cfg, "default");
    assert_int_equal(rt->match.n, 0);
    assert_int_equal(rt->receiver_index, 0);
    assert_true(rt->timing.has_group_wait);
    assert_dbl(rt->timing.group_wait_s, 0);

    /* rules: the main file's first, then the rule files in name order */
    assert_int_equal(cfg->nrules, 3);
    assert_string_equal(cfg->rules[0].name, "main-file-rule");
    assert_string_equal(cfg->rules[1].name, "discard-ratio");
    assert_string_equal(cfg->rules[2].name, "volume-drop");

    const struct rule_cfg *ru = find_rule(cfg, "discard-ratio");
    assert_ptr_equal(ru->loc.file, cfg->files.items[1]);
    assert_int_equal(ru->loc.line, 2);
    assert_string_equal(ru->expr, "discard_ratio > 2% and attempted >= 100");
    assert_int_equal(ru->expr_line, 3);
    assert_int_equal(ru->expr_col, 15);
    assert_string_equal(ru->warn, "discard_ratio > 0.5% and attempted >= 100");
    assert_int_equal(ru->warn_line, 4);
    assert_string_equal(ru->recover, "discard_ratio < 0.2%");
    assert_int_equal(ru->recover_line, 5);
    assert_dbl(ru->for_s, 600);
    assert_dbl(ru->keep_firing_for_s, 300);
    assert_int_equal(ru->no_data, NODATA_ALERT);
    assert_dbl(ru->no_data_after_s, 3600);
    assert_true(ru->flap_detection);
    assert_string_equal(ru->severity, "error");
    assert_list(&ru->sources, 1, "web-*");
    assert_list(&ru->destinations, 1, "Amplitude");
    assert_list(&ru->workspaces, 1, "prod");
    assert_int_equal(ru->labels.n, 2);
    assert_kv(&ru->labels, 0, "team", "data-eng");
    assert_kv(&ru->labels, 1, "tier", "1");
    assert_string_equal(ru->summary, "{{destination}} discards {{value|pct}} "
                        "of events from {{source}}");
    assert_int_equal(ru->summary_line, 16);
    assert_string_equal(ru->description,
                        "It said \"{{value|pct}}\" in {{window}}.");
    assert_int_equal(ru->description_line, 17);
    assert_int_equal(ru->description_col, 18);
    assert_string_equal(ru->runbook_url,
                        "https://wiki.example.com/segment/discards");

    ru = find_rule(cfg, "volume-drop");
    assert_ptr_equal(ru->loc.file, cfg->files.items[2]);
    assert_int_equal(ru->expr_line, 3);
    assert_int_equal(ru->expr_col, 8);

    assert_string_equal(receiver_type_name(receiver_type_find("email")),
                        "email");
    assert_string_equal(receiver_type_name(receiver_type_find("alertmanager")),
                        "alertmanager");
    assert_string_equal(receiver_type_name(receiver_type_find("log")), "log");
    assert_string_equal(receiver_type_name(NULL), "unknown");

    config_free(cfg);
    diag_list_free(&dl);
}

/* ---- defaults ------------------------------------------------------------ */

static void test_defaults(void **state)
{
    (void)state;
    struct diag_list dl = DIAG_LIST_INIT;
    struct config *cfg = config_load("config/minimal.conf", &dl);
    assert_non_null(cfg);
    expect_no_diags(&dl);

    assert_string_equal(cfg->state_dir, "/var/lib/segalert");
    assert_string_equal(cfg->listen, "127.0.0.1:9477");
    assert_string_equal(cfg->log_level, "info");
    assert_string_equal(cfg->log_format, "text");
    assert_null(cfg->admin_token);
    assert_null(cfg->external_url);
    assert_int_equal(cfg->rule_files.n, 0);
    assert_list(&cfg->files, 1, "config/minimal.conf");
    assert_int_equal(cfg->allowed_hosts.n, 0);
    assert_false(cfg->enable_lifecycle);
    assert_int_equal(cfg->max_silences, CONFIG_MAX_SILENCES);
    assert_int_equal(cfg->max_silence_size_bytes, CONFIG_MAX_SILENCE_SIZE);

    const struct workspace_cfg *w = &cfg->workspaces[0];
    assert_string_equal(w->name, "prod");
    assert_string_equal(w->api_url, "https://api.segmentapis.com");
    assert_string_equal(w->token, "minimal-token");
    assert_list(&w->sources, 1, "*");
    assert_int_equal(w->exclude_sources.n, 0);
    assert_list(&w->destinations, 1, "*");
    assert_dbl(w->poll_interval_s, 300);
    /* delivery windows follow the poll interval (no overlap, no gap);
     * event volume is read every minute (outages within minutes) */
    assert_dbl(w->delivery_window_s, 300);
    assert_dbl(w->volume_interval_s, 60);
    assert_dbl(w->usage_interval_s, 21600);
    assert_dbl(w->request_budget, 60);
    assert_int_equal(w->max_concurrency, 4);
    assert_dbl(w->latency_scale, 1);
    assert_dbl(w->mtu_limit, 0);
    assert_dbl(w->api_calls_limit, 0);
    assert_int_equal(w->labels.n, 0);
    assert_dbl(w->connect_timeout_s, 10);
    assert_dbl(w->request_timeout_s, 30);

    assert_list(&cfg->defaults.group_by, 2, "rule", "workspace");
    assert_dbl(cfg->defaults.group_wait_s, 30);
    assert_dbl(cfg->defaults.group_interval_s, 300);
    assert_dbl(cfg->defaults.repeat_interval_s, 14400);

    const struct receiver_cfg *r = &cfg->receivers[0];
    assert_string_equal(receiver_type_name(r->type), "log");
    assert_null(r->priv);       /* a log receiver has no settings of its own */
    assert_true(r->send_resolved);
    assert_dbl(r->timeout_s, 10);
    assert_null(r->subject);
    assert_null(r->body);
    assert_int_equal(r->subject_line, 0);

    const struct route_cfg *rt = &cfg->routes[0];
    assert_int_equal(rt->receiver_index, 0);
    assert_false(rt->cont);
    assert_list(&rt->timing.group_by, 2, "rule", "workspace");
    assert_dbl(rt->timing.group_wait_s, 30);
    assert_dbl(rt->timing.group_interval_s, 300);
    assert_dbl(rt->timing.repeat_interval_s, 14400);

    const struct rule_cfg *ru = &cfg->rules[0];
    assert_string_equal(ru->expr, "attempted > 0");
    assert_int_equal(ru->expr_line, 6);
    assert_null(ru->warn);
    assert_null(ru->recover);
    assert_dbl(ru->for_s, 0);
    assert_dbl(ru->keep_firing_for_s, 0);
    assert_int_equal(ru->no_data, NODATA_KEEP);
    assert_dbl(ru->no_data_after_s, 1800);
    assert_false(ru->flap_detection);
    assert_string_equal(ru->severity, "critical");
    assert_list(&ru->sources, 1, "*");
    assert_list(&ru->destinations, 1, "*");
    assert_list(&ru->workspaces, 1, "*");
    assert_int_equal(ru->labels.n, 0);
    assert_null(ru->summary);
    assert_null(ru->description);
    assert_null(ru->runbook_url);
    config_free(cfg);
    diag_list_free(&dl);

    /* config_new_defaults: the same globals, nothing else */
    cfg = config_new_defaults();
    assert_string_equal(cfg->state_dir, "/var/lib/segalert");
    assert_string_equal(cfg->listen, "127.0.0.1:9477");
    assert_string_equal(cfg->log_level, "info");
    assert_string_equal(cfg->log_format, "text");
    assert_list(&cfg->defaults.group_by, 2, "rule", "workspace");
    assert_dbl(cfg->defaults.repeat_interval_s, 14400);
    assert_int_equal(cfg->nworkspaces + cfg->nreceivers + cfg->nroutes +
                     cfg->nrules + cfg->files.n, 0);
    config_free(cfg);
    config_free(NULL);
}

/* ---- mistakes, one kind per file ----------------------------------------- */

static void test_missing_file(void **state)
{
    (void)state;
    struct diag_list dl = DIAG_LIST_INIT;
    assert_null(config_load("config/no-such.conf", &dl));
    EXPECT_DIAGS(&dl, "config/no-such.conf: cannot read: No such file or "
                 "directory");
    diag_list_free(&dl);
}

static void test_bad_duration(void **state)
{
    (void)state;
    struct diag_list dl = DIAG_LIST_INIT;
    struct config *cfg = config_load("config/err-duration.conf", &dl);
    assert_non_null(cfg);
    EXPECT_DIAGS(&dl,
        "config/err-duration.conf:3: workspace \"prod\": invalid duration "
        "'five minutes' for poll_interval" DURATION_FORMAT_HINT,
        "config/err-duration.conf:4: workspace \"prod\": delivery_window "
        "must be at most 4h (the API's MINUTE granularity limit), got 5h");
    assert_int_equal(dl.nerrors, 2);
    /* the defaults stay */
    assert_dbl(cfg->workspaces[0].poll_interval_s, 300);
    assert_dbl(cfg->workspaces[0].delivery_window_s, 300);
    config_free(cfg);
    diag_list_free(&dl);
}

static void test_unknown_options(void **state)
{
    (void)state;
    struct diag_list dl = DIAG_LIST_INIT;
    struct config *cfg = config_load("config/err-unknown-option.conf", &dl);
    assert_non_null(cfg);
    EXPECT_DIAGS(&dl,
        "config/err-unknown-option.conf: warning: no route is configured: "
        "alerts will not be sent to any receiver",
        "config/err-unknown-option.conf:1: no such option 'bogus'",
        "config/err-unknown-option.conf:5: receiver \"hook\": no such option "
        "'hmac_secert' (did you mean 'hmac_secret'?)",
        "config/err-unknown-option.conf:9: workspace \"prod\": no such option "
        "'polll_interval' (did you mean 'poll_interval'?)",
        "config/err-unknown-option.conf:11: unknown section 'recevier' (did "
        "you mean 'receiver'?)");
    /* the rest was still loaded */
    assert_int_equal(cfg->nworkspaces, 1);
    assert_int_equal(cfg->nreceivers, 1);
    config_free(cfg);
    diag_list_free(&dl);
}

static void test_unclosed_section(void **state)
{
    (void)state;
    struct diag_list dl = DIAG_LIST_INIT;
    struct config *cfg = config_load("config/err-unclosed.conf", &dl);
    assert_non_null(cfg);
    EXPECT_DIAGS(&dl, "config/err-unclosed.conf:5: section 'rule \"x\"' is "
                 "not closed (missing '}')");
    config_free(cfg);
    diag_list_free(&dl);
}

static void test_syntax_error(void **state)
{
    (void)state;
    struct diag_list dl = DIAG_LIST_INIT;
    struct config *cfg = config_load("config/err-syntax.conf", &dl);
    assert_non_null(cfg);
    EXPECT_DIAGS(&dl, "config/err-syntax.conf:3: workspace \"prod\": missing "
                 "equal sign after option 'poll_interval'");
    assert_int_equal(cfg->nworkspaces, 0);
    config_free(cfg);
    diag_list_free(&dl);
}

static void test_route_errors(void **state)
{
    (void)state;
    struct diag_list dl = DIAG_LIST_INIT;
    struct config *cfg = config_load("config/err-route.conf", &dl);
    assert_non_null(cfg);
    EXPECT_DIAGS(&dl,
        "config/err-route.conf:4: route \"billing\": invalid match 'severity' "
        "in match (expected label=glob)",
        "config/err-route.conf:5: route \"billing\": unknown receiver "
        "'billing-mal' (did you mean 'billing-mail'?)",
        "config/err-route.conf:7: route \"nothing\": receiver is required");
    assert_int_equal(cfg->routes[0].receiver_index, -1);
    config_free(cfg);
    diag_list_free(&dl);
}

static void test_bad_enums(void **state)
{
    (void)state;
    struct diag_list dl = DIAG_LIST_INIT;
    struct config *cfg = config_load("config/err-enums.conf", &dl);
    assert_non_null(cfg);
    EXPECT_DIAGS(&dl,
        "config/err-enums.conf:1: invalid value 'verbose' for log_level "
        "(expected error, warn, info or debug)",
        "config/err-enums.conf:2: invalid value 'xml' for log_format "
        "(expected text or json)",
        "config/err-enums.conf:5: workspace \"prod\": invalid value 'us' for "
        "latency_unit (expected s or ms)",
        "config/err-enums.conf:10: receiver \"mail\": invalid value 'maybe' "
        "for starttls (expected no, try or required)",
        "config/err-enums.conf:14: receiver \"chat\": unknown type 'slak' "
        "(did you mean 'slack'?)",
        "config/err-enums.conf:15: route \"r\": invalid boolean 'perhaps' for "
        "continue (expected true or false)",
        "config/err-enums.conf:18: rule \"x\": invalid value 'ignore' for "
        "no_data (expected keep, ok or alert)",
        "config/err-enums.conf:19: rule \"x\": invalid value 'fatal' for "
        "severity (expected critical, error, warning or info)",
        "config/err-enums.conf:20: rule \"x\": invalid boolean 'sometimes' "
        "for flap_detection (expected true or false)");
    config_free(cfg);
    diag_list_free(&dl);
}

static void test_value_ranges(void **state)
{
    (void)state;
    struct diag_list dl = DIAG_LIST_INIT;
    struct config *cfg = config_load("config/err-ranges.conf", &dl);
    assert_non_null(cfg);
    EXPECT_DIAGS(&dl,
        "config/err-ranges.conf:3: workspace \"prod\": request_budget must be "
        "greater than 0 (requests per minute)",
        "config/err-ranges.conf:4: workspace \"prod\": max_concurrency must "
        "be between 1 and 64 (got 65)",
        "config/err-ranges.conf:5: workspace \"prod\": mtu_limit must not be "
        "negative",
        "config/err-ranges.conf:6: workspace \"prod\": poll_interval must be "
        "greater than 0",
        "config/err-ranges.conf:11: receiver \"mail\": smtp_port must be "
        "between 1 and 65535 (got 70000)");
    config_free(cfg);
    diag_list_free(&dl);
}

static void test_required(void **state)
{
    (void)state;
    struct diag_list dl = DIAG_LIST_INIT;
    struct config *cfg = config_load("config/err-required.conf", &dl);
    assert_non_null(cfg);
    EXPECT_DIAGS(&dl,
        "config/err-required.conf:1: workspace \"prod\": token is required "
        "(token, token_env or token_file)",
        "config/err-required.conf:3: receiver \"s\": url is required (url, "
        "url_env or url_file)",
        "config/err-required.conf:4: receiver \"pd\": routing_key is required "
        "(routing_key, routing_key_env or routing_key_file)",
        "config/err-required.conf:5: receiver \"w\": url is required (url, "
        "url_env or url_file)",
        "config/err-required.conf:6: receiver \"m\": smtp_host is required",
        "config/err-required.conf:6: receiver \"m\": from is required",
        "config/err-required.conf:6: receiver \"m\": to is required (a list "
        "of addresses)",
        "config/err-required.conf:7: receiver \"am\": url or urls is required",
        "config/err-required.conf:8: receiver \"none\": type is required "
        "(email, slack, pagerduty, webhook, alertmanager or log)",
        "config/err-required.conf:9: route \"r\": receiver is required",
        "config/err-required.conf:10: rule \"x\": expr is required");
    config_free(cfg);
    diag_list_free(&dl);
}

static void test_structure(void **state)
{
    (void)state;
    struct diag_list dl = DIAG_LIST_INIT;
    struct config *cfg = config_load("config/err-structure.conf", &dl);
    assert_non_null(cfg);
    EXPECT_DIAGS(&dl,
        "config/err-structure.conf:3: workspace \"prod\": invalid label name "
        "'bad label' in labels (letters, digits and '_', not starting with a "
        "digit)",
        "config/err-structure.conf:3: workspace \"prod\": invalid label "
        "'novalue' in labels (expected key=value)",
        "config/err-structure.conf:10: rule \"x\": expr takes a single value, "
        "not a list",
        "config/err-structure.conf:11: warning: rule \"x\": for is set twice; "
        "the value at line 12 wins",
        "config/err-structure.conf:13: rule \"x\": unexpected section 'inner' "
        "(sections do not nest)",
        "config/err-structure.conf:15: duplicate receiver \"c\" (first "
        "defined at config/err-structure.conf:5)",
        "config/err-structure.conf:16: section 'defaults' takes no name",
        "config/err-structure.conf:19: warning: receiver \"console\": "
        "smtp_host is not used by log receivers");
    /* parsing went on past the blanked constructs */
    assert_int_equal(cfg->nrules, 1);
    assert_dbl(cfg->rules[0].for_s, 600);
    assert_int_equal(cfg->nreceivers, 2);
    config_free(cfg);
    diag_list_free(&dl);
}

/* Several kinds of mistakes in one file: all are reported, with lines. */
static void test_many_mistakes(void **state)
{
    (void)state;
    unsetenv("SEGALERT_TEST_MISSING_TOKEN");
    struct diag_list dl = DIAG_LIST_INIT;
    struct config *cfg = config_load("config/multi.conf", &dl);
    assert_non_null(cfg);
    EXPECT_DIAGS(&dl,
        "config/multi.conf:3: workspace \"prod\": environment variable "
        "'SEGALERT_TEST_MISSING_TOKEN' (token_env) is not set",
        "config/multi.conf:4: workspace \"prod\": invalid duration 'five "
        "minutes' for poll_interval" DURATION_FORMAT_HINT,
        "config/multi.conf:5: workspace \"prod\": invalid value 'minutes' for "
        "latency_unit (expected s or ms)",
        "config/multi.conf:12: receiver \"billing-mail\": no such option "
        "'smtp_prot' (did you mean 'smtp_port'?)",
        "config/multi.conf:14: duplicate receiver \"billing-mail\" (first "
        "defined at config/multi.conf:7)",
        "config/multi.conf:15: route \"billing\": unknown receiver "
        "'billing-mal' (did you mean 'billing-mail'?)",
        "config/multi.conf:18: rule \"x\": invalid value 'high' for severity "
        "(expected critical, error, warning or info)");
    assert_int_equal(dl.nerrors, 7);
    config_free(cfg);
    diag_list_free(&dl);
}

/* ---- secrets ------------------------------------------------------------- */

static void test_secret_errors(void **state)
{
    (void)state;
    setenv("SEGALERT_TEST_TOKEN", "env-token-1", 1);
    unsetenv("SEGALERT_TEST_UNSET_VAR");
    struct diag_list dl = DIAG_LIST_INIT;
    struct config *cfg = config_load("config/err-secrets.conf", &dl);
    assert_non_null(cfg);
    EXPECT_DIAGS(&dl,
        "config/err-secrets.conf:3: workspace \"prod\": give only one of "
        "token, token_env and token_file",
        "config/err-secrets.conf:6: workspace \"other\": environment variable "
        "'SEGALERT_TEST_UNSET_VAR' (token_env) is not set",
        "config/err-secrets.conf:10: receiver \"pd\": cannot read "
        "routing_key_file 'config/no-such-dir/pd.key': No such file or "
        "directory");
    assert_null(cfg->workspaces[0].token);
    config_free(cfg);
    diag_list_free(&dl);
}

static void test_secret_env(void **state)
{
    (void)state;
    char dir[] = "/tmp/segalert-cfg-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char *conf = xasprintf("%s/s.conf", dir);
    write_text(conf,
               "workspace \"p\" { token_env = \"SEGALERT_T_TOK\" }\n"
               "receiver \"e\" {\n"
               "  type = \"email\"  smtp_host = \"h\"  from = \"a@b\"\n"
               "  to = {\"c@d\"}  username = \"u\"\n"
               "  password_env = \"SEGALERT_T_PW\"\n"
               "}\n"
               "receiver \"e2\" { type = \"webhook\"\n"
               "  url_env = \"SEGALERT_T_URL\""
               "  hmac_secret_env = \"SEGALERT_T_EMPTY\" }\n"
               "route \"r\" { receiver = \"e\" }\n", 0600);
    setenv("SEGALERT_T_TOK", "tok-from-env", 1);
    setenv("SEGALERT_T_PW", "pw-from-env", 1);
    setenv("SEGALERT_T_URL", "https://x.example.com/hook", 1);
    setenv("SEGALERT_T_EMPTY", "", 1);
    struct diag_list dl = DIAG_LIST_INIT;
    struct config *cfg = config_load(conf, &dl);
    assert_non_null(cfg);
    char *want = xasprintf("%s:8: receiver \"e2\": hmac_secret is empty", conf);
    EXPECT_DIAGS(&dl, want);
    free(want);
    assert_string_equal(cfg->workspaces[0].token, "tok-from-env");
    const struct email_cfg *e = recv_email_cfg(&cfg->receivers[0]);
    assert_string_equal(e->password, "pw-from-env");
    /* what an email receiver does not set (test_defaults has none) */
    assert_int_equal(e->smtp_port, 25);
    assert_int_equal(e->starttls, STARTTLS_TRY);
    assert_string_equal(cfg->receivers[1].url, "https://x.example.com/hook");
    assert_null(recv_webhook_cfg(&cfg->receivers[1])->hmac_secret);
    config_free(cfg);
    diag_list_free(&dl);
    unlink(conf);
    rmdir(dir);
    free(conf);
}

/* The HTTP server's options and the silence limits: values, and the
 * mistakes each one reports. */
static void test_http_and_silence_options(void **state)
{
    (void)state;
    char dir[] = "/tmp/segalert-cfg-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char *conf = xasprintf("%s/h.conf", dir);
    const char *ws = "workspace \"p\" { token = \"t\" }\n"
                     "receiver \"c\" { type = \"log\" }\n"
                     "route \"r\" { receiver = \"c\" }\n";
    char *text = xasprintf(
        "allowed_hosts = {\"segalert.internal\", \"Alerts.Example.com:443\","
        " \"[fd00::1]:9477\", \"10.0.0.5\"}\n"
        "enable_lifecycle = true\n"
        "max_silences = 0\n"
        "max_silence_size_bytes = 100\n%s", ws);
    write_text(conf, text, 0600);
    free(text);
    struct diag_list dl = DIAG_LIST_INIT;
    struct config *cfg = config_load(conf, &dl);
    assert_non_null(cfg);
    expect_no_diags(&dl);
    assert_list(&cfg->allowed_hosts, 4, "segalert.internal",
                "Alerts.Example.com:443", "[fd00::1]:9477", "10.0.0.5");
    assert_true(cfg->enable_lifecycle);
    assert_int_equal(cfg->max_silences, 0);
    assert_int_equal(cfg->max_silence_size_bytes, 100);
    config_free(cfg);
    diag_list_free(&dl);

    text = xasprintf(
        "allowed_hosts = {\"http://segalert.internal\", \"a/b\", \"\","
        " \"x:0\", \"[::1\", \"a b\", \"ok.example\"}\n"
        "enable_lifecycle = \"maybe\"\n"
        "max_silences = -1\n"
        "max_silence_size_bytes = \"lots\"\n%s", ws);
    write_text(conf, text, 0600);
    free(text);
    cfg = config_load(conf, &dl);
    assert_non_null(cfg);
    char *want[9];
    const char *bad[] = { "http://segalert.internal", "a/b", "", "x:0",
                          "[::1", "a b" };
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
        want[i] = xasprintf("%s:1: allowed_hosts: '%s' is not a host name "
                            "(expected HOST or HOST:PORT, without scheme or "
                            "path)", conf, bad[i]);
    want[6] = xasprintf("%s:2: invalid boolean 'maybe' for enable_lifecycle "
                        "(expected true or false)", conf);
    want[7] = xasprintf("%s:3: max_silences must be between 0 and %d (got "
                        "-1)", conf, INT_MAX);
    want[8] = xasprintf("%s:4: invalid integer 'lots' for "
                        "max_silence_size_bytes", conf);
    expect_diags(&dl, (const char *const *)want, ARRAY_SIZE(want));
    for (size_t i = 0; i < ARRAY_SIZE(want); i++)
        free(want[i]);
    config_free(cfg);
    diag_list_free(&dl);
    unlink(conf);
    rmdir(dir);
    free(conf);
}

static void test_secret_file(void **state)
{
    (void)state;
    char dir[] = "/tmp/segalert-cfg-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char *conf = xasprintf("%s/s.conf", dir);
    char *tok = xasprintf("%s/prod.token", dir);
    char *key = xasprintf("%s/pd.key", dir);
    /* relative secret paths are relative to the config file */
    write_text(conf,
               "workspace \"p\" { token_file = \"prod.token\" }\n"
               "receiver \"pd\" {\n"
               "  type = \"pagerduty\"\n"
               "  routing_key_file = \"pd.key\"\n"
               "}\n"
               "route \"r\" { receiver = \"pd\" }\n", 0600);
    write_text(tok, "file-token-1\r\nsecond line\n", 0600);
    write_text(key, "pd-key-from-file\n", 0644);

    struct diag_list dl = DIAG_LIST_INIT;
    struct config *cfg = config_load(conf, &dl);
    assert_non_null(cfg);
    char *want = xasprintf("%s:4: warning: receiver \"pd\": routing_key_file "
                           "'%s' is readable by group/other (chmod 600 it)",
                           conf, key);
    EXPECT_DIAGS(&dl, want);
    free(want);
    assert_int_equal(dl.nerrors, 0);
    assert_string_equal(cfg->workspaces[0].token, "file-token-1");
    assert_string_equal(recv_pagerduty_cfg(&cfg->receivers[0])->routing_key,
                        "pd-key-from-file");
    config_free(cfg);
    diag_list_free(&dl);

    /* 0600: no warning */
    assert_int_equal(chmod(key, 0600), 0);
    cfg = config_load(conf, &dl);
    expect_no_diags(&dl);
    config_free(cfg);
    diag_list_free(&dl);

    /* a missing file names the path, an empty one is an error */
    unlink(key);
    write_text(tok, "\n", 0600);
    cfg = config_load(conf, &dl);
    char *w1 = xasprintf("%s:1: workspace \"p\": token is empty", conf);
    char *w2 = xasprintf("%s:4: receiver \"pd\": cannot read routing_key_file "
                         "'%s': No such file or directory", conf, key);
    EXPECT_DIAGS(&dl, w1, w2);
    free(w1);
    free(w2);
    config_free(cfg);
    diag_list_free(&dl);

    unlink(tok);
    unlink(conf);
    rmdir(dir);
    free(conf);
    free(tok);
    free(key);
}

/* Resolved secrets are registered for redaction from logs. */
static void test_secrets_redacted(void **state)
{
    (void)state;
    set_full_env();
    struct diag_list dl = DIAG_LIST_INIT;
    struct config *cfg = config_load("config/full.conf", &dl);
    assert_non_null(cfg);

    char path[] = "/tmp/segalert-log-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    fflush(stderr);
    int saved = dup(2);
    dup2(fd, 2);
    log_err("t=%s p=%s k=%s h=%s a=%s", cfg->workspaces[0].token,
            recv_email_cfg(config_receiver(cfg, "billing-mail"))->password,
            recv_pagerduty_cfg(config_receiver(cfg, "oncall"))->routing_key,
            config_receiver(cfg, "hook")->headers.items[1].value,
            cfg->admin_token);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    close(fd);
    size_t len;
    char *text = read_file(path, 1 << 16, &len);
    unlink(path);
    assert_non_null(text);
    assert_null(strstr(text, "env-token-1"));
    assert_null(strstr(text, "smtp-password-1"));
    assert_null(strstr(text, "pd-routing-key-1"));
    assert_null(strstr(text, "hdr-token-1"));
    assert_null(strstr(text, "admin-token-1"));
    assert_non_null(strstr(text, "<redacted>"));
    free(text);
    config_free(cfg);
    diag_list_free(&dl);
}

/* ---- rule files ---------------------------------------------------------- */

static void test_rule_files_duplicates(void **state)
{
    (void)state;
    struct diag_list dl = DIAG_LIST_INIT;
    struct config *cfg = config_load("config/dup/main.conf", &dl);
    assert_non_null(cfg);
    EXPECT_DIAGS(&dl,
        /* a glob that matches nothing is an error: a daemon without its
         * rules would look green and watch nothing */
        "config/dup/main.conf:2: rule_files: 'missing/*.conf' matches no file "
        "(looked for 'config/dup/missing/*.conf'; relative paths are "
        "relative to this file)",
        "config/dup/r/a.conf:4: duplicate rule \"in-main\" (first defined at "
        "config/dup/main.conf:3)",
        "config/dup/r/b.conf:3: duplicate rule \"same\" (first defined at "
        "config/dup/r/a.conf:1)");
    assert_list(&cfg->files, 3, "config/dup/main.conf", "config/dup/r/a.conf",
                "config/dup/r/b.conf");
    assert_int_equal(cfg->nrules, 3);
    assert_string_equal(cfg->rules[0].name, "in-main");
    assert_string_equal(cfg->rules[1].name, "same");
    assert_string_equal(cfg->rules[1].loc.file, "config/dup/r/a.conf");
    assert_string_equal(cfg->rules[2].name, "other");
    assert_int_equal(cfg->rules[2].loc.line, 2);
    config_free(cfg);
    diag_list_free(&dl);
}

static void test_load_rule_file(void **state)
{
    (void)state;
    struct diag_list dl = DIAG_LIST_INIT;
    struct config *cfg = config_new_defaults();
    assert_int_equal(config_load_rule_file(cfg, "config/rules/10-delivery.conf",
                                           &dl), 0);
    expect_no_diags(&dl);
    assert_int_equal(cfg->nrules, 1);
    assert_string_equal(cfg->rules[0].name, "discard-ratio");
    assert_string_equal(cfg->rules[0].loc.file,
                        "config/rules/10-delivery.conf");

    /* a second file appends; loading the first again is a duplicate */
    assert_int_equal(config_load_rule_file(cfg, "config/rules/20-volume.conf",
                                           &dl), 0);
    assert_int_equal(cfg->nrules, 2);
    assert_int_equal(config_load_rule_file(cfg, "config/rules/10-delivery.conf",
                                           &dl), -1);
    EXPECT_DIAGS(&dl, "config/rules/10-delivery.conf:2: duplicate rule "
                 "\"discard-ratio\" (first defined at "
                 "config/rules/10-delivery.conf:2)");
    assert_int_equal(cfg->nrules, 2);
    diag_list_free(&dl);

    /* only rule sections in a rule file */
    assert_int_equal(config_load_rule_file(cfg, "config/rulefile-bad.conf",
                                           &dl), -1);
    EXPECT_DIAGS(&dl,
        "config/rulefile-bad.conf:3: rule \"ok\": invalid duration '1 minute' "
        "for for" DURATION_FORMAT_HINT,
        "config/rulefile-bad.conf:5: section 'workspace' is not allowed in a "
        "rule file (rule files hold only rule sections)",
        "config/rulefile-bad.conf:6: no such option 'state_dir' (rule files "
        "hold only rule sections)");
    assert_int_equal(cfg->nrules, 4);
    assert_string_equal(cfg->rules[3].name, "second");
    diag_list_free(&dl);

    assert_int_equal(config_load_rule_file(cfg, "config/none.conf", &dl), -1);
    EXPECT_DIAGS(&dl, "config/none.conf: cannot read: No such file or "
                 "directory");
    config_free(cfg);
    diag_list_free(&dl);
}

/* 2,000 generated rules (the loader must not be quadratic in them): the
 * count, a bad value, a duplicate within the file (libconfuse keeps the
 * last copy in the first one's place) and one across files, each at its
 * line; then a syntax error near the end, reported at its line with no
 * rule of that file loaded. */
static void write_many_rules(const char *path, int n, int bad_for,
                             int syntax_err)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    for (int i = 0; i < n; i++) {
        fprintf(f, "rule \"r%05d\" {\n", i);
        fprintf(f, "  expr = \"discard_ratio > %d%% and attempted >= 100\"\n",
                1 + i % 9);
        if (i == syntax_err)
            fprintf(f, "  for \"10m\"\n}\n");
        else
            fprintf(f, "  for = \"%s\"\n}\n", i == bad_for ? "soon" : "10m");
    }
    /* line 4 * n + 1 */
    fprintf(f, "rule \"r00100\" {\n  expr = \"attempted > 1\"\n"
            "  for = \"20m\"\n}\n");
    fclose(f);
}

static void test_many_rules(void **state)
{
    (void)state;
    char dir[] = "/tmp/segalert-many-XXXXXX";
    assert_non_null(mkdtemp(dir));
    assert_int_equal(chdir(dir), 0);
    assert_int_equal(mkdir("r", 0700), 0);
    write_text("main.conf",
               "state_dir = \"/tmp/segalert-many-state\"\n"
               "rule \"r01999\" {\n"
               "  expr = \"attempted > 0\"\n"
               "}\n"
               "rule_files = {\"r/*.conf\"}\n", 0600);
    write_many_rules("r/gen.conf", 2000, 1500, -1);

    struct diag_list dl = DIAG_LIST_INIT;
    struct config *cfg = config_load("main.conf", &dl);
    assert_non_null(cfg);
    EXPECT_DIAGS(&dl,
        "main.conf: warning: no workspace is configured: nothing will be "
        "polled",
        "r/gen.conf:6003: rule \"r01500\": invalid duration 'soon' for for" DURATION_FORMAT_HINT,
        "r/gen.conf:7997: duplicate rule \"r01999\" (first defined at "
        "main.conf:2)",
        "r/gen.conf:8001: duplicate rule \"r00100\" (first defined at "
        "r/gen.conf:401)");
    assert_int_equal(cfg->nrules, 2000);
    assert_string_equal(cfg->rules[0].name, "r01999");
    assert_string_equal(cfg->rules[0].loc.file, "main.conf");
    for (int i = 0; i < 1999; i++) {
        char name[16];
        snprintf(name, sizeof(name), "r%05d", i);
        assert_string_equal(cfg->rules[1 + i].name, name);
    }
    const struct rule_cfg *r = &cfg->rules[1 + 100];
    assert_string_equal(r->loc.file, "r/gen.conf");
    assert_int_equal(r->loc.line, 8001);
    assert_string_equal(r->expr, "attempted > 1");
    assert_int_equal(r->expr_line, 8002);
    assert_dbl(r->for_s, 1200);
    r = &cfg->rules[1 + 1999 - 1];
    assert_int_equal(r->loc.line, 4 * 1998 + 1);
    assert_int_equal(r->expr_line, 4 * 1998 + 2);
    assert_int_equal(r->expr_col, 11);
    assert_dbl(r->for_s, 600);
    config_free(cfg);
    diag_list_free(&dl);

    write_many_rules("r/gen.conf", 2000, -1, 1900);
    cfg = config_load("main.conf", &dl);
    assert_non_null(cfg);
    EXPECT_DIAGS(&dl,
        "main.conf: warning: no workspace is configured: nothing will be "
        "polled",
        "r/gen.conf:7603: rule \"r01900\": missing equal sign after option "
        "'for'");
    assert_int_equal(cfg->nrules, 1);
    config_free(cfg);
    diag_list_free(&dl);

    unlink("r/gen.conf");
    rmdir("r");
    unlink("main.conf");
    assert_int_equal(chdir(FIXTURES_DIR), 0);
    rmdir(dir);
}

/* ---- the shipped example and the default path ---------------------------- */

static void test_example_config(void **state)
{
    (void)state;
    setenv("SEGMENT_TOKEN", "seg-token-example", 1);
    setenv("SLACK_WEBHOOK_URL", "https://hooks.slack.com/services/x", 1);
    setenv("PD_ROUTING_KEY", "pd-key-example", 1);
    setenv("SMTP_PASSWORD", "smtp-pw-example", 1);
    setenv("HOOK_SECRET", "hook-secret-example", 1);
    const char *path = FIXTURES_DIR "/../../examples/segalert.conf";
    struct diag_list dl = DIAG_LIST_INIT;
    struct config *cfg = config_load(path, &dl);
    assert_non_null(cfg);
    if (dl.nerrors != 0) {
        print_diags(&dl);
        fail();
    }
    /* the rule packs may not exist yet: then only a warning */
    for (size_t i = 0; i < dl.n; i++)
        assert_non_null(strstr(dl.items[i].msg, "rule_files"));
    assert_int_equal(cfg->nworkspaces, 1);
    assert_int_equal(cfg->nreceivers, 6);
    assert_int_equal(cfg->nroutes, 3);
    config_free(cfg);
    diag_list_free(&dl);
}

static void test_default_path(void **state)
{
    (void)state;
    char dir[] = "/tmp/segalert-cwd-XXXXXX";
    assert_non_null(mkdtemp(dir));
    assert_int_equal(chdir(dir), 0);
    assert_string_equal(config_default_path(), "/etc/segalert/segalert.conf");
    write_text("segalert.conf", "", 0600);
    assert_string_equal(config_default_path(), "segalert.conf");
    unlink("segalert.conf");
    assert_int_equal(chdir(FIXTURES_DIR), 0);
    rmdir(dir);
}

/* A token pasted into token_env by mistake: the error says what is
 * wrong without repeating it, and it is redacted from logs from then on.
 * (The error used to quote it: "environment variable 'sgp_...' ...".) */
static void test_secret_env_never_echoed(void **state)
{
    (void)state;
    static const char *const pasted[] = {
        "sgp_Xk2LmN0pQ7rStUv8wXyZ3aBcD",             /* an identifier */
        "eyJhbGciOi.J9eyJzdWIi-Oi/IxMjM0NTY=",       /* not one */
    };
    for (size_t i = 0; i < ARRAY_SIZE(pasted); i++) {
        char dir[] = "/tmp/segalert-cfg-XXXXXX";
        assert_non_null(mkdtemp(dir));
        char *conf = xasprintf("%s/s.conf", dir);
        char *text = xasprintf("workspace \"p\" {\n  token_env = \"%s\"\n}\n",
                               pasted[i]);
        write_text(conf, text, 0600);
        unsetenv(pasted[i]);
        struct diag_list dl = DIAG_LIST_INIT;
        struct config *cfg = config_load(conf, &dl);
        assert_non_null(cfg);
        struct strbuf all = STRBUF_INIT;
        for (size_t k = 0; k < dl.n; k++)
            diag_format(&dl.items[k], &all);
        assert_int_equal(dl.nerrors, 1);
        if (!strstr(all.buf, ":2: workspace \"p\": token_env must name an "
                             "environment variable"))
            fail_msg("unexpected: %s", all.buf);
        assert_null(strstr(all.buf, pasted[i]));
        assert_null(strstr(all.buf, "sgp_"));
        struct strbuf red = STRBUF_INIT;
        log_redact(pasted[i], &red);
        assert_string_equal(red.buf, "<redacted>");
        strbuf_free(&red);
        strbuf_free(&all);
        config_free(cfg);
        diag_list_free(&dl);
        log_secrets_clear();
        unlink(conf);
        rmdir(dir);
        free(conf);
        free(text);
    }
}

/* An ordinary variable name is still named when it is not set. */
static void test_secret_env_plain_name_shown(void **state)
{
    (void)state;
    char dir[] = "/tmp/segalert-cfg-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char *conf = xasprintf("%s/s.conf", dir);
    write_text(conf, "workspace \"p\" { token_env = \"SEGALERT_T_NOPE\" }\n",
               0600);
    unsetenv("SEGALERT_T_NOPE");
    struct diag_list dl = DIAG_LIST_INIT;
    struct config *cfg = config_load(conf, &dl);
    char *want = xasprintf("%s:1: workspace \"p\": environment variable "
                           "'SEGALERT_T_NOPE' (token_env) is not set", conf);
    EXPECT_DIAGS(&dl, want);
    free(want);
    config_free(cfg);
    diag_list_free(&dl);
    unlink(conf);
    rmdir(dir);
    free(conf);
}

/* check warns (file:line) about a route no rule's alerts can match and an
 * api_url host that is not a Segment region; a route that can match and a
 * known region pass quietly. */
static void test_never_matching_route_and_region(void **state)
{
    (void)state;
    char dir[] = "/tmp/segalert-cfg-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char *conf = xasprintf("%s/s.conf", dir);
    write_text(conf,
        "workspace \"p\" {\n"
        "  token = \"t0k3n\"\n"
        "  api_url = \"https://api.eu1.segmentapis.com\"\n"
        "}\n"
        "workspace \"q\" {\n"
        "  token = \"t0k3n\"\n"
        "  api_url = \"https://eu1.api.segmentapis.com/\"\n"
        "}\n"
        "receiver \"hook\" { type = \"webhook\" url = \"http://127.0.0.1:1/\" }\n"
        "route \"typo\"  { match = {\"severity=critcal\"} receiver = \"hook\" }\n"
        "route \"none\"  { match = {\"rule=discard-ratio\"} receiver = \"hook\" }\n"
        "route \"both\"  { match = {\"rule=vol*\", \"severity=critical\"}\n"
        "                  receiver = \"hook\" }\n"
        "route \"warn\"  { match = {\"rule=disc*\", \"severity=warn*\"}\n"
        "                  receiver = \"hook\" }\n"
        "route \"label\" { match = {\"rule=vol*\", \"severity=page\"}\n"
        "                  receiver = \"hook\" }\n"
        "route \"ok\"    { match = {\"severity=crit*\", \"team=data\"}\n"
        "                  receiver = \"hook\" }\n"
        "route \"info\"  { match = {\"severity=info\"} receiver = \"hook\" }\n"
        "rule \"disc\" { expr = \"discard_ratio > 0.1\" warn = \"discard_ratio > 0.05\" }\n"
        "rule \"vol\"  { expr = \"successes < 1\" severity = \"warning\"\n"
        "              labels = {\"severity=page\"} }\n", 0600);
    struct diag_list dl = DIAG_LIST_INIT;
    struct config *cfg = config_load(conf, &dl);
    assert_non_null(cfg);
    char *w1 = xasprintf("%s:3: warning: workspace \"p\": api_url host "
                         "'api.eu1.segmentapis.com' is not a Segment region "
                         "(api.segmentapis.com, eu1.api.segmentapis.com)",
                         conf);
    char *w2 = xasprintf("%s:10: warning: route \"typo\": match "
                         "'severity=critcal' is not a severity (critical, "
                         "error, warning or info): the route can never match "
                         "(did you mean 'critical'?)", conf);
    char *w3 = xasprintf("%s:11: warning: route \"none\": match "
                         "'rule=discard-ratio' names no rule: the route can "
                         "never match", conf);
    char *w4 = xasprintf("%s:12: warning: route \"both\": no rule matching "
                         "'rule=vol*' has severity 'critical': the route can "
                         "never match", conf);
    char *w5 = xasprintf("%s:20: warning: route \"info\": no rule has "
                         "severity 'info': the route can never match", conf);
    EXPECT_DIAGS(&dl, w1, w2, w3, w4, w5);
    assert_int_equal(dl.nerrors, 0);
    free(w5);
    free(w1);
    free(w2);
    free(w3);
    free(w4);
    config_free(cfg);
    diag_list_free(&dl);
    unlink(conf);
    rmdir(dir);
    free(conf);
}

/* A remote plain-http api_url would send the bearer token in cleartext:
 * refused, naming file:line, unless the workspace says
 * allow_insecure_http = true; loopback is fine. */
static void test_api_url_insecure_http(void **state)
{
    (void)state;
    static const char *const refused[] = {
        "http://api.segmentapis.com", "http://10.0.0.7:8080",
        "http://localhost.evil.example", "http://127.0.0.1.evil.example",
        "http://127.0.0.1@evil.example", "http://[::2]:9480",
        "http://[::ffff:10.0.0.1]",
    };
    static const char *const accepted[] = {
        "https://api.segmentapis.com", "https://10.0.0.7",
        "http://127.0.0.1:9480", "http://127.8.9.10", "http://localhost:1",
        "http://LOCALHOST.", "http://[::1]:9480", "http://user:pw@127.0.0.1/",
        "http://[::ffff:127.0.0.1]:80",
    };
    char dir[] = "/tmp/segalert-cfg-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char *conf = xasprintf("%s/s.conf", dir);
    for (size_t i = 0; i < ARRAY_SIZE(refused) + ARRAY_SIZE(accepted); i++) {
        bool bad = i < ARRAY_SIZE(refused);
        const char *url = bad ? refused[i] : accepted[i - ARRAY_SIZE(refused)];
        for (int allow = 0; allow < 2; allow++) {
            char *text = xasprintf("workspace \"p\" {\n  token = \"t0k3n\"\n"
                                   "  api_url = \"%s\"\n%s}\n", url,
                                   allow ? "  allow_insecure_http = true\n"
                                         : "");
            write_text(conf, text, 0600);
            struct diag_list dl = DIAG_LIST_INIT;
            struct config *cfg = config_load(conf, &dl);
            assert_non_null(cfg);
            if (bad && !allow) {
                char *want = xasprintf(
                    "%s:3: workspace \"p\": api_url '%s' is plain http:// to "
                    "a host that is not loopback: the token would cross the "
                    "network in cleartext (use https://, or set "
                    "allow_insecure_http = true in this workspace)", conf,
                    url);
                EXPECT_DIAGS(&dl, want);
                free(want);
            } else if (!section_url_is_loopback(url) &&
                       !strstr(url, "api.segmentapis.com")) {
                /* accepted, with a warning: not a Segment region */
                char host[256];
                assert_int_equal(section_url_host(url, host, sizeof(host)), 0);
                char *want = xasprintf(
                    "%s:3: warning: workspace \"p\": api_url host '%s' is "
                    "not a Segment region (api.segmentapis.com, "
                    "eu1.api.segmentapis.com)", conf, host);
                EXPECT_DIAGS(&dl, want);
                free(want);
                assert_int_equal(dl.nerrors, 0);
            } else {
                expect_no_diags(&dl);
                assert_int_equal(cfg->workspaces[0].allow_insecure_http,
                                 allow);
            }
            config_free(cfg);
            diag_list_free(&dl);
            free(text);
        }
    }
    unlink(conf);
    rmdir(dir);
    free(conf);
}

/* Inline secrets in a file group/other can read draw a warning naming the
 * option and the file (when the check is on, as main() turns it on). */
static void test_inline_secret_readable_file(void **state)
{
    (void)state;
    char dir[] = "/tmp/segalert-cfg-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char *conf = xasprintf("%s/s.conf", dir);
    static const char text[] =
        "admin_token = \"adm1n-t0ken\"\n"
        "workspace \"p\" { token = \"t0k3n-value\" }\n"
        "workspace \"q\" { token_env = \"SEGALERT_T_TOK\" }\n"
        "receiver \"s\" { type = \"slack\"\n"
        "  url = \"https://hooks.slack.com/services/T/B/xyz\" }\n"
        "route \"r\" { receiver = \"s\" }\n";
    setenv("SEGALERT_T_TOK", "tok-from-env", 1);
    config_set_check_file_modes(true);
    static const mode_t modes[] = { 0644, 0640, 0604, 0600, 0400 };
    for (size_t m = 0; m < ARRAY_SIZE(modes); m++) {
        write_text(conf, text, modes[m]);
        struct diag_list dl = DIAG_LIST_INIT;
        struct config *cfg = config_load(conf, &dl);
        assert_non_null(cfg);
        if (modes[m] & 044) {
            char *w1 = xasprintf("%s:1: warning: admin_token is written "
                                 "inline in '%s', which group/other can read: "
                                 "move it to admin_token_env or "
                                 "admin_token_file, or chmod 600 the file",
                                 conf, conf);
            char *w2 = xasprintf("%s:2: warning: workspace \"p\": token is "
                                 "written inline in '%s', which group/other "
                                 "can read: move it to token_env or "
                                 "token_file, or chmod 600 the file", conf,
                                 conf);
            char *w3 = xasprintf("%s:5: warning: receiver \"s\": url is "
                                 "written inline in '%s', which group/other "
                                 "can read: move it to url_env or url_file, "
                                 "or chmod 600 the file", conf, conf);
            EXPECT_DIAGS(&dl, w1, w2, w3);
            assert_int_equal(dl.nerrors, 0);
            /* the values themselves are never in a message */
            struct strbuf all = STRBUF_INIT;
            for (size_t k = 0; k < dl.n; k++)
                diag_format(&dl.items[k], &all);
            assert_null(strstr(all.buf, "t0k3n-value"));
            assert_null(strstr(all.buf, "adm1n-t0ken"));
            strbuf_free(&all);
            free(w1);
            free(w2);
            free(w3);
        } else {
            expect_no_diags(&dl);
        }
        config_free(cfg);
        diag_list_free(&dl);
    }
    config_set_check_file_modes(false);
    /* off (the default): no warning whatever the mode */
    write_text(conf, text, 0644);
    struct diag_list dl = DIAG_LIST_INIT;
    struct config *cfg = config_load(conf, &dl);
    expect_no_diags(&dl);
    config_free(cfg);
    diag_list_free(&dl);
    log_secrets_clear();
    unlink(conf);
    rmdir(dir);
    free(conf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_full),
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_missing_file),
        cmocka_unit_test(test_bad_duration),
        cmocka_unit_test(test_unknown_options),
        cmocka_unit_test(test_unclosed_section),
        cmocka_unit_test(test_syntax_error),
        cmocka_unit_test(test_route_errors),
        cmocka_unit_test(test_bad_enums),
        cmocka_unit_test(test_value_ranges),
        cmocka_unit_test(test_required),
        cmocka_unit_test(test_structure),
        cmocka_unit_test(test_many_mistakes),
        cmocka_unit_test(test_secret_errors),
        cmocka_unit_test(test_secret_env),
        cmocka_unit_test(test_secret_file),
        cmocka_unit_test(test_secrets_redacted),
        cmocka_unit_test(test_rule_files_duplicates),
        cmocka_unit_test(test_load_rule_file),
        cmocka_unit_test(test_many_rules),
        cmocka_unit_test(test_example_config),
        cmocka_unit_test(test_default_path),
        cmocka_unit_test(test_http_and_silence_options),
        cmocka_unit_test(test_secret_env_never_echoed),
        cmocka_unit_test(test_secret_env_plain_name_shown),
        cmocka_unit_test(test_api_url_insecure_http),
        cmocka_unit_test(test_never_matching_route_and_region),
        cmocka_unit_test(test_inline_secret_readable_file),
    };
    fixture_register_receivers(NULL, 0);
    return cmocka_run_group_tests(tests, setup_dir, teardown_secrets);
}
