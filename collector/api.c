// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * api.c - the HTTP query API on a loopback port: /api/events, /api/alerts, /api/herds,
 * /api/members, /api/stats, /metrics, POST /api/request (control requests to agents, with the
 * API token), and the web console's pages and calls (console.c). Every parameter is checked;
 * a request naming another Host, or a state-changing one from another origin, is refused.
 */
#include "collector/collector.h"
#include "collector/http.h"

/* ---- HTTP query API ---- */

static void api_request_send(struct evhttp_request *req, struct collector *c, struct evkeyvalq *q);

struct qev {
	long long id;
	char *member;
	char *json;
	size_t len;
};

/* /api/events: the filters of one request, and what it found so far (from every database
 * read: the embedded collector's one, or each shard of a scale-out deployment; base: where the
 * database being read began in res) */
struct evquery {
	const char *member, *kind, *text;
	long long since, until, after, before, limit;
	int asc; /* after= given: oldest first; otherwise newest first */
};
struct evfound {
	struct qev *res;
	size_t nres, cap, base;
};

/* The chunks of db that may hold matches, in the order they are read (st), and the statement
 * that reads one (get). -1 after a 500 answer. */
static int events_prepare(struct evhttp_request *req, sqlite3 *db, const struct evquery *eq,
			  sqlite3_stmt **st, sqlite3_stmt **get)
{
	char sql[1024];
	int asc = eq->asc;
	if (eq->member || eq->kind)
		snprintf(sql, sizeof(sql),
			 "SELECT DISTINCT chunk FROM chunk_index WHERE 1%s%s%s%s%s%s ORDER BY "
			 "chunk %s",
			 eq->member ? " AND member IN (SELECT id FROM names WHERE type=1 AND "
				      "(name=?1 OR host=?1))"
				    : "",
			 eq->kind ? " AND kind IN (SELECT id FROM names WHERE type=0 AND name=?2)"
				  : "",
			 eq->since >= 0 ? " AND ts_max >= ?3" : "",
			 eq->until >= 0 ? " AND ts_min < ?4" : "", asc ? " AND chunk >= ?5" : "",
			 eq->before >= 0 ? " AND chunk <= ?6" : "", asc ? "ASC" : "DESC");
	else
		snprintf(sql, sizeof(sql), "SELECT id FROM chunks WHERE 1%s%s%s%s ORDER BY id %s",
			 eq->since >= 0 ? " AND ts_max >= ?3" : "",
			 eq->until >= 0 ? " AND ts_min < ?4" : "", asc ? " AND id >= ?5" : "",
			 eq->before >= 0 ? " AND id <= ?6" : "", asc ? "ASC" : "DESC");
	*st = *get = NULL;
	if (sqlite3_prepare_v2(db, sql, -1, st, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, "SELECT z, raw_len FROM chunks WHERE id=?", -1, get, NULL) !=
		    SQLITE_OK) {
		evhttp_send_error(req, 500, sqlite3_errmsg(db));
		sqlite3_finalize(*st);
		return -1;
	}
	if (eq->member)
		sqlite3_bind_text(*st, 1, eq->member, -1, SQLITE_STATIC);
	if (eq->kind)
		sqlite3_bind_text(*st, 2, eq->kind, -1, SQLITE_STATIC);
	sqlite3_bind_int64(*st, 3, eq->since);
	sqlite3_bind_int64(*st, 4, eq->until);
	sqlite3_bind_int64(*st, 5, eq->after >= 0 ? eq->after >> 16 : 0);
	sqlite3_bind_int64(*st, 6, eq->before >= 0 ? eq->before >> 16 : 0);
	return 0;
}

/* The events of one decompressed chunk (raw, rl bytes: one JSON line each, id = chunk << 16 |
 * line) that match the filters, appended to f. */
