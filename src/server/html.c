/*
 * html.c - see html.h.
 *
 * Written by hand into a strbuf: the page is a few tables, rendered
 * single-pass from the snapshot; every value from outside goes through
 * H() (html_escape).
 */
#include "server/html.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/template.h"
#include "server/prom.h"

static const char *nn(const char *s)
{
    return s ? s : "";
}

void html_escape(struct strbuf *out, const char *s)
{
    for (; s && *s; s++) {
        switch (*s) {
        case '&': strbuf_adds(out, "&amp;"); break;
        case '<': strbuf_adds(out, "&lt;"); break;
        case '>': strbuf_adds(out, "&gt;"); break;
        case '"': strbuf_adds(out, "&quot;"); break;
        case '\'': strbuf_adds(out, "&#39;"); break;
        default: strbuf_addc(out, *s);
        }
    }
}

#define H(s) html_escape(out, (s))

/* <time> with an absolute title: "5m ago" / "in 2h 0m". */
static void html_when(struct strbuf *out, const struct snapshot *s, double t)
{
    if (!(t > 0)) {
        strbuf_adds(out, "<span class=\"muted\">never</span>");
        return;
    }
    char iso[40], age[40];
    format_iso8601(t, iso, sizeof(iso));
    double d = s->generated_at - t;
    format_age(fabs(d), age, sizeof(age));
    strbuf_addf(out, "<time datetime=\"%s\" title=\"%s\">", iso, iso);
    if (d >= 0)
        strbuf_addf(out, "%s ago</time>", age);
    else
        strbuf_addf(out, "in %s</time>", age);
}

static void html_value(struct strbuf *out, const struct snap_alert *a)
{
    struct strbuf v = STRBUF_INIT;
    template_format_unit(a->unit, a->value, &v);
    struct strbuf exact = STRBUF_INIT;
    prom_format_double(&exact, a->value);
    strbuf_adds(out, "<span title=\"");
    H(exact.buf);
    strbuf_adds(out, "\">");
    H(v.buf);
    strbuf_adds(out, "</span>");
    strbuf_free(&v);
    strbuf_free(&exact);
}

/* An inline sparkline of the alert's recent values: a polyline scaled to
 * the points' own range (the shape matters, not the axis) and a dot on
 * the newest point.  Always emitted, empty when there is nothing to draw,
 * so every alert row has exactly one. */
static void html_spark(struct strbuf *out, const struct snap_alert *a)
{
    const double W = 120, Hh = 24, pad = 2.5;
    double tmin = INFINITY, tmax = -INFINITY, vmin = INFINITY,
           vmax = -INFINITY;
    size_t n = 0;
    for (size_t i = 0; i < a->nspark; i++) {
        const struct snap_point *p = &a->spark[i];
        if (!isfinite(p->t) || !isfinite(p->v))
            continue;
        n++;
        tmin = fmin(tmin, p->t);
        tmax = fmax(tmax, p->t);
        vmin = fmin(vmin, p->v);
        vmax = fmax(vmax, p->v);
    }
    strbuf_adds(out, "<svg class=\"spark\" width=\"120\" height=\"24\" "
                     "viewBox=\"0 0 120 24\" role=\"img\" "
                     "xmlns=\"http://www.w3.org/2000/svg\">");
    if (n == 0) {
        strbuf_adds(out, "<title>no recent values</title>"
                         "<line class=\"none\" x1=\"2\" y1=\"12\" x2=\"118\" "
                         "y2=\"12\"/></svg>");
        return;
    }
    strbuf_adds(out, "<title>");
    H(a->spark_metric ? a->spark_metric : "value");
    struct strbuf lo = STRBUF_INIT, hi = STRBUF_INIT;
    enum metric_unit u = UNIT_COUNT;
    int m = a->spark_metric ? metric_lookup(a->spark_metric) : -1;
    if (m >= 0)
        u = metric_table[m].unit;
    template_format_unit(u, vmin, &lo);
    template_format_unit(u, vmax, &hi);
    strbuf_addf(out, ": %zu points, min %s, max %s</title>", n, lo.buf,
                hi.buf);
    strbuf_free(&lo);
    strbuf_free(&hi);
    strbuf_adds(out, "<polyline points=\"");
    double lx = 0, ly = 0;
    bool first = true;
    for (size_t i = 0; i < a->nspark; i++) {
        const struct snap_point *p = &a->spark[i];
        if (!isfinite(p->t) || !isfinite(p->v))
            continue;
        double x = tmax > tmin ? pad + (p->t - tmin) / (tmax - tmin) *
                                           (W - 2 * pad)
                               : W - pad;
        double y = vmax > vmin ? Hh - pad - (p->v - vmin) / (vmax - vmin) *
                                                (Hh - 2 * pad)
                               : Hh / 2;
        strbuf_addf(out, "%s%.1f,%.1f", first ? "" : " ", x, y);
        first = false;
        lx = x;
        ly = y;
    }
    strbuf_addf(out, "\"/><circle cx=\"%.1f\" cy=\"%.1f\" r=\"2.2\"/></svg>",
                lx, ly);
}

