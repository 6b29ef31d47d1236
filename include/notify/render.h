/*
 * render.h - what several receiver types share when they turn a
 * notification into text (docs/notifications.md): UTF-8-safe truncation,
 * the group's lead alert and common labels, the labels and annotations an
 * alert carries on the wire, JSON pieces in the Alertmanager shapes,
 * titles, and the template context of receiver subjects and bodies.
 *
 * Conventions (those of every payload builder, see receiver.h):
 *   - output is APPENDED to `out` (a caller-owned strbuf);
 *   - every argument is borrowed; NULL strings in the notification are
 *     treated as absent;
 *   - nothing fails: hostile values (quotes, control characters, CR/LF,
 *     invalid lengths) are escaped, removed or truncated, never rejected;
 *   - the same input always gives the same bytes (retries are
 *     byte-identical, which keeps signatures and dedup simple).
 *
 * Labels on the wire: an alert's labels plus "severity" (the notification
 * model keeps severity apart) and, for the Alertmanager-shaped payloads,
 * "alertname" = rule, which Alertmanager itself requires by convention and
 * which existing Alertmanager templates group on.
 *
 * Pure: no I/O, no clock, no globals; safe on any thread.
 */
#ifndef SEGALERT_RENDER_H
#define SEGALERT_RENDER_H

#include <stdbool.h>
#include <stddef.h>

#include "config/config.h"
#include "core/util.h"
#include "engine/template.h"
#include "notify/notify.h"

/* "…" (U+2026) in UTF-8: what a cut text ends with. */
#define RENDER_ELLIPSIS "\xe2\x80\xa6"

/* What a field cut to fit a receiver's size limit ends with: visible, so
 * nobody takes the rest for the whole value. */
#define RENDER_TRUNC_MARK RENDER_ELLIPSIS " [truncated]"

/* ---- text ------------------------------------------------------------------ */

/* s, or "" for NULL. */
static inline const char *render_nz(const char *s)
{
    return s ? s : "";
}

/* s is neither NULL nor "". */
static inline bool render_has_text(const char *s)
{
    return s && *s;
}

/* Bytes of the UTF-8 sequence starting with lead byte c (1 for a stray
 * continuation or invalid byte, so a scan always makes progress). */
size_t render_utf8_len(unsigned char c);

/* Length of the longest prefix of s[0..len) of at most max bytes that does
 * not split a UTF-8 sequence. */
size_t render_utf8_cut(const char *s, size_t len, size_t max);

/* Append s[0..len), cut to at most max bytes ending with "…" when longer. */
void render_add_trunc(struct strbuf *out, const char *s, size_t len,
                      size_t max);

/* Append s with CR, LF and other control characters (C0, DEL, C1)
 * replaced by a space: for texts that must stay on one line (titles,
 * labels in a body). */
void render_add_oneline(struct strbuf *out, const char *s);

/* Append s[0..len) made well-formed UTF-8 (U+FFFD), with control
 * characters other than TAB, CR and LF (C0, DEL, C1) as spaces: for
 * multi-line plain text (an email body). */
void render_add_text(struct strbuf *out, const char *s, size_t len);

/* ---- size limits ------------------------------------------------------------ */

/*
 * How much of a notification a builder writes, so that its body stays
 * within what the receiving service accepts (docs/notifications.md "Size
 * limits").  field_cap: the most bytes of one value (a label, an
 * annotation, a summary, the group key...); a longer one is cut at a
 * character boundary and ends with RENDER_TRUNC_MARK, the mark included
 * in the cap.  max_alerts: the most alerts written in full; the others
 * are counted where the format has room for it (truncatedAlerts,
 * "...and N more").
 */
struct render_limits {
    size_t field_cap;           /* RENDER_NO_CAP: values whole */
    size_t max_alerts;          /* RENDER_NO_CAP: every alert */
};
#define RENDER_NO_CAP ((size_t)-1)
/* The smallest field cap render_fit() tries. */
#define RENDER_MIN_FIELD_CAP 64
/* max_body_bytes of the webhook and alertmanager types: its default
 * (1 MiB, what common webhook endpoints and proxies accept) and the least
 * it may be set to (room for a notification whose values are all cut). */
#define RENDER_MAX_BODY_DEFAULT (1024 * 1024)
#define RENDER_MAX_BODY_MIN 4096

/* No limit at all: what a body within its size looks like. */
extern const struct render_limits render_unlimited;

/* Append s (NULL = "") cut to at most cap bytes, RENDER_TRUNC_MARK
 * included, without splitting a character (RENDER_NO_CAP: whole). */
void render_add_capped(struct strbuf *out, const char *s, size_t cap);

/* jw_str(sb, key, v) with v cut to cap. */
void render_json_str_capped(struct strbuf *sb, const char *key,
                            const char *v, size_t cap);

/* Appends to out what one notification looks like under lim. */
typedef void (*render_build_fn)(void *ud, const struct render_limits *lim,
                                struct strbuf *out);

