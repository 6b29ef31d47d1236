/*
 * html.h - the status page served at GET / (README.md "Operations"): one
 * self-contained HTML document rendered from one snapshot.
 *
 * Pure: reads an immutable snapshot (borrowed; the caller holds a
 * reference, see snapshot.h) and appends to the caller's strbuf.  It never
 * touches the clock: relative times ("12s ago", uptime, staleness) are
 * measured from snapshot->generated_at.  Safe from any thread.  Every
 * value that came from outside (label values from Segment, error
 * messages, comments of silences) is HTML-escaped, and only http(s) links
 * are ever made.
 */
#ifndef SEGALERT_HTML_H
#define SEGALERT_HTML_H

#include "core/util.h"
#include "server/snapshot.h"

#define HTML_CONTENT_TYPE "text/html; charset=utf-8"

/* Seconds between automatic reloads of the page (<meta http-equiv>). */
#define HTML_REFRESH_S 15

/*
 * Inline CSS, inline SVG sparklines, no script, no external assets.
 * Stable hooks for tests and scrapers: sections id="workspaces",
 * "alerts", "rules", "receivers", "silences"; each alert row
 * <tr class="alert" data-rule="..." data-state="...">; each alert has
 * exactly one <svg class="spark">.
 */
void html_status_page(const struct snapshot *s, struct strbuf *out);

/* Append s with & < > " ' replaced by entities (NULL appends nothing). */
void html_escape(struct strbuf *out, const char *s);

#endif