static const char *const page_css =
    ":root{--bg:#f5f6f8;--card:#fff;--fg:#1d2330;--muted:#667085;"
    "--line:#e4e7ec;--crit:#d92d20;--warn:#f79009;--ok:#12b76a;"
    "--info:#2e90fa}"
    "*{box-sizing:border-box}"
    "body{margin:0;background:var(--bg);color:var(--fg);"
    "font:14px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,"
    "'Helvetica Neue',Arial,sans-serif}"
    "header{background:#101828;color:#f2f4f7;padding:14px 28px;display:flex;"
    "align-items:center;gap:14px;flex-wrap:wrap}"
    "header h1{font-size:19px;margin:0;font-weight:700;letter-spacing:.2px}"
    "header .meta{color:#98a2b3;font-size:13px}"
    "header .totals{margin-left:auto;display:flex;gap:8px;flex-wrap:wrap}"
    "main{max-width:1440px;margin:0 auto;padding:20px 28px 8px}"
    "section{background:var(--card);border:1px solid var(--line);"
    "border-radius:10px;margin:0 0 20px;overflow:hidden;"
    "box-shadow:0 1px 2px rgba(16,24,40,.04)}"
    "section h2{font-size:15px;margin:0;padding:11px 16px;"
    "border-bottom:1px solid var(--line);display:flex;gap:8px;"
    "align-items:baseline}"
    "h2 .count{color:var(--muted);font-weight:400;font-size:13px}"
    "table{width:100%;border-collapse:collapse}"
    "th,td{text-align:left;padding:8px 12px;border-bottom:1px solid "
    "var(--line);vertical-align:top}"
    "th{font-size:11.5px;font-weight:600;color:var(--muted);"
    "text-transform:uppercase;letter-spacing:.05em;background:#fafbfc;"
    "white-space:nowrap}"
    "tbody tr:last-child td{border-bottom:0}"
    "tbody tr:hover td{background:#fcfcfd}"
    "td.num{text-align:right;font-variant-numeric:tabular-nums;"
    "white-space:nowrap}"
    ".badge{display:inline-block;padding:1px 8px;border-radius:999px;"
    "font-size:12px;font-weight:600;white-space:nowrap;margin:1px 0}"
    ".b-ok{background:#ecfdf3;color:#027a48}"
    ".b-err{background:#fef3f2;color:#b42318}"
    ".b-warn{background:#fffaeb;color:#b54708}"
    ".b-muted{background:#f2f4f7;color:#475467}"
    ".b-critical{background:var(--crit);color:#fff}"
    ".b-warning{background:var(--warn);color:#fff}"
    ".b-info{background:var(--info);color:#fff}"
    ".b-pending{background:#fff;color:#b54708;box-shadow:inset 0 0 0 1px "
    "#fdb022}"
    ".b-nodata{background:#f2f4f7;color:#344054;box-shadow:inset 0 0 0 1px "
    "#98a2b3}"
    "header .badge.b-ok{background:#054f31;color:#a6f4c5}"
    "header .badge.b-err{background:#7a271a;color:#fecdca}"
    ".banner{margin:0 0 16px;padding:12px 16px;border-radius:8px;"
    "background:#fef3f2;color:#7a271a;border:1px solid #fecdca}"
    ".banner strong{display:block;margin-bottom:2px}"
    ".empty.blind strong{color:#b42318}"
    "header .badge.b-warn{background:#4e1d09;color:#fedf89}"
    "header .badge.b-muted{background:#1d2939;color:#d0d5dd}"
    "code{font:12.5px/1.4 ui-monospace,SFMono-Regular,Menlo,Consolas,"
    "monospace;background:#f2f4f7;padding:1px 5px;border-radius:4px;"
    "word-break:break-word}"
    ".chip{display:inline-block;font-size:12px;background:#f2f4f7;"
    "border-radius:4px;padding:0 6px;margin:1px 3px 1px 0;color:#344054;"
    "white-space:nowrap;max-width:260px;overflow:hidden;"
    "text-overflow:ellipsis;vertical-align:bottom}"
    ".chip i{font-style:normal;color:var(--muted)}"
    ".mark{font-size:11px;font-weight:600;border-radius:4px;padding:0 5px;"
    "margin-left:4px;text-transform:uppercase;letter-spacing:.03em}"
    ".m-silenced{background:#eef4ff;color:#3538cd}"
    ".m-flapping{background:#fdf2fa;color:#c11574}"
    ".muted{color:var(--muted)}.small{font-size:12px}"
    ".err{color:#b42318;font-size:12px;max-width:280px;"
    "word-break:break-word}"
    ".empty{padding:26px 16px;text-align:center;color:var(--muted)}"
    ".empty strong{display:block;font-size:16px;color:#027a48;"
    "margin-bottom:2px}"
    ".bar{width:130px;height:6px;background:#eaecf0;border-radius:3px;"
    "overflow:hidden;margin:4px 0 2px}"
    ".bar span{display:block;height:100%;background:var(--info)}"
    ".bar span.hot{background:var(--warn)}"
    "tr.alert td:first-child{border-left:3px solid transparent}"
    "tr.alert[data-severity=critical][data-state=firing] td:first-child"
    "{border-left-color:var(--crit)}"
    "tr.alert[data-severity=warning][data-state=firing] td:first-child"
    "{border-left-color:var(--warn)}"
    "tr.alert[data-state=pending] td:first-child{border-left-color:#fdb022}"
    "svg.spark{display:block;overflow:visible}"
    "svg.spark polyline{fill:none;stroke:#475467;stroke-width:1.5;"
    "stroke-linejoin:round;stroke-linecap:round}"
    "svg.spark circle{fill:#475467}"
    "svg.spark line.none{stroke:#d0d5dd;stroke-dasharray:3 3}"
    "tr[data-severity=critical][data-state=firing] svg.spark polyline"
    "{stroke:var(--crit)}"
    "tr[data-severity=critical][data-state=firing] svg.spark circle"
    "{fill:var(--crit)}"
    "tr[data-severity=warning][data-state=firing] svg.spark polyline"
    "{stroke:#dc6803}"
    "tr[data-severity=warning][data-state=firing] svg.spark circle"
    "{fill:#dc6803}"
    "tr.expired td{color:var(--muted)}"
    "td strong,time{white-space:nowrap}"
    "a{color:#175cd3;text-decoration:none}a:hover{text-decoration:underline}"
    "footer{color:var(--muted);font-size:12px;text-align:center;"
    "padding:4px 10px 24px;overflow-wrap:anywhere}"
    "footer a{margin:0 6px}"
    /* silenced alerts: muted, never red */
    "tr.alert[data-silenced] td{color:var(--muted)}"
    "tr.alert[data-silenced] td:first-child{border-left-color:#98a2b3}"
    "tr.alert[data-silenced] svg.spark polyline{stroke:#98a2b3}"
    "tr.alert[data-silenced] svg.spark circle{fill:#98a2b3}"
    ".sil{font-size:12px;margin-top:2px;word-break:break-word}"
    /* filters: radio buttons read by :has(), no script */
    ".filters{display:flex;flex-wrap:wrap;gap:6px 16px;padding:8px 16px;"
    "border-bottom:1px solid var(--line);align-items:center;"
    "font-size:12.5px}"
    ".filters .grp{display:flex;flex-wrap:wrap;gap:4px;align-items:center}"
    ".filters .grp>b,.filters summary{color:var(--muted);font-size:11.5px;"
    "text-transform:uppercase;letter-spacing:.05em;margin-right:2px}"
    ".filters summary{cursor:pointer;font-weight:600}"
    ".filters details[open]{flex-basis:100%}"
    ".filters details .grp{margin-top:4px}"
    ".filters input{position:absolute;opacity:0;width:1px;height:1px;"
    "margin:0}"
    ".filters label{padding:1px 9px;border-radius:999px;background:#f2f4f7;"
    "color:#344054;cursor:pointer;white-space:nowrap;max-width:100%;"
    "overflow:hidden;text-overflow:ellipsis}"
    ".filters input:checked+label{background:#101828;color:#fff}"
    ".filters input:focus-visible+label{outline:2px solid var(--info)}"
    "#alerts:has(#fs-firing:checked) tr.alert:not([data-f~=st-firing]),"
    "#alerts:has(#fs-pending:checked) tr.alert:not([data-f~=st-pending]),"
    "#alerts:has(#fs-nodata:checked) tr.alert:not([data-f~=st-nodata]),"
    "#alerts:has(#fs-silenced:checked) tr.alert:not([data-f~=st-silenced])"
    "{display:none}"
    /* wide tables scroll inside their section, never the page */
    ".tw{overflow-x:auto}"
    /* phones: alerts become cards, the header and margins shrink */
    "@media (max-width:760px){"
    "header{padding:12px 14px}"
    "header .totals{margin-left:0}"
    "main{padding:12px 10px 4px}"
    "section h2{padding:10px 12px}"
    "#alerts table,#alerts tbody,#alerts td{display:block}"
    "#alerts thead{display:none}"
    "#alerts tr.alert{display:flex;flex-wrap:wrap;align-items:baseline;"
    "gap:4px 10px;padding:10px 12px;border-bottom:1px solid var(--line);"
    "border-left:3px solid transparent}"
    "#alerts tr.alert td{border:0;padding:0;background:none}"
    "#alerts tr.alert[data-severity=critical][data-state=firing]"
    "{border-left-color:var(--crit)}"
    "#alerts tr.alert[data-severity=warning][data-state=firing]"
    "{border-left-color:var(--warn)}"
    "#alerts tr.alert[data-state=pending]{border-left-color:#fdb022}"
    "#alerts tr.alert[data-silenced]{border-left-color:#98a2b3}"
    "#alerts td.c-rule{flex:1 1 0;min-width:0;word-break:break-word}"
    "#alerts td.c-value{margin-left:auto}"
    "#alerts td.c-labels,#alerts td.c-summary{flex-basis:100%}"
    "#alerts td.c-since{font-size:12px;color:var(--muted)}"
    "#alerts td.c-spark{margin-left:auto}"
    ".chip{white-space:normal;max-width:100%;word-break:break-all}"
    ".filters{padding:8px 12px}"
    "#rules code{word-break:normal;overflow-wrap:anywhere}"
    "#rules td:first-child{min-width:9em}"
    "}";

