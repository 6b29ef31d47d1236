/*
 * client.h - the CLI's blocking HTTP client for a running daemon's API
 * (segalert status, segalert silence): where the daemon listens (the
 * configuration's listen, or a URL given with --url / SEGALERT_URL), and
 * one request at a time with libcurl.
 *
 * Errors: client_request() says whether anything answered (a response
 * of any status is CLIENT_OK; the caller reads the status), so a command
 * can fall back to the state file when the daemon is down.  Messages go
 * to a caller buffer.  The caller has called curl_global_init(); no other
 * state, so any thread may use it.
 */
#ifndef SEGALERT_CLIENT_H
#define SEGALERT_CLIENT_H

#include <stddef.h>

#include "core/util.h"

/* Size of a buffer for client_listen_url(). */
#define CLIENT_URL_SIZE 256

/*
 * Base URL of a daemon listening on listen: "http://127.0.0.1:9477";
 * wildcard hosts (":9477", "0.0.0.0", "[::]") are reached on loopback.
 * Returns 0, or -1 when listen is "" (HTTP disabled) or malformed.
 */
int client_listen_url(const char *listen, char *url, size_t len);

/* The environment variable that names a daemon's URL, as --url does. */
#define CLIENT_URL_ENV "SEGALERT_URL"

/*
 * The daemon URL the user gave: flag (--url) when not NULL, else
 * $SEGALERT_URL when set and not empty, into url without trailing '/'.
 * Returns 1 when one was given, 0 when none (use the configuration's
 * listen), -1 when it is not an http:// or https:// URL or does not fit
 * (err says which).
 */
int client_explicit_url(const char *flag, char *url, size_t len, char *err,
                        size_t errlen);

enum client_result {
    CLIENT_OK = 0,              /* got an HTTP response (any status) */
    CLIENT_DOWN,                /* nothing listening (connection refused) */
    CLIENT_ERROR,               /* anything else (timeout, bad URL...) */
};

/*
 * One request to base_url + path (no proxy, a timeout longer than the
 * server's wait for its main loop, response capped at 32 MiB).  body (may
 * be NULL) is sent as JSON, and every method but GET and HEAD says
 * "Content-Type: application/json" even without a body, as the server
 * requires of writes; admin_token (may be NULL) as a Bearer token, wiped
 * from memory afterwards.  On CLIENT_OK, *status holds the HTTP
 * status and out the body; otherwise err says why.
 */
enum client_result client_request(const char *base_url, const char *method,
                                  const char *path, const char *admin_token,
                                  const char *body, long *status,
                                  struct strbuf *out, char *err,
                                  size_t errlen);

#endif
