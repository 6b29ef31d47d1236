/*
 * state.c - see state.h: the snapshot file, the journal (frames, append,
 * replay) and the lock.
 */
#include "daemon/state.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include "core/index.h"
#include "core/json.h"
#include "core/log.h"

#define TMP_PREFIX STATE_FILE ".tmp-"
#define JOURNAL_TMP_PREFIX STATE_JOURNAL_FILE ".tmp-"
/* The checked part of a frame header: "@LLLLLLLL PPPPPPPP". */
#define FRAME_CHECKED_BYTES 18
/* A READ_ONLY reader racing with compactions reads again this often. */
#define READ_RETRIES 5

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
    /* Anyone else who can write in state_dir can plant a symlink or
     * swap the state under the daemon: refuse, do not warn. */
    if (!created && st.st_uid != geteuid()) {
        err_set(err, errlen, "state: state_dir '%s' is owned by uid %u, not "
                "by the user segalert runs as (uid %u); chown it or choose "
                "another state_dir", p, (unsigned)st.st_uid,
                (unsigned)geteuid());
        free(p);
        return -1;
    }
    if (!created && (st.st_mode & 022)) {
        err_set(err, errlen, "state: state_dir '%s' is writable by %s (mode "
                "%04o); run chmod 0700 '%s'", p,
                (st.st_mode & 002) ? "everyone" : "its group",
                (unsigned)(st.st_mode & 07777), p);
        free(p);
        return -1;
    }
    if (!created && (st.st_mode & 077))
        log_warn("state: state_dir '%s' is readable by group/other "
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
        if (!str_has_prefix(e->d_name, TMP_PREFIX) &&
            !str_has_prefix(e->d_name, JOURNAL_TMP_PREFIX))
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
    /* Never through a symlink (it would be truncated below), never a
     * FIFO or device (O_NONBLOCK: opening one must not hang). */
    int fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_NONBLOCK |
                            O_CLOEXEC, 0600);
    if (fd < 0) {
        err_set(err, errlen, "state: cannot open lock file '%s': %s%s", path,
                strerror(errno),
                errno == ELOOP ? " (it is a symlink; remove it)" : "");
        free(path);
        return NULL;
    }
    struct stat lst;
    if (fstat(fd, &lst) != 0 || !S_ISREG(lst.st_mode)) {
        err_set(err, errlen, "state: lock file '%s' is not a regular file; "
                "remove it", path);
        close(fd);
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

/* ---- files --------------------------------------------------------------- */

static int write_all_at(int fd, const char *p, size_t len, off_t off)
{
    while (len > 0) {
        ssize_t n = pwrite(fd, p, len, off);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += n;
        len -= (size_t)n;
        off += n;
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

/*
 * Replace dir/name with data atomically: dir/<tmp_prefix><pid> (mode
 * 0600), fsync, rename, fsync dir.  With keep_fd, the new file stays open
 * for writing and its descriptor is returned there.
 */
static int atomic_replace(const char *dir, const char *name,
                          const char *tmp_prefix, const char *data,
                          size_t len, int *keep_fd, char *err, size_t errlen)
{
    char *tmp = xasprintf("%s/%s%ld", dir, tmp_prefix, (long)getpid());
    char *dst = path_join(dir, name);
    int rc = -1;
    const char *what = "open";

    /* A fresh file, never one planted in its place (O_EXCL also refuses
     * a symlink, dangling or not).  A leftover of an earlier process with
     * our pid is removed (unlink removes a symlink, not its target). */
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                  0600);
    if (fd < 0 && errno == EEXIST && unlink(tmp) == 0)
        fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                  0600);
    if (fd < 0)
        goto fail;
    /* a temp file left by an earlier process with our pid may have any
     * mode; the state is never readable by others */
    what = "chmod";
    if (fchmod(fd, 0600) != 0)
        goto fail_close;
    what = "write";
    if (write_all_at(fd, data, len, 0) != 0)
        goto fail_close;
    what = "fsync";
    if (fsync(fd) != 0)
        goto fail_close;
    if (!keep_fd) {
        what = "close";
        int crc = close(fd);
        fd = -1;
        if (crc != 0)
            goto fail;
    }
    what = "rename";
    if (rename(tmp, dst) != 0)
        goto fail_close;
    free(tmp);
    tmp = NULL;
    if (fsync_dir(dir) != 0) {
        err_set(err, errlen, "state: fsync of state_dir '%s' failed: %s",
                dir, strerror(errno));
        if (fd >= 0)
            close(fd);
        goto out;
    }
    if (keep_fd)
        *keep_fd = fd;
    rc = 0;
    goto out;

fail_close:
    if (fd >= 0) {
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

int state_save(const char *dir, const char *json, size_t len, char *err,
               size_t errlen)
{
    return atomic_replace(dir, STATE_FILE, TMP_PREFIX, json, len, NULL, err,
                          errlen);
}

/* Read dir/name: 0 (buffer, NUL-terminated), 1 absent, -1 (errno kept). */
static int load_file(const char *dir, const char *name, char **out,
                     size_t *len, char *err, size_t errlen)
{
    char *path = path_join(dir, name);
    *out = NULL;
    *len = 0;
    char *buf = read_file_nofollow(path, STATE_MAX_BYTES, len);
    if (!buf) {
        int e = errno;
        if (e == ENOENT) {
            free(path);
            return 1;
        }
        err_set(err, errlen, "state: cannot read '%s': %s", path,
                e == ELOOP   ? "it is a symlink (remove it)"
                : e == EINVAL ? "not a regular file (remove it)"
                              : strerror(e));
        free(path);
        errno = e;
        return -1;
    }
    free(path);
    *out = buf;
    return 0;
}

int state_load(const char *dir, char **json_out, size_t *len, char *err,
               size_t errlen)
{
    return load_file(dir, STATE_FILE, json_out, len, err, errlen);
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

/* Move dir/name to dir/name.corrupt-<stamp>[.i]; 0 with the new path, or
 * -1 (errno kept).  Logs nothing: the callers say what it means. */
static int move_aside(const char *dir, const char *name, char *moved_to,
                      size_t len)
{
    char stamp[32];
    compact_time(now_wall(), stamp, sizeof(stamp));
    char *src = path_join(dir, name);
    char *dst = xasprintf("%s/%s.corrupt-%s", dir, name, stamp);
    struct stat st;
    /* never overwrite an earlier corrupt file: it is evidence */
    for (int i = 1; lstat(dst, &st) == 0 && i <= 1000; i++) {
        free(dst);
        dst = xasprintf("%s/%s.corrupt-%s.%d", dir, name, stamp, i);
    }
    int rc = rename(src, dst);
    int e = errno;
    if (rc == 0) {
        fsync_dir(dir);
        if (moved_to && len)
            snprintf(moved_to, len, "%s", dst);
    } else if (moved_to && len) {
        snprintf(moved_to, len, "%s", dst);
    }
    free(src);
    free(dst);
    errno = e;
    return rc == 0 ? 0 : -1;
}

int state_quarantine(const char *dir, char *moved_to, size_t len)
{
    char dst[512];
    char *src = path_join(dir, STATE_FILE);
    int rc = move_aside(dir, STATE_FILE, dst, sizeof(dst));
    if (rc != 0) {
        log_err("state: cannot move corrupt state file '%s' aside to '%s': "
                "%s", src, dst, strerror(errno));
    } else {
        log_err("state: STATE FILE CORRUPT: moved '%s' to '%s'; starting "
                "with a clean state (alert instances, notification log, "
                "outbox and silences are lost)", src, dst);
        if (moved_to && len)
            snprintf(moved_to, len, "%s", dst);
    }
    free(src);
    return rc;
}

/* ---- frames ---------------------------------------------------------------- */

static uint32_t crc_table[256];
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

static void crc_init(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        crc_table[i] = c;
    }
}

/* CRC-32 (IEEE 802.3, as zlib's crc32). */
static uint32_t crc32_of(const void *data, size_t len)
{
    pthread_once(&crc_once, crc_init);
    const unsigned char *p = data;
    uint32_t c = 0xFFFFFFFFu;
    for (size_t i = 0; i < len; i++)
        c = crc_table[(c ^ p[i]) & 0xff] ^ (c >> 8);
    return c ^ 0xFFFFFFFFu;
}

static void frame_append(struct strbuf *sb, const char *payload, size_t len)
{
    char hdr[STATE_FRAME_HEADER_BYTES + 1];
    snprintf(hdr, sizeof(hdr), "@%08x %08x", (unsigned)len,
             (unsigned)crc32_of(payload, len));
    uint32_t h = crc32_of(hdr, FRAME_CHECKED_BYTES);
    snprintf(hdr + FRAME_CHECKED_BYTES, sizeof(hdr) - FRAME_CHECKED_BYTES,
             " %08x\n", (unsigned)h);
    strbuf_add(sb, hdr, STATE_FRAME_HEADER_BYTES);
    strbuf_add(sb, payload, len);
    strbuf_addc(sb, '\n');
}

/* Eight lower-case hex digits. */
static bool hex8(const char *s, uint32_t *out)
{
    uint32_t v = 0;
    for (int i = 0; i < 8; i++) {
        char c = s[i];
        if (c >= '0' && c <= '9')
            v = v << 4 | (uint32_t)(c - '0');
        else if (c >= 'a' && c <= 'f')
            v = v << 4 | (uint32_t)(c - 'a' + 10);
        else
            return false;
    }
    *out = v;
    return true;
}

enum frame_kind {
    FRAME_OK,
    FRAME_END,      /* nothing left */
    FRAME_TORN,     /* an interrupted append: nothing valid can follow */
    FRAME_BAD       /* damage with data after it */
};

struct frame {
    const char *payload;
    size_t len;
    size_t next;    /* offset of the next frame */
};

static bool all_zero(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i])
            return false;
    return true;
}

static enum frame_kind frame_next(const char *buf, size_t size, size_t pos,
                                  struct frame *f, char *why, size_t whylen)
{
    size_t left = size - pos;
    const char *h = buf + pos;
    uint32_t len, pcrc, hcrc;
    if (left == 0)
        return FRAME_END;
    if (left < STATE_FRAME_HEADER_BYTES) {
        snprintf(why, whylen, "incomplete record header at byte %zu", pos);
        return FRAME_TORN;
    }
    if (h[0] != '@' || !hex8(h + 1, &len) || h[9] != ' ' ||
        !hex8(h + 10, &pcrc) || h[18] != ' ' || !hex8(h + 19, &hcrc) ||
        h[27] != '\n' || crc32_of(h, FRAME_CHECKED_BYTES) != hcrc) {
        /* a file system may extend a file with zeros before the data of
         * an interrupted write reaches it */
        if (all_zero(h, left)) {
            snprintf(why, whylen, "zero-filled tail at byte %zu", pos);
            return FRAME_TORN;
        }
        snprintf(why, whylen, "bad record header at byte %zu", pos);
        return FRAME_BAD;
    }
    if ((size_t)len > left - STATE_FRAME_OVERHEAD ||
        left < STATE_FRAME_OVERHEAD) {
        snprintf(why, whylen, "incomplete record at byte %zu (%u bytes "
                 "announced, %zu there)", pos, (unsigned)len,
                 left - STATE_FRAME_HEADER_BYTES);
        return FRAME_TORN;
    }
    size_t end = pos + STATE_FRAME_OVERHEAD + len;
    const char *payload = h + STATE_FRAME_HEADER_BYTES;
    if (crc32_of(payload, len) != pcrc || buf[end - 1] != '\n') {
        snprintf(why, whylen, "record at byte %zu fails its checksum", pos);
        /* the last record: its append was interrupted (the size reached
         * the disk, not all of the data) */
        return end == size ? FRAME_TORN : FRAME_BAD;
    }
    f->payload = payload;
    f->len = len;
    f->next = end;
    return FRAME_OK;
}

/* One JSON value filling payload[0..len) (whitespace around allowed). */
static cJSON *parse_payload(const char *p, size_t len)
{
    const char *end = NULL;
    cJSON *j = cJSON_ParseWithLengthOpts(p, len, &end, 0);
    if (!j)
        return NULL;
    for (const char *s = end; s && s < p + len; s++)
        if (*s != ' ' && *s != '\t' && *s != '\r' && *s != '\n') {
            cJSON_Delete(j);
            return NULL;
        }
    return j;
}

/* A JSON number that is a count (integral, 0 <= v < 2^53). */
static bool get_count(const cJSON *v, uint64_t *out)
{
    if (!cJSON_IsNumber(v) || !(v->valuedouble >= 0) ||
        v->valuedouble > 9007199254740991.0 ||
        v->valuedouble != floor(v->valuedouble))
        return false;
    *out = (uint64_t)v->valuedouble;
    return true;
}

/* ---- journal ------------------------------------------------------------- */

struct state_journal {
    int fd;
    char *path;
    uint64_t bytes;
    uint64_t generation;
    bool ok;
};

struct state_journal *state_journal_create(const char *dir,
                                           uint64_t generation, char *err,
                                           size_t errlen)
{
    cJSON *h = cJSON_CreateObject();
    cJSON_AddNumberToObject(h, "journal", STATE_JOURNAL_VERSION);
    cJSON_AddItemToObject(h, "generation", json_double((double)generation));
    char *text = cJSON_PrintUnformatted(h);
    cJSON_Delete(h);
    struct strbuf sb = STRBUF_INIT;
    frame_append(&sb, text, strlen(text));
    free(text);
    int fd = -1;
    if (atomic_replace(dir, STATE_JOURNAL_FILE, JOURNAL_TMP_PREFIX, sb.buf,
                       sb.len, &fd, err, errlen) != 0) {
        strbuf_free(&sb);
        return NULL;
    }
    struct state_journal *j = xcalloc(1, sizeof(*j));
    j->fd = fd;
    j->path = path_join(dir, STATE_JOURNAL_FILE);
    j->bytes = sb.len;
    j->generation = generation;
    j->ok = true;
    strbuf_free(&sb);
    return j;
}

int state_journal_append_raw(struct state_journal *j, const char *payload,
                             size_t len, char *err, size_t errlen)
{
    if (!j->ok) {
        err_set(err, errlen, "state: journal '%s' is unusable after a "
                "failed write", j->path);
        return -1;
    }
    if (len > STATE_MAX_BYTES) {
        err_set(err, errlen, "state: journal record of %zu bytes is larger "
                "than %zu", len, STATE_MAX_BYTES);
        return -1;
    }
    struct strbuf sb = STRBUF_INIT;
    frame_append(&sb, payload, len);
    const char *what = "write";
    int rc = write_all_at(j->fd, sb.buf, sb.len, (off_t)j->bytes);
    if (rc == 0) {
        what = "fdatasync";
        rc = fdatasync(j->fd);
    }
    if (rc != 0) {
        int e = errno;
        /* best effort: leave no partial record behind; the caller
         * compacts anyway */
        if (ftruncate(j->fd, (off_t)j->bytes) != 0)
            log_debug("state: cannot truncate '%s': %s", j->path,
                      strerror(errno));
        j->ok = false;
        err_set(err, errlen, "state: cannot append to '%s' (%s): %s",
                j->path, what, strerror(e));
        strbuf_free(&sb);
        return -1;
    }
    j->bytes += sb.len;
    strbuf_free(&sb);
    return 0;
}

int state_journal_append(struct state_journal *j, double saved_at,
                         const cJSON *changes, size_t *bytes, char *err,
                         size_t errlen)
{
    cJSON *rec = cJSON_CreateObject();
    cJSON_AddItemToObject(rec, "saved_at", json_double(saved_at));
    /* a reference: changes stays the caller's */
    cJSON_AddItemReferenceToObject(rec, "changes", (cJSON *)changes);
    char *text = cJSON_PrintUnformatted(rec);
    cJSON_Delete(rec);
    uint64_t before = j->bytes;
    int rc = state_journal_append_raw(j, text, strlen(text), err, errlen);
    free(text);
    if (rc == 0 && bytes)
        *bytes = (size_t)(j->bytes - before);
    return rc;
}

uint64_t state_journal_bytes(const struct state_journal *j)
{
    return j->bytes;
}

uint64_t state_journal_generation(const struct state_journal *j)
{
    return j->generation;
}

bool state_journal_ok(const struct state_journal *j)
{
    return j->ok;
}

void state_journal_close(struct state_journal *j)
{
    if (!j)
        return;
    close(j->fd);
    free(j->path);
    free(j);
}

cJSON *state_change_set(const char *path, cJSON *v)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "set", path);
    cJSON_AddItemToObject(o, "v", v);
    return o;
}

