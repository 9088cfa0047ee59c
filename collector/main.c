// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * herdwatch-collector - receives event batches from agents over mutual TLS, stores them in
 * SQLite, runs the herd engine, emits alerts, and serves the query API.
 *
 * One thread, one libevent loop:
 *   TLS listener -> per connection: frames (common/wire.c) -> batch: decompress, split lines,
 *   parse (json.c), check that every event's host is the certificate's, dedupe per
 *   (certificate name, host id, boot id, run id, seq) (store.c), insert into the open
 *   transaction, feed the herd engine (herd.c) -> every commit_ms the transaction commits and
 *   only then are the ACKs of its batches written back.
 *   A peer that violates the frame format is disconnected; the reason is counted (/api/stats).
 *   HTTP on a loopback port: /api/events, /api/alerts, /api/herds, /api/members, /api/stats;
 *   POST /api/request (control requests to agents) only with the API token.
 *   A failed database write rolls the whole open transaction back: its batches are not
 *   acknowledged and their connections are closed, so the agents resend them.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/listener.h>
#include <event2/util.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <zstd.h>

#include "collector/herd.h"
#include "collector/json.h"
#include "collector/store.h"
#include "collector/tokens.h"
#include "common/wire.h"

#define MAX_TOKS 8192 /* JSON tokens per event; more is rejected as a bad event */
#define MAX_EVENT_BYTES (1u << 20)
#define QUERY_MAX_CHUNKS 5000 /* chunks one events query may decompress (--query-max-chunks) */
#define RESPONSE_MAX 32      /* response commands running at once; more alerts skip theirs */
#define HTTP_MAX_BODY (1 << 20)    /* query API: larger request bodies are refused (413) */
#define HTTP_MAX_HEADERS (16 << 10) /* ... and larger header blocks (400) */
#define LISTEN_PAUSE_MS 250  /* the agents' listener rests this long after accept() failed */

struct conn {
	struct collector *c;
	struct bufferevent *bev;
	int refs;
	int dead;
	int handshaken;
	char peer[160];
	char cn[STORE_MAX_ID + 1]; /* CN of the agent's certificate: the host it may speak for */
	int any_host;        /* the certificate is a --relay-cert: it may speak for any host */
	char host[128];      /* host.name of the agent's events (set by its first batch) */
	char why[200];       /* detail of a refused batch, for the log line of reject() */
	struct conn *next;   /* all connections, for requests to an agent */
	/* until its TLS handshake is done: on the collector's pending list, with a deadline */
	int pending;
	uint8_t addr[16];    /* source address (IPv6: its /64), for the per-address cap */
	struct event *deadline;
	TAILQ_ENTRY(conn) pq;
};

struct pend_ack {
	struct conn *conn;
	struct hw_ack ack;
};

/* A running response command: its alert is written to its stdin as the pipe accepts it. */
struct response {
	struct collector *c;
	pid_t pid;
	int fd;              /* write end of its stdin (non-blocking), -1 once written or closed */
	struct event *ev;    /* EV_WRITE on fd */
	char *buf;
	size_t len, off;
	uint64_t start_ns; /* CLOCK_MONOTONIC */
	int killed;
	struct response *next;
};

/* A log line that hostile peers can cause: at most LOG_BURST at once, then one a second. */
#define LOG_BURST 20
struct log_limit {
	double tokens;
	uint64_t last_ns;
	unsigned long long suppressed;
};
enum { LOG_TLS, LOG_ACCEPT, LOG_BUSY, LOG_CLASSES };

struct collector {
	struct event_base *base;
	SSL_CTX *ctx;
	struct evconnlistener *lis;
	struct event *lis_resume; /* re-enables the listener after a pause */
	/* pre-handshake limits (docs/collector.md "Connections before the handshake") */
	unsigned hs_timeout_s, max_pending, max_pending_addr, fd_reserve, npending;
	TAILQ_HEAD(, conn) pending;
	unsigned long long hs_timeouts, hs_refused, accept_errors;
	struct log_limit logl[LOG_CLASSES];
	struct evhttp *http;
	struct event *tick, *sigint, *sigterm;
	struct store *st;
	sqlite3 *rdb; /* read-only connection for queries */
	struct herd_engine *herd;
	ZSTD_DCtx *dctx;
	ZSTD_CCtx *cctx;
	char *raw, *raw2, *zbuf;
	size_t zcap;
	struct cidx *cidx;
	uint32_t *cidx_list;
	uint32_t cidx_cap, ncidx;
	struct keep {
		uint32_t off, len;
	} *keep;
	uint32_t nkeep;
	struct jtok *toks;
	struct pend_ack *acks;
	size_t nacks, ackcap;
	uint64_t txn_start_ns;
	/* config */
	unsigned commit_ms;
	unsigned long long retain_s, retain_bytes;
	unsigned retain_every_ticks;
	const char *response_cmd;
	unsigned response_timeout_s;
	struct response *responses;
	unsigned nresponses;
	unsigned query_max_chunks;
	char api_token[65];
	int store_failed; /* a write of the open transaction failed: it must be rolled back */
	int quiet;
	/* counters */
	unsigned long long stored, dups, bad_events, batches, rejected[HW_REFUSE_MAX], tls_refused,
		conns_open, conns_total, alerts, commits, retained_deleted, response_runs,
		response_timeouts, response_skipped, storage_errors, api_refused, retained_alerts,
		retained_streams;
	unsigned long long clock_skew; /* stored events whose time was beyond the skew bounds */
	uint64_t first_store_ns, last_store_ns;
	unsigned ticks;
	struct conn *conns;
	/* certificate revocation (--crl): reloaded when the file changes */
	const char *ca_path, *crl_path;
	struct stat crl_st;
	unsigned long long crl_reloads, revoked_closed;
	unsigned long long requests_sent;
	uint32_t next_request_id;
	/* query API: the names a request's Host may give (besides localhost names) */
	char http_name[256];
	int http_port;
	const char *http_hosts[16];
	int nhttp_hosts;
	/* --relay-cert: certificate names that may send events of any host */
	const char *relay_cn[16];
	int nrelay;
};

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* fprintf to stderr for lines a peer can cause at will (refused handshakes, accept errors):
 * per class at most LOG_BURST lines at once and then one a second; the next line printed says
 * how many were left out. Returns whether it printed. */
static int __attribute__((format(printf, 3, 4)))
log_limited(struct collector *c, int cls, const char *fmt, ...)
{
	struct log_limit *l = &c->logl[cls];
	uint64_t now = mono_ns();
	if (!l->last_ns)
		l->tokens = LOG_BURST;
	l->tokens += (double)(now - l->last_ns) / 1e9;
	if (l->tokens > LOG_BURST)
		l->tokens = LOG_BURST;
	l->last_ns = now;
	if (l->tokens < 1) {
		l->suppressed++;
		return 0;
	}
	l->tokens -= 1;
	va_list ap;
	va_start(ap, fmt);
	fputs("herdwatch-collector: ", stderr);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	if (l->suppressed)
		fprintf(stderr, " (%llu similar lines left out)", l->suppressed);
	fputc('\n', stderr);
	l->suppressed = 0;
	return 1;
}

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

static void conn_close(struct conn *k)
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

/* ---- alerts ---- */

static void response_close_fd(struct response *r)
{
	if (r->ev) {
		event_free(r->ev);
		r->ev = NULL;
	}
	if (r->fd >= 0) {
		close(r->fd);
		r->fd = -1;
	}
	free(r->buf);
	r->buf = NULL;
}

/* The command's stdin accepts more: write what fits, never wait. */
static void response_write(evutil_socket_t fd, short what, void *arg)
{
	struct response *r = arg;
	while (r->off < r->len) {
		ssize_t w = write(r->fd, r->buf + r->off, r->len - r->off);
		if (w > 0) {
			r->off += (size_t)w;
			continue;
		}
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return; /* the event fires again when the pipe has room */
		/* EPIPE: the command exited or closed its stdin without reading it all */
		break;
	}
	response_close_fd(r); /* EOF on the command's stdin */
}

/* Close every inherited descriptor but 0-2 (in the child, before exec). */
static void close_inherited(void)
{
#ifdef SYS_close_range
	if (syscall(SYS_close_range, 3u, ~0u, 0u) == 0)
		return;
#endif
	DIR *d = opendir("/proc/self/fd");
	if (!d) {
		for (int fd = 3; fd < 1024; fd++)
			close(fd);
		return;
	}
	int dfd = dirfd(d);
	struct dirent *e;
	while ((e = readdir(d)))
		if (e->d_name[0] >= '0' && e->d_name[0] <= '9') {
			int fd = atoi(e->d_name);
			if (fd > 2 && fd != dfd)
				close(fd);
		}
	closedir(d);
}

