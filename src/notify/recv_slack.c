/*
 * recv_slack.c - the `slack` receiver type: a Block Kit message to an
 * incoming webhook (see recv_slack.h and receiver.h).
 */
#include "notify/recv_slack.h"

#include <ctype.h>
#include <math.h>
#include <string.h>

#include "config/receiver_type.h"
#include "config/secrets.h"
#include "config/section.h"
#include "core/json.h"
#include "engine/template.h"
#include "notify/render.h"

/* URLs longer than this are left out of links rather than cut. */
#define LINK_URL_MAX 1000
/* Longest error token Slack answers with. */
#define TOKEN_MAX 64

/* ---- configuration --------------------------------------------------------- */

static const struct opt_spec slack_opts[] = {
    { "timeout", OPT_STR },
    { "max_connections", OPT_STR },
    SECRET_OPTS("url"),
    OPT_END
};

static void load_slack(const struct cfg_section *s, struct receiver_cfg *r)
{
    secret_require(s, "url", true, &r->url);
    section_check_secret_url(s, r->url);
}

/* ---- mrkdwn ------------------------------------------------------------------ */

static void mrkdwn_escape(struct strbuf *sb, const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        switch (s[i]) {
        case '&': strbuf_adds(sb, "&amp;"); break;
        case '<': strbuf_adds(sb, "&lt;"); break;
        case '>': strbuf_adds(sb, "&gt;"); break;
        default: strbuf_addc(sb, s[i]);
        }
    }
}

/* Escaped mrkdwn cut to max bytes without splitting an "&amp;" entity. */
static void add_mrkdwn_trunc(struct strbuf *out, const char *mrkdwn, size_t len,
                             size_t max)
{
    size_t ell = strlen(RENDER_ELLIPSIS);
    if (len <= max) {
        strbuf_add(out, mrkdwn, len);
        return;
    }
    size_t keep = render_utf8_cut(mrkdwn, len, max - ell);
    for (size_t i = keep; i > 0 && keep - i < 5; i--) {
        if (mrkdwn[i - 1] == ';')
            break;
        if (mrkdwn[i - 1] == '&') {
            keep = i - 1;
            break;
        }
    }
    strbuf_add(out, mrkdwn, keep);
    strbuf_adds(out, RENDER_ELLIPSIS);
}

/* A URL inside <url|label>: '|' and '>' would end it early. */
static void add_slack_url(struct strbuf *sb, const char *url)
{
    for (const char *p = url; *p; p++) {
        switch (*p) {
        case '|': strbuf_adds(sb, "%7C"); break;
        case '<': strbuf_adds(sb, "%3C"); break;
        case '>': strbuf_adds(sb, "%3E"); break;
        case '&': strbuf_adds(sb, "&amp;"); break;
        default:
            if ((unsigned char)*p >= 0x20)
                strbuf_addc(sb, *p);
        }
    }
}

/* ---- blocks ------------------------------------------------------------------ */

static const char *slack_color(const struct notification *n)
{
    if (notification_count(n, "firing") == 0)
        return "#2ca02c";
    const char *sev = notification_severity(n);
    if (streq(sev, "warning"))
        return "#ff9f0a";
    if (streq(sev, "info"))
        return "#1f77b4";
    return "#d62728";
}

static void slack_field(struct strbuf *sb, const char *title, const char *value)
{
    struct strbuf t = STRBUF_INIT, f = STRBUF_INIT;
    strbuf_addf(&t, "*%s*\n", title);
    mrkdwn_escape(&t, value, strlen(value));
    add_mrkdwn_trunc(&f, t.buf, t.len, SLACK_FIELD_MAX);
    jw_open(sb, NULL, '{');
    jw_str(sb, "type", "mrkdwn");
    jw_str(sb, "text", strbuf_str(&f));
    jw_close(sb, '}');
    strbuf_free(&t);
    strbuf_free(&f);
}

static void slack_context_block(struct strbuf *sb, const char *text)
{
    jw_open(sb, NULL, '{');
    jw_str(sb, "type", "context");
    jw_open(sb, "elements", '[');
    jw_open(sb, NULL, '{');
    jw_str(sb, "type", "mrkdwn");
    jw_str(sb, "text", text);
    jw_close(sb, '}');
    jw_close(sb, ']');
    jw_close(sb, '}');
}

