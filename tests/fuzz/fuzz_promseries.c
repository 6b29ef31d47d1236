/* libFuzzer target: promtool series notation. */
#include <stdint.h>
#include <stdlib.h>

#include "engine/promseries.h"
#include "core/util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *src = xstrndup((const char *)data, size);
    struct promseries s;
    char err[256];
    if (promseries_parse(src, &s, err, sizeof(err)) == 0)
        promseries_free(&s);
    free(src);
    return 0;
}
