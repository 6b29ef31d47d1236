/*
 * http_guard.c - see http_guard.h.
 */
#include "server/http_guard.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/util.h"

/* Longest host name kept (DNS allows 253 characters). */
#define GUARD_NAME_SIZE 256

/* An allowed name: lower case, without brackets or trailing dot; port -1
 * when any port will do. */
struct guard_name {
    char *name;
    long port;
};

struct http_guard {
    struct guard_name *names;
    size_t n;
};

/* "name", "name:port", "[v6]" or "[v6]:port" -> name (lower case, no
 * brackets, no trailing dot) and *port (-1 when absent).  Returns 0, or -1
 * when malformed.  *v6 says whether the name was bracketed. */
static int split_host(const char *in, char *name, size_t namelen, long *port,
                      bool *v6)
{
    const char *end, *colon = NULL;
    *port = -1;
    *v6 = in[0] == '[';
    if (*v6) {
        const char *close = strchr(in, ']');
        if (!close)
            return -1;
        if (close[1] == ':')
            colon = close + 1;
        else if (close[1])
            return -1;
        in++;
        end = close;
    } else {
        colon = strchr(in, ':');
        if (colon && strchr(colon + 1, ':'))
            return -1;              /* an IPv6 address needs brackets */
        end = colon ? colon : in + strlen(in);
    }
    size_t n = (size_t)(end - in);
    if (n > 1 && in[n - 1] == '.')
        n--;                        /* "localhost." is "localhost" */
    if (n == 0 || n >= namelen)
        return -1;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)in[i];
        if (c <= ' ' || c >= 0x7f || c == '/' || c == '@' || c == '\\')
            return -1;
        name[i] = (char)(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
    }
    name[n] = '\0';
    if (colon) {
        long p;
        if (parse_long(colon + 1, &p) != 0 || p < 0 || p > 65535)
            return -1;
        *port = p;
    }
    return 0;
}

static void add_name(struct http_guard *g, const char *name, long port)
{
    g->names = xrealloc(g->names, (g->n + 1) * sizeof(*g->names));
    g->names[g->n].name = xstrdup(name);
    g->names[g->n].port = port;
    g->n++;
}

struct http_guard *http_guard_new(const char *listen_host,
                                  const struct str_list *allowed_hosts)
{
    struct http_guard *g = xcalloc(1, sizeof(*g));
    char name[GUARD_NAME_SIZE];
    long port;
    bool v6;
    add_name(g, "localhost", -1);
    if (listen_host && listen_host[0]) {
        /* the listen host comes without brackets: add them for an IPv6
         * address so that split_host() reads it whole */
        char *h = strchr(listen_host, ':') ? xasprintf("[%s]", listen_host)
                                           : xstrdup(listen_host);
        if (split_host(h, name, sizeof(name), &port, &v6) == 0)
            add_name(g, name, -1);
        free(h);
    }
    for (size_t i = 0; allowed_hosts && i < allowed_hosts->n; i++)
        if (split_host(allowed_hosts->items[i], name, sizeof(name), &port,
                       &v6) == 0)
            add_name(g, name, port);
    return g;
}

void http_guard_free(struct http_guard *g)
{
    if (!g)
        return;
    for (size_t i = 0; i < g->n; i++)
        free(g->names[i].name);
    free(g->names);
    free(g);
}

static bool is_ip_literal(const char *name, bool v6)
{
    unsigned char buf[sizeof(struct in6_addr)];
    return inet_pton(v6 ? AF_INET6 : AF_INET, name, buf) == 1;
}

bool http_guard_host_ok(const struct http_guard *g, const char *host)
{
    if (!host)
        return true;
    char name[GUARD_NAME_SIZE];
    long port;
    bool v6;
    if (split_host(host, name, sizeof(name), &port, &v6) != 0)
        return false;
    /* An address cannot be rebound: whoever typed it means this server. */
    if (is_ip_literal(name, v6))
        return true;
    if (v6)
        return false;
    for (size_t i = 0; i < g->n; i++) {
        if (!streq(g->names[i].name, name))
            continue;
        long want = g->names[i].port;
        /* no port in Host: the scheme's default, 80 or 443 */
        if (want < 0 || want == port ||
            (port < 0 && (want == 80 || want == 443)))
            return true;
    }
    return false;
}

bool http_guard_origin_ok(const char *origin, const char *host)
{
    if (!origin)
        return true;
    if (!host)
        return false;
    long deflt;
    const char *auth;
    if (strncasecmp(origin, "http://", 7) == 0) {
        deflt = 80;
        auth = origin + 7;
    } else if (strncasecmp(origin, "https://", 8) == 0) {
        deflt = 443;
        auth = origin + 8;
    } else {
        return false;               /* "null", file://, anything else */
    }
    char oname[GUARD_NAME_SIZE], hname[GUARD_NAME_SIZE];
    long oport, hport;
    bool ov6, hv6;
    if (split_host(auth, oname, sizeof(oname), &oport, &ov6) != 0 ||
        split_host(host, hname, sizeof(hname), &hport, &hv6) != 0)
        return false;
    if (oport < 0)
        oport = deflt;
    if (hport < 0)
        hport = deflt;
    return ov6 == hv6 && streq(oname, hname) && oport == hport;
}

bool http_guard_fetch_site_ok(const char *site)
{
    return !site || strcasecmp(site, "same-origin") == 0 ||
           strcasecmp(site, "none") == 0;
}

bool http_guard_is_json(const char *ctype)
{
    static const char json[] = "application/json";
    if (!ctype)
        return false;
    while (*ctype == ' ' || *ctype == '\t')
        ctype++;
    if (strncasecmp(ctype, json, sizeof(json) - 1) != 0)
        return false;
    char next = ctype[sizeof(json) - 1];
    return next == '\0' || next == ';' || next == ' ' || next == '\t';
}

static bool is_control(unsigned char c)
{
    return c < 0x20 || c == 0x7f;
}

bool http_guard_path_ok(const char *path)
{
    for (const unsigned char *p = (const unsigned char *)path; *p; p++)
        if (is_control(*p) || *p == '%')
            return false;
    return true;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

size_t http_guard_unescape(char *s)
{
    char *out = s;
    const char *in = s;
    while (*in) {
        int hi, lo;
        if (in[0] == '%' && (hi = hexval(in[1])) >= 0 &&
            (lo = hexval(in[2])) >= 0 &&
            !is_control((unsigned char)(hi * 16 + lo))) {
            *out++ = (char)(hi * 16 + lo);
            in += 3;
        } else {
            *out++ = *in++;
        }
    }
    *out = '\0';
    return (size_t)(out - s);
}