cJSON *state_change_put(const char *path, const char *by, cJSON *element)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "put", path);
    cJSON_AddStringToObject(o, "by", by);
    cJSON_AddItemToObject(o, "v", element);
    return o;
}

cJSON *state_change_del(const char *path, const char *by, cJSON *key)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "del", path);
    cJSON_AddStringToObject(o, "by", by);
    cJSON_AddItemToObject(o, "k", key);
    return o;
}

/* ---- replay ---------------------------------------------------------------- */

/* An array of the document being patched, with its elements indexed by
 * their "by" member. */
struct coll {
    char *path;
    char *by;
    cJSON *arr;
    cJSON **elems;          /* NULL: deleted */
    size_t n, cap;
    struct index_map map;
};

struct patcher {
    cJSON *doc;
    struct coll *colls;
    size_t ncolls, cap;
};

static bool key_ok(const cJSON *k)
{
    return cJSON_IsString(k) || cJSON_IsNumber(k);
}

static uint64_t key_hash(const cJSON *k)
{
    if (cJSON_IsString(k))
        return hash_str(k->valuestring);
    double v = k->valuedouble == 0 ? 0 : k->valuedouble;   /* -0 == 0 */
    return hash_bytes(&v, sizeof(v), 1);
}

static bool key_equal(const cJSON *a, const cJSON *b)
{
    if (cJSON_IsString(a) && cJSON_IsString(b))
        return strcmp(a->valuestring, b->valuestring) == 0;
    return cJSON_IsNumber(a) && cJSON_IsNumber(b) &&
           a->valuedouble == b->valuedouble;
}