/*
 * --response-cmd: `sh -c CMD` per alert, the alert JSON and a newline on its stdin. The alert
 * is written as the pipe accepts it, from the event loop (a command that does not read its
 * stdin cannot stall ingest); the command inherits no descriptor of the collector besides
 * stdin, stdout and stderr; it runs in its own process group, which is killed after
 * --response-timeout-s (counted: response_timeouts). At most RESPONSE_MAX run at once; an
 * alert beyond that runs no command (counted: response_skipped).
 */
static void run_response(struct collector *c, const char *json, size_t len)
{
	int p[2];
	if (!c->response_cmd)
		return;
	if (c->nresponses >= RESPONSE_MAX) {
		c->response_skipped++;
		fprintf(stderr, "herdwatch-collector: %u response commands still running: this alert's skipped\n",
			c->nresponses);
		return;
	}
	struct response *r = calloc(1, sizeof(*r));
	if (!r || !(r->buf = malloc(len + 1)) || pipe2(p, O_CLOEXEC)) {
		if (r)
			free(r->buf);
		free(r);
		c->response_skipped++;
		return;
	}
	memcpy(r->buf, json, len);
	r->buf[len] = '\n';
	r->len = len + 1;
	pid_t pid = fork();
	if (pid == 0) {
		setpgid(0, 0);
		if (p[0] != 0) {
			dup2(p[0], 0); /* dup2 clears FD_CLOEXEC on 0 */
		} else {
			int fl = fcntl(0, F_GETFD);
			fcntl(0, F_SETFD, fl & ~FD_CLOEXEC);
		}
		close_inherited();
		signal(SIGPIPE, SIG_DFL);
		execl("/bin/sh", "sh", "-c", c->response_cmd, (char *)NULL);
		_exit(127);
	}
	close(p[0]);
	if (pid < 0) {
		fprintf(stderr, "herdwatch-collector: response command: fork: %s\n", strerror(errno));
		close(p[1]);
		free(r->buf);
		free(r);
		c->response_skipped++;
		return;
	}
	setpgid(pid, pid); /* also here: no race with the kill of a timeout */
	c->response_runs++;
	r->c = c;
	r->pid = pid;
	r->fd = p[1];
	r->start_ns = mono_ns();
	fcntl(r->fd, F_SETFL, fcntl(r->fd, F_GETFL) | O_NONBLOCK);
	r->ev = event_new(c->base, r->fd, EV_WRITE | EV_PERSIST, response_write, r);
	r->next = c->responses;
	c->responses = r;
	c->nresponses++;
	response_write(r->fd, EV_WRITE, r); /* most alerts fit the pipe at once */
	if (r->ev && r->fd >= 0)
		event_add(r->ev, NULL);
	else if (r->fd >= 0)
		response_close_fd(r); /* no event: cannot wait for room */
}

/* From the tick: reap finished commands, kill those past the timeout. */
static void response_check(struct collector *c)
{
	uint64_t now = mono_ns();
	for (struct response **pp = &c->responses, *r; (r = *pp);) {
		int status;
		pid_t w = waitpid(r->pid, &status, WNOHANG);
		if (w == r->pid || (w < 0 && errno == ECHILD)) {
			response_close_fd(r);
			*pp = r->next;
			c->nresponses--;
			free(r);
			continue;
		}
		if (!r->killed && c->response_timeout_s &&
		    now - r->start_ns >= (uint64_t)c->response_timeout_s * 1000000000ull) {
			fprintf(stderr, "herdwatch-collector: response command (pid %d) still running after %u s: killed\n",
				(int)r->pid, c->response_timeout_s);
			kill(-r->pid, SIGKILL);
			kill(r->pid, SIGKILL);
			r->killed = 1;
			c->response_timeouts++;
			response_close_fd(r);
		}
		pp = &r->next;
	}
}

static void on_alert(void *ctx, const char *json, size_t len, const char *kind, const char *sev,
		     const char *herd, const char *member, double score, uint64_t now)
{
	struct collector *c = ctx;
	c->alerts++;
	if (!store_in_txn(c->st)) {
		if (store_begin(c->st))
			c->store_failed = 1;
		c->txn_start_ns = now_ns();
	}
	if (store_alert(c->st, now, kind, sev, herd, member, score, json, len))
		c->store_failed = 1; /* the caller rolls back (commit) */
	fwrite(json, 1, len, stdout);
	fputc('\n', stdout);
	fflush(stdout);
	run_response(c, json, len);
}

/* ---- commit and acks ---- */

/*
 * Commit the open transaction, then acknowledge its batches. When any write of it failed
 * (c->store_failed: disk full, I/O error, size limit) or the commit fails, the transaction is
 * rolled back instead, with the stored-seq state of every stream (store.c forgets it and reads
 * it again from the database): none of its batches counts as stored, none is acknowledged, and
 * their connections are closed so that the agents resend them.
 */
static void commit(struct collector *c)
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
		fprintf(stderr, "herdwatch-collector: storage failed: %zu batch(es) rolled back, not acknowledged (agents resend)\n",
			c->nacks);
	}
	for (size_t i = 0; i < c->nacks; i++) {
		struct conn *k = c->acks[i].conn;
		if (err) {
			c->stored -= c->acks[i].ack.stored;
			if (!k->dead)
				conn_close(k); /* no ack: the agent resends */
			conn_unref(k); /* the ack's reference */
			continue;
		}
		if (!k->dead) {
			uint8_t buf[HW_WIRE_HDR_LEN + HW_WIRE_ACK_LEN];
			hw_wire_ack_encode(&c->acks[i].ack, buf);
			bufferevent_write(k->bev, buf, sizeof(buf));
		}
		conn_unref(k);
	}
	c->nacks = 0;
}

/* ---- ingest ---- */

struct cidx {
	int64_t member, kind;
	uint64_t ts_min, ts_max;
	uint32_t n, used;
};

