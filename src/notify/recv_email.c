/*
 * recv_email.c - the `email` receiver type: its options, the RFC 5322
 * message, and the SMTP session that carries it (see recv_email.h and
 * receiver.h).
 */
#include "notify/recv_email.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "config/receiver_type.h"
#include "config/secrets.h"
#include "config/section.h"
#include "engine/template.h"
#include "core/utf8.h"
#include "notify/render.h"

#define DEFAULT_DOMAIN "segalert.invalid"
#define DEFAULT_SMTP_PORT 25
#define DEFAULT_TIMEOUT_S 10.0
/* Bytes of a Subject before encoding, of one To address, of a Message-ID
 * part. */
#define SUBJECT_MAX 600
#define ADDRESS_MAX 900
#define ATOM_MAX 200
/* Columns a To line is folded before. */
#define FOLD_COLS 78
/* Bytes encoded per RFC 2047 word: 45 (60 base64 chars + 12 of
 * "=?UTF-8?B??=" = 72 <= 75); the first line also holds "Subject: ". */
#define WORD_BYTES 45
#define FIRST_WORD_BYTES 39

/* ---- configuration --------------------------------------------------------- */

static const struct opt_spec email_opts[] = {
    { "timeout", OPT_STR },
    { "smtp_host", OPT_STR },
    { "smtp_port", OPT_STR },
    { "starttls", OPT_STR },
    { "tls_ca_file", OPT_STR },
    { "username", OPT_STR },
    SECRET_OPTS("password"),
    { "from", OPT_STR },
    { "to", OPT_LIST },
    OPT_END
};

static void free_email(void *priv)
{
    struct email_cfg *e = priv;
    free(e->smtp_host);
    free(e->tls_ca_file);
    free(e->username);
    free(e->password);
    free(e->from);
    str_list_free(&e->to);
    free(e);
}

static void load_email(const struct cfg_section *s, struct receiver_cfg *r)
{
    static const char *const tls[] = { "no", "try", "required" };
    struct email_cfg *e = xcalloc(1, sizeof(*e));
    e->smtp_port = DEFAULT_SMTP_PORT;
    e->starttls = STARTTLS_TRY;
    r->priv = e;
    section_get_string(s, "smtp_host", &e->smtp_host);
    if (!e->smtp_host || !e->smtp_host[0])
        section_error(s, NULL, "smtp_host is required");
    section_get_int(s, "smtp_port", &e->smtp_port, 1, 65535);
    int st = section_get_enum(s, "starttls", tls, ARRAY_SIZE(tls),
                              STARTTLS_TRY);
    if (st >= 0)
        e->starttls = (enum starttls_mode)st;
    const char *ca = section_str(s, "tls_ca_file");
    if (ca) {
        e->tls_ca_file = section_resolve_path(s, ca);
        if (access(e->tls_ca_file, R_OK) != 0)
            section_error(s, "tls_ca_file", "cannot read tls_ca_file '%s': "
                          "%s", e->tls_ca_file, strerror(errno));
    }
    section_get_string(s, "username", &e->username);
    enum secret_status pw = secret_get(s, "password", true, &e->password);
    if (e->username && pw == SECRET_UNSET)
        section_error(s, "username", "username is given without a password "
                      "(password, password_env or password_file)");
    if (!e->username && pw == SECRET_OK)
        section_error(s, NULL, "a password is given without a username");
    section_get_string(s, "from", &e->from);
    if (!e->from)
        section_error(s, NULL, "from is required");
    else if (!strchr(e->from, '@'))
        section_error(s, "from", "invalid address '%s' for from", e->from);
    section_get_list(s, "to", &e->to);
    if (e->to.n == 0)
        section_error(s, NULL, "to is required (a list of addresses)");
    for (size_t i = 0; i < e->to.n; i++)
        if (!strchr(e->to.items[i], '@'))
            section_error(s, "to", "invalid address '%s' in to",
                          e->to.items[i]);
}

const struct email_cfg *recv_email_cfg(const struct receiver_cfg *r)
{
    return r && r->type == &recv_email.def ? r->priv : NULL;
}

/* ---- the SMTP session ------------------------------------------------------- */

