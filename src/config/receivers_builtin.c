/*
 * receivers_builtin.c - the built-in receiver types (see receiver_type.h):
 * each type's options and the function that reads them.  One entry per
 * type, so that each can later move next to its sender in the
 * notification layer and be registered from there.
 */
#include "config/receiver_type.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/secrets.h"
#include "core/log.h"
#include "core/util.h"

/* ---- shared by several types --------------------------------------------- */

#define OPT_TIMEOUT { "timeout", OPT_STR }

/* Slack, PagerDuty and webhook URLs carry credentials: check them without
 * quoting them. */
static void check_secret_url(const struct cfg_section *s, const char *url)
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

/* headers: "Name=value" or "Name: value".  Values are never echoed: they
 * often carry credentials. */
static void get_headers(const struct cfg_section *s, struct kv_list *out)
{
    struct str_list entries = { NULL, 0 };
    section_get_list(s, "headers", &entries);
    for (size_t i = 0; i < entries.n; i++) {
        const char *e = entries.items[i];
        size_t nl = strcspn(e, "=:");
        if (!e[nl] || !is_header_name(e, nl)) {
            section_error(s, "headers", "invalid entry %zu in headers "
                          "(expected Name=value with an HTTP header name)",
                          i + 1);
            continue;
        }
        char *name = xstrndup(e, nl);
        const char *v = e + nl + 1;
        while (*v == ' ' || *v == '\t')
            v++;
        if (strpbrk(v, "\r\n"))
            section_error(s, "headers", "header '%s': the value must not "
                          "contain line breaks", name);
        else {
            kv_list_add(out, name, v);
            if (header_is_secret(name))
                log_secret_register(v);
        }
        free(name);
    }
    str_list_free(&entries);
}

/* ---- email --------------------------------------------------------------- */

static const struct opt_spec email_opts[] = {
    OPT_TIMEOUT,
    { "smtp_host", OPT_STR },
    { "smtp_port", OPT_STR },
    { "starttls", OPT_STR },
    { "tls_ca_file", OPT_STR },
    { "username", OPT_STR },
    SECRET_OPTS("password"),
    { "from", OPT_STR },
    { "to", OPT_LIST },
    OPT_END
};

static void load_email(const struct cfg_section *s, struct receiver_cfg *r)
{
    static const char *const tls[] = { "no", "try", "required" };
    section_get_string(s, "smtp_host", &r->smtp_host);
    if (!r->smtp_host || !r->smtp_host[0])
        section_error(s, NULL, "smtp_host is required");
    section_get_int(s, "smtp_port", &r->smtp_port, 1, 65535);
    int st = section_get_enum(s, "starttls", tls, ARRAY_SIZE(tls),
                              STARTTLS_TRY);
    if (st >= 0)
        r->starttls = (enum starttls_mode)st;
    const char *ca = section_str(s, "tls_ca_file");
    if (ca) {
        r->tls_ca_file = section_resolve_path(s, ca);
        if (access(r->tls_ca_file, R_OK) != 0)
            section_error(s, "tls_ca_file", "cannot read tls_ca_file '%s': "
                          "%s", r->tls_ca_file, strerror(errno));
    }
    section_get_string(s, "username", &r->username);
    enum secret_status pw = secret_get(s, "password", true, &r->password);
    if (r->username && pw == SECRET_UNSET)
        section_error(s, "username", "username is given without a password "
                      "(password, password_env or password_file)");
    if (!r->username && pw == SECRET_OK)
        section_error(s, NULL, "a password is given without a username");
    section_get_string(s, "from", &r->from);
    if (!r->from)
        section_error(s, NULL, "from is required");
    else if (!strchr(r->from, '@'))
        section_error(s, "from", "invalid address '%s' for from", r->from);
    section_get_list(s, "to", &r->to);
    if (r->to.n == 0)
        section_error(s, NULL, "to is required (a list of addresses)");
    for (size_t i = 0; i < r->to.n; i++)
        if (!strchr(r->to.items[i], '@'))
            section_error(s, "to", "invalid address '%s' in to",
                          r->to.items[i]);
}

