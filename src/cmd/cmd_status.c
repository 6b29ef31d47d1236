/*
 * cmd_status.c - `segalert status [-c FILE] [--url URL] [--wide] [--json]`:
 * what the running daemon sees (its /api/v1/status, /alerts and /rules),
 * as terminal tables; when no daemon answers at the configuration's
 * listen, what the state file says (alert instances and queued
 * notifications).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>

#include "cmd/cli.h"
#include "cmd/client.h"
#include "cmd/table.h"
#include "core/json.h"
#include "core/util.h"
#include "daemon/state.h"
#include "engine/rules.h"
#include "engine/template.h"

static void status_usage(FILE *out)
{
    fprintf(out,
            "usage: segalert status [-c FILE] [--url URL] [--wide] [--json]\n"
            "\n"
            "Show workspaces (poll health, budget, staleness), alert\n"
            "instances, rules and receivers of the running daemon, read from\n"
            "its HTTP API (listen in the configuration).  When the daemon is\n"
            "not running, show the alert instances and queued notifications\n"
            "of the state file.  --json prints the API documents (or the\n"
            "state file) as JSON.  --wide prints long cells (labels,\n"
            "errors) whole instead of cutting them at %d characters.\n"
            "--url URL (or $" CLIENT_URL_ENV ") reaches the daemon there\n"
            "instead of at the configuration's listen; no configuration is\n"
            "needed then, and nothing falls back to the state file.\n"
            "Exit status: 0 ok, 1 neither the daemon nor a state file could\n"
            "be read, 2 usage or configuration error.\n", TABLE_CELL_MAX);
}

/* ---- formatting ---------------------------------------------------------- */

/* --wide: cells are printed whole (labels, errors), however wide the
 * table gets.  Set once, before anything is printed. */
static bool wide_cells;

static void status_table_init(struct table *t, size_t ncols)
{
    table_init(t, ncols);
    table_set_wide(t, wide_cells);
}

/* "k=v,k=v" from a labels object, without the labels shown elsewhere. */
static void labels_text(const cJSON *labels, struct strbuf *out)
{
    const cJSON *it;
    bool first = true;
    cJSON_ArrayForEach(it, labels) {
        if (!cJSON_IsString(it) || streq(it->string, "rule") ||
            streq(it->string, "severity"))
            continue;
        size_t n = strlen(it->string);
        if (n > 3 && streq(it->string + n - 3, "_id"))
            continue;
        strbuf_addf(out, "%s%s=%s", first ? "" : ",", it->string,
                    it->valuestring);
        first = false;
    }
}

/* The rule value as people read it, in its unit (4.8%, 1m59s, 48.3k). */
static void fmt_value(const cJSON *v, enum metric_unit unit, char *buf,
                      size_t len)
{
    if (cJSON_IsNumber(v)) {
        struct strbuf sb = STRBUF_INIT;
        template_format_unit(unit, v->valuedouble, &sb);
        snprintf(buf, len, "%s", sb.buf);
        strbuf_free(&sb);
    } else if (cJSON_IsString(v)) {
        snprintf(buf, len, "%s", v->valuestring);
    } else {
        snprintf(buf, len, "-");
    }
}

/* "5m ago" or "in 2h 0m" for unix time t (0: "-"). */
static void fmt_since(double t, double now, char *buf, size_t len)
{
    if (!(t > 0)) {
        snprintf(buf, len, "-");
        return;
    }
    char age[40];
    format_age(fabs(now - t), age, sizeof(age));
    if (t > now + 1)
        snprintf(buf, len, "in %s", age);
    else
        snprintf(buf, len, "%s ago", age);
}

/* ---- from the daemon ----------------------------------------------------- */

