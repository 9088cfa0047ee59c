// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * herd_mtok.c - a member's token table (herd_int.h): an open-addressing table of the tokens
 * the member showed {token, first_ns, last_ns}, charged to the member's budget (tok_cost) and
 * counted in the fleet prior; rebuilt on growth, at the budget (the least recently seen
 * quarter forgotten, what still weighed counted as overflow) and by the minute sweep (tokens
 * whose decayed weight fell to ~0).
 */
#include "collector/herd_int.h"

struct mtok *mtok_find(const struct member *m, uint32_t tok)
{
	if (!m->tab)
		return NULL;
	uint32_t mask = m->tcap - 1;
	for (uint32_t i = (uint32_t)mix64(tok) & mask;; i = (i + 1) & mask) {
		if (m->tab[i].tok == tok + 1)
			return &m->tab[i];
		if (!m->tab[i].tok)
			return NULL;
	}
}

static void mtok_put(struct member *m, const struct mtok *t)
{
	uint32_t mask = m->tcap - 1;
	uint32_t i = (uint32_t)mix64(t->tok - 1) & mask;
	while (m->tab[i].tok)
		i = (i + 1) & mask;
	m->tab[i] = *t;
}

/* What a token costs its member: its string and its share of the shared tables. */
static uint32_t tok_cost(const struct herd_engine *e, uint32_t tok)
{
	return (uint32_t)strlen(e->str[tok]) + 1 + TOKEN_OVERHEAD;
}

/* The member forgets token tok (fleet count, the herd's holders, the string). The caller
 * rebuilds or clears the table entry. */
void mtok_forget(struct herd_engine *e, struct member *m, uint32_t tok)
{
	e->fleet[tok]--;
	m->charge -= tok_cost(e, tok);
	m->ntok--;
	struct hstat *hs = m->herd == UINT32_MAX ? NULL : hstat_find(e, m->herd, tok);
	if (hs && hs->holders && !--hs->holders)
		hstat_del(e, hs);
	str_unref(e, tok);
}

double weight(const struct herd_engine *e, const struct mtok *t, uint64_t now)
{
	return decay(1.0, t->last_ns, now, e->c.half_life_s);
}

/* Rebuild m's table with cap slots, keeping the entries keep() accepts. */
int mtok_rebuild(struct herd_engine *e, struct member *m, uint32_t cap,
		 int (*keep)(struct herd_engine *, struct member *, const struct mtok *, uint64_t),
		 uint64_t arg)
{
	struct mtok *old = m->tab;
	uint32_t oc = m->tcap;
	struct mtok *t = calloc(cap, sizeof(struct mtok));
	if (!t)
		return -ENOMEM;
	m->tab = t;
	m->tcap = cap;
	e->bytes = e->bytes - (size_t)oc * sizeof(struct mtok) + (size_t)cap * sizeof(struct mtok);
	m->charge = m->charge - oc * (uint32_t)sizeof(struct mtok) +
		    cap * (uint32_t)sizeof(struct mtok);
	for (uint32_t i = 0; i < oc; i++) {
		if (!old[i].tok)
			continue;
		if (keep(e, m, &old[i], arg))
			mtok_put(m, &old[i]);
		else
			mtok_forget(e, m, old[i].tok - 1);
	}
	free(old);
	return 0;
}

int keep_all(struct herd_engine *e, struct member *m, const struct mtok *t, uint64_t arg)
{
	return 1;
}

/* overflow eviction: keep what was seen after the cutoff; count what still weighed */
static int keep_newer(struct herd_engine *e, struct member *m, const struct mtok *t, uint64_t cut)
{
	if (t->last_ns > cut)
		return 1;
	if (weight(e, t, e->evict_ns) >= GONE_WEIGHT) {
		m->overflow++;
		e->overflow++;
	}
	return 0;
}

/* sweep: forget tokens whose weight fell to ~0, except the member's first minutes (what new
 * members are compared with) */
int keep_weighing(struct herd_engine *e, struct member *m, const struct mtok *t, uint64_t now)
{
	return weight(e, t, now) >= GONE_WEIGHT ||
	       t->first_ns - m->first_ns <= (uint64_t)e->c.new_member_s * NS;
}

int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* Make room for token tok: allocate or double the table while the member's charge allows,
 * else forget the least recently seen quarter of its tokens (counted as overflow when they
 * still weighed). 0 or -ENOMEM. */
static int mtok_room(struct herd_engine *e, struct member *m, uint32_t tok, uint64_t now)
{
	uint32_t cost = tok_cost(e, tok), ms = (uint32_t)sizeof(struct mtok);
	if (!m->tab) {
		m->tab = calloc(MEMBER_SLOTS0, sizeof(struct mtok));
		if (!m->tab)
			return -ENOMEM;
		m->tcap = MEMBER_SLOTS0;
		e->bytes += MEMBER_SLOTS0 * sizeof(struct mtok);
		m->charge += MEMBER_SLOTS0 * ms;
	}
	for (;;) {
		int full = (m->ntok + 1) * 2 > m->tcap;
		uint32_t need = m->charge + cost + (full ? m->tcap * ms : 0);
		if (!full && need <= MEMBER_BUDGET)
			return 0;
		if (full && m->tcap < MEMBER_SLOTS && need <= MEMBER_BUDGET)
			return mtok_rebuild(e, m, m->tcap * 2, keep_all, 0);
		if (!m->ntok)
			return -ENOMEM; /* a token larger than the budget */
		uint64_t *l = malloc(sizeof(uint64_t) * m->ntok);
		if (!l)
			return -ENOMEM;
		uint32_t n = 0;
		for (uint32_t i = 0; i < m->tcap; i++)
			if (m->tab[i].tok)
				l[n++] = m->tab[i].last_ns;
		qsort(l, n, sizeof(*l), cmp_u64);
		uint64_t cut = l[n / 4];
		free(l);
		e->evict_ns = now;
		if (mtok_rebuild(e, m, m->tcap, keep_newer, cut))
			return -ENOMEM;
	}
}

/* m now has token tok in its table */
int mtok_add(struct herd_engine *e, struct member *m, const struct mtok *t, uint64_t now)
{
	uint32_t tok = t->tok - 1;
	if (mtok_room(e, m, tok, now))
		return -ENOMEM;
	struct hstat *hs = m->herd == UINT32_MAX ? NULL : hstat_get(e, m->herd, tok, now);
	if (m->herd != UINT32_MAX && !hs)
		return -ENOMEM;
	if (hs)
		hs->holders++;
	mtok_put(m, t);
	m->ntok++;
	m->charge += tok_cost(e, tok);
	e->fleet[tok]++;
	str_ref(e, tok);
	return 0;
}