static void events_scan_chunk(const struct evquery *eq, long long chunk, char *raw, size_t rl,
			      struct jtok *toks, struct evfound *f)
{
	struct ev_info ev;
	char tk[EV_MAX_TOKENS][TOKEN_MAX];
	long long idx = 0;
	for (char *l = raw, *e = raw + rl; l < e; idx++) {
		char *nl = memchr(l, '\n', (size_t)(e - l));
		if (!nl)
			break;
		size_t ll = (size_t)(nl - l);
		char *cur = l;
		l = nl + 1;
		long long id = chunk << 16 | idx;
		if ((eq->after >= 0 && id <= eq->after) || (eq->before >= 0 && id >= eq->before))
			continue;
		if (eq->text && !memmem(cur, ll, eq->text, strlen(eq->text)))
			continue;
		int n = json_parse(cur, ll, toks, MAX_TOKS);
		struct jdoc d = {cur, toks, n};
		if (n <= 0 || ev_extract(&d, 0, &ev, tk) < 0)
			continue;
		if ((eq->member && strcmp(ev.member, eq->member) && strcmp(ev.host, eq->member)) ||
		    (eq->kind && strcmp(ev.kind, eq->kind)) ||
		    (eq->since >= 0 && ev.ts_ns < (uint64_t)eq->since) ||
		    (eq->until >= 0 && ev.ts_ns >= (uint64_t)eq->until))
			continue;
		if (eq->asc && (long long)(f->nres - f->base) >= eq->limit)
			break;
		if (f->nres == f->cap) {
			f->cap = f->cap ? f->cap * 2 : 64;
			struct qev *r = realloc(f->res, f->cap * sizeof(*r));
			if (!r)
				break;
			f->res = r;
		}
		f->res[f->nres++] = (struct qev){id, strdup(ev.member), strndup(cur, ll), ll};
	}
}

/* What reading one database examined. Oldest first: every id up to `bound` (LLONG_MAX: all);
 * newest first: every id from `bound` on (0: all). truncated: it stopped at query_max_chunks. */
struct evread {
	long long bound;
	int truncated;
};

/* The matches of one database (the embedded one, or a shard) appended to f: at most
 * query_max_chunks chunks are decompressed, then the reading stops ("truncated"). */
static int events_read_db(struct evhttp_request *req, struct collector *c, sqlite3 *db,
			  const struct evquery *eq, struct evfound *f, char *raw, struct jtok *toks,
			  struct evread *r)
{
	sqlite3_stmt *st, *get;
	if (events_prepare(req, db, eq, &st, &get))
		return -1;
	f->base = f->nres;
	long long scanned = 0, last_chunk = -1;
	r->truncated = 0;
	while ((long long)(f->nres - f->base) < eq->limit && sqlite3_step(st) == SQLITE_ROW) {
		if (scanned++ >= c->query_max_chunks) {
			r->truncated = 1;
			break;
		}
		long long chunk = sqlite3_column_int64(st, 0);
		last_chunk = chunk;
		sqlite3_bind_int64(get, 1, chunk);
		if (sqlite3_step(get) != SQLITE_ROW) {
			sqlite3_reset(get);
			continue;
		}
		const void *z = sqlite3_column_blob(get, 0);
		size_t zl = (size_t)sqlite3_column_bytes(get, 0);
		size_t rl = (size_t)sqlite3_column_int64(get, 1);
		size_t got = rl <= HW_WIRE_MAX_RAW ? ZSTD_decompress(raw, rl, z, zl) : 0;
		sqlite3_reset(get);
		if (ZSTD_isError(got) || got != rl)
			continue;
		events_scan_chunk(eq, chunk, raw, rl, toks, f);
	}
	sqlite3_finalize(st);
	sqlite3_finalize(get);
	int full = (long long)(f->nres - f->base) >= eq->limit;
	if (eq->asc)
		r->bound = r->truncated ? last_chunk << 16 | 0xffff
			   : full       ? f->res[f->nres - 1].id
					: LLONG_MAX;
	else
		r->bound = (r->truncated || full) && last_chunk >= 0 ? last_chunk << 16 : 0;
	return 0;
}

static int qev_cmp(const void *a, const void *b)
{
	long long x = ((const struct qev *)a)->id, y = ((const struct qev *)b)->id;
	return x < y ? -1 : x > y;
}