static void print_workspaces(const cJSON *data, struct strbuf *o)
{
    struct table t;
    status_table_init(&t, 9);
    table_row(&t, "WORKSPACE", "UP", "CONNECTIONS", "BUDGET", "DELIVERY",
              "VOLUME", "USAGE", "DISCOVERY", "LAST ERROR");
    const cJSON *w;
    cJSON_ArrayForEach(w, json_member(data, "workspaces")) {
        char conns[64], budget[96], cols[4][64];
        struct strbuf errs = STRBUF_INIT;
        snprintf(conns, sizeof(conns), "%.0f (%.0f sources)",
                 json_num(w, "connections", 0), json_num(w, "sources", 0));
        const cJSON *b = json_member(w, "budget");
        double eff = json_num(b, "effectivePerMinute", 0);
        double cfgd = json_num(b, "configuredPerMinute", 0);
        if (eff > 0 && eff < cfgd)
            snprintf(budget, sizeof(budget), "%.0f/%.0f per min (slowed "
                                             "from %.0f)",
                     json_num(b, "requestsLastMinute", 0), eff, cfgd);
        else
            snprintf(budget, sizeof(budget), "%.0f/%.0f per min",
                     json_num(b, "requestsLastMinute", 0), cfgd);
        static const char *const fams[] = { "delivery", "volume", "usage",
                                             "discovery" };
        const cJSON *polls = json_member(w, "polls");
        for (size_t i = 0; i < ARRAY_SIZE(fams); i++) {
            const cJSON *p = json_member(polls, fams[i]);
            double stale = json_num(p, "stalenessSeconds", -1);
            const char *err = json_str(p, "lastError");
            char age[40];
            if (json_bool(p, "blind")) {
                snprintf(cols[i], sizeof(cols[i]), "BLIND");
                strbuf_addf(&errs, "%s%s: %s", errs.len ? "; " : "", fams[i],
                            json_str(p, "blindReason"));
            } else if (stale >= 0) {
                format_age(stale, age, sizeof(age));
                snprintf(cols[i], sizeof(cols[i]), "%s %s", err ? "ERR" : "ok",
                         age);
            } else {
                snprintf(cols[i], sizeof(cols[i]), "%s",
                         err ? "ERR" : "never");
            }
            if (err)
                strbuf_addf(&errs, "%s%s: %s", errs.len ? "; " : "", fams[i],
                            err);
        }
        const char *up = json_bool(w, "unauthorized") ? "UNAUTHORIZED"
                         : json_bool(w, "up")         ? "up"
                                                      : "DOWN";
        table_row(&t, json_str(w, "name"), up, conns, budget, cols[0],
                  cols[1], cols[2], cols[3], errs.len ? errs.buf : "-");
        strbuf_free(&errs);
    }
    strbuf_adds(o, "\n");
    table_write(&t, o);
    table_free(&t);
}

static void print_alerts(const cJSON *alerts, double now, bool blind,
                         struct strbuf *o)
{
    size_t n = (size_t)cJSON_GetArraySize(alerts);
    size_t firing = 0, pending = 0;
    const cJSON *a;
    cJSON_ArrayForEach(a, alerts) {
        if (streq(json_str(a, "state"), "firing"))
            firing++;
        else if (streq(json_str(a, "state"), "pending"))
            pending++;
    }
    strbuf_addf(o, "\nALERTS: %zu firing, %zu pending", firing, pending);
    if (n == 0) {
        /* "all quiet" only when segalert can see everything */
        strbuf_adds(o, blind ? " (but segalert cannot see everything: see "
                               "BLIND above)\n"
                             : " (all quiet)\n");
        return;
    }
    strbuf_adds(o, "\n");
    struct table t;
    status_table_init(&t, 7);
    table_row(&t, "STATE", "SEVERITY", "RULE", "LABELS", "VALUE", "SINCE",
              "NOTE");
    cJSON_ArrayForEach(a, alerts) {
        struct strbuf labels = STRBUF_INIT;
        labels_text(json_member(a, "labels"), &labels);
        char value[64], since[64];
        fmt_value(json_member(a, "value"),
                  metric_unit_parse(json_str(a, "unit")), value,
                  sizeof(value));
        double fired = json_time(a, "firedAt");
        double t0 = streq(json_str(a, "state"), "firing") && fired > 0
                        ? fired : json_time(a, "activeAt");
        fmt_since(t0, now, since, sizeof(since));
        bool silenced = json_bool(a, "silenced");
        bool flapping = json_bool(a, "flapping");
        const char *note = silenced && flapping ? "silenced, flapping"
                           : silenced           ? "silenced"
                           : flapping           ? "flapping"
                                                : "";
        table_row(&t, json_str(a, "state"), json_str(a, "severity"),
                  json_str(a, "rule"), labels.buf, value, since, note);
        strbuf_free(&labels);
    }
    table_write(&t, o);
    table_free(&t);
}

