/*
 * recv_log.c - the `log` receiver type: a logfmt line on stdout (see
 * recv_log.h and receiver.h).
 */
#include "notify/recv_log.h"

#include <stdio.h>

#include "config/receiver_type.h"
#include "notify/render.h"

static const struct opt_spec log_opts[] = {
    OPT_END
};

static void add_quoted(struct strbuf *sb, const char *s)
{
    strbuf_addc(sb, '"');
    for (const unsigned char *p = (const unsigned char *)render_nz(s); *p;
         p++) {
        switch (*p) {
        case '"': strbuf_adds(sb, "\\\""); break;
        case '\\': strbuf_adds(sb, "\\\\"); break;
        case '\n': strbuf_adds(sb, "\\n"); break;
        case '\r': strbuf_adds(sb, "\\r"); break;
        case '\t': strbuf_adds(sb, "\\t"); break;
        default:
            if (*p < 0x20 || *p == 0x7f)
                strbuf_addf(sb, "\\x%02x", *p);
            else
                strbuf_addc(sb, (char)*p);
        }
    }
    strbuf_addc(sb, '"');
}

/* logfmt value: bare when safe, else quoted. */
static void add_logval(struct strbuf *sb, const char *s)
{
    bool bare = render_has_text(s);
    for (const unsigned char *p = (const unsigned char *)render_nz(s);
         bare && *p; p++)
        bare = *p > 0x20 && *p != 0x7f && *p != '"' && *p != '=' && *p != '\\';
    if (bare)
        strbuf_adds(sb, s);
    else
        add_quoted(sb, s);
}

void recv_log_line(const struct notification *n, struct strbuf *out)
{
    const char *rule = render_common_rule(n);
    strbuf_adds(out, "notify receiver=");
    add_logval(out, n->receiver);
    strbuf_adds(out, " id=");
    add_logval(out, n->id);
    strbuf_addf(out, " reason=%s status=%s rule=",
                notify_reason_name(n->reason), notification_status(n));
    add_logval(out, rule ? rule : "several");
    strbuf_addf(out, " alerts=%zu firing=%zu resolved=%zu severity=",
                n->nalerts, notification_count(n, "firing"),
                notification_count(n, "resolved"));
    add_logval(out, notification_severity(n));
    size_t ncl;
    struct kv *cl = notification_common_labels(n, &ncl);
    strbuf_adds(out, " labels={");
    for (size_t i = 0; i < ncl; i++) {
        if (i)
            strbuf_addc(out, ',');
        render_add_oneline(out, cl[i].key);
        strbuf_addc(out, '=');
        add_quoted(out, cl[i].value);
    }
    strbuf_addc(out, '}');
    kv_array_free(cl, ncl);
    const struct notify_alert *lead = render_lead_alert(n);
    if (lead && render_has_text(lead->summary)) {
        strbuf_adds(out, " summary=");
        add_quoted(out, lead->summary);
    }
    strbuf_addc(out, '\n');
}

void recv_log_print(const char *prefix, const struct strbuf *line)
{
    if (prefix)
        fputs(prefix, stdout);
    fputs(strbuf_str(line), stdout);
    if (!line->len || line->buf[line->len - 1] != '\n')
        fputc('\n', stdout);
    fflush(stdout);
}

static void log_build(const struct receiver_cfg *rc,
                      const struct notification *n, double now,
                      double resend_s, struct strbuf *out)
{
    UNUSED(rc);
    UNUSED(now);
    UNUSED(resend_s);
    recv_log_line(n, out);
}

static void log_write(const struct receiver_cfg *rc, const struct strbuf *body,
                      struct delivery_verdict *v)
{
    UNUSED(rc);
    UNUSED(v);
    recv_log_print(NULL, body);
}

const struct receiver_ops recv_log = {
    .def = { "log", log_opts, NULL, NULL },
    .delivery = RECEIVER_LOCAL,
    .build = log_build,
    .write = log_write,
};
