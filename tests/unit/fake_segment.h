/*
 * fake_segment.h - a fake Segment Public API for unit tests, on top of the
 * fake transport (fake_transport.h): answers the oldest pending request the
 * way the API would, from the JSON fixtures of tests/fixtures (sources,
 * connected destinations, delivery metrics, event volume, the four usage
 * lists with a second, empty page).
 *
 * A test can refuse requests whose path contains `fail_path` with
 * `fail_status` (a Segment error body), serve its own body for the
 * connected destinations, or route any request itself first (`route`:
 * pagination loops, repeated items, 404s of one source...).  Header-only,
 * as fake_transport.h.
 */
#ifndef SEGALERT_TEST_FAKE_SEGMENT_H
#define SEGALERT_TEST_FAKE_SEGMENT_H

#include "fake_transport.h"

/* A test's own answer for path: return true with *status and *body (the
 * fake copies it), or false to let the fake answer as usual. */
typedef bool (*fake_route_fn)(void *ud, const char *path, long *status,
                              const char **body);

struct fake_segment {
    const char *base;               /* API base URL the client uses */
    const char *fail_path;          /* refuse requests whose path has it */
    long fail_status;               /* with this status */
    const char *destinations_body;  /* NULL = connected-destinations.json */
    const char *fail_message;       /* error message; NULL = Unauthorized */
    fake_route_fn route;            /* asked first when set */
    void *route_ud;
};

/* The last page of a paged usage list. */
static const char fake_segment_mtu_sources_last[] =
    "{\"data\":{\"dailyPerSourceMTUUsage\":[],\"pagination\":"
    "{\"current\":\"NA==\",\"totalEntries\":4}}}";
static const char fake_segment_api_sources_last[] =
    "{\"data\":{\"dailyPerSourceAPICallsUsage\":[],\"pagination\":"
    "{\"current\":\"NA==\",\"totalEntries\":4}}}";

/* Answer pending request i.  Returns false (answering nothing) when the
 * request is not one the fake knows. */
static inline bool fake_segment_serve(struct fake_transport *f, size_t i,
                                      const struct fake_segment *api)
{
    const char *url = f->pending[i]->url;
    size_t bl = strlen(api->base);
    if (strncmp(url, api->base, bl) != 0 || url[bl] != '/')
        return false;
    const char *path = url + bl;
    bool next_page = strstr(path, "pagination.cursor=") != NULL;
    const char *fixture = NULL, *inline_body = NULL;

    if (api->route) {
        long status = 200;
        const char *body = NULL;
        if (api->route(api->route_ud, path, &status, &body)) {
            fake_reply_with(f, i, status, body);
            return true;
        }
    }
    if (api->fail_path && strstr(path, api->fail_path)) {
        char body[512];
        snprintf(body, sizeof(body), "{\"errors\":[{\"type\":\"%s\","
                 "\"message\":\"%s\"}]}",
                 api->fail_status == 403 ? "Forbidden" :
                 api->fail_status == 404 ? "NotFound" : "Unauthorized",
                 api->fail_message ? api->fail_message : "Unauthorized");
        fake_reply_with(f, i, api->fail_status, body);
        return true;
    }
    if (str_has_prefix(path, "/sources?"))
        fixture = "sources-list.json";
    else if (str_has_prefix(path, "/sources/") &&
             strstr(path, "/connected-destinations?")) {
        if (api->destinations_body)
            inline_body = api->destinations_body;
        else
            fixture = "connected-destinations.json";
    } else if (str_has_prefix(path, "/destinations/") &&
               strstr(path, "/delivery-metrics?"))
        fixture = "delivery-metrics-ok.json";
    else if (str_has_prefix(path, "/events/volume?"))
        fixture = "event-volume-hour.json";
    else if (str_has_prefix(path, "/usage/mtu/sources/daily?") && next_page)
        inline_body = fake_segment_mtu_sources_last;
    else if (str_has_prefix(path, "/usage/mtu/sources/daily?"))
        fixture = "mtu-sources-daily.json";
    else if (str_has_prefix(path, "/usage/mtu/daily?"))
        fixture = "mtu-workspace-daily.json";
    else if (str_has_prefix(path, "/usage/api-calls/sources/daily?") &&
             next_page)
        inline_body = fake_segment_api_sources_last;
    else if (str_has_prefix(path, "/usage/api-calls/sources/daily?"))
        fixture = "api-calls-sources-daily.json";
    else if (str_has_prefix(path, "/usage/api-calls/daily?"))
        fixture = "api-calls-workspace-daily.json";
    else
        return false;

    if (fixture) {
        char *body = fake_fixture(fixture);
        fake_reply_with(f, i, 200, body);
        free(body);
    } else {
        fake_reply_with(f, i, 200, inline_body);
    }
    return true;
}

#endif
