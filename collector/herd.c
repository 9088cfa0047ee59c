// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * herd.c - herd engine (see herd.h for the model).
 *
 * State:
 *   strings   every herd, member and token string interned once (id = index), reference-
 *             counted: a token's string is freed with the last member entry, herd statistic,
 *             candidate or alert record naming it; freed ids are reused
 *   members   per member: herd, host, first/last activity, score, and an open-addressing table
 *             of the tokens it showed {token, first_ns, last_ns}. Each member is charged for its
 *             table and tokens (string + TOKEN_OVERHEAD) up to MEMBER_BUDGET; at the budget the
 *             least recently seen quarter is forgotten, and what still weighed is counted
 *             (overflow). Every minute tokens whose decayed weight fell below GONE_WEIGHT are
 *             forgotten (not the member's first minutes) and containers gone for forget_s are
 *             dropped -- this bounds the state per member
 *   hstats    per (herd, token): first/last seen in the herd, last herd change, and how many
 *             members hold it (freed at 0); per (cohort, token): last cohort change (freed
 *             after the change window)
 *   fleet     per token: how many members (any herd) have it in their table -- the prior
 *   cohorts   a member's version (string id) and cohort (the string "herd\x1fversion", whose id
 *             keys the cohort's hstats the way a herd's name keys the herd's)
 * A member's first sight of a token becomes a candidate, judged hold_ms later in herd_tick().
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "collector/herd.h"
#include "collector/tokens.h"
#include "collector/json.h"

/* Explanations are bounded text: truncating an over-long path in them is intended. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wformat-truncation"
#endif

#define MEMBER_TOKENS 1024        /* entries kept per member (at most) */
#define MEMBER_BUDGET (48 * 1024) /* bytes charged per member for its tokens (see charge) */
#define TOKEN_OVERHEAD 96         /* per token: its share of string ids, hstat and hash slots */
#define MEMBER_CANDS 64           /* candidates held per member; more are counted, not judged */
#define SENT_MAX 4                /* recent alerts remembered per member (for folding) */
#define GONE_WEIGHT (1.0 / 256)   /* a token whose decayed weight fell below this is forgotten */
#define SWEEP_NS (60 * NS)
#define MEMBER_SLOTS 2048 /* most hash slots per member (power of two) */
#define MEMBER_SLOTS0 32  /* first table; doubles while more than half full */
#define CAND_EVENTS 4     /* events named per token in an alert */
#define NS 1000000000ull
#define TOKEN_SNAP_MAX 4096
#define REL_MAX 4 /* programs per member whose release path is followed */

struct mtok {
	uint32_t tok;   /* token id + 1; 0 = empty slot */
	uint32_t flags; /* MT_* */
	uint64_t first_ns, last_ns;
};

/* An inventory token (what the member carries: tokens_is_inventory) that it first showed while
 * its herd was learning: judged once, when the member shows it again after the learning (the
 * agent repeats its inventory every few hours), so that what a member carried before herdwatch
 * came is judged too. Not kept in snapshots: after a restore it is not judged. */
#define MT_LEARNED_STATE 1u

struct cand {
	struct cand *next;
	uint32_t tok;
	uint32_t nev;
	uint64_t held_ns; /* when first held as a possible rolling change (0 = not held) */
	uint64_t due_ns;  /* judged no earlier: its own hold, whatever else the member has due */
	uint64_t ev_ns, arr_ns; /* its first event's own time (0: none) and arrival */
	uint8_t late, skew; /* arrived a hold after it was due; its time beyond the skew bounds */
	uint64_t seqs[CAND_EVENTS], ids[CAND_EVENTS];
};

struct member {
	uint32_t name, herd, host; /* string ids; herd = UINT32_MAX when none */
	uint32_t version, cohort;  /* string ids; UINT32_MAX when the member has no version */
	uint64_t ver_ns;           /* when it took its version (entered its cohort) */
	int inferred;              /* its version is a release it took (herd_release_at), none
				      configured */
	uint32_t rel_prefix;       /* string id: the path under which that release's programs
				      are (UINT32_MAX: none) */
	struct {
		uint64_t exe, cur, prev;
	} rel[REL_MAX]; /* per program (hash of its canonical
				      exe): the hashes of its current and previous release */
	int is_host, silent;
	uint64_t first_ns, last_ns;
	double score;
	uint64_t score_ns;
	unsigned alerts;
	struct mtok *tab; /* tcap slots, allocated on the first token */
	uint32_t ntok, tcap;
	struct cand *cands;
	uint32_t ncand;
	uint64_t due_ns;    /* 0 = nothing pending */
	uint8_t grouped;    /* this judge waited for candidates due just after (judge()) */
	uint32_t key;       /* string id of "herd\x1fmember" */
	uint32_t charge;    /* bytes charged for its tokens (bounded by MEMBER_BUDGET) */
	uint64_t overflow;  /* tokens forgotten while still weighing (its token budget was full) */
	uint64_t cand_drop; /* new tokens not judged: too many candidates at once */
	struct {
		uint32_t tok;
		uint32_t paged;
		uint64_t ns;
	} sent[SENT_MAX]; /* recent alerted
								   tokens (tok + 1); paged: severity alert */
};

struct herd {
	uint32_t name;
	uint64_t first_ns;
	uint32_t *members;
	uint32_t nm, mcap;
	unsigned changes;
};

struct hstat {
	uint64_t key; /* (herd << 32 | tok) + 1; 0 = empty */
	uint64_t first_ns, last_ns, change_ns;
	uint32_t holders; /* members of the herd with the token in their table */
	uint32_t pad;
};

struct herd_engine {
	struct herd_cfg c;
	herd_alert_fn fn;
	void *ctx;
	/* strings */
	char **str;
	uint32_t nstr, strcap;
	uint32_t *sht; /* id + 1 */
	uint32_t shtcap;
	uint32_t *member_of; /* per string id (member key) -> member index + 1 */
	uint32_t *herd_of;   /* per string id (herd name) -> herd index + 1 */
	uint32_t *fleet;     /* per string id (token) -> members having it */
	uint32_t *sref;      /* per string id: references (0 = free or unused) */
	uint32_t idcap;
	uint32_t *freeid; /* ids of freed strings, reused first */
	uint32_t nfree, freecap;
	uint64_t overflow;  /* sum of the members' overflow */
	uint64_t cand_drop; /* sum of the members' cand_drop */
	uint64_t sweep_ns;
	uint64_t evict_ns; /* "now" of an overflow eviction (for keep_newer) */
	uint64_t tick_ns;  /* the collector's clock at herd_tick(): when alerts are raised */
	struct member *m;
	uint32_t nm, mcap;
	struct herd *h;
	uint32_t nh, hcap;
	struct hstat *hs;
	uint64_t nhs, hscap;
	uint32_t *pending; /* member indexes with candidates */
	uint32_t npend, pendcap;
	size_t bytes; /* allocated state */
};

void herd_cfg_default(struct herd_cfg *c)
{
	c->hold_ms = 1000;
	c->learn_s = 300;
	c->min_herd = 4;
	c->threshold_bits = 3.0;
	c->change_frac = 0.5;
	c->change_window_s = 600;
	c->new_member_s = 600;
	c->window_s = 86400;
	c->half_life_s = 86400;
	c->silent_s = 120;
	c->gone_s = 900;
	c->rollout_s = 300;
	c->forget_s = 86400;
	c->max_skew_s = 86400;
	c->max_ahead_s = 60;
}

static uint64_t hash_str(const char *s)
{
	uint64_t h = 1469598103934665603ull; /* FNV-1a */
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return h;
}

static uint64_t mix64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	return x;
}

static void *grow(void *p, uint32_t *cap, size_t elem, uint32_t need, size_t *bytes)
{
	if (need <= *cap)
		return p;
	uint32_t nc = *cap ? *cap : 16;
	while (nc < need)
		nc *= 2;
	void *q = realloc(p, (size_t)nc * elem);
	if (!q)
		return NULL;
	memset((char *)q + (size_t)*cap * elem, 0, (size_t)(nc - *cap) * elem);
	*bytes += (size_t)(nc - *cap) * elem;
	*cap = nc;
	return q;
}

/* The id of s when interned, else UINT32_MAX (nothing is added). */
static uint32_t str_find(const struct herd_engine *e, const char *s)
{
	if (!e->shtcap)
		return UINT32_MAX;
	for (uint32_t i = (uint32_t)hash_str(s) & (e->shtcap - 1);; i = (i + 1) & (e->shtcap - 1)) {
		uint32_t v = e->sht[i];
		if (!v)
			return UINT32_MAX;
		if (strcmp(e->str[v - 1], s) == 0)
			return v - 1;
	}
}

/* Intern s; returns its id or UINT32_MAX on allocation failure. A new string has no
 * reference: the caller takes one (str_ref) or drops it again (str_gc). */
