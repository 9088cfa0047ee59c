// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * store.c - SQLite storage (see store.h for the schema).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collector/store.h"
#include "collector/store_int.h"

static const char *SCHEMA =
	"PRAGMA journal_mode=WAL;"
	"PRAGMA synchronous=FULL;"
	"PRAGMA cache_size=-65536;"
	"PRAGMA temp_store=MEMORY;"
	"CREATE TABLE IF NOT EXISTS chunks(id INTEGER PRIMARY KEY, host INTEGER NOT NULL,"
	" first_seq INTEGER NOT NULL, count INTEGER NOT NULL, ts_min INTEGER NOT NULL,"
	" ts_max INTEGER NOT NULL, raw_len INTEGER NOT NULL, z BLOB NOT NULL);"
	"CREATE INDEX IF NOT EXISTS chunks_ts ON chunks(ts_max);"
	"CREATE TABLE IF NOT EXISTS chunk_index(chunk INTEGER NOT NULL, member INTEGER NOT NULL,"
	" kind INTEGER NOT NULL, ts_min INTEGER NOT NULL, ts_max INTEGER NOT NULL, n INTEGER NOT "
	"NULL);"
	"CREATE INDEX IF NOT EXISTS chunk_index_member ON chunk_index(member, ts_max);"
	"CREATE INDEX IF NOT EXISTS chunk_index_kind ON chunk_index(kind, ts_max);"
	"CREATE INDEX IF NOT EXISTS chunk_index_chunk ON chunk_index(chunk);"
	"CREATE TABLE IF NOT EXISTS names(id INTEGER PRIMARY KEY, type INTEGER NOT NULL,"
	" name TEXT NOT NULL, herd TEXT, host TEXT, version TEXT, UNIQUE(type, name));"
	"CREATE TABLE IF NOT EXISTS streams(name TEXT NOT NULL, host_id TEXT NOT NULL,"
	" boot_id TEXT NOT NULL, run INTEGER NOT NULL, ranges TEXT NOT NULL, updated INTEGER,"
	" host INTEGER, last_chunk INTEGER, PRIMARY KEY(name, host_id, boot_id, run));"
	"CREATE TABLE IF NOT EXISTS alerts(id INTEGER PRIMARY KEY, ts INTEGER NOT NULL,"
	" kind TEXT NOT NULL, severity TEXT NOT NULL, herd TEXT, member TEXT, score REAL,"
	" json TEXT NOT NULL);"
	"CREATE INDEX IF NOT EXISTS alerts_ts ON alerts(ts);"
	"CREATE INDEX IF NOT EXISTS alerts_member ON alerts(member);"
	"CREATE TABLE IF NOT EXISTS herd_state(id INTEGER PRIMARY KEY CHECK (id = 1),"
	" saved INTEGER NOT NULL, raw_len INTEGER NOT NULL, z BLOB NOT NULL);";

/* Schema versions (PRAGMA user_version). 0: as first released; 1: names.version (the member's
 * version, so its cohort is herd + version); 2: streams keyed by (name, host id, boot id, run):
 * the certificate name the agent authenticated with and its run id join the key (rows of an
 * older database keep their ranges as name '' and run 0, see store_stream), and streams.host
 * and streams.last_chunk (so retention can tell when none of a stream's events is left). A
 * database of an older version is migrated in place, in one transaction, when it is opened. */
#define STORE_SCHEMA 2

static int has_column(sqlite3 *db, const char *table, const char *col)
{
	char sql[128];
	sqlite3_stmt *st;
	int found = 0;
	snprintf(sql, sizeof(sql), "PRAGMA table_info(%s)", table);
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		return -1;
	while (sqlite3_step(st) == SQLITE_ROW) {
		const char *name = (const char *)sqlite3_column_text(st, 1);
		if (name && !strcmp(name, col))
			found = 1;
	}
	sqlite3_finalize(st);
	return found;
}

