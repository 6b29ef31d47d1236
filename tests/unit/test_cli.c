/*
 * test_cli.c - option handling of `segalert status` and `segalert silence`
 * through cli_parse(): help on stdout and exit 0, usage errors exit 2
 * before anything is loaded or contacted, and the subcommand checks of
 * silence.  Commands run in-process with stdout and stderr captured.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd/cli.h"
#include "core/log.h"
#include "core/util.h"

#include "receivers_fixture.h"

static char dir[64];
static char conf[128];
static char conf_limits[128];   /* max_silences = 1, 64 bytes each */

/* What a command printed. */
struct run {
    int rc;
    char *out, *err;
};

static char *slurp(FILE *f)
{
    fflush(f);
    long n = ftell(f);
    rewind(f);
    char *buf = xcalloc((size_t)n + 1, 1);
    size_t got = fread(buf, 1, (size_t)n, f);
    buf[got] = '\0';
    fclose(f);
    return buf;
}

/* Run fn with the NULL-terminated arguments, capturing stdout/stderr. */
static struct run run_cmd(int (*fn)(int, char **), ...)
{
    char *argv[16];
    int argc = 0;
    va_list ap;
    va_start(ap, fn);
    const char *a;
    while ((a = va_arg(ap, const char *)) != NULL && argc < 15)
        argv[argc++] = (char *)a;
    va_end(ap);
    argv[argc] = NULL;

    FILE *out = tmpfile(), *err = tmpfile();
    assert_non_null(out);
    assert_non_null(err);
    fflush(stdout);
    fflush(stderr);
    int saved_out = dup(STDOUT_FILENO), saved_err = dup(STDERR_FILENO);
    dup2(fileno(out), STDOUT_FILENO);
    dup2(fileno(err), STDERR_FILENO);
    struct run r;
    r.rc = fn(argc, argv);
    fflush(stdout);
    fflush(stderr);
    dup2(saved_out, STDOUT_FILENO);
    dup2(saved_err, STDERR_FILENO);
    close(saved_out);
    close(saved_err);
    fseek(out, 0, SEEK_END);
    fseek(err, 0, SEEK_END);
    r.out = slurp(out);
    r.err = slurp(err);
    return r;
}

static void run_free(struct run *r)
{
    free(r->out);
    free(r->err);
}

static void expect(struct run r, int rc, const char *out_has,
                   const char *err_has)
{
    if (r.rc != rc)
        fail_msg("exit %d, wanted %d; stdout: %s; stderr: %s", r.rc, rc,
                 r.out, r.err);
    if (out_has && !strstr(r.out, out_has))
        fail_msg("stdout lacks '%s': %s", out_has, r.out);
    if (err_has && !strstr(r.err, err_has))
        fail_msg("stderr lacks '%s': %s", err_has, r.err);
    run_free(&r);
}

static void test_status_options(void **state)
{
    (void)state;
    expect(run_cmd(cmd_status, "status", "--help", NULL), 0,
           "usage: segalert status [-c FILE] [--url URL] [--wide] [--json]",
           NULL);
    expect(run_cmd(cmd_status, "status", "-h", NULL), 0, "--json prints",
           NULL);
    expect(run_cmd(cmd_status, "status", "--bogus", NULL), 2, NULL,
           "usage: segalert status");
    expect(run_cmd(cmd_status, "status", "extra", NULL), 2, NULL,
           "segalert status: unexpected argument 'extra'");
    /* --url is checked before anything is read or asked */
    expect(run_cmd(cmd_status, "status", "--url", "127.0.0.1:9477", NULL), 2,
           NULL, "segalert status: --url '127.0.0.1:9477' is not an http:// "
           "or https:// URL");
    /* checked before the configuration is read or a daemon asked (the
     * private getopt loop took any value and went on: exit 1 here) */
    expect(run_cmd(cmd_status, "status", "-c", conf, "--log-format", "xml",
                   NULL),
           2, NULL, "--log-format must be text or json");
    /* options that parse: the command runs (no daemon, no state: 1) */
    expect(run_cmd(cmd_status, "status", "-c", conf, "--json", NULL), 1,
           NULL, "the HTTP API is disabled");
}

