/* libFuzzer target: the configuration loader (libconfuse plus the semantic
 * checks, rule files included through rule_files), as `segalert check`
 * runs it: load, require rules, compile the rules. */
#include "fuzz_common.h"

#include "config/config.h"
#include "core/diag.h"
#include "engine/rules.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* The input is the main file; a second file, rules.conf, gets the
     * same bytes so that a rule_files = {"rules.conf"} seed reaches the
     * rule loader with whatever the mutation made. */
    fuzz_write("rules.conf", data, size);
    const char *path = fuzz_write("segalert.conf", data, size);
    struct diag_list dl = DIAG_LIST_INIT;
    struct config *cfg = config_load(path, &dl);
    if (cfg) {
        config_require_rules(cfg, &dl);
        struct ruleset *rs = ruleset_compile(cfg, &dl);
        ruleset_free(rs);
        config_free(cfg);
    }
    diag_list_free(&dl);
    return 0;
}
