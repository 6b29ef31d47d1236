/*
 * cursor.c - see cursor.h.
 */
#include "export/cursor.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/index.h"
#include "core/util.h"

#define CURSOR_MAGIC "segalert-export-cursor 1"

struct centry {
    uint64_t key;
    double end;
};

struct export_cursor {
    char *path;             /* NULL: in memory */
    char *dir;
    struct centry *e;
    size_t n, cap;
    struct index_map by_key;
    double floor;
    bool dirty;
};

static bool match_key(const void *ctx, size_t idx, const void *key)
{
    const struct export_cursor *c = ctx;
    return c->e[idx].key == *(const uint64_t *)key;
}

static size_t find(const struct export_cursor *c, uint64_t key)
{
    return index_map_get(&c->by_key, key, match_key, c, &key);
}

double export_cursor_get(const struct export_cursor *c, uint64_t key)
{
    size_t i = find(c, key);
    return i == INDEX_NONE ? 0 : c->e[i].end;
}

double export_cursor_floor(const struct export_cursor *c)
{
    return c->floor;
}

static void add(struct export_cursor *c, uint64_t key, double end)
{
    XGROW(c->e, c->n + 1, c->cap);
    c->e[c->n].key = key;
    c->e[c->n].end = end;
    index_map_put(&c->by_key, key, c->n);
    c->n++;
}

void export_cursor_set(struct export_cursor *c, uint64_t key, double end)
{
    size_t i = find(c, key);
    if (i == INDEX_NONE)
        add(c, key, end);
    else if (c->e[i].end != end)
        c->e[i].end = end;
    else
        return;
    c->dirty = true;
}

bool export_cursor_dirty(const struct export_cursor *c)
{
    return c->dirty;
}

size_t export_cursor_count(const struct export_cursor *c)
{
    return c->n;
}

const char *export_cursor_path(const struct export_cursor *c)
{
    return c->path;
}

/* The next line of *p (NUL-terminated in place), or NULL at the end. */
static char *next_line(char **p)
{
    if (!**p)
        return NULL;
    char *line = *p;
    char *nl = strchr(line, '\n');
    if (nl) {
        *nl = '\0';
        *p = nl + 1;
    } else {
        *p = line + strlen(line);
    }
    return line;
}

/* Parse text into c; -1 on the first bad line. */
static int parse(struct export_cursor *c, char *text)
{
    char *p = text;
    char *line = next_line(&p);
    if (!line || strcmp(line, CURSOR_MAGIC) != 0)
        return -1;
    while ((line = next_line(&p)) != NULL) {
        char *end;
        errno = 0;
        uint64_t key = strtoull(line, &end, 16);
        if (errno || end == line || *end != ' ')
            return -1;
        double t;
        if (parse_double(end + 1, &t) != 0 || !(t > 0))
            return -1;
        export_cursor_set(c, key, t);
    }
    return 0;
}

/* Read path without following a symbolic link; NULL with errno. */
static char *read_nofollow(const char *path, size_t *len)
{
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    struct strbuf sb = STRBUF_INIT;
    char buf[8192];
    ssize_t k;
    while ((k = read(fd, buf, sizeof(buf))) > 0) {
        if (sb.len + (size_t)k > CURSOR_MAX_BYTES) {
            close(fd);
            strbuf_free(&sb);
            errno = EFBIG;
            return NULL;
        }
        strbuf_add(&sb, buf, (size_t)k);
    }
    int e = errno;
    close(fd);
    if (k < 0) {
        strbuf_free(&sb);
        errno = e;
        return NULL;
    }
    *len = sb.len;
    strbuf_addc(&sb, '\0');
    return strbuf_detach(&sb);
}

