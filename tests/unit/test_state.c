/*
 * test_state.c - state directory (atomic snapshot, load, quarantine,
 * lock; the journal: framing, replay, torn and damaged records,
 * generations) and the JSON forms of notifications and alert instances.
 * The daemon's save/restore with real models: test_persist.c.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/json.h"
#include "daemon/state.h"
#include "engine/alert_json.h"
#include "notify/notify_json.h"

#include "receivers_fixture.h"

/* ---- helpers ----------------------------------------------------------- */

static char *make_tmpdir(void)
{
    char tmpl[] = "/tmp/test_state.XXXXXX";
    char *d = mkdtemp(tmpl);
    assert_non_null(d);
    return xstrdup(d);
}

static void rm_rf(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (streq(e->d_name, ".") || streq(e->d_name, ".."))
            continue;
        char *p = xasprintf("%s/%s", dir, e->d_name);
        struct stat st;
        if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode))
            rm_rf(p);
        else
            unlink(p);
        free(p);
    }
    closedir(d);
    rmdir(dir);
}

/* Names in dir starting with prefix: count, and the first into *first. */
static int count_prefix(const char *dir, const char *prefix, char **first)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (!str_has_prefix(e->d_name, prefix))
            continue;
        if (n++ == 0 && first)
            *first = xasprintf("%s/%s", dir, e->d_name);
    }
    closedir(d);
    return n;
}

static void write_raw(const char *dir, const char *data, size_t len)
{
    char *p = xasprintf("%s/state.json", dir);
    int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, data, len), (ssize_t)len);
    close(fd);
    free(p);
}

static char *slurp(const char *path, size_t *len)
{
    char *b = read_file(path, 1 << 26, len);
    assert_non_null(b);
    return b;
}

/* Silence stderr (log_err lines of expected quarantines). */
static int quiet_begin(void)
{
    fflush(stderr);
    int saved = dup(2);
    int devnull = open("/dev/null", O_WRONLY);
    dup2(devnull, 2);
    close(devnull);
    return saved;
}

static void quiet_end(int saved)
{
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
}

static struct kv *kvs(size_t n, const char *const *pairs)
{
    struct kv *kv = xcalloc(n ? n : 1, sizeof(*kv));
    for (size_t i = 0; i < n; i++) {
        kv[i].key = xstrdup(pairs[2 * i]);
        kv[i].value = xstrdup(pairs[2 * i + 1]);
    }
    return kv;
}

static struct notification *sample_notification(void)
{
    struct notification *n = notification_new();
    n->id = xstrdup("9f3a6c0d2b1e4f57-12");
    n->receiver = xstrdup("ops \"webhook\"");
    n->receiver_type = xstrdup("webhook");
    n->route = xstrdup("default");
    n->group_key = xstrdup("default:{source=\"web\",workspace=\"prod\"}");
    static const char *const gl[] = { "source", "web", "workspace", "prod" };
    n->group_labels = kvs(2, gl);
    n->ngroup_labels = 2;
    n->reason = NOTIFY_NEW_ALERTS;
    n->created_at = 1787227200.123456789;
    n->external_url = NULL;
    n->nalerts = 2;
    n->alerts = xcalloc(2, sizeof(*n->alerts));

    struct notify_alert *a = &n->alerts[0];
    static const char *const l0[] = {
        "destination", "Zürich \"Ω\" 日本 \\ back\nslash",
        "rule", "discard-ratio", "source", "web",
    };
    a->rule = xstrdup("discard-ratio");
    a->fingerprint = xstrdup("0123456789abcdef");
    a->labels = kvs(3, l0);
    a->nlabels = 3;
    a->severity = xstrdup("critical");
    a->status = xstrdup("firing");
    a->nodata = false;
    a->flapping = true;
    a->value = 0.1 + 0.2;               /* needs 17 digits */
    a->summary = xstrdup("Discards at {{value|pct}} — \"high\"\t\x01");
    a->description = NULL;
    a->runbook_url = xstrdup("https://wiki/runbook?a=1&b=\"2\"");
    a->starts_at = 1787227000.5;
    a->ends_at = 0;

    a = &n->alerts[1];
    static const char *const l1[] = { "rule", "stale", "source", "" };
    a->rule = xstrdup("stale");
    a->fingerprint = NULL;
    a->labels = kvs(2, l1);
    a->nlabels = 2;
    a->severity = xstrdup("warning");
    a->status = xstrdup("resolved");
    a->nodata = true;
    a->flapping = false;
    a->value = NAN;
    a->summary = NULL;
    a->description = xstrdup("");
    a->runbook_url = NULL;
    a->starts_at = 1e-300;
    a->ends_at = 1787227300.0000002;
    return n;
}

static bool same_double(double a, double b)
{
    if (isnan(a) || isnan(b))
        return isnan(a) && isnan(b);
    return memcmp(&a, &b, sizeof(a)) == 0;
}

static void assert_kv_equal(const struct kv *a, size_t na, const struct kv *b,
                            size_t nb)
{
    assert_int_equal(na, nb);
    for (size_t i = 0; i < na; i++) {
        assert_string_equal(a[i].key, b[i].key);
        assert_true(streq(a[i].value, b[i].value));
    }
}

static void assert_notification_equal(const struct notification *a,
                                      const struct notification *b)
{
    assert_string_equal(a->id, b->id);
    assert_string_equal(a->receiver, b->receiver);
    assert_string_equal(a->receiver_type, b->receiver_type);
    assert_true(streq(a->route, b->route));
    assert_true(streq(a->group_key, b->group_key));
    assert_kv_equal(a->group_labels, a->ngroup_labels, b->group_labels,
                    b->ngroup_labels);
    assert_int_equal(a->reason, b->reason);
    assert_true(same_double(a->created_at, b->created_at));
    assert_true(streq(a->external_url, b->external_url));
    assert_int_equal(a->nalerts, b->nalerts);
    for (size_t i = 0; i < a->nalerts; i++) {
        const struct notify_alert *x = &a->alerts[i], *y = &b->alerts[i];
        assert_true(streq(x->rule, y->rule));
        assert_true(streq(x->fingerprint, y->fingerprint));
        assert_kv_equal(x->labels, x->nlabels, y->labels, y->nlabels);
        assert_true(streq(x->severity, y->severity));
        assert_true(streq(x->status, y->status));
        assert_int_equal(x->nodata, y->nodata);
        assert_int_equal(x->flapping, y->flapping);
        assert_true(same_double(x->value, y->value));
        assert_true(streq(x->summary, y->summary));
        assert_true(streq(x->description, y->description));
        assert_true(streq(x->runbook_url, y->runbook_url));
        assert_true(same_double(x->starts_at, y->starts_at));
        assert_true(same_double(x->ends_at, y->ends_at));
    }
}

/* Print, parse back (as the state file does), decode. */
static struct notification *through_text(const struct notification *n,
                                         char **text_out)
{
    cJSON *j = notification_to_json(n);
    char *text = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    cJSON *back = cJSON_Parse(text);
    assert_non_null(back);
    char err[256] = "";
    struct notification *m = notification_from_json(back, err, sizeof(err));
    if (!m)
        fail_msg("decode failed: %s", err);
    cJSON_Delete(back);
    if (text_out)
        *text_out = text;
    else
        cJSON_free(text);
    return m;
}

