/*
 * section.c - see section.h.
 */
#include "config/section.h"

#include <arpa/inet.h>
#include <confuse.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config/scan.h"
#include "core/log.h"

struct cfg_section {
    const struct cfg_file *file;
    cfg_t *sec;
    int idx;                    /* scan section, -1 = top level */
    char *label;                /* 'workspace "prod"', or "" at top level */
    int line;                   /* of the section */
};

/* ---- opening and where things are ---------------------------------------- */

struct cfg_section *section_open(const struct cfg_file *file,
                                 struct cfg_t *sec, const char *name)
{
    struct cfg_section *s = xcalloc(1, sizeof(*s));
    s->file = file;
    s->sec = sec;
    if (!name) {
        s->idx = -1;
        s->label = xstrdup("");
        s->line = 0;
        return s;
    }
    const char *title = cfg_title(sec);
    s->idx = scan_find_sec(file->sc, name, title);
    s->label = scan_label(name, title);
    s->line = s->idx >= 0 ? file->sc->secs[s->idx].line : 0;
    return s;
}

void section_close(struct cfg_section *s)
{
    if (!s)
        return;
    free(s->label);
    free(s);
}

const char *section_title(const struct cfg_section *s)
{
    return cfg_title(s->sec);     /* NULL for the top level */
}

const char *section_file(const struct cfg_section *s)
{
    return s->file->name;
}

int section_line(const struct cfg_section *s)
{
    return s->line;
}

int section_opt_line(const struct cfg_section *s, const char *name)
{
    const struct scan_opt *o = scan_find_opt(s->file->sc, s->idx, name);
    return o ? o->line : s->line;
}

bool section_wrote(const struct cfg_section *s, const char *name)
{
    return scan_find_opt(s->file->sc, s->idx, name) != NULL;
}

/* ---- diagnostics --------------------------------------------------------- */

static void section_vdiag(const struct cfg_section *s, enum diag_severity sev,
                          const char *opt, const char *fmt, va_list ap)
{
    struct strbuf sb = STRBUF_INIT;
    if (s->label[0])
        strbuf_addf(&sb, "%s: ", s->label);
    strbuf_vaddf(&sb, fmt, ap);
    int line = opt ? section_opt_line(s, opt) : s->line;
    diag_add(s->file->diags, sev, s->file->name, line, 0, "%s",
             strbuf_str(&sb));
    strbuf_free(&sb);
}

void section_error(const struct cfg_section *s, const char *opt,
                   const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    section_vdiag(s, DIAG_ERROR, opt, fmt, ap);
    va_end(ap);
}

void section_warning(const struct cfg_section *s, const char *opt,
                     const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    section_vdiag(s, DIAG_WARNING, opt, fmt, ap);
    va_end(ap);
}

/* ---- values -------------------------------------------------------------- */

const char *section_str(const struct cfg_section *s, const char *name)
{
    return cfg_size(s->sec, name) ? cfg_getstr(s->sec, name) : NULL;
}

bool section_is_set(const struct cfg_section *s, const char *name)
{
    cfg_opt_t *o = cfg_getopt(s->sec, name);
    return o && (o->nvalues > 0 || (o->flags & CFGF_MODIFIED));
}

void section_get_string(const struct cfg_section *s, const char *name,
                        char **out)
{
    const char *v = section_str(s, name);
    if (v) {
        free(*out);
        *out = xstrdup(v);
    }
}

void section_get_text(const struct cfg_section *s, const char *name,
                      char **out, int *line, int *col)
{
    const char *v = section_str(s, name);
    if (!v)
        return;
    free(*out);
    *out = xstrdup(v);
    const struct scan_opt *o = scan_find_opt(s->file->sc, s->idx, name);
    *line = o ? o->val_line : s->line;
    *col = o ? o->val_col : 0;
}

/* A value parsed by parse (0 or -1); what names its kind in the error. */
static bool get_parsed(const struct cfg_section *s, const char *name,
                       double *out, int (*parse)(const char *, double *),
                       const char *what)
{
    const char *v = section_str(s, name);
    if (!v)
        return true;
    double d;
    if (parse(v, &d) != 0) {
        section_error(s, name, "invalid %s '%s' for %s%s", what, v, name,
                      parse == parse_duration ? DURATION_FORMAT_HINT : "");
        return false;
    }
    *out = d;
    return true;
}

