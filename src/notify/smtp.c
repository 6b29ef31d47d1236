/*
 * smtp.c - email delivery with libesmtp: one blocking session per batch,
 * and a worker thread that runs those sessions off the main loop.
 *
 * libesmtp 1.1.0 traps handled here (see the shared dependency notes):
 *   - each session gets its own SSL_CTX; the library's shared default one
 *     is freed by the first smtp_destroy_session() (use-after-free later);
 *   - smtp_start_session() says nothing about delivery: every message is
 *     judged from its reverse-path, transfer and per-recipient statuses;
 *   - AUTH PLAIN/LOGIN are only offered after auth_set_mechanism_flags();
 *   - RFC minimum timeouts reach 10 minutes unless overridden, and the
 *     value is in milliseconds (the doc comment says seconds; the library
 *     clamps to 1000, and test_smtp pins it);
 *   - no monitor callback: it would print the AUTH exchange (password).
 */
#include <stddef.h>
#include <openssl/ssl.h>
#include <openssl/err.h>
#include <openssl/x509.h>
/* auth-client.h first: libesmtp.h declares smtp_auth_set_context() only
 * when it has been included. */
#include <auth-client.h>
#include <libesmtp.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/poll.h>       /* not <poll.h>: include/poll.h is the poller */
#include <unistd.h>

#include "core/log.h"
#include "notify/smtp.h"
#include "core/util.h"

/* A batch larger than this is split over several sessions by the worker:
 * one slow session should not hold every queued alert hostage. */
#define WORKER_MAX_BATCH 500

/* ---- targets and addresses ------------------------------------------- */

int smtp_addr_spec(const char *in, char *out, size_t outlen)
{
    const char *b, *e, *lt, *gt;
    size_t n;

    if (in == NULL || outlen == 0)
        return -1;
    /* CR/LF anywhere (even outside <>) would let an address inject SMTP
     * commands or headers: refuse the whole thing. */
    if (strpbrk(in, "\r\n") != NULL)
        return -1;
    lt = strrchr(in, '<');
    if (lt != NULL) {
        gt = strchr(lt, '>');
        if (gt == NULL)
            return -1;
        b = lt + 1;
        e = gt;
    } else {
        b = in;
        e = in + strlen(in);
    }
    while (b < e && (*b == ' ' || *b == '\t'))
        b++;
    while (e > b && (e[-1] == ' ' || e[-1] == '\t'))
        e--;
    n = (size_t)(e - b);
    if (n == 0 || n >= outlen)
        return -1;
    for (const char *p = b; p < e; p++) {
        if (*p == '\r' || *p == '\n' || *p == '<' || *p == '>' ||
            *p == ' ' || *p == '\t' || (unsigned char)*p < 0x20)
            return -1;
    }
    memcpy(out, b, n);
    out[n] = '\0';
    return 0;
}

void smtp_target_copy(struct smtp_target *dst, const struct smtp_target *src)
{
    *dst = *src;
    dst->host = xstrdup(src->host);
    dst->ca_file = xstrdup(src->ca_file);
    dst->username = xstrdup(src->username);
    dst->password = xstrdup(src->password);
    dst->from = xstrdup(src->from);
    dst->helo = xstrdup(src->helo);
}

void smtp_target_clear(struct smtp_target *t)
{
    if (t == NULL)
        return;
    free(t->host);
    free(t->ca_file);
    free(t->username);
    if (t->password != NULL) {
        /* Do not leave the secret lying in freed heap memory. */
        volatile char *p = t->password;
        while (*p != '\0')
            *p++ = '\0';
        free(t->password);
    }
    free(t->from);
    free(t->helo);
    memset(t, 0, sizeof(*t));
}

bool smtp_target_equal(const struct smtp_target *a,
                       const struct smtp_target *b)
{
    return streq(a->host, b->host) && a->port == b->port &&
           a->starttls == b->starttls && streq(a->ca_file, b->ca_file) &&
           streq(a->username, b->username) &&
           streq(a->password, b->password) && streq(a->from, b->from) &&
           streq(a->helo, b->helo) && a->timeout_s == b->timeout_s;
}

const char *smtp_outcome_name(enum smtp_outcome o)
{
    switch (o) {
    case SMTP_DELIVERED: return "delivered";
    case SMTP_TEMPFAIL:  return "temporary failure";
    case SMTP_PERMFAIL:  return "permanent failure";
    }
    return "?";
}

void smtp_result_clear(struct smtp_result *r)
{
    if (r == NULL)
        return;
    free(r->rcpt);
    memset(r, 0, sizeof(*r));
}