/* The answer from every database read: the matches in id order, cut where a database stopped
 * reading (bound: nothing beyond it was examined there) and to `limit` (oldest first: the
 * first, newest first: the last). truncated: cut by a database that stopped at
 * query_max_chunks; the client pages on with after=last_id (oldest first) or
 * before=next_before (newest first). One database gives what it always gave. Frees f. */
static void events_reply(struct evhttp_request *req, const struct evquery *eq, struct evfound *f,
			 int any_truncated, long long bound)
{
	qsort(f->res, f->nres, sizeof(*f->res), qev_cmp);
	size_t from = 0, to = f->nres;
	if (eq->asc) {
		while (to > 0 && f->res[to - 1].id > bound)
			to--;
		if ((long long)to > eq->limit)
			to = (size_t)eq->limit;
	} else {
		while (from < to && f->res[from].id < bound)
			from++;
		if ((long long)(to - from) > eq->limit)
			from = to - (size_t)eq->limit;
	}
	int truncated = any_truncated && (long long)(to - from) < eq->limit;
	struct jbuf b = {0};
	jb_puts(&b, "{\"events\":[");
	long long last = eq->after;
	int first = 1;
	for (size_t i = from; i < to; i++) {
		struct qev *x = &f->res[i];
		if (!x->member || !x->json)
			continue;
		last = x->id > last ? x->id : last;
		jb_printf(&b, "%s{\"id\":%lld,\"member\":", first ? "" : ",", x->id);
		first = 0;
		jb_str(&b, x->member);
		jb_puts(&b, ",\"event\":");
		jb_json_utf8(&b, x->json, x->len); /* stored before strict ingest */
		jb_puts(&b, "}");
	}
	if (truncated && eq->asc && bound > last)
		last = bound; /* everything up to here was examined */
	/* newest first: where the next page (older events) begins, -1 when all were examined */
	long long next_before = -1;
	if (!eq->asc && (long long)(to - from) >= eq->limit && to > from)
		next_before = f->res[from].id;
	else if (!eq->asc && truncated)
		next_before = bound;
	jb_printf(&b, "],\"last_id\":%lld,\"truncated\":%s,\"next_before\":%lld}", last,
		  truncated ? "true" : "false", next_before);
	for (size_t i = 0; i < f->nres; i++) {
		free(f->res[i].member);
		free(f->res[i].json);
	}
	free(f->res);
	http_reply_json(req, 200, &b);
}

/* Events matching the filters, read from the chunks the index selects, from the embedded
 * database or from every shard (--mode api, collector/nats_api.c). */
static void api_events(struct evhttp_request *req, struct collector *c, struct evkeyvalq *q)
{
	struct evquery eq = {.member = http_param(q, "member"),
			     .kind = http_param(q, "kind"),
			     .text = http_param(q, "q")};
	static const char *const known[] = {"member", "kind",  "since",  "until", "q",
					    "limit",  "after", "before", NULL};
	if (http_params_known(req, q, known, 0) || http_time(req, q, "since", -1, &eq.since) ||
	    http_time(req, q, "until", -1, &eq.until) ||
	    http_int(req, q, "after", -1, -1, LLONG_MAX, &eq.after) ||
	    http_int(req, q, "before", -1, -1, LLONG_MAX, &eq.before) ||
	    http_int(req, q, "limit", 100, 1, 10000, &eq.limit))
		return;
	eq.asc = eq.after >= 0;
	sqlite3 *const *dbs = c->nshards ? c->shards : &c->rdb;
	unsigned ndbs = c->nshards ? c->nshards : 1;
	struct evfound f = {0};
	char *raw = malloc(HW_WIRE_MAX_RAW);
	struct jtok *toks = malloc(sizeof(struct jtok) * MAX_TOKS);
	/* oldest first: the lowest bound of all; newest first: the highest */
	long long bound = eq.asc ? LLONG_MAX : 0;
	int truncated = 0;
	for (unsigned i = 0; raw && toks && i < ndbs; i++) {
		struct evread r;
		if (events_read_db(req, c, dbs[i], &eq, &f, raw, toks, &r)) {
			for (size_t k = 0; k < f.nres; k++) {
				free(f.res[k].member);
				free(f.res[k].json);
			}
			free(f.res);
			free(raw);
			free(toks);
			return;
		}
		truncated |= r.truncated;
		if (eq.asc ? r.bound < bound : r.bound > bound)
			bound = r.bound;
	}
	free(raw);
	free(toks);
	events_reply(req, &eq, &f, truncated, bound);
}