/* Accumulate (member, kind) of one stored event into the chunk's index rows. */
static void cidx_add(struct collector *c, int64_t member, int64_t kind, uint64_t ts)
{
	uint32_t mask = c->cidx_cap - 1;
	uint32_t h = (uint32_t)(((uint64_t)member * 0x9e3779b97f4a7c15ull) ^ (uint64_t)kind * 0xff51afd7ed558ccdull) & mask;
	while (c->cidx[h].used && (c->cidx[h].member != member || c->cidx[h].kind != kind))
		h = (h + 1) & mask;
	struct cidx *x = &c->cidx[h];
	if (!x->used) {
		*x = (struct cidx){ member, kind, ts, ts, 0, 1 };
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
static int storage_error(struct collector *c, struct conn *k)
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
static int refuse_event(struct conn *k, const char *line, size_t len, int why, uint32_t at,
			const struct ev_info *ev)
{
	char key[256] = "";
	int reason = why == JSON_E_DUP_KEY ? HW_REFUSE_DUP_KEY :
		     why == JSON_E_UTF8	   ? HW_REFUSE_BAD_UTF8 :
		     ev->bad_why == EV_BAD_NUL ? HW_REFUSE_NUL :
						 HW_REFUSE_NOT_INTEGER;
	if (why) {
		size_t e = at;
		while (e < len && e - at < 40 && line[e] != '"')
			e++;
		json_quote(key, sizeof(key), line + at, e - at);
	}
	const char *what = why == JSON_E_DUP_KEY ? "duplicate key " :
			   why == JSON_E_UTF8	   ? "invalid UTF-8 in string " :
						     "field ";
	const char *field = why ? key : ev->bad;
	snprintf(k->why, sizeof(k->why), "%s%s%s, batch refused", what, field,
		 why ? "" : ev->bad_why == EV_BAD_NUL ? " holds \\u0000" : " is not an integer");
	return reason;
}

static int process_batch(struct collector *c, struct conn *k, int version, const uint8_t *p,
			 size_t len)
{
	struct hw_batch b;
	int err = hw_wire_parse_batch(version, p, len, &b);
	if (!err)
		err = hw_wire_batch_decompress(&b, c->dctx, c->raw, HW_WIRE_MAX_RAW);
	if (err)
		return err;
	/* The stream is keyed by the certificate's name too: a certificate only ever adds to the
	 * seqs of its own streams, whatever host id the frame claims. */
	struct stream *s = store_stream(c->st, k->cn, strlen(k->cn), b.host_id, b.host_len,
					b.boot_id, b.boot_len, b.run_id);
	if (!s || stream_mark(s))
		return HW_WIRE_MALFORMED;
	if (!store_in_txn(c->st)) {
		if (store_begin(c->st))
			return storage_error(c, k);
		c->txn_start_ns = now_ns();
	}
	uint64_t now = now_ns();
	struct hw_ack ack = { .batch_id = b.batch_id };
	char *line = c->raw, *end = c->raw + b.raw_len;
	struct ev_info ev;
	char toks[EV_MAX_TOKENS][TOKEN_MAX];
	int64_t chunk = store_next_chunk(c->st), host = -1;
	uint64_t ts_min = UINT64_MAX, ts_max = 0, first_seq = 0;
	char last_kind[64] = "", last_member[320] = "";
	int64_t kind = -1, member = -1;
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
		int why = JSON_E_SYNTAX;
		uint32_t at = 0;
		ev.bad = NULL;
		int n = l <= MAX_EVENT_BYTES ? json_parse_strict(cur, l, c->toks, MAX_TOKS, &why, &at) : -1;
		struct jdoc d = { cur, c->toks, n };
		int nt = n > 0 && c->toks[0].type == J_OBJ ? ev_extract(&d, 0, &ev, toks) : -1;
		if (why != JSON_E_SYNTAX && (why || ev.bad)) {
			/* strict JSON: the whole batch is refused (nothing of it stored) */
			stream_rollback(s);
			return refuse_event(k, cur, l, why, at, n > 0 ? &ev : NULL);
		}
		if (nt < 0) {
			ack.rejected++;
			c->bad_events++;
			continue;
		}
		if (!k->any_host && strcmp(ev.host, k->cn)) {
			/* An event of a host this certificate is not for: the whole batch is refused.
			 * Checked before any of the event's effects; what earlier events of the batch
			 * (of the certificate's own host) marked as stored is forgotten, and no chunk
			 * is written, so nothing of the batch is stored or acknowledged. */
			fprintf(stderr, "herdwatch-collector: %s: event of host \"%.128s\", but the "
					"certificate is for \"%s\"\n", k->peer, ev.host, k->cn);
			stream_rollback(s);
			return HW_REFUSE_HOST_MISMATCH;
		}
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
		if (strcmp(ev.kind, last_kind)) {
			kind = store_name(c->st, 0, ev.kind, NULL, NULL, NULL);
			memcpy(last_kind, ev.kind, sizeof(last_kind)); /* both NUL-terminated, same size */
		}
		if (strcmp(ev.member, last_member)) {
			member = store_name(c->st, 1, ev.member, ev.herd, ev.host, ev.version);
			memcpy(last_member, ev.member, sizeof(last_member));
		}
		if (host < 0) {
			host =
			    store_name(c->st, 2, ev.host, ev.host_herd, ev.host, ev.host_version);
			if (!k->host[0])
				snprintf(k->host, sizeof(k->host), "%s", ev.host);
		}
		if (kind < 0 || member < 0 || host < 0 || stream_add(s, (uint64_t)ev.seq)) {
			c->store_failed = 1; /* names could not be written, or out of memory */
			break;
		}
		uint64_t ts = ev.ts_ns ? ev.ts_ns : now;
		if (ts < ts_min)
			ts_min = ts;
		if (ts > ts_max)
			ts_max = ts;
		c->clock_skew += (unsigned long long)herd_time_skewed(c->herd, ev.ts_ns, now);
		if (!c->nkeep)
			first_seq = (uint64_t)ev.seq;
		cidx_add(c, member, kind, ts);
		uint64_t id = (uint64_t)chunk << 16 | c->nkeep;
		c->keep[c->nkeep].off = (uint32_t)(cur - c->raw);
		c->keep[c->nkeep++].len = (uint32_t)l + 1;
		/* judged at the event's own time (a spool flushed after an outage is no burst of
		 * the present); now, the arrival, is only liveness (herd_seen above). A program
		 * run from a release path first: a member without a version may have taken one */
		if (nt > 0 && ev.exe_release[0])
			herd_release_at(c->herd, ev.herd, ev.member, ev.host, toks[0], ev.exe_release,
					ev.ts_ns, now);
		for (int i = 0; i < nt; i++)
			herd_observe_at(c->herd, ev.herd, ev.member, ev.host, ev.version, toks[i],
					(uint64_t)ev.seq, id, ev.ts_ns, now);
	}
	if (c->store_failed)
		return storage_error(c, k);
	if (c->nkeep) {
		const void *z = b.zdata;
		size_t zlen = b.zlen;
		uint32_t raw_len = b.raw_len;
		if (c->nkeep != b.count) {
			/* duplicates or bad lines removed: store only what is new */
			size_t o = 0;
			for (uint32_t i = 0; i < c->nkeep; i++) {
				memcpy(c->raw2 + o, c->raw + c->keep[i].off, c->keep[i].len);
				o += c->keep[i].len;
			}
			zlen = ZSTD_compressCCtx(c->cctx, c->zbuf, c->zcap, c->raw2, o, 1);
			if (ZSTD_isError(zlen)) {
				c->store_failed = 1; /* its seqs are marked stored: roll back */
				return storage_error(c, k);
			}
			z = c->zbuf;
			raw_len = (uint32_t)o;
		}
		err = store_chunk(c->st, host, first_seq, c->nkeep, ts_min, ts_max, z, zlen, raw_len);
		for (uint32_t i = 0; i < c->ncidx && !err; i++) {
			struct cidx *x = &c->cidx[c->cidx_list[i]];
			err = store_chunk_index(c->st, chunk, x->member, x->kind, x->ts_min, x->ts_max, x->n);
		}
		if (!err)
			stream_note_chunk(s, host, chunk);
		if (err || c->store_failed) {
			c->store_failed = 1;
			return storage_error(c, k);
		}
	}
	ack.stored = c->nkeep;
	c->stored += ack.stored;
	c->batches++;
	if (ack.stored) {
		if (!c->first_store_ns)
			c->first_store_ns = now;
		c->last_store_ns = now;
	}
	if (c->nacks == c->ackcap) {
		size_t nc = c->ackcap ? c->ackcap * 2 : 256;
		struct pend_ack *a = realloc(c->acks, nc * sizeof(*a));
		if (!a) {
			c->store_failed = 1;
			return storage_error(c, k);
		}
		c->acks = a;
		c->ackcap = nc;
	}
	k->refs++;
	c->acks[c->nacks++] = (struct pend_ack){ k, ack };
	if (store_txn_rows(c->st) >= 50000)
		commit(c);
	return 0;
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
		err = p ? process_batch(k->c, k, fh.version, p, fh.len) : HW_WIRE_MALFORMED;
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
		struct timeval idle = { 600, 0 }, wr = { 60, 0 };
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
			int n = X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, cn,
							  sizeof(cn));
			if (n <= 0 || (size_t)n >= sizeof(cn) || strlen(cn) != (size_t)n)
				cn[0] = 0;
			memcpy(k->cn, cn, sizeof(cn));
			for (int i = 0; i < c->nrelay && cn[0]; i++)
				if (!strcmp(c->relay_cn[i], cn))
					k->any_host = 1;
			size_t l = strlen(k->peer);
			snprintf(k->peer + l, sizeof(k->peer) - l, " (%s)", cn);
			if (k->any_host && !c->quiet)
				fprintf(stderr, "herdwatch-collector: %s: relay certificate (--relay-cert), "
						"may send events of any host\n", k->peer);
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
				snprintf(buf, sizeof(buf), "agent certificate: %s", X509_verify_cert_error_string(vr));
			log_limited(c, LOG_TLS, "%s: TLS refused: %s", k->peer,
				    buf[0] ? buf : "handshake failed");
		} else if (evbuffer_get_length(bufferevent_get_input(bev))) {
			c->rejected[HW_WIRE_TRUNCATED]++;
			fprintf(stderr, "herdwatch-collector: %s: connection closed inside a frame (truncated)\n", k->peer);
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

static void listener_resume(evutil_socket_t fd, short what, void *arg)
{
	struct collector *c = arg;
	evconnlistener_enable(c->lis);
}

/* Stop accepting agents for ms (the pending connections wait in the kernel's backlog). */
static void listener_pause(struct collector *c, unsigned ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };
	if (evtimer_pending(c->lis_resume, NULL))
		return;
	evconnlistener_disable(c->lis);
	evtimer_add(c->lis_resume, &tv);
}

/* accept() failed (EMFILE, ENFILE, ENOBUFS...): the connection stays in the backlog, so the
 * listener would fire again at once; it rests instead. */
static void on_accept_error(struct evconnlistener *l, void *arg)
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
		static const uint8_t v4mapped[12] = { [10] = 0xff, [11] = 0xff };
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

