/*
 * silence_api.c - see silence_api.h.
 */
#include "server/silence_api.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "core/json.h"
#include "core/util.h"
#include "notify/silence.h"

/* Longest "label=glob" text of one matcher. */
#define MATCHER_TEXT_SIZE 1024

void silence_request_free(struct silence_request *req)
{
    if (!req)
        return;
    kv_array_free(req->matchers, req->nmatchers);
    free(req->created_by);
    free(req->comment);
    memset(req, 0, sizeof(*req));
}

/* One matcher, "label=glob" or {"name","value","isRegex","isEqual"}, into
 * out.  Returns 0 or -1 (err). */
static int parse_matcher(const cJSON *it, size_t i, struct kv *out, char *err,
                         size_t errlen)
{
    char text[MATCHER_TEXT_SIZE], why[256];
    if (cJSON_IsString(it)) {
        snprintf(text, sizeof(text), "%s", it->valuestring);
    } else if (cJSON_IsObject(it)) {
        /* Alertmanager's form */
        const char *name = json_str(it, "name");
        const char *value = json_str(it, "value");
        if (!name || !value) {
            snprintf(err, errlen, "matchers[%zu]: expected \"label=glob\" "
                                  "or {\"name\",\"value\"}", i);
            return -1;
        }
        if (json_bool(it, "isRegex")) {
            snprintf(err, errlen, "matchers[%zu]: regex matchers are not "
                                  "supported; use a glob", i);
            return -1;
        }
        if (cJSON_IsFalse(json_member(it, "isEqual"))) {
            snprintf(err, errlen, "matchers[%zu]: negative matchers are not "
                                  "supported", i);
            return -1;
        }
        snprintf(text, sizeof(text), "%s=%s", name, value);
    } else {
        snprintf(err, errlen, "matchers[%zu]: expected a string", i);
        return -1;
    }
    if (silence_parse_matcher(text, out, why, sizeof(why)) != 0) {
        snprintf(err, errlen, "matchers[%zu]: %s", i, why);
        return -1;
    }
    return 0;
}

/* Has s something other than white space? */
static bool has_text(const char *s)
{
    for (; s && *s; s++)
        if (*s != ' ' && *s != '\t' && *s != '\n' && *s != '\r')
            return true;
    return false;
}

/* The string members, in this order (comment is required). */
enum { OPT_STARTS, OPT_ENDS, OPT_DURATION, OPT_COMMENT, OPT_BY, OPT__COUNT };
static const char *const opt_keys[OPT__COUNT] = {
    "startsAt", "endsAt", "duration", "comment", "createdBy"
};

/* The time range from startsAt and duration or endsAt.  0 or -1 (err). */
static int parse_range(const char *const v[OPT__COUNT], double now,
                       struct silence_request *req, char *err, size_t errlen)
{
    const char *starts = v[OPT_STARTS], *ends = v[OPT_ENDS],
               *dur = v[OPT_DURATION];
    double d = 0;
    req->starts_at = now;
    if (starts && parse_iso8601(starts, &req->starts_at) != 0) {
        snprintf(err, errlen, "startsAt: expected an RFC 3339 time such as "
                              "2026-08-20T12:00:00Z");
        return -1;
    }
    if ((dur != NULL) == (ends != NULL)) {
        snprintf(err, errlen, "give either duration (\"2h\") or endsAt "
                              "(RFC 3339)");
        return -1;
    }
    if (dur) {
        if (parse_duration(dur, &d) != 0 || d <= 0) {
            snprintf(err, errlen, "duration: expected a positive duration "
                                  "such as 30m or 2h, got '%s'", dur);
            return -1;
        }
        req->ends_at = req->starts_at + d;
    } else if (parse_iso8601(ends, &req->ends_at) != 0) {
        snprintf(err, errlen, "endsAt: expected an RFC 3339 time such as "
                              "2026-08-20T12:00:00Z");
        return -1;
    }
    if (req->ends_at <= now) {
        snprintf(err, errlen, "the silence would already be over");
        return -1;
    }
    return 0;
}

int silence_api_parse(const char *body, size_t len, double now,
                      struct silence_request *req, char *err, size_t errlen)
{
    const char *end = NULL;
    memset(req, 0, sizeof(*req));
    cJSON *j = cJSON_ParseWithLengthOpts(body, len, &end, false);
    if (!j) {
        snprintf(err, errlen, "the body is not valid JSON");
        return -1;
    }
    while (end && (size_t)(end - body) < len &&
           (*end == ' ' || *end == '\n' || *end == '\r' || *end == '\t'))
        end++;
    if (end && (size_t)(end - body) < len) {
        snprintf(err, errlen, "the body has trailing bytes after the JSON");
        goto fail;
    }
    if (!cJSON_IsObject(j)) {
        snprintf(err, errlen, "the body must be a JSON object");
        goto fail;
    }
    const cJSON *ms = json_member(j, "matchers");
    if (!cJSON_IsArray(ms) || cJSON_GetArraySize(ms) == 0) {
        snprintf(err, errlen, "matchers: expected a non-empty array of "
                              "\"label=glob\" strings");
        goto fail;
    }
    req->matchers = xcalloc((size_t)cJSON_GetArraySize(ms),
                            sizeof(*req->matchers));
    const cJSON *it;
    cJSON_ArrayForEach(it, ms) {
        if (parse_matcher(it, req->nmatchers,
                          &req->matchers[req->nmatchers], err, errlen) != 0)
            goto fail;
        req->nmatchers++;
    }
    const char *v[OPT__COUNT];
    for (int i = 0; i < OPT__COUNT; i++) {
        v[i] = NULL;
        if (json_member(j, opt_keys[i]) &&
            json_get_string(j, opt_keys[i], true, &v[i], NULL, 0) != 0) {
            snprintf(err, errlen, "startsAt, endsAt, duration, comment and "
                                  "createdBy must be strings");
            goto fail;
        }
    }
    if (parse_range(v, now, req, err, errlen) != 0)
        goto fail;
    if (!has_text(v[OPT_COMMENT])) {
        snprintf(err, errlen, "comment: say why the silence is needed (a "
                              "non-empty comment is required)");
        goto fail;
    }
    /* Copies: the tree goes now. */
    req->created_by = xstrdup(v[OPT_BY]);
    req->comment = xstrdup(v[OPT_COMMENT]);
    cJSON_Delete(j);
    return 0;
fail:
    silence_request_free(req);
    cJSON_Delete(j);
    return -1;
}
