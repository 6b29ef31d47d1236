/*
 * gzip.h - gzip (RFC 1952) compression of a request body, for intakes
 * that accept "Content-Encoding: gzip".  zlib at its fastest level: the
 * bodies are JSON or line protocol whose tags repeat on every point, so
 * the fastest level already shrinks them many times, and the main loop
 * pays the CPU.
 *
 * Pure; safe on any thread.  Allocation failure aborts.
 */
#ifndef SEGALERT_EXPORT_GZIP_H
#define SEGALERT_EXPORT_GZIP_H

#include <stddef.h>

#include "core/util.h"

/* Replace out's content with the gzip of in[0, len).  0, or -1 when zlib
 * fails (out is then empty). */
int export_gzip(const void *in, size_t len, struct strbuf *out);

#endif
