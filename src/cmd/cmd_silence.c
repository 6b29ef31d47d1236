/*
 * cmd_silence.c - `segalert silence add|list|expire` (docs/notifications.md
 * "Silences").
 *
 * Through the running daemon's API when it answers; otherwise by editing
 * the state file directly, under the state lock, so that a daemon
 * starting meanwhile cannot overwrite the edit (it refuses to start while
 * we hold the lock) and we cannot overwrite a running daemon's state
 * (holding the lock proves none runs).
 */
#include <math.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>

#include "cmd/cli.h"
#include "cmd/client.h"
#include "cmd/table.h"
#include "core/json.h"
#include "core/util.h"
#include "daemon/state.h"
#include "notify/silence.h"

#define MAX_MATCHERS 32

static void silence_usage(FILE *out)
{
    fprintf(out,
            "usage: segalert silence add --match LABEL=GLOB [--match ...]\n"
            "              (--for DURATION | --until TIME)\n"
            "              --comment TEXT [--author NAME] [-c FILE] [--url URL]\n"
            "       segalert silence list [--all] [-c FILE] [--url URL]\n"
            "       segalert silence expire ID [-c FILE] [--url URL]\n"
            "\n"
            "Alerts matched by an active silence are not notified.  Every\n"
            "--match must hold: the label (or severity) matches the glob:\n"
            "  segalert silence add --match rule=discard-ratio \\\n"
            "      --match source=web --for 2h --comment \"tracker deploy\"\n"
            "--comment says why (required); --author defaults to $USER.\n"
            "add prints the new silence id.  list shows active and pending\n"
            "silences (--all: expired ones too).  The running daemon is asked\n"
            "through its HTTP API (listen), with admin_token when the\n"
            "configuration sets one; when it is not running, the state file\n"
            "in state_dir is edited.  --url URL (or $" CLIENT_URL_ENV ")\n"
            "asks the daemon there instead (no configuration needed, no\n"
            "fallback to a state file).\n");
}

struct opts {
    struct cli_common common;
    const char *matchers[MAX_MATCHERS];
    size_t nmatchers;
    const char *duration, *until, *comment, *author;
    bool all;
    const char *url;            /* --url */
    bool url_given;             /* --url or SEGALERT_URL: no fallback to
                                   the state file */
};

/* ---- the state file (daemon not running) ------------------------------- */

struct offline {
    struct state_lock *lock;
    uint64_t next_generation;   /* for the snapshot we write */
    cJSON *root;
    cJSON *dispatch;
    struct silences *set;
};

static void offline_close(struct offline *o)
{
    silences_free(o->set);
    cJSON_Delete(o->root);
    state_lock_release(o->lock);
    memset(o, 0, sizeof(*o));
}

/* Load the state (a fresh document when there is none).  With lock, the
 * state dir is created and the lock taken first.  Returns 0 or -1 (err). */
