/*
 * sim_query.h - what every simulated endpoint shares: the reply, the
 * Segment error envelopes, query-string parsing (dot and bracket forms,
 * percent-decoding), pagination (with the repeat_cursor and
 * duplicate_items faults) and the time parameters with their range rules.
 *
 * Pure functions of their arguments; a struct sim_query and a struct
 * sim_reply belong to one request thread.  Strings returned by
 * sim_qget/sim_qlist point into the query and live until sim_query_free.
 */
#ifndef SEGALERT_SIM_QUERY_H
#define SEGALERT_SIM_QUERY_H

#include <stdbool.h>
#include <stddef.h>

#include "core/util.h"
#include "sim_scenario.h"

/* Values one array parameter may carry (groupBy.0 ... groupBy.63). */
#define SIM_MAX_LIST 64

struct sim_reply {
    int status;
    struct strbuf body;
    const char *content_type;   /* static string */
};

/* Fill r with the standard envelope
 * {"errors":[{"type":..,"message":..[,"field":..][,"status":..]}]}
 * (404s carry no status, as Segment's do). */
void sim_reply_error(struct sim_reply *r, int status, const char *type,
                     const char *message, const char *field);
void sim_reply_not_found(struct sim_reply *r);
/* 422 ValidationFailure naming field. */
void sim_reply_invalid(struct sim_reply *r, const char *field,
                       const char *fmt, ...) PRINTF_LIKE(3, 4);
/* Status 200, application/json (the body is written by the caller). */
void sim_reply_ok(struct sim_reply *r);

/* Percent-decode s (no '+' to space: timestamps may carry "+00:00"). */
char *sim_url_decode(const char *s, size_t len);

struct sim_qparam {
    char *key;      /* normalised: "pagination[count]" -> "pagination.count" */
    char *val;
};

struct sim_query {
    struct sim_qparam *p;
    size_t n, cap;
    char *owned[SIM_MAX_LIST];  /* values split out of "a,b" lists */
    size_t n_owned;
};

/* Parse a raw query string (without '?'; NULL is empty) into q, which
 * the caller zero-initialises. */
void sim_query_parse(struct sim_query *q, const char *s);
void sim_query_free(struct sim_query *q);
/* Last value of key, or NULL. */
const char *sim_qget(const struct sim_query *q, const char *key);
/*
 * Values of an array parameter in any of the forms clients use:
 * name.0=a&name.1=b, name[0]=a, name[]=a, repeated name=a&name=b and the
 * old comma-separated name=a,b.  Returns the count (<= SIM_MAX_LIST).
 */
size_t sim_qlist(struct sim_query *q, const char *name, const char **out);

struct sim_page {
    size_t offset, count;
    bool repeat_cursor;         /* fault: next == current, forever */
    bool duplicate_items;       /* fault: pages overlap by one item */
};

/* pagination.count / pagination.cursor of q for a listing at path (the
 * path selects the pagination faults).  -1 with a 422 in r. */
int sim_page_parse(const struct scenario *sc, const struct sim_query *q,
                   const char *path, struct sim_page *pg,
                   struct sim_reply *r);
/* The items [*lo, *hi) of total this page shows. */
void sim_page_range(const struct sim_page *pg, size_t total, size_t *lo,
                    size_t *hi);
/* "pagination":{"current","next"?,"previous","totalEntries"} (jw_*). */
void sim_page_json(struct strbuf *sb, const struct sim_page *pg,
                   size_t total);

enum sim_gran { SIM_MINUTE = 0, SIM_HOUR, SIM_DAY, SIM_GRAN_COUNT };

/* Range rules of an endpoint family, per granularity. */
struct sim_range_limits {
    double max_window_s[SIM_GRAN_COUNT];
    double oldest_s[SIM_GRAN_COUNT];
    const char *window_text[SIM_GRAN_COUNT];
    const char *oldest_text[SIM_GRAN_COUNT];
};

/* Delivery metrics: MINUTE 4 h within 48 h, HOUR 7 d / 7 d, DAY 14 d /
 * 14 d.  Delivery Overview: MINUTE 4 h within 48 h, HOUR 14 d within
 * 30 d, DAY 30 d within 30 d. */
extern const struct sim_range_limits sim_delivery_limits;
extern const struct sim_range_limits sim_overview_limits;

const char *sim_gran_name(enum sim_gran g);
double sim_gran_seconds(enum sim_gran g);
/* -1 with a 422 in r for anything but MINUTE, HOUR, DAY. */
int sim_parse_gran(const char *s, enum sim_gran *g, struct sim_reply *r);
/* An ISO-8601 time; -1 with a 422 naming field. */
int sim_parse_time(const char *s, const char *field, double *t,
                   struct sim_reply *r);
/* endTime after startTime, the window and the oldest start within lim
 * (5 minutes of grace: clients compute "now - 48h" on their own clock).
 * -1 with Segment's 422 message in r. */
int sim_check_range(double start, double end, double now, enum sim_gran g,
                    const struct sim_range_limits *lim, struct sim_reply *r);

#endif
