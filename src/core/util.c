/*
 * util.c - see util.h.
 */
#include "core/util.h"

#include "core/utf8.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static void oom(size_t n)
{
    fprintf(stderr, "segalert: out of memory (allocating %zu bytes)\n", n);
    abort();
}

void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        oom(n);
    return p;
}

void *xcalloc(size_t nmemb, size_t size)
{
    void *p = calloc(nmemb ? nmemb : 1, size ? size : 1);
    if (!p)
        oom(nmemb * size);
    return p;
}

void *xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q)
        oom(n);
    return q;
}

char *xstrdup(const char *s)
{
    if (!s)
        return NULL;
    return xstrndup(s, strlen(s));
}

char *xstrndup(const char *s, size_t n)
{
    char *p = xmalloc(n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *xasprintf(const char *fmt, ...)
{
    struct strbuf sb = STRBUF_INIT;
    va_list ap;
    va_start(ap, fmt);
    strbuf_vaddf(&sb, fmt, ap);
    va_end(ap);
    if (!sb.buf)
        strbuf_add(&sb, "", 0);
    return strbuf_detach(&sb);
}

void xgrow(void **arr, size_t elem, size_t need, size_t *cap)
{
    if (need <= *cap)
        return;
    size_t n = *cap ? *cap : 8;
    while (n < need) {
        if (n > SIZE_MAX / 2 / elem)
            oom(SIZE_MAX);
        n *= 2;
    }
    *arr = xrealloc(*arr, n * elem);
    *cap = n;
}

/* ---- strbuf ------------------------------------------------------------ */

static void strbuf_reserve(struct strbuf *sb, size_t extra)
{
    size_t need = sb->len + extra + 1;
    if (need <= sb->cap)
        return;
    size_t n = sb->cap ? sb->cap : 64;
    while (n < need)
        n *= 2;
    sb->buf = xrealloc(sb->buf, n);
    sb->cap = n;
}

void strbuf_add(struct strbuf *sb, const void *data, size_t len)
{
    strbuf_reserve(sb, len);
    if (len)
        memcpy(sb->buf + sb->len, data, len);
    sb->len += len;
    sb->buf[sb->len] = '\0';
}

void strbuf_adds(struct strbuf *sb, const char *s)
{
    strbuf_add(sb, s, strlen(s));
}

void strbuf_addc(struct strbuf *sb, char c)
{
    strbuf_add(sb, &c, 1);
}

void strbuf_vaddf(struct strbuf *sb, const char *fmt, va_list ap)
{
    va_list cp;
    va_copy(cp, ap);
    strbuf_reserve(sb, 64);
    int n = vsnprintf(sb->buf + sb->len, sb->cap - sb->len, fmt, cp);
    va_end(cp);
    if (n < 0)
        return;
    if ((size_t)n >= sb->cap - sb->len) {
        strbuf_reserve(sb, (size_t)n);
        vsnprintf(sb->buf + sb->len, sb->cap - sb->len, fmt, ap);
    }
    sb->len += (size_t)n;
}

void strbuf_addf(struct strbuf *sb, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    strbuf_vaddf(sb, fmt, ap);
    va_end(ap);
}

void strbuf_reset(struct strbuf *sb)
{
    sb->len = 0;
    if (sb->buf)
        sb->buf[0] = '\0';
}

void strbuf_free(struct strbuf *sb)
{
    free(sb->buf);
    sb->buf = NULL;
    sb->len = sb->cap = 0;
}

char *strbuf_detach(struct strbuf *sb)
{
    char *p = sb->buf;
    if (!p)
        p = xstrdup("");
    sb->buf = NULL;
    sb->len = sb->cap = 0;
    return p;
}

const char *strbuf_str(const struct strbuf *sb)
{
    return sb->buf ? sb->buf : "";
}

/* One character of a JSON string: the escapes JSON requires, and \uXXXX
 * for DEL and the C1 controls (U+0080..U+009F), which JSON allows raw but
 * which a terminal showing the text would obey. */
static void json_char(struct strbuf *sb, const unsigned char *p, size_t l)
{
    if (l == 2 && p[0] == 0xC2 && p[1] < 0xA0) {
        strbuf_addf(sb, "\\u%04x", p[1]);
        return;
    }
    if (l > 1) {
        strbuf_add(sb, p, l);
        return;
    }
    switch (*p) {
    case '"': strbuf_adds(sb, "\\\""); break;
    case '\\': strbuf_adds(sb, "\\\\"); break;
    case '\n': strbuf_adds(sb, "\\n"); break;
    case '\r': strbuf_adds(sb, "\\r"); break;
    case '\t': strbuf_adds(sb, "\\t"); break;
    default:
        if (*p < 0x20 || *p == 0x7f)
            strbuf_addf(sb, "\\u%04x", *p);
        else
            strbuf_addc(sb, (char)*p);
    }
}

void strbuf_add_json_str(struct strbuf *sb, const char *s)
{
    size_t len = s ? strlen(s) : 0;
    strbuf_addc(sb, '"');
    for (size_t i = 0; i < len;) {
        /* Printable ASCII other than '"' and '\\' goes in runs. */
        size_t run = i;
        while (run < len && (unsigned char)s[run] >= 0x20 &&
               (unsigned char)s[run] < 0x7f && s[run] != '"' &&
               s[run] != '\\')
            run++;
        if (run > i) {
            strbuf_add(sb, s + i, run - i);
            i = run;
            continue;
        }
        size_t bad;
        size_t l = utf8_char_len(s + i, len - i, &bad);
        if (l == 0) {
            strbuf_adds(sb, UTF8_REPLACEMENT);
            i += bad;
            continue;
        }
        json_char(sb, (const unsigned char *)s + i, l);
        i += l;
    }
    strbuf_addc(sb, '"');
}

void strbuf_add_json_bytes(struct strbuf *sb, const char *s)
{
    strbuf_addc(sb, '"');
    for (const unsigned char *p = (const unsigned char *)s; p && *p; p++)
        json_char(sb, p, 1);
    strbuf_addc(sb, '"');
}

void strbuf_add_urlenc(struct strbuf *sb, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (isalnum(*p) || *p == '-' || *p == '_' || *p == '.' || *p == '~') {
            strbuf_addc(sb, (char)*p);
        } else {
            char enc[3] = { '%', hex[*p >> 4], hex[*p & 15] };
            strbuf_add(sb, enc, 3);
        }
    }
}

/* ---- time -------------------------------------------------------------- */

double now_wall(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int64_t now_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Days from 1970-01-01 to y-m-d (proleptic Gregorian), Howard Hinnant. */
int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = (unsigned)(y - era * 400);
    const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

void civil_from_days(int64_t z, int *y, int *m, int *d)
{
    z += 719468;
    const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    const unsigned doe = (unsigned)(z - era * 146097);
    const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const int64_t yy = (int64_t)yoe + era * 400;
    const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const unsigned mp = (5 * doy + 2) / 153;
    const unsigned dd = doy - (153 * mp + 2) / 5 + 1;
    const unsigned mm = mp < 10 ? mp + 3 : mp - 9;
    *y = (int)(yy + (mm <= 2));
    *m = (int)mm;
    *d = (int)dd;
}

static int read_digits(const char **p, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)**p))
            return -1;
        v = v * 10 + (**p - '0');
        (*p)++;
    }
    *out = v;
    return 0;
}