bool section_get_duration(const struct cfg_section *s, const char *name,
                          double *out)
{
    return get_parsed(s, name, out, parse_duration, "duration");
}

void section_get_interval(const struct cfg_section *s, const char *name,
                          double *out, bool allow_zero)
{
    double d = *out;
    if (!section_get_duration(s, name, &d))
        return;
    if (d < 0 || (!allow_zero && d <= 0)) {
        section_error(s, name, "%s must be greater than 0", name);
        return;
    }
    *out = d;
}

bool section_get_number(const struct cfg_section *s, const char *name,
                        double *out)
{
    return get_parsed(s, name, out, parse_double, "number");
}

void section_get_int(const struct cfg_section *s, const char *name, int *out,
                     long min, long max)
{
    const char *v = section_str(s, name);
    if (!v)
        return;
    long l;
    if (parse_long(v, &l) != 0) {
        section_error(s, name, "invalid integer '%s' for %s", v, name);
        return;
    }
    if (l < min || l > max) {
        section_error(s, name, "%s must be between %ld and %ld (got %ld)",
                      name, min, max, l);
        return;
    }
    *out = (int)l;
}

void section_get_bool(const struct cfg_section *s, const char *name,
                      bool *out)
{
    static const char *const yes[] = { "true", "yes", "on" };
    static const char *const no[] = { "false", "no", "off" };
    const char *v = section_str(s, name);
    if (!v)
        return;
    for (size_t i = 0; i < ARRAY_SIZE(yes); i++) {
        if (strcasecmp(v, yes[i]) == 0) {
            *out = true;
            return;
        }
        if (strcasecmp(v, no[i]) == 0) {
            *out = false;
            return;
        }
    }
    section_error(s, name, "invalid boolean '%s' for %s (expected true or "
                  "false)", v, name);
}

int section_get_enum(const struct cfg_section *s, const char *name,
                     const char *const *names, size_t n, int def)
{
    const char *v = section_str(s, name);
    if (!v)
        return def;
    for (size_t i = 0; i < n; i++)
        if (strcmp(v, names[i]) == 0)
            return (int)i;
    struct strbuf sb = STRBUF_INIT;
    section_add_choices(&sb, names, n);
    section_error(s, name, "invalid value '%s' for %s (expected %s)", v, name,
                  strbuf_str(&sb));
    strbuf_free(&sb);
    return -1;
}

bool section_get_list(const struct cfg_section *s, const char *name,
                      struct str_list *out)
{
    if (!section_is_set(s, name))
        return false;
    str_list_free(out);
    unsigned n = cfg_size(s->sec, name);
    for (unsigned i = 0; i < n; i++)
        str_list_add(out, cfg_getnstr(s->sec, name, i));
    return true;
}

void section_get_kv(const struct cfg_section *s, const char *name,
                    struct kv_list *out, const char *what,
                    const char *expect)
{
    unsigned n = cfg_size(s->sec, name);
    for (unsigned i = 0; i < n; i++) {
        const char *e = cfg_getnstr(s->sec, name, i);
        char *buf;
        const char *k, *v;
        if (split_kv(e, &buf, &k, &v) != 0) {
            section_error(s, name, "invalid %s '%s' in %s (expected %s)",
                          what, e, name, expect);
            continue;
        }
        if (!section_is_label_name(k))
            section_error(s, name, "invalid label name '%s' in %s (letters, "
                          "digits and '_', not starting with a digit)", k,
                          name);
        else
            kv_list_add(out, k, v);
        free(buf);
    }
}

char *cfg_file_resolve_path(const struct cfg_file *file, const char *path)
{
    if (path[0] == '/' || !file->basedir[0])
        return xstrdup(path);
    return xasprintf("%s%s", file->basedir, path);
}

char *section_resolve_path(const struct cfg_section *s, const char *path)
{
    return cfg_file_resolve_path(s->file, path);
}

/* ---- checks loaders share ------------------------------------------------ */

bool section_is_label_name(const char *k)
{
    if (!*k || !((*k >= 'a' && *k <= 'z') || (*k >= 'A' && *k <= 'Z') ||
                 *k == '_'))
        return false;
    for (const char *p = k + 1; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
              (*p >= '0' && *p <= '9') || *p == '_'))
            return false;
    return true;
}

