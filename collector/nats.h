/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * nats.h - the scale-out modes on NATS JetStream (docs/scale-out.md): what nats_common.c,
 * nats_ingest.c, nats_worker.c and nats_api.c share, and the one hook main.c calls.
 *
 * Subjects and buckets (all created on first use, idempotently):
 *   stream HW_EV     subjects hw.ev.<partition>   accepted batches, one message per
 *                                                 (batch, partition), Nats-Msg-Id dedup
 *   stream HW_ALERT  subject  hw.alert            alerts, Nats-Msg-Id = the alert's key
 *   KV hw_cfg        key partitions               the partition count every process checks
 *   KV hw_workers    worker.<id>  (TTL)           live workers (membership)
 *   KV hw_leases     part.<p>     (TTL)           the owner of each partition
 *   KV hw_ckpt       part.<p>                     judged herd state of a partition + the
 *                                                 stream sequence it covers
 *   consumer api-<id> of HW_ALERT                 --mode api: alerts into its database
 * A worker stores the events of the hw.ev message with stream sequence S as chunk S (event
 * ids S << 16 | line): unique across the shards, which --mode api merges.
 * Partition of an event: fnv1a64(herd, or the member when it has no herd) mod P.
 */
#ifndef HW_NATS_H
#define HW_NATS_H

#include <stddef.h>
#include <stdint.h>

#include <nats/nats.h>

#define NATS_EV_STREAM "HW_EV"
#define NATS_ALERT_STREAM "HW_ALERT"
#define NATS_ALERT_SUBJECT "hw.alert"
#define NATS_MAX_PARTITIONS 1024
#define NATS_MAX_URLS 16

enum nats_mode {
	NATS_MODE_NONE,
	NATS_MODE_INGEST,
	NATS_MODE_WORKER,
	NATS_MODE_EVENTS,
	NATS_MODE_API
};

/* What every mode connects with. */
struct nats_link {
	natsConnection *nc;
	jsCtx *js;
	unsigned partitions; /* P, agreed through hw_cfg */
	int replicas;        /* of the streams and buckets */
	int64_t pub_wait_ms; /* how long a publish waits for its PubAck */
	int64_t api_wait_ms; /* ... and any other JetStream request (set before open; 0: 5 s) */
};

/* --nats URL[,URL...], --partitions P, --replicas N (0: min(3, servers known)): connect,
 * create the streams and the config bucket when missing, agree on P. 0 or -1 (said on stderr). */
int nats_link_open(struct nats_link *l, const char *urls, unsigned partitions, int replicas);
void nats_link_close(struct nats_link *l);
/* A key-value bucket (created when missing; ttl_ms 0: no expiry). NULL on error (said). */
kvStore *nats_kv(struct nats_link *l, const char *bucket, int64_t ttl_ms, int history);

uint64_t nats_fnv1a(const void *p, size_t n, uint64_t h);
#define NATS_FNV_INIT 0xcbf29ce484222325ull
unsigned nats_partition(const char *herd, const char *member, unsigned partitions);

/*
 * The body of one hw.ev.<p> message (little-endian):
 *   "HWNB1\n" u8 cn_len cn u8 host_id_len host_id u8 boot_len boot_id u64 run
 *   u64 first_seq u64 last_seq u32 count u32 raw_len, then a zstd frame of raw_len bytes:
 *   count JSON lines, each ending in '\n' (events that passed the ingest's checks)
 * Every length is checked against STORE_MAX_ID (identity) and HW_WIRE_MAX_RAW (raw_len).
 */
#define NATS_BODY_MAGIC "HWNB1\n"
struct nats_body {
	const char *cn, *host_id, *boot_id;
	size_t cn_len, host_len, boot_len;
	uint64_t run, first_seq, last_seq;
	uint32_t count, raw_len;
	const uint8_t *z;
	size_t zlen;
};
/* 0, or a reason for the log (the body is refused whole and counted). */
const char *nats_body_parse(const uint8_t *p, size_t len, struct nats_body *b);
/* The head of a body (everything before the zstd frame) into out (>= 512 bytes): its length. */
size_t nats_body_head(uint8_t *out, const struct nats_body *b);

/* main.c's hook: takes --mode, --nats, --partitions, --replicas out of argv (the rest is
 * parsed as before). NATS_MODE_NONE: the embedded collector, argv untouched. -1: bad options. */
struct collector;
int nats_mode_args(int *argc, char **argv, struct collector *c);
/* --mode worker and --mode events: their own main (nats_worker.c). */
int nats_worker_main(int argc, char **argv);

#endif
