/*
 * exporter.h - one export section at run time: the bounded queue of
 * points, the cursor of what was queued, the batches sent to the intake
 * and the accounting of it all.  The same code serves every intake type
 * through its table (export/intake.h).
 *
 * Queueing (exporter_offer): a count is queued only when it starts at or
 * after the series' cursor (what this exporter queued before, across
 * restarts: export/cursor.h); the cursor then moves to its end.  Counts
 * that start earlier are skipped and counted ("overlap").  Gauges are
 * always queued.  `buffer` bounds the points held, queued or in a batch
 * waiting for its retry: beyond it the oldest is dropped ("buffer_full"),
 * so an intake that is down for long costs bounded memory and what it
 * gets when it is back is the newest data.  (The points of a request in
 * flight count too, but cannot be dropped while it is out: then the
 * queue's oldest go instead.)
 *
 * Sending (exporter_tick), never blocking the loop: every `interval` (or
 * as soon as a whole batch is queued) the queue is drained in batches of
 * batch_size points (the intake's documented batch when not set), each
 * encoded within the intake's byte limits, gzipped when enabled (halved
 * until it fits the intake's wire limit), and POSTed on the daemon's curl
 * multi through the transport; one request at a time per exporter.
 * Before a batch that holds points queued since the cursor was last saved
 * goes out, the cursor is saved (write-ahead: never a repeat after a
 * crash).  Points older than the intake accepts are dropped ("too_old").
 *
 * Answers: 2xx sends the next batch at once while the round lasts; a
 * failure that may pass (a transport error, 408, 429, 5xx - OTLP: 429,
 * 502, 503, 504) keeps the batch and tries it again after a back-off
 * (EXPORT_BACKOFF_MIN_S doubling to EXPORT_BACKOFF_MAX_S, or the intake's
 * Retry-After); 413 halves the batch size and sends the same points again;
 * any other refusal drops the batch (counted "failed") and backs off too,
 * so a wrong key does not spin.  Failures are logged rate-limited, with
 * one line when the intake recovers.
 *
 * Time: `now` is the daemon's clock (scaled in tests) for the interval,
 * the back-off and the ages; request timeouts are real seconds.
 *
 * Ownership: the exporter borrows its export_cfg and config (replace them
 * with exporter_set_config before the old ones are freed), its transport
 * and clock.  A request in flight holds the exporter: free it only when
 * exporter_busy() is false, or after aborting the transport's transfers.
 * Thread safety: none; the main loop only.
 */
#ifndef SEGALERT_EXPORT_EXPORTER_H
#define SEGALERT_EXPORT_EXPORTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "api/http.h"
#include "config/config.h"
#include "core/clock.h"
#include "export/buffer.h"
#include "export/ledger.h"
#include "notify/http_verdict.h"

/* Back-off after a failed request, in seconds of the daemon's clock. */
#define EXPORT_BACKOFF_MIN_S 5.0
#define EXPORT_BACKOFF_MAX_S 300.0
/* Longest last_error kept (bytes, NUL included). */
#define EXPORT_ERROR_MAX 256

/* Why points were not delivered. */
enum export_drop {
    EXPORT_DROP_BUFFER_FULL = 0,    /* the queue was full: oldest dropped */
    EXPORT_DROP_TOO_OLD,            /* older than the intake accepts */
    EXPORT_DROP_OVERLAP,            /* a count overlapping one exported */
    EXPORT_DROP__COUNT
};
const char *export_drop_name(enum export_drop d);   /* "buffer_full"... */

struct exporter_stats {
    const char *name;               /* borrowed from the exporter */
    const char *type;               /* "datadog"... */
    unsigned long long queued;      /* points queued */
    unsigned long long sent;        /* points the intake accepted */
    unsigned long long failed;      /* points the intake refused */
    unsigned long long dropped[EXPORT_DROP__COUNT];
    unsigned long long requests_ok, requests_retried, requests_failed;
    unsigned long long bytes_sent;  /* request bodies as sent */
    unsigned long long bytes_encoded;   /* before compression */
    size_t buffered;                /* points waiting (queue + batch) */
    bool in_flight;
    bool up;                        /* the last request succeeded */
    double lag_s;                   /* age of the oldest point waiting */
    double last_ok;                 /* clock time, 0 = never */
    double last_attempt;
    double next_attempt;            /* when a failed batch goes again; 0 */
    char last_error[EXPORT_ERROR_MAX];  /* "" when none since the last
                                           success */
};

struct exporter;

/* dir: where the cursor file lives (state_dir; NULL = in memory).  now:
 * the clock's time. */
struct exporter *exporter_new(const struct export_cfg *xc,
                              const struct config *cfg,
                              const struct http_transport *tr,
                              const struct clock *clock, const char *dir,
                              double now);
void exporter_free(struct exporter *x);            /* NULL is a no-op */

/* A reload: the same exporter with its section in a new configuration
 * (the queue keeps its points, up to the new buffer size). */
void exporter_set_config(struct exporter *x, const struct export_cfg *xc,
                         const struct config *cfg);
/* Stop using the configuration (the exporter is being retired and only
 * waits for its request in flight). */
void exporter_detach(struct exporter *x);

const char *exporter_name(const struct exporter *x);

/* Queue what a sample means (see above); now: the clock's time. */
void exporter_offer(struct exporter *x, const struct ledger_out *o,
                    double now);
/* Queue gauges that belong to no cursor (alert states). */
void exporter_offer_gauges(struct exporter *x, const struct export_point *p,
                           size_t n, double now);

/* Send what is due; returns the clock time of the next thing to do. */
double exporter_tick(struct exporter *x, double now);
/* Send everything queued now, regardless of the interval and back-off
 * (shutdown, export-test). */
void exporter_flush(struct exporter *x, double now);

bool exporter_busy(const struct exporter *x);      /* a request in flight */
size_t exporter_pending(const struct exporter *x); /* points not yet sent */
void exporter_stats(const struct exporter *x, double now,
                    struct exporter_stats *out);

/* Save the cursor if it changed (shutdown). */
void exporter_save_cursor(struct exporter *x, double now);

/* The outcome of the last finished request (export-test): its status,
 * curl code, verdict and up to 1 KiB of the answer's body. */
struct exporter_answer {
    bool done;
    long status;
    int curl_code;
    char curl_error[256];
    struct delivery_verdict verdict;
    size_t rejected;
    size_t points;                  /* in the request */
    size_t bytes;                   /* of the body as sent */
    bool gzip;
    char url[512];
    char body[1024];
};
const struct exporter_answer *exporter_last_answer(const struct exporter *x);

#endif