static void api_alerts(struct evhttp_request *req, struct collector *c, struct evkeyvalq *q)
{
	const char *member = http_param(q, "member"), *kind = http_param(q, "kind");
	static const char *const known[] = {"member", "kind",   "since", "until",
					    "after",  "before", "limit", NULL};
	static const char *const kinds[] = {"member.outlier", "herd.change", "member.silent",
					    "member.back", "member.folded"};
	long long since, until, after, before, limit;
	if (http_params_known(req, q, known, 0) || http_time(req, q, "since", -1, &since) ||
	    http_time(req, q, "until", -1, &until) ||
	    http_int(req, q, "after", -1, -1, LLONG_MAX, &after) ||
	    http_int(req, q, "before", -1, -1, LLONG_MAX, &before) ||
	    http_int(req, q, "limit", 100, 1, 10000, &limit))
		return;
	int kind_ok = !kind;
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]) && !kind_ok; i++)
		kind_ok = !strcmp(kind, kinds[i]);
	if (!kind_ok) {
		http_error(req, 400,
			   "kind: \"%.40s\" is not an alert kind (member.outlier, herd.change, "
			   "member.silent, member.back, member.folded)",
			   kind);
		return;
	}
	char sql[600];
	snprintf(sql, sizeof(sql),
		 "SELECT * FROM (SELECT id, json FROM alerts WHERE 1%s%s%s%s%s%s ORDER BY id %s "
		 "LIMIT ?5) ORDER BY 1",
		 member ? " AND (member=?1 OR member LIKE ?1 || '/%')" : "",
		 kind ? " AND kind=?2" : "", since >= 0 ? " AND ts >= ?3" : "",
		 after >= 0 ? " AND id > ?4" : "", until >= 0 ? " AND ts < ?6" : "",
		 before >= 0 ? " AND id < ?7" : "", after >= 0 ? "ASC" : "DESC");
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(c->rdb, sql, -1, &st, NULL) != SQLITE_OK) {
		evhttp_send_error(req, 500, sqlite3_errmsg(c->rdb));
		return;
	}
	if (member)
		sqlite3_bind_text(st, 1, member, -1, SQLITE_STATIC);
	if (kind)
		sqlite3_bind_text(st, 2, kind, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, since);
	sqlite3_bind_int64(st, 4, after);
	sqlite3_bind_int64(st, 5, limit);
	sqlite3_bind_int64(st, 6, until);
	sqlite3_bind_int64(st, 7, before);
	struct jbuf b = {0};
	jb_puts(&b, "{\"alerts\":[");
	long long last = after;
	int first = 1;
	while (sqlite3_step(st) == SQLITE_ROW) {
		last = sqlite3_column_int64(st, 0);
		jb_printf(&b, "%s{\"id\":%lld,\"alert\":", first ? "" : ",", last);
		jb_raw(&b, (const char *)sqlite3_column_text(st, 1),
		       (size_t)sqlite3_column_bytes(st, 1));
		jb_puts(&b, "}");
		first = 0;
	}
	sqlite3_finalize(st);
	jb_printf(&b, "],\"last_id\":%lld}", last);
	http_reply_json(req, 200, &b);
}