static bool has_key_anywhere(const cJSON *j, const char *key)
{
    for (const cJSON *c = j ? j->child : NULL; c; c = c->next) {
        if (c->string && streq(c->string, key))
            return true;
        if (has_key_anywhere(c, key))
            return true;
    }
    return false;
}

/* ---- notifications ----------------------------------------------------- */

static void test_notification_roundtrip(void **state)
{
    struct notification *n = sample_notification();
    char *text1;
    struct notification *m = through_text(n, &text1);
    assert_notification_equal(n, m);

    /* the second trip prints the very same text */
    char *text2;
    struct notification *m2 = through_text(m, &text2);
    assert_string_equal(text1, text2);
    assert_non_null(strstr(text1, "\"value\":null"));
    assert_non_null(strstr(text1, "\"external_url\":null"));
    assert_non_null(strstr(text1, "\"receiver_type\":\"webhook\""));
    assert_non_null(strstr(text1, "\"reason\":\"new_alerts\""));

    /* no secrets: notifications do not carry them */
    cJSON *j = notification_to_json(n);
    assert_false(has_key_anywhere(j, "url"));
    assert_false(has_key_anywhere(j, "routing_key"));
    assert_false(has_key_anywhere(j, "password"));
    assert_false(has_key_anywhere(j, "hmac_secret"));
    cJSON_Delete(j);

    cJSON_free(text1);
    cJSON_free(text2);
    notification_free(n);
    notification_free(m);
    notification_free(m2);
}

static void test_notification_empty_and_inf(void **state)
{
    struct notification *n = notification_new();
    n->id = xstrdup("x-1");
    n->receiver = xstrdup("log");
    n->receiver_type = xstrdup("log");
    n->reason = NOTIFY_TEST;
    n->alerts = xcalloc(1, sizeof(*n->alerts));
    n->nalerts = 1;
    n->alerts[0].rule = xstrdup("r");
    n->alerts[0].value = INFINITY;
    n->alerts[0].starts_at = -INFINITY;
    n->alerts[0].ends_at = -0.0 + DBL_MAX;
    struct notification *m = through_text(n, NULL);
    assert_notification_equal(n, m);
    assert_null(m->route);
    assert_null(m->group_key);
    assert_int_equal(m->ngroup_labels, 0);
    notification_free(m);

    n->nalerts = 0;     /* no alerts at all */
    free(n->alerts[0].rule);
    n->alerts[0].rule = NULL;
    m = through_text(n, NULL);
    assert_int_equal(m->nalerts, 0);
    notification_free(m);
    notification_free(n);
}

/* The object under test inside a copy of root: the top level, or
 * alerts[alert] when alert >= 0. */
static cJSON *target(cJSON *root, int alert)
{
    if (alert < 0)
        return root;
    return cJSON_GetArrayItem(cJSON_GetObjectItem(root, "alerts"), alert);
}

/* A value of a type member is not; NULL when kind k does not apply.  A
 * null member is a nullable string or a NaN double, so neither strings
 * nor numbers are wrong there. */
static cJSON *wrong_value(const cJSON *member, int k)
{
    switch (k) {
    case 0:
        return cJSON_IsArray(member) ? NULL : cJSON_CreateArray();
    case 1:
        /* an empty object is a valid empty label set */
        return cJSON_IsObject(member) || cJSON_IsArray(member)
                   ? NULL : cJSON_CreateObject();
    case 2:
        /* null may also be a NaN double */
        return cJSON_IsNumber(member) || cJSON_IsRaw(member) ||
               cJSON_IsNull(member) ? NULL : cJSON_CreateNumber(7);
    case 3:
        return cJSON_IsString(member) || cJSON_IsNull(member)
                   ? NULL : cJSON_CreateString("7");
    default:
        return cJSON_IsBool(member) ? NULL : cJSON_CreateTrue();
    }
}

/* Every member removed, or replaced by a wrong type, is an error naming it
 * (never a crash, never a default). */
static void check_hostile_members(const cJSON *root, int alert)
{
    int count = cJSON_GetArraySize(target((cJSON *)root, alert));
    assert_true(count > 5);
    for (int i = 0; i < count; i++) {
        char err[256] = "";
        cJSON *copy = cJSON_Duplicate(root, 1);
        cJSON *obj = target(copy, alert);
        cJSON *item = cJSON_DetachItemFromArray(obj, i);
        struct notification *m = notification_from_json(copy, err,
                                                        sizeof(err));
        if (m)
            fail_msg("missing %s accepted", item->string);
        if (!strstr(err, item->string))
            fail_msg("error for missing %s: '%s'", item->string, err);
        for (int k = 0; k < 5; k++) {
            cJSON *bad = wrong_value(item, k);
            if (!bad)
                continue;
            cJSON_AddItemToObject(obj, item->string, bad);
            m = notification_from_json(copy, err, sizeof(err));
            if (m)
                fail_msg("wrong type %d for %s accepted", k, item->string);
            cJSON_DeleteItemFromObjectCaseSensitive(obj, item->string);
        }
        cJSON_Delete(item);
        cJSON_Delete(copy);
    }
}

static void test_notification_hostile(void **state)
{
    struct notification *n = sample_notification();
    cJSON *root = notification_to_json(n);
    check_hostile_members(root, -1);
    check_hostile_members(root, 0);
    check_hostile_members(root, 1);
    cJSON *alerts = cJSON_GetObjectItem(root, "alerts");
    /* still intact after all that */
    char err[256];
    struct notification *m = notification_from_json(root, err, sizeof(err));
    assert_non_null(m);
    assert_notification_equal(n, m);
    notification_free(m);

    /* unknown enum names, label values of the wrong type, not objects */
    cJSON_ReplaceItemInObject(root, "reason", cJSON_CreateString("boom"));
    assert_null(notification_from_json(root, err, sizeof(err)));
    assert_non_null(strstr(err, "reason"));
    cJSON_ReplaceItemInObject(root, "reason", cJSON_CreateString("first"));
    cJSON_ReplaceItemInObject(root, "receiver_type",
                              cJSON_CreateString("carrier-pigeon"));
    assert_null(notification_from_json(root, err, sizeof(err)));
    cJSON_ReplaceItemInObject(root, "receiver_type",
                              cJSON_CreateString("slack"));
    cJSON *gl = cJSON_GetObjectItem(root, "group_labels");
    cJSON_AddNumberToObject(gl, "n", 1);
    assert_null(notification_from_json(root, err, sizeof(err)));
    assert_non_null(strstr(err, "group_labels.n"));
    cJSON_DeleteItemFromObject(gl, "n");
    cJSON_ReplaceItemInArray(alerts, 1, cJSON_CreateString("x"));
    assert_null(notification_from_json(root, err, sizeof(err)));
    assert_non_null(strstr(err, "alerts[1]"));
    cJSON *str = cJSON_CreateString("{}");
    assert_null(notification_from_json(str, err, sizeof(err)));
    assert_null(notification_from_json(NULL, err, sizeof(err)));
    cJSON_Delete(str);
    cJSON_Delete(root);
    notification_free(n);
}

/* ---- alert instances --------------------------------------------------- */

