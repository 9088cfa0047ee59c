// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * nats_api.c - `herdwatch-collector --mode api --nats URL[,URL...] --shard-dir DIR --db FILE`:
 * the query API of a scale-out deployment (docs/scale-out.md "Query API"), so that the
 * herdwatch CLI and anything else written against the embedded collector's API work unchanged.
 *
 * Contract. The process serves the embedded collector's HTTP API (api.c, the same code):
 *  - /api/events reads every shard DIR/part-NNN.db read-only and merges them; event ids are
 *    <stream sequence of the message> << 16 | line (nats_part.c), so they are unique across the
 *    shards and ordered as JetStream accepted the batches: ordering, paging (after=, before=)
 *    and filters are those of one database. Shards that appear later are opened on the next
 *    second's tick.
 *  - alerts come from the stream HW_ALERT through a durable consumer of this process
 *    (api-<id>, --api-id, default "api"): each is stored in the alerts table of --db (the
 *    embedded collector's schema) unless its Nats-Msg-Id was stored before (table
 *    alert_msgids, in the same transaction), so a redelivery or a worker raising the alert
 *    again after a takeover is stored once; only after the commit is the message
 *    acknowledged. A new alert also goes to the embedded collector's alert outputs
 *    (alert_out.c: stdout, --response-cmd, --syslog, --webhook), at least once. /api/alerts then
 *    reads --db as in embedded mode.
 *  - /api/herds and /api/members restore each partition's checkpoint (hw_ckpt) into a herd
 *    engine of their own and list what they hold: the herd state as of the last checkpoint.
 *  - /api/request answers 501: control requests go to the ingest holding the agent's
 *    connection (its own API). /api/stats and /metrics count this process's work.
 * An alert message that is not a JSON object with a kind is refused, said and counted
 * (bad_alerts in the exit line) and acknowledged (it would never parse).
 */
#include <dirent.h>

#include "collector/collector.h"
#include "collector/http.h"
#include "collector/nats.h"

#define API_FETCH 256

struct nats_api {
	struct nats_link link;
	const char *shard_dir;
	char durable[80];
	natsSubscription *sub;
	kvStore *ckpt;
	uint8_t *opened; /* per partition: its shard is in c->shards */
	sqlite3_stmt *seen, *mark;
	struct event *tick;
	struct herd_cfg hc;
	unsigned ticks;
	unsigned long long alerts_new, alerts_dup, bad_alerts;
	struct jtok toks[1024];
};

/* --mode api's own options (taken out of argv by nats_mode_args): 0, or -1 (said). */
int nats_api_new(struct collector *c, const char *urls, unsigned partitions, int replicas,
		 const char *shard_dir, const char *id)
{
	if (!shard_dir) {
		fprintf(stderr, "herdwatch-collector: --mode api needs --shard-dir DIR\n");
		return -1;
	}
	if (strspn(id, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_") !=
		    strlen(id) ||
	    !*id || strlen(id) > 64) {
		fprintf(stderr,
			"herdwatch-collector: --api-id: 1 to 64 letters, digits, - and _\n");
		return -1;
	}
	struct nats_api *a = calloc(1, sizeof(*a));
	if (!a || nats_link_open(&a->link, urls, partitions, replicas)) {
		free(a);
		return -1;
	}
	a->shard_dir = shard_dir;
	snprintf(a->durable, sizeof(a->durable), "api-%s", id);
	c->napi = a;
	return 0;
}

/* Open the shards not open yet (part-NNN.db, NNN < partitions), read-only. */
static void shards_scan(struct collector *c)
{
	struct nats_api *a = c->napi;
	unsigned P = a->link.partitions;
	if (!c->shards && !(c->shards = calloc(P, sizeof(*c->shards))))
		return;
	if (!a->opened && !(a->opened = calloc(P, 1)))
		return;
	DIR *d = opendir(a->shard_dir);
	if (!d)
		return; /* no worker has made it yet */
	struct dirent *de;
	while ((de = readdir(d))) {
		unsigned p;
		char tail[8];
		if (sscanf(de->d_name, "part-%u.%7s", &p, tail) != 2 || strcmp(tail, "db") ||
		    p >= P)
			continue;
		char path[4200];
		if (a->opened[p] || c->nshards == P)
			continue;
		snprintf(path, sizeof(path), "%s/%s", a->shard_dir, de->d_name);
		sqlite3 *db = NULL;
		if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL) !=
		    SQLITE_OK) {
			fprintf(stderr, "herdwatch-collector: api: shard %s: %s\n", path,
				sqlite3_errmsg(db));
			sqlite3_close(db);
			continue;
		}
		sqlite3_busy_timeout(db, 2000);
		c->shards[c->nshards++] = db;
		a->opened[p] = 1;
	}
	closedir(d);
}