static int offline_open(const char *dir, bool lock, struct offline *o,
                        char *err, size_t errlen)
{
    char why[512];
    memset(o, 0, sizeof(*o));
    if (lock) {
        if (state_dir_prepare(dir, why, sizeof(why)) != 0) {
            snprintf(err, errlen, "%s", why);
            return -1;
        }
        o->lock = state_lock_acquire(dir, why, sizeof(why));
        if (!o->lock) {
            snprintf(err, errlen, "the daemon seems to be running (%s) but "
                                  "its HTTP API did not answer", why);
            return -1;
        }
    }
    /* the snapshot and its journal, as the daemon would read them */
    struct state_read_info info;
    o->root = state_read(dir, STATE_READ_ONLY, &info, why, sizeof(why));
    if (!o->root && !info.snapshot_corrupt) {
        snprintf(err, errlen, "cannot read the state file: %s", why);
        goto fail;
    }
    /* an edit would drop the saves after a bad journal record: that is
     * the daemon's call (it moves the journal aside, loudly) */
    if (!o->root || (lock && info.journal == STATE_JOURNAL_CORRUPT)) {
        snprintf(err, errlen, "%s/%s is not a valid state file (%s); start "
                              "the daemon once to move it aside", dir,
                 o->root ? STATE_JOURNAL_FILE : STATE_FILE, info.why);
        goto fail;
    }
    if (info.journal == STATE_JOURNAL_CORRUPT)
        fprintf(stderr, "segalert silence: warning: %s/%s is damaged (%s); "
                "showing the state up to the damage\n", dir,
                STATE_JOURNAL_FILE, info.why);
    o->next_generation = (info.generation > info.journal_generation
                              ? info.generation : info.journal_generation) + 1;
    o->dispatch = cJSON_GetObjectItemCaseSensitive(o->root, "dispatch");
    if (!o->dispatch) {
        /* the empty dispatcher section dispatch_from_json() accepts */
        o->dispatch = cJSON_AddObjectToObject(o->root, "dispatch");
        cJSON_AddNumberToObject(o->dispatch, "version", 1);
        cJSON_AddNumberToObject(o->dispatch, "seq", 0);
        cJSON_AddArrayToObject(o->dispatch, "groups");
    } else if (!cJSON_IsObject(o->dispatch)) {
        snprintf(err, errlen, "state file: 'dispatch' is not an object");
        goto fail;
    }
    o->set = silences_new();
    const cJSON *sil = json_member(o->dispatch, "silences");
    if (sil && silences_from_json(o->set, sil, why, sizeof(why)) != 0) {
        snprintf(err, errlen, "state file: %s", why);
        goto fail;
    }
    return 0;
fail:
    offline_close(o);
    return -1;
}

/* A new snapshot (with an empty journal): the edit and everything the
 * journal held, in one atomic write. */
static int offline_save(const char *dir, struct offline *o, char *err,
                        size_t errlen)
{
    cJSON_DeleteItemFromObjectCaseSensitive(o->dispatch, "silences");
    cJSON_AddItemToObject(o->dispatch, "silences", silences_to_json(o->set));
    cJSON_DeleteItemFromObjectCaseSensitive(o->root, "saved_at");
    cJSON_AddItemToObject(o->root, "saved_at", json_double(now_wall()));
    return state_write_snapshot(dir, o->root, o->next_generation, NULL, NULL,
                                err, errlen);
}

/* ---- commands ------------------------------------------------------------ */

static int time_range(const struct opts *o, double now, double *ends)
{
    double d = 0;
    if ((o->duration != NULL) == (o->until != NULL)) {
        fprintf(stderr, "segalert silence add: give --for DURATION or --until "
                        "TIME\n");
        return -1;
    }
    if (o->duration) {
        if (parse_duration(o->duration, &d) != 0 || d <= 0) {
            fprintf(stderr, "segalert silence add: invalid --for '%s' "
                            "(e.g. 30m, 2h, 1d)\n", o->duration);
            return -1;
        }
        *ends = now + d;
    } else if (parse_iso8601(o->until, ends) != 0 || *ends <= now) {
        fprintf(stderr, "segalert silence add: invalid --until '%s' (a "
                        "future RFC 3339 time such as "
                        "2026-08-20T18:00:00Z)\n", o->until);
        return -1;
    }
    return 0;
}

/* --author, else who runs the command ($USER, $LOGNAME, the account). */
static const char *author_of(const struct opts *o)
{
    if (o->author)
        return o->author;
    const char *u = getenv("USER");
    if (!u || !*u)
        u = getenv("LOGNAME");
    if (!u || !*u) {
        const struct passwd *pw = getpwuid(geteuid());
        u = pw ? pw->pw_name : NULL;
    }
    return u && *u ? u : NULL;
}

/* Print the API's error message for a failed request. */
static void api_error(const char *what, long status, const struct strbuf *b)
{
    cJSON *j = cJSON_ParseWithLength(strbuf_str(b), b->len);
    const char *e = json_str(j, "error");
    if (e) {
        fprintf(stderr, "segalert silence %s: %s\n", what, e);
        if (status == 401)
            fprintf(stderr, "segalert silence %s: the daemon has an "
                    "admin_token: give this command the same configuration "
                    "(admin_token, admin_token_env or admin_token_file)\n",
                    what);
    } else {
        char *msg = xstrdup(strbuf_str(b));
        size_t n = strlen(msg);
        while (n && msg[n - 1] == '\n')
            msg[--n] = '\0';
        fprintf(stderr, "segalert silence %s: HTTP %ld: %s\n", what, status,
                msg);
        free(msg);
    }
    cJSON_Delete(j);
}

