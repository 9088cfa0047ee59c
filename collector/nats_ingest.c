// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * nats_ingest.c - `herdwatch-collector --mode ingest --nats URL[,URL...]` (docs/scale-out.md):
 * the agents' mutual-TLS ingest of the embedded collector, whose accepted batches go to the
 * JetStream stream HW_EV instead of the local database.
 *
 * Contract, per batch (in place of ingest.c's process_batch, same checks, same refusals):
 * every event is parsed strictly, its host checked against the certificate, deduplicated per
 * (certificate, host, boot, run, seq) against this process's stream state; the new events are
 * split by partition (nats_partition of the member's herd) and each part published
 * synchronously to hw.ev.<p> with Nats-Msg-Id "<stream>-<run>:<first>-<last>:p<p>", so a
 * resend of the same part (to this or another ingest process) is dropped by JetStream within
 * its 2-minute window. Only when every part has its PubAck are the seqs marked stored (in the
 * local SQLite file, which holds stream state only) and the agent's ack queued; it is sent
 * when that state commits, as in embedded mode. A publish that fails forgets the batch's
 * seqs and closes the connection: the agent resends from its spool (nothing is acknowledged
 * that JetStream has not stored). The herd engine does not run here: the workers judge.
 */
#include "collector/collector.h"
#include "collector/nats.h"

struct nats_ingest {
	struct nats_link link;
	uint16_t *part;  /* partition of each kept event */
	uint64_t *seqs;  /* seq of each kept event */
	uint32_t *order; /* kept events grouped by partition */
	uint32_t *start; /* per partition: its first index in order, P + 1 entries */
	uint8_t *body;
	size_t body_cap;
	unsigned long long published, publish_failed, pub_duplicates;
};

static const char *opt_value(int *i, int argc, char **argv, const char *name)
{
	size_t n = strlen(name);
	if (strncmp(argv[*i], name, n))
		return NULL;
	if (argv[*i][n] == '=')
		return argv[*i] + n + 1;
	if (argv[*i][n] || *i + 1 >= argc)
		return NULL;
	return argv[++*i];
}

/* The value of option name at argv[*i] ("--name V" or "--name=V"), moving *i past it. */
static const char *mode_opt(int *i, int argc, char **argv, const char **mode, const char **urls,
			    unsigned *partitions, int *replicas)
{
	const char *v;
	if ((v = opt_value(i, argc, argv, "--mode")))
		*mode = v;
	else if ((v = opt_value(i, argc, argv, "--nats")))
		*urls = v;
	else if ((v = opt_value(i, argc, argv, "--partitions")))
		*partitions = (unsigned)strtoul(v, NULL, 10);
	else if ((v = opt_value(i, argc, argv, "--replicas")))
		*replicas = atoi(v);
	return v;
}

int nats_mode_args(int *argc, char **argv, struct collector *c)
{
	const char *mode = NULL, *urls = NULL;
	unsigned partitions = 16;
	int replicas = 0, out = 1;
	for (int i = 1; i < *argc; i++)
		mode_opt(&i, *argc, argv, &mode, &urls, &partitions, &replicas);
	if (!mode)
		return urls ? (fprintf(stderr, "herdwatch-collector: --nats needs --mode\n"), -1)
			    : NATS_MODE_NONE;
	if (!strcmp(mode, "all")) /* the embedded collector's own mode */
		return urls ? (fprintf(stderr, "herdwatch-collector: --nats needs --mode ingest\n"),
			       -1)
			    : NATS_MODE_NONE;
	if (!strcmp(mode, "worker") || !strcmp(mode, "events"))
		return !strcmp(mode, "worker") ? NATS_MODE_WORKER : NATS_MODE_EVENTS;
	int api = !strcmp(mode, "api");
	if (strcmp(mode, "ingest") && !api) {
		fprintf(stderr,
			"herdwatch-collector: --mode %s: unknown mode (one of: all, ingest, "
			"worker, events, api)\n",
			mode);
		return -1;
	}
	if (!urls) {
		fprintf(stderr, "herdwatch-collector: --mode %s needs --nats URL[,URL...]\n", mode);
		return -1;
	}
	/* the embedded collector's options parse the rest (--mode api: and it runs "api") */
	static char mode_api[] = "--mode=api";
	const char *shard_dir = NULL, *api_id = "api", *v;
	for (int i = 1; i < *argc; i++) {
		if (mode_opt(&i, *argc, argv, &mode, &urls, &partitions, &replicas))
			continue;
		if (api && (v = opt_value(&i, *argc, argv, "--shard-dir")))
			shard_dir = v;
		else if (api && (v = opt_value(&i, *argc, argv, "--api-id")))
			api_id = v;
		else
			argv[out++] = argv[i];
	}
	if (api) { /* room: --mode and its value were taken out */
		memmove(argv + 2, argv + 1, (size_t)(out - 1) * sizeof(*argv));
		argv[1] = mode_api;
		out++;
	}
	argv[out] = NULL;
	*argc = out;
	if (api)
		return nats_api_new(c, urls, partitions, replicas, shard_dir, api_id)
			       ? -1
			       : NATS_MODE_API;
	struct nats_ingest *n = calloc(1, sizeof(*n));
	if (!n || nats_link_open(&n->link, urls, partitions, replicas)) {
		free(n);
		return -1;
	}
	n->part = malloc(sizeof(*n->part) * HW_WIRE_MAX_EVENTS);
	n->seqs = malloc(sizeof(*n->seqs) * HW_WIRE_MAX_EVENTS);
	n->order = malloc(sizeof(*n->order) * HW_WIRE_MAX_EVENTS);
	n->start = calloc(partitions + 1, sizeof(*n->start));
	if (!n->part || !n->seqs || !n->order || !n->start) {
		nats_ingest_free(n);
		return -1;
	}
	c->nats = n;
	fprintf(stderr,
		"herdwatch-collector: ingest mode: batches to JetStream stream %s (%u partitions, "
		"R%d)\n",
		NATS_EV_STREAM, partitions, n->link.replicas);
	return NATS_MODE_INGEST;
}

void nats_ingest_free(struct nats_ingest *n)
{
	if (!n)
		return;
	if (n->published || n->publish_failed)
		fprintf(stderr,
			"herdwatch-collector: published %llu messages to JetStream (%llu "
			"duplicates "
			"dropped by it, %llu publishes failed)\n",
			n->published, n->pub_duplicates, n->publish_failed);
	nats_link_close(&n->link);
	free(n->part);
	free(n->seqs);
	free(n->order);
	free(n->start);
	free(n->body);
	free(n);
}

/* Publish the kept events of partition p (order[from..to)) of stream (b, cn). 0 or -1. */
static int publish_part(struct collector *c, struct conn *k, const struct hw_batch *b, unsigned p,
			uint32_t from, uint32_t to)
{
	struct nats_ingest *n = c->nats;
	size_t o = 0;
	uint64_t lo = UINT64_MAX, hi = 0;
	for (uint32_t i = from; i < to; i++) {
		uint32_t e = n->order[i];
		memcpy(c->raw2 + o, c->raw + c->keep[e].off, c->keep[e].len);
		o += c->keep[e].len;
		lo = n->seqs[e] < lo ? n->seqs[e] : lo;
		hi = n->seqs[e] > hi ? n->seqs[e] : hi;
	}
	size_t need = 512 + c->zcap;
	if (n->body_cap < need) {
		uint8_t *nb = realloc(n->body, need);
		if (!nb)
			return -1;
		n->body = nb;
		n->body_cap = need;
	}
	struct nats_body nb = {.cn = k->cn,
			       .host_id = b->host_id,
			       .boot_id = b->boot_id,
			       .cn_len = strlen(k->cn),
			       .host_len = b->host_len,
			       .boot_len = b->boot_len,
			       .run = b->run_id,
			       .first_seq = lo,
			       .last_seq = hi,
			       .count = to - from,
			       .raw_len = (uint32_t)o};
	size_t h = nats_body_head(n->body, &nb);
	size_t zl = ZSTD_compressCCtx(c->cctx, n->body + h, n->body_cap - h, c->raw2, o, 1);
	if (ZSTD_isError(zl))
		return -1;
	uint64_t sid = nats_fnv1a(k->cn, strlen(k->cn), NATS_FNV_INIT);
	sid = nats_fnv1a(b->host_id, b->host_len, sid);
	sid = nats_fnv1a(b->boot_id, b->boot_len, sid);
	char subj[32], id[96];
	snprintf(subj, sizeof(subj), "hw.ev.%u", p);
	snprintf(id, sizeof(id), "%016llx-%016llx:%llu-%llu:%u:p%u", (unsigned long long)sid,
		 (unsigned long long)b->run_id, (unsigned long long)lo, (unsigned long long)hi,
		 to - from, p);
	jsPubOptions po;
	jsPubOptions_Init(&po);
	po.MsgId = id;
	po.MaxWait = n->link.pub_wait_ms;
	jsPubAck *pa = NULL;
	jsErrCode jerr = 0;
	natsStatus s = js_Publish(&pa, n->link.js, subj, n->body, (int)(h + zl), &po, &jerr);
	if (s != NATS_OK) {
		n->publish_failed++;
		log_limited(c, LOG_BUSY,
			    "%s: publish to %s failed: %s (JetStream error %d): batch "
			    "not acknowledged, the agent resends",
			    k->peer, subj, natsStatus_GetText(s), (int)jerr);
		return -1;
	}
	n->published++;
	n->pub_duplicates += pa && pa->Duplicate;
	jsPubAck_Destroy(pa);
	return 0;
}

/* Group the kept events by partition (a counting sort) and publish each group. */
static int publish_kept(struct collector *c, struct conn *k, const struct hw_batch *b)
{
	struct nats_ingest *n = c->nats;
	unsigned P = n->link.partitions;
	memset(n->start, 0, (P + 1) * sizeof(*n->start));
	for (uint32_t i = 0; i < c->nkeep; i++)
		n->start[n->part[i] + 1]++;
	for (unsigned p = 0; p < P; p++)
		n->start[p + 1] += n->start[p];
	for (uint32_t i = 0; i < c->nkeep; i++)
		n->order[n->start[n->part[i]]++] = i;
	/* start[p] now holds the end of p: the beginning of p is the end of p - 1 */
	for (unsigned p = 0; p < P; p++) {
		uint32_t from = p ? n->start[p - 1] : 0, to = n->start[p];
		if (from < to && publish_part(c, k, b, p, from, to))
			return -1;
	}
	return 0;
}

int nats_ingest_batch(struct collector *c, struct conn *k, int version, const uint8_t *p,
		      size_t len)
{
	struct nats_ingest *n = c->nats;
	struct hw_batch b;
	struct stream *s;
	int err = ingest_batch_open(c, k, version, p, len, &b, &s);
	if (err)
		return err;
	struct hw_ack ack = {.batch_id = b.batch_id};
	char *line = c->raw, *end = c->raw + b.raw_len;
	struct ev_info ev;
	char toks[EV_MAX_TOKENS][TOKEN_MAX];
	c->nkeep = 0;
	while (line < end) {
		char *nl = memchr(line, '\n', (size_t)(end - line));
		size_t l = (size_t)(nl - line);
		char *cur = line;
		line = nl + 1;
		int refusal = 0;
		int x = ingest_check_line(c, k, s, cur, l, &ev, toks, &ack, &refusal);
		if (x == -2)
			return refusal;
		if (x < 0)
			continue;
		if (stream_has(s, (uint64_t)ev.seq)) {
			ack.duplicates++;
			c->dups++;
			continue;
		}
		if (stream_add(s, (uint64_t)ev.seq)) {
			c->store_failed = 1;
			return storage_error(c, k);
		}
		n->part[c->nkeep] =
			(uint16_t)nats_partition(ev.herd, ev.member, n->link.partitions);
		n->seqs[c->nkeep] = (uint64_t)ev.seq;
		c->keep[c->nkeep].off = (uint32_t)(cur - c->raw);
		c->keep[c->nkeep++].len = (uint32_t)l + 1;
	}
	if (c->nkeep && publish_kept(c, k, &b)) {
		/* not in JetStream (or not known to be): forget the seqs, the agent resends */
		stream_rollback(s);
		c->acks_withheld++;
		conn_close(k);
		return -1;
	}
	uint64_t now = now_ns();
	ack.stored = c->nkeep;
	c->stored += ack.stored;
	c->batches++;
	if (ack.stored) {
		if (!c->first_store_ns)
			c->first_store_ns = now;
		c->last_store_ns = now;
	}
	if (queue_ack(c, k, &ack))
		return storage_error(c, k);
	return 0;
}
