/* libFuzzer target: the body of POST /api/v1/silences. */
#include "fuzz_common.h"

#include "server/silence_api.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct silence_request req;
    char err[256];
    memset(&req, 0, sizeof(req));
    if (silence_api_parse((const char *)data, size, 1800000000.0, &req, err,
                          sizeof(err)) == 0)
        silence_request_free(&req);
    return 0;
}