static int severity_rank(const char *sev)
{
    if (streq(sev, "critical"))
        return 0;
    if (streq(sev, "warning"))
        return 1;
    return 2;
}

static int state_rank(const char *st)
{
    if (streq(st, "firing"))
        return 0;
    if (streq(st, "nodata"))
        return 1;
    if (streq(st, "pending"))
        return 2;
    return 3;
}

/* Firing before no data before pending; critical first; then oldest. */
static int alert_cmp(const void *pa, const void *pb)
{
    const struct snap_alert *a = *(const struct snap_alert *const *)pa;
    const struct snap_alert *b = *(const struct snap_alert *const *)pb;
    int d = state_rank(a->state) - state_rank(b->state);
    if (d)
        return d;
    d = severity_rank(a->severity) - severity_rank(b->severity);
    if (d)
        return d;
    int c = strcmp(nn(a->rule), nn(b->rule));
    if (c)
        return c;
    return (a->active_at > b->active_at) - (a->active_at < b->active_at);
}

static const char *sev_class(const char *sev)
{
    if (streq(sev, "critical"))
        return "b-critical";
    if (streq(sev, "warning"))
        return "b-warning";
    return "b-info";
}

static void html_header(const struct snapshot *s, struct strbuf *out,
                        size_t firing, size_t pending, size_t silenced)
{
    char age[40];
    strbuf_adds(out, "<header><h1>segalert</h1><span class=\"meta\">");
    H(s->version ? s->version : SEGALERT_VERSION);
    if (s->started_at > 0) {
        format_age(s->generated_at - s->started_at, age,
                              sizeof(age));
        strbuf_addf(out, " &middot; up %s", age);
    }
    strbuf_adds(out, "</span>");
    if (s->ready) {
        strbuf_adds(out, "<span class=\"badge b-ok\" id=\"readiness\">"
                         "ready</span>");
    } else {
        /* "starting: ...", "blind: ...", "down: ...": the word before the
         * colon is the badge, the whole sentence its title */
        const char *why = s->not_ready ? s->not_ready : "starting";
        size_t word = strcspn(why, ":");
        strbuf_addf(out, "<span class=\"badge %s\" id=\"readiness\" "
                         "title=\"",
                    str_has_prefix(why, "starting") ? "b-warn" : "b-err");
        H(why);
        strbuf_adds(out, "\">");
        strbuf_add(out, why, word);
        strbuf_adds(out, "</span>");
    }
    strbuf_adds(out, "<div class=\"totals\">");
    strbuf_addf(out, "<span class=\"badge %s\">%zu firing</span>",
                firing ? "b-critical" : "b-muted", firing);
    strbuf_addf(out, "<span class=\"badge %s\">%zu pending</span>",
                pending ? "b-warn" : "b-muted", pending);
    if (silenced)
        strbuf_addf(out, "<span class=\"badge b-muted\">%zu silenced</span>",
                    silenced);
    size_t up = 0;
    for (size_t i = 0; i < s->nworkspaces; i++)
        if (s->workspaces[i].up)
            up++;
    strbuf_addf(out, "<span class=\"badge %s\">%zu/%zu workspaces up</span>",
                up == s->nworkspaces ? "b-muted" : "b-critical", up,
                s->nworkspaces);
    strbuf_adds(out, "</div></header>\n");
}

