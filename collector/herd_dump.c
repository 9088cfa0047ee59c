// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * herd_dump.c - the engine's state read out for the API and metrics: herds and members as
 * JSON (/api/herds, /api/members), memory and counters (herd.h).
 */
#include "collector/herd_int.h"

char *herd_dump_herds(struct herd_engine *e, uint64_t now)
{
	struct jbuf b = {0};
	jb_puts(&b, "[");
	for (uint32_t i = 0; i < e->nh; i++) {
		struct herd *h = &e->h[i];
		unsigned nact = 0;
		for (uint32_t k = 0; k < h->nm; k++)
			if (active(e, &e->m[h->members[k]], now))
				nact++;
		jb_puts(&b, i ? ",{\"herd\":" : "{\"herd\":");
		jb_str(&b, e->str[h->name]);
		jb_printf(&b,
			  ",\"members\":%u,\"active\":%u,\"changes\":%u,\"learning\":%s,\"age_s\":%"
			  "llu",
			  h->nm, nact, h->changes,
			  now < h->first_ns + (uint64_t)e->c.learn_s * NS ? "true" : "false",
			  (unsigned long long)((now - h->first_ns) / NS));
		/* cohorts in order of their first member; members without a version form one */
		jb_puts(&b, ",\"cohorts\":[");
		int nc = 0;
		for (uint32_t k = 0; k < h->nm; k++) {
			uint32_t v = e->m[h->members[k]].version, j, n = 0, act = 0;
			for (j = 0; j < k && e->m[h->members[j]].version != v; j++)
				;
			if (j < k)
				continue; /* counted with an earlier member */
			for (j = k; j < h->nm; j++) {
				const struct member *p = &e->m[h->members[j]];
				if (p->version != v)
					continue;
				n++;
				act += active(e, p, now);
			}
			const char *ver = v == UINT32_MAX ? NULL : e->str[v];
			char coh[600];
			cohort_name(coh, sizeof(coh), e->str[h->name], ver);
			jb_puts(&b, nc++ ? ",{\"version\":" : "{\"version\":");
			if (ver)
				jb_str(&b, ver);
			else
				jb_puts(&b, "null");
			jb_puts(&b, ",\"cohort\":");
			jb_str(&b, coh);
			jb_printf(&b, ",\"members\":%u,\"active\":%u}", n, act);
		}
		jb_puts(&b, "]}");
	}
	jb_puts(&b, "]");
	return b.oom ? (free(b.p), NULL) : b.p;
}

char *herd_dump_members(struct herd_engine *e, uint64_t now)
{
	struct jbuf b = {0};
	jb_puts(&b, "[");
	for (uint32_t i = 0; i < e->nm; i++) {
		struct member *m = &e->m[i];
		char f[64], l[64];
		fmt_time(f, sizeof(f), m->first_ns);
		fmt_time(l, sizeof(l), m->last_ns);
		jb_puts(&b, i ? ",{\"member\":" : "{\"member\":");
		jb_str(&b, e->str[m->name]);
		const char *herd = m->herd == UINT32_MAX ? "" : e->str[m->herd];
		const char *ver = m->version == UINT32_MAX ? NULL : e->str[m->version];
		char coh[600];
		cohort_name(coh, sizeof(coh), herd, ver);
		jb_cohort(&b, herd, ver, herd[0] ? coh : "");
		jb_puts(&b, ",\"host\":");
		jb_str(&b, e->str[m->host]);
		jb_printf(&b,
			  ",\"type\":\"%s\",\"first_seen\":\"%s\",\"last_seen\":\"%s\",\"score\":%."
			  "2f,"
			  "\"alerts\":%u,\"tokens\":%u,\"tokens_overflow\":%llu,"
			  "\"candidates_dropped\":%llu,\"silent\":%s,\"active\":%s}",
			  m->is_host ? "host" : "container", f, l,
			  decay(m->score, m->score_ns, now, 3600), m->alerts, m->ntok,
			  (unsigned long long)m->overflow, (unsigned long long)m->cand_drop,
			  m->silent ? "true" : "false", active(e, m, now) ? "true" : "false");
	}
	jb_puts(&b, "]");
	return b.oom ? (free(b.p), NULL) : b.p;
}

size_t herd_mem_bytes(const struct herd_engine *e)
{
	return e->bytes;
}

unsigned herd_member_count(const struct herd_engine *e)
{
	return e->nm;
}

uint64_t herd_overflow(const struct herd_engine *e)
{
	return e->overflow;
}

uint64_t herd_candidates_dropped(const struct herd_engine *e)
{
	return e->cand_drop;
}

void herd_counts(const struct herd_engine *e, uint64_t now, struct herd_counts *out)
{
	out->herds = e->nh;
	out->members = e->nm;
	out->active_members = 0;
	for (uint32_t i = 0; i < e->nm; i++)
		out->active_members += active(e, &e->m[i], now);
	out->members_with_candidates = e->npend;
	out->candidates = 0;
	for (uint32_t i = 0; i < e->npend; i++)
		out->candidates += e->m[e->pending[i]].ncand;
}