/* The durable consumer of HW_ALERT, and the table of the msg-ids stored. */
static int alerts_open(struct collector *c)
{
	struct nats_api *a = c->napi;
	sqlite3 *db = store_db(c->st);
	if (sqlite3_exec(db,
			 "CREATE TABLE IF NOT EXISTS alert_msgids(msgid TEXT PRIMARY KEY,"
			 " alert INTEGER NOT NULL)",
			 NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, "SELECT 1 FROM alert_msgids WHERE msgid=?", -1, &a->seen,
			       NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db,
			       "INSERT INTO alert_msgids VALUES(?, (SELECT max(id) FROM alerts))",
			       -1, &a->mark, NULL) != SQLITE_OK) {
		fprintf(stderr, "herdwatch-collector: api: %s: %s\n", "alert_msgids",
			sqlite3_errmsg(db));
		return -1;
	}
	jsSubOptions so;
	jsSubOptions_Init(&so);
	so.Stream = NATS_ALERT_STREAM;
	so.Config.Durable = a->durable;
	so.Config.AckPolicy = js_AckExplicit;
	so.Config.DeliverPolicy = js_DeliverAll;
	so.Config.AckWait = 30ll * 1000000000ll;
	so.Config.Replicas = a->link.replicas;
	jsErrCode jerr = 0;
	natsStatus s = js_PullSubscribe(&a->sub, a->link.js, NATS_ALERT_SUBJECT, a->durable, NULL,
					&so, &jerr);
	if (s != NATS_OK) {
		fprintf(stderr, "herdwatch-collector: api: consumer %s of %s: %s (%d)\n",
			a->durable, NATS_ALERT_STREAM, natsStatus_GetText(s), (int)jerr);
		return -1;
	}
	a->ckpt = nats_kv(&a->link, "hw_ckpt", 0, 1);
	return a->ckpt ? 0 : -1;
}

/* One alert message: stored and given to the outputs unless its msg-id was stored before. */
static void alert_take(struct collector *c, natsMsg *m)
{
	struct nats_api *a = c->napi;
	const char *msgid = NULL, *json = natsMsg_GetData(m);
	int len = natsMsg_GetDataLength(m);
	natsMsgHeader_Get(m, "Nats-Msg-Id", &msgid);
	jsMsgMetaData *meta = NULL;
	char id[64];
	if (natsMsg_GetMetaData(&meta, m) != NATS_OK)
		meta = NULL;
	if (!msgid) { /* not published by a worker: its stream sequence is its identity */
		snprintf(id, sizeof(id), "seq-%llu",
			 meta ? (unsigned long long)meta->Sequence.Stream : 0ull);
		msgid = id;
	}
	uint64_t ts = meta && meta->Timestamp > 0 ? (uint64_t)meta->Timestamp : now_ns();
	jsMsgMetaData_Destroy(meta);
	sqlite3_bind_text(a->seen, 1, msgid, -1, SQLITE_TRANSIENT);
	int dup = sqlite3_step(a->seen) == SQLITE_ROW;
	sqlite3_reset(a->seen);
	if (dup) {
		a->alerts_dup++;
		return;
	}
	int n = json && len > 0 ? json_parse(json, (size_t)len, a->toks, 1024) : -1;
	struct jdoc d = {json, a->toks, n};
	char kind[64], sev[16], herd[256], member[512];
	int ki = n > 0 && a->toks[0].type == J_OBJ ? json_get(&d, 0, "kind") : -1;
	if (ki < 0 || json_str(&d, ki, kind, sizeof(kind)) < 0) {
		a->bad_alerts++;
		fprintf(stderr,
			"herdwatch-collector: api: alert %s refused: not a JSON object "
			"with a kind\n",
			msgid);
		return;
	}
	int si = json_get(&d, 0, "severity"), hi = json_get(&d, 0, "herd"),
	    mi = json_get(&d, 0, "member"), sc = json_get(&d, 0, "score");
	if (si < 0 || json_str(&d, si, sev, sizeof(sev)) < 0)
		snprintf(sev, sizeof(sev), "alert");
	int has_herd = hi >= 0 && json_str(&d, hi, herd, sizeof(herd)) >= 0;
	int has_member = mi >= 0 && json_str(&d, mi, member, sizeof(member)) >= 0;
	double score = sc >= 0 ? strtod(json + a->toks[sc].start, NULL) : 0;
	on_alert(c, json, (size_t)len, kind, sev, has_herd ? herd : NULL,
		 has_member ? member : NULL, score, ts);
	sqlite3_bind_text(a->mark, 1, msgid, -1, SQLITE_TRANSIENT);
	if (sqlite3_step(a->mark) != SQLITE_DONE)
		c->store_failed = 1;
	sqlite3_reset(a->mark);
	a->alerts_new++;
}