static struct alert_instance sample_instance(void)
{
    struct alert_instance in;
    memset(&in, 0, sizeof(in));
    in.state = ALERT_FIRING;
    in.severity = ALERT_SEV_WARNING;
    in.nodata = true;
    in.created_at = 1787220000.25;
    in.active_at = 1787221000.5;
    in.fired_at = 1787222000.75;
    in.resolved_at = 1787100000.0000001;
    in.last_true_at = 1787223000.1;
    in.last_data_at = 1787224000.2;
    in.last_eval_at = 1787225000.3;
    in.data_through = 1787224960;
    in.nodata_s = 1.0 / 3.0;
    in.value = NAN;
    in.flap_bits = 0xFFFFFFFFu;
    in.flap_count = ALERT_FLAP_HISTORY;
    in.flapping = true;
    in.announced_firing = true;
    in.announced_severity = ALERT_SEV_CRITICAL;
    return in;
}

static void assert_instance_equal(const struct alert_instance *a,
                                  const struct alert_instance *b)
{
    assert_int_equal(a->state, b->state);
    assert_int_equal(a->severity, b->severity);
    assert_int_equal(a->nodata, b->nodata);
    assert_true(same_double(a->created_at, b->created_at));
    assert_true(same_double(a->active_at, b->active_at));
    assert_true(same_double(a->fired_at, b->fired_at));
    assert_true(same_double(a->resolved_at, b->resolved_at));
    assert_true(same_double(a->last_true_at, b->last_true_at));
    assert_true(same_double(a->last_data_at, b->last_data_at));
    assert_true(same_double(a->last_eval_at, b->last_eval_at));
    assert_true(same_double(a->data_through, b->data_through));
    assert_true(same_double(a->nodata_s, b->nodata_s));
    assert_true(same_double(a->value, b->value));
    assert_int_equal(a->flap_bits, b->flap_bits);
    assert_int_equal(a->flap_count, b->flap_count);
    assert_int_equal(a->flapping, b->flapping);
    assert_int_equal(a->announced_firing, b->announced_firing);
    assert_int_equal(a->announced_severity, b->announced_severity);
}

static void instance_trip(const struct alert_instance *in)
{
    cJSON *j = alert_instance_to_json(in);
    char *text = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    cJSON *back = cJSON_Parse(text);
    cJSON_free(text);
    struct alert_instance out;
    char err[200] = "";
    if (alert_instance_from_json(back, &out, err, sizeof(err)) != 0)
        fail_msg("%s", err);
    cJSON_Delete(back);
    assert_instance_equal(in, &out);
}

static void test_instance_roundtrip(void **state)
{
    struct alert_instance in = sample_instance();
    instance_trip(&in);

    /* a real instance from alert.c, and a few variations */
    struct alert_instance fresh;
    alert_instance_init(&fresh, 1787227200.0);
    instance_trip(&fresh);
    in.state = ALERT_PENDING;
    in.severity = ALERT_SEV_NONE;
    in.value = -1.5e-7;
    in.flap_bits = 0;
    in.flap_count = 0;
    in.nodata = in.flapping = in.announced_firing = false;
    in.announced_severity = ALERT_SEV_WARNING;
    instance_trip(&in);
    in.value = -INFINITY;
    in.state = ALERT_INACTIVE;
    instance_trip(&in);

    cJSON *j = alert_instance_to_json(&fresh);
    char *text = cJSON_PrintUnformatted(j);
    assert_non_null(strstr(text, "\"state\":\"inactive\""));
    assert_non_null(strstr(text, "\"value\":null"));
    cJSON_free(text);
    cJSON_Delete(j);
}

static void test_instance_hostile(void **state)
{
    struct alert_instance in = sample_instance(), out;
    cJSON *root = alert_instance_to_json(&in);
    char err[200];
    int count = cJSON_GetArraySize(root);
    assert_int_equal(count, 18);        /* every field of the struct */
    for (int i = 0; i < count; i++) {
        cJSON *copy = cJSON_Duplicate(root, 1);
        cJSON *item = cJSON_DetachItemFromArray(copy, i);
        err[0] = '\0';
        /* data_through may be missing (older state files), no other */
        bool optional = strcmp(item->string, "data_through") == 0;
        assert_int_equal(alert_instance_from_json(copy, &out, err,
                                                  sizeof(err)),
                         optional ? 0 : -1);
        if (!optional && !strstr(err, item->string))
            fail_msg("missing %s: '%s'", item->string, err);
        for (int k = 0; k < 5; k++) {
            cJSON *bad = wrong_value(item, k);
            if (!bad)
                continue;
            cJSON_AddItemToObject(copy, item->string, bad);
            if (alert_instance_from_json(copy, &out, err, sizeof(err)) == 0)
                fail_msg("wrong type %d for %s accepted", k, item->string);
            cJSON_DeleteItemFromObjectCaseSensitive(copy, item->string);
        }
        cJSON_Delete(item);
        cJSON_Delete(copy);
    }
    assert_int_equal(alert_instance_from_json(root, &out, err, sizeof(err)),
                     0);

    static const struct { const char *key; double v; } bad_nums[] = {
        { "flap_count", 22 }, { "flap_count", -1 }, { "flap_count", 1.5 },
        { "flap_bits", 4294967296.0 }, { "flap_bits", -1 },
        { "flap_bits", 0.5 },
    };
    for (size_t i = 0; i < ARRAY_SIZE(bad_nums); i++) {
        cJSON *r = cJSON_Duplicate(root, 1);
        cJSON_ReplaceItemInObject(r, bad_nums[i].key,
                                  cJSON_CreateNumber(bad_nums[i].v));
        assert_int_equal(alert_instance_from_json(r, &out, err, sizeof(err)),
                         -1);
        assert_non_null(strstr(err, bad_nums[i].key));
        cJSON_Delete(r);
    }
    static const char *const bad_names[] = {
        "state", "severity", "announced_severity",
    };
    for (size_t i = 0; i < ARRAY_SIZE(bad_names); i++) {
        cJSON *r = cJSON_Duplicate(root, 1);
        cJSON_ReplaceItemInObject(r, bad_names[i],
                                  cJSON_CreateString("unknown"));
        assert_int_equal(alert_instance_from_json(r, &out, err, sizeof(err)),
                         -1);
        cJSON_Delete(r);
    }
    /* booleans are booleans, not 0/1 */
    cJSON_ReplaceItemInObject(root, "nodata", cJSON_CreateNumber(1));
    assert_int_equal(alert_instance_from_json(root, &out, err, sizeof(err)),
                     -1);
    cJSON_Delete(root);
    cJSON *arr = cJSON_CreateArray();
    assert_int_equal(alert_instance_from_json(arr, &out, err, sizeof(err)),
                     -1);
    cJSON_Delete(arr);
}

/* cJSON prints %1.15g, then %1.17g when that does not read back: every
 * finite double must survive print + parse bit for bit. */
static void test_double_precision(void **state)
{
    struct rng r;
    rng_seed(&r, 7);
    double specials[] = {
        0.1, 0.1 + 0.2, 1.0 / 3.0, 2.0 / 3.0, 1787227200.123456789,
        DBL_MAX, -DBL_MAX, DBL_MIN, 4.9e-324, 9007199254740993.0,
        2147483647.0, 2147483648.0, -2147483649.0, 1e21, 123456789012345678.0,
        0.0, 1.0, -1.0, NAN, INFINITY, -INFINITY,
    };
    for (int i = 0; i < 20000; i++) {
        double v;
        if ((size_t)i < ARRAY_SIZE(specials)) {
            v = specials[i];
        } else {
            uint64_t bits = rng_next(&r);
            memcpy(&v, &bits, sizeof(v));
            if (!isfinite(v))
                continue;
        }
        cJSON *o = cJSON_CreateObject();
        cJSON_AddItemToObject(o, "v", json_double(v));
        char *text = cJSON_PrintUnformatted(o);
        cJSON_Delete(o);
        cJSON *back = cJSON_Parse(text);
        double w = 0;
        char err[64];
        assert_int_equal(json_get_double(back, "v", &w, err, sizeof(err)), 0);
        if (!same_double(v, w))
            fail_msg("%.17g came back as %.17g (%s)", v, w, text);
        cJSON_Delete(back);
        cJSON_free(text);
    }
}

