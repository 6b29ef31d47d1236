/*
 * test_payload.c - receiver payloads: golden files (JSON pretty-printed by
 * cJSON so they can be reviewed; the email byte for byte), validity and
 * key fields of every JSON, e-mail header injection and RFC 2047, Slack
 * limits, HMAC test vector, HTTP result classification.
 *
 * UPDATE_GOLDEN=1 rewrites the files in tests/fixtures/payload instead of
 * comparing: review the diff before committing.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cjson/cJSON.h>
#include <openssl/evp.h>

#include "notify/hmac.h"
#include "notify/http_verdict.h"
#include "notify/receiver.h"
#include "notify/recv_alertmanager.h"
#include "notify/recv_email.h"
#include "notify/recv_log.h"
#include "notify/recv_pagerduty.h"
#include "notify/recv_slack.h"
#include "notify/recv_webhook.h"
#include "notify/render.h"

#include "receivers_fixture.h"

#define T0 1787227200.0     /* 2026-08-20T12:00:00Z */
#define EVIL "x\r\nBcc: evil@example.com"

/* ---- fixtures ---------------------------------------------------------- */

static void set_labels(struct notify_alert *a, const char *const *kv)
{
    size_t n = 0;
    while (kv[2 * n])
        n++;
    a->labels = xcalloc(n, sizeof(*a->labels));
    a->nlabels = n;
    for (size_t i = 0; i < n; i++) {
        a->labels[i].key = xstrdup(kv[2 * i]);
        a->labels[i].value = xstrdup(kv[2 * i + 1]);
    }
}

/* The group "delivery-discard-ratio" in workspace Zürich: Amplitude
 * (critical, runbook) and a Webhooks destination whose source name tries a
 * header injection (warning, no runbook). */
static struct notification *make_group(bool resolved)
{
    struct notification *n = notification_new();
    n->id = xstrdup("3f2a9c0d1e2b4a5c-7");
    n->receiver = xstrdup("team");
    n->route = xstrdup("default");
    n->group_key = xstrdup("default:{rule=\"delivery-discard-ratio\","
                           "workspace=\"Z\xc3\xbcrich\"}");
    static const char *const gl[] = { "rule", "delivery-discard-ratio",
                                      "workspace", "Z\xc3\xbcrich" };
    n->ngroup_labels = 2;
    n->group_labels = xcalloc(2, sizeof(struct kv));
    for (int i = 0; i < 2; i++) {
        n->group_labels[i].key = xstrdup(gl[2 * i]);
        n->group_labels[i].value = xstrdup(gl[2 * i + 1]);
    }
    n->reason = resolved ? NOTIFY_ALL_RESOLVED : NOTIFY_FIRST;
    n->created_at = resolved ? T0 + 1200 : T0;
    n->external_url = xstrdup("https://segalert.example.com/");
    n->nalerts = 2;
    n->alerts = xcalloc(2, sizeof(struct notify_alert));

    struct notify_alert *a = &n->alerts[0];
    static const char *const l0[] = {
        "destination", "Amplitude", "destination_id", "ds_amp1",
        "rule", "delivery-discard-ratio", "source", "web",
        "workspace", "Z\xc3\xbcrich", NULL };
    set_labels(a, l0);
    a->rule = xstrdup("delivery-discard-ratio");
    a->fingerprint = xstrdup("a1b2c3d4e5f60718");
    a->severity = xstrdup("critical");
    a->status = xstrdup(resolved ? "resolved" : "firing");
    a->value = 0.048;
    a->summary = xstrdup("Amplitude discards 4.8% of events from web");
    a->description = xstrdup("4.8% of 48.3k attempted events were discarded "
                             "or expired.\nCheck the destination settings.");
    a->runbook_url = xstrdup("https://runbooks.example.com/segment/discards?a=1&b=2");
    a->starts_at = T0 - 900;
    a->ends_at = resolved ? T0 + 1200 : 0;

    a = &n->alerts[1];
    static const char *const l1[] = {
        "destination", "Webhooks", "destination_id", "ds_hook2",
        "rule", "delivery-discard-ratio", "source", EVIL,
        "workspace", "Z\xc3\xbcrich", NULL };
    set_labels(a, l1);
    a->rule = xstrdup("delivery-discard-ratio");
    a->fingerprint = xstrdup("0f1e2d3c4b5a6978");
    a->severity = xstrdup("warning");
    a->status = xstrdup(resolved ? "resolved" : "firing");
    a->value = 0.021;
    a->summary = xstrdup("Webhooks discards 2.1% of events");
    a->starts_at = T0 - 600;
    a->ends_at = resolved ? T0 + 1200 : 0;
    return n;
}

/* The email settings of make_receiver(&recv_email), reset by each call. */
static struct email_cfg email;

static struct receiver_cfg make_receiver(const struct receiver_ops *ops)
{
    static char *to[] = { "oncall@example.com", "data-team@example.com" };
    struct receiver_cfg r;
    memset(&r, 0, sizeof(r));
    r.name = "team";
    r.type = &ops->def;
    r.send_resolved = true;
    if (ops == &recv_email) {
        memset(&email, 0, sizeof(email));
        email.from = "segalert <alerts@example.com>";
        email.to.items = to;
        email.to.n = 2;
        r.priv = &email;
    }
    return r;
}

/* ---- helpers ----------------------------------------------------------- */

static void golden(const char *name, const char *got)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/payload/%s", FIXTURES_DIR, name);
    if (getenv("UPDATE_GOLDEN")) {
        FILE *f = fopen(path, "wb");
        assert_non_null(f);
        fputs(got, f);
        assert_int_equal(fclose(f), 0);
        return;
    }
    size_t len;
    char *want = read_file(path, 1 << 20, &len);
    if (!want)
        fail_msg("missing golden %s (run with UPDATE_GOLDEN=1)", path);
    if (strcmp(want, got) != 0) {
        print_message("golden %s differs; got:\n%s\n", name, got);
        free(want);
        fail();
    }
    free(want);
}

static cJSON *parse(const struct strbuf *sb)
{
    cJSON *j = cJSON_ParseWithLength(sb->buf, sb->len);
    if (!j)
        fail_msg("invalid JSON near: %.60s", cJSON_GetErrorPtr());
    return j;
}

static void golden_json(const char *name, const struct strbuf *sb)
{
    cJSON *j = parse(sb);
    char *p = cJSON_Print(j);
    struct strbuf g = STRBUF_INIT;
    strbuf_adds(&g, p);
    strbuf_addc(&g, '\n');
    golden(name, g.buf);
    strbuf_free(&g);
    free(p);
    cJSON_Delete(j);
}

static const char *jget(const cJSON *o, const char *path)
{
    /* "a.b.0.c": objects by key, arrays by index. */
    char buf[256];
    snprintf(buf, sizeof(buf), "%s", path);
    const cJSON *cur = o;
    char *save = NULL;
    for (char *tok = strtok_r(buf, ".", &save); tok && cur;
         tok = strtok_r(NULL, ".", &save)) {
        if (cJSON_IsArray(cur))
            cur = cJSON_GetArrayItem(cur, (int)strtol(tok, NULL, 10));
        else
            cur = cJSON_GetObjectItemCaseSensitive(cur, tok);
    }
    return cJSON_IsString(cur) ? cur->valuestring : NULL;
}