static void print_rules(const cJSON *rules, struct strbuf *o)
{
    strbuf_addf(o, "\nRULES: %d\n", cJSON_GetArraySize(rules));
    if (cJSON_GetArraySize(rules) == 0)
        return;
    struct table t;
    status_table_init(&t, 6);
    table_row(&t, "RULE", "FAMILY", "FOR", "FIRING", "PENDING",
              "INACTIVE");
    const cJSON *r;
    cJSON_ArrayForEach(r, rules) {
        char fr[32], fi[32], pe[32], in[32];
        double for_s = json_num(r, "forSeconds", 0);
        if (for_s > 0)
            format_duration(for_s, fr, sizeof(fr));
        else
            snprintf(fr, sizeof(fr), "-");
        const cJSON *c = json_member(r, "alerts");
        snprintf(fi, sizeof(fi), "%.0f", json_num(c, "firing", 0));
        snprintf(pe, sizeof(pe), "%.0f", json_num(c, "pending", 0));
        snprintf(in, sizeof(in), "%.0f", json_num(c, "inactive", 0));
        table_row(&t, json_str(r, "name"), json_str(r, "family"), fr, fi,
                  pe, in);
    }
    table_write(&t, o);
    table_free(&t);
}

static void print_receivers(const cJSON *data, struct strbuf *o)
{
    const cJSON *recv = json_member(data, "receivers");
    strbuf_addf(o, "\nRECEIVERS: %d", cJSON_GetArraySize(recv));
    const cJSON *ob = json_member(data, "outbox");
    strbuf_addf(o, " (%.0f notifications queued)\n", json_num(ob, "queued", 0));
    if (cJSON_GetArraySize(recv) == 0)
        return;
    struct table t;
    status_table_init(&t, 7);
    table_row(&t, "RECEIVER", "TYPE", "DELIVERED", "FAILED",
              "RETRYING", "FAILURES", "LAST ERROR");
    const cJSON *r;
    cJSON_ArrayForEach(r, recv) {
        char d[32], f[32], re[32];
        snprintf(d, sizeof(d), "%.0f", json_num(r, "delivered", 0));
        snprintf(f, sizeof(f), "%.0f", json_num(r, "failed", 0));
        snprintf(re, sizeof(re), "%.0f", json_num(r, "retrying", 0));
        struct strbuf fails = STRBUF_INIT;
        const cJSON *it;
        cJSON_ArrayForEach(it, json_member(r, "failures"))
            if (cJSON_IsNumber(it))
                strbuf_addf(&fails, "%s%s x%.0f", fails.len ? ", " : "",
                            it->string, it->valuedouble);
        table_row(&t, json_str(r, "name"), json_str(r, "type"), d, f, re,
                  fails.len ? fails.buf : "-",
                  json_str(r, "lastError"));
        strbuf_free(&fails);
    }
    table_write(&t, o);
    table_free(&t);
}

