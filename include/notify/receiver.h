/*
 * receiver.h - a receiver type as the rest of segalert sees it: one table
 * of operations (struct receiver_ops) per type, and the table of types.
 *
 * Each type lives in ONE file, src/notify/recv_TYPE.c, which defines
 * `const struct receiver_ops recv_TYPE`: its configuration (options,
 * loader, private settings), what it puts on the wire, how that is carried
 * and how the answers are judged.  src/notify/receivers.c lists the types;
 * nothing else in the program knows them by name.  The deliverer
 * (deliver.h) does the transfers for every type by one of three
 * mechanisms; the daemon asks the properties below instead of comparing
 * type names.  docs/notifications.md describes what each type sends.
 *
 * Registration: receivers_register() (main() calls it at start-up; so does
 * every unit test that loads receivers) hands the types' configuration
 * parts to the config module (config/receiver_type.h) and keeps the table
 * for receiver_ops_of().  Register before loading any configuration and
 * before other threads start; the table is read-only afterwards and may
 * be read from any thread.
 *
 * Ownership: the ops are static and never freed; everything a member
 * receives is borrowed for the duration of the call.
 */
#ifndef SEGALERT_RECEIVER_H
#define SEGALERT_RECEIVER_H

#include <stdbool.h>
#include <stddef.h>

#include "config/config.h"
#include "config/receiver_type.h"
#include "core/kv.h"
#include "core/util.h"
#include "notify/http_verdict.h"
#include "notify/notify.h"
#include "notify/smtp.h"

/* How the deliverer carries what build() made. */
enum receiver_delivery {
    /* POST the body (JSON, "Content-Type: application/json", then
     * rc->headers, then http_headers()) to every URL of http_urls(), one
     * request each, with rc->timeout_s; classify() judges each answer */
    RECEIVER_HTTP,
    /* the body is an RFC 5322 message: the SMTP worker thread sends it to
     * smtp()'s server and recipients */
    RECEIVER_SMTP,
    /* handed to write() at once, on the main thread */
    RECEIVER_LOCAL
};

/* Judges one HTTP answer (see http_verdict_classify(), which is the usual
 * value or the first step of a type's own). */
typedef void (*receiver_classify_fn)(long status, int curl_code,
                                     const char *body, size_t len,
                                     const char *retry_after_header,
                                     double now,
                                     struct delivery_verdict *out);

struct receiver_ops {
    /*
     * The configuration side, which the config module reads without
     * knowing this layer: name (the value of `type =`), the options only
     * this type accepts, the loader that reads them into the common
     * fields (url, headers) and/or a private settings struct in rc->priv,
     * and the function that frees that struct.  Contract in
     * config/receiver_type.h.
     */
    struct receiver_type_def def;

    enum receiver_delivery delivery;

    /*
     * Append to out what this type sends for n: the JSON body (HTTP), the
     * complete message (SMTP), the text handed to write() (LOCAL).  now:
     * the time of the attempt (wall clock); resend_s: the period at which
     * the notification is re-sent while firing, for types that deduplicate
     * themselves (0 = not re-sent).  Must never fail and must be
     * deterministic (retries are byte-identical); follows the conventions
     * of render.h.  rc's type is this one.  Required.
     */
    void (*build)(const struct receiver_cfg *rc, const struct notification *n,
                  double now, double resend_s, struct strbuf *out);

    /* ---- RECEIVER_HTTP ---- */

    /* Append to urls (caller-owned) every URL to post the body to.  NULL:
     * rc->url alone.  None at all makes the attempt fail permanently. */
    void (*http_urls)(const struct receiver_cfg *rc, struct str_list *urls);

    /* Append to lines (caller-owned) header lines ("Name: value") sent
     * after the configured ones, for this exact body (signatures); now is
     * the deliverer's wall clock.  NULL: none. */
    void (*http_headers)(const struct receiver_cfg *rc,
                         const struct strbuf *body, double now,
                         struct str_list *lines);

    /* Judge one answer.  NULL: http_verdict_classify. */
    receiver_classify_fn classify;

    /* ---- RECEIVER_SMTP ---- */

    /* Fill t (zeroed by the caller; it owns the copies and clears them
     * with smtp_target_clear) with the server session to use, and point
     * *rcpts at the envelope recipients (borrowed from rc).  Required for
     * RECEIVER_SMTP. */
    void (*smtp)(const struct receiver_cfg *rc, struct smtp_target *t,
                 const struct str_list **rcpts);

    /* ---- RECEIVER_LOCAL ---- */

    /* Deliver body at once; v arrives as DELIVERY_OK with an empty reason:
     * set a failure in it (http_verdict_reason) when there is one.  Runs
     * on the main thread: must not block.  Required for RECEIVER_LOCAL. */
    void (*write)(const struct receiver_cfg *rc, const struct strbuf *body,
                  struct delivery_verdict *v);

    /* ---- properties the rest of the program asks about ---- */

    /* HTTP with several URLs (high-availability peers): the attempt
     * succeeds when any of them accepted it (the others get it again with
     * the next re-send); otherwise the worst failure counts. */
    bool any_url_suffices;

    /* The receiving end groups and deduplicates by itself (Alertmanager):
     * routes to it send at once and re-send every evaluation while firing
     * (README.md "High availability"), so build() gets resend_s. */
    bool dedups_itself;
};

/* Receiver types the program holds at most (built-in and extra). */
#define RECEIVERS_MAX RECEIVER_TYPES_MAX

/*
 * Make the built-in types plus extra[0, nextra) (a test's own, say) the
 * table of receiver types, for the config module too.  Returns 0, or -1
 * with a reason in err (a duplicate name, an option of two kinds, too
 * many types: see config_register_receiver_types); the table is then left
 * as it was.  An ops without build, or without the member its delivery
 * requires, is refused too.
 */
int receivers_register(const struct receiver_ops *const *extra, size_t nextra,
                       char *err, size_t errlen);

/* The ops of rc's type, or NULL when rc is NULL or its type is not one of
 * the registered ops (unknown type, or registered with config only). */
const struct receiver_ops *receiver_ops_of(const struct receiver_cfg *rc);

/* The registered ops named name, or NULL. */
const struct receiver_ops *receiver_ops_find(const char *name);

/* The built-in types, in the order messages list them; NULL-terminated. */
extern const struct receiver_ops *const receivers_builtin[];

#endif
