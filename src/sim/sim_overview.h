/*
 * sim_overview.h - Delivery Overview (beta) of the simulator:
 * /delivery-overview/{successfully-received, failed-on-ingest,
 * filtered-at-source, filtered-at-destination, failed-delivery,
 * successful-delivery}, one bucketed series per pipeline step, computed
 * from the same per-minute figures as event volume and delivery metrics
 * (sim_model.h) so that the three agree.  See docs/sim.md for the
 * parameters, groupings and the discard codes served.
 *
 * Pure apart from reading the scenario, like sim_api.h.
 */
#ifndef SEGALERT_SIM_OVERVIEW_H
#define SEGALERT_SIM_OVERVIEW_H

#include "sim_query.h"
#include "sim_scenario.h"

/* Index of a step name ("failed-delivery"), or -1. */
int sim_overview_step(const char *name);

/* Answer GET /delivery-overview/{step} (path is the whole request path,
 * for the pagination faults). */
void sim_overview_handle(const struct scenario *sc, const char *path,
                         int step, struct sim_query *q, double now,
                         struct sim_reply *r);

#endif