static void on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int slen,
		      void *arg)
{
	struct collector *c = arg;
	uint8_t key[16];
	char host[64];
	addr_key(sa, key, host, sizeof(host));
	const char *why = accept_refusal(c, fd, key);
	if (why) {
		c->hs_refused++;
		log_limited(c, LOG_BUSY, "%s: connection refused before the handshake: %s", host, why);
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
	struct timeval dl = { c->hs_timeout_s, 0 };
	evtimer_add(k->deadline, &dl);
	bufferevent_openssl_set_allow_dirty_shutdown(k->bev, 1);
	/* A frame is at most header + HW_WIRE_MAX_PAYLOAD; stop reading beyond that. */
	bufferevent_setwatermark(k->bev, EV_READ, 0, HW_WIRE_HDR_LEN + HW_WIRE_MAX_PAYLOAD + 65536);
	/* the handshake has its deadline (above); an authenticated agent may then idle 10 min
	 * (heartbeats arrive far more often) */
	struct timeval hs = { c->hs_timeout_s + 1, 0 };
	bufferevent_set_timeouts(k->bev, &hs, &hs);
	bufferevent_setcb(k->bev, conn_read, NULL, conn_event, k);
	bufferevent_enable(k->bev, EV_READ | EV_WRITE);
}

/* ---- HTTP query API ---- */

static void api_request_send(struct evhttp_request *req, struct collector *c, struct evkeyvalq *q);

static void reply_json(struct evhttp_request *req, struct jbuf *b)
{
	struct evbuffer *out = evbuffer_new();
	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", "application/json");
	if (!out || b->oom) {
		evhttp_send_error(req, 500, "out of memory");
	} else {
		evbuffer_add(out, b->p ? b->p : "", b->len);
		evbuffer_add(out, "\n", 1);
		evhttp_send_reply(req, 200, "OK", out);
	}
	if (out)
		evbuffer_free(out);
	free(b->p);
}

static const char *qparam(struct evkeyvalq *q, const char *k)
{
	const char *v = evhttp_find_header(q, k);
	return v && *v ? v : NULL;
}

/* An error answer with a JSON body {"error": msg} (msg may hold request text: it is escaped
 * there, never put in the status line). Returns -1. */
static int reply_error(struct evhttp_request *req, int code, const char *msg)
{
	struct jbuf b = { 0 };
	struct evbuffer *out = evbuffer_new();
	jb_puts(&b, "{\"error\":");
	jb_str(&b, msg);
	jb_puts(&b, "}\n");
	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", "application/json");
	if (out && !b.oom) {
		evbuffer_add(out, b.p, b.len);
		evhttp_send_reply(req, code, code == 400 ? "Bad Request" : "Refused", out);
	} else {
		evhttp_send_error(req, 500, "out of memory");
	}
	if (out)
		evbuffer_free(out);
	free(b.p);
	return -1;
}

static int bad_param(struct evhttp_request *req, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static int bad_param(struct evhttp_request *req, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return reply_error(req, 400, msg);
}

/* Every parameter of the query is one of names (NULL-terminated); else 400. */
static int params_known(struct evhttp_request *req, struct evkeyvalq *q, const char *const *names)
{
	struct evkeyval *kv;
	TAILQ_FOREACH(kv, q, next)
	{
		int known = 0;
		for (const char *const *n = names; *n && !known; n++)
			known = !strcmp(kv->key, *n);
		if (!known)
			return bad_param(req, "unknown parameter \"%.40s\"", kv->key);
	}
	return 0;
}

/* Integer parameter k in [min, max] into *out (dflt when absent or empty); else 400. */
static int qint(struct evhttp_request *req, struct evkeyvalq *q, const char *k, long long dflt,
		long long min, long long max, long long *out)
{
	const char *v = qparam(q, k);
	char *e;
	*out = dflt;
	if (!v)
		return 0;
	errno = 0;
	long long x = strtoll(v, &e, 10);
	if ((v[0] != '-' && (v[0] < '0' || v[0] > '9')) || *e || errno || x < min || x > max)
		return bad_param(req, "%s: \"%.40s\" is not an integer from %lld to %lld", k, v, min, max);
	*out = x;
	return 0;
}

/* since/until: ns since the epoch or RFC 3339 (-1 when absent); else 400 */
static int qtime(struct evhttp_request *req, struct evkeyvalq *q, const char *k, long long *out)
{
	const char *v = qparam(q, k);
	*out = -1;
	if (!v || !strchr(v, 'T'))
		return qint(req, q, k, -1, 0, LLONG_MAX, out);
	uint64_t t = parse_rfc3339(v, strlen(v));
	if (!t || t > LLONG_MAX)
		return bad_param(req, "%s: \"%.40s\" is not a time (ns since the epoch, or RFC 3339)", k, v);
	*out = (long long)t;
	return 0;
}

struct qev {
	long long id;
	char *member;
	char *json;
	size_t len;
};

/* Events matching the filters, read from the chunks the index selects. */
static void api_events(struct evhttp_request *req, struct collector *c, struct evkeyvalq *q)
{
	const char *member = qparam(q, "member"), *kind = qparam(q, "kind"), *text = qparam(q, "q");
	static const char *const known[] = { "member", "kind", "since", "until", "q", "limit",
					     "after", "before", NULL };
	long long since, until, after, before, limit;
	if (params_known(req, q, known) || qtime(req, q, "since", &since) ||
	    qtime(req, q, "until", &until) || qint(req, q, "after", -1, -1, LLONG_MAX, &after) ||
	    qint(req, q, "before", -1, -1, LLONG_MAX, &before) ||
	    qint(req, q, "limit", 100, 1, 10000, &limit))
		return;
	int asc = after >= 0;
	char sql[1024];
	if (member || kind)
		snprintf(sql, sizeof(sql),
			 "SELECT DISTINCT chunk FROM chunk_index WHERE 1%s%s%s%s%s%s ORDER BY chunk %s",
			 member ? " AND member IN (SELECT id FROM names WHERE type=1 AND (name=?1 OR host=?1))" : "",
			 kind ? " AND kind IN (SELECT id FROM names WHERE type=0 AND name=?2)" : "",
			 since >= 0 ? " AND ts_max >= ?3" : "", until >= 0 ? " AND ts_min < ?4" : "",
			 asc ? " AND chunk >= ?5" : "", before >= 0 ? " AND chunk <= ?6" : "",
			 asc ? "ASC" : "DESC");
	else
		snprintf(sql, sizeof(sql), "SELECT id FROM chunks WHERE 1%s%s%s%s ORDER BY id %s",
			 since >= 0 ? " AND ts_max >= ?3" : "", until >= 0 ? " AND ts_min < ?4" : "",
			 asc ? " AND id >= ?5" : "", before >= 0 ? " AND id <= ?6" : "",
			 asc ? "ASC" : "DESC");
	sqlite3_stmt *st = NULL, *get = NULL;
	if (sqlite3_prepare_v2(c->rdb, sql, -1, &st, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(c->rdb, "SELECT z, raw_len FROM chunks WHERE id=?", -1, &get, NULL) != SQLITE_OK) {
		evhttp_send_error(req, 500, sqlite3_errmsg(c->rdb));
		sqlite3_finalize(st);
		return;
	}
	if (member)
		sqlite3_bind_text(st, 1, member, -1, SQLITE_STATIC);
	if (kind)
		sqlite3_bind_text(st, 2, kind, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, since);
	sqlite3_bind_int64(st, 4, until);
	sqlite3_bind_int64(st, 5, after >= 0 ? after >> 16 : 0);
	sqlite3_bind_int64(st, 6, before >= 0 ? before >> 16 : 0);
	struct qev *res = NULL;
	size_t nres = 0, cap = 0;
	size_t *chunk_start = NULL, nchunks = 0; /* where each chunk's matches begin in res */
	char *raw = malloc(HW_WIRE_MAX_RAW);
	struct jtok *toks = malloc(sizeof(struct jtok) * MAX_TOKS);
	struct ev_info ev;
	char tk[EV_MAX_TOKENS][TOKEN_MAX];
	long long scanned = 0;
	/* bound the work of one request: at most query_max_chunks chunks are decompressed; the
	 * answer then says "truncated" and the client pages on: with after=last_id (oldest first),
	 * or with before=next_before (newest first) */
	int truncated = 0;
	long long last_chunk = -1;
	while (raw && toks && (long long)nres < limit && sqlite3_step(st) == SQLITE_ROW) {
		if (scanned++ >= c->query_max_chunks) {
			truncated = 1;
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
		size_t *cs = realloc(chunk_start, (nchunks + 1) * sizeof(*cs));
		if (!cs)
			break;
		chunk_start = cs;
		chunk_start[nchunks++] = nres;
		long long idx = 0;
		for (char *l = raw, *e = raw + rl; l < e; idx++) {
			char *nl = memchr(l, '\n', (size_t)(e - l));
			if (!nl)
				break;
			size_t ll = (size_t)(nl - l);
			char *cur = l;
			l = nl + 1;
			long long id = chunk << 16 | idx;
			if ((after >= 0 && id <= after) || (before >= 0 && id >= before))
				continue;
			if (text && !memmem(cur, ll, text, strlen(text)))
				continue;
			int n = json_parse(cur, ll, toks, MAX_TOKS);
			struct jdoc d = { cur, toks, n };
			if (n <= 0 || ev_extract(&d, 0, &ev, tk) < 0)
				continue;
			if ((member && strcmp(ev.member, member) && strcmp(ev.host, member)) ||
			    (kind && strcmp(ev.kind, kind)) ||
			    (since >= 0 && ev.ts_ns < (uint64_t)since) || (until >= 0 && ev.ts_ns >= (uint64_t)until))
				continue;
			if (asc && (long long)nres >= limit)
				break;
			if (nres == cap) {
				cap = cap ? cap * 2 : 64;
				struct qev *r = realloc(res, cap * sizeof(*r));
				if (!r)
					break;
				res = r;
			}
			res[nres++] = (struct qev){ id, strdup(ev.member), strndup(cur, ll), ll };
		}
	}
	sqlite3_finalize(st);
	sqlite3_finalize(get);
	free(raw);
	free(toks);
	/* newest-first scan: emit chunks oldest first and keep only the newest `limit` events */
	struct jbuf b = { 0 };
	jb_puts(&b, "{\"events\":[");
	long long last = after, first_id = -1;
	int first = 1;
	size_t skip = !asc && (long long)nres > limit ? nres - (size_t)limit : 0;
	for (size_t ci = 0; ci < nchunks; ci++) {
		size_t k = asc ? ci : nchunks - 1 - ci;
		size_t from = chunk_start[k], to = k + 1 < nchunks ? chunk_start[k + 1] : nres;
		for (size_t i = from; i < to; i++) {
			struct qev *x = &res[i];
			if (skip) {
				skip--;
				continue;
			}
			if (!x->member || !x->json)
				continue;
			if (x->id > last)
				last = x->id;
			if (first_id < 0 || x->id < first_id)
				first_id = x->id;
			jb_printf(&b, "%s{\"id\":%lld,\"member\":", first ? "" : ",", x->id);
			jb_str(&b, x->member);
			jb_puts(&b, ",\"event\":");
			jb_json_utf8(&b, x->json, x->len); /* stored before strict ingest */
			jb_puts(&b, "}");
			first = 0;
		}
	}
	for (size_t i = 0; i < nres; i++) {
		free(res[i].member);
		free(res[i].json);
	}
	free(res);
	free(chunk_start);
	if (truncated && asc && last_chunk >= 0 && (last_chunk << 16 | 0xffff) > last)
		last = last_chunk << 16 | 0xffff; /* everything up to here was examined */
	/* newest first: where the next page (older events) begins, -1 when all were examined */
	long long next_before = -1;
	if (!asc && truncated && last_chunk >= 0)
		next_before = last_chunk << 16;
	else if (!asc && (long long)nres >= limit && first_id >= 0)
		next_before = first_id;
	jb_printf(&b, "],\"last_id\":%lld,\"truncated\":%s,\"next_before\":%lld}", last,
		  truncated ? "true" : "false", next_before);
	reply_json(req, &b);
}

static void api_alerts(struct evhttp_request *req, struct collector *c, struct evkeyvalq *q)
{
	const char *member = qparam(q, "member"), *kind = qparam(q, "kind");
	static const char *const known[] = { "member", "kind", "since", "until", "after", "before",
					     "limit", NULL };
	static const char *const kinds[] = { "member.outlier", "herd.change", "member.silent",
					     "member.back", "member.folded" };
	long long since, until, after, before, limit;
	if (params_known(req, q, known) || qtime(req, q, "since", &since) ||
	    qtime(req, q, "until", &until) || qint(req, q, "after", -1, -1, LLONG_MAX, &after) ||
	    qint(req, q, "before", -1, -1, LLONG_MAX, &before) ||
	    qint(req, q, "limit", 100, 1, 10000, &limit))
		return;
	int kind_ok = !kind;
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]) && !kind_ok; i++)
		kind_ok = !strcmp(kind, kinds[i]);
	if (!kind_ok) {
		bad_param(req, "kind: \"%.40s\" is not an alert kind (member.outlier, herd.change, "
			       "member.silent, member.back, member.folded)", kind);
		return;
	}
	char sql[600];
	snprintf(sql, sizeof(sql),
		 "SELECT * FROM (SELECT id, json FROM alerts WHERE 1%s%s%s%s%s%s ORDER BY id %s LIMIT ?5) ORDER BY 1",
		 member ? " AND (member=?1 OR member LIKE ?1 || '/%')" : "", kind ? " AND kind=?2" : "",
		 since >= 0 ? " AND ts >= ?3" : "", after >= 0 ? " AND id > ?4" : "",
		 until >= 0 ? " AND ts < ?6" : "", before >= 0 ? " AND id < ?7" : "",
		 after >= 0 ? "ASC" : "DESC");
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
	struct jbuf b = { 0 };
	jb_puts(&b, "{\"alerts\":[");
	long long last = after;
	int first = 1;
	while (sqlite3_step(st) == SQLITE_ROW) {
		last = sqlite3_column_int64(st, 0);
		jb_printf(&b, "%s{\"id\":%lld,\"alert\":", first ? "" : ",", last);
		jb_raw(&b, (const char *)sqlite3_column_text(st, 1), (size_t)sqlite3_column_bytes(st, 1));
		jb_puts(&b, "}");
		first = 0;
	}
	sqlite3_finalize(st);
	jb_printf(&b, "],\"last_id\":%lld}", last);
	reply_json(req, &b);
}

static void api_stats(struct evhttp_request *req, struct collector *c)
{
	struct jbuf b = { 0 };
	unsigned nm = herd_member_count(c->herd);
	jb_printf(&b, "{\"events_stored\":%llu,\"duplicates\":%llu,\"bad_events\":%llu,\"batches\":%llu,"
		      "\"commits\":%llu,\"alerts\":%llu,\"connections_open\":%llu,\"connections_total\":%llu,"
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
		  c->conns_total, c->tls_refused, c->crl_reloads, c->revoked_closed, c->retained_deleted,
		  c->retained_alerts, c->retained_streams, c->response_runs, c->response_timeouts,
		  c->response_skipped, c->nresponses, c->storage_errors, c->requests_sent,
		  c->api_refused,
		  (unsigned long long)c->first_store_ns, (unsigned long long)c->last_store_ns,
		  herd_mem_bytes(c->herd), nm, nm ? herd_mem_bytes(c->herd) / nm : 0,
		  (unsigned long long)herd_overflow(c->herd),
		  (unsigned long long)herd_candidates_dropped(c->herd), c->npending, c->hs_timeouts,
		  c->hs_refused, c->accept_errors, c->clock_skew);
	for (int i = 1; i < HW_REFUSE_MAX; i++)
		jb_printf(&b, "%s\"%s\":%llu", i > 1 ? "," : "", hw_wire_strerror(i), c->rejected[i]);
	jb_puts(&b, "}}");
	reply_json(req, &b);
}

/*
 * The API token: state-changing calls (POST /api/request) must carry it as
 * "Authorization: Bearer TOKEN". A new random token is written at every start to a file only
 * its owner (root) can read, next to the database by default; the herdwatch CLI reads it. Any
 * other local process, or a web page that makes a browser call the loopback port, has no token.
 */
static int api_token_init(struct collector *c, const char *path)
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
	int ok = fd >= 0 && fchmod(fd, 0600) == 0 &&
		 write(fd, c->api_token, 64) == 64 && write(fd, "\n", 1) == 1 && fsync(fd) == 0;
	if (fd >= 0 && close(fd))
		ok = 0;
	if (!ok || rename(tmp, path)) {
		fprintf(stderr, "herdwatch-collector: cannot write the API token file %s: %s\n", path,
			strerror(errno));
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
		evhttp_send_error(req, 401, "API token required (Authorization: Bearer, see --api-token-file)");
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
	const char *host = qparam(q, "host");
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
	snprintf(tmp, sizeof(tmp), "{\"ok\":%s,\"id\":%u,\"sent_to\":%d", sent ? "true" : "false", id,
		 sent);
	jb_puts(&b, tmp);
	if (!sent)
		jb_puts(&b, ",\"error\":\"no live connection from that host\"");
	jb_puts(&b, "}");
	reply_json(req, &b);
}

/* A Host header naming the API: the --http address, a localhost name or a --http-host name,
 * with the API's port or none. */
static int host_allowed(struct collector *c, const char *h)
{
	static const char *const local[] = { "localhost", "127.0.0.1", "::1" };
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
 * must come from the API's own origin (403). Returns -1 when refused (answered).
 */
static int http_refused(struct evhttp_request *req, struct collector *c)
{
	struct evkeyvalq *h = evhttp_request_get_input_headers(req);
	const char *host = evhttp_find_header(h, "Host"), *origin = evhttp_find_header(h, "Origin");
	enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
	if (!host_allowed(c, host)) {
		c->api_refused++;
		return reply_error(req, 421, "Host is not a name of this API (see --http-host)");
	}
	if (cmd != EVHTTP_REQ_GET && cmd != EVHTTP_REQ_HEAD && origin &&
	    (strncasecmp(origin, "http://", 7) || strcasecmp(origin + 7, host))) {
		c->api_refused++;
		return reply_error(req, 403, "cross-origin request refused");
	}
	return 0;
}

static void on_http(struct evhttp_request *req, void *arg)
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
	static const char *const none[] = { NULL }, *const req_params[] = { "host", "arg", NULL };
	int own = !strcmp(path, "/api/events") || !strcmp(path, "/api/alerts");
	if (http_refused(req, c) ||
	    (!own && params_known(req, &q, strcmp(path, "/api/request") ? none : req_params))) {
		evhttp_clear_headers(&q);
		return;
	}
	if (!strcmp(path, "/api/events"))
		api_events(req, c, &q);
	else if (!strcmp(path, "/api/alerts"))
		api_alerts(req, c, &q);
	else if (!strcmp(path, "/api/stats"))
		api_stats(req, c);
	else if (!strcmp(path, "/api/request"))
		api_request(req, c, &q);
	else if (!strcmp(path, "/api/herds") || !strcmp(path, "/api/members")) {
		char *s = path[5] == 'h' ? herd_dump_herds(c->herd, now_ns()) : herd_dump_members(c->herd, now_ns());
		struct jbuf b = { .p = s, .len = s ? strlen(s) : 0, .oom = !s };
		reply_json(req, &b);
	} else
		evhttp_send_error(req, 404, "not found");
	evhttp_clear_headers(&q);
}

/* ---- herd engine snapshot (so a restarted collector need not relearn) ---- */

static void herd_snapshot_save(struct collector *c)
{
	uint8_t *buf;
	size_t len;
	if (herd_save(c->herd, &buf, &len))
		return;
	size_t cap = ZSTD_compressBound(len);
	void *z = malloc(cap);
	size_t zl = z ? ZSTD_compressCCtx(c->cctx, z, cap, buf, len, 1) : 0;
	sqlite3_stmt *st = NULL;
	if (z && !ZSTD_isError(zl) &&
	    sqlite3_prepare_v2(store_db(c->st), "INSERT OR REPLACE INTO herd_state VALUES(1, ?, ?, ?)", -1, &st, NULL) == SQLITE_OK) {
		commit(c);
		sqlite3_bind_int64(st, 1, (sqlite3_int64)now_ns());
		sqlite3_bind_int64(st, 2, (sqlite3_int64)len);
		sqlite3_bind_blob(st, 3, z, (int)zl, SQLITE_STATIC);
		if (sqlite3_step(st) != SQLITE_DONE)
			fprintf(stderr, "herdwatch-collector: saving herd state: %s\n", sqlite3_errmsg(store_db(c->st)));
	}
	sqlite3_finalize(st);
	free(z);
	free(buf);
}

static void herd_snapshot_load(struct collector *c)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(store_db(c->st), "SELECT raw_len, z FROM herd_state WHERE id = 1", -1, &st, NULL) != SQLITE_OK)
		return;
	if (sqlite3_step(st) == SQLITE_ROW) {
		size_t raw = (size_t)sqlite3_column_int64(st, 0);
		const void *z = sqlite3_column_blob(st, 1);
		size_t zl = (size_t)sqlite3_column_bytes(st, 1);
		uint8_t *buf = raw && raw < (1ull << 32) ? malloc(raw) : NULL;
		size_t got = buf ? ZSTD_decompress(buf, raw, z, zl) : 0;
		if (buf && !ZSTD_isError(got) && got == raw) {
			int err = herd_restore(c->herd, buf, raw, now_ns());
			fprintf(stderr, "herdwatch-collector: herd state restored (%u members)%s\n",
				herd_member_count(c->herd), err ? ", snapshot damaged: partly" : "");
		}
		free(buf);
	}
	sqlite3_finalize(st);
}

