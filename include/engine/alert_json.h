/*
 * alert_json.h - alert instances <-> JSON, the form the daemon keeps them
 * in the state file across restarts.
 *
 * Every field round-trips exactly, by core/json.h's conventions for
 * doubles (shortest exact form; NaN as null; +/-infinity as "+Inf" /
 * "-Inf"); enums are written by name ("firing", "critical", "webhook",
 * "new_alerts") so a renumbering cannot silently remap old state; label
 * sets are JSON objects.  Decoding is strict: a missing field or a field
 * of the wrong type is an error naming the field (never a crash, never a
 * silent zero).  The only relaxation: char * fields the structs allow to
 * be NULL are written as null and read back as NULL (they must still be
 * present).
 *
 * Ownership: returned cJSON trees belong to the caller (cJSON_Delete);
 * parameters are borrowed; errors go to a caller buffer.
 */
#ifndef SEGALERT_ALERT_JSON_H
#define SEGALERT_ALERT_JSON_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "engine/alert.h"

/*
 * Alert instance <-> JSON (every field of struct alert_instance; the
 * identity, rule and labels, is the caller's to store next to it):
 *   {"state": "pending", "severity": "critical", "nodata": false,
 *    "created_at": ..., "active_at": ..., "fired_at": ...,
 *    "resolved_at": ..., "last_true_at": ..., "last_data_at": ...,
 *    "last_eval_at": ..., "nodata_s": ..., "value": ...|null,
 *    "flap_bits": 5, "flap_count": 3, "flapping": false,
 *    "announced_firing": false, "announced_severity": "none"}
 * from_json fills *out and returns 0, or returns -1 with err (out is then
 * unspecified).  flap_bits must be an integer in 0..2^32-1, flap_count in
 * 0..ALERT_FLAP_HISTORY.
 */
cJSON *alert_instance_to_json(const struct alert_instance *in);
int alert_instance_from_json(const cJSON *j, struct alert_instance *out,
                             char *err, size_t errlen);

/*
 * A 64-bit digest of everything alert_instance_to_json() writes, for the
 * state journal (daemon/persist.h saves an instance again only when its
 * digest moved).  Fields are hashed one by one, never padding; doubles by
 * their bits (two NaNs with different payloads differ: a harmless extra
 * save).  Keep it in step with alert_instance_to_json().
 */
uint64_t alert_instance_digest(const struct alert_instance *in);

#endif
