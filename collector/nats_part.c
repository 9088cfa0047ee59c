// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * nats_part.c - one partition of a herd-engine worker (docs/scale-out.md "Exactly once").
 *
 * Contract. A partition is owned through its lease (nats_worker.c); while owned:
 *  - claim: open the partition's SQLite shard (<shard-dir>/part-NNN.db), restore the judged
 *    herd state of its checkpoint (hw_ckpt part.<p>: u64 stream sequence covered + zstd of
 *    herd_save), and (re)create its durable consumer part-<p> to deliver from the sequence
 *    after the checkpoint, so whatever a previous owner had not covered is delivered again at
 *    once (not after an ack timeout).
 *  - each message beyond done_seq: every event is judged (the herd engine sees it again after
 *    a takeover: its state is the checkpoint's) and stored unless the shard already holds its
 *    (run, seq) (store.c's stream state, written in the same transaction as the events); a
 *    message at or below done_seq (a redelivery while owned) is only acknowledged later.
 *  - checkpoint, when no candidate is held by the engine (herd_save does not hold them, so a
 *    checkpoint taken while one is held could lose its alert): commit the shard, put the
 *    state, then acknowledge every message it covers.
 *  - alerts are published to hw.alert with Nats-Msg-Id = a key of (kind, herd, member, tokens):
 *    an alert judged again after a takeover is dropped by JetStream. A publish that fails
 *    sends the partition back to its last checkpoint (part_drop), so it is raised again.
 * Anything that fails half-way (commit, checkpoint, lease) goes back to the last checkpoint:
 * the events are delivered again and the shard's stream state keeps them from being stored
 * twice.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "collector/nats_worker.h"
#include "collector/tokens.h"
#include "common/wire.h"

#define MAX_TOKS 8192

uint64_t w_mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

uint64_t w_real_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int part_lease_valid(const struct part *p)
{
	return p->owned && w_mono_ns() - p->lease_ok_ns < (uint64_t)p->w->lease_ms * 666666ull;
}

/* The alert's dedup key: kind, herd, member and every "token" value in its JSON. */
static uint64_t alert_key(const char *json, size_t len, const char *kind, const char *herd,
			  const char *member)
{
	uint64_t h = nats_fnv1a(kind, strlen(kind) + 1, NATS_FNV_INIT);
	h = nats_fnv1a(herd ? herd : "", herd ? strlen(herd) + 1 : 1, h);
	h = nats_fnv1a(member ? member : "", member ? strlen(member) + 1 : 1, h);
	static const char pat[] = "\"token\":\"";
	const char *e = json + len;
	for (const char *s = json; (s = memmem(s, (size_t)(e - s), pat, sizeof(pat) - 1));) {
		s += sizeof(pat) - 1;
		const char *q = s;
		while (q < e && *q != '"')
			q += *q == '\\' && q + 1 < e ? 2 : 1;
		h = nats_fnv1a(s, (size_t)(q - s) + 1, h);
		s = q;
	}
	return h;
}

static void on_alert(void *ctx, const char *json, size_t len, const char *kind, const char *sev,
		     const char *herd, const char *member, double score, uint64_t now)
{
	struct part *p = ctx;
	struct worker *w = p->w;
	if (p->failed)
		return; /* going back to the checkpoint: it is raised again from there */
	char id[48];
	snprintf(id, sizeof(id), "a-%016llx",
		 (unsigned long long)alert_key(json, len, kind, herd, member));
	jsPubOptions po;
	jsPubOptions_Init(&po);
	po.MsgId = id;
	jsPubAck *pa = NULL;
	jsErrCode jerr = 0;
	natsStatus s = js_Publish(&pa, w->link.js, NATS_ALERT_SUBJECT, json, (int)len, &po, &jerr);
	if (s != NATS_OK) {
		w->alert_failed++;
		p->failed = 1;
		fprintf(stderr,
			"herdwatch-collector: worker %s: partition %u: alert not published (%s): "
			"back to the last checkpoint, it is raised again\n",
			w->id, p->id, natsStatus_GetText(s));
		return;
	}
	if (pa && pa->Duplicate) {
		w->alert_dups++;
	} else {
		w->alerts++;
		fwrite(json, 1, len, stdout);
		fputc('\n', stdout);
		fflush(stdout);
	}
	jsPubAck_Destroy(pa);
}

static int ckpt_key(char *k, size_t n, unsigned id)
{
	return snprintf(k, n, "part.%u", id);
}

/* The checkpoint of p into a fresh engine: 0 (also when there is none), -1 when unreadable. */
static int load_checkpoint(struct part *p)
{
	struct worker *w = p->w;
	char key[32];
	ckpt_key(key, sizeof(key), p->id);
	kvEntry *e = NULL;
	natsStatus s = kvStore_Get(&e, w->ckpt, key);
	if (s == NATS_NOT_FOUND)
		return 0;
	if (s != NATS_OK)
		return -1;
	const uint8_t *v = kvEntry_Value(e);
	int vl = kvEntry_ValueLen(e);
	int rc = -1;
	if (vl >= 16) {
		uint64_t seq = 0, raw = 0;
		for (int i = 7; i >= 0; i--) {
			seq = seq << 8 | v[i];
			raw = raw << 8 | v[8 + i];
		}
		uint8_t *buf = raw && raw < (1ull << 31) ? malloc(raw) : NULL;
		size_t got = buf ? ZSTD_decompress(buf, raw, v + 16, (size_t)vl - 16) : 0;
		if (buf && !ZSTD_isError(got) && got == raw &&
		    !herd_restore(p->herd, buf, raw, w_real_ns())) {
			p->ckpt_seq = p->done_seq = seq;
			rc = 0;
		}
		free(buf);
	}
	if (rc)
		fprintf(stderr,
			"herdwatch-collector: worker %s: partition %u: checkpoint unreadable, not "
			"claimed\n",
			w->id, p->id);
	kvEntry_Destroy(e);
	return rc;
}

/* The durable consumer of p, delivering from the sequence after the checkpoint. */
static int bind_consumer(struct part *p)
{
	struct worker *w = p->w;
	char durable[32], subj[32];
	snprintf(durable, sizeof(durable), "part-%u", p->id);
	snprintf(subj, sizeof(subj), "hw.ev.%u", p->id);
	jsErrCode jerr = 0;
	js_DeleteConsumer(w->link.js, NATS_EV_STREAM, durable, NULL, &jerr);
	jsConsumerConfig cc;
	jsConsumerConfig_Init(&cc);
	cc.Durable = durable;
	cc.FilterSubject = subj;
	cc.AckPolicy = js_AckExplicit;
	cc.AckWait = 60ll * 1000000000ll; /* a checkpoint acknowledges far sooner */
	cc.MaxAckPending = 1000000;
	/* One replica in memory: made in milliseconds, where a replicated one takes a round of
	 * consensus (a claim must not outlast the other leases). Losing it loses nothing: the
	 * checkpoint, not the consumer, says where the partition stands (part_poll's errors). */
	cc.Replicas = 1;
	cc.MemoryStorage = true;
	if (p->ckpt_seq) {
		cc.DeliverPolicy = js_DeliverByStartSequence;
		cc.OptStartSeq = p->ckpt_seq + 1;
	} else {
		cc.DeliverPolicy = js_DeliverAll;
	}
	jsConsumerInfo *ci = NULL;
	jerr = 0;
	natsStatus s = js_AddConsumer(&ci, w->link.js, NATS_EV_STREAM, &cc, NULL, &jerr);
	jsConsumerInfo_Destroy(ci);
	if (s != NATS_OK) {
		fprintf(stderr,
			"herdwatch-collector: worker %s: partition %u: consumer: %s (JetStream "
			"error %d)\n",
			w->id, p->id, natsStatus_GetText(s), (int)jerr);
		return -1;
	}
	jsSubOptions so;
	jsSubOptions_Init(&so);
	so.Stream = NATS_EV_STREAM;
	so.Consumer = durable;
	so.Config = cc; /* binding checks the consumer against these */
	s = js_PullSubscribe(&p->sub, w->link.js, subj, durable, NULL, &so, &jerr);
	if (s != NATS_OK) {
		fprintf(stderr, "herdwatch-collector: worker %s: partition %u: subscribe: %s: %s\n",
			w->id, p->id, natsStatus_GetText(s), nats_GetLastError(NULL));
		return -1;
	}
	return 0;
}

int part_claim(struct part *p)
{
	struct worker *w = p->w;
	char path[4096];
	snprintf(path, sizeof(path), "%s/part-%03u.db", w->shard_dir, p->id);
	p->ckpt_seq = p->done_seq = 0;
	p->failed = 0;
	p->herd = herd_new(&w->hc, on_alert, p);
	if (!p->herd || store_open(&p->st, path, 0) || load_checkpoint(p) || bind_consumer(p)) {
		part_drop(p, "claim failed", 1);
		return -1;
	}
	p->last_ckpt_ns = p->last_tick_ns = p->fetch_ok_ns = w_mono_ns();
	w->claims++;
	if (!w->quiet)
		fprintf(stderr,
			"herdwatch-collector: worker %s: partition %u claimed (checkpoint at "
			"sequence %llu)\n",
			w->id, p->id, (unsigned long long)p->ckpt_seq);
	return 0;
}

/* Give the lease up: an empty value at our revision (a lease another worker took since is
 * left alone). */
static void lease_free(struct part *p)
{
	lease_write(p->w, p->id, &p->lease_rev, 1);
}

static void unacked_free(struct part *p, int ack)
{
	for (size_t i = 0; i < p->nun; i++) {
		if (ack)
			natsMsg_Ack(p->unacked[i], NULL);
		natsMsg_Destroy(p->unacked[i]);
	}
	p->nun = 0;
}

static void part_close(struct part *p)
{
	if (p->sub) {
		natsSubscription_Destroy(p->sub);
		p->sub = NULL;
	}
	if (p->st) {
		if (store_in_txn(p->st))
			store_rollback(p->st);
		store_close(p->st);
		p->st = NULL;
	}
	herd_free(p->herd);
	p->herd = NULL;
	p->owned = 0;
}

void part_drop(struct part *p, const char *why, int delete_lease)
{
	struct worker *w = p->w;
	unacked_free(p, 0);
	part_close(p);
	if (delete_lease)
		lease_free(p);
	w->drops++;
	fprintf(stderr,
		"herdwatch-collector: worker %s: partition %u given up (%s): it resumes from its "
		"last checkpoint\n",
		w->id, p->id, why);
}

int part_checkpoint(struct part *p, int force)
{
	struct worker *w = p->w;
	if (!p->nun && p->ckpt_seq == p->done_seq)
		return 0; /* nothing new */
	struct herd_counts hc;
	herd_counts(p->herd, w_real_ns(), &hc);
	if (hc.candidates) {
		w->ckpt_deferred++;
		return -EAGAIN;
	}
	if (!part_lease_valid(p)) {
		part_drop(p, "lease not renewed in time", 0);
		return -EIO;
	}
	if (store_in_txn(p->st) && store_commit(p->st)) {
		part_drop(p, "shard commit failed", 1);
		return -EIO;
	}
	uint8_t *buf = NULL;
	size_t len = 0;
	if (herd_save(p->herd, &buf, &len)) {
		part_drop(p, "herd state not saved", 1);
		return -EIO;
	}
	size_t cap = 16 + ZSTD_compressBound(len);
	uint8_t *v = malloc(cap);
	size_t zl = v ? ZSTD_compressCCtx(w->cctx, v + 16, cap - 16, buf, len, 1) : 0;
	free(buf);
	int rc = -EIO;
	if (v && !ZSTD_isError(zl)) {
		for (int i = 0; i < 8; i++) {
			v[i] = (uint8_t)(p->done_seq >> (8 * i));
			v[8 + i] = (uint8_t)((uint64_t)len >> (8 * i));
		}
		char key[32];
		ckpt_key(key, sizeof(key), p->id);
		if (kvStore_Put(NULL, w->ckpt, key, v, (int)(16 + zl)) == NATS_OK)
			rc = 0;
	}
	free(v);
	if (rc) {
		part_drop(p, "checkpoint not written", 1);
		return rc;
	}
	p->ckpt_seq = p->done_seq;
	unacked_free(p, 1);
	p->last_ckpt_ns = w_mono_ns();
	w->ckpts++;
	(void)force;
	return 0;
}

int part_release(struct part *p)
{
	int err = part_checkpoint(p, 1);
	if (err == -EAGAIN)
		return err;
	if (err)
		return 0; /* dropped: the next owner resumes from the last checkpoint */
	part_close(p);
	lease_free(p);
	p->w->releases++;
	if (!p->w->quiet)
		fprintf(stderr, "herdwatch-collector: worker %s: partition %u released\n", p->w->id,
			p->id);
	return 0;
}

/* (member, kind) rows of one stored chunk: a short list, searched linearly. */
struct idx_row {
	int64_t member, kind;
	uint64_t lo, hi;
	uint32_t n;
};

/* Store the kept lines (w->raw2, o bytes) as one chunk with its index rows. 0 or -1. */
static int store_lines(struct part *p, struct stream *s, int64_t chunk, int64_t host, size_t o,
		       uint32_t n, uint64_t first_seq, const struct idx_row *rows, uint32_t nrows)
{
	struct worker *w = p->w;
	uint64_t lo = UINT64_MAX, hi = 0;
	for (uint32_t i = 0; i < nrows; i++) {
		lo = rows[i].lo < lo ? rows[i].lo : lo;
		hi = rows[i].hi > hi ? rows[i].hi : hi;
	}
	size_t zl = ZSTD_compressCCtx(w->cctx, w->zbuf, w->zcap, w->raw2, o, 1);
	if (ZSTD_isError(zl) ||
	    store_chunk(p->st, host, first_seq, n, lo, hi, w->zbuf, zl, (uint32_t)o))
		return -1;
	for (uint32_t i = 0; i < nrows; i++)
		if (store_chunk_index(p->st, chunk, rows[i].member, rows[i].kind, rows[i].lo,
				      rows[i].hi, rows[i].n))
			return -1;
	stream_note_chunk(s, host, chunk);
	return 0;
}

static int row_add(struct idx_row *rows, uint32_t *nrows, uint32_t cap, int64_t member,
		   int64_t kind, uint64_t ts)
{
	for (uint32_t i = 0; i < *nrows; i++)
		if (rows[i].member == member && rows[i].kind == kind) {
			rows[i].n++;
			rows[i].lo = ts < rows[i].lo ? ts : rows[i].lo;
			rows[i].hi = ts > rows[i].hi ? ts : rows[i].hi;
			return 0;
		}
	if (*nrows == cap)
		return -1;
	rows[(*nrows)++] = (struct idx_row){member, kind, ts, ts, 1};
	return 0;
}

#define MAX_ROWS 4096

/* One hw.ev.<p> message (stream sequence seq): judge every event, store the new ones as chunk
 * seq (event ids seq << 16 | line: unique and in stream order across every shard, so the query
 * API can merge the shards as one database). 0, or -1 (storage failed). */
static int process_msg(struct part *p, uint64_t seq, const uint8_t *data, size_t len)
{
	struct worker *w = p->w;
	struct nats_body b;
	const char *why = nats_body_parse(data, len, &b);
	size_t got = why ? 0 : ZSTD_decompressDCtx(w->dctx, w->raw, b.raw_len, b.z, b.zlen);
	if (!why && (ZSTD_isError(got) || got != b.raw_len || w->raw[got - 1] != '\n'))
		why = "zstd frame does not decompress to its raw length of lines";
	if (why) {
		/* it can never be processed: counted, said, and acknowledged (not redelivered) */
		w->bad_msgs++;
		fprintf(stderr,
			"herdwatch-collector: worker %s: partition %u: message refused: %s\n",
			w->id, p->id, why);
		return 0;
	}
	struct stream *s = store_stream(p->st, b.cn, b.cn_len, b.host_id, b.host_len, b.boot_id,
					b.boot_len, b.run);
	if (!s || stream_mark(s) || (!store_in_txn(p->st) && store_begin(p->st)))
		return -1;
	static struct idx_row rows[MAX_ROWS];
	uint32_t nrows = 0, n = 0;
	store_chunk_from(p->st, (int64_t)seq);
	int64_t chunk = store_next_chunk(p->st), host = -1;
	uint64_t now = w_real_ns(), first_seq = 0;
	size_t o = 0;
	int alive = 0;
	char toks[EV_MAX_TOKENS][TOKEN_MAX];
	struct ev_info ev;
	for (char *line = w->raw, *end = w->raw + got; line < end;) {
		char *nl = memchr(line, '\n', (size_t)(end - line));
		size_t l = (size_t)(nl - line);
		char *cur = line;
		line = nl + 1;
		int jerr = 0;
		uint32_t at = 0;
		int nt = json_parse_strict(cur, l, w->toks, MAX_TOKS, &jerr, &at);
		struct jdoc d = {cur, w->toks, nt};
		int x = nt > 0 && w->toks[0].type == J_OBJ ? ev_extract(&d, 0, &ev, toks) : -1;
		if (x < 0) {
			w->bad_events++;
			continue;
		}
		w->events++;
		if (!alive) {
			herd_seen(p->herd, ev.host_herd, ev.host, ev.host, ev.host_version, 1, now);
			alive = 1;
		}
		int dup = stream_has(s, (uint64_t)ev.seq);
		uint64_t id = 0;
		if (dup) {
			w->dups++;
		} else {
			int64_t kind = store_name(p->st, 0, ev.kind, NULL, NULL, NULL);
			int64_t member =
				store_name(p->st, 1, ev.member, ev.herd, ev.host, ev.version);
			if (host < 0)
				host = store_name(p->st, 2, ev.host, ev.host_herd, ev.host,
						  ev.host_version);
			uint64_t ts = ev.ts_ns ? ev.ts_ns : now;
			if (kind < 0 || member < 0 || host < 0 || stream_add(s, (uint64_t)ev.seq) ||
			    row_add(rows, &nrows, MAX_ROWS, member, kind, ts))
				return -1;
			if (!n)
				first_seq = (uint64_t)ev.seq;
			id = (uint64_t)chunk << 16 | n;
			memcpy(w->raw2 + o, cur, l + 1);
			o += l + 1;
			n++;
		}
		if (x > 0 && ev.exe_release[0])
			herd_release_at(p->herd, ev.herd, ev.member, ev.host, toks[0],
					ev.exe_release, ev.ts_ns, now);
		for (int i = 0; i < x; i++)
			herd_observe_at(p->herd, ev.herd, ev.member, ev.host, ev.version, toks[i],
					(uint64_t)ev.seq, id, ev.ts_ns, now);
	}
	if (n && store_lines(p, s, chunk, host, o, n, first_seq, rows, nrows))
		return -1;
	w->stored += n;
	return 0;
}

static int keep_unacked(struct part *p, natsMsg *m)
{
	if (p->nun == p->capun) {
		size_t nc = p->capun ? p->capun * 2 : 256;
		natsMsg **a = realloc(p->unacked, nc * sizeof(*a));
		if (!a)
			return -1;
		p->unacked = a;
		p->capun = nc;
	}
	p->unacked[p->nun++] = m;
	return 0;
}

int part_poll(struct part *p)
{
	struct worker *w = p->w;
	natsMsgList list = {0};
	jsFetchRequest fr;
	jsFetchRequest_Init(&fr);
	fr.Batch = (int)w->fetch_batch;
	fr.NoWait = true;
	fr.Expires = 0;
	natsStatus s = natsSubscription_FetchRequest(&list, p->sub, &fr);
	if (s != NATS_OK || !list.Count) {
		natsMsgList_Destroy(&list);
		uint64_t now = w_mono_ns();
		/* nothing (or an error) for a lease's time: is its consumer still there? (a
		 * replica-1 consumer on a node that died is gone; a fetch only times out) */
		if (now - p->fetch_ok_ns > (uint64_t)w->lease_ms * 1000000ull) {
			char durable[32];
			snprintf(durable, sizeof(durable), "part-%u", p->id);
			jsConsumerInfo *ci = NULL;
			jsErrCode jerr = 0;
			if (js_GetConsumerInfo(&ci, w->link.js, NATS_EV_STREAM, durable, NULL,
					       &jerr) == NATS_OK)
				p->fetch_ok_ns = now;
			else
				part_drop(p, "its consumer is gone", 1); /* made again on claim */
			jsConsumerInfo_Destroy(ci);
		}
		return 0;
	}
	p->fetch_ok_ns = w_mono_ns();
	int n = list.Count, err = 0, i;
	for (i = 0; i < n && !err; i++) {
		natsMsg *m = list.Msgs[i];
		jsMsgMetaData *meta = NULL;
		uint64_t seq = natsMsg_GetMetaData(&meta, m) == NATS_OK ? meta->Sequence.Stream : 0;
		jsMsgMetaData_Destroy(meta);
		if (seq > p->done_seq) {
			w->msgs++;
			err = process_msg(p, seq, (const uint8_t *)natsMsg_GetData(m),
					  (size_t)natsMsg_GetDataLength(m));
			if (!err)
				p->done_seq = seq;
		}
		if (!err)
			err = keep_unacked(p, m);
		if (!err)
			list.Msgs[i] = NULL; /* ours now */
	}
	natsMsgList_Destroy(&list);
	if (err)
		part_drop(p, "storing failed", 1);
	else if (p->failed)
		part_drop(p, "alert not published", 1);
	return err ? 0 : n;
}
