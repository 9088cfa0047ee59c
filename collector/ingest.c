// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * ingest.c - agents in: the TLS listener and its limits before the handshake, frames
 * (common/wire.c), batches (decompress, split, parse, check every event's host against the
 * certificate, dedupe per (certificate, host, boot, run, seq), insert, feed the herd engine),
 * and commits: every commit_ms the open transaction commits and only then are its batches
 * acknowledged. A failed write rolls the whole transaction back: its batches are not
 * acknowledged and their connections are closed, so the agents resend them.
 */
#include "collector/collector.h"

/* The handshake is over (done or the connection closed): off the pending list. */
static void pending_done(struct conn *k)
{
	if (!k->pending)
		return;
	k->pending = 0;
	k->c->npending--;
	TAILQ_REMOVE(&k->c->pending, k, pq);
	if (k->deadline) {
		event_free(k->deadline);
		k->deadline = NULL;
	}
}

static void conn_unref(struct conn *k)
{
	if (--k->refs == 0) {
		for (struct conn **pp = &k->c->conns; *pp; pp = &(*pp)->next)
			if (*pp == k) {
				*pp = k->next;
				break;
			}
		free(k);
	}
}

void conn_close(struct conn *k)
{
	if (k->dead)
		return;
	k->dead = 1;
	pending_done(k);
	if (k->handshaken)
		k->c->conns_open--;
	bufferevent_free(k->bev); /* closes the socket and frees the SSL object */
	k->bev = NULL;
	conn_unref(k);
}

static void reject(struct conn *k, int reason)
{
	struct collector *c = k->c;
	c->rejected[reason]++;
	fprintf(stderr, "herdwatch-collector: %s: frame refused (%s%s%s), connection closed\n",
		k->peer[0] ? k->peer : "peer", hw_wire_strerror(reason), k->why[0] ? ": " : "",
		k->why);
	conn_close(k);
}

/* ---- commit and acks ---- */

/*
 * Commit the open transaction, then acknowledge its batches. When any write of it failed
 * (c->store_failed: disk full, I/O error, size limit) or the commit fails, the transaction is
 * rolled back instead, with the stored-seq state of every stream (store.c forgets it and reads
 * it again from the database): none of its batches counts as stored, none is acknowledged, and
 * their connections are closed so that the agents resend them.
 */
void commit(struct collector *c)
{
	if (!store_in_txn(c->st)) {
		c->store_failed = 0;
		return;
	}
	int err;
	if (c->store_failed) {
		store_rollback(c->st);
		err = -EIO;
	} else {
		err = store_commit(c->st);
	}
	c->store_failed = 0;
	c->commits += !err;
	if (err) {
		c->storage_errors++;
		fprintf(stderr,
			"herdwatch-collector: storage failed: %zu batch(es) rolled back, not "
			"acknowledged (agents resend)\n",
			c->nacks);
	}
	for (size_t i = 0; i < c->nacks; i++) {
		struct conn *k = c->acks[i].conn;
		if (err) {
			c->stored -= c->acks[i].ack.stored;
			c->acks_withheld++;
			if (!k->dead)
				conn_close(k); /* no ack: the agent resends */
			conn_unref(k);         /* the ack's reference */
			continue;
		}
		c->committed += c->acks[i].ack.stored;
		if (!k->dead) {
			uint8_t buf[HW_WIRE_HDR_LEN + HW_WIRE_ACK_LEN];
			hw_wire_ack_encode(&c->acks[i].ack, buf);
			bufferevent_write(k->bev, buf, sizeof(buf));
			c->acks_sent++;
		}
		conn_unref(k);
	}
	c->nacks = 0;
}

/* ---- ingest ---- */

/* Accumulate (member, kind) of one stored event into the chunk's index rows. */
static void cidx_add(struct collector *c, int64_t member, int64_t kind, uint64_t ts)
{
	uint32_t mask = c->cidx_cap - 1;
	uint32_t h = (uint32_t)(((uint64_t)member * 0x9e3779b97f4a7c15ull) ^
				(uint64_t)kind * 0xff51afd7ed558ccdull) &
		     mask;
	while (c->cidx[h].used && (c->cidx[h].member != member || c->cidx[h].kind != kind))
		h = (h + 1) & mask;
	struct cidx *x = &c->cidx[h];
	if (!x->used) {
		*x = (struct cidx){member, kind, ts, ts, 0, 1};
		c->cidx_list[c->ncidx++] = h;
	}
	x->n++;
	if (ts < x->ts_min)
		x->ts_min = ts;
	if (ts > x->ts_max)
		x->ts_max = ts;
}

