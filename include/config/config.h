/*
 * config.h - the configuration (every option is documented in
 * examples/segalert.conf; receivers and routes in README.md "Receivers and
 * routing"): globals, workspaces, notification defaults, receivers, routes
 * and the rule sections of every rule file.
 *
 * config_load() parses the main file and every file matched by rule_files
 * (globs relative to the main file) with libconfuse, resolves secrets from
 * inline / *_env / *_file, validates structure (types, durations, enums,
 * duplicates, references between sections) and returns an immutable
 * struct config.  Every problem found is added to the diag_list as
 * "FILE:LINE: message" naming the section; loading goes on after an error
 * so that all mistakes are reported in one run.
 *
 * Expressions and templates are kept as text here, with the line where
 * they were written; compiling them (and reporting their errors with
 * columns) is the job of rules.c / template.c, so that this module does
 * not depend on the engine.
 *
 * All strings are owned by the struct config and freed by config_free().
 * Secrets (token, receiver URLs and headers, the settings a receiver type
 * keeps in receiver_cfg.priv, admin_token, the keys, tokens and headers of
 * export sections) are resolved strings: never log them.
 *
 * Thread safety: loads may run on several threads at once, each with its
 * own diag_list; a loaded config is immutable and may be read from any
 * thread.  config_set_secrets_optional() and the receiver type table
 * (receiver_type.h) are set once at start-up.
 *
 * Inside the module: config.c loads files (scan.h checks their structure
 * against schema.h, parse.h runs libconfuse), sections.h converts each
 * section through the section reader (section.h, secrets.h), receiver
 * sections through the table of receiver types (receiver_type.h).
 */
#ifndef SEGALERT_CONFIG_H
#define SEGALERT_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "core/diag.h"
#include "core/kv.h"

/* Where something was written, for diagnostics. */
struct srcloc {
    const char *file;   /* points into config->files (owned there) */
    int line;
};

struct workspace_cfg {
    char *name;
    struct srcloc loc;
    char *api_url;                  /* no trailing slash */
    char *token;                    /* secret */
    struct str_list sources;        /* globs on slug, name or id */
    struct str_list exclude_sources;
    struct str_list destinations;   /* globs on name, catalog slug or id */
    double poll_interval_s;         /* delivery metrics, default 300 */
    double delivery_window_s;       /* default = poll_interval, <= 4h */
    double volume_interval_s;       /* default 60 */
    double usage_interval_s;        /* default 21600 */
    double request_budget;          /* requests per minute, default 60 */
    double overview_budget;         /* Delivery Overview requests per
                                       minute for discard reasons, inside
                                       request_budget, default 10; 0 =
                                       never read them */
    int max_concurrency;            /* default 4 */
    double latency_scale;           /* multiply API latency to get seconds:
                                       1 for "s", 0.001 for "ms" */
    double mtu_limit;               /* 0 = unset */
    double api_calls_limit;
    int billing_cycle_day;          /* day of the month the usage period
                                       starts, 1..28; default 1 (the usage
                                       rows' own periodStart wins) */
    struct kv_list labels;          /* added to every alert */
    double connect_timeout_s;       /* default 10 */
    double request_timeout_s;       /* default 30 */
    bool allow_insecure_http;       /* api_url may be http:// to a host
                                       that is not loopback */
};

struct timing_cfg {
    struct str_list group_by;       /* default {"rule", "workspace"} */
    double group_wait_s;            /* default 30 */
    double group_interval_s;        /* default 300 */
    double repeat_interval_s;       /* default 14400 */
    /* for routes: which of the above were set explicitly */
    bool has_group_by, has_group_wait, has_group_interval, has_repeat_interval;
};

struct receiver_type_def;           /* config/receiver_type.h */

/* A receiver's max_connections: the default and the largest accepted. */
#define RECEIVER_MAX_CONNECTIONS 16
#define RECEIVER_MAX_CONNECTIONS_LIMIT 1024