/* ---- file layer -------------------------------------------------------- */

static void test_dir_prepare(void **state)
{
    char *base = make_tmpdir();
    char *dir = xasprintf("%s/a/b/state/", base);
    char err[256];
    assert_int_equal(state_dir_prepare(dir, err, sizeof(err)), 0);
    struct stat st;
    char *leaf = xasprintf("%s/a/b/state", base);
    assert_int_equal(stat(leaf, &st), 0);
    assert_true(S_ISDIR(st.st_mode));
    assert_int_equal(st.st_mode & 0777, 0700);
    /* again: fine */
    assert_int_equal(state_dir_prepare(dir, err, sizeof(err)), 0);
    /* a file in the way */
    char *file = xasprintf("%s/file", base);
    int fd = open(file, O_WRONLY | O_CREAT, 0600);
    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(state_dir_prepare(file, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "not a directory"));
    char *under = xasprintf("%s/sub", file);
    assert_int_equal(state_dir_prepare(under, err, sizeof(err)), -1);
    assert_int_equal(state_dir_prepare("", err, sizeof(err)), -1);
    free(under);
    free(file);
    free(leaf);
    free(dir);
    rm_rf(base);
    free(base);
}

static void test_save_atomic(void **state)
{
    char *dir = make_tmpdir();
    char err[256];
    const char *one = "{\"version\":1,\"n\":1}";
    const char *two = "{\"version\":1,\"n\":2}";
    assert_int_equal(state_save(dir, one, strlen(one), err, sizeof(err)), 0);
    assert_int_equal(state_save(dir, two, strlen(two), err, sizeof(err)), 0);

    char *buf;
    size_t len;
    assert_int_equal(state_load(dir, &buf, &len, err, sizeof(err)), 0);
    assert_int_equal(len, strlen(two));
    assert_string_equal(buf, two);
    free(buf);

    char *path = xasprintf("%s/state.json", dir);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(count_prefix(dir, "state.json.tmp", NULL), 0);
    assert_int_equal(count_prefix(dir, "", NULL), 3);   /* . .. state.json */

    /* a stale temp file of ours with a wide mode is replaced, not reused
     * with its mode */
    char *tmp = xasprintf("%s/state.json.tmp-%ld", dir, (long)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT, 0666);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "garbage-garbage-garbage-garbage", 31), 31);
    fchmod(fd, 0666);
    close(fd);
    assert_int_equal(state_save(dir, one, strlen(one), err, sizeof(err)), 0);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    buf = slurp(path, &len);
    assert_string_equal(buf, one);
    free(buf);
    assert_int_equal(count_prefix(dir, "state.json.tmp", NULL), 0);

    /* the loaded document is the saved one */
    bool q;
    cJSON *j = state_load_json(dir, err, sizeof(err), &q);
    assert_non_null(j);
    assert_false(q);
    assert_int_equal(cJSON_GetObjectItem(j, "n")->valueint, 1);
    cJSON_Delete(j);

    /* saving into a directory that does not exist fails cleanly */
    char *gone = xasprintf("%s/nope", dir);
    assert_int_equal(state_save(gone, one, strlen(one), err, sizeof(err)),
                     -1);
    assert_non_null(strstr(err, "cannot save"));
    free(gone);

    free(tmp);
    free(path);
    rm_rf(dir);
    free(dir);
}

static void test_load_missing(void **state)
{
    char *dir = make_tmpdir();
    char err[256] = "";
    char *buf = (char *)1;
    size_t len = 99;
    assert_int_equal(state_load(dir, &buf, &len, err, sizeof(err)), 1);
    assert_null(buf);
    bool q = true;
    cJSON *j = state_load_json(dir, err, sizeof(err), &q);
    assert_non_null(j);
    assert_false(q);
    assert_int_equal(cJSON_GetObjectItem(j, "version")->valueint,
                     STATE_VERSION);
    assert_int_equal(cJSON_GetArraySize(j), 1);
    cJSON_Delete(j);
    rm_rf(dir);
    free(dir);
}

/* state.json is there but cannot be read: not corrupt, refuse to start. */
static void test_load_unreadable(void **state)
{
    char *dir = make_tmpdir();
    char *path = xasprintf("%s/state.json", dir);
    assert_int_equal(mkdir(path, 0700), 0);     /* EISDIR even for root */
    char err[256] = "";
    bool q = true;
    cJSON *j = state_load_json(dir, err, sizeof(err), &q);
    assert_null(j);
    assert_false(q);
    assert_non_null(strstr(err, "cannot read"));
    assert_int_equal(count_prefix(dir, "state.json.corrupt", NULL), 0);
    free(path);
    rm_rf(dir);
    free(dir);
}

/* Write data as state.json; state_load_json must quarantine it. */
static void expect_quarantine(const char *dir, const char *data, size_t len)
{
    write_raw(dir, data, len);
    char err[512] = "";
    bool q = false;
    int saved = quiet_begin();
    cJSON *j = state_load_json(dir, err, sizeof(err), &q);
    quiet_end(saved);
    if (j) {
        char *t = cJSON_PrintUnformatted(j);
        fail_msg("accepted %zu bytes as %s", len, t);
    }
    assert_true(q);
    assert_non_null(strstr(err, "corrupt"));
    char *moved = NULL;
    assert_int_equal(count_prefix(dir, "state.json.corrupt-", &moved), 1);
    assert_non_null(strstr(err, moved));
    /* the evidence is kept byte for byte; state.json is gone */
    size_t mlen;
    char *content = slurp(moved, &mlen);
    assert_int_equal(mlen, len);
    assert_memory_equal(content, data, len);
    char *path = xasprintf("%s/state.json", dir);
    assert_int_equal(access(path, F_OK), -1);
    /* and the next start is a fresh one */
    j = state_load_json(dir, err, sizeof(err), &q);
    assert_non_null(j);
    assert_false(q);
    cJSON_Delete(j);
    unlink(moved);
    free(path);
    free(content);
    free(moved);
}

static char *valid_document(size_t *len)
{
    cJSON *root = cJSON_CreateObject();
    cJSON_AddNumberToObject(root, "version", STATE_VERSION);
    cJSON_AddNumberToObject(root, "saved_at", 1787227200.5);
    struct alert_instance in = sample_instance();
    cJSON *insts = cJSON_AddArrayToObject(root, "instances");
    cJSON_AddItemToArray(insts, alert_instance_to_json(&in));
    struct notification *n = sample_notification();
    cJSON_AddItemToObject(root, "notification", notification_to_json(n));
    notification_free(n);
    char *text = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    *len = strlen(text);
    return text;
}

static void test_truncated_every_byte(void **state)
{
    char *dir = make_tmpdir();
    size_t len;
    char *doc = valid_document(&len);
    assert_true(len > 500);
    for (size_t cut = 0; cut < len; cut++)
        expect_quarantine(dir, doc, cut);

    /* the whole document loads */
    write_raw(dir, doc, len);
    char err[256];
    bool q;
    cJSON *j = state_load_json(dir, err, sizeof(err), &q);
    assert_non_null(j);
    assert_false(q);
    cJSON_Delete(j);
    cJSON_free(doc);
    rm_rf(dir);
    free(dir);
}