static void html_poll_cell(const struct snapshot *s, struct strbuf *out,
                           const struct snap_workspace *w, int k)
{
    char age[40];
    strbuf_adds(out, "<td>");
    const char *err = w->last_error[k];
    if (err && *err) {
        strbuf_adds(out, "<span class=\"badge b-err\" title=\"");
        H(err);
        strbuf_adds(out, "\">error</span><div class=\"err\">");
        /* Long API messages are cut on the page; the title has it all. */
        if (strlen(err) > 120) {
            char *cut = xstrndup(err, 117);
            H(cut);
            strbuf_adds(out, "&hellip;");
            free(cut);
        } else {
            H(err);
        }
        strbuf_adds(out, "</div>");
        if (w->last_ok[k] > 0) {
            format_age(s->generated_at - w->last_ok[k], age,
                                  sizeof(age));
            strbuf_addf(out, "<div class=\"small muted\">last ok %s ago"
                             "</div>", age);
        }
    } else if (w->last_ok[k] > 0) {
        char iso[40];
        format_iso8601(w->last_ok[k], iso, sizeof(iso));
        format_age(w->staleness_s[k] >= 0
                                  ? w->staleness_s[k]
                                  : s->generated_at - w->last_ok[k],
                              age, sizeof(age));
        strbuf_addf(out, "<span class=\"badge b-ok\" title=\"last success "
                         "%s\">ok %s ago</span>", iso, age);
    } else {
        strbuf_adds(out, "<span class=\"badge b-muted\">not yet</span>");
    }
    if (w->errors[k])
        strbuf_addf(out, "<div class=\"small muted\">%lu error%s</div>",
                    w->errors[k], w->errors[k] == 1 ? "" : "s");
    strbuf_adds(out, "</td>");
}

static void html_workspaces(const struct snapshot *s, struct strbuf *out)
{
    char age[40];
    strbuf_addf(out, "<section id=\"workspaces\"><h2>Workspaces "
                     "<span class=\"count\">%zu</span></h2>\n",
                s->nworkspaces);
    if (!s->nworkspaces) {
        strbuf_adds(out, "<div class=\"empty\">No workspaces configured"
                         "</div></section>\n");
        return;
    }
    strbuf_adds(out, "<div class=\"tw\"><table><thead><tr><th>Workspace</th><th>Status</th>");
    static const int order[] = { POLL_DELIVERY, POLL_VOLUME, POLL_USAGE,
                                 POLL_DISCOVERY };
    for (size_t k = 0; k < ARRAY_SIZE(order); k++) {
        strbuf_adds(out, "<th>");
        H(poll_kind_name((enum poll_kind)order[k]));
        strbuf_adds(out, "</th>");
    }
    strbuf_adds(out, "<th>Budget use</th><th>Staleness</th>"
                     "<th>Connections</th></tr></thead><tbody>\n");
    for (size_t i = 0; i < s->nworkspaces; i++) {
        const struct snap_workspace *w = &s->workspaces[i];
        strbuf_adds(out, "<tr class=\"workspace\" data-workspace=\"");
        H(w->name);
        strbuf_adds(out, "\"><td><strong>");
        H(w->name);
        strbuf_adds(out, "</strong>");
        if (w->api_url) {
            strbuf_adds(out, "<div class=\"small muted\">");
            H(w->api_url);
            strbuf_adds(out, "</div>");
        }
        strbuf_adds(out, "</td><td>");
        if (w->unauthorized)
            strbuf_adds(out, "<span class=\"badge b-err\" title=\"the API "
                             "rejected the token\">unauthorized</span>");
        else if (w->up)
            strbuf_adds(out, "<span class=\"badge b-ok\">up</span>");
        else if (!w->discovered && w->last_ok[POLL_DISCOVERY] <= 0 &&
                 !w->errors[POLL_DISCOVERY])
            strbuf_adds(out, "<span class=\"badge b-muted\">starting</span>");
        else
            strbuf_adds(out, "<span class=\"badge b-err\">down</span>");
        strbuf_adds(out, "</td>");
        for (size_t k = 0; k < ARRAY_SIZE(order); k++)
            html_poll_cell(s, out, w, order[k]);

        /* Budget: what was achieved against what is allowed now. */
        double eff = w->effective_budget > 0 ? w->effective_budget
                                             : w->request_budget;
        double pct = eff > 0 ? 100 * w->requests_last_minute / eff : 0;
        if (pct > 100)
            pct = 100;
        strbuf_addf(out, "<td class=\"budget\"><span class=\"num\">%.0f / "
                         "%.0f</span> <span class=\"small muted\">per min"
                         "</span><div class=\"bar\"><span%s style=\"width:"
                         "%.0f%%\"></span></div>",
                    w->requests_last_minute, eff,
                    pct >= 95 ? " class=\"hot\"" : "", pct);
        if (w->effective_budget > 0 &&
            w->effective_budget < w->request_budget - 1e-9)
            strbuf_addf(out, "<div class=\"small\" style=\"color:#b54708\">"
                             "slowed from %.0f after 429s</div>",
                        w->request_budget);
        strbuf_addf(out, "<div class=\"small muted\">%d in flight &middot; "
                         "%zu queued &middot; %lu &times; 429</div></td>",
                    w->in_flight, w->queued, w->rate_limited);

        strbuf_adds(out, "<td>");
        if (w->oldest_connection_s >= 0) {
            format_age(w->oldest_connection_s, age, sizeof(age));
            strbuf_addf(out, "<span class=\"num\">%s</span><div class=\"small "
                             "muted\">oldest connection</div>", age);
        } else {
            strbuf_adds(out, "<span class=\"muted\">&ndash;</span>");
        }
        strbuf_addf(out, "</td><td class=\"num\">%zu<div class=\"small "
                         "muted\">%zu source%s</div></td></tr>\n",
                    w->nconnections, w->nsources,
                    w->nsources == 1 ? "" : "s");
    }
    strbuf_adds(out, "</tbody></table></div></section>\n");
}

