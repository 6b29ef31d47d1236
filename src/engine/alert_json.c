/*
 * alert_json.c - see alert_json.h.
 */
#include "engine/alert_json.h"

#include <stdio.h>
#include <string.h>

#include "core/json.h"
#include "core/util.h"

static const char *state_name_i(int i)
{
    return alert_state_name((enum alert_state)i);
}

static const char *severity_name_i(int i)
{
    return alert_severity_name((enum alert_severity)i);
}

cJSON *alert_instance_to_json(const struct alert_instance *in)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "state", alert_state_name(in->state));
    cJSON_AddStringToObject(o, "severity", alert_severity_name(in->severity));
    cJSON_AddBoolToObject(o, "nodata", in->nodata);
    cJSON_AddItemToObject(o, "created_at", json_double(in->created_at));
    cJSON_AddItemToObject(o, "active_at", json_double(in->active_at));
    cJSON_AddItemToObject(o, "fired_at", json_double(in->fired_at));
    cJSON_AddItemToObject(o, "resolved_at",
                          json_double(in->resolved_at));
    cJSON_AddItemToObject(o, "last_true_at",
                          json_double(in->last_true_at));
    cJSON_AddItemToObject(o, "last_data_at",
                          json_double(in->last_data_at));
    cJSON_AddItemToObject(o, "last_eval_at",
                          json_double(in->last_eval_at));
    cJSON_AddItemToObject(o, "nodata_s", json_double(in->nodata_s));
    cJSON_AddItemToObject(o, "value", json_double(in->value));
    cJSON_AddItemToObject(o, "data_through", json_double(in->data_through));
    cJSON_AddItemToObject(o, "flap_bits",
                          json_double((double)in->flap_bits));
    cJSON_AddItemToObject(o, "flap_count",
                          json_double(in->flap_count));
    cJSON_AddBoolToObject(o, "flapping", in->flapping);
    cJSON_AddBoolToObject(o, "announced_firing", in->announced_firing);
    cJSON_AddStringToObject(o, "announced_severity",
                            alert_severity_name(in->announced_severity));
    return o;
}

uint64_t alert_instance_digest(const struct alert_instance *in)
{
    const double d[] = {
        in->created_at, in->active_at, in->fired_at, in->resolved_at,
        in->last_true_at, in->last_data_at, in->last_eval_at, in->nodata_s,
        in->value,
    };
    const int64_t n[] = {
        in->state, in->severity, in->nodata, (int64_t)in->flap_bits,
        in->flap_count, in->flapping, in->announced_firing,
        in->announced_severity,
    };
    uint64_t h = hash_bytes(d, sizeof(d), 0);
    return hash_bytes(n, sizeof(n), h);
}

int alert_instance_from_json(const cJSON *j, struct alert_instance *out,
                             char *err, size_t errlen)
{
    char why[160] = "";
    int st, sev, asev;
    double bits, count;
    memset(out, 0, sizeof(*out));
    if (!cJSON_IsObject(j)) {
        snprintf(err, errlen, "alert instance: not an object");
        return -1;
    }
    if (json_get_enum(j, "state", state_name_i, ALERT_FIRING + 1, &st, why,
                 sizeof(why)) ||
        json_get_enum(j, "severity", severity_name_i, ALERT_SEV_CRITICAL + 1,
                 &sev, why, sizeof(why)) ||
        json_get_bool(j, "nodata", &out->nodata, why, sizeof(why)) ||
        json_get_double(j, "created_at", &out->created_at, why,
                         sizeof(why)) ||
        json_get_double(j, "active_at", &out->active_at, why, sizeof(why)) ||
        json_get_double(j, "fired_at", &out->fired_at, why, sizeof(why)) ||
        json_get_double(j, "resolved_at", &out->resolved_at, why,
                         sizeof(why)) ||
        json_get_double(j, "last_true_at", &out->last_true_at, why,
                         sizeof(why)) ||
        json_get_double(j, "last_data_at", &out->last_data_at, why,
                         sizeof(why)) ||
        json_get_double(j, "last_eval_at", &out->last_eval_at, why,
                         sizeof(why)) ||
        json_get_double(j, "nodata_s", &out->nodata_s, why, sizeof(why)) ||
        json_get_double(j, "value", &out->value, why, sizeof(why)) ||
        json_get_int(j, "flap_bits", 0, 4294967295.0, &bits, why,
                      sizeof(why)) ||
        json_get_int(j, "flap_count", 0, ALERT_FLAP_HISTORY, &count, why,
                      sizeof(why)) ||
        json_get_bool(j, "flapping", &out->flapping, why, sizeof(why)) ||
        json_get_bool(j, "announced_firing", &out->announced_firing, why,
                       sizeof(why)) ||
        json_get_enum(j, "announced_severity", severity_name_i,
                 ALERT_SEV_CRITICAL + 1, &asev, why, sizeof(why))) {
        snprintf(err, errlen, "alert instance: %s", why);
        return -1;
    }
    /* Absent in state files written before it existed; a number when
     * present. */
    out->data_through = 0;
    if (json_member(j, "data_through") &&
        json_get_double(j, "data_through", &out->data_through, why,
                        sizeof(why))) {
        snprintf(err, errlen, "alert instance: %s", why);
        return -1;
    }
    out->state = (enum alert_state)st;
    out->severity = (enum alert_severity)sev;
    out->announced_severity = (enum alert_severity)asev;
    out->flap_bits = (uint32_t)bits;
    out->flap_count = (int)count;
    return 0;
}
