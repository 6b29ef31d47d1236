/*
 * snapshot.c - see snapshot.h.
 *
 * One mutex guards the published pointer and every refcount.  The
 * reference counts are only ever touched under the mutex, so a plain int
 * is enough; freeing happens outside the lock because a big snapshot
 * takes a while to free and readers must not wait for it.
 */
#include "server/snapshot.h"

#include <pthread.h>
#include <stdlib.h>

#include "core/kv.h"
#include "core/util.h"

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static struct snapshot *published;

/* Frees everything the snapshot owns (every string and array), then s. */
static void snapshot_free(struct snapshot *s)
{
    if (!s)
        return;
    free(s->version);
    free(s->config_path);
    free(s->state_dir);
    free(s->not_ready);
    for (size_t i = 0; i < s->nworkspaces; i++) {
        struct snap_workspace *w = &s->workspaces[i];
        free(w->name);
        free(w->api_url);
        for (int k = 0; k < POLL__COUNT; k++) {
            free(w->last_error[k]);
            free(w->blind_reason[k]);
        }
    }
    free(s->workspaces);
    for (size_t i = 0; i < s->nalerts; i++) {
        struct snap_alert *a = &s->alerts[i];
        free(a->rule);
        kv_array_free(a->labels, a->nlabels);
        free(a->state);
        free(a->severity);
        free(a->summary);
        free(a->runbook_url);
        free(a->spark);
        free(a->spark_metric);
    }
    free(s->alerts);
    for (size_t i = 0; i < s->nrules; i++) {
        struct snap_rule *r = &s->rules[i];
        free(r->name);
        free(r->family);
        free(r->expr);
        free(r->warn);
        free(r->severity);
        free(r->file);
    }
    free(s->rules);
    for (size_t i = 0; i < s->nreceivers; i++) {
        struct snap_receiver *r = &s->receivers[i];
        free(r->name);
        free(r->type);
        kv_array_free(r->failures, r->nfailures);
        free(r->last_error);
    }
    free(s->receivers);
    for (size_t i = 0; i < s->nsilences; i++) {
        struct snap_silence *si = &s->silences[i];
        free(si->id);
        free(si->matchers);
        free(si->created_by);
        free(si->comment);
    }
    free(s->silences);
    free(s->series);                /* their labels are borrowed */
    free(s);
}

/* The builder holds the first reference; publish hands it over to the
 * published slot, and releasing an unpublished snapshot frees it. */
struct snapshot *snapshot_new(void)
{
    struct snapshot *s = xcalloc(1, sizeof(*s));
    s->refs = 1;
    return s;
}

void snapshot_publish(struct snapshot *s)
{
    pthread_mutex_lock(&mu);
    struct snapshot *old = published;
    published = s;
    pthread_mutex_unlock(&mu);
    snapshot_release(old);
}

struct snapshot *snapshot_acquire(void)
{
    pthread_mutex_lock(&mu);
    struct snapshot *s = published;
    if (s)
        s->refs++;
    pthread_mutex_unlock(&mu);
    return s;
}

void snapshot_release(struct snapshot *s)
{
    if (!s)
        return;
    pthread_mutex_lock(&mu);
    int left = --s->refs;
    pthread_mutex_unlock(&mu);
    if (left == 0)
        snapshot_free(s);
}

void snapshot_clear(void)
{
    pthread_mutex_lock(&mu);
    struct snapshot *old = published;
    published = NULL;
    pthread_mutex_unlock(&mu);
    snapshot_release(old);
}

size_t snapshot_count_alerts(const struct snapshot *s, const char *state)
{
    size_t n = 0;
    for (size_t i = 0; i < s->nalerts; i++)
        if (streq(s->alerts[i].state, state))
            n++;
    return n;
}

size_t snapshot_count_active_silences(const struct snapshot *s)
{
    size_t n = 0;
    for (size_t i = 0; i < s->nsilences; i++)
        if (s->silences[i].active)
            n++;
    return n;
}

const char *snapshot_silence_status(const struct snapshot *s,
                                    const struct snap_silence *si)
{
    if (si->active)
        return "active";
    return si->starts_at > s->generated_at ? "pending" : "expired";
}