/* Labels worth reading in the table; ids, rule and severity (shown in
 * their own columns or of little use to a person) go to the tooltip. */
static bool key_label(const char *k)
{
    if (streq(k, "rule") || streq(k, "severity") || streq(k, "alertname"))
        return false;
    size_t n = strlen(k);
    return !(n > 3 && streq(k + n - 3, "_id"));
}

/* Alert state for people and for the filters: a silenced alert is
 * "silenced" whatever its state, so it is never counted or shown as
 * firing. */
static const char *row_state(const struct snap_alert *a)
{
    return a->silenced ? "silenced" : nn(a->state);
}

/* The label values the filter offers: "key=value" of the labels worth
 * reading (key_label), in order of first appearance, at most
 * HTML_MAX_LABEL_FILTERS so that 20,000 alerts do not make a page of
 * buttons. */
#define HTML_MAX_LABEL_FILTERS 40

static int facet_index(const struct str_list *l, const char *k, const char *v)
{
    size_t kl = strlen(k);
    for (size_t i = 0; i < l->n; i++)
        if (strncmp(l->items[i], k, kl) == 0 && l->items[i][kl] == '=' &&
            streq(l->items[i] + kl + 1, v))
            return (int)i;
    return -1;
}

static bool key_label(const char *k);

static void collect_labels(const struct snapshot *s, struct str_list *out)
{
    for (size_t i = 0; i < s->nalerts && out->n < HTML_MAX_LABEL_FILTERS;
         i++) {
        const struct snap_alert *a = &s->alerts[i];
        for (size_t j = 0; j < a->nlabels && out->n < HTML_MAX_LABEL_FILTERS;
             j++) {
            const char *k = nn(a->labels[j].key), *v = nn(a->labels[j].value);
            if (!key_label(k) || facet_index(out, k, v) >= 0)
                continue;
            char *kv = xasprintf("%s=%s", k, v);
            str_list_add(out, kv);
            free(kv);
        }
    }
}

static void html_alert_row(const struct snapshot *s, struct strbuf *out,
                           const struct snap_alert *a,
                           const struct str_list *facets)
{
    /* class="alert" data-rule data-state stay the page's stable hooks;
     * the filters read the tokens of data-f. */
    strbuf_adds(out, "<tr class=\"alert\" data-rule=\"");
    H(a->rule);
    strbuf_adds(out, "\" data-state=\"");
    H(a->state);
    strbuf_adds(out, "\" data-severity=\"");
    H(a->severity);
    strbuf_adds(out, "\" data-f=\"st-");
    H(row_state(a));
    for (size_t j = 0; j < a->nlabels; j++) {
        int fi = facet_index(facets, nn(a->labels[j].key),
                             nn(a->labels[j].value));
        if (fi >= 0)
            strbuf_addf(out, " l%d", fi);
    }
    strbuf_addf(out, "\"%s><td class=\"c-state\">",
                a->silenced ? " data-silenced=\"true\"" : "");
    if (a->silenced) {
        strbuf_adds(out, "<span class=\"badge b-muted\">silenced</span>");
    } else if (streq(a->state, "firing")) {
        strbuf_addf(out, "<span class=\"badge %s\">", sev_class(a->severity));
        H(a->severity);
        strbuf_adds(out, "</span>");
    } else if (streq(a->state, "nodata")) {
        strbuf_adds(out, "<span class=\"badge b-nodata\">no data</span>");
    } else {
        strbuf_adds(out, "<span class=\"badge b-pending\">");
        H(a->state);
        strbuf_adds(out, "</span>");
    }
    if (a->silenced || !streq(a->state, "firing")) {
        strbuf_adds(out, "<div class=\"small muted\">");
        if (a->silenced) {
            H(streq(a->state, "nodata") ? "no data" : a->state);
            strbuf_adds(out, " &middot; ");
        }
        H(a->severity);
        strbuf_adds(out, "</div>");
    }
    strbuf_adds(out, "</td><td class=\"c-rule\"><strong>");
    H(a->rule);
    strbuf_adds(out, "</strong>");
    if (a->flapping)
        strbuf_adds(out, "<span class=\"mark m-flapping\" title=\"changing "
                         "state too often: notifications paused\">flapping"
                         "</span>");
    if (a->silenced) {
        strbuf_adds(out, "<div class=\"sil muted\" title=\"an active "
                         "silence matches: not notified\">silenced");
        if (a->silence_by && *a->silence_by) {
            strbuf_adds(out, " by ");
            H(a->silence_by);
        }
        if (a->silence_ends_at > 0) {
            strbuf_adds(out, ", ends ");
            html_when(out, s, a->silence_ends_at);
        }
        if (a->silence_comment && *a->silence_comment) {
            strbuf_adds(out, ": &ldquo;");
            H(a->silence_comment);
            strbuf_adds(out, "&rdquo;");
        }
        strbuf_adds(out, "</div>");
    }
    strbuf_adds(out, "</td><td class=\"c-labels\" title=\"");
    for (size_t j = 0; j < a->nlabels; j++) {
        H(a->labels[j].key);
        strbuf_addc(out, '=');
        H(a->labels[j].value);
        strbuf_adds(out, "&#10;");
    }
    strbuf_adds(out, "\">");
    for (size_t j = 0; j < a->nlabels; j++) {
        if (!key_label(nn(a->labels[j].key)))
            continue;
        strbuf_adds(out, "<span class=\"chip\"><i>");
        H(a->labels[j].key);
        strbuf_adds(out, "=</i>");
        H(a->labels[j].value);
        strbuf_adds(out, "</span>");
    }
    strbuf_adds(out, "</td><td class=\"num c-value\">");
    html_value(out, a);
    strbuf_adds(out, "</td><td class=\"c-since\">");
    double since = streq(a->state, "firing") && a->fired_at > 0
                       ? a->fired_at : a->active_at;
    html_when(out, s, since);
    strbuf_adds(out, "</td><td class=\"c-summary\">");
    if (a->summary && *a->summary)
        H(a->summary);
    else
        strbuf_adds(out, "<span class=\"muted\">&ndash;</span>");
    if (a->runbook_url && (str_has_prefix(a->runbook_url, "https://") ||
                           str_has_prefix(a->runbook_url, "http://"))) {
        /* Only http(s) links: a javascript: URL must not become one. */
        strbuf_adds(out, " <a class=\"small\" href=\"");
        H(a->runbook_url);
        strbuf_adds(out, "\" rel=\"noopener noreferrer\">runbook</a>");
    }
    strbuf_adds(out, "</td><td class=\"c-spark\">");
    html_spark(out, a);
    strbuf_adds(out, "</td></tr>\n");
}