static int migrate(sqlite3 *db)
{
	int64_t v = store_pragma_int(db, "PRAGMA user_version");
	if (v >= STORE_SCHEMA)
		return 0;
	char *err = NULL;
	if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, &err) != SQLITE_OK)
		goto fail;
	/* the CREATE TABLE above made new databases with the columns already */
	int has = has_column(db, "names", "version");
	if (has < 0 || (!has && sqlite3_exec(db, "ALTER TABLE names ADD COLUMN version TEXT", NULL,
					     NULL, &err) != SQLITE_OK))
		goto fail;
	/* streams: a new primary key means a new table; the old rows become (name '', run 0) */
	int has_run = has_column(db, "streams", "run");
	if (has_run < 0 ||
	    (!has_run &&
	     sqlite3_exec(
		     db,
		     "CREATE TABLE streams_v2(name TEXT NOT NULL, host_id TEXT NOT NULL,"
		     " boot_id TEXT NOT NULL, run INTEGER NOT NULL, ranges TEXT NOT NULL, updated "
		     "INTEGER,"
		     " host INTEGER, last_chunk INTEGER, PRIMARY KEY(name, host_id, boot_id, run));"
		     "INSERT INTO streams_v2(name, host_id, boot_id, run, ranges, updated)"
		     " SELECT '', host_id, boot_id, 0, ranges, updated FROM streams;"
		     "DROP TABLE streams;"
		     "ALTER TABLE streams_v2 RENAME TO streams;",
		     NULL, NULL, &err) != SQLITE_OK))
		goto fail;
	char sql[64];
	snprintf(sql, sizeof(sql), "PRAGMA user_version=%d", STORE_SCHEMA);
	if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK ||
	    sqlite3_exec(db, "COMMIT", NULL, NULL, &err) != SQLITE_OK)
		goto fail;
	if (!has || !has_run)
		fprintf(stderr,
			"herdwatch-collector: database schema %lld migrated to %d (%s%s%s)\n",
			(long long)v, STORE_SCHEMA, !has ? "names.version added" : "",
			!has && !has_run ? ", " : "",
			!has_run ? "streams keyed by name and run, with host and last chunk" : "");
	return 0;
fail:
	fprintf(stderr, "herdwatch-collector: migrating the database schema: %s\n",
		err ? err : sqlite3_errmsg(db));
	sqlite3_free(err);
	sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	return -1;
}

static uint64_t hkey(const char *s, size_t n)
{
	uint64_t h = 1469598103934665603ull;
	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
	return h;
}

static int prep(sqlite3 *db, const char *sql, sqlite3_stmt **st)
{
	if (sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, st, NULL) != SQLITE_OK) {
		fprintf(stderr, "herdwatch-collector: sqlite: %s: %s\n", sql, sqlite3_errmsg(db));
		return -EIO;
	}
	return 0;
}