/*
 * A write to the database failed while this batch was processed (c->store_failed, or begin
 * failed): the open transaction is rolled back with all its pending batches (commit), and this
 * batch is not acknowledged either; its connection is closed, so the agent resends.
 * Returns STORE_FAILED (not a frame error: nothing is counted against the agent).
 */
#define STORE_FAILED (-1)
int storage_error(struct collector *c, struct conn *k)
{
	c->store_failed = 1;
	if (!store_in_txn(c->st)) { /* BEGIN itself failed */
		c->storage_errors++;
		c->store_failed = 0;
		fprintf(stderr, "herdwatch-collector: cannot begin a transaction: %s\n",
			sqlite3_errmsg(store_db(c->st)));
	}
	commit(c); /* rolls back; may close k if it has pending batches */
	if (!k->dead)
		conn_close(k);
	return STORE_FAILED;
}

/*
 * An event breaks the strict JSON the collector takes (json_parse_strict, ev_extract's ev->bad):
 * the reason for reject() (counted, one log line, the connection closed), with the detail in
 * k->why: the event's seq when known and the offending key or field.
 */
int refuse_event(struct conn *k, const char *line, size_t len, int why, uint32_t at,
		 const struct ev_info *ev)
{
	char key[256] = "";
	int reason = why == JSON_E_DUP_KEY       ? HW_REFUSE_DUP_KEY
		     : why == JSON_E_UTF8        ? HW_REFUSE_BAD_UTF8
		     : ev->bad_why == EV_BAD_NUL ? HW_REFUSE_NUL
						 : HW_REFUSE_NOT_INTEGER;
	if (why) {
		size_t e = at;
		while (e < len && e - at < 40 && line[e] != '"')
			e++;
		json_quote(key, sizeof(key), line + at, e - at);
	}
	const char *what = why == JSON_E_DUP_KEY ? "duplicate key "
			   : why == JSON_E_UTF8  ? "invalid UTF-8 in string "
						 : "field ";
	const char *field = why ? key : ev->bad;
	snprintf(k->why, sizeof(k->why), "%s%s%s, batch refused", what, field,
		 why                         ? ""
		 : ev->bad_why == EV_BAD_NUL ? " holds \\u0000"
					     : " is not an integer");
	return reason;
}

/* The batch's new events (c->keep) as one compressed chunk, with its index rows: only what is
 * new is stored (duplicates and bad lines cut out, recompressed). 0, or a storage error. */
static int store_kept(struct collector *c, struct stream *s, const struct hw_batch *b, int64_t host,
		      int64_t chunk, uint64_t first_seq, uint64_t ts_min, uint64_t ts_max)
{
	int err;
	const void *z = b->zdata;
	size_t zlen = b->zlen;
	uint32_t raw_len = b->raw_len;
	if (c->nkeep != b->count) {
		/* duplicates or bad lines removed: store only what is new */
		size_t o = 0;
		for (uint32_t i = 0; i < c->nkeep; i++) {
			memcpy(c->raw2 + o, c->raw + c->keep[i].off, c->keep[i].len);
			o += c->keep[i].len;
		}
		zlen = ZSTD_compressCCtx(c->cctx, c->zbuf, c->zcap, c->raw2, o, 1);
		if (ZSTD_isError(zlen)) {
			c->store_failed = 1; /* its seqs are marked stored: roll back */
			return 1;
		}
		z = c->zbuf;
		raw_len = (uint32_t)o;
	}
	err = store_chunk(c->st, host, first_seq, c->nkeep, ts_min, ts_max, z, zlen, raw_len);
	for (uint32_t i = 0; i < c->ncidx && !err; i++) {
		struct cidx *x = &c->cidx[c->cidx_list[i]];
		err = store_chunk_index(c->st, chunk, x->member, x->kind, x->ts_min, x->ts_max,
					x->n);
	}
	if (!err)
		stream_note_chunk(s, host, chunk);
	if (err)
		c->store_failed = 1;
	return c->store_failed;
}

