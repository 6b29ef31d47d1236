/*
 * state.c - see state.h.
 */
#include "daemon/state.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include "core/log.h"

#define TMP_PREFIX STATE_FILE ".tmp-"

static void set_err(char *err, size_t errlen, const char *fmt, ...)
    PRINTF_LIKE(3, 4);

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || errlen == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

static char *path_join(const char *dir, const char *name)
{
    return xasprintf("%s/%s", dir, name);
}

/* ---- directory ----------------------------------------------------------- */

static int mkdir_one(const char *path, mode_t mode)
{
    if (mkdir(path, mode) == 0)
        return 0;
    if (errno == EEXIST) {
        struct stat st;
        /* EEXIST for a file named like the directory must still fail */
        if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
            return 0;
        errno = ENOTDIR;
    }
    return -1;
}

int state_dir_prepare(const char *dir, char *err, size_t errlen)
{
    if (!dir || !*dir) {
        set_err(err, errlen, "state: state_dir is empty");
        return -1;
    }
    char *p = xstrdup(dir);
    size_t n = strlen(p);
    while (n > 1 && p[n - 1] == '/')
        p[--n] = '\0';

    struct stat st;
    bool created = false;
    if (stat(p, &st) != 0) {
        /* parents with the default mode, like mkdir -p -m 0700 */
        for (char *s = p + 1; *s; s++) {
            if (*s != '/')
                continue;
            *s = '\0';
            int rc = mkdir_one(p, 0777);
            *s = '/';
            if (rc != 0) {
                set_err(err, errlen, "state: cannot create '%s': %s", p,
                        strerror(errno));
                free(p);
                return -1;
            }
        }
        if (mkdir_one(p, 0700) != 0) {
            set_err(err, errlen, "state: cannot create state_dir '%s': %s",
                    p, strerror(errno));
            free(p);
            return -1;
        }
        created = true;
        if (stat(p, &st) != 0) {
            set_err(err, errlen, "state: state_dir '%s': %s", p,
                    strerror(errno));
            free(p);
            return -1;
        }
    }
    if (!S_ISDIR(st.st_mode)) {
        set_err(err, errlen, "state: state_dir '%s' is not a directory", p);
        free(p);
        return -1;
    }
    if (access(p, W_OK | X_OK) != 0) {
        set_err(err, errlen, "state: state_dir '%s' is not writable: %s", p,
                strerror(errno));
        free(p);
        return -1;
    }
    if (!created && (st.st_mode & 077))
        log_warn("state: state_dir '%s' is accessible by group/other "
                 "(mode %04o); it holds alert state, 0700 is advised",
                 p, (unsigned)(st.st_mode & 07777));
    free(p);
    return 0;
}

/* ---- lock -------------------------------------------------------------- */

struct state_lock {
    int fd;
    char *path;
};

static long read_lock_pid(int fd)
{
    char buf[32];
    ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
    if (n <= 0)
        return -1;
    buf[n] = '\0';
    char *nl = strchr(buf, '\n');
    if (nl)
        *nl = '\0';
    long pid;
    if (parse_long(buf, &pid) != 0 || pid <= 0)
        return -1;
    return pid;
}

/* Temp files of a writer that crashed between open and rename.  Only
 * called with the lock held, so no live writer owns them. */
static void remove_stale_tmp(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (!str_has_prefix(e->d_name, TMP_PREFIX))
            continue;
        char *path = path_join(dir, e->d_name);
        if (unlink(path) == 0)
            log_info("state: removed leftover temp file '%s'", path);
        free(path);
    }
    closedir(d);
}

