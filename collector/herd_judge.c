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
void judge(struct herd_engine *e, struct member *m, uint64_t now)
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