/* ---- one session ------------------------------------------------------ */

/* State shared with libesmtp's callbacks during one session. */
struct session_state {
    const struct smtp_target *t;
    bool tls_ok;
    char reason[SMTP_TEXT_MAX];     /* first TLS problem, "" if none */
};

static void set_reason(struct session_state *st, const char *fmt, ...)
    PRINTF_LIKE(2, 3);
static void set_reason(struct session_state *st, const char *fmt, ...)
{
    va_list ap;

    if (st->reason[0] != '\0')
        return;
    va_start(ap, fmt);
    vsnprintf(st->reason, sizeof(st->reason), fmt, ap);
    va_end(ap);
}

/*
 * TLS 1.3 servers send NewSessionTicket records right after the handshake.
 * libesmtp 1.1.0 then polls for read+write before flushing EHLO; if the
 * tickets have already arrived it takes the "readable" branch first and
 * blocks reading an EHLO reply it never asked for, until the timeout (seen
 * on loopback in about 1 session in 10).  So, still inside the handshake
 * event, let OpenSSL consume whatever post-handshake records arrive within
 * a short grace period: then the socket is not readable when libesmtp
 * polls.  Only on a non-blocking socket (libesmtp's), so SSL_peek() cannot
 * block; application data (none is expected) is left where it is.
 */
static void drain_post_handshake(SSL *ssl)
{
    int fd = ssl != NULL ? SSL_get_rfd(ssl) : -1;
    int fl = fd >= 0 ? fcntl(fd, F_GETFL) : -1;
    int64_t deadline = now_mono_ms() + 50;
    bool seen = false;

    if (fl < 0 || !(fl & O_NONBLOCK))
        return;
    for (;;) {
        int64_t left = deadline - now_mono_ms();
        struct pollfd pfd = { .fd = fd, .events = POLLIN };
        char c;
        int r;

        if (left <= 0)
            break;
        /* Once tickets came, wait only briefly for the rest of them. */
        if (seen && left > 5)
            left = 5;
        if (poll(&pfd, 1, (int)left) <= 0)
            break;
        r = SSL_peek(ssl, &c, 1);
        if (r > 0 || SSL_get_error(ssl, r) != SSL_ERROR_WANT_READ)
            break;
        seen = true;
    }
    ERR_clear_error();
}

/*
 * Events only record why a session failed; they never accept anything
 * libesmtp would reject (the *ok arguments stay 0, which is the safe
 * default: a bad certificate ends the session).
 */
static void event_cb(smtp_session_t session, int event_no, void *arg, ...)
{
    struct session_state *st = arg;
    va_list ap;

    (void)session;
    va_start(ap, arg);
    switch (event_no) {
    case SMTP_EV_STARTTLS_OK:
        st->tls_ok = true;
        drain_post_handshake(va_arg(ap, SSL *));
        break;
    case SMTP_EV_EXTNA_STARTTLS:
        set_reason(st, "server does not offer STARTTLS (starttls = "
                   "required): nothing sent");
        break;
    case SMTP_EV_INVALID_PEER_CERTIFICATE: {
        long vfy = va_arg(ap, long);
        set_reason(st, "TLS certificate of %s not trusted: %s", st->t->host,
                   X509_verify_cert_error_string(vfy));
        break;
    }
    case SMTP_EV_NO_PEER_CERTIFICATE:
        set_reason(st, "server %s sent no TLS certificate", st->t->host);
        break;
    case SMTP_EV_WRONG_PEER_CERTIFICATE:
        set_reason(st, "TLS certificate does not match host name %s",
                   st->t->host);
        break;
    case SMTP_EV_WEAK_CIPHER:
        set_reason(st, "TLS cipher too weak");
        break;
    case SMTP_EV_NO_CLIENT_CERTIFICATE:
    case SMTP_EV_UNUSABLE_CLIENT_CERTIFICATE:
    case SMTP_EV_UNUSABLE_CA_LIST:
        set_reason(st, "libesmtp: unusable client certificate or CA list "
                   "under ~/.authenticate");
        break;
    default:
        break;
    }
    va_end(ap);
}

/* libesmtp asks for the user name and password here (AUTH PLAIN/LOGIN).
 * The pointers stay valid for the whole session (they live in the target). */
