/*
 * smtp.h - email delivery over SMTP with libesmtp (README.md "Receivers and routing", email).
 *
 * Two layers:
 *
 *   smtp_send_batch()  blocking: ONE SMTP session delivers a whole batch of
 *                      already formatted messages and reports a result per
 *                      message (delivered / retry later / do not retry).
 *   smtp_worker        one thread that runs smtp_send_batch() for jobs
 *                      queued by the main loop, and hands finished jobs back
 *                      through a pollable fd.  libesmtp is blocking, so the
 *                      main loop never calls it directly
 *                      (docs/design.md "Threads").
 *
 * Messages are formatted by someone else (headers, RFC 2047, CRLF line ends):
 * this module only moves bytes.  libesmtp still checks the headers and adds
 * Date/Message-Id/From only when they are missing.
 *
 * TLS: every session gets its own SSL_CTX (TLS >= 1.2, verified against
 * tls_ca_file or the system store, host name matched against the
 * certificate's DNS names); libesmtp's shared default context is never used
 * (libesmtp 1.1.0 frees it after the first session: use-after-free).
 * After a TLS 1.3 handshake up to 50 ms are spent letting OpenSSL consume
 * the server's session tickets, which would otherwise make libesmtp stall
 * until the timeout (see drain_post_handshake() in smtp.c).
 *
 * Secrets: the password is only handed to libesmtp's SASL callback.  No
 * protocol monitor callback is installed (it would show the AUTH exchange),
 * and no result or error text ever contains the password.
 *
 * Signals: libesmtp writes to sockets that the server may have closed.  The
 * program must ignore SIGPIPE (main.c does; the tests do).  The worker
 * thread additionally blocks every signal, so signal handlers always run in
 * the main thread and a stray SIGPIPE stays pending on the worker instead of
 * killing the process.
 *
 * Known limit: libesmtp's connect() is blocking with no timeout of its own;
 * timeout_s covers every protocol step after the TCP connection is up
 * (greeting, envelope, data), not a SYN that is never answered.
 */
#ifndef SEGALERT_SMTP_H
#define SEGALERT_SMTP_H

#include <stdbool.h>
#include <stddef.h>

/* STARTTLS: never, when the server offers it, or refuse to send without. */
enum starttls_mode { STARTTLS_NO = 0, STARTTLS_TRY, STARTTLS_REQUIRED };

/* What one session needs.  Owns all its strings (smtp_target_clear()). */
struct smtp_target {
    char *host;                 /* name or IPv4 address; no IPv6 literals */
    int port;
    enum starttls_mode starttls;
    char *ca_file;              /* NULL = system default verify paths */
    char *username;             /* NULL = no AUTH */
    char *password;             /* secret; NULL with no AUTH */
    char *from;                 /* envelope sender, bare addr-spec */
    char *helo;                 /* NULL = the local host name */
    double timeout_s;           /* per protocol step, >= 1 s */
};

void smtp_target_copy(struct smtp_target *dst, const struct smtp_target *src);
void smtp_target_clear(struct smtp_target *t);  /* frees, zeroes */
/* Same server, credentials, TLS and sender: batches may share a session. */
bool smtp_target_equal(const struct smtp_target *a,
                       const struct smtp_target *b);

/* Extract the addr-spec of "Name <a@x>" or " a@x " into out.  Returns 0, or
 * -1 when the result is empty, does not fit, or holds CR, LF, '<', '>' or
 * spaces. */
int smtp_addr_spec(const char *in, char *out, size_t outlen);

/* One message of a batch.  Borrowed by smtp_send_batch(). */
struct smtp_message {
    const char *text;           /* complete RFC 5322 message, CRLF line ends */
    size_t len;
    const char *const *rcpts;   /* envelope recipients ("a@x" or "A <a@x>") */
    size_t nrcpts;
};

enum smtp_outcome {
    SMTP_DELIVERED = 0,         /* accepted by the server */
    SMTP_TEMPFAIL,              /* 4xx, not attempted, connection problem:
                                   retry later */
    SMTP_PERMFAIL               /* 5xx, bad address, auth failed: do not
                                   retry */
};

const char *smtp_outcome_name(enum smtp_outcome o);  /* "delivered", ... */

#define SMTP_TEXT_MAX 256

/*
 * Result for one message.  status summarises the recipients: TEMPFAIL if
 * any recipient needs a retry, else PERMFAIL if any was refused, else
 * DELIVERED.  rcpt[i] is the outcome of message rcpts[i]; when a message is
 * partly delivered, retry only the recipients whose outcome is TEMPFAIL
 * (the others already have it or never will).  code/text describe the
 * first failure of the reported class (code 0 = no SMTP reply, e.g. the
 * connection failed); for DELIVERED they hold the server's final reply.
 * rcpt is malloc'd: smtp_result_clear() frees it.
 */
