/*
 * cmd_backtest.c - `segalert backtest [-c FILE] [--days N | --from ISO
 * --to ISO] [--rules GLOB] [--json]`: what the rules would have done over
 * a past range (daemon/backtest.h does the work), as text for a person or
 * as the JSON document of README.md "Backtest".
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd/cli.h"
#include "core/clock.h"
#include "core/util.h"
#include "daemon/backtest.h"

/* Default range of --days, and the longest the API's history allows. */
#define BACKTEST_DEFAULT_DAYS 2
#define BACKTEST_MAX_DAYS 7
/* The verdict counts firings shorter than this as noise. */
#define BACKTEST_SHORT_S (20 * 60.0)
/* --days ranges end on this grid, so runs close together share the
 * cache. */
#define BACKTEST_ALIGN_S 300.0

struct backtest_cli {
    bool json;
    double days;
    const char *from, *to, *rules;
};

static void backtest_usage(FILE *out)
{
    fprintf(out,
            "usage: segalert backtest [-c FILE] [--days N | --from ISO --to ISO]\n"
            "                         [--rules GLOB] [--json]\n"
            "\n"
            "Fetch the history the rules read (event volume, usage, delivery\n"
            "metrics) within request_budget, replay it through the evaluator, the\n"
            "alert states and the routes/grouping/repeat of the daemon, and say\n"
            "what would have fired and how many notifications would have gone out.\n"
            "Nothing is sent.  The history is cached in state_dir/backtest-cache/:\n"
            "a second run over the same range sends no request.\n"
            "\n"
            "  --days N          the last N days (default 2, at most 7), ending on\n"
            "                    the last whole 5 minutes\n"
            "  --from, --to ISO  an explicit range (ISO-8601 UTC)\n"
            "  --rules GLOB      only the rules whose name matches\n"
            "  --json            {\"from\",\"to\",\"requests\",\"rules\":[{\"rule\",\n"
            "                    \"notifications\",\"firings\":[{\"labels\",\"severity\",\n"
            "                    \"start\",\"end\"}]}]}\n");
}

static int set_json(void *ud, const char *arg)
{
    (void)arg;
    ((struct backtest_cli *)ud)->json = true;
    return 0;
}

static int set_days(void *ud, const char *arg)
{
    char *end;
    double d = strtod(arg, &end);
    if (*end || !(d > 0) || d > BACKTEST_MAX_DAYS) {
        fprintf(stderr, "segalert backtest: --days: '%s' is not a number of "
                "days from 1 to %d\n", arg, BACKTEST_MAX_DAYS);
        return -1;
    }
    ((struct backtest_cli *)ud)->days = d;
    return 0;
}

static int set_from(void *ud, const char *arg)
{
    ((struct backtest_cli *)ud)->from = arg;
    return 0;
}

static int set_to(void *ud, const char *arg)
{
    ((struct backtest_cli *)ud)->to = arg;
    return 0;
}

static int set_rules(void *ud, const char *arg)
{
    ((struct backtest_cli *)ud)->rules = arg;
    return 0;
}

static void on_estimate(void *ud, const char *ws, unsigned long requests,
                        double seconds)
{
    (void)ud;
    char d[32];
    format_duration(seconds < 1 ? 1 : ceil(seconds), d, sizeof(d));
    fprintf(stderr, "segalert backtest: workspace \"%s\": about %lu "
            "request%s, about %s at request_budget\n", ws, requests,
            requests == 1 ? "" : "s", d);
}

static void on_progress(void *ud, unsigned long sent, unsigned long planned)
{
    (void)ud;
    if (sent > planned)
        sent = planned;
    fprintf(stderr, "\rsegalert backtest: fetching %lu/%lu requests (%3.0f%%)",
            sent, planned, planned ? 100.0 * sent / planned : 100.0);
    fflush(stderr);
}

static void print_labels(FILE *out, const struct kv *l, size_t n)
{
    fputc('{', out);
    bool first = true;
    for (size_t i = 0; i < n; i++) {
        /* what a person tells alerts apart by: ids, the catalogue slug
         * and the mode only repeat the names */
        size_t kl = strlen(l[i].key);
        if (streq(l[i].key, "rule") || streq(l[i].key, "destination_type") ||
            streq(l[i].key, "mode") ||
            (kl > 3 && streq(l[i].key + kl - 3, "_id")))
            continue;
        struct strbuf v = STRBUF_INIT;
        strbuf_add_json_str(&v, l[i].value ? l[i].value : "");
        fprintf(out, "%s%s=%s", first ? "" : ",", l[i].key, strbuf_str(&v));
        strbuf_free(&v);
        first = false;
    }
    fputc('}', out);
}

