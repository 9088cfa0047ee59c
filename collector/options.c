// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * options.c - the collector's command line: the defaults, the option table, and the usage
 * text. collector_options() fills the collector's own settings (struct collector) and what
 * the start-up steps need once (struct collector_opts: addresses, files, the herd engine's
 * configuration, the alert outputs). It opens nothing: a wrong option is a line on stderr and
 * exit status 2, before any file or socket is touched (docs/collector.md lists the options).
 */
#include "collector/collector.h"

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
	O_WEBHDR,
	O_MODE,
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
	{"mode", 1, 0, O_MODE},
	{"help", 0, 0, 'h'},
	{0, 0, 0, 0},
};

void collector_usage(void)
{
	fprintf(stderr,
		"usage: herdwatch-collector --ca FILE --cert FILE --key FILE [options]\n"
		"  --mode NAME            what this process runs [all: ingest, store, herd engine "
		"and API]\n"
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

/* a count that must be at least 1 (0, negative or not a number: 1) */
static unsigned at_least_1(const char *v)
{
	return (unsigned)(atoi(v) > 0 ? atoi(v) : 1);
}

/* The herd engine's options (struct herd_cfg). 1: o is not one of them. */
static int herd_option(struct herd_cfg *hc, int o, const char *v)
{
	switch (o) {
	case O_HOLD:
		hc->hold_ms = (unsigned)atoi(v);
		break;
	case O_LEARN:
		hc->learn_s = (unsigned)atoi(v);
		break;
	case O_MIN:
		hc->min_herd = (unsigned)atoi(v);
		break;
	case O_THR:
		hc->threshold_bits = atof(v);
		break;
	case O_CFRAC:
		hc->change_frac = atof(v);
		break;
	case O_CWIN:
		hc->change_window_s = (unsigned)atoi(v);
		break;
	case O_NEWM:
		hc->new_member_s = (unsigned)atoi(v);
		break;
	case O_WIN:
		hc->window_s = (unsigned)atoi(v);
		break;
	case O_SILENT:
		hc->silent_s = (unsigned)atoi(v);
		break;
	case O_HALF:
		hc->half_life_s = (unsigned)atoi(v);
		break;
	case O_GONE:
		hc->gone_s = (unsigned)atoi(v);
		break;
	case O_ROLL:
		hc->rollout_s = (unsigned)atoi(v);
		break;
	case O_FORGET:
		hc->forget_s = (unsigned)atoi(v);
		break;
	case O_SKEW:
		hc->max_skew_s = (unsigned)atoi(v);
		break;
	case O_AHEAD:
		hc->max_ahead_s = (unsigned)atoi(v);
		break;
	default:
		return 1;
	}
	return 0;
}

/* The alert outputs' options (--syslog, --webhook and theirs). 1: not one of them, -1: bad. */
static int alert_option(struct alert_out_opts *ao, int o, const char *v)
{
	switch (o) {
	case O_SYSLOG:
		ao->syslog = v;
		break;
	case O_SYSFAC:
		ao->facility_name = v;
		break;
	case O_WEBHOOK:
		ao->webhook = v;
		break;
	case O_WEBCA:
		ao->webhook_ca = v;
		break;
	case O_WEBHDR:
		if (ao->nheaders == sizeof(ao->headers) / sizeof(ao->headers[0])) {
			fprintf(stderr, "herdwatch-collector: --webhook-header: at most %zu\n",
				sizeof(ao->headers) / sizeof(ao->headers[0]));
			return -1;
		}
		ao->headers[ao->nheaders++] = v;
		break;
	default:
		return 1;
	}
	return 0;
}

/* The agents' connections and the query API: addresses, TLS files, limits. 1: not one of
 * them, -1: bad. */
static int conn_option(struct collector *c, struct collector_opts *op, int o, const char *v)
{
	switch (o) {
	case O_CA:
		op->ca = v;
		break;
	case O_CERT:
		op->cert = v;
		break;
	case O_KEY:
		op->key = v;
		break;
	case O_CRL:
		c->crl_path = v;
		break;
	case O_RELAY:
		return add_name(c->relay_cn, &c->nrelay, "--relay-cert", v);
	case O_LISTEN:
		op->listen_a = v;
		break;
	case O_HTTP:
		op->http_a = v;
		break;
	case O_HTTPHOST:
		return add_name(c->http_hosts, &c->nhttp_hosts, "--http-host", v);
	case O_HSTIME:
		c->hs_timeout_s = at_least_1(v);
		break;
	case O_MAXHS:
		c->max_pending = at_least_1(v);
		break;
	case O_MAXHSADDR:
		c->max_pending_addr = at_least_1(v);
		break;
	case O_FDRES:
		c->fd_reserve = (unsigned)(atoi(v) > 0 ? atoi(v) : 0);
		break;
	case O_CREQ:
		c->console_requests = 1;
		break;
	case O_QMAX:
		c->query_max_chunks = at_least_1(v);
		break;
	case O_TOKEN:
		op->token_file = v;
		break;
	default:
		return 1;
	}
	return 0;
}

/* The database, retention, response commands and the rest. 1: not one of them. */
static int store_option(struct collector *c, struct collector_opts *op, int o, const char *v)
{
	switch (o) {
	case O_DB:
		op->db = v;
		break;
	case O_MAXDB:
		op->max_db = strtoull(v, NULL, 10) << 20;
		break;
	case O_COMMIT:
		c->commit_ms = (unsigned)atoi(v);
		break;
	case O_RDAYS:
		c->retain_s = strtoull(v, NULL, 10) * 86400;
		break;
	case O_RMB:
		c->retain_bytes = strtoull(v, NULL, 10) << 20;
		break;
	case O_RINT:
		c->retain_every_ticks = 40 * at_least_1(v);
		break;
	case O_RESP:
		c->response_cmd = v;
		break;
	case O_RTIMEOUT:
		c->response_timeout_s = (unsigned)atoi(v);
		break;
	case O_PSL:
		op->psl_file = v;
		break;
	case O_QUIET:
		c->quiet = 1;
		break;
	case O_MODE:
		op->mode = v;
		break;
	default:
		return 1;
	}
	return 0;
}

static void defaults(struct collector *c, struct collector_opts *op)
{
	memset(op, 0, sizeof(*op));
	op->listen_a = "127.0.0.1:7443";
	op->http_a = "127.0.0.1:7480";
	op->db = "herdwatch.db";
	op->mode = "all";
	herd_cfg_default(&op->hc);
	c->commit_ms = 25;
	c->retain_s = 30ull * 86400;
	c->retain_every_ticks = 400; /* 10 s */
	c->response_timeout_s = 60;
	c->query_max_chunks = QUERY_MAX_CHUNKS;
	c->hs_timeout_s = 5;
	c->max_pending = 256;
	c->max_pending_addr = 64;
	c->fd_reserve = 32;
}

int collector_options(struct collector *c, struct collector_opts *op, int argc, char **argv)
{
	int o;
	defaults(c, op);
	while ((o = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		int r = herd_option(&op->hc, o, optarg);
		if (r == 1)
			r = alert_option(&op->ao, o, optarg);
		if (r == 1)
			r = conn_option(c, op, o, optarg);
		if (r == 1)
			r = store_option(c, op, o, optarg);
		if (r == 1)
			collector_usage();
		if (r)
			return 2;
	}
	if (!op->ca || !op->cert || !op->key) {
		collector_usage();
		return 2;
	}
	if (alert_out_check(&op->ao))
		return 2;
	return 0;
}
