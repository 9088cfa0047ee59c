// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * console.c - the web console of the collector (docs/console.md).
 *
 * Pages: GET / redirects to /console/; /console/ (index.html), /console/app.js,
 * /console/style.css are the files of collector/console/, embedded at build time
 * (collector/console-gen.sh). Every page is sent with a Content-Security-Policy that allows
 * scripts, styles and fetches from this origin only (no inline script, no eval), in no frame.
 * The page writes every string it got from the API with textContent: event fields are
 * attacker-controlled (argv, paths, DNS names).
 *
 * JSON calls the console needs beyond the query API of main.c (all GET but /api/ack):
 *   /api/console                  what the page may offer: {"requests": bool, "version"}
 *   /api/fleet?since=             alerts per herd, severity and kind since `since` (default
 *                                 24 h ago)
 *   /api/coverage[?host=]         per host, the probe manifest of its latest agent.heartbeat:
 *                                 probes not attached (the member runs blind on them); with
 *                                 host= also its whole `probes` object
 *   /api/alert-list?herd=&member=&severity=&kind=&before=&limit=
 *                                 alerts newest first, each with its state (open, folded,
 *                                 acknowledged)
 *   /api/alert?id=                one alert, its state and the stored events behind it
 *   /api/member?name=             a member's alerts, and the tokens no peer shared when it was
 *                                 alerted (not since folded into a herd change)
 *   /api/herd-change?id=          a herd.change alert and the member alerts folded into it
 *   POST /api/ack  id=N[&note=]   acknowledge an alert (API token)
 * Acknowledgements: table alert_acks(alert -> alerts.id, ts, note), created here with
 * IF NOT EXISTS (a database without it reads as "nothing acknowledged").
 *
 * Coverage: the newest chunk holding a heartbeat of each host comes from the chunk index
 * (kind, ts_max); the heartbeat inside it is read from the chunk only when that chunk changed
 * since the last call (a cache per host), at most COV_MAX_READS chunks per call.
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <zstd.h>

#include "collector/console.h"
#include "collector/console_int.h"
#include "collector/http.h"
#include "collector/json.h"
#include "collector/tokens.h"
#include "common/wire.h"

static const char CSP[] =
	"default-src 'none'; script-src 'self'; style-src 'self'; "
	"img-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; "
	"frame-ancestors 'none'";

int console_new(struct console **out, const struct console_cfg *cfg)
{
	struct console *k = calloc(1, sizeof(*k));
	if (!k)
		return -ENOMEM;
	k->cfg = *cfg;
	/* Acknowledgements live beside the alerts; a database that cannot take the table (read
	 * only, full) still serves everything else. */
	if (cfg->wdb &&
	    sqlite3_exec(cfg->wdb,
			 "CREATE TABLE IF NOT EXISTS alert_acks(alert INTEGER PRIMARY KEY,"
			 " ts INTEGER NOT NULL, note TEXT)",
			 NULL, NULL, NULL) != SQLITE_OK)
		fprintf(stderr, "herdwatch-collector: console: no alert_acks table: %s\n",
			sqlite3_errmsg(cfg->wdb));
	*out = k;
	return 0;
}

void console_free(struct console *k)
{
	if (!k)
		return;
	for (size_t i = 0; i < k->ncov; i++) {
		free(k->cov[i].host);
		free(k->cov[i].summary);
		free(k->cov[i].probes);
	}
	free(k->cov);
	free(k);
}

static const char *const api_paths[] = {"/api/console",     "/api/fleet", "/api/coverage",
					"/api/alert-list",  "/api/alert", "/api/member",
					"/api/herd-change", "/api/ack",   NULL};

int console_owns(const char *path)
{
	if (!strcmp(path, "/") || !strcmp(path, "/console") || !strncmp(path, "/console/", 9))
		return 1;
	for (const char *const *p = api_paths; *p; p++)
		if (!strcmp(path, *p))
			return 1;
	return 0;
}

/* ---- answers ---- */

static void security_headers(struct evhttp_request *req)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	evhttp_add_header(h, "Content-Security-Policy", CSP);
	evhttp_add_header(h, "X-Frame-Options", "DENY");
	evhttp_add_header(h, "Referrer-Policy", "no-referrer");
	evhttp_add_header(h, "Cross-Origin-Resource-Policy", "same-origin");
	evhttp_add_header(h, "Cache-Control", "no-store");
}