/* The body of POST /api/v1/silences for this command line. */
static char *add_request(const struct opts *o, double ends)
{
    struct strbuf req = STRBUF_INIT;
    strbuf_addc(&req, '{');
    jw_open(&req, "matchers", '[');
    for (size_t i = 0; i < o->nmatchers; i++)
        jw_str(&req, NULL, o->matchers[i]);
    jw_close(&req, ']');
    if (o->duration) {
        jw_str(&req, "duration", o->duration);
    } else {
        char endstr[40];
        format_iso8601(ends, endstr, sizeof(endstr));
        jw_str(&req, "endsAt", endstr);
    }
    if (o->comment)
        jw_str(&req, "comment", o->comment);
    if (author_of(o))
        jw_str(&req, "createdBy", author_of(o));
    strbuf_addc(&req, '}');
    return strbuf_detach(&req);
}

/* Through the daemon: 0 added, 1 failed, -1 nothing listens. */
static int add_online(const struct opts *o, const struct config *cfg,
                      const char *url, double ends)
{
    char err[1024];
    char *body = add_request(o, ends);
    long status = 0;
    struct strbuf out = STRBUF_INIT;
    enum client_result r = client_request(url, "POST", "/api/v1/silences",
                                          cfg->admin_token, body, &status,
                                          &out, err, sizeof(err));
    free(body);
    int rc = 1;
    if (r == CLIENT_OK) {
        cJSON *j = cJSON_ParseWithLength(strbuf_str(&out), out.len);
        const char *id = json_str(j, "silenceId");
        if (status == 200 && id) {
            printf("%s\n", id);
            rc = 0;
        } else {
            api_error("add", status, &out);
        }
        cJSON_Delete(j);
    } else if (r == CLIENT_ERROR) {
        fprintf(stderr, "segalert silence add: %s\n", err);
    } else {
        rc = -1;
    }
    strbuf_free(&out);
    return rc;
}

/* In the state file (the daemon is not running): 0, 1 or 2. */
static int add_offline(const struct opts *o, const struct config *cfg,
                       const struct kv *m, size_t n, double now, double ends)
{
    char err[1024];
    struct offline off;
    if (offline_open(cfg->state_dir, true, &off, err, sizeof(err)) != 0) {
        fprintf(stderr, "segalert silence add: %s\n", err);
        return 1;
    }
    int rc = 1;
    const struct silence *s = NULL;
    struct silence_limits lim = {
        (size_t)(cfg->max_silences > 0 ? cfg->max_silences : 0),
        (size_t)(cfg->max_silence_size_bytes > 0
                     ? cfg->max_silence_size_bytes : 0),
    };
    silences_set_limits(off.set, &lim);
    if (silence_add(off.set, m, n, now, ends, author_of(o), o->comment, now,
                    &s, err, sizeof(err)) != SILENCE_OK) {
        fprintf(stderr, "segalert silence add: %s\n", err);
        rc = 2;
    } else {
        char *id = xstrdup(s->id);
        if (offline_save(cfg->state_dir, &off, err, sizeof(err)) != 0) {
            fprintf(stderr, "segalert silence add: cannot save the state "
                            "file: %s\n", err);
        } else {
            printf("%s\n", id);
            fprintf(stderr, "segalert silence add: daemon not running; "
                            "saved in %s/%s\n", cfg->state_dir, STATE_FILE);
            rc = 0;
        }
        free(id);
    }
    offline_close(&off);
    return rc;
}

