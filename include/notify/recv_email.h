/*
 * recv_email.h - the `email` receiver type (recv_email.c): its settings,
 * the RFC 5322 message it sends through the SMTP worker (smtp.h), and
 * the session that carries it.  The type itself is used through its
 * receiver_ops (receiver.h); what is here is for the tests and tools that
 * look inside.
 *
 * Pure (no I/O, no clock: callers pass `now`); safe on any thread.
 */
#ifndef SEGALERT_RECV_EMAIL_H
#define SEGALERT_RECV_EMAIL_H

#include "config/config.h"
#include "core/kv.h"
#include "core/util.h"
#include "notify/notify.h"
#include "notify/receiver.h"
#include "notify/smtp.h"

/* Alerts a default body describes; then "...and N more alerts". */
#define EMAIL_MAX_ALERTS 100
/* Longest line without CRLF (RFC 5322 2.1.1). */
#define EMAIL_LINE_MAX 998
/* Most bytes of a message body (after the headers): far below what mail
 * servers refuse (10 MB and more), far above any useful alert mail. */
#define EMAIL_BODY_MAX (1024 * 1024)

extern const struct receiver_ops recv_email;

/* What an email receiver reads besides the common options (its
 * receiver_cfg.priv); every string is owned by it. */
struct email_cfg {
    char *smtp_host;
    int smtp_port;                  /* default 25 */
    enum starttls_mode starttls;    /* default try */
    char *tls_ca_file;              /* NULL = the system store */
    char *username;                 /* NULL = no AUTH */
    char *password;                 /* secret */
    char *from;                     /* as written ("Name <a@x>") */
    struct str_list to;
};

/* r's settings, or NULL when r is NULL or not an email receiver. */
const struct email_cfg *recv_email_cfg(const struct receiver_cfg *r);

/*
 * A complete RFC 5322 message (headers, blank line, body), CRLF line ends
 * everywhere, no line longer than 998 bytes, ready for libesmtp:
 *   Date (now, "+0000"), From (from, else "segalert <segalert@DOMAIN>"),
 *   To (to, comma-separated, folded), Subject, Message-ID
 *   <notification id@DOMAIN>, MIME-Version, Content-Type text/plain UTF-8,
 *   Content-Transfer-Encoding: 8bit, Auto-Submitted: auto-generated,
 *   X-Segalert-Reason, X-Segalert-Notification.
 * Every header value has CR and LF removed before use (header injection).
 * The Subject (render_title: r->subject rendered, else the default title)
 * is RFC 2047 B-encoded in UTF-8 encoded-words of at most 75 chars,
 * folded, when it contains a non-ASCII byte.  Body: r->body rendered, or a
 * plain description of every alert; line ends normalised to CRLF, long
 * lines hard-wrapped, and a line consisting of a single "." is sent as
 * ". " so the message stays valid even through a transport that does not
 * dot-stuff (libesmtp does).  The body is at most EMAIL_BODY_MAX bytes:
 * long values are cut with "… [truncated]" (render_fit), then fewer alerts
 * are described, and a template that still writes too much is cut at the
 * end.  The Subject is cut to 600 bytes before encoding, every other
 * header line to 998.  r may be NULL (defaults); message_id_domain
 * NULL = "segalert.invalid".  Appended to out.
 */
void recv_email_message(const struct notification *n,
                        const struct receiver_cfg *r, double now,
                        const char *message_id_domain, struct strbuf *out);

/* Fill t with copies of r's session settings (timeout: r->timeout_s).  The
 * From is reduced to its addr-spec ("A <a@x>" -> "a@x"; kept as written
 * when it has none, for smtp_send_batch() to refuse with its name).  Never
 * fails; no smtp_host gives "localhost".  Clear t with
 * smtp_target_clear(). */
void recv_email_smtp_target(const struct receiver_cfg *r,
                            struct smtp_target *t);

#endif