void recv_email_smtp_target(const struct receiver_cfg *r,
                            struct smtp_target *t)
{
    static const struct email_cfg none = { .smtp_port = DEFAULT_SMTP_PORT };
    const struct email_cfg *e = recv_email_cfg(r);
    if (!e)
        e = &none;
    char addr[512];

    memset(t, 0, sizeof(*t));
    t->host = xstrdup(e->smtp_host != NULL ? e->smtp_host : "localhost");
    t->port = e->smtp_port > 0 ? e->smtp_port : DEFAULT_SMTP_PORT;
    t->starttls = e->starttls;
    t->ca_file = xstrdup(e->tls_ca_file);
    if (e->username != NULL && e->username[0] != '\0') {
        t->username = xstrdup(e->username);
        t->password = xstrdup(e->password != NULL ? e->password : "");
    }
    /* An unparsable From is kept as written: smtp_send_batch() rejects it
     * with a message naming it rather than sending MAIL FROM:<>. */
    if (smtp_addr_spec(e->from, addr, sizeof(addr)) == 0)
        t->from = xstrdup(addr);
    else
        t->from = xstrdup(e->from != NULL ? e->from : "");
    t->helo = NULL;
    t->timeout_s = r && r->timeout_s > 0 ? r->timeout_s : DEFAULT_TIMEOUT_S;
}

static void email_smtp(const struct receiver_cfg *rc, struct smtp_target *t,
                       const struct str_list **rcpts)
{
    static const struct str_list nobody = { NULL, 0 };
    const struct email_cfg *e = recv_email_cfg(rc);
    recv_email_smtp_target(rc, t);
    *rcpts = e ? &e->to : &nobody;
}

/* ---- headers ---------------------------------------------------------------- */

static void format_rfc5322_date(double t, char *buf, size_t len)
{
    static const char *const days[] = { "Sun", "Mon", "Tue", "Wed", "Thu",
                                        "Fri", "Sat" };
    static const char *const months[] = { "Jan", "Feb", "Mar", "Apr", "May",
                                          "Jun", "Jul", "Aug", "Sep", "Oct",
                                          "Nov", "Dec" };
    time_t tt = (time_t)floor(t);
    struct tm tm;
    if (!gmtime_r(&tt, &tm)) {
        snprintf(buf, len, "Thu, 1 Jan 1970 00:00:00 +0000");
        return;
    }
    snprintf(buf, len, "%s, %d %s %04d %02d:%02d:%02d +0000", days[tm.tm_wday],
             tm.tm_mday, months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour,
             tm.tm_min, tm.tm_sec);
}

/* Header values lose every CR and LF: the one rule that makes header
 * injection impossible whatever a label or template contains. */
static void add_header_value(struct strbuf *sb, const char *s, size_t max)
{
    struct strbuf t = STRBUF_INIT;
    for (const char *p = render_nz(s); *p; p++)
        if (*p != '\r' && *p != '\n')
            strbuf_addc(&t, *p);
    render_add_trunc(sb, strbuf_str(&t), t.len, max);
    strbuf_free(&t);
}

static void header(struct strbuf *sb, const char *name, const char *value)
{
    strbuf_addf(sb, "%s: ", name);
    add_header_value(sb, value, EMAIL_LINE_MAX - strlen(name) - 2);
    strbuf_adds(sb, "\r\n");
}

/* dot-atom-text for Message-ID parts. */
static void add_atom(struct strbuf *sb, const char *s)
{
    size_t start = sb->len;
    for (const unsigned char *p = (const unsigned char *)render_nz(s); *p;
         p++) {
        if (sb->len - start >= ATOM_MAX)
            break;
        bool ok = (*p < 0x80 && isalnum(*p)) || *p == '-' || *p == '_' ||
                  *p == '+' || *p == '.';
        strbuf_addc(sb, ok ? (char)*p : '_');
    }
    if (sb->len == start)
        strbuf_adds(sb, "segalert");
}

static bool needs_encoding(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)s[i] >= 0x80 || (unsigned char)s[i] < 0x20)
            return true;
    /* Text that looks like an encoded-word would be decoded by readers. */
    return strstr(s, "=?") != NULL;
}