static int do_add(const struct opts *o, const struct config *cfg,
                  const char *url)
{
    double now = now_wall(), ends = 0;
    if (o->nmatchers == 0) {
        fprintf(stderr, "segalert silence add: at least one --match "
                        "LABEL=GLOB is needed\n");
        return 2;
    }
    const char *c = o->comment;
    while (c && (*c == ' ' || *c == '\t' || *c == '\n' || *c == '\r'))
        c++;
    if (!c || !*c) {
        fprintf(stderr, "segalert silence add: --comment TEXT is required: "
                        "say why, for whoever finds the silence later\n");
        return 2;
    }
    /* Checked here, so that neither path sees a malformed matcher. */
    struct kv *m = xcalloc(o->nmatchers, sizeof(*m));
    size_t n = 0;
    char err[1024];
    int rc = 2;
    for (; n < o->nmatchers; n++) {
        if (silence_parse_matcher(o->matchers[n], &m[n], err,
                                  sizeof(err)) != 0) {
            fprintf(stderr, "segalert silence add: %s\n", err);
            goto done;
        }
    }
    if (time_range(o, now, &ends) != 0)
        goto done;
    rc = url ? add_online(o, cfg, url, ends) : -1;
    if (rc < 0 && o->url_given) {
        fprintf(stderr, "segalert silence add: nothing listens on %s\n", url);
        rc = 1;
    } else if (rc < 0) {
        rc = add_offline(o, cfg, m, n, now, ends);
    }
done:
    kv_array_free(m, n);
    return rc;
}

static int do_expire(const struct opts *o, const char *id,
                     const struct config *cfg, const char *url)
{
    char err[1024];
    if (!silence_id_valid(id, strlen(id))) {
        fprintf(stderr, "segalert silence expire: '%s' is not a silence id\n",
                id);
        return 2;
    }
    if (url) {
        char path[128];
        snprintf(path, sizeof(path), "/api/v1/silence/%s", id);
        long status = 0;
        struct strbuf out = STRBUF_INIT;
        enum client_result r = client_request(url, "DELETE", path,
                                              cfg->admin_token, NULL, &status,
                                              &out, err, sizeof(err));
        if (r == CLIENT_OK) {
            int rc = 0;
            if (status == 200)
                printf("silence %s expired\n", id);
            else {
                api_error("expire", status, &out);
                rc = 1;
            }
            strbuf_free(&out);
            return rc;
        }
        strbuf_free(&out);
        if (r == CLIENT_ERROR) {
            fprintf(stderr, "segalert silence expire: %s\n", err);
            return 1;
        }
        if (o->url_given) {
            fprintf(stderr, "segalert silence expire: nothing listens on "
                            "%s\n", url);
            return 1;
        }
    }
    struct offline off;
    if (offline_open(cfg->state_dir, true, &off, err, sizeof(err)) != 0) {
        fprintf(stderr, "segalert silence expire: %s\n", err);
        return 1;
    }
    int rc = 1;
    if (silence_expire(off.set, id, now_wall(), err, sizeof(err)) !=
        SILENCE_OK)
        fprintf(stderr, "segalert silence expire: %s\n", err);
    else if (offline_save(cfg->state_dir, &off, err, sizeof(err)) != 0)
        fprintf(stderr, "segalert silence expire: cannot save the state "
                        "file: %s\n", err);
    else {
        printf("silence %s expired\n", id);
        rc = 0;
    }
    offline_close(&off);
    return rc;
}

static void list_row(struct table *t, const char *id, const char *matchers,
                     double starts, double ends, const char *by,
                     const char *comment, double now, bool all)
{
    const char *st = ends <= now ? "expired" : starts > now ? "pending"
                                                            : "active";
    if (!all && streq(st, "expired"))
        return;
    char age[40], when[64];
    format_age(ends - now, age, sizeof(age));
    if (ends > now)
        snprintf(when, sizeof(when), "in %s", age);
    else {
        format_age(now - ends, age, sizeof(age));
        snprintf(when, sizeof(when), "%s ago", age);
    }
    table_row(t, id, st, matchers, when, by, comment);
}

/* An RFC 3339 member as unix seconds, 0 when absent. */
static double time_or_0(const cJSON *o, const char *key)
{
    double t = json_time(o, key);
    return isnan(t) ? 0 : t;
}

