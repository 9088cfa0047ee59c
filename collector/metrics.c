// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * metrics.c - the collector's metrics in the Prometheus text format (GET /metrics). Every
 * family is listed, with its meaning, in docs/metrics.md; the names follow Prometheus's
 * conventions: herdwatch_collector_ prefix, counters end in _total, units in the name
 * (_bytes, _seconds), the process's own figures under the process_ names client libraries use.
 */
#include "collector/metrics.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "collector/herd.h"

void cmetrics_count_alert(struct cmetrics_alerts *a, const char *kind, const char *severity)
{
	unsigned i;
	kind = kind ? kind : "";
	severity = severity ? severity : "";
	for (i = 0; i < a->n; i++)
		if (!strcmp(a->v[i].kind, kind) && !strcmp(a->v[i].severity, severity))
			break;
	if (i == a->n) {
		if (a->n == CMETRICS_ALERT_PAIRS) {
			/* the table is full: its last place counts every other pair */
			i = a->n - 1;
			snprintf(a->v[i].kind, sizeof(a->v[i].kind), "other");
			a->v[i].severity[0] = 0;
		} else {
			a->n++;
			snprintf(a->v[i].kind, sizeof(a->v[i].kind), "%s", kind);
			snprintf(a->v[i].severity, sizeof(a->v[i].severity), "%s", severity);
			a->v[i].count = 0;
		}
	}
	a->v[i].count++;
}

static void counter(struct prom *b, const char *name, const char *help, unsigned long long v)
{
	prom_one_u64(b, name, "counter", help, v);
}

static void gauge(struct prom *b, const char *name, const char *help, unsigned long long v)
{
	prom_one_u64(b, name, "gauge", help, v);
}

/* Size of a file in bytes, 0 when it does not exist. */
static unsigned long long file_bytes(const char *path, const char *suffix)
{
	char p[4200];
	struct stat st;
	snprintf(p, sizeof(p), "%s%s", path, suffix);
	return path[0] && !stat(p, &st) ? (unsigned long long)st.st_size : 0;
}

/* --syslog and --webhook, labelled by output */
static void alert_output_metrics(const struct cmetrics *m, struct prom *b)
{
	if (!m->noutputs)
		return;
	static const struct {
		const char *name, *type, *help;
	} fam[] = {
		{"herdwatch_collector_alert_output_up", "gauge",
		 "1 while the alert output's last delivery attempt succeeded."},
		{"herdwatch_collector_alert_output_sent_total", "counter",
		 "Alerts the output delivered (syslog: written; webhook: answered 2xx)."},
		{"herdwatch_collector_alert_output_failures_total", "counter",
		 "Failed connects, writes and answers of the alert output (each retried)."},
		{"herdwatch_collector_alert_output_queued", "gauge",
		 "Alerts waiting in the output's queue."},
	};
	for (size_t f = 0; f < sizeof(fam) / sizeof(fam[0]); f++) {
		prom_family(b, fam[f].name, fam[f].type, fam[f].help);
		for (int i = 0; i < m->noutputs; i++) {
			const struct cmetrics_output *o = &m->outputs[i];
			unsigned long long v[] = {o->up, o->sent, o->failures, o->queued};
			prom_u64(b, fam[f].name, v[f], "output", o->name, NULL);
		}
	}
	const char *dn = "herdwatch_collector_alert_output_dropped_total";
	prom_family(b, dn, "counter",
		    "Alerts the output lost, by cause: queue_full, oversize (longer than a syslog "
		    "message), rejected (a webhook's final 4xx).");
	for (int i = 0; i < m->noutputs; i++) {
		const struct cmetrics_output *o = &m->outputs[i];
		prom_u64(b, dn, o->dropped_full, "output", o->name, "cause", "queue_full", NULL);
		prom_u64(b, dn, o->dropped_oversize, "output", o->name, "cause", "oversize", NULL);
		prom_u64(b, dn, o->rejected, "output", o->name, "cause", "rejected", NULL);
	}
}

#define N(x) "herdwatch_collector_" x

/* the herd engine: what it knows, its queue, its memory */
static void herd_metrics(const struct cmetrics *m, struct prom *b)
{
	struct herd_counts hc = {0};
	if (m->herd)
		herd_counts(m->herd, m->now_ns, &hc);
	gauge(b, N("herds"), "Herds the engine knows.", hc.herds);
	gauge(b, N("members"), "Members (hosts and containers) the engine knows.", hc.members);
	gauge(b, N("members_active"),
	      "Members with an event or heartbeat recently (within --gone-s).", hc.active_members);
	gauge(b, N("herd_candidates"), "New tokens held for judging (the herd engine's queue).",
	      hc.candidates);
	gauge(b, N("herd_memory_bytes"), "Bytes of herd engine state.",
	      m->herd ? herd_mem_bytes(m->herd) : 0);
	counter(b, N("herd_tokens_overflow_total"),
		"Tokens members had to forget while they still weighed (token budget full).",
		m->herd ? herd_overflow(m->herd) : 0);
	counter(b, N("herd_candidates_dropped_total"),
		"New tokens not judged: their member had too many candidates held at once.",
		m->herd ? herd_candidates_dropped(m->herd) : 0);
}