static int one_of(struct evhttp_request *req, const char *k, const char *v, const char *const *set)
{
	if (!v)
		return 0;
	for (const char *const *s = set; *s; s++)
		if (!strcmp(v, *s))
			return 0;
	return http_error(req, 400, "%s: \"%.40s\" is not one of the known values", k, v);
}

static const char *const alert_kinds[] = {"member.outlier", "herd.change",   "member.silent",
					  "member.back",    "member.folded", NULL};
static const char *const severities[] = {"alert", "notice", NULL};

static long long now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (long long)ts.tv_sec * 1000000000ll + ts.tv_nsec;
}

sqlite3_stmt *console_prep(struct console *k, struct evhttp_request *req, const char *sql)
{
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(k->cfg.rdb, sql, -1, &st, NULL) != SQLITE_OK) {
		http_error(req, 500, "database: %s", sqlite3_errmsg(k->cfg.rdb));
		return NULL;
	}
	return st;
}

static void col_text(struct jbuf *b, sqlite3_stmt *st, int i)
{
	if (sqlite3_column_type(st, i) == SQLITE_NULL)
		jb_puts(b, "null");
	else
		jb_strn(b, (const char *)sqlite3_column_text(st, i),
			(size_t)sqlite3_column_bytes(st, i));
}

/* ---- static files ---- */

static const char *content_type(const char *name)
{
	const char *dot = strrchr(name, '.');
	if (dot && !strcmp(dot, ".html"))
		return "text/html; charset=utf-8";
	if (dot && !strcmp(dot, ".js"))
		return "text/javascript; charset=utf-8";
	if (dot && !strcmp(dot, ".css"))
		return "text/css; charset=utf-8";
	if (dot && !strcmp(dot, ".svg"))
		return "image/svg+xml";
	if (dot && !strcmp(dot, ".png"))
		return "image/png";
	return "application/octet-stream";
}

static void serve_file(struct evhttp_request *req, const char *path)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	if (!strcmp(path, "/") || !strcmp(path, "/console")) {
		evhttp_add_header(h, "Location", "/console/");
		evhttp_send_reply(req, 302, "Found", NULL);
		return;
	}
	const char *name = path + strlen("/console/");
	if (!*name)
		name = "index.html";
	for (const struct console_asset *a = console_assets; a->name; a++) {
		if (strcmp(a->name, name))
			continue;
		struct evbuffer *out = evbuffer_new();
		if (!out) {
			evhttp_send_error(req, 500, "out of memory");
			return;
		}
		evhttp_add_header(h, "Content-Type", content_type(a->name));
		if (evhttp_request_get_command(req) != EVHTTP_REQ_HEAD)
			evbuffer_add_reference(out, a->data, a->len, NULL, NULL);
		evhttp_send_reply(req, 200, "OK", out);
		evbuffer_free(out);
		return;
	}
	http_error(req, 404, "not found");
}

/* ---- stored events by id ---- */

/* Append {"id","member","event"} of the stored events ids[0..n) (sorted ascending) to b, comma
 * separated; ids whose chunk is gone (retention) are left out. */