/* ---- certificate revocation ---- */

/*
 * --crl FILE: one or more PEM CRLs signed by the fleet CA (herdwatch-ca revoke / crl). They are
 * checked for every agent's certificate at the handshake (X509_V_FLAG_CRL_CHECK: a CRL that has
 * expired refuses every agent, so a stale revocation list fails closed), and the file is read
 * again when it changes: new handshakes use the new list at once, and open connections of
 * agents it revokes are closed. A file that cannot be read or whose CRLs the CA did not sign is
 * refused with a message; at a reload the previous list stays in force.
 */
static int crl_load(struct collector *c, int startup)
{
	X509_STORE *store = X509_STORE_new();
	STACK_OF(X509_CRL) *crls = sk_X509_CRL_new_null();
	X509 *ca = NULL;
	FILE *f = NULL;
	const char *why = NULL;
	int rc = -1;

	if (!store || !crls) {
		why = "out of memory";
		goto done;
	}
	if (X509_STORE_load_locations(store, c->ca_path, NULL) != 1) {
		why = "cannot load the CA file";
		goto done;
	}
	f = fopen(c->ca_path, "re");
	ca = f ? PEM_read_X509(f, NULL, NULL, NULL) : NULL;
	if (f)
		fclose(f);
	f = fopen(c->crl_path, "re");
	if (!f || !ca) {
		why = !f ? strerror(errno) : "no certificate in the CA file";
		goto done;
	}
	X509_CRL *crl;
	while ((crl = PEM_read_X509_CRL(f, NULL, NULL, NULL))) {
		if (X509_CRL_verify(crl, X509_get0_pubkey(ca)) != 1) {
			X509_CRL_free(crl);
			why = "a CRL in it is not signed by the fleet CA";
			goto done;
		}
		X509_STORE_add_crl(store, crl);
		sk_X509_CRL_push(crls, crl);
	}
	ERR_clear_error(); /* the end of the file reads as an error */
	if (sk_X509_CRL_num(crls) == 0) {
		why = "no PEM CRL in it";
		goto done;
	}
	X509_STORE_set_flags(store, X509_V_FLAG_CRL_CHECK);
	SSL_CTX_set_cert_store(c->ctx, store); /* frees the previous store */
	store = NULL;
	c->crl_reloads++;
	/* connections of agents revoked now */
	for (struct conn *k = c->conns, *next; k; k = next) {
		next = k->next;
		if (k->dead || !k->handshaken || !k->bev)
			continue;
		SSL *ssl = bufferevent_openssl_get_ssl(k->bev);
		X509 *cert = ssl ? SSL_get_peer_certificate(ssl) : NULL;
		int revoked = 0;
		for (int i = 0; cert && i < sk_X509_CRL_num(crls) && !revoked; i++) {
			X509_REVOKED *r = NULL;
			revoked = X509_CRL_get0_by_cert(sk_X509_CRL_value(crls, i), &r, cert) == 1;
		}
		X509_free(cert);
		if (revoked) {
			fprintf(stderr, "herdwatch-collector: %s: certificate revoked, connection closed\n",
				k->peer);
			c->revoked_closed++;
			conn_close(k);
		}
	}
	if (!startup)
		fprintf(stderr, "herdwatch-collector: revocation list %s reloaded (%d CRL)\n", c->crl_path,
			sk_X509_CRL_num(crls));
	rc = 0;
done:
	if (why)
		fprintf(stderr, "herdwatch-collector: revocation list %s refused: %s%s\n", c->crl_path, why,
			startup ? "" : " (the previous list stays in force)");
	if (f)
		fclose(f);
	X509_free(ca);
	X509_STORE_free(store);
	sk_X509_CRL_pop_free(crls, X509_CRL_free);
	return rc;
}

