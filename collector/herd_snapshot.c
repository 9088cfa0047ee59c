// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * herd_snapshot.c - the herd engine's state saved (herd_save) and restored (herd_restore), so
 * that a collector restart does not relearn every herd from zero. The format is versioned by
 * its magic; a snapshot that does not parse is refused whole.
 */
#include "collector/herd_int.h"

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
