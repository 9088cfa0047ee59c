// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* http.c - JSON answers and checked query parameters of the collector's HTTP port (http.h). */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "collector/http.h"
#include "collector/tokens.h"

void http_reply_json(struct evhttp_request *req, int code, struct jbuf *b)
{
	struct evbuffer *out = evbuffer_new();
	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
			  "application/json");
	if (!out || b->oom) {
		evhttp_send_error(req, 500, "out of memory");
	} else {
		evbuffer_add(out, b->p ? b->p : "", b->len);
		evbuffer_add(out, "\n", 1);
		evhttp_send_reply(req, code,
				  code == 200   ? "OK"
				  : code == 400 ? "Bad Request"
						: "Refused",
				  out);
	}
	if (out)
		evbuffer_free(out);
	free(b->p);
}

int http_error(struct evhttp_request *req, int code, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	struct jbuf b = {0};
	jb_puts(&b, "{\"error\":");
	jb_str(&b, msg);
	jb_puts(&b, "}");
	http_reply_json(req, code, &b);
	return -1;
}

const char *http_param(struct evkeyvalq *q, const char *k)
{
	const char *v = evhttp_find_header(q, k);
	return v && *v ? v : NULL;
}

int http_params_known(struct evhttp_request *req, struct evkeyvalq *q, const char *const *names,
		      size_t max_value)
{
	struct evkeyval *kv;
	TAILQ_FOREACH(kv, q, next)
	{
		int known = 0;
		for (const char *const *n = names; *n && !known; n++)
			known = !strcmp(kv->key, *n);
		if (!known)
			return http_error(req, 400, "unknown parameter \"%.40s\"", kv->key);
		if (max_value && strlen(kv->value) > max_value)
			return http_error(req, 400, "%s: longer than %zu bytes", kv->key,
					  max_value);
	}
	return 0;
}

int http_int(struct evhttp_request *req, struct evkeyvalq *q, const char *k, long long dflt,
	     long long min, long long max, long long *out)
{
	const char *v = http_param(q, k);
	char *e;
	*out = dflt;
	if (!v)
		return 0;
	errno = 0;
	long long x = strtoll(v, &e, 10);
	if ((v[0] != '-' && (v[0] < '0' || v[0] > '9')) || *e || errno || x < min || x > max)
		return http_error(req, 400, "%s: \"%.40s\" is not an integer from %lld to %lld", k,
				  v, min, max);
	*out = x;
	return 0;
}

int http_time(struct evhttp_request *req, struct evkeyvalq *q, const char *k, long long dflt,
	      long long *out)
{
	const char *v = http_param(q, k);
	if (!v || !strchr(v, 'T'))
		return http_int(req, q, k, dflt, 0, LLONG_MAX, out);
	uint64_t t = parse_rfc3339(v, strlen(v));
	if (!t || t > LLONG_MAX)
		return http_error(req, 400,
				  "%s: \"%.40s\" is not a time (ns since the epoch, or RFC 3339)",
				  k, v);
	*out = (long long)t;
	return 0;
}