static void events_by_id(struct console *k, struct jbuf *b, const long long *ids, size_t n)
{
	sqlite3_stmt *get = NULL;
	if (sqlite3_prepare_v2(k->cfg.rdb, "SELECT z, raw_len FROM chunks WHERE id=?", -1, &get,
			       NULL) != SQLITE_OK)
		return;
	struct jtok *toks = malloc(sizeof(*toks) * TOKS_MAX);
	char *raw = NULL;
	int first = 1;
	for (size_t i = 0; toks && i < n;) {
		long long chunk = ids[i] >> 16;
		size_t j = i;
		while (j < n && ids[j] >> 16 == chunk)
			j++;
		sqlite3_bind_int64(get, 1, chunk);
		size_t rl = 0;
		if (sqlite3_step(get) == SQLITE_ROW) {
			const void *z = sqlite3_column_blob(get, 0);
			size_t zl = (size_t)sqlite3_column_bytes(get, 0);
			rl = (size_t)sqlite3_column_int64(get, 1);
			free(raw);
			raw = rl && rl <= HW_WIRE_MAX_RAW ? malloc(rl) : NULL;
			if (!raw || ZSTD_decompress(raw, rl, z, zl) != rl)
				rl = 0;
		}
		sqlite3_reset(get);
		long long line = 0;
		for (char *l = raw, *e = raw + rl; rl && l < e && i < j; line++) {
			char *nl = memchr(l, '\n', (size_t)(e - l));
			if (!nl)
				break;
			char *cur = l;
			size_t ll = (size_t)(nl - l);
			l = nl + 1;
			if ((ids[i] & 0xffff) != line)
				continue;
			while (i < j && (ids[i] & 0xffff) == line)
				i++;
			int nt = json_parse(cur, ll, toks, TOKS_MAX);
			if (nt <= 0)
				continue;
			struct jdoc d = {cur, toks, nt};
			char member[300] = "";
			int hn = json_path(&d, 0, "host.name"),
			    cid = json_path(&d, 0, "proc.container.id");
			json_str(&d, hn, member, 128);
			if (cid >= 0 && toks[cid].type == J_STR) {
				size_t ml = strlen(member);
				member[ml] = '/';
				json_str(&d, cid, member + ml + 1, 128);
			}
			jb_printf(b, "%s{\"id\":%lld,\"member\":", first ? "" : ",",
				  chunk << 16 | line);
			jb_str(b, member);
			jb_puts(b, ",\"event\":");
			jb_json_utf8(b, cur, ll);
			jb_puts(b, "}");
			first = 0;
		}
		i = j;
	}
	free(raw);
	free(toks);
	sqlite3_finalize(get);
}

static int cmp_ll(const void *a, const void *b)
{
	long long x = *(const long long *)a, y = *(const long long *)b;
	return x < y ? -1 : x > y;
}

/* ---- alerts and their state ---- */

/* Columns after id, json: acknowledged ts, note, the member.folded alert that took it in. An
 * acknowledgement older than the alert is of an earlier alert whose id SQLite reused (retention
 * deleted every alert above it): not this one's. */
#define STATE_COLS                                                                                 \
	"(SELECT ts FROM alert_acks k WHERE k.alert = a.id AND k.ts >= a.ts),"                     \
	"(SELECT note FROM alert_acks k WHERE k.alert = a.id AND k.ts >= a.ts),"                   \
	"CASE WHEN a.kind = 'member.outlier' THEN (SELECT f.id FROM alerts f"                      \
	" WHERE f.member = a.member AND f.kind = 'member.folded' AND f.id > a.id AND EXISTS"       \
	" (SELECT 1 FROM json_each(f.json, '$.tokens') ft, json_each(a.json, '$.tokens') at"       \
	"  WHERE ft.value = json_extract(at.value, '$.token')) ORDER BY f.id LIMIT 1) END"

/* "state", "acked", "note", "folded_by" members from the STATE_COLS at column i */
static void state_json(struct jbuf *b, sqlite3_stmt *st, int i)
{
	int acked = sqlite3_column_type(st, i) != SQLITE_NULL;
	int folded = sqlite3_column_type(st, i + 2) != SQLITE_NULL;
	jb_printf(b, "\"state\":\"%s\",\"acked_ns\":",
		  acked    ? "acknowledged"
		  : folded ? "folded"
			   : "open");
	if (acked)
		jb_printf(b, "%lld", (long long)sqlite3_column_int64(st, i));
	else
		jb_puts(b, "null");
	jb_puts(b, ",\"note\":");
	col_text(b, st, i + 1);
	jb_puts(b, ",\"folded_by\":");
	if (folded)
		jb_printf(b, "%lld", (long long)sqlite3_column_int64(st, i + 2));
	else
		jb_puts(b, "null");
}

