/*
 * log.h - leveled logging to stderr in logfmt or JSON lines.
 *
 *   ts=2026-11-26T10:00:00Z level=warn msg="segment: request failed" ws=prod
 *
 * The message is formatted only when the level is enabled.  Secrets must
 * never be passed here; log_secret_register() adds a string that is
 * replaced by "<redacted>" wherever it would appear, as a second line of
 * defence (tokens, webhook URLs, passwords are registered at config load).
 * Redaction runs on the message before it is escaped, so a secret holding
 * '"' or '\' is redacted too.
 *
 * Lines are always well-formed UTF-8 (ill-formed bytes become U+FFFD).  In
 * text lines control characters other than tab - ESC, BEL, DEL, the C1
 * controls - are escaped (\x1b, \u009b) and CR/LF become spaces, so text
 * from the API cannot drive the terminal that shows the log; JSON lines
 * escape them as JSON does (\u001b).
 */
#ifndef SEGALERT_LOG_H
#define SEGALERT_LOG_H

#include "core/util.h"

enum log_level { LOG_ERR = 0, LOG_WARN, LOG_INFO, LOG_DEBUG };
enum log_format { LOG_FMT_TEXT = 0, LOG_FMT_JSON };

void log_set_level(enum log_level lvl);
enum log_level log_get_level(void);
void log_set_format(enum log_format fmt);
/* "error|warn|info|debug" -> level; -1 when unknown */
int log_level_parse(const char *s);
/* Apply a configuration's log_level / log_format ("info", "text"; NULL or
 * unknown = those defaults), where the command line wins: verbose forces
 * debug, format_override (NULL = none) replaces the format. */
void log_configure(const char *level, const char *format, bool verbose,
                   const char *format_override);

/* Register a secret (copied) to be redacted from every log line. */
void log_secret_register(const char *secret);
void log_secrets_clear(void);
/* Append in to out with every registered secret replaced by "<redacted>":
 * for text from outside that is printed rather than logged (the answer a
 * receiver gave, shown by notify-test). */
void log_redact(const char *in, struct strbuf *out);

void log_msg(enum log_level lvl, const char *fmt, ...) PRINTF_LIKE(2, 3);

/*
 * An event for people and machines (an alert changed): the message is one
 * human line; with the JSON format the members of json_fields (a JSON
 * object, "{...}", or NULL) are added to the line's object, so machines
 * keep rule, severity, labels and value.  In the text format on a
 * terminal (stderr a TTY, NO_COLOR unset, TERM not "dumb") the message is
 * coloured; never in a file or a pipe.
 */
enum log_colour { LOG_COLOUR_NONE = 0, LOG_COLOUR_RED, LOG_COLOUR_YELLOW,
                  LOG_COLOUR_GREEN, LOG_COLOUR_BLUE };
void log_event(enum log_level lvl, enum log_colour colour,
               const char *json_fields, const char *fmt, ...)
    PRINTF_LIKE(4, 5);

#define log_enabled(lvl) ((lvl) <= log_get_level())
#define log_err(...)   log_msg(LOG_ERR, __VA_ARGS__)
#define log_warn(...)  do { if (log_enabled(LOG_WARN)) log_msg(LOG_WARN, __VA_ARGS__); } while (0)
#define log_info(...)  do { if (log_enabled(LOG_INFO)) log_msg(LOG_INFO, __VA_ARGS__); } while (0)
#define log_debug(...) do { if (log_enabled(LOG_DEBUG)) log_msg(LOG_DEBUG, __VA_ARGS__); } while (0)

/*
 * Rate-limited complaints (collectd's c_complain): the first failure is
 * logged at once, repeats at most every interval (doubling up to 1 h),
 * and log_release() prints one "recovered" line if anything was logged.
 */
struct log_complaint {
    double last;        /* wall time of the last logged complaint */
    double interval;    /* current back-off, seconds */
    unsigned suppressed;
    bool active;
};
void log_complain(struct log_complaint *c, enum log_level lvl,
                  const char *fmt, ...) PRINTF_LIKE(3, 4);
void log_release(struct log_complaint *c, const char *fmt, ...) PRINTF_LIKE(2, 3);

#endif