/* What every receiver has; what only one type has is in priv. */
struct receiver_cfg {
    char *name;
    struct srcloc loc;
    /* the registered type (receiver_type.h); NULL when `type` is missing
     * or unknown (an error was reported) */
    const struct receiver_type_def *type;
    /* the type's own settings, allocated by its load function and
     * released by its free_priv; NULL when it has none.  Only the type's
     * own code knows what it points to. */
    void *priv;
    bool send_resolved;             /* default true */
    /* HTTP receivers (set by the type's load function) */
    char *url;                      /* may be a secret (the URLs of Slack,
                                       PagerDuty and webhooks carry
                                       credentials); NULL for other types */
    struct kv_list headers;         /* extra request headers; values may
                                       be secrets (registered with the log) */
    double timeout_s;               /* default 10 */
    /* HTTP receivers: the most of this receiver's posts in progress at once
     * to each host it posts to (docs/notifications.md "Delivery") */
    int max_connections;            /* default RECEIVER_MAX_CONNECTIONS */
    /* templates (text; compiled by template.c) */
    char *subject;                  /* email subject / slack header; NULL = default */
    int subject_line;
    char *body;                     /* NULL = default */
    int body_line;
    /* Added: column (1-based) of the first character of the template text
     * inside its quotes, so template.c can report FILE:LINE:COL in the
     * file.  0 = unknown.  The *_line fields are the line where that first
     * character is (usually the option's own line). */
    int subject_col;
    int body_col;
};

struct route_cfg {
    char *name;
    struct srcloc loc;
    struct kv_list match;           /* label=glob, all must match */
    char *receiver;                 /* name; checked to exist */
    int receiver_index;             /* index into config->receivers */
    bool cont;                      /* continue = true */
    struct timing_cfg timing;       /* has_* flags say what overrides defaults */
};

enum no_data_mode { NODATA_KEEP = 0, NODATA_OK, NODATA_ALERT };

struct rule_cfg {
    char *name;
    struct srcloc loc;              /* the "rule" line */
    char *expr;                     /* required */
    int expr_line;
    char *warn;                     /* optional, NULL */
    int warn_line;
    char *recover;                  /* optional, NULL */
    int recover_line;
    double for_s;                   /* default 0 */
    double keep_firing_for_s;       /* default 0 */
    enum no_data_mode no_data;      /* default keep */
    double no_data_after_s;         /* default 1800 */
    bool flap_detection;            /* default false */
    int reasons;                    /* discard reasons: -1 = default (on
                                       when the rule reads discarded or
                                       discard_ratio), 0 off, 1 on */
    char *severity;                 /* default "critical" */
    struct str_list sources;        /* default {"*"} */
    struct str_list destinations;   /* default {"*"} */
    struct str_list workspaces;     /* default {"*"} */
    struct kv_list labels;
    char *summary;                  /* templates, may be NULL */
    int summary_line;
    char *description;
    int description_line;
    char *runbook_url;
    /* Added: columns (1-based) of the first character of each text inside
     * its quotes (see receiver_cfg.subject_col); 0 = unknown or unset. */
    int expr_col, warn_col, recover_col, summary_col, description_col;
};

/* Defaults of max_silences and max_silence_size_bytes: far above what
 * people create by hand, low enough that a runaway script cannot make the
 * state file or the page unusable. */
#define CONFIG_MAX_SILENCES 10000
#define CONFIG_MAX_SILENCE_SIZE 8192

/* The intakes an export section may name (`type =`). */
enum export_type {
    EXPORT_DATADOG = 0,
    EXPORT_NEWRELIC,
    EXPORT_INFLUX,
    EXPORT_OTLP,
    EXPORT__COUNT
};

/* An export section (README.md "Export to your observability tool"):
 * where segalert pushes the Segment metrics and alert states. */
struct export_cfg {
    char *name;                     /* letters, digits, '-', '_', '.' (it
                                       names the cursor file) */
    struct srcloc loc;
    int type;                       /* enum export_type; -1 when missing or
                                       unknown (an error was reported) */
    char *url;                      /* no trailing slash; the default of
                                       the type when not given */
    int api_version;                /* datadog: 1 | 2 (default 2) */
    char *api_key;                  /* secret: datadog, newrelic */
    char *token;                    /* secret: influx (Authorization:
                                       Token ...); may be NULL */
    char *database;                 /* influx 1.x / VictoriaMetrics */
    char *bucket, *org;             /* influx 2.x (neither these nor
                                       database when url is the write
                                       endpoint with its query) */
    struct kv_list headers;         /* extra request headers (headers and
                                       headers_env); values may be secrets */
    char *prefix;                   /* default "segment." */
    struct kv_list tags;            /* extra tags/attributes, in order */
    double interval_s;              /* how often buffered points are sent;
                                       default 60 */
    struct str_list workspaces;     /* globs; default {"*"} */
    size_t buffer_points;           /* most points held for this exporter;
                                       the oldest are dropped beyond it */
    size_t batch_points;            /* most points per request (0 = the
                                       intake's documented limit) */
    bool gzip;                      /* Content-Encoding: gzip (default on) */
    double timeout_s;               /* per request, default 10 */
};