static bool coll_match(const void *ctx, size_t idx, const void *key)
{
    const struct coll *c = ctx;
    const cJSON *e = c->elems[idx];
    return e && key_equal(cJSON_GetObjectItemCaseSensitive(e, c->by), key);
}

static void coll_add(struct coll *c, cJSON *e)
{
    XGROW(c->elems, c->n + 1, c->cap);
    c->elems[c->n] = e;
    const cJSON *k = cJSON_GetObjectItemCaseSensitive(e, c->by);
    if (key_ok(k))
        index_map_put(&c->map, key_hash(k), c->n);
    c->n++;
}

static void coll_free(struct coll *c)
{
    free(c->path);
    free(c->by);
    free(c->elems);
    index_map_free(&c->map);
}

static void patcher_free(struct patcher *p)
{
    for (size_t i = 0; i < p->ncolls; i++)
        coll_free(&p->colls[i]);
    free(p->colls);
}

/*
 * The member at the dotted path of doc: missing objects on the way are
 * created, and a missing last member as an array (leaf_array) or not at
 * all.  Returns the parent of the last member and its name in *last
 * (pointing into path); NULL with why when a member on the way is not an
 * object or the path is empty.
 */
static cJSON *walk(cJSON *doc, const char *path, const char **last,
                   char *why, size_t whylen)
{
    cJSON *node = doc;
    const char *s = path;
    for (;;) {
        const char *dot = strchr(s, '.');
        size_t n = dot ? (size_t)(dot - s) : strlen(s);
        if (n == 0) {
            snprintf(why, whylen, "bad path '%.80s'", path);
            return NULL;
        }
        if (!dot) {
            *last = s;
            return node;
        }
        char *name = xstrndup(s, n);
        cJSON *child = cJSON_GetObjectItemCaseSensitive(node, name);
        if (!child)
            child = cJSON_AddObjectToObject(node, name);
        free(name);
        if (!cJSON_IsObject(child)) {
            snprintf(why, whylen, "path '%.80s': not an object on the way",
                     path);
            return NULL;
        }
        node = child;
        s = dot + 1;
    }
}