static uint32_t intern(struct herd_engine *e, const char *s)
{
	uint64_t h = hash_str(s);
	if (e->shtcap) {
		for (uint32_t i = (uint32_t)h & (e->shtcap - 1);; i = (i + 1) & (e->shtcap - 1)) {
			uint32_t v = e->sht[i];
			if (!v)
				break;
			if (strcmp(e->str[v - 1], s) == 0)
				return v - 1;
		}
	}
	uint32_t live = e->nstr - e->nfree;
	if ((live + 1) * 2 > e->shtcap) {
		uint32_t nc = e->shtcap ? e->shtcap * 2 : 1024;
		uint32_t *t = calloc(nc, sizeof(*t));
		if (!t)
			return UINT32_MAX;
		for (uint32_t k = 0; k < e->nstr; k++) {
			if (!e->str[k])
				continue;
			uint32_t i = (uint32_t)hash_str(e->str[k]) & (nc - 1);
			while (t[i])
				i = (i + 1) & (nc - 1);
			t[i] = k + 1;
		}
		e->bytes += (size_t)(nc - e->shtcap) * sizeof(*t);
		free(e->sht);
		e->sht = t;
		e->shtcap = nc;
	}
	uint32_t id;
	if (e->nfree) {
		id = e->freeid[e->nfree - 1];
	} else {
		char **ns = grow(e->str, &e->strcap, sizeof(*e->str), e->nstr + 1, &e->bytes);
		if (!ns)
			return UINT32_MAX;
		e->str = ns;
		if (e->nstr + 1 > e->idcap) {
			uint32_t c1 = e->idcap, c2 = e->idcap, c3 = e->idcap, c4 = e->idcap;
			uint32_t *a =
				grow(e->member_of, &c1, sizeof(uint32_t), e->nstr + 1, &e->bytes);
			if (a)
				e->member_of = a;
			uint32_t *b =
				a ? grow(e->herd_of, &c2, sizeof(uint32_t), e->nstr + 1, &e->bytes)
				  : NULL;
			if (b)
				e->herd_of = b;
			uint32_t *f =
				b ? grow(e->fleet, &c3, sizeof(uint32_t), e->nstr + 1, &e->bytes)
				  : NULL;
			if (f)
				e->fleet = f;
			uint32_t *r =
				f ? grow(e->sref, &c4, sizeof(uint32_t), e->nstr + 1, &e->bytes)
				  : NULL;
			if (!r)
				return UINT32_MAX;
			e->sref = r;
			e->idcap = c1;
		}
		id = e->nstr;
	}
	size_t l = strlen(s);
	char *copy = malloc(l + 1);
	if (!copy)
		return UINT32_MAX;
	memcpy(copy, s, l + 1);
	e->bytes += l + 1;
	if (e->nfree)
		e->nfree--;
	else
		e->nstr++;
	e->str[id] = copy;
	e->sref[id] = 0;
	uint32_t i = (uint32_t)h & (e->shtcap - 1);
	while (e->sht[i])
		i = (i + 1) & (e->shtcap - 1);
	e->sht[i] = id + 1;
	return id;
}

static void str_ref(struct herd_engine *e, uint32_t id)
{
	e->sref[id]++;
}

/* Free string id if nothing refers to it (its slot in the hash table is closed up by moving
 * later entries of the probe run back). */
static void str_gc(struct herd_engine *e, uint32_t id)
{
	if (id == UINT32_MAX || e->sref[id] || !e->str[id])
		return;
	uint32_t *f = grow(e->freeid, &e->freecap, sizeof(uint32_t), e->nfree + 1, &e->bytes);
	if (!f)
		return; /* kept: freed with the engine */
	e->freeid = f;
	uint32_t mask = e->shtcap - 1;
	uint32_t i = (uint32_t)hash_str(e->str[id]) & mask;
	while (e->sht[i] != id + 1)
		i = (i + 1) & mask;
	for (uint32_t j = i;;) {
		e->sht[i] = 0;
		for (;;) {
			j = (j + 1) & mask;
			if (!e->sht[j])
				goto done;
			uint32_t home = (uint32_t)hash_str(e->str[e->sht[j] - 1]) & mask;
			/* move j back to i unless its home lies cyclically in (i, j] */
			if (i <= j ? (home <= i || home > j) : (home <= i && home > j))
				break;
		}
		e->sht[i] = e->sht[j];
		i = j;
	}
done:
	e->bytes -= strlen(e->str[id]) + 1;
	free(e->str[id]);
	e->str[id] = NULL;
	e->member_of[id] = e->herd_of[id] = e->fleet[id] = 0;
	e->freeid[e->nfree++] = id;
}

static void str_unref(struct herd_engine *e, uint32_t id)
{
	if (id == UINT32_MAX)
		return;
	if (e->sref[id])
		e->sref[id]--;
	str_gc(e, id);
}

static struct herd *get_herd(struct herd_engine *e, uint32_t name, uint64_t now)
{
	if (e->herd_of[name])
		return &e->h[e->herd_of[name] - 1];
	struct herd *nh = grow(e->h, &e->hcap, sizeof(*e->h), e->nh + 1, &e->bytes);
	if (!nh)
		return NULL;
	e->h = nh;
	struct herd *h = &e->h[e->nh];
	memset(h, 0, sizeof(*h));
	h->name = name;
	h->first_ns = now;
	str_ref(e, name); /* herds are kept */
	e->herd_of[name] = ++e->nh;
	return h;
}

static struct member *get_member(struct herd_engine *e, const char *herd, const char *member,
				 const char *host, int is_host, uint64_t now)
{
	char key[1024];
	size_t hl = herd ? strlen(herd) : 0, ml = strlen(member);
	if (hl > 400)
		hl = 400;
	if (ml > 600)
		ml = 600;
	memcpy(key, herd ? herd : "", hl);
	key[hl] = 0x1f;
	memcpy(key + hl + 1, member, ml);
	key[hl + 1 + ml] = 0;
	uint32_t k = intern(e, key);
	if (k == UINT32_MAX)
		return NULL;
	if (e->member_of[k])
		return &e->m[e->member_of[k] - 1];
	uint32_t herd_id = UINT32_MAX;
	struct herd *h = NULL;
	str_ref(e, k); /* held while the member is being made */
	if (herd && *herd) {
		herd_id = intern(e, herd);
		if (herd_id == UINT32_MAX || !(h = get_herd(e, herd_id, now)))
			goto fail;
	}
	uint32_t name = intern(e, member);
	if (name == UINT32_MAX)
		goto fail;
	str_ref(e, name);
	uint32_t hostid = intern(e, host ? host : "");
	if (hostid == UINT32_MAX) {
		str_unref(e, name);
		goto fail;
	}
	str_ref(e, hostid);
	struct member *nm = grow(e->m, &e->mcap, sizeof(*e->m), e->nm + 1, &e->bytes);
	uint32_t *mm = !nm || !h
			       ? NULL
			       : grow(h->members, &h->mcap, sizeof(uint32_t), h->nm + 1, &e->bytes);
	if (nm)
		e->m = nm;
	if (mm)
		h->members = mm;
	if (!nm || (h && !mm)) {
		str_unref(e, name);
		str_unref(e, hostid);
		goto fail;
	}
	if (h)
		h->members[h->nm++] = e->nm;
	struct member *m = &e->m[e->nm];
	memset(m, 0, sizeof(*m));
	m->key = k;
	m->name = name;
	m->herd = herd_id;
	m->host = hostid;
	m->version = m->cohort = m->rel_prefix = UINT32_MAX;
	m->is_host = is_host;
	m->first_ns = m->last_ns = now;
	e->member_of[k] = ++e->nm;
	return m;
fail:
	str_unref(e, k);
	return NULL;
}

/* Put m in the cohort of version v (NULL or "": none, i.e. the cohort is the herd). */
static void set_version(struct herd_engine *e, struct member *m, const char *v, uint64_t now)
{
	if ((!v || !*v) && m->inferred)
		return; /* none configured: the release it took stays its version */
	m->inferred = 0;
	if (!v || !*v) {
		str_unref(e, m->version);
		str_unref(e, m->cohort);
		m->version = m->cohort = UINT32_MAX;
		return;
	}
	if (m->version != UINT32_MAX && !strcmp(e->str[m->version], v))
		return;
	char key[600];
	const char *herd = m->herd == UINT32_MAX ? "" : e->str[m->herd];
	snprintf(key, sizeof(key), "%.300s\x1f%.290s", herd, v);
	uint32_t vid = intern(e, v);
	if (vid == UINT32_MAX)
		return;
	str_ref(e, vid);
	uint32_t cid = intern(e, key);
	if (cid == UINT32_MAX) {
		str_unref(e, vid);
		return;
	}
	str_ref(e, cid);
	str_unref(e, m->version);
	str_unref(e, m->cohort);
	m->version = vid;
	m->cohort = cid;
	m->ver_ns = now;
}

static double decay(double v, uint64_t from, uint64_t to, unsigned half_life_s)
{
	if (to <= from || !half_life_s)
		return v;
	return v * exp2(-(double)(to - from) / ((double)half_life_s * NS));
}

/* ---- per (herd, token) statistics ---- */

static struct hstat *hstat_get(struct herd_engine *e, uint32_t herd, uint32_t tok, uint64_t now)
{
	uint64_t key = ((uint64_t)herd << 32 | tok) + 1;
	if ((e->nhs + 1) * 2 > e->hscap) {
		uint64_t nc = e->hscap ? e->hscap * 2 : 4096;
		struct hstat *t = calloc(nc, sizeof(*t));
		if (!t)
			return NULL;
		for (uint64_t k = 0; k < e->hscap; k++) {
			if (!e->hs[k].key)
				continue;
			uint64_t i = mix64(e->hs[k].key) & (nc - 1);
			while (t[i].key)
				i = (i + 1) & (nc - 1);
			t[i] = e->hs[k];
		}
		e->bytes += (nc - e->hscap) * sizeof(*t);
		free(e->hs);
		e->hs = t;
		e->hscap = nc;
	}
	uint64_t i = mix64(key) & (e->hscap - 1);
	while (e->hs[i].key && e->hs[i].key != key)
		i = (i + 1) & (e->hscap - 1);
	struct hstat *s = &e->hs[i];
	if (!s->key) {
		s->key = key;
		s->first_ns = s->last_ns = now;
		str_ref(e, herd);
		str_ref(e, tok);
		e->nhs++;
	}
	return s;
}

/* Lookup only: never inserts or moves the table (NULL when absent). */
static struct hstat *hstat_find(struct herd_engine *e, uint32_t herd, uint32_t tok)
{
	uint64_t key = ((uint64_t)herd << 32 | tok) + 1;
	if (!e->hscap)
		return NULL;
	for (uint64_t i = mix64(key) & (e->hscap - 1);; i = (i + 1) & (e->hscap - 1)) {
		if (e->hs[i].key == key)
			return &e->hs[i];
		if (!e->hs[i].key)
			return NULL;
	}
}

/* Remove an entry (moves later entries of its probe run back: pointers into the table are
 * invalid afterwards) and drop its string references. */
static void hstat_del(struct herd_engine *e, struct hstat *s)
{
	uint64_t key = s->key - 1, mask = e->hscap - 1;
	uint64_t i = (uint64_t)(s - e->hs), j = i;
	for (;;) {
		e->hs[i].key = 0;
		for (;;) {
			j = (j + 1) & mask;
			if (!e->hs[j].key)
				goto done;
			uint64_t home = mix64(e->hs[j].key) & mask;
			if (i <= j ? (home <= i || home > j) : (home <= i && home > j))
				break;
		}
		e->hs[i] = e->hs[j];
		i = j;
	}
done:
	e->nhs--;
	str_unref(e, (uint32_t)(key >> 32));
	str_unref(e, (uint32_t)key);
}