struct config {
    char *path;                     /* the main file as given */
    struct str_list files;          /* every file loaded (main + rule files) */
    char *state_dir;                /* default "/var/lib/segalert" */
    char *listen;                   /* default "127.0.0.1:9477"; "" disables */
    char *log_level;                /* default "info" */
    char *log_format;               /* "text" | "json", default "text" */
    char *admin_token;              /* secret, may be NULL */
    /* Host header values the HTTP server answers besides its listen
     * address, loopback names and IP literals: "name" (any port) or
     * "name:port", as written (checked: no scheme, path or spaces). */
    struct str_list allowed_hosts;
    bool enable_lifecycle;          /* POST /-/reload over HTTP; default
                                       false (SIGHUP always works) */
    /* Silences: active and pending ones at most (0 = no limit), and the
     * size of one (matchers, comment, author; 0 = no limit). */
    int max_silences;               /* default CONFIG_MAX_SILENCES */
    int max_silence_size_bytes;     /* default CONFIG_MAX_SILENCE_SIZE */
    char *external_url;             /* for links in notifications; may be NULL */
    struct str_list rule_files;     /* as written */

    struct workspace_cfg *workspaces;
    size_t nworkspaces;
    struct timing_cfg defaults;
    struct receiver_cfg *receivers;
    size_t nreceivers;
    struct route_cfg *routes;
    size_t nroutes;
    struct rule_cfg *rules;         /* from every rule file, in load order */
    size_t nrules;
    struct export_cfg *exports;     /* export sections, in file order */
    size_t nexports;
};

/*
 * Load path and its rule files.  Returns a config (even a partial one when
 * there were errors, so callers can report more) and adds every problem to
 * diags.  The config is usable only when diags->nerrors == 0.  Returns NULL
 * only when the main file cannot be read at all (also reported in diags).
 */
struct config *config_load(const char *path, struct diag_list *diags);

/*
 * For the commands that evaluate rules (check, run and its reloads): a
 * configuration without any rule is an error (reported on diags), because
 * a daemon without rules looks green and watches nothing.  Commands that
 * use only part of a configuration (fetch, notify-test, status, silence)
 * do not ask.
 */
void config_require_rules(const struct config *cfg, struct diag_list *diags);

/* Parse a rule file on its own (segalert test loads rule files this way);
 * rules are appended to cfg->rules.  Returns 0, or -1 with diags. */
int config_load_rule_file(struct config *cfg, const char *path,
                          struct diag_list *diags);

/* An empty config with every default set (for tests and `segalert test`). */
struct config *config_new_defaults(void);

void config_free(struct config *cfg);

/* Lookups by name; NULL when absent. */
const struct receiver_cfg *config_receiver(const struct config *cfg,
                                           const char *name);
const struct workspace_cfg *config_workspace(const struct config *cfg,
                                             const char *name);
const struct export_cfg *config_export(const struct config *cfg,
                                       const char *name);
/* "datadog", "newrelic", "influx", "otlp"; "unknown" otherwise. */
const char *export_type_name(int type);
/* Whether an influx exporter's url is the write endpoint itself, with its
 * query ("http://h:8086/write?db=segment", ".../api/v2/write?org=o&
 * bucket=b"), rather than the server's base URL plus database / bucket
 * and org. */
bool export_influx_write_url(const char *url);

/*
 * For commands that only read the running daemon or its state file
 * (status, silence): a secret given by *_env or *_file that is not
 * available in this environment is not an error (it stays NULL) - the
 * operator running `segalert status` need not hold the Segment token.
 */
void config_set_secrets_optional(bool optional);

/*
 * Warn (a diagnostic warning per option) when a secret is written inline
 * in a configuration file that group or others may read.  Off by default,
 * so that loading a configuration is a function of its text; main() turns
 * it on for every command, so `segalert check`, `run` (and each reload)
 * say it.  Set once at start-up, like config_set_secrets_optional().
 */
void config_set_check_file_modes(bool check);

/* Default config path: ./segalert.conf if it exists, else
 * /etc/segalert/segalert.conf. */
const char *config_default_path(void);

#endif