static void test_garbage(void **state)
{
    char *dir = make_tmpdir();
    static const char *const docs[] = {
        "garbage", "{", "}", "[]", "null", "1", "\"version\"", "{}",
        "{\"version\":2}", "{\"version\":0}", "{\"version\":1.5}",
        "{\"version\":\"1\"}", "{\"version\":true}", "{\"version\":null}",
        "{\"version\":[1]}", "{\"Version\":1}", "[{\"version\":1}]",
        "{\"version\":1} {\"version\":1}", "{\"version\":1}x",
        "{\"version\":1,}", "{\"version\":1,\"a\":\"\\ud800\"", "\xff\xfe{",
        "{\"version\":1,\"a\":\"unterminated}",
    };
    for (size_t i = 0; i < ARRAY_SIZE(docs); i++)
        expect_quarantine(dir, docs[i], strlen(docs[i]));

    /* a NUL inside: what follows it must not be ignored */
    static const char nul[] = "{\"version\":1}\0{\"junk\":";
    expect_quarantine(dir, nul, sizeof(nul) - 1);
    /* binary noise */
    struct rng r;
    rng_seed(&r, 99);
    char noise[4096];
    for (size_t i = 0; i < sizeof(noise); i++)
        noise[i] = (char)(rng_next(&r) & 0xff);
    expect_quarantine(dir, noise, sizeof(noise));
    /* nesting far beyond cJSON's limit */
    size_t depth = 200000;
    char *deep = xmalloc(depth + 20);
    memcpy(deep, "{\"version\":1,\"a\":", 17);
    memset(deep + 17, '[', depth);
    expect_quarantine(dir, deep, depth + 17);
    free(deep);

    /* whitespace around a valid document is fine */
    const char *ws = " \n{\"version\":1}\n\n";
    write_raw(dir, ws, strlen(ws));
    char err[256];
    bool q;
    cJSON *j = state_load_json(dir, err, sizeof(err), &q);
    assert_non_null(j);
    cJSON_Delete(j);
    rm_rf(dir);
    free(dir);
}

static void test_quarantine_names(void **state)
{
    char *dir = make_tmpdir();
    char moved1[512], moved2[512];
    int saved = quiet_begin();
    write_raw(dir, "bad1", 4);
    assert_int_equal(state_quarantine(dir, moved1, sizeof(moved1)), 0);
    write_raw(dir, "bad2", 4);
    assert_int_equal(state_quarantine(dir, moved2, sizeof(moved2)), 0);
    /* nothing to move */
    assert_int_equal(state_quarantine(dir, NULL, 0), -1);
    quiet_end(saved);
    assert_string_not_equal(moved1, moved2);
    assert_int_equal(count_prefix(dir, "state.json.corrupt-", NULL), 2);
    /* state.json.corrupt-YYYYmmddTHHMMSSZ */
    const char *stamp = strstr(moved1, "corrupt-") + strlen("corrupt-");
    assert_int_equal(strlen(stamp), 16);
    assert_int_equal(stamp[8], 'T');
    assert_int_equal(stamp[15], 'Z');
    size_t len;
    char *c1 = slurp(moved1, &len);
    assert_string_equal(c1, "bad1");
    free(c1);
    rm_rf(dir);
    free(dir);
}

/* ---- journal ------------------------------------------------------------- */

static const char base_doc_text[] =
    "{\"version\":1,\"saved_at\":1,"
    "\"dispatch\":{\"seq\":1,\"groups\":[{\"key\":\"a\",\"n\":1},"
    "{\"key\":\"b\",\"n\":2}]},"
    "\"outbox\":{\"next_id\":2,\"entries\":[{\"id\":1,\"x\":\"one\"}]}}";

/* The saves of the journal tests, and the document after each. */
static cJSON *script_changes(int i)
{
    cJSON *ch = cJSON_CreateArray();
    switch (i) {
    case 0:
        cJSON_AddItemToArray(ch, state_change_put("dispatch.groups", "key",
            cJSON_Parse("{\"key\":\"c\",\"n\":3}")));
        cJSON_AddItemToArray(ch, state_change_set("dispatch.seq",
                                                  json_double(2)));
        break;
    case 1:
        cJSON_AddItemToArray(ch, state_change_put("dispatch.groups", "key",
            cJSON_Parse("{\"key\":\"a\",\"n\":10,\"more\":[1,2]}")));
        cJSON_AddItemToArray(ch, state_change_del("dispatch.groups", "key",
            cJSON_CreateString("b")));
        cJSON_AddItemToArray(ch, state_change_put("outbox.entries", "id",
            cJSON_Parse("{\"id\":2,\"x\":\"two\"}")));
        cJSON_AddItemToArray(ch, state_change_set("outbox.next_id",
                                                  json_double(3)));
        break;
    default:
        cJSON_AddItemToArray(ch, state_change_del("outbox.entries", "id",
                                                  json_double(1)));
        cJSON_AddItemToArray(ch, state_change_put("dispatch.groups", "key",
            cJSON_Parse("{\"key\":\"b\",\"n\":20}")));
        cJSON_AddItemToArray(ch, state_change_set("stats.saves.count",
                                                  json_double(3)));
        cJSON_AddItemToArray(ch, state_change_put("instances", "key",
            cJSON_Parse("{\"key\":\"r {}\",\"s\":\"\\u00e9\\n\"}")));
        /* deleting what is not there is nothing */
        cJSON_AddItemToArray(ch, state_change_del("instances", "key",
            cJSON_CreateString("nope")));
        break;
    }
    return ch;
}

static const char *const script_expect[] = {
    "{\"version\":1,\"saved_at\":101,"
    "\"dispatch\":{\"seq\":2,\"groups\":[{\"key\":\"a\",\"n\":1},"
    "{\"key\":\"b\",\"n\":2},{\"key\":\"c\",\"n\":3}]},"
    "\"outbox\":{\"next_id\":2,\"entries\":[{\"id\":1,\"x\":\"one\"}]},"
    "\"generation\":7}",
    "{\"version\":1,\"saved_at\":102,"
    "\"dispatch\":{\"seq\":2,\"groups\":[{\"key\":\"a\",\"n\":10,"
    "\"more\":[1,2]},{\"key\":\"c\",\"n\":3}]},"
    "\"outbox\":{\"next_id\":3,\"entries\":[{\"id\":1,\"x\":\"one\"},"
    "{\"id\":2,\"x\":\"two\"}]},\"generation\":7}",
    "{\"version\":1,\"saved_at\":103,"
    "\"dispatch\":{\"seq\":2,\"groups\":[{\"key\":\"a\",\"n\":10,"
    "\"more\":[1,2]},{\"key\":\"c\",\"n\":3},{\"key\":\"b\",\"n\":20}]},"
    "\"outbox\":{\"next_id\":3,\"entries\":[{\"id\":2,\"x\":\"two\"}]},"
    "\"generation\":7,\"stats\":{\"saves\":{\"count\":3}},"
    "\"instances\":[{\"key\":\"r {}\",\"s\":\"\\u00e9\\n\"}]}",
};
#define SCRIPT_GEN 7

