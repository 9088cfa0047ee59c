// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * options.c - the collector's command line: the defaults, the option table, and the usage
 * text. collector_options() fills the collector's own settings (struct collector) and what
 * the start-up steps need once (struct collector_opts: addresses, files, the herd engine's
 * configuration, the alert outputs). It opens nothing: a wrong option is a line on stderr and
 * exit status 2, before any file or socket is touched (docs/collector.md lists the options).
 * An option is one row of copts[] (its name, how its value is read, the field it sets) and
 * its line in the usage text; getopt's table is built from the rows.
 */
#include "collector/collector.h"
#include <stddef.h>

/* How an option's value is read, and where it goes: a field of struct collector_opts (OPT)
 * or of struct collector (COL), at an offset. */
enum opt_kind {
	K_STR,   /* const char *: the argument itself */
	K_FLAG,  /* int set to 1; no argument */
	K_UINT,  /* unsigned: atoi() */
	K_UINT1, /* unsigned, at least 1 (0, negative or not a number: 1) */
	K_UINT0, /* unsigned, negative: 0 */
	K_DBL,   /* double: atof() */
	K_DAYS,  /* unsigned long long seconds, given in days */
	K_MIB,   /* unsigned long long bytes, given in MiB */
	K_TICKS, /* unsigned ticks of the 25 ms timer, given in seconds (at least 1) */
	K_LIST,  /* a repeatable option: list_option() */
};
struct copt {
	const char *name;
	enum opt_kind kind;
	int in_collector; /* 0: struct collector_opts, 1: struct collector */
	size_t off;
};
#define OPT(name, kind, field)                                                                     \
	{                                                                                          \
		name, kind, 0, offsetof(struct collector_opts, field)                              \
	}
#define COL(name, kind, field)                                                                     \
	{                                                                                          \
		name, kind, 1, offsetof(struct collector, field)                                   \
	}

/* Every option: its name, how it is read, where it goes. */
static const struct copt copts[] = {
	OPT("mode", K_STR, mode),
	OPT("ca", K_STR, ca),
	OPT("cert", K_STR, cert),
	OPT("key", K_STR, key),
	COL("crl", K_STR, crl_path),
	COL("relay-cert", K_LIST, relay_cn),
	OPT("listen", K_STR, listen_a),
	OPT("http", K_STR, http_a),
	OPT("db", K_STR, db),
	COL("commit-ms", K_UINT, commit_ms),
	COL("retain-days", K_DAYS, retain_s),
	COL("retain-mb", K_MIB, retain_bytes),
	COL("retain-interval-s", K_TICKS, retain_every_ticks),
	COL("response-cmd", K_STR, response_cmd),
	COL("response-timeout-s", K_UINT, response_timeout_s),
	OPT("max-db-mb", K_MIB, max_db),
	OPT("api-token-file", K_STR, token_file),
	COL("query-max-chunks", K_UINT1, query_max_chunks),
	COL("handshake-timeout-s", K_UINT1, hs_timeout_s),
	COL("max-handshakes", K_UINT1, max_pending),
	COL("max-handshakes-per-addr", K_UINT1, max_pending_addr),
	COL("fd-reserve", K_UINT0, fd_reserve),
	COL("http-host", K_LIST, http_hosts),
	OPT("hold-ms", K_UINT, hc.hold_ms),
	OPT("learn-s", K_UINT, hc.learn_s),
	OPT("min-herd", K_UINT, hc.min_herd),
	OPT("threshold", K_DBL, hc.threshold_bits),
	OPT("change-frac", K_DBL, hc.change_frac),
	OPT("change-window-s", K_UINT, hc.change_window_s),
	OPT("new-member-s", K_UINT, hc.new_member_s),
	OPT("window-s", K_UINT, hc.window_s),
	OPT("silent-s", K_UINT, hc.silent_s),
	COL("quiet", K_FLAG, quiet),
	OPT("half-life-s", K_UINT, hc.half_life_s),
	OPT("gone-s", K_UINT, hc.gone_s),
	OPT("rollout-s", K_UINT, hc.rollout_s),
	OPT("forget-s", K_UINT, hc.forget_s),
	OPT("psl-file", K_STR, psl_file),
	OPT("max-skew-s", K_UINT, hc.max_skew_s),
	OPT("max-ahead-s", K_UINT, hc.max_ahead_s),
	COL("console-requests", K_FLAG, console_requests),
	OPT("syslog", K_STR, ao.syslog),
	OPT("syslog-facility", K_STR, ao.facility_name),
	OPT("webhook", K_STR, ao.webhook),
	OPT("webhook-ca", K_STR, ao.webhook_ca),
	OPT("webhook-header", K_LIST, ao.headers),
};
#define NOPTS (sizeof(copts) / sizeof(copts[0]))

