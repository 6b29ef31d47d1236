/* libFuzzer target: the rule expression compiler and evaluator. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "engine/expr.h"
#include "core/util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *src = xstrndup((const char *)data, size);
    struct expr_error err;
    struct expr *e = expr_compile(src, &expr_env_std, &err);
    if (e) {
        double vals[EXPR_VAR__COUNT] = { 1, 2, 3, 4 };
        struct expr_vars vars = { vals, EXPR_VAR__COUNT };
        (void)expr_eval(e, NULL, 1e9, &vars);
        expr_free(e);
    } else {
        struct strbuf sb = STRBUF_INIT;
        expr_error_excerpt(&err, src, &sb);
        strbuf_free(&sb);
    }
    free(src);
    return 0;
}