struct state_lock *state_lock_acquire(const char *dir, char *err,
                                      size_t errlen)
{
    char *path = path_join(dir, STATE_LOCK_FILE);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        set_err(err, errlen, "state: cannot open lock file '%s': %s", path,
                strerror(errno));
        free(path);
        return NULL;
    }
    while (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        if (errno == EINTR)
            continue;
        if (errno == EWOULDBLOCK) {
            long pid = read_lock_pid(fd);
            if (pid > 0)
                set_err(err, errlen, "another segalert (pid %ld) is using "
                        "state_dir %s", pid, dir);
            else    /* it holds the lock but has not written its pid yet */
                set_err(err, errlen, "another segalert (pid unknown) is "
                        "using state_dir %s", dir);
        } else {
            set_err(err, errlen, "state: cannot lock '%s': %s", path,
                    strerror(errno));
        }
        close(fd);
        free(path);
        return NULL;
    }
    char pid[32];
    int plen = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) != 0 || pwrite(fd, pid, (size_t)plen, 0) != plen) {
        set_err(err, errlen, "state: cannot write lock file '%s': %s", path,
                strerror(errno));
        close(fd);
        free(path);
        return NULL;
    }
    remove_stale_tmp(dir);
    struct state_lock *lock = xcalloc(1, sizeof(*lock));
    lock->fd = fd;
    lock->path = path;
    return lock;
}

void state_lock_release(struct state_lock *lock)
{
    if (!lock)
        return;
    /* an empty file says "nobody" to whoever reads it next */
    if (ftruncate(lock->fd, 0) != 0)
        log_debug("state: cannot truncate '%s': %s", lock->path,
                  strerror(errno));
    flock(lock->fd, LOCK_UN);
    close(lock->fd);
    free(lock->path);
    free(lock);
}

/* ---- save / load --------------------------------------------------------- */

static int write_all(int fd, const char *p, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static int fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    int e = errno;
    close(fd);
    /* some file systems cannot fsync a directory; nothing more to do */
    if (rc != 0 && (e == EINVAL || e == ENOTSUP))
        rc = 0;
    errno = e;
    return rc;
}

int state_save(const char *dir, const char *json, size_t len, char *err,
               size_t errlen)
{
    char name[64];
    snprintf(name, sizeof(name), TMP_PREFIX "%ld", (long)getpid());
    char *tmp = path_join(dir, name);
    char *dst = path_join(dir, STATE_FILE);
    int rc = -1;
    const char *what = "open";

    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        goto fail;
    /* a temp file left by an earlier process with our pid may have any
     * mode; the state is never readable by others */
    what = "chmod";
    if (fchmod(fd, 0600) != 0)
        goto fail_close;
    what = "write";
    if (write_all(fd, json, len) != 0)
        goto fail_close;
    what = "fsync";
    if (fsync(fd) != 0)
        goto fail_close;
    what = "close";
    if (close(fd) != 0) {
        fd = -1;
        goto fail;
    }
    fd = -1;
    what = "rename";
    if (rename(tmp, dst) != 0)
        goto fail;
    free(tmp);
    tmp = NULL;
    if (fsync_dir(dir) != 0) {
        set_err(err, errlen, "state: fsync of state_dir '%s' failed: %s",
                dir, strerror(errno));
        goto out;
    }
    rc = 0;
    goto out;

fail_close:
    {
        int e = errno;
        close(fd);
        errno = e;
    }
fail:
    set_err(err, errlen, "state: cannot save '%s' (%s): %s", dst, what,
            strerror(errno));
    if (tmp)
        unlink(tmp);
out:
    free(tmp);
    free(dst);
    return rc;
}

int state_load(const char *dir, char **json_out, size_t *len, char *err,
               size_t errlen)
{
    char *path = path_join(dir, STATE_FILE);
    *json_out = NULL;
    *len = 0;
    char *buf = read_file(path, STATE_MAX_BYTES, len);
    if (!buf) {
        int e = errno;
        if (e == ENOENT) {
            free(path);
            return 1;
        }
        set_err(err, errlen, "state: cannot read '%s': %s", path,
                strerror(e));
        free(path);
        errno = e;
        return -1;
    }
    free(path);
    *json_out = buf;
    return 0;
}

