// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * json.c - strict, non-allocating JSON tokenizer (see json.h).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collector/json.h"

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* 1 for bytes that end or escape a string run or are invalid in one: '"', '\\', < 0x20 */
static const unsigned char str_special[256] = {
	[0 ... 0x1f] = 1,
	['"'] = 1,
	['\\'] = 1,
};

/* the same, and bytes >= 0x80 (strict: UTF-8 is checked where a string has them) */
static const unsigned char str_special_strict[256] = {
	[0 ... 0x1f] = 1,
	['"'] = 1,
	['\\'] = 1,
	[0x80 ... 0xff] = 1,
};

size_t json_utf8_len(const unsigned char *s, size_t n)
{
	unsigned char c = s[0];
	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		return n >= 2 && (s[1] & 0xc0) == 0x80 ? 2 : 0;
	if (c >= 0xe0 && c <= 0xef) {
		if (n < 3 || (s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80)
			return 0;
		if ((c == 0xe0 && s[1] < 0xa0) || (c == 0xed && s[1] >= 0xa0))
			return 0; /* overlong, or a UTF-16 surrogate */
		return 3;
	}
	if (c >= 0xf0 && c <= 0xf4) {
		if (n < 4 || (s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80 ||
		    (s[3] & 0xc0) != 0x80)
			return 0;
		if ((c == 0xf0 && s[1] < 0x90) || (c == 0xf4 && s[1] >= 0x90))
			return 0; /* overlong, or above U+10FFFF */
		return 4;
	}
	return 0;
}

static unsigned hex4(const unsigned char *s)
{
	unsigned v = 0;
	for (int k = 0; k < 4; k++)
		v = v << 4 | (unsigned)hexval((char)s[k]);
	return v;
}

/* Strict mode, at "\uXXXX" (s points at the 'u', 4 hex digits checked): a surrogate must be a
 * high one followed by an escaped low one. Returns the bytes of the escape(s) after the 'u'
 * (4 or 10), 0 for a lone surrogate. */
static size_t strict_u_escape(const unsigned char *s, size_t avail)
{
	unsigned cp = hex4(s + 1);
	if (cp < 0xd800 || cp >= 0xe000)
		return 4;
	if (cp >= 0xdc00 || avail < 11 || s[5] != '\\' || s[6] != 'u')
		return 0;
	for (int k = 7; k < 11; k++)
		if (hexval((char)s[k]) < 0)
			return 0;
	unsigned lo = hex4(s + 7);
	return lo >= 0xdc00 && lo < 0xe000 ? 10 : 0;
}

/* For 8 bytes of a string body in v: 0x80 in each byte that ends or escapes a run of plain
 * bytes ('"', '\\', a control byte; strict: a byte >= 0x80), by the SWAR zero-byte test. The
 * lowest flagged byte is exact; bytes above it may be flagged falsely (borrows). */
static inline uint64_t str_stops(uint64_t v, int strict)
{
	uint64_t q = v ^ 0x2222222222222222ull, b = v ^ 0x5c5c5c5c5c5c5c5cull;
	uint64_t hit = ((q - 0x0101010101010101ull) & ~q) | ((b - 0x0101010101010101ull) & ~b) |
		       ((v - 0x2020202020202020ull) & ~v);
	return (hit | (strict ? v : 0)) & 0x8080808080808080ull;
}

#define SCAN_BAD ((size_t)-1)
#define SCAN_UTF8 ((size_t)-2) /* strict: invalid UTF-8, or a lone surrogate escape */

/* Scan a string body starting after its opening quote; returns the index of the closing
 * quote, or SCAN_BAD when the string is invalid or unterminated. With strict (a constant in
 * each caller: the checks compile away in json_parse), SCAN_UTF8 when the string is not valid
 * UTF-8 (raw bytes or escapes). */
static inline size_t scan_string(const unsigned char *s, size_t pos, size_t len, uint8_t *esc,
				 int strict)
{
	for (;;) {
		/* 8 bytes at a time while none is '"', '\\' or a control byte (SWAR zero-byte test) */
		while (pos + 8 <= len) {
			uint64_t v;
			memcpy(&v, s + pos, 8);
			if (str_stops(v, strict))
				break;
			pos += 8;
		}
		while (pos < len && !(strict ? str_special_strict : str_special)[s[pos]])
			pos++;
		if (strict && pos < len && s[pos] >= 0x80) {
			/* non-ASCII: one UTF-8 sequence checked where it is, in the same pass (its
			 * continuation bytes are >= 0x80: never the closing quote) */
			size_t l = json_utf8_len(s + pos, len - pos);
			if (!l)
				return SCAN_UTF8;
			pos += l;
			continue;
		}
		if (pos >= len || s[pos] < 0x20)
			return SCAN_BAD;
		if (s[pos] == '"')
			return pos;
		/* backslash */
		*esc = 1;
		if (++pos >= len)
			return SCAN_BAD;
		char e = (char)s[pos];
		if (e == 'u') {
			if (pos + 4 >= len)
				return SCAN_BAD;
			for (int k = 1; k <= 4; k++)
				if (hexval((char)s[pos + k]) < 0)
					return SCAN_BAD;
			size_t l = strict ? strict_u_escape(s + pos, len - pos) : 4;
			if (!l)
				return SCAN_UTF8;
			pos += l;
		} else if (!e || !strchr("\"\\/bfnrt", e)) {
			return SCAN_BAD;
		}
		pos++;
	}
}

#define WS()                                                                                       \
	while (pos < len && (unsigned char)s[pos] <= ' ' &&                                        \
	       (s[pos] == ' ' || s[pos] == '\t' || s[pos] == '\n' || s[pos] == '\r'))              \
	pos++

struct kfp {
	uint64_t w, l;
};
static struct kfp key_fingerprint_slow(const char *s, const struct jtok *k);
static int dup_key_compare(const char *s, const struct jtok *t, int obj, int key);

/*
 * Duplicate keys (strict mode). A key's fingerprint is its value's length and first 8 bytes
 * (zero-padded): equal keys have equal fingerprints, and most keys (up to 8 bytes) are told
 * apart by it alone. Each open object has a 256-bit filter with one bit per fingerprint seen;
 * a key whose bit is clear is new, and only one whose bit is set is compared with the earlier
 * keys of its object (after unescaping). Nothing is allocated; the filter costs one 8-byte load,
 * a multiply and a bit test per key. An escaped key's fingerprint is taken from its unescaped
 * value, so "a\u0062" and "ab" set the same bit.
 */
static inline int dup_key(const char *s, size_t len, const struct jtok *t, int obj, int key,
			  uint64_t *bloom, struct kfp f)
{
	const struct jtok *k = &t[key];
	if (f.l == UINT64_MAX) { /* not taken by the parser's fast path for short keys */
		if (__builtin_expect(k->has_esc || k->start + 8 > len, 0)) {
			f = key_fingerprint_slow(s, k);
		} else {
			f.l = k->end - k->start;
			memcpy(&f.w, s + k->start, 8);
			if (f.l < 8) /* keep the key's own bytes: the first l in memory */
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
				f.w &= (1ull << (8 * f.l)) - 1;
#else
				f.w &= ~(~0ull >> (8 * f.l));
#endif
		}
	}
	uint64_t h = ((f.w ^ f.l) * 0x9e3779b97f4a7c15ull) >> 56;
	uint64_t bit = 1ull << (h & 63), *bw = &bloom[h >> 6];
	if (__builtin_expect(!(*bw & bit), 1)) {
		*bw |= bit;
		return 0;
	}
	return dup_key_compare(s, t, obj, key);
}

/* A number at pos (JSON's grammar: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?): where it
 * ends, or SCAN_BAD. */
static inline __attribute__((always_inline)) size_t scan_number(const unsigned char *s, size_t pos,
								size_t len)
{
	size_t q = pos;
	if (s[q] == '-')
		q++;
	if (q >= len)
		return SCAN_BAD;
	if (s[q] == '0')
		q++;
	else if (s[q] >= '1' && s[q] <= '9')
		while (q < len && s[q] >= '0' && s[q] <= '9')
			q++;
	else
		return SCAN_BAD;
	if (q < len && s[q] == '.') {
		q++;
		if (q >= len || s[q] < '0' || s[q] > '9')
			return SCAN_BAD;
		while (q < len && s[q] >= '0' && s[q] <= '9')
			q++;
	}
	if (q < len && (s[q] == 'e' || s[q] == 'E')) {
		q++;
		if (q < len && (s[q] == '+' || s[q] == '-'))
			q++;
		if (q >= len || s[q] < '0' || s[q] > '9')
			return SCAN_BAD;
		while (q < len && s[q] >= '0' && s[q] <= '9')
			q++;
	}
	return q;
}

/* true, false or null at pos (s[pos] is t, f or n): its length and *type, or 0 when it is not
 * one */
static inline __attribute__((always_inline)) size_t scan_literal(const unsigned char *s, size_t pos,
								 size_t len, uint8_t *type)
{
	const char *lit = s[pos] == 't' ? "true" : s[pos] == 'f' ? "false" : "null";
	size_t l = strlen(lit);
	if (len - pos < l || memcmp(s + pos, lit, l))
		return 0;
	*type = s[pos] == 't' ? J_TRUE : s[pos] == 'f' ? J_FALSE : J_NULL;
	return l;
}

/* a token without children (string, number, literal) at index n: bytes [start, end) */
static inline __attribute__((always_inline)) struct jtok leaf(uint8_t type, uint8_t esc,
							      size_t start, size_t end, int n)
{
	return (struct jtok){type, esc, (uint32_t)start, (uint32_t)end, 0, (uint32_t)n + 1};
}

/* A key at pos (s[pos] is its opening quote): the position of its closing quote, as
 * scan_string() gives it. Most keys are short and plain: in strict mode one 8-byte load finds
 * the closing quote and is the key's fingerprint (*f, for dup_key); otherwise f stays as it
 * was given ({0, UINT64_MAX}: dup_key takes it from the token). */
static inline __attribute__((always_inline)) size_t
scan_key(const unsigned char *s, size_t pos, size_t len, uint8_t *esc, int strict, struct kfp *f)
{
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	if (strict && pos + 9 <= len) {
		uint64_t w, stop;
		memcpy(&w, s + pos + 1, 8);
		if ((stop = str_stops(w, 1))) {
			unsigned l = (unsigned)__builtin_ctzll(stop) >> 3;
			if (s[pos + 1 + l] == '"') {
				*f = (struct kfp){w & ((1ull << (8 * l)) - 1), l};
				return pos + 1 + l;
			}
		}
	}
#endif
	return scan_string(s, pos + 1, len, esc, strict);
}

/* A key at pos as token n, a member of the object t[obj]: the position after its closing
 * quote, SCAN_BAD, or SCAN_UTF8. Strict: a key its object has already is refused (SCAN_BAD,
 * with *why and *at set). */
static inline __attribute__((always_inline)) size_t parse_key(const char *text, size_t pos,
							      size_t len, struct jtok *t, int n,
							      int obj, uint64_t *bloom, int strict,
							      int *why, uint32_t *at)
{
	uint8_t esc = 0;
	struct kfp f = {0, UINT64_MAX};
	size_t e = scan_key((const unsigned char *)text, pos, len, &esc, strict, &f);
	if (e == SCAN_UTF8 || e == SCAN_BAD)
		return e;
	t[n] = leaf(J_STR, esc, pos + 1, e, n);
	if (strict && dup_key(text, len, t, obj, n, bloom, f)) {
		*why = JSON_E_DUP_KEY;
		*at = (uint32_t)pos + 1;
		return SCAN_BAD;
	}
	return e + 1;
}

/* Iterative: positions and counts live in locals (with -fno-strict-aliasing a recursive
 * parser reloads them from memory after every token store). strict is a constant in each
 * caller, so json_parse has none of its checks. */
static inline __attribute__((always_inline)) int parse(const char *text, size_t len, struct jtok *t,
						       int max, int strict, int *why, uint32_t *at)
{
	const unsigned char *s = (const unsigned char *)text;
	size_t pos = 0;
	int n = 0, depth = 0;
	int stack[JSON_MAX_DEPTH];
	uint64_t bloom[JSON_MAX_DEPTH][4];
	if (len > UINT32_MAX - 1)
		return -1;
value:
	WS();
	if (pos >= len || n >= max)
		return -1;
	switch (s[pos]) {
	case '{':
	case '[':
		if (depth >= JSON_MAX_DEPTH)
			return -1;
		t[n] = (struct jtok){s[pos] == '{' ? J_OBJ : J_ARR, 0, (uint32_t)pos, 0, 0, 0};
		if (strict && s[pos] == '{')
			memset(bloom[depth], 0, sizeof(bloom[depth]));
		stack[depth++] = n++;
		pos++;
		WS();
		if (pos < len && s[pos] == (t[stack[depth - 1]].type == J_OBJ ? '}' : ']')) {
			pos++;
			struct jtok *c = &t[stack[--depth]];
			c->end = (uint32_t)pos;
			c->next = (uint32_t)n;
			goto after;
		}
		if (t[stack[depth - 1]].type == J_OBJ)
			goto key;
		goto value;
	case '"': {
		uint8_t esc = 0;
		size_t e = scan_string(s, pos + 1, len, &esc, strict);
		if (e == SCAN_UTF8)
			goto utf8;
		if (e == SCAN_BAD)
			return -1;
		t[n] = leaf(J_STR, esc, pos + 1, e, n);
		n++;
		pos = e + 1;
		goto after;
	}
	case 't':
	case 'f':
	case 'n': {
		uint8_t type;
		size_t l = scan_literal(s, pos, len, &type);
		if (!l)
			return -1;
		t[n] = leaf(type, 0, pos, pos + l, n);
		n++;
		pos += l;
		goto after;
	}
	default: {
		size_t q = scan_number(s, pos, len);
		if (q == SCAN_BAD)
			return -1;
		t[n] = leaf(J_NUM, 0, pos, q, n);
		n++;
		pos = q;
		goto after;
	}
	}
key:
	WS();
	if (pos >= len || s[pos] != '"' || n >= max)
		return -1;
	{
		size_t e = parse_key(text, pos, len, t, n, stack[depth - 1], bloom[depth - 1],
				     strict, why, at);
		if (e == SCAN_UTF8)
			goto utf8;
		if (e == SCAN_BAD)
			return -1;
		n++;
		pos = e;
	}
	WS();
	if (pos >= len || s[pos] != ':')
		return -1;
	pos++;
	goto value;
after:
	if (!depth) {
		WS();
		return pos == len ? n : -1;
	}
	{
		struct jtok *c = &t[stack[depth - 1]];
		c->size++;
		WS();
		if (pos >= len)
			return -1;
		if (s[pos] == ',') {
			pos++;
			if (c->type == J_OBJ)
				goto key;
			goto value;
		}
		if (s[pos] != (c->type == J_OBJ ? '}' : ']'))
			return -1;
		pos++;
		c->end = (uint32_t)pos;
		c->next = (uint32_t)n;
		depth--;
		goto after;
	}
utf8:
	if (strict) {
		*why = JSON_E_UTF8;
		*at = (uint32_t)pos + 1;
	}
	return -1;
}

int json_parse(const char *s, size_t len, struct jtok *toks, int max)
{
	return parse(s, len, toks, max, 0, NULL, NULL);
}

int json_parse_strict(const char *s, size_t len, struct jtok *toks, int max, int *why, uint32_t *at)
{
	*why = JSON_E_SYNTAX;
	*at = 0;
	int n = parse(s, len, toks, max, 1, why, at);
	if (n >= 0)
		*why = 0;
	return n;
}

static inline int key_eq(const struct jdoc *d, int i, const char *key, size_t kl)
{
	const struct jtok *t = &d->t[i];
	if (!t->has_esc)
		return t->end - t->start == kl && (!kl || d->s[t->start] == key[0]) &&
		       memcmp(d->s + t->start, key, kl) == 0;
	char buf[256];
	int n = json_str(d, i, buf, sizeof(buf));
	return n >= 0 && (size_t)n == kl && memcmp(buf, key, kl) == 0;
}

/* A key's first 8 bytes (zero-padded): the lookups below compare it and the length before
 * any memcmp. kw: the key the caller looks for (l bytes at k); tw: an unescaped key token of
 * the text (an 8-byte load when it stays inside the root value). */
static inline uint64_t kw_of(const char *k, size_t l)
{
	char b[8] = {0};
	for (size_t j = 0; j < l && j < 8; j++)
		b[j] = k[j];
	uint64_t w;
	memcpy(&w, b, 8);
	return w;
}

static inline uint64_t tw_of(const struct jdoc *d, const struct jtok *t, uint32_t l)
{
	uint64_t w = 0;
	if (t->start + 8 > d->t[0].end) {
		memcpy(&w, d->s + t->start, l < 8 ? l : 8);
		return w;
	}
	memcpy(&w, d->s + t->start, 8);
	if (l < 8)
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
		w &= (1ull << (8 * l)) - 1;
#else
		w &= ~(~0ull >> (8 * l));
#endif
	return w;
}

static int get_n(const struct jdoc *d, int obj, const char *key, size_t kl)
{
	if (obj < 0 || obj >= d->n || d->t[obj].type != J_OBJ)
		return -1;
	int i = obj + 1;
	for (uint32_t k = 0; k < d->t[obj].size; k++) {
		if (key_eq(d, i, key, kl))
			return i + 1;
		i = (int)d->t[i + 1].next;
	}
	return -1;
}

void json_keys_init(struct json_keys *ks, const char *const *keys, int n)
{
	ks->n = n < JSON_KEYS_MAX ? n : JSON_KEYS_MAX;
	ks->keys = keys;
	for (int k = 0; k < ks->n; k++) {
		ks->len[k] = (uint32_t)strlen(keys[k]);
		ks->w[k] = kw_of(keys[k], ks->len[k]);
	}
}

void json_get_keys(const struct jdoc *d, int obj, const struct json_keys *ks, int *out)
{
	int n = ks->n;
	for (int k = 0; k < n; k++)
		out[k] = -1;
	if (obj < 0 || obj >= d->n || d->t[obj].type != J_OBJ)
		return;
	int i = obj + 1, left = n;
	for (uint32_t m = 0; m < d->t[obj].size && left; m++) {
		const struct jtok *t = &d->t[i];
		uint32_t l = t->end - t->start;
		uint64_t w = t->has_esc ? 0 : tw_of(d, t, l);
		for (int k = 0; k < n; k++) {
			if (t->has_esc ? !key_eq(d, i, ks->keys[k], ks->len[k])
				       : w != ks->w[k] || l != ks->len[k] ||
						 (l > 8 && memcmp(d->s + t->start + 8,
								  ks->keys[k] + 8, l - 8)))
				continue;
			if (out[k] < 0) { /* the first of equal keys (json_parse leaves them) */
				out[k] = i + 1;
				left--;
			}
			break;
		}
		i = (int)d->t[i + 1].next;
	}
}

void json_get_many(const struct jdoc *d, int obj, const char *const *keys, int n, int *out)
{
	struct json_keys ks;
	json_keys_init(&ks, keys, n);
	json_get_keys(d, obj, &ks, out);
}

int json_get(const struct jdoc *d, int obj, const char *key)
{
	return get_n(d, obj, key, strlen(key));
}

int json_path(const struct jdoc *d, int obj, const char *path)
{
	while (obj >= 0 && *path) {
		const char *dot = strchr(path, '.');
		size_t kl = dot ? (size_t)(dot - path) : strlen(path);
		obj = get_n(d, obj, path, kl);
		path += kl + (dot ? 1 : 0);
	}
	return obj;
}

static size_t put_utf8(char *o, unsigned cp)
{
	if (cp < 0x80) {
		o[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		o[0] = (char)(0xc0 | cp >> 6);
		o[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		o[0] = (char)(0xe0 | cp >> 12);
		o[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		o[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	o[0] = (char)(0xf0 | cp >> 18);
	o[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	o[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
	o[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/* One unit of an escaped string body at *sp (before e): its UTF-8 bytes in out (1-4), *sp
 * advanced past it. A surrogate pair of escapes is one code point. */
static size_t unesc_next(const char **sp, const char *e, char *out)
{
	const char *s = *sp;
	if (*s != '\\') {
		out[0] = *s;
		*sp = s + 1;
		return 1;
	}
	s++;
	char c = *s++;
	size_t o = 1;
	switch (c) {
	case 'b':
		out[0] = '\b';
		break;
	case 'f':
		out[0] = '\f';
		break;
	case 'n':
		out[0] = '\n';
		break;
	case 'r':
		out[0] = '\r';
		break;
	case 't':
		out[0] = '\t';
		break;
	case 'u': {
		unsigned cp = hex4((const unsigned char *)s);
		s += 4;
		if (cp >= 0xd800 && cp < 0xdc00 && e - s >= 6 && s[0] == '\\' && s[1] == 'u') {
			unsigned lo = 0;
			int okh = 1;
			for (int k = 0; k < 4; k++) {
				int h = hexval(s[2 + k]);
				okh &= h >= 0;
				lo = lo << 4 | (unsigned)(h & 15);
			}
			if (okh && lo >= 0xdc00 && lo < 0xe000) {
				cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
				s += 6;
			}
		}
		o = put_utf8(out, cp);
		break;
	}
	default:
		out[0] = c;
		break;
	}
	*sp = s;
	return o;
}

/* Reads the unescaped bytes of a string token one at a time. */
struct ucur {
	const char *p, *e;
	char u[4];
	size_t ul, ui;
};

static int ucur_get(struct ucur *c)
{
	if (c->ui == c->ul) {
		if (c->p >= c->e)
			return -1;
		c->ul = unesc_next(&c->p, c->e, c->u);
		c->ui = 0;
	}
	return (unsigned char)c->u[c->ui++];
}

/* Two string tokens of the text s hold the same string (after unescaping). */
static int str_eq(const char *s, const struct jtok *a, const struct jtok *b)
{
	if (!a->has_esc && !b->has_esc)
		return a->end - a->start == b->end - b->start &&
		       !memcmp(s + a->start, s + b->start, a->end - a->start);
	struct ucur x = {s + a->start, s + a->end, {0}, 0, 0};
	struct ucur y = {s + b->start, s + b->end, {0}, 0, 0};
	for (;;) {
		int cx = ucur_get(&x), cy = ucur_get(&y);
		if (cx != cy)
			return 0;
		if (cx < 0)
			return 1;
	}
}

/* dup_key's fingerprint of key k, the slow way: an escaped key (agents do not escape keys)
 * or one too near the end of the text for an 8-byte load. */
static __attribute__((noinline)) struct kfp key_fingerprint_slow(const char *s,
								 const struct jtok *k)
{
	const char *p = s + k->start, *e = s + k->end;
	char first[8] = {0}, u[4];
	struct kfp f = {0, 0};
	while (p < e) {
		size_t ul = k->has_esc ? unesc_next(&p, e, u) : (u[0] = *p++, 1);
		for (size_t j = 0; j < ul; j++, f.l++)
			if (f.l < 8)
				first[f.l] = u[j];
	}
	memcpy(&f.w, first, 8);
	return f;
}

/* Key token `key` against the earlier keys of the object at obj (a filter hit in dup_key). */
static __attribute__((noinline)) int dup_key_compare(const char *s, const struct jtok *t, int obj,
						     int key)
{
	for (int i = obj + 1; i < key; i = (int)t[i + 1].next)
		if (str_eq(s, &t[i], &t[key]))
			return 1;
	return 0;
}

int json_str(const struct jdoc *d, int i, char *buf, size_t cap)
{
	if (i < 0 || i >= d->n || d->t[i].type != J_STR || cap == 0)
		return -1;
	const struct jtok *t = &d->t[i];
	const char *s = d->s + t->start, *e = d->s + t->end;
	size_t o = 0;
	if (!t->has_esc) {
		size_t n = (size_t)(e - s);
		if (n > cap - 1)
			n = cap - 1;
		memcpy(buf, s, n);
		buf[n] = 0;
		return (int)n;
	}
	while (s < e && o + 4 < cap)
		o += unesc_next(&s, e, buf + o);
	buf[o] = 0;
	return (int)o;
}

long long json_int(const struct jdoc *d, int i, int *ok)
{
	if (ok)
		*ok = 0;
	if (i < 0 || i >= d->n || d->t[i].type != J_NUM)
		return 0;
	const char *s = d->s + d->t[i].start, *e = d->s + d->t[i].end;
	int neg = *s == '-';
	s += neg;
	unsigned long long v = 0, lim = neg ? 9223372036854775808ull : 9223372036854775807ull;
	if (e - s > 19)
		return 0; /* beyond 64 bits (the grammar allows no leading zero) */
	for (; s < e; s++) {
		unsigned dg = (unsigned)(*s - '0');
		if (dg > 9)
			return 0; /* a fraction or an exponent */
		v = v * 10 + dg;  /* 19 digits fit in 64 bits unsigned */
	}
	if (v > lim)
		return 0; /* out of the range of long long */
	if (ok)
		*ok = 1;
	return neg ? (long long)(0 - v) : (long long)v;
}

int json_streq(const struct jdoc *d, int i, const char *v)
{
	if (i < 0 || i >= d->n || d->t[i].type != J_STR)
		return 0;
	return key_eq(d, i, v, strlen(v));
}

size_t json_quote(char *buf, size_t cap, const char *s, size_t len)
{
	size_t o = 0;
#define PUT(c)                                                                                     \
	do {                                                                                       \
		if (o < cap)                                                                       \
			buf[o] = (c);                                                              \
		o++;                                                                               \
	} while (0)
	PUT('"');
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '"' || c == '\\') {
			PUT('\\');
			PUT((char)c);
		} else if (c < 0x20 || c == 0x7f) {
			char tmp[8];
			snprintf(tmp, sizeof(tmp), "\\u%04x", c);
			for (int k = 0; tmp[k]; k++)
				PUT(tmp[k]);
		} else if (c >= 0x80) {
			/* valid UTF-8 as it is; a byte of none as \u00XX, as the agent writes it, so
			 * that every answer is valid UTF-8 */
			size_t l = json_utf8_len((const unsigned char *)s + i, len - i);
			if (!l) {
				char tmp[8];
				snprintf(tmp, sizeof(tmp), "\\u00%02x", c);
				for (int k = 0; tmp[k]; k++)
					PUT(tmp[k]);
				continue;
			}
			for (size_t k = 0; k < l; k++)
				PUT(s[i + k]);
			i += l - 1;
		} else {
			PUT((char)c);
		}
	}
	PUT('"');
#undef PUT
	if (o < cap)
		buf[o] = 0;
	return o;
}