bool section_is_http_url(const char *u)
{
    return str_has_prefix(u, "http://") || str_has_prefix(u, "https://");
}

int section_url_host(const char *url, char *host, size_t len)
{
    const char *p = strstr(url ? url : "", "://");
    if (!p)
        return -1;
    p += 3;
    size_t auth = strcspn(p, "/?#");            /* [userinfo@]host[:port] */
    const char *at = memchr(p, '@', auth);
    if (at) {
        /* the last '@' of the authority ends the userinfo */
        for (const char *q = at; q < p + auth; q++)
            if (*q == '@')
                at = q;
        auth -= (size_t)(at + 1 - p);
        p = at + 1;
    }
    size_t hl;
    if (*p == '[') {
        const char *close = memchr(p, ']', auth);
        if (!close)
            return -1;
        hl = (size_t)(close - p - 1);
        p++;
    } else {
        const char *colon = memchr(p, ':', auth);
        hl = colon ? (size_t)(colon - p) : auth;
    }
    if (hl == 0 || hl >= len)
        return -1;
    memcpy(host, p, hl);
    host[hl] = '\0';
    if (host[hl - 1] == '.')
        host[hl - 1] = '\0';                  /* "localhost." */
    return 0;
}

bool section_url_is_loopback(const char *url)
{
    char host[256];
    if (section_url_host(url, host, sizeof(host)) != 0)
        return false;
    if (strcasecmp(host, "localhost") == 0)
        return true;
    struct in_addr a4;
    struct in6_addr a6;
    if (inet_pton(AF_INET, host, &a4) == 1)
        return (ntohl(a4.s_addr) >> 24) == 127;
    if (inet_pton(AF_INET6, host, &a6) == 1)
        return IN6_IS_ADDR_LOOPBACK(&a6) ||
               (IN6_IS_ADDR_V4MAPPED(&a6) && a6.s6_addr[12] == 127);
    return false;
}

void section_strip_trailing_slashes(char *url)
{
    size_t l = url ? strlen(url) : 0;
    while (l > 0 && url[l - 1] == '/')
        url[--l] = '\0';
}

void section_check_secret_url(const struct cfg_section *s, const char *url)
{
    if (url && !section_is_http_url(url))
        section_error(s, NULL, "url must start with http:// or https://");
}

static bool is_header_name(const char *n, size_t len)
{
    if (len == 0)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = n[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || strchr("!#$%&'*+-.^_`|~", c)))
            return false;
    }
    return true;
}

/* Header values that look like credentials are redacted from logs. */
static bool header_is_secret(const char *name)
{
    static const char *const words[] = { "auth", "token", "key", "secret" };
    char *lower = xstrdup(name);
    bool hit = false;
    for (char *p = lower; *p; p++)
        if (*p >= 'A' && *p <= 'Z')
            *p = (char)(*p - 'A' + 'a');
    for (size_t i = 0; i < ARRAY_SIZE(words) && !hit; i++)
        hit = strstr(lower, words[i]) != NULL;
    free(lower);
    return hit;
}

void section_get_http_headers(const struct cfg_section *s, const char *name,
                              struct kv_list *out)
{
    struct str_list entries = { NULL, 0 };
    section_get_list(s, name, &entries);
    for (size_t i = 0; i < entries.n; i++) {
        const char *e = entries.items[i];
        size_t nl = strcspn(e, "=:");
        if (!e[nl] || !is_header_name(e, nl)) {
            section_error(s, name, "invalid entry %zu in %s (expected "
                          "Name=value with an HTTP header name)", i + 1,
                          name);
            continue;
        }
        char *hname = xstrndup(e, nl);
        const char *v = e + nl + 1;
        while (*v == ' ' || *v == '\t')
            v++;
        if (strpbrk(v, "\r\n"))
            section_error(s, name, "header '%s': the value must not "
                          "contain line breaks", hname);
        else {
            kv_list_add(out, hname, v);
            if (header_is_secret(hname))
                log_secret_register(v);
        }
        free(hname);
    }
    str_list_free(&entries);
}

void section_add_choices(struct strbuf *sb, const char *const *names,
                         size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (i > 0)
            strbuf_adds(sb, i + 1 == n ? " or " : ", ");
        strbuf_adds(sb, names[i]);
    }
}