static void test_silence_options(void **state)
{
    (void)state;
    expect(run_cmd(cmd_silence, "silence", "--help", NULL), 0,
           "usage: segalert silence add --match LABEL=GLOB", NULL);
    expect(run_cmd(cmd_silence, "silence", NULL), 2, NULL,
           "usage: segalert silence");
    expect(run_cmd(cmd_silence, "silence", "mute", NULL), 2, NULL,
           "unknown subcommand 'mute'");
    expect(run_cmd(cmd_silence, "silence", "add", "--help", NULL), 0,
           "usage: segalert silence add", NULL);
    expect(run_cmd(cmd_silence, "silence", "list", "-h", NULL), 0,
           "segalert silence list [--all]", NULL);
    expect(run_cmd(cmd_silence, "silence", "list", "--bogus", NULL), 2,
           NULL, "silence list: unrecognized option '--bogus'");
    expect(run_cmd(cmd_silence, "silence", "list", "-c", conf, "extra",
                   NULL),
           2, NULL, "segalert silence list: unexpected argument 'extra'");
    expect(run_cmd(cmd_silence, "silence", "expire", "-c", conf, NULL), 2,
           NULL, "expects one silence ID");
    expect(run_cmd(cmd_silence, "silence", "expire", "-c", conf, "a", "b",
                   NULL),
           2, NULL, "unexpected argument 'b'");
    expect(run_cmd(cmd_silence, "silence", "list", "-c", conf, "--for", "2h",
                   NULL),
           2, NULL, "are for 'add'");
    expect(run_cmd(cmd_silence, "silence", "add", "-c", conf, "--log-format",
                   "xml", "--match", "rule=x", "--for", "1h", NULL),
           2, NULL, "--log-format must be text or json");

    /* options after the subcommand in any order; the state file edited */
    struct run r = run_cmd(cmd_silence, "silence", "add", "--match",
                           "rule=x", "-c", conf, "--for", "1h", "--comment",
                           "test", NULL);
    assert_int_equal(r.rc, 0);
    char id[64];
    snprintf(id, sizeof(id), "%.16s", r.out);
    run_free(&r);
    expect(run_cmd(cmd_silence, "silence", "list", "-c", conf, NULL), 0, id,
           NULL);
    expect(run_cmd(cmd_silence, "silence", "expire", id, "-c", conf, NULL),
           0, "expired", NULL);
    expect(run_cmd(cmd_silence, "silence", "expire", "-c", conf, id, NULL),
           1, NULL, "already expired");
    expect(run_cmd(cmd_silence, "silence", "list", "--all", "-c", conf,
                   NULL),
           0, "expired", NULL);
}

/* A silence needs a reason; its author is recorded; the limits hold
 * without a daemon too. */