/* Everything new on HW_ALERT: stored in one transaction, acknowledged after its commit. */
static void alerts_pull(struct collector *c)
{
	struct nats_api *a = c->napi;
	for (int round = 0; round < 16; round++) {
		natsMsgList list = {0};
		jsFetchRequest fr;
		jsFetchRequest_Init(&fr);
		fr.Batch = API_FETCH;
		fr.NoWait = true;
		if (natsSubscription_FetchRequest(&list, a->sub, &fr) != NATS_OK || !list.Count) {
			natsMsgList_Destroy(&list);
			return;
		}
		if (!store_in_txn(c->st) && store_begin(c->st))
			c->store_failed = 1;
		c->txn_start_ns = now_ns();
		for (int i = 0; i < list.Count && !c->store_failed; i++)
			alert_take(c, list.Msgs[i]);
		int failed = c->store_failed;
		unsigned long long before = c->storage_errors;
		commit(c);
		failed |= c->storage_errors != before;
		for (int i = 0; i < list.Count; i++)
			if (failed)
				natsMsg_Nak(list.Msgs[i], NULL); /* delivered again */
			else
				natsMsg_Ack(list.Msgs[i], NULL);
		int full = list.Count == API_FETCH;
		natsMsgList_Destroy(&list);
		if (failed || !full)
			return;
	}
}

static void api_tick(evutil_socket_t fd, short what, void *arg)
{
	struct collector *c = arg;
	struct nats_api *a = c->napi;
	alerts_pull(c);
	if (++a->ticks % 10 == 1) { /* every second */
		shards_scan(c);
		alert_outputs_tick(c);
	}
	response_check(c);
}

static void api_signal(evutil_socket_t sig, short what, void *arg)
{
	struct collector *c = arg;
	fprintf(stderr, "herdwatch-collector: signal %d, exiting\n", (int)sig);
	event_base_loopbreak(c->base);
}

/* The engines here judge nothing: they only hold restored state. */
static void no_alert(void *ctx, const char *json, size_t len, const char *kind, const char *sev,
		     const char *herd, const char *member, double score, uint64_t now)
{
}

/* A member listed by several partitions (a host is seen where each of its events' herds is
 * judged): the entry that judged most of its tokens is kept. */
struct mentry {
	char name[256];
	long long tokens;
	int start, end;
};

static int mentry_cmp(const void *a, const void *b)
{
	const struct mentry *x = a, *y = b;
	int c = strcmp(x->name, y->name);
	return c ? c : (x->tokens < y->tokens) - (x->tokens > y->tokens);
}

/* The members of the joined list all (a JSON array) once each, into b. */
static void members_once(const struct jbuf *all, struct jbuf *b)
{
	int cap = (int)all->len + 2, n;
	struct jtok *t = malloc(sizeof(*t) * (size_t)cap);
	struct mentry *m = NULL;
	n = t ? json_parse(all->p, all->len, t, cap) : -1;
	if (n > 0 && t[0].type == J_ARR)
		m = calloc(t[0].size + 1, sizeof(*m));
	if (!m) {
		b->oom = 1;
		free(t);
		return;
	}
	struct jdoc d = {all->p, t, n};
	size_t k = 0;
	for (int i = 1; k < t[0].size; k++, i = (int)t[i].next) {
		int ok = 0;
		json_str(&d, json_get(&d, i, "member"), m[k].name, sizeof(m[k].name));
		m[k].tokens = json_int(&d, json_get(&d, i, "tokens"), &ok);
		m[k].start = t[i].start;
		m[k].end = t[i].end;
	}
	qsort(m, k, sizeof(*m), mentry_cmp);
	jb_puts(b, "[");
	for (size_t i = 0, o = 0; i < k; i++) {
		if (i && !strcmp(m[i].name, m[i - 1].name))
			continue;
		jb_puts(b, o++ ? "," : "");
		jb_raw(b, all->p + m[i].start, (size_t)(m[i].end - m[i].start));
	}
	jb_puts(b, "]");
	free(m);
	free(t);
}