/* One radio button of a filter group. */
static void filter_radio(struct strbuf *out, const char *group,
                         const char *id, const char *text, bool checked)
{
    strbuf_addf(out, "<input type=\"radio\" name=\"%s\" id=\"%s\"%s>"
                     "<label for=\"%s\">", group, id,
                checked ? " checked" : "", id);
    H(text);
    strbuf_adds(out, "</label>");
}

/* State, severity and label filters.  Radio buttons and :has() rules in
 * the page's CSS (the CSP allows no script); the label rules are made
 * here, one per offered value. */
static void html_filters(const struct snapshot *s, struct strbuf *out,
                         const struct str_list *facets)
{
    static const char *const states[][2] = {
        { "fs-firing", "firing" }, { "fs-pending", "pending" },
        { "fs-nodata", "no data" }, { "fs-silenced", "silenced" } };
    static const char *const sevs[] = { "critical", "warning", "info" };
    strbuf_adds(out, "<style>");
    for (size_t i = 0; i < ARRAY_SIZE(sevs); i++)
        strbuf_addf(out, "#alerts:has(#fv-%s:checked) tr.alert:not("
                         "[data-severity=%s]){display:none}", sevs[i],
                    sevs[i]);
    for (size_t i = 0; i < facets->n; i++)
        strbuf_addf(out, "#alerts:has(#fl-%zu:checked) tr.alert:not([data-f~=l%zu])"
                         "{display:none}", i, i);
    strbuf_adds(out, "</style><div class=\"filters\"><div class=\"grp\">"
                     "<b>State</b>");
    filter_radio(out, "fs", "fs-all", "all", true);
    for (size_t i = 0; i < ARRAY_SIZE(states); i++)
        filter_radio(out, "fs", states[i][0], states[i][1], false);
    strbuf_adds(out, "</div><div class=\"grp\"><b>Severity</b>");
    filter_radio(out, "fv", "fv-all", "all", true);
    for (size_t i = 0; i < ARRAY_SIZE(sevs); i++) {
        bool present = false;
        for (size_t j = 0; j < s->nalerts && !present; j++)
            present = streq(s->alerts[j].severity, sevs[i]);
        if (present) {
            char id[32];
            snprintf(id, sizeof(id), "fv-%s", sevs[i]);
            filter_radio(out, "fv", id, sevs[i], false);
        }
    }
    strbuf_adds(out, "</div>");
    if (facets->n) {
        strbuf_addf(out, "<details><summary>Labels (%zu)</summary>"
                         "<div class=\"grp\">", facets->n);
        filter_radio(out, "fl", "fl-all", "all", true);
        for (size_t i = 0; i < facets->n; i++) {
            char id[32];
            snprintf(id, sizeof(id), "fl-%zu", i);
            filter_radio(out, "fl", id, facets->items[i], false);
        }
        strbuf_adds(out, "</div></details>");
    }
    strbuf_adds(out, "</div>\n");
}

/* Every family that is not fresh, above everything else. */
static void html_blind_banner(const struct snapshot *s, struct strbuf *out)
{
    bool any = false;
    for (size_t i = 0; i < s->nworkspaces; i++) {
        const struct snap_workspace *w = &s->workspaces[i];
        for (int k = POLL_DELIVERY; k < POLL__COUNT; k++) {
            if (!w->blind[k])
                continue;
            if (!any)
                strbuf_adds(out, "<div class=\"banner\" id=\"coverage\">"
                                 "<strong>Blind spots: these alerts cannot "
                                 "be trusted until the data is fresh "
                                 "again</strong>");
            any = true;
            strbuf_adds(out, "<div>");
            H(w->name);
            strbuf_addf(out, ", %s data: ",
                        poll_kind_family((enum poll_kind)k));
            H(w->blind_reason[k]);
            strbuf_adds(out, "</div>");
        }
    }
    if (any)
        strbuf_adds(out, "</div>\n");
}

static void html_alerts(const struct snapshot *s, struct strbuf *out)
{
    strbuf_addf(out, "<section id=\"alerts\"><h2>Alerts <span class=\"count\">"
                     "%zu</span></h2>\n", s->nalerts);
    if (!s->nalerts && !s->ready && s->not_ready &&
        !str_has_prefix(s->not_ready, "starting")) {
        /* Never a green "all quiet" while segalert cannot see. */
        strbuf_adds(out, "<div class=\"empty blind\"><strong>No alerts, "
                         "but segalert cannot see everything</strong>");
        H(s->not_ready);
        strbuf_adds(out, "</div></section>\n");
        return;
    }
    if (!s->nalerts) {
        strbuf_addf(out, "<div class=\"empty\"><strong>No alerts &mdash; all "
                         "%zu rule%s quiet</strong>every instance is "
                         "inactive</div></section>\n",
                    s->nrules, s->nrules == 1 ? "" : "s");
        return;
    }
    const struct snap_alert **order = xmalloc(s->nalerts * sizeof(*order));
    for (size_t i = 0; i < s->nalerts; i++)
        order[i] = &s->alerts[i];
    qsort(order, s->nalerts, sizeof(*order), alert_cmp);
    struct str_list facets = { 0 };
    collect_labels(s, &facets);
    html_filters(s, out, &facets);
    strbuf_adds(out, "<div class=\"tw\"><table><thead><tr><th>State</th><th>Rule</th>"
                     "<th>Labels</th><th style=\"text-align:right\">Value</th>"
                     "<th>Since</th><th>Summary</th><th>Recent values</th>"
                     "</tr></thead><tbody>\n");
    for (size_t i = 0; i < s->nalerts; i++)
        html_alert_row(s, out, order[i], &facets);
    strbuf_adds(out, "</tbody></table></div></section>\n");
    str_list_free(&facets);
    free(order);
}

