/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * metrics.h - the agent's metrics as a node_exporter textfile (config: metrics.textfile,
 * metrics.interval; the metrics are listed in docs/metrics.md). The main loop calls
 * metrics_tick() once a second; it rewrites the file, atomically (a temporary file renamed
 * over it), when metrics.interval has passed. metrics_close() at a clean exit removes it.
 */
#ifndef HW_AGENT_METRICS_H
#define HW_AGENT_METRICS_H
#include <stdint.h>

struct agent;
struct prom;

void metrics_tick(struct agent *a, uint64_t now_ms);
void metrics_close(struct agent *a);
/* The exposition (for the textfile; tests). */
void metrics_render(struct agent *a, struct prom *b);

#endif
