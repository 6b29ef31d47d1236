/*
 * test_receiver_type.c - the table of receiver types (config/receiver_type.h):
 * an unknown type gets a did-you-mean or the list of types, an option of
 * another type draws "not used by", and a program can register its own
 * table without config knowing the types.  The built-in types are the
 * notification layer's (notify/receiver.h), registered in setup the way
 * main() does.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/config.h"
#include "config/receiver_type.h"
#include "config/schema.h"
#include "config/section.h"
#include "core/diag.h"
#include "core/util.h"
#include "notify/receiver.h"
#include "notify/recv_alertmanager.h"
#include "notify/recv_email.h"
#include "notify/recv_pagerduty.h"

#include "receivers_fixture.h"

#define NBUILTIN 6

static char dir[] = "/tmp/segalert-rtype-XXXXXX";

static int setup(void **state)
{
    (void)state;
    if (!mkdtemp(dir) || chdir(dir) != 0)
        return -1;
    fixture_register_receivers(NULL, 0);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    unlink("r.conf");
    return rmdir(dir);
}

/* Load text as a main file; the caller frees both. */
static struct config *load_text(const char *text, struct diag_list *dl)
{
    FILE *f = fopen("r.conf", "w");
    assert_non_null(f);
    fputs("workspace \"p\" { token = \"t0ken\" }\n", f);   /* line 1 */
    fputs(text, f);
    fclose(f);
    struct config *cfg = config_load("r.conf", dl);
    assert_non_null(cfg);
    return cfg;
}

/* Every diagnostic of dl as printed, one a line, for comparing in one
 * assert (cmocka shows both texts when they differ).  The caller frees. */
static char *diags_text(const struct diag_list *dl)
{
    struct strbuf sb = STRBUF_INIT;
    for (size_t i = 0; i < dl->n; i++) {
        diag_format(&dl->items[i], &sb);
        strbuf_addc(&sb, '\n');
    }
    strbuf_adds(&sb, "");
    return strbuf_detach(&sb);
}

#define EXPECT_DIAGS(dl, text) do { \
    char *got_ = diags_text(dl); \
    assert_string_equal(got_, (text)); \
    free(got_); \
} while (0)

/* ---- the built-in table -------------------------------------------------- */

static void test_unknown_type(void **state)
{
    (void)state;
    struct diag_list dl = DIAG_LIST_INIT;
    struct config *cfg = load_text(
        "receiver \"a\" { type = \"webhok\" url = \"http://h/\" }\n"
        "receiver \"b\" { type = \"carrier-pigeon\" }\n"
        "route \"r\" { receiver = \"a\" }\n", &dl);
    EXPECT_DIAGS(&dl,
        "r.conf:2: receiver \"a\": unknown type 'webhok' (did you mean "
        "'webhook'?)\n"
        "r.conf:3: receiver \"b\": unknown type 'carrier-pigeon' (expected "
        "email, slack, pagerduty, webhook, alertmanager or log)\n");
    /* an unknown type leaves the receiver without a type and nothing
     * type-specific is read (or warned about) */
    assert_null(cfg->receivers[0].type);
    assert_null(cfg->receivers[0].priv);
    assert_null(cfg->receivers[0].url);
    config_free(cfg);
    diag_list_free(&dl);
}