/* The batch's answer, sent once its transaction is committed (an ack means durable). */
int queue_ack(struct collector *c, struct conn *k, const struct hw_ack *ack)
{
	if (c->nacks == c->ackcap) {
		size_t nc = c->ackcap ? c->ackcap * 2 : 256;
		struct pend_ack *a = realloc(c->acks, nc * sizeof(*a));
		if (!a) {
			c->store_failed = 1;
			return -1;
		}
		c->acks = a;
		c->ackcap = nc;
	}
	k->refs++;
	c->acks[c->nacks++] = (struct pend_ack){k, *ack};
	return 0;
}

/* What one batch's events share while they are stored: its stream, its chunk, the names
 * looked up last (events of a batch mostly repeat them) and the chunk's time range. */
struct batch_run {
	struct stream *s;
	int64_t chunk, host, kind, member;
	uint64_t ts_min, ts_max, first_seq;
	char last_kind[64], last_member[320];
};

/* A new event of the batch (line cur, l bytes; nt tokens): its names, its seq in the stream,
 * its place in the chunk and the index, then the herd engine. -1: a name or the seq could not
 * be written (store_failed is set). */
static int keep_event(struct collector *c, struct conn *k, struct batch_run *br,
		      const struct ev_info *ev, char toks[][TOKEN_MAX], int nt, const char *cur,
		      size_t l, uint64_t now)
{
	if (strcmp(ev->kind, br->last_kind)) {
		br->kind = store_name(c->st, 0, ev->kind, NULL, NULL, NULL);
		/* both NUL-terminated, same size */
		memcpy(br->last_kind, ev->kind, sizeof(br->last_kind));
	}
	if (strcmp(ev->member, br->last_member)) {
		br->member = store_name(c->st, 1, ev->member, ev->herd, ev->host, ev->version);
		memcpy(br->last_member, ev->member, sizeof(br->last_member));
	}
	if (br->host < 0) {
		br->host =
			store_name(c->st, 2, ev->host, ev->host_herd, ev->host, ev->host_version);
		if (!k->host[0])
			snprintf(k->host, sizeof(k->host), "%s", ev->host);
	}
	if (br->kind < 0 || br->member < 0 || br->host < 0 ||
	    stream_add(br->s, (uint64_t)ev->seq)) {
		c->store_failed = 1; /* names could not be written, or out of memory */
		return -1;
	}
	uint64_t ts = ev->ts_ns ? ev->ts_ns : now;
	if (ts < br->ts_min)
		br->ts_min = ts;
	if (ts > br->ts_max)
		br->ts_max = ts;
	c->clock_skew += (unsigned long long)herd_time_skewed(c->herd, ev->ts_ns, now);
	if (!c->nkeep)
		br->first_seq = (uint64_t)ev->seq;
	cidx_add(c, br->member, br->kind, ts);
	uint64_t id = (uint64_t)br->chunk << 16 | c->nkeep;
	c->keep[c->nkeep].off = (uint32_t)(cur - c->raw);
	c->keep[c->nkeep++].len = (uint32_t)l + 1;
	/* judged at the event's own time (a spool flushed after an outage is no burst of the
	 * present); now, the arrival, is only liveness (herd_seen). A program run from a release
	 * path first: a member without a version may have taken one */
	if (nt > 0 && ev->exe_release[0])
		herd_release_at(c->herd, ev->herd, ev->member, ev->host, toks[0], ev->exe_release,
				ev->ts_ns, now);
	for (int i = 0; i < nt; i++)
		herd_observe_at(c->herd, ev->herd, ev->member, ev->host, ev->version, toks[i],
				(uint64_t)ev->seq, id, ev->ts_ns, now);
	return 0;
}