static void api_stats(struct evhttp_request *req, struct collector *c)
{
	struct jbuf b = {0};
	unsigned nm = herd_member_count(c->herd);
	jb_printf(
		&b,
		"{\"events_stored\":%llu,\"duplicates\":%llu,\"bad_events\":%llu,\"batches\":%llu,"
		"\"commits\":%llu,\"alerts\":%llu,\"connections_open\":%llu,\"connections_total\":%"
		"llu,"
		"\"tls_refused\":%llu,\"crl_loads\":%llu,\"revoked_closed\":%llu,"
		"\"retention_deleted\":%llu,\"retention_alerts_deleted\":%llu,"
		"\"retention_streams_deleted\":%llu,\"response_runs\":%llu,"
		"\"response_timeouts\":%llu,\"response_skipped\":%llu,\"responses_running\":%u,"
		"\"storage_errors\":%llu,\"requests_sent\":%llu,\"api_refused\":%llu,"
		"\"first_store_ns\":%llu,\"last_store_ns\":%llu,\"herd_bytes\":%zu,\"members\":%u,"
		"\"herd_bytes_per_member\":%zu,\"herd_token_overflow\":%llu,"
		"\"herd_candidates_dropped\":%llu,\"handshakes_pending\":%u,"
		"\"handshake_timeouts\":%llu,\"handshakes_refused\":%llu,\"accept_errors\":%llu,"
		"\"clock_skew\":%llu,\"rejected\":{",
		c->stored, c->dups, c->bad_events, c->batches, c->commits, c->alerts, c->conns_open,
		c->conns_total, c->tls_refused, c->crl_reloads, c->revoked_closed,
		c->retained_deleted, c->retained_alerts, c->retained_streams, c->response_runs,
		c->response_timeouts, c->response_skipped, c->nresponses, c->storage_errors,
		c->requests_sent, c->api_refused, (unsigned long long)c->first_store_ns,
		(unsigned long long)c->last_store_ns, herd_mem_bytes(c->herd), nm,
		nm ? herd_mem_bytes(c->herd) / nm : 0, (unsigned long long)herd_overflow(c->herd),
		(unsigned long long)herd_candidates_dropped(c->herd), c->npending, c->hs_timeouts,
		c->hs_refused, c->accept_errors, c->clock_skew);
	for (int i = 1; i < HW_REFUSE_MAX; i++)
		jb_printf(&b, "%s\"%s\":%llu", i > 1 ? "," : "", hw_wire_strerror(i),
			  c->rejected[i]);
	jb_puts(&b, "},\"alert_outputs\":");
	alert_outputs_json(c, &b);
	jb_puts(&b, "}");
	http_reply_json(req, 200, &b);
}

/* GET /metrics: the counters above in the Prometheus text format (collector/metrics.c). */
static void api_metrics(struct evhttp_request *req, struct collector *c)
{
	struct cmetrics m = {
		.events_stored = c->committed,
		.duplicates = c->dups,
		.bad_events = c->bad_events,
		.clock_skew = c->clock_skew,
		.batches = c->batches,
		.commits = c->commits,
		.acks_sent = c->acks_sent,
		.acks_withheld = c->acks_withheld,
		.storage_errors = c->storage_errors,
		.last_store_ns = c->last_store_ns,
		.tls_refused = c->tls_refused,
		.handshake_timeouts = c->hs_timeouts,
		.handshakes_refused = c->hs_refused,
		.accept_errors = c->accept_errors,
		.revoked_closed = c->revoked_closed,
		.crl_reloads = c->crl_reloads,
		.conns_total = c->conns_total,
		.conns_open = c->conns_open,
		.handshakes_pending = c->npending,
		.responses_running = c->nresponses,
		.acks_pending = c->nacks,
		.txn_rows = store_txn_rows(c->st),
		.alerts = &c->alert_counts,
		.response_runs = c->response_runs,
		.response_timeouts = c->response_timeouts,
		.response_skipped = c->response_skipped,
		.requests_sent = c->requests_sent,
		.api_refused = c->api_refused,
		.retained_events = c->retained_deleted,
		.retained_alerts = c->retained_alerts,
		.retained_streams = c->retained_streams,
		.herd = c->herd,
		.db = store_db(c->st),
		.now_ns = now_ns(),
	};
	memcpy(m.refused, c->rejected, sizeof(m.refused));
	alert_outputs_metrics(c, &m);
	struct prom b = {0};
	cmetrics_render(&m, &b);
	struct evbuffer *out = evbuffer_new();
	if (!out || b.oom) {
		evhttp_send_error(req, 500, "out of memory");
	} else {
		evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
				  PROM_CONTENT_TYPE);
		evbuffer_add(out, b.p, b.len);
		evhttp_send_reply(req, 200, "OK", out);
	}
	if (out)
		evbuffer_free(out);
	prom_free(&b);
}