static int auth_interact(auth_client_request_t request, char **result,
                         int fields, void *arg)
{
    const struct smtp_target *t = arg;
    static char empty[] = "";

    for (int i = 0; i < fields; i++) {
        if (request[i].flags & AUTH_USER)
            result[i] = t->username;
        else if (request[i].flags & AUTH_PASS)
            result[i] = t->password;
        else
            result[i] = empty;      /* realm: none */
        if (result[i] == NULL)
            return 0;
    }
    return 1;
}

/* Hands libesmtp the whole message in one piece.  *ctx is allocated with
 * malloc because libesmtp releases it with free(). */
static const char *message_cb(void **ctx, int *len, void *arg)
{
    const struct smtp_message *m = arg;
    int *sent;

    if (*ctx == NULL) {
        *ctx = malloc(sizeof(int));
        if (*ctx == NULL)
            abort();
        *(int *)*ctx = 0;
    }
    sent = *ctx;
    if (len == NULL) {              /* rewind */
        *sent = 0;
        return NULL;
    }
    if (!*sent) {
        *sent = 1;
        *len = (int)m->len;
    } else {
        *len = 0;
    }
    return m->text;
}

/* Copy server text into a one-line field: no control characters, and the
 * password (should a server ever echo it) replaced. */
static void clean_text(char *dst, size_t dstlen, const char *src,
                       const struct smtp_target *t)
{
    size_t j = 0;
    const char *pw = t->password;
    size_t pwlen = pw != NULL ? strlen(pw) : 0;

    if (dstlen == 0)
        return;
    for (size_t i = 0; src != NULL && src[i] != '\0' && j + 1 < dstlen; i++) {
        unsigned char c = (unsigned char)src[i];
        if (pwlen > 0 && strncmp(src + i, pw, pwlen) == 0) {
            const char *red = "<redacted>";
            for (size_t k = 0; red[k] != '\0' && j + 1 < dstlen; k++)
                dst[j++] = red[k];
            i += pwlen - 1;
            continue;
        }
        if (c < 0x20 || c == 0x7f)
            c = ' ';
        if (c == ' ' && (j == 0 || dst[j - 1] == ' '))
            continue;
        dst[j++] = (char)c;
    }
    while (j > 0 && dst[j - 1] == ' ')
        j--;
    dst[j] = '\0';
}

static enum smtp_outcome outcome_of(int code)
{
    if (code >= 200 && code < 300)
        return SMTP_DELIVERED;
    if (code >= 500 && code < 600)
        return SMTP_PERMFAIL;
    return SMTP_TEMPFAIL;           /* 4xx, 0 = not attempted, oddities */
}

static SSL_CTX *make_ssl_ctx(const struct smtp_target *t, char *err,
                             size_t errlen)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());

    if (ctx == NULL) {
        snprintf(err, errlen, "cannot create TLS context");
        return NULL;
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    if (t->ca_file != NULL && t->ca_file[0] != '\0') {
        if (SSL_CTX_load_verify_locations(ctx, t->ca_file, NULL) != 1) {
            snprintf(err, errlen, "cannot load tls_ca_file '%s'",
                     t->ca_file);
            SSL_CTX_free(ctx);
            return NULL;
        }
    } else if (SSL_CTX_set_default_verify_paths(ctx) != 1) {
        snprintf(err, errlen, "cannot load the system CA certificates");
        SSL_CTX_free(ctx);
        return NULL;
    }
    return ctx;
}

static pthread_once_t auth_once = PTHREAD_ONCE_INIT;
static void auth_init(void)
{
    auth_client_init();
}

/* Per-message bookkeeping while the session runs. */
struct msg_slot {
    smtp_message_t m;               /* NULL: not handed to libesmtp */
    smtp_recipient_t *r;            /* per rcpt; NULL = invalid address */
};

static void fail_all(struct smtp_result *res, size_t nrcpts,
                     enum smtp_outcome o, int code, const char *text)
{
    res->status = o;
    res->code = code;
    snprintf(res->text, sizeof(res->text), "%s", text);
    for (size_t j = 0; j < nrcpts; j++)
        res->rcpt[j] = o;
    res->ndelivered = 0;
}

/* snprintf that may cut: long server replies are truncated on purpose
 * (a wrapper keeps -Wformat-truncation quiet about it). */
static void cut_printf(char *dst, size_t len, const char *fmt, ...)
    PRINTF_LIKE(3, 4);
static void cut_printf(char *dst, size_t len, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(dst, len, fmt, ap);
    va_end(ap);
}

/*
 * Decide the outcome of message i from libesmtp's statuses after the
 * session: reverse path first (530/535 there means AUTH failed), then
 * each recipient, then the DATA transfer for the accepted ones.
 */
