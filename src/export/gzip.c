/*
 * gzip.c - see gzip.h.
 */
#include "export/gzip.h"

#include <stdint.h>
#include <stdlib.h>

#include <zlib.h>

/* deflateInit2: a gzip wrapper around a 32 KiB window. */
#define GZIP_WINDOW_BITS (15 + 16)
#define GZIP_MEM_LEVEL 8

int export_gzip(const void *in, size_t len, struct strbuf *out)
{
    strbuf_reset(out);
    z_stream z = { 0 };
    if (deflateInit2(&z, Z_BEST_SPEED, Z_DEFLATED, GZIP_WINDOW_BITS,
                     GZIP_MEM_LEVEL, Z_DEFAULT_STRATEGY) != Z_OK)
        return -1;
    size_t bound = deflateBound(&z, (uLong)len) + 16;
    unsigned char *buf = xmalloc(bound);
    z.next_in = (Bytef *)(uintptr_t)in;
    z.avail_in = (uInt)len;
    z.next_out = buf;
    z.avail_out = (uInt)bound;
    int rc = deflate(&z, Z_FINISH);
    size_t produced = bound - z.avail_out;
    deflateEnd(&z);
    if (rc == Z_STREAM_END)
        strbuf_add(out, buf, produced);
    free(buf);
    return rc == Z_STREAM_END ? 0 : -1;
}
