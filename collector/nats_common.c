// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * nats_common.c - what the scale-out modes share (docs/scale-out.md): the connection to the
 * NATS cluster with JetStream, the streams and buckets they use (created when missing, so any
 * process may start first), the partition count every process must agree on, the partition
 * of an event, and the body format of an hw.ev.<p> message. Contract: nats_link_open() either
 * returns a usable link or says on stderr why not; nats_body_parse() checks every length of a
 * body before anything is read through it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "collector/nats.h"
#include "collector/store.h"
#include "common/wire.h"

uint64_t nats_fnv1a(const void *p, size_t n, uint64_t h)
{
	const uint8_t *s = p;
	for (size_t i = 0; i < n; i++) {
		h ^= s[i];
		h *= 0x100000001b3ull;
	}
	return h;
}

unsigned nats_partition(const char *herd, const char *member, unsigned partitions)
{
	const char *k = herd && *herd ? herd : member;
	return (unsigned)(nats_fnv1a(k, strlen(k), NATS_FNV_INIT) % partitions);
}

static void say(const char *what, natsStatus s, jsErrCode jerr)
{
	fprintf(stderr, "herdwatch-collector: nats: %s: %s", what, natsStatus_GetText(s));
	if (jerr)
		fprintf(stderr, " (JetStream error %d)", (int)jerr);
	const char *last = nats_GetLastError(NULL);
	if (last && *last)
		fprintf(stderr, ": %s", last);
	fputc('\n', stderr);
}

/* A stream, created when missing (an existing one is kept as it is). -2: JetStream did not
 * answer in time (a node gone and its leaders being elected again): worth another try. */
static int ensure_stream(struct nats_link *l, const char *name, const char *subject,
			 int64_t max_age_ns)
{
	jsStreamConfig cfg;
	jsStreamConfig_Init(&cfg);
	const char *subj[1] = {subject};
	cfg.Name = name;
	cfg.Subjects = subj;
	cfg.SubjectsLen = 1;
	cfg.Storage = js_FileStorage;
	cfg.Replicas = l->replicas;
	cfg.MaxAge = max_age_ns;
	cfg.Duplicates = 120ll * 1000000000ll; /* the Nats-Msg-Id window: 2 min */
	jsErrCode jerr = 0;
	jsStreamInfo *si = NULL;
	natsStatus s = js_GetStreamInfo(&si, l->js, name, NULL, &jerr);
	if (s == NATS_OK) {
		jsStreamInfo_Destroy(si);
		return 0;
	}
	jerr = 0;
	s = js_AddStream(&si, l->js, &cfg, NULL, &jerr);
	if (s == NATS_OK || jerr == JSStreamNameExistErr) {
		jsStreamInfo_Destroy(si);
		return 0;
	}
	say(name, s, jerr);
	return s == NATS_TIMEOUT || s == NATS_NO_RESPONDERS ? -2 : -1;
}

/* Both streams; while the cluster elects new leaders (a node was just lost) JetStream's API
 * times out for a few seconds: try again, each second, for up to 30 s. */
static int ensure_streams(struct nats_link *l)
{
	for (int attempt = 1;; attempt++) {
		int rc = ensure_stream(l, NATS_EV_STREAM, "hw.ev.*", 7ll * 86400 * 1000000000ll);
		if (!rc)
			rc = ensure_stream(l, NATS_ALERT_STREAM, NATS_ALERT_SUBJECT,
					   30ll * 86400 * 1000000000ll);
		if (rc != -2 || attempt == 30)
			return rc ? -1 : 0;
		fprintf(stderr, "herdwatch-collector: nats: JetStream not answering yet, trying "
				"again in 1 s\n");
		sleep(1);
	}
}

kvStore *nats_kv(struct nats_link *l, const char *bucket, int64_t ttl_ms, int history)
{
	kvStore *kv = NULL;
	if (js_KeyValue(&kv, l->js, bucket) == NATS_OK)
		return kv;
	kvConfig cfg;
	kvConfig_Init(&cfg);
	cfg.Bucket = bucket;
	cfg.History = (uint8_t)history;
	cfg.TTL = ttl_ms * 1000000; /* ns (the library passes it as the stream's MaxAge) */
	cfg.Replicas = l->replicas;
	cfg.StorageType = js_FileStorage;
	natsStatus s = js_CreateKeyValue(&kv, l->js, &cfg);
	if (s != NATS_OK) {
		char why[256];
		snprintf(why, sizeof(why), "%s", nats_GetLastError(NULL));
		if (js_KeyValue(&kv, l->js, bucket) == NATS_OK)
			return kv; /* made by another process meanwhile */
		fprintf(stderr, "herdwatch-collector: nats: bucket %s: %s: %s\n", bucket,
			natsStatus_GetText(s), why);
		return NULL;
	}
	return kv;
}

/* The partition count: the first process writes it, every later one must have the same. */
static int agree_partitions(struct nats_link *l)
{
	kvStore *kv = nats_kv(l, "hw_cfg", 0, 1);
	if (!kv)
		return -1;
	char want[16];
	snprintf(want, sizeof(want), "%u", l->partitions);
	int rc = 0;
	if (kvStore_CreateString(NULL, kv, "partitions", want) != NATS_OK) {
		kvEntry *e = NULL;
		if (kvStore_Get(&e, kv, "partitions") != NATS_OK) {
			fprintf(stderr,
				"herdwatch-collector: nats: cannot read hw_cfg.partitions\n");
			rc = -1;
		} else if (strcmp(kvEntry_ValueString(e), want)) {
			fprintf(stderr,
				"herdwatch-collector: --partitions %u, but the cluster's streams "
				"were made for %s partitions (hw_cfg.partitions): refusing to "
				"start\n",
				l->partitions, kvEntry_ValueString(e));
			rc = -1;
		}
		kvEntry_Destroy(e);
	}
	kvStore_Destroy(kv);
	return rc;
}

