/* libFuzzer target: every Segment API body parser on the same bytes. */
#include <stdint.h>
#include <stdlib.h>

#include "api/segment_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *b = (const char *)data;
    char err[256];
    struct seg_sources s = { 0 };
    segparse_sources(b, size, &s, err, sizeof(err));
    seg_sources_free(&s);
    struct seg_destinations d = { 0 };
    segparse_destinations(b, size, &d, err, sizeof(err));
    seg_destinations_free(&d);
    struct seg_delivery dm;
    segparse_delivery_metrics(b, size, 0.001, &dm, err, sizeof(err));
    struct seg_volume v = { 0 };
    segparse_event_volume(b, size, &v, err, sizeof(err));
    seg_volume_free(&v);
    for (int k = 0; k < USAGE__COUNT; k++) {
        struct seg_usage u = { 0 };
        segparse_usage((enum seg_usage_kind)k, b, size, &u, err, sizeof(err));
        seg_usage_free(&u);
    }
    struct seg_error e;
    segparse_error(b, size, &e);
    return 0;
}
