// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * herdwatch-collector - receives event batches from agents over mutual TLS, stores them in
 * SQLite, runs the herd engine, emits alerts, and serves the query API.
 *
 * One thread, one libevent loop:
 *   TLS listener -> per connection: frames (common/wire.c) -> batch: decompress, split lines,
 *   parse (json.c), check that every event's host is the certificate's, dedupe per
 *   (certificate name, host id, boot id, run id, seq) (store.c), insert into the open
 *   transaction, feed the herd engine (herd.c) -> every commit_ms the transaction commits and
 *   only then are the ACKs of its batches written back.
 *   A peer that violates the frame format is disconnected; the reason is counted (/api/stats).
 *   HTTP on a loopback port: /api/events, /api/alerts, /api/herds, /api/members, /api/stats,
 *   /metrics (Prometheus, collector/metrics.c);
 *   POST /api/request (control requests to agents) only with the API token; the web console
 *   (console.c) at / and its calls.
 *   A failed database write rolls the whole open transaction back: its batches are not
 *   acknowledged and their connections are closed, so the agents resend them.
 *
 * This file: main() reads the options (options.c), picks the mode (modes[] below: today one,
 * "all", everything above in one process) and runs it; a mode is a list of start-up steps
 * (setup.c and the two here: the herd engine with its snapshot, the timers), the event loop,
 * and the one shutdown. Also the clocks, the rate-limited log, the tick and the signals.
 */
#include "collector/collector.h"
#include "collector/nats.h"

uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

uint64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* fprintf to stderr for lines a peer can cause at will (refused handshakes, accept errors):
 * per class at most LOG_BURST lines at once and then one a second; the next line printed says
 * how many were left out. Returns whether it printed. */
int __attribute__((format(printf, 3, 4)))
log_limited(struct collector *c, int cls, const char *fmt, ...)
{
	struct log_limit *l = &c->logl[cls];
	uint64_t now = mono_ns();
	if (!l->last_ns)
		l->tokens = LOG_BURST;
	l->tokens += (double)(now - l->last_ns) / 1e9;
	if (l->tokens > LOG_BURST)
		l->tokens = LOG_BURST;
	l->last_ns = now;
	if (l->tokens < 1) {
		l->suppressed++;
		return 0;
	}
	l->tokens -= 1;
	va_list ap;
	va_start(ap, fmt);
	fputs("herdwatch-collector: ", stderr);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	if (l->suppressed)
		fprintf(stderr, " (%llu similar lines left out)", l->suppressed);
	fputc('\n', stderr);
	l->suppressed = 0;
	return 1;
}

/* ---- herd engine snapshot (so a restarted collector need not relearn) ---- */

static void herd_snapshot_save(struct collector *c)
{
	uint8_t *buf;
	size_t len;
	if (herd_save(c->herd, &buf, &len))
		return;
	size_t cap = ZSTD_compressBound(len);
	void *z = malloc(cap);
	size_t zl = z ? ZSTD_compressCCtx(c->cctx, z, cap, buf, len, 1) : 0;
	sqlite3_stmt *st = NULL;
	if (z && !ZSTD_isError(zl) &&
	    sqlite3_prepare_v2(store_db(c->st),
			       "INSERT OR REPLACE INTO herd_state VALUES(1, ?, ?, ?)", -1, &st,
			       NULL) == SQLITE_OK) {
		commit(c);
		sqlite3_bind_int64(st, 1, (sqlite3_int64)now_ns());
		sqlite3_bind_int64(st, 2, (sqlite3_int64)len);
		sqlite3_bind_blob(st, 3, z, (int)zl, SQLITE_STATIC);
		if (sqlite3_step(st) != SQLITE_DONE)
			fprintf(stderr, "herdwatch-collector: saving herd state: %s\n",
				sqlite3_errmsg(store_db(c->st)));
	}
	sqlite3_finalize(st);
	free(z);
	free(buf);
}

static void herd_snapshot_load(struct collector *c)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(store_db(c->st), "SELECT raw_len, z FROM herd_state WHERE id = 1",
			       -1, &st, NULL) != SQLITE_OK)
		return;
	if (sqlite3_step(st) == SQLITE_ROW) {
		size_t raw = (size_t)sqlite3_column_int64(st, 0);
		const void *z = sqlite3_column_blob(st, 1);
		size_t zl = (size_t)sqlite3_column_bytes(st, 1);
		uint8_t *buf = raw && raw < (1ull << 32) ? malloc(raw) : NULL;
		size_t got = buf ? ZSTD_decompress(buf, raw, z, zl) : 0;
		if (buf && !ZSTD_isError(got) && got == raw) {
			int err = herd_restore(c->herd, buf, raw, now_ns());
			fprintf(stderr, "herdwatch-collector: herd state restored (%u members)%s\n",
				herd_member_count(c->herd),
				err ? ", snapshot damaged: partly" : "");
		}
		free(buf);
	}
	sqlite3_finalize(st);
}