static const cJSON *jnode(const cJSON *o, const char *key)
{
    return cJSON_GetObjectItemCaseSensitive(o, key);
}

/* ---- webhook ------------------------------------------------------------ */

static void test_webhook(void **state)
{
    struct notification *n = make_group(false);
    struct strbuf sb = STRBUF_INIT;
    recv_webhook_payload(n, T0, &sb);
    golden_json("webhook-firing.json", &sb);
    cJSON *j = parse(&sb);
    static const char *const order[] = {
        "version", "groupKey", "truncatedAlerts", "status", "receiver",
        "groupLabels", "commonLabels", "commonAnnotations", "externalURL",
        "alerts", "segalert" };
    size_t i = 0;
    for (const cJSON *c = j->child; c; c = c->next, i++)
        assert_string_equal(c->string, order[i]);
    assert_int_equal(i, ARRAY_SIZE(order));
    assert_string_equal(jget(j, "version"), "4");
    assert_string_equal(jget(j, "status"), "firing");
    assert_string_equal(jget(j, "groupKey"), n->group_key);
    assert_string_equal(jget(j, "commonLabels.alertname"), "delivery-discard-ratio");
    assert_string_equal(jget(j, "commonLabels.workspace"), "Z\xc3\xbcrich");
    assert_null(jnode(jnode(j, "commonLabels"), "source"));
    assert_null(jnode(jnode(j, "commonLabels"), "severity"));   /* differs */
    assert_null(jnode(jnode(j, "commonAnnotations"), "summary"));
    assert_int_equal(cJSON_GetArraySize(jnode(j, "alerts")), 2);
    assert_string_equal(jget(j, "alerts.0.endsAt"), "0001-01-01T00:00:00Z");
    assert_string_equal(jget(j, "alerts.0.startsAt"), "2026-08-20T11:45:00Z");
    assert_string_equal(jget(j, "alerts.0.fingerprint"), "a1b2c3d4e5f60718");
    assert_string_equal(jget(j, "alerts.0.labels.severity"), "critical");
    assert_string_equal(jget(j, "alerts.1.labels.source"), EVIL);
    assert_string_equal(jget(j, "alerts.0.annotations.value"), "0.048");
    assert_null(jget(j, "alerts.1.annotations.runbook_url"));
    assert_string_equal(jget(j, "segalert.reason"), "first");
    assert_string_equal(jget(j, "segalert.notificationId"), "3f2a9c0d1e2b4a5c-7");
    /* labels sorted by key */
    const cJSON *labels = jnode(cJSON_GetArrayItem(jnode(j, "alerts"), 0), "labels");
    const char *prev = "";
    for (const cJSON *c = labels->child; c; c = c->next) {
        assert_true(strcmp(prev, c->string) < 0);
        prev = c->string;
    }
    cJSON_Delete(j);
    notification_free(n);

    /* Resolved: endsAt = the alerts' end. */
    n = make_group(true);
    strbuf_reset(&sb);
    recv_webhook_payload(n, T0 + 1300, &sb);
    golden_json("webhook-resolved.json", &sb);
    j = parse(&sb);
    assert_string_equal(jget(j, "status"), "resolved");
    assert_string_equal(jget(j, "alerts.1.endsAt"), "2026-08-20T12:20:00Z");
    assert_string_equal(jget(j, "segalert.reason"), "all_resolved");
    cJSON_Delete(j);
    /* ...or now when the model has no end time. */
    n->alerts[0].ends_at = 0;
    strbuf_reset(&sb);
    recv_webhook_payload(n, T0 + 1300, &sb);
    j = parse(&sb);
    assert_string_equal(jget(j, "alerts.0.endsAt"), "2026-08-20T12:21:40Z");
    cJSON_Delete(j);
    notification_free(n);

    /* Output is appended to what the caller has. */
    n = make_group(false);
    strbuf_reset(&sb);
    strbuf_adds(&sb, "X");
    recv_webhook_payload(n, T0, &sb);
    assert_int_equal(sb.buf[1], '{');
    notification_free(n);
    strbuf_free(&sb);
}

/* ---- slack -------------------------------------------------------------- */

static void test_slack(void **state)
{
    struct notification *n = make_group(false);
    struct receiver_cfg r = make_receiver(&recv_slack);
    struct strbuf sb = STRBUF_INIT;
    recv_slack_payload(n, &r, &sb);
    golden_json("slack-firing.json", &sb);
    cJSON *j = parse(&sb);
    assert_string_equal(jget(j, "text"),
                        "[FIRING:2] delivery-discard-ratio (Z\xc3\xbcrich) "
                        "\xe2\x80\x94 Amplitude discards 4.8% of events from web");
    assert_string_equal(jget(j, "blocks.0.type"), "header");
    assert_string_equal(jget(j, "blocks.0.text.text"),
                        "[FIRING:2] delivery-discard-ratio (Z\xc3\xbcrich)");
    assert_string_equal(jget(j, "attachments.0.color"), "#d62728");
    const char *sec0 = jget(j, "attachments.0.blocks.0.text.text");
    assert_non_null(strstr(sec0, "*Amplitude discards 4.8% of events from web*"));
    assert_non_null(strstr(sec0, "<https://runbooks.example.com/segment/discards"
                                 "?a=1&amp;b=2|Runbook>"));
    assert_string_equal(jget(j, "attachments.0.blocks.0.fields.0.text"),
                        "*Source*\nweb");
    assert_string_equal(jget(j, "attachments.0.blocks.1.fields.0.text"),
                        "*Source*\n" "x\r\nBcc: evil@example.com");
    assert_string_equal(jget(j, "attachments.0.blocks.2.type"), "context");
    assert_string_equal(jget(j, "attachments.0.blocks.2.elements.0.text"),
                        "Reason: *first* | <https://segalert.example.com/|Status page>");
    cJSON_Delete(j);
    notification_free(n);

    /* Resolved: green. Warning only: orange. */
    n = make_group(true);
    strbuf_reset(&sb);
    recv_slack_payload(n, NULL, &sb);
    golden_json("slack-resolved.json", &sb);
    j = parse(&sb);
    assert_string_equal(jget(j, "attachments.0.color"), "#2ca02c");
    assert_string_equal(jget(j, "blocks.0.text.text"),
                        "[RESOLVED] delivery-discard-ratio (Z\xc3\xbcrich)");
    cJSON_Delete(j);
    notification_free(n);

    n = make_group(false);
    free(n->alerts[0].severity);
    n->alerts[0].severity = xstrdup("warning");
    strbuf_reset(&sb);
    recv_slack_payload(n, NULL, &sb);
    j = parse(&sb);
    assert_string_equal(jget(j, "attachments.0.color"), "#ff9f0a");
    cJSON_Delete(j);
    notification_free(n);
    strbuf_free(&sb);
}

