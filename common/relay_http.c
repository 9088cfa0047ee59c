/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * relay_http.c - the webhook transport of a relay (common/relay.h): one HTTP/1.1 POST per
 * batch, over TLS for https:// URLs (the peer's certificate checked against ca_file or the
 * system's CAs, and its name or address against the URL's host). The connection is kept
 * while the server keeps it; a kept connection that the server closed in the meantime is
 * reopened once at no cost.
 *
 *   POST /path HTTP/1.1
 *   Host: host:port
 *   User-Agent: herdwatch
 *   Content-Type: application/json
 *   Content-Length: N
 *   <each configured header>
 *
 *   [{event or alert},{...},...]
 *
 * The answer: 2xx delivered; 408, 429, 5xx or no answer: retried; any other status: final
 * (the batch is dropped and counted as rejected). Its body is read and discarded (at most
 * 1 MiB; a longer or chunked body closes the connection instead).
 */
#include "common/relay_int.h"
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

#define HEAD_MAX 16384
#define BODY_DISCARD_MAX (1 << 20)

void relay_http_free(struct relay *r)
{
	relay_disconnect(r);
	if (r->ctx)
		SSL_CTX_free(r->ctx);
	r->ctx = NULL;
}

static void tls_error(char *err, size_t errlen, const char *what, struct relay *r)
{
	unsigned long e = ERR_get_error();
	long v = r->ssl ? SSL_get_verify_result(r->ssl) : X509_V_OK;
	if (v != X509_V_OK)
		snprintf(err, errlen, "%s %s: certificate refused: %s", what, r->t.host,
			 X509_verify_cert_error_string(v));
	else
		snprintf(err, errlen, "%s %s: %s", what, r->t.host,
			 e ? ERR_reason_error_string(e) : "connection closed");
	ERR_clear_error();
}

/* Wait as an SSL call asks (want read or write); -1 on timeout. */
static int ssl_wait(struct relay *r, int rc, uint64_t deadline)
{
	int e = SSL_get_error(r->ssl, rc);
	if (e == SSL_ERROR_WANT_READ)
		return relay_wait(r, POLLIN, deadline);
	if (e == SSL_ERROR_WANT_WRITE)
		return relay_wait(r, POLLOUT, deadline);
	return -1;
}

static int tls_start(struct relay *r, char *err, size_t errlen)
{
	if (!r->ctx) {
		r->ctx = SSL_CTX_new(TLS_client_method());
		if (!r->ctx)
			return tls_error(err, errlen, "TLS setup for", r), -1;
		SSL_CTX_set_min_proto_version(r->ctx, TLS1_2_VERSION);
		SSL_CTX_set_verify(r->ctx, SSL_VERIFY_PEER, NULL);
		int ok = r->o.ca_file ? SSL_CTX_load_verify_locations(r->ctx, r->o.ca_file, NULL)
				      : SSL_CTX_set_default_verify_paths(r->ctx);
		if (!ok) {
			snprintf(err, errlen, "cannot load the CA file %s",
				 r->o.ca_file ? r->o.ca_file : "(system)");
			ERR_clear_error();
			SSL_CTX_free(r->ctx);
			r->ctx = NULL;
			return -1;
		}
	}
	r->ssl = SSL_new(r->ctx);
	if (!r->ssl || !SSL_set_fd(r->ssl, r->fd))
		return tls_error(err, errlen, "TLS setup for", r), -1;
	unsigned char ip[16];
	bool is_ip =
		inet_pton(AF_INET, r->t.host, ip) == 1 || inet_pton(AF_INET6, r->t.host, ip) == 1;
	if (is_ip)
		X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(r->ssl), r->t.host);
	else {
		SSL_set_tlsext_host_name(r->ssl, r->t.host);
		SSL_set1_host(r->ssl, r->t.host);
	}
	uint64_t deadline = relay_op_deadline(r);
	for (;;) {
		int rc = SSL_connect(r->ssl);
		if (rc == 1)
			return 0;
		if (ssl_wait(r, rc, deadline))
			return tls_error(err, errlen, "TLS handshake with", r), -1;
	}
}