static void html_rules(const struct snapshot *s, struct strbuf *out)
{
    char dur[40];
    strbuf_addf(out, "<section id=\"rules\"><h2>Rules <span class=\"count\">"
                     "%zu</span></h2>\n", s->nrules);
    if (!s->nrules) {
        strbuf_adds(out, "<div class=\"empty\">No rules loaded: add rule "
                         "files with <code>rule_files</code></div>"
                         "</section>\n");
        return;
    }
    strbuf_adds(out, "<div class=\"tw\"><table><thead><tr><th>Rule</th><th>Family</th>"
                     "<th>Expression</th><th>For</th><th>Severity</th>"
                     "<th>Instances</th></tr></thead><tbody>\n");
    for (size_t i = 0; i < s->nrules; i++) {
        const struct snap_rule *r = &s->rules[i];
        strbuf_adds(out, "<tr class=\"rule\" data-rule=\"");
        H(r->name);
        strbuf_adds(out, "\"><td><strong>");
        H(r->name);
        strbuf_adds(out, "</strong>");
        if (r->file) {
            strbuf_adds(out, "<div class=\"small muted\">");
            H(r->file);
            strbuf_addf(out, ":%d</div>", r->line);
        }
        strbuf_adds(out, "</td><td>");
        H(r->family);
        strbuf_adds(out, "</td><td><code>");
        H(r->expr);
        strbuf_adds(out, "</code>");
        if (r->warn) {
            strbuf_adds(out, "<div class=\"small\" style=\"margin-top:3px\">"
                             "<span class=\"muted\">warn</span> <code>");
            H(r->warn);
            strbuf_adds(out, "</code></div>");
        }
        strbuf_adds(out, "</td><td>");
        if (r->for_s > 0) {
            format_duration(r->for_s, dur, sizeof(dur));
            H(dur);
        } else {
            strbuf_adds(out, "<span class=\"muted\">&ndash;</span>");
        }
        strbuf_adds(out, "</td><td>");
        H(r->severity);
        strbuf_adds(out, "</td><td>");
        if (r->firing)
            strbuf_addf(out, "<span class=\"badge b-err\">%zu firing</span> ",
                        r->firing);
        if (r->pending)
            strbuf_addf(out, "<span class=\"badge b-warn\">%zu pending</span> ",
                        r->pending);
        strbuf_addf(out, "<span class=\"badge b-muted\">%zu ok</span>"
                         "</td></tr>\n", r->inactive);
    }
    strbuf_adds(out, "</tbody></table></div></section>\n");
}

static void html_receivers(const struct snapshot *s, struct strbuf *out)
{
    strbuf_addf(out, "<section id=\"receivers\"><h2>Receivers <span "
                     "class=\"count\">%zu</span></h2>\n", s->nreceivers);
    if (!s->nreceivers) {
        strbuf_adds(out, "<div class=\"empty\">No receivers</div>"
                         "</section>\n");
        return;
    }
    strbuf_adds(out, "<div class=\"tw\"><table><thead><tr><th>Receiver</th><th>Type</th>"
                     "<th style=\"text-align:right\">Delivered</th>"
                     "<th style=\"text-align:right\">Failed</th>"
                     "<th style=\"text-align:right\">Retrying</th>"
                     "<th>Failures by reason</th><th>Last error</th></tr>"
                     "</thead><tbody>\n");
    for (size_t i = 0; i < s->nreceivers; i++) {
        const struct snap_receiver *r = &s->receivers[i];
        strbuf_adds(out, "<tr class=\"receiver\"><td><strong>");
        H(r->name);
        strbuf_adds(out, "</strong></td><td>");
        H(r->type);
        strbuf_addf(out, "</td><td class=\"num\">%lu</td>", r->delivered);
        strbuf_addf(out, "<td class=\"num\">%s%lu%s</td>",
                    r->failed ? "<span class=\"badge b-err\">" : "",
                    r->failed, r->failed ? "</span>" : "");
        strbuf_addf(out, "<td class=\"num\">%s%lu%s</td><td>",
                    r->retrying ? "<span class=\"badge b-warn\">" : "",
                    r->retrying, r->retrying ? "</span>" : "");
        if (!r->nfailures)
            strbuf_adds(out, "<span class=\"muted\">&ndash;</span>");
        for (size_t j = 0; j < r->nfailures; j++) {
            strbuf_adds(out, "<span class=\"chip\"><i>");
            H(r->failures[j].key);
            strbuf_adds(out, "</i> &times;");
            H(r->failures[j].value);
            strbuf_adds(out, "</span>");
        }
        strbuf_adds(out, "</td><td>");
        if (r->last_error) {
            strbuf_adds(out, "<div class=\"err\">");
            H(r->last_error);
            strbuf_adds(out, "</div>");
        } else {
            strbuf_adds(out, "<span class=\"muted\">&ndash;</span>");
        }
        strbuf_adds(out, "</td></tr>\n");
    }
    strbuf_adds(out, "</tbody></table></div></section>\n");
}