int parse_iso8601(const char *s, double *out)
{
    int y, mo, d, h = 0, mi = 0, se = 0, offset_s = 0;
    double frac = 0;
    const char *p = s;
    if (!s)
        return -1;
    if (read_digits(&p, 4, &y) || *p++ != '-' || read_digits(&p, 2, &mo) ||
        *p++ != '-' || read_digits(&p, 2, &d))
        return -1;
    if (mo < 1 || mo > 12 || d < 1 || d > 31)
        return -1;
    if (*p == '\0')
        goto done;
    if (*p != 'T' && *p != 't' && *p != ' ')
        return -1;
    p++;
    if (read_digits(&p, 2, &h) || *p++ != ':' || read_digits(&p, 2, &mi))
        return -1;
    if (*p == ':') {
        p++;
        if (read_digits(&p, 2, &se))
            return -1;
        if (*p == '.') {
            double scale = 0.1;
            p++;
            if (!isdigit((unsigned char)*p))
                return -1;
            while (isdigit((unsigned char)*p)) {
                frac += (*p - '0') * scale;
                scale /= 10;
                p++;
            }
        }
    }
    if (h > 23 || mi > 59 || se > 60)
        return -1;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int sign = *p == '-' ? -1 : 1, oh, om = 0;
        p++;
        if (read_digits(&p, 2, &oh))
            return -1;
        if (*p == ':')
            p++;
        if (*p && read_digits(&p, 2, &om))
            return -1;
        offset_s = sign * (oh * 3600 + om * 60);
    } else {
        return -1;      /* no zone: refuse rather than guess */
    }
    if (*p != '\0')
        return -1;