/* Rows from the daemon: 0 listed, 1 failed, -1 nothing listens. */
static int list_online(const struct opts *o, const char *url, double now,
                       struct table *t)
{
    char err[1024];
    long status = 0;
    struct strbuf out = STRBUF_INIT;
    enum client_result r = client_request(url, "GET", "/api/v1/silences",
                                          NULL, NULL, &status, &out, err,
                                          sizeof(err));
    if (r != CLIENT_OK) {
        if (r == CLIENT_ERROR)
            fprintf(stderr, "segalert silence list: %s\n", err);
        strbuf_free(&out);
        return r == CLIENT_ERROR ? 1 : -1;
    }
    cJSON *j = cJSON_ParseWithLength(strbuf_str(&out), out.len);
    const cJSON *arr = json_member(json_member(j, "data"), "silences");
    int rc = 0;
    if (status != 200 || !cJSON_IsArray(arr)) {
        api_error("list", status, &out);
        rc = 1;
        arr = NULL;
    }
    const cJSON *s;
    cJSON_ArrayForEach(s, arr) {
        struct strbuf m = STRBUF_INIT;
        const cJSON *it;
        cJSON_ArrayForEach(it, json_member(s, "matchers"))
            if (cJSON_IsString(it))
                strbuf_addf(&m, "%s%s", m.len ? ", " : "", it->valuestring);
        const char *id = json_str(s, "id");
        list_row(t, id ? id : "?", strbuf_str(&m), time_or_0(s, "startsAt"),
                 time_or_0(s, "endsAt"), json_str(s, "createdBy"),
                 json_str(s, "comment"), now, o->all);
        strbuf_free(&m);
    }
    cJSON_Delete(j);
    strbuf_free(&out);
    return rc;
}

/* Rows from the state file: 0 listed, 1 failed. */
static int list_offline(const struct opts *o, const struct config *cfg,
                        double now, struct table *t)
{
    char err[1024];
    /* Reading needs no lock: the snapshot is replaced atomically and a
     * record being appended to the journal is ignored until complete. */
    struct offline off;
    if (offline_open(cfg->state_dir, false, &off, err, sizeof(err)) != 0) {
        fprintf(stderr, "segalert silence list: %s\n", err);
        return 1;
    }
    size_t n = 0;
    const struct silence *all = silences_list(off.set, &n);
    for (size_t i = 0; i < n; i++) {
        struct strbuf m = STRBUF_INIT;
        for (size_t k = 0; k < all[i].n; k++)
            strbuf_addf(&m, "%s%s=%s", k ? ", " : "", all[i].matchers[k].key,
                        all[i].matchers[k].value);
        list_row(t, all[i].id, strbuf_str(&m), all[i].starts_at,
                 all[i].ends_at, all[i].created_by, all[i].comment, now,
                 o->all);
        strbuf_free(&m);
    }
    offline_close(&off);
    return 0;
}

static int do_list(const struct opts *o, const struct config *cfg,
                   const char *url)
{
    double now = now_wall();
    struct table t;
    table_init(&t, 6);
    table_row(&t, "ID", "STATUS", "MATCHERS", "ENDS", "CREATED BY",
              "COMMENT");
    int rc = url ? list_online(o, url, now, &t) : -1;
    if (rc < 0 && o->url_given) {
        fprintf(stderr, "segalert silence list: nothing listens on %s\n", url);
        rc = 1;
    } else if (rc < 0) {
        rc = list_offline(o, cfg, now, &t);
    }
    if (rc == 0 && t.nrows == 1) {
        printf("no %ssilences\n", o->all ? "" : "active or pending ");
    } else if (rc == 0) {
        struct strbuf out = STRBUF_INIT;
        table_write(&t, &out);
        fwrite(out.buf, 1, out.len, stdout);
        strbuf_free(&out);
    }
    table_free(&t);
    return rc;
}

/* ---- options ------------------------------------------------------------- */

static int set_match(void *ud, const char *arg)
{
    struct opts *o = ud;
    if (o->nmatchers == MAX_MATCHERS) {
        fprintf(stderr, "segalert silence: at most %d --match\n",
                MAX_MATCHERS);
        return -1;
    }
    o->matchers[o->nmatchers++] = arg;
    return 0;
}

