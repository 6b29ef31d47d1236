/*
 * silence_api.h - the body of POST /api/v1/silences: parsing and checking
 * the JSON a client sends into the request the main loop executes.
 *
 * Accepted:
 *   {"matchers": ["rule=x", ...] or [{"name","value"[,"isRegex":false]
 *                [,"isEqual":true]}, ...]   (Alertmanager's form),
 *    "duration": "2h" | "endsAt": RFC 3339,  (exactly one of them)
 *    ["startsAt": RFC 3339], "comment", ["createdBy"]}
 * A silence already over (ends before now) is refused; so are regex and
 * negative matchers, which silences do not have, and a silence without a
 * comment (or only white space): whoever finds it later must learn why.
 *
 * Pure apart from allocation; safe from any thread.  The request owns its
 * matchers and strings (silence_request_free).
 */
#ifndef SEGALERT_SILENCE_API_H
#define SEGALERT_SILENCE_API_H

#include <stddef.h>

#include "core/kv.h"

struct silence_request {
    struct kv *matchers;        /* label=glob, checked label names */
    size_t nmatchers;
    double starts_at, ends_at;  /* unix seconds; starts_at defaults to now */
    char *created_by;           /* may be NULL */
    char *comment;              /* never NULL after a successful parse */
};

/* Parse body[0..len) at time now into *req.  Returns 0, or -1 with a
 * message for the client in err (req is then empty). */
int silence_api_parse(const char *body, size_t len, double now,
                      struct silence_request *req, char *err, size_t errlen);
/* Release what req holds and leave it empty; NULL is a no-op. */
void silence_request_free(struct silence_request *req);

#endif