static void print_exporters(const cJSON *data, struct strbuf *o)
{
    const cJSON *ex = json_member(data, "exporters");
    if (cJSON_GetArraySize(ex) == 0)
        return;
    strbuf_addf(o, "\nEXPORTERS: %d\n", cJSON_GetArraySize(ex));
    struct table t;
    status_table_init(&t, 8);
    table_row(&t, "EXPORTER", "TYPE", "STATE", "SENT", "FAILED", "DROPPED",
              "BUFFERED", "LAG / LAST ERROR");
    const cJSON *e;
    cJSON_ArrayForEach(e, ex) {
        char sent[32], failed[32], dropped[32], buffered[32], lag[64];
        snprintf(sent, sizeof(sent), "%.0f", json_num(e, "sent", 0));
        snprintf(failed, sizeof(failed), "%.0f", json_num(e, "failed", 0));
        double nd = 0;
        const cJSON *it;
        cJSON_ArrayForEach(it, json_member(e, "dropped"))
            if (cJSON_IsNumber(it))
                nd += it->valuedouble;
        snprintf(dropped, sizeof(dropped), "%.0f", nd);
        snprintf(buffered, sizeof(buffered), "%.0f",
                 json_num(e, "buffered", 0));
        format_age(json_num(e, "lagSeconds", 0), lag, sizeof(lag));
        const char *err = json_str(e, "lastError");
        struct strbuf last = STRBUF_INIT;
        strbuf_addf(&last, "%s%s%s", lag, err ? " / " : "", err ? err : "");
        table_row(&t, json_str(e, "name"), json_str(e, "type"),
                  json_bool(e, "up") ? "up" : "DOWN", sent, failed, dropped,
                  buffered, last.buf);
        strbuf_free(&last);
    }
    table_write(&t, o);
    table_free(&t);
}

/* GET path; returns the parsed document (caller deletes) or NULL with a
 * message.  *down when nothing listens. */
static cJSON *api_get(const char *base, const char *path, bool *down,
                      char *err, size_t errlen)
{
    long status = 0;
    struct strbuf body = STRBUF_INIT;
    enum client_result r = client_request(
        base, "GET", path, NULL, NULL, &status, &body, err, errlen);
    *down = r == CLIENT_DOWN;
    if (r != CLIENT_OK) {
        strbuf_free(&body);
        return NULL;
    }
    if (status != 200) {
        /* 503 "starting": the daemon has not published anything yet */
        cJSON *e = cJSON_ParseWithLength(strbuf_str(&body), body.len);
        const char *msg = json_str(e, "error");
        snprintf(err, errlen, "%s%s: HTTP %ld: %.200s%s", base, path, status,
                 msg ? msg : strbuf_str(&body),
                 status == 503 ? " (the daemon is starting; try again in a "
                                 "few seconds)" : "");
        cJSON_Delete(e);
        strbuf_free(&body);
        for (char *p = err; *p; p++)
            if (*p == '\n')
                *p = ' ';
        return NULL;
    }
    cJSON *j = cJSON_ParseWithLength(strbuf_str(&body), body.len);
    strbuf_free(&body);
    if (!j)
        snprintf(err, errlen, "%s%s: the answer is not JSON", base, path);
    return j;
}

/* 0 printed; 1 daemon not reachable (fall back to the state file); -1
 * reachable but failed (err). */