int nats_link_open(struct nats_link *l, const char *urls, unsigned partitions, int replicas)
{
	int64_t api_wait = l->api_wait_ms;
	memset(l, 0, sizeof(*l));
	l->api_wait_ms = api_wait;
	l->partitions = partitions;
	l->pub_wait_ms = 5000;
	if (!partitions || partitions > NATS_MAX_PARTITIONS) {
		fprintf(stderr, "herdwatch-collector: --partitions: 1 to %d\n",
			NATS_MAX_PARTITIONS);
		return -1;
	}
	char buf[2048];
	const char *list[NATS_MAX_URLS];
	int n = 0;
	if (snprintf(buf, sizeof(buf), "%s", urls) >= (int)sizeof(buf)) {
		fprintf(stderr, "herdwatch-collector: --nats: the list is too long\n");
		return -1;
	}
	for (char *save, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		if (n == NATS_MAX_URLS) {
			fprintf(stderr, "herdwatch-collector: --nats: at most %d URLs\n",
				NATS_MAX_URLS);
			return -1;
		}
		list[n++] = t;
	}
	if (!n) {
		fprintf(stderr, "herdwatch-collector: --nats: no URL\n");
		return -1;
	}
	natsOptions *o = NULL;
	natsStatus s = natsOptions_Create(&o);
	if (s == NATS_OK)
		s = natsOptions_SetServers(o, list, n);
	if (s == NATS_OK)
		s = natsOptions_SetMaxReconnect(o, -1); /* forever: the cluster outlives a node */
	if (s == NATS_OK)
		s = natsOptions_SetReconnectWait(o, 100);
	if (s == NATS_OK)
		s = natsOptions_SetTimeout(o, 2000);
	if (s == NATS_OK)
		s = natsConnection_Connect(&l->nc, o);
	natsOptions_Destroy(o);
	if (s != NATS_OK) {
		say(urls, s, 0);
		return -1;
	}
	if (replicas <= 0) {
		char **srv = NULL;
		int ns = 0;
		replicas = 1;
		if (natsConnection_GetServers(l->nc, &srv, &ns) == NATS_OK) {
			replicas = ns >= 3 ? 3 : 1;
			for (int i = 0; i < ns; i++)
				free(srv[i]);
			free(srv);
		}
	}
	l->replicas = replicas;
	jsOptions jo;
	jsOptions_Init(&jo);
	jo.Wait = l->api_wait_ms ? l->api_wait_ms : 5000;
	s = natsConnection_JetStream(&l->js, l->nc, &jo);
	if (s != NATS_OK) {
		say("JetStream", s, 0);
		nats_link_close(l);
		return -1;
	}
	if (ensure_streams(l) || agree_partitions(l)) {
		nats_link_close(l);
		return -1;
	}
	return 0;
}

void nats_link_close(struct nats_link *l)
{
	if (l->js)
		jsCtx_Destroy(l->js);
	if (l->nc) {
		natsConnection_Close(l->nc);
		natsConnection_Destroy(l->nc);
	}
	l->js = NULL;
	l->nc = NULL;
}

/* ---- message body ---- */

static void put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

size_t nats_body_head(uint8_t *out, const struct nats_body *b)
{
	size_t o = 6;
	memcpy(out, NATS_BODY_MAGIC, 6);
	const char *s[3] = {b->cn, b->host_id, b->boot_id};
	size_t l[3] = {b->cn_len, b->host_len, b->boot_len};
	for (int i = 0; i < 3; i++) {
		out[o++] = (uint8_t)l[i]; /* <= STORE_MAX_ID: checked by the ingest */
		memcpy(out + o, s[i], l[i]);
		o += l[i];
	}
	put64(out + o, b->run);
	put64(out + o + 8, b->first_seq);
	put64(out + o + 16, b->last_seq);
	put64(out + o + 24, (uint64_t)b->raw_len << 32 | b->count);
	return o + 32;
}

const char *nats_body_parse(const uint8_t *p, size_t len, struct nats_body *b)
{
	size_t o = 6;
	if (len < 6 || memcmp(p, NATS_BODY_MAGIC, 6))
		return "not a herdwatch batch (magic)";
	const char **s[3] = {&b->cn, &b->host_id, &b->boot_id};
	size_t *l[3] = {&b->cn_len, &b->host_len, &b->boot_len};
	for (int i = 0; i < 3; i++) {
		if (o >= len || p[o] > STORE_MAX_ID || len - o - 1 < p[o])
			return "identity field too long or truncated";
		*l[i] = p[o];
		*s[i] = (const char *)p + o + 1;
		o += 1 + p[o];
	}
	if (len - o < 32)
		return "truncated head";
	b->run = get64(p + o);
	b->first_seq = get64(p + o + 8);
	b->last_seq = get64(p + o + 16);
	uint64_t cr = get64(p + o + 24);
	b->count = (uint32_t)cr;
	b->raw_len = (uint32_t)(cr >> 32);
	if (!b->raw_len || b->raw_len > HW_WIRE_MAX_RAW || !b->count ||
	    b->count > HW_WIRE_MAX_EVENTS)
		return "raw length or count out of bounds";
	b->z = p + o + 32;
	b->zlen = len - o - 32;
	return NULL;
}