static size_t count_blocks(const cJSON *j)
{
    return (size_t)cJSON_GetArraySize(jnode(j, "blocks")) +
           (size_t)cJSON_GetArraySize(jnode(cJSON_GetArrayItem(
               jnode(j, "attachments"), 0), "blocks"));
}

static void test_slack_limits(void **state)
{
    /* 15 alerts, summaries of 5000 bytes with a multi-byte char at the
     * cut, a 400-byte title: everything within Slack's limits. */
    struct notification *n = make_group(false);
    struct notify_alert *old = n->alerts;
    size_t oldn = n->nalerts;
    n->nalerts = 15;
    n->alerts = xcalloc(15, sizeof(*n->alerts));
    char *big = xmalloc(5001);
    for (size_t i = 0; i < 5000; i += 2) {
        big[i] = '\xc3';
        big[i + 1] = '\xbc';
    }
    big[5000] = '\0';
    for (size_t i = 0; i < 15; i++) {
        struct notify_alert *a = &n->alerts[i];
        *a = old[i % 2];
        a->rule = xstrdup(old[i % 2].rule);
        a->fingerprint = xstrdup(old[i % 2].fingerprint);
        a->labels = kv_array_dup(old[i % 2].labels, old[i % 2].nlabels);
        a->severity = xstrdup(old[i % 2].severity);
        a->status = xstrdup("firing");
        a->summary = xstrdup(big);
        a->description = xstrdup(big);
        a->runbook_url = xstrdup(old[0].runbook_url);
    }
    for (size_t i = 0; i < oldn; i++)
        notify_alert_free_fields(&old[i]);
    free(old);

    struct receiver_cfg r = make_receiver(&recv_slack);
    r.subject = "{{summary}}";
    struct strbuf sb = STRBUF_INIT;
    recv_slack_payload(n, &r, &sb);
    cJSON *j = parse(&sb);
    const char *hdr = jget(j, "blocks.0.text.text");
    assert_true(strlen(hdr) <= SLACK_HEADER_MAX);
    assert_true(strlen(hdr) >= SLACK_HEADER_MAX - 4);
    assert_string_equal(hdr + strlen(hdr) - 3, "\xe2\x80\xa6");
    assert_true(strlen(jget(j, "text")) <= SLACK_TEXT_MAX);
    assert_true(count_blocks(j) <= 50);
    const cJSON *ab = jnode(cJSON_GetArrayItem(jnode(j, "attachments"), 0), "blocks");
    assert_int_equal(cJSON_GetArraySize(ab), 12);   /* 10 + more + context */
    for (int i = 0; i < 10; i++) {
        const cJSON *b = cJSON_GetArrayItem(ab, i);
        const char *t = jget(b, "text.text");
        assert_true(strlen(t) <= SLACK_SECTION_MAX);
        /* the runbook link survives the cut */
        assert_non_null(strstr(t, "\xe2\x80\xa6\n<https://runbooks"));
    }
    assert_string_equal(jget(ab, "10.elements.0.text"), "\xe2\x80\xa6" "and 5 more");
    cJSON_Delete(j);
    free(big);
    notification_free(n);
    strbuf_free(&sb);
}

static void test_slack_templates(void **state)
{
    struct notification *n = make_group(false);
    free(n->alerts[0].labels[3].value);     /* source */
    n->alerts[0].labels[3].value = xstrdup("<!channel> & co");
    struct receiver_cfg r = make_receiver(&recv_slack);
    r.subject = "{{rule|upper}} in {{workspace}}: {{firing}} firing";
    r.body = "*{{source}}* at {{value|pct}} ({{severity}}) <{{runbook_url}}|rb>";
    struct strbuf sb = STRBUF_INIT;
    recv_slack_payload(n, &r, &sb);
    cJSON *j = parse(&sb);
    assert_string_equal(jget(j, "blocks.0.text.text"),
                        "DELIVERY-DISCARD-RATIO in Z\xc3\xbcrich: 2 firing");
    /* subject replaces the title; no summary appended to the fallback */
    assert_string_equal(jget(j, "text"),
                        "DELIVERY-DISCARD-RATIO in Z\xc3\xbcrich: 2 firing");
    /* per-alert values, substituted values mrkdwn-escaped */
    assert_string_equal(jget(j, "attachments.0.blocks.0.text.text"),
                        "*&lt;!channel&gt; &amp; co* at 4.8% (critical) "
                        "<https://runbooks.example.com/segment/discards?a=1&amp;b=2|rb>");
    assert_string_equal(jget(j, "attachments.0.blocks.1.text.text"),
                        "*x\r\nBcc: evil@example.com* at 2.1% (warning) <|rb>");
    cJSON_Delete(j);

    /* A template that does not compile is sent as written. */
    r.subject = "{{oops";
    r.body = NULL;
    strbuf_reset(&sb);
    recv_slack_payload(n, &r, &sb);
    j = parse(&sb);
    assert_string_equal(jget(j, "blocks.0.text.text"), "{{oops");
    cJSON_Delete(j);
    /* One that renders blank falls back to the default title. */
    r.subject = "{{nothing}}  ";
    strbuf_reset(&sb);
    recv_slack_payload(n, &r, &sb);
    j = parse(&sb);
    assert_string_equal(jget(j, "blocks.0.text.text"),
                        "[FIRING:2] delivery-discard-ratio (Z\xc3\xbcrich)");
    cJSON_Delete(j);
    notification_free(n);
    strbuf_free(&sb);
}

/* ---- pagerduty ---------------------------------------------------------- */