/* agent connections: open, refused before and in the handshake, revoked */
static void connection_metrics(const struct cmetrics *m, struct prom *b)
{
	gauge(b, N("connections"), "Agent connections open (handshake done).", m->conns_open);
	counter(b, N("connections_total"), "Agent connections whose TLS handshake succeeded.",
		m->conns_total);
	counter(b, N("tls_refused_total"),
		"Agent connections whose TLS handshake failed or timed out (bad, unknown or "
		"revoked "
		"certificate, not TLS, too slow).",
		m->tls_refused);
	counter(b, N("handshake_timeouts_total"),
		"Handshakes not done within --handshake-timeout-s (also in tls_refused_total).",
		m->handshake_timeouts);
	counter(b, N("connections_refused_total"),
		"Connections closed before the handshake by the limits (--max-handshakes, "
		"--max-handshakes-per-addr, --fd-reserve).",
		m->handshakes_refused);
	counter(b, N("accept_errors_total"), "Failed accept() calls on the agents' port.",
		m->accept_errors);
	counter(b, N("revoked_closed_total"),
		"Open connections closed because a reloaded CRL revoked their certificate.",
		m->revoked_closed);
	counter(b, N("crl_loads_total"), "Revocation lists (--crl) loaded.", m->crl_reloads);
}

void cmetrics_render(const struct cmetrics *m, struct prom *b)
{
	prom_family(b, N("build_info"), "gauge", "Version of the collector (the label), always 1.");
	prom_u64(b, N("build_info"), 1, "version", HW_VERSION, NULL);

	/* ingest */
	counter(b, N("events_stored_total"), "Events stored by committed transactions.",
		m->events_stored);
	prom_family(b, N("events_rejected_total"), "counter",
		    "Events of accepted batches that were not stored, by cause: malformed (not an "
		    "event: acknowledged as rejected) or duplicate (already stored: a resend).");
	prom_u64(b, N("events_rejected_total"), m->bad_events, "cause", "malformed", NULL);
	prom_u64(b, N("events_rejected_total"), m->duplicates, "cause", "duplicate", NULL);
	counter(b, N("events_clock_skew_total"),
		"Stored events whose time was beyond the skew bounds (judged at arrival).",
		m->clock_skew);
	counter(b, N("batches_total"),
		"Batches accepted (their events stored, rejected or duplicate).", m->batches);
	prom_family(
		b, N("frames_refused_total"), "counter",
		"Frames (batches) refused, by reason; the connection is closed and nothing of the "
		"batch is stored.");
	for (int i = 1; i < HW_REFUSE_MAX; i++)
		prom_u64(b, N("frames_refused_total"), m->refused[i], "reason", hw_wire_strerror(i),
			 NULL);
	counter(b, N("acks_total"), "Acknowledgements sent to agents (batches durably stored).",
		m->acks_sent);
	counter(b, N("acks_withheld_total"),
		"Batches not acknowledged because their transaction was rolled back (agents "
		"resend).",
		m->acks_withheld);
	counter(b, N("commits_total"), "Database transactions committed.", m->commits);
	counter(b, N("storage_errors_total"), "Failed database writes or commits (rolled back).",
		m->storage_errors);
	prom_one_f64(b, N("last_store_timestamp_seconds"), "gauge",
		     "When a batch last stored events, since the Unix epoch (0: none since start).",
		     (double)m->last_store_ns / 1e9);

	/* queues */
	gauge(b, N("acks_pending"),
	      "Batches in the open transaction, acknowledged when it commits.", m->acks_pending);
	gauge(b, N("transaction_rows"), "Rows written by the open transaction.", m->txn_rows);
	gauge(b, N("handshakes_pending"), "Agent connections whose TLS handshake is not done yet.",
	      m->handshakes_pending);
	gauge(b, N("responses_running"), "Response commands (--response-cmd) running.",
	      m->responses_running);

	herd_metrics(m, b);

	/* alerts and responses */
	prom_family(b, N("alerts_total"), "counter", "Alerts raised, by kind and severity.");
	for (unsigned i = 0; m->alerts && i < m->alerts->n; i++)
		prom_u64(b, N("alerts_total"), m->alerts->v[i].count, "kind", m->alerts->v[i].kind,
			 "severity", m->alerts->v[i].severity, NULL);
	counter(b, N("response_runs_total"), "Response commands started.", m->response_runs);
	counter(b, N("response_timeouts_total"),
		"Response commands killed after --response-timeout-s.", m->response_timeouts);
	counter(b, N("response_skipped_total"),
		"Alerts whose response command could not be started.", m->response_skipped);
	alert_output_metrics(m, b);
	counter(b, N("requests_sent_total"), "Control requests sent to agent connections.",
		m->requests_sent);
	counter(b, N("api_refused_total"),
		"Query API requests refused (no or wrong token, foreign Host or Origin).",
		m->api_refused);

	connection_metrics(m, b);

	/* storage */
	const char *db = m->db ? sqlite3_db_filename(m->db, "main") : NULL;
	gauge(b, N("database_bytes"), "Size of the SQLite database file.",
	      db ? file_bytes(db, "") : 0);
	gauge(b, N("database_wal_bytes"), "Size of the database's write-ahead log.",
	      db ? file_bytes(db, "-wal") : 0);
	counter(b, N("retention_events_deleted_total"), "Events deleted by retention.",
		m->retained_events);
	counter(b, N("retention_alerts_deleted_total"), "Alerts deleted by retention.",
		m->retained_alerts);
	counter(b, N("retention_streams_deleted_total"),
		"Agent run records (dedup state) deleted by retention.", m->retained_streams);
	prom_process(b, "process");
}
#undef N