static void api_alert_list(struct console *k, struct evhttp_request *req, struct evkeyvalq *q)
{
	static const char *const known[] = {"herd",  "member", "severity", "kind",
					    "since", "before", "limit",    NULL};
	const char *herd = http_param(q, "herd"), *member = http_param(q, "member"),
		   *sev = http_param(q, "severity"), *kind = http_param(q, "kind");
	long long since, before, limit;
	if (http_params_known(req, q, known, 256) || one_of(req, "kind", kind, alert_kinds) ||
	    one_of(req, "severity", sev, severities) || http_time(req, q, "since", -1, &since) ||
	    http_int(req, q, "before", -1, -1, LLONG_MAX, &before) ||
	    http_int(req, q, "limit", 100, 1, 1000, &limit))
		return;
	char sql[2048];
	snprintf(sql, sizeof(sql),
		 "SELECT a.id, a.json, " STATE_COLS " FROM alerts a WHERE 1%s%s%s%s%s%s"
		 " ORDER BY a.id DESC LIMIT ?7",
		 herd ? " AND a.herd = ?1" : "",
		 member ? " AND (a.member = ?2 OR a.member LIKE ?2 || '/%')" : "",
		 sev ? " AND a.severity = ?3" : "", kind ? " AND a.kind = ?4" : "",
		 since >= 0 ? " AND a.ts >= ?5" : "", before >= 0 ? " AND a.id < ?6" : "");
	sqlite3_stmt *st = console_prep(k, req, sql);
	if (!st)
		return;
	sqlite3_bind_text(st, 1, herd, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, member, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, sev, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, kind, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 5, since);
	sqlite3_bind_int64(st, 6, before);
	sqlite3_bind_int64(st, 7, limit);
	struct jbuf b = {0};
	jb_puts(&b, "{\"alerts\":[");
	long long last = -1, n = 0;
	while (sqlite3_step(st) == SQLITE_ROW) {
		last = sqlite3_column_int64(st, 0);
		jb_printf(&b, "%s{\"id\":%lld,", n++ ? "," : "", last);
		state_json(&b, st, 2);
		jb_puts(&b, ",\"alert\":");
		jb_raw(&b, (const char *)sqlite3_column_text(st, 1),
		       (size_t)sqlite3_column_bytes(st, 1));
		jb_puts(&b, "}");
	}
	sqlite3_finalize(st);
	/* next page: before=next_before (-1: this was the last) */
	jb_printf(&b, "],\"next_before\":%lld}", n == limit ? last : -1);
	http_reply_json(req, 200, &b);
}

static void api_alert(struct console *k, struct evhttp_request *req, struct evkeyvalq *q)
{
	static const char *const known[] = {"id", NULL};
	long long id;
	if (http_params_known(req, q, known, 256) || http_int(req, q, "id", -1, 1, LLONG_MAX, &id))
		return;
	if (id < 0) {
		http_error(req, 400, "id= is required");
		return;
	}
	sqlite3_stmt *st = console_prep(
		k, req,
		"SELECT a.id, a.json, " STATE_COLS ","
		" (SELECT c.id FROM alerts c WHERE c.kind = 'herd.change' AND c.herd = a.herd"
		"  AND a.kind = 'member.folded' AND json_extract(c.json, '$.change') ="
		"  json_extract(a.json, '$.change') AND json_extract(c.json, '$.cohort') IS"
		"  json_extract(a.json, '$.cohort') ORDER BY c.id LIMIT 1)"
		" FROM alerts a WHERE a.id = ?1");
	if (!st)
		return;
	sqlite3_bind_int64(st, 1, id);
	if (sqlite3_step(st) != SQLITE_ROW) {
		sqlite3_finalize(st);
		http_error(req, 404, "no alert %lld (retention may have deleted it)", id);
		return;
	}
	struct jbuf b = {0};
	const char *json = (const char *)sqlite3_column_text(st, 1);
	size_t jl = (size_t)sqlite3_column_bytes(st, 1);
	jb_printf(&b, "{\"id\":%lld,", id);
	state_json(&b, st, 2);
	jb_puts(&b, ",\"change_alert\":");
	if (sqlite3_column_type(st, 5) != SQLITE_NULL)
		jb_printf(&b, "%lld", (long long)sqlite3_column_int64(st, 5));
	else
		jb_puts(&b, "null");
	jb_puts(&b, ",\"alert\":");
	jb_raw(&b, json, jl);
	/* the events the alert cites: tokens[].event_ids */
	long long ids[ALERT_EVENTS_MAX];
	size_t nids = 0;
	struct jtok *toks = malloc(sizeof(*toks) * TOKS_MAX);
	int nt = toks ? json_parse(json, jl, toks, TOKS_MAX) : -1;
	if (nt > 0) {
		struct jdoc d = {json, toks, nt};
		int tl = json_get(&d, 0, "tokens");
		if (tl >= 0 && toks[tl].type == J_ARR) {
			for (int t = tl + 1; t < (int)toks[tl].next && nids < ALERT_EVENTS_MAX;
			     t = (int)toks[t].next) {
				int ei = json_get(&d, t, "event_ids");
				if (ei < 0 || toks[ei].type != J_ARR)
					continue;
				for (int e = ei + 1;
				     e < (int)toks[ei].next && nids < ALERT_EVENTS_MAX;
				     e = (int)toks[e].next) {
					int ok = 1;
					long long v = json_int(&d, e, &ok);
					if (ok && v >= 0)
						ids[nids++] = v;
				}
			}
		}
	}
	free(toks);
	sqlite3_finalize(st);
	qsort(ids, nids, sizeof(ids[0]), cmp_ll);
	jb_puts(&b, ",\"events\":[");
	events_by_id(k, &b, ids, nids);
	jb_puts(&b, "]}");
	http_reply_json(req, 200, &b);
}