/*
 * The API token: state-changing calls (POST /api/request) must carry it as
 * "Authorization: Bearer TOKEN". A new random token is written at every start to a file only
 * its owner (root) can read, next to the database by default; the herdwatch CLI reads it. Any
 * other local process, or a web page that makes a browser call the loopback port, has no token.
 */
int api_token_init(struct collector *c, const char *path)
{
	unsigned char rnd[32];
	size_t got = 0;
	while (got < sizeof(rnd)) {
		ssize_t r = getrandom(rnd + got, sizeof(rnd) - got, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			fprintf(stderr, "herdwatch-collector: getrandom: %s\n", strerror(errno));
			return -1;
		}
		got += (size_t)r;
	}
	for (size_t i = 0; i < sizeof(rnd); i++)
		snprintf(c->api_token + 2 * i, 3, "%02x", rnd[i]);
	char tmp[4200];
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	unlink(tmp);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	int ok = fd >= 0 && fchmod(fd, 0600) == 0 && write(fd, c->api_token, 64) == 64 &&
		 write(fd, "\n", 1) == 1 && fsync(fd) == 0;
	if (fd >= 0 && close(fd))
		ok = 0;
	if (!ok || rename(tmp, path)) {
		fprintf(stderr, "herdwatch-collector: cannot write the API token file %s: %s\n",
			path, strerror(errno));
		unlink(tmp);
		return -1;
	}
	return 0;
}

/* 0 when the request carries the token; otherwise answers 401 (none) or 403 (wrong). */
static int api_authorized(struct evhttp_request *req, struct collector *c)
{
	const char *h = evhttp_find_header(evhttp_request_get_input_headers(req), "Authorization");
	if (!h || strncasecmp(h, "Bearer ", 7)) {
		c->api_refused++;
		evhttp_send_error(
			req, 401,
			"API token required (Authorization: Bearer, see --api-token-file)");
		return -1;
	}
	h += 7;
	unsigned char diff = strlen(h) != 64;
	for (size_t i = 0; i < 64 && h[i]; i++)
		diff |= (unsigned char)(h[i] ^ c->api_token[i]);
	if (diff) {
		c->api_refused++;
		evhttp_send_error(req, 403, "wrong API token");
		return -1;
	}
	return 0;
}

/* POST /api/request with form fields host=NAME&arg=A&arg=B... (in the body, or in the query
 * string) and the API token: send a control request (as "herdwatch-agent ctl A B ..." would) to
 * every live connection of that agent, e.g. from an alert's response command:
 * "enable file.open --for 600". The agent answers in an agent.request event of its stream. */
static void api_request(struct evhttp_request *req, struct collector *c, struct evkeyvalq *qs)
{
	if (evhttp_request_get_command(req) != EVHTTP_REQ_POST) {
		c->api_refused++;
		evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", "POST");
		evhttp_send_error(req, 405, "POST only (it changes state)");
		return;
	}
	if (api_authorized(req, c))
		return;
	/* a page (the console) sends Origin; it may ask agents only with --console-requests */
	if (!c->console_requests &&
	    evhttp_find_header(evhttp_request_get_input_headers(req), "Origin")) {
		c->api_refused++;
		http_error(req, 403, "%s",
			   "requests from the web console are off (--console-requests)");
		return;
	}
	struct evkeyvalq form, *q = qs;
	TAILQ_INIT(&form);
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	size_t blen = evbuffer_get_length(in);
	if (blen) {
		char *body = blen < 65536 ? malloc(blen + 1) : NULL;
		if (!body) {
			evhttp_send_error(req, 400, "request too long");
			return;
		}
		evbuffer_copyout(in, body, blen);
		body[blen] = 0;
		int bad = evhttp_parse_query_str(body, &form);
		free(body);
		if (bad) {
			evhttp_clear_headers(&form);
			evhttp_send_error(req, 400, "bad form body");
			return;
		}
		q = &form;
	}
	api_request_send(req, c, q);
	evhttp_clear_headers(&form);
}