static struct coll *coll_get(struct patcher *p, const char *path,
                             const char *by, char *why, size_t whylen)
{
    for (size_t i = 0; i < p->ncolls; i++)
        if (streq(p->colls[i].path, path) && streq(p->colls[i].by, by))
            return &p->colls[i];
    const char *last;
    cJSON *parent = walk(p->doc, path, &last, why, whylen);
    if (!parent)
        return NULL;
    cJSON *arr = cJSON_GetObjectItemCaseSensitive(parent, last);
    if (!arr)
        arr = cJSON_AddArrayToObject(parent, last);
    if (!cJSON_IsArray(arr)) {
        snprintf(why, whylen, "path '%.80s' is not an array", path);
        return NULL;
    }
    XGROW(p->colls, p->ncolls + 1, p->cap);
    struct coll *c = &p->colls[p->ncolls++];
    memset(c, 0, sizeof(*c));
    c->path = xstrdup(path);
    c->by = xstrdup(by);
    c->arr = arr;
    for (cJSON *e = arr->child; e; e = e->next)
        coll_add(c, e);
    return c;
}

/* Replace (or add) the member at path; indexes of arrays under it go. */
static int doc_set(struct patcher *p, const char *path, cJSON *v, char *why,
                   size_t whylen)
{
    const char *last;
    cJSON *parent = walk(p->doc, path, &last, why, whylen);
    if (!parent) {
        cJSON_Delete(v);
        return -1;
    }
    if (cJSON_GetObjectItemCaseSensitive(parent, last))
        cJSON_ReplaceItemInObjectCaseSensitive(parent, last, v);
    else
        cJSON_AddItemToObject(parent, last, v);
    size_t plen = strlen(path);
    for (size_t i = 0; i < p->ncolls;) {
        const char *cp = p->colls[i].path;
        if (strncmp(cp, path, plen) == 0 && (!cp[plen] || cp[plen] == '.')) {
            coll_free(&p->colls[i]);
            p->colls[i] = p->colls[--p->ncolls];
        } else {
            i++;
        }
    }
    return 0;
}

