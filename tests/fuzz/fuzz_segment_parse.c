/* libFuzzer target: every Segment API body parser on the same bytes, and
 * what they promise (api/segment_parse.h): every string in a result and
 * every message is well-formed UTF-8, every count kept is finite, >= 0
 * and <= SEGPARSE_MAX_COUNT. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api/segment_parse.h"
#include "core/utf8.h"

static void ok_str(const char *s)
{
    if (s && !utf8_valid(s, strlen(s)))
        abort();
}

static void ok_counts(const double *v, const bool *has)
{
    for (int m = 0; m < M__COUNT; m++)
        if (has[m] && !(isfinite(v[m]) && v[m] >= 0))
            abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *b = (const char *)data;
    char err[256];
    struct seg_sources s = { 0 };
    err[0] = '\0';
    segparse_sources(b, size, &s, err, sizeof(err));
    ok_str(err);
    ok_str(s.warning);
    ok_str(s.next);
    for (size_t i = 0; i < s.n; i++) {
        ok_str(s.items[i].id);
        ok_str(s.items[i].slug);
        ok_str(s.items[i].name);
    }
    seg_sources_free(&s);
    struct seg_destinations d = { 0 };
    segparse_destinations(b, size, &d, err, sizeof(err));
    ok_str(err);
    for (size_t i = 0; i < d.n; i++) {
        ok_str(d.items[i].id);
        ok_str(d.items[i].name);
        ok_str(d.items[i].slug);
        ok_str(d.items[i].metadata_id);
        ok_str(d.items[i].source_id);
    }
    seg_destinations_free(&d);
    struct seg_delivery dm;
    if (segparse_delivery_metrics(b, size, 0.001, &dm, err, sizeof(err)) == 0) {
        ok_str(dm.source_id);
        ok_str(dm.destination_metadata_id);
        ok_str(dm.first_unknown);
        ok_str(dm.warning);
        ok_str(dm.implausible.first);
        /* attempted adds three counts: never more than 3 x the maximum */
        for (int m = 0; m < M__COUNT; m++)
            if (dm.has[m] &&
                !(dm.v[m] >= 0 && dm.v[m] <= 3 * SEGPARSE_MAX_COUNT))
                abort();
    }
    ok_str(err);
    struct seg_volume v = { 0 };
    segparse_event_volume(b, size, &v, err, sizeof(err));
    ok_str(err);
    for (size_t g = 0; g < v.ngroups; g++) {
        ok_str(v.groups[g].source_id);
        ok_str(v.groups[g].source_name);
        ok_str(v.groups[g].source_slug);
        for (size_t i = 0; i < v.groups[g].npoints; i++)
            if (!(v.groups[g].points[i].count >= 0 &&
                  v.groups[g].points[i].count <= SEGPARSE_MAX_COUNT))
                abort();
    }
    seg_volume_free(&v);
    for (int k = 0; k < USAGE__COUNT; k++) {
        struct seg_usage u = { 0 };
        segparse_usage((enum seg_usage_kind)k, b, size, &u, err, sizeof(err));
        ok_str(err);
        for (size_t i = 0; i < u.nrows; i++) {
            ok_str(u.rows[i].source_id);
            ok_counts(u.rows[i].v, u.rows[i].has);
        }
        seg_usage_free(&u);
    }
    struct seg_error e;
    segparse_error(b, size, &e);
    ok_str(e.type);
    ok_str(e.message);
    ok_str(e.field);
    return 0;
}
