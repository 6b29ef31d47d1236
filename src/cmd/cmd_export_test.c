/*
 * cmd_export_test.c - `segalert export-test [-c FILE] NAME`: send one
 * batch through an export section now - one gauge, <prefix>export_test =
 * 1, with the exporter's name and the configured tags - and report
 * exactly what the intake answered (the request, its status and body,
 * and whether segalert would retry).  Like notify-test for receivers.
 *
 * The batch goes through the same exporter code as the daemon's (the
 * intake's encoding, gzip, headers, timeout), but with the cursor in
 * memory: nothing in state_dir is touched, and a running daemon is not
 * disturbed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/http.h"
#include "cmd/cli.h"
#include "core/clock.h"
#include "core/log.h"
#include "engine/labels.h"
#include "export/exporter.h"
#include "export/names.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: segalert export-test [-c FILE] NAME\n"
            "\n"
            "Send one batch (the gauge <prefix>export_test = 1, labelled with\n"
            "exporter=NAME and the section's tags) through the export section\n"
            "NAME now, and print what the intake answered.  Exit 0 when it\n"
            "accepted the batch, 1 when not.\n");
}

static void no_such_export(const struct config *cfg, const char *name)
{
    fprintf(stderr, "segalert export-test: no export section named \"%s\" in "
            "%s", name, cfg->path);
    for (size_t i = 0; i < cfg->nexports; i++)
        fprintf(stderr, "%s\"%s\"", i ? ", " : " (exports: ",
                cfg->exports[i].name);
    fprintf(stderr, "%s\n", cfg->nexports ? ")" : "");
}

int cmd_export_test(int argc, char **argv)
{
    struct cli_common common = { 0 };
    int first;
    int prc = cli_parse(argc, argv, &common, NULL, 0, NULL, usage, 1, 1,
                        &first);
    if (prc >= 0)
        return prc;
    const char *name = argv[first];
    /* SEGALERT_CLOCK: the point is stamped on the clock `segalert run`
     * reads (a test's scaled clock), as the daemon's would be. */
    char err[256];
    const struct clock *clock = clock_from_env(err, sizeof(err));
    if (!clock) {
        fprintf(stderr, "segalert export-test: %s\n", err);
        return 2;
    }
    struct config *cfg = cli_load_config(&common);
    if (!cfg) {
        clock_free(clock);
        return 2;
    }
    const struct export_cfg *xc = config_export(cfg, name);
    if (!xc) {
        no_such_export(cfg, name);
        config_free(cfg);
        clock_free(clock);
        return 2;
    }
    double now = clock_wall(clock);
    struct http_client *http = http_client_new();
    struct http_transport tr = http_client_transport(http);
    struct exporter *x = exporter_new(xc, cfg, &tr, clock, NULL, now);
    struct label_pool *pool = label_pool_new();
    struct labels_builder b;
    labels_builder_init(&b, pool);
    labels_builder_add(&b, "exporter", xc->name);
    struct export_point p = { 0 };
    p.labels = labels_builder_finish(&b);
    labels_builder_free(&b);
    p.metric = EXM_EXPORT_TEST;
    p.t = now;
    p.v = 1;
    exporter_offer_gauges(x, &p, 1, now);
    exporter_flush(x, now);
    /* Bounded by the section's timeout. */
    while (exporter_busy(x))
        http_run(http, 100);

    const struct exporter_answer *a = exporter_last_answer(x);
    int rc = 1;
    printf("export \"%s\" (%s): POST %s\n", xc->name,
           export_type_name(xc->type), a->url[0] ? a->url : "(not sent)");
    if (a->url[0])
        printf("  sent: %zu point (%s%s), %zu bytes%s\n", a->points,
               xc->prefix, export_metric_table[EXM_EXPORT_TEST].name,
               a->bytes, a->gzip ? " gzipped" : "");
    if (!a->done) {
        printf("  NOT sent: %s\n", exporter_name(x));
    } else if (a->curl_code) {
        printf("  no answer: %s\n", a->curl_error[0] ? a->curl_error
                                                    : "transfer failed");
    } else {
        printf("  answer: HTTP %ld%s%s\n", a->status, a->body[0] ? ": " : "",
               a->body);
    }
    if (a->done) {
        if (a->verdict.outcome == DELIVERY_OK && !a->rejected) {
            printf("  accepted\n");
            rc = 0;
        } else {
            printf("  NOT accepted: %s (%s)\n", a->verdict.reason,
                   a->verdict.outcome == DELIVERY_PERMANENT
                       ? "permanent: segalert would drop such a batch"
                       : a->verdict.outcome == DELIVERY_RETRY
                             ? "temporary: segalert would retry with "
                               "back-off"
                             : "partly refused");
        }
    }
    exporter_free(x);
    label_pool_free(pool);
    http_client_free(http);
    config_free(cfg);
    clock_free(clock);
    return rc;
}
