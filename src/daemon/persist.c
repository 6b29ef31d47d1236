/*
 * persist.c - the daemon's state document: alert instances worth keeping,
 * the dispatcher (groups, notification log, silences) and the outbox,
 * written through state.c's atomic file layer and read back at start
 * (see daemon_int.h).
 *
 *   {"version": 1, "saved_at": T,
 *    "instances": [{"rule": R, "series": {labels}, "state": {...}}],
 *    "dispatch": {...}, "outbox": {...}}
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "core/json.h"
#include "core/log.h"
#include "daemon/daemon_int.h"
#include "engine/alert_json.h"

static cJSON *labels_json(const struct labelset *ls)
{
    cJSON *o = cJSON_CreateObject();
    for (size_t i = 0; i < labelset_count(ls); i++)
        cJSON_AddStringToObject(o, labelset_key(ls, i), labelset_value(ls, i));
    return o;
}

void daemon_save_state(struct daemon *d)
{
    cJSON *root = cJSON_CreateObject();
    cJSON_AddNumberToObject(root, "version", STATE_VERSION);
    cJSON_AddItemToObject(root, "saved_at", json_double(daemon_now(d)));
    cJSON *insts = cJSON_AddArrayToObject(root, "instances");
    struct eval_instance *const *all;
    size_t ni = evaluator_instances(d->ev, &all);
    for (size_t i = 0; i < ni; i++) {
        const struct eval_instance *in = all[i];
        /* Inactive instances without history carry nothing worth saving. */
        if (in->st.state == ALERT_INACTIVE && !in->st.flapping &&
            !in->st.announced_firing && in->st.flap_count == 0)
            continue;
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "rule", in->rule->cfg->name);
        cJSON_AddItemToObject(o, "series", labels_json(in->series_labels));
        cJSON_AddItemToObject(o, "state", alert_instance_to_json(&in->st));
        cJSON_AddItemToArray(insts, o);
    }
    cJSON_AddItemToObject(root, "dispatch", dispatch_to_json(d->disp));
    cJSON_AddItemToObject(root, "outbox", outbox_to_json(d->ob));
    char *text = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    char err[256];
    if (state_save(d->cfg->state_dir, text, strlen(text), err, sizeof(err)) != 0)
        log_err("daemon: cannot save state: %s", err);
    else
        d->dirty = false;
    free(text);
}

static void restore_instances(struct daemon *d, const cJSON *insts,
                              size_t *restored, size_t *dropped)
{
    char err[256];
    const cJSON *it;
    cJSON_ArrayForEach(it, insts) {
        const char *rule = json_str(it, "rule");
        const cJSON *series = json_member(it, "series");
        struct alert_instance st;
        if (!rule || !cJSON_IsObject(series) ||
            alert_instance_from_json(json_member(it, "state"), &st, err,
                                     sizeof(err)) != 0) {
            (*dropped)++;
            continue;
        }
        struct labels_builder b;
        labels_builder_init(&b, d->pool);
        const cJSON *kv;
        cJSON_ArrayForEach(kv, series)
            if (cJSON_IsString(kv))
                labels_builder_add(&b, kv->string, kv->valuestring);
        const struct labelset *ls = labels_builder_finish(&b);
        labels_builder_free(&b);
        if (evaluator_restore(d->ev, rule, ls, &st))
            (*restored)++;
        else
            (*dropped)++;
    }
}

int daemon_restore_state(struct daemon *d)
{
    char err[256];
    bool quarantined = false;
    cJSON *root = state_load_json(d->cfg->state_dir, err, sizeof(err),
                                  &quarantined);
    if (!root) {
        if (quarantined) {
            log_err("daemon: the state file was corrupt (%s); it was moved "
                    "aside and segalert starts clean", err);
            return 0;
        }
        log_err("daemon: cannot read the state file in %s: %s",
                d->cfg->state_dir, err);
        return -1;
    }
    size_t restored = 0, dropped = 0;
    restore_instances(d, json_member(root, "instances"), &restored, &dropped);
    const cJSON *disp = json_member(root, "dispatch");
    if (disp && dispatch_from_json(d->disp, disp, err, sizeof(err)) != 0)
        log_err("daemon: state file: notification groups not restored: %s",
                err);
    const cJSON *ob = json_member(root, "outbox");
    if (ob) {
        struct outbox *o = outbox_from_json(ob, DAEMON_OUTBOX_MAX,
                                            (uint64_t)getpid(), err,
                                            sizeof(err));
        if (o) {
            outbox_free(d->ob);
            d->ob = o;
        } else {
            log_err("daemon: state file: outbox not restored: %s", err);
        }
    }
    log_info("daemon: state restored: %zu alert instances (%zu dropped), %zu "
             "queued notifications", restored, dropped, outbox_count(d->ob));
    cJSON_Delete(root);
    return 0;
}
