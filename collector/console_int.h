/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * console_int.h - what the web console's calls (console.c) share with its coverage call
 * (console_coverage.c). Not for other files: console.h is the interface.
 */
#ifndef HW_CONSOLE_INT_H
#define HW_CONSOLE_INT_H

#include <sqlite3.h>

#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "collector/console.h"

#define ALERT_EVENTS_MAX 64 /* events shown with one alert */
#define COV_MAX_READS 256   /* heartbeat chunks one /api/coverage call may decompress */
#define NOTE_MAX 200
#define TOKS_MAX 8192

struct cov {
	char *host;
	long long chunk; /* chunk the heartbeat was read from */
	char *summary;   /* JSON members (no braces): "time", "agent_version", counts, "blind" */
	char *probes;    /* the raw probes object */
};

struct console {
	struct console_cfg cfg;
	struct cov *cov;
	size_t ncov, covcap;
};

/* A prepared statement on the read-only database; NULL after answering 500. */
sqlite3_stmt *console_prep(struct console *k, struct evhttp_request *req, const char *sql);
/* GET /api/coverage (console_coverage.c). */
void console_coverage(struct console *k, struct evhttp_request *req, struct evkeyvalq *q);

#endif
