/*
 * cmd_silence.c - `segalert silence add|list|expire` (SPEC §6).
 *
 * Through the running daemon's API when it answers; otherwise by editing
 * the state file directly, under the state lock, so that a daemon
 * starting meanwhile cannot overwrite the edit (it refuses to start while
 * we hold the lock) and we cannot overwrite a running daemon's state
 * (holding the lock proves none runs).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>

#include "cmd/cli.h"
#include "server/httpd.h"
#include "core/log.h"
#include "notify/silence.h"
#include "core/json.h"
#include "daemon/state.h"
#include "server/statuspage.h"
#include "core/util.h"

#define MAX_MATCHERS 32

static void silence_usage(FILE *out)
{
    fprintf(out,
            "usage: segalert silence add --match LABEL=GLOB [--match ...]\n"
            "              (--for DURATION | --until TIME)\n"
            "              [--comment TEXT] [--author NAME] [-c FILE]\n"
            "       segalert silence list [--all] [-c FILE]\n"
            "       segalert silence expire ID [-c FILE]\n"
            "\n"
            "Alerts matched by an active silence are not notified.  Every\n"
            "--match must hold: the label (or severity) matches the glob:\n"
            "  segalert silence add --match rule=discard-ratio \\\n"
            "      --match source=web --for 2h --comment \"tracker deploy\"\n"
            "add prints the new silence id.  list shows active and pending\n"
            "silences (--all: expired ones too).  The running daemon is asked\n"
            "through its HTTP API (listen); when it is not running, the state\n"
            "file in state_dir is edited.\n");
}

struct opts {
    struct cli_common common;
    const char *matchers[MAX_MATCHERS];
    size_t nmatchers;
    const char *duration, *until, *comment, *author;
    bool all;
};

/* ---- the state file (daemon not running) ------------------------------- */

/* Every number of the tree re-encoded exactly (state.h: cJSON's own
 * printer may round to 15 digits), so an edit does not disturb the rest
 * of the file. */
static void exact_numbers(cJSON *j)
{
    cJSON *it = j ? j->child : NULL;
    while (it) {
        cJSON *next = it->next;
        if (cJSON_IsNumber(it)) {
            cJSON *exact = json_double(it->valuedouble);
            /* ReplaceItemViaPointer keeps the list, not the member name */
            if (it->string)
                exact->string = xstrdup(it->string);
            cJSON_ReplaceItemViaPointer(j, it, exact);
        } else {
            exact_numbers(it);
        }
        it = next;
    }
}

struct offline {
    struct state_lock *lock;
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
    char *text = NULL;
    size_t len = 0;
    int rc = state_load(dir, &text, &len, why, sizeof(why));
    if (rc < 0) {
        snprintf(err, errlen, "cannot read the state file: %s", why);
        goto fail;
    }
    if (rc == 1) {
        o->root = cJSON_CreateObject();
        cJSON_AddNumberToObject(o->root, "version", STATE_VERSION);
    } else {
        o->root = cJSON_ParseWithLength(text, len);
        free(text);
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(o->root, "version");
        if (!cJSON_IsObject(o->root) || !cJSON_IsNumber(v) ||
            v->valuedouble != STATE_VERSION) {
            snprintf(err, errlen, "%s/%s is not a valid state file; start "
                                  "the daemon once to move it aside", dir,
                     STATE_FILE);
            goto fail;
        }
    }
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
    const cJSON *sil = cJSON_GetObjectItemCaseSensitive(o->dispatch,
                                                        "silences");
    if (sil && silences_from_json(o->set, sil, why, sizeof(why)) != 0) {
        snprintf(err, errlen, "state file: %s", why);
        goto fail;
    }
    return 0;
fail:
    offline_close(o);
    return -1;
}

static int offline_save(const char *dir, struct offline *o, char *err,
                        size_t errlen)
{
    cJSON_DeleteItemFromObjectCaseSensitive(o->dispatch, "silences");
    cJSON_AddItemToObject(o->dispatch, "silences", silences_to_json(o->set));
    cJSON_DeleteItemFromObjectCaseSensitive(o->root, "saved_at");
    cJSON_AddNumberToObject(o->root, "saved_at", now_wall());
    exact_numbers(o->root);
    char *text = cJSON_PrintUnformatted(o->root);
    int rc = state_save(dir, text, strlen(text), err, errlen);
    free(text);
    return rc;
}