static void test_not_used_by(void **state)
{
    (void)state;
    struct diag_list dl = DIAG_LIST_INIT;
    struct config *cfg = load_text(
        "receiver \"s\" {\n"
        "  type = \"slack\"\n"
        "  url = \"https://hooks.example.com/x\"\n"
        "  routing_key = \"k\"\n"                                /* 5 */
        "}\n"
        "receiver \"w\" {\n"
        "  type = \"webhook\"\n"
        "  url = \"https://hooks.example.com/y\"\n"
        "  urls = {\"http://a\"}\n"                              /* 10 */
        "  to = {\"a@example.com\"}\n"                           /* 11 */
        "}\n"
        "receiver \"l\" { type = \"log\" timeout = \"5s\" }\n"   /* 13 */
        "route \"r\" { receiver = \"s\" }\n", &dl);
    EXPECT_DIAGS(&dl,
        "r.conf:5: warning: receiver \"s\": routing_key is not used by slack "
        "receivers\n"
        "r.conf:10: warning: receiver \"w\": urls is not used by webhook "
        "receivers\n"
        "r.conf:11: warning: receiver \"w\": to is not used by webhook "
        "receivers\n"
        "r.conf:13: warning: receiver \"l\": timeout is not used by log "
        "receivers\n");
    assert_int_equal(dl.nerrors, 0);
    /* the options that are used are read; the others are not */
    const struct receiver_cfg *r = config_receiver(cfg, "s");
    assert_string_equal(r->url, "https://hooks.example.com/x");
    assert_null(r->priv);           /* no routing_key: slack keeps none */
    r = config_receiver(cfg, "w");
    assert_null(recv_alertmanager_cfg(r));  /* no urls */
    assert_null(recv_email_cfg(r));         /* no to */
    config_free(cfg);
    diag_list_free(&dl);
}

static void test_builtin_entries(void **state)
{
    (void)state;
    static const char *const names[NBUILTIN] = {
        "email", "slack", "pagerduty", "webhook", "alertmanager", "log"
    };
    for (size_t i = 0; i < NBUILTIN; i++) {
        const struct receiver_type_def *d = receiver_type_find(names[i]);
        assert_non_null(d);
        assert_ptr_equal(d, &receivers_builtin[i]->def);
        assert_string_equal(receiver_type_name(d), names[i]);
    }
    assert_null(receivers_builtin[NBUILTIN]);
    assert_null(receiver_type_find("pigeon"));
    /* the section holds the common options, then each type's, once */
    const struct opt_spec *opts = receiver_section_opts();
    assert_string_equal(opts[0].name, "type");
    size_t nurl = 0;
    for (size_t i = 0; opts[i].name; i++)
        nurl += streq(opts[i].name, "url");
    assert_int_equal(nurl, 1);
    assert_non_null(schema_find_opt(opts, "hmac_secret_file"));

    /* PagerDuty's default URL is the one named constant */
    struct diag_list dl = DIAG_LIST_INIT;
    struct config *cfg = load_text(
        "receiver \"pd\" { type = \"pagerduty\" routing_key = \"k\" }\n"
        "route \"r\" { receiver = \"pd\" }\n", &dl);
    assert_int_equal(dl.n, 0);
    assert_string_equal(cfg->receivers[0].url, PAGERDUTY_DEFAULT_URL);
    assert_string_equal(recv_pagerduty_cfg(&cfg->receivers[0])->routing_key,
                        "k");
    config_free(cfg);
    diag_list_free(&dl);
}

/* ---- a table of the program's own ---------------------------------------- */

static int pigeon_loads;

static const struct opt_spec pigeon_opts[] = {
    { "loft", OPT_STR },
    { "timeout", OPT_STR },
    OPT_END
};

static void load_pigeon(const struct cfg_section *s, struct receiver_cfg *r)
{
    pigeon_loads++;
    section_get_string(s, "loft", &r->url);
    if (!r->url)
        section_error(s, NULL, "loft is required");
}

static const struct receiver_type_def pigeon_type = {
    "pigeon", pigeon_opts, load_pigeon, NULL
};

static const struct opt_spec quiet_opts[] = { OPT_END };

static const struct receiver_type_def quiet_type = {
    "quiet", quiet_opts, NULL, NULL
};

