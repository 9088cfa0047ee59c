/* sink_relay.c - outputs.syslog and outputs.webhook as sinks (agent/sink.h). Each is a relay
 * (common/relay.h): its own thread and bounded queue, so put() is a copy into memory and a
 * down endpoint holds only its own queue. What they lose is counted like every loss:
 * - queue full: under the event's kind, cause syslog_full or webhook_full;
 * - a message longer than outputs.syslog.max_message: cause syslog_oversize;
 * - a webhook batch answered with a final 4xx: cause webhook_rejected (kind "*");
 * - what an output that the config removed still held: syslog_unsent or webhook_unsent.
 * They are announced at once (agent.loss reaches the file output and the collector stream),
 * and an output going down or coming back is said on stderr once per change. */
#include "agent/agent.h"
#include "agent/sink.h"
#include "common/relay.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct relay_sink {
	const char *name; /* "syslog", "webhook" */
	enum relay_kind kind;
	struct relay *r;
	char *sig; /* the settings r runs with, to see a reload change them */
	uint64_t rejected_seen;
	bool down_said;
};

static struct relay_sink *state(struct hw_sink *s)
{
	return s->priv;
}

static const struct hw_output_config *cfg_of(struct agent *a, struct relay_sink *rs)
{
	return rs->kind == RELAY_SYSLOG ? &a->cfg.outputs.syslog : &a->cfg.outputs.webhook;
}

static void opts_of(struct agent *a, struct relay_sink *rs, struct relay_opts *ro)
{
	const struct hw_output_config *c = cfg_of(a, rs);
	memset(ro, 0, sizeof(*ro));
	ro->kind = rs->kind;
	ro->target = c->address;
	ro->buffer_bytes = (size_t)c->buffer_kb << 10;
	ro->timeout_ms = c->timeout_ms;
	ro->app_name = "herdwatch-agent";
	ro->hostname = a->cfg.host_name ? a->cfg.host_name : a->host_name;
	ro->facility = c->facility;
	ro->max_message = c->max_message;
	ro->ca_file = c->ca;
	for (unsigned i = 0; i < c->nheaders && i < RELAY_MAX_HEADERS; i++)
		ro->headers[ro->nheaders++] = c->headers[i];
	ro->batch_max = c->batch_max;
	ro->linger_ms = c->flush_ms;
}

/* The settings as one string ('\n' never occurs in a checked value). */
static char *signature(const struct relay_opts *o)
{
	char *s = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&s, &n);
	if (!f)
		return NULL;
	fprintf(f, "%s\n%zu\n%u\n%s\n%s\n%u\n%u\n%s\n%u\n%u\n", o->target, o->buffer_bytes,
		o->timeout_ms, o->app_name, o->hostname ? o->hostname : "", o->facility,
		o->max_message, o->ca_file ? o->ca_file : "", o->batch_max, o->linger_ms);
	for (unsigned i = 0; i < o->nheaders; i++)
		fprintf(f, "%s\n", o->headers[i]);
	fclose(f);
	return s;
}

static void stop_relay(struct agent *a, struct relay_sink *rs, struct relay *into)
{
	uint64_t lost = relay_close(rs->r, 0, into);
	rs->r = NULL;
	if (lost) {
		char cause[32];
		snprintf(cause, sizeof(cause), "%s_unsent", rs->name);
		agent_log("%s output removed: %llu events it held are lost\n", rs->name,
			  (unsigned long long)lost);
		report_loss(a, "*", lost, cause);
	}
}

/* Batches a webhook answered with a final 4xx since the last call, as one agent.loss. */
static void relay_announce_rejected(struct agent *a, struct relay_sink *rs)
{
	struct relay_stats st;
	relay_stats(rs->r, &st);
	if (st.rejected != rs->rejected_seen) {
		char cause[32];
		snprintf(cause, sizeof(cause), "%s_rejected", rs->name);
		report_loss(a, "*", st.rejected - rs->rejected_seen, cause);
		rs->rejected_seen = st.rejected;
	}
}

/* Start, restart or stop one output to match the config. */
static void apply_one(struct agent *a, struct relay_sink *rs)
{
	struct relay_opts ro;
	opts_of(a, rs, &ro);
	char *sig = ro.target ? signature(&ro) : NULL;
	if (rs->r && sig && rs->sig && !strcmp(sig, rs->sig)) {
		free(sig);
		return;
	}
	struct relay *nr = NULL;
	char err[256];
	if (ro.target && relay_open(&nr, &ro, err, sizeof(err))) {
		agent_log("cannot start the %s output to %s: %s\n", rs->name, ro.target, err);
		nr = NULL;
	}
	if (rs->r) {
		relay_announce_rejected(a, rs);
		stop_relay(a, rs, nr);
	}
	rs->rejected_seen = 0;
	rs->down_said = false;
	rs->r = nr;
	free(rs->sig);
	rs->sig = nr ? sig : NULL;
	if (!nr)
		free(sig);
}