/* ---- timers, signals, the event loop ---- */

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	struct collector *c = arg;
	uint64_t now = now_ns();
	if (store_in_txn(c->st) && now - c->txn_start_ns >= (uint64_t)c->commit_ms * 1000000ull)
		commit(c);
	if (++c->ticks % 4 == 0) {
		herd_tick(c->herd, now);
		if (store_in_txn(c->st))
			commit(c); /* alerts are durable before they count as raised */
	}
	if (c->ticks % 2400 == 0) /* every minute */
		herd_snapshot_save(c);
	if (c->ticks % c->retain_every_ticks == 0 && (c->retain_s || c->retain_bytes)) {
		commit(c);
		struct store_retained r;
		if (store_retain(c->st, now, c->retain_s, c->retain_bytes, &r))
			fprintf(stderr, "herdwatch-collector: retention: %s\n",
				sqlite3_errmsg(store_db(c->st)));
		c->retained_deleted += r.events;
		c->retained_alerts += r.alerts;
		c->retained_streams += r.streams;
	}
	if (c->ticks % 40 == 0) { /* every second */
		crl_check_file(c);
		alert_outputs_tick(c);
	}
	response_check(c);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct collector *c = arg;
	fprintf(stderr, "herdwatch-collector: signal %d, committing and exiting\n", (int)sig);
	commit(c);
	herd_snapshot_save(c);
	event_base_loopbreak(c->base);
}

/* The tick (every 25 ms: commits, the herd engine, retention, outputs) and the signals that
 * end the loop, on the event base. */
static int start_timers(struct collector *c)
{
	c->tick = event_new(c->base, -1, EV_PERSIST, on_tick, c);
	c->sigint = evsignal_new(c->base, SIGINT, on_signal, c);
	c->sigterm = evsignal_new(c->base, SIGTERM, on_signal, c);
	if (!c->tick || !c->sigint || !c->sigterm)
		return -1;
	struct timeval tv = {0, 25000};
	event_add(c->tick, &tv);
	event_add(c->sigint, NULL);
	event_add(c->sigterm, NULL);
	return 0;
}

/* The herd engine, with what it had learnt before a restart. */
static int start_herd(struct collector *c, const struct herd_cfg *hc)
{
	c->herd = herd_new(hc, on_alert, c);
	if (!c->herd)
		return -1;
	herd_snapshot_load(c);
	return 0;
}

/* ---- the modes ---- */

/* --mode all: one process does everything (agents in, the store, the herd engine, alerts, the
 * query API). The steps in order; collector_shutdown() in main() undoes whichever ran. */
static int run_all(struct collector *c, struct collector_opts *op)
{
	/* the list of dns tokens, before any event is read */
	char why[1024];
	if (tokens_psl_init(op->psl_file, 0, why, sizeof(why)) != TOKENS_PSL_FILE_OK)
		fprintf(stderr, "herdwatch-collector: %s\n", why);
	if (collector_buffers(c) || collector_open_store(c, op) || start_herd(c, &op->hc) ||
	    collector_tls(c, op))
		return 1;
	c->base = event_base_new();
	if (!c->base || collector_listen(c, op) || start_timers(c))
		return 1;
	fprintf(stderr,
		"herdwatch-collector: agents on %s (mutual TLS), API on http://%s, database %s\n",
		op->listen_a, op->http_a, op->db);
	event_base_dispatch(c->base);
	commit(c);
	return 0;
}

/* What a collector process can be (--mode NAME). A mode runs from the parsed options and
 * returns the exit status; it uses the start-up steps of setup.c it needs, and main() frees
 * what they made. A new mode (a scale-out's ingest or worker, say) is a function in a file of
 * its own and one row here. */
static const struct collector_mode {
	const char *name;
	int (*run)(struct collector *c, struct collector_opts *op);
} modes[] = {
	{"all", run_all},
	{"api", run_api},
};

int main(int argc, char **argv)
{
	struct collector col = {0}, *c = &col;
	struct collector_opts op;
	TAILQ_INIT(&c->pending);
	/* the scale-out modes (docs/scale-out.md): a worker or the events reader is a program of
	 * its own; --mode ingest takes --nats and runs "all" with its batches going to JetStream */
	int nm = nats_mode_args(&argc, argv, c);
	if (nm < 0)
		return 2;
	if (nm == NATS_MODE_WORKER || nm == NATS_MODE_EVENTS)
		return nats_worker_main(argc, argv);
	int rc = collector_options(c, &op, argc, argv);
	if (rc)
		return rc;
	const struct collector_mode *m = NULL;
	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++)
		if (!strcmp(modes[i].name, op.mode))
			m = &modes[i];
	if (!m) {
		fprintf(stderr, "herdwatch-collector: --mode %s: unknown mode (one of:", op.mode);
		for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++)
			fprintf(stderr, " %s", modes[i].name);
		fprintf(stderr, ")\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	rc = m->run(c, &op);
	nats_api_free(c);
	collector_shutdown(c, rc);
	nats_ingest_free(c->nats);
	return rc;
}