done:
    *out = (double)(days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400 +
                    h * 3600 + mi * 60 + se - offset_s) + frac;
    return 0;
}

void format_iso8601(double t, char *buf, size_t len)
{
    int64_t secs = (int64_t)floor(t);
    int64_t days = secs >= 0 ? secs / 86400 : (secs - 86399) / 86400;
    int64_t rem = secs - days * 86400;
    int y, m, d;
    civil_from_days(days, &y, &m, &d);
    snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02dZ", y, m, d,
             (int)(rem / 3600), (int)(rem / 60 % 60), (int)(rem % 60));
}

void format_date(double t, char *buf, size_t len)
{
    int64_t secs = (int64_t)floor(t);
    int64_t days = secs >= 0 ? secs / 86400 : (secs - 86399) / 86400;
    int y, m, d;
    civil_from_days(days, &y, &m, &d);
    snprintf(buf, len, "%04d-%02d-%02d", y, m, d);
}

double month_start_utc(double t)
{
    int64_t secs = (int64_t)floor(t);
    int64_t days = secs >= 0 ? secs / 86400 : (secs - 86399) / 86400;
    int y, m, d;
    civil_from_days(days, &y, &m, &d);
    return (double)(days_from_civil(y, (unsigned)m, 1) * 86400);
}

double next_month_start_utc(double t)
{
    int64_t secs = (int64_t)floor(t);
    int64_t days = secs >= 0 ? secs / 86400 : (secs - 86399) / 86400;
    int y, m, d;
    civil_from_days(days, &y, &m, &d);
    if (++m > 12) {
        m = 1;
        y++;
    }
    return (double)(days_from_civil(y, (unsigned)m, 1) * 86400);
}

void billing_cycle_utc(double t, int day, double *start, double *end)
{
    if (day < 1 || day > 28)
        day = 1;
    int64_t secs = (int64_t)floor(t);
    int64_t days = secs >= 0 ? secs / 86400 : (secs - 86399) / 86400;
    int y, m, d;
    civil_from_days(days, &y, &m, &d);
    if (d < day && --m < 1) {      /* still in the cycle that began last month */
        m = 12;
        y--;
    }
    *start = (double)(days_from_civil(y, (unsigned)m, (unsigned)day) * 86400);
    if (++m > 12) {
        m = 1;
        y++;
    }
    *end = (double)(days_from_civil(y, (unsigned)m, (unsigned)day) * 86400);
}

