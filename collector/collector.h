/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * collector.h - the collector's state and what its parts share: ingest.c (TLS, frames,
 * batches, commits and acks), api.c (the HTTP query API), response.c (alert outputs and
 * response commands), crl.c (certificate revocation), options.c (the command line), setup.c
 * (the start-up steps and shutdown), main.c (the modes, timers, the herd engine's snapshot).
 * One thread, one libevent loop: nothing here is locked.
 */
#ifndef HW_COLLECTOR_H
#define HW_COLLECTOR_H
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

#include "collector/console.h"
#include "collector/herd.h"
#include "collector/json.h"
#include "collector/metrics.h"
#include "collector/store.h"
#include "collector/tokens.h"
#include "common/wire.h"

struct relay;
struct nats_ingest;
struct nats_api;

#define MAX_TOKS 8192 /* JSON tokens per event; more is rejected as a bad event */
#define MAX_EVENT_BYTES (1u << 20)
#define QUERY_MAX_CHUNKS 5000   /* chunks one events query may decompress (--query-max-chunks) */
#define RESPONSE_MAX 32         /* response commands running at once; more alerts skip theirs */
#define HTTP_MAX_BODY (1 << 20) /* query API: larger request bodies are refused (413) */
#define HTTP_MAX_HEADERS (16 << 10) /* ... and larger header blocks (400) */
#define LISTEN_PAUSE_MS 250         /* the agents' listener rests this long after accept() failed */

/* one chunk-index row being built: (member, kind) of the stored events of a batch */
struct cidx {
	int64_t member, kind;
	uint64_t ts_min, ts_max;
	uint32_t n, used;
};

struct conn {
	struct collector *c;
	struct bufferevent *bev;
	int refs;
	int dead;
	int handshaken;
	char peer[160];
	char cn[STORE_MAX_ID + 1]; /* CN of the agent's certificate: the host it may speak for */
	int any_host;      /* the certificate is a --relay-cert: it may speak for any host */
	char host[128];    /* host.name of the agent's events (set by its first batch) */
	char why[200];     /* detail of a refused batch, for the log line of reject() */
	struct conn *next; /* all connections, for requests to an agent */
	/* until its TLS handshake is done: on the collector's pending list, with a deadline */
	int pending;
	uint8_t addr[16]; /* source address (IPv6: its /64), for the per-address cap */
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
	int fd;           /* write end of its stdin (non-blocking), -1 once written or closed */
	struct event *ev; /* EV_WRITE on fd */
	char *buf;
	size_t len, off;
	uint64_t start_ns; /* CLOCK_MONOTONIC */
	int killed;
	struct response *next;
};

/* An alert as the herd engine raised it, and the outputs it goes to (alert_out.c). */
struct alert_rec {
	const char *json;
	size_t len;
	const char *kind, *sev, *herd, *member;
	double score;
	uint64_t now;
};
struct alert_output {
	const char *name;
	void (*emit)(struct collector *c, const struct alert_rec *al);
};
#define ALERT_OUTPUTS_MAX 8
/* --syslog and --webhook: a relay each (common/relay.h) and what it could not take */
struct alert_relay {
	const char *name, *target;
	struct relay *r;
	unsigned long long dropped_full, dropped_oversize;
	int down_said, drop_said;
};
struct alert_out_opts {
	const char *syslog, *webhook, *webhook_ca, *facility_name;
	char hostname[256];
	unsigned facility;
	const char *headers[8];
	unsigned nheaders;
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
	} * keep;
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
	unsigned long long acks_sent, acks_withheld; /* batches acknowledged, rolled back */
	unsigned long long
		committed; /* events stored by committed transactions (never goes down) */
	struct cmetrics_alerts alert_counts; /* by kind and severity (/metrics) */
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
	struct console *console;
	int console_requests; /* --console-requests: a page may send /api/request */
	struct alert_output alert_outs[ALERT_OUTPUTS_MAX]; /* every alert, in order (alert_out.c) */
	int nalert_outs;
	struct alert_relay relays[2]; /* syslog, webhook */
	struct nats_ingest *nats;     /* --mode ingest: batches go to JetStream (nats_ingest.c) */
	struct nats_api *napi;        /* --mode api: shards and the alert stream (nats_api.c) */
	sqlite3 **shards;             /* --mode api: what /api/events reads (not rdb) */
	unsigned nshards;
};