/* The batch stored (or rolled back: storage_error), counted and its ACK queued. */
static int batch_done(struct collector *c, struct conn *k, struct batch_run *br,
		      const struct hw_batch *b, struct hw_ack *ack, uint64_t now)
{
	if (c->store_failed)
		return storage_error(c, k);
	if (c->nkeep &&
	    store_kept(c, br->s, b, br->host, br->chunk, br->first_seq, br->ts_min, br->ts_max))
		return storage_error(c, k);
	ack->stored = c->nkeep;
	c->stored += ack->stored;
	c->batches++;
	if (ack->stored) {
		if (!c->first_store_ns)
			c->first_store_ns = now;
		c->last_store_ns = now;
	}
	if (queue_ack(c, k, ack))
		return storage_error(c, k);
	if (store_txn_rows(c->st) >= 50000)
		commit(c);
	return 0;
}

/* The batch of one frame, as every ingest opens it: parsed, decompressed into c->raw, its
 * stream (marked, so a refusal half-way forgets what the batch added) and the open
 * transaction. 0, or what the frame's handler returns (a refusal, a storage error). */
int ingest_batch_open(struct collector *c, struct conn *k, int version, const uint8_t *p,
		      size_t len, struct hw_batch *b, struct stream **s)
{
	int err = hw_wire_parse_batch(version, p, len, b);
	if (!err)
		err = hw_wire_batch_decompress(b, c->dctx, c->raw, HW_WIRE_MAX_RAW);
	if (err)
		return err;
	/* The stream is keyed by the certificate's name too: a certificate only ever adds to the
	 * seqs of its own streams, whatever host id the frame claims. */
	*s = store_stream(c->st, k->cn, strlen(k->cn), b->host_id, b->host_len, b->boot_id,
			  b->boot_len, b->run_id);
	if (!*s || stream_mark(*s))
		return HW_WIRE_MALFORMED;
	if (!store_in_txn(c->st)) {
		if (store_begin(c->st))
			return storage_error(c, k);
		c->txn_start_ns = now_ns();
	}
	return 0;
}

/* One line of a batch through the checks every ingest makes: strict JSON, the event's fields,
 * the certificate's host. Returns the event's token count (>= 0; ev and toks filled), -1 for a
 * line that is not an event (counted in ack->rejected and bad_events: skip it), or -2 with
 * *refusal set: the whole batch is refused (what it marked in s is forgotten). */
int ingest_check_line(struct collector *c, struct conn *k, struct stream *s, char *cur, size_t l,
		      struct ev_info *ev, char toks[EV_MAX_TOKENS][TOKEN_MAX], struct hw_ack *ack,
		      int *refusal)
{
	int why = JSON_E_SYNTAX;
	uint32_t at = 0;
	ev->bad = NULL;
	int n = l <= MAX_EVENT_BYTES ? json_parse_strict(cur, l, c->toks, MAX_TOKS, &why, &at) : -1;
	struct jdoc d = {cur, c->toks, n};
	int nt = n > 0 && c->toks[0].type == J_OBJ ? ev_extract(&d, 0, ev, toks) : -1;
	if (why != JSON_E_SYNTAX && (why || ev->bad)) {
		/* strict JSON: the whole batch is refused (nothing of it stored) */
		stream_rollback(s);
		*refusal = refuse_event(k, cur, l, why, at, n > 0 ? ev : NULL);
		return -2;
	}
	if (nt < 0) {
		ack->rejected++;
		c->bad_events++;
		return -1;
	}
	if (!k->any_host && strcmp(ev->host, k->cn)) {
		/* An event of a host this certificate is not for: the whole batch is refused.
		 * Checked before any of the event's effects; what earlier events of the batch
		 * (of the certificate's own host) marked as stored is forgotten, and no chunk
		 * is written, so nothing of the batch is stored or acknowledged. */
		fprintf(stderr,
			"herdwatch-collector: %s: event of host \"%.128s\", but the "
			"certificate is for \"%s\"\n",
			k->peer, ev->host, k->cn);
		stream_rollback(s);
		*refusal = HW_REFUSE_HOST_MISMATCH;
		return -2;
	}
	return nt;
}

