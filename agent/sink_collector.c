/* sink_collector.c - the collector stream (agent/ship.c: batches, spool, TLS, acks) as a
 * sink. ship_event() copies and never waits for the network; what it cannot keep it counts
 * per cause, announced here (agent/sink.h). */
#include "agent/agent.h"
#include "agent/sink.h"
#include <stdio.h>
#include <string.h>

static bool coll_put(struct hw_sink *s, const char *kind, uint64_t seq, const char *line, size_t n)
{
	struct agent *a = s->a;
	if (a->ship)
		ship_event(a->ship, seq, line, n - 1); /* drops counted by the ship, by cause */
	return true;
}

/* the open batch into the spool's journal: a kill -9 from now on loses none of it */
static void coll_batch(struct hw_sink *s, bool new_events, int idle_passes)
{
	if (new_events && s->a->ship)
		ship_sync(s->a->ship);
}

static void coll_flush(struct hw_sink *s)
{
	if (s->a->ship)
		ship_sync(s->a->ship);
}

/* Events the stream dropped, one agent.loss per cause: spool_full (the oldest batches go
 * first), spool_unreadable (a spooled batch's file vanished or was unreadable), ship_error
 * (could not be queued: out of memory, compression failed). */
static bool coll_announce(struct agent *a, struct hw_sink *s)
{
	struct ship_stats st;
	if (!a->ship)
		return true;
	ship_get_stats(a->ship, &st);
	/* a connection that fails is said once per reason, and its end once */
	if (strcmp(st.error, a->ship_error_said)) {
		if (st.error[0])
			agent_log("collector: %s (events wait in the spool)\n", st.error);
		else if (a->ship_error_said[0])
			agent_log("collector: connected again\n");
		snprintf(a->ship_error_said, sizeof(a->ship_error_said), "%s", st.error);
	}
	for (int c = 0; c < SHIP_DROP_NCAUSE; c++) {
		if (st.dropped_by[c] == a->ship_dropped_seen[c])
			continue;
		uint64_t delta = st.dropped_by[c] - a->ship_dropped_seen[c];
		a->ship_dropped_seen[c] = st.dropped_by[c];
		report_loss(a, "*", delta, ship_drop_cause_name(c));
	}
	return true;
}

static void coll_stats(struct hw_sink *s, struct jbuf *b)
{
	struct ship_stats st;
	if (!s->a->ship)
		return;
	ship_get_stats(s->a->ship, &st);
	jb_key(b, "collector");
	jb_obj_begin(b);
	jb_kbool(b, "connected", st.connected);
	jb_ku64(b, "sent", st.sent);
	jb_ku64(b, "acked", st.acked);
	jb_ku64(b, "spooled_bytes", st.spooled_bytes);
	jb_ku64(b, "dropped", st.dropped);
	jb_ku64(b, "reconnects", st.reconnects);
	if (st.error[0])
		jb_kcstr(b, "error", st.error);
	jb_obj_end(b);
}

/* what the collector has not acknowledged stays in the spool for the next run */
static int coll_drain(struct hw_sink *s)
{
	struct agent *a = s->a;
	if (a->ship) {
		ship_close(a->ship, 5000);
		a->ship = NULL;
	}
	return 0;
}

const struct hw_sink_ops hw_sink_collector = {
	.name = "collector",
	.put = coll_put,
	.batch = coll_batch,
	.flush = coll_flush,
	.announce = coll_announce,
	.stats = coll_stats,
	.drain = coll_drain,
};
