/* libFuzzer target: template compiler and renderer. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "engine/template.h"

static bool num(void *ud, const char *name, double *out)
{
    (void)ud;
    *out = strlen(name) % 2 ? 0.0421 : NAN;
    return name[0] == 'v';
}

static bool str(void *ud, const char *name, const char **out)
{
    (void)ud;
    *out = "web<prod>\\r\\n";
    return name[0] != 'x';
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *src = xstrndup((const char *)data, size);
    struct template_error err;
    struct template *t = template_compile(src, NULL, NULL, &err);
    if (t) {
        struct strbuf sb = STRBUF_INIT;
        struct template_lookup lk = { num, str, NULL };
        template_render(t, &lk, &sb);
        strbuf_free(&sb);
        template_free(t);
    }
    free(src);
    return 0;
}
