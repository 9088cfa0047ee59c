/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * metrics.h - the collector's GET /metrics (Prometheus text format 0.0.4; docs/metrics.md).
 * main.c keeps the counters where the events happen and hands a snapshot of them to
 * cmetrics_render(), which adds what it reads itself (herd engine sizes, database file sizes,
 * the process's CPU and memory).
 */
#ifndef HW_COLLECTOR_METRICS_H
#define HW_COLLECTOR_METRICS_H
#include <stddef.h>
#include <stdint.h>
#include <sqlite3.h>

#include "common/prom.h"
#include "common/wire.h"

struct herd_engine;

/* Alerts raised since start, by (kind, severity). Kinds and severities are the herd engine's
 * own short names; a pair beyond the table's places counts under kind "other". */
#define CMETRICS_ALERT_PAIRS 32
struct cmetrics_alerts {
	unsigned n;
	struct {
		char kind[32], severity[16];
		unsigned long long count;
	} v[CMETRICS_ALERT_PAIRS];
};
void cmetrics_count_alert(struct cmetrics_alerts *a, const char *kind, const char *severity);

struct cmetrics {
	/* ingest */
	/* events_stored: by committed transactions only, so that it never goes down (the
	 * collector's own count takes a rolled-back transaction's events off again) */
	unsigned long long events_stored, duplicates, bad_events, clock_skew, batches, commits,
		acks_sent, acks_withheld, storage_errors;
	unsigned long long
		refused[HW_REFUSE_MAX]; /* frames refused, by hw_wire_strerror() reason */
	uint64_t last_store_ns; /* CLOCK_REALTIME of the last batch that stored events, 0: none */
	/* connections */
	unsigned long long tls_refused, handshake_timeouts, handshakes_refused, accept_errors,
		revoked_closed, crl_reloads, conns_total;
	unsigned long long conns_open;
	/* queues */
	unsigned handshakes_pending, responses_running;
	size_t acks_pending;         /* batches in the open transaction, waiting for its commit */
	unsigned long long txn_rows; /* rows written by the open transaction */
	/* alerts and responses */
	const struct cmetrics_alerts *alerts;
	unsigned long long response_runs, response_timeouts, response_skipped, requests_sent,
		api_refused;
	/* alert outputs --syslog and --webhook (those that run) */
	struct cmetrics_output {
		const char *name;
		unsigned long long up, sent, failures, queued, dropped_full, dropped_oversize,
			rejected;
	} outputs[2];
	int noutputs;
	/* retention */
	unsigned long long retained_events, retained_alerts, retained_streams;
	/* read by cmetrics_render */
	const struct herd_engine *herd;
	sqlite3 *db; /* the store's connection: its file names */
	uint64_t now_ns;
};

/* The exposition into b (b->oom when memory ran out). */
void cmetrics_render(const struct cmetrics *m, struct prom *b);

#endif