static void judge_message(const struct smtp_target *t,
                          const struct smtp_message *msg,
                          const struct msg_slot *slot,
                          const char *session_reason,
                          struct smtp_result *res)
{
    const smtp_status_t *rp = smtp_reverse_path_status(slot->m);
    const smtp_status_t *ms = smtp_message_transfer_status(slot->m);
    char text[SMTP_TEXT_MAX], buf[SMTP_TEXT_MAX];
    bool have_temp = false, have_perm = false;
    int temp_code = 0, perm_code = 0;
    char temp_text[SMTP_TEXT_MAX] = "", perm_text[SMTP_TEXT_MAX] = "";

    if (rp == NULL || rp->code == 0) {
        fail_all(res, msg->nrcpts, SMTP_TEMPFAIL, 0,
                 session_reason[0] != '\0' ? session_reason
                                           : "not attempted");
        goto keep_invalid;
    }
    clean_text(text, sizeof(text), rp->text, t);
    if (rp->code / 100 != 2) {
        if (rp->code == 530 || rp->code == 535) {
            cut_printf(buf, sizeof(buf), "authentication %s (%d %s)",
                     t->username != NULL ? "failed" : "required by server",
                     rp->code, text);
            fail_all(res, msg->nrcpts, SMTP_PERMFAIL, rp->code, buf);
        } else {
            cut_printf(buf, sizeof(buf), "sender <%s> refused (%d %s)",
                     t->from, rp->code, text);
            fail_all(res, msg->nrcpts, outcome_of(rp->code), rp->code, buf);
        }
        goto keep_invalid;
    }

    res->ndelivered = 0;
    for (size_t j = 0; j < msg->nrcpts; j++) {
        const smtp_status_t *rs;
        enum smtp_outcome o;
        int code;

        if (slot->r[j] == NULL) {
            o = SMTP_PERMFAIL;
            code = 0;
            cut_printf(buf, sizeof(buf), "invalid recipient address");
        } else {
            rs = smtp_recipient_status(slot->r[j]);
            if (rs == NULL || rs->code == 0) {
                o = SMTP_TEMPFAIL;
                code = 0;
                cut_printf(buf, sizeof(buf), "recipient not attempted%s%s",
                         session_reason[0] != '\0' ? ": " : "",
                         session_reason);
            } else if (rs->code / 100 != 2) {
                o = outcome_of(rs->code);
                code = rs->code;
                clean_text(text, sizeof(text), rs->text, t);
                cut_printf(buf, sizeof(buf), "recipient refused (%d %s)",
                         rs->code, text);
            } else {
                /* Accepted at RCPT: the DATA reply decides. */
                code = ms != NULL ? ms->code : 0;
                o = outcome_of(code);
                clean_text(text, sizeof(text),
                           ms != NULL ? ms->text : NULL, t);
                if (o == SMTP_DELIVERED)
                    cut_printf(buf, sizeof(buf), "%d %s", code, text);
                else if (code == 0)
                    cut_printf(buf, sizeof(buf), "message transfer not "
                             "completed%s%s",
                             session_reason[0] != '\0' ? ": " : "",
                             session_reason);
                else
                    cut_printf(buf, sizeof(buf), "message refused (%d %s)",
                             code, text);
            }
        }
        res->rcpt[j] = o;
        if (o == SMTP_DELIVERED) {
            res->ndelivered++;
            if (res->code == 0) {
                res->code = code;
                snprintf(res->text, sizeof(res->text), "%s", buf);
            }
        } else if (o == SMTP_TEMPFAIL && !have_temp) {
            have_temp = true;
            temp_code = code;
            snprintf(temp_text, sizeof(temp_text), "%s", buf);
        } else if (o == SMTP_PERMFAIL && !have_perm) {
            have_perm = true;
            perm_code = code;
            snprintf(perm_text, sizeof(perm_text), "%s", buf);
        }
    }
    if (have_temp) {
        res->status = SMTP_TEMPFAIL;
        res->code = temp_code;
        snprintf(res->text, sizeof(res->text), "%s", temp_text);
    } else if (have_perm) {
        res->status = SMTP_PERMFAIL;
        res->code = perm_code;
        snprintf(res->text, sizeof(res->text), "%s", perm_text);
    } else {
        res->status = SMTP_DELIVERED;
    }
    return;

keep_invalid:
    /* Addresses we refused ourselves stay permanent whatever happened. */
    for (size_t j = 0; j < msg->nrcpts; j++)
        if (slot->r[j] == NULL)
            res->rcpt[j] = SMTP_PERMFAIL;
}