static void print_text(const struct backtest_result *r, FILE *out)
{
    char a[32], b[32];
    format_iso8601(r->from, a, sizeof(a));
    format_iso8601(r->to, b, sizeof(b));
    fprintf(out, "backtest %s .. %s, %lu API request%s%s\n\n", a, b,
            r->requests, r->requests == 1 ? "" : "s",
            r->cached_workspaces ? " (history from the cache)" : "");
    for (size_t i = 0; i < r->nrules; i++) {
        const struct backtest_rule *br = &r->rules[i];
        fprintf(out, "%s: %zu firing%s, %lu notification%s\n", br->name,
                br->nfirings, br->nfirings == 1 ? "" : "s", br->notifications,
                br->notifications == 1 ? "" : "s");
        size_t shorter = 0;
        for (size_t k = 0; k < br->nfirings; k++) {
            const struct backtest_firing *f = &br->firings[k];
            char s[32], e[32] = "still firing", d[32];
            format_iso8601(f->start, s, sizeof(s));
            double end = f->end > 0 ? f->end : r->to;
            if (f->end > 0)
                format_iso8601(f->end, e, sizeof(e));
            format_duration(end - f->start, d, sizeof(d));
            if (f->end > 0 && end - f->start < BACKTEST_SHORT_S)
                shorter++;
            fprintf(out, "  %s .. %s  %-8s %-8s ", s, e, d, f->severity);
            print_labels(out, f->labels, f->nlabels);
            fputc('\n', out);
        }
        if (br->nfirings == 0)
            fprintf(out, "  verdict: quiet: would not have paged\n\n");
        else {
            char n[32] = "none";
            if (shorter)
                snprintf(n, sizeof(n), "%zu", shorter);
            fprintf(out, "  verdict: would have paged %zu time%s; %s "
                    "shorter than %.0f min\n\n", br->nfirings,
                    br->nfirings == 1 ? "" : "s", n, BACKTEST_SHORT_S / 60);
        }
    }
}

int cmd_backtest(int argc, char **argv)
{
    struct cli_common common = { 0 };
    struct backtest_cli bc = { 0 };
    static const struct cli_flag flags[] = {
        { "json", false, set_json }, { "days", true, set_days },
        { "from", true, set_from }, { "to", true, set_to },
        { "rules", true, set_rules },
    };
    int prc = cli_parse(argc, argv, &common, flags, ARRAY_SIZE(flags), &bc,
                        backtest_usage, 0, 0, NULL);
    if (prc >= 0)
        return prc;
    if ((bc.from != NULL) != (bc.to != NULL) || (bc.from && bc.days > 0)) {
        fprintf(stderr, "segalert backtest: give --days N, or both --from "
                "and --to\n");
        return 2;
    }
    char err[512];
    const struct clock *clock = clock_from_env(err, sizeof(err));
    if (!clock) {
        fprintf(stderr, "segalert backtest: %s\n", err);
        return 2;
    }
    double now = clock_wall(clock), from, to;
    if (bc.from) {
        if (parse_iso8601(bc.from, &from) != 0 ||
            parse_iso8601(bc.to, &to) != 0 || !(to > from)) {
            fprintf(stderr, "segalert backtest: --from/--to: two ISO-8601 "
                    "times, --from before --to\n");
            clock_free(clock);
            return 2;
        }
        if (to > now)
            to = floor(now / 60) * 60;
        if (from < now - BACKTEST_MAX_DAYS * 86400.0) {
            fprintf(stderr, "segalert backtest: --from: the API keeps %d "
                    "days of delivery history\n", BACKTEST_MAX_DAYS);
            clock_free(clock);
            return 2;
        }
    } else {
        to = floor(now / BACKTEST_ALIGN_S) * BACKTEST_ALIGN_S;
        from = to - (bc.days > 0 ? bc.days : BACKTEST_DEFAULT_DAYS) * 86400;
    }
    struct config *cfg = cli_load_config(&common);
    if (!cfg) {
        clock_free(clock);
        return 2;
    }
    if (cfg->nworkspaces == 0) {
        fprintf(stderr, "segalert backtest: no workspace in %s\n", cfg->path);
        config_free(cfg);
        clock_free(clock);
        return 2;
    }
    bool tty = isatty(STDERR_FILENO);
    struct backtest_opts o = {
        .from = from, .to = to, .rules_glob = bc.rules, .clock = clock,
        .estimate = on_estimate, .progress = tty ? on_progress : NULL,
    };
    struct backtest_result res;
    int rc = backtest_run(cfg, &o, &res, err, sizeof(err)) == 0 ? 0 : 1;
    if (tty)
        fputc('\n', stderr);
    if (rc)
        fprintf(stderr, "segalert backtest: incomplete history: %s\n", err);
    if (bc.rules && res.nrules == 0)
        fprintf(stderr, "segalert backtest: --rules '%s' matches no rule\n",
                bc.rules);
    if (bc.json) {
        struct strbuf sb = STRBUF_INIT;
        backtest_result_json(&res, &sb);
        fprintf(stdout, "%s\n", strbuf_str(&sb));
        strbuf_free(&sb);
    } else {
        print_text(&res, stdout);
    }
    backtest_result_free(&res);
    config_free(cfg);
    clock_free(clock);
    return rc;
}