static int apply_change(struct patcher *p, cJSON *ch, char *why,
                        size_t whylen)
{
    if (!cJSON_IsObject(ch)) {
        snprintf(why, whylen, "change is not an object");
        return -1;
    }
    const char *set = json_str(ch, "set");
    const char *put = json_str(ch, "put");
    const char *del = json_str(ch, "del");
    if ((set != NULL) + (put != NULL) + (del != NULL) != 1) {
        snprintf(why, whylen, "change needs one of set, put, del");
        return -1;
    }
    if (set) {
        cJSON *v = cJSON_DetachItemFromObjectCaseSensitive(ch, "v");
        if (!v) {
            snprintf(why, whylen, "set '%.80s': no value", set);
            return -1;
        }
        return doc_set(p, set, v, why, whylen);
    }
    const char *by = json_str(ch, "by");
    if (!by || !*by) {
        snprintf(why, whylen, "change of '%.80s': no \"by\"",
                 put ? put : del);
        return -1;
    }
    struct coll *c = coll_get(p, put ? put : del, by, why, whylen);
    if (!c)
        return -1;
    if (put) {
        cJSON *v = cJSON_DetachItemFromObjectCaseSensitive(ch, "v");
        const cJSON *k = cJSON_GetObjectItemCaseSensitive(v, by);
        if (!cJSON_IsObject(v) || !key_ok(k)) {
            cJSON_Delete(v);
            snprintf(why, whylen, "put '%.80s': not an object with a '%.40s'",
                     put, by);
            return -1;
        }
        size_t idx = index_map_get(&c->map, key_hash(k), coll_match, c, k);
        if (idx != INDEX_NONE) {
            cJSON_ReplaceItemViaPointer(c->arr, c->elems[idx], v);
            c->elems[idx] = v;
        } else {
            cJSON_AddItemToArray(c->arr, v);
            coll_add(c, v);
        }
        return 0;
    }
    const cJSON *k = cJSON_GetObjectItemCaseSensitive(ch, "k");
    if (!key_ok(k)) {
        snprintf(why, whylen, "del '%.80s': no key", del);
        return -1;
    }
    size_t idx = index_map_get(&c->map, key_hash(k), coll_match, c, k);
    if (idx != INDEX_NONE) {
        cJSON_Delete(cJSON_DetachItemViaPointer(c->arr, c->elems[idx]));
        c->elems[idx] = NULL;
    }
    return 0;
}