/* A fatal problem before any message went out: same outcome for all. */
static int fail_batch(size_t n, const struct smtp_message *msgs,
                      struct smtp_result *results, enum smtp_outcome o,
                      const char *why, char *err, size_t errlen)
{
    for (size_t i = 0; i < n; i++)
        fail_all(&results[i], msgs[i].nrcpts, o, 0, why);
    if (errlen > 0)
        snprintf(err, errlen, "%s", why);
    return n > 0 ? -1 : 0;
}

int smtp_send_batch(const struct smtp_target *t,
                    const struct smtp_message *msgs, size_t n,
                    struct smtp_result *results, char *err, size_t errlen)
{
    smtp_session_t session = NULL;
    auth_context_t actx = NULL;
    SSL_CTX *ssl_ctx = NULL;
    struct msg_slot *slots = NULL;
    struct session_state st;
    char from[512], addr[512], hostport[600], why[SMTP_TEXT_MAX];
    size_t nqueued = 0, nfailed = 0, first_fail = n;
    int rc = -1;

    if (errlen > 0)
        err[0] = '\0';
    memset(&st, 0, sizeof(st));
    st.t = t;
    for (size_t i = 0; i < n; i++) {
        memset(&results[i], 0, sizeof(results[i]));
        results[i].nrcpts = msgs[i].nrcpts;
        results[i].rcpt = xcalloc(msgs[i].nrcpts > 0 ? msgs[i].nrcpts : 1,
                                  sizeof(*results[i].rcpt));
    }
    if (n == 0)
        return 0;

    /* Problems of the target itself: nothing can be sent.  These are
     * configuration errors, hence permanent. */
    if (t->host == NULL || t->host[0] == '\0' || strchr(t->host, ':') ||
        strpbrk(t->host, " \t\r\n") != NULL)
        return fail_batch(n, msgs, results, SMTP_PERMFAIL,
                          "invalid smtp_host (IPv6 literals are not "
                          "supported by libesmtp)", err, errlen);
    if (t->port <= 0 || t->port > 65535)
        return fail_batch(n, msgs, results, SMTP_PERMFAIL,
                          "invalid smtp_port", err, errlen);
    if (smtp_addr_spec(t->from, from, sizeof(from)) != 0)
        return fail_batch(n, msgs, results, SMTP_PERMFAIL,
                          "invalid from address", err, errlen);

    pthread_once(&auth_once, auth_init);
    session = smtp_create_session();
    if (session == NULL)
        return fail_batch(n, msgs, results, SMTP_TEMPFAIL,
                          "libesmtp: cannot create a session", err, errlen);
    snprintf(hostport, sizeof(hostport), "%s:%d", t->host, t->port);
    smtp_set_server(session, hostport);
    smtp_set_hostname(session, t->helo);
    smtp_set_eventcb(session, event_cb, &st);

    {
        /* libesmtp takes milliseconds (it clamps to >= 1000). */
        double s = t->timeout_s > 0 ? t->timeout_s : 10;
        long ms = s >= 3600 ? 3600000L : (long)(s * 1000.0);
        static const int which[] = { Timeout_GREETING, Timeout_ENVELOPE,
                                     Timeout_DATA, Timeout_TRANSFER,
                                     Timeout_DATA2 };
        if (ms < 1000)
            ms = 1000;
        for (size_t k = 0; k < ARRAY_SIZE(which); k++)
            smtp_set_timeout(session,
                             which[k] | Timeout_OVERRIDE_RFC2822_MINIMUM, ms);
    }

    if (t->starttls != STARTTLS_NO) {
        ssl_ctx = make_ssl_ctx(t, why, sizeof(why));
        if (ssl_ctx == NULL) {
            /* Temporary: a CA file fixed on disk heals without losing
             * the alerts queued meanwhile. */
            rc = fail_batch(n, msgs, results, SMTP_TEMPFAIL, why, err,
                            errlen);
            goto done;
        }
        /* smtp_starttls_set_ctx() takes its own reference. */
        smtp_starttls_set_ctx(session, ssl_ctx);
        smtp_starttls_enable(session, t->starttls == STARTTLS_REQUIRED
                                          ? Starttls_REQUIRED
                                          : Starttls_ENABLED);
    } else {
        smtp_starttls_enable(session, Starttls_DISABLED);
    }