static void test_pagerduty(void **state)
{
    struct notification *n = make_group(false);
    struct strbuf sb = STRBUF_INIT;
    recv_pagerduty_payload(n, "R0UT1NGKEY0123456789abcdefABCDEF", &sb);
    golden_json("pagerduty-trigger.json", &sb);
    cJSON *j = parse(&sb);
    assert_string_equal(jget(j, "event_action"), "trigger");
    assert_string_equal(jget(j, "payload.severity"), "critical");
    assert_string_equal(jget(j, "payload.source"), "Z\xc3\xbcrich");
    assert_string_equal(jget(j, "payload.group"), "delivery-discard-ratio");
    assert_null(jget(j, "payload.component"));      /* destinations differ */
    assert_string_equal(jget(j, "payload.timestamp"), "2026-08-20T12:00:00Z");
    assert_string_equal(jget(j, "payload.custom_details.reason"), "first");
    assert_string_equal(jget(j, "payload.custom_details.firing.1.source"), EVIL);
    assert_int_equal(cJSON_GetArraySize(jnode(jnode(jnode(j, "payload"),
                                                    "custom_details"), "resolved")), 0);
    assert_string_equal(jget(j, "links.0.href"),
                        "https://runbooks.example.com/segment/discards?a=1&b=2");
    assert_string_equal(jget(j, "links.1.href"), "https://segalert.example.com/");
    assert_string_equal(jget(j, "client"), "segalert");
    char *dedup_fire = xstrdup(jget(j, "dedup_key"));
    assert_true(strlen(dedup_fire) <= 255);
    assert_string_equal(dedup_fire, "segalert:team:default:{rule=\"delivery-discard-"
                                    "ratio\",workspace=\"Z\xc3\xbcrich\"}");
    char key[256];
    recv_pagerduty_dedup_key(n, key);
    assert_string_equal(key, dedup_fire);
    cJSON_Delete(j);
    notification_free(n);

    n = make_group(true);
    strbuf_reset(&sb);
    recv_pagerduty_payload(n, "R0UT1NGKEY0123456789abcdefABCDEF", &sb);
    golden_json("pagerduty-resolve.json", &sb);
    j = parse(&sb);
    assert_string_equal(jget(j, "event_action"), "resolve");
    assert_string_equal(jget(j, "dedup_key"), dedup_fire);
    assert_int_equal(cJSON_GetArraySize(j), 3);
    cJSON_Delete(j);
    free(dedup_fire);

    /* A group key too long for PagerDuty: hashed, stable, 73 chars. */
    free(n->group_key);
    char *longkey = xmalloc(400);
    memset(longkey, 'k', 399);
    longkey[399] = '\0';
    n->group_key = longkey;
    recv_pagerduty_dedup_key(n, key);
    assert_int_equal(strlen(key), 73);
    assert_true(str_has_prefix(key, "segalert-"));
    for (size_t i = 9; i < 73; i++)
        assert_non_null(strchr("0123456789abcdef", key[i]));
    char key2[256];
    free(n->alerts[0].status);
    n->alerts[0].status = xstrdup("firing");    /* trigger of the same group */
    recv_pagerduty_dedup_key(n, key2);
    assert_string_equal(key, key2);
    strbuf_reset(&sb);
    recv_pagerduty_payload(n, NULL, &sb);
    j = parse(&sb);
    assert_string_equal(jget(j, "dedup_key"), key);
    assert_string_equal(jget(j, "routing_key"), "");
    /* only the firing (critical) alert counts for severity */
    assert_string_equal(jget(j, "payload.severity"), "critical");
    assert_string_equal(jget(j, "payload.custom_details.resolved.0.destination"),
                        "Webhooks");
    assert_null(jget(j, "payload.component"));     /* common to all only */
    cJSON_Delete(j);
    notification_free(n);
    strbuf_free(&sb);
}

static void test_pagerduty_severity_and_summary(void **state)
{
    static const char *const cases[][2] = {
        { "critical", "critical" }, { "error", "error" }, { "warning", "warning" },
        { "info", "info" }, { "bogus", "critical" },
    };
    struct strbuf sb = STRBUF_INIT;
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        struct notification *n = make_group(false);
        for (size_t k = 0; k < n->nalerts; k++) {
            free(n->alerts[k].severity);
            n->alerts[k].severity = xstrdup(cases[i][0]);
        }
        strbuf_reset(&sb);
        recv_pagerduty_payload(n, "k", &sb);
        cJSON *j = parse(&sb);
        assert_string_equal(jget(j, "payload.severity"), cases[i][1]);
        cJSON_Delete(j);
        notification_free(n);
    }
    /* Summary capped at 1024 bytes. */
    struct notification *n = make_group(false);
    free(n->alerts[0].summary);
    n->alerts[0].summary = xmalloc(3001);
    memset(n->alerts[0].summary, 's', 3000);
    n->alerts[0].summary[3000] = '\0';
    strbuf_reset(&sb);
    recv_pagerduty_payload(n, "k", &sb);
    cJSON *j = parse(&sb);
    assert_int_equal(strlen(jget(j, "payload.summary")), PAGERDUTY_SUMMARY_MAX);
    cJSON_Delete(j);
    notification_free(n);
    strbuf_free(&sb);
}

/* ---- alertmanager ------------------------------------------------------- */

static void test_alertmanager(void **state)
{
    struct notification *n = make_group(false);
    struct strbuf sb = STRBUF_INIT;
    recv_alertmanager_payload(n, T0, 60, &sb);
    golden_json("alertmanager-firing.json", &sb);
    cJSON *j = parse(&sb);
    assert_true(cJSON_IsArray(j));
    assert_int_equal(cJSON_GetArraySize(j), 2);
    assert_string_equal(jget(j, "0.labels.alertname"), "delivery-discard-ratio");
    assert_string_equal(jget(j, "0.labels.severity"), "critical");
    assert_string_equal(jget(j, "1.labels.severity"), "warning");
    assert_string_equal(jget(j, "0.annotations.summary"),
                        "Amplitude discards 4.8% of events from web");
    assert_string_equal(jget(j, "0.startsAt"), "2026-08-20T11:45:00Z");
    assert_string_equal(jget(j, "0.endsAt"), "2026-08-20T12:04:00Z");  /* +4*60 s */
    assert_string_equal(jget(j, "0.generatorURL"), "https://segalert.example.com/");
    cJSON_Delete(j);

    /* resend 0: no endsAt (AM's resolve_timeout applies). */
    strbuf_reset(&sb);
    recv_alertmanager_payload(n, T0, 0, &sb);
    j = parse(&sb);
    assert_null(jget(j, "0.endsAt"));
    cJSON_Delete(j);

    /* Odd label names become valid ones, empty values are dropped. */
    free(n->alerts[0].labels[1].key);
    n->alerts[0].labels[1].key = xstrdup("destination-id.2");
    free(n->alerts[0].labels[3].value);
    n->alerts[0].labels[3].value = xstrdup("");
    strbuf_reset(&sb);
    recv_alertmanager_payload(n, T0, 60, &sb);
    j = parse(&sb);
    assert_string_equal(jget(j, "0.labels.destination_id_2"), "ds_amp1");
    assert_null(jget(j, "0.labels.source"));
    cJSON_Delete(j);
    notification_free(n);

    n = make_group(true);
    strbuf_reset(&sb);
    recv_alertmanager_payload(n, T0 + 1300, 60, &sb);
    golden_json("alertmanager-resolved.json", &sb);
    j = parse(&sb);
    assert_string_equal(jget(j, "0.endsAt"), "2026-08-20T12:20:00Z");
    assert_string_equal(jget(j, "1.endsAt"), "2026-08-20T12:20:00Z");
    cJSON_Delete(j);
    notification_free(n);
    strbuf_free(&sb);
}

/* ---- email -------------------------------------------------------------- */

/* Every line ends with CRLF, no bare CR or LF, no line over 998 bytes. */
static void assert_crlf_message(const char *m)
{
    size_t col = 0;
    for (const char *p = m; *p; p++) {
        if (*p == '\r') {
            assert_int_equal(p[1], '\n');
            p++;
            col = 0;
            continue;
        }
        assert_true(*p != '\n');
        col++;
        assert_true(col <= 998);
    }
    size_t len = strlen(m);
    assert_true(len >= 2 && m[len - 2] == '\r' && m[len - 1] == '\n');
}

