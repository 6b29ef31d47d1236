/*
 * test_log.c - the logger under concurrent use: threads log while the main
 * thread registers secrets (a reload does that while the HTTP and SMTP
 * threads log).  Before the list was locked, registering reallocated it
 * under readers (ASan: heap-use-after-free; TSan: data race).  And what
 * one line looks like: secrets with quotes redacted, control characters
 * escaped, ill-formed UTF-8 replaced.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/log.h"

#define THREADS 4
#define LINES_PER_THREAD 3000
#define SECRETS 400

static void *logger(void *arg)
{
    long id = (long)arg;
    for (int i = 0; i < LINES_PER_THREAD; i++)
        log_info("thread %ld line %d token=early-secret-%ld", id, i, id % 2);
    return NULL;
}

static void test_log_concurrent_register(void **state)
{
    char path[] = "/tmp/segalert-test-log.XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    int saved = dup(STDERR_FILENO);
    fflush(stderr);
    dup2(fd, STDERR_FILENO);

    log_set_level(LOG_INFO);
    log_set_format(LOG_FMT_TEXT);
    log_secret_register("early-secret-0");
    log_secret_register("early-secret-1");
    pthread_t th[THREADS];
    for (long i = 0; i < THREADS; i++)
        assert_int_equal(pthread_create(&th[i], NULL, logger, (void *)i), 0);
    char s[64];
    for (int i = 0; i < SECRETS; i++) {
        snprintf(s, sizeof(s), "late-secret-%04d", i);
        log_secret_register(s);
        if (i % 50 == 0)
            log_set_level(LOG_INFO);   /* a reload re-applies the level */
    }
    for (int i = 0; i < THREADS; i++)
        pthread_join(th[i], NULL);
    fflush(stderr);
    dup2(saved, STDERR_FILENO);
    close(saved);

    size_t len;
    char *text = read_file(path, 64u << 20, &len);
    assert_non_null(text);
    /* Every line whole (no interleaving) and every secret redacted. */
    size_t lines = 0;
    for (char *line = text, *nl; *line; line = nl + 1) {
        nl = strchr(line, '\n');
        assert_non_null(nl);
        *nl = '\0';
        assert_true(strncmp(line, "ts=", 3) == 0);
        assert_null(strstr(line, "early-secret"));
        assert_non_null(strstr(line, "token=<redacted>"));
        lines++;
    }
    assert_int_equal(lines, THREADS * LINES_PER_THREAD);
    free(text);
    unlink(path);
    close(fd);
    log_secrets_clear();
}

/* The redaction list can be cleared and refilled (reload) while in use. */
static void test_log_clear_while_logging(void **state)
{
    char path[] = "/tmp/segalert-test-log.XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    int saved = dup(STDERR_FILENO);
    fflush(stderr);
    dup2(fd, STDERR_FILENO);
    pthread_t th[THREADS];
    for (long i = 0; i < THREADS; i++)
        assert_int_equal(pthread_create(&th[i], NULL, logger, (void *)i), 0);
    for (int i = 0; i < 200; i++) {
        log_secret_register("early-secret-0");
        log_secret_register("early-secret-1");
        log_secrets_clear();
    }
    log_secret_register("early-secret-0");
    for (int i = 0; i < THREADS; i++)
        pthread_join(th[i], NULL);
    fflush(stderr);
    dup2(saved, STDERR_FILENO);
    close(saved);
    close(fd);
    unlink(path);
    log_secrets_clear();
}

/* ---- what one line looks like ---------------------------------------- */

/* Run fn with stderr captured; returns what it wrote (caller frees). */
static char *capture(void (*fn)(void))
{
    char path[] = "/tmp/segalert-test-log.XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    int saved = dup(STDERR_FILENO);
    fflush(stderr);
    dup2(fd, STDERR_FILENO);
    fn();
    fflush(stderr);
    dup2(saved, STDERR_FILENO);
    close(saved);
    close(fd);
    size_t len;
    char *text = read_file(path, 1u << 20, &len);
    assert_non_null(text);
    unlink(path);
    return text;
}

#define QUOTE_SECRET "pa\"ss\\wo\"rd-7f"

static void log_quote_secret(void)
{
    log_info("smtp: login refused for password %s (again: %s)", QUOTE_SECRET,
             QUOTE_SECRET);
}

/* A secret holding '"' or '\\' is redacted in text and JSON lines alike
 * (it used to be matched after escaping, so it never matched). */
static void test_log_secret_with_quotes(void **state)
{
    (void)state;
    log_set_level(LOG_INFO);
    log_secret_register(QUOTE_SECRET);
    static const enum log_format fmts[] = { LOG_FMT_TEXT, LOG_FMT_JSON };
    for (size_t f = 0; f < ARRAY_SIZE(fmts); f++) {
        log_set_format(fmts[f]);
        char *text = capture(log_quote_secret);
        assert_null(strstr(text, "ss\\\\wo"));    /* escaped form */
        assert_null(strstr(text, "ss\\wo"));        /* raw form */
        assert_null(strstr(text, "rd-7f"));
        assert_non_null(strstr(text, "password <redacted> (again: <redacted>)"));
        free(text);
    }
    log_set_format(LOG_FMT_TEXT);
    log_secrets_clear();
}

static void log_hostile(void)
{
    log_warn("poll: source 'a\x1b[2J\x1b]0;owned\x07" "b\xc2\x9b" "c\x7f' name "
             "'x\xff\xc0\xaf" "y'\tend\r\nnext");
}

/* ESC, BEL, DEL and C1 controls from the API are escaped in text lines
 * and ill-formed UTF-8 becomes U+FFFD: the line is printable, valid UTF-8
 * and one line. */
static void test_log_escapes_controls(void **state)
{
    (void)state;
    log_set_level(LOG_INFO);
    log_set_format(LOG_FMT_TEXT);
    char *text = capture(log_hostile);
    assert_non_null(strstr(text, "'a\\x1b[2J\\x1b]0;owned\\x07b\\u009bc\\x7f'"));
    assert_non_null(strstr(text, "'x\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd" "y'\tend  next\"\n"));
    for (const unsigned char *p = (const unsigned char *)text; *p; p++)
        assert_true(*p >= 0x20 || *p == '\t' || *p == '\n');
    assert_null(strstr(text, "\xc2\x9b"));
    assert_null(strchr(text, '\x7f'));
    assert_int_equal(strchr(text, '\n')[1], '\0');        /* one line */
    free(text);

    log_set_format(LOG_FMT_JSON);
    text = capture(log_hostile);
    assert_non_null(strstr(text, "'a\\u001b[2J\\u001b]0;owned\\u0007b\\u009bc\\u007f'"));
    assert_non_null(strstr(text, "'x\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd" "y'"));
    log_set_format(LOG_FMT_TEXT);
    free(text);
}

/* log_redact: the same redaction for text printed rather than logged. */
static void test_log_redact(void **state)
{
    (void)state;
    log_secret_register("R0uting0Key0abcdef");
    struct strbuf sb = STRBUF_INIT;
    log_redact("400: routing_key 'R0uting0Key0abcdef' is invalid", &sb);
    assert_string_equal(sb.buf, "400: routing_key '<redacted>' is invalid");
    log_redact(NULL, &sb);
    assert_string_equal(sb.buf, "400: routing_key '<redacted>' is invalid");
    strbuf_free(&sb);
    log_secrets_clear();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_log_concurrent_register),
        cmocka_unit_test(test_log_clear_while_logging),
        cmocka_unit_test(test_log_secret_with_quotes),
        cmocka_unit_test(test_log_escapes_controls),
        cmocka_unit_test(test_log_redact),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
