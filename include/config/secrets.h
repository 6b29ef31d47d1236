/*
 * secrets.h - secret options: a token, password, key or secret URL given
 * in exactly one of three ways, inline (BASE = "..."), from an
 * environment variable (BASE_env = "VAR") or from the first line of a
 * file (BASE_file = "path", relative to the main file's directory).
 *
 * A resolved secret is registered with the logger for redaction (unless
 * the caller says it is not secret, as for Alertmanager URLs) so that it
 * never appears in a log line; for a secret URL its path and query are
 * registered too (from 16 bytes), as a service refusing a request may
 * quote them.  A secret file readable by group or others
 * draws a warning, and so does an inline secret in a configuration file
 * readable by group or others.  Messages name the option, the variable or
 * the path, never the value - nor a *_env "name" that does not look like
 * one (lower case, not an identifier, very long): a token pasted into
 * token_env by mistake gets "token_env must name an environment variable"
 * without being repeated, and is registered for redaction.  For commands that only read the running daemon, a
 * secret that is not available here may be left unresolved
 * (config_set_secrets_optional() in config.h).
 *
 * Ownership: *out receives a fresh string the caller owns (the old value
 * is freed); it is left untouched when nothing is resolved.
 * Errors: reported through the section reader (section.h) and summarised
 * by the returned status.  Thread safety: the "optional" switch is a
 * process-wide setting made once at start-up; resolution itself may run
 * on any thread.
 */
#ifndef SEGALERT_CONFIG_SECRETS_H
#define SEGALERT_CONFIG_SECRETS_H

#include <stdbool.h>

#include "config/schema.h"
#include "config/section.h"

/* The three option declarations of secret base, for a schema table. */
#define SECRET_OPTS(base) \
    { base, OPT_STR }, { base "_env", OPT_STR }, { base "_file", OPT_STR }

enum secret_status {
    SECRET_UNSET,       /* none of the three options was given */
    SECRET_OK,          /* resolved into *out (or optional and unavailable:
                           *out untouched) */
    SECRET_BAD          /* given but unusable: reported */
};

/* Resolve secret base of section s into *out; redact: register the value
 * for redaction from logs. */
enum secret_status secret_get(const struct cfg_section *s, const char *base,
                              bool redact, char **out);

/*
 * HTTP headers whose values come from environment variables: the list
 * option name holds "Name=VAR" entries (Name an HTTP header name); each
 * value found is appended to *out and registered for redaction.  A
 * variable that is not set is an error naming the option and the
 * variable (skipped silently when secrets are optional).
 */
void secret_get_env_headers(const struct cfg_section *s, const char *name,
                            struct kv_list *out);

/* The same, and an error naming the three options when none is given and
 * *out has no value yet. */
void secret_require(const struct cfg_section *s, const char *base,
                    bool redact, char **out);

#endif
