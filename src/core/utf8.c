/*
 * utf8.c - see utf8.h.
 */
#include "core/utf8.h"

#include <string.h>

size_t utf8_char_len(const char *str, size_t len, size_t *bad)
{
    const unsigned char *s = (const unsigned char *)str;
    unsigned char c = s[0];
    unsigned char lo = 0x80, hi = 0xBF;     /* range of the second byte */
    size_t need;                            /* continuation bytes */
    if (bad)
        *bad = 1;
    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF) {
        need = 1;
    } else if (c == 0xE0) {
        need = 2;
        lo = 0xA0;          /* below: overlong */
    } else if (c == 0xED) {
        need = 2;
        hi = 0x9F;          /* above: surrogates */
    } else if (c >= 0xE1 && c <= 0xEF) {
        need = 2;
    } else if (c == 0xF0) {
        need = 3;
        lo = 0x90;          /* below: overlong */
    } else if (c == 0xF4) {
        need = 3;
        hi = 0x8F;          /* above: > U+10FFFF */
    } else if (c >= 0xF1 && c <= 0xF3) {
        need = 3;
    } else {
        return 0;           /* 80..C1 (stray or overlong lead), F5..FF */
    }
    for (size_t i = 1; i <= need; i++) {
        if (i >= len || s[i] < lo || s[i] > hi) {
            if (bad)
                *bad = i;   /* the maximal subpart: lead + good bytes */
            return 0;
        }
        lo = 0x80;
        hi = 0xBF;
    }
    return need + 1;
}

bool utf8_valid(const char *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        /* ASCII runs are the common case: skip them cheaply. */
        if ((unsigned char)s[i] < 0x80) {
            i++;
            continue;
        }
        size_t l = utf8_char_len(s + i, len - i, NULL);
        if (l == 0)
            return false;
        i += l;
    }
    return true;
}

void utf8_sanitize_append(struct strbuf *sb, const char *s, size_t len)
{
    size_t i = 0, run = 0;      /* s[run..i) is well-formed, not yet added */
    while (i < len) {
        if ((unsigned char)s[i] < 0x80) {
            i++;
            continue;
        }
        size_t bad;
        size_t l = utf8_char_len(s + i, len - i, &bad);
        if (l) {
            i += l;
            continue;
        }
        strbuf_add(sb, s + run, i - run);
        strbuf_adds(sb, UTF8_REPLACEMENT);
        i += bad;
        run = i;
    }
    strbuf_add(sb, s + run, len - run);
}

char *utf8_sanitize_dup(const char *s)
{
    if (!s)
        return NULL;
    size_t len = strlen(s);
    if (utf8_valid(s, len))
        return xstrndup(s, len);
    struct strbuf sb = STRBUF_INIT;
    utf8_sanitize_append(&sb, s, len);
    return strbuf_detach(&sb);
}

void utf8_sanitize_copy(char *dst, size_t dstlen, const char *s)
{
    if (dstlen == 0)
        return;
    struct strbuf sb = STRBUF_INIT;
    utf8_sanitize_append(&sb, s ? s : "", s ? strlen(s) : 0);
    size_t n = utf8_cut(strbuf_str(&sb), sb.len, dstlen - 1);
    memcpy(dst, strbuf_str(&sb), n);
    dst[n] = '\0';
    strbuf_free(&sb);
}

size_t utf8_cut(const char *s, size_t len, size_t max)
{
    size_t i = 0;
    while (i < len) {
        size_t bad;
        size_t l = utf8_char_len(s + i, len - i, &bad);
        if (l == 0)
            l = bad;
        if (i + l > max)
            break;
        i += l;
    }
    return i;
}
