/*
 * hmac.h - SHA-256 digests and HMAC-SHA256 as lower-case hex, for what
 * receivers sign (the webhook signature) or shorten (PagerDuty's dedup
 * key).
 *
 * Pure and thread-safe (OpenSSL's one-shot functions).  Output goes into
 * the caller's buffer of SHA256_HEX_LEN + 1 bytes; on failure it holds "".
 */
#ifndef SEGALERT_HMAC_H
#define SEGALERT_HMAC_H

#include <stddef.h>

/* Hex digits of a SHA-256 digest. */
#define SHA256_HEX_LEN 64

/* HMAC-SHA256(key, data).  Returns 0, or -1 (key longer than OpenSSL
 * takes, or a failing libcrypto).  NULL key or data with length 0 are the
 * empty string. */
int hmac_sha256_hex(const void *key, size_t keylen, const void *data,
                    size_t len, char out[SHA256_HEX_LEN + 1]);

/* SHA-256(data).  Returns 0, or -1 (a failing libcrypto). */
int sha256_hex(const void *data, size_t len, char out[SHA256_HEX_LEN + 1]);

#endif
