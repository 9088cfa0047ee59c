// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * setup.c - the collector's start-up steps and its one shutdown. Each step makes one part of
 * struct collector from the options (options.c) and returns 0, or -1 after saying why on
 * stderr where there is more to say than the step's name: the per-batch buffers, the store
 * (SQLite, the API token, the read-only query connection, the alert outputs, the console),
 * the TLS context (mutual TLS, no resumption, the CRL), the listeners (agents, query API).
 * collector_shutdown() frees whatever the steps made, whichever step failed: a mode runs the
 * steps it needs and leaves the rest NULL.
 */
#include "collector/collector.h"

int collector_buffers(struct collector *c)
{
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
		return -1;
	return 0;
}

int collector_open_store(struct collector *c, struct collector_opts *op)
{
	static char tfbuf[4096];
	if (store_open(&c->st, op->db, op->max_db))
		return -1;
	if (!op->token_file) {
		snprintf(tfbuf, sizeof(tfbuf), "%s.api-token", op->db);
		op->token_file = tfbuf;
	}
	if (api_token_init(c, op->token_file))
		return -1;
	/* Response commands inherit where the API is and its token, so one that asks agents for
	 * more (herdwatch request, scripts/herdwatch-respond-trace) needs no configuration. */
	setenv("HERDWATCH_API_TOKEN_FILE", op->token_file, 1);
	setenv("HERDWATCH_API", op->http_a, 1);
	if (sqlite3_open_v2(op->db, &c->rdb, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL) !=
	    SQLITE_OK)
		return -1;
	sqlite3_busy_timeout(c->rdb, 2000);
	if (alert_outputs_init(c, &op->ao))
		return -1;
	struct console_cfg kc = {c->rdb, store_db(c->st), c->api_token, c->console_requests,
				 &c->api_refused};
	return console_new(&c->console, &kc) ? -1 : 0;
}

int collector_tls(struct collector *c, const struct collector_opts *op)
{
	c->ctx = SSL_CTX_new(TLS_server_method());
	if (!c->ctx)
		return -1;
	SSL_CTX_set_min_proto_version(c->ctx, TLS1_2_VERSION);
	STACK_OF(X509_NAME) *cas = SSL_load_client_CA_file(op->ca);
	if (SSL_CTX_use_certificate_chain_file(c->ctx, op->cert) != 1 ||
	    SSL_CTX_use_PrivateKey_file(c->ctx, op->key, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(c->ctx) != 1 ||
	    SSL_CTX_load_verify_locations(c->ctx, op->ca, NULL) != 1 || !cas) {
		fprintf(stderr,
			"herdwatch-collector: cannot load TLS files (ca %s, cert %s, key %s)\n",
			op->ca, op->cert, op->key);
		return -1;
	}
	SSL_CTX_set_client_CA_list(c->ctx, cas);
	/* Mutual TLS: an agent without a certificate signed by the fleet CA is refused. */
	SSL_CTX_set_verify(c->ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
	/* No session resumption: a resumed session skips the certificate check, so an agent
	 * revoked since its last handshake could come back in. Agents reconnect rarely. */
	SSL_CTX_set_session_cache_mode(c->ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_options(c->ctx, SSL_OP_NO_TICKET);
	SSL_CTX_set_num_tickets(c->ctx, 0);
	c->ca_path = op->ca;
	if (c->crl_path) {
		if (stat(c->crl_path, &c->crl_st)) {
			fprintf(stderr, "herdwatch-collector: --crl %s: %s\n", c->crl_path,
				strerror(errno));
			return -1;
		}
		if (crl_load(c, 1))
			return -1;
	}
	return 0;
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

/* The agents' TLS listener (--listen) and the query API (--http), on the event base. */
int collector_listen(struct collector *c, const struct collector_opts *op)
{
	struct sockaddr_storage ss;
	int sl = sizeof(ss);
	if (evutil_parse_sockaddr_port(op->listen_a, (struct sockaddr *)&ss, &sl)) {
		fprintf(stderr, "herdwatch-collector: bad --listen %s\n", op->listen_a);
		return -1;
	}
	c->lis = evconnlistener_new_bind(c->base, on_accept, c,
					 LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE |
						 LEV_OPT_CLOSE_ON_EXEC,
					 1024, (struct sockaddr *)&ss, sl);
	if (!c->lis) {
		fprintf(stderr, "herdwatch-collector: cannot listen on %s: %s\n", op->listen_a,
			strerror(errno));
		return -1;
	}
	evconnlistener_set_error_cb(c->lis, on_accept_error);
	c->lis_resume = evtimer_new(c->base, listener_resume, c);
	if (!c->lis_resume)
		return -1;
	return collector_http(c, op);
}

/* The query API (--http) alone, on the event base (--mode api serves no agents). */
int collector_http(struct collector *c, const struct collector_opts *op)
{
	char host[256];
	int port;
	c->http = evhttp_new(c->base);
	if (!c->http || split_addr(op->http_a, host, sizeof(host), &port) ||
	    evhttp_bind_socket(c->http, host, (ev_uint16_t)port)) {
		fprintf(stderr, "herdwatch-collector: cannot serve HTTP on %s\n", op->http_a);
		return -1;
	}
	snprintf(c->http_name, sizeof(c->http_name), "%s", host);
	c->http_port = port;
	evhttp_set_max_body_size(c->http, HTTP_MAX_BODY);
	evhttp_set_max_headers_size(c->http, HTTP_MAX_HEADERS);
	evhttp_set_gencb(c->http, on_http, c);
	return 0;
}

void collector_shutdown(struct collector *c, int rc)
{
	alert_outputs_close(c, rc ? 0 : 2000);
	for (struct response *r = c->responses, *next; r; r = next) {
		next = r->next;
		response_close_fd(r);
		free(r);
	}
	struct event *evs[] = {c->tick, c->sigint, c->sigterm, c->lis_resume};
	for (size_t i = 0; i < sizeof(evs) / sizeof(evs[0]); i++)
		if (evs[i])
			event_free(evs[i]);
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
}