    if (t->username != NULL) {
        actx = auth_create_context();
        if (actx == NULL) {
            rc = fail_batch(n, msgs, results, SMTP_TEMPFAIL,
                            "libesmtp: cannot create an AUTH context", err,
                            errlen);
            goto done;
        }
        auth_set_mechanism_flags(actx, AUTH_PLUGIN_PLAIN, 0);
        auth_set_interact_cb(actx, auth_interact, (void *)t);
        smtp_auth_set_context(session, actx);
    }

    slots = xcalloc(n, sizeof(*slots));
    for (size_t i = 0; i < n; i++) {
        const struct smtp_message *msg = &msgs[i];
        size_t nvalid = 0;

        slots[i].r = xcalloc(msg->nrcpts > 0 ? msg->nrcpts : 1,
                             sizeof(*slots[i].r));
        if (msg->text == NULL || msg->len == 0 || msg->len > INT_MAX) {
            fail_all(&results[i], msg->nrcpts, SMTP_PERMFAIL, 0,
                     "empty or oversized message");
            continue;
        }
        for (size_t j = 0; j < msg->nrcpts; j++)
            if (smtp_addr_spec(msg->rcpts[j], addr, sizeof(addr)) == 0)
                nvalid++;
        if (nvalid == 0) {
            fail_all(&results[i], msg->nrcpts, SMTP_PERMFAIL, 0,
                     "no valid recipient address");
            continue;
        }
        slots[i].m = smtp_add_message(session);
        if (slots[i].m == NULL) {
            fail_all(&results[i], msg->nrcpts, SMTP_TEMPFAIL, 0,
                     "libesmtp: cannot add a message");
            continue;
        }
        smtp_set_reverse_path(slots[i].m, from);
        smtp_set_messagecb(slots[i].m, message_cb, (void *)msg);
        for (size_t j = 0; j < msg->nrcpts; j++)
            if (smtp_addr_spec(msg->rcpts[j], addr, sizeof(addr)) == 0)
                slots[i].r[j] = smtp_add_recipient(slots[i].m, addr);
        nqueued++;
    }

    if (nqueued > 0) {
        char ebuf[128];
        const char *reason;
        int ok = smtp_start_session(session);
        int e = smtp_errno();

        /* smtp_start_session() returns 1 even after a timeout, so look at
         * smtp_errno() too.  It is only used to explain messages that got
         * no SMTP reply (code 0): a stale value from a successful session
         * (e.g. ::1 refused before 127.0.0.1 answered) cannot mislabel a
         * delivered or refused message.  A TLS reason recorded by the
         * event callback comes first: it says more. */
        if (!ok || e != 0) {
            if (e == SMTP_ERR_DROPPED_CONNECTION)
                set_reason(&st, "connection to %s dropped or timed out "
                           "(timeout %g s)", hostport, t->timeout_s);
            else
                set_reason(&st, "SMTP session with %s failed: %s", hostport,
                           smtp_strerror(e, ebuf, sizeof(ebuf)));
        }
        reason = st.reason;
        for (size_t i = 0; i < n; i++) {
            if (slots[i].m != NULL)
                judge_message(t, &msgs[i], &slots[i], reason, &results[i]);
            results[i].tls = st.tls_ok;
        }
    }

    for (size_t i = 0; i < n; i++) {
        if (results[i].status != SMTP_DELIVERED) {
            nfailed++;
            if (first_fail == n)
                first_fail = i;
        }
    }
    if (nfailed == 0) {
        rc = 0;
    } else {
        rc = -1;
        if (errlen > 0)
            snprintf(err, errlen, "%zu of %zu messages not (fully) "
                     "delivered: %s", nfailed, n, results[first_fail].text);
    }

done:
    if (session != NULL)
        smtp_destroy_session(session);
    if (actx != NULL)
        auth_destroy_context(actx);
    /* After smtp_destroy_session(): our reference is the last one. */
    if (ssl_ctx != NULL)
        SSL_CTX_free(ssl_ctx);
    if (slots != NULL) {
        for (size_t i = 0; i < n; i++)
            free(slots[i].r);
        free(slots);
    }
    return rc;
}

/* ---- jobs ------------------------------------------------------------- */

struct smtp_job *smtp_job_new(const struct smtp_target *t)
{
    struct smtp_job *job = xcalloc(1, sizeof(*job));

    smtp_target_copy(&job->target, t);
    return job;
}

