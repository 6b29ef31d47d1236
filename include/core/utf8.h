/*
 * utf8.h - UTF-8 validation and repair, so that text from outside (names,
 * slugs, ids and messages from the Segment API) reaches labels, logs,
 * payloads, /metrics and the status page as well-formed UTF-8 only.
 *
 * Well-formed means RFC 3629 / Unicode Table 3-7: no overlong forms, no
 * surrogates (U+D800..U+DFFF), nothing above U+10FFFF, no truncated
 * sequence.  Repair replaces each ill-formed part by U+FFFD the way the
 * Unicode Standard recommends ("maximal subparts", also what WHATWG's
 * decoder and Python's errors="replace" do): "\xe2\x82" followed by "x"
 * is one U+FFFD then "x"; "\xc0\xaf" is two.  NUL bytes inside a counted
 * string are U+0000, which is well-formed.
 *
 * Pure functions: no allocation failure to handle (xmalloc aborts), no
 * globals, safe on any thread.  Returned strings are the caller's.
 */
#ifndef SEGALERT_UTF8_H
#define SEGALERT_UTF8_H

#include <stdbool.h>
#include <stddef.h>

#include "core/util.h"

/* U+FFFD REPLACEMENT CHARACTER in UTF-8. */
#define UTF8_REPLACEMENT "\xef\xbf\xbd"

/* Bytes of the well-formed character at s[0..len) (1 to 4), or 0 when
 * the bytes there do not start one (len must be > 0).  With 0, *bad (when
 * not NULL) is the length of the ill-formed part to replace (>= 1). */
size_t utf8_char_len(const char *s, size_t len, size_t *bad);

/* s[0..len) is well-formed UTF-8. */
bool utf8_valid(const char *s, size_t len);

/* Append s[0..len) to sb with every ill-formed part replaced by U+FFFD. */
void utf8_sanitize_append(struct strbuf *sb, const char *s, size_t len);

/* A heap copy of s (NUL-terminated) repaired; NULL for NULL. */
char *utf8_sanitize_dup(const char *s);

/* Repair s (NUL-terminated; NULL is "") into dst[0..dstlen), cut so that
 * no character is split; always NUL-terminated when dstlen > 0. */
void utf8_sanitize_copy(char *dst, size_t dstlen, const char *s);

/* Length of the longest prefix of s[0..len) of at most max bytes that
 * does not split a character (an ill-formed part counts as one unit). */
size_t utf8_cut(const char *s, size_t len, size_t max);

#endif
