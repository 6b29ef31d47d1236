/*
 * log.c - see log.h.
 */
#include "core/log.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/utf8.h"

/*
 * Threads: the main loop, the HTTP server threads and the SMTP worker all
 * log, and a reload (main thread) changes the level, the format and the
 * secrets.  Level and format are atomics (a reader sees the old or the new
 * value, both valid).  The secrets list and the write to stderr share one
 * mutex: a line is redacted against a list that cannot be reallocated
 * under it, and lines from different threads never interleave.
 */
static atomic_int cur_level = LOG_INFO;
static atomic_int cur_format = LOG_FMT_TEXT;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static char **secrets;              /* guarded by log_lock */
static size_t nsecrets, secrets_cap;

static const char *level_names[] = { "error", "warn", "info", "debug" };

void log_set_level(enum log_level lvl)
{
    atomic_store_explicit(&cur_level, (int)lvl, memory_order_relaxed);
}

enum log_level log_get_level(void)
{
    return (enum log_level)atomic_load_explicit(&cur_level,
                                                memory_order_relaxed);
}

void log_set_format(enum log_format fmt)
{
    atomic_store_explicit(&cur_format, (int)fmt, memory_order_relaxed);
}

int log_level_parse(const char *s)
{
    for (size_t i = 0; i < ARRAY_SIZE(level_names); i++)
        if (streq(s, level_names[i]))
            return (int)i;
    if (streq(s, "warning"))
        return LOG_WARN;
    return -1;
}

void log_configure(const char *level, const char *format, bool verbose,
                   const char *format_override)
{
    int lvl = level ? log_level_parse(level) : LOG_INFO;
    if (lvl < 0)
        lvl = LOG_INFO;
    if (verbose)
        lvl = LOG_DEBUG;
    log_set_level((enum log_level)lvl);
    const char *fmt = format_override ? format_override : format;
    log_set_format(streq(fmt, "json") ? LOG_FMT_JSON : LOG_FMT_TEXT);
}

void log_secret_register(const char *secret)
{
    /* Very short strings would redact ordinary words: ignore them. */
    if (!secret || strlen(secret) < 4)
        return;
    pthread_mutex_lock(&log_lock);
    bool known = false;
    for (size_t i = 0; i < nsecrets && !known; i++)
        known = streq(secrets[i], secret);
    if (!known) {
        XGROW(secrets, nsecrets + 1, secrets_cap);
        secrets[nsecrets++] = xstrdup(secret);
    }
    pthread_mutex_unlock(&log_lock);
}

void log_secrets_clear(void)
{
    pthread_mutex_lock(&log_lock);
    for (size_t i = 0; i < nsecrets; i++)
        free(secrets[i]);
    free(secrets);
    secrets = NULL;
    nsecrets = secrets_cap = 0;
    pthread_mutex_unlock(&log_lock);
}

/* Caller holds log_lock.  Runs on the raw text, before any escaping: a
 * secret holding '"' or '\\' would not match its escaped form. */
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

void log_redact(const char *in, struct strbuf *out)
{
    struct strbuf sb = STRBUF_INIT;
    strbuf_adds(&sb, in ? in : "");
    pthread_mutex_lock(&log_lock);
    redact(&sb);
    pthread_mutex_unlock(&log_lock);
    strbuf_add(out, sb.buf, sb.len);
    strbuf_free(&sb);
}

/*
 * The message of a text line, between quotes: '"' and '\\' escaped, CR
 * and LF as spaces (one line per message), other control characters, DEL
 * and the C1 controls as \xNN / \u00NN so that a name from the API
 * cannot move the cursor, recolour or retitle the terminal showing the
 * log, and ill-formed UTF-8 as U+FFFD.
 */