void smtp_job_add(struct smtp_job *job, const struct smtp_message *m,
                  void *cookie)
{
    struct smtp_job_msg *jm;

    XGROW(job->msgs, job->n + 1, job->cap);
    jm = &job->msgs[job->n++];
    memset(jm, 0, sizeof(*jm));
    jm->text = xmalloc(m->len + 1);
    if (m->len > 0)
        memcpy(jm->text, m->text, m->len);
    jm->text[m->len] = '\0';
    jm->len = m->len;
    jm->nrcpts = m->nrcpts;
    jm->rcpts = xcalloc(m->nrcpts > 0 ? m->nrcpts : 1, sizeof(char *));
    for (size_t j = 0; j < m->nrcpts; j++)
        jm->rcpts[j] = xstrdup(m->rcpts[j] != NULL ? m->rcpts[j] : "");
    jm->cookie = cookie;
}

void smtp_job_free(struct smtp_job *job)
{
    if (job == NULL)
        return;
    for (size_t i = 0; i < job->n; i++) {
        struct smtp_job_msg *jm = &job->msgs[i];
        free(jm->text);
        for (size_t j = 0; j < jm->nrcpts; j++)
            free(jm->rcpts[j]);
        free(jm->rcpts);
        smtp_result_clear(&jm->result);
    }
    free(job->msgs);
    smtp_target_clear(&job->target);
    free(job);
}

/* ---- worker ----------------------------------------------------------- */

struct smtp_worker {
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    struct smtp_job *pending, *pending_tail;    /* FIFO */
    struct smtp_job *done, *done_tail;          /* FIFO */
    size_t outstanding;
    bool stop;
    int pipe_rd, pipe_wr;
};

static void notify_main(struct smtp_worker *w)
{
    char c = 1;

    /* EAGAIN means the pipe is already full, hence readable: fine. */
    while (write(w->pipe_wr, &c, 1) < 0 && errno == EINTR)
        ;
}

static void run_jobs(struct smtp_job *jobs)
{
    size_t total = 0, k = 0;
    struct smtp_message *msgs;
    struct smtp_result *res;
    char err[SMTP_TEXT_MAX];
    int64_t t0;
    double elapsed;
    int rc;

    for (struct smtp_job *j = jobs; j != NULL; j = j->next)
        total += j->n;
    msgs = xcalloc(total > 0 ? total : 1, sizeof(*msgs));
    res = xcalloc(total > 0 ? total : 1, sizeof(*res));
    for (struct smtp_job *j = jobs; j != NULL; j = j->next) {
        for (size_t i = 0; i < j->n; i++, k++) {
            msgs[k].text = j->msgs[i].text;
            msgs[k].len = j->msgs[i].len;
            msgs[k].rcpts = (const char *const *)j->msgs[i].rcpts;
            msgs[k].nrcpts = j->msgs[i].nrcpts;
        }
    }
    t0 = now_mono_ms();
    rc = smtp_send_batch(&jobs->target, msgs, total, res, err, sizeof(err));
    elapsed = (double)(now_mono_ms() - t0) / 1000.0;
    if (rc != 0)
        log_debug("smtp: batch of %zu to %s:%d: %s", total,
                  jobs->target.host, jobs->target.port, err);

    k = 0;
    for (struct smtp_job *j = jobs; j != NULL; j = j->next) {
        size_t failed = 0;
        for (size_t i = 0; i < j->n; i++, k++) {
            j->msgs[i].result = res[k];     /* moves the rcpt array */
            if (res[k].status != SMTP_DELIVERED)
                failed++;
        }
        j->rc = failed == 0 ? 0 : -1;
        if (failed == 0)
            j->err[0] = '\0';
        else
            snprintf(j->err, sizeof(j->err), "%s", err);
        j->elapsed_s = elapsed;
    }
    free(msgs);
    free(res);
}

static void *worker_main(void *arg)
{
    struct smtp_worker *w = arg;

    for (;;) {
        struct smtp_job *batch, *tail, **pp;
        size_t total;

        pthread_mutex_lock(&w->lock);
        while (!w->stop && w->pending == NULL)
            pthread_cond_wait(&w->cond, &w->lock);
        if (w->stop) {
            pthread_mutex_unlock(&w->lock);
            break;
        }
        /* Take the oldest job and every queued job for the same target,
         * up to WORKER_MAX_BATCH messages: one session for all of them. */
        batch = tail = w->pending;
        w->pending = batch->next;
        batch->next = NULL;
        total = batch->n;
        pp = &w->pending;
        while (*pp != NULL) {
            struct smtp_job *j = *pp;
            if (total + j->n <= WORKER_MAX_BATCH &&
                smtp_target_equal(&j->target, &batch->target)) {
                *pp = j->next;
                j->next = NULL;
                tail->next = j;
                tail = j;
                total += j->n;
            } else {
                pp = &j->next;
            }
        }
        w->pending_tail = NULL;
        for (struct smtp_job *j = w->pending; j != NULL; j = j->next)
            w->pending_tail = j;
        pthread_mutex_unlock(&w->lock);

        run_jobs(batch);

        pthread_mutex_lock(&w->lock);
        if (w->done_tail != NULL)
            w->done_tail->next = batch;
        else
            w->done = batch;
        w->done_tail = tail;
        pthread_mutex_unlock(&w->lock);
        notify_main(w);
    }
    return NULL;
}