static int from_daemon(const char *base, bool json, char *err, size_t errlen)
{
    bool down = false;
    cJSON *status = api_get(base, "/api/v1/status", &down, err, errlen);
    if (!status)
        return down ? 1 : -1;
    cJSON *alerts = api_get(base, "/api/v1/alerts", &down, err, errlen);
    cJSON *rules = alerts ? api_get(base, "/api/v1/rules", &down, err, errlen)
                          : NULL;
    if (!alerts || !rules) {
        cJSON_Delete(status);
        cJSON_Delete(alerts);
        return -1;
    }
    const cJSON *data = json_member(status, "data");
    const cJSON *al = json_member(json_member(alerts, "data"), "alerts");
    const cJSON *ru = json_member(json_member(rules, "data"), "rules");
    struct strbuf o = STRBUF_INIT;
    if (json) {
        cJSON *all = cJSON_CreateObject();
        cJSON_AddStringToObject(all, "source", "daemon");
        cJSON_AddStringToObject(all, "url", base);
        cJSON_AddItemToObject(all, "status", cJSON_Duplicate(data, true));
        cJSON_AddItemToObject(all, "alerts", cJSON_Duplicate(al, true));
        cJSON_AddItemToObject(all, "rules", cJSON_Duplicate(ru, true));
        char *text = cJSON_Print(all);
        strbuf_adds(&o, text);
        strbuf_addc(&o, '\n');
        free(text);
        cJSON_Delete(all);
    } else {
        double now = now_wall();
        char up[40] = "?";
        double started = json_time(data, "startedAt");
        if (started > 0)
            format_age(now - started, up, sizeof(up));
        const char *version = json_str(data, "version");
        const char *why = json_str(data, "notReady");
        strbuf_addf(&o, "segalert %s at %s: up %s, %s\n",
                    version ? version : "?", base, up,
                    json_bool(data, "ready")
                            ? "ready"
                            : why ? why
                                  : "starting (not every workspace polled "
                                    "yet)");
        print_workspaces(data, &o);
        print_alerts(al, now, why && !str_has_prefix(why, "starting"), &o);
        print_rules(ru, &o);
        print_receivers(data, &o);
        print_exporters(data, &o);
    }
    fwrite(o.buf, 1, o.len, stdout);
    strbuf_free(&o);
    cJSON_Delete(status);
    cJSON_Delete(alerts);
    cJSON_Delete(rules);
    return 0;
}

/* ---- from the state file ------------------------------------------------- */

/* The state file keeps the tier ("critical" = the expr tier, "warning" =
 * the warn tier); the severity people see is the rule's for the expr
 * tier.  The value's unit comes from the compiled rule. */
static const struct rule *find_rule(const struct ruleset *rs,
                                    const char *name)
{
    for (size_t i = 0; rs && name && i < rs->n; i++)
        if (streq(rs->rules[i].cfg->name, name))
            return &rs->rules[i];
    return NULL;
}

static void print_instances(const cJSON *insts, const struct ruleset *rs,
                            double now, struct strbuf *o)
{
    struct table t;
    status_table_init(&t, 6);
    table_row(&t, "STATE", "SEVERITY", "RULE", "LABELS", "VALUE",
              "SINCE");
    size_t shown = 0, quiet = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, insts) {
        const cJSON *st = json_member(it, "state");
        const char *state = json_str(st, "state");
        if (!state || streq(state, "inactive")) {
            quiet++;
            continue;
        }
        if (json_bool(st, "nodata"))
            state = "nodata";
        struct strbuf labels = STRBUF_INIT;
        labels_text(json_member(it, "series"), &labels);
        char value[64], since[64];
        const struct rule *r = find_rule(rs, json_str(it, "rule"));
        fmt_value(json_member(st, "value"),
                  r ? expr_value_unit(r->expr) : UNIT_COUNT, value,
                  sizeof(value));
        const char *sev = json_str(st, "severity");
        if (r && streq(sev, "critical") && r->cfg->severity)
            sev = r->cfg->severity;
        double fired = json_num(st, "fired_at", 0);
        double t0 = streq(state, "firing") && fired > 0
                        ? fired : json_num(st, "active_at", 0);
        fmt_since(t0, now, since, sizeof(since));
        table_row(&t, state, sev,
                  json_str(it, "rule"), labels.buf, value, since);
        strbuf_free(&labels);
        shown++;
    }
    strbuf_addf(o, "\nALERT INSTANCES: %zu pending or firing", shown);
    if (quiet)
        strbuf_addf(o, " (%zu more inactive with history)", quiet);
    strbuf_adds(o, "\n");
    if (shown)
        table_write(&t, o);
    table_free(&t);
}

