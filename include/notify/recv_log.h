/*
 * recv_log.h - the `log` receiver type (recv_log.c): one line per
 * notification on stdout.  The same line is what a dry run prints for
 * every receiver (deliver.h).
 *
 * recv_log_line() is pure; recv_log_print() writes to stdout (main
 * thread).
 */
#ifndef SEGALERT_RECV_LOG_H
#define SEGALERT_RECV_LOG_H

#include "core/util.h"
#include "notify/notify.h"
#include "notify/receiver.h"

extern const struct receiver_ops recv_log;

/*
 * One line per notification (ends with "\n"):
 *   notify receiver=console id=ID reason=first status=firing
 *   rule=delivery-discard-ratio alerts=2 firing=2 resolved=0
 *   severity=critical labels={source="web",...} summary="..."
 * labels = the labels common to every alert; summary = the lead alert's.
 * Values with spaces, quotes or control characters are quoted with C
 * escapes, so the line never breaks.  Appended to out.
 */
void recv_log_line(const struct notification *n, struct strbuf *out);

/* Print prefix (may be NULL) and line on stdout, with a newline when line
 * has none, and flush. */
void recv_log_print(const char *prefix, const struct strbuf *line);

#endif