/* GET /api/herds or /api/members in --mode api: every partition's checkpoint restored into an
 * engine of its own, their lists joined (a herd lives in one partition). */
void nats_api_herds(struct evhttp_request *req, struct collector *c, int members)
{
	struct nats_api *a = c->napi;
	struct jbuf b = {0};
	jb_puts(&b, "[");
	int any = 0;
	uint64_t now = now_ns();
	for (unsigned p = 0; p < a->link.partitions; p++) {
		char key[32];
		snprintf(key, sizeof(key), "part.%u", p);
		kvEntry *e = NULL;
		if (kvStore_Get(&e, a->ckpt, key) != NATS_OK)
			continue;
		const uint8_t *v = kvEntry_Value(e);
		int vl = kvEntry_ValueLen(e);
		uint64_t raw = 0;
		for (int i = 7; vl >= 16 && i >= 0; i--)
			raw = raw << 8 | v[8 + i];
		uint8_t *buf = raw && raw < (1ull << 31) ? malloc(raw) : NULL;
		size_t got = buf ? ZSTD_decompress(buf, raw, v + 16, (size_t)vl - 16) : 0;
		struct herd_engine *h = herd_new(&a->hc, no_alert, NULL);
		char *s = NULL;
		if (h && buf && !ZSTD_isError(got) && got == raw && !herd_restore(h, buf, raw, now))
			s = members ? herd_dump_members(h, now) : herd_dump_herds(h, now);
		size_t sl = s ? strlen(s) : 0;
		if (sl > 2 && s[0] == '[' && s[sl - 1] == ']') {
			jb_puts(&b, any ? "," : "");
			jb_raw(&b, s + 1, sl - 2);
			any = 1;
		}
		free(s);
		herd_free(h);
		free(buf);
		kvEntry_Destroy(e);
	}
	jb_puts(&b, "]");
	if (members && !b.oom) {
		struct jbuf once = {0};
		members_once(&b, &once);
		free(b.p);
		b = once;
	}
	http_reply_json(req, 200, &b);
}

/* --mode api: the query API over the shards and the alert stream. */
int run_api(struct collector *c, struct collector_opts *op)
{
	struct nats_api *a = c->napi;
	if (!a) {
		fprintf(stderr, "herdwatch-collector: --mode api needs --nats URL[,URL...]\n");
		return 2;
	}
	a->hc = op->hc;
	if (collector_open_store(c, op) || alerts_open(c))
		return 1;
	c->herd = herd_new(&op->hc, no_alert, NULL); /* empty: /api/stats counts no member here */
	c->base = event_base_new();
	if (!c->herd || !c->base || collector_http(c, op))
		return 1;
	shards_scan(c);
	a->tick = event_new(c->base, -1, EV_PERSIST, api_tick, c);
	c->sigint = evsignal_new(c->base, SIGINT, api_signal, c);
	c->sigterm = evsignal_new(c->base, SIGTERM, api_signal, c);
	if (!a->tick || !c->sigint || !c->sigterm)
		return 1;
	struct timeval tv = {0, 100000};
	event_add(a->tick, &tv);
	event_add(c->sigint, NULL);
	event_add(c->sigterm, NULL);
	fprintf(stderr,
		"herdwatch-collector: api mode: API on http://%s, shards in %s (%u partitions), "
		"alerts from %s (consumer %s) into %s\n",
		op->http_a, a->shard_dir, a->link.partitions, NATS_ALERT_STREAM, a->durable,
		op->db);
	event_base_dispatch(c->base);
	commit(c);
	return 0;
}

void nats_api_free(struct collector *c)
{
	struct nats_api *a = c->napi;
	if (!a)
		return;
	fprintf(stderr,
		"herdwatch-collector: api: %llu alerts stored from %s, %llu duplicates dropped, "
		"%llu bad alerts\n",
		a->alerts_new, NATS_ALERT_STREAM, a->alerts_dup, a->bad_alerts);
	for (unsigned i = 0; i < c->nshards; i++)
		sqlite3_close(c->shards[i]);
	free(c->shards);
	free(a->opened);
	c->shards = NULL;
	c->nshards = 0;
	if (a->tick)
		event_free(a->tick);
	sqlite3_finalize(a->seen);
	sqlite3_finalize(a->mark);
	if (a->sub)
		natsSubscription_Destroy(a->sub);
	kvStore_Destroy(a->ckpt);
	nats_link_close(&a->link);
	free(a);
	c->napi = NULL;
}