static int apply_record(struct patcher *p, cJSON *rec, char *why,
                        size_t whylen)
{
    cJSON *changes = cJSON_GetObjectItemCaseSensitive(rec, "changes");
    const cJSON *at = cJSON_GetObjectItemCaseSensitive(rec, "saved_at");
    if (!cJSON_IsObject(rec) || !cJSON_IsArray(changes) ||
        !cJSON_IsNumber(at)) {
        snprintf(why, whylen, "not a save record");
        return -1;
    }
    for (cJSON *ch = changes->child; ch; ch = ch->next)
        if (apply_change(p, ch, why, whylen) != 0)
            return -1;
    cJSON_DeleteItemFromObjectCaseSensitive(p->doc, "saved_at");
    cJSON_AddItemToObject(p->doc, "saved_at", json_double(at->valuedouble));
    return 0;
}

struct replay {
    enum state_journal_status status;
    size_t records;
    size_t used;            /* bytes of the journal replayed */
    bool mixed;             /* a record failed half-way: doc is unusable */
    char why[200];
};

/* Apply the save records of journal[pos..len) to doc, at most max. */
static void replay(cJSON *doc, const char *journal, size_t len, size_t pos,
                   size_t max, struct replay *r)
{
    struct patcher p = { doc, NULL, 0, 0 };
    r->status = STATE_JOURNAL_OK;
    r->records = 0;
    r->used = pos;
    r->mixed = false;
    while (r->records < max) {
        struct frame f;
        enum frame_kind k = frame_next(journal, len, pos, &f, r->why,
                                       sizeof(r->why));
        if (k == FRAME_END)
            break;
        if (k != FRAME_OK) {
            r->status = k == FRAME_TORN ? STATE_JOURNAL_TORN
                                        : STATE_JOURNAL_CORRUPT;
            break;
        }
        cJSON *rec = parse_payload(f.payload, f.len);
        char why[160];
        if (!rec) {
            snprintf(r->why, sizeof(r->why), "record at byte %zu is not "
                     "JSON", pos);
            r->status = STATE_JOURNAL_CORRUPT;
            break;
        }
        if (apply_record(&p, rec, why, sizeof(why)) != 0) {
            snprintf(r->why, sizeof(r->why), "record at byte %zu: %s", pos,
                     why);
            r->status = STATE_JOURNAL_CORRUPT;
            r->mixed = true;
            cJSON_Delete(rec);
            break;
        }
        cJSON_Delete(rec);
        r->records++;
        pos = f.next;
        r->used = pos;
    }
    patcher_free(&p);
}

/* ---- reading ----------------------------------------------------------------- */

/* Parse and check a snapshot; NULL with why when it is corrupt. */
static cJSON *parse_snapshot(const char *buf, size_t len, uint64_t *gen,
                             char *why, size_t whylen)
{
    cJSON *root = NULL;
    if (strlen(buf) != len) {
        snprintf(why, whylen, "NUL byte at offset %zu", strlen(buf));
        return NULL;
    }
    const char *end = NULL;
    /* length + 1: cJSON checks the terminator inside the length */
    root = cJSON_ParseWithLengthOpts(buf, len + 1, &end, 1);
    if (!root) {
        size_t off = end && end >= buf ? (size_t)(end - buf) : len;
        snprintf(why, whylen, "not valid JSON (at byte %zu of %zu)", off,
                 len);
        return NULL;
    }
    if (!cJSON_IsObject(root)) {
        snprintf(why, whylen, "top level is not an object");
        goto fail;
    }
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, "version");
    if (!cJSON_IsNumber(v)) {
        snprintf(why, whylen, "no numeric \"version\"");
        goto fail;
    }
    if (v->valuedouble != STATE_VERSION) {
        snprintf(why, whylen, "version %g, expected %d", v->valuedouble,
                 STATE_VERSION);
        goto fail;
    }
    const cJSON *g = cJSON_GetObjectItemCaseSensitive(root, "generation");
    *gen = 0;
    if (g && !get_count(g, gen)) {
        snprintf(why, whylen, "\"generation\" is not a count");
        goto fail;
    }
    return root;
