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
 *   HTTP on a loopback port: /api/events, /api/alerts, /api/herds, /api/members, /api/stats,
 *   /metrics (Prometheus, collector/metrics.c);
 *   POST /api/request (control requests to agents) only with the API token; the web console
 *   (console.c) at / and its calls.
 *   A failed database write rolls the whole open transaction back: its batches are not
 *   acknowledged and their connections are closed, so the agents resend them.
 */
#include "collector/collector.h"
#include "collector/nats.h"

uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

uint64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* fprintf to stderr for lines a peer can cause at will (refused handshakes, accept errors):
 * per class at most LOG_BURST lines at once and then one a second; the next line printed says
 * how many were left out. Returns whether it printed. */
int __attribute__((format(printf, 3, 4)))
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
	    sqlite3_prepare_v2(store_db(c->st),
			       "INSERT OR REPLACE INTO herd_state VALUES(1, ?, ?, ?)", -1, &st,
			       NULL) == SQLITE_OK) {
		commit(c);
		sqlite3_bind_int64(st, 1, (sqlite3_int64)now_ns());
		sqlite3_bind_int64(st, 2, (sqlite3_int64)len);
		sqlite3_bind_blob(st, 3, z, (int)zl, SQLITE_STATIC);
		if (sqlite3_step(st) != SQLITE_DONE)
			fprintf(stderr, "herdwatch-collector: saving herd state: %s\n",
				sqlite3_errmsg(store_db(c->st)));
	}
	sqlite3_finalize(st);
	free(z);
	free(buf);
}

static void herd_snapshot_load(struct collector *c)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(store_db(c->st), "SELECT raw_len, z FROM herd_state WHERE id = 1",
			       -1, &st, NULL) != SQLITE_OK)
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
				herd_member_count(c->herd),
				err ? ", snapshot damaged: partly" : "");
		}
		free(buf);
	}
	sqlite3_finalize(st);
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
			fprintf(stderr, "herdwatch-collector: retention: %s\n",
				sqlite3_errmsg(store_db(c->st)));
		c->retained_deleted += r.events;
		c->retained_alerts += r.alerts;
		c->retained_streams += r.streams;
	}
	if (c->ticks % 40 == 0) { /* every second */
		crl_check_file(c);
		alert_outputs_tick(c);
	}
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
		"  --crl FILE             revoked agent certificates (PEM CRLs from herdwatch-ca), "
		"read\n"
		"                         again when the file changes\n"
		"  --relay-cert NAME      the agent certificate with CN NAME may send events of "
		"any host\n"
		"                         (a relay or load generator; repeatable). Any other "
		"certificate\n"
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
		"  --syslog ADDRESS       alerts to syslog too (RFC 5424): unix:/dev/log, "
		"udp:HOST:PORT\n"
		"                         or tcp:HOST:PORT  (--syslog-facility NAME [daemon])\n"
		"  --webhook URL          alerts POSTed as JSON arrays to an http(s) URL too\n"
		"                         (--webhook-ca FILE, --webhook-header 'Name: value' "
		"repeatable)\n"
		"  --max-db-mb N          hard limit of the database file: beyond it batches are "
		"not\n"
		"                         acknowledged until retention frees space [0 = none]\n"
		"  --api-token-file FILE  token for state-changing API calls, written at start "
		"(0600)\n"
		"                         [DB.api-token]\n"
		"  --query-max-chunks N   chunks one events query may read before it pages [5000]\n"
		"  --console-requests     the web console may ask agents for more visibility\n"
		"                         (POST /api/request from a page, with the API token) "
		"[off]\n"
		"  --http-host NAME       a name the query API may be called by (Host header) "
		"besides\n"
		"                         the --http address and localhost names (repeatable)\n"
		"  --handshake-timeout-s N  an agent's TLS handshake must be done N s after "
		"connect [5]\n"
		"  --max-handshakes N     handshakes pending at once [256] ...\n"
		"  --max-handshakes-per-addr N  ... and from one address (IPv6: one /64) [64]\n"
		"  --fd-reserve N         refuse new agent connections while fewer than N "
		"descriptors\n"
		"                         are free (for the query API and connected agents) [32]\n"
		"  --psl-file FILE        Public Suffix List of the herd's dns tokens (.dat, "
		".dafsa)\n"
		"                         [" TOKENS_PSL_FILE "]\n"
		"  --hold-ms N --learn-s N --min-herd N --threshold BITS --change-frac F\n"
		"  --change-window-s N --new-member-s N --window-s N --silent-s N\n"
		"  --half-life-s N --gone-s N --rollout-s N --forget-s N\n"
		"  --max-skew-s N --max-ahead-s N                                    herd "
		"engine\n");
}

