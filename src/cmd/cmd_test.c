/*
 * cmd_test.c - `segalert test FILE...`: run rule unit tests.
 */
#include <stdio.h>
#include <string.h>

#include "cmd/cli.h"
#include "core/log.h"
#include "engine/ruletest.h"

static void test_usage(FILE *out)
{
    fprintf(out,
            "usage: segalert test FILE...\n"
            "\n"
            "Run rule unit tests: synthetic series in promtool notation are fed to\n"
            "the rules of the files named by each test's rule_files, and the alert\n"
            "states, severities, labels, values and summaries are compared with the\n"
            "test's expectations.  Prints one line per test (ok / FAIL with the\n"
            "difference), then 'N passed, N failed'.  Exit 1 when a test fails, 2\n"
            "when a file cannot be used.\n");
}

int cmd_test(int argc, char **argv)
{
    int passed = 0, failed = 0, rc = 0, nfiles = 0;
    log_set_level(LOG_WARN);
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            test_usage(stdout);
            return 0;
        }
        if (argv[i][0] == '-' && argv[i][1]) {
            fprintf(stderr, "segalert test: unknown option '%s'\n", argv[i]);
            test_usage(stderr);
            return 2;
        }
    }
    for (int i = 1; i < argc; i++) {
        nfiles++;
        if (ruletest_run_file(argv[i], stdout, stderr, &passed, &failed) != 0)
            rc = 2;
    }
    if (nfiles == 0) {
        test_usage(stderr);
        return 2;
    }
    printf("%d passed, %d failed\n", passed, failed);
    if (rc)
        return rc;
    return failed ? 1 : 0;
}
