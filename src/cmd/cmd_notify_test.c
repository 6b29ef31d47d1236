/*
 * cmd_notify_test.c - `segalert notify-test [-c FILE] RECEIVER`: send one
 * clearly marked test notification through a receiver and report exactly
 * what happened (delivered, or the receiver's answer and whether segalert
 * would retry it).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/cli.h"
#include "config/receiver_type.h"
#include "notify/deliver.h"
#include "api/http.h"
#include "core/log.h"
#include "notify/notify.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: segalert notify-test [-c FILE] RECEIVER\n"
            "\n"
            "Send one test notification (reason \"test\", rule \"segalert-test\",\n"
            "summary \"Test notification from segalert\") through RECEIVER and\n"
            "report the outcome.  Exit 0 when delivered, 1 when not.\n");
}

static struct notification *test_notification(const struct config *cfg,
                                              const struct receiver_cfg *rc,
                                              double now)
{
    struct notification *n = notification_new();
    char id[64];
    snprintf(id, sizeof(id), "segalert-test-%.0f", now);
    n->id = xstrdup(id);
    n->receiver = xstrdup(rc->name);
    n->receiver_type = xstrdup(receiver_type_name(rc->type));
    n->route = xstrdup("notify-test");
    n->group_key = xasprintf("notify-test:{receiver=\"%s\"}", rc->name);
    n->reason = NOTIFY_TEST;
    n->created_at = now;
    n->external_url = xstrdup(cfg->external_url);
    n->ngroup_labels = 1;
    n->group_labels = xcalloc(1, sizeof(struct kv));
    n->group_labels[0].key = xstrdup("rule");
    n->group_labels[0].value = xstrdup("segalert-test");
    n->nalerts = 1;
    n->alerts = xcalloc(1, sizeof(struct notify_alert));
    struct notify_alert *a = &n->alerts[0];
    a->rule = xstrdup("segalert-test");
    a->fingerprint = xasprintf("%016llx", (unsigned long long)hash_str(id));
    a->nlabels = 2;
    a->labels = xcalloc(2, sizeof(struct kv));
    a->labels[0].key = xstrdup("rule");
    a->labels[0].value = xstrdup("segalert-test");
    a->labels[1].key = xstrdup("workspace");
    a->labels[1].value = xstrdup(cfg->nworkspaces ? cfg->workspaces[0].name
                                                  : "test");
    a->severity = xstrdup("info");
    a->status = xstrdup("firing");
    a->value = NAN;
    a->summary = xstrdup("Test notification from segalert");
    a->description = xasprintf("This is a test sent with `segalert notify-test "
                               "%s`. No alert is firing.", rc->name);
    a->starts_at = now;
    return n;
}

struct outcome {
    bool done;
    struct delivery_verdict v;
};

static void on_done(void *ud, const struct delivery_verdict *v)
{
    struct outcome *o = ud;
    o->v = *v;
    o->done = true;
}

int cmd_notify_test(int argc, char **argv)
{
    struct cli_common common = { 0 };
    int first;
    int prc = cli_parse(argc, argv, &common, NULL, 0, NULL, usage, 1, 1, &first);
    if (prc >= 0)
        return prc;
    const char *name = argv[first];
    struct config *cfg = cli_load_config(&common);
    if (!cfg)
        return 2;
    const struct receiver_cfg *rc = config_receiver(cfg, name);
    if (!rc) {
        fprintf(stderr, "segalert notify-test: no receiver named \"%s\" in %s",
                name, cfg->path);
        for (size_t i = 0; i < cfg->nreceivers; i++)
            fprintf(stderr, "%s\"%s\"", i ? ", " : " (receivers: ",
                    cfg->receivers[i].name);
        fprintf(stderr, "%s\n", cfg->nreceivers ? ")" : "");
        config_free(cfg);
        return 2;
    }
    double now = now_wall();
    struct notification *n = test_notification(cfg, rc, now);
    struct http_client *http = http_client_new();
    struct deliverer *dl = deliverer_new(http, NULL, false);
    struct outcome out = { 0 };
    deliverer_send(dl, n, rc, now, 300, on_done, &out);
    /* Bounded by the receiver's timeouts (HTTP) or the SMTP timeouts. */
    while (!out.done) {
        http_run(http, 100);
        deliverer_poll(dl);
    }
    int rc_exit = 0;
    if (out.v.outcome == DELIVERY_OK) {
        printf("receiver \"%s\" (%s): delivered test notification %s\n", name,
               receiver_type_name(rc->type), n->id);
    } else {
        /* The reason quotes the receiver's answer, which may echo what it
         * was sent (a routing key, a URL path holding a token): redacted
         * as a log line would be. */
        struct strbuf reason = STRBUF_INIT;
        log_redact(out.v.reason, &reason);
        printf("receiver \"%s\" (%s): NOT delivered: %s (%s)\n", name,
               receiver_type_name(rc->type), strbuf_str(&reason),
               out.v.outcome == DELIVERY_PERMANENT
                   ? "permanent: segalert would not retry"
                   : "temporary: segalert would retry with back-off");
        strbuf_free(&reason);
        rc_exit = 1;
    }
    deliverer_free(dl);
    http_client_free(http);
    notification_free(n);
    config_free(cfg);
    return rc_exit;
}
