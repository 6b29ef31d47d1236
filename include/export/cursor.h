/*
 * cursor.h - an exporter's cursor: for each series, the end of the last
 * count interval it handed to its intake, kept in
 * state_dir/export-NAME.cursor so that what was exported is never
 * exported again after a restart (kill -9 included).
 *
 * The exporter advances the cursor when it queues a count and saves it
 * BEFORE sending anything queued since the last save (write-ahead): a
 * crash between the save and the send loses those points (a gap in the
 * tool), it never sends them twice.  Series are keyed by the 64-bit
 * content hash of their label set (stable across runs).  Entries whose
 * end is older than CURSOR_KEEP_S are dropped when saving: no window of
 * the API can start that far back.
 *
 * The file is text, one "KEY END" line per series after a version line,
 * replaced atomically (a temp file opened with O_NOFOLLOW|O_EXCL, fsync,
 * rename, fsync of the directory), never in the state document.  A file
 * that does not parse is moved aside (export-NAME.cursor.corrupt-TIME)
 * and the exporter starts with nothing exported - plus a start point
 * (export_cursor_floor) of the load time, so that a count straddling it
 * is not sent: at worst a gap, never a repeat.
 *
 * Ownership: the caller owns the cursor (export_cursor_free).  Errors:
 * a caller buffer (file operations); the cursor stays usable.  Thread
 * safety: none.
 */
#ifndef SEGALERT_EXPORT_CURSOR_H
#define SEGALERT_EXPORT_CURSOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Entries older than this are forgotten when saving (seconds). */
#define CURSOR_KEEP_S (2 * 86400.0)
/* A cursor file larger than this is corrupt. */
#define CURSOR_MAX_BYTES ((size_t)64 << 20)

struct export_cursor;

/* The cursor of exporter name in dir (loaded when the file exists).  Never
 * NULL; on a corrupt or unreadable file err says what happened (and the
 * cursor starts empty with a floor of now).  dir NULL: in memory only. */
struct export_cursor *export_cursor_open(const char *dir, const char *name,
                                         double now, char *err,
                                         size_t errlen);
void export_cursor_free(struct export_cursor *c);      /* NULL: no-op */

/* End of the last count interval exported for key; 0 when none. */
double export_cursor_get(const struct export_cursor *c, uint64_t key);
/* Counts starting before this were never exportable (a lost cursor):
 * 0 normally. */
double export_cursor_floor(const struct export_cursor *c);
void export_cursor_set(struct export_cursor *c, uint64_t key, double end);
/* Changed since the last save. */
bool export_cursor_dirty(const struct export_cursor *c);
size_t export_cursor_count(const struct export_cursor *c);
/* Save atomically (no-op in memory); 0, or -1 with err (the cursor stays
 * dirty).  now: for dropping old entries. */
int export_cursor_save(struct export_cursor *c, double now, char *err,
                       size_t errlen);
/* The file's path, or NULL in memory. */
const char *export_cursor_path(const struct export_cursor *c);

#endif
