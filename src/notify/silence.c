/*
 * silence.c - see silence.h.
 */
#include "notify/silence.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/index.h"
#include "core/json.h"
#include "notify/notify_json.h"
#include "core/util.h"
#include "notify/notify.h"

struct silences {
    struct silence *items;
    size_t n, cap;
    struct index_map by_id;     /* id -> index into items */
    uint64_t counter;           /* seeds ids; collisions are re-drawn */
    struct silence_limits lim;
    size_t load_compares;       /* by the last silences_from_json() */
};

struct silences *silences_new(void)
{
    return xcalloc(1, sizeof(struct silences));
}

static void silence_free_fields(struct silence *s)
{
    free(s->id);
    kv_array_free(s->matchers, s->n);
    free(s->created_by);
    free(s->comment);
    memset(s, 0, sizeof(*s));
}

static void clear(struct silences *set)
{
    for (size_t i = 0; i < set->n; i++)
        silence_free_fields(&set->items[i]);
    free(set->items);
    index_map_free(&set->by_id);
    set->items = NULL;
    set->n = set->cap = 0;
}

void silences_set_limits(struct silences *set,
                         const struct silence_limits *lim)
{
    set->lim = *lim;
}

const struct silence_limits *silences_get_limits(const struct silences *set)
{
    return &set->lim;
}

void silences_free(struct silences *set)
{
    if (!set)
        return;
    clear(set);
    free(set);
}

static bool is_label_name(const char *k, size_t len)
{
    if (len == 0 || !((k[0] >= 'a' && k[0] <= 'z') ||
                      (k[0] >= 'A' && k[0] <= 'Z') || k[0] == '_'))
        return false;
    for (size_t i = 1; i < len; i++) {
        char c = k[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '_'))
            return false;
    }
    return true;
}

int silence_parse_matcher(const char *s, struct kv *out, char *err,
                          size_t errlen)
{
    const char *eq = s ? strchr(s, '=') : NULL;
    if (!eq) {
        snprintf(err, errlen, "invalid matcher '%s': expected label=glob",
                 s ? s : "");
        return -1;
    }
    if (!is_label_name(s, (size_t)(eq - s))) {
        snprintf(err, errlen, "invalid matcher '%s': '%.*s' is not a label "
                 "name", s, (int)(eq - s), s);
        return -1;
    }
    out->key = xstrndup(s, (size_t)(eq - s));
    out->value = xstrdup(eq + 1);
    return 0;
}

bool silence_id_valid(const char *s, size_t len)
{
    if (len == 0 || len > SILENCE_ID_MAX)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
              (c >= 'A' && c <= 'Z') || c == '-' || c == '_'))
            return false;
    }
    return true;
}

/* What index_map_get() compares with, counting the comparisons. */
struct id_lookup {
    const struct silences *set;
    size_t *compares;           /* NULL: not counted */
};

static bool id_match(const void *ctx, size_t idx, const void *key)
{
    const struct id_lookup *l = ctx;
    if (l->compares)
        (*l->compares)++;
    return streq(l->set->items[idx].id, key);
}

static const struct silence *find(const struct silences *set, const char *id,
                                  size_t *compares)
{
    if (!id)
        return NULL;
    struct id_lookup l = { set, compares };
    size_t i = index_map_get(&set->by_id, hash_str(id), id_match, &l, id);
    return i == INDEX_NONE ? NULL : &set->items[i];
}

const struct silence *silences_get(const struct silences *set,
                                   const char *id)
{
    return find(set, id, NULL);
}

size_t silences_load_compares(const struct silences *set)
{
    return set->load_compares;
}

/* Append s (taken over) and index it. */
static struct silence *append(struct silences *set, const struct silence *s)
{
    XGROW(set->items, set->n + 1, set->cap);
    set->items[set->n] = *s;
    index_map_put(&set->by_id, hash_str(s->id), set->n);
    return &set->items[set->n++];
}

static void reindex(struct silences *set)
{
    index_map_free(&set->by_id);
    for (size_t i = 0; i < set->n; i++)
        index_map_put(&set->by_id, hash_str(set->items[i].id), i);
}

size_t silence_size(const struct kv *matchers, size_t n,
                    const char *created_by, const char *comment)
{
    size_t bytes = 0;
    for (size_t i = 0; i < n; i++)
        bytes += strlen(matchers[i].key ? matchers[i].key : "") + 1 +
                 strlen(matchers[i].value ? matchers[i].value : "");
    return bytes + strlen(created_by ? created_by : "") +
           strlen(comment ? comment : "");
}

/* Ids only need to be unique within the set and hard to confuse with one
 * another; hashing a counter with the time gives that deterministically,
 * which keeps tests reproducible. */
