/*
 * discard_reasons.h - why a connection discards events: the top discard
 * reasons of Delivery Overview's failed-delivery step (README.md "Discard
 * reasons"), and a one-line meaning for each code Segment documents.
 *
 * A struct discard_reasons is a plain value (no pointers), so it is copied
 * with `=` or memcpy: the daemon caches it per connection, notifications
 * carry a copy, the state file and the snapshot copy it again.
 *
 * Building one: discard_reasons_add() per (code, count) of the response
 * (a code seen twice - pages, case variants - is summed while it is
 * kept), which keeps the DISCARD_REASONS_MAX largest (a smaller one is
 * replaced by a larger one; every count goes into total), then
 * discard_reasons_finish(), which sorts them by count (then code) and
 * computes each one's share of ALL the discards added (so the shares of
 * the kept ones may sum below 1).
 *
 * Meanings come from a table kept in discard_reasons.c from Segment's
 * published destination error codes (HTTP statuses, INVALID_SETTINGS,
 * MESSAGE_REJECTED, ETIMEDOUT, expires, ...); lookup ignores case; any
 * other 5xx is "server error at the destination"; an unknown code has
 * the meaning "" (never NULL).
 *
 * Pure, no allocation except in the strbuf writers; thread-safe.
 */
#ifndef SEGALERT_DISCARD_REASONS_H
#define SEGALERT_DISCARD_REASONS_H

#include <stdbool.h>
#include <stddef.h>

#include "core/util.h"

/* Reasons kept per connection (the rest only count in total). */
#define DISCARD_REASONS_MAX 5
/* Longest code kept, with the NUL; longer ones are cut. */
#define DISCARD_REASON_CODE_MAX 48

struct discard_reason {
    char code[DISCARD_REASON_CODE_MAX];
    double count;
    double share;           /* of every discard in the window, 0..1 */
};

struct discard_reasons {
    struct discard_reason top[DISCARD_REASONS_MAX];  /* first n used */
    size_t n;
    double total;           /* every discard of the window */
    double from, to;        /* the window read, unix seconds */
    double fetched_at;      /* wall time of the answer */
};

void discard_reasons_init(struct discard_reasons *r);
void discard_reasons_add(struct discard_reasons *r, const char *code,
                         double count);
void discard_reasons_finish(struct discard_reasons *r);

/* The largest reason, or NULL when there is none. */
const struct discard_reason *
discard_reasons_top(const struct discard_reasons *r);

/* One-line meaning of a code ("" when unknown). */
const char *discard_reason_meaning(const char *code);
/* Who usually fixes it: "credentials", "payload", "throttling",
 * "destination", "network", "expired" or "" (unknown). */
const char *discard_reason_kind(const char *code);

/* "401 70% (credentials refused: ...); 400 30% (...)" - the kept reasons,
 * shares in percent; nothing when there is none. */
void discard_reasons_format(const struct discard_reasons *r,
                            struct strbuf *out);
/* Append a JSON array member `key` (jw_* writer, core/json.h):
 * [{"code":..,"count":..,"share":..,"meaning":..}, ...]. */
void discard_reasons_json(const struct discard_reasons *r, const char *key,
                          struct strbuf *out);

#endif
