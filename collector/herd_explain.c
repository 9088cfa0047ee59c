// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * herd_explain.c - what the herd engine says: the head and cohort of every alert, herd.change
 * reports, member.folded follow-ups, late and clock-skewed events, and tokens in words (their
 * kind's wording: collector/tokens.c token_kinds[]). Every alert leaves through emit().
 */
#include "collector/herd_int.h"

void fmt_time(char *buf, size_t n, uint64_t ns)
{
	time_t t = (time_t)(ns / NS);
	struct tm tm;
	gmtime_r(&t, &tm);
	snprintf(buf, n, "%04d-%02d-%02dT%02d:%02d:%02d.%09lluZ", tm.tm_year + 1900, tm.tm_mon + 1,
		 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (unsigned long long)(ns % NS));
}

void fmt_dur(char *buf, size_t n, uint64_t ns)
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

void emit(struct herd_engine *e, struct jbuf *b, const char *kind, const char *sev,
	  const char *herd, const char *member, double score, uint64_t now)
{
	if (!b->oom && e->fn)
		e->fn(e->ctx, b->p, b->len, kind, sev, herd, member, score, now);
	free(b->p);
}

void alert_head(struct jbuf *b, const char *kind, const char *sev, uint64_t now)
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
void jb_cohort(struct jbuf *b, const char *herd, const char *ver, const char *coh)
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

/* A token in words: its kind's wording (collector/tokens.c token_kinds[]). */
void describe(const char *token, char *out, size_t n)
{
	tokens_describe(token, out, n);
}

void change_add(struct change *ch, const char *token, unsigned with, unsigned of)
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
void cohort_name(char *out, size_t n, const char *herd, const char *version)
{
	if (version)
		snprintf(out, n, "%s@%s", herd, version);
	else
		snprintf(out, n, "%s", herd);
}

/* One herd.change report: herd-wide (version NULL), or of the cohort herd@version of size
 * members. Frees the change's buffers. */
void change_report(struct herd_engine *e, struct herd *h, const char *version, unsigned hsize,
		   unsigned size, struct change *ch, uint64_t now)
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

/* "3", "2.5": a decayed count */
void fmt_k(char *out, size_t n, double k)
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
void fold_sent(struct herd_engine *e, struct herd *h, const char *version, const uint32_t *toks,
	       unsigned ntoks, unsigned no, uint64_t now)
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

void when_add(struct when *w, const struct cand *c)
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
void when_put(const struct herd_engine *e, struct jbuf *b, struct jbuf *ex, const struct when *w)
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