static void compact_time(double t, char *buf, size_t len)
{
    /* 2026-08-20T12:00:00Z -> 20260820T120000Z: no ':' in file names */
    char iso[32];
    format_iso8601(t, iso, sizeof(iso));
    size_t o = 0;
    for (const char *s = iso; *s && o + 1 < len; s++)
        if (*s != '-' && *s != ':')
            buf[o++] = *s;
    buf[o] = '\0';
}

int state_quarantine(const char *dir, char *moved_to, size_t len)
{
    char stamp[32];
    compact_time(now_wall(), stamp, sizeof(stamp));
    char *src = path_join(dir, STATE_FILE);
    char *dst = xasprintf("%s/" STATE_FILE ".corrupt-%s", dir, stamp);
    struct stat st;
    /* never overwrite an earlier corrupt file: it is evidence */
    for (int i = 1; lstat(dst, &st) == 0 && i <= 1000; i++) {
        free(dst);
        dst = xasprintf("%s/" STATE_FILE ".corrupt-%s.%d", dir, stamp, i);
    }
    int rc = rename(src, dst);
    if (rc != 0) {
        log_err("state: cannot move corrupt state file '%s' aside to '%s': "
                "%s", src, dst, strerror(errno));
    } else {
        log_err("state: STATE FILE CORRUPT: moved '%s' to '%s'; starting "
                "with a clean state (alert instances, notification log, "
                "outbox and silences are lost)", src, dst);
        fsync_dir(dir);
        if (moved_to && len)
            snprintf(moved_to, len, "%s", dst);
    }
    free(src);
    free(dst);
    return rc == 0 ? 0 : -1;
}

cJSON *state_load_json(const char *dir, char *err, size_t errlen,
                       bool *quarantined)
{
    *quarantined = false;
    char *buf = NULL;
    size_t len = 0;
    char why[200];
    int rc = state_load(dir, &buf, &len, why, sizeof(why));
    if (rc == 1) {
        cJSON *fresh = cJSON_CreateObject();
        cJSON_AddNumberToObject(fresh, "version", STATE_VERSION);
        return fresh;
    }
    if (rc < 0 && errno != EFBIG) {
        set_err(err, errlen, "%s", why);
        return NULL;
    }

    cJSON *root = NULL;
    if (rc < 0) {
        snprintf(why, sizeof(why), "larger than %zu bytes", STATE_MAX_BYTES);
    } else if (strlen(buf) != len) {
        snprintf(why, sizeof(why), "NUL byte at offset %zu", strlen(buf));
    } else {
        const char *end = NULL;
        /* length + 1: cJSON checks the terminator inside the length */
        root = cJSON_ParseWithLengthOpts(buf, len + 1, &end, 1);
        if (!root) {
            size_t off = end && end >= buf ? (size_t)(end - buf) : len;
            snprintf(why, sizeof(why), "not valid JSON (at byte %zu of %zu)",
                     off, len);
        } else if (!cJSON_IsObject(root)) {
            snprintf(why, sizeof(why), "top level is not an object");
        } else {
            const cJSON *v = cJSON_GetObjectItemCaseSensitive(root,
                                                              "version");
            if (!cJSON_IsNumber(v))
                snprintf(why, sizeof(why), "no numeric \"version\"");
            else if (v->valuedouble != STATE_VERSION)
                snprintf(why, sizeof(why), "version %g, expected %d",
                         v->valuedouble, STATE_VERSION);
            else {
                free(buf);
                return root;
            }
        }
    }
    cJSON_Delete(root);
    free(buf);

    char moved[512];
    if (state_quarantine(dir, moved, sizeof(moved)) != 0) {
        set_err(err, errlen, "state: state file in '%s' is corrupt (%s) "
                "and could not be moved aside", dir, why);
        return NULL;
    }
    set_err(err, errlen, "state: state file was corrupt (%s); moved to '%s'",
            why, moved);
    *quarantined = true;
    return NULL;
}

/* ---- field helpers ----------------------------------------------------- */