static void crl_check_file(struct collector *c)
{
	struct stat st;
	if (!c->crl_path || stat(c->crl_path, &st))
		return;
	if (st.st_mtim.tv_sec == c->crl_st.st_mtim.tv_sec &&
	    st.st_mtim.tv_nsec == c->crl_st.st_mtim.tv_nsec && st.st_ino == c->crl_st.st_ino &&
	    st.st_size == c->crl_st.st_size)
		return;
	c->crl_st = st; /* a refused file is not read again until it changes */
	crl_load(c, 0);
}

/* ---- timers, signals, setup ---- */

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	struct collector *c = arg;
	uint64_t now = now_ns();
	if (store_in_txn(c->st) && now - c->txn_start_ns >= (uint64_t)c->commit_ms * 1000000ull)
		commit(c);
	if (++c->ticks % 4 == 0) {
		herd_tick(c->herd, now);
		if (store_in_txn(c->st))
			commit(c); /* alerts are durable before they count as raised */
	}
	if (c->ticks % 2400 == 0) /* every minute */
		herd_snapshot_save(c);
	if (c->ticks % c->retain_every_ticks == 0 && (c->retain_s || c->retain_bytes)) {
		commit(c);
		struct store_retained r;
		if (store_retain(c->st, now, c->retain_s, c->retain_bytes, &r))
			fprintf(stderr, "herdwatch-collector: retention: %s\n", sqlite3_errmsg(store_db(c->st)));
		c->retained_deleted += r.events;
		c->retained_alerts += r.alerts;
		c->retained_streams += r.streams;
	}
	if (c->ticks % 40 == 0) /* every second */
		crl_check_file(c);
	response_check(c);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct collector *c = arg;
	fprintf(stderr, "herdwatch-collector: signal %d, committing and exiting\n", (int)sig);
	commit(c);
	herd_snapshot_save(c);
	event_base_loopbreak(c->base);
}

