/*
 * test_payload_limits.c - every receiver type stays within the size its
 * service accepts (docs/notifications.md "Size limits") when the API
 * hands it hostile names: a 300 KB destination name in every alert of a
 * group, thousands of alerts, a template that repeats a long value.  The
 * bodies are what the receivers' build() makes from a loaded
 * configuration, so max_body_bytes and its default are covered too.
 * Every body must stay valid (JSON that a strict decoder reads, well-formed
 * UTF-8, RFC 5322 line lengths) and say where it was cut.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "core/utf8.h"
#include "notify/receiver.h"
#include "notify/recv_email.h"
#include "notify/recv_pagerduty.h"
#include "notify/recv_slack.h"
#include "notify/render.h"

#include "receivers_fixture.h"

#define T0 1787227200.0
#define NAME_BYTES (300 * 1024)
#define SLACK_TEXT_LIMIT 40000      /* Slack: top-level text */
#define SLACK_BLOCKS_LIMIT 50       /* Slack: blocks per message */

static const char conf_text[] =
    "state_dir = \"/tmp\"\n"
    "listen = \"\"\n"
    "receiver \"hook\" { type = \"webhook\" url = \"http://127.0.0.1:9/h\" }\n"
    "receiver \"hook8k\" { type = \"webhook\" url = \"http://127.0.0.1:9/h\"\n"
    "  max_body_bytes = 8192 }\n"
    "receiver \"am\" { type = \"alertmanager\" url = \"http://127.0.0.1:9\" }\n"
    "receiver \"am8k\" { type = \"alertmanager\" url = \"http://127.0.0.1:9\"\n"
    "  max_body_bytes = 8192 }\n"
    "receiver \"pd\" { type = \"pagerduty\" routing_key = \"R0utingKey01\" }\n"
    "receiver \"chat\" { type = \"slack\" url = \"http://127.0.0.1:9/s\" }\n"
    "receiver \"mail\" { type = \"email\" smtp_host = \"127.0.0.1\"\n"
    "  from = \"a@example.com\" to = {\"b@example.com\"} }\n"
    "receiver \"tmail\" { type = \"email\" smtp_host = \"127.0.0.1\"\n"
    "  from = \"a@example.com\" to = {\"b@example.com\"}\n"
    "  subject = \"{{destination}}\"\n"
    "  body = \"{{description}}{{description}}{{description}}{{description}}"
    "{{description}}{{description}}{{description}}{{description}}\" }\n"
    "route \"default\" { receiver = \"hook\" }\n";

struct env {
    char dir[64];
    struct config *cfg;
};

static int setup(void **state)
{
    struct env *e = xcalloc(1, sizeof(*e));
    snprintf(e->dir, sizeof(e->dir), "/tmp/segalert-test-limits.XXXXXX");
    fixture_register_receivers(NULL, 0);
    if (fixture_enter_tmpdir(e->dir) != 0)
        return -1;
    struct diag_list dl = DIAG_LIST_INIT;
    e->cfg = fixture_load_text(conf_text, &dl);
    if (dl.nerrors) {
        diag_print(&dl, stderr);
        return -1;
    }
    diag_list_free(&dl);
    *state = e;
    return 0;
}

static int teardown(void **state)
{
    struct env *e = *state;
    config_free(e->cfg);
    int rc = fixture_leave_tmpdir(e->dir);
    free(e);
    return rc;
}

/* A name of about NAME_BYTES: ASCII, 2-byte and 4-byte characters, so a
 * cut lands inside a character unless it is careful. */
static char *long_name(char tag)
{
    struct strbuf sb = STRBUF_INIT;
    strbuf_addf(&sb, "%c-Destination ", tag);
    while (sb.len < NAME_BYTES)
        strbuf_adds(&sb, "Z\xc3\xbcrich \xf0\x9f\x98\x80 ");
    return strbuf_detach(&sb);
}

static void set_label(struct kv *l, const char *k, const char *v)
{
    l->key = xstrdup(k);
    l->value = xstrdup(v);
}