cJSON *state_json_double(double v)
{
    if (isnan(v))
        return cJSON_CreateNull();
    if (isinf(v))
        return cJSON_CreateString(v > 0 ? "+Inf" : "-Inf");
    /* cJSON's own printer accepts "%1.15g" when it reads back within an
     * epsilon, which turns 0.1 + 0.2 into 0.3: print the shortest of
     * 15/16/17 digits that reads back to exactly v, as a raw number */
    char buf[40];
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(buf, sizeof(buf), "%.*g", prec, v);
        if (strtod(buf, NULL) == v)
            break;
    }
    return cJSON_CreateRaw(buf);
}

/* A number member: a parsed Number, or a Raw from state_json_double in a
 * tree that was built here and not printed yet. */
static bool number_value(const cJSON *m, double *out)
{
    if (cJSON_IsNumber(m)) {
        *out = m->valuedouble;
        return true;
    }
    if (cJSON_IsRaw(m) && m->valuestring) {
        char *end;
        errno = 0;
        double v = strtod(m->valuestring, &end);
        if (end != m->valuestring && *end == '\0' && isfinite(v)) {
            *out = v;
            return true;
        }
    }
    return false;
}

static const cJSON *member(const cJSON *obj, const char *key, char *err,
                           size_t errlen)
{
    const cJSON *m = cJSON_IsObject(obj)
                         ? cJSON_GetObjectItemCaseSensitive(obj, key)
                         : NULL;
    if (!m)
        set_err(err, errlen, "%s: missing", key);
    return m;
}

int state_get_double(const cJSON *obj, const char *key, double *out,
                     char *err, size_t errlen)
{
    const cJSON *m = member(obj, key, err, errlen);
    if (!m)
        return -1;
    if (number_value(m, out))
        return 0;
    if (cJSON_IsNull(m)) {
        *out = NAN;
        return 0;
    }
    if (cJSON_IsString(m) && streq(m->valuestring, "+Inf")) {
        *out = INFINITY;
        return 0;
    }
    if (cJSON_IsString(m) && streq(m->valuestring, "-Inf")) {
        *out = -INFINITY;
        return 0;
    }
    set_err(err, errlen, "%s: not a number", key);
    return -1;
}

int state_get_string(const cJSON *obj, const char *key, bool nullable,
                     const char **out, char *err, size_t errlen)
{
    const cJSON *m = member(obj, key, err, errlen);
    if (!m)
        return -1;
    if (cJSON_IsString(m) && m->valuestring) {
        *out = m->valuestring;
        return 0;
    }
    if (nullable && cJSON_IsNull(m)) {
        *out = NULL;
        return 0;
    }
    set_err(err, errlen, "%s: not a string", key);
    return -1;
}

int state_get_bool(const cJSON *obj, const char *key, bool *out, char *err,
                   size_t errlen)
{
    const cJSON *m = member(obj, key, err, errlen);
    if (!m)
        return -1;
    if (!cJSON_IsBool(m)) {
        set_err(err, errlen, "%s: not a boolean", key);
        return -1;
    }
    *out = cJSON_IsTrue(m);
    return 0;
}

int state_get_int(const cJSON *obj, const char *key, double min, double max,
                  double *out, char *err, size_t errlen)
{
    const cJSON *m = member(obj, key, err, errlen);
    if (!m)
        return -1;
    double v;
    if (!number_value(m, &v)) {
        set_err(err, errlen, "%s: not a number", key);
        return -1;
    }
    if (v != floor(v) || v < min || v > max) {
        set_err(err, errlen, "%s: %g is not an integer in %.0f..%.0f", key,
                v, min, max);
        return -1;
    }
    *out = v;
    return 0;
}

/* ---- notifications ------------------------------------------------------- */

static cJSON *str_or_null(const char *s)
{
    return s ? cJSON_CreateString(s) : cJSON_CreateNull();
}

static cJSON *kv_to_json(const struct kv *kv, size_t n)
{
    cJSON *o = cJSON_CreateObject();
    for (size_t i = 0; i < n; i++)
        cJSON_AddItemToObject(o, kv[i].key ? kv[i].key : "",
                              str_or_null(kv[i].value));
    return o;
}