static char *new_id(struct silences *set, double now)
{
    char buf[17];
    for (;;) {
        uint64_t in[2];
        set->counter++;
        in[0] = set->counter;
        memcpy(&in[1], &now, sizeof(now));
        uint64_t h = hash_bytes(in, sizeof(in), 0x5e1e9ce5ULL);
        /* one more mixing round so consecutive ids differ in every digit */
        h ^= h >> 29;
        h *= 0xbf58476d1ce4e5b9ULL;
        h ^= h >> 32;
        snprintf(buf, sizeof(buf), "%016" PRIx64, h);
        if (!silences_get(set, buf))
            return xstrdup(buf);
    }
}

static int check_silence(const struct kv *matchers, size_t n,
                         double starts_at, double ends_at, char *err,
                         size_t errlen)
{
    if (n == 0) {
        snprintf(err, errlen, "a silence needs at least one matcher");
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        if (!matchers[i].key || !matchers[i].value ||
            !is_label_name(matchers[i].key, strlen(matchers[i].key))) {
            snprintf(err, errlen, "invalid matcher label '%s'",
                     matchers[i].key ? matchers[i].key : "");
            return -1;
        }
    }
    if (!(ends_at > starts_at)) {
        snprintf(err, errlen, "a silence must end after it starts");
        return -1;
    }
    return 0;
}

enum silence_err silence_add(struct silences *set, const struct kv *matchers,
                             size_t n, double starts_at, double ends_at,
                             const char *created_by, const char *comment,
                             double now, const struct silence **added,
                             char *err, size_t errlen)
{
    if (check_silence(matchers, n, starts_at, ends_at, err, errlen) != 0)
        return SILENCE_INVALID;
    size_t bytes = silence_size(matchers, n, created_by, comment);
    if (set->lim.max_bytes && bytes > set->lim.max_bytes) {
        snprintf(err, errlen, "the silence is %zu bytes (matchers, comment "
                 "and author), more than max_silence_size_bytes (%zu)",
                 bytes, set->lim.max_bytes);
        return SILENCE_LIMIT;
    }
    if (set->lim.max_count) {
        size_t live = 0;
        for (size_t i = 0; i < set->n; i++)
            live += set->items[i].ends_at > now;
        if (live >= set->lim.max_count) {
            snprintf(err, errlen, "%zu silences are active or pending, as "
                     "many as max_silences allows: expire some first",
                     live);
            return SILENCE_LIMIT;
        }
    }
    struct silence s;
    memset(&s, 0, sizeof(s));
    s.id = new_id(set, now);
    s.matchers = kv_array_dup(matchers, n);
    s.n = n;
    s.starts_at = starts_at;
    s.ends_at = ends_at;
    s.created_by = xstrdup(created_by);
    s.comment = xstrdup(comment);
    const struct silence *in = append(set, &s);
    if (added)
        *added = in;
    return SILENCE_OK;
}

enum silence_err silence_expire(struct silences *set, const char *id,
                                double now, char *err, size_t errlen)
{
    struct silence *s = (struct silence *)silences_get(set, id);
    if (!s) {
        snprintf(err, errlen, "no silence with id '%s'", id ? id : "");
        return SILENCE_NOT_FOUND;
    }
    if (s->ends_at <= now) {
        snprintf(err, errlen, "silence '%s' has already expired", id);
        return SILENCE_ENDED;
    }
    if (s->starts_at > now)
        s->starts_at = now;
    s->ends_at = now;
    return SILENCE_OK;
}

const struct silence *silences_list(const struct silences *set, size_t *n)
{
    *n = set->n;
    return set->items;
}

size_t silences_count(const struct silences *set)
{
    return set->n;
}

bool silence_is_active(const struct silence *s, double now)
{
    return s->starts_at <= now && now < s->ends_at;
}

bool silence_matches(const struct silence *s, const struct kv *labels,
                     size_t nlabels, const char *severity)
{
    for (size_t i = 0; i < s->n; i++) {
        const char *v = kv_array_get(labels, nlabels, s->matchers[i].key);
        if (!v && streq(s->matchers[i].key, "severity"))
            v = severity;
        if (!glob_match(s->matchers[i].value, v ? v : ""))
            return false;
    }
    return true;
}

const struct silence *silences_match(const struct silences *set,
                                     const struct kv *labels, size_t nlabels,
                                     const char *severity, double now)
{
    for (size_t i = 0; i < set->n; i++) {
        const struct silence *s = &set->items[i];
        if (silence_is_active(s, now) &&
            silence_matches(s, labels, nlabels, severity))
            return s;
    }
    return NULL;
}

size_t silences_gc(struct silences *set, double now, double retention_s)
{
    size_t kept = 0, dropped = 0;
    for (size_t i = 0; i < set->n; i++) {
        if (set->items[i].ends_at + retention_s < now) {
            silence_free_fields(&set->items[i]);
            dropped++;
        } else {
            set->items[kept++] = set->items[i];
        }
    }
    set->n = kept;
    if (dropped)
        reindex(set);
    return dropped;
}

