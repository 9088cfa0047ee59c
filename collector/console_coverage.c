// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * console_coverage.c - /api/coverage[?host=] of the web console (console.c's header has the
 * contract): per host, the probe manifest of its latest agent.heartbeat. The newest chunk
 * holding a heartbeat of each host comes from the chunk index (kind, ts_max); the heartbeat in
 * it is decompressed and parsed only when that chunk changed since the last call (a cache per
 * host, struct cov), at most COV_MAX_READS chunks per call.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <zstd.h>

#include "collector/console.h"
#include "collector/console_int.h"
#include "collector/http.h"
#include "collector/json.h"
#include "common/wire.h"

static struct cov *cov_find(struct console *k, const char *host)
{
	for (size_t i = 0; i < k->ncov; i++)
		if (!strcmp(k->cov[i].host, host))
			return &k->cov[i];
	if (k->ncov == k->covcap) {
		size_t cap = k->covcap ? 2 * k->covcap : 64;
		struct cov *n = realloc(k->cov, cap * sizeof(*n));
		if (!n)
			return NULL;
		k->cov = n;
		k->covcap = cap;
	}
	struct cov *c = &k->cov[k->ncov];
	*c = (struct cov){strdup(host), -1, NULL, NULL};
	if (!c->host)
		return NULL;
	k->ncov++;
	return c;
}

/* Read the last heartbeat of host from chunk into c (summary and probes). */
static void cov_read(struct console *k, struct cov *c, long long chunk, struct jtok *toks)
{
	sqlite3_stmt *get = NULL;
	if (sqlite3_prepare_v2(k->cfg.rdb, "SELECT z, raw_len FROM chunks WHERE id=?", -1, &get,
			       NULL) != SQLITE_OK)
		return;
	sqlite3_bind_int64(get, 1, chunk);
	char *raw = NULL;
	size_t rl = 0;
	if (sqlite3_step(get) == SQLITE_ROW) {
		const void *z = sqlite3_column_blob(get, 0);
		size_t zl = (size_t)sqlite3_column_bytes(get, 0);
		rl = (size_t)sqlite3_column_int64(get, 1);
		raw = rl && rl <= HW_WIRE_MAX_RAW ? malloc(rl) : NULL;
		if (!raw || ZSTD_decompress(raw, rl, z, zl) != rl)
			rl = 0;
	}
	sqlite3_finalize(get);
	c->chunk = chunk; /* read once, even when it held nothing usable */
	/* the last heartbeat line of this host in the chunk */
	const char *best = NULL;
	size_t bl = 0;
	for (char *l = raw, *e = raw + rl; rl && l < e;) {
		char *nl = memchr(l, '\n', (size_t)(e - l));
		if (!nl)
			break;
		if (memmem(l, (size_t)(nl - l), "\"agent.heartbeat\"", 17)) {
			best = l;
			bl = (size_t)(nl - l);
		}
		l = nl + 1;
	}
	int nt = best ? json_parse(best, bl, toks, TOKS_MAX) : -1;
	struct jdoc d = {best, toks, nt};
	int probes = nt > 0 ? json_path(&d, 0, "agent.probes") : -1;
	if (probes >= 0 && toks[probes].type == J_OBJ) {
		struct jbuf s = {0}, blind = {0};
		char buf[512];
		int total = 0, attached = 0, nb = 0;
		int ti = json_get(&d, 0, "time"), vi = json_path(&d, 0, "agent.version");
		for (int i = probes + 1; i < (int)toks[probes].next; i = (int)toks[i + 1].next) {
			int v = i + 1;
			total++;
			int stt = json_get(&d, v, "state");
			if (stt >= 0 && json_streq(&d, stt, "attached")) {
				attached++;
				continue;
			}
			jb_puts(&blind, nb++ ? ",{\"probe\":" : "{\"probe\":");
			json_str(&d, i, buf, sizeof(buf));
			jb_str(&blind, buf);
			static const char *const f[] = {"state", "hook", "reason"};
			for (int j = 0; j < 3; j++) {
				int x = json_get(&d, v, f[j]);
				jb_printf(&blind, ",\"%s\":", f[j]);
				if (x >= 0 && toks[x].type == J_STR) {
					json_str(&d, x, buf, sizeof(buf));
					jb_str(&blind, buf);
				} else {
					jb_puts(&blind, "null");
				}
			}
			jb_puts(&blind, "}");
		}
		jb_puts(&s, "\"time\":");
		if (ti >= 0 && toks[ti].type == J_STR && json_str(&d, ti, buf, sizeof(buf)) >= 0)
			jb_str(&s, buf);
		else
			jb_puts(&s, "null");
		jb_puts(&s, ",\"agent_version\":");
		if (vi >= 0 && toks[vi].type == J_STR && json_str(&d, vi, buf, sizeof(buf)) >= 0)
			jb_str(&s, buf);
		else
			jb_puts(&s, "null");
		jb_printf(&s, ",\"probes_total\":%d,\"probes_attached\":%d,\"not_attached\":[",
			  total, attached);
		jb_raw(&s, blind.p ? blind.p : "", blind.len);
		jb_puts(&s, "]");
		free(blind.p);
		struct jbuf p = {0};
		jb_json_utf8(&p, best + toks[probes].start, toks[probes].end - toks[probes].start);
		if (!s.oom && !p.oom) {
			free(c->summary);
			free(c->probes);
			c->summary = s.p;
			c->probes = p.p;
		} else {
			free(s.p);
			free(p.p);
		}
	}
	free(raw);
}

void console_coverage(struct console *k, struct evhttp_request *req, struct evkeyvalq *q)
{
	static const char *const known[] = {"host", NULL};
	const char *host = http_param(q, "host");
	if (http_params_known(req, q, known, 256))
		return;
	sqlite3_stmt *st =
		console_prep(k, req,
			     "SELECT n.name, max(ci.chunk) FROM chunk_index ci"
			     " JOIN names n ON n.id = ci.member WHERE ci.kind ="
			     " (SELECT id FROM names WHERE type = 0 AND name = 'agent.heartbeat')"
			     " AND (?1 IS NULL OR n.name = ?1) GROUP BY ci.member ORDER BY n.name");
	if (!st)
		return;
	sqlite3_bind_text(st, 1, host, -1, SQLITE_STATIC);
	struct jtok *toks = malloc(sizeof(*toks) * TOKS_MAX);
	struct jbuf b = {0};
	int reads = 0, stale = 0, n = 0;
	jb_puts(&b, "{\"hosts\":[");
	while (toks && sqlite3_step(st) == SQLITE_ROW) {
		const char *h = (const char *)sqlite3_column_text(st, 0);
		long long chunk = sqlite3_column_int64(st, 1);
		struct cov *c = h ? cov_find(k, h) : NULL;
		if (!c)
			continue;
		if (c->chunk != chunk) {
			if (reads < COV_MAX_READS) {
				reads++;
				cov_read(k, c, chunk, toks);
			} else {
				stale++;
			}
		}
		if (!c->summary)
			continue;
		jb_puts(&b, n++ ? ",{\"host\":" : "{\"host\":");
		jb_str(&b, c->host);
		jb_puts(&b, ",");
		jb_puts(&b, c->summary);
		if (host) {
			jb_puts(&b, ",\"probes\":");
			jb_puts(&b, c->probes ? c->probes : "null");
		}
		jb_puts(&b, "}");
	}
	sqlite3_finalize(st);
	free(toks);
	/* stale: hosts whose newer heartbeat was not read in this call (the next call reads on) */
	jb_printf(&b, "],\"stale\":%d}", stale);
	http_reply_json(req, 200, &b);
}