static const struct receiver_type_def email_type = {
    "email", RECV_EMAIL, email_opts, load_email
};

/* ---- slack --------------------------------------------------------------- */

static const struct opt_spec slack_opts[] = {
    OPT_TIMEOUT,
    SECRET_OPTS("url"),
    OPT_END
};

static void load_slack(const struct cfg_section *s, struct receiver_cfg *r)
{
    secret_require(s, "url", true, &r->url);
    check_secret_url(s, r->url);
}

static const struct receiver_type_def slack_type = {
    "slack", RECV_SLACK, slack_opts, load_slack
};

/* ---- pagerduty ----------------------------------------------------------- */

static const struct opt_spec pagerduty_opts[] = {
    OPT_TIMEOUT,
    SECRET_OPTS("url"),
    SECRET_OPTS("routing_key"),
    OPT_END
};

static void load_pagerduty(const struct cfg_section *s, struct receiver_cfg *r)
{
    secret_get(s, "url", true, &r->url);
    if (!r->url)
        r->url = xstrdup(PAGERDUTY_DEFAULT_URL);
    check_secret_url(s, r->url);
    secret_require(s, "routing_key", true, &r->routing_key);
}

static const struct receiver_type_def pagerduty_type = {
    "pagerduty", RECV_PAGERDUTY, pagerduty_opts, load_pagerduty
};

/* ---- webhook ------------------------------------------------------------- */

static const struct opt_spec webhook_opts[] = {
    OPT_TIMEOUT,
    SECRET_OPTS("url"),
    SECRET_OPTS("hmac_secret"),
    { "headers", OPT_LIST },
    OPT_END
};

static void load_webhook(const struct cfg_section *s, struct receiver_cfg *r)
{
    secret_require(s, "url", true, &r->url);
    check_secret_url(s, r->url);
    secret_get(s, "hmac_secret", true, &r->hmac_secret);
    get_headers(s, &r->headers);
}

static const struct receiver_type_def webhook_type = {
    "webhook", RECV_WEBHOOK, webhook_opts, load_webhook
};

/* ---- alertmanager -------------------------------------------------------- */

static const struct opt_spec alertmanager_opts[] = {
    OPT_TIMEOUT,
    SECRET_OPTS("url"),
    { "urls", OPT_LIST },
    { "headers", OPT_LIST },
    OPT_END
};

static void load_alertmanager(const struct cfg_section *s,
                              struct receiver_cfg *r)
{
    /* url (if any) is also the first of urls; not a secret */
    struct str_list more = { NULL, 0 };
    secret_get(s, "url", false, &r->url);
    section_get_list(s, "urls", &more);
    if (r->url) {
        section_strip_trailing_slashes(r->url);
        str_list_add(&r->urls, r->url);
    }
    for (size_t i = 0; i < more.n; i++)
        str_list_add(&r->urls, more.items[i]);
    str_list_free(&more);
    if (r->urls.n == 0)
        section_error(s, NULL, "url or urls is required");
    for (size_t i = 0; i < r->urls.n; i++) {
        section_strip_trailing_slashes(r->urls.items[i]);
        if (!section_is_http_url(r->urls.items[i]))
            section_error(s, r->url && i == 0 ? "url" : "urls",
                          "invalid Alertmanager URL '%s' (expected http:// "
                          "or https://)", r->urls.items[i]);
    }
    get_headers(s, &r->headers);
}

static const struct receiver_type_def alertmanager_type = {
    "alertmanager", RECV_ALERTMANAGER, alertmanager_opts, load_alertmanager
};

/* ---- log ----------------------------------------------------------------- */

static const struct opt_spec log_opts[] = {
    OPT_END
};

static const struct receiver_type_def log_type = {
    "log", RECV_LOG, log_opts, NULL
};

/* ---- the default registration -------------------------------------------- */

const struct receiver_type_def *const receiver_types_builtin[] = {
    &email_type, &slack_type, &pagerduty_type, &webhook_type,
    &alertmanager_type, &log_type, NULL
};