static void print_outbox(const cJSON *outbox, double now, struct strbuf *o)
{
    const cJSON *entries = json_member(outbox, "entries");
    strbuf_addf(o, "\nQUEUED NOTIFICATIONS: %d\n",
                cJSON_GetArraySize(entries));
    if (cJSON_GetArraySize(entries) == 0)
        return;
    struct table t;
    status_table_init(&t, 7);
    table_row(&t, "ID", "RECEIVER", "REASON", "ALERTS",
              "ATTEMPTS", "NEXT ATTEMPT", "LAST ERROR");
    const cJSON *e;
    cJSON_ArrayForEach(e, entries) {
        const cJSON *n = json_member(e, "notification");
        char id[32], na[32], att[32], next[64];
        snprintf(id, sizeof(id), "%.0f", json_num(e, "id", 0));
        snprintf(na, sizeof(na), "%d",
                 cJSON_GetArraySize(json_member(n, "alerts")));
        snprintf(att, sizeof(att), "%.0f", json_num(e, "attempts", 0));
        fmt_since(json_num(e, "next_attempt", 0), now, next, sizeof(next));
        table_row(&t, id, json_str(n, "receiver"), json_str(n, "reason"),
                  na, att, next, json_str(e, "last_error"));
    }
    table_write(&t, o);
    table_free(&t);
}

static void print_silences(const cJSON *sil, double now, struct strbuf *o)
{
    struct table t;
    status_table_init(&t, 4);
    table_row(&t, "SILENCE", "MATCHERS", "ENDS", "COMMENT");
    size_t n = 0;
    const cJSON *s;
    cJSON_ArrayForEach(s, sil) {
        double ends = json_num(s, "ends_at", 0);
        if (ends <= now)
            continue;
        struct strbuf m = STRBUF_INIT;
        const cJSON *it;
        cJSON_ArrayForEach(it, json_member(s, "matchers"))
            if (cJSON_IsString(it))
                strbuf_addf(&m, "%s%s", m.len ? ", " : "", it->valuestring);
        char end[64];
        fmt_since(ends, now, end, sizeof(end));
        table_row(&t, json_str(s, "id"), m.buf, end,
                  json_str(s, "comment"));
        strbuf_free(&m);
        n++;
    }
    strbuf_addf(o, "\nSILENCES: %zu active or pending\n", n);
    if (n)
        table_write(&t, o);
    table_free(&t);
}

/* 0 printed, -1 no usable state file (err). */
static int from_state(const char *dir, const struct ruleset *rs,
                      const char *why, bool json, char *err, size_t errlen)
{
    /* Read-only: the snapshot and its journal as the daemon would read
     * them; damage is reported, not moved aside (that is the daemon's
     * call when it starts). */
    char lerr[512];
    struct state_read_info info;
    cJSON *root = state_read(dir, STATE_READ_ONLY, &info, lerr, sizeof(lerr));
    if (root && !info.snapshot_found && info.journal == STATE_JOURNAL_NONE) {
        cJSON_Delete(root);
        snprintf(err, errlen, "%s, and there is no state file in %s", why,
                 dir);
        return -1;
    }
    if (!root && info.snapshot_corrupt) {
        snprintf(err, errlen, "%s, and %s/%s is not a valid state file (%s)",
                 why, dir, STATE_FILE, info.why);
        return -1;
    }
    if (!root) {
        snprintf(err, errlen, "%s, and the state file cannot be read: %s",
                 why, lerr);
        return -1;
    }
    char path[4096], saved[40] = "unknown";
    snprintf(path, sizeof(path), "%s/%s", dir, STATE_FILE);
    double saved_at = json_num(root, "saved_at", 0);
    if (saved_at > 0)
        format_iso8601(saved_at, saved, sizeof(saved));
    struct strbuf o = STRBUF_INIT;
    if (json) {
        cJSON *all = cJSON_CreateObject();
        cJSON_AddStringToObject(all, "source", "state_file");
        cJSON_AddStringToObject(all, "path", path);
        cJSON_AddStringToObject(all, "reason", why);
        cJSON_AddItemToObject(all, "state", cJSON_Duplicate(root, true));
        char *t = cJSON_Print(all);
        strbuf_adds(&o, t);
        strbuf_addc(&o, '\n');
        free(t);
        cJSON_Delete(all);
    } else {
        double now = now_wall();
        char age[40];
        format_age(now - saved_at, age, sizeof(age));
        strbuf_addf(&o, "daemon not running; from state file %s saved %s",
                    path, saved);
        if (saved_at > 0)
            strbuf_addf(&o, " (%s ago)", age);
        strbuf_addf(&o, "\n(%s)\n", why);
        if (info.journal == STATE_JOURNAL_CORRUPT)
            strbuf_addf(&o, "WARNING: the journal %s/%s is damaged (%s): "
                        "this is the state before the damage; the daemon "
                        "will move it aside when it starts\n", dir,
                        STATE_JOURNAL_FILE, info.why);
        print_instances(json_member(root, "instances"), rs, now, &o);
        print_outbox(json_member(root, "outbox"), now, &o);
        print_silences(json_member(json_member(root, "dispatch"), "silences"),
                       now, &o);
    }
    fwrite(o.buf, 1, o.len, stdout);
    strbuf_free(&o);
    cJSON_Delete(root);
    return 0;
}