static int process_batch(struct collector *c, struct conn *k, int version, const uint8_t *p,
			 size_t len)
{
	struct hw_batch b;
	struct stream *s;
	int err = ingest_batch_open(c, k, version, p, len, &b, &s);
	if (err)
		return err;
	uint64_t now = now_ns();
	struct hw_ack ack = {.batch_id = b.batch_id};
	char *line = c->raw, *end = c->raw + b.raw_len;
	struct ev_info ev;
	char toks[EV_MAX_TOKENS][TOKEN_MAX];
	struct batch_run br = {.s = s,
			       .chunk = store_next_chunk(c->st),
			       .host = -1,
			       .kind = -1,
			       .member = -1,
			       .ts_min = UINT64_MAX};
	int alive = 0; /* herd_seen once per batch: the host of a batch is one agent */
	/* index rows: a hash table sized for the batch (count <= HW_WIRE_MAX_EVENTS) */
	c->cidx_cap = 64;
	while (c->cidx_cap < 2 * b.count)
		c->cidx_cap *= 2;
	memset(c->cidx, 0, c->cidx_cap * sizeof(*c->cidx));
	c->ncidx = 0;
	c->nkeep = 0;
	while (line < end) {
		char *nl = memchr(line, '\n', (size_t)(end - line));
		size_t l = (size_t)(nl - line);
		char *cur = line;
		line = nl + 1;
		int refusal = 0;
		int nt = ingest_check_line(c, k, s, cur, l, &ev, toks, &ack, &refusal);
		if (nt == -2)
			return refusal;
		if (nt < 0)
			continue;
		if (!alive) {
			/* any event, a resent duplicate too, shows that the agent is alive */
			herd_seen(c->herd, ev.host_herd, ev.host, ev.host, ev.host_version, 1, now);
			alive = 1;
		}
		if (stream_has(s, (uint64_t)ev.seq)) {
			ack.duplicates++;
			c->dups++;
			continue;
		}
		if (keep_event(c, k, &br, &ev, toks, nt, cur, l, now))
			break;
	}
	return batch_done(c, k, &br, &b, &ack, now);
}

static void conn_read(struct bufferevent *bev, void *arg)
{
	struct conn *k = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	while (!k->dead) {
		size_t avail = evbuffer_get_length(in);
		if (avail < HW_WIRE_HDR_LEN)
			break;
		uint8_t h[HW_WIRE_HDR_LEN];
		evbuffer_copyout(in, h, sizeof(h));
		struct hw_frame_hdr fh;
		int err = hw_wire_parse_hdr(h, &fh);
		if (!err && fh.type != HW_FRAME_BATCH)
			err = HW_WIRE_BAD_TYPE;
		if (err) {
			reject(k, err);
			return;
		}
		if (avail < HW_WIRE_HDR_LEN + (size_t)fh.len)
			break;
		evbuffer_drain(in, HW_WIRE_HDR_LEN);
		const uint8_t *p = evbuffer_pullup(in, fh.len);
		k->refs++; /* process_batch may commit, which may close k */
		err = !p           ? HW_WIRE_MALFORMED
		      : k->c->nats ? nats_ingest_batch(k->c, k, fh.version, p, fh.len)
				   : process_batch(k->c, k, fh.version, p, fh.len);
		if (!k->dead)
			evbuffer_drain(in, fh.len);
		if (err > 0 && !k->dead)
			reject(k, err);
		if (k->dead) {
			conn_unref(k); /* may free k: the last reference */
			return;
		}
		k->refs--; /* open: the connection's own reference remains */
		if (err)
			return;
	}
}