/*
 * Append to out the fullest body build() makes within max_bytes: first
 * with no limit (so a body that fits is what it always was), then with
 * field caps of 64 KiB, 16 KiB, 4 KiB, 1 KiB, 256 and 64 bytes, then with
 * half as many alerts each time (of nalerts, the notification's), down
 * to none.  Deterministic, so a retry
 * sends the same bytes.  When even that is too big (max_bytes smaller
 * than an empty notification), the last, smallest body is kept: an alert
 * too big to send whole goes out cut, never not at all.  max_bytes 0 =
 * no limit.
 */
void render_fit(render_build_fn build, void *ud, size_t nalerts,
                size_t max_bytes, struct strbuf *out);

/* ---- the group ------------------------------------------------------------- */

bool render_is_firing(const struct notify_alert *a);

/* The alert that speaks for the group in titles and templates: the first
 * firing one, else the first; NULL when there is none. */
const struct notify_alert *render_lead_alert(const struct notification *n);

/* The value of label key when every alert has the same (the group label
 * when there are no alerts), else NULL. */
const char *render_common_label(const struct notification *n,
                                const char *key);

/* The rule every alert comes from, else NULL. */
const char *render_common_rule(const struct notification *n);

/* ---- labels and annotations on the wire ------------------------------------ */

struct render_pair {
    const char *key;
    const char *value;
};

/* The labels alert a carries on the wire: its labels, "severity" and,
 * with alertname, "alertname" (= rule) unless a label already has that
 * name.  Sorted by key.  Returns an xmalloc'd array (the caller frees it)
 * of pointers borrowed from a. */
struct render_pair *render_alert_labels(const struct notify_alert *a,
                                        bool alertname, size_t *count);

/* The value of key in p[0..n), or NULL. */
const char *render_pairs_get(const struct render_pair *p, size_t n,
                             const char *key);

/* Sort p[0..n) by key. */
void render_pairs_sort(struct render_pair *p, size_t n);

/* An alert's annotations, sorted by key: description, runbook_url,
 * summary when not empty, and value formatted as templates print numbers
 * (the text lives in the struct). */
struct render_annots {
    struct render_pair p[4];
    size_t n;
    char value[64];
};
void render_alert_annots(const struct notify_alert *a,
                         struct render_annots *an);

/* ---- JSON pieces (core/json.h writer) --------------------------------------- */

/* {"k":"v",...} of p[0..n) in their order, values cut to cap
 * (RENDER_NO_CAP: whole). */
void render_json_pairs(struct strbuf *sb, const char *key,
                       const struct render_pair *p, size_t n, size_t cap);

/* RFC 3339 UTC time, always a string (Alertmanager's timestamps are
 * strings even at the epoch). */
void render_json_time(struct strbuf *sb, const char *key, double t);

/* ---- titles and templates --------------------------------------------------- */

/* "[FIRING:2] rule (workspace)" / "[RESOLVED] rule (workspace)", the
 * Alertmanager default title shape operators already read ("several
 * rules" when they differ; no workspace when they differ). */
void render_default_title(const struct notification *n, struct strbuf *out);

/* The title: r->subject rendered (render_template), or the default title
 * when r is NULL, has no subject or it renders blank.  Never empty. */
void render_title(const struct notification *n, const struct receiver_cfg *r,
                  struct strbuf *out);

/*
 * Render a receiver subject/body template against the notification.
 * Names: "rule", "severity" (notification_severity), "state"/"status"
 * (notification_status), "reason", and "value", "summary", "description",
 * "runbook_url", "started_at", then every label - all of them from the
 * lead alert (its labels include the group's common labels) -
 * "status_url" (external URL), "receiver", and the numbers "count",
 * "firing", "resolved" (alerts in the notification).  A template that
 * does not compile renders as its raw text (`segalert check` reports
 * template errors before we get here); NULL renders nothing.
 */
void render_template(const char *tpl_text, const struct notification *n,
                     struct strbuf *out);

/* render_template() with every substituted string cut to cap bytes
 * (render_add_capped), for bodies with a size limit. */
void render_template_capped(const char *tpl_text,
                            const struct notification *n, size_t cap,
                            struct strbuf *out);

/* tpl_text compiled, or NULL when it is NULL or does not compile (render
 * the raw text then).  Free with template_free(). */
struct template *render_compile(const char *tpl_text);

/* Escapes strings substituted into a template (e.g. Slack's mrkdwn):
 * appends s[0..len) to sb. */
typedef void (*render_escape_fn)(struct strbuf *sb, const char *s,
                                 size_t len);

/*
 * Render t (compiled from raw by render_compile) for ONE alert a of n:
 * the names of render_template, with "severity" and "state" of a itself.
 * escape, when not NULL, applies to every substituted string (not to the
 * template's own text).  t NULL appends raw.
 */
void render_alert_template(const struct template *t, const char *raw,
                           const struct notification *n,
                           const struct notify_alert *a,
                           render_escape_fn escape, struct strbuf *out);

#endif