/* ---- a member's token table ---- */

static struct mtok *mtok_find(const struct member *m, uint32_t tok)
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
static void mtok_forget(struct herd_engine *e, struct member *m, uint32_t tok)
{
	e->fleet[tok]--;
	m->charge -= tok_cost(e, tok);
	m->ntok--;
	struct hstat *hs = m->herd == UINT32_MAX ? NULL : hstat_find(e, m->herd, tok);
	if (hs && hs->holders && !--hs->holders)
		hstat_del(e, hs);
	str_unref(e, tok);
}

static double weight(const struct herd_engine *e, const struct mtok *t, uint64_t now)
{
	return decay(1.0, t->last_ns, now, e->c.half_life_s);
}

/* Rebuild m's table with cap slots, keeping the entries keep() accepts. */
static int mtok_rebuild(struct herd_engine *e, struct member *m, uint32_t cap,
			int (*keep)(struct herd_engine *, struct member *, const struct mtok *,
				    uint64_t),
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

static int keep_all(struct herd_engine *e, struct member *m, const struct mtok *t, uint64_t arg)
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
static int keep_weighing(struct herd_engine *e, struct member *m, const struct mtok *t,
			 uint64_t now)
{
	return weight(e, t, now) >= GONE_WEIGHT ||
	       t->first_ns - m->first_ns <= (uint64_t)e->c.new_member_s * NS;
}

static int cmp_u64(const void *a, const void *b)
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
static int mtok_add(struct herd_engine *e, struct member *m, const struct mtok *t, uint64_t now)
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

struct herd_engine *herd_new(const struct herd_cfg *c, herd_alert_fn fn, void *ctx)
{
	struct herd_engine *e = calloc(1, sizeof(*e));
	if (!e)
		return NULL;
	e->c = *c;
	if (!e->c.gone_s)
		e->c.gone_s = UINT32_MAX / 2;
	e->fn = fn;
	e->ctx = ctx;
	e->bytes = sizeof(*e);
	return e;
}

void herd_free(struct herd_engine *e)
{
	if (!e)
		return;
	for (uint32_t i = 0; i < e->nstr; i++)
		free(e->str[i]);
	for (uint32_t i = 0; i < e->nm; i++) {
		free(e->m[i].tab);
		while (e->m[i].cands) {
			struct cand *c = e->m[i].cands;
			e->m[i].cands = c->next;
			free(c);
		}
	}
	for (uint32_t i = 0; i < e->nh; i++)
		free(e->h[i].members);
	free(e->str);
	free(e->sht);
	free(e->member_of);
	free(e->herd_of);
	free(e->fleet);
	free(e->sref);
	free(e->freeid);
	free(e->m);
	free(e->h);
	free(e->hs);
	free(e->pending);
	free(e);
}

static void fmt_time(char *buf, size_t n, uint64_t ns)
{
	time_t t = (time_t)(ns / NS);
	struct tm tm;
	gmtime_r(&t, &tm);
	snprintf(buf, n, "%04d-%02d-%02dT%02d:%02d:%02d.%09lluZ", tm.tm_year + 1900, tm.tm_mon + 1,
		 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (unsigned long long)(ns % NS));
}

static void fmt_dur(char *buf, size_t n, uint64_t ns)
{
	uint64_t s = ns / NS;
	if (s >= 2 * 86400)
		snprintf(buf, n, "%llu d", (unsigned long long)(s / 86400));
	else if (s >= 2 * 3600)
		snprintf(buf, n, "%llu h", (unsigned long long)(s / 3600));
	else if (s >= 120)
		snprintf(buf, n, "%llu min", (unsigned long long)(s / 60));
	else
		snprintf(buf, n, "%llu s", (unsigned long long)s);
}

static void emit(struct herd_engine *e, struct jbuf *b, const char *kind, const char *sev,
		 const char *herd, const char *member, double score, uint64_t now)
{
	if (!b->oom && e->fn)
		e->fn(e->ctx, b->p, b->len, kind, sev, herd, member, score, now);
	free(b->p);
}

static void alert_head(struct jbuf *b, const char *kind, const char *sev, uint64_t now)
{
	char ts[64];
	fmt_time(ts, sizeof(ts), now);
	jb_puts(b, "{\"kind\":");
	jb_str(b, kind);
	jb_puts(b, ",\"severity\":");
	jb_str(b, sev);
	jb_puts(b, ",\"time\":");
	jb_str(b, ts);
}

/* ,"herd":H,"version":V|null,"cohort":C of an alert or a member record. */
static void jb_cohort(struct jbuf *b, const char *herd, const char *ver, const char *coh)
{
	jb_puts(b, ",\"herd\":");
	jb_str(b, herd);
	jb_puts(b, ",\"version\":");
	if (ver)
		jb_str(b, ver);
	else
		jb_puts(b, "null");
	jb_puts(b, ",\"cohort\":");
	jb_str(b, coh);
}

void herd_seen(struct herd_engine *e, const char *herd, const char *member, const char *host,
	       const char *version, int host_member, uint64_t now)
{
	struct member *m = get_member(e, herd, member, host, host_member, now);
	if (!m)
		return;
	set_version(e, m, version, now);
	if (now > m->last_ns)
		m->last_ns = now;
	if (m->silent) {
		m->silent = 0;
		struct jbuf b = {0};
		alert_head(&b, "member.back", "notice", now);
		jb_puts(&b, ",\"herd\":");
		jb_str(&b, herd ? herd : "");
		jb_puts(&b, ",\"member\":");
		jb_str(&b, member);
		jb_puts(&b, ",\"explanation\":");
		char ex[1200];
		snprintf(ex, sizeof(ex), "%s reports again after being silent", member);
		jb_str(&b, ex);
		jb_puts(&b, "}");
		emit(e, &b, "member.back", "notice", herd ? herd : "", member, 0, now);
	}
}

static void cand_free(struct herd_engine *e, struct member *m, struct cand *c)
{
	str_unref(e, c->tok);
	e->bytes -= sizeof(*c);
	m->ncand--;
	free(c);
}

/* How often held candidates are judged again (hold_ms; 0: 1 s), and how late is late */
static uint64_t hold_ns(const struct herd_engine *e)
{
	return (uint64_t)(e->c.hold_ms ? e->c.hold_ms : 1000) * 1000000ull;
}

static void pend(struct herd_engine *e, struct member *m, uint64_t due)
{
	if (m->due_ns) {
		if (due < m->due_ns)
			m->due_ns = due;
		return;
	}
	uint32_t *p = grow(e->pending, &e->pendcap, sizeof(uint32_t), e->npend + 1, &e->bytes);
	if (!p)
		return;
	e->pending = p;
	e->pending[e->npend++] = (uint32_t)(m - e->m);
	m->due_ns = due;
}

int herd_time_skewed(const struct herd_engine *e, uint64_t ev, uint64_t arrival)
{
	if (!ev)
		return 0;
	return ev > arrival ? ev - arrival > (uint64_t)e->c.max_ahead_s * NS
			    : arrival - ev > (uint64_t)e->c.max_skew_s * NS;
}

void herd_observe(struct herd_engine *e, const char *herd, const char *member, const char *host,
		  const char *version, const char *token, uint64_t seq, uint64_t event_id,
		  uint64_t now)
{
	herd_observe_at(e, herd, member, host, version, token, seq, event_id, now, now);
}

/* The path under which a release's programs are: the canonical exe up to the directory after its
 * last version placeholder (/opt/shop/<v>/bin/shop-web: /opt/shop/<v>/), or all of it
 * (/usr/bin/python<v>). */
static void rel_prefix(const char *exe, char *out, size_t cap)
{
	const char *last = NULL;
	for (const char *p = exe; *p; p++)
		if (*p == '*' || *p == '#' || !strncmp(p, "<v>", 3))
			last = p;
	const char *end = last ? strchr(last, '/') : NULL;
	size_t n = end ? (size_t)(end - exe) + 1 : strlen(exe);
	snprintf(out, cap, "%.*s", (int)(n < cap ? n : cap - 1), exe);
}

void herd_release_at(struct herd_engine *e, const char *herd, const char *member, const char *host,
		     const char *exec_token, const char *release, uint64_t ev, uint64_t arrival)
{
	if (!herd || !*herd || !release || !*release || strncmp(exec_token, "exec|", 5))
		return;
	uint64_t now = ev && !herd_time_skewed(e, ev, arrival) && ev < arrival ? ev : arrival;
	struct member *m = get_member(e, herd, member, host, 0, now);
	if (!m || (m->version != UINT32_MAX && !m->inferred))
		return; /* a configured version says it all */
	char exe[TOKEN_SNAP_MAX / 8];
	const char *x = exec_token + 5, *bar = strchr(x, '|');
	size_t xl = bar ? (size_t)(bar - x) : strlen(x);
	snprintf(exe, sizeof(exe), "%.*s", (int)(xl < sizeof(exe) ? xl : sizeof(exe) - 1), x);
	uint64_t xh = hash_str(exe), rh = hash_str(release);
	int i, slot = 0;
	for (i = 0; i < REL_MAX && m->rel[i].exe != xh; i++)
		if (!m->rel[i].exe)
			slot = i;
	if (i == REL_MAX) { /* first seen: its release so far */
		if (m->rel[slot].exe)
			slot = (int)(xh % REL_MAX);
		m->rel[slot].exe = xh;
		m->rel[slot].cur = rh;
		m->rel[slot].prev = 0;
		return;
	}
	if (m->rel[i].cur == rh || m->rel[i].prev == rh)
		return; /* the same, or back to the one before (both run during a restart) */
	m->rel[i].prev = m->rel[i].cur;
	m->rel[i].cur = rh;
	char pre[TOKEN_SNAP_MAX / 8];
	rel_prefix(exe, pre, sizeof(pre));
	uint32_t pid = intern(e, pre);
	if (pid == UINT32_MAX)
		return;
	str_ref(e, pid);
	m->inferred = 0;
	set_version(e, m, release, now);
	if (m->version == UINT32_MAX || strcmp(e->str[m->version], release)) {
		str_unref(e, pid);
		return;
	}
	m->inferred = 1;
	str_unref(e, m->rel_prefix);
	m->rel_prefix = pid;
}

/* `now` below is the event's time: what the member did when (a late event is judged as if it
 * had arrived on time); the arrival is only the member's liveness (it is reporting now). */
static void add_cand(struct herd_engine *e, struct member *m, uint32_t tok, uint64_t seq,
		     uint64_t event_id, uint64_t ev, uint64_t arrival, uint64_t now, int skew);

/* Is m's herd still learning at now (its tokens are not judged)? */
static int learning(const struct herd_engine *e, const struct member *m, uint64_t now)
{
	const struct herd *h = &e->h[e->herd_of[m->herd] - 1];
	return now < h->first_ns + (uint64_t)e->c.learn_s * NS;
}

void herd_observe_at(struct herd_engine *e, const char *herd, const char *member, const char *host,
		     const char *version, const char *token, uint64_t seq, uint64_t event_id,
		     uint64_t ev, uint64_t arrival)
{
	if (!herd || !*herd)
		return;
	int skew = herd_time_skewed(e, ev, arrival);
	uint64_t now = ev && !skew && ev < arrival ? ev : arrival; /* ahead: at most its arrival */
	struct member *m = get_member(e, herd, member, host, 0, now);
	if (!m)
		return;
	set_version(e, m, version, now);
	if (arrival > m->last_ns)
		m->last_ns = arrival;
	if (now < m->first_ns)
		m->first_ns = now; /* its first events came late */
	uint32_t tok = intern(e, token);
	if (tok == UINT32_MAX)
		return;
	struct mtok *t = mtok_find(m, tok);
	if (t) {
		if (now > t->last_ns)
			t->last_ns = now;
		if (now < t->first_ns)
			t->first_ns = now;
		struct hstat *hs = hstat_find(e, m->herd, tok);
		if (hs && now > hs->last_ns)
			hs->last_ns = now;
		for (struct cand *c = m->cands; c; c = c->next)
			if (c->tok == tok && c->nev < CAND_EVENTS) {
				c->seqs[c->nev] = seq;
				c->ids[c->nev++] = event_id;
			}
		if (!(t->flags & MT_LEARNED_STATE) || learning(e, m, now))
			return;
		t->flags &= ~MT_LEARNED_STATE; /* judged now, once */
		add_cand(e, m, tok, seq, event_id, ev, arrival, now, skew);
		return;
	}
	struct mtok nt = {.tok = tok + 1, .first_ns = now, .last_ns = now};
	if (learning(e, m, now) && token_is_inventory(token))
		nt.flags = MT_LEARNED_STATE;
	if (mtok_add(e, m, &nt, now)) {
		str_gc(e, tok);
		return;
	}
	struct hstat *hs = hstat_find(e, m->herd, tok);
	if (hs && now > hs->last_ns)
		hs->last_ns = now;
	if (learning(e, m, now))
		return; /* the herd is still learning */
	add_cand(e, m, tok, seq, event_id, ev, arrival, now, skew);
}

/* A candidate for m's new token tok, judged a hold after now. */
static void add_cand(struct herd_engine *e, struct member *m, uint32_t tok, uint64_t seq,
		     uint64_t event_id, uint64_t ev, uint64_t arrival, uint64_t now, int skew)
{
	if (m->ncand >= MEMBER_CANDS) {
		m->cand_drop++; /* a flood of new tokens: counted, not judged one by one */
		e->cand_drop++;
		return;
	}
	struct cand *c = calloc(1, sizeof(*c));
	if (!c)
		return;
	e->bytes += sizeof(*c);
	str_ref(e, tok);
	c->tok = tok;
	c->seqs[0] = seq;
	c->ids[0] = event_id;
	c->nev = 1;
	c->next = m->cands;
	m->cands = c;
	m->ncand++;
	c->due_ns = now + (uint64_t)e->c.hold_ms * 1000000ull;
	c->ev_ns = ev;
	c->arr_ns = arrival;
	c->skew = (uint8_t)skew;
	/* late: due a hold before it arrived (as herd_tick() sees it; in transit a little longer
	 * than the hold is on time, judged at arrival) */
	c->late = arrival > c->due_ns + hold_ns(e);
	pend(e, m, c->due_ns);
}

/* A token in words: its kind's wording (collector/tokens.c token_kinds[]). */
static void describe(const char *token, char *out, size_t n)
{
	tokens_describe(token, out, n);
}

/* Tokens that became a herd change (herd-wide) or a cohort change while judging one member:
 * one report each. */
struct change {
	struct jbuf toks, text;
	int n;
};

static void change_add(struct change *ch, const char *token, unsigned with, unsigned of)
{
	char d[600];
	describe(token, d, sizeof(d));
	jb_puts(&ch->toks, ch->n ? "," : "");
	jb_puts(&ch->toks, "{\"token\":");
	jb_str(&ch->toks, token);
	jb_printf(&ch->toks, ",\"members_with\":%u}", with);
	jb_puts(&ch->text, ch->n ? "; " : "");
	jb_printf(&ch->text, "%u of %u %s", with, of, d);
	ch->n++;
}

/* "web@1.4.2" for a versioned member, "web" otherwise */
static void cohort_name(char *out, size_t n, const char *herd, const char *version)
{
	if (version)
		snprintf(out, n, "%s@%s", herd, version);
	else
		snprintf(out, n, "%s", herd);
}

/* One herd.change report: herd-wide (version NULL), or of the cohort herd@version of size
 * members. Frees the change's buffers. */
static void change_report(struct herd_engine *e, struct herd *h, const char *version,
			  unsigned hsize, unsigned size, struct change *ch, uint64_t now)
{
	const char *herd = e->str[h->name];
	if (ch->n) {
		h->changes++;
		struct jbuf b = {0}, x = {0};
		char w[32], coh[600];
		fmt_dur(w, sizeof(w), (uint64_t)e->c.change_window_s * NS);
		cohort_name(coh, sizeof(coh), herd, version);
		alert_head(&b, "herd.change", "notice", now);
		jb_cohort(&b, herd, version, coh);
		jb_printf(&b,
			  ",\"member\":\"\",\"change\":%u,\"herd_size\":%u,\"cohort_size\":%u,"
			  "\"tokens\":[",
			  h->changes, hsize, size);
		jb_raw(&b, ch->toks.p ? ch->toks.p : "", ch->toks.len);
		jb_puts(&b, "],\"explanation\":");
		if (version)
			jb_printf(&x, "cohort %s (version %s of herd %s) changed: ", coh, version,
				  herd);
		else
			jb_printf(&x, "herd %s changed: ", herd);
		jb_raw(&x, ch->text.p ? ch->text.p : "", ch->text.len);
		jb_puts(&x, " within ");
		jb_puts(&x, w);
		jb_puts(&x, version ? " (a deploy of this version: reported once, not per member)"
				    : " (a herd-wide change such as a deploy: reported once, not "
				      "per member)");
		jb_str(&b, x.p ? x.p : "");
		jb_puts(&b, "}");
		free(x.p);
		emit(e, &b, "herd.change", "notice", herd, "", 0, now);
	}
	free(ch->toks.p);
	free(ch->text.p);
}

static int active(const struct herd_engine *e, const struct member *p, uint64_t now)
{
	return !p->silent && p->last_ns + (uint64_t)e->c.gone_s * NS >= now;
}

/* "3", "2.5": a decayed count */
static void fmt_k(char *out, size_t n, double k)
{
	double r = round(k);
	if (fabs(k - r) < 0.05)
		snprintf(out, n, "%.0f", r);
	else
		snprintf(out, n, "%.1f", k);
}

/* Members of h alerted (member.outlier) for one of the tokens that just became herd (or cohort)
 * change number `no`: a follow-up says so, once per member. Not only within rollout_s: a release
 * rolling slower than that is recognised later, and the first member's page must not stand. The
 * bound is the member's token history: folded while it still holds the token (forgotten once
 * its weight fell below GONE_WEIGHT) and the alert is among its last SENT_MAX. */
static void fold_sent(struct herd_engine *e, struct herd *h, const char *version,
		      const uint32_t *toks, unsigned ntoks, unsigned no, uint64_t now)
{
	if (!e->c.rollout_s)
		return; /* --rollout-s 0: no hold and no follow-ups */
	const char *herd = e->str[h->name];
	for (uint32_t i = 0; i < h->nm; i++) {
		struct member *p = &e->m[h->members[i]];
		struct jbuf tb = {0}, xb = {0};
		uint64_t first = 0;
		int n = 0;
		for (int s = 0; s < SENT_MAX; s++) {
			if (!p->sent[s].tok || !mtok_find(p, p->sent[s].tok - 1))
				continue;
			uint32_t tok = p->sent[s].tok - 1;
			unsigned j;
			for (j = 0; j < ntoks && toks[j] != tok; j++)
				;
			if (j == ntoks)
				continue;
			char d[600];
			describe(e->str[tok], d, sizeof(d));
			jb_puts(&tb, n ? "," : "");
			jb_str(&tb, e->str[tok]);
			jb_puts(&xb, n ? "; " : "");
			jb_puts(&xb, d);
			if (!first || p->sent[s].ns < first)
				first = p->sent[s].ns;
			n++;
			p->sent[s].tok = 0;
			str_unref(e, tok);
		}
		if (n) {
			char coh[600], ts[64], x[2400];
			cohort_name(coh, sizeof(coh), herd, version);
			fmt_time(ts, sizeof(ts), first);
			snprintf(x, sizeof(x),
				 "the member.outlier alert on %s at %s (%s) became part of %s "
				 "change #%u "
				 "of %s: a rolling change of the %s, not an outlier",
				 e->str[p->name], ts, xb.p ? xb.p : "", version ? "cohort" : "herd",
				 no, coh, version ? "cohort" : "herd");
			struct jbuf b = {0};
			alert_head(&b, "member.folded", "notice", now);
			jb_puts(&b, ",\"herd\":");
			jb_str(&b, herd);
			jb_puts(&b, ",\"cohort\":");
			jb_str(&b, coh);
			jb_puts(&b, ",\"member\":");
			jb_str(&b, e->str[p->name]);
			jb_printf(&b, ",\"change\":%u,\"alert_time\":\"%s\",\"tokens\":[", no, ts);
			jb_raw(&b, tb.p ? tb.p : "", tb.len);
			jb_puts(&b, "],\"explanation\":");
			jb_str(&b, x);
			jb_puts(&b, "}");
			emit(e, &b, "member.folded", "notice", herd, e->str[p->name], 0, now);
		}
		free(tb.p);
		free(xb.p);
	}
}

/* remember that m was alerted for tok (for fold_sent), paged or not */
static void remember_sent(struct herd_engine *e, struct member *m, uint32_t tok, int paged,
			  uint64_t now)
{
	int s = 0;
	for (int i = 1; i < SENT_MAX; i++)
		if (m->sent[i].ns < m->sent[s].ns || !m->sent[i].tok)
			s = m->sent[s].tok ? i : s;
	if (m->sent[s].tok)
		str_unref(e, m->sent[s].tok - 1);
	str_ref(e, tok);
	m->sent[s].tok = tok + 1;
	m->sent[s].paged = (uint32_t)paged;
	m->sent[s].ns = now;
}

/* p was paged for tok and the page was not folded into a change (among its last SENT_MAX). A
 * notice does not count: it said already that the token was not enough for a page (a herd too
 * small for evidence, a canary, a deploy under way). */
static int sent_paged(const struct member *p, uint32_t tok)
{
	for (int s = 0; s < SENT_MAX; s++)
		if (p->sent[s].tok == tok + 1 && p->sent[s].paged)
			return 1;
	return 0;
}

/* Late and clock-skewed candidates of one alert: the earliest event time, the last arrival. */
struct when {
	uint64_t ev, arr;
	int late, skew;
};

static void when_add(struct when *w, const struct cand *c)
{
	if (!c->late && !c->skew)
		return;
	uint64_t ev = c->ev_ns ? c->ev_ns : c->arr_ns;
	if (!w->ev || ev < w->ev)
		w->ev = ev;
	if (c->arr_ns > w->arr)
		w->arr = c->arr_ns;
	w->late |= c->late;
	w->skew |= c->skew;
}

/* ,"late":true / ,"clock_skew":true with "event_time" and "arrival_time" in the alert, and
 * why in its explanation. */
static void when_put(const struct herd_engine *e, struct jbuf *b, struct jbuf *ex,
		     const struct when *w)
{
	if (!w->late && !w->skew)
		return;
	char ev[64], arr[64];
	fmt_time(ev, sizeof(ev), w->ev);
	fmt_time(arr, sizeof(arr), w->arr);
	jb_printf(b, "%s%s,\"event_time\":\"%s\",\"arrival_time\":\"%s\"",
		  w->late ? ",\"late\":true" : "", w->skew ? ",\"clock_skew\":true" : "", ev, arr);
	if (w->late)
		jb_printf(ex, " (late: events of %s, arrived %s, judged at their own time)", ev,
			  arr);
	if (w->skew)
		jb_printf(ex,
			  " (clock skew: event time %s is more than %u s behind or %u s ahead of "
			  "its arrival %s: judged at arrival)",
			  ev, e->c.max_skew_s, e->c.max_ahead_s, arr);
}

/* Of the holders' onsets (sorted: how long after it was first seen each member first showed the
 * token), the share at most age: how likely a member up for age would have shown the token by
 * now if it does what they do. */
static double shown_by(const uint64_t *ons, unsigned n, uint64_t age)
{
	unsigned lo = 0, hi = n;
	while (lo < hi) {
		unsigned mid = (lo + hi) / 2;
		if (ons[mid] <= age)
			lo = mid + 1;
		else
			hi = mid;
	}
	return (double)lo / n;
}

#define ONSET_MAX 64 /* holders whose onset is sampled per token */

/* The program of token (its second field: exec, connect, listen, file, cap, dns, auth) is under
 * the release path pre. */
static int under_release(const char *token, const char *pre)
{
	const char *x = strchr(token, '|');
	return x && !strncmp(x + 1, pre, strlen(pre));
}

/* An engineer's command under sudo: token is exec|X|parent=<...>/sudo|user=U, m authenticated
 * to that sudo as a regular user (auth|<sudo>|sudo|by=other|as=<root or user>|success) within
 * the change window, and the herd knows such sessions: another member showed the same
 * authentication without being paged for it, and the herd has known it for longer than the
 * change window. */
static int admin_sudo(struct herd_engine *e, const struct herd *h, const struct member *m,
		      const char *token, uint64_t now, uint64_t chw)
{
	const char *par = strstr(token, "|parent="), *usr = strstr(token, "|user=");
	if (strncmp(token, "exec|", 5) || !par || !usr || usr < par)
		return 0;
	par += 8;
	size_t pl = (size_t)(usr - par);
	if (pl < 5 || memcmp(par + pl - 5, "/sudo", 5))
		return 0;
	char a[600];
	snprintf(a, sizeof(a), "auth|%.*s|sudo|by=other|as=%s|success", (int)(pl < 400 ? pl : 400),
		 par, strncmp(usr + 6, "root", 4) ? "user" : "root");
	uint32_t id = str_find(e, a);
	if (id == UINT32_MAX)
		return 0;
	const struct mtok *t = mtok_find(m, id);
	if (!t || t->last_ns + chw < now)
		return 0;
	const struct hstat *hs = hstat_find(e, m->herd, id);
	if (!hs || hs->first_ns + chw > now)
		return 0;
	for (uint32_t i = 0; i < h->nm; i++) {
		const struct member *p = &e->m[h->members[i]];
		if (p != m && mtok_find(p, id) && !sent_paged(p, id))
			return 1;
	}
	return 0;
}

/*
 * Score m's candidate tokens. Only active members count (not silent, an event or heartbeat
 * within gone_s). Per token, with k of n active peers in the herd and, for a versioned member,
 * kc of nc active peers of its version:
 *   fleet   pf = (m_f + 0.5) / (M_f + 1)    members outside the herd with the token, of M_f
 *   herd    ph = (k + pf) / (n' + 1)        the fleet as one pseudo-member of the herd
 *   cohort  pc = (kc + ph) / (nc' + 1)      the herd as one pseudo-member of the cohort
 * where n', nc' count a peer without the token by the share of the holders' onsets (how long
 * after its first sight a member first showed it) it has lived through: a peer too young to
 * have shown a periodic job is little evidence that members do not run it.
 * surprisal = -log2(pc), or -log2(ph) for a member without a version (its cohort is the herd).
 * k and kc are decayed counts: each peer with the token adds 2^(-age / half_life_s), age since
 * it last showed it. For a member younger than new_member_s, a peer that showed the token in its
 * own first minutes adds 1 (start-up behaviour, however long ago), any other its decayed weight
 * (what the peer does routinely).
 * A surprising token that at least one other active member (of its cohort, for a versioned
 * member) also started showing within change_window_s is held (re-checked every hold_ms) up to rollout_s: a rolling change shows
 * as a herd change meanwhile; otherwise it is reported when the hold runs out.
 */
static void judge(struct herd_engine *e, struct member *m, uint64_t now)
{
	/* One incident, one alert: the tokens of a burst (a shell, its children, their connections
	 * and files, a few ms apart) have holds that end a few ms apart, and a tick between them
	 * would split the burst into alerts. Candidates whose hold ends within a quarter hold of
	 * now are waited for (their holds are never cut short), once: a burst that goes on is
	 * not waited for again. */
	if (!m->grouped) {
		uint64_t until = 0, grp = hold_ns(e) / 4;
		for (const struct cand *c = m->cands; c; c = c->next)
			if (c->due_ns > now && c->due_ns <= now + grp && c->due_ns > until)
				until = c->due_ns;
		if (until) {
			m->grouped = 1;
			pend(e, m, until);
			return;
		}
	}
	m->grouped = 0;
	struct herd *h = &e->h[e->herd_of[m->herd] - 1];
	const char *herd = e->str[h->name], *mname = e->str[m->name];
	const char *ver = m->version == UINT32_MAX ? NULL : e->str[m->version];
	uint64_t chw = (uint64_t)e->c.change_window_s * NS, roll = (uint64_t)e->c.rollout_s * NS;
	int is_new = now - m->first_ns < (uint64_t)e->c.new_member_s * NS;
	unsigned nact = 1, ncohort = 1;
	for (uint32_t i = 0; i < h->nm; i++) {
		const struct member *p = &e->m[h->members[i]];
		if (p == m || !active(e, p, now))
			continue;
		nact++;
		ncohort += ver && p->version == m->version;
	}
	if (!ver)
		ncohort = nact;
	unsigned npeers = nact - 1, ncpeers = ncohort - 1;
	/* when its version came to the herd: its cohort's earliest member */
	uint64_t coh_start = m->ver_ns;
	for (uint32_t i = 0; ver && i < h->nm; i++) {
		const struct member *p = &e->m[h->members[i]];
		if (p->version == m->version && p->ver_ns < coh_start)
			coh_start = p->ver_ns;
	}
	/* a canary: too few members of its version to judge what the version does, and the
	 * version is the newer one (an active member of another version took its own before
	 * this one came): the last members of an old version are judged as before */
	int canary = ver && ncohort < e->c.min_herd && nact >= e->c.min_herd;
	int rcanary = 0; /* ... of a release it took (no version configured) */
	if (canary) {
		canary = 0;
		for (uint32_t i = 0; !canary && i < h->nm; i++) {
			const struct member *p = &e->m[h->members[i]];
			canary = p->version != m->version && active(e, p, now) &&
				 p->ver_ns < coh_start;
		}
	}

	/* a deploy under way: every active member of its version took it within the change
	 * window, too little time to have shown what the version does */
	int young = ver && m->ver_ns + chw > now;
	for (uint32_t i = 0; young && i < h->nm; i++) {
		const struct member *p = &e->m[h->members[i]];
		if (p->version == m->version && active(e, p, now) && p->ver_ns + chw <= now)
			young = 0;
	}
	/* A release taken without a version configured is only what the member's program path
	 * says: anyone able to run a program could name one. So its first members (a canary, a
	 * deploy under way) are excused only for what the release's own programs do (tokens of
	 * programs under its path): a notice; anything else is judged as before. */
	if (m->inferred && (canary || young)) {
		rcanary = m->rel_prefix != UINT32_MAX;
		canary = young = 0;
	}
	int novel = 0;         /* a reported token new to the herd (not only rare in it) */
	unsigned known_by = 0; /* of the first established token reported: members with it */
	uint64_t known_since = 0;
	int admin = 0; /* a reported token is an engineer's command under sudo */
	int relx = 0;  /* ... a program of the release the member took, a canary of it */
	uint32_t rtoks[MEMBER_CANDS];
	uint64_t ons[ONSET_MAX];
	unsigned fleet_members = e->nm - h->nm;
	struct jbuf toks = {0}, ex = {0};
	struct change hchg = {0}, cchg = {0};
	uint32_t htoks[MEMBER_CANDS], ctoks[MEMBER_CANDS];
	unsigned nht = 0, nct = 0;
	double top = 0;
	int nrep = 0;
	uint64_t next_due = 0; /* earliest due of the candidates kept */
	struct when wh = {0};
	for (struct cand **cp = &m->cands, *c; (c = *cp);) {
		if (c->due_ns > now) { /* its own hold is not over (another candidate was due) */
			if (!next_due || c->due_ns < next_due)
				next_due = c->due_ns;
			cp = &c->next;
			continue;
		}
		const char *token = e->str[c->tok];
		struct hstat *hs = hstat_find(e, m->herd, c->tok);
		struct hstat *hc = ver ? hstat_find(e, m->cohort, c->tok) : NULL;
		double k_recent = 0, kc_recent = 0, k_new = 0, kc_new = 0;
		unsigned with = 0, with_all = 0, fresh = 0, cfresh = 0, others = 0, nons = 0;
		int known = 0;  /* the herd did it lately anyway (not a change) */
		int cknown = 0; /* ... its cohort did */
		for (uint32_t i = 0; i < h->nm; i++) {
			const struct member *p = &e->m[h->members[i]];
			const struct mtok *t = mtok_find(p, c->tok);
			if (!t)
				continue;
			with_all++;
			/* shown without being paged for it: the herd knows it. For a versioned member,
			 * by a member of its version, or before its version came to the herd (what a
			 * newer version brought stays new to an older one) */
			others += p != m &&
				  (!ver || p->version == m->version || t->first_ns < coh_start) &&
				  !sent_paged(p, c->tok);
			/* (not a member paged for it: an intruder's pace says nothing of the herd's) */
			if (p != m && nons < ONSET_MAX && !sent_paged(p, c->tok))
				ons[nons++] =
					t->first_ns > p->first_ns ? t->first_ns - p->first_ns : 0;
			if ((t->first_ns + chw < now || !active(e, p, now)) &&
			    weight(e, t, now) >= 0.5) {
				known = 1; /* before the window, or a replaced member */
				cknown |= ver && p->version == m->version;
			}
			if (p != m && !active(e, p, now))
				continue;
			int same = ver && p->version == m->version;
			with++;
			if (t->first_ns + chw >= now) {
				fresh++;
				cfresh += same;
			}
			if (p == m)
				continue;
			double w = weight(e, t, now);
			/* a new member is compared with what a peer did in its own first minutes
			 * (start-up, however long ago) and with what it does lately (routine) */
			double wn = t->first_ns - p->first_ns <= (uint64_t)e->c.new_member_s * NS
					    ? 1
					    : w;
			k_recent += w;
			k_new += wn;
			if (same) {
				kc_recent += w;
				kc_new += wn;
			}
		}
		double k = is_new ? k_new : k_recent, kc = is_new ? kc_new : kc_recent;
		/* A peer without the token is evidence that members do not show it only once it has
		 * been up as long as members take to show it first (a job every 30 min, a weekly
		 * report): each counts by the share of the holders' onsets it has lived through.
		 * A token no peer holds has no onset: every peer counts in full. */
		double neff = npeers, nceff = ncpeers;
		if (nons) {
			qsort(ons, nons, sizeof(ons[0]), cmp_u64);
			neff = nceff = 0;
			for (uint32_t i = 0; i < h->nm; i++) {
				const struct member *p = &e->m[h->members[i]];
				if (p == m || !active(e, p, now))
					continue;
				double x = mtok_find(p, c->tok)
						   ? 1
						   : shown_by(ons, nons,
							      now > p->first_ns ? now - p->first_ns
										: 0);
				neff += x;
				nceff += ver && p->version == m->version ? x : 0;
			}
			if (!ver)
				nceff = neff;
		}
		unsigned with_elsewhere =
			e->fleet[c->tok] >= with_all ? e->fleet[c->tok] - with_all : 0;
		double prior = (with_elsewhere + 0.5) / (fleet_members + 1.0);
		int keep = 0;
		if ((hs && hs->change_ns && hs->change_ns + chw >= now) ||
		    (hc && hc->change_ns && hc->change_ns + chw >= now))
			goto next; /* part of a herd (cohort) change already reported */
		/* Herd change: many members started showing it together (a deploy), and for a
		 * versioned member, many of its own version too (a herd that grew a new version is
		 * not a change of the old version's members). */
		unsigned need = (unsigned)ceil(e->c.change_frac * nact);
		unsigned cneed = (unsigned)ceil(e->c.change_frac * ncohort);
		if (need < 2)
			need = 2;
		if (cneed < 2)
			cneed = 2;
		/* (not what the herd did lately anyway, e.g. replaced containers starting up) */
		if (nact >= 2 && fresh >= need && (!ver || cfresh >= cneed) && !known) {
			hs = hstat_get(e, m->herd, c->tok, now);
			if (hs) {
				hs->change_ns = now;
				change_add(&hchg, token, fresh, nact);
				htoks[nht++] = c->tok;
			}
			goto next;
		}
		/* Cohort change: most members of one version started showing it together, and the
		 * rest of the herd does not show it (a new version's members are all new, so each
		 * of their tokens is fresh in the cohort: only what the other versions do not do is
		 * the version's change). */
		if (ver) {
			double pout = (k - kc + prior) / (npeers - ncpeers + 1.0);
			/* (not what the cohort did lately anyway: a rollout slower than the change
			 * window is one change, not one per window) */
			if (ncohort >= 2 && cfresh >= cneed && !cknown &&
			    -log2(pout) >= e->c.threshold_bits) {
				hc = hstat_get(e, m->cohort, c->tok, now);
				if (hc) {
					hc->change_ns = now;
					change_add(&cchg, token, cfresh, ncohort);
					ctoks[nct++] = c->tok;
				}
				goto next;
			}
		}
		double ph = (k + prior) / (neff + 1.0);
		double p = ver ? (kc + ph) / (nceff + 1.0) : ph;
		double s = -log2(p);
		if (s < e->c.threshold_bits)
			goto next;
		/* others started it too: perhaps a rolling change under way, hold it */
		if ((ver ? cfresh : fresh) >= 2 && roll &&
		    (!c->held_ns || now < c->held_ns + roll)) {
			if (!c->held_ns)
				c->held_ns = now;
			c->due_ns = now + hold_ns(e);
			/* late: what its peers did since is known already, no need to step through
			 * the rollout hold by hold: once more at its end (or now) */
			uint64_t end = c->held_ns + roll;
			if (c->due_ns + hold_ns(e) < e->tick_ns)
				c->due_ns = end < e->tick_ns ? end : e->tick_ns;
			keep = 1;
			goto next;
		}
		if (s > top)
			top = s;
		/* Rare in the herd, but not new to it: another member (of its version, for a
		 * versioned member: what only other versions do stays new to it) showed it, and was not
		 * alerted for it, and the herd has known it for longer than the change window (an
		 * engineer's sudo, a sidecar on some members). Still reported, as a notice: a page is
		 * for what is new to the herd. What an outlier was alerted for stays new: an intruder
		 * repeating it on the next member is paged again. */
		if (others && hs && hs->first_ns + chw <= now) {
			if (!known_by) {
				known_by = others;
				known_since = hs->first_ns;
			}
		} else if (admin_sudo(e, h, m, token, now, chw)) {
			admin = 1;
		} else if (rcanary && under_release(token, e->str[m->rel_prefix])) {
			relx = 1;
		} else {
			novel = 1;
		}
		char d[600], when[64], w[32], span[96], x[1800], ks[16], kcs[16], held_x[160] = "";
		char onset_x[200] = "";
		if (neff + 0.05 < npeers || nceff + 0.05 < ncpeers) {
			char up[32], ne[16], nce[16];
			fmt_dur(up, sizeof(up), ons[nons - 1]);
			fmt_k(ne, sizeof(ne), neff);
			fmt_k(nce, sizeof(nce), nceff);
			if (ver)
				snprintf(onset_x, sizeof(onset_x),
					 " (peers up for less than members take to show it first, "
					 "up to "
					 "%s, count in part: as %s of version %s, %s in herd)",
					 up, nce, ver, ne);
			else
				snprintf(onset_x, sizeof(onset_x),
					 " (peers up for less than members take to show it first, "
					 "up to "
					 "%s, count in part: as %s)",
					 up, ne);
		}
		describe(token, d, sizeof(d));
		fmt_k(ks, sizeof(ks), k);
		fmt_k(kcs, sizeof(kcs), kc);
		fmt_dur(w, sizeof(w), (uint64_t)e->c.half_life_s * NS);
		if (is_new) {
			char fm[32];
			fmt_dur(fm, sizeof(fm), (uint64_t)e->c.new_member_s * NS);
			snprintf(span, sizeof(span),
				 "in their first %s or lately (decayed, half-life %s)", fm, w);
		} else {
			snprintf(span, sizeof(span), "(decayed, half-life %s)", w);
		}
		if (hs && hs->first_ns + 1000000ull * e->c.hold_ms + NS >= now && with <= 1) {
			char age[32];
			fmt_dur(age, sizeof(age), now > h->first_ns ? now - h->first_ns : 0);
			snprintf(when, sizeof(when), "never seen in this herd in %s", age);
		} else {
			char age[32];
			uint64_t since = hs && now > hs->first_ns ? now - hs->first_ns : 0;
			fmt_dur(age, sizeof(age), since);
			snprintf(when, sizeof(when), "first seen in this herd %s ago", age);
		}
		if (c->held_ns) {
			char hd[32];
			fmt_dur(hd, sizeof(hd), now - c->held_ns);
			snprintf(held_x, sizeof(held_x),
				 " (held %s as a possible rolling change: only %u of %u members "
				 "started it)",
				 hd, fresh, nact);
		}
		if (ver)
			snprintf(x, sizeof(x),
				 "%s%s (%s@%s) %s; %s of %u peers of version %s, %s of %u in herd "
				 "%s %s%s; %s%s",
				 nrep ? "; " : "", mname, herd, ver, d, kcs, ncpeers, ver, ks,
				 npeers, herd, span, onset_x, when, held_x);
		else
			snprintf(x, sizeof(x), "%s%s %s; %s of %u peers %s%s; %s%s",
				 nrep ? "; " : "", mname, d, ks, npeers, span, onset_x, when,
				 held_x);
		jb_puts(&ex, x);
		jb_puts(&toks, nrep ? "," : "");
		jb_puts(&toks, "{\"token\":");
		jb_str(&toks, token);
		jb_printf(&toks,
			  ",\"surprisal\":%.2f,\"peers_with\":%g,\"peers\":%u,\"fleet_with\":%u", s,
			  round(k * 100) / 100, npeers, with_elsewhere);
		if (ver)
			jb_printf(&toks, ",\"cohort_peers_with\":%g,\"cohort_peers\":%u",
				  round(kc * 100) / 100, ncpeers);
		jb_puts(&toks, ",\"events\":[");
		for (uint32_t i = 0; i < c->nev; i++)
			jb_printf(&toks, "%s%llu", i ? "," : "", (unsigned long long)c->seqs[i]);
		jb_puts(&toks, "],\"event_ids\":[");
		for (uint32_t i = 0; i < c->nev; i++)
			jb_printf(&toks, "%s%llu", i ? "," : "", (unsigned long long)c->ids[i]);
		jb_puts(&toks, "]}");
		when_add(&wh, c);
		rtoks[nrep++] = c->tok;
	next:
		if (keep) {
			if (!next_due || c->due_ns < next_due)
				next_due = c->due_ns;
			cp = &c->next;
		} else {
			*cp = c->next;
			cand_free(e, m, c);
		}
	}
	if (nrep) {
		int small = nact < e->c.min_herd;
		const char *sev = small || canary || young || !novel ? "notice" : "alert";
		for (int i = 0; i < nrep; i++)
			remember_sent(e, m, rtoks[i], *sev == 'a', now);
		char coh[600];
		cohort_name(coh, sizeof(coh), herd, ver);
		m->score = decay(m->score, m->score_ns, e->tick_ns, 3600);
		if (top > m->score)
			m->score = top;
		m->score_ns = e->tick_ns;
		m->alerts++;
		struct jbuf b = {0};
		alert_head(&b, "member.outlier", sev, e->tick_ns); /* raised now, judged at `now` */
		jb_cohort(&b, herd, ver, coh);
		jb_puts(&b, ",\"member\":");
		jb_str(&b, mname);
		jb_puts(&b, ",\"host\":");
		jb_str(&b, e->str[m->host]);
		jb_printf(&b,
			  ",\"score\":%.2f,\"herd_size\":%u,\"cohort_size\":%u,\"canary\":%s,\"new_"
			  "member\":%s",
			  top, nact, ncohort,
			  canary || (relx && !novel && ncohort < e->c.min_herd) ? "true" : "false",
			  is_new ? "true" : "false");
		when_put(e, &b, &ex, &wh);
		jb_puts(&b, ",\"explanation\":");
		if (small)
			jb_puts(&ex, " (herd too small for evidence: notice only)");
		else if (canary)
			jb_printf(&ex,
				  " (canary: cohort %s has %u member%s, judged against herd %s: "
				  "notice only)",
				  coh, ncohort, ncohort == 1 ? "" : "s", herd);
		else if (young) {
			char w[32];
			fmt_dur(w, sizeof(w), chw);
			jb_printf(&ex,
				  " (deploy under way: every member of cohort %s took version %s "
				  "within the last %s: notice only)",
				  coh, ver, w);
		} else if (!novel && known_by) {
			char age[32];
			fmt_dur(age, sizeof(age), now - known_since);
			jb_printf(
				&ex,
				" (rare but not new in herd %s: %u other member%s showed it, first "
				"%s ago%s: notice only)",
				herd, known_by, known_by == 1 ? "" : "s", age,
				admin ? "; and an engineer's command under sudo" : "");
		} else if (!novel && relx && !admin && ncohort >= e->c.min_herd) {
			char w[32];
			fmt_dur(w, sizeof(w), chw);
			jb_printf(&ex,
				  " (release %s under way: %s runs programs under %s of it, as %u "
				  "members "
				  "of herd %s do, all taken within the last %s, no version "
				  "configured: "
				  "what the release's programs do is a notice)",
				  ver, mname, e->str[m->rel_prefix], ncohort, herd, w);
		} else if (!novel && relx && !admin) {
			jb_printf(
				&ex,
				" (first members of release %s: %s runs programs under %s of it, "
				"as %u "
				"member%s of herd %s do, no version configured; what the release's "
				"programs do is judged against herd %s: notice only)",
				ver, mname, e->str[m->rel_prefix], ncohort, ncohort == 1 ? "" : "s",
				herd, herd);
		} else if (!novel) {
			jb_printf(
				&ex,
				" (an engineer's command under sudo: %s authenticated to sudo as a "
				"regular user, as engineers do in herd %s; what the command does "
				"is "
				"judged on its own: notice only)",
				mname, herd);
		}
		jb_str(&b, ex.p ? ex.p : "");
		jb_puts(&b, ",\"tokens\":[");
		jb_raw(&b, toks.p ? toks.p : "", toks.len);
		jb_puts(&b, "]}");
		emit(e, &b, "member.outlier", sev, herd, mname, top, e->tick_ns);
	}
	unsigned hno = h->changes + 1;
	change_report(e, h, NULL, nact, nact, &hchg, e->tick_ns);
	if (nht)
		fold_sent(e, h, NULL, htoks, nht, hno, e->tick_ns);
	unsigned cno = h->changes + 1;
	change_report(e, h, ver, nact, ncohort, &cchg, e->tick_ns);
	if (nct)
		fold_sent(e, h, ver, ctoks, nct, cno, e->tick_ns);
	if (next_due)
		pend(e, m, next_due);
	free(toks.p);
	free(ex.p);
}

/* Drop member idx (a container gone for forget_s, nothing pending): its tokens, strings and
 * place in its herd; the last member moves into its slot. */
static void member_drop(struct herd_engine *e, uint32_t idx)
{
	struct member *m = &e->m[idx];
	for (uint32_t i = 0; m->tab && i < m->tcap; i++)
		if (m->tab[i].tok)
			mtok_forget(e, m, m->tab[i].tok - 1);
	free(m->tab);
	e->bytes -= (size_t)m->tcap * sizeof(struct mtok);
	for (int s = 0; s < SENT_MAX; s++)
		if (m->sent[s].tok)
			str_unref(e, m->sent[s].tok - 1);
	if (m->herd != UINT32_MAX) {
		struct herd *h = &e->h[e->herd_of[m->herd] - 1];
		for (uint32_t i = 0; i < h->nm; i++)
			if (h->members[i] == idx) {
				h->members[i] = h->members[--h->nm];
				break;
			}
	}
	e->member_of[m->key] = 0;
	str_unref(e, m->key);
	str_unref(e, m->name);
	str_unref(e, m->host);
	str_unref(e, m->version);
	str_unref(e, m->cohort);
	str_unref(e, m->rel_prefix);
	uint32_t last = --e->nm;
	if (idx == last)
		return;
	e->m[idx] = e->m[last];
	m = &e->m[idx];
	e->member_of[m->key] = idx + 1;
	if (m->herd != UINT32_MAX) {
		struct herd *h = &e->h[e->herd_of[m->herd] - 1];
		for (uint32_t i = 0; i < h->nm; i++)
			if (h->members[i] == last)
				h->members[i] = idx;
	}
	for (uint32_t i = 0; i < e->npend; i++)
		if (e->pending[i] == last)
			e->pending[i] = idx;
}

/* Every SWEEP_NS: members forget tokens whose weight fell to ~0 (not their first minutes'),
 * containers gone for forget_s are dropped, cohort change marks past their window freed. */
static void sweep(struct herd_engine *e, uint64_t now)
{
	e->sweep_ns = now;
	uint64_t chw = (uint64_t)e->c.change_window_s * NS;
	for (uint32_t i = 0; i < e->nm;) {
		struct member *m = &e->m[i];
		if (!m->is_host && !m->cands && !m->due_ns &&
		    m->last_ns + (uint64_t)e->c.forget_s * NS < now &&
		    m->last_ns + (uint64_t)e->c.gone_s * NS < now) {
			member_drop(e, i);
			continue; /* the last member moved here */
		}
		i++;
		uint32_t gone = 0;
		for (uint32_t k = 0; m->tab && k < m->tcap; k++)
			if (m->tab[k].tok && !keep_weighing(e, m, &m->tab[k], now))
				gone++;
		if (gone)
			mtok_rebuild(e, m, m->tcap, keep_weighing, now);
		uint32_t cap = m->tcap;
		while (cap > MEMBER_SLOTS0 && m->ntok * 8 < cap)
			cap /= 2;
		if (m->tab && cap != m->tcap)
			mtok_rebuild(e, m, cap, keep_all, 0);
	}
	for (uint64_t i = 0; i < e->hscap;) {
		struct hstat *h = &e->hs[i];
		if (h->key && !h->holders && (!h->change_ns || h->change_ns + chw < now)) {
			hstat_del(e, h);
			continue; /* a later entry may have moved here */
		}
		i++;
	}
}

void herd_tick(struct herd_engine *e, uint64_t now)
{
	e->tick_ns = now;
	for (uint32_t i = 0; i < e->npend;) {
		struct member *m = &e->m[e->pending[i]];
		if (m->due_ns > now) {
			i++;
			continue;
		}
		/* a late member (its agent's spool flushed) is judged at the time its candidates
		 * were due, in their order: pending again at the end, so within this tick */
		uint64_t at = m->due_ns + hold_ns(e) < now ? m->due_ns : now;
		m->due_ns = 0;
		e->pending[i] = e->pending[--e->npend];
		judge(e, m, at); /* may hold candidates: pending again, at the end */
	}
	if (!e->sweep_ns)
		e->sweep_ns = now;
	if (now >= e->sweep_ns + SWEEP_NS)
		sweep(e, now);
	if (!e->c.silent_s)
		return;
	for (uint32_t i = 0; i < e->nm; i++) {
		struct member *m = &e->m[i];
		if (!m->is_host || m->silent || m->last_ns + (uint64_t)e->c.silent_s * NS >= now)
			continue;
		m->silent = 1;
		const char *herd = m->herd == UINT32_MAX ? "" : e->str[m->herd];
		const char *mname = e->str[m->name];
		struct jbuf b = {0};
		alert_head(&b, "member.silent", "alert", now);
		jb_puts(&b, ",\"herd\":");
		jb_str(&b, herd);
		jb_puts(&b, ",\"member\":");
		jb_str(&b, mname);
		char x[1200], w[32];
		fmt_dur(w, sizeof(w), now - m->last_ns);
		snprintf(x, sizeof(x),
			 "%s has sent no event or heartbeat for %s: agent stopped, host down or "
			 "blinded",
			 mname, w);
		jb_puts(&b, ",\"explanation\":");
		jb_str(&b, x);
		jb_puts(&b, "}");
		emit(e, &b, "member.silent", "alert", herd, mname, 0, now);
	}
}

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

/* ---- snapshot ----
 * Binary, little-endian, records one after the other:
 *   'H' str herd, u64 first_ns, u32 changes
 *   'M' str herd ("" = none), str member, str host, u8 is_host, u8 silent, u64 first_ns,
 *       u64 last_ns, f64 score, u64 score_ns, u32 alerts, u32 ntok,
 *       then ntok times: str token, u64 first_ns, u64 last_ns
 *   'V' str version: the version of the member of the preceding 'M' (absent: none; snapshots
 *       written before cohorts have no 'V' and restore as members without a version)
 *   'S' str herd, str token, f64 holders (ignored), u64 0, u64 first_ns, u64 last_ns, u64 change_ns
 *       (herd is a herd name, or "herd\x1fversion" for a cohort's change state)
 * str = u16 length + bytes. The first 8 bytes are "HWHERD1\n".
 */
#define SNAP_MAGIC "HWHERD1\n"

static void put_bytes(struct jbuf *b, const void *p, size_t n)
{
	jb_raw(b, p, n);
}

static void put_u64(struct jbuf *b, uint64_t v)
{
	uint8_t x[8];
	for (int i = 0; i < 8; i++)
		x[i] = (uint8_t)(v >> (8 * i));
	put_bytes(b, x, 8);
}

static void put_str(struct jbuf *b, const char *s)
{
	size_t l = strlen(s);
	if (l > 65535)
		l = 65535;
	uint8_t x[2] = {(uint8_t)l, (uint8_t)(l >> 8)};
	put_bytes(b, x, 2);
	put_bytes(b, s, l);
}

static void put_f64(struct jbuf *b, double d)
{
	uint64_t v;
	memcpy(&v, &d, 8);
	put_u64(b, v);
}

int herd_save(const struct herd_engine *e, uint8_t **out, size_t *len)
{
	struct jbuf b = {0};
	put_bytes(&b, SNAP_MAGIC, 8);
	for (uint32_t i = 0; i < e->nh; i++) {
		put_bytes(&b, "H", 1);
		put_str(&b, e->str[e->h[i].name]);
		put_u64(&b, e->h[i].first_ns);
		put_u64(&b, e->h[i].changes);
	}
	for (uint32_t i = 0; i < e->nm; i++) {
		const struct member *m = &e->m[i];
		put_bytes(&b, "M", 1);
		put_str(&b, m->herd == UINT32_MAX ? "" : e->str[m->herd]);
		put_str(&b, e->str[m->name]);
		put_str(&b, e->str[m->host]);
		uint8_t f[2] = {(uint8_t)m->is_host, (uint8_t)m->silent};
		put_bytes(&b, f, 2);
		put_u64(&b, m->first_ns);
		put_u64(&b, m->last_ns);
		put_f64(&b, m->score);
		put_u64(&b, m->score_ns);
		put_u64(&b, m->alerts);
		put_u64(&b, m->tab ? m->ntok : 0);
		for (uint32_t k = 0; m->tab && k < m->tcap; k++) {
			if (!m->tab[k].tok)
				continue;
			put_str(&b, e->str[m->tab[k].tok - 1]);
			put_u64(&b, m->tab[k].first_ns);
			put_u64(&b, m->tab[k].last_ns);
		}
		if (m->version != UINT32_MAX) {
			put_bytes(&b, "V", 1);
			put_str(&b, e->str[m->version]);
		}
	}
	for (uint64_t i = 0; i < e->hscap; i++) {
		const struct hstat *h = &e->hs[i];
		if (!h->key)
			continue;
		uint64_t k = h->key - 1;
		put_bytes(&b, "S", 1);
		put_str(&b, e->str[k >> 32]);
		put_str(&b, e->str[(uint32_t)k]);
		put_f64(&b, h->holders); /* was a decayed count: not read back */
		put_u64(&b, 0);
		put_u64(&b, h->first_ns);
		put_u64(&b, h->last_ns);
		put_u64(&b, h->change_ns);
	}
	if (b.oom) {
		free(b.p);
		return -ENOMEM;
	}
	*out = (uint8_t *)b.p;
	*len = b.len;
	return 0;
}

struct rd {
	const uint8_t *p;
	size_t len, off;
	int bad;
};

static uint64_t get_u64(struct rd *r)
{
	if (r->len - r->off < 8) {
		r->bad = 1;
		return 0;
	}
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v |= (uint64_t)r->p[r->off + i] << (8 * i);
	r->off += 8;
	return v;
}

static double get_f64(struct rd *r)
{
	uint64_t v = get_u64(r);
	double d;
	memcpy(&d, &v, 8);
	return isfinite(d) ? d : 0;
}

/* string into buf (NUL-terminated); 0 or -1 */
static int get_strb(struct rd *r, char *buf, size_t cap)
{
	if (r->len - r->off < 2) {
		r->bad = 1;
		return -1;
	}
	size_t l = r->p[r->off] | (size_t)r->p[r->off + 1] << 8;
	r->off += 2;
	if (r->len - r->off < l || l >= cap) {
		r->bad = 1;
		return -1;
	}
	memcpy(buf, r->p + r->off, l);
	buf[l] = 0;
	r->off += l;
	return 0;
}

int herd_restore(struct herd_engine *e, const uint8_t *buf, size_t len, uint64_t now)
{
	struct rd r = {buf, len, 8, 0};
	if (len < 8 || memcmp(buf, SNAP_MAGIC, 8))
		return -EINVAL;
	static char a[4096], m[4096], h[4096];
	uint32_t last_m = UINT32_MAX; /* index of the member of the last 'M' */
	while (!r.bad && r.off < len) {
		char type = (char)buf[r.off++];
		if (type == 'H') {
			if (get_strb(&r, a, sizeof(a)))
				break;
			uint64_t first = get_u64(&r), changes = get_u64(&r);
			uint32_t id = intern(e, a);
			struct herd *hd = id == UINT32_MAX ? NULL : get_herd(e, id, first);
			if (!hd || r.bad)
				break;
			hd->first_ns = first;
			hd->changes = (unsigned)changes;
		} else if (type == 'M') {
			if (get_strb(&r, a, sizeof(a)) || get_strb(&r, m, sizeof(m)) ||
			    get_strb(&r, h, sizeof(h)) || r.len - r.off < 2)
				break;
			int is_host = buf[r.off], silent = buf[r.off + 1];
			r.off += 2;
			uint64_t first = get_u64(&r), last = get_u64(&r);
			double score = get_f64(&r);
			uint64_t score_ns = get_u64(&r), alerts = get_u64(&r), ntok = get_u64(&r);
			if (r.bad || ntok > MEMBER_TOKENS)
				break;
			struct member *mb = get_member(e, a[0] ? a : NULL, m, h, is_host, first);
			if (!mb)
				break;
			last_m = (uint32_t)(mb - e->m);
			mb->first_ns = first;
			mb->last_ns = is_host && last < now ? now : last;
			mb->silent = silent;
			mb->score = score;
			mb->score_ns = score_ns;
			mb->alerts = (unsigned)alerts;
			for (uint64_t k = 0; k < ntok && !r.bad; k++) {
				char t[TOKEN_SNAP_MAX];
				if (get_strb(&r, t, sizeof(t)))
					break;
				uint64_t tf = get_u64(&r), tl = get_u64(&r);
				uint32_t tok = intern(e, t);
				if (tok == UINT32_MAX || r.bad)
					break;
				if (mtok_find(mb, tok) || mb->ntok >= MEMBER_TOKENS) {
					str_gc(e, tok);
					continue;
				}
				struct mtok nt = {.tok = tok + 1, .first_ns = tf, .last_ns = tl};
				if (mtok_add(e, mb, &nt, now)) {
					str_gc(e, tok);
					continue;
				}
			}
		} else if (type == 'V') {
			if (get_strb(&r, a, sizeof(a)) || last_m == UINT32_MAX) {
				r.bad = 1;
				break;
			}
			set_version(e, &e->m[last_m], a, e->m[last_m].first_ns);
		} else if (type == 'S') {
			if (get_strb(&r, a, sizeof(a)) || get_strb(&r, m, sizeof(m)))
				break;
			double dec = get_f64(&r);
			uint64_t dn = get_u64(&r), f = get_u64(&r), l = get_u64(&r),
				 c = get_u64(&r);
			uint32_t hid = intern(e, a), tok = intern(e, m);
			if (r.bad || hid == UINT32_MAX || tok == UINT32_MAX)
				break;
			(void)dec;
			(void)dn;
			/* a herd's entries exist while members hold the token; a cohort's only
			 * carry a recent change */
			struct hstat *st = e->herd_of[hid] ? hstat_find(e, hid, tok)
					   : c             ? hstat_get(e, hid, tok, f)
							   : NULL;
			if (!st) {
				str_gc(e, hid);
				str_gc(e, tok);
				continue;
			}
			st->first_ns = f;
			st->last_ns = l;
			st->change_ns = c;
		} else {
			r.bad = 1;
		}
	}
	return r.bad ? -EINVAL : 0;
}