static void free_kvs(struct kv *m, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(m[i].key);
        free(m[i].value);
    }
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

static const char *author_of(const struct opts *o)
{
    if (o->author)
        return o->author;
    const char *u = getenv("USER");
    return u && *u ? u : NULL;
}

/* Print the API's error message for a failed request. */
static void api_error(const char *what, long status, const struct strbuf *b)
{
    cJSON *j = cJSON_ParseWithLength(strbuf_str(b), b->len);
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(j, "error");
    if (cJSON_IsString(e)) {
        fprintf(stderr, "segalert silence %s: %s\n", what, e->valuestring);
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

static int do_add(const struct opts *o, const struct config *cfg,
                  const char *url)
{
    double now = now_wall(), ends = 0;
    if (o->nmatchers == 0) {
        fprintf(stderr, "segalert silence add: at least one --match "
                        "LABEL=GLOB is needed\n");
        return 2;
    }
    struct kv m[MAX_MATCHERS];
    size_t n = 0;
    char err[1024];
    for (size_t i = 0; i < o->nmatchers; i++) {
        if (silence_parse_matcher(o->matchers[i], &m[n], err,
                                  sizeof(err)) != 0) {
            fprintf(stderr, "segalert silence add: %s\n", err);
            free_kvs(m, n);
            return 2;
        }
        n++;
    }
    if (time_range(o, now, &ends) != 0) {
        free_kvs(m, n);
        return 2;
    }
    int rc = 1;
    if (url) {
        cJSON *req = cJSON_CreateObject();
        cJSON *arr = cJSON_AddArrayToObject(req, "matchers");
        for (size_t i = 0; i < n; i++) {
            char *one = xasprintf("%s=%s", m[i].key, m[i].value);
            cJSON_AddItemToArray(arr, cJSON_CreateString(one));
            free(one);
        }
        char endstr[40];
        format_iso8601(ends, endstr, sizeof(endstr));
        if (o->duration)
            cJSON_AddStringToObject(req, "duration", o->duration);
        else
            cJSON_AddStringToObject(req, "endsAt", endstr);
        if (o->comment)
            cJSON_AddStringToObject(req, "comment", o->comment);
        if (author_of(o))
            cJSON_AddStringToObject(req, "createdBy", author_of(o));
        char *body = cJSON_PrintUnformatted(req);
        cJSON_Delete(req);
        long status = 0;
        struct strbuf out = STRBUF_INIT;
        enum httpd_client_result r = httpd_client_request(
            url, "POST", "/api/v1/silences", cfg->admin_token, body, &status,
            &out, err, sizeof(err));
        free(body);
        if (r == HTTPD_CLIENT_OK) {
            cJSON *j = cJSON_ParseWithLength(strbuf_str(&out), out.len);
            const cJSON *id = cJSON_GetObjectItemCaseSensitive(j, "silenceId");
            if (status == 200 && cJSON_IsString(id)) {
                printf("%s\n", id->valuestring);
                rc = 0;
            } else {
                api_error("add", status, &out);
            }
            cJSON_Delete(j);
            strbuf_free(&out);
            free_kvs(m, n);
            return rc;
        }
        strbuf_free(&out);
        if (r == HTTPD_CLIENT_ERROR) {
            fprintf(stderr, "segalert silence add: %s\n", err);
            free_kvs(m, n);
            return 1;
        }
    }
    struct offline off;
    if (offline_open(cfg->state_dir, true, &off, err, sizeof(err)) != 0) {
        fprintf(stderr, "segalert silence add: %s\n", err);
        free_kvs(m, n);
        return 1;
    }
    const struct silence *s = silence_add(off.set, m, n, now, ends,
                                          author_of(o), o->comment, now, err,
                                          sizeof(err));
    if (!s) {
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
    free_kvs(m, n);
    return rc;
}

static bool valid_id(const char *id)
{
    size_t n = strlen(id);
    if (n == 0 || n > 64)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = id[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
              (c >= 'A' && c <= 'Z') || c == '-' || c == '_'))
            return false;
    }
    return true;
}

static int do_expire(const char *id, const struct config *cfg,
                     const char *url)
{
    char err[1024];
    if (!valid_id(id)) {
        fprintf(stderr, "segalert silence expire: '%s' is not a silence id\n",
                id);
        return 2;
    }
    if (url) {
        char path[128];
        snprintf(path, sizeof(path), "/api/v1/silence/%s", id);
        long status = 0;
        struct strbuf out = STRBUF_INIT;
        enum httpd_client_result r = httpd_client_request(
            url, "DELETE", path, cfg->admin_token, NULL, &status, &out, err,
            sizeof(err));
        if (r == HTTPD_CLIENT_OK) {
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
        if (r == HTTPD_CLIENT_ERROR) {
            fprintf(stderr, "segalert silence expire: %s\n", err);
            return 1;
        }
    }
    struct offline off;
    if (offline_open(cfg->state_dir, true, &off, err, sizeof(err)) != 0) {
        fprintf(stderr, "segalert silence expire: %s\n", err);
        return 1;
    }
    int rc = 1;
    if (silence_expire(off.set, id, now_wall(), err, sizeof(err)) != 0)
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

static void list_row(struct statuspage_table *t, const char *id,
                     const char *matchers, double starts, double ends,
                     const char *by, const char *comment, double now, bool all)
{
    const char *st = ends <= now ? "expired" : starts > now ? "pending"
                                                            : "active";
    if (!all && streq(st, "expired"))
        return;
    char age[40], when[64];
    statuspage_format_age(ends - now, age, sizeof(age));
    if (ends > now)
        snprintf(when, sizeof(when), "in %s", age);
    else {
        statuspage_format_age(now - ends, age, sizeof(age));
        snprintf(when, sizeof(when), "%s ago", age);
    }
    statuspage_table_row(t, id, st, matchers, when, by, comment);
}

static int do_list(const struct opts *o, const struct config *cfg,
                   const char *url)
{
    char err[1024];
    double now = now_wall();
    struct statuspage_table t;
    statuspage_table_init(&t, 6);
    statuspage_table_row(&t, "ID", "STATUS", "MATCHERS", "ENDS", "CREATED BY",
                         "COMMENT");
    bool listed = false;
    if (url) {
        long status = 0;
        struct strbuf out = STRBUF_INIT;
        enum httpd_client_result r = httpd_client_request(
            url, "GET", "/api/v1/silences", NULL, NULL, &status, &out, err,
            sizeof(err));
        if (r == HTTPD_CLIENT_ERROR) {
            fprintf(stderr, "segalert silence list: %s\n", err);
            strbuf_free(&out);
            statuspage_table_free(&t);
            return 1;
        }
        if (r == HTTPD_CLIENT_OK) {
            cJSON *j = cJSON_ParseWithLength(strbuf_str(&out), out.len);
            const cJSON *arr = cJSON_GetObjectItemCaseSensitive(
                cJSON_GetObjectItemCaseSensitive(j, "data"), "silences");
            if (status != 200 || !cJSON_IsArray(arr)) {
                api_error("list", status, &out);
                cJSON_Delete(j);
                strbuf_free(&out);
                statuspage_table_free(&t);
                return 1;
            }
            const cJSON *s;
            cJSON_ArrayForEach(s, arr) {
                struct strbuf m = STRBUF_INIT;
                const cJSON *it;
                cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(
                                           s, "matchers"))
                    if (cJSON_IsString(it))
                        strbuf_addf(&m, "%s%s", m.len ? ", " : "",
                                    it->valuestring);
                double st = 0, en = 0;
                const cJSON *sa = cJSON_GetObjectItemCaseSensitive(s,
                                                                   "startsAt");
                const cJSON *ea = cJSON_GetObjectItemCaseSensitive(s, "endsAt");
                if (cJSON_IsString(sa))
                    parse_iso8601(sa->valuestring, &st);
                if (cJSON_IsString(ea))
                    parse_iso8601(ea->valuestring, &en);
                const cJSON *id = cJSON_GetObjectItemCaseSensitive(s, "id");
                const cJSON *by = cJSON_GetObjectItemCaseSensitive(s,
                                                                   "createdBy");
                const cJSON *cm = cJSON_GetObjectItemCaseSensitive(s,
                                                                   "comment");
                list_row(&t, cJSON_IsString(id) ? id->valuestring : "?",
                         strbuf_str(&m), st, en,
                         cJSON_IsString(by) ? by->valuestring : NULL,
                         cJSON_IsString(cm) ? cm->valuestring : NULL, now,
                         o->all);
                strbuf_free(&m);
            }
            cJSON_Delete(j);
            listed = true;
        }
        strbuf_free(&out);
    }
    if (!listed) {
        /* Reading needs no lock: the file is replaced atomically. */
        struct offline off;
        if (offline_open(cfg->state_dir, false, &off, err, sizeof(err)) != 0) {
            fprintf(stderr, "segalert silence list: %s\n", err);
            statuspage_table_free(&t);
            return 1;
        }
        size_t n = 0;
        const struct silence *all = silences_list(off.set, &n);
        for (size_t i = 0; i < n; i++) {
            struct strbuf m = STRBUF_INIT;
            for (size_t k = 0; k < all[i].n; k++)
                strbuf_addf(&m, "%s%s=%s", k ? ", " : "",
                            all[i].matchers[k].key, all[i].matchers[k].value);
            list_row(&t, all[i].id, strbuf_str(&m), all[i].starts_at,
                     all[i].ends_at, all[i].created_by, all[i].comment, now,
                     o->all);
            strbuf_free(&m);
        }
        offline_close(&off);
    }
    if (t.nrows == 1) {
        printf("no %ssilences\n", o->all ? "" : "active or pending ");
    } else {
        struct strbuf out = STRBUF_INIT;
        statuspage_table_write(&t, &out);
        fwrite(out.buf, 1, out.len, stdout);
        strbuf_free(&out);
    }
    statuspage_table_free(&t);
    return 0;
}

int cmd_silence(int argc, char **argv)
{
    struct opts o;
    memset(&o, 0, sizeof(o));
    static const struct option lopts[] = {
        { "config", required_argument, NULL, 'c' },
        { "match", required_argument, NULL, 'm' },
        { "for", required_argument, NULL, 'f' },
        { "until", required_argument, NULL, 'u' },
        { "comment", required_argument, NULL, 'C' },
        { "author", required_argument, NULL, 'a' },
        { "all", no_argument, NULL, 'A' },
        { "verbose", no_argument, NULL, 'v' },
        { "log-format", required_argument, NULL, 'L' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
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
    int ch;
    optind = 1;
    while ((ch = getopt_long(argc - 1, argv + 1, "c:m:vh", lopts, NULL)) !=
           -1) {
        switch (ch) {
        case 'c': o.common.config_path = optarg; break;
        case 'm':
            if (o.nmatchers == MAX_MATCHERS) {
                fprintf(stderr, "segalert silence: at most %d --match\n",
                        MAX_MATCHERS);
                return 2;
            }
            o.matchers[o.nmatchers++] = optarg;
            break;
        case 'f': o.duration = optarg; break;
        case 'u': o.until = optarg; break;
        case 'C': o.comment = optarg; break;
        case 'a': o.author = optarg; break;
        case 'A': o.all = true; break;
        case 'v': o.common.verbose++; break;
        case 'L': o.common.log_format = optarg; break;
        case 'h': silence_usage(stdout); return 0;
        default: silence_usage(stderr); return 2;
        }
    }
    int nargs = argc - 1 - optind;
    char **args = argv + 1 + optind;
    bool is_add = streq(sub, "add"), is_expire = streq(sub, "expire");
    if ((is_expire && nargs != 1) || (!is_expire && nargs != 0)) {
        fprintf(stderr, "segalert silence %s: %s\n", sub,
                is_expire ? "expects one silence ID"
                          : "unexpected argument");
        return 2;
    }
    if (!is_add && (o.nmatchers || o.duration || o.until || o.comment ||
                    o.author)) {
        fprintf(stderr, "segalert silence %s: --match, --for, --until, "
                        "--comment and --author are for 'add'\n", sub);
        return 2;
    }
    config_set_secrets_optional(true);
    struct config *cfg = cli_load_config(&o.common);
    if (!cfg)
        return 2;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    char url[256];
    const char *base = httpd_listen_url(cfg->listen, url, sizeof(url)) == 0
                           ? url : NULL;
    int rc;
    if (is_add)
        rc = do_add(&o, cfg, base);
    else if (is_expire)
        rc = do_expire(args[0], cfg, base);
    else
        rc = do_list(&o, cfg, base);
    curl_global_cleanup();
    config_free(cfg);
    return rc;
}