/* doc printed and parsed again: raw and parsed numbers compare equal */
static void assert_doc(const cJSON *doc, const char *expect_text)
{
    assert_non_null(doc);
    char *t = cJSON_PrintUnformatted(doc);
    cJSON *got = cJSON_Parse(t);
    cJSON *want = cJSON_Parse(expect_text);
    assert_non_null(want);
    if (!cJSON_Compare(got, want, true))
        fail_msg("got  %s\nwant %s", t, expect_text);
    cJSON_Delete(got);
    cJSON_Delete(want);
    cJSON_free(t);
}

static void write_raw_path(const char *path, const char *data, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, data, len), (ssize_t)len);
    close(fd);
}

static void append_raw_path(const char *path, const char *data, size_t len)
{
    int fd = open(path, O_WRONLY | O_APPEND);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, data, len), (ssize_t)len);
    close(fd);
}

/* A snapshot of base_doc_text (generation SCRIPT_GEN) and the first n
 * saves of the script; ends[i] = journal size after save i (ends may be
 * NULL).  With keep, the journal stays open there. */
static void write_script_keep(const char *dir, int n, uint64_t ends[],
                              struct state_journal **keep)
{
    char err[256];
    cJSON *doc = cJSON_Parse(base_doc_text);
    struct state_journal *j = NULL;
    size_t sbytes = 0;
    assert_int_equal(state_write_snapshot(dir, doc, SCRIPT_GEN, &j, &sbytes,
                                          err, sizeof(err)), 0);
    cJSON_Delete(doc);
    assert_true(sbytes > 0);
    assert_int_equal(state_journal_generation(j), SCRIPT_GEN);
    for (int i = 0; i < n; i++) {
        cJSON *ch = script_changes(i);
        size_t bytes = 0;
        uint64_t before = state_journal_bytes(j);
        assert_int_equal(state_journal_append(j, 101 + i, ch, &bytes, err,
                                              sizeof(err)), 0);
        assert_int_equal(state_journal_bytes(j), before + bytes);
        cJSON_Delete(ch);
        if (ends)
            ends[i] = state_journal_bytes(j);
    }
    if (keep)
        *keep = j;
    else
        state_journal_close(j);
}

static void write_script(const char *dir, int n, uint64_t ends[])
{
    write_script_keep(dir, n, ends, NULL);
}

static char *journal_path(const char *dir)
{
    return xasprintf("%s/" STATE_JOURNAL_FILE, dir);
}

static cJSON *read_only(const char *dir, struct state_read_info *info)
{
    char err[256] = "";
    cJSON *doc = state_read(dir, STATE_READ_ONLY, info, err, sizeof(err));
    if (!doc)
        fail_msg("state_read: %s", err);
    return doc;
}

static void test_journal_replay(void **state)
{
    char *dir = make_tmpdir();
    struct state_read_info info;
    write_script(dir, 0, NULL);
    cJSON *doc = read_only(dir, &info);
    assert_int_equal(info.journal, STATE_JOURNAL_OK);
    assert_int_equal(info.records, 0);
    assert_int_equal(info.generation, SCRIPT_GEN);
    cJSON_Delete(doc);
    for (int n = 1; n <= 3; n++) {
        write_script(dir, n, NULL);
        doc = read_only(dir, &info);
        assert_doc(doc, script_expect[n - 1]);
        assert_int_equal(info.journal, STATE_JOURNAL_OK);
        assert_int_equal(info.records, n);
        assert_int_equal(info.journal_used, info.journal_bytes);
        assert_true(info.snapshot_found);
        cJSON_Delete(doc);
    }
    /* the journal is one line per record, framed as documented */
    char *jp = journal_path(dir);
    size_t len;
    char *buf = slurp(jp, &len);
    int lines = 0;
    for (size_t i = 0; i < len; i++)
        lines += buf[i] == '\n';
    assert_int_equal(lines, 2 * 4);     /* header line + payload line each */
    assert_int_equal(buf[0], '@');
    assert_int_equal(buf[STATE_FRAME_HEADER_BYTES - 1], '\n');
    assert_non_null(strstr(buf, "{\"journal\":1,\"generation\":7}"));
    free(buf);

    /* RECOVER reads the same and moves nothing */
    char err[256];
    bool q = true;
    doc = state_load_json(dir, err, sizeof(err), &q);
    assert_false(q);
    assert_doc(doc, script_expect[2]);
    cJSON_Delete(doc);
    assert_int_equal(count_prefix(dir, "state.journal.corrupt", NULL), 0);
    free(jp);
    rm_rf(dir);
    free(dir);
}

/* (b) A save cut short at any byte reads as the save before it. */
static void test_journal_torn_every_byte(void **state)
{
    char *dir = make_tmpdir();
    uint64_t ends[3];
    write_script(dir, 3, ends);
    char *jp = journal_path(dir);
    size_t len;
    char *full = slurp(jp, &len);
    assert_int_equal(len, ends[2]);
    for (uint64_t cut = ends[1]; cut < ends[2]; cut++) {
        assert_int_equal(truncate(jp, (off_t)cut), 0);
        struct state_read_info info;
        cJSON *doc = read_only(dir, &info);
        assert_doc(doc, script_expect[1]);
        assert_int_equal(info.records, 2);
        assert_int_equal(info.journal, cut == ends[1] ? STATE_JOURNAL_OK
                                                      : STATE_JOURNAL_TORN);
        cJSON_Delete(doc);
    }
    /* the daemon's reading: the same state, nothing moved, the file kept */
    assert_int_equal(truncate(jp, (off_t)(ends[2] - 1)), 0);
    struct state_read_info info;
    char err[256];
    int saved = quiet_begin();
    cJSON *doc = state_read(dir, STATE_READ_RECOVER, &info, err, sizeof(err));
    quiet_end(saved);
    assert_doc(doc, script_expect[1]);
    assert_int_equal(info.journal, STATE_JOURNAL_TORN);
    assert_false(info.quarantined);
    assert_int_equal(count_prefix(dir, "state.journal.corrupt", NULL), 0);
    cJSON_Delete(doc);

    /* zeros where the last record should be (the size reached the disk,
     * not the data), or after it */
    write_raw_path(jp, full, ends[1]);
    char *zeros = xcalloc(1, 4096);
    append_raw_path(jp, zeros, (size_t)(ends[2] - ends[1]));
    doc = read_only(dir, &info);
    assert_doc(doc, script_expect[1]);
    assert_int_equal(info.journal, STATE_JOURNAL_TORN);
    cJSON_Delete(doc);
    write_raw_path(jp, full, len);
    append_raw_path(jp, zeros, 4096);
    doc = read_only(dir, &info);
    assert_doc(doc, script_expect[2]);
    assert_int_equal(info.journal, STATE_JOURNAL_TORN);
    cJSON_Delete(doc);
    /* a damaged last record (its checksum fails) is an interrupted save */
    full[len - 5] ^= 0x01;
    write_raw_path(jp, full, len);
    doc = read_only(dir, &info);
    assert_doc(doc, script_expect[1]);
    assert_int_equal(info.journal, STATE_JOURNAL_TORN);
    cJSON_Delete(doc);
    free(zeros);
    free(full);
    free(jp);
    rm_rf(dir);
    free(dir);
}

/* (c) Damage before the last record is detected wherever it is: replay
 * stops before it; the daemon moves the journal aside. */
