// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * store_retain.c - retention of the store (store.h, store_retain): chunks older than the
 * age limit, then the oldest chunks while the database is over its size limit, with their
 * index rows; alerts and streams past the age limit. Deletes in bounded steps so that ingest
 * is not held for long.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collector/store.h"
#include "collector/store_int.h"

static int retain_exec(sqlite3 *db, const char *where, unsigned long long *deleted)
{
	char sql[256];
	snprintf(sql, sizeof(sql),
		 "DELETE FROM chunk_index WHERE chunk IN (SELECT id FROM chunks WHERE %s)", where);
	if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK)
		return -EIO;
	snprintf(sql, sizeof(sql), "SELECT coalesce(sum(count), 0) FROM chunks WHERE %s", where);
	*deleted += (unsigned long long)store_pragma_int(db, sql);
	snprintf(sql, sizeof(sql), "DELETE FROM chunks WHERE %s", where);
	return sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK ? 0 : -EIO;
}

/*
 * Alerts follow the events: an alert is kept at least as long as the events it cites. By age:
 * alerts older than max_age_s go (the events they cite, which arrived before them, are older
 * still). By size: alerts older than the oldest event left go (every event an alert cites
 * arrived before the alert; applied when size retention deleted events). Streams (the stored seqs of one agent run) go once none of their
 * events is left and they were inactive for longer than max_age_s (an agent run that still
 * sends keeps its row, so its resends stay duplicates).
 */
static int retain_alerts_streams(struct store *s, uint64_t now_ns, uint64_t max_age_s,
				 int size_deleted, struct store_retained *r)
{
	char sql[512];
	if (max_age_s && now_ns > max_age_s * 1000000000ull) {
		snprintf(sql, sizeof(sql), "DELETE FROM alerts WHERE ts < %llu",
			 (unsigned long long)(now_ns - max_age_s * 1000000000ull));
		if (sqlite3_exec(s->db, sql, NULL, NULL, NULL) != SQLITE_OK)
			return -EIO;
		r->alerts += (unsigned long long)sqlite3_changes(s->db);
	}
	if (size_deleted &&
	    store_pragma_int(s->db, "SELECT count(*) FROM (SELECT 1 FROM chunks LIMIT 1)")) {
		if (sqlite3_exec(s->db,
				 "DELETE FROM alerts WHERE ts < (SELECT min(ts_min) FROM chunks)",
				 NULL, NULL, NULL) != SQLITE_OK)
			return -EIO;
		r->alerts += (unsigned long long)sqlite3_changes(s->db);
	}
	if (max_age_s) {
		/* updated: seconds; a stream without last_chunk (older schema) is judged by age only */
		snprintf(sql, sizeof(sql),
			 "DELETE FROM streams WHERE updated < %llu AND (last_chunk IS NULL OR NOT "
			 "EXISTS"
			 " (SELECT 1 FROM chunks WHERE chunks.id <= streams.last_chunk AND"
			 " chunks.host = streams.host))",
			 (unsigned long long)(now_ns / 1000000000ull - max_age_s));
		if (sqlite3_exec(s->db, sql, NULL, NULL, NULL) != SQLITE_OK)
			return -EIO;
		unsigned long long n = (unsigned long long)sqlite3_changes(s->db);
		r->streams += n;
		if (n)
			store_drop_streams(s); /* cached copies of pruned rows */
	}
	return 0;
}

int store_retain(struct store *s, uint64_t now_ns, uint64_t max_age_s, uint64_t max_bytes,
		 struct store_retained *r)
{
	char where[128];
	unsigned long long *deleted = &r->events;
	*r = (struct store_retained){0};
	if (max_age_s && now_ns > max_age_s * 1000000000ull) {
		snprintf(where, sizeof(where), "ts_max < %llu",
			 (unsigned long long)(now_ns - max_age_s * 1000000000ull));
		if (retain_exec(s->db, where, deleted))
			return -EIO;
	}
	int size_deleted = 0;
	for (int round = 0; max_bytes && round < 50; round++) {
		int64_t used = (store_pragma_int(s->db, "PRAGMA page_count") -
				store_pragma_int(s->db, "PRAGMA freelist_count")) *
			       store_pragma_int(s->db, "PRAGMA page_size");
		if ((uint64_t)used <= max_bytes)
			break;
		int64_t lo = store_pragma_int(s->db, "SELECT min(id) FROM chunks"),
			hi = store_pragma_int(s->db, "SELECT max(id) FROM chunks");
		if (hi <= lo)
			break;
		snprintf(where, sizeof(where), "id < %lld", (long long)(lo + (hi - lo) / 10 + 1));
		if (retain_exec(s->db, where, deleted))
			return -EIO;
		size_deleted = 1;
	}
	return retain_alerts_streams(s, now_ns, max_age_s, size_deleted, r);
}
