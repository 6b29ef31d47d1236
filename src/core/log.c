/*
 * log.c - see log.h.
 */
#include "core/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static enum log_level cur_level = LOG_INFO;
static enum log_format cur_format = LOG_FMT_TEXT;
static char **secrets;
static size_t nsecrets, secrets_cap;

static const char *level_names[] = { "error", "warn", "info", "debug" };

void log_set_level(enum log_level lvl) { cur_level = lvl; }
enum log_level log_get_level(void) { return cur_level; }
void log_set_format(enum log_format fmt) { cur_format = fmt; }

int log_level_parse(const char *s)
{
    for (size_t i = 0; i < ARRAY_SIZE(level_names); i++)
        if (streq(s, level_names[i]))
            return (int)i;
    if (streq(s, "warning"))
        return LOG_WARN;
    return -1;
}

void log_secret_register(const char *secret)
{
    /* Very short strings would redact ordinary words: ignore them. */
    if (!secret || strlen(secret) < 4)
        return;
    for (size_t i = 0; i < nsecrets; i++)
        if (streq(secrets[i], secret))
            return;
    XGROW(secrets, nsecrets + 1, secrets_cap);
    secrets[nsecrets++] = xstrdup(secret);
}

void log_secrets_clear(void)
{
    for (size_t i = 0; i < nsecrets; i++)
        free(secrets[i]);
    free(secrets);
    secrets = NULL;
    nsecrets = secrets_cap = 0;
}

static void redact(struct strbuf *sb)
{
    for (size_t i = 0; i < nsecrets; i++) {
        size_t sl = strlen(secrets[i]);
        char *hit;
        while ((hit = strstr(sb->buf, secrets[i])) != NULL) {
            struct strbuf out = STRBUF_INIT;
            strbuf_add(&out, sb->buf, (size_t)(hit - sb->buf));
            strbuf_adds(&out, "<redacted>");
            strbuf_adds(&out, hit + sl);
            strbuf_free(sb);
            *sb = out;
        }
    }
}

static void emit(enum log_level lvl, const char *msg)
{
    char ts[32];
    struct strbuf line = STRBUF_INIT;
    format_iso8601(now_wall(), ts, sizeof(ts));
    if (cur_format == LOG_FMT_JSON) {
        strbuf_addf(&line, "{\"ts\":\"%s\",\"level\":\"%s\",\"msg\":", ts,
                    level_names[lvl]);
        strbuf_add_json_str(&line, msg);
        strbuf_adds(&line, "}\n");
    } else {
        strbuf_addf(&line, "ts=%s level=%s msg=\"", ts, level_names[lvl]);
        for (const char *p = msg; *p; p++) {
            if (*p == '"' || *p == '\\')
                strbuf_addc(&line, '\\');
            if (*p == '\n' || *p == '\r')
                strbuf_addc(&line, ' ');
            else
                strbuf_addc(&line, *p);
        }
        strbuf_adds(&line, "\"\n");
    }
    redact(&line);
    fputs(line.buf, stderr);
    fflush(stderr);
    strbuf_free(&line);
}

static void vlog(enum log_level lvl, const char *fmt, va_list ap)
{
    struct strbuf sb = STRBUF_INIT;
    strbuf_vaddf(&sb, fmt, ap);
    emit(lvl, strbuf_str(&sb));
    strbuf_free(&sb);
}

void log_msg(enum log_level lvl, const char *fmt, ...)
{
    if (lvl > cur_level)
        return;
    va_list ap;
    va_start(ap, fmt);
    vlog(lvl, fmt, ap);
    va_end(ap);
}

void log_complain(struct log_complaint *c, enum log_level lvl,
                  const char *fmt, ...)
{
    double now = now_wall();
    if (c->active && now - c->last < c->interval) {
        c->suppressed++;
        return;
    }
    if (!c->active)
        c->interval = 60;
    else if (c->interval < 3600)
        c->interval *= 2;
    c->active = true;
    c->last = now;
    if (lvl > cur_level)
        return;
    struct strbuf sb = STRBUF_INIT;
    va_list ap;
    va_start(ap, fmt);
    strbuf_vaddf(&sb, fmt, ap);
    va_end(ap);
    if (c->suppressed)
        strbuf_addf(&sb, " (%u similar messages suppressed)", c->suppressed);
    c->suppressed = 0;
    emit(lvl, sb.buf);
    strbuf_free(&sb);
}

void log_release(struct log_complaint *c, const char *fmt, ...)
{
    if (!c->active)
        return;
    c->active = false;
    c->suppressed = 0;
    if (LOG_INFO > cur_level)
        return;
    va_list ap;
    va_start(ap, fmt);
    vlog(LOG_INFO, fmt, ap);
    va_end(ap);
}