int store_open(struct store **out, const char *path, unsigned long long max_bytes)
{
	struct store *s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	if (sqlite3_open_v2(path, &s->db,
			    SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
			    NULL) != SQLITE_OK)
		goto fail;
	char *err = NULL;
	if (sqlite3_exec(s->db, SCHEMA, NULL, NULL, &err) != SQLITE_OK) {
		fprintf(stderr, "herdwatch-collector: sqlite: %s\n", err ? err : "?");
		sqlite3_free(err);
		goto fail;
	}
	sqlite3_busy_timeout(s->db, 5000);
	if (migrate(s->db))
		goto fail;
	if (max_bytes) {
		char sql[96];
		int64_t pg = store_pragma_int(s->db, "PRAGMA page_size");
		snprintf(sql, sizeof(sql), "PRAGMA max_page_count=%llu",
			 max_bytes / (unsigned long long)(pg > 0 ? pg : 4096));
		if (sqlite3_exec(s->db, sql, NULL, NULL, NULL) != SQLITE_OK)
			goto fail;
	}
	if (prep(s->db,
		 "INSERT INTO chunks(id, host, first_seq, count, ts_min, ts_max, raw_len, z) "
		 "VALUES(?,?,?,?,?,?,?,?)",
		 &s->ins_chunk) ||
	    prep(s->db,
		 "INSERT INTO chunk_index(chunk, member, kind, ts_min, ts_max, n) "
		 "VALUES(?,?,?,?,?,?)",
		 &s->ins_cidx) ||
	    prep(s->db,
		 "INSERT INTO alerts(ts, kind, severity, herd, member, score, json) "
		 "VALUES(?,?,?,?,?,?,?)",
		 &s->ins_alert) ||
	    prep(s->db,
		 "SELECT ranges, host, last_chunk FROM streams WHERE name=? AND host_id=? AND "
		 "boot_id=? AND run=?",
		 &s->get_stream) ||
	    prep(s->db,
		 "INSERT OR REPLACE INTO streams(name, host_id, boot_id, run, ranges, updated, "
		 "host, last_chunk) VALUES(?,?,?,?,?,strftime('%s','now'),?,?)",
		 &s->put_stream) ||
	    prep(s->db, "SELECT id, version FROM names WHERE type=? AND name=?", &s->get_name) ||
	    prep(s->db, "INSERT INTO names(type, name, herd, host, version) VALUES(?,?,?,?,?)",
		 &s->ins_name) ||
	    prep(s->db, "UPDATE names SET version=? WHERE id=?", &s->set_version) ||
	    prep(s->db, "BEGIN", &s->begin) || prep(s->db, "COMMIT", &s->commit) ||
	    prep(s->db, "ROLLBACK", &s->rollback))
		goto fail;
	s->next_chunk = 0;
	store_next_chunk(s);
	*out = s;
	return 0;
fail:
	fprintf(stderr, "herdwatch-collector: cannot open database %s: %s\n", path,
		s->db ? sqlite3_errmsg(s->db) : "out of memory");
	store_close(s);
	return -EIO;
}

void store_drop_streams(struct store *s)
{
	for (uint32_t i = 0; i < s->stcap; i++)
		if (s->st[i]) {
			free(s->st[i]->key);
			free(s->st[i]->r);
			free(s->st[i]->mark);
			free(s->st[i]);
			s->st[i] = NULL;
		}
	s->stn = 0;
}

static int step_reset(sqlite3_stmt *st);

static void store_drop_names(struct store *s)
{
	for (uint32_t i = 0; i < s->ncap; i++) {
		free(s->names[i].key);
		free(s->names[i].version);
		s->names[i].key = NULL;
		s->names[i].version = NULL;
	}
	s->nn = 0;
}

void store_rollback(struct store *s)
{
	if (s->in_txn)
		step_reset(s->rollback);
	s->in_txn = 0;
	store_drop_streams(s); /* memory may claim seqs that were rolled back */
	store_drop_names(s);   /* and name ids that no longer exist */
	s->next_chunk = 0;     /* re-read from the database */
}

void store_close(struct store *s)
{
	if (!s)
		return;
	if (s->in_txn)
		store_commit(s);
	sqlite3_stmt *sts[] = {s->ins_chunk,  s->ins_cidx, s->ins_alert,  s->get_stream,
			       s->put_stream, s->get_name, s->ins_name,   s->begin,
			       s->commit,     s->rollback, s->set_version};
	for (size_t i = 0; i < sizeof(sts) / sizeof(sts[0]); i++)
		sqlite3_finalize(sts[i]);
	store_drop_streams(s);
	free(s->st);
	for (uint32_t i = 0; i < s->ncap; i++) {
		free(s->names[i].key);
		free(s->names[i].version);
	}
	free(s->names);
	sqlite3_close(s->db);
	free(s);
}

sqlite3 *store_db(struct store *s)
{
	return s->db;
}

static int step_reset(sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	return rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : -EIO;
}

