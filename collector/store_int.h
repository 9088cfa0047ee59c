/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * store_int.h - the store's state, shared by store.c (schema, streams, names, chunks, alerts)
 * and store_retain.c (retention). Not for other files: store.h is the interface.
 */
#ifndef HW_STORE_INT_H
#define HW_STORE_INT_H

#include <stdint.h>
#include <sqlite3.h>

struct range {
	uint64_t lo, hi;
};

struct stream {
	/* key: the identity fields, each length-prefixed (name, host id, boot id: 1 byte of
	 * length, then the bytes), then the run id's 8 bytes: unambiguous for any bytes */
	uint8_t *key;
	size_t klen;
	struct range *r;
	uint32_t n, cap;
	int dirty;
	struct range *mark; /* stream_mark's copy of r */
	uint32_t mark_n, mark_cap;
	int mark_dirty;
	int64_t host, last_chunk; /* names id of its host name, its newest chunk (0: none yet) */
};

struct nent {
	char *key; /* "<type>\x1f<name>" */
	int64_t id;
	char *version; /* as stored in names.version (NULL: none) */
};

struct store {
	sqlite3 *db;
	sqlite3_stmt *ins_chunk, *ins_cidx, *ins_alert, *get_stream, *put_stream, *get_name,
		*ins_name, *begin, *commit, *rollback, *set_version;
	int in_txn;
	unsigned long long txn_rows;
	int64_t next_chunk;
	struct stream **st; /* open addressing by key */
	uint32_t stcap, stn;
	struct nent *names;
	uint32_t ncap, nn;
};

/* The first column of the first row of a one-value query (a PRAGMA, a count), 0 when none. */
int64_t store_pragma_int(sqlite3 *db, const char *sql);

#endif