static void api_herd_change(struct console *k, struct evhttp_request *req, struct evkeyvalq *q)
{
	static const char *const known[] = {"id", NULL};
	long long id;
	if (http_params_known(req, q, known, 256) || http_int(req, q, "id", -1, 1, LLONG_MAX, &id))
		return;
	if (id < 0) {
		http_error(req, 400, "id= is required");
		return;
	}
	sqlite3_stmt *st = console_prep(
		k, req, "SELECT json, herd FROM alerts WHERE id = ?1 AND kind = 'herd.change'");
	if (!st)
		return;
	sqlite3_bind_int64(st, 1, id);
	if (sqlite3_step(st) != SQLITE_ROW) {
		sqlite3_finalize(st);
		http_error(req, 404, "no herd change alert %lld", id);
		return;
	}
	struct jbuf b = {0};
	jb_printf(&b, "{\"id\":%lld,\"alert\":", id);
	jb_raw(&b, (const char *)sqlite3_column_text(st, 0), (size_t)sqlite3_column_bytes(st, 0));
	sqlite3_finalize(st);
	/* the member alerts it took in (member.folded follow-ups naming its number) */
	st = console_prep(
		k, req,
		"SELECT f.id, f.member, json_extract(f.json, '$.alert_time') FROM alerts c,"
		" alerts f WHERE c.id = ?1 AND f.kind = 'member.folded' AND f.herd = c.herd AND"
		" json_extract(f.json, '$.change') = json_extract(c.json, '$.change') AND"
		" json_extract(f.json, '$.cohort') IS json_extract(c.json, '$.cohort')"
		" ORDER BY f.id LIMIT 1000");
	if (!st) {
		free(b.p);
		return;
	}
	sqlite3_bind_int64(st, 1, id);
	jb_puts(&b, ",\"folded\":[");
	for (int n = 0; sqlite3_step(st) == SQLITE_ROW; n++) {
		jb_printf(&b, "%s{\"id\":%lld,\"member\":", n ? "," : "",
			  (long long)sqlite3_column_int64(st, 0));
		col_text(&b, st, 1);
		jb_puts(&b, ",\"alert_time\":");
		col_text(&b, st, 2);
		jb_puts(&b, "}");
	}
	sqlite3_finalize(st);
	jb_puts(&b, "]}");
	http_reply_json(req, 200, &b);
}

