/*
 * notify_json.h - notifications <-> JSON, the form the outbox keeps them in
 * the state file.  Notifications carry no secrets (notify.h), so neither
 * does the state file; receivers are looked up by name at delivery time.
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
#ifndef SEGALERT_NOTIFY_JSON_H
#define SEGALERT_NOTIFY_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "notify/notify.h"

/*
 * Notification <-> JSON:
 *   {"id": "...", "receiver": "...", "receiver_type": "webhook",
 *    "route": "..."|null, "group_key": "..."|null,
 *    "group_labels": {"k": "v", ...}, "reason": "first",
 *    "created_at": 1787227200.5, "external_url": "..."|null,
 *    "alerts": [{"rule": "...", "fingerprint": "..."|null,
 *                "labels": {...}, "severity": "..."|null,
 *                "status": "..."|null, "nodata": false, "flapping": false,
 *                "value": 0.25|null|"+Inf"|"-Inf", "summary": ...|null,
 *                "description": ...|null, "runbook_url": ...|null,
 *                "starts_at": ..., "ends_at": ...}, ...]}
 * id and receiver must be strings (the outbox keys and the receiver
 * lookup need them); rule must be a string.
 * from_json returns a new notification (notification_free) or NULL with
 * err naming the bad field.
 */
cJSON *notification_to_json(const struct notification *n);
/* One alert of a notification, as in its "alerts" array (the dispatcher
 * keeps its groups' alerts in this form too). */
cJSON *notify_alert_to_json(const struct notify_alert *a);
struct notification *notification_from_json(const cJSON *j, char *err,
                                            size_t errlen);

/*
 * Digests for the state journal (daemon/persist.h saves a record again
 * only when its digest moved): 64-bit hashes chained field by field, so a
 * digest changes whenever the JSON form would.  Pass the running digest
 * in (0 to start), get the new one.  Strings carry a marker that tells
 * NULL from "" and ends each string, so ("ab", "c") and ("a", "bc")
 * differ; doubles go in by their bits.  The *_digest() of each record
 * type sits next to its *_to_json() and must be kept in step with it.
 */
uint64_t notify_digest_str(uint64_t h, const char *s);
uint64_t notify_digest_num(uint64_t h, double v);
uint64_t notify_digest_int(uint64_t h, int64_t v);
/* labels (a kv array, NULL values allowed) */
uint64_t notify_digest_kv(uint64_t h, const struct kv *kv, size_t n);
/* Everything notify_alert_to_json() writes. */
uint64_t notify_alert_digest(uint64_t h, const struct notify_alert *a);

#endif