/* "Subject: =?UTF-8?B?...?=" words of <= 75 chars on lines of <= 76,
 * folded with CRLF SP, never splitting a UTF-8 character (RFC 2047 §5). */
static void add_subject(struct strbuf *sb, const char *subject)
{
    struct strbuf clean = STRBUF_INIT, s = STRBUF_INIT;
    add_header_value(&clean, subject, SIZE_MAX);
    render_add_trunc(&s, strbuf_str(&clean), clean.len, SUBJECT_MAX);
    strbuf_adds(sb, "Subject: ");
    if (!needs_encoding(strbuf_str(&s), s.len)) {
        strbuf_add(sb, strbuf_str(&s), s.len);
        strbuf_adds(sb, "\r\n");
        goto done;
    }
    size_t i = 0, budget = FIRST_WORD_BYTES;
    bool first = true;
    while (i < s.len || first) {
        size_t take = 0;
        while (i + take < s.len) {
            size_t l = render_utf8_len((unsigned char)s.buf[i + take]);
            if (take + l > budget)
                break;
            take += l;
        }
        if (take == 0 && i < s.len)
            take = 1;   /* cannot happen with budget >= 4; stay safe */
        unsigned char enc[4 * WORD_BYTES / 3 + 4];
        int elen = EVP_EncodeBlock(enc, (const unsigned char *)s.buf + i,
                                   (int)take);
        if (!first)
            strbuf_adds(sb, "\r\n ");
        strbuf_adds(sb, "=?UTF-8?B?");
        strbuf_add(sb, enc, elen > 0 ? (size_t)elen : 0);
        strbuf_adds(sb, "?=");
        i += take;
        first = false;
        budget = WORD_BYTES;
    }
    strbuf_adds(sb, "\r\n");
done:
    strbuf_free(&clean);
    strbuf_free(&s);
}

/* To: a, b, folded before 78 columns. */
static void add_to(struct strbuf *sb, const struct email_cfg *e)
{
    size_t col = strlen("To: ");
    size_t count = 0;
    strbuf_adds(sb, "To: ");
    for (size_t i = 0; e && i < e->to.n; i++) {
        struct strbuf v = STRBUF_INIT;
        add_header_value(&v, e->to.items[i], ADDRESS_MAX);
        if (v.len) {
            if (count) {
                strbuf_addc(sb, ',');
                col++;
                if (col + 1 + v.len > FOLD_COLS) {
                    strbuf_adds(sb, "\r\n");
                    col = 0;
                }
                strbuf_addc(sb, ' ');
                col++;
            }
            strbuf_add(sb, v.buf, v.len);
            col += v.len;
            count++;
        }
        strbuf_free(&v);
    }
    if (!count)
        strbuf_adds(sb, "undisclosed-recipients:;");
    strbuf_adds(sb, "\r\n");
}

/* ---- body ------------------------------------------------------------------- */

static void emit_body_line(struct strbuf *out, const char *s, size_t len)
{
    /* Hard-wrap what RFC 5322 does not allow; 8bit has no soft breaks. */
    while (len > EMAIL_LINE_MAX) {
        size_t cut = render_utf8_cut(s, len, EMAIL_LINE_MAX);
        if (cut == 0)
            cut = EMAIL_LINE_MAX;
        strbuf_add(out, s, cut);
        strbuf_adds(out, "\r\n");
        s += cut;
        len -= cut;
    }
    if (len == 1 && s[0] == '.')
        strbuf_adds(out, ". ");     /* never the DATA terminator */
    else
        strbuf_add(out, s, len);
    strbuf_adds(out, "\r\n");
}

/* CRLF, CR or LF -> CRLF; the body always ends with CRLF.  The text is
 * made well-formed UTF-8 and its other control characters spaces first
 * (render_add_text): a mail shown in a terminal must not drive it. */
static void add_body(struct strbuf *out, const char *text, size_t tlen)
{
    struct strbuf clean = STRBUF_INIT;
    render_add_text(&clean, text, tlen);
    const char *s = strbuf_str(&clean);
    size_t len = clean.len;
    size_t i = 0;
    while (i < len) {
        size_t j = i;
        while (j < len && s[j] != '\r' && s[j] != '\n')
            j++;
        emit_body_line(out, s + i, j - i);
        if (j < len && s[j] == '\r' && j + 1 < len && s[j + 1] == '\n')
            j++;
        i = j + 1;
    }
    strbuf_free(&clean);
}