static void add_text_msg(struct strbuf *line, const char *msg, size_t len)
{
    for (size_t i = 0; i < len;) {
        unsigned char c = (unsigned char)msg[i];
        size_t bad, l = 1;
        if (c >= 0x80)
            l = utf8_char_len(msg + i, len - i, &bad);
        if (l == 0) {
            strbuf_adds(line, UTF8_REPLACEMENT);
            i += bad;
        } else if (l == 2 && c == 0xC2 && (unsigned char)msg[i + 1] < 0xA0) {
            strbuf_addf(line, "\\u%04x", (unsigned char)msg[i + 1]);
            i += 2;
        } else if (l > 1) {
            strbuf_add(line, msg + i, l);
            i += l;
        } else {
            if (c == '"' || c == '\\')
                strbuf_addc(line, '\\');
            if (c == '\n' || c == '\r')
                strbuf_addc(line, ' ');
            else if ((c < 0x20 && c != '\t') || c == 0x7f)
                strbuf_addf(line, "\\x%02x", c);
            else
                strbuf_addc(line, (char)c);
            i++;
        }
    }
}

/* Colour only for a person at a terminal. */
static bool colour_ok(void)
{
    static atomic_int tty = -1;
    int v = atomic_load_explicit(&tty, memory_order_relaxed);
    if (v < 0) {
        const char *term = getenv("TERM");
        v = isatty(STDERR_FILENO) && !getenv("NO_COLOR") && term &&
            !streq(term, "dumb");
        atomic_store_explicit(&tty, v, memory_order_relaxed);
    }
    return v;
}

/* One line: the message (redacted before it is escaped, so a secret with
 * quotes or backslashes is still found), coloured on a terminal, and in
 * JSON the members of json_fields ("{...}", may be NULL) after it. */
static void emit_event(enum log_level lvl, const char *msg,
                       enum log_colour colour, const char *json_fields)
{
    static const char *const sgr[] = { "", "\033[1;31m", "\033[1;33m",
                                       "\033[1;32m", "\033[1;34m" };
    char ts[32];
    struct strbuf raw = STRBUF_INIT, fields = STRBUF_INIT,
                  line = STRBUF_INIT;
    format_iso8601(now_wall(), ts, sizeof(ts));
    strbuf_adds(&raw, msg);
    strbuf_adds(&fields, json_fields ? json_fields : "");
    pthread_mutex_lock(&log_lock);
    redact(&raw);
    redact(&fields);
    if (atomic_load_explicit(&cur_format, memory_order_relaxed) ==
        LOG_FMT_JSON) {
        strbuf_addf(&line, "{\"ts\":\"%s\",\"level\":\"%s\",\"msg\":", ts,
                    level_names[lvl]);
        strbuf_add_json_str(&line, strbuf_str(&raw));
        /* the members of {...}, after the message */
        const char *f = strchr(strbuf_str(&fields), '{');
        const char *e = f ? strrchr(f, '}') : NULL;
        if (f && e && e > f + 1) {
            strbuf_addc(&line, ',');
            strbuf_add(&line, f + 1, (size_t)(e - f - 1));
        }
        strbuf_adds(&line, "}\n");
    } else {
        bool paint = colour != LOG_COLOUR_NONE &&
                     (unsigned)colour < ARRAY_SIZE(sgr) && colour_ok();
        strbuf_addf(&line, "ts=%s level=%s msg=\"%s", ts, level_names[lvl],
                    paint ? sgr[colour] : "");
        add_text_msg(&line, strbuf_str(&raw), raw.len);
        strbuf_adds(&line, paint ? "\033[0m\"\n" : "\"\n");
    }
    fputs(line.buf, stderr);
    fflush(stderr);
    pthread_mutex_unlock(&log_lock);
    strbuf_free(&raw);
    strbuf_free(&fields);
    strbuf_free(&line);
}

static void emit(enum log_level lvl, const char *msg)
{
    emit_event(lvl, msg, LOG_COLOUR_NONE, NULL);
}

void log_event(enum log_level lvl, enum log_colour colour,
               const char *json_fields, const char *fmt, ...)
{
    if (lvl > log_get_level())
        return;
    struct strbuf sb = STRBUF_INIT;
    va_list ap;
    va_start(ap, fmt);
    strbuf_vaddf(&sb, fmt, ap);
    va_end(ap);
    emit_event(lvl, strbuf_str(&sb), colour, json_fields);
    strbuf_free(&sb);
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
    if (lvl > log_get_level())
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
    if (lvl > log_get_level())
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
    if (LOG_INFO > log_get_level())
        return;
    va_list ap;
    va_start(ap, fmt);
    vlog(LOG_INFO, fmt, ap);
    va_end(ap);
}
