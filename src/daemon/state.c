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
        err_set(err, errlen, "state: state_dir is empty");
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
                err_set(err, errlen, "state: cannot create '%s': %s", p,
                        strerror(errno));
                free(p);
                return -1;
            }
        }
        if (mkdir_one(p, 0700) != 0) {
            err_set(err, errlen, "state: cannot create state_dir '%s': %s",
                    p, strerror(errno));
            free(p);
            return -1;
        }
        created = true;
        if (stat(p, &st) != 0) {
            err_set(err, errlen, "state: state_dir '%s': %s", p,
                    strerror(errno));
            free(p);
            return -1;
        }
    }
    if (!S_ISDIR(st.st_mode)) {
        err_set(err, errlen, "state: state_dir '%s' is not a directory", p);
        free(p);
        return -1;
    }
    if (access(p, W_OK | X_OK) != 0) {
        err_set(err, errlen, "state: state_dir '%s' is not writable: %s", p,
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
        err_set(err, errlen, "state: cannot open lock file '%s': %s", path,
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
                err_set(err, errlen, "another segalert (pid %ld) is using "
                        "state_dir %s", pid, dir);
            else    /* it holds the lock but has not written its pid yet */
                err_set(err, errlen, "another segalert (pid unknown) is "
                        "using state_dir %s", dir);
        } else {
            err_set(err, errlen, "state: cannot lock '%s': %s", path,
                    strerror(errno));
        }
        close(fd);
        free(path);
        return NULL;
    }
    char pid[32];
    int plen = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) != 0 || pwrite(fd, pid, (size_t)plen, 0) != plen) {
        err_set(err, errlen, "state: cannot write lock file '%s': %s", path,
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
        err_set(err, errlen, "state: fsync of state_dir '%s' failed: %s",
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
    err_set(err, errlen, "state: cannot save '%s' (%s): %s", dst, what,
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
        err_set(err, errlen, "state: cannot read '%s': %s", path,
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
        err_set(err, errlen, "%s", why);
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
        err_set(err, errlen, "state: state file in '%s' is corrupt (%s) "
                "and could not be moved aside", dir, why);
        return NULL;
    }
    err_set(err, errlen, "state: state file was corrupt (%s); moved to '%s'",
            why, moved);
    *quarantined = true;
    return NULL;
}