static void api_request_send(struct evhttp_request *req, struct collector *c, struct evkeyvalq *q)
{
	const char *host = http_param(q, "host");
	uint8_t frame[HW_WIRE_HDR_LEN + 4 + HW_WIRE_MAX_REQUEST];
	size_t alen = 0;
	struct evkeyval *kv;
	if (!host || !*host) {
		evhttp_send_error(req, 400, "host= is required");
		return;
	}
	TAILQ_FOREACH(kv, q, next)
	{
		if (strcmp(kv->key, "arg"))
			continue;
		size_t l = strlen(kv->value) + 1;
		if (alen + l > HW_WIRE_MAX_REQUEST) {
			evhttp_send_error(req, 400, "request too long");
			return;
		}
		memcpy(frame + HW_WIRE_HDR_LEN + 4 + alen, kv->value, l);
		alen += l;
	}
	if (!alen) {
		evhttp_send_error(req, 400, "arg= is required (the request's words)");
		return;
	}
	uint32_t id = ++c->next_request_id;
	uint32_t plen = 4 + (uint32_t)alen;
	uint8_t *h = frame;
	h[0] = 'H', h[1] = 'W', h[2] = 'F', h[3] = 'R'; /* HW_WIRE_MAGIC, big-endian */
	h[4] = 1; /* REQUEST frames are unchanged since version 1 (common/wire.c) */
	h[5] = HW_FRAME_REQUEST;
	h[6] = h[7] = 0;
	h[8] = plen >> 24, h[9] = plen >> 16, h[10] = plen >> 8, h[11] = plen;
	h[12] = id >> 24, h[13] = id >> 16, h[14] = id >> 8, h[15] = id;
	int sent = 0;
	for (struct conn *k = c->conns; k; k = k->next)
		if (!k->dead && k->handshaken && k->bev && !strcmp(k->host, host)) {
			bufferevent_write(k->bev, frame, HW_WIRE_HDR_LEN + plen);
			sent++;
		}
	c->requests_sent += sent;
	struct jbuf b = {0};
	char tmp[160];
	snprintf(tmp, sizeof(tmp), "{\"ok\":%s,\"id\":%u,\"sent_to\":%d", sent ? "true" : "false",
		 id, sent);
	jb_puts(&b, tmp);
	if (!sent)
		jb_puts(&b, ",\"error\":\"no live connection from that host\"");
	jb_puts(&b, "}");
	http_reply_json(req, 200, &b);
}

/* A Host header naming the API: the --http address, a localhost name or a --http-host name,
 * with the API's port or none. */
static int host_allowed(struct collector *c, const char *h)
{
	static const char *const local[] = {"localhost", "127.0.0.1", "::1"};
	const char *name = h, *port = NULL, *e;
	size_t l;
	if (!h)
		return 0;
	if (h[0] == '[') {
		if (!(e = strchr(h, ']')) || (e[1] && e[1] != ':'))
			return 0;
		name = h + 1;
		l = (size_t)(e - name);
		port = e[1] ? e + 2 : NULL;
	} else {
		e = strchr(h, ':');
		if (e && strchr(e + 1, ':'))
			return 0;
		l = e ? (size_t)(e - h) : strlen(h);
		port = e ? e + 1 : NULL;
	}
	if (port && (strspn(port, "0123456789") != strlen(port) || atoi(port) != c->http_port))
		return 0;
	const char *names[3 + 1 + 16];
	int n = 0;
	for (size_t i = 0; i < 3; i++)
		names[n++] = local[i];
	names[n++] = c->http_name;
	for (int i = 0; i < c->nhttp_hosts; i++)
		names[n++] = c->http_hosts[i];
	for (int i = 0; i < n; i++)
		if (strlen(names[i]) == l && !strncasecmp(names[i], name, l))
			return 1;
	return 0;
}