static int split_addr(const char *a, char *host, size_t hn, int *port)
{
	const char *colon = strrchr(a, ':');
	if (!colon)
		return -1;
	size_t l = (size_t)(colon - a);
	if (a[0] == '[' && l >= 2 && a[l - 1] == ']') {
		a++;
		l -= 2;
	}
	if (l >= hn)
		return -1;
	memcpy(host, a, l);
	host[l] = 0;
	*port = atoi(colon + 1);
	return *port > 0 && *port < 65536 ? 0 : -1;
}

/* Append a non-empty name given by option opt to a list of 16 (--relay-cert, --http-host). */
static int add_name(const char *v[16], int *n, const char *opt, const char *name)
{
	if (*n == 16 || !*name) {
		fprintf(stderr, "herdwatch-collector: %s: at most 16 non-empty names\n", opt);
		return -1;
	}
	v[(*n)++] = name;
	return 0;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: herdwatch-collector --ca FILE --cert FILE --key FILE [options]\n"
		"  --crl FILE             revoked agent certificates (PEM CRLs from herdwatch-ca), read\n"
		"                         again when the file changes\n"
		"  --relay-cert NAME      the agent certificate with CN NAME may send events of any host\n"
		"                         (a relay or load generator; repeatable). Any other certificate\n"
		"                         may send only events whose host.name is its CN\n"
		"  --listen HOST:PORT     agents (TLS) [127.0.0.1:7443]\n"
		"  --http HOST:PORT       query API [127.0.0.1:7480]\n"
		"  --db FILE              SQLite database [herdwatch.db]\n"
		"  --commit-ms N          transaction length [25]\n"
		"  --retain-days N        delete events older than N days [30]\n"
		"  --retain-mb N          keep the database under N MiB of data [0 = unlimited]\n"
		"  --retain-interval-s N  how often retention runs [10]\n"
		"  --response-cmd CMD     run `sh -c CMD` for each alert, alert JSON on stdin\n"
		"  --response-timeout-s N kill a response command still running after N s [60]\n"
		"  --max-db-mb N          hard limit of the database file: beyond it batches are not\n"
		"                         acknowledged until retention frees space [0 = none]\n"
		"  --api-token-file FILE  token for state-changing API calls, written at start (0600)\n"
		"                         [DB.api-token]\n"
		"  --query-max-chunks N   chunks one events query may read before it pages [5000]\n"
		"  --http-host NAME       a name the query API may be called by (Host header) besides\n"
		"                         the --http address and localhost names (repeatable)\n"
		"  --handshake-timeout-s N  an agent's TLS handshake must be done N s after connect [5]\n"
		"  --max-handshakes N     handshakes pending at once [256] ...\n"
		"  --max-handshakes-per-addr N  ... and from one address (IPv6: one /64) [64]\n"
		"  --fd-reserve N         refuse new agent connections while fewer than N descriptors\n"
		"                         are free (for the query API and connected agents) [32]\n"
		"  --psl-file FILE        Public Suffix List of the herd's dns tokens (.dat, .dafsa)\n"
		"                         [" TOKENS_PSL_FILE "]\n"
		"  --hold-ms N --learn-s N --min-herd N --threshold BITS --change-frac F\n"
		"  --change-window-s N --new-member-s N --window-s N --silent-s N\n"
		"  --half-life-s N --gone-s N --rollout-s N --forget-s N\n"
		"  --max-skew-s N --max-ahead-s N                                    herd engine\n");
}