/* Copy of the header section (up to the blank line), unfolded. */
static char *headers_of(const char *m)
{
    const char *end = strstr(m, "\r\n\r\n");
    assert_non_null(end);
    return xstrndup(m, (size_t)(end - m) + 2);
}

static bool header_line_starts(const char *hdrs, const char *prefix)
{
    for (const char *line = hdrs; line && *line;) {
        if (strncasecmp(line, prefix, strlen(prefix)) == 0)
            return true;
        line = strstr(line, "\r\n");
        if (line)
            line += 2;
    }
    return false;
}

/* The unfolded value of a header, or NULL. */
static char *header_value(const char *hdrs, const char *name)
{
    size_t nl = strlen(name);
    for (const char *line = hdrs; *line;) {
        const char *eol = strstr(line, "\r\n");
        if (strncasecmp(line, name, nl) == 0 && line[nl] == ':') {
            struct strbuf v = STRBUF_INIT;
            const char *p = line + nl + 1;
            while (*p == ' ')
                p++;
            strbuf_add(&v, p, (size_t)(eol - p));
            while (eol[2] == ' ' || eol[2] == '\t') {   /* continuation */
                const char *next = strstr(eol + 2, "\r\n");
                strbuf_add(&v, eol + 2, (size_t)(next - eol - 2));
                eol = next;
            }
            return strbuf_detach(&v);
        }
        line = eol + 2;
    }
    return NULL;
}

/* Decode "=?UTF-8?B?...?= =?UTF-8?B?...?=" (whitespace between words
 * ignored, RFC 2047 §6.2); checks each word's length. */
static char *decode_2047(const char *v)
{
    struct strbuf out = STRBUF_INIT;
    const char *p = v;
    while (*p) {
        while (*p == ' ')
            p++;
        if (!*p)
            break;
        assert_true(str_has_prefix(p, "=?UTF-8?B?"));
        const char *end = strstr(p + 10, "?=");
        assert_non_null(end);
        assert_true((size_t)(end + 2 - p) <= 75);
        size_t blen = (size_t)(end - (p + 10));
        unsigned char dec[128];
        assert_true(blen <= 100 && blen % 4 == 0);
        int dl = EVP_DecodeBlock(dec, (const unsigned char *)p + 10, (int)blen);
        assert_true(dl >= 0);
        if (blen >= 1 && p[10 + blen - 1] == '=')
            dl--;
        if (blen >= 2 && p[10 + blen - 2] == '=')
            dl--;
        strbuf_add(&out, dec, (size_t)dl);
        p = end + 2;
    }
    return strbuf_detach(&out);
}

static void test_email(void **state)
{
    struct notification *n = make_group(false);
    struct receiver_cfg r = make_receiver(&recv_email);
    struct strbuf sb = STRBUF_INIT;
    recv_email_message(n, &r, T0 + 5, "example.com", &sb);
    golden("email-firing.eml", sb.buf);
    assert_crlf_message(sb.buf);
    char *h = headers_of(sb.buf);
    char *v = header_value(h, "Date");
    assert_string_equal(v, "Thu, 20 Aug 2026 12:00:05 +0000");
    free(v);
    v = header_value(h, "Message-ID");
    assert_string_equal(v, "<3f2a9c0d1e2b4a5c-7@example.com>");
    free(v);
    v = header_value(h, "To");
    assert_string_equal(v, "oncall@example.com, data-team@example.com");
    free(v);
    v = header_value(h, "Content-Type");
    assert_string_equal(v, "text/plain; charset=UTF-8");
    free(v);
    v = header_value(h, "X-Segalert-Reason");
    assert_string_equal(v, "first");
    free(v);
    /* Non-ASCII subject: encoded, and decodes back. */
    v = header_value(h, "Subject");
    char *dec = decode_2047(v);
    assert_string_equal(dec, "[FIRING:2] delivery-discard-ratio (Z\xc3\xbcrich)");
    free(dec);
    free(v);
    /* The evil source is in the body, on one line, not in the headers. */
    assert_false(header_line_starts(h, "Bcc:"));
    assert_non_null(strstr(sb.buf, "\r\n    source = x  Bcc: evil@example.com\r\n"));
    free(h);
    notification_free(n);

    n = make_group(true);
    strbuf_reset(&sb);
    recv_email_message(n, NULL, T0 + 1300, NULL, &sb);
    golden("email-resolved.eml", sb.buf);
    assert_crlf_message(sb.buf);
    h = headers_of(sb.buf);
    v = header_value(h, "From");
    assert_string_equal(v, "segalert <segalert@segalert.invalid>");
    free(v);
    v = header_value(h, "To");
    assert_string_equal(v, "undisclosed-recipients:;");
    free(v);
    free(h);
    notification_free(n);
    strbuf_free(&sb);
}

static void test_email_header_injection(void **state)
{
    /* The evil source leads the group, so {{source}} renders it. */
    struct notification *n = make_group(false);
    struct notify_alert tmp = n->alerts[0];
    n->alerts[0] = n->alerts[1];
    n->alerts[1] = tmp;
    struct receiver_cfg r = make_receiver(&recv_email);
    static char *to[] = { "ops@example.com\r\nBcc: evil@example.com",
                          "\r\n", "b@example.com" };
    email.to.items = to;
    email.to.n = 3;
    email.from = "segalert\r\nBcc: evil@example.com <alerts@example.com>";
    r.subject = "{{source}} broke\nBcc: evil2@example.com";
    struct strbuf sb = STRBUF_INIT;
    recv_email_message(n, &r, T0, "example.com\r\nBcc: x@y", &sb);
    assert_crlf_message(sb.buf);
    char *h = headers_of(sb.buf);
    assert_false(header_line_starts(h, "Bcc:"));
    assert_false(header_line_starts(h, "Bcc"));
    /* exactly the headers we write, one line each (To fits one line) */
    static const char *const names[] = {
        "Date:", "From:", "To:", "Subject:", "Message-ID:", "MIME-Version:",
        "Content-Type:", "Content-Transfer-Encoding:", "Auto-Submitted:",
        "X-Segalert-Reason:", "X-Segalert-Notification:" };
    const char *line = h;
    for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
        assert_true(str_has_prefix(line, names[i]));
        line = strstr(line, "\r\n") + 2;
    }
    assert_string_equal(line, "");
    char *v = header_value(h, "Subject");
    assert_string_equal(v, "xBcc: evil@example.com brokeBcc: evil2@example.com");
    free(v);
    v = header_value(h, "From");
    assert_string_equal(v, "segalertBcc: evil@example.com <alerts@example.com>");
    free(v);
    v = header_value(h, "To");
    assert_string_equal(v, "ops@example.comBcc: evil@example.com, b@example.com");
    free(v);
    v = header_value(h, "Message-ID");
    assert_string_equal(v, "<3f2a9c0d1e2b4a5c-7@example.com__Bcc__x_y>");
    free(v);
    free(h);
    notification_free(n);
    strbuf_free(&sb);
}

