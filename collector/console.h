/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * console.h - the web console: static pages (the files of collector/console/, embedded at build time) and
 * the JSON calls only the console needs, served on the collector's HTTP port.
 *
 * Read-only, except POST /api/ack (acknowledge an alert), which needs the API token; the
 * collector's dispatcher has already refused a request naming another Host and a state-changing
 * request from another origin (Origin, Sec-Fetch-Site) before console_http() sees it.
 * Nothing here runs on the ingest path: every answer is computed when asked, from the
 * read-only database connection (and the small coverage cache below).
 */
#ifndef HW_CONSOLE_H
#define HW_CONSOLE_H

#include <sqlite3.h>

struct evhttp_request;
struct evkeyvalq;
struct console;

struct console_cfg {
	sqlite3 *rdb;                /* read-only connection: every query */
	sqlite3 *wdb;                /* the store's connection: acknowledgements only */
	const char *api_token;       /* 64 hex digits */
	int requests;                /* --console-requests: the page may ask agents for more */
	unsigned long long *refused; /* the collector's api_refused counter */
};

/* One embedded file (generated from collector/console/ by collector/console-gen.sh). */
struct console_asset {
	const char *name;
	const unsigned char *data;
	unsigned long len;
};
extern const struct console_asset console_assets[]; /* ends with a NULL name */

int console_new(struct console **out, const struct console_cfg *cfg);
void console_free(struct console *k);
/* 1 when path is the console's: it checks that path's parameters itself. */
int console_owns(const char *path);
/* Answer the request when path is the console's (returns 1), else 0 (nothing sent). */
int console_http(struct console *k, struct evhttp_request *req, const char *path,
		 struct evkeyvalq *q);

#endif
