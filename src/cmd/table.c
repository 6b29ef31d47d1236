/*
 * table.c - see table.h.
 */
#include "cmd/table.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

void table_init(struct table *t, size_t ncols)
{
    memset(t, 0, sizeof(*t));
    t->ncols = ncols;
}

void table_set_wide(struct table *t, bool wide)
{
    t->wide = wide;
}

/* UTF-8 characters in s (continuation bytes do not count). */
static size_t u8_width(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        if (((unsigned char)*s & 0xC0) != 0x80)
            n++;
    return n;
}

/* A printable copy: control characters (C0, DEL, C1) become spaces (an
 * error message with a newline must not break the table, a name from the
 * API must not drive the terminal), long cells are cut at a character
 * boundary. */
static char *cell_copy(const char *s, bool wide)
{
    struct strbuf sb = STRBUF_INIT;
    size_t chars = 0;
    if (!s || !*s)
        s = "-";
    for (const char *p = s; *p; p++) {
        unsigned char ch = (unsigned char)*p;
        if ((ch & 0xC0) != 0x80) {
            if (!wide && chars == TABLE_CELL_MAX - 3 && u8_width(p) > 3) {
                strbuf_adds(&sb, "...");
                break;
            }
            chars++;
        }
        if (ch == 0xC2 && (unsigned char)p[1] >= 0x80 &&
            (unsigned char)p[1] < 0xA0) {
            strbuf_addc(&sb, ' ');      /* a C1 control (CSI is U+009B) */
            p++;
            continue;
        }
        strbuf_addc(&sb, ch < 0x20 || ch == 0x7f ? ' ' : (char)ch);
    }
    return strbuf_detach(&sb);
}

void table_row(struct table *t, ...)
{
    XGROW(t->cells, (t->nrows + 1) * t->ncols, t->cap);
    va_list ap;
    va_start(ap, t);
    for (size_t i = 0; i < t->ncols; i++)
        t->cells[t->nrows * t->ncols + i] =
            cell_copy(va_arg(ap, const char *), t->wide);
    va_end(ap);
    t->nrows++;
}

void table_write(const struct table *t,
                            struct strbuf *out)
{
    size_t *w = xcalloc(t->ncols ? t->ncols : 1, sizeof(*w));
    for (size_t r = 0; r < t->nrows; r++)
        for (size_t c = 0; c < t->ncols; c++) {
            size_t n = u8_width(t->cells[r * t->ncols + c]);
            if (n > w[c])
                w[c] = n;
        }
    for (size_t r = 0; r < t->nrows; r++) {
        for (size_t c = 0; c < t->ncols; c++) {
            const char *cell = t->cells[r * t->ncols + c];
            strbuf_adds(out, cell);
            if (c + 1 < t->ncols)
                for (size_t pad = u8_width(cell); pad < w[c] + 2; pad++)
                    strbuf_addc(out, ' ');
        }
        strbuf_addc(out, '\n');
    }
    free(w);
}

void table_free(struct table *t)
{
    for (size_t i = 0; i < t->nrows * t->ncols; i++)
        free(t->cells[i]);
    free(t->cells);
    memset(t, 0, sizeof(*t));
}