static void test_email_subject_2047(void **state)
{
    struct notification *n = make_group(false);
    struct receiver_cfg r = make_receiver(&recv_email);
    /* 150 "ü" (300 bytes) plus ASCII: several encoded-words. */
    struct strbuf subj = STRBUF_INIT;
    strbuf_adds(&subj, "Gr\xc3\xbc\xc3\x9f" "e ");
    for (int i = 0; i < 150; i++)
        strbuf_adds(&subj, "\xc3\xbc");
    strbuf_adds(&subj, " end");
    r.subject = subj.buf;
    struct strbuf sb = STRBUF_INIT;
    recv_email_message(n, &r, T0, "example.com", &sb);
    assert_crlf_message(sb.buf);
    char *h = headers_of(sb.buf);
    /* every physical Subject line <= 76 columns */
    const char *s = strstr(h, "\r\nSubject: ") + 2;
    for (;;) {
        const char *eol = strstr(s, "\r\n");
        assert_true(eol - s <= 76);
        s = eol + 2;
        if (*s != ' ')
            break;
    }
    char *v = header_value(h, "Subject");
    char *dec = decode_2047(v);
    assert_string_equal(dec, subj.buf);
    free(dec);
    free(v);
    free(h);

    /* ASCII subjects stay plain; "=?" is encoded so readers do not decode. */
    r.subject = "plain {{rule}}";
    strbuf_reset(&sb);
    recv_email_message(n, &r, T0, "example.com", &sb);
    h = headers_of(sb.buf);
    v = header_value(h, "Subject");
    assert_string_equal(v, "plain delivery-discard-ratio");
    free(v);
    free(h);
    r.subject = "=?UTF-8?B?ZXZpbA==?=";
    strbuf_reset(&sb);
    recv_email_message(n, &r, T0, "example.com", &sb);
    h = headers_of(sb.buf);
    v = header_value(h, "Subject");
    dec = decode_2047(v);
    assert_string_equal(dec, "=?UTF-8?B?ZXZpbA==?=");
    free(dec);
    free(v);
    free(h);
    strbuf_free(&subj);
    strbuf_free(&sb);
    notification_free(n);
}

static void test_email_body(void **state)
{
    struct notification *n = make_group(false);
    struct receiver_cfg r = make_receiver(&recv_email);
    struct strbuf body = STRBUF_INIT;
    strbuf_adds(&body, "first {{rule}}\n.\nthird\r\n.\rfifth\r\r\n.");
    strbuf_addc(&body, '\n');
    for (int i = 0; i < 2500; i++)
        strbuf_addc(&body, 'L');
    r.body = body.buf;
    struct strbuf sb = STRBUF_INIT;
    recv_email_message(n, &r, T0, "example.com", &sb);
    assert_crlf_message(sb.buf);
    const char *b = strstr(sb.buf, "\r\n\r\n") + 4;
    assert_true(str_has_prefix(b, "first delivery-discard-ratio\r\n. \r\nthird\r\n"
                                  ". \r\nfifth\r\n\r\n. \r\n"));
    /* no line is exactly "." anywhere: DATA cannot end early */
    assert_null(strstr(sb.buf, "\r\n.\r\n"));
    assert_false(str_has_prefix(sb.buf, ".\r\n"));
    /* the 2500-byte line is hard-wrapped: 998 + 998 + 504 */
    const char *l = strstr(b, "LLLL");
    assert_int_equal(strstr(l, "\r\n") - l, 998);
    notification_free(n);
    strbuf_free(&sb);
    strbuf_free(&body);
}

/* ---- log line, templates ------------------------------------------------- */

static void test_log_line(void **state)
{
    struct notification *n = make_group(false);
    n->receiver[0] = 'T';
    struct strbuf sb = STRBUF_INIT;
    recv_log_line(n, &sb);
    assert_string_equal(sb.buf,
        "notify receiver=Team id=3f2a9c0d1e2b4a5c-7 reason=first status=firing "
        "rule=delivery-discard-ratio alerts=2 firing=2 resolved=0 severity=critical "
        "labels={rule=\"delivery-discard-ratio\",workspace=\"Z\xc3\xbcrich\"} "
        "summary=\"Amplitude discards 4.8% of events from web\"\n");
    notification_free(n);

    /* Hostile values stay on one line. */
    n = make_group(true);
    free(n->receiver);
    n->receiver = xstrdup("con sole");
    free(n->alerts[0].labels[4].value);
    n->alerts[0].labels[4].value = xstrdup(EVIL);
    free(n->alerts[1].labels[4].value);
    n->alerts[1].labels[4].value = xstrdup(EVIL);
    strbuf_reset(&sb);
    recv_log_line(n, &sb);
    assert_string_equal(sb.buf,
        "notify receiver=\"con sole\" id=3f2a9c0d1e2b4a5c-7 reason=all_resolved "
        "status=resolved rule=delivery-discard-ratio alerts=2 firing=0 resolved=2 "
        "severity=critical labels={rule=\"delivery-discard-ratio\","
        "workspace=\"x\\r\\nBcc: evil@example.com\"} "
        "summary=\"Amplitude discards 4.8% of events from web\"\n");
    notification_free(n);
    strbuf_free(&sb);
}

static void test_render_template(void **state)
{
    struct notification *n = make_group(false);
    struct strbuf sb = STRBUF_INIT;
    render_template(
        "{{rule}}|{{severity}}|{{state}}|{{status}}|{{reason}}|{{value|pct}}|"
        "{{summary}}|{{runbook_url}}|{{status_url}}|{{count}}|{{firing}}|"
        "{{resolved}}|{{workspace}}|{{source}}|{{destination}}|{{started_at}}|"
        "{{receiver}}|{{nope}}", n, &sb);
    assert_string_equal(sb.buf,
        "delivery-discard-ratio|critical|firing|firing|first|4.8%|"
        "Amplitude discards 4.8% of events from web|"
        "https://runbooks.example.com/segment/discards?a=1&b=2|"
        "https://segalert.example.com/|2|2|0|Z\xc3\xbcrich|web|Amplitude|"
        "2026-08-20T11:45:00Z|team|");
    /* Mixed group: the firing alert speaks; severity of the firing ones. */
    free(n->alerts[0].status);
    n->alerts[0].status = xstrdup("resolved");
    strbuf_reset(&sb);
    render_template("{{source}} {{severity}} {{firing}}/{{resolved}} {{state}}",
                            n, &sb);
    assert_string_equal(sb.buf, EVIL " warning 1/1 firing");
    strbuf_reset(&sb);
    render_template("{{bad|filter}}", n, &sb);
    assert_string_equal(sb.buf, "{{bad|filter}}");
    strbuf_reset(&sb);
    render_template(NULL, n, &sb);
    assert_string_equal(strbuf_str(&sb), "");
    notification_free(n);
    strbuf_free(&sb);
}

/* ---- HMAC --------------------------------------------------------------- */