/* What the start-up steps need once, from the command line (options.c). */
struct collector_opts {
	const char *mode; /* --mode: which row of main.c's modes[] runs [all] */
	const char *listen_a, *http_a, *db, *ca, *cert, *key, *token_file, *psl_file;
	unsigned long long max_db; /* --max-db-mb, in bytes */
	struct herd_cfg hc;
	struct alert_out_opts ao;
};

/* main.c */
uint64_t now_ns(void);  /* CLOCK_REALTIME */
uint64_t mono_ns(void); /* CLOCK_MONOTONIC */
/* A log line a peer can cause at will: rate-limited per class (LOG_*). Whether it printed. */
int log_limited(struct collector *c, int cls, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* ingest.c */
void conn_close(struct conn *k);
void commit(struct collector *c);
void listener_resume(evutil_socket_t fd, short what, void *arg);
void on_accept_error(struct evconnlistener *l, void *arg);
void on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int slen,
	       void *arg);
/* what a batch's processing shares with nats_ingest.c: the ack queued for the next commit, a
 * refused event (its reason), a failed write (-1, the transaction rolled back, k closed) */
int queue_ack(struct collector *c, struct conn *k, const struct hw_ack *ack);
int refuse_event(struct conn *k, const char *line, size_t len, int why, uint32_t at,
		 const struct ev_info *ev);
int storage_error(struct collector *c, struct conn *k);
/* ingest.c: what every ingest does with a batch (embedded and --mode ingest) */
struct hw_batch;
int ingest_batch_open(struct collector *c, struct conn *k, int version, const uint8_t *p,
		      size_t len, struct hw_batch *b, struct stream **s);
int ingest_check_line(struct collector *c, struct conn *k, struct stream *s, char *cur, size_t l,
		      struct ev_info *ev, char toks[EV_MAX_TOKENS][TOKEN_MAX], struct hw_ack *ack,
		      int *refusal);
/* nats_ingest.c: --mode ingest's process_batch (publishes to JetStream), and its end */
int nats_ingest_batch(struct collector *c, struct conn *k, int version, const uint8_t *p,
		      size_t len);
void nats_ingest_free(struct nats_ingest *n);
/* nats_api.c: --mode api (the query API over the shards and HW_ALERT) */
int nats_api_new(struct collector *c, const char *urls, unsigned partitions, int replicas,
		 const char *shard_dir, const char *id);
int run_api(struct collector *c, struct collector_opts *op);
void nats_api_herds(struct evhttp_request *req, struct collector *c, int members);
void nats_api_free(struct collector *c);
/* api.c */
int api_token_init(struct collector *c, const char *path);
void on_http(struct evhttp_request *req, void *arg);
/* response.c */
void response_close_fd(struct response *r);
void response_check(struct collector *c);
/* --response-cmd for one alert */
void run_response(struct collector *c, const char *json, size_t len);
/* alert_out.c: the list of alert outputs; on_alert() gives each alert to every one */
int alert_outputs_init(struct collector *c, const struct alert_out_opts *ao);
/* The options checked (a reason on stderr, -1); the facility resolved. */
int alert_out_check(struct alert_out_opts *ao);
void on_alert(void *ctx, const char *json, size_t len, const char *kind, const char *sev,
	      const char *herd, const char *member, double score, uint64_t now);
void alert_outputs_tick(struct collector *c); /* once a second */
void alert_outputs_json(struct collector *c, struct jbuf *b);
void alert_outputs_metrics(struct collector *c, struct cmetrics *m);
void alert_outputs_close(struct collector *c, unsigned wait_ms);
/* options.c: the defaults, then argv. 0, or the exit status (2) after a line on stderr. */
int collector_options(struct collector *c, struct collector_opts *op, int argc, char **argv);
void collector_usage(void);
/* setup.c: the start-up steps, each 0 or -1 after a line on stderr (where there is a reason
 * to give), and the one shutdown that frees whatever the steps made (rc: the exit status). */
int collector_buffers(struct collector *c);
int collector_open_store(struct collector *c, struct collector_opts *op);
int collector_tls(struct collector *c, const struct collector_opts *op);
int collector_listen(struct collector *c, const struct collector_opts *op);
int collector_http(struct collector *c, const struct collector_opts *op);
void collector_shutdown(struct collector *c, int rc);
/* crl.c */
int crl_load(struct collector *c, int startup);
void crl_check_file(struct collector *c);

#endif