/* Default section text: bold summary (or rule), description, runbook. */
static void slack_default_text(const struct notify_alert *a,
                               struct strbuf *text)
{
    struct strbuf body = STRBUF_INIT, link = STRBUF_INIT;
    if (!render_is_firing(a))
        strbuf_adds(&body, "*Resolved:* ");
    const char *head = render_has_text(a->summary) ? a->summary
                                                   : render_nz(a->rule);
    strbuf_addc(&body, '*');
    mrkdwn_escape(&body, head, strlen(head));
    strbuf_addc(&body, '*');
    if (render_has_text(a->description)) {
        strbuf_addc(&body, '\n');
        mrkdwn_escape(&body, a->description, strlen(a->description));
    }
    /* The link goes last and is never cut: reserve its room first. */
    if (render_has_text(a->runbook_url) &&
        strlen(a->runbook_url) < LINK_URL_MAX) {
        strbuf_adds(&link, "\n<");
        add_slack_url(&link, a->runbook_url);
        strbuf_adds(&link, "|Runbook>");
    }
    add_mrkdwn_trunc(text, strbuf_str(&body), body.len,
                     SLACK_SECTION_MAX - link.len);
    strbuf_add(text, strbuf_str(&link), link.len);
    strbuf_free(&body);
    strbuf_free(&link);
}

static void slack_section(struct strbuf *sb, const struct notification *n,
                          const struct notify_alert *a,
                          const struct template *body_tpl,
                          const struct receiver_cfg *r)
{
    struct strbuf text = STRBUF_INIT;
    if (r && r->body) {
        struct strbuf raw = STRBUF_INIT;
        render_alert_template(body_tpl, r->body, n, a, mrkdwn_escape, &raw);
        add_mrkdwn_trunc(&text, strbuf_str(&raw), raw.len, SLACK_SECTION_MAX);
        strbuf_free(&raw);
    }
    if (text.len == 0)      /* no template, or it rendered nothing */
        slack_default_text(a, &text);

    jw_open(sb, NULL, '{');
    jw_str(sb, "type", "section");
    jw_open(sb, "text", '{');
    jw_str(sb, "type", "mrkdwn");
    jw_str(sb, "text", strbuf_str(&text));
    jw_close(sb, '}');
    jw_open(sb, "fields", '[');
    static const char *const keys[] = { "source", "destination", "workspace" };
    static const char *const titles[] = { "Source", "Destination",
                                          "Workspace" };
    for (size_t i = 0; i < ARRAY_SIZE(keys); i++) {
        const char *v = kv_array_get(a->labels, a->nlabels, keys[i]);
        if (render_has_text(v))
            slack_field(sb, titles[i], v);
    }
    if (!isnan(a->value)) {
        struct strbuf v = STRBUF_INIT;
        template_format_number(a->value, &v);
        slack_field(sb, "Value", strbuf_str(&v));
        strbuf_free(&v);
    }
    slack_field(sb, "Severity",
                render_has_text(a->severity) ? a->severity : "critical");
    jw_close(sb, ']');
    jw_close(sb, '}');
    strbuf_free(&text);
}

/* ---- the message ------------------------------------------------------------- */

