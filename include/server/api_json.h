/*
 * api_json.h - the JSON documents of the HTTP API (/api/v1/...), rendered
 * from one snapshot, and the small envelopes the server answers writes
 * and errors with.  The API is described in README.md "Operations".
 *
 * Pure: reads an immutable snapshot (borrowed; the caller holds a
 * reference, see snapshot.h) and appends one document and a newline to
 * the caller's strbuf; relative figures (uptime) are measured from
 * snapshot->generated_at, never the clock.  Safe from any thread.
 * Numbers follow core/json.h (NaN is null, infinities "+Inf"/"-Inf",
 * times RFC 3339 UTC or null for never).
 */
#ifndef SEGALERT_API_JSON_H
#define SEGALERT_API_JSON_H

#include "core/util.h"
#include "server/snapshot.h"

#define API_JSON_CONTENT_TYPE "application/json"

/*
 * Documents, {"status":"success","data":{...}}:
 *   alerts:   {"alerts":[{"rule","labels":{},"state","severity",
 *              "value": number|null|"+Inf"|"-Inf","activeAt","firedAt"
 *              (RFC 3339 or null),"summary","runbookUrl","flapping",
 *              "silenced"}]}
 *   rules:    {"rules":[{"name","family","expr","warn","severity",
 *              "forSeconds","file","line","alerts":{"inactive","pending",
 *              "firing"}}]}
 *   status:   version, startedAt, generatedAt, uptimeSeconds, ready,
 *             configPath, stateDir, evaluation, notifications, outbox,
 *             alerts (counts by state), workspaces[] (health per poll
 *             family, budget, staleness, requests by status class),
 *             receivers[], silences[]
 *   silences: {"silences":[{"id","matchers":["k=glob",...],"status":
 *              "active"|"pending"|"expired","startsAt","endsAt",
 *              "createdBy","comment"}]}
 */
void api_json_alerts(const struct snapshot *s, struct strbuf *out);
void api_json_rules(const struct snapshot *s, struct strbuf *out);
void api_json_status(const struct snapshot *s, struct strbuf *out);
void api_json_silences(const struct snapshot *s, struct strbuf *out);

/* {"status":"success"} and {"status":"success","silenceId":id}. */
void api_json_ok(struct strbuf *out);
void api_json_silence_added(struct strbuf *out, const char *id);
/* {"status":"error","error":msg}. */
void api_json_error(struct strbuf *out, const char *msg);

#endif