static void api_member(struct console *k, struct evhttp_request *req, struct evkeyvalq *q)
{
	static const char *const known[] = {"name", NULL};
	const char *name = http_param(q, "name");
	if (http_params_known(req, q, known, 256))
		return;
	if (!name) {
		http_error(req, 400, "name= is required");
		return;
	}
	sqlite3_stmt *st =
		console_prep(k, req,
			     "SELECT a.id, a.json, " STATE_COLS
			     " FROM alerts a WHERE a.member = ?1 ORDER BY a.id DESC LIMIT 100");
	if (!st)
		return;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	struct jbuf b = {0};
	jb_puts(&b, "{\"member\":");
	jb_str(&b, name);
	jb_puts(&b, ",\"alerts\":[");
	for (int n = 0; sqlite3_step(st) == SQLITE_ROW; n++) {
		jb_printf(&b, "%s{\"id\":%lld,", n ? "," : "",
			  (long long)sqlite3_column_int64(st, 0));
		state_json(&b, st, 2);
		jb_puts(&b, ",\"alert\":");
		jb_raw(&b, (const char *)sqlite3_column_text(st, 1),
		       (size_t)sqlite3_column_bytes(st, 1));
		jb_puts(&b, "}");
	}
	sqlite3_finalize(st);
	/* tokens of its outlier alerts that no peer showed, unless a herd change took them in */
	st = console_prep(
		k, req,
		"SELECT json_extract(t.value, '$.token') tok, max(a.id), min(a.ts),"
		" json_extract(t.value, '$.peers') FROM alerts a, json_each(a.json, '$.tokens') t"
		" WHERE a.member = ?1 AND a.kind = 'member.outlier'"
		" AND json_extract(t.value, '$.peers_with') = 0 AND NOT EXISTS (SELECT 1 FROM "
		"alerts f,"
		" json_each(f.json, '$.tokens') ft WHERE f.member = a.member AND f.kind = "
		"'member.folded'"
		" AND f.id > a.id AND ft.value = json_extract(t.value, '$.token'))"
		" GROUP BY tok ORDER BY 2 DESC LIMIT 500");
	if (!st) {
		free(b.p);
		return;
	}
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	jb_puts(&b, "],\"unshared\":[");
	for (int n = 0; sqlite3_step(st) == SQLITE_ROW; n++) {
		jb_puts(&b, n ? ",{\"token\":" : "{\"token\":");
		col_text(&b, st, 0);
		jb_printf(&b, ",\"alert\":%lld,\"first_ns\":%lld,\"peers\":%lld}",
			  (long long)sqlite3_column_int64(st, 1),
			  (long long)sqlite3_column_int64(st, 2),
			  (long long)sqlite3_column_int64(st, 3));
	}
	sqlite3_finalize(st);
	jb_puts(&b, "]}");
	http_reply_json(req, 200, &b);
}

static void api_fleet(struct console *k, struct evhttp_request *req, struct evkeyvalq *q)
{
	static const char *const known[] = {"since", NULL};
	long long since;
	if (http_params_known(req, q, known, 256) ||
	    http_time(req, q, "since", now_ns() - 86400ll * 1000000000ll, &since))
		return;
	sqlite3_stmt *st = console_prep(k, req,
					"SELECT herd, severity, kind, count(*) FROM alerts"
					" WHERE ts >= ?1 GROUP BY 1, 2, 3 ORDER BY 1, 2, 3");
	if (!st)
		return;
	sqlite3_bind_int64(st, 1, since);
	struct jbuf b = {0};
	jb_printf(&b, "{\"since_ns\":%lld,\"alerts\":[", since);
	for (int n = 0; sqlite3_step(st) == SQLITE_ROW; n++) {
		jb_puts(&b, n ? ",{\"herd\":" : "{\"herd\":");
		col_text(&b, st, 0);
		jb_puts(&b, ",\"severity\":");
		col_text(&b, st, 1);
		jb_puts(&b, ",\"kind\":");
		col_text(&b, st, 2);
		jb_printf(&b, ",\"n\":%lld}", (long long)sqlite3_column_int64(st, 3));
	}
	sqlite3_finalize(st);
	jb_puts(&b, "]}");
	http_reply_json(req, 200, &b);
}

/* ---- acknowledgement (the one state-changing call) ---- */

/* 0 when the request carries the API token; else answered 401 or 403. */
static int authorized(struct console *k, struct evhttp_request *req)
{
	const char *h = evhttp_find_header(evhttp_request_get_input_headers(req), "Authorization");
	if (!h || strncasecmp(h, "Bearer ", 7)) {
		(*k->cfg.refused)++;
		return http_error(
			req, 401,
			"API token required (Authorization: Bearer, see --api-token-file)");
	}
	h += 7;
	unsigned char diff = strlen(h) != 64;
	for (size_t i = 0; i < 64 && h[i]; i++)
		diff |= (unsigned char)(h[i] ^ k->cfg.api_token[i]);
	if (diff) {
		(*k->cfg.refused)++;
		return http_error(req, 403, "wrong API token");
	}
	return 0;
}