void recv_slack_payload(const struct notification *n,
                        const struct receiver_cfg *r, struct strbuf *out)
{
    struct strbuf title = STRBUF_INIT, tmp = STRBUF_INIT, hdr = STRBUF_INIT;
    render_title(n, r, &title);
    /* Header is plain_text: one line, no escaping. */
    struct strbuf line = STRBUF_INIT;
    render_add_oneline(&line, strbuf_str(&title));
    render_add_trunc(&hdr, strbuf_str(&line), line.len, SLACK_HEADER_MAX);

    /* "text" is the notification/fallback text: title — lead summary. */
    const struct notify_alert *lead = render_lead_alert(n);
    mrkdwn_escape(&tmp, strbuf_str(&line), line.len);
    if (lead && render_has_text(lead->summary) && !(r && r->subject)) {
        strbuf_adds(&tmp, " \xe2\x80\x94 ");
        mrkdwn_escape(&tmp, lead->summary, strlen(lead->summary));
    }
    strbuf_addc(out, '{');      /* a root: never after a comma */
    {
        struct strbuf fb = STRBUF_INIT;
        add_mrkdwn_trunc(&fb, strbuf_str(&tmp), tmp.len, SLACK_TEXT_MAX);
        jw_str(out, "text", strbuf_str(&fb));
        strbuf_free(&fb);
    }
    jw_open(out, "blocks", '[');
    jw_open(out, NULL, '{');
    jw_str(out, "type", "header");
    jw_open(out, "text", '{');
    jw_str(out, "type", "plain_text");
    jw_str(out, "text", strbuf_str(&hdr));
    jw_bool(out, "emoji", true);
    jw_close(out, '}');
    jw_close(out, '}');
    jw_close(out, ']');

    jw_open(out, "attachments", '[');
    jw_open(out, NULL, '{');
    jw_str(out, "color", slack_color(n));
    jw_open(out, "blocks", '[');
    struct template *body_tpl = r ? render_compile(r->body) : NULL;
    size_t shown = n->nalerts;
    if (shown > SLACK_MAX_ALERTS)
        shown = SLACK_MAX_ALERTS;
    for (size_t i = 0; i < shown; i++)
        slack_section(out, n, &n->alerts[i], body_tpl, r);
    template_free(body_tpl);
    if (n->nalerts > shown) {
        strbuf_reset(&tmp);
        strbuf_addf(&tmp, RENDER_ELLIPSIS "and %zu more", n->nalerts - shown);
        slack_context_block(out, strbuf_str(&tmp));
    }
    strbuf_reset(&tmp);
    strbuf_addf(&tmp, "Reason: *%s*", notify_reason_name(n->reason));
    if (render_has_text(n->external_url) &&
        strlen(n->external_url) < LINK_URL_MAX) {
        strbuf_adds(&tmp, " | <");
        add_slack_url(&tmp, n->external_url);
        strbuf_adds(&tmp, "|Status page>");
    }
    slack_context_block(out, strbuf_str(&tmp));
    jw_close(out, ']');
    jw_close(out, '}');
    jw_close(out, ']');
    jw_close(out, '}');

    strbuf_free(&title);
    strbuf_free(&tmp);
    strbuf_free(&hdr);
    strbuf_free(&line);
}

static void slack_build(const struct receiver_cfg *rc,
                        const struct notification *n, double now,
                        double resend_s, struct strbuf *out)
{
    UNUSED(now);
    UNUSED(resend_s);
    recv_slack_payload(n, rc, out);
}

/* ---- answers ------------------------------------------------------------------ */

/* Slack answers errors with a bare token such as "channel_not_found". */
static bool slack_token(const char *body, size_t len, char *tok, size_t cap)
{
    if (!body)
        return false;
    while (len && isspace((unsigned char)body[len - 1]))
        len--;
    while (len && isspace((unsigned char)*body)) {
        body++;
        len--;
    }
    if (len == 0 || len >= cap || len > TOKEN_MAX)
        return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)body[i];
        if (!(islower(c) || isdigit(c) || c == '_'))
            return false;
    }
    memcpy(tok, body, len);
    tok[len] = '\0';
    return true;
}

void recv_slack_classify(long status, int curl_code, const char *body,
                         size_t len, const char *retry_after_header,
                         double now, struct delivery_verdict *out)
{
    http_verdict_classify(status, curl_code, body, len, retry_after_header,
                          now, out);
    if (curl_code != 0)
        return;
    if (!body)
        len = 0;
    char tok[TOKEN_MAX + 8];
    bool has_tok = slack_token(body, len, tok, sizeof(tok));
    if (status >= 200 && status < 300 && !(has_tok && streq(tok, "ok"))) {
        /* Not Slack's confirmation (a proxy page?): unknown whether it was
         * posted, so at-least-once says try again. */
        struct strbuf ex = STRBUF_INIT;
        http_verdict_excerpt(body, len, &ex);
        out->outcome = DELIVERY_RETRY;
        http_verdict_reason(out, "HTTP %ld without Slack's \"ok\": %s", status,
                            ex.buf);
        out->retry_after_s = http_verdict_retry_after(retry_after_header, now);
        strbuf_free(&ex);
    } else if (out->outcome == DELIVERY_PERMANENT && status >= 400 &&
               status < 500 && has_tok) {
        http_verdict_reason(out, "%s", tok);
    }
}

const struct receiver_ops recv_slack = {
    .def = { "slack", slack_opts, load_slack, NULL },
    .delivery = RECEIVER_HTTP,
    .build = slack_build,
    .classify = recv_slack_classify,
};
