// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * herd_strtab.c - the herd engine's strings: every herd, member and token string interned once
 * (id = index into e->str), reference-counted (a token's string is freed with the last member
 * entry, herd statistic, candidate or alert record naming it), freed ids reused first; an
 * open-addressing hash table (e->sht) finds a string's id.
 */
#include "collector/herd_int.h"

uint64_t hash_str(const char *s)
{
	uint64_t h = 1469598103934665603ull; /* FNV-1a */
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return h;
}

uint64_t mix64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	return x;
}

void *grow(void *p, uint32_t *cap, size_t elem, uint32_t need, size_t *bytes)
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
uint32_t str_find(const struct herd_engine *e, const char *s)
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
uint32_t intern(struct herd_engine *e, const char *s)
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

void str_ref(struct herd_engine *e, uint32_t id)
{
	e->sref[id]++;
}

/* Free string id if nothing refers to it (its slot in the hash table is closed up by moving
 * later entries of the probe run back). */
void str_gc(struct herd_engine *e, uint32_t id)
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

void str_unref(struct herd_engine *e, uint32_t id)
{
	if (id == UINT32_MAX)
		return;
	if (e->sref[id])
		e->sref[id]--;
	str_gc(e, id);
}
