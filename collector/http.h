/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * http.h - what the query API (api.c) and the web console (console.c) share in answering: JSON
 * answers, {"error": ...} answers (the message may hold request text: it is escaped in the
 * body, never put in the status line), and checked query parameters (an absent or empty
 * parameter is its default; a malformed one is a 400 naming it).
 */
#ifndef HW_COLLECTOR_HTTP_H
#define HW_COLLECTOR_HTTP_H

#include "collector/json.h"

struct evhttp_request;
struct evkeyvalq;

/* b as the body (and a newline), with status code; frees b->p. */
void http_reply_json(struct evhttp_request *req, int code, struct jbuf *b);
/* {"error": the formatted message} with status code. Returns -1. */
int http_error(struct evhttp_request *req, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* The parameter's value, NULL when absent or empty. */
const char *http_param(struct evkeyvalq *q, const char *k);
/* Every parameter is one of names (NULL-terminated) and, when max_value, no longer than
 * max_value bytes; else 400 and -1. */
int http_params_known(struct evhttp_request *req, struct evkeyvalq *q, const char *const *names,
		      size_t max_value);
/* Integer parameter k in [min, max] into *out (dflt when absent); else 400 and -1. */
int http_int(struct evhttp_request *req, struct evkeyvalq *q, const char *k, long long dflt,
	     long long min, long long max, long long *out);
/* A time: ns since the epoch or RFC 3339 (dflt when absent); else 400 and -1. */
int http_time(struct evhttp_request *req, struct evkeyvalq *q, const char *k, long long dflt,
	      long long *out);

#endif