void collector_usage(void)
{
	fprintf(stderr,
		"usage: herdwatch-collector --ca FILE --cert FILE --key FILE [options]\n"
		"  --mode NAME            what this process runs [all: ingest, store, herd engine "
		"and API];\n"
		"                         ingest, worker, events, api: the scale-out on NATS "
		"JetStream\n"
		"                         (--nats URL[,URL...], docs/scale-out.md); api: the "
		"query\n"
		"                         API over --shard-dir DIR and HW_ALERT (no TLS options)\n"
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

/* The repeatable options: --relay-cert, --http-host, --webhook-header. -1 when full. */
static int list_option(struct collector *c, struct collector_opts *op, const char *name,
		       const char *v)
{
	struct alert_out_opts *ao = &op->ao;
	if (!strcmp(name, "relay-cert"))
		return add_name(c->relay_cn, &c->nrelay, "--relay-cert", v);
	if (!strcmp(name, "http-host"))
		return add_name(c->http_hosts, &c->nhttp_hosts, "--http-host", v);
	if (ao->nheaders == sizeof(ao->headers) / sizeof(ao->headers[0])) {
		fprintf(stderr, "herdwatch-collector: --webhook-header: at most %zu\n",
			sizeof(ao->headers) / sizeof(ao->headers[0]));
		return -1;
	}
	ao->headers[ao->nheaders++] = v;
	return 0;
}

/* One option's value into its field. 0, or -1 after a line on stderr. */
static int set_option(struct collector *c, struct collector_opts *op, const struct copt *o,
		      const char *v)
{
	char *f = (o->in_collector ? (char *)c : (char *)op) + o->off;
	int n = v ? atoi(v) : 0;
	switch (o->kind) {
	case K_STR:
		*(const char **)f = v;
		break;
	case K_FLAG:
		*(int *)f = 1;
		break;
	case K_UINT:
		*(unsigned *)f = (unsigned)n;
		break;
	case K_UINT1:
		*(unsigned *)f = (unsigned)(n > 0 ? n : 1);
		break;
	case K_UINT0:
		*(unsigned *)f = (unsigned)(n > 0 ? n : 0);
		break;
	case K_DBL:
		*(double *)f = atof(v);
		break;
	case K_DAYS:
		*(unsigned long long *)f = strtoull(v, NULL, 10) * 86400;
		break;
	case K_MIB:
		*(unsigned long long *)f = strtoull(v, NULL, 10) << 20;
		break;
	case K_TICKS:
		*(unsigned *)f = 40 * (unsigned)(n > 0 ? n : 1);
		break;
	case K_LIST:
		return list_option(c, op, o->name, v);
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
	struct option lo[NOPTS + 2];
	int o;
	for (size_t i = 0; i < NOPTS; i++)
		lo[i] = (struct option){copts[i].name, copts[i].kind != K_FLAG, NULL, 256 + (int)i};
	lo[NOPTS] = (struct option){"help", 0, NULL, 'h'};
	lo[NOPTS + 1] = (struct option){0};
	defaults(c, op);
	while ((o = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		if (o < 256 || o >= 256 + (int)NOPTS) {
			collector_usage();
			return 2;
		}
		if (set_option(c, op, &copts[o - 256], optarg))
			return 2;
	}
	/* --mode api serves no agents: no TLS */
	if (strcmp(op->mode, "api") && (!op->ca || !op->cert || !op->key)) {
		collector_usage();
		return 2;
	}
	if (alert_out_check(&op->ao))
		return 2;
	return 0;
}