/* nalerts firing alerts, each with its own long destination name in its
 * labels, summary and description; grouped by destination, so the group
 * key and group labels hold a long name too. */
static struct notification *hostile(const char *receiver, size_t nalerts,
                                    bool long_names)
{
    struct notification *n = notification_new();
    n->id = xstrdup("0123456789abcdef-1");
    n->receiver = xstrdup(receiver);
    n->route = xstrdup("default");
    n->reason = NOTIFY_FIRST;
    n->created_at = T0;
    n->external_url = xstrdup("https://segalert.example.com/");
    char *first = long_names ? long_name('A') : xstrdup("short");
    n->group_key = xasprintf("default:{destination=\"%s\"}", first);
    n->ngroup_labels = 1;
    n->group_labels = xcalloc(1, sizeof(struct kv));
    set_label(&n->group_labels[0], "destination", first);
    n->nalerts = nalerts;
    n->alerts = xcalloc(nalerts, sizeof(struct notify_alert));
    for (size_t i = 0; i < nalerts; i++) {
        struct notify_alert *a = &n->alerts[i];
        char *name = long_names ? long_name((char)('A' + i % 26))
                                : xasprintf("dest-%zu", i);
        a->rule = xstrdup("delivery-discard-ratio");
        a->fingerprint = xasprintf("%016zx", i);
        a->severity = xstrdup("critical");
        a->status = xstrdup("firing");
        a->value = 0.05;
        a->summary = xasprintf("%s discards 5%% of events", name);
        a->description = xasprintf("Check %s.\nThen check it again.", name);
        a->starts_at = T0 - 600;
        a->nlabels = 3;
        a->labels = xcalloc(3, sizeof(struct kv));
        set_label(&a->labels[0], "destination", name);
        set_label(&a->labels[1], "rule", "delivery-discard-ratio");
        set_label(&a->labels[2], "workspace", "prod");
        free(name);
    }
    free(first);
    return n;
}

static void build(const struct env *e, const char *receiver,
                  const struct notification *n, struct strbuf *out)
{
    const struct receiver_cfg *rc = config_receiver(e->cfg, receiver);
    assert_non_null(rc);
    const struct receiver_ops *ops = receiver_ops_of(rc);
    assert_non_null(ops);
    ops->build(rc, n, T0, 60, out);
}

/* Valid JSON in well-formed UTF-8, within max bytes. */
static cJSON *valid_json(const struct strbuf *sb, size_t max)
{
    if (sb->len > max)
        fail_msg("body of %zu bytes, limit %zu", sb->len, max);
    assert_true(utf8_valid(sb->buf, sb->len));
    cJSON *j = cJSON_ParseWithLength(sb->buf, sb->len);
    if (!j)
        fail_msg("invalid JSON near: %.60s", cJSON_GetErrorPtr());
    return j;
}

static const char *jstr(const cJSON *o, const char *key)
{
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(m) ? m->valuestring : NULL;
}

/* The value was cut: it starts as the name did and ends with the mark. */
static void assert_cut(const char *v, const char *prefix)
{
    assert_non_null(v);
    if (strncmp(v, prefix, strlen(prefix)) != 0)
        fail_msg("'%.40s' does not start with '%s'", v, prefix);
    size_t ml = strlen(RENDER_TRUNC_MARK), vl = strlen(v);
    if (vl < ml || strcmp(v + vl - ml, RENDER_TRUNC_MARK) != 0)
        fail_msg("'...%s' does not end with the truncation mark",
                 vl > 30 ? v + vl - 30 : v);
}

/* ---- 300 KB names ---------------------------------------------------------- */

