/*
 * notify_json.c - see notify_json.h.
 */
#include "notify/notify_json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/receiver_type.h"
#include "core/json.h"
#include "core/util.h"

cJSON *notify_alert_to_json(const struct notify_alert *a)
{
    cJSON *ao = cJSON_CreateObject();
    cJSON_AddItemToObject(ao, "rule", json_str_or_null(a->rule));
    cJSON_AddItemToObject(ao, "fingerprint", json_str_or_null(a->fingerprint));
    cJSON_AddItemToObject(ao, "labels", json_kv_object(a->labels, a->nlabels));
    cJSON_AddItemToObject(ao, "severity", json_str_or_null(a->severity));
    cJSON_AddItemToObject(ao, "status", json_str_or_null(a->status));
    cJSON_AddBoolToObject(ao, "nodata", a->nodata);
    cJSON_AddBoolToObject(ao, "flapping", a->flapping);
    cJSON_AddItemToObject(ao, "value", json_double(a->value));
    if (a->unit != UNIT_COUNT)      /* absent: a count, as before units */
        cJSON_AddStringToObject(ao, "unit", metric_unit_name(a->unit));
    cJSON_AddItemToObject(ao, "summary", json_str_or_null(a->summary));
    cJSON_AddItemToObject(ao, "description", json_str_or_null(a->description));
    cJSON_AddItemToObject(ao, "runbook_url", json_str_or_null(a->runbook_url));
    cJSON_AddItemToObject(ao, "starts_at", json_double(a->starts_at));
    cJSON_AddItemToObject(ao, "ends_at", json_double(a->ends_at));
    return ao;
}

cJSON *notification_to_json(const struct notification *n)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddItemToObject(o, "id", json_str_or_null(n->id));
    cJSON_AddItemToObject(o, "receiver", json_str_or_null(n->receiver));
    cJSON_AddItemToObject(o, "receiver_type",
                          json_str_or_null(n->receiver_type));
    cJSON_AddItemToObject(o, "route", json_str_or_null(n->route));
    cJSON_AddItemToObject(o, "group_key", json_str_or_null(n->group_key));
    cJSON_AddItemToObject(o, "group_labels",
                          json_kv_object(n->group_labels, n->ngroup_labels));
    cJSON_AddStringToObject(o, "reason", notify_reason_name(n->reason));
    cJSON_AddItemToObject(o, "created_at", json_double(n->created_at));
    cJSON_AddItemToObject(o, "external_url", json_str_or_null(n->external_url));
    cJSON *arr = cJSON_AddArrayToObject(o, "alerts");
    for (size_t i = 0; i < n->nalerts; i++)
        cJSON_AddItemToArray(arr, notify_alert_to_json(&n->alerts[i]));
    return o;
}

/* ---- digests ----------------------------------------------------------- */

uint64_t notify_digest_str(uint64_t h, const char *s)
{
    /* 0 = NULL; 1, the bytes and the NUL = a string */
    static const unsigned char null_mark = 0, str_mark = 1;
    if (!s)
        return hash_bytes(&null_mark, 1, h);
    h = hash_bytes(&str_mark, 1, h);
    return hash_bytes(s, strlen(s) + 1, h);
}

uint64_t notify_digest_num(uint64_t h, double v)
{
    return hash_bytes(&v, sizeof(v), h);
}

uint64_t notify_digest_int(uint64_t h, int64_t v)
{
    return hash_bytes(&v, sizeof(v), h);
}

uint64_t notify_digest_kv(uint64_t h, const struct kv *kv, size_t n)
{
    h = notify_digest_int(h, (int64_t)n);
    for (size_t i = 0; i < n; i++) {
        h = notify_digest_str(h, kv[i].key);
        h = notify_digest_str(h, kv[i].value);
    }
    return h;
}

uint64_t notify_alert_digest(uint64_t h, const struct notify_alert *a)
{
    h = notify_digest_str(h, a->rule);
    h = notify_digest_str(h, a->fingerprint);
    h = notify_digest_kv(h, a->labels, a->nlabels);
    h = notify_digest_str(h, a->severity);
    h = notify_digest_str(h, a->status);
    h = notify_digest_int(h, a->nodata);
    h = notify_digest_int(h, a->flapping);
    h = notify_digest_num(h, a->value);
    h = notify_digest_str(h, a->summary);
    h = notify_digest_str(h, a->description);
    h = notify_digest_str(h, a->runbook_url);
    h = notify_digest_num(h, a->starts_at);
    return notify_digest_num(h, a->ends_at);
}