/* Label object -> kv array; values must be strings. */
static int kv_from_json(const cJSON *obj, const char *key, struct kv **out,
                        size_t *n, char *err, size_t errlen)
{
    const cJSON *o = member(obj, key, err, errlen);
    if (!o)
        return -1;
    if (!cJSON_IsObject(o)) {
        set_err(err, errlen, "%s: not an object", key);
        return -1;
    }
    size_t count = (size_t)cJSON_GetArraySize(o);
    struct kv *kv = xcalloc(count ? count : 1, sizeof(*kv));
    size_t i = 0;
    for (const cJSON *e = o->child; e; e = e->next, i++) {
        bool is_str = cJSON_IsString(e) && e->valuestring;
        if ((!is_str && !cJSON_IsNull(e)) || !e->string) {
            set_err(err, errlen, "%s.%s: not a string", key,
                    e->string ? e->string : "?");
            kv_array_free(kv, i);
            return -1;
        }
        kv[i].key = xstrdup(e->string);
        kv[i].value = is_str ? xstrdup(e->valuestring) : NULL;
    }
    *out = kv;
    *n = i;
    return 0;
}

cJSON *notification_to_json(const struct notification *n)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddItemToObject(o, "id", str_or_null(n->id));
    cJSON_AddItemToObject(o, "receiver", str_or_null(n->receiver));
    cJSON_AddStringToObject(o, "receiver_type",
                            receiver_type_name(n->receiver_type));
    cJSON_AddItemToObject(o, "route", str_or_null(n->route));
    cJSON_AddItemToObject(o, "group_key", str_or_null(n->group_key));
    cJSON_AddItemToObject(o, "group_labels",
                          kv_to_json(n->group_labels, n->ngroup_labels));
    cJSON_AddStringToObject(o, "reason", notify_reason_name(n->reason));
    cJSON_AddItemToObject(o, "created_at", state_json_double(n->created_at));
    cJSON_AddItemToObject(o, "external_url", str_or_null(n->external_url));
    cJSON *arr = cJSON_AddArrayToObject(o, "alerts");
    for (size_t i = 0; i < n->nalerts; i++) {
        const struct notify_alert *a = &n->alerts[i];
        cJSON *ao = cJSON_CreateObject();
        cJSON_AddItemToObject(ao, "rule", str_or_null(a->rule));
        cJSON_AddItemToObject(ao, "fingerprint", str_or_null(a->fingerprint));
        cJSON_AddItemToObject(ao, "labels", kv_to_json(a->labels,
                                                       a->nlabels));
        cJSON_AddItemToObject(ao, "severity", str_or_null(a->severity));
        cJSON_AddItemToObject(ao, "status", str_or_null(a->status));
        cJSON_AddBoolToObject(ao, "nodata", a->nodata);
        cJSON_AddBoolToObject(ao, "flapping", a->flapping);
        cJSON_AddItemToObject(ao, "value", state_json_double(a->value));
        cJSON_AddItemToObject(ao, "summary", str_or_null(a->summary));
        cJSON_AddItemToObject(ao, "description", str_or_null(a->description));
        cJSON_AddItemToObject(ao, "runbook_url", str_or_null(a->runbook_url));
        cJSON_AddItemToObject(ao, "starts_at", state_json_double(a->starts_at));
        cJSON_AddItemToObject(ao, "ends_at", state_json_double(a->ends_at));
        cJSON_AddItemToArray(arr, ao);
    }
    return o;
}

static int dup_string(const cJSON *obj, const char *key, bool nullable,
                      char **out, char *err, size_t errlen)
{
    const char *s;
    if (state_get_string(obj, key, nullable, &s, err, errlen) != 0)
        return -1;
    *out = xstrdup(s);
    return 0;
}