/* ---- state file -------------------------------------------------------- */

cJSON *silence_to_json(const struct silence *s)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "id", s->id);
    cJSON *m = cJSON_AddArrayToObject(o, "matchers");
    for (size_t k = 0; k < s->n; k++) {
        char *txt = xasprintf("%s=%s", s->matchers[k].key,
                              s->matchers[k].value);
        cJSON_AddItemToArray(m, cJSON_CreateString(txt));
        free(txt);
    }
    cJSON_AddItemToObject(o, "starts_at", json_double(s->starts_at));
    cJSON_AddItemToObject(o, "ends_at", json_double(s->ends_at));
    if (s->created_by)
        cJSON_AddStringToObject(o, "created_by", s->created_by);
    if (s->comment)
        cJSON_AddStringToObject(o, "comment", s->comment);
    return o;
}

/* Keep in step with silence_to_json(). */
uint64_t silence_digest(const struct silence *s)
{
    uint64_t h = notify_digest_str(0, s->id);
    h = notify_digest_kv(h, s->matchers, s->n);
    h = notify_digest_num(h, s->starts_at);
    h = notify_digest_num(h, s->ends_at);
    h = notify_digest_str(h, s->created_by);
    return notify_digest_str(h, s->comment);
}

cJSON *silences_to_json(const struct silences *set)
{
    cJSON *arr = cJSON_CreateArray();
    for (size_t i = 0; i < set->n; i++)
        cJSON_AddItemToArray(arr, silence_to_json(&set->items[i]));
    return arr;
}

static int parse_one(const cJSON *o, size_t idx, struct silence *s,
                     char *err, size_t errlen)
{
    const cJSON *id = json_member(o, "id");
    const cJSON *m = json_member(o, "matchers");
    const cJSON *st = json_member(o, "starts_at");
    const cJSON *en = json_member(o, "ends_at");
    char sub[200];

    if (!cJSON_IsObject(o) || !cJSON_IsString(id) || !id->valuestring[0] ||
        !cJSON_IsArray(m) || !cJSON_IsNumber(st) || !cJSON_IsNumber(en)) {
        snprintf(err, errlen, "silences[%zu]: expected an object with id, "
                 "matchers, starts_at and ends_at", idx);
        return -1;
    }
    memset(s, 0, sizeof(*s));
    int nm = cJSON_GetArraySize(m);
    s->matchers = xcalloc(nm > 0 ? (size_t)nm : 1, sizeof(*s->matchers));
    const cJSON *it;
    cJSON_ArrayForEach(it, m) {
        if (!cJSON_IsString(it) ||
            silence_parse_matcher(it->valuestring, &s->matchers[s->n], sub,
                                  sizeof(sub)) != 0) {
            snprintf(err, errlen, "silences[%zu]: %s", idx,
                     cJSON_IsString(it) ? sub : "matchers must be strings");
            silence_free_fields(s);
            return -1;
        }
        s->n++;
    }
    if (check_silence(s->matchers, s->n, st->valuedouble, en->valuedouble,
                      sub, sizeof(sub)) != 0) {
        snprintf(err, errlen, "silences[%zu]: %s", idx, sub);
        silence_free_fields(s);
        return -1;
    }
    s->id = xstrdup(id->valuestring);
    s->starts_at = st->valuedouble;
    s->ends_at = en->valuedouble;
    s->created_by = xstrdup(json_str(o, "created_by"));
    s->comment = xstrdup(json_str(o, "comment"));
    return 0;
}

int silences_from_json(struct silences *set, const cJSON *j, char *err,
                       size_t errlen)
{
    if (!cJSON_IsArray(j)) {
        snprintf(err, errlen, "silences: expected an array");
        return -1;
    }
    struct silences tmp;
    memset(&tmp, 0, sizeof(tmp));
    const cJSON *o;
    cJSON_ArrayForEach(o, j) {
        struct silence s;
        if (parse_one(o, tmp.n, &s, err, errlen) != 0)
            goto fail;
        if (find(&tmp, s.id, &tmp.load_compares)) {
            snprintf(err, errlen, "silences[%zu]: duplicate id '%s'", tmp.n,
                     s.id);
            silence_free_fields(&s);
            goto fail;
        }
        append(&tmp, &s);
    }
    clear(set);
    set->items = tmp.items;
    set->n = tmp.n;
    set->cap = tmp.cap;
    set->by_id = tmp.by_id;
    set->load_compares = tmp.load_compares;
    /* keep drawing fresh ids after a restart */
    set->counter += tmp.n;
    return 0;
fail:
    clear(&tmp);
    return -1;
}