static int set_for(void *ud, const char *arg)
{
    ((struct opts *)ud)->duration = arg;
    return 0;
}

static int set_until(void *ud, const char *arg)
{
    ((struct opts *)ud)->until = arg;
    return 0;
}

static int set_comment(void *ud, const char *arg)
{
    ((struct opts *)ud)->comment = arg;
    return 0;
}

static int set_author(void *ud, const char *arg)
{
    ((struct opts *)ud)->author = arg;
    return 0;
}

static int set_url(void *ud, const char *arg)
{
    ((struct opts *)ud)->url = arg;
    return 0;
}

static int set_all(void *ud, const char *arg)
{
    (void)arg;
    ((struct opts *)ud)->all = true;
    return 0;
}

/* Parse SUB's options (argv[0] is "silence").  Returns -1 to go on, with
 * the ID of expire in *id, or the exit code. */
static int parse_sub(int argc, char **argv, const char *sub, struct opts *o,
                     const char **id)
{
    static const struct cli_flag flags[] = {
        { "match", true, set_match },
        { "for", true, set_for },
        { "until", true, set_until },
        { "comment", true, set_comment },
        { "author", true, set_author },
        { "all", false, set_all },
        { "url", true, set_url },
    };
    bool is_expire = streq(sub, "expire");
    /* Under the name "silence SUB", so that messages say which command. */
    char name[32];
    snprintf(name, sizeof(name), "silence %s", sub);
    char **sargv = xcalloc((size_t)argc, sizeof(*sargv));
    sargv[0] = name;
    for (int i = 2; i < argc; i++)
        sargv[i - 1] = argv[i];
    int first = 0;
    int rc = cli_parse(argc - 1, sargv, &o->common, flags, ARRAY_SIZE(flags),
                       o, silence_usage, 0, is_expire ? 1 : 0, &first);
    if (rc < 0 && is_expire) {
        if (first < argc - 1) {
            *id = sargv[first];
        } else {
            fprintf(stderr, "segalert silence expire: expects one silence "
                            "ID\n");
            rc = 2;
        }
    }
    free(sargv);
    if (rc < 0 && !streq(sub, "add") &&
        (o->nmatchers || o->duration || o->until || o->comment ||
         o->author)) {
        fprintf(stderr, "segalert silence %s: --match, --for, --until, "
                        "--comment and --author are for 'add'\n", sub);
        rc = 2;
    }
    return rc;
}

int cmd_silence(int argc, char **argv)
{
    struct opts o;
    memset(&o, 0, sizeof(o));
    if (argc < 2 || streq(argv[1], "-h") || streq(argv[1], "--help")) {
        silence_usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    const char *sub = argv[1];
    if (!streq(sub, "add") && !streq(sub, "list") && !streq(sub, "expire")) {
        fprintf(stderr, "segalert silence: unknown subcommand '%s' (add, "
                        "list, expire)\n", sub);
        return 2;
    }
    const char *id = NULL;
    int prc = parse_sub(argc, argv, sub, &o, &id);
    if (prc >= 0)
        return prc;
    char url[CLIENT_URL_SIZE], err[1024];
    int explicit_url = client_explicit_url(o.url, url, sizeof(url), err,
                                           sizeof(err));
    if (explicit_url < 0) {
        fprintf(stderr, "segalert silence %s: %s\n", sub, err);
        return 2;
    }
    o.url_given = explicit_url > 0;
    config_set_secrets_optional(true);
    struct config *cfg = o.url_given ? cli_load_config_optional(&o.common)
                                     : cli_load_config(&o.common);
    if (!cfg)
        return 2;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const char *base =
        o.url_given || client_listen_url(cfg->listen, url, sizeof(url)) == 0
            ? url : NULL;
    int rc;
    if (streq(sub, "add"))
        rc = do_add(&o, cfg, base);
    else if (id)
        rc = do_expire(&o, id, cfg, base);
    else
        rc = do_list(&o, cfg, base);
    curl_global_cleanup();
    config_free(cfg);
    return rc;
}