/* render_add_oneline() of s cut to cap bytes. */
static void add_oneline_capped(struct strbuf *b, const char *s, size_t cap)
{
    if (cap == RENDER_NO_CAP || !s || strlen(s) <= cap) {
        render_add_oneline(b, s);
        return;
    }
    struct strbuf t = STRBUF_INIT;
    render_add_capped(&t, s, cap);
    render_add_oneline(b, t.buf);
    strbuf_free(&t);
}

static void default_alert(const struct notify_alert *a, size_t cap,
                          struct strbuf *b)
{
    char t[32];
    strbuf_addf(b, "\n%s: ", render_is_firing(a) ? "FIRING" : "RESOLVED");
    add_oneline_capped(b, render_has_text(a->summary) ? a->summary : a->rule,
                       cap);
    strbuf_adds(b, "\n  Rule: ");
    add_oneline_capped(b, a->rule, cap);
    strbuf_adds(b, "\n  Severity: ");
    add_oneline_capped(b, a->severity, cap);
    if (!isnan(a->value)) {
        strbuf_adds(b, "\n  Value: ");
        template_format_number(a->value, b);
    }
    if (a->starts_at > 0) {
        format_iso8601(a->starts_at, t, sizeof(t));
        strbuf_addf(b, "\n  Started: %s", t);
    }
    if (!render_is_firing(a) && a->ends_at > 0) {
        format_iso8601(a->ends_at, t, sizeof(t));
        strbuf_addf(b, "\n  Ended: %s", t);
    }
    if (render_has_text(a->description)) {
        /* May span lines; keep them, indented under the field. */
        struct strbuf d = STRBUF_INIT;
        render_add_capped(&d, a->description, cap);
        strbuf_adds(b, "\n  Description:\n    ");
        for (const char *p = d.buf; *p; p++) {
            if (*p == '\r' && p[1] == '\n')
                continue;
            strbuf_addc(b, *p == '\r' ? '\n' : *p);
            if (*p == '\n' || *p == '\r')
                strbuf_adds(b, "    ");
        }
        strbuf_free(&d);
    }
    if (render_has_text(a->runbook_url)) {
        strbuf_adds(b, "\n  Runbook: ");
        add_oneline_capped(b, a->runbook_url, cap);
    }
    strbuf_adds(b, "\n  Labels:");
    for (size_t k = 0; k < a->nlabels; k++) {
        strbuf_adds(b, "\n    ");
        render_add_oneline(b, a->labels[k].key);
        strbuf_adds(b, " = ");
        add_oneline_capped(b, a->labels[k].value, cap);
    }
    strbuf_adds(b, "\n");
}

static void default_body(const struct notification *n,
                         const struct render_limits *lim, struct strbuf *b)
{
    size_t most = lim->max_alerts < EMAIL_MAX_ALERTS ? lim->max_alerts
                                                     : EMAIL_MAX_ALERTS;
    render_default_title(n, b);
    strbuf_adds(b, "\n\nReason: ");
    strbuf_adds(b, notify_reason_name(n->reason));
    strbuf_adds(b, "\n");
    if (render_has_text(n->external_url)) {
        strbuf_adds(b, "Status page: ");
        add_oneline_capped(b, n->external_url, lim->field_cap);
        strbuf_adds(b, "\n");
    }
    for (size_t i = 0; i < n->nalerts; i++) {
        if (i == most) {
            strbuf_addf(b, "\n...and %zu more alerts (see the status page)\n",
                        n->nalerts - most);
            break;
        }
        default_alert(&n->alerts[i], lim->field_cap, b);
    }
    strbuf_addf(b, "\n-- \nsegalert %s\n", SEGALERT_VERSION);
}

/* The body's text under lim: r->body rendered with values cut to the field
 * cap, else the default description. */
static void body_text(const struct notification *n,
                      const struct receiver_cfg *r,
                      const struct render_limits *lim, struct strbuf *v)
{
    size_t start = v->len;
    if (r && r->body)
        render_template_capped(r->body, n, lim->field_cap, v);
    if (v->len == start)
        default_body(n, lim, v);
}