static void api_ack(struct console *k, struct evhttp_request *req, struct evkeyvalq *qs)
{
	if (evhttp_request_get_command(req) != EVHTTP_REQ_POST) {
		(*k->cfg.refused)++;
		evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", "POST");
		http_error(req, 405, "POST only (it changes state)");
		return;
	}
	if (authorized(k, req))
		return;
	struct evkeyvalq form, *q = qs;
	TAILQ_INIT(&form);
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	size_t blen = evbuffer_get_length(in);
	if (blen) {
		char body[1024];
		if (blen >= sizeof(body)) {
			http_error(req, 400, "request too long");
			return;
		}
		evbuffer_copyout(in, body, blen);
		body[blen] = 0;
		if (evhttp_parse_query_str(body, &form)) {
			evhttp_clear_headers(&form);
			http_error(req, 400, "bad form body");
			return;
		}
		q = &form;
	}
	static const char *const known[] = {"id", "note", NULL};
	long long id;
	const char *note = http_param(q, "note");
	if (http_params_known(req, q, known, 256) || http_int(req, q, "id", -1, 1, LLONG_MAX, &id))
		goto out;
	if (id < 0) {
		http_error(req, 400, "id= is required");
		goto out;
	}
	if (note && strlen(note) > NOTE_MAX) {
		http_error(req, 400, "note: longer than %d bytes", NOTE_MAX);
		goto out;
	}
	/* On the store's connection: inside the open ingest transaction if there is one (then
	 * committed with it, within --commit-ms), else at once. */
	sqlite3_stmt *st = NULL;
	long long now = now_ns();
	if (!k->cfg.wdb || sqlite3_prepare_v2(k->cfg.wdb,
					      "INSERT OR REPLACE INTO alert_acks(alert, ts, note)"
					      " SELECT id, ?2, ?3 FROM alerts WHERE id = ?1",
					      -1, &st, NULL) != SQLITE_OK) {
		http_error(req, 500, "cannot store acknowledgements");
		goto out;
	}
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, now);
	sqlite3_bind_text(st, 3, note, -1, SQLITE_STATIC);
	int rc = sqlite3_step(st);
	int changed = sqlite3_changes(k->cfg.wdb);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		http_error(req, 500, "cannot store the acknowledgement: %s",
			   sqlite3_errmsg(k->cfg.wdb));
		goto out;
	}
	if (!changed) {
		http_error(req, 404, "no alert %lld", id);
		goto out;
	}
	/* acknowledgements of alerts retention deleted (acks are rare: this stays small) */
	sqlite3_exec(k->cfg.wdb,
		     "DELETE FROM alert_acks WHERE alert NOT IN (SELECT id FROM alerts)", NULL,
		     NULL, NULL);
	struct jbuf b = {0};
	jb_printf(&b, "{\"ok\":true,\"id\":%lld,\"state\":\"acknowledged\",\"acked_ns\":%lld}", id,
		  now);
	http_reply_json(req, 200, &b);
out:
	evhttp_clear_headers(&form);
}

int console_http(struct console *k, struct evhttp_request *req, const char *path,
		 struct evkeyvalq *q)
{
	static const char *const none[] = {NULL};
	if (!k || !console_owns(path))
		return 0;
	security_headers(req); /* every console answer, pages and JSON alike */
	enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
	if (!strcmp(path, "/api/ack")) {
		api_ack(k, req, q);
		return 1;
	}
	if (cmd != EVHTTP_REQ_GET && cmd != EVHTTP_REQ_HEAD) {
		evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", "GET, HEAD");
		http_error(req, 405, "GET only");
		return 1;
	}
	if (strncmp(path, "/api/", 5)) {
		serve_file(req, path); /* query strings are ignored: the view is in the fragment */
	} else if (!strcmp(path, "/api/console")) {
		if (!http_params_known(req, q, none, 256)) {
			struct jbuf b = {0};
			jb_printf(&b, "{\"requests\":%s,\"version\":",
				  k->cfg.requests ? "true" : "false");
			jb_str(&b, HW_VERSION);
			jb_puts(&b, "}");
			http_reply_json(req, 200, &b);
		}
	} else if (!strcmp(path, "/api/fleet")) {
		api_fleet(k, req, q);
	} else if (!strcmp(path, "/api/coverage")) {
		console_coverage(k, req, q);
	} else if (!strcmp(path, "/api/alert-list")) {
		api_alert_list(k, req, q);
	} else if (!strcmp(path, "/api/alert")) {
		api_alert(k, req, q);
	} else if (!strcmp(path, "/api/member")) {
		api_member(k, req, q);
	} else if (!strcmp(path, "/api/herd-change")) {
		api_herd_change(k, req, q);
	}
	return 1;
}