static void test_hmac(void **state)
{
    char hex[65];
    /* RFC 4231 test case 2 */
    assert_int_equal(hmac_sha256_hex("Jefe", 4, "what do ya want for nothing?", 28,
                                     hex), 0);
    assert_string_equal(hex, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    /* RFC 4231 test case 1: key 20 x 0x0b, "Hi There" */
    unsigned char key[20];
    memset(key, 0x0b, sizeof(key));
    assert_int_equal(hmac_sha256_hex(key, sizeof(key), "Hi There", 8, hex), 0);
    assert_string_equal(hex, "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");

    /* v1 signs "<t>." + body: Python's hmac.new(b"Jefe",
     * b"1787227200.what do ya want for nothing?", sha256) */
    struct strbuf h = STRBUF_INIT;
    assert_int_equal(recv_webhook_signature("Jefe", "what do ya want for nothing?",
                                               28, T0, &h), 0);
    assert_string_equal(h.buf, "t=1787227200,v1=a75d157cf6d037a44776cd09605149ecef358681c5c3ceb9fcc9fd1e196c4d77");
    /* The timestamp is signed (it used not to be): another time, another
     * MAC; a fraction of a second is dropped. */
    strbuf_reset(&h);
    recv_webhook_signature("Jefe", "what do ya want for nothing?", 28, T0 + 99.7, &h);
    assert_string_equal(h.buf, "t=1787227299,v1=a1eb5b5485552fd74193ab2af995770d1956bda7d7517a525191890ccb29cafa");
    strbuf_free(&h);
}

/* An answer with invalid UTF-8 and terminal escapes is quoted in the
 * reason (logged, shown by notify-test and on the page) as valid UTF-8 on
 * one line, without raw control characters. */
static void test_excerpt_hostile(void **state)
{
    (void)state;
    static const char body[] = "  bad \xff\xc0\xaf \x1b[31mred\x07 \xc2\x9b" "2J\n"
                               "next \xe2\x82";
    struct strbuf ex = STRBUF_INIT;
    http_verdict_excerpt(body, sizeof(body) - 1, &ex);
    assert_string_equal(ex.buf, "bad \xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"
                                "  [31mred   2J next");
    strbuf_free(&ex);
    struct delivery_verdict v;
    memset(&v, 0, sizeof(v));
    http_verdict_classify(400, 0, body, sizeof(body) - 1, NULL, T0, &v);
    for (const unsigned char *p = (const unsigned char *)v.reason; *p; p++)
        assert_true(*p >= 0x20 && *p != 0x7f && *p != 0xff);
    assert_null(strstr(v.reason, "\xc2\x9b"));
}

/* ---- classification ----------------------------------------------------- */

struct ccase {
    const char *t;              /* receiver type */
    long status;
    int curl;
    const char *body;
    const char *retry_after;
    enum delivery_outcome want;
    double want_retry;
    const char *want_reason;    /* prefix */
};

#define OK DELIVERY_OK
#define RETRY DELIVERY_RETRY
#define PERM DELIVERY_PERMANENT
#define HOOK "webhook"
#define SLACK "slack"
#define PD "pagerduty"
#define AM "alertmanager"
#define PD_202_BODY \
    "{\"status\":\"success\",\"message\":\"Event processed\",\"dedup_key\":\"k\"}"
#define PD_400_BODY \
    "{\"status\":\"invalid event\",\"message\":\"Event object is invalid\"," \
    "\"errors\":[\"Length of 'routing_key' is incorrect (should be 32 " \
    "characters)\"]}"
#define AM_400_BODY \
    "{\"code\":400,\"message\":\"start time must be before end time\"}"

/* Classify as the deliverer does: with the registered type's classifier. */
static void classify_as(const char *type, long status, int curl,
                        const char *body, size_t len, const char *retry_after,
                        double now, struct delivery_verdict *v)
{
    const struct receiver_ops *ops = receiver_ops_find(type);
    assert_non_null(ops);
    assert_int_equal(ops->delivery, RECEIVER_HTTP);
    receiver_classify_fn fn = ops->classify ? ops->classify
                                            : http_verdict_classify;
    fn(status, curl, body, len, retry_after, now, v);
}

static void test_classify(void **state)
{
    static const struct ccase cases[] = {
        /* transport */
        { HOOK, 0, 28, NULL, NULL, RETRY, -1,
          "connect/timeout: Timeout was reached (curl 28)" },
        { SLACK, 0, 7, NULL, NULL, RETRY, -1, "connect/timeout: " },
        /* slack */
        { SLACK, 200, 0, "ok", NULL, OK, -1, "HTTP 200" },
        { SLACK, 200, 0, "ok\n", NULL, OK, -1, "HTTP 200" },
        { SLACK, 200, 0, "<html>portal</html>", NULL, RETRY, -1,
          "HTTP 200 without Slack's \"ok\": <html>portal</html>" },
        { SLACK, 200, 0, "", NULL, RETRY, -1,
          "HTTP 200 without Slack's \"ok\": (empty body)" },
        { SLACK, 400, 0, "invalid_payload", NULL, PERM, -1, "invalid_payload" },
        { SLACK, 400, 0, "no_text", NULL, PERM, -1, "no_text" },
        { SLACK, 410, 0, "channel_is_archived", NULL, PERM, -1,
          "channel_is_archived" },
        { SLACK, 404, 0, "channel_not_found", NULL, PERM, -1,
          "channel_not_found" },
        { SLACK, 403, 0, "action_prohibited", NULL, PERM, -1,
          "action_prohibited" },
        { SLACK, 404, 0, "no_service", NULL, PERM, -1, "no_service" },
        { SLACK, 404, 0, "no_team", NULL, PERM, -1, "no_team" },
        { SLACK, 403, 0, "team_disabled", NULL, PERM, -1, "team_disabled" },
        { SLACK, 403, 0, "invalid_token", NULL, PERM, -1, "invalid_token" },
        { SLACK, 400, 0, "Bad <b>request</b>", NULL, PERM, -1,
          "HTTP 400: Bad <b>request</b>" },
        { SLACK, 429, 0, "rate_limited", "30", RETRY, 30, "HTTP 429" },
        { SLACK, 500, 0, "rollup_error", NULL, RETRY, -1,
          "HTTP 500: rollup_error" },
        { SLACK, 408, 0, "", NULL, RETRY, -1, "HTTP 408" },
        /* Retry-After forms and clamping */
        { HOOK, 429, 0, "", "0", RETRY, 1, "HTTP 429" },
        { HOOK, 429, 0, "", "86400", RETRY, 3600, "HTTP 429" },
        { HOOK, 429, 0, "", " 120 ", RETRY, 120, "HTTP 429" },
        { HOOK, 429, 0, "", "Thu, 20 Aug 2026 12:01:30 GMT", RETRY, 90,
          "HTTP 429" },
        { HOOK, 429, 0, "", "Thu, 20 Aug 2026 11:00:00 GMT", RETRY, 1,
          "HTTP 429" },
        { HOOK, 429, 0, "", "soon", RETRY, -1, "HTTP 429" },
        { HOOK, 429, 0, "", "-5", RETRY, -1, "HTTP 429" },
        { HOOK, 503, 0, "down", "10", RETRY, 10, "HTTP 503: down" },
        /* pagerduty */
        { PD, 202, 0, PD_202_BODY, NULL, OK, -1, "HTTP 202" },
        { PD, 200, 0, "", NULL, OK, -1, "HTTP 200" },
        { PD, 400, 0, PD_400_BODY, NULL, PERM, -1,
          "HTTP 400: Event object is invalid: Length of 'routing_key' is "
          "incorrect (should be 32 characters)" },
        { PD, 400, 0, "{\"errors\":[\"a\",\"b\"]}", NULL, PERM, -1,
          "HTTP 400: a; b" },
        { PD, 400, 0, "not json", NULL, PERM, -1, "HTTP 400: not json" },
        { PD, 429, 0, "", NULL, RETRY, -1, "HTTP 429" },
        { PD, 500, 0, "", NULL, RETRY, -1, "HTTP 500: (empty body)" },
        /* alertmanager */
        { AM, 200, 0, "", NULL, OK, -1, "HTTP 200" },
        { AM, 400, 0, AM_400_BODY, NULL, PERM, -1, "HTTP 400: {\"code\":400" },
        { AM, 503, 0, "", NULL, RETRY, -1, "HTTP 503" },
        /* generic webhook */
        { HOOK, 204, 0, NULL, NULL, OK, -1, "HTTP 204" },
        { HOOK, 401, 0, "unauthorized\r\nX: y", NULL, PERM, -1,
          "HTTP 401: unauthorized  X: y" },
        { HOOK, 404, 0, NULL, NULL, PERM, -1, "HTTP 404: (empty body)" },
        { HOOK, 301, 0, "", NULL, PERM, -1, "HTTP 301: redirect" },
        { HOOK, 0, 0, "", NULL, RETRY, -1, "unexpected HTTP status 0" },
        { HOOK, 502, 0, "bad gateway", NULL, RETRY, -1,
          "HTTP 502: bad gateway" },
    };
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        const struct ccase *c = &cases[i];
        struct delivery_verdict v;
        classify_as(c->t, c->status, c->curl, c->body,
                              c->body ? strlen(c->body) : 0, c->retry_after, T0, &v);
        if (v.outcome != c->want || fabs(v.retry_after_s - c->want_retry) > 1e-9 ||
            !str_has_prefix(v.reason, c->want_reason))
            fail_msg("case %zu (%ld): got %s %.0f \"%s\"", i, c->status,
                     delivery_outcome_name(v.outcome), v.retry_after_s, v.reason);
    }

    /* Long bodies: 100 bytes kept, cut on a character boundary. */
    struct strbuf body = STRBUF_INIT;
    for (int i = 0; i < 100; i++)
        strbuf_adds(&body, "\xc3\xa9");
    struct delivery_verdict v;
    classify_as(HOOK, 400, 0, body.buf, body.len, NULL, T0, &v);
    assert_int_equal(v.outcome, DELIVERY_PERMANENT);
    assert_int_equal(strlen(v.reason), strlen("HTTP 400: ") + 100);
    strbuf_reset(&body);
    strbuf_adds(&body, "{\"message\":\"");
    for (int i = 0; i < 100; i++)
        strbuf_adds(&body, "\xe2\x82\xac");
    strbuf_adds(&body, "\"}");
    classify_as(PD, 400, 0, body.buf, body.len, NULL, T0, &v);
    size_t rl = strlen(v.reason);
    assert_true(rl < sizeof(v.reason));
    assert_int_equal((rl - strlen("HTTP 400: ")) % 3, 0);  /* no half char */
    strbuf_free(&body);
    assert_string_equal(delivery_outcome_name(DELIVERY_PERMANENT), "permanent");
}

