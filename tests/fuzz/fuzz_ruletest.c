/* libFuzzer target: rule test files (`segalert test`), parsed and run.
 * The seeds are the files of tests/rules, which name the shipped packs as
 * "../../rules/NAME.conf": the input is written two directories below a
 * copy of rules/ (run.sh runs this from the repository's top). */
#include "fuzz_common.h"

#include <glob.h>
#include <sys/stat.h>

#include "core/util.h"
#include "engine/ruletest.h"

static void copy_packs(void)
{
    char *d = xasprintf("%s/rules", fuzz_dir());
    mkdir(d, 0700);
    free(d);
    d = xasprintf("%s/t", fuzz_dir());
    mkdir(d, 0700);
    free(d);
    d = xasprintf("%s/t/r", fuzz_dir());
    mkdir(d, 0700);
    free(d);
    glob_t g;
    if (glob("rules/*.conf", 0, NULL, &g) != 0)
        return;
    for (size_t i = 0; i < g.gl_pathc; i++) {
        size_t len;
        char *text = read_file(g.gl_pathv[i], 1 << 20, &len);
        if (text)
            fuzz_write(g.gl_pathv[i], (const uint8_t *)text, len);
        free(text);
    }
    globfree(&g);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static FILE *devnull;
    if (!devnull) {
        copy_packs();
        if (!(devnull = fopen("/dev/null", "w")))
            abort();
    }
    const char *path = fuzz_write("t/r/rules.test", data, size);
    int passed = 0, failed = 0;
    (void)ruletest_run_file(path, devnull, devnull, &passed, &failed);
    return 0;
}