int main(int argc, char **argv)
{
	struct collector col = {0}, *c = &col;
	const char *listen_a = "127.0.0.1:7443", *http_a = "127.0.0.1:7480", *db = "herdwatch.db";
	const char *ca = NULL, *cert = NULL, *key = NULL, *token_file = NULL, *psl_file = NULL;
	unsigned long long max_db = 0;
	struct herd_cfg hc;
	struct alert_out_opts ao = {0};
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
	/* scale-out modes (docs/scale-out.md): --mode ingest|worker|events --nats URL... */
	int mode = nats_mode_args(&argc, argv, c);
	if (mode < 0)
		return 2;
	if (mode == NATS_MODE_WORKER || mode == NATS_MODE_EVENTS)
		return nats_worker_main(argc, argv);
	enum {
		O_CA = 256,
		O_CERT,
		O_KEY,
		O_LISTEN,
		O_HTTP,
		O_DB,
		O_COMMIT,
		O_RDAYS,
		O_RMB,
		O_RESP,
		O_HOLD,
		O_LEARN,
		O_MIN,
		O_THR,
		O_CFRAC,
		O_CWIN,
		O_NEWM,
		O_WIN,
		O_SILENT,
		O_QUIET,
		O_HALF,
		O_GONE,
		O_ROLL,
		O_FORGET,
		O_RINT,
		O_CRL,
		O_RELAY,
		O_RTIMEOUT,
		O_MAXDB,
		O_TOKEN,
		O_QMAX,
		O_HSTIME,
		O_MAXHS,
		O_MAXHSADDR,
		O_FDRES,
		O_HTTPHOST,
		O_PSL,
		O_SKEW,
		O_AHEAD,
		O_CREQ,
		O_SYSLOG,
		O_SYSFAC,
		O_WEBHOOK,
		O_WEBCA,
		O_WEBHDR
	};
	static const struct option opts[] = {
		{"ca", 1, 0, O_CA},
		{"cert", 1, 0, O_CERT},
		{"key", 1, 0, O_KEY},
		{"crl", 1, 0, O_CRL},
		{"relay-cert", 1, 0, O_RELAY},
		{"listen", 1, 0, O_LISTEN},
		{"http", 1, 0, O_HTTP},
		{"db", 1, 0, O_DB},
		{"commit-ms", 1, 0, O_COMMIT},
		{"retain-days", 1, 0, O_RDAYS},
		{"retain-mb", 1, 0, O_RMB},
		{"retain-interval-s", 1, 0, O_RINT},
		{"response-cmd", 1, 0, O_RESP},
		{"response-timeout-s", 1, 0, O_RTIMEOUT},
		{"max-db-mb", 1, 0, O_MAXDB},
		{"api-token-file", 1, 0, O_TOKEN},
		{"query-max-chunks", 1, 0, O_QMAX},
		{"handshake-timeout-s", 1, 0, O_HSTIME},
		{"max-handshakes", 1, 0, O_MAXHS},
		{"max-handshakes-per-addr", 1, 0, O_MAXHSADDR},
		{"fd-reserve", 1, 0, O_FDRES},
		{"http-host", 1, 0, O_HTTPHOST},
		{"hold-ms", 1, 0, O_HOLD},
		{"learn-s", 1, 0, O_LEARN},
		{"min-herd", 1, 0, O_MIN},
		{"threshold", 1, 0, O_THR},
		{"change-frac", 1, 0, O_CFRAC},
		{"change-window-s", 1, 0, O_CWIN},
		{"new-member-s", 1, 0, O_NEWM},
		{"window-s", 1, 0, O_WIN},
		{"silent-s", 1, 0, O_SILENT},
		{"quiet", 0, 0, O_QUIET},
		{"half-life-s", 1, 0, O_HALF},
		{"gone-s", 1, 0, O_GONE},
		{"rollout-s", 1, 0, O_ROLL},
		{"forget-s", 1, 0, O_FORGET},
		{"psl-file", 1, 0, O_PSL},
		{"max-skew-s", 1, 0, O_SKEW},
		{"max-ahead-s", 1, 0, O_AHEAD},
		{"console-requests", 0, 0, O_CREQ},
		{"syslog", 1, 0, O_SYSLOG},
		{"syslog-facility", 1, 0, O_SYSFAC},
		{"webhook", 1, 0, O_WEBHOOK},
		{"webhook-ca", 1, 0, O_WEBCA},
		{"webhook-header", 1, 0, O_WEBHDR},
		{"help", 0, 0, 'h'},
		{0, 0, 0, 0},
	};
	int o;
	while ((o = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (o) {
		case O_CA:
			ca = optarg;
			break;
		case O_CRL:
			c->crl_path = optarg;
			break;
		case O_RELAY:
			if (add_name(c->relay_cn, &c->nrelay, "--relay-cert", optarg))
				return 2;
			break;
		case O_CERT:
			cert = optarg;
			break;
		case O_KEY:
			key = optarg;
			break;
		case O_LISTEN:
			listen_a = optarg;
			break;
		case O_HTTP:
			http_a = optarg;
			break;
		case O_DB:
			db = optarg;
			break;
		case O_COMMIT:
			c->commit_ms = (unsigned)atoi(optarg);
			break;
		case O_RDAYS:
			c->retain_s = strtoull(optarg, NULL, 10) * 86400;
			break;
		case O_RMB:
			c->retain_bytes = strtoull(optarg, NULL, 10) << 20;
			break;
		case O_RINT:
			c->retain_every_ticks =
				40 * (unsigned)(atoi(optarg) > 0 ? atoi(optarg) : 1);
			break;
		case O_RESP:
			c->response_cmd = optarg;
			break;
		case O_RTIMEOUT:
			c->response_timeout_s = (unsigned)atoi(optarg);
			break;
		case O_MAXDB:
			max_db = strtoull(optarg, NULL, 10) << 20;
			break;
		case O_TOKEN:
			token_file = optarg;
			break;
		case O_QMAX:
			c->query_max_chunks = (unsigned)(atoi(optarg) > 0 ? atoi(optarg) : 1);
			break;
		case O_HOLD:
			hc.hold_ms = (unsigned)atoi(optarg);
			break;
		case O_LEARN:
			hc.learn_s = (unsigned)atoi(optarg);
			break;
		case O_MIN:
			hc.min_herd = (unsigned)atoi(optarg);
			break;
		case O_THR:
			hc.threshold_bits = atof(optarg);
			break;
		case O_CFRAC:
			hc.change_frac = atof(optarg);
			break;
		case O_CWIN:
			hc.change_window_s = (unsigned)atoi(optarg);
			break;
		case O_NEWM:
			hc.new_member_s = (unsigned)atoi(optarg);
			break;
		case O_WIN:
			hc.window_s = (unsigned)atoi(optarg);
			break;
		case O_SILENT:
			hc.silent_s = (unsigned)atoi(optarg);
			break;
		case O_HALF:
			hc.half_life_s = (unsigned)atoi(optarg);
			break;
		case O_GONE:
			hc.gone_s = (unsigned)atoi(optarg);
			break;
		case O_ROLL:
			hc.rollout_s = (unsigned)atoi(optarg);
			break;
		case O_FORGET:
			hc.forget_s = (unsigned)atoi(optarg);
			break;
		case O_SKEW:
			hc.max_skew_s = (unsigned)atoi(optarg);
			break;
		case O_AHEAD:
			hc.max_ahead_s = (unsigned)atoi(optarg);
			break;
		case O_QUIET:
			c->quiet = 1;
			break;
		case O_CREQ:
			c->console_requests = 1;
			break;
		case O_SYSLOG:
			ao.syslog = optarg;
			break;
		case O_SYSFAC:
			ao.facility_name = optarg;
			break;
		case O_WEBHOOK:
			ao.webhook = optarg;
			break;
		case O_WEBCA:
			ao.webhook_ca = optarg;
			break;
		case O_WEBHDR:
			if (ao.nheaders == sizeof(ao.headers) / sizeof(ao.headers[0])) {
				fprintf(stderr,
					"herdwatch-collector: --webhook-header: at most %zu\n",
					sizeof(ao.headers) / sizeof(ao.headers[0]));
				return 2;
			}
			ao.headers[ao.nheaders++] = optarg;
			break;
		case O_HSTIME:
			c->hs_timeout_s = (unsigned)(atoi(optarg) > 0 ? atoi(optarg) : 1);
			break;
		case O_MAXHS:
			c->max_pending = (unsigned)(atoi(optarg) > 0 ? atoi(optarg) : 1);
			break;
		case O_MAXHSADDR:
			c->max_pending_addr = (unsigned)(atoi(optarg) > 0 ? atoi(optarg) : 1);
			break;
		case O_PSL:
			psl_file = optarg;
			break;
		case O_FDRES:
			c->fd_reserve = (unsigned)(atoi(optarg) > 0 ? atoi(optarg) : 0);
			break;
		case O_HTTPHOST:
			if (add_name(c->http_hosts, &c->nhttp_hosts, "--http-host", optarg))
				return 2;
			break;
		default:
			usage();
			return 2;
		}
	}
	if (!ca || !cert || !key) {
		usage();
		return 2;
	}
	if (alert_out_check(&ao))
		return 2;
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
	if (sqlite3_open_v2(db, &c->rdb, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL) !=
	    SQLITE_OK)
		goto out;
	sqlite3_busy_timeout(c->rdb, 2000);
	if (alert_outputs_init(c, &ao))
		goto out;
	c->herd = herd_new(&hc, on_alert, c);
	c->ctx = SSL_CTX_new(TLS_server_method());
	if (!c->herd || !c->ctx)
		goto out;
	herd_snapshot_load(c);
	struct console_cfg kc = {c->rdb, store_db(c->st), c->api_token, c->console_requests,
				 &c->api_refused};
	if (console_new(&c->console, &kc))
		goto out;
	SSL_CTX_set_min_proto_version(c->ctx, TLS1_2_VERSION);
	STACK_OF(X509_NAME) *cas = SSL_load_client_CA_file(ca);
	if (SSL_CTX_use_certificate_chain_file(c->ctx, cert) != 1 ||
	    SSL_CTX_use_PrivateKey_file(c->ctx, key, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(c->ctx) != 1 ||
	    SSL_CTX_load_verify_locations(c->ctx, ca, NULL) != 1 || !cas) {
		fprintf(stderr,
			"herdwatch-collector: cannot load TLS files (ca %s, cert %s, key %s)\n", ca,
			cert, key);
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
			fprintf(stderr, "herdwatch-collector: --crl %s: %s\n", c->crl_path,
				strerror(errno));
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
	c->lis = evconnlistener_new_bind(c->base, on_accept, c,
					 LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE |
						 LEV_OPT_CLOSE_ON_EXEC,
					 1024, (struct sockaddr *)&ss, sl);
	if (!c->lis) {
		fprintf(stderr, "herdwatch-collector: cannot listen on %s: %s\n", listen_a,
			strerror(errno));
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
	struct timeval tv = {0, 25000};
	event_add(c->tick, &tv);
	event_add(c->sigint, NULL);
	event_add(c->sigterm, NULL);
	fprintf(stderr,
		"herdwatch-collector: agents on %s (mutual TLS), API on http://%s, database %s\n",
		listen_a, http_a, db);
	event_base_dispatch(c->base);
	commit(c);
	rc = 0;
out:
	alert_outputs_close(c, rc ? 0 : 2000);
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
	console_free(c->console);
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
	nats_ingest_free(c->nats);
	return rc;
}