static int receiver_type_from_name(const char *s)
{
    for (int t = 0; t < RECV__COUNT; t++)
        if (streq(receiver_type_name((enum receiver_type)t), s))
            return t;
    return -1;
}

static int alert_from_json(const cJSON *ao, struct notify_alert *a,
                           char *err, size_t errlen)
{
    if (!cJSON_IsObject(ao)) {
        set_err(err, errlen, "not an object");
        return -1;
    }
    if (dup_string(ao, "rule", false, &a->rule, err, errlen) ||
        dup_string(ao, "fingerprint", true, &a->fingerprint, err, errlen) ||
        kv_from_json(ao, "labels", &a->labels, &a->nlabels, err, errlen) ||
        dup_string(ao, "severity", true, &a->severity, err, errlen) ||
        dup_string(ao, "status", true, &a->status, err, errlen) ||
        state_get_bool(ao, "nodata", &a->nodata, err, errlen) ||
        state_get_bool(ao, "flapping", &a->flapping, err, errlen) ||
        state_get_double(ao, "value", &a->value, err, errlen) ||
        dup_string(ao, "summary", true, &a->summary, err, errlen) ||
        dup_string(ao, "description", true, &a->description, err, errlen) ||
        dup_string(ao, "runbook_url", true, &a->runbook_url, err, errlen) ||
        state_get_double(ao, "starts_at", &a->starts_at, err, errlen) ||
        state_get_double(ao, "ends_at", &a->ends_at, err, errlen))
        return -1;
    return 0;
}

struct notification *notification_from_json(const cJSON *j, char *err,
                                            size_t errlen)
{
    char why[200] = "";
    const char *s;
    struct notification *n = notification_new();
    if (!cJSON_IsObject(j)) {
        set_err(err, errlen, "notification: not an object");
        goto fail;
    }
    if (dup_string(j, "id", false, &n->id, why, sizeof(why)) ||
        dup_string(j, "receiver", false, &n->receiver, why, sizeof(why)))
        goto fail_why;
    if (state_get_string(j, "receiver_type", false, &s, why, sizeof(why)))
        goto fail_why;
    int t = receiver_type_from_name(s);
    if (t < 0) {
        snprintf(why, sizeof(why), "receiver_type: unknown '%.60s'", s);
        goto fail_why;
    }
    n->receiver_type = (enum receiver_type)t;
    if (dup_string(j, "route", true, &n->route, why, sizeof(why)) ||
        dup_string(j, "group_key", true, &n->group_key, why, sizeof(why)) ||
        kv_from_json(j, "group_labels", &n->group_labels, &n->ngroup_labels,
                     why, sizeof(why)))
        goto fail_why;
    if (state_get_string(j, "reason", false, &s, why, sizeof(why)))
        goto fail_why;
    int r = notify_reason_parse(s);
    if (r < 0) {
        snprintf(why, sizeof(why), "reason: unknown '%.60s'", s);
        goto fail_why;
    }
    n->reason = (enum notify_reason)r;
    if (state_get_double(j, "created_at", &n->created_at, why, sizeof(why)) ||
        dup_string(j, "external_url", true, &n->external_url, why,
                   sizeof(why)))
        goto fail_why;

    const cJSON *arr = member(j, "alerts", why, sizeof(why));
    if (!arr)
        goto fail_why;
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
    set_err(err, errlen, "notification '%.80s': %s",
            n->id ? n->id : "?", why);
fail:
    notification_free(n);
    return NULL;
}

/* ---- alert instances --------------------------------------------------- */