static void test_register(void **state)
{
    (void)state;
    const struct receiver_type_def *const defs[] = { &pigeon_type,
                                                     &quiet_type };
    char err[128];
    assert_int_equal(config_register_receiver_types(defs, 2, err,
                                                    sizeof(err)), 0);
    assert_null(receiver_type_find("slack"));
    assert_ptr_equal(receiver_type_find("pigeon"), &pigeon_type);
    assert_string_equal(receiver_type_name(&pigeon_type), "pigeon");

    pigeon_loads = 0;
    struct diag_list dl = DIAG_LIST_INIT;
    struct config *cfg = load_text(
        "receiver \"p\" { type = \"pigeon\" loft = \"roof\" timeout = \"2s\" "
        "}\n"
        "receiver \"q\" { type = \"quiet\" loft = \"attic\" }\n"
        "receiver \"n\" { type = \"pigeon\" }\n"
        "receiver \"s\" { type = \"slack\" smtp_host = \"h\" }\n"
        "route \"r\" { receiver = \"p\" }\n", &dl);
    EXPECT_DIAGS(&dl,
        "r.conf:3: warning: receiver \"q\": loft is not used by quiet "
        "receivers\n"
        "r.conf:4: receiver \"n\": loft is required\n"
        "r.conf:5: receiver \"s\": no such option 'smtp_host'\n"
        "r.conf:5: receiver \"s\": unknown type 'slack' (expected pigeon or "
        "quiet)\n");
    assert_int_equal(pigeon_loads, 2);
    const struct receiver_cfg *r = config_receiver(cfg, "p");
    assert_ptr_equal(r->type, &pigeon_type);
    assert_string_equal(r->url, "roof");
    assert_true(r->timeout_s == 2);
    /* registered with config only: nothing the deliverer could send with */
    assert_null(receiver_ops_of(r));
    config_free(cfg);
    diag_list_free(&dl);
}

/* Back to the built-in table after a test that registered its own. */
static int restore_builtin(void **state)
{
    (void)state;
    char err[128];
    if (receivers_register(NULL, 0, err, sizeof(err)) != 0)
        return -1;
    return receiver_type_find("slack") && !receiver_type_find("pigeon")
           ? 0 : -1;
}

static const struct opt_spec url_opts[] = {
    { "url", OPT_STR },
    OPT_END
};
static const struct receiver_type_def slack_like = {
    "slack", url_opts, NULL, NULL
};

static const struct opt_spec bad_common_opts[] = {
    { "subject", OPT_STR },
    OPT_END
};
static const struct opt_spec bad_kind_opts[] = {
    { "url", OPT_LIST },
    OPT_END
};

static const struct receiver_type_def common_type = {
    "c", bad_common_opts, NULL, NULL
};
static const struct receiver_type_def kind_type = {
    "k", bad_kind_opts, NULL, NULL
};
static const struct receiver_type_def twin_type = {
    "slack", quiet_opts, NULL, NULL
};

static void test_register_errors(void **state)
{
    (void)state;
    static const struct {
        const struct receiver_type_def *defs[2];
        size_t n;
        const char *err;
    } cases[] = {
        { { &common_type }, 1,
          "receiver type 'c': 'subject' is common to every receiver" },
        { { &slack_like, &kind_type }, 2,
          "receiver type 'k': option 'url' is a list for one type and a "
          "single value for another" },
        { { &slack_like, &twin_type }, 2,
          "receiver type 'slack' is registered twice" },
        { { &slack_like }, 0,
          "between 1 and 16 receiver types can be registered (got 0)" },
    };
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        char err[128];
        assert_int_equal(config_register_receiver_types(cases[i].defs,
                                                        cases[i].n, err,
                                                        sizeof(err)), -1);
        assert_string_equal(err, cases[i].err);
    }
    /* a refused table leaves the one in use */
    assert_non_null(receiver_type_find("alertmanager"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_unknown_type),
        cmocka_unit_test(test_not_used_by),
        cmocka_unit_test(test_builtin_entries),
        cmocka_unit_test_teardown(test_register, restore_builtin),
        cmocka_unit_test(test_register_errors),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