static void test_silence_comment_author_limits(void **state)
{
    (void)state;
    expect(run_cmd(cmd_silence, "silence", "add", "-c", conf, "--match",
                   "rule=x", "--for", "1h", NULL),
           2, NULL, "--comment TEXT is required");
    expect(run_cmd(cmd_silence, "silence", "add", "-c", conf, "--match",
                   "rule=x", "--for", "1h", "--comment", " \t", NULL),
           2, NULL, "--comment TEXT is required");

    const char *user = getenv("USER");
    char *saved = user ? xstrdup(user) : NULL;
    setenv("USER", "tester-cli", 1);
    expect(run_cmd(cmd_silence, "silence", "add", "-c", conf, "--match",
                   "rule=author", "--for", "1h", "--comment", "who", NULL),
           0, NULL, NULL);
    expect(run_cmd(cmd_silence, "silence", "add", "-c", conf, "--match",
                   "rule=author2", "--for", "1h", "--comment", "who",
                   "--author", "someone-else", NULL),
           0, NULL, NULL);
    struct run r = run_cmd(cmd_silence, "silence", "list", "-c", conf, NULL);
    assert_int_equal(r.rc, 0);
    assert_non_null(strstr(r.out, "tester-cli"));
    assert_non_null(strstr(r.out, "someone-else"));
    run_free(&r);
    if (saved) {
        setenv("USER", saved, 1);
        free(saved);
    } else {
        unsetenv("USER");
    }

    /* max_silences = 1: a second one waits until the first is expired */
    r = run_cmd(cmd_silence, "silence", "add", "-c", conf_limits, "--match",
                "rule=x", "--for", "1h", "--comment", "first", NULL);
    assert_int_equal(r.rc, 0);
    char id[64];
    snprintf(id, sizeof(id), "%.16s", r.out);
    run_free(&r);
    expect(run_cmd(cmd_silence, "silence", "add", "-c", conf_limits,
                   "--match", "rule=y", "--for", "1h", "--comment", "second",
                   NULL),
           2, NULL, "as many as max_silences allows");
    expect(run_cmd(cmd_silence, "silence", "expire", id, "-c", conf_limits,
                   NULL),
           0, "expired", NULL);
    r = run_cmd(cmd_silence, "silence", "add", "-c", conf_limits, "--match",
                "rule=y", "--for", "1h", "--comment", "second", "--author",
                "a", NULL);
    assert_int_equal(r.rc, 0);
    snprintf(id, sizeof(id), "%.16s", r.out);
    run_free(&r);
    expect(run_cmd(cmd_silence, "silence", "expire", id, "-c", conf_limits,
                   NULL),
           0, "expired", NULL);
    /* max_silence_size_bytes = 64: "rule=y" (6), "a" (1), 57 bytes of
     * comment fit, 58 do not */
    char comment[80];
    memset(comment, 'c', sizeof(comment));
    comment[57] = '\0';
    expect(run_cmd(cmd_silence, "silence", "add", "-c", conf_limits,
                   "--match", "rule=y", "--for", "1h", "--comment", comment,
                   "--author", "a", NULL),
           0, NULL, NULL);
    r = run_cmd(cmd_silence, "silence", "list", "-c", conf_limits, NULL);
    snprintf(id, sizeof(id), "%.16s", strstr(r.out, "\n") + 1);
    run_free(&r);
    expect(run_cmd(cmd_silence, "silence", "expire", id, "-c", conf_limits,
                   NULL),
           0, "expired", NULL);
    comment[57] = 'c';
    comment[58] = '\0';
    expect(run_cmd(cmd_silence, "silence", "add", "-c", conf_limits,
                   "--match", "rule=y", "--for", "1h", "--comment", comment,
                   "--author", "a", NULL),
           2, NULL, "65 bytes (matchers, comment and author), more than "
                    "max_silence_size_bytes (64)");
}

static int group_setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/segalert-test-cli-XXXXXX");
    assert_non_null(mkdtemp(dir));
    snprintf(conf, sizeof(conf), "%s/segalert.conf", dir);
    FILE *f = fopen(conf, "w");
    assert_non_null(f);
    fprintf(f,
            "state_dir = \"%s/state\"\n"
            "listen = \"\"\n"
            "workspace \"w\" {\n"
            "  api_url = \"http://127.0.0.1:1\"\n"
            "  token_env = \"SEGALERT_TEST_CLI_NO_TOKEN\"\n"
            "}\n"
            "receiver \"console\" { type = \"log\" }\n"
            "route \"default\" { receiver = \"console\" }\n", dir);
    fclose(f);
    snprintf(conf_limits, sizeof(conf_limits), "%s/limits.conf", dir);
    f = fopen(conf_limits, "w");
    assert_non_null(f);
    fprintf(f,
            "state_dir = \"%s/state2\"\n"
            "listen = \"\"\n"
            "max_silences = 1\n"
            "max_silence_size_bytes = 64\n"
            "workspace \"w\" { token = \"t\" }\n"
            "receiver \"console\" { type = \"log\" }\n"
            "route \"default\" { receiver = \"console\" }\n", dir);
    fclose(f);
    log_set_level(LOG_ERR);
    return 0;
}

/* Remove path/ and the files in it (no subdirectories are made). */
static void remove_dir(const char *path)
{
    DIR *d = opendir(path);
    if (!d)
        return;
    struct dirent *e;
    char file[512];
    while ((e = readdir(d)) != NULL) {
        if (streq(e->d_name, ".") || streq(e->d_name, ".."))
            continue;
        snprintf(file, sizeof(file), "%s/%s", path, e->d_name);
        unlink(file);
    }
    closedir(d);
    rmdir(path);
}

static int group_teardown(void **state)
{
    (void)state;
    char sub[128];
    snprintf(sub, sizeof(sub), "%s/state", dir);
    remove_dir(sub);
    snprintf(sub, sizeof(sub), "%s/state2", dir);
    remove_dir(sub);
    remove_dir(dir);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_status_options),
        cmocka_unit_test(test_silence_options),
        cmocka_unit_test(test_silence_comment_author_limits),
    };
    fixture_register_receivers(NULL, 0);
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