/*
 * DNS rebinding: a web page whose name an attacker made resolve to this address reaches the
 * API through a browser with that name in Host, so a request naming another host is refused
 * (421). A state-changing request (anything but GET and HEAD) from a page (an Origin header)
 * must come from the API's own origin, and one a browser marks as sent by another site
 * (Sec-Fetch-Site other than same-origin) is refused too (403): CSRF. Returns -1 when refused
 * (answered).
 */
static int http_refused(struct evhttp_request *req, struct collector *c)
{
	struct evkeyvalq *h = evhttp_request_get_input_headers(req);
	const char *host = evhttp_find_header(h, "Host"), *origin = evhttp_find_header(h, "Origin");
	const char *site = evhttp_find_header(h, "Sec-Fetch-Site");
	enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
	if (!host_allowed(c, host)) {
		c->api_refused++;
		return http_error(req, 421, "%s",
				  "Host is not a name of this API (see --http-host)");
	}
	if (cmd != EVHTTP_REQ_GET && cmd != EVHTTP_REQ_HEAD &&
	    ((origin && (strncasecmp(origin, "http://", 7) || strcasecmp(origin + 7, host))) ||
	     (site && strcasecmp(site, "same-origin")))) {
		c->api_refused++;
		return http_error(req, 403, "%s", "cross-origin request refused");
	}
	return 0;
}

void on_http(struct evhttp_request *req, void *arg)
{
	struct collector *c = arg;
	const struct evhttp_uri *u = evhttp_request_get_evhttp_uri(req);
	const char *path = evhttp_uri_get_path(u);
	struct evkeyvalq q;
	TAILQ_INIT(&q);
	const char *qs = evhttp_uri_get_query(u);
	if (qs && evhttp_parse_query_str(qs, &q)) {
		evhttp_send_error(req, 400, "bad query");
		return;
	}
	if (!path)
		path = "/";
	/* /api/events and /api/alerts check their own parameters */
	static const char *const none[] = {NULL}, *const req_params[] = {"host", "arg", NULL};
	int own =
		!strcmp(path, "/api/events") || !strcmp(path, "/api/alerts") || console_owns(path);
	if (http_refused(req, c) ||
	    (!own &&
	     http_params_known(req, &q, strcmp(path, "/api/request") ? none : req_params, 0))) {
		evhttp_clear_headers(&q);
		return;
	}
	evhttp_add_header(evhttp_request_get_output_headers(req), "X-Content-Type-Options",
			  "nosniff");
	if (console_http(c->console, req, path, &q))
		;
	else if (!strcmp(path, "/api/events"))
		api_events(req, c, &q);
	else if (!strcmp(path, "/api/alerts"))
		api_alerts(req, c, &q);
	else if (!strcmp(path, "/api/stats"))
		api_stats(req, c);
	else if (!strcmp(path, "/metrics"))
		api_metrics(req, c);
	else if (!strcmp(path, "/api/request") && c->napi)
		http_error(req, 501, "%s",
			   "--mode api: send control requests to the API of the ingest holding the "
			   "agent's connection");
	else if (!strcmp(path, "/api/request"))
		api_request(req, c, &q);
	else if (c->napi && (!strcmp(path, "/api/herds") || !strcmp(path, "/api/members")))
		nats_api_herds(req, c, path[5] == 'm');
	else if (!strcmp(path, "/api/herds") || !strcmp(path, "/api/members")) {
		char *s = path[5] == 'h' ? herd_dump_herds(c->herd, now_ns())
					 : herd_dump_members(c->herd, now_ns());
		struct jbuf b = {.p = s, .len = s ? strlen(s) : 0, .oom = !s};
		http_reply_json(req, 200, &b);
	} else
		evhttp_send_error(req, 404, "not found");
	evhttp_clear_headers(&q);
}
