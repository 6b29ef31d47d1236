/*
 * diag.c - see diag.h.
 */
#include "core/diag.h"

#include <stdlib.h>

void diag_add(struct diag_list *dl, enum diag_severity sev, const char *file,
              int line, int col, const char *fmt, ...)
{
    struct strbuf sb = STRBUF_INIT;
    va_list ap;
    va_start(ap, fmt);
    strbuf_vaddf(&sb, fmt, ap);
    va_end(ap);
    XGROW(dl->items, dl->n + 1, dl->cap);
    struct diag *d = &dl->items[dl->n++];
    d->severity = sev;
    d->file = xstrdup(file);
    d->line = line;
    d->col = col;
    d->msg = strbuf_detach(&sb);
    if (sev == DIAG_ERROR)
        dl->nerrors++;
}

void diag_format(const struct diag *d, struct strbuf *sb)
{
    if (d->file) {
        strbuf_adds(sb, d->file);
        if (d->line > 0) {
            strbuf_addf(sb, ":%d", d->line);
            if (d->col > 0)
                strbuf_addf(sb, ":%d", d->col);
        }
        strbuf_adds(sb, ": ");
    }
    if (d->severity == DIAG_WARNING)
        strbuf_adds(sb, "warning: ");
    strbuf_adds(sb, d->msg);
}

void diag_print(const struct diag_list *dl, FILE *out)
{
    struct strbuf sb = STRBUF_INIT;
    for (size_t i = 0; i < dl->n; i++) {
        strbuf_reset(&sb);
        diag_format(&dl->items[i], &sb);
        fprintf(out, "%s\n", strbuf_str(&sb));
    }
    strbuf_free(&sb);
}

void diag_list_free(struct diag_list *dl)
{
    for (size_t i = 0; i < dl->n; i++) {
        free(dl->items[i].file);
        free(dl->items[i].msg);
    }
    free(dl->items);
    dl->items = NULL;
    dl->n = dl->cap = dl->nerrors = 0;
}