/* ---- degenerate input ---------------------------------------------------- */

/* Empty notifications and alerts with every optional field NULL still give
 * valid JSON and a valid message (no crash, no NULL dereference). */
static void test_degenerate(void **state)
{
    struct notification *n = notification_new();
    struct strbuf sb = STRBUF_INIT;
    for (int round = 0; round < 2; round++) {
        strbuf_reset(&sb);
        recv_webhook_payload(n, T0, &sb);
        cJSON_Delete(parse(&sb));
        strbuf_reset(&sb);
        recv_slack_payload(n, NULL, &sb);
        cJSON *j = parse(&sb);
        assert_true(strlen(jget(j, "blocks.0.text.text")) > 0);
        cJSON_Delete(j);
        strbuf_reset(&sb);
        recv_pagerduty_payload(n, NULL, &sb);
        cJSON_Delete(parse(&sb));
        strbuf_reset(&sb);
        recv_alertmanager_payload(n, T0, 60, &sb);
        cJSON_Delete(parse(&sb));
        strbuf_reset(&sb);
        recv_email_message(n, NULL, T0, NULL, &sb);
        assert_crlf_message(sb.buf);
        strbuf_reset(&sb);
        recv_log_line(n, &sb);
        assert_int_equal(strchr(sb.buf, '\n') - sb.buf, sb.len - 1);

        /* second round: one alert with nothing but a status, value +Inf,
         * severity info */
        if (round == 1)
            break;
        n->nalerts = 1;
        n->alerts = xcalloc(1, sizeof(*n->alerts));
        n->alerts[0].status = xstrdup("firing");
        n->alerts[0].severity = xstrdup("info");
        n->alerts[0].value = INFINITY;
    }
    strbuf_reset(&sb);
    recv_slack_payload(n, NULL, &sb);
    cJSON *j = parse(&sb);
    assert_string_equal(jget(j, "attachments.0.color"), "#1f77b4");
    cJSON_Delete(j);
    strbuf_reset(&sb);
    recv_pagerduty_payload(n, "k", &sb);
    j = parse(&sb);
    assert_string_equal(jget(j, "payload.custom_details.firing.0.value"), "+Inf");
    assert_string_equal(jget(j, "payload.severity"), "info");
    cJSON_Delete(j);
    notification_free(n);
    strbuf_free(&sb);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_webhook),
        cmocka_unit_test(test_slack),
        cmocka_unit_test(test_slack_limits),
        cmocka_unit_test(test_slack_templates),
        cmocka_unit_test(test_pagerduty),
        cmocka_unit_test(test_pagerduty_severity_and_summary),
        cmocka_unit_test(test_alertmanager),
        cmocka_unit_test(test_email),
        cmocka_unit_test(test_email_header_injection),
        cmocka_unit_test(test_email_subject_2047),
        cmocka_unit_test(test_email_body),
        cmocka_unit_test(test_log_line),
        cmocka_unit_test(test_render_template),
        cmocka_unit_test(test_hmac),
        cmocka_unit_test(test_classify),
        cmocka_unit_test(test_excerpt_hostile),
        cmocka_unit_test(test_degenerate),
    };
    fixture_register_receivers(NULL, 0);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