static void test_webhook_300k(void **state)
{
    struct env *e = *state;
    struct notification *n = hostile("hook", 5, true);
    struct strbuf sb = STRBUF_INIT;
    build(e, "hook", n, &sb);
    cJSON *j = valid_json(&sb, RENDER_MAX_BODY_DEFAULT);
    const cJSON *alerts = cJSON_GetObjectItem(j, "alerts");
    assert_int_equal(cJSON_GetArraySize(alerts), 5);     /* none left out */
    assert_int_equal(cJSON_GetObjectItem(j, "truncatedAlerts")->valueint, 0);
    const cJSON *a0 = cJSON_GetArrayItem(alerts, 0);
    assert_cut(jstr(cJSON_GetObjectItem(a0, "labels"), "destination"),
               "A-Destination Z\xc3\xbcrich");
    assert_cut(jstr(cJSON_GetObjectItem(a0, "annotations"), "summary"),
               "A-Destination");
    assert_cut(jstr(j, "groupKey"), "default:{destination=\"A-Destination");
    assert_cut(jstr(cJSON_GetObjectItem(j, "groupLabels"), "destination"),
               "A-Destination");
    /* what is not long is whole */
    assert_string_equal(jstr(cJSON_GetObjectItem(a0, "labels"), "workspace"),
                        "prod");
    cJSON_Delete(j);

    /* a smaller max_body_bytes is honoured the same way */
    strbuf_reset(&sb);
    build(e, "hook8k", n, &sb);
    j = valid_json(&sb, 8192);
    cJSON_Delete(j);
    strbuf_free(&sb);
    notification_free(n);
}

static void test_alertmanager_300k(void **state)
{
    struct env *e = *state;
    struct notification *n = hostile("am", 5, true);
    struct strbuf sb = STRBUF_INIT;
    build(e, "am", n, &sb);
    cJSON *j = valid_json(&sb, RENDER_MAX_BODY_DEFAULT);
    assert_int_equal(cJSON_GetArraySize(j), 5);
    const cJSON *a0 = cJSON_GetArrayItem(j, 0);
    assert_cut(jstr(cJSON_GetObjectItem(a0, "labels"), "destination"),
               "A-Destination");
    /* the cut is the same every time: an alert keeps its identity */
    struct strbuf again = STRBUF_INIT;
    build(e, "am", n, &again);
    assert_int_equal(again.len, sb.len);
    assert_memory_equal(again.buf, sb.buf, sb.len);
    cJSON_Delete(j);
    strbuf_reset(&sb);
    build(e, "am8k", n, &sb);
    j = valid_json(&sb, 8192);
    cJSON_Delete(j);
    strbuf_free(&sb);
    strbuf_free(&again);
    notification_free(n);
}

static void test_pagerduty_300k(void **state)
{
    struct env *e = *state;
    struct notification *n = hostile("pd", 5, true);
    struct strbuf sb = STRBUF_INIT;
    build(e, "pd", n, &sb);
    cJSON *j = valid_json(&sb, PAGERDUTY_MAX_BYTES);
    const cJSON *p = cJSON_GetObjectItem(j, "payload");
    assert_true(strlen(jstr(p, "summary")) <= PAGERDUTY_SUMMARY_MAX);
    assert_null(jstr(p, "component"));     /* not common to the alerts */
    const cJSON *firing = cJSON_GetObjectItem(
        cJSON_GetObjectItem(p, "custom_details"), "firing");
    assert_int_equal(cJSON_GetArraySize(firing), 5);
    assert_cut(jstr(cJSON_GetArrayItem(firing, 4), "destination"),
               "E-Destination");
    assert_string_equal(jstr(j, "event_action"), "trigger");
    cJSON_Delete(j);
    notification_free(n);
    /* one alert: its destination is the component */
    n = hostile("pd", 1, true);
    strbuf_reset(&sb);
    build(e, "pd", n, &sb);
    j = valid_json(&sb, PAGERDUTY_MAX_BYTES);
    assert_cut(jstr(cJSON_GetObjectItem(j, "payload"), "component"),
               "A-Destination");
    cJSON_Delete(j);
    strbuf_free(&sb);
    notification_free(n);
}

