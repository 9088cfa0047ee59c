/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * store.h - SQLite storage of events, alerts and per-stream stored seqs.
 *
 * Events are stored in chunks: one chunk per received batch, holding the batch's JSON lines as
 * one zstd frame (the frame the agent sent, recompressed only when duplicates or bad lines had
 * to be removed). A row per event with three indexes costs ~20 us on this class of machine;
 * a chunk costs one row plus one small index row per (member, kind) present in it, so ingest
 * stays far above 200k events/s and queries decompress only the chunks their filters select.
 * An event's id is chunk id << 16 | line number in the chunk (HW_WIRE_MAX_EVENTS = 65536).
 *
 * Schema (WAL, synchronous=FULL: a commit is on disk before its batches are acknowledged;
 * batched transactions):
 *   chunks(id, host -> names.id, first_seq, count, ts_min, ts_max, raw_len, z)  index (ts_max)
 *   chunk_index(chunk, member -> names.id, kind -> names.id, ts_min, ts_max, n)
 *                                 indexes (member, ts_max), (kind, ts_max), (chunk)
 *   names(id, type 0=kind 1=member 2=host, name, herd, host, version)  unique (type, name)
 *                                 version: the member's current version (NULL: none)
 *   streams(name, host_id, boot_id, run, ranges "a-b,c-d", updated s, host -> names.id,
 *           last_chunk)          stored seqs per agent run; last_chunk: its newest chunk
 *   alerts(id, ts, kind, severity, herd, member, score, json)      indexes (ts), (member)
 * PRAGMA user_version is the schema version; older databases are migrated when opened.
 * Dedup: each agent run keeps its stored seqs as ranges in memory and in `streams`, updated in
 * the same transaction as the events, so a commit is all-or-nothing. A run is identified by
 * (name, host id, boot id, run id): name is the CN of the certificate the batch came with (so
 * one agent's certificate cannot mark seqs of another's streams), host id and boot id as the
 * frame says, run id the agent's random id of its run (seqs start at 1 in every run).
 */
#ifndef HW_STORE_H
#define HW_STORE_H

#include <stdint.h>
#include <sqlite3.h>

struct store;
struct stream; /* one agent run: (certificate name, host id, boot id, run id) */

#define STORE_MAX_ID 128 /* bytes of each of name, host id, boot id */

/* max_bytes: hard limit of the database file (PRAGMA max_page_count; 0 = none): beyond it
 * writes fail like on a full disk. */
int store_open(struct store **out, const char *path, unsigned long long max_bytes);
void store_close(struct store *s);
sqlite3 *store_db(struct store *s);

int store_begin(struct store *s);  /* no-op when a transaction is open */
int store_commit(struct store *s); /* writes dirty streams; 0 or -EIO (rolled back) */
/* Roll the open transaction back and forget the cached stream and name state (it may claim
 * seqs and names that were rolled back); it is read again from the database. */
void store_rollback(struct store *s);
int store_in_txn(const struct store *s);
unsigned long long store_txn_rows(const struct store *s);

/* The stream of one agent run (created, or loaded from `streams`, on first use); NULL when a
 * field is longer than STORE_MAX_ID or memory is short. */
struct stream *store_stream(struct store *s, const char *name, size_t nl, const char *host_id,
			    size_t hl, const char *boot_id, size_t bl, uint64_t run);
int stream_has(const struct stream *st, uint64_t seq);
int stream_add(struct stream *st, uint64_t seq);
/* Remember the stream's seqs (0 or -ENOMEM); stream_rollback forgets every stream_add since
 * (a batch refused half-way). */
int stream_mark(struct stream *st);
void stream_rollback(struct stream *st);
/* The stream's events were stored in chunk (of host, a names id): retention keeps the stream's
 * row while that chunk or an older one of the host is left. */
void stream_note_chunk(struct stream *st, int64_t host, int64_t chunk);

/* Name ids (cached). type: 0 kind, 1 member, 2 host. version: the member's or host's version
 * (NULL or "": none); a changed version updates names.version. */
int64_t store_name(struct store *s, int type, const char *name, const char *herd, const char *host,
		   const char *version);

/* Id the next stored chunk will get (event ids are derived from it before it is written). */
int64_t store_next_chunk(struct store *s);
/* The next chunk's id is at least first (a scale-out worker numbers its chunks by the JetStream
 * sequence of the message they came in, so ids are unique and ordered across all shards). */
void store_chunk_from(struct store *s, int64_t first);
/* Store a chunk with id store_next_chunk(); z is a zstd frame of raw_len bytes of JSON lines. */
int store_chunk(struct store *s, int64_t host, uint64_t first_seq, uint32_t count, uint64_t ts_min,
		uint64_t ts_max, const void *z, size_t zlen, uint32_t raw_len);
int store_chunk_index(struct store *s, int64_t chunk, int64_t member, int64_t kind, uint64_t ts_min,
		      uint64_t ts_max, uint32_t n);
int store_alert(struct store *s, uint64_t ts, const char *kind, const char *sev, const char *herd,
		const char *member, double score, const char *json, size_t len);

/* Retention: delete events older than max_age_s (0 = keep) and the oldest while the data
 * exceeds max_bytes (0 = unlimited); then alerts no longer needed (kept at least as long as the
 * events they cite) and streams with no events left and inactive for longer than max_age_s.
 * Must be called outside a transaction. */
struct store_retained {
	unsigned long long events, alerts, streams;
};
int store_retain(struct store *s, uint64_t now_ns, uint64_t max_age_s, uint64_t max_bytes,
		 struct store_retained *r);
/* Forget cached stream state (after a failed commit). */
void store_drop_streams(struct store *s);

#endif