static bool relay_put_sink(struct hw_sink *s, const char *kind, uint64_t seq, const char *line,
			   size_t n)
{
	struct relay_sink *rs = state(s);
	if (!rs->r)
		return true;
	unsigned sev = kind && (!strcmp(kind, "agent.loss") || !strcmp(kind, "agent.tamper"))
			       ? 4  /* warning */
			       : 6; /* info */
	enum relay_put_result r = relay_put(rs->r, sev, kind, line, n);
	if (r == RELAY_TOO_LARGE) {
		count_user_loss(s->a, kind ? kind : "*", HW_ULOSS_SYSLOG_BIG);
		return true;
	}
	return r == RELAY_OK;
}

/* the relay's thread writes on its own: nothing to do per batch */
static void relay_batch(struct hw_sink *s, bool new_events, int idle_passes)
{
}

static void relay_flush(struct hw_sink *s)
{
}

static bool relay_announce(struct agent *a, struct hw_sink *s)
{
	struct relay_sink *rs = state(s);
	struct relay_stats st;
	if (!rs->r)
		return true;
	relay_stats(rs->r, &st);
	const char *target = cfg_of(a, rs)->address;
	if (!st.up && !rs->down_said) {
		agent_log("%s output to %s is down: %s (events are held, up to %u KiB, and "
			  "retried)\n",
			  rs->name, target, st.error, cfg_of(a, rs)->buffer_kb);
		rs->down_said = true;
	} else if (st.up && rs->down_said) {
		agent_log("%s output to %s works again\n", rs->name, target);
		rs->down_said = false;
	}
	relay_announce_rejected(a, rs);
	return true;
}

static void relay_stats_json(struct hw_sink *s, struct jbuf *b)
{
	struct relay_sink *rs = state(s);
	struct relay_stats st;
	if (!rs->r)
		return;
	relay_stats(rs->r, &st);
	jb_key(b, rs->name);
	jb_obj_begin(b);
	jb_kbool(b, "up", st.up);
	jb_ku64(b, "sent", st.sent);
	jb_ku64(b, "queued", st.queued);
	jb_ku64(b, "queued_bytes", st.queued_bytes);
	jb_ku64(b, "failures", st.failures);
	if (rs->kind == RELAY_WEBHOOK)
		jb_ku64(b, "rejected", st.rejected);
	if (st.error[0])
		jb_kcstr(b, "last_error", st.error);
	jb_obj_end(b);
}

/* at exit: up to 2 s to deliver what waits */
static int relay_drain(struct hw_sink *s)
{
	struct relay_sink *rs = state(s);
	if (!rs->r)
		return 0;
	uint64_t lost = relay_close(rs->r, 2000, NULL);
	rs->r = NULL;
	if (lost)
		agent_log("%llu events could not be sent to the %s output at exit\n",
			  (unsigned long long)lost, rs->name);
	return lost ? -1 : 0;
}

static const struct hw_sink_ops hw_sink_relay = {
	.name = "relay",
	.put = relay_put_sink,
	.batch = relay_batch,
	.flush = relay_flush,
	.announce = relay_announce,
	.stats = relay_stats_json,
	.drain = relay_drain,
};

static struct relay_sink outs[2] = {{.name = "syslog", .kind = RELAY_SYSLOG},
				    {.name = "webhook", .kind = RELAY_WEBHOOK}};

int outputs_start(struct agent *a)
{
	static const int cause[2] = {HW_ULOSS_SYSLOG, HW_ULOSS_WEBHOOK};
	for (int i = 0; i < 2; i++) {
		int k = sinks_add(a, &hw_sink_relay, cause[i]);
		if (k < 0)
			return -1;
		a->sinks[k].priv = &outs[i];
	}
	outputs_apply(a);
	return 0;
}

void outputs_apply(struct agent *a)
{
	for (int i = 0; i < 2; i++)
		apply_one(a, &outs[i]);
}

void outputs_close(struct agent *a)
{
	for (int i = 0; i < 2; i++) {
		relay_close(outs[i].r, 0, NULL);
		outs[i].r = NULL;
		free(outs[i].sig);
		outs[i].sig = NULL;
	}
}

int outputs_stats(struct agent *a, const char *name[2], struct relay_stats *st)
{
	int n = 0;
	for (int i = 0; i < 2; i++)
		if (outs[i].r) {
			name[n] = outs[i].name;
			relay_stats(outs[i].r, &st[n++]);
		}
	return n;
}