static void conn_event(struct bufferevent *bev, short what, void *arg)
{
	struct conn *k = arg;
	struct collector *c = k->c;
	if (what & BEV_EVENT_CONNECTED) {
		k->handshaken = 1;
		pending_done(k);
		struct timeval idle = {600, 0}, wr = {60, 0};
		bufferevent_set_timeouts(bev, &idle, &wr);
		c->conns_open++;
		c->conns_total++;
		SSL *ssl = bufferevent_openssl_get_ssl(bev);
		X509 *cert = ssl ? SSL_get_peer_certificate(ssl) : NULL;
		if (cert) {
			/* The CN names the one host this agent may send events of (herdwatch-ca agent
			 * DIR NAME: CN = NAME = the agent's host_name). A CN that is missing, too long
			 * or holds a NUL stays empty: no event's host matches it. */
			char cn[sizeof(k->cn)] = "";
			int n = X509_NAME_get_text_by_NID(X509_get_subject_name(cert),
							  NID_commonName, cn, sizeof(cn));
			if (n <= 0 || (size_t)n >= sizeof(cn) || strlen(cn) != (size_t)n)
				cn[0] = 0;
			memcpy(k->cn, cn, sizeof(cn));
			for (int i = 0; i < c->nrelay && cn[0]; i++)
				if (!strcmp(c->relay_cn[i], cn))
					k->any_host = 1;
			size_t l = strlen(k->peer);
			snprintf(k->peer + l, sizeof(k->peer) - l, " (%s)", cn);
			if (k->any_host && !c->quiet)
				fprintf(stderr,
					"herdwatch-collector: %s: relay certificate "
					"(--relay-cert), "
					"may send events of any host\n",
					k->peer);
			X509_free(cert);
		}
		return;
	}
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT)) {
		if (!k->handshaken) {
			c->tls_refused++;
			unsigned long e;
			char buf[256] = "";
			while ((e = bufferevent_get_openssl_error(bev)))
				ERR_error_string_n(e, buf, sizeof(buf));
			/* the certificate check's own reason (revoked, expired, unknown CA) first */
			SSL *ssl = bufferevent_openssl_get_ssl(bev);
			long vr = ssl ? SSL_get_verify_result(ssl) : X509_V_OK;
			if (vr != X509_V_OK)
				snprintf(buf, sizeof(buf), "agent certificate: %s",
					 X509_verify_cert_error_string(vr));
			log_limited(c, LOG_TLS, "%s: TLS refused: %s", k->peer,
				    buf[0] ? buf : "handshake failed");
		} else if (evbuffer_get_length(bufferevent_get_input(bev))) {
			c->rejected[HW_WIRE_TRUNCATED]++;
			fprintf(stderr,
				"herdwatch-collector: %s: connection closed inside a frame "
				"(truncated)\n",
				k->peer);
		}
		conn_close(k);
	}
}

/* The handshake deadline: absolute from the accept, whatever the peer sends meanwhile (the
 * bufferevent's timeouts start again with every byte read). */
static void on_deadline(evutil_socket_t fd, short what, void *arg)
{
	struct conn *k = arg;
	struct collector *c = k->c;
	c->hs_timeouts++;
	c->tls_refused++;
	log_limited(c, LOG_TLS, "%s: TLS refused: handshake not done within %u s", k->peer,
		    c->hs_timeout_s);
	conn_close(k);
}

void listener_resume(evutil_socket_t fd, short what, void *arg)
{
	struct collector *c = arg;
	evconnlistener_enable(c->lis);
}

/* Stop accepting agents for ms (the pending connections wait in the kernel's backlog). */
static void listener_pause(struct collector *c, unsigned ms)
{
	struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
	if (evtimer_pending(c->lis_resume, NULL))
		return;
	evconnlistener_disable(c->lis);
	evtimer_add(c->lis_resume, &tv);
}

/* accept() failed (EMFILE, ENFILE, ENOBUFS...): the connection stays in the backlog, so the
 * listener would fire again at once; it rests instead. */
void on_accept_error(struct evconnlistener *l, void *arg)
{
	struct collector *c = arg;
	int err = EVUTIL_SOCKET_ERROR();
	c->accept_errors++;
	log_limited(c, LOG_ACCEPT, "accepting agents: %s: not accepting for %d ms",
		    evutil_socket_error_to_string(err), LISTEN_PAUSE_MS);
	listener_pause(c, LISTEN_PAUSE_MS);
}

static void addr_key(const struct sockaddr *sa, uint8_t key[16], char *text, size_t tn)
{
	memset(key, 0, 16);
	snprintf(text, tn, "?");
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
		memcpy(key, &in->sin_addr, 4);
		evutil_inet_ntop(AF_INET, &in->sin_addr, text, tn);
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
		const uint8_t *a = in6->sin6_addr.s6_addr;
		static const uint8_t v4mapped[12] = {[10] = 0xff, [11] = 0xff};
		/* a v4-mapped address counts as its IPv4 address, any other as its /64 */
		if (!memcmp(a, v4mapped, 12))
			memcpy(key, a + 12, 4);
		else
			memcpy(key + 4, a, 8);
		evutil_inet_ntop(AF_INET6, &in6->sin6_addr, text, tn);
	}
}

