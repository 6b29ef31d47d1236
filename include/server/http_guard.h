/*
 * http_guard.h - what a request must look like before the HTTP server acts
 * on it (README.md "Operations", "HTTP API safety"): the checks that keep a
 * web page in someone's browser from reading or changing segalert.
 *
 *   Host    every request: the listen address, a loopback name (localhost,
 *           127.0.0.1, [::1]), an IP address, or an allowed_hosts entry,
 *           with or without a port (an allowed_hosts entry with a port
 *           needs that port).  A DNS-rebinding page reaches the server
 *           under its own name, never under an IP address, so it is
 *           refused (421).
 *   Origin  requests that change something: absent (the CLI, curl) or the
 *           server's own origin (http(s)://<Host>); anything else, "null"
 *           included, is a cross-site request (403).  Sec-Fetch-Site, when
 *           a browser sends it, must say same-origin or none.
 *   Content-Type  requests that change something: application/json (415
 *           otherwise), which a form or a "simple" cross-origin request
 *           cannot send without a CORS preflight that segalert never
 *           answers.
 *   Path    no control characters, decoded or raw: "/-/reload%00.css" is
 *           not "/-/reload" (404).  http_guard_unescape() keeps such
 *           escapes undecoded so that the path never gets truncated.
 *
 * Pure functions over strings (no I/O); a struct http_guard is immutable
 * once made and may be read from any thread.  http_guard_free(NULL) is a
 * no-op; the guard copies what it keeps.
 */
#ifndef SEGALERT_HTTP_GUARD_H
#define SEGALERT_HTTP_GUARD_H

#include <stdbool.h>
#include <stddef.h>

#include "core/kv.h"

struct http_guard;

/* listen_host: the host part of the listen address without brackets ("" for
 * a wildcard); allowed_hosts (may be NULL): "name" or "name:port" entries
 * as config.h describes them. */
struct http_guard *http_guard_new(const char *listen_host,
                                  const struct str_list *allowed_hosts);
void http_guard_free(struct http_guard *g);

/* Is host (the Host header; NULL when the request had none, as HTTP/1.0
 * clients may, never a browser) a name of this server? */
bool http_guard_host_ok(const struct http_guard *g, const char *host);

/* May a request that changes something come from origin (the Origin
 * header, NULL when absent) given its Host header (already accepted)? */
bool http_guard_origin_ok(const char *origin, const char *host);

/* May it, given Sec-Fetch-Site (NULL when absent)? */
bool http_guard_fetch_site_ok(const char *site);

/* Is ctype (Content-Type, NULL when absent) application/json, with or
 * without parameters ("application/json; charset=utf-8")? */
bool http_guard_is_json(const char *ctype);

/* Does the decoded path have only printable bytes (no control character,
 * no escape left undecoded by http_guard_unescape)? */
bool http_guard_path_ok(const char *path);

/* Decode %XX escapes of s in place, except those that would give a control
 * character (0x00-0x1f, 0x7f), which stay as written.  Returns the new
 * length.  libmicrohttpd's own decoder turns "%00" into a NUL that cuts
 * the path short. */
size_t http_guard_unescape(char *s);

#endif
