/*
 * schema.c - see schema.h.
 */
#include "config/schema.h"

#include <pthread.h>
#include <string.h>

#include "config/receiver_type.h"
#include "config/secrets.h"
#include "core/util.h"

static const struct opt_spec global_opts[] = {
    { "state_dir", OPT_STR },
    { "listen", OPT_STR },
    { "log_level", OPT_STR },
    { "log_format", OPT_STR },
    { "external_url", OPT_STR },
    SECRET_OPTS("admin_token"),
    { "allowed_hosts", OPT_LIST },
    { "enable_lifecycle", OPT_STR },
    { "max_silences", OPT_STR },
    { "max_silence_size_bytes", OPT_STR },
    { "rule_files", OPT_LIST },
    OPT_END
};

static const struct opt_spec rulefile_root_opts[] = {
    OPT_END
};

static const struct opt_spec workspace_opts[] = {
    { "api_url", OPT_STR },
    { "allow_insecure_http", OPT_STR },
    SECRET_OPTS("token"),
    { "sources", OPT_LIST },
    { "exclude_sources", OPT_LIST },
    { "destinations", OPT_LIST },
    { "poll_interval", OPT_STR },
    { "delivery_window", OPT_STR },
    { "volume_interval", OPT_STR },
    { "usage_interval", OPT_STR },
    { "request_budget", OPT_STR },
    { "overview_budget", OPT_STR },
    { "max_concurrency", OPT_STR },
    { "latency_unit", OPT_STR },
    { "mtu_limit", OPT_STR },
    { "api_calls_limit", OPT_STR },
    { "billing_cycle_day", OPT_STR },
    { "labels", OPT_LIST },
    { "connect_timeout", OPT_STR },
    { "request_timeout", OPT_STR },
    OPT_END
};

/* Grouping and timing of notifications: the defaults section sets them,
 * a route may override them. */
#define TIMING_OPTS \
    { "group_by", OPT_LIST }, { "group_wait", OPT_STR }, \
    { "group_interval", OPT_STR }, { "repeat_interval", OPT_STR }

static const struct opt_spec defaults_opts[] = {
    TIMING_OPTS,
    OPT_END
};

static const struct opt_spec route_opts[] = {
    { "match", OPT_LIST },
    { "receiver", OPT_STR },
    { "continue", OPT_STR },
    TIMING_OPTS,
    OPT_END
};

static const struct opt_spec rule_opts[] = {
    { "expr", OPT_STR },
    { "warn", OPT_STR },
    { "recover", OPT_STR },
    { "for", OPT_STR },
    { "keep_firing_for", OPT_STR },
    { "no_data", OPT_STR },
    { "no_data_after", OPT_STR },
    { "flap_detection", OPT_STR },
    { "reasons", OPT_STR },
    { "severity", OPT_STR },
    { "sources", OPT_LIST },
    { "destinations", OPT_LIST },
    { "workspaces", OPT_LIST },
    { "labels", OPT_LIST },
    { "summary", OPT_STR },
    { "description", OPT_STR },
    { "runbook_url", OPT_STR },
    OPT_END
};

/* export "NAME" { ... }: every option of every intake type; the loader
 * (exports.c) warns about those the type does not use. */
static const struct opt_spec export_opts[] = {
    { "type", OPT_STR },
    { "url", OPT_STR },
    { "api_version", OPT_STR },
    SECRET_OPTS("api_key"),
    SECRET_OPTS("token"),
    { "database", OPT_STR },
    { "bucket", OPT_STR },
    { "org", OPT_STR },
    { "headers", OPT_LIST },
    { "headers_env", OPT_LIST },
    { "prefix", OPT_STR },
    { "tags", OPT_LIST },
    { "interval", OPT_STR },
    { "workspaces", OPT_LIST },
    { "buffer", OPT_STR },
    { "batch_size", OPT_STR },
    { "gzip", OPT_STR },
    { "timeout", OPT_STR },
    OPT_END
};

static const struct sec_spec sec_workspace = {
    "workspace", workspace_opts, true
};
static const struct sec_spec sec_defaults = {
    "defaults", defaults_opts, false
};
/* opts: receiver_section_opts(), set by complete_main() */
static struct sec_spec sec_receiver = { "receiver", NULL, true };
static const struct sec_spec sec_route = { "route", route_opts, true };
static const struct sec_spec sec_rule = { "rule", rule_opts, true };
static const struct sec_spec sec_export = { "export", export_opts, true };

static const struct sec_spec *const main_secs[] = {
    &sec_workspace, &sec_defaults, &sec_receiver, &sec_route, &sec_rule,
    &sec_export
};
static const struct sec_spec *const rulefile_secs[] = { &sec_rule };

_Static_assert(ARRAY_SIZE(main_secs) <= SCHEMA_MAX_SECS,
               "SCHEMA_MAX_SECS is too small for the main file");

static const struct file_schema main_schema = {
    global_opts, main_secs, ARRAY_SIZE(main_secs), false
};
static const struct file_schema rulefile_schema = {
    rulefile_root_opts, rulefile_secs, ARRAY_SIZE(rulefile_secs), true
};

static pthread_once_t main_once = PTHREAD_ONCE_INIT;

static void complete_main(void)
{
    sec_receiver.opts = receiver_section_opts();
}

const struct file_schema *schema_main(void)
{
    pthread_once(&main_once, complete_main);
    return &main_schema;
}

const struct file_schema *schema_rulefile(void)
{
    return &rulefile_schema;
}

const struct opt_spec *schema_find_opt(const struct opt_spec *opts,
                                       const char *name)
{
    for (size_t i = 0; opts[i].name; i++)
        if (strcmp(opts[i].name, name) == 0)
            return &opts[i];
    return NULL;
}

const struct sec_spec *schema_find_sec(const struct file_schema *fs,
                                       const char *name)
{
    for (size_t i = 0; i < fs->nsecs; i++)
        if (strcmp(fs->secs[i]->name, name) == 0)
            return fs->secs[i];
    return NULL;
}

const char *schema_closest(const char *word, const char *const *cands,
                           size_t n)
{
    size_t len = strlen(word);
    int cap = len <= 4 ? 1 : len <= 8 ? 2 : 3;
    const char *best = NULL;
    int best_d = cap + 1;
    for (size_t i = 0; i < n; i++) {
        if (!cands[i])
            continue;
        int d = edit_distance(word, cands[i], cap);
        if (d < best_d) {
            best_d = d;
            best = cands[i];
        }
    }
    return best;
}

const char *schema_closest_opt(const char *word, const struct opt_spec *opts)
{
    const char *cands[SCHEMA_MAX_OPTS];
    size_t n = 0;
    for (size_t i = 0; opts[i].name && n < ARRAY_SIZE(cands); i++)
        cands[n++] = opts[i].name;
    return schema_closest(word, cands, n);
}