static void html_exporters(const struct snapshot *s, struct strbuf *out)
{
    if (!s->nexporters)
        return;
    strbuf_addf(out, "<section id=\"exporters\"><h2>Exporters <span "
                     "class=\"count\">%zu</span></h2>\n", s->nexporters);
    strbuf_adds(out, "<table><thead><tr><th>Exporter</th><th>Type</th>"
                     "<th>State</th>"
                     "<th style=\"text-align:right\">Sent</th>"
                     "<th style=\"text-align:right\">Failed</th>"
                     "<th style=\"text-align:right\">Dropped</th>"
                     "<th style=\"text-align:right\">Buffered</th>"
                     "<th>Lag</th><th>Last error</th></tr></thead><tbody>\n");
    for (size_t i = 0; i < s->nexporters; i++) {
        const struct snap_exporter *e = &s->exporters[i];
        unsigned long long dropped = 0;
        for (int r = 0; r < EXPORT_DROP__COUNT; r++)
            dropped += e->st.dropped[r];
        char lag[64];
        format_age(e->st.lag_s, lag, sizeof(lag));
        strbuf_adds(out, "<tr class=\"exporter\"><td><strong>");
        H(e->name);
        strbuf_adds(out, "</strong></td><td>");
        H(e->type);
        strbuf_addf(out, "</td><td><span class=\"badge %s\">%s</span></td>",
                    e->st.up ? "b-ok" : "b-err", e->st.up ? "up" : "down");
        strbuf_addf(out, "<td class=\"num\">%llu</td>", e->st.sent);
        strbuf_addf(out, "<td class=\"num\">%llu</td>", e->st.failed);
        strbuf_addf(out, "<td class=\"num\">%llu</td>", dropped);
        strbuf_addf(out, "<td class=\"num\">%zu</td><td>", e->st.buffered);
        H(lag);
        strbuf_adds(out, "</td><td>");
        if (e->st.last_error[0]) {
            strbuf_adds(out, "<div class=\"err\">");
            H(e->st.last_error);
            strbuf_adds(out, "</div>");
        } else {
            strbuf_adds(out, "<span class=\"muted\">&ndash;</span>");
        }
        strbuf_adds(out, "</td></tr>\n");
    }
    strbuf_adds(out, "</tbody></table></section>\n");
}

static void html_silences(const struct snapshot *s, struct strbuf *out)
{
    size_t active = snapshot_count_active_silences(s);
    strbuf_addf(out, "<section id=\"silences\"><h2>Silences <span "
                     "class=\"count\">%zu active</span></h2>\n", active);
    if (!s->nsilences) {
        strbuf_adds(out, "<div class=\"empty\">No silences &mdash; add one "
                         "with <code>segalert silence add --match "
                         "rule=NAME --for 2h</code></div></section>\n");
        return;
    }
    strbuf_adds(out, "<div class=\"tw\"><table><thead><tr><th>ID</th><th>Matchers</th>"
                     "<th>Status</th><th>Starts</th><th>Ends</th>"
                     "<th>Created by</th><th>Comment</th></tr></thead>"
                     "<tbody>\n");
    for (size_t i = 0; i < s->nsilences; i++) {
        const struct snap_silence *si = &s->silences[i];
        const char *st = snapshot_silence_status(s, si);
        strbuf_addf(out, "<tr class=\"silence%s\"><td><code>",
                    streq(st, "expired") ? " expired" : "");
        H(si->id);
        strbuf_adds(out, "</code></td><td><code>");
        H(si->matchers);
        strbuf_addf(out, "</code></td><td><span class=\"badge %s\">%s</span>"
                         "</td><td>",
                    streq(st, "active") ? "b-ok"
                                        : streq(st, "pending") ? "b-warn"
                                                               : "b-muted",
                    st);
        html_when(out, s, si->starts_at);
        strbuf_adds(out, "</td><td>");
        html_when(out, s, si->ends_at);
        strbuf_adds(out, "</td><td>");
        H(si->created_by);
        strbuf_adds(out, "</td><td>");
        H(si->comment);
        strbuf_adds(out, "</td></tr>\n");
    }
    strbuf_adds(out, "</tbody></table></div></section>\n");
}

void html_status_page(const struct snapshot *s, struct strbuf *out)
{
    /* A silenced alert is counted as silenced, not as firing. */
    size_t firing = 0, pending = 0, silenced = 0;
    for (size_t i = 0; i < s->nalerts; i++) {
        const char *st = row_state(&s->alerts[i]);
        if (streq(st, "silenced"))
            silenced++;
        else if (streq(st, "firing"))
            firing++;
        else if (streq(st, "pending"))
            pending++;
    }
    strbuf_adds(out, "<!DOCTYPE html>\n<html lang=\"en\"><head>"
                     "<meta charset=\"utf-8\">");
    strbuf_addf(out, "<meta http-equiv=\"refresh\" content=\"%d\">",
                HTML_REFRESH_S);
    strbuf_adds(out, "<meta name=\"viewport\" content=\"width=device-width,"
                     "initial-scale=1\"><title>");
    if (firing)
        strbuf_addf(out, "(%zu firing) ", firing);
    strbuf_adds(out, "segalert</title><style>");
    strbuf_adds(out, page_css);
    strbuf_adds(out, "</style></head><body>\n");
    html_header(s, out, firing, pending, silenced);
    strbuf_adds(out, "<main>\n");
    html_blind_banner(s, out);
    html_alerts(s, out);
    html_workspaces(s, out);
    html_rules(s, out);
    html_receivers(s, out);
    html_exporters(s, out);
    html_silences(s, out);
    strbuf_adds(out, "</main><footer>");
    char iso[40];
    format_iso8601(s->generated_at, iso, sizeof(iso));
    strbuf_addf(out, "snapshot %s", iso);
    if (s->last_eval_at > 0) {
        struct strbuf ms = STRBUF_INIT;
        template_format_number(round(s->eval_duration_s * 1e4) / 10, &ms);
        strbuf_addf(out, " &middot; last evaluation %s ms for %zu (rule, "
                         "series)", ms.buf, s->eval_evaluations);
        strbuf_free(&ms);
    }
    strbuf_addf(out, " &middot; %zu queued notification%s",
                s->outbox_queued, s->outbox_queued == 1 ? "" : "s");
    if (s->config_path) {
        strbuf_adds(out, " &middot; config <code>");
        H(s->config_path);
        strbuf_adds(out, "</code>");
    }
    strbuf_addf(out, " &middot; refreshes every %d s<br>",
                HTML_REFRESH_S);
    /* spaces between the links: a phone may wrap them */
    strbuf_adds(out, "<a href=\"metrics\">/metrics</a> "
                     "<a href=\"api/v1/alerts\">/api/v1/alerts</a> "
                     "<a href=\"api/v1/rules\">/api/v1/rules</a> "
                     "<a href=\"api/v1/status\">/api/v1/status</a> "
                     "<a href=\"api/v1/silences\">/api/v1/silences</a>"
                     "</footer>\n</body></html>\n");
}