struct smtp_result {
    enum smtp_outcome status;
    int code;
    char text[SMTP_TEXT_MAX];
    enum smtp_outcome *rcpt;    /* nrcpts entries, owned */
    size_t nrcpts;
    size_t ndelivered;          /* recipients with SMTP_DELIVERED */
    bool tls;                   /* the session ran over STARTTLS */
};
void smtp_result_clear(struct smtp_result *r);

/*
 * How failures are classed (the outbox retries TEMPFAIL only):
 *   4xx reply, no reply, connection refused/dropped, timeout    TEMPFAIL
 *   STARTTLS missing while required, certificate not trusted or
 *     not matching (a stripped STARTTLS or an expired cert heals;
 *     nothing is ever sent in clear instead)                     TEMPFAIL
 *   tls_ca_file unreadable                                       TEMPFAIL
 *   5xx reply; 530/535 on MAIL = "authentication failed"         PERMFAIL
 *   invalid host, port, From or recipient address (CR/LF too)    PERMFAIL
 *
 * Deliver msgs[0..n) in one SMTP session to t.  Blocks for at most about
 * (number of protocol steps) x timeout_s.  Always fills results[0..n)
 * (the caller clears each with smtp_result_clear()).  Returns 0 when every
 * message was delivered to every recipient, else -1 with a one-line reason
 * in err (session-level when there is one: "connect localhost:25:
 * Connection refused", "server does not offer STARTTLS", "certificate not
 * trusted: ...", "authentication failed", else the first message failure).
 * Thread-safe as long as t, msgs and results are not shared.
 */
int smtp_send_batch(const struct smtp_target *t,
                    const struct smtp_message *msgs, size_t n,
                    struct smtp_result *results, char *err, size_t errlen);

/* ---- worker thread ---------------------------------------------------- */

/* One message inside a job: owned copies plus the caller's cookie. */
struct smtp_job_msg {
    char *text;
    size_t len;
    char **rcpts;
    size_t nrcpts;
    void *cookie;               /* caller's, never touched or freed here */
    struct smtp_result result;  /* valid once the job is collected */
};

/*
 * A batch for one target.  Build with smtp_job_new() + smtp_job_add(),
 * hand to smtp_worker_submit() (which takes ownership), get it back from
 * smtp_worker_collect() and release with smtp_job_free().  After collect
 * the fields below are the caller's to read.
 */
struct smtp_job {
    struct smtp_target target;
    struct smtp_job_msg *msgs;
    size_t n, cap;
    int rc;                     /* smtp_send_batch() return value */
    char err[SMTP_TEXT_MAX];    /* its err text ("" when rc == 0) */
    double elapsed_s;           /* duration of the session that carried it */
    struct smtp_job *next;      /* queue link, internal */
};

struct smtp_job *smtp_job_new(const struct smtp_target *t);
/* Copy m (text and recipients) into the job, with cookie. */
void smtp_job_add(struct smtp_job *job, const struct smtp_message *m,
                  void *cookie);
void smtp_job_free(struct smtp_job *job);   /* NULL ok; not the cookies */

struct smtp_worker;

/* Start the thread.  Returns NULL (and logs) when the thread or the pipe
 * cannot be created. */
struct smtp_worker *smtp_worker_new(void);

/* Queue a job (takes ownership).  Jobs for an equal target that are queued
 * together may be merged into one session.  Never blocks on the network. */
void smtp_worker_submit(struct smtp_worker *w, struct smtp_job *job);

/* Read end of a non-blocking pipe that becomes readable when finished jobs
 * are waiting.  Poll it for POLLIN, then call smtp_worker_collect(). */
int smtp_worker_fd(const struct smtp_worker *w);

/* Move up to max finished jobs into done[] (caller frees each with
 * smtp_job_free()).  Non-blocking; returns how many.  If more remain, the
 * fd stays readable. */
size_t smtp_worker_collect(struct smtp_worker *w, struct smtp_job **done,
                           size_t max);

/* Jobs submitted and not yet collected (queued, running or finished). */
size_t smtp_worker_outstanding(struct smtp_worker *w);

/* Let the running batch finish, stop and join the thread, then free every
 * job still queued or not collected (they were not sent, or their results
 * are dropped: the outbox keeps its own copy and retries).  NULL ok. */
void smtp_worker_free(struct smtp_worker *w);

#endif