static int enum_from_name(const char *s, const char *(*name)(int), int count)
{
    for (int i = 0; i < count; i++)
        if (streq(name(i), s))
            return i;
    return -1;
}

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
    cJSON_AddItemToObject(o, "created_at", state_json_double(in->created_at));
    cJSON_AddItemToObject(o, "active_at", state_json_double(in->active_at));
    cJSON_AddItemToObject(o, "fired_at", state_json_double(in->fired_at));
    cJSON_AddItemToObject(o, "resolved_at",
                          state_json_double(in->resolved_at));
    cJSON_AddItemToObject(o, "last_true_at",
                          state_json_double(in->last_true_at));
    cJSON_AddItemToObject(o, "last_data_at",
                          state_json_double(in->last_data_at));
    cJSON_AddItemToObject(o, "last_eval_at",
                          state_json_double(in->last_eval_at));
    cJSON_AddItemToObject(o, "nodata_s", state_json_double(in->nodata_s));
    cJSON_AddItemToObject(o, "value", state_json_double(in->value));
    cJSON_AddItemToObject(o, "flap_bits",
                          state_json_double((double)in->flap_bits));
    cJSON_AddItemToObject(o, "flap_count",
                          state_json_double(in->flap_count));
    cJSON_AddBoolToObject(o, "flapping", in->flapping);
    cJSON_AddBoolToObject(o, "announced_firing", in->announced_firing);
    cJSON_AddStringToObject(o, "announced_severity",
                            alert_severity_name(in->announced_severity));
    return o;
}

static int get_enum(const cJSON *j, const char *key,
                    const char *(*name)(int), int count, int *out,
                    char *err, size_t errlen)
{
    const char *s;
    if (state_get_string(j, key, false, &s, err, errlen) != 0)
        return -1;
    *out = enum_from_name(s, name, count);
    if (*out < 0) {
        set_err(err, errlen, "%s: unknown '%.60s'", key, s);
        return -1;
    }
    return 0;
}

int alert_instance_from_json(const cJSON *j, struct alert_instance *out,
                             char *err, size_t errlen)
{
    char why[160] = "";
    int st, sev, asev;
    double bits, count;
    memset(out, 0, sizeof(*out));
    if (!cJSON_IsObject(j)) {
        set_err(err, errlen, "alert instance: not an object");
        return -1;
    }
    if (get_enum(j, "state", state_name_i, ALERT_FIRING + 1, &st, why,
                 sizeof(why)) ||
        get_enum(j, "severity", severity_name_i, ALERT_SEV_CRITICAL + 1,
                 &sev, why, sizeof(why)) ||
        state_get_bool(j, "nodata", &out->nodata, why, sizeof(why)) ||
        state_get_double(j, "created_at", &out->created_at, why,
                         sizeof(why)) ||
        state_get_double(j, "active_at", &out->active_at, why, sizeof(why)) ||
        state_get_double(j, "fired_at", &out->fired_at, why, sizeof(why)) ||
        state_get_double(j, "resolved_at", &out->resolved_at, why,
                         sizeof(why)) ||
        state_get_double(j, "last_true_at", &out->last_true_at, why,
                         sizeof(why)) ||
        state_get_double(j, "last_data_at", &out->last_data_at, why,
                         sizeof(why)) ||
        state_get_double(j, "last_eval_at", &out->last_eval_at, why,
                         sizeof(why)) ||
        state_get_double(j, "nodata_s", &out->nodata_s, why, sizeof(why)) ||
        state_get_double(j, "value", &out->value, why, sizeof(why)) ||
        state_get_int(j, "flap_bits", 0, 4294967295.0, &bits, why,
                      sizeof(why)) ||
        state_get_int(j, "flap_count", 0, ALERT_FLAP_HISTORY, &count, why,
                      sizeof(why)) ||
        state_get_bool(j, "flapping", &out->flapping, why, sizeof(why)) ||
        state_get_bool(j, "announced_firing", &out->announced_firing, why,
                       sizeof(why)) ||
        get_enum(j, "announced_severity", severity_name_i,
                 ALERT_SEV_CRITICAL + 1, &asev, why, sizeof(why))) {
        set_err(err, errlen, "alert instance: %s", why);
        return -1;
    }
    out->state = (enum alert_state)st;
    out->severity = (enum alert_severity)sev;
    out->announced_severity = (enum alert_severity)asev;
    out->flap_bits = (uint32_t)bits;
    out->flap_count = (int)count;
    return 0;
}