struct export_cursor *export_cursor_open(const char *dir, const char *name,
                                         double now, char *err,
                                         size_t errlen)
{
    struct export_cursor *c = xcalloc(1, sizeof(*c));
    if (errlen)
        err[0] = '\0';
    if (!dir)
        return c;
    c->dir = xstrdup(dir);
    c->path = xasprintf("%s/export-%s.cursor", dir, name);
    size_t len = 0;
    char *text = read_nofollow(c->path, &len);
    if (!text) {
        if (errno != ENOENT) {
            err_set(err, errlen, "export: cannot read '%s': %s; starting "
                    "from now", c->path, strerror(errno));
            c->floor = now;
        }
        return c;
    }
    if (strlen(text) != len || parse(c, text) != 0) {
        char aside[64];
        char stamp[32];
        format_iso8601(now, stamp, sizeof(stamp));
        snprintf(aside, sizeof(aside), ".corrupt-%s", stamp);
        char *moved = xasprintf("%s%s", c->path, aside);
        int rc = rename(c->path, moved);
        err_set(err, errlen, "export: cursor file '%s' is corrupt; %s; "
                "starting from now", c->path,
                rc == 0 ? "moved aside" : "could not move it aside");
        free(moved);
        free(c->e);
        c->e = NULL;
        c->n = c->cap = 0;
        index_map_free(&c->by_key);
        c->floor = now;
    }
    c->dirty = false;
    free(text);
    return c;
}

void export_cursor_free(struct export_cursor *c)
{
    if (!c)
        return;
    free(c->path);
    free(c->dir);
    free(c->e);
    index_map_free(&c->by_key);
    free(c);
}

/* Forget entries older than keep_from (rebuilding the index). */
static void prune(struct export_cursor *c, double keep_from)
{
    size_t k = 0;
    for (size_t i = 0; i < c->n; i++)
        if (c->e[i].end >= keep_from)
            c->e[k++] = c->e[i];
    if (k == c->n)
        return;
    c->n = k;
    index_map_free(&c->by_key);
    for (size_t i = 0; i < c->n; i++)
        index_map_put(&c->by_key, c->e[i].key, i);
}

static int write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t k = write(fd, p, n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return -1;
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

int export_cursor_save(struct export_cursor *c, double now, char *err,
                       size_t errlen)
{
    if (!c->path) {
        c->dirty = false;
        return 0;
    }
    prune(c, now - CURSOR_KEEP_S);
    struct strbuf sb = STRBUF_INIT;
    strbuf_adds(&sb, CURSOR_MAGIC "\n");
    for (size_t i = 0; i < c->n; i++)
        strbuf_addf(&sb, "%016" PRIx64 " %.3f\n", c->e[i].key, c->e[i].end);
    char *tmp = xasprintf("%s.tmp-%ld", c->path, (long)getpid());
    const char *what = "open";
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                  0600);
    if (fd < 0 && errno == EEXIST) {
        /* left by a writer of ours that crashed (same pid after a
         * restart in a container): ours to remove */
        unlink(tmp);
        fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                  0600);
    }
    if (fd < 0)
        goto fail;
    what = "write";
    if (write_all(fd, sb.buf, sb.len) != 0)
        goto fail_close;
    what = "fsync";
    if (fsync(fd) != 0)
        goto fail_close;
    what = "close";
    if (close(fd) != 0) {
        fd = -1;
        goto fail_unlink;
    }
    what = "rename";
    if (rename(tmp, c->path) != 0)
        goto fail_unlink;
    int dfd = open(c->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        fsync(dfd);     /* some file systems cannot: nothing more to do */
        close(dfd);
    }
    free(tmp);
    strbuf_free(&sb);
    c->dirty = false;
    return 0;

fail_close:
    {
        int e = errno;
        close(fd);
        errno = e;
    }
fail_unlink:
    {
        int e = errno;
        unlink(tmp);
        errno = e;
    }
fail:
    err_set(err, errlen, "export: cannot save '%s' (%s): %s", c->path, what,
            strerror(errno));
    free(tmp);
    strbuf_free(&sb);
    return -1;
}