static void test_journal_flip_every_byte(void **state)
{
    char *dir = make_tmpdir();
    uint64_t ends[3];
    write_script(dir, 3, ends);
    char *jp = journal_path(dir);
    size_t len;
    char *full = slurp(jp, &len);
    for (uint64_t off = ends[0]; off < ends[1]; off++) {
        full[off] ^= (char)0xff;
        write_raw_path(jp, full, len);
        full[off] ^= (char)0xff;
        struct state_read_info info;
        cJSON *doc = read_only(dir, &info);
        assert_doc(doc, script_expect[0]);
        if (info.journal != STATE_JOURNAL_CORRUPT)
            fail_msg("byte %llu flipped: journal status %d",
                     (unsigned long long)off, (int)info.journal);
        assert_int_equal(info.records, 1);
        assert_int_equal(info.journal_used, ends[0]);
        assert_non_null(strstr(info.why, "byte"));
        cJSON_Delete(doc);
    }
    /* a flip in the header record: nothing is replayed */
    for (uint64_t off = 0; off < ends[0] - 1; off += 7) {
        full[off] ^= (char)0xff;
        write_raw_path(jp, full, len);
        full[off] ^= (char)0xff;
        struct state_read_info info;
        cJSON *doc = read_only(dir, &info);
        if (info.journal != STATE_JOURNAL_CORRUPT)
            fail_msg("header byte %llu flipped: journal status %d",
                     (unsigned long long)off, (int)info.journal);
        assert_int_equal(info.records, 0);
        cJSON_Delete(doc);
    }

    /* the daemon: the journal is moved aside, loudly, the state is that
     * of the first save */
    full[ends[1] - 10] ^= 0x01;
    write_raw_path(jp, full, len);
    struct state_read_info info;
    char err[256] = "";
    int saved = quiet_begin();
    cJSON *doc = state_read(dir, STATE_READ_RECOVER, &info, err, sizeof(err));
    quiet_end(saved);
    assert_doc(doc, script_expect[0]);
    assert_int_equal(info.journal, STATE_JOURNAL_CORRUPT);
    assert_true(info.quarantined);
    char *moved = NULL;
    assert_int_equal(count_prefix(dir, "state.journal.corrupt-", &moved), 1);
    assert_string_equal(moved, info.moved_to);
    assert_int_equal(access(jp, F_OK), -1);
    size_t mlen;
    char *evidence = slurp(moved, &mlen);
    assert_int_equal(mlen, len);
    assert_memory_equal(evidence, full, len);
    /* the snapshot stays: it was fine */
    assert_int_equal(count_prefix(dir, "state.json.corrupt", NULL), 0);
    cJSON_Delete(doc);
    free(evidence);
    free(moved);
    free(full);
    free(jp);
    rm_rf(dir);
    free(dir);
}

/* Records that frame well but do not decode stop the replay, and a record
 * that fails half-way leaves none of its changes. */
static void test_journal_bad_records(void **state)
{
    static const char *const bad[] = {
        "not json", "[1]", "{\"changes\":[]}", "{\"saved_at\":1}",
        "{\"saved_at\":1,\"changes\":[1]}",
        "{\"saved_at\":1,\"changes\":[{\"put\":\"dispatch.groups\"}]}",
        "{\"saved_at\":1,\"changes\":[{\"put\":\"dispatch.groups\","
        "\"by\":\"key\",\"v\":{\"n\":1}}]}",
        "{\"saved_at\":1,\"changes\":[{\"set\":\"a\",\"put\":\"b\"}]}",
        "{\"saved_at\":1,\"changes\":[{\"set\":\"a..b\",\"v\":1}]}",
        "{\"saved_at\":1,\"changes\":[{\"del\":\"x\",\"by\":\"key\"}]}",
        /* the first change applies, the second cannot (version is not an
         * object): the record as a whole is not applied */
        "{\"saved_at\":1,\"changes\":[{\"put\":\"dispatch.groups\","
        "\"by\":\"key\",\"v\":{\"key\":\"z\"}},"
        "{\"set\":\"version.x\",\"v\":1}]}",
        "{\"saved_at\":1,\"changes\":[{\"set\":\"dispatch.seq\",\"v\":9},"
        "{\"put\":\"outbox\",\"by\":\"id\",\"v\":{\"id\":1}}]}",
    };
    char *dir = make_tmpdir();
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        for (int last = 0; last < 2; last++) {
            char err[256];
            struct state_journal *j;
            write_script_keep(dir, 1, NULL, &j);
            assert_int_equal(state_journal_append_raw(j, bad[i],
                                                      strlen(bad[i]), err,
                                                      sizeof(err)), 0);
            if (!last) {
                cJSON *ch = script_changes(1);
                assert_int_equal(state_journal_append(j, 102, ch, NULL, err,
                                                      sizeof(err)), 0);
                cJSON_Delete(ch);
            }
            state_journal_close(j);
            struct state_read_info info;
            cJSON *doc = read_only(dir, &info);
            assert_doc(doc, script_expect[0]);
            if (info.journal != STATE_JOURNAL_CORRUPT)
                fail_msg("record %s: journal status %d", bad[i],
                         (int)info.journal);
            assert_int_equal(info.records, 1);
            cJSON_Delete(doc);
        }
    }
    rm_rf(dir);
    free(dir);
}

static void test_journal_generations(void **state)
{
    char *dir = make_tmpdir();
    char err[256];
    struct state_read_info info;
    write_script(dir, 2, NULL);

    /* a compaction wrote the next snapshot and crashed before replacing
     * the journal: the old journal is ignored */
    cJSON *doc = cJSON_Parse(script_expect[1]);
    cJSON_ReplaceItemInObject(doc, "generation", json_double(SCRIPT_GEN + 1));
    char *t = cJSON_PrintUnformatted(doc);
    assert_int_equal(state_save(dir, t, strlen(t), err, sizeof(err)), 0);
    cJSON_free(t);
    cJSON_Delete(doc);
    doc = read_only(dir, &info);
    assert_int_equal(info.journal, STATE_JOURNAL_STALE);
    assert_int_equal(info.generation, SCRIPT_GEN + 1);
    assert_int_equal(info.journal_generation, SCRIPT_GEN);
    assert_int_equal(info.records, 0);
    cJSON_DeleteItemFromObject(doc, "generation");
    cJSON_AddNumberToObject(doc, "generation", SCRIPT_GEN);
    assert_doc(doc, script_expect[1]);
    cJSON_Delete(doc);

    /* a journal newer than the snapshot (a reader racing a compaction
     * reads again, then gives up and ignores it) */
    write_script(dir, 2, NULL);
    doc = cJSON_Parse(base_doc_text);
    t = cJSON_PrintUnformatted(doc);
    assert_int_equal(state_save(dir, t, strlen(t), err, sizeof(err)), 0);
    cJSON_free(t);
    cJSON_Delete(doc);
    doc = read_only(dir, &info);
    assert_int_equal(info.journal, STATE_JOURNAL_STALE);
    assert_int_equal(info.generation, 0);
    assert_int_equal(info.journal_generation, SCRIPT_GEN);
    cJSON_Delete(doc);

    /* no snapshot: the journal alone means nothing */
    char *sp = xasprintf("%s/" STATE_FILE, dir);
    unlink(sp);
    doc = read_only(dir, &info);
    assert_int_equal(info.journal, STATE_JOURNAL_STALE);
    assert_false(info.snapshot_found);
    assert_int_equal(cJSON_GetArraySize(doc), 1);
    cJSON_Delete(doc);

    /* a snapshot without "generation" (written before journals) is 0; a
     * bad one is corrupt */
    const char *badgen = "{\"version\":1,\"generation\":-1}";
    write_raw(dir, badgen, strlen(badgen));
    char rerr[256];
    assert_null(state_read(dir, STATE_READ_ONLY, &info, rerr, sizeof(rerr)));
    assert_true(info.snapshot_corrupt);
    assert_false(info.quarantined);
    assert_non_null(strstr(rerr, "generation"));
    free(sp);
    rm_rf(dir);
    free(dir);
}

