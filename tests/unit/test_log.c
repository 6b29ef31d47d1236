/*
 * test_log.c - the logger under concurrent use: threads log while the main
 * thread registers secrets (a reload does that while the HTTP and SMTP
 * threads log).  Before the list was locked, registering reallocated it
 * under readers (ASan: heap-use-after-free; TSan: data race).
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_log_concurrent_register),
        cmocka_unit_test(test_log_clear_while_logging),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