static int io_write(struct relay *r, const char *p, size_t n, uint64_t deadline)
{
	while (n) {
		ssize_t w;
		if (r->ssl) {
			int rc = SSL_write(r->ssl, p, (int)(n > (1u << 30) ? 1u << 30 : n));
			if (rc <= 0) {
				if (ssl_wait(r, rc, deadline))
					return -1;
				continue;
			}
			w = rc;
		} else {
			w = send(r->fd, p, n, MSG_NOSIGNAL);
			if (w < 0) {
				if (errno == EINTR)
					continue;
				if (errno == EAGAIN && !relay_wait(r, POLLOUT, deadline))
					continue;
				return -1;
			}
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Some bytes into p: their count, 0 at EOF, -1 on error or timeout. */
static ssize_t io_read(struct relay *r, char *p, size_t cap, uint64_t deadline)
{
	for (;;) {
		if (r->ssl) {
			int rc = SSL_read(r->ssl, p, (int)cap);
			if (rc > 0)
				return rc;
			int e = SSL_get_error(r->ssl, rc);
			if (e == SSL_ERROR_ZERO_RETURN)
				return 0;
			if (ssl_wait(r, rc, deadline))
				return e == SSL_ERROR_SYSCALL ? 0 : -1;
			continue;
		}
		ssize_t n = recv(r->fd, p, cap, 0);
		if (n >= 0)
			return n;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN || relay_wait(r, POLLIN, deadline))
			return -1;
	}
}

/* The request (head and JSON array) into r->buf. */
static bool build_request(struct relay *r, struct rmsg **m, size_t n)
{
	size_t body = 2;
	for (size_t i = 0; i < n; i++) {
		size_t l = m[i]->n;
		while (l && (m[i]->msg[l - 1] == '\n' || m[i]->msg[l - 1] == '\r'))
			l--;
		body += l + 1;
	}
	r->len = 0;
	size_t head = 512 + strlen(r->t.path) + strlen(r->t.host);
	for (unsigned i = 0; i < r->o.nheaders; i++)
		head += strlen(r->o.headers[i]) + 2;
	if (!relay_reserve(r, head + body))
		return false;
	bool dflt = (r->t.proto == 'h' && !strcmp(r->t.port, "80")) ||
		    (r->t.proto == 's' && !strcmp(r->t.port, "443"));
	bool v6 = strchr(r->t.host, ':') != NULL;
	r->len = (size_t)sprintf(r->buf,
				 "POST %s HTTP/1.1\r\nHost: %s%s%s%s%s\r\nUser-Agent: herdwatch\r\n"
				 "Content-Type: application/json\r\nContent-Length: %zu\r\n",
				 r->t.path, v6 ? "[" : "", r->t.host, v6 ? "]" : "",
				 dflt ? "" : ":", dflt ? "" : r->t.port, body - (n ? 1 : 0));
	for (unsigned i = 0; i < r->o.nheaders; i++)
		r->len += (size_t)sprintf(r->buf + r->len, "%s\r\n", r->o.headers[i]);
	r->len += (size_t)sprintf(r->buf + r->len, "\r\n[");
	for (size_t i = 0; i < n; i++) {
		size_t l = m[i]->n;
		while (l && (m[i]->msg[l - 1] == '\n' || m[i]->msg[l - 1] == '\r'))
			l--;
		if (i)
			r->buf[r->len++] = ',';
		memcpy(r->buf + r->len, m[i]->msg, l);
		r->len += l;
	}
	r->buf[r->len++] = ']';
	return true;
}

/* Read the answer's head; its status (0 when none came), keep: may the connection stay. */
static int read_answer(struct relay *r, bool *keep, size_t *got_any, char *err, size_t errlen)
{
	char head[HEAD_MAX + 1];
	size_t hn = 0;
	uint64_t deadline = relay_op_deadline(r);
	char *end = NULL;
	while (!end) {
		if (hn == HEAD_MAX) {
			snprintf(err, errlen, "%s: the answer's head is over %d bytes", r->t.host,
				 HEAD_MAX);
			return 0;
		}
		ssize_t k = io_read(r, head + hn, HEAD_MAX - hn, deadline);
		if (k <= 0) {
			snprintf(err, errlen, "%s port %s: %s", r->t.host, r->t.port,
				 k == 0 ? "the connection closed before an answer"
					: "no answer in time");
			return 0;
		}
		*got_any += (size_t)k;
		hn += (size_t)k;
		head[hn] = 0;
		end = strstr(head, "\r\n\r\n");
	}
	int status = 0;
	if (sscanf(head, "HTTP/1.%*[01] %3d", &status) != 1 || status < 100) {
		snprintf(err, errlen, "%s: not an HTTP answer", r->t.host);
		return 0;
	}
	long long clen = -1;
	*keep = strncmp(head, "HTTP/1.0", 8) != 0;
	for (char *l = strstr(head, "\r\n"); l && l < end; l = strstr(l + 2, "\r\n")) {
		char *v = l + 2;
		if (!strncasecmp(v, "Content-Length:", 15))
			clen = atoll(v + 15);
		else if (!strncasecmp(v, "Connection:", 11))
			*keep = strncasecmp(v + 11 + strspn(v + 11, " \t"), "close", 5) != 0;
		else if (!strncasecmp(v, "Transfer-Encoding:", 18))
			clen = -1, *keep = false;
	}
	if (clen < 0 || clen > BODY_DISCARD_MAX)
		*keep = false;
	size_t have = hn - (size_t)(end + 4 - head);
	while (*keep && (long long)have < clen) {
		char sink[4096];
		ssize_t k = io_read(r, sink, sizeof(sink), deadline);
		if (k <= 0)
			*keep = false;
		have += k > 0 ? (size_t)k : 0;
	}
	if (status < 200 || status >= 300)
		snprintf(err, errlen, "%s port %s answered %d", r->t.host, r->t.port, status);
	return status;
}

int relay_http_post(struct relay *r, struct rmsg **m, size_t n, char *err, size_t errlen)
{
	if (!build_request(r, m, n)) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (int attempt = 0; attempt < 2; attempt++) {
		bool reused = r->fd >= 0, keep = false;
		if (!reused && (relay_connect(r, false, err, errlen) ||
				(r->t.proto == 's' && tls_start(r, err, errlen))))
			return -1;
		size_t got = 0;
		int status = 0;
		if (io_write(r, r->buf, r->len, relay_op_deadline(r)))
			snprintf(err, errlen, "cannot write to %s port %s", r->t.host, r->t.port);
		else
			status = read_answer(r, &keep, &got, err, errlen);
		if (!keep || !status)
			relay_disconnect(r);
		if (!status && reused && !got && !relay_stopping(r))
			continue; /* the server closed the kept connection: once more, afresh */
		if (status >= 200 && status < 300)
			return 0;
		if (status >= 400 && status < 500 && status != 408 && status != 429)
			return 1;
		return -1;
	}
	return -1;
}