/* A corrupt snapshot takes its journal with it. */
static void test_journal_corrupt_snapshot(void **state)
{
    char *dir = make_tmpdir();
    write_script(dir, 2, NULL);
    write_raw(dir, "{\"version\":1", 12);
    char err[512] = "";
    bool q = false;
    int saved = quiet_begin();
    cJSON *doc = state_load_json(dir, err, sizeof(err), &q);
    quiet_end(saved);
    assert_null(doc);
    assert_true(q);
    assert_int_equal(count_prefix(dir, "state.json.corrupt-", NULL), 1);
    assert_int_equal(count_prefix(dir, "state.journal.corrupt-", NULL), 1);
    assert_int_equal(count_prefix(dir, "state.journal", NULL), 1);
    /* READ_ONLY moves nothing */
    write_script(dir, 2, NULL);
    write_raw(dir, "{\"version\":1", 12);
    struct state_read_info info;
    assert_null(state_read(dir, STATE_READ_ONLY, &info, err, sizeof(err)));
    assert_true(info.snapshot_corrupt);
    assert_int_equal(count_prefix(dir, "state.json.corrupt-", NULL), 1);
    assert_int_equal(count_prefix(dir, "state.journal.corrupt-", NULL), 1);
    rm_rf(dir);
    free(dir);
}

/* Compaction of a read document: everything kept, numbers exact, the
 * journal empty again. */
static void test_journal_compact_read_doc(void **state)
{
    char *dir = make_tmpdir();
    write_script(dir, 3, NULL);
    struct state_read_info info;
    cJSON *doc = read_only(dir, &info);
    cJSON_AddItemToObject(doc, "exact", json_double(0.1 + 0.2));
    char err[256];
    uint64_t next = info.generation + 1;
    assert_int_equal(state_write_snapshot(dir, doc, next, NULL, NULL, err,
                                          sizeof(err)), 0);
    cJSON_Delete(doc);
    doc = read_only(dir, &info);
    assert_int_equal(info.generation, next);
    assert_int_equal(info.journal, STATE_JOURNAL_OK);
    assert_int_equal(info.records, 0);
    double v = json_num(doc, "exact", 0);
    assert_true(v == 0.1 + 0.2);
    cJSON_DeleteItemFromObject(doc, "exact");
    cJSON_ReplaceItemInObject(doc, "generation", json_double(SCRIPT_GEN));
    assert_doc(doc, script_expect[2]);
    cJSON_Delete(doc);
    /* no temp files left */
    assert_int_equal(count_prefix(dir, "state.journal.tmp", NULL), 0);
    assert_int_equal(count_prefix(dir, "state.json.tmp", NULL), 0);
    rm_rf(dir);
    free(dir);
}

/* The lock the test holds, reachable from a global so that the forked
 * children (which inherit it and _exit) do not count as leaking it under
 * valgrind. */
struct state_lock *test_state_held_lock;

/* Exit status of a child that tries to take the lock: 10 when it got it,
 * 11 when refused with a message naming want_pid, 12 otherwise (not 1:
 * that is valgrind's --error-exitcode). */
static int child_acquire(const char *dir, pid_t want_pid)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        char err[256] = "";
        struct state_lock *l = state_lock_acquire(dir, err, sizeof(err));
        if (l) {
            state_lock_release(l);
            _exit(10);
        }
        char want[128];
        snprintf(want, sizeof(want), "another segalert (pid %ld) is using "
                 "state_dir %s", (long)want_pid, dir);
        _exit(streq(err, want) ? 11 : 12);
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    return WEXITSTATUS(status);
}

static void test_lock(void **state)
{
    char *dir = make_tmpdir();
    char err[256] = "";
    struct state_lock *l = state_lock_acquire(dir, err, sizeof(err));
    assert_non_null(l);
    test_state_held_lock = l;

    /* the lock file names us */
    char *path = xasprintf("%s/segalert.lock", dir);
    size_t len;
    char *content = slurp(path, &len);
    char want[32];
    snprintf(want, sizeof(want), "%ld\n", (long)getpid());
    assert_string_equal(content, want);
    free(content);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);

    assert_int_equal(child_acquire(dir, getpid()), 11);
    /* a second acquire in this process is refused as well */
    assert_null(state_lock_acquire(dir, err, sizeof(err)));
    assert_non_null(strstr(err, "another segalert (pid"));

    state_lock_release(l);
    test_state_held_lock = NULL;
    assert_int_equal(child_acquire(dir, getpid()), 10);

    /* a lock file left by a dead process (pid inside, no lock) is fine,
     * and leftover temp files of a crashed writer are removed */
    int fd = open(path, O_WRONLY | O_TRUNC);
    assert_int_equal(write(fd, "999999\n", 7), 7);
    close(fd);
    char *tmp = xasprintf("%s/state.json.tmp-424242", dir);
    fd = open(tmp, O_WRONLY | O_CREAT, 0600);
    close(fd);
    write_raw(dir, "{\"version\":1}", 13);
    int saved = quiet_begin();
    l = state_lock_acquire(dir, err, sizeof(err));
    quiet_end(saved);
    assert_non_null(l);
    assert_int_equal(access(tmp, F_OK), -1);
    char *sj = xasprintf("%s/state.json", dir);
    assert_int_equal(access(sj, F_OK), 0);      /* not touched */
    state_lock_release(l);
    state_lock_release(NULL);

    /* no directory: an error, not a crash */
    char *gone = xasprintf("%s/nope", dir);
    assert_null(state_lock_acquire(gone, err, sizeof(err)));
    assert_non_null(strstr(err, "lock file"));

    free(gone);
    free(sj);
    free(tmp);
    free(path);
    rm_rf(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_notification_roundtrip),
        cmocka_unit_test(test_notification_empty_and_inf),
        cmocka_unit_test(test_notification_hostile),
        cmocka_unit_test(test_instance_roundtrip),
        cmocka_unit_test(test_instance_hostile),
        cmocka_unit_test(test_double_precision),
        cmocka_unit_test(test_dir_prepare),
        cmocka_unit_test(test_save_atomic),
        cmocka_unit_test(test_load_missing),
        cmocka_unit_test(test_load_unreadable),
        cmocka_unit_test(test_truncated_every_byte),
        cmocka_unit_test(test_garbage),
        cmocka_unit_test(test_quarantine_names),
        cmocka_unit_test(test_lock),
        cmocka_unit_test(test_journal_replay),
        cmocka_unit_test(test_journal_torn_every_byte),
        cmocka_unit_test(test_journal_flip_every_byte),
        cmocka_unit_test(test_journal_bad_records),
        cmocka_unit_test(test_journal_generations),
        cmocka_unit_test(test_journal_corrupt_snapshot),
        cmocka_unit_test(test_journal_compact_read_doc),
    };
    fixture_register_receivers(NULL, 0);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
