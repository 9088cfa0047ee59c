/* json.c - JSON writer with byte-preserving string escaping (see json.h). */
#include "agent/json.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void jb_init(struct jbuf *b, size_t cap)
{
	b->p = malloc(cap);
	b->cap = b->p ? cap : 0;
	b->len = 0;
	b->comma = false;
	b->oom = !b->p;
}

void jb_free(struct jbuf *b)
{
	free(b->p);
	memset(b, 0, sizeof(*b));
}

void jb_reset(struct jbuf *b)
{
	b->len = 0;
	b->comma = false;
	b->oom = false;
}

static bool jb_reserve(struct jbuf *b, size_t n)
{
	if (b->len + n <= b->cap)
		return true;
	size_t cap = b->cap ? b->cap : 256;
	while (cap < b->len + n)
		cap *= 2;
	char *p = realloc(b->p, cap);
	if (!p) {
		b->oom = true;
		return false;
	}
	b->p = p;
	b->cap = cap;
	return true;
}

void jb_raw(struct jbuf *b, const char *s, size_t n)
{
	if (!jb_reserve(b, n))
		return;
	memcpy(b->p + b->len, s, n);
	b->len += n;
}

static inline void jb_ch(struct jbuf *b, char c)
{
	if (b->len < b->cap || jb_reserve(b, 1))
		b->p[b->len++] = c;
}

static void jb_sep(struct jbuf *b)
{
	if (b->comma)
		jb_ch(b, ',');
	b->comma = true;
}

void jb_obj_begin(struct jbuf *b)
{
	jb_sep(b);
	jb_ch(b, '{');
	b->comma = false;
}

void jb_obj_end(struct jbuf *b)
{
	jb_ch(b, '}');
	b->comma = true;
}

void jb_arr_begin(struct jbuf *b)
{
	jb_sep(b);
	jb_ch(b, '[');
	b->comma = false;
}

void jb_arr_end(struct jbuf *b)
{
	jb_ch(b, ']');
	b->comma = true;
}

void jb_trusted_n(struct jbuf *b, const char *s, size_t n)
{
	if (b->comma)
		jb_ch(b, ',');
	b->comma = true;
	if (!jb_reserve(b, n + 2))
		return;
	char *o = b->p + b->len;
	*o++ = '"';
	memcpy(o, s, n);
	o[n] = '"';
	b->len += n + 2;
}

void jb_key_n(struct jbuf *b, const char *key, size_t n)
{
	if (!jb_reserve(b, n + 4))
		return;
	char *o = b->p + b->len;
	if (b->comma)
		*o++ = ',';
	*o++ = '"';
	memcpy(o, key, n);
	o += n;
	*o++ = '"';
	*o++ = ':';
	b->len = o - b->p;
	b->comma = false; /* the value follows without a separator */
}

size_t utf8_seq_len(const unsigned char *s, size_t n)
{
	unsigned char c = s[0];
	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf) {
		if (n >= 2 && (s[1] & 0xc0) == 0x80)
			return 2;
		return 0;
	}
	if (c >= 0xe0 && c <= 0xef) {
		if (n < 3 || (s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80)
			return 0;
		if (c == 0xe0 && s[1] < 0xa0)
			return 0; /* overlong */
		if (c == 0xed && s[1] >= 0xa0)
			return 0; /* UTF-16 surrogate */
		return 3;
	}
	if (c >= 0xf0 && c <= 0xf4) {
		if (n < 4 || (s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80 ||
		    (s[3] & 0xc0) != 0x80)
			return 0;
		if (c == 0xf0 && s[1] < 0x90)
			return 0; /* overlong */
		if (c == 0xf4 && s[1] >= 0x90)
			return 0; /* > U+10FFFF */
		return 4;
	}
	return 0;
}

static const char hexd[] = "0123456789abcdef";

/* 1 for bytes copied as they are: printable ASCII except '"' and '\\' */
static const unsigned char plain[256] = {
	[0x20] = 1,
	[0x21] = 1,
	[0x23 ... 0x5b] = 1,
	[0x5d ... 0x7e] = 1,
};

void jb_str(struct jbuf *b, const char *str, size_t n)
{
	const unsigned char *s = (const unsigned char *)str;
	/* worst case: every byte becomes \u00XX */
	if (!jb_reserve(b, n * 6 + 3))
		return;
	jb_sep(b);
	char *o = b->p + b->len;
	*o++ = '"';
	for (size_t i = 0; i < n;) {
		/* the common case: a run of plain bytes, copied at once */
		size_t j = i;
		while (j < n && plain[s[j]])
			j++;
		if (j > i) {
			memcpy(o, s + i, j - i);
			o += j - i;
			i = j;
			if (i == n)
				break;
		}
		unsigned char c = s[i];
		if (c >= 0x80) {
			size_t l = utf8_seq_len(s + i, n - i);
			if (l) {
				memcpy(o, s + i, l);
				o += l;
				i += l;
				continue;
			}
		}
		*o++ = '\\';
		switch (c) {
		case '"':
			*o++ = '"';
			break;
		case '\\':
			*o++ = '\\';
			break;
		case '\n':
			*o++ = 'n';
			break;
		case '\t':
			*o++ = 't';
			break;
		case '\r':
			*o++ = 'r';
			break;
		default:
			*o++ = 'u';
			*o++ = '0';
			*o++ = '0';
			*o++ = hexd[c >> 4];
			*o++ = hexd[c & 15];
		}
		i++;
	}
	*o++ = '"';
	b->len = o - b->p;
}

static const char digits2[201] =
	"00010203040506070809101112131415161718192021222324252627282930313233343536373839"
	"40414243444546474849505152535455565758596061626364656667686970717273747576777879"
	"8081828384858687888990919293949596979899";

static inline unsigned ndigits(uint64_t v)
{
	for (unsigned n = 1;; n += 4, v /= 10000) {
		if (v < 10)
			return n;
		if (v < 100)
			return n + 1;
		if (v < 1000)
			return n + 2;
		if (v < 10000)
			return n + 3;
	}
}

/* Decimal, two digits per division, written in place: numbers are most of an event's values. */
void jb_u64(struct jbuf *b, uint64_t v)
{
	if (b->len + 21 > b->cap && !jb_reserve(b, 21))
		return;
	char *p = b->p, *o = p + b->len;
	bool comma = b->comma;
	b->comma = true;
	*o = ',';
	o += comma;
	if (v < 10) {
		*o++ = '0' + v;
		b->len = o - p;
		return;
	}
	char *e = o + ndigits(v), *w = e;
	while (v >= 100) {
		unsigned r = v % 100;
		v /= 100;
		*--w = digits2[2 * r + 1];
		*--w = digits2[2 * r];
	}
	if (v >= 10) {
		*--w = digits2[2 * v + 1];
		*--w = digits2[2 * v];
	} else {
		*--w = '0' + v;
	}
	b->len = e - p;
}

void jb_i64(struct jbuf *b, int64_t v)
{
	if (v < 0) {
		jb_sep(b);
		jb_ch(b, '-');
		b->comma = false;
		jb_u64(b, (uint64_t)0 - (uint64_t)v);
	} else {
		jb_u64(b, (uint64_t)v);
	}
}

void jb_bool_slow(struct jbuf *b, bool v)
{
	jb_sep(b);
	if (v)
		jb_raw(b, "true", 4);
	else
		jb_raw(b, "false", 5);
}

void jb_null_slow(struct jbuf *b)
{
	jb_sep(b);
	jb_raw(b, "null", 4);
}