/* ---- decoding ----------------------------------------------------------- */

static int alert_from_json(const cJSON *ao, struct notify_alert *a,
                           char *err, size_t errlen)
{
    if (!cJSON_IsObject(ao)) {
        snprintf(err, errlen, "not an object");
        return -1;
    }
    if (json_get_strdup(ao, "rule", false, &a->rule, err, errlen) ||
        json_get_strdup(ao, "fingerprint", true, &a->fingerprint, err, errlen) ||
        json_get_kv(ao, "labels", true, &a->labels, &a->nlabels, err, errlen) ||
        json_get_strdup(ao, "severity", true, &a->severity, err, errlen) ||
        json_get_strdup(ao, "status", true, &a->status, err, errlen) ||
        json_get_bool(ao, "nodata", &a->nodata, err, errlen) ||
        json_get_bool(ao, "flapping", &a->flapping, err, errlen) ||
        json_get_double(ao, "value", &a->value, err, errlen) ||
        json_get_strdup(ao, "summary", true, &a->summary, err, errlen) ||
        json_get_strdup(ao, "description", true, &a->description, err, errlen) ||
        json_get_strdup(ao, "runbook_url", true, &a->runbook_url, err, errlen) ||
        json_get_double(ao, "starts_at", &a->starts_at, err, errlen) ||
        json_get_double(ao, "ends_at", &a->ends_at, err, errlen))
        return -1;
    a->unit = metric_unit_parse(json_str(ao, "unit"));
    return 0;
}

struct notification *notification_from_json(const cJSON *j, char *err,
                                            size_t errlen)
{
    char why[200] = "";
    const char *s;
    struct notification *n = notification_new();
    if (!cJSON_IsObject(j)) {
        snprintf(err, errlen, "notification: not an object");
        goto fail;
    }
    if (json_get_strdup(j, "id", false, &n->id, why, sizeof(why)) ||
        json_get_strdup(j, "receiver", false, &n->receiver, why, sizeof(why)))
        goto fail_why;
    if (json_get_string(j, "receiver_type", false, &s, why, sizeof(why)))
        goto fail_why;
    if (!receiver_type_find(s)) {
        snprintf(why, sizeof(why), "receiver_type: unknown '%.60s'", s);
        goto fail_why;
    }
    n->receiver_type = xstrdup(s);
    if (json_get_strdup(j, "route", true, &n->route, why, sizeof(why)) ||
        json_get_strdup(j, "group_key", true, &n->group_key, why, sizeof(why)) ||
        json_get_kv(j, "group_labels", true, &n->group_labels, &n->ngroup_labels,
                     why, sizeof(why)))
        goto fail_why;
    if (json_get_string(j, "reason", false, &s, why, sizeof(why)))
        goto fail_why;
    int r = notify_reason_parse(s);
    if (r < 0) {
        snprintf(why, sizeof(why), "reason: unknown '%.60s'", s);
        goto fail_why;
    }
    n->reason = (enum notify_reason)r;
    if (json_get_double(j, "created_at", &n->created_at, why, sizeof(why)) ||
        json_get_strdup(j, "external_url", true, &n->external_url, why,
                   sizeof(why)))
        goto fail_why;

    const cJSON *arr = json_member(j, "alerts");
    if (!arr) {
        snprintf(why, sizeof(why), "alerts: missing");
        goto fail_why;
    }
    if (!cJSON_IsArray(arr)) {
        snprintf(why, sizeof(why), "alerts: not an array");
        goto fail_why;
    }
    size_t count = (size_t)cJSON_GetArraySize(arr);
    n->alerts = xcalloc(count ? count : 1, sizeof(*n->alerts));
    size_t i = 0;
    for (const cJSON *ao = arr->child; ao; ao = ao->next, i++) {
        /* count the alert now so notification_free releases it, complete
         * or not */
        n->nalerts = i + 1;
        char awhy[160] = "";
        if (alert_from_json(ao, &n->alerts[i], awhy, sizeof(awhy)) != 0) {
            snprintf(why, sizeof(why), "alerts[%zu].%s", i, awhy);
            goto fail_why;
        }
    }
    n->nalerts = i;
    return n;

fail_why:
    snprintf(err, errlen, "notification '%.80s': %s",
            n->id ? n->id : "?", why);
fail:
    notification_free(n);
    return NULL;
}