struct email_fit {
    const struct notification *n;
    const struct receiver_cfg *r;
};

static void email_fit_build(void *ud, const struct render_limits *lim,
                            struct strbuf *out)
{
    const struct email_fit *f = ud;
    struct strbuf v = STRBUF_INIT;
    body_text(f->n, f->r, lim, &v);
    add_body(out, strbuf_str(&v), v.len);
    strbuf_free(&v);
}

/* The body within EMAIL_BODY_MAX: values cut, then fewer alerts
 * (render_fit); a template that still writes too much is cut at the end,
 * on a character boundary, with a last line saying so. */
static void add_body_max(struct strbuf *out, const struct notification *n,
                         const struct receiver_cfg *r)
{
    struct email_fit f = { n, r };
    size_t start = out->len;
    render_fit(email_fit_build, &f, n->nalerts, EMAIL_BODY_MAX, out);
    if (out->len - start <= EMAIL_BODY_MAX)
        return;
    static const struct render_limits least = { RENDER_MIN_FIELD_CAP, 0 };
    struct strbuf v = STRBUF_INIT, cut = STRBUF_INIT;
    body_text(n, r, &least, &v);
    size_t keep = v.len < EMAIL_BODY_MAX ? v.len : EMAIL_BODY_MAX;
    for (;;) {
        out->len = start;
        if (out->buf)
            out->buf[start] = '\0';
        strbuf_reset(&cut);
        strbuf_add(&cut, strbuf_str(&v), utf8_cut(strbuf_str(&v), v.len, keep));
        strbuf_adds(&cut, "\n" RENDER_TRUNC_MARK "\n");
        add_body(out, cut.buf, cut.len);
        size_t len = out->len - start;
        if (len <= EMAIL_BODY_MAX || keep == 0)
            break;
        size_t over = len - EMAIL_BODY_MAX;
        keep = keep > over ? keep - over : 0;
    }
    strbuf_free(&v);
    strbuf_free(&cut);
}

/* ---- the message ------------------------------------------------------------ */

void recv_email_message(const struct notification *n,
                        const struct receiver_cfg *r, double now,
                        const char *message_id_domain, struct strbuf *out)
{
    const struct email_cfg *e = recv_email_cfg(r);
    const char *domain = render_has_text(message_id_domain)
                             ? message_id_domain : DEFAULT_DOMAIN;
    char date[64];
    format_rfc5322_date(now, date, sizeof(date));
    struct strbuf v = STRBUF_INIT;

    header(out, "Date", date);
    if (e && render_has_text(e->from)) {
        header(out, "From", e->from);
    } else {
        strbuf_adds(&v, "segalert <segalert@");
        add_atom(&v, domain);
        strbuf_addc(&v, '>');
        header(out, "From", v.buf);
    }
    add_to(out, e);
    strbuf_reset(&v);
    render_title(n, r, &v);
    add_subject(out, strbuf_str(&v));
    strbuf_reset(&v);
    strbuf_addc(&v, '<');
    add_atom(&v, n->id);
    strbuf_addc(&v, '@');
    add_atom(&v, domain);
    strbuf_addc(&v, '>');
    header(out, "Message-ID", v.buf);
    header(out, "MIME-Version", "1.0");
    header(out, "Content-Type", "text/plain; charset=UTF-8");
    header(out, "Content-Transfer-Encoding", "8bit");
    /* RFC 3834: keeps vacation responders from answering alerts. */
    header(out, "Auto-Submitted", "auto-generated");
    header(out, "X-Segalert-Reason", notify_reason_name(n->reason));
    header(out, "X-Segalert-Notification", n->id);
    strbuf_adds(out, "\r\n");

    strbuf_free(&v);
    add_body_max(out, n, r);
}

static void email_build(const struct receiver_cfg *rc,
                        const struct notification *n, double now,
                        double resend_s, struct strbuf *out)
{
    UNUSED(resend_s);
    recv_email_message(n, rc, now, DEFAULT_DOMAIN, out);
}

const struct receiver_ops recv_email = {
    .def = { "email", email_opts, load_email, free_email },
    .delivery = RECEIVER_SMTP,
    .build = email_build,
    .smtp = email_smtp,
};