static int set_nonblock_cloexec(int fd)
{
    int fl = fcntl(fd, F_GETFL);

    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
        return -1;
    return fcntl(fd, F_SETFD, FD_CLOEXEC);
}

struct smtp_worker *smtp_worker_new(void)
{
    struct smtp_worker *w = xcalloc(1, sizeof(*w));
    int fds[2];
    sigset_t all, old;
    int e;

    if (pipe(fds) < 0) {
        log_err("smtp: cannot create the worker pipe: %s", strerror(errno));
        free(w);
        return NULL;
    }
    w->pipe_rd = fds[0];
    w->pipe_wr = fds[1];
    if (set_nonblock_cloexec(w->pipe_rd) < 0 ||
        set_nonblock_cloexec(w->pipe_wr) < 0) {
        log_err("smtp: cannot configure the worker pipe: %s",
                strerror(errno));
        goto fail;
    }
    pthread_mutex_init(&w->lock, NULL);
    pthread_cond_init(&w->cond, NULL);

    /* The thread inherits this mask: every signal blocked, so handlers run
     * in the main thread and SIGPIPE from a dead socket cannot kill us. */
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    e = pthread_create(&w->thread, NULL, worker_main, w);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (e != 0) {
        log_err("smtp: cannot start the worker thread: %s", strerror(e));
        pthread_mutex_destroy(&w->lock);
        pthread_cond_destroy(&w->cond);
        goto fail;
    }
    return w;

fail:
    close(w->pipe_rd);
    close(w->pipe_wr);
    free(w);
    return NULL;
}

void smtp_worker_submit(struct smtp_worker *w, struct smtp_job *job)
{
    job->next = NULL;
    pthread_mutex_lock(&w->lock);
    if (w->pending_tail != NULL)
        w->pending_tail->next = job;
    else
        w->pending = job;
    w->pending_tail = job;
    w->outstanding++;
    pthread_cond_signal(&w->cond);
    pthread_mutex_unlock(&w->lock);
}

int smtp_worker_fd(const struct smtp_worker *w)
{
    return w->pipe_rd;
}

size_t smtp_worker_collect(struct smtp_worker *w, struct smtp_job **done,
                           size_t max)
{
    char buf[64];
    size_t k = 0;
    bool more;

    /* Drain first: a wake-up that arrives after this is for jobs we may
     * not take below, and it stays in the pipe. */
    while (read(w->pipe_rd, buf, sizeof(buf)) > 0)
        ;
    pthread_mutex_lock(&w->lock);
    while (k < max && w->done != NULL) {
        struct smtp_job *j = w->done;
        w->done = j->next;
        if (w->done == NULL)
            w->done_tail = NULL;
        j->next = NULL;
        done[k++] = j;
        w->outstanding--;
    }
    more = w->done != NULL;
    pthread_mutex_unlock(&w->lock);
    if (more)
        notify_main(w);             /* keep the fd readable */
    return k;
}

size_t smtp_worker_outstanding(struct smtp_worker *w)
{
    size_t n;

    pthread_mutex_lock(&w->lock);
    n = w->outstanding;
    pthread_mutex_unlock(&w->lock);
    return n;
}

static void free_list(struct smtp_job *j)
{
    while (j != NULL) {
        struct smtp_job *next = j->next;
        smtp_job_free(j);
        j = next;
    }
}

void smtp_worker_free(struct smtp_worker *w)
{
    if (w == NULL)
        return;
    pthread_mutex_lock(&w->lock);
    w->stop = true;
    pthread_cond_signal(&w->cond);
    pthread_mutex_unlock(&w->lock);
    pthread_join(w->thread, NULL);
    free_list(w->pending);
    free_list(w->done);
    pthread_mutex_destroy(&w->lock);
    pthread_cond_destroy(&w->cond);
    close(w->pipe_rd);
    close(w->pipe_wr);
    free(w);
}