int parse_rfc5322_date(const char *s, double *out)
{
    static const char *months[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                    "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
    char mon[4] = { 0 }, zone[8] = { 0 };
    int d, y, h, mi, se, n = 0;
    if (!s)
        return -1;
    const char *comma = strchr(s, ',');
    const char *p = comma ? comma + 1 : s;
    if (sscanf(p, " %d %3s %d %d:%d:%d %7s%n", &d, mon, &y, &h, &mi, &se,
               zone, &n) < 6)
        return -1;
    int m = -1;
    for (int i = 0; i < 12; i++)
        if (strcasecmp(mon, months[i]) == 0)
            m = i + 1;
    if (m < 0 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 60)
        return -1;
    int offset_s = 0;
    if (zone[0] == '+' || zone[0] == '-') {
        long z = strtol(zone + 1, NULL, 10);
        offset_s = (int)((z / 100) * 3600 + (z % 100) * 60);
        if (zone[0] == '-')
            offset_s = -offset_s;
    }
    *out = (double)(days_from_civil(y, (unsigned)m, (unsigned)d) * 86400 +
                    h * 3600 + mi * 60 + se - offset_s);
    return 0;
}

int parse_duration(const char *s, double *out_s)
{
    double total = 0;
    const char *p = s;
    if (!s || !*s)
        return -1;
    if (strcmp(s, "0") == 0) {
        *out_s = 0;
        return 0;
    }
    while (*p) {
        char *end;
        if (!isdigit((unsigned char)*p) && *p != '.')
            return -1;
        errno = 0;
        double v = strtod(p, &end);
        if (end == p || errno)
            return -1;
        p = end;
        double mult;
        if (p[0] == 'm' && p[1] == 's') {
            mult = 0.001;
            p += 2;
        } else {
            switch (*p) {
            case 's': mult = 1; break;
            case 'm': mult = 60; break;
            case 'h': mult = 3600; break;
            case 'd': mult = 86400; break;
            case 'w': mult = 604800; break;
            default: return -1;
            }
            p++;
        }
        total += v * mult;
    }
    if (!isfinite(total) || total < 0)
        return -1;
    *out_s = total;
    return 0;
}

void format_duration(double s, char *buf, size_t len)
{
    if (!isfinite(s)) {
        snprintf(buf, len, s > 0 ? "forever" : "-forever");
        return;
    }
    if (s < 0) {
        s = -s;
        if (len > 1) {
            buf[0] = '-';
            buf++;
            len--;
        }
    }
    if (s < 1 && s > 0) {
        snprintf(buf, len, "%.0fms", s * 1000);
        return;
    }
    int64_t t = (int64_t)llround(s);
    struct { int64_t n; char u; } units[] = {
        { 86400, 'd' }, { 3600, 'h' }, { 60, 'm' }, { 1, 's' } };
    size_t off = 0;
    int parts = 0;
    if (len)
        buf[0] = '\0';
    for (size_t i = 0; i < ARRAY_SIZE(units) && parts < 2; i++) {
        if (t >= units[i].n) {
            int64_t q = t / units[i].n;
            t -= q * units[i].n;
            int w = snprintf(buf + off, len > off ? len - off : 0, "%lld%c",
                             (long long)q, units[i].u);
            if (w > 0)
                off += (size_t)w;
            parts++;
        } else if (parts) {
            break;      /* "1h" not "1h0m5s": keep the two largest parts */
        }
    }
    if (off == 0)
        snprintf(buf, len, "0s");
}

void format_age(double age_s, char *buf, size_t len)
{
    if (!isfinite(age_s) || age_s < 0)
        age_s = 0;
    long s = (long)(age_s + 0.5);
    if (s < 60)
        snprintf(buf, len, "%lds", s);
    else if (s < 3600)
        snprintf(buf, len, "%ldm", s / 60);
    else if (s < 86400)
        snprintf(buf, len, "%ldh %ldm", s / 3600, (s % 3600) / 60);
    else
        snprintf(buf, len, "%ldd %ldh", s / 86400, (s % 86400) / 3600);
}

/* ---- strings ------------------------------------------------------------ */

bool str_has_prefix(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

bool streq(const char *a, const char *b)
{
    if (!a || !b)
        return a == b;
    return strcmp(a, b) == 0;
}

bool glob_match(const char *pattern, const char *s)
{
    if (!s || !pattern)
        return false;
    return fnmatch(pattern, s, 0) == 0;
}

int edit_distance(const char *a, const char *b, int cap)
{
    size_t la = strlen(a), lb = strlen(b);
    if ((int)(la > lb ? la - lb : lb - la) > cap)
        return cap + 1;
    int *prev = xmalloc((lb + 1) * sizeof(int));
    int *cur = xmalloc((lb + 1) * sizeof(int));
    for (size_t j = 0; j <= lb; j++)
        prev[j] = (int)j;
    for (size_t i = 1; i <= la; i++) {
        cur[0] = (int)i;
        for (size_t j = 1; j <= lb; j++) {
            int cost = a[i - 1] == b[j - 1] ? 0 : 1;
            int v = prev[j - 1] + cost;
            if (prev[j] + 1 < v)
                v = prev[j] + 1;
            if (cur[j - 1] + 1 < v)
                v = cur[j - 1] + 1;
            cur[j] = v;
        }
        int *t = prev;
        prev = cur;
        cur = t;
    }
    int d = prev[lb];
    free(prev);
    free(cur);
    return d > cap ? cap + 1 : d;
}

int parse_double(const char *s, double *out)
{
    char *end;
    if (!s || !*s)
        return -1;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end != '\0')
        return -1;
    *out = v;
    return 0;
}

int parse_long(const char *s, long *out)
{
    char *end;
    if (!s || !*s)
        return -1;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end != '\0')
        return -1;
    *out = v;
    return 0;
}

