/*
 * secrets.c - see secrets.h.
 */
#include "config/secrets.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "config/config.h"
#include "core/log.h"
#include "core/util.h"

#define SECRET_MAX_BYTES (64u << 10)    /* a *_file secret */
/* The path of a secret URL is redacted on its own from this length: long
 * enough to be the secret part (a Slack webhook's /services/T../B../xxx),
 * too long to be an ordinary word of a log line. */
#define URL_PATH_SECRET_MIN 16

/* See config_set_secrets_optional() and config_set_check_file_modes(). */
static bool secrets_optional;
static bool check_file_modes;

/* Longest environment variable name shown in a message. */
#define ENV_NAME_SHOWN_MAX 64

/* name could be an environment variable's: [A-Za-z_][A-Za-z0-9_]*. */
static bool is_env_name(const char *name)
{
    if (!name[0] || (name[0] >= '0' && name[0] <= '9'))
        return false;
    for (const char *p = name; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
              (*p >= '0' && *p <= '9') || *p == '_'))
            return false;
    return true;
}

/* name looks like what people call their variables (SEGMENT_TOKEN), not
 * like a token that happens to be an identifier (sgp_Xk2...): only such
 * a name is shown in a message. */
static bool is_plain_env_name(const char *name)
{
    if (strlen(name) > ENV_NAME_SHOWN_MAX)
        return false;
    for (const char *p = name; *p; p++)
        if (*p >= 'a' && *p <= 'z')
            return false;
    return is_env_name(name);
}

/* An inline secret in a file others can read is readable by them: say so
 * (once per option). */
static void check_inline(const struct cfg_section *s, const char *base)
{
    struct stat st;
    const char *file = section_file(s);
    if (check_file_modes && file && stat(file, &st) == 0 &&
        (st.st_mode & (S_IRGRP | S_IROTH)))
        section_warning(s, base, "%s is written inline in '%s', which "
                        "group/other can read: move it to %s_env or "
                        "%s_file, or chmod 600 the file", base, file, base,
                        base);
}

/* Register a secret for redaction; for a URL, its path and query too,
 * which is what a service quoting the request it refused echoes back. */
static void register_secret(const char *val)
{
    log_secret_register(val);
    const char *scheme = strstr(val, "://");
    if (!scheme || !section_is_http_url(val))
        return;
    const char *path = strchr(scheme + 3, '/');
    if (path && strlen(path) >= URL_PATH_SECRET_MIN)
        log_secret_register(path);
}

void config_set_secrets_optional(bool optional)
{
    secrets_optional = optional;
}

void config_set_check_file_modes(bool check)
{
    check_file_modes = check;
}

enum secret_status secret_get(const struct cfg_section *s, const char *base,
                              bool redact, char **out)
{
    char *n_env = xasprintf("%s_env", base);
    char *n_file = xasprintf("%s_file", base);
    const char *inl = section_str(s, base);
    const char *env = section_str(s, n_env);
    const char *file = section_str(s, n_file);
    enum secret_status st = SECRET_BAD;
    char *val = NULL;

    if (!!inl + !!env + !!file > 1) {
        section_error(s, file ? n_file : n_env,
                      "give only one of %s, %s and %s", base, n_env, n_file);
        goto done;
    }
    if (inl) {
        check_inline(s, base);
        val = xstrdup(inl);
    } else if (env && !is_plain_env_name(env) && !getenv(env)) {
        /* Most likely the secret itself, pasted into the wrong option:
         * never repeat it (nor log it later). */
        log_secret_register(env);
        if (secrets_optional) {
            st = SECRET_OK;     /* as for any variable not set here */
            goto done;
        }
        if (is_env_name(env))
            section_error(s, n_env, "%s must name an environment variable; "
                          "the one it names is not set (its name is not "
                          "shown: it may be the secret itself)", n_env);
        else
            section_error(s, n_env, "%s must name an environment variable, "
                          "not hold the secret (the value is not shown)",
                          n_env);
        goto done;
    } else if (env) {
        const char *v = getenv(env);
        if (!v && secrets_optional) {
            st = SECRET_OK;     /* given, not available here: left NULL */
            goto done;
        }
        if (!v) {
            section_error(s, n_env, "environment variable '%s' (%s) is not "
                          "set", env, n_env);
            goto done;
        }
        val = xstrdup(v);
    } else if (file) {
        char *path = section_resolve_path(s, file);
        size_t len;
        char *text = read_file(path, SECRET_MAX_BYTES, &len);
        if (!text && secrets_optional) {
            free(path);
            st = SECRET_OK;
            goto done;
        }
        if (!text) {
            section_error(s, n_file, "cannot read %s '%s': %s", n_file,
                          path, strerror(errno));
            free(path);
            goto done;
        }
        struct stat st_buf;
        if (stat(path, &st_buf) == 0 &&
            (st_buf.st_mode & (S_IRGRP | S_IROTH)))
            section_warning(s, n_file, "%s '%s' is readable by "
                            "group/other (chmod 600 it)", n_file, path);
        text[strcspn(text, "\n")] = '\0';
        size_t l = strlen(text);
        if (l > 0 && text[l - 1] == '\r')
            text[l - 1] = '\0';
        val = xstrdup(text);
        free(text);
        free(path);
    } else {
        st = SECRET_UNSET;
        goto done;
    }
    if (!val[0]) {
        section_error(s, inl ? base : env ? n_env : n_file, "%s is empty",
                      base);
        free(val);
        val = NULL;
        goto done;
    }
    if (redact)
        register_secret(val);
    free(*out);
    *out = val;
    st = SECRET_OK;
done:
    free(n_env);
    free(n_file);
    return st;
}

void secret_require(const struct cfg_section *s, const char *base,
                    bool redact, char **out)
{
    if (secret_get(s, base, redact, out) == SECRET_UNSET && !*out)
        section_error(s, NULL, "%s is required (%s, %s_env or %s_file)",
                      base, base, base, base);
}

void secret_get_env_headers(const struct cfg_section *s, const char *name,
                            struct kv_list *out)
{
    struct str_list entries = { NULL, 0 };
    section_get_list(s, name, &entries);
    for (size_t i = 0; i < entries.n; i++) {
        char *buf = NULL;
        const char *hname, *var;
        if (split_kv(entries.items[i], &buf, &hname, &var) != 0 ||
            !var[0] || strpbrk(hname, " \t:\r\n")) {
            section_error(s, name, "invalid entry %zu in %s (expected "
                          "Name=ENVIRONMENT_VARIABLE)", i + 1, name);
            free(buf);
            continue;
        }
        const char *v = getenv(var);
        if (!v && !secrets_optional)
            section_error(s, name, "header '%s': environment variable '%s' "
                          "is not set", hname, var);
        else if (v && strpbrk(v, "\r\n"))
            section_error(s, name, "header '%s': the value of '%s' must not "
                          "contain line breaks", hname, var);
        else if (v) {
            kv_list_add(out, hname, v);
            log_secret_register(v);
        }
        free(buf);
    }
    str_list_free(&entries);
}