int store_begin(struct store *s)
{
	if (s->in_txn)
		return 0;
	if (step_reset(s->begin))
		return -EIO;
	s->in_txn = 1;
	s->txn_rows = 0;
	return 0;
}

int store_in_txn(const struct store *s)
{
	return s->in_txn;
}

unsigned long long store_txn_rows(const struct store *s)
{
	return s->txn_rows;
}

static uint64_t get_run(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

static int put_stream(struct store *s, struct stream *st)
{
	size_t cap = (size_t)st->n * 42 + 1, o = 0;
	char *buf = malloc(cap);
	if (!buf)
		return -ENOMEM;
	buf[0] = 0;
	for (uint32_t i = 0; i < st->n; i++)
		o += (size_t)snprintf(buf + o, cap - o, "%s%llu-%llu", i ? "," : "",
				      (unsigned long long)st->r[i].lo,
				      (unsigned long long)st->r[i].hi);
	const uint8_t *k = st->key;
	for (int i = 0; i < 3; i++) { /* name, host id, boot id */
		sqlite3_bind_text(s->put_stream, i + 1, (const char *)k + 1, k[0], SQLITE_STATIC);
		k += 1 + k[0];
	}
	sqlite3_bind_int64(s->put_stream, 4, (sqlite3_int64)get_run(k));
	sqlite3_bind_text(s->put_stream, 5, buf, (int)o, SQLITE_TRANSIENT);
	if (st->last_chunk) {
		sqlite3_bind_int64(s->put_stream, 6, st->host);
		sqlite3_bind_int64(s->put_stream, 7, st->last_chunk);
	} else {
		sqlite3_bind_null(s->put_stream, 6);
		sqlite3_bind_null(s->put_stream, 7);
	}
	int err = step_reset(s->put_stream);
	free(buf);
	return err;
}

int store_commit(struct store *s)
{
	if (!s->in_txn)
		return 0;
	int err = 0;
	for (uint32_t i = 0; i < s->stcap && !err; i++)
		if (s->st[i] && s->st[i]->dirty) {
			err = put_stream(s, s->st[i]);
			s->st[i]->dirty = 0;
		}
	if (!err)
		err = step_reset(s->commit);
	if (err) {
		fprintf(stderr, "herdwatch-collector: commit failed: %s\n", sqlite3_errmsg(s->db));
		store_rollback(s);
	}
	s->in_txn = 0;
	return err;
}

static void load_ranges(struct stream *st, const char *txt)
{
	const char *p = txt;
	while (p && *p) {
		char *end;
		unsigned long long lo = strtoull(p, &end, 10), hi;
		if (*end != '-')
			break;
		hi = strtoull(end + 1, &end, 10);
		if (st->n == st->cap) {
			uint32_t nc = st->cap ? st->cap * 2 : 4;
			struct range *r = realloc(st->r, nc * sizeof(*r));
			if (!r)
				break;
			st->r = r;
			st->cap = nc;
		}
		st->r[st->n++] = (struct range){lo, hi};
		p = *end == ',' ? end + 1 : NULL;
	}
}

/* Read the stored seqs of (name, host id, boot id, run) from `streams`; 1 if a row was found. */
static int read_stream(struct store *s, struct stream *st, const char *name, size_t nl,
		       const char *host_id, size_t hl, const char *boot_id, size_t bl, uint64_t run)
{
	sqlite3_bind_text(s->get_stream, 1, name, (int)nl, SQLITE_STATIC);
	sqlite3_bind_text(s->get_stream, 2, host_id, (int)hl, SQLITE_STATIC);
	sqlite3_bind_text(s->get_stream, 3, boot_id, (int)bl, SQLITE_STATIC);
	sqlite3_bind_int64(s->get_stream, 4, (sqlite3_int64)run);
	int found = sqlite3_step(s->get_stream) == SQLITE_ROW;
	if (found) {
		load_ranges(st, (const char *)sqlite3_column_text(s->get_stream, 0));
		st->host = sqlite3_column_int64(s->get_stream, 1);
		st->last_chunk = sqlite3_column_int64(s->get_stream, 2);
	}
	sqlite3_reset(s->get_stream);
	return found;
}

struct stream *store_stream(struct store *s, const char *name, size_t nl, const char *host_id,
			    size_t hl, const char *boot_id, size_t bl, uint64_t run)
{
	uint8_t key[3 * (1 + STORE_MAX_ID) + 8];
	if (nl > STORE_MAX_ID || hl > STORE_MAX_ID || bl > STORE_MAX_ID)
		return NULL;
	size_t kl = 0;
	const char *f[3] = {name, host_id, boot_id};
	size_t fl[3] = {nl, hl, bl};
	for (int i = 0; i < 3; i++) {
		key[kl++] = (uint8_t)fl[i];
		memcpy(key + kl, f[i], fl[i]);
		kl += fl[i];
	}
	for (int i = 7; i >= 0; i--)
		key[kl++] = (uint8_t)(run >> (8 * i));
	if ((s->stn + 1) * 2 > s->stcap) {
		uint32_t nc = s->stcap ? s->stcap * 2 : 256;
		struct stream **t = calloc(nc, sizeof(*t));
		if (!t)
			return NULL;
		for (uint32_t i = 0; i < s->stcap; i++)
			if (s->st[i]) {
				uint32_t j = (uint32_t)hkey((const char *)s->st[i]->key,
							    s->st[i]->klen) &
					     (nc - 1);
				while (t[j])
					j = (j + 1) & (nc - 1);
				t[j] = s->st[i];
			}
		free(s->st);
		s->st = t;
		s->stcap = nc;
	}
	uint32_t j = (uint32_t)hkey((const char *)key, kl) & (s->stcap - 1);
	while (s->st[j]) {
		if (s->st[j]->klen == kl && !memcmp(s->st[j]->key, key, kl))
			return s->st[j];
		j = (j + 1) & (s->stcap - 1);
	}
	struct stream *st = calloc(1, sizeof(*st));
	if (!st || !(st->key = malloc(kl))) {
		free(st);
		return NULL;
	}
	memcpy(st->key, key, kl);
	st->klen = kl;
	/* An agent without run ids (run 0) continues what a database of schema 1 or older stored
	 * for its (host id, boot id): those rows were migrated with name ''. The row is copied, not
	 * moved, so a certificate can only add to its own streams. */
	if (!read_stream(s, st, name, nl, host_id, hl, boot_id, bl, run) && run == 0 && nl &&
	    read_stream(s, st, "", 0, host_id, hl, boot_id, bl, 0))
		st->dirty = 1;
	s->st[j] = st;
	s->stn++;
	return st;
}

int stream_has(const struct stream *st, uint64_t seq)
{
	uint32_t lo = 0, hi = st->n;
	while (lo < hi) {
		uint32_t mid = (lo + hi) / 2;
		if (st->r[mid].hi < seq)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < st->n && st->r[lo].lo <= seq;
}

int stream_mark(struct stream *st)
{
	if (st->n > st->mark_cap) {
		struct range *m = realloc(st->mark, st->n * sizeof(*m));
		if (!m)
			return -ENOMEM;
		st->mark = m;
		st->mark_cap = st->n;
	}
	if (st->n)
		memcpy(st->mark, st->r, st->n * sizeof(*st->r));
	st->mark_n = st->n;
	st->mark_dirty = st->dirty;
	return 0;
}

void stream_rollback(struct stream *st)
{
	/* r only grows (ranges join, never split), so the marked ranges fit */
	if (st->mark_n)
		memcpy(st->r, st->mark, st->mark_n * sizeof(*st->r));
	st->n = st->mark_n;
	st->dirty = st->mark_dirty;
}

void stream_note_chunk(struct stream *st, int64_t host, int64_t chunk)
{
	st->host = host;
	st->last_chunk = chunk;
	st->dirty = 1;
}

int stream_add(struct stream *st, uint64_t seq)
{
	st->dirty = 1;
	/* common case: extends the last range */
	if (st->n && st->r[st->n - 1].hi + 1 == seq) {
		st->r[st->n - 1].hi = seq;
		return 0;
	}
	uint32_t i = 0;
	while (i < st->n && st->r[i].hi < seq)
		i++;
	if (i < st->n && st->r[i].lo <= seq)
		return 0;
	int join_prev = i > 0 && st->r[i - 1].hi + 1 == seq;
	int join_next = i < st->n && st->r[i].lo == seq + 1;
	if (join_prev && join_next) {
		st->r[i - 1].hi = st->r[i].hi;
		memmove(&st->r[i], &st->r[i + 1], (st->n - i - 1) * sizeof(*st->r));
		st->n--;
		return 0;
	}
	if (join_prev) {
		st->r[i - 1].hi = seq;
		return 0;
	}
	if (join_next) {
		st->r[i].lo = seq;
		return 0;
	}
	if (st->n == st->cap) {
		uint32_t nc = st->cap ? st->cap * 2 : 4;
		struct range *r = realloc(st->r, nc * sizeof(*r));
		if (!r)
			return -ENOMEM;
		st->r = r;
		st->cap = nc;
	}
	memmove(&st->r[i + 1], &st->r[i], (st->n - i) * sizeof(*st->r));
	st->r[i] = (struct range){seq, seq};
	st->n++;
	return 0;
}

static int same_version(const char *a, const char *b)
{
	return (!a || !*a) ? (!b || !*b) : (b && !strcmp(a, b));
}

/* The version of name id changed (a member upgraded in place): names.version follows. */
static void update_version(struct store *s, struct nent *n, const char *version)
{
	char *v = version && *version ? strdup(version) : NULL;
	if (version && *version && !v)
		return;
	if (v)
		sqlite3_bind_text(s->set_version, 1, v, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(s->set_version, 1);
	sqlite3_bind_int64(s->set_version, 2, n->id);
	if (step_reset(s->set_version)) {
		free(v);
		return;
	}
	free(n->version);
	n->version = v;
}

int64_t store_name(struct store *s, int type, const char *name, const char *herd, const char *host,
		   const char *version)
{
	char key[600];
	int kl = snprintf(key, sizeof(key), "%d\x1f%s", type, name);
	if (kl < 0 || (size_t)kl >= sizeof(key))
		kl = sizeof(key) - 1;
	if ((s->nn + 1) * 2 > s->ncap) {
		uint32_t nc = s->ncap ? s->ncap * 2 : 1024;
		struct nent *t = calloc(nc, sizeof(*t));
		if (!t)
			return -1;
		for (uint32_t i = 0; i < s->ncap; i++)
			if (s->names[i].key) {
				uint32_t j =
					(uint32_t)hkey(s->names[i].key, strlen(s->names[i].key)) &
					(nc - 1);
				while (t[j].key)
					j = (j + 1) & (nc - 1);
				t[j] = s->names[i];
			}
		free(s->names);
		s->names = t;
		s->ncap = nc;
	}
	uint32_t j = (uint32_t)hkey(key, (size_t)kl) & (s->ncap - 1);
	while (s->names[j].key) {
		if (strcmp(s->names[j].key, key) == 0) {
			if (!same_version(version, s->names[j].version))
				update_version(s, &s->names[j], version);
			return s->names[j].id;
		}
		j = (j + 1) & (s->ncap - 1);
	}
	int64_t id = -1;
	char *stored = NULL;
	sqlite3_bind_int(s->get_name, 1, type);
	sqlite3_bind_text(s->get_name, 2, name, -1, SQLITE_STATIC);
	if (sqlite3_step(s->get_name) == SQLITE_ROW) {
		id = sqlite3_column_int64(s->get_name, 0);
		const char *v = (const char *)sqlite3_column_text(s->get_name, 1);
		stored = v && *v ? strdup(v) : NULL;
	}
	sqlite3_reset(s->get_name);
	if (id < 0) {
		sqlite3_bind_int(s->ins_name, 1, type);
		sqlite3_bind_text(s->ins_name, 2, name, -1, SQLITE_STATIC);
		sqlite3_bind_text(s->ins_name, 3, herd ? herd : "", -1, SQLITE_STATIC);
		sqlite3_bind_text(s->ins_name, 4, host ? host : "", -1, SQLITE_STATIC);
		if (version && *version)
			sqlite3_bind_text(s->ins_name, 5, version, -1, SQLITE_STATIC);
		else
			sqlite3_bind_null(s->ins_name, 5);
		if (step_reset(s->ins_name))
			return -1;
		id = sqlite3_last_insert_rowid(s->db);
		stored = version && *version ? strdup(version) : NULL;
	}
	s->names[j].key = strdup(key);
	if (!s->names[j].key) {
		free(stored);
		return id;
	}
	s->names[j].id = id;
	s->names[j].version = stored;
	s->nn++;
	if (!same_version(version, stored))
		update_version(s, &s->names[j], version);
	return id;
}

int64_t store_next_chunk(struct store *s)
{
	if (!s->next_chunk)
		s->next_chunk =
			store_pragma_int(s->db, "SELECT coalesce(max(id), 0) + 1 FROM chunks");
	return s->next_chunk;
}

void store_chunk_from(struct store *s, int64_t first)
{
	if (first > store_next_chunk(s))
		s->next_chunk = first;
}

int store_chunk(struct store *s, int64_t host, uint64_t first_seq, uint32_t count, uint64_t ts_min,
		uint64_t ts_max, const void *z, size_t zlen, uint32_t raw_len)
{
	sqlite3_stmt *st = s->ins_chunk;
	sqlite3_bind_int64(st, 1, store_next_chunk(s));
	sqlite3_bind_int64(st, 2, host);
	sqlite3_bind_int64(st, 3, (sqlite3_int64)first_seq);
	sqlite3_bind_int64(st, 4, count);
	sqlite3_bind_int64(st, 5, (sqlite3_int64)ts_min);
	sqlite3_bind_int64(st, 6, (sqlite3_int64)ts_max);
	sqlite3_bind_int64(st, 7, raw_len);
	sqlite3_bind_blob(st, 8, z, (int)zlen, SQLITE_STATIC);
	int err = step_reset(st);
	if (!err) {
		s->next_chunk++;
		s->txn_rows += count;
	}
	return err;
}

int store_chunk_index(struct store *s, int64_t chunk, int64_t member, int64_t kind, uint64_t ts_min,
		      uint64_t ts_max, uint32_t n)
{
	sqlite3_stmt *st = s->ins_cidx;
	sqlite3_bind_int64(st, 1, chunk);
	sqlite3_bind_int64(st, 2, member);
	sqlite3_bind_int64(st, 3, kind);
	sqlite3_bind_int64(st, 4, (sqlite3_int64)ts_min);
	sqlite3_bind_int64(st, 5, (sqlite3_int64)ts_max);
	sqlite3_bind_int64(st, 6, n);
	return step_reset(st);
}

int store_alert(struct store *s, uint64_t ts, const char *kind, const char *sev, const char *herd,
		const char *member, double score, const char *json, size_t len)
{
	sqlite3_stmt *st = s->ins_alert;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)ts);
	sqlite3_bind_text(st, 2, kind, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, sev, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, herd, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, member, -1, SQLITE_STATIC);
	sqlite3_bind_double(st, 6, score);
	sqlite3_bind_text(st, 7, json, (int)len, SQLITE_STATIC);
	return step_reset(st);
}

int64_t store_pragma_int(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st;
	int64_t v = 0;
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		return 0;
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}
