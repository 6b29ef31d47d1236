/* libFuzzer target: UTF-8 repair (core/utf8.h) and the JSON string writer.
 * Properties: a repair is well-formed and leaves well-formed input as it
 * is; a cut never splits a character; a JSON string written from any
 * bytes is one that a strict reader (cJSON, then utf8_valid) takes back. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "core/utf8.h"
#include "core/util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    struct strbuf fixed = STRBUF_INIT;
    utf8_sanitize_append(&fixed, s, size);
    if (!utf8_valid(strbuf_str(&fixed), fixed.len))
        abort();
    bool valid = utf8_valid(s, size);
    if (valid != (fixed.len == size && memcmp(strbuf_str(&fixed), s,
                                              size) == 0))
        abort();
    for (size_t max = 0; max <= fixed.len && max < 64; max++) {
        size_t cut = utf8_cut(strbuf_str(&fixed), fixed.len, max);
        if (cut > max || !utf8_valid(strbuf_str(&fixed), cut))
            abort();
    }
    /* NUL-terminated from here: what the writer takes */
    char *z = xstrndup(s, size);
    struct strbuf json = STRBUF_INIT;
    strbuf_add_json_str(&json, z);
    if (!utf8_valid(json.buf, json.len))
        abort();
    cJSON *j = cJSON_ParseWithLength(json.buf, json.len);
    if (!j || !cJSON_IsString(j))
        abort();
    char *back = utf8_sanitize_dup(z);
    if (strcmp(j->valuestring, back) != 0)
        abort();
    cJSON_Delete(j);
    free(back);
    free(z);
    strbuf_free(&json);
    strbuf_free(&fixed);
    return 0;
}