fail:
    cJSON_Delete(root);
    return NULL;
}

/* The header record of a journal: 0 with its generation and the offset of
 * the first save record, -1 with why. */
static int journal_header(const char *buf, size_t len, uint64_t *gen,
                          size_t *pos, char *why, size_t whylen)
{
    struct frame f;
    char w[160];
    if (frame_next(buf, len, 0, &f, w, sizeof(w)) != FRAME_OK) {
        snprintf(why, whylen, "header record: %s", w);
        return -1;
    }
    cJSON *h = parse_payload(f.payload, f.len);
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(h, "journal");
    int rc = -1;
    if (!cJSON_IsObject(h) || !cJSON_IsNumber(v) ||
        v->valuedouble != STATE_JOURNAL_VERSION ||
        !get_count(cJSON_GetObjectItemCaseSensitive(h, "generation"), gen))
        snprintf(why, whylen, "header record is not a version %d journal "
                 "header", STATE_JOURNAL_VERSION);
    else
        rc = 0;
    cJSON_Delete(h);
    *pos = f.next;
    return rc;
}

static cJSON *fresh_document(void)
{
    cJSON *fresh = cJSON_CreateObject();
    cJSON_AddNumberToObject(fresh, "version", STATE_VERSION);
    return fresh;
}

/* RECOVER, corrupt snapshot: move it and its journal aside. */
static void quarantine_snapshot(const char *dir, struct state_read_info *info,
                                char *err, size_t errlen)
{
    if (state_quarantine(dir, info->moved_to, sizeof(info->moved_to)) != 0) {
        err_set(err, errlen, "state: state file in '%s' is corrupt (%s) and "
                "could not be moved aside", dir, info->why);
        info->moved_to[0] = '\0';
        return;
    }
    info->quarantined = true;
    err_set(err, errlen, "state: state file was corrupt (%s); moved to '%s'",
            info->why, info->moved_to);
    char jmoved[512];
    char *jpath = path_join(dir, STATE_JOURNAL_FILE);
    if (access(jpath, F_OK) == 0) {
        if (move_aside(dir, STATE_JOURNAL_FILE, jmoved, sizeof(jmoved)) == 0)
            log_err("state: moved the journal of the corrupt state file "
                    "'%s' to '%s'", jpath, jmoved);
        else
            log_err("state: cannot move the journal of the corrupt state "
                    "file '%s' aside: %s", jpath, strerror(errno));
    }
    free(jpath);
}

/* One attempt of state_read().  Returns the document, or NULL (*retry set
 * when a READ_ONLY reader should read again). */
