/*
 * ruletest.h - rule unit tests (`segalert test FILE...`, README.md "Rule unit tests"), in the
 * spirit of `promtool test rules`:
 *
 *   test "discard ratio fires after 10 minutes" {
 *     rule_files = {"../../rules/delivery.conf"}   # relative to this file
 *     interval   = "5m"            # spacing of the series values
 *     eval_interval = "1m"         # optional; default min(interval, 1m)
 *     start      = "2026-11-01T00:00:00Z"   # optional time of value 0
 *     mtu_limit  = 1000000         # optional $mtu_limit / $api_calls_limit
 *     series "connection" {        # family: connection | source | usage;
 *                                  # more words may follow ("usage web");
 *                                  # titles need not be unique: a test may
 *                                  # hold many series of one family
 *       labels    = {"source=web", "destination=Amplitude"}
 *       interval  = "5m"           # optional, overrides the test's
 *       successes = "1000x5"       # promtool notation, one option per metric
 *       discarded = "0 0 50 50 50 50"
 *     }
 *     expect { at = "25m"  rule = "discard-ratio"  state = "firing"
 *              severity = "critical"  labels = {"destination=Amplitude"}
 *              summary = "Amplitude discards 4.8% of events from web" }
 *   }
 *
 * Rules are evaluated every eval_interval from `start` (and at every
 * expectation time).  An expectation holds when some instance of the rule
 * whose labels include `labels` has the state (inactive | pending | firing
 * | nodata) and, when given, the severity, summary and value (within
 * 0.1 %).  state = "inactive" holds when no such instance is pending or
 * firing.  Derived metrics (attempted, discard_ratio, retry_ratio) are
 * computed from the raw ones unless given explicitly.
 */
#ifndef SEGALERT_RULETEST_H
#define SEGALERT_RULETEST_H

#include <stdio.h>

/* Run every test of one file, printing "ok   NAME" or "FAIL NAME" and the
 * differences to out.  Adds to *passed / *failed.  Returns 0, or 2 when
 * the file itself is unusable or malformed (reported as FILE:LINE: ...,
 * on err_out, or in the FAIL text of the test holding the problem).  An
 * unknown key or section fails its own test (with a did-you-mean) and the
 * other tests of the file still run; 2 is returned after them. */
int ruletest_run_file(const char *path, FILE *out, FILE *err_out,
                      int *passed, int *failed);

#endif
