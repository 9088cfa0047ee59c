// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * herd_judge.c - judging a member's candidate tokens (held hold_ms since first seen) against its
 * herd and its cohort: a member.outlier alert (or notice) for what is surprising, a herd or
 * cohort change for what many members started together. The scoring is described above judge().
 */
#include "collector/herd_int.h"

int active(const struct herd_engine *e, const struct member *p, uint64_t now)
{
	return !p->silent && p->last_ns + (uint64_t)e->c.gone_s * NS >= now;
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
/* One judge of one member: what it needs of the herd (sizes, whether the member is a canary or
 * in a deploy under way), and what it gathers over the member's candidates (the tokens
 * reported, the changes found, why a report is only a notice). */
struct jctx {
	struct herd *h;
	const char *herd, *mname, *ver;
	uint64_t now, chw, roll;
	uint64_t coh_start; /* when its version came to the herd: its cohort's earliest member */
	int is_new;
	unsigned nact, ncohort, npeers, ncpeers, fleet_members;
	int canary, rcanary, young;
	/* gathered */
	int novel;         /* a reported token new to the herd (not only rare in it) */
	unsigned known_by; /* of the first established token reported: members with it */
	uint64_t known_since;
	int admin; /* a reported token is an engineer's command under sudo */
	int relx;  /* ... a program of the release the member took, a canary of it */
	uint32_t rtoks[MEMBER_CANDS];
	int nrep;
	double top;
	struct jbuf toks, ex;
	struct change hchg, cchg;
	uint32_t htoks[MEMBER_CANDS], ctoks[MEMBER_CANDS];
	unsigned nht, nct;
	struct when wh;
	uint64_t next_due; /* earliest due of the candidates kept */
};

/* What the herd and the cohort say of one candidate token. */
struct cstat {
	struct hstat *hs, *hc;
	double k, kc;       /* decayed counts of peers with it (herd, cohort) */
	double neff, nceff; /* peers without it, counted by the share of onsets lived through */
	double prior;       /* the fleet outside the herd as one pseudo-member */
	double s;           /* surprisal */
	unsigned with, with_all, fresh, cfresh, others, nons, with_elsewhere;
	int known;  /* the herd did it lately anyway (not a change) */
	int cknown; /* ... its cohort did */
	uint64_t ons[ONSET_MAX];
};

/* One incident, one alert: the tokens of a burst (a shell, its children, their connections and
 * files, a few ms apart) have holds that end a few ms apart, and a tick between them would split
 * the burst into alerts. Candidates whose hold ends within a quarter hold of now are waited for
 * (their holds are never cut short), once: a burst that goes on is not waited for again.
 * 1: judging is put off. */
static int judge_later(struct herd_engine *e, struct member *m, uint64_t now)
{
	if (!m->grouped) {
		uint64_t until = 0, grp = hold_ns(e) / 4;
		for (const struct cand *c = m->cands; c; c = c->next)
			if (c->due_ns > now && c->due_ns <= now + grp && c->due_ns > until)
				until = c->due_ns;
		if (until) {
			m->grouped = 1;
			pend(e, m, until);
			return 1;
		}
	}
	m->grouped = 0;
	return 0;
}

/* The member's herd at now: active members, its cohort, canary and deploy under way. */
static void judge_herd(struct herd_engine *e, struct member *m, uint64_t now, struct jctx *j)
{
	struct herd *h = j->h = &e->h[e->herd_of[m->herd] - 1];
	const char *ver = j->ver = m->version == UINT32_MAX ? NULL : e->str[m->version];
	j->herd = e->str[h->name];
	j->mname = e->str[m->name];
	j->now = now;
	j->chw = (uint64_t)e->c.change_window_s * NS;
	j->roll = (uint64_t)e->c.rollout_s * NS;
	j->is_new = now - m->first_ns < (uint64_t)e->c.new_member_s * NS;
	j->nact = j->ncohort = 1;
	for (uint32_t i = 0; i < h->nm; i++) {
		const struct member *p = &e->m[h->members[i]];
		if (p == m || !active(e, p, now))
			continue;
		j->nact++;
		j->ncohort += ver && p->version == m->version;
	}
	if (!ver)
		j->ncohort = j->nact;
	j->npeers = j->nact - 1;
	j->ncpeers = j->ncohort - 1;
	j->fleet_members = e->nm - h->nm;
	j->coh_start = m->ver_ns;
	for (uint32_t i = 0; ver && i < h->nm; i++) {
		const struct member *p = &e->m[h->members[i]];
		if (p->version == m->version && p->ver_ns < j->coh_start)
			j->coh_start = p->ver_ns;
	}
	/* a canary: too few members of its version to judge what the version does, and the
	 * version is the newer one (an active member of another version took its own before
	 * this one came): the last members of an old version are judged as before */
	j->canary = ver && j->ncohort < e->c.min_herd && j->nact >= e->c.min_herd;
	if (j->canary) {
		j->canary = 0;
		for (uint32_t i = 0; !j->canary && i < h->nm; i++) {
			const struct member *p = &e->m[h->members[i]];
			j->canary = p->version != m->version && active(e, p, now) &&
				    p->ver_ns < j->coh_start;
		}
	}
	/* a deploy under way: every active member of its version took it within the change
	 * window, too little time to have shown what the version does */
	j->young = ver && m->ver_ns + j->chw > now;
	for (uint32_t i = 0; j->young && i < h->nm; i++) {
		const struct member *p = &e->m[h->members[i]];
		if (p->version == m->version && active(e, p, now) && p->ver_ns + j->chw <= now)
			j->young = 0;
	}
	/* A release taken without a version configured is only what the member's program path
	 * says: anyone able to run a program could name one. So its first members (a canary, a
	 * deploy under way) are excused only for what the release's own programs do (tokens of
	 * programs under its path): a notice; anything else is judged as before. */
	if (m->inferred && (j->canary || j->young)) {
		j->rcanary = m->rel_prefix != UINT32_MAX;
		j->canary = j->young = 0;
	}
}

/* The peers' evidence on candidate c: who holds it, how recently, since when. */
static void cand_stats(struct herd_engine *e, struct member *m, const struct cand *c,
		       const struct jctx *j, struct cstat *st)
{
	const struct herd *h = j->h;
	const char *ver = j->ver;
	uint64_t now = j->now;
	double k_recent = 0, kc_recent = 0, k_new = 0, kc_new = 0;
	st->hs = hstat_find(e, m->herd, c->tok);
	st->hc = ver ? hstat_find(e, m->cohort, c->tok) : NULL;
	for (uint32_t i = 0; i < h->nm; i++) {
		const struct member *p = &e->m[h->members[i]];
		const struct mtok *t = mtok_find(p, c->tok);
		if (!t)
			continue;
		st->with_all++;
		/* shown without being paged for it: the herd knows it. For a versioned member, by a
		 * member of its version, or before its version came to the herd (what a newer
		 * version brought stays new to an older one) */
		st->others += p != m &&
			      (!ver || p->version == m->version || t->first_ns < j->coh_start) &&
			      !sent_paged(p, c->tok);
		/* (not a member paged for it: an intruder's pace says nothing of the herd's) */
		if (p != m && st->nons < ONSET_MAX && !sent_paged(p, c->tok))
			st->ons[st->nons++] =
				t->first_ns > p->first_ns ? t->first_ns - p->first_ns : 0;
		if ((t->first_ns + j->chw < now || !active(e, p, now)) &&
		    weight(e, t, now) >= 0.5) {
			st->known = 1; /* before the window, or a replaced member */
			st->cknown |= ver && p->version == m->version;
		}
		if (p != m && !active(e, p, now))
			continue;
		int same = ver && p->version == m->version;
		st->with++;
		if (t->first_ns + j->chw >= now) {
			st->fresh++;
			st->cfresh += same;
		}
		if (p == m)
			continue;
		double w = weight(e, t, now);
		/* a new member is compared with what a peer did in its own first minutes (start-up,
		 * however long ago) and with what it does lately (routine) */
		double wn = t->first_ns - p->first_ns <= (uint64_t)e->c.new_member_s * NS ? 1 : w;
		k_recent += w;
		k_new += wn;
		if (same) {
			kc_recent += w;
			kc_new += wn;
		}
	}
	st->k = j->is_new ? k_new : k_recent;
	st->kc = j->is_new ? kc_new : kc_recent;
	/* A peer without the token is evidence that members do not show it only once it has been
	 * up as long as members take to show it first (a job every 30 min, a weekly report): each
	 * counts by the share of the holders' onsets it has lived through. A token no peer holds
	 * has no onset: every peer counts in full. */
	st->neff = j->npeers;
	st->nceff = j->ncpeers;
	if (st->nons) {
		qsort(st->ons, st->nons, sizeof(st->ons[0]), cmp_u64);
		st->neff = st->nceff = 0;
		for (uint32_t i = 0; i < h->nm; i++) {
			const struct member *p = &e->m[h->members[i]];
			if (p == m || !active(e, p, now))
				continue;
			double x = mtok_find(p, c->tok)
					   ? 1
					   : shown_by(st->ons, st->nons,
						      now > p->first_ns ? now - p->first_ns : 0);
			st->neff += x;
			st->nceff += ver && p->version == m->version ? x : 0;
		}
		if (!ver)
			st->nceff = st->neff;
	}
	st->with_elsewhere = e->fleet[c->tok] >= st->with_all ? e->fleet[c->tok] - st->with_all : 0;
	st->prior = (st->with_elsewhere + 0.5) / (j->fleet_members + 1.0);
}

/* Part of a herd or cohort change: one already reported within the change window, or one it
 * starts now (recorded in j, reported once after the member's candidates). 1: not the member's. */
static int cand_change(struct herd_engine *e, struct member *m, const struct cand *c,
		       struct jctx *j, struct cstat *st)
{
	uint64_t now = j->now, chw = j->chw;
	const char *token = e->str[c->tok];
	if ((st->hs && st->hs->change_ns && st->hs->change_ns + chw >= now) ||
	    (st->hc && st->hc->change_ns && st->hc->change_ns + chw >= now))
		return 1; /* part of a herd (cohort) change already reported */
	/* Herd change: many members started showing it together (a deploy), and for a versioned
	 * member, many of its own version too (a herd that grew a new version is not a change of
	 * the old version's members). */
	unsigned need = (unsigned)ceil(e->c.change_frac * j->nact);
	unsigned cneed = (unsigned)ceil(e->c.change_frac * j->ncohort);
	if (need < 2)
		need = 2;
	if (cneed < 2)
		cneed = 2;
	/* (not what the herd did lately anyway, e.g. replaced containers starting up) */
	if (j->nact >= 2 && st->fresh >= need && (!j->ver || st->cfresh >= cneed) && !st->known) {
		struct hstat *hs = hstat_get(e, m->herd, c->tok, now);
		if (hs) {
			hs->change_ns = now;
			change_add(&j->hchg, token, st->fresh, j->nact);
			j->htoks[j->nht++] = c->tok;
		}
		return 1;
	}
	/* Cohort change: most members of one version started showing it together, and the rest
	 * of the herd does not show it (a new version's members are all new, so each of their
	 * tokens is fresh in the cohort: only what the other versions do not do is the version's
	 * change). */
	if (j->ver) {
		double pout = (st->k - st->kc + st->prior) / (j->npeers - j->ncpeers + 1.0);
		/* (not what the cohort did lately anyway: a rollout slower than the change window
		 * is one change, not one per window) */
		if (j->ncohort >= 2 && st->cfresh >= cneed && !st->cknown &&
		    -log2(pout) >= e->c.threshold_bits) {
			struct hstat *hc = hstat_get(e, m->cohort, c->tok, now);
			if (hc) {
				hc->change_ns = now;
				change_add(&j->cchg, token, st->cfresh, j->ncohort);
				j->ctoks[j->nct++] = c->tok;
			}
			return 1;
		}
	}
	return 0;
}

/* Why a surprising token may be only a notice: rare but known to the herd, an engineer's
 * command under sudo, a program of a release the member is a canary of; else new to the herd. */
static void cand_classify(struct herd_engine *e, struct member *m, const char *token,
			  struct jctx *j, const struct cstat *st)
{
	/* Rare in the herd, but not new to it: another member (of its version, for a versioned
	 * member: what only other versions do stays new to it) showed it, and was not alerted for
	 * it, and the herd has known it for longer than the change window (an engineer's sudo, a
	 * sidecar on some members). Still reported, as a notice: a page is for what is new to the
	 * herd. What an outlier was alerted for stays new: an intruder repeating it on the next
	 * member is paged again. */
	if (st->others && st->hs && st->hs->first_ns + j->chw <= j->now) {
		if (!j->known_by) {
			j->known_by = st->others;
			j->known_since = st->hs->first_ns;
		}
	} else if (admin_sudo(e, j->h, m, token, j->now, j->chw)) {
		j->admin = 1;
	} else if (j->rcanary && under_release(token, e->str[m->rel_prefix])) {
		j->relx = 1;
	} else {
		j->novel = 1;
	}
}

/* The explanation of one reported token, appended to j->ex. */
static void cand_explain(struct herd_engine *e, const struct cand *c, struct jctx *j,
			 const struct cstat *st)
{
	const char *ver = j->ver;
	uint64_t now = j->now;
	char d[600], when[64], w[32], span[96], x[1800], ks[16], kcs[16], held_x[160] = "";
	char onset_x[200] = "";
	if (st->neff + 0.05 < j->npeers || st->nceff + 0.05 < j->ncpeers) {
		char up[32], ne[16], nce[16];
		fmt_dur(up, sizeof(up), st->ons[st->nons - 1]);
		fmt_k(ne, sizeof(ne), st->neff);
		fmt_k(nce, sizeof(nce), st->nceff);
		if (ver)
			snprintf(onset_x, sizeof(onset_x),
				 " (peers up for less than members take to show it first, up to "
				 "%s, count in part: as %s of version %s, %s in herd)",
				 up, nce, ver, ne);
		else
			snprintf(onset_x, sizeof(onset_x),
				 " (peers up for less than members take to show it first, up to "
				 "%s, count in part: as %s)",
				 up, ne);
	}
	describe(e->str[c->tok], d, sizeof(d));
	fmt_k(ks, sizeof(ks), st->k);
	fmt_k(kcs, sizeof(kcs), st->kc);
	fmt_dur(w, sizeof(w), (uint64_t)e->c.half_life_s * NS);
	if (j->is_new) {
		char fm[32];
		fmt_dur(fm, sizeof(fm), (uint64_t)e->c.new_member_s * NS);
		snprintf(span, sizeof(span), "in their first %s or lately (decayed, half-life %s)",
			 fm, w);
	} else {
		snprintf(span, sizeof(span), "(decayed, half-life %s)", w);
	}
	char age[32];
	if (st->hs && st->hs->first_ns + 1000000ull * e->c.hold_ms + NS >= now && st->with <= 1) {
		fmt_dur(age, sizeof(age), now > j->h->first_ns ? now - j->h->first_ns : 0);
		snprintf(when, sizeof(when), "never seen in this herd in %s", age);
	} else {
		uint64_t since = st->hs && now > st->hs->first_ns ? now - st->hs->first_ns : 0;
		fmt_dur(age, sizeof(age), since);
		snprintf(when, sizeof(when), "first seen in this herd %s ago", age);
	}
	if (c->held_ns) {
		char hd[32];
		fmt_dur(hd, sizeof(hd), now - c->held_ns);
		snprintf(
			held_x, sizeof(held_x),
			" (held %s as a possible rolling change: only %u of %u members started it)",
			hd, st->fresh, j->nact);
	}
	if (ver)
		snprintf(x, sizeof(x),
			 "%s%s (%s@%s) %s; %s of %u peers of version %s, %s of %u in herd %s %s%s; "
			 "%s%s",
			 j->nrep ? "; " : "", j->mname, j->herd, ver, d, kcs, j->ncpeers, ver, ks,
			 j->npeers, j->herd, span, onset_x, when, held_x);
	else
		snprintf(x, sizeof(x), "%s%s %s; %s of %u peers %s%s; %s%s", j->nrep ? "; " : "",
			 j->mname, d, ks, j->npeers, span, onset_x, when, held_x);
	jb_puts(&j->ex, x);
}

/* One reported token: its explanation, and its entry in the alert's "tokens". */
static void cand_report(struct herd_engine *e, const struct cand *c, struct jctx *j,
			const struct cstat *st)
{
	cand_explain(e, c, j, st);
	struct jbuf *t = &j->toks;
	jb_puts(t, j->nrep ? "," : "");
	jb_puts(t, "{\"token\":");
	jb_str(t, e->str[c->tok]);
	jb_printf(t, ",\"surprisal\":%.2f,\"peers_with\":%g,\"peers\":%u,\"fleet_with\":%u", st->s,
		  round(st->k * 100) / 100, j->npeers, st->with_elsewhere);
	if (j->ver)
		jb_printf(t, ",\"cohort_peers_with\":%g,\"cohort_peers\":%u",
			  round(st->kc * 100) / 100, j->ncpeers);
	jb_puts(t, ",\"events\":[");
	for (uint32_t i = 0; i < c->nev; i++)
		jb_printf(t, "%s%llu", i ? "," : "", (unsigned long long)c->seqs[i]);
	jb_puts(t, "],\"event_ids\":[");
	for (uint32_t i = 0; i < c->nev; i++)
		jb_printf(t, "%s%llu", i ? "," : "", (unsigned long long)c->ids[i]);
	jb_puts(t, "]}");
	when_add(&j->wh, c);
	j->rtoks[j->nrep++] = c->tok;
}

/* Judge candidate c (due): 1 when it is kept (held as a possible rolling change). */
static int judge_cand(struct herd_engine *e, struct member *m, struct cand *c, struct jctx *j)
{
	struct cstat st = {0};
	uint64_t now = j->now;
	cand_stats(e, m, c, j, &st);
	if (cand_change(e, m, c, j, &st))
		return 0;
	double ph = (st.k + st.prior) / (st.neff + 1.0);
	double p = j->ver ? (st.kc + ph) / (st.nceff + 1.0) : ph;
	st.s = -log2(p);
	if (st.s < e->c.threshold_bits)
		return 0;
	/* others started it too: perhaps a rolling change under way, hold it */
	if ((j->ver ? st.cfresh : st.fresh) >= 2 && j->roll &&
	    (!c->held_ns || now < c->held_ns + j->roll)) {
		if (!c->held_ns)
			c->held_ns = now;
		c->due_ns = now + hold_ns(e);
		/* late: what its peers did since is known already, no need to step through the
		 * rollout hold by hold: once more at its end (or now) */
		uint64_t end = c->held_ns + j->roll;
		if (c->due_ns + hold_ns(e) < e->tick_ns)
			c->due_ns = end < e->tick_ns ? end : e->tick_ns;
		return 1;
	}
	if (st.s > j->top)
		j->top = st.s;
	cand_classify(e, m, e->str[c->tok], j, &st);
	cand_report(e, c, j, &st);
	return 0;
}

/* Why a member.outlier is a notice, appended to its explanation (nothing for a page). */
static void outlier_why(struct herd_engine *e, const struct member *m, struct jctx *j,
			const char *coh)
{
	char w[32], age[32];
	struct jbuf *ex = &j->ex;
	fmt_dur(w, sizeof(w), j->chw);
	if (j->nact < e->c.min_herd)
		jb_puts(ex, " (herd too small for evidence: notice only)");
	else if (j->canary)
		jb_printf(ex,
			  " (canary: cohort %s has %u member%s, judged against herd %s: notice "
			  "only)",
			  coh, j->ncohort, j->ncohort == 1 ? "" : "s", j->herd);
	else if (j->young)
		jb_printf(ex,
			  " (deploy under way: every member of cohort %s took version %s within "
			  "the last %s: notice only)",
			  coh, j->ver, w);
	else if (!j->novel && j->known_by) {
		fmt_dur(age, sizeof(age), j->now - j->known_since);
		jb_printf(ex,
			  " (rare but not new in herd %s: %u other member%s showed it, first %s "
			  "ago%s: notice only)",
			  j->herd, j->known_by, j->known_by == 1 ? "" : "s", age,
			  j->admin ? "; and an engineer's command under sudo" : "");
	} else if (!j->novel && j->relx && !j->admin && j->ncohort >= e->c.min_herd)
		jb_printf(ex,
			  " (release %s under way: %s runs programs under %s of it, as %u members "
			  "of herd %s do, all taken within the last %s, no version configured: "
			  "what the release's programs do is a notice)",
			  j->ver, j->mname, e->str[m->rel_prefix], j->ncohort, j->herd, w);
	else if (!j->novel && j->relx && !j->admin)
		jb_printf(ex,
			  " (first members of release %s: %s runs programs under %s of it, as %u "
			  "member%s of herd %s do, no version configured; what the release's "
			  "programs do is judged against herd %s: notice only)",
			  j->ver, j->mname, e->str[m->rel_prefix], j->ncohort,
			  j->ncohort == 1 ? "" : "s", j->herd, j->herd);
	else if (!j->novel)
		jb_printf(ex,
			  " (an engineer's command under sudo: %s authenticated to sudo as a "
			  "regular user, as engineers do in herd %s; what the command does is "
			  "judged on its own: notice only)",
			  j->mname, j->herd);
}

/* The member.outlier alert (or notice) of the tokens reported. */
static void outlier_alert(struct herd_engine *e, struct member *m, struct jctx *j)
{
	int small = j->nact < e->c.min_herd;
	const char *sev = small || j->canary || j->young || !j->novel ? "notice" : "alert";
	for (int i = 0; i < j->nrep; i++)
		remember_sent(e, m, j->rtoks[i], *sev == 'a', j->now);
	char coh[600];
	cohort_name(coh, sizeof(coh), j->herd, j->ver);
	m->score = decay(m->score, m->score_ns, e->tick_ns, 3600);
	if (j->top > m->score)
		m->score = j->top;
	m->score_ns = e->tick_ns;
	m->alerts++;
	struct jbuf b = {0};
	alert_head(&b, "member.outlier", sev, e->tick_ns); /* raised now, judged at `now` */
	jb_cohort(&b, j->herd, j->ver, coh);
	jb_puts(&b, ",\"member\":");
	jb_str(&b, j->mname);
	jb_puts(&b, ",\"host\":");
	jb_str(&b, e->str[m->host]);
	int canary = j->canary || (j->relx && !j->novel && j->ncohort < e->c.min_herd);
	jb_printf(&b,
		  ",\"score\":%.2f,\"herd_size\":%u,\"cohort_size\":%u,\"canary\":%s,"
		  "\"new_member\":%s",
		  j->top, j->nact, j->ncohort, canary ? "true" : "false",
		  j->is_new ? "true" : "false");
	when_put(e, &b, &j->ex, &j->wh);
	jb_puts(&b, ",\"explanation\":");
	outlier_why(e, m, j, coh);
	jb_str(&b, j->ex.p ? j->ex.p : "");
	jb_puts(&b, ",\"tokens\":[");
	jb_raw(&b, j->toks.p ? j->toks.p : "", j->toks.len);
	jb_puts(&b, "]}");
	emit(e, &b, "member.outlier", sev, j->herd, j->mname, j->top, e->tick_ns);
}

void judge(struct herd_engine *e, struct member *m, uint64_t now)
{
	if (judge_later(e, m, now))
		return;
	struct jctx jc = {0}, *j = &jc;
	judge_herd(e, m, now, j);
	for (struct cand **cp = &m->cands, *c; (c = *cp);) {
		/* its own hold not over (another candidate was due), or held: kept */
		if (c->due_ns > now || judge_cand(e, m, c, j)) {
			if (!j->next_due || c->due_ns < j->next_due)
				j->next_due = c->due_ns;
			cp = &c->next;
			continue;
		}
		*cp = c->next;
		cand_free(e, m, c);
	}
	if (j->nrep)
		outlier_alert(e, m, j);
	struct herd *h = j->h;
	unsigned hno = h->changes + 1;
	change_report(e, h, NULL, j->nact, j->nact, &j->hchg, e->tick_ns);
	if (j->nht)
		fold_sent(e, h, NULL, j->htoks, j->nht, hno, e->tick_ns);
	unsigned cno = h->changes + 1;
	change_report(e, h, j->ver, j->nact, j->ncohort, &j->cchg, e->tick_ns);
	if (j->nct)
		fold_sent(e, h, j->ver, j->ctoks, j->nct, cno, e->tick_ns);
	if (j->next_due)
		pend(e, m, j->next_due);
	free(j->toks.p);
	free(j->ex.p);
}