int main(int argc, char **argv)
{
	struct collector col = { 0 }, *c = &col;
	const char *listen_a = "127.0.0.1:7443", *http_a = "127.0.0.1:7480", *db = "herdwatch.db";
	const char *ca = NULL, *cert = NULL, *key = NULL, *token_file = NULL, *psl_file = NULL;
	unsigned long long max_db = 0;
	struct herd_cfg hc;
	herd_cfg_default(&hc);
	c->commit_ms = 25;
	c->retain_s = 30ull * 86400;
	c->retain_every_ticks = 400; /* 10 s */
	c->response_timeout_s = 60;
	c->query_max_chunks = QUERY_MAX_CHUNKS;
	c->hs_timeout_s = 5;
	c->max_pending = 256;
	c->max_pending_addr = 64;
	c->fd_reserve = 32;
	TAILQ_INIT(&c->pending);
	enum { O_CA = 256, O_CERT, O_KEY, O_LISTEN, O_HTTP, O_DB, O_COMMIT, O_RDAYS, O_RMB, O_RESP,
	       O_HOLD, O_LEARN, O_MIN, O_THR, O_CFRAC, O_CWIN, O_NEWM, O_WIN, O_SILENT, O_QUIET,
	       O_HALF, O_GONE, O_ROLL, O_FORGET,
	       O_RINT, O_CRL, O_RELAY, O_RTIMEOUT, O_MAXDB, O_TOKEN, O_QMAX, O_HSTIME, O_MAXHS,
	       O_MAXHSADDR, O_FDRES, O_HTTPHOST, O_PSL, O_SKEW, O_AHEAD };
	static const struct option opts[] = {
		{ "ca", 1, 0, O_CA }, { "cert", 1, 0, O_CERT }, { "key", 1, 0, O_KEY },
		{ "crl", 1, 0, O_CRL }, { "relay-cert", 1, 0, O_RELAY },
		{ "listen", 1, 0, O_LISTEN }, { "http", 1, 0, O_HTTP }, { "db", 1, 0, O_DB },
		{ "commit-ms", 1, 0, O_COMMIT }, { "retain-days", 1, 0, O_RDAYS },
		{ "retain-mb", 1, 0, O_RMB }, { "retain-interval-s", 1, 0, O_RINT },
		{ "response-cmd", 1, 0, O_RESP }, { "response-timeout-s", 1, 0, O_RTIMEOUT },
		{ "max-db-mb", 1, 0, O_MAXDB }, { "api-token-file", 1, 0, O_TOKEN },
		{ "query-max-chunks", 1, 0, O_QMAX }, { "handshake-timeout-s", 1, 0, O_HSTIME },
		{ "max-handshakes", 1, 0, O_MAXHS }, { "max-handshakes-per-addr", 1, 0, O_MAXHSADDR },
		{ "fd-reserve", 1, 0, O_FDRES }, { "http-host", 1, 0, O_HTTPHOST },
		{ "hold-ms", 1, 0, O_HOLD }, { "learn-s", 1, 0, O_LEARN }, { "min-herd", 1, 0, O_MIN },
		{ "threshold", 1, 0, O_THR }, { "change-frac", 1, 0, O_CFRAC },
		{ "change-window-s", 1, 0, O_CWIN }, { "new-member-s", 1, 0, O_NEWM },
		{ "window-s", 1, 0, O_WIN }, { "silent-s", 1, 0, O_SILENT }, { "quiet", 0, 0, O_QUIET },
		{ "half-life-s", 1, 0, O_HALF }, { "gone-s", 1, 0, O_GONE }, { "rollout-s", 1, 0, O_ROLL },
		{ "forget-s", 1, 0, O_FORGET }, { "psl-file", 1, 0, O_PSL },
		{ "max-skew-s", 1, 0, O_SKEW }, { "max-ahead-s", 1, 0, O_AHEAD },
		{ "help", 0, 0, 'h' }, { 0, 0, 0, 0 },
	};
	int o;
	while ((o = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (o) {
		case O_CA: ca = optarg; break;
		case O_CRL: c->crl_path = optarg; break;
		case O_RELAY:
			if (add_name(c->relay_cn, &c->nrelay, "--relay-cert", optarg))
				return 2;
			break;
		case O_CERT: cert = optarg; break;
		case O_KEY: key = optarg; break;
		case O_LISTEN: listen_a = optarg; break;
		case O_HTTP: http_a = optarg; break;
		case O_DB: db = optarg; break;
		case O_COMMIT: c->commit_ms = (unsigned)atoi(optarg); break;
		case O_RDAYS: c->retain_s = strtoull(optarg, NULL, 10) * 86400; break;
		case O_RMB: c->retain_bytes = strtoull(optarg, NULL, 10) << 20; break;
		case O_RINT: c->retain_every_ticks = 40 * (unsigned)(atoi(optarg) > 0 ? atoi(optarg) : 1); break;
		case O_RESP: c->response_cmd = optarg; break;
		case O_RTIMEOUT: c->response_timeout_s = (unsigned)atoi(optarg); break;
		case O_MAXDB: max_db = strtoull(optarg, NULL, 10) << 20; break;
		case O_TOKEN: token_file = optarg; break;
		case O_QMAX: c->query_max_chunks = (unsigned)(atoi(optarg) > 0 ? atoi(optarg) : 1); break;
		case O_HOLD: hc.hold_ms = (unsigned)atoi(optarg); break;
		case O_LEARN: hc.learn_s = (unsigned)atoi(optarg); break;
		case O_MIN: hc.min_herd = (unsigned)atoi(optarg); break;
		case O_THR: hc.threshold_bits = atof(optarg); break;
		case O_CFRAC: hc.change_frac = atof(optarg); break;
		case O_CWIN: hc.change_window_s = (unsigned)atoi(optarg); break;
		case O_NEWM: hc.new_member_s = (unsigned)atoi(optarg); break;
		case O_WIN: hc.window_s = (unsigned)atoi(optarg); break;
		case O_SILENT: hc.silent_s = (unsigned)atoi(optarg); break;
		case O_HALF: hc.half_life_s = (unsigned)atoi(optarg); break;
		case O_GONE: hc.gone_s = (unsigned)atoi(optarg); break;
		case O_ROLL: hc.rollout_s = (unsigned)atoi(optarg); break;
		case O_FORGET: hc.forget_s = (unsigned)atoi(optarg); break;
		case O_SKEW: hc.max_skew_s = (unsigned)atoi(optarg); break;
		case O_AHEAD: hc.max_ahead_s = (unsigned)atoi(optarg); break;
		case O_QUIET: c->quiet = 1; break;
		case O_HSTIME: c->hs_timeout_s = (unsigned)(atoi(optarg) > 0 ? atoi(optarg) : 1); break;
		case O_MAXHS: c->max_pending = (unsigned)(atoi(optarg) > 0 ? atoi(optarg) : 1); break;
		case O_MAXHSADDR: c->max_pending_addr = (unsigned)(atoi(optarg) > 0 ? atoi(optarg) : 1); break;
		case O_PSL: psl_file = optarg; break;
		case O_FDRES: c->fd_reserve = (unsigned)(atoi(optarg) > 0 ? atoi(optarg) : 0); break;
		case O_HTTPHOST:
			if (add_name(c->http_hosts, &c->nhttp_hosts, "--http-host", optarg))
				return 2;
			break;
		default: usage(); return 2;
		}
	}
	if (!ca || !cert || !key) {
		usage();
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	/* the list of dns tokens, before any event is read */
	char why[1024];
	if (tokens_psl_init(psl_file, 0, why, sizeof(why)) != TOKENS_PSL_FILE_OK)
		fprintf(stderr, "herdwatch-collector: %s\n", why);
	int rc = 1;
	c->raw = malloc(HW_WIRE_MAX_RAW);
	c->raw2 = malloc(HW_WIRE_MAX_RAW);
	c->zcap = ZSTD_compressBound(HW_WIRE_MAX_RAW);
	c->zbuf = malloc(c->zcap);
	c->cidx = malloc(sizeof(*c->cidx) * 2 * HW_WIRE_MAX_EVENTS);
	c->cidx_list = malloc(sizeof(*c->cidx_list) * HW_WIRE_MAX_EVENTS);
	c->keep = malloc(sizeof(*c->keep) * HW_WIRE_MAX_EVENTS);
	c->toks = malloc(sizeof(struct jtok) * MAX_TOKS);
	c->dctx = ZSTD_createDCtx();
	c->cctx = ZSTD_createCCtx();
	if (!c->raw || !c->raw2 || !c->zbuf || !c->cidx || !c->cidx_list || !c->keep || !c->toks ||
	    !c->dctx || !c->cctx)
		goto out;
	if (store_open(&c->st, db, max_db))
		goto out;
	char tfbuf[4096];
	if (!token_file) {
		snprintf(tfbuf, sizeof(tfbuf), "%s.api-token", db);
		token_file = tfbuf;
	}
	if (api_token_init(c, token_file))
		goto out;
	/* Response commands inherit where the API is and its token, so one that asks agents for
	 * more (herdwatch request, scripts/herdwatch-respond-trace) needs no configuration. */
	setenv("HERDWATCH_API_TOKEN_FILE", token_file, 1);
	setenv("HERDWATCH_API", http_a, 1);
	if (sqlite3_open_v2(db, &c->rdb, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK)
		goto out;
	sqlite3_busy_timeout(c->rdb, 2000);
	c->herd = herd_new(&hc, on_alert, c);
	c->ctx = SSL_CTX_new(TLS_server_method());
	if (!c->herd || !c->ctx)
		goto out;
	herd_snapshot_load(c);
	SSL_CTX_set_min_proto_version(c->ctx, TLS1_2_VERSION);
	STACK_OF(X509_NAME) *cas = SSL_load_client_CA_file(ca);
	if (SSL_CTX_use_certificate_chain_file(c->ctx, cert) != 1 ||
	    SSL_CTX_use_PrivateKey_file(c->ctx, key, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(c->ctx) != 1 ||
	    SSL_CTX_load_verify_locations(c->ctx, ca, NULL) != 1 || !cas) {
		fprintf(stderr, "herdwatch-collector: cannot load TLS files (ca %s, cert %s, key %s)\n", ca, cert, key);
		goto out;
	}
	SSL_CTX_set_client_CA_list(c->ctx, cas);
	/* Mutual TLS: an agent without a certificate signed by the fleet CA is refused. */
	SSL_CTX_set_verify(c->ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
	/* No session resumption: a resumed session skips the certificate check, so an agent
	 * revoked since its last handshake could come back in. Agents reconnect rarely. */
	SSL_CTX_set_session_cache_mode(c->ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_options(c->ctx, SSL_OP_NO_TICKET);
	SSL_CTX_set_num_tickets(c->ctx, 0);
	c->ca_path = ca;
	if (c->crl_path) {
		if (stat(c->crl_path, &c->crl_st)) {
			fprintf(stderr, "herdwatch-collector: --crl %s: %s\n", c->crl_path, strerror(errno));
			goto out;
		}
		if (crl_load(c, 1))
			goto out;
	}
	c->base = event_base_new();
	if (!c->base)
		goto out;
	char host[256];
	int port;
	struct sockaddr_storage ss;
	int sl = sizeof(ss);
	if (evutil_parse_sockaddr_port(listen_a, (struct sockaddr *)&ss, &sl)) {
		fprintf(stderr, "herdwatch-collector: bad --listen %s\n", listen_a);
		goto out;
	}
	c->lis = evconnlistener_new_bind(c->base, on_accept, c, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC,
					 1024, (struct sockaddr *)&ss, sl);
	if (!c->lis) {
		fprintf(stderr, "herdwatch-collector: cannot listen on %s: %s\n", listen_a, strerror(errno));
		goto out;
	}
	evconnlistener_set_error_cb(c->lis, on_accept_error);
	c->lis_resume = evtimer_new(c->base, listener_resume, c);
	c->http = evhttp_new(c->base);
	if (!c->lis_resume || !c->http || split_addr(http_a, host, sizeof(host), &port) ||
	    evhttp_bind_socket(c->http, host, (ev_uint16_t)port)) {
		fprintf(stderr, "herdwatch-collector: cannot serve HTTP on %s\n", http_a);
		goto out;
	}
	snprintf(c->http_name, sizeof(c->http_name), "%s", host);
	c->http_port = port;
	evhttp_set_max_body_size(c->http, HTTP_MAX_BODY);
	evhttp_set_max_headers_size(c->http, HTTP_MAX_HEADERS);
	evhttp_set_gencb(c->http, on_http, c);
	c->tick = event_new(c->base, -1, EV_PERSIST, on_tick, c);
	c->sigint = evsignal_new(c->base, SIGINT, on_signal, c);
	c->sigterm = evsignal_new(c->base, SIGTERM, on_signal, c);
	struct timeval tv = { 0, 25000 };
	event_add(c->tick, &tv);
	event_add(c->sigint, NULL);
	event_add(c->sigterm, NULL);
	fprintf(stderr, "herdwatch-collector: agents on %s (mutual TLS), API on http://%s, database %s\n",
		listen_a, http_a, db);
	event_base_dispatch(c->base);
	commit(c);
	rc = 0;
out:
	for (struct response *r = c->responses, *next; r; r = next) {
		next = r->next;
		response_close_fd(r);
		free(r);
	}
	if (c->tick)
		event_free(c->tick);
	if (c->sigint)
		event_free(c->sigint);
	if (c->sigterm)
		event_free(c->sigterm);
	if (c->lis_resume)
		event_free(c->lis_resume);
	if (c->lis)
		evconnlistener_free(c->lis);
	if (c->http)
		evhttp_free(c->http);
	herd_free(c->herd);
	if (c->rdb)
		sqlite3_close(c->rdb);
	store_close(c->st);
	if (c->ctx)
		SSL_CTX_free(c->ctx);
	if (c->base)
		event_base_free(c->base);
	ZSTD_freeDCtx(c->dctx);
	ZSTD_freeCCtx(c->cctx);
	free(c->raw);
	free(c->raw2);
	free(c->zbuf);
	free(c->cidx);
	free(c->cidx_list);
	free(c->keep);
	free(c->toks);
	free(c->acks);
	return rc;
}
