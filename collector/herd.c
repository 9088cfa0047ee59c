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
#include "collector/herd_int.h"
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

struct herd *get_herd(struct herd_engine *e, uint32_t name, uint64_t now)
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

struct member *get_member(struct herd_engine *e, const char *herd, const char *member,
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
void set_version(struct herd_engine *e, struct member *m, const char *v, uint64_t now)
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

double decay(double v, uint64_t from, uint64_t to, unsigned half_life_s)
{
	if (to <= from || !half_life_s)
		return v;
	return v * exp2(-(double)(to - from) / ((double)half_life_s * NS));
}

/* ---- per (herd, token) statistics ---- */

struct hstat *hstat_get(struct herd_engine *e, uint32_t herd, uint32_t tok, uint64_t now)
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
struct hstat *hstat_find(struct herd_engine *e, uint32_t herd, uint32_t tok)
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
void hstat_del(struct herd_engine *e, struct hstat *s)
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

void cand_free(struct herd_engine *e, struct member *m, struct cand *c)
{
	str_unref(e, c->tok);
	e->bytes -= sizeof(*c);
	m->ncand--;
	free(c);
}

/* How often held candidates are judged again (hold_ms; 0: 1 s), and how late is late */
uint64_t hold_ns(const struct herd_engine *e)
{
	return (uint64_t)(e->c.hold_ms ? e->c.hold_ms : 1000) * 1000000ull;
}

void pend(struct herd_engine *e, struct member *m, uint64_t due)
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
void rel_prefix(const char *exe, char *out, size_t cap)
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