static void test_slack_300k(void **state)
{
    struct env *e = *state;
    struct notification *n = hostile("chat", 5, true);
    struct strbuf sb = STRBUF_INIT;
    build(e, "chat", n, &sb);
    cJSON *j = valid_json(&sb, RENDER_MAX_BODY_DEFAULT);
    assert_true(strlen(jstr(j, "text")) <= SLACK_TEXT_LIMIT);
    const cJSON *blocks = cJSON_GetObjectItem(j, "blocks");
    const cJSON *hdr = cJSON_GetObjectItem(cJSON_GetArrayItem(blocks, 0),
                                           "text");
    assert_true(strlen(jstr(hdr, "text")) <= SLACK_HEADER_MAX);
    const cJSON *att = cJSON_GetArrayItem(cJSON_GetObjectItem(j,
                                                              "attachments"),
                                          0);
    const cJSON *ab = cJSON_GetObjectItem(att, "blocks");
    assert_true(cJSON_GetArraySize(blocks) + cJSON_GetArraySize(ab) <=
                SLACK_BLOCKS_LIMIT);
    const cJSON *b;
    size_t sections = 0;
    cJSON_ArrayForEach(b, ab) {
        if (!streq(jstr(b, "type"), "section"))
            continue;
        sections++;
        const char *t = jstr(cJSON_GetObjectItem(b, "text"), "text");
        assert_true(strlen(t) <= SLACK_SECTION_MAX);
        const cJSON *f;
        cJSON_ArrayForEach(f, cJSON_GetObjectItem(b, "fields"))
            assert_true(strlen(jstr(f, "text")) <= SLACK_FIELD_MAX);
    }
    assert_int_equal(sections, 5);
    cJSON_Delete(j);
    strbuf_free(&sb);
    notification_free(n);
}

/* The body of an RFC 5322 message: after the first empty line. */
static const char *mail_body(const struct strbuf *sb)
{
    const char *b = strstr(sb->buf, "\r\n\r\n");
    assert_non_null(b);
    return b + 4;
}

static void assert_mail_valid(const struct strbuf *sb)
{
    assert_true(utf8_valid(sb->buf, sb->len));
    size_t body = strlen(mail_body(sb));
    if (body > EMAIL_BODY_MAX)
        fail_msg("mail body of %zu bytes, limit %d", body, EMAIL_BODY_MAX);
    for (const char *l = sb->buf, *end; *l; l = end + 2) {
        end = strstr(l, "\r\n");
        assert_non_null(end);                   /* ends with CRLF */
        assert_true(end - l <= EMAIL_LINE_MAX);
        assert_null(memchr(l, '\n', (size_t)(end - l)));
        assert_null(memchr(l, '\r', (size_t)(end - l)));
    }
}

static void test_email_300k(void **state)
{
    struct env *e = *state;
    struct notification *n = hostile("mail", 5, true);
    struct strbuf sb = STRBUF_INIT;
    build(e, "mail", n, &sb);
    assert_mail_valid(&sb);
    assert_non_null(strstr(mail_body(&sb), "destination = A-Destination"));
    assert_non_null(strstr(mail_body(&sb), RENDER_TRUNC_MARK "\r\n"));
    assert_non_null(strstr(mail_body(&sb), "FIRING: E-Destination"));
    notification_free(n);

    /* a template that writes the long description eight times, and a
     * subject of the long name: the subject is cut and folded, the body
     * cut with a last line saying so */
    n = hostile("tmail", 1, true);
    strbuf_reset(&sb);
    build(e, "tmail", n, &sb);
    assert_mail_valid(&sb);
    assert_non_null(strstr(sb.buf, "\r\nSubject: =?UTF-8?B?"));
    strbuf_free(&sb);
    notification_free(n);
}

/* ---- many alerts ------------------------------------------------------------ */

/* When cutting every value is not enough, alerts are left out - and said
 * so - rather than the body going over. */