static cJSON *read_once(const char *dir, enum state_read_mode mode,
                        bool may_retry, struct state_read_info *info,
                        bool *retry, char *err, size_t errlen)
{
    char *snap = NULL, *jbuf = NULL;
    size_t slen = 0, jlen = 0;
    cJSON *doc = NULL;
    *retry = false;

    int rc = state_load(dir, &snap, &slen, err, errlen);
    if (rc < 0 && errno != EFBIG)
        return NULL;
    if (rc == 1) {
        doc = fresh_document();
    } else {
        info->snapshot_found = true;
        info->snapshot_bytes = slen;
        if (rc < 0)
            snprintf(info->why, sizeof(info->why), "larger than %zu bytes",
                     STATE_MAX_BYTES);
        else
            doc = parse_snapshot(snap, slen, &info->generation, info->why,
                                 sizeof(info->why));
        if (!doc) {
            info->snapshot_corrupt = true;
            if (mode == STATE_READ_RECOVER)
                quarantine_snapshot(dir, info, err, errlen);
            else
                err_set(err, errlen, "state: state file in '%s' is corrupt "
                        "(%s)", dir, info->why);
            free(snap);
            return NULL;
        }
    }

    char jerr[256];
    int jrc = load_file(dir, STATE_JOURNAL_FILE, &jbuf, &jlen, jerr,
                        sizeof(jerr));
    if (jrc < 0 && errno != EFBIG) {
        err_set(err, errlen, "%s", jerr);
        goto fail;
    }
    uint64_t jgen = 0;
    size_t pos = 0;
    info->journal_bytes = jrc == 0 ? jlen : 0;
    if (jrc == 1 || (jrc == 0 && jlen == 0)) {
        info->journal = STATE_JOURNAL_NONE;
    } else if (jrc < 0) {
        info->journal = STATE_JOURNAL_CORRUPT;
        snprintf(info->why, sizeof(info->why), "journal larger than %zu "
                 "bytes", STATE_MAX_BYTES);
    } else if (journal_header(jbuf, jlen, &jgen, &pos, info->why,
                              sizeof(info->why)) != 0) {
        info->journal = STATE_JOURNAL_CORRUPT;
    } else if (!info->snapshot_found || jgen != info->generation) {
        info->journal_generation = jgen;
        if (jgen > info->generation && may_retry && info->snapshot_found) {
            /* a compaction ran between our two reads */
            *retry = true;
            goto fail;
        }
        info->journal = STATE_JOURNAL_STALE;
        snprintf(info->why, sizeof(info->why), "journal of generation %llu, "
                 "snapshot of %llu%s", (unsigned long long)jgen,
                 (unsigned long long)info->generation,
                 info->snapshot_found ? "" : " (no snapshot)");
    } else {
        info->journal_generation = jgen;
        struct replay r;
        replay(doc, jbuf, jlen, pos, SIZE_MAX, &r);
        if (r.mixed) {
            /* a record failed half-way: start over and stop before it */
            cJSON_Delete(doc);
            uint64_t g;
            char w[8];
            doc = parse_snapshot(snap, slen, &g, w, sizeof(w));
            struct replay again;
            replay(doc, jbuf, jlen, pos, r.records, &again);
        }
        info->journal = r.status;
        info->records = r.records;
        info->journal_used = r.used;
        if (r.status != STATE_JOURNAL_OK)
            snprintf(info->why, sizeof(info->why), "%s", r.why);
    }

    if (mode == STATE_READ_RECOVER) {
        char *jpath = path_join(dir, STATE_JOURNAL_FILE);
        switch (info->journal) {
        case STATE_JOURNAL_TORN:
            log_warn("state: journal '%s': the last record is incomplete "
                     "(%s), an interrupted save: ignored; restored %zu saves",
                     jpath, info->why, info->records);
            break;
        case STATE_JOURNAL_STALE:
            log_info("state: journal '%s' ignored: %s (left by a "
                     "compaction that was interrupted)", jpath, info->why);
            break;
        case STATE_JOURNAL_CORRUPT:
            if (move_aside(dir, STATE_JOURNAL_FILE, info->moved_to,
                           sizeof(info->moved_to)) != 0) {
                err_set(err, errlen, "state: journal '%s' is corrupt (%s) "
                        "and could not be moved aside to '%s': %s", jpath,
                        info->why, info->moved_to, strerror(errno));
                free(jpath);
                goto fail;
            }
            info->quarantined = true;
            log_err("state: STATE JOURNAL CORRUPT: %s; moved '%s' to '%s'; "
                    "restored the state as of the save before the bad "
                    "record (%zu saves replayed), later saves are lost",
                    info->why, jpath, info->moved_to, info->records);
            break;
        default:
            break;
        }
        free(jpath);
    }
    free(snap);
    free(jbuf);
    return doc;
fail:
    cJSON_Delete(doc);
    free(snap);
    free(jbuf);
    return NULL;
}

cJSON *state_read(const char *dir, enum state_read_mode mode,
                  struct state_read_info *info, char *err, size_t errlen)
{
    struct state_read_info local;
    if (!info)
        info = &local;
    for (int attempt = 0;; attempt++) {
        memset(info, 0, sizeof(*info));
        bool retry;
        bool may_retry = mode == STATE_READ_ONLY && attempt < READ_RETRIES;
        cJSON *doc = read_once(dir, mode, may_retry, info, &retry, err,
                               errlen);
        if (!retry)
            return doc;
    }
}

cJSON *state_load_json(const char *dir, char *err, size_t errlen,
                       bool *quarantined)
{
    struct state_read_info info;
    cJSON *doc = state_read(dir, STATE_READ_RECOVER, &info, err, errlen);
    *quarantined = !doc && info.snapshot_corrupt && info.quarantined;
    return doc;
}

/* ---- compaction ------------------------------------------------------------- */

/* Every parsed number of the tree re-encoded exactly (core/json.h), so a
 * document read back and written again keeps every digit. */
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

int state_write_snapshot(const char *dir, cJSON *doc, uint64_t generation,
                         struct state_journal **journal_out,
                         size_t *snapshot_bytes, char *err, size_t errlen)
{
    if (journal_out)
        *journal_out = NULL;
    cJSON_DeleteItemFromObjectCaseSensitive(doc, "generation");
    cJSON_AddItemToObject(doc, "generation", json_double((double)generation));
    exact_numbers(doc);
    char *text = cJSON_PrintUnformatted(doc);
    size_t len = strlen(text);
    int rc = state_save(dir, text, len, err, errlen);
    free(text);
    if (rc != 0)
        return -1;
    if (snapshot_bytes)
        *snapshot_bytes = len;
    struct state_journal *j = state_journal_create(dir, generation, err,
                                                   errlen);
    if (!j)
        return -1;
    if (journal_out)
        *journal_out = j;
    else
        state_journal_close(j);
    return 0;
}
