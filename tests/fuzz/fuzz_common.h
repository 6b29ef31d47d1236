/* fuzz_common.h - helpers shared by the libFuzzer targets that need a
 * file or a directory (the loaders read paths, not buffers). */
#ifndef SEGALERT_FUZZ_COMMON_H
#define SEGALERT_FUZZ_COMMON_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/log.h"
#include "notify/receiver.h"

/* A private directory for this process (created once), quiet logs and
 * the receiver types registered. */
static const char *fuzz_dir(void)
{
    static char dir[64];
    if (!dir[0]) {
        snprintf(dir, sizeof(dir), "/tmp/segalert-fuzz.XXXXXX");
        if (!mkdtemp(dir))
            abort();
        log_set_level(LOG_ERR);
        char err[256];
        if (receivers_register(NULL, 0, err, sizeof(err)) != 0)
            abort();
    }
    return dir;
}

/* Write data to DIR/name; returns the path (static buffer). */
static const char *fuzz_write(const char *name, const uint8_t *data,
                              size_t size)
{
    static char path[256];
    snprintf(path, sizeof(path), "%s/%s", fuzz_dir(), name);
    FILE *f = fopen(path, "wb");
    if (!f)
        abort();
    if (size && fwrite(data, 1, size, f) != size)
        abort();
    fclose(f);
    return path;
}

#endif
