/*
 * client.c - see client.h.
 */
#include "cmd/client.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>

#include <curl/curl.h>

#include "server/httpd.h"

/* Longest response read: far beyond any API document, a guard against
 * something else answering on the port. */
#define CLIENT_MAX_BODY ((size_t)32 << 20)
#define CLIENT_CONNECT_TIMEOUT_MS 3000L
/* Beyond HTTPD_CONTROL_TIMEOUT_S, so that the server's own "the main loop
 * did not answer" reaches us rather than our timeout. */
#define CLIENT_TIMEOUT_MS ((long)(HTTPD_CONTROL_TIMEOUT_S * 1000) + 10000L)

int client_explicit_url(const char *flag, char *url, size_t len, char *err,
                        size_t errlen)
{
    const char *u = flag;
    const char *from = "--url";
    if (!u) {
        u = getenv(CLIENT_URL_ENV);
        from = CLIENT_URL_ENV;
        if (!u || !*u)
            return 0;
    }
    if (!str_has_prefix(u, "http://") && !str_has_prefix(u, "https://")) {
        snprintf(err, errlen, "%s '%s' is not an http:// or https:// URL",
                 from, u);
        return -1;
    }
    size_t n = strlen(u);
    while (n > 0 && u[n - 1] == '/')
        n--;
    if (n >= len) {
        snprintf(err, errlen, "%s is longer than %zu bytes", from, len - 1);
        return -1;
    }
    memcpy(url, u, n);
    url[n] = '\0';
    return 1;
}

int client_listen_url(const char *listen, char *url, size_t len)
{
    char host[HTTPD_HOST_SIZE];
    long port;
    if (httpd_parse_listen(listen, host, sizeof(host), &port) != 0 ||
        port == 0)
        return -1;
    const char *h = host;
    bool v6 = strchr(host, ':') != NULL;
    if (!host[0] || streq(host, "0.0.0.0")) {
        h = "127.0.0.1";
        v6 = false;
    } else if (streq(host, "::")) {
        h = "::1";
    }
    snprintf(url, len, v6 ? "http://[%s]:%ld" : "http://%s:%ld", h, port);
    return 0;
}

struct sink {
    struct strbuf *out;
    bool too_big;
};

static size_t on_body(char *data, size_t size, size_t nmemb, void *ud)
{
    struct sink *s = ud;
    size_t n = size * nmemb;
    if (s->out->len + n > CLIENT_MAX_BODY) {
        s->too_big = true;
        return 0;
    }
    strbuf_add(s->out, data, n);
    return n;
}

enum client_result client_request(const char *base_url, const char *method,
                                  const char *path, const char *admin_token,
                                  const char *body, long *status,
                                  struct strbuf *out, char *err,
                                  size_t errlen)
{
    CURL *curl = curl_easy_init();
    if (!curl) {
        snprintf(err, errlen, "cannot initialise libcurl");
        return CLIENT_ERROR;
    }
    char *url = xasprintf("%s%s", base_url, path);
    struct curl_slist *hdrs = NULL;
    char *auth = NULL;
    struct sink sink = { out, false };
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
    /* A proxy from the environment must not see loopback requests (or
     * the admin token). */
    curl_easy_setopt(curl, CURLOPT_PROXY, "");
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS,
                     CLIENT_CONNECT_TIMEOUT_MS);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, CLIENT_TIMEOUT_MS);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &sink);
    curl_easy_setopt(curl, CURLOPT_USERAGENT, "segalert/" SEGALERT_VERSION);
    /* The server takes writes only as JSON (httpd.h), body or not. */
    if (body || (!streq(method, "GET") && !streq(method, "HEAD")))
        hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
    if (body) {
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    }
    if (admin_token && *admin_token) {
        auth = xasprintf("Authorization: Bearer %s", admin_token);
        hdrs = curl_slist_append(hdrs, auth);
    }
    if (hdrs)
        curl_easy_setopt(curl, CURLOPT_HTTPHEADER, hdrs);
    CURLcode rc = curl_easy_perform(curl);
    enum client_result res = CLIENT_OK;
    if (rc == CURLE_COULDNT_CONNECT) {
        snprintf(err, errlen, "nothing listens on %s", base_url);
        res = CLIENT_DOWN;
    } else if (sink.too_big) {
        snprintf(err, errlen, "%s: response larger than %zu bytes", url,
                 CLIENT_MAX_BODY);
        res = CLIENT_ERROR;
    } else if (rc != CURLE_OK) {
        snprintf(err, errlen, "%s: %s", url, curl_easy_strerror(rc));
        res = CLIENT_ERROR;
    } else {
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, status);
    }
    curl_slist_free_all(hdrs);
    if (auth) {
        /* the token was in it */
        memset(auth, 0, strlen(auth));
        free(auth);
    }
    free(url);
    curl_easy_cleanup(curl);
    return res;
}