/*
 * May this new connection start a handshake? Not when fewer than --fd-reserve descriptors
 * would be left (they stay for the HTTP API, the database and the agents already connected),
 * nor beyond --max-handshakes pending handshakes, or --max-handshakes-per-addr from its
 * source address. Returns why not, or NULL.
 */
static const char *accept_refusal(struct collector *c, evutil_socket_t fd, const uint8_t *key)
{
	struct rlimit rl;
	if (!getrlimit(RLIMIT_NOFILE, &rl) && rl.rlim_cur != RLIM_INFINITY) {
		/* descriptors are allocated lowest first: all below fd are in use */
		unsigned long long lim = rl.rlim_cur, reserve = c->fd_reserve;
		if (reserve > lim / 4)
			reserve = lim / 4;
		if ((unsigned long long)fd + reserve >= lim)
			return "descriptors reserved (--fd-reserve)";
	}
	if (c->npending >= c->max_pending)
		return "too many pending handshakes (--max-handshakes)";
	unsigned same = 0;
	struct conn *p;
	TAILQ_FOREACH(p, &c->pending, pq)
	same += !memcmp(p->addr, key, 16);
	if (same >= c->max_pending_addr)
		return "too many pending handshakes from this address (--max-handshakes-per-addr)";
	return NULL;
}

void on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int slen,
	       void *arg)
{
	struct collector *c = arg;
	uint8_t key[16];
	char host[64];
	addr_key(sa, key, host, sizeof(host));
	const char *why = accept_refusal(c, fd, key);
	if (why) {
		c->hs_refused++;
		log_limited(c, LOG_BUSY, "%s: connection refused before the handshake: %s", host,
			    why);
		evutil_closesocket(fd);
		if (c->npending >= c->max_pending || why[0] == 'd')
			listener_pause(c, LISTEN_PAUSE_MS / 5); /* no new handshake soon anyway */
		return;
	}
	struct conn *k = calloc(1, sizeof(*k));
	SSL *ssl = SSL_new(c->ctx);
	if (!k || !ssl) {
		free(k);
		SSL_free(ssl);
		evutil_closesocket(fd);
		return;
	}
	k->c = c;
	k->refs = 1;
	k->next = c->conns;
	c->conns = k;
	memcpy(k->addr, key, 16);
	snprintf(k->peer, sizeof(k->peer), "%s", host);
	k->bev = bufferevent_openssl_socket_new(c->base, fd, ssl, BUFFEREVENT_SSL_ACCEPTING,
						BEV_OPT_CLOSE_ON_FREE);
	k->deadline = k->bev ? evtimer_new(c->base, on_deadline, k) : NULL;
	if (!k->deadline) {
		if (k->bev)
			bufferevent_free(k->bev); /* closes fd, frees ssl */
		else {
			SSL_free(ssl);
			evutil_closesocket(fd);
		}
		c->conns = k->next;
		free(k);
		return;
	}
	k->pending = 1;
	c->npending++;
	TAILQ_INSERT_TAIL(&c->pending, k, pq);
	struct timeval dl = {c->hs_timeout_s, 0};
	evtimer_add(k->deadline, &dl);
	bufferevent_openssl_set_allow_dirty_shutdown(k->bev, 1);
	/* A frame is at most header + HW_WIRE_MAX_PAYLOAD; stop reading beyond that. */
	bufferevent_setwatermark(k->bev, EV_READ, 0, HW_WIRE_HDR_LEN + HW_WIRE_MAX_PAYLOAD + 65536);
	/* the handshake has its deadline (above); an authenticated agent may then idle 10 min
	 * (heartbeats arrive far more often) */
	struct timeval hs = {c->hs_timeout_s + 1, 0};
	bufferevent_set_timeouts(k->bev, &hs, &hs);
	bufferevent_setcb(k->bev, conn_read, NULL, conn_event, k);
	bufferevent_enable(k->bev, EV_READ | EV_WRITE);
}
