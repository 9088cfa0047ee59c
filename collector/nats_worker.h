/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * nats_worker.h - a herd-engine worker's state (`--mode worker`, docs/scale-out.md), shared by
 * nats_worker.c (options, membership, leases, the loop) and nats_part.c (one partition:
 * claim, messages, checkpoint, release). One thread: nothing here is locked.
 */
#ifndef HW_NATS_WORKER_H
#define HW_NATS_WORKER_H

#include <zstd.h>

#include "collector/herd.h"
#include "collector/json.h"
#include "collector/nats.h"
#include "collector/store.h"

struct worker;
#define NATS_MAX_WORKERS 256

/* One partition this worker owns (or owned). */
struct part {
	struct worker *w;
	unsigned id;
	int owned;
	uint64_t lease_rev;   /* revision of our lease key part.<id> */
	uint64_t lease_ok_ns; /* CLOCK_MONOTONIC of the last successful lease write */
	struct store *st;     /* the partition's SQLite shard */
	struct herd_engine *herd;
	natsSubscription *sub; /* bound to the durable consumer part-<id> */
	uint64_t ckpt_seq;     /* stream sequence the last checkpoint covers */
	uint64_t done_seq;     /* highest stream sequence judged and stored */
	natsMsg **unacked;     /* processed, acknowledged by the next checkpoint */
	size_t nun, capun;
	uint64_t last_ckpt_ns, last_tick_ns;
	uint64_t fetch_ok_ns; /* the consumer last answered a fetch */
	int failed;           /* an alert could not be published: back to the last checkpoint */
};

struct worker {
	struct nats_link link;
	kvStore *members, *leases, *ckpt;
	char id[128];
	const char *shard_dir;
	struct herd_cfg hc;
	unsigned lease_ms, ckpt_ms, fetch_batch;
	struct part *parts;
	kvWatcher *watch; /* hw_workers: every worker's heartbeat, as it is written */
	struct member {
		char id[128];
		uint64_t until_ms; /* live until (its heartbeat's time + lease_ms) */
	} members_seen[NATS_MAX_WORKERS];
	unsigned nmembers;
	char *raw, *raw2, *zbuf;
	size_t zcap;
	ZSTD_DCtx *dctx;
	ZSTD_CCtx *cctx;
	struct jtok *toks;
	int quiet;
	uint64_t start_ns; /* CLOCK_MONOTONIC */
	/* counters, printed at exit and by the lease cycle when they changed */
	unsigned long long msgs, events, stored, dups, bad_events, bad_msgs, alerts, alert_dups,
		alert_failed, ckpts, ckpt_deferred, claims, releases, drops;
};

/* nats_part.c */
int part_claim(struct part *p);
/* Back to the last checkpoint: nothing acknowledged, the shard's open transaction rolled
 * back, the lease given up (when still ours, delete_lease). */
void part_drop(struct part *p, const char *why, int delete_lease);
/* Checkpoint (when no candidate is held), acknowledge, give the lease up. 0, or -EAGAIN. */
int part_release(struct part *p);
/* Fetch and process what is waiting (at most fetch_batch messages): how many. */
int part_poll(struct part *p);
/* Every ckpt_ms: commit, save the judged herd state to hw_ckpt, acknowledge what it covers. */
int part_checkpoint(struct part *p, int force);
/* nats_worker.c: renew (or with release, free) the lease of partition p at revision *rev. */
int lease_write(struct worker *w, unsigned p, uint64_t *rev, int release);
/* The lease is still ours to write with (renewed within 2/3 of its TTL). */
int part_lease_valid(const struct part *p);
uint64_t w_mono_ns(void);
uint64_t w_real_ns(void);

#endif