static void test_many_alerts(void **state)
{
    struct env *e = *state;
    struct notification *n = hostile("hook8k", 3000, false);
    struct strbuf sb = STRBUF_INIT;
    build(e, "hook8k", n, &sb);
    cJSON *j = valid_json(&sb, 8192);
    int shown = cJSON_GetArraySize(cJSON_GetObjectItem(j, "alerts"));
    int left = cJSON_GetObjectItem(j, "truncatedAlerts")->valueint;
    assert_true(shown > 0 && shown < 3000);
    assert_int_equal(shown + left, 3000);
    cJSON_Delete(j);

    strbuf_reset(&sb);
    build(e, "am8k", n, &sb);
    j = valid_json(&sb, 8192);
    assert_true(cJSON_GetArraySize(j) > 0 && cJSON_GetArraySize(j) < 3000);
    cJSON_Delete(j);

    strbuf_reset(&sb);
    build(e, "pd", n, &sb);
    j = valid_json(&sb, PAGERDUTY_MAX_BYTES);
    cJSON_Delete(j);

    strbuf_reset(&sb);
    build(e, "mail", n, &sb);
    assert_mail_valid(&sb);
    assert_non_null(strstr(sb.buf, "more alerts (see the status page)"));
    strbuf_free(&sb);
    notification_free(n);

    /* 200 alerts with 300 KB names each: still within every limit */
    n = hostile("hook", 200, true);
    strbuf_reset(&sb);
    build(e, "hook", n, &sb);
    j = valid_json(&sb, RENDER_MAX_BODY_DEFAULT);
    cJSON_Delete(j);
    strbuf_reset(&sb);
    build(e, "pd", n, &sb);
    j = valid_json(&sb, PAGERDUTY_MAX_BYTES);
    cJSON_Delete(j);
    strbuf_reset(&sb);
    build(e, "mail", n, &sb);
    assert_mail_valid(&sb);
    strbuf_free(&sb);
    notification_free(n);
}

/* A notification within the limit is what it always was: the limits only
 * act when needed. */
static void test_small_unchanged(void **state)
{
    struct env *e = *state;
    struct notification *n = hostile("hook", 3, false);
    struct strbuf sb = STRBUF_INIT;
    build(e, "hook8k", n, &sb);
    assert_null(strstr(sb.buf, "truncated]"));
    cJSON *j = valid_json(&sb, 8192);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(j, "alerts")), 3);
    cJSON_Delete(j);
    strbuf_free(&sb);
    notification_free(n);
}

/* ---- the option -------------------------------------------------------------- */

static void test_max_body_bytes_option(void **state)
{
    (void)state;
    struct diag_list dl = DIAG_LIST_INIT;
    struct config *cfg = fixture_load_text(
        "state_dir = \"/tmp\"\nlisten = \"\"\n"
        "receiver \"a\" { type = \"webhook\" url = \"http://127.0.0.1:9/\"\n"
        "  max_body_bytes = 100 }\n"
        "receiver \"b\" { type = \"alertmanager\" url = \"http://127.0.0.1:9\"\n"
        "  max_body_bytes = \"1MiB\" }\n"
        "receiver \"c\" { type = \"slack\" url = \"http://127.0.0.1:9/\"\n"
        "  max_body_bytes = 100000 }\n"
        "route \"r\" { receiver = \"a\" }\n", &dl);
    struct strbuf all = STRBUF_INIT;
    for (size_t i = 0; i < dl.n; i++) {
        diag_format(&dl.items[i], &all);
        strbuf_addc(&all, '\n');
    }
    assert_non_null(strstr(all.buf, "max_body_bytes must be between 4096"));
    assert_non_null(strstr(all.buf, "invalid integer '1MiB' for "
                                    "max_body_bytes"));
    assert_non_null(strstr(all.buf, "max_body_bytes is not used by slack "
                                    "receivers"));
    if (dl.nerrors != 2)
        fail_msg("want 2 errors, got:\n%s", all.buf);
    strbuf_free(&all);
    diag_list_free(&dl);
    config_free(cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_webhook_300k, setup, teardown),
        cmocka_unit_test_setup_teardown(test_alertmanager_300k, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_pagerduty_300k, setup, teardown),
        cmocka_unit_test_setup_teardown(test_slack_300k, setup, teardown),
        cmocka_unit_test_setup_teardown(test_email_300k, setup, teardown),
        cmocka_unit_test_setup_teardown(test_many_alerts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_small_unchanged, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_max_body_bytes_option, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
