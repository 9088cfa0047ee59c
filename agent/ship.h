/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * ship.h - the agent's sender: events -> batches -> on-disk spool -> TLS -> collector -> ack.
 *
 * Contract: ship_event() copies the event and never waits for the network. Events are grouped
 * into batches (at most 4096 events or 1 MiB, or 50 ms after the first one); each batch is
 * compressed and written to the spool directory before it is sent, and deleted from the spool
 * only when the collector acknowledges that it is stored. Unacknowledged batches therefore
 * survive a collector outage and an agent restart (they are resent by the next ship_open() on
 * the same spool_dir, each with the run id it was sealed with). When the spool exceeds spool_max_bytes the oldest batches are deleted and
 * their events counted in ship_stats.dropped and dropped_by[cause] (the agent turns increases
 * into agent.loss with that cause). A spool file is fsynced, and then its directory, before
 * the batch counts as spooled (it survives a power loss, not only an agent restart).
 * One thread per ship does the network I/O; all functions are thread-safe.
 *
 * Crash safety: the open batch is appended to <spool>/open.hwj as it fills (ship_sync(), once
 * per batch of events of the agent's loop), so a kill -9 loses nothing already queued; the
 * journal is fsynced at most SHIP_SYNC_MS (1 s) after a write, and a seal empties it. The
 * small file <spool>/state holds this run's id, the last seq known durable (fsynced, in the
 * journal or a sealed batch) and whether the run ended cleanly (ship_close). The next
 * ship_open() turns a journal left behind into a sealed batch of the run that wrote it and, when
 * the state says that run did not end cleanly, reports it (ship_previous_run()).
 */
#ifndef HW_SHIP_H
#define HW_SHIP_H

#include <stddef.h>

struct ship;
struct ship_opts {
	const char *address;                        /* "host:port" of the collector */
	const char *ca_file, *cert_file, *key_file; /* PEM: fleet CA, this agent's cert and key */
	const char *spool_dir;                      /* on-disk spool for unacknowledged batches */
	unsigned long long spool_max_bytes;
	const char *host_id, *boot_id; /* identity of this agent run: host, boot, */
	unsigned long long run_id;     /* and the run's id (0: unknown). Every batch sealed by
				        * this ship carries it; batches found in the spool keep
				        * the run id they were sealed with. */
};
int ship_open(struct ship **out, const struct ship_opts *o); /* 0 or -errno; starts a thread */
/* Queue one event: a complete JSON object (no newline) with its seq. Copies; never blocks on the
 * network (bounded in-memory queue, then the spool). */
int ship_event(struct ship *s, unsigned long long seq, const char *json, size_t len);
/* Why events were dropped (dropped = the sum): */
enum ship_drop_cause {
	SHIP_DROP_SPOOL_FULL,       /* spool over spool_max_bytes: the oldest batches deleted */
	SHIP_DROP_SPOOL_UNREADABLE, /* a spooled batch's file vanished or could not be read */
	SHIP_DROP_SHIP_ERROR,       /* could not be queued: out of memory or compression failed */
	SHIP_DROP_NCAUSE
};
const char *ship_drop_cause_name(int cause); /* "spool_full", ... (agent.loss cause) */
struct ship_stats {
	unsigned long long sent, acked, spooled_bytes, dropped, reconnects, requests,
		requests_dropped;
	unsigned long long dropped_by[SHIP_DROP_NCAUSE];
	int connected;
	char error[192]; /* why the last connection attempt failed; "" once connected */
};
void ship_get_stats(struct ship *s, struct ship_stats *st); /* thread-safe */
/* What waits for the collector: sealed batches not acknowledged yet (in the spool) and their
 * events, and the events of the open batch. Walks the list of batches: for metrics, not for
 * every event. Thread-safe. */
struct ship_queue {
	unsigned long long batches, events, open_events;
};
void ship_get_queue(struct ship *s, struct ship_queue *q);
void ship_close(struct ship *s, int flush_timeout_ms);
/* Append what was queued since the last call to the spool's journal (main loop, per batch). */
void ship_sync(struct ship *s);
/* What ship_open() found of the run that used this spool before. */
struct ship_prev_run {
	int crashed;                 /* it did not end with ship_close() */
	unsigned long long run_id;   /* its run id */
	unsigned long long last_seq; /* its last seq known durable (stored or in the spool) */
};
void ship_previous_run(struct ship *s, struct ship_prev_run *out);
/* Take one control request the collector sent (REQUEST frame): its NUL-terminated arguments are
 * copied into buf (at most cap bytes). Returns their length, 0 if none is waiting. Requests
 * beyond the queue's 8 places are dropped and counted (ship_stats.requests_dropped). */
size_t ship_take_request(struct ship *s, char *buf, size_t cap,
			 unsigned *id); /* flush what it can, persist the rest to spool */

#endif
