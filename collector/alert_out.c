// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * alert_out.c - where an alert goes: one list of alert outputs, each called in turn by
 * on_alert() (the herd engine's callback). The list is built once at start from the options:
 *   store     always: the alerts table (in the open transaction; a failure rolls it back)
 *   stdout    always: the alert's JSON line
 *   response  --response-cmd: a command per alert (collector/response.c)
 *   syslog    --syslog ADDRESS: RFC 5424, MSGID the alert kind, severity alert (1) for an
 *             alert and notice (5) for a notice (common/relay.h)
 *   webhook   --webhook URL: JSON arrays POSTed (--webhook-ca, --webhook-header)
 * syslog and webhook run on their own threads with bounded queues: a down endpoint holds only
 * its own queue and never the event loop. An alert one of them cannot take (queue full,
 * longer than a syslog message may be) is counted by output and cause (/api/stats,
 * /metrics) and said on stderr once per episode; so is an endpoint going down and coming back.
 */
#include "collector/collector.h"
#include "common/relay.h"

static void out_store(struct collector *c, const struct alert_rec *al)
{
	if (!store_in_txn(c->st)) {
		if (store_begin(c->st))
			c->store_failed = 1;
		c->txn_start_ns = now_ns();
	}
	if (store_alert(c->st, al->now, al->kind, al->sev, al->herd, al->member, al->score,
			al->json, al->len))
		c->store_failed = 1; /* the caller rolls back (commit) */
}

static void out_stdout(struct collector *c, const struct alert_rec *al)
{
	fwrite(al->json, 1, al->len, stdout);
	fputc('\n', stdout);
	fflush(stdout);
}

static void out_response(struct collector *c, const struct alert_rec *al)
{
	run_response(c, al->json, al->len);
}

static void out_relay(struct collector *c, struct alert_relay *o, const struct alert_rec *al)
{
	unsigned sev = !strcmp(al->sev, "alert") ? 1 : 5;
	enum relay_put_result r = relay_put(o->r, sev, al->kind, al->json, al->len);
	if (r == RELAY_OK)
		return;
	if (r == RELAY_FULL)
		o->dropped_full++;
	else
		o->dropped_oversize++;
	if (!o->drop_said) {
		fprintf(stderr,
			"herdwatch-collector: %s alert output: an alert was dropped (%s); counted "
			"in "
			"alert_outputs.%s of /api/stats\n",
			o->name, r == RELAY_FULL ? "its queue is full" : "longer than a message",
			o->name);
		o->drop_said = 1;
	}
}

static void out_syslog(struct collector *c, const struct alert_rec *al)
{
	out_relay(c, &c->relays[0], al);
}

static void out_webhook(struct collector *c, const struct alert_rec *al)
{
	out_relay(c, &c->relays[1], al);
}

static void add(struct collector *c, const char *name,
		void (*emit)(struct collector *, const struct alert_rec *))
{
	c->alert_outs[c->nalert_outs++] = (struct alert_output){.name = name, .emit = emit};
}

int alert_out_check(struct alert_out_opts *ao)
{
	char err[256];
	int f = relay_facility(ao->facility_name ? ao->facility_name : "daemon");
	if (f < 0) {
		fprintf(stderr,
			"herdwatch-collector: --syslog-facility: '%s' is not a syslog facility "
			"(kern, "
			"user, daemon, auth, authpriv, local0..local7, ...)\n",
			ao->facility_name);
		return -1;
	}
	ao->facility = (unsigned)f;
	if (gethostname(ao->hostname, sizeof(ao->hostname) - 1))
		ao->hostname[0] = 0;
	struct relay_opts s = {.kind = RELAY_SYSLOG, .target = ao->syslog, .max_message = 65536};
	if (ao->syslog && relay_check(&s, err, sizeof(err))) {
		fprintf(stderr, "herdwatch-collector: --syslog: %s\n", err);
		return -1;
	}
	struct relay_opts w = {.kind = RELAY_WEBHOOK, .target = ao->webhook};
	for (unsigned h = 0; h < ao->nheaders; h++)
		w.headers[w.nheaders++] = ao->headers[h];
	if (!ao->webhook && (ao->nheaders || ao->webhook_ca)) {
		fprintf(stderr, "herdwatch-collector: --webhook-ca and --webhook-header need "
				"--webhook URL\n");
		return -1;
	}
	if (ao->webhook && relay_check(&w, err, sizeof(err))) {
		fprintf(stderr, "herdwatch-collector: --webhook: %s\n", err);
		return -1;
	}
	if (ao->webhook_ca && access(ao->webhook_ca, R_OK)) {
		fprintf(stderr, "herdwatch-collector: --webhook-ca %s: %s\n", ao->webhook_ca,
			strerror(errno));
		return -1;
	}
	return 0;
}

int alert_outputs_init(struct collector *c, const struct alert_out_opts *ao)
{
	char err[256];
	add(c, "store", out_store);
	add(c, "stdout", out_stdout);
	if (c->response_cmd)
		add(c, "response", out_response);
	c->relays[0].name = "syslog";
	c->relays[1].name = "webhook";
	for (int i = 0; i < 2; i++) {
		struct relay_opts ro = {
			.kind = i ? RELAY_WEBHOOK : RELAY_SYSLOG,
			.target = i ? ao->webhook : ao->syslog,
			.buffer_bytes = 4u << 20,
			.timeout_ms = 5000,
			.app_name = "herdwatch-collector",
			.hostname = ao->hostname,
			.facility = ao->facility,
			.max_message = 65536,
			.ca_file = ao->webhook_ca,
			.batch_max = 100,
			.linger_ms = 100,
		};
		if (!ro.target)
			continue;
		for (unsigned h = 0; i && h < ao->nheaders; h++)
			ro.headers[ro.nheaders++] = ao->headers[h];
		if (relay_open(&c->relays[i].r, &ro, err, sizeof(err))) {
			fprintf(stderr, "herdwatch-collector: --%s %s: %s\n",
				i ? "webhook" : "syslog", ro.target, err);
			return -1;
		}
		c->relays[i].target = ro.target;
		add(c, c->relays[i].name, i ? out_webhook : out_syslog);
	}
	return 0;
}

void on_alert(void *ctx, const char *json, size_t len, const char *kind, const char *sev,
	      const char *herd, const char *member, double score, uint64_t now)
{
	struct collector *c = ctx;
	const struct alert_rec al = {json, len, kind, sev, herd, member, score, now};
	c->alerts++;
	cmetrics_count_alert(&c->alert_counts, kind, sev);
	for (int i = 0; i < c->nalert_outs; i++)
		c->alert_outs[i].emit(c, &al);
}

/* Once a second: an endpoint that went down or came back is said once per change. */
void alert_outputs_tick(struct collector *c)
{
	for (int i = 0; i < 2; i++) {
		struct alert_relay *o = &c->relays[i];
		struct relay_stats st;
		if (!o->r)
			continue;
		relay_stats(o->r, &st);
		if (!st.up && !o->down_said)
			fprintf(stderr,
				"herdwatch-collector: %s alert output to %s is down: %s (alerts "
				"are "
				"held, up to 4 MiB, and retried)\n",
				o->name, o->target, st.error);
		else if (st.up && o->down_said)
			fprintf(stderr, "herdwatch-collector: %s alert output to %s works again\n",
				o->name, o->target);
		o->down_said = !st.up;
		if (st.up && !st.queued)
			o->drop_said = 0;
	}
}

void alert_outputs_json(struct collector *c, struct jbuf *b)
{
	jb_puts(b, "{");
	for (int i = 0, n = 0; i < 2; i++) {
		struct alert_relay *o = &c->relays[i];
		struct relay_stats st;
		if (!o->r)
			continue;
		relay_stats(o->r, &st);
		jb_printf(b,
			  "%s\"%s\":{\"up\":%s,\"sent\":%llu,\"queued\":%llu,\"failures\":%llu,"
			  "\"rejected\":%llu,\"dropped_full\":%llu,\"dropped_oversize\":%llu}",
			  n++ ? "," : "", o->name, st.up ? "true" : "false",
			  (unsigned long long)st.sent, (unsigned long long)st.queued,
			  (unsigned long long)st.failures, (unsigned long long)st.rejected,
			  o->dropped_full, o->dropped_oversize);
	}
	jb_puts(b, "}");
}

void alert_outputs_metrics(struct collector *c, struct cmetrics *m)
{
	for (int i = 0; i < 2; i++) {
		struct alert_relay *o = &c->relays[i];
		struct relay_stats st;
		if (!o->r)
			continue;
		relay_stats(o->r, &st);
		m->outputs[m->noutputs++] = (struct cmetrics_output){
			.name = o->name,
			.up = st.up,
			.sent = st.sent,
			.failures = st.failures,
			.queued = st.queued,
			.dropped_full = o->dropped_full,
			.dropped_oversize = o->dropped_oversize,
			.rejected = st.rejected,
		};
	}
}

void alert_outputs_close(struct collector *c, unsigned wait_ms)
{
	for (int i = 0; i < 2; i++) {
		struct alert_relay *o = &c->relays[i];
		if (!o->r)
			continue;
		uint64_t lost = relay_close(o->r, wait_ms, NULL);
		o->r = NULL;
		if (lost)
			fprintf(stderr,
				"herdwatch-collector: %llu alerts could not be sent to the %s "
				"alert "
				"output at exit\n",
				(unsigned long long)lost, o->name);
	}
}