/* from_state() with the rules compiled, for severities and units. */
static int from_state_rules(const struct config *cfg, const char *why,
                            bool json, char *err, size_t errlen)
{
    struct diag_list dl = DIAG_LIST_INIT;
    struct ruleset *rs = ruleset_compile(cfg, &dl);
    int rc = from_state(cfg->state_dir, rs, why, json, err, errlen);
    ruleset_free(rs);
    diag_list_free(&dl);
    return rc;
}

struct status_opts {
    bool json;
    const char *url;
};

static int set_json(void *ud, const char *arg)
{
    (void)arg;
    ((struct status_opts *)ud)->json = true;
    return 0;
}

static int set_wide(void *ud, const char *arg)
{
    (void)ud;
    (void)arg;
    wide_cells = true;
    return 0;
}

static int set_url(void *ud, const char *arg)
{
    ((struct status_opts *)ud)->url = arg;
    return 0;
}

int cmd_status(int argc, char **argv)
{
    struct cli_common common = { 0 };
    struct status_opts so = { 0 };
    static const struct cli_flag flags[] = {
        { "json", false, set_json },
        { "wide", false, set_wide },
        { "url", true, set_url },
    };
    int prc = cli_parse(argc, argv, &common, flags, ARRAY_SIZE(flags), &so,
                        status_usage, 0, 0, NULL);
    if (prc >= 0)
        return prc;
    bool json = so.json;
    char url[CLIENT_URL_SIZE], err[1024], why[320];
    int explicit_url = client_explicit_url(so.url, url, sizeof(url), err,
                                           sizeof(err));
    if (explicit_url < 0) {
        fprintf(stderr, "segalert status: %s\n", err);
        return 2;
    }
    config_set_secrets_optional(true);
    struct config *cfg = explicit_url ? cli_load_config_optional(&common)
                                      : cli_load_config(&common);
    if (!cfg)
        return 2;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    int rc;
    if (!explicit_url && client_listen_url(cfg->listen, url, sizeof(url)) != 0) {
        snprintf(why, sizeof(why), "the HTTP API is disabled (listen = \"%s\")",
                 cfg->listen ? cfg->listen : "");
        rc = 1;
    } else {
        rc = from_daemon(url, json, err, sizeof(err));
        if (rc == 1)
            snprintf(why, sizeof(why), "nothing listens on %s", url);
    }
    int exit_code = 0;
    if (rc < 0) {
        fprintf(stderr, "segalert status: %s\n", err);
        exit_code = 1;
    } else if (rc == 1 && explicit_url) {
        /* the state file here may be another daemon's */
        fprintf(stderr, "segalert status: %s\n", why);
        exit_code = 1;
    } else if (rc == 1 &&
               from_state_rules(cfg, why, json, err, sizeof(err)) != 0) {
        fprintf(stderr, "segalert status: %s\n", err);
        exit_code = 1;
    }
    curl_global_cleanup();
    config_free(cfg);
    return exit_code;
}