int split_kv(const char *s, char **buf, const char **key, const char **value)
{
    const char *eq = strchr(s, '=');
    if (!eq || eq == s)
        return -1;
    char *copy = xstrdup(s);
    copy[eq - s] = '\0';
    *buf = copy;
    *key = copy;
    *value = copy + (eq - s) + 1;
    return 0;
}

void err_set(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || errlen == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

static char *read_fd(int fd, size_t max, size_t *len);

char *read_file(const char *path, size_t max, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    return read_fd(fd, max, len);
}

char *read_file_nofollow(const char *path, size_t max, size_t *len)
{
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        errno = EINVAL;
        return NULL;
    }
    return read_fd(fd, max, len);
}

/* Reads fd to the end and closes it. */
static char *read_fd(int fd, size_t max, size_t *len)
{
    struct strbuf sb = STRBUF_INIT;
    char chunk[65536];
    for (;;) {
        ssize_t n = read(fd, chunk, sizeof(chunk));
        if (n < 0) {
            if (errno == EINTR)
                continue;
            int e = errno;
            close(fd);
            strbuf_free(&sb);
            errno = e;
            return NULL;
        }
        if (n == 0)
            break;
        if (sb.len + (size_t)n > max) {
            close(fd);
            strbuf_free(&sb);
            errno = EFBIG;
            return NULL;
        }
        strbuf_add(&sb, chunk, (size_t)n);
    }
    close(fd);
    if (len)
        *len = sb.len;
    return strbuf_detach(&sb);
}

uint64_t hash_bytes(const void *data, size_t len, uint64_t seed)
{
    const unsigned char *p = data;
    uint64_t h = 1469598103934665603ULL ^ seed;
    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= 1099511628211ULL;
    }
    return h;
}

uint64_t hash_str(const char *s)
{
    return hash_bytes(s, strlen(s), 0);
}

void rng_seed(struct rng *r, uint64_t seed)
{
    r->s = seed ? seed : 0x9E3779B97F4A7C15ULL;
}

uint64_t rng_next(struct rng *r)
{
    uint64_t x = r->s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    r->s = x;
    return x * 0x2545F4914F6CDD1DULL;
}

double rng_uniform(struct rng *r)
{
    return (double)(rng_next(r) >> 11) / 9007199254740992.0;
}
