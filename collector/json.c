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
	[0 ... 0x1f] = 1, ['"'] = 1, ['\\'] = 1,
};

/* Scan a string body starting after its opening quote; returns the index of the closing
 * quote, or (size_t)-1 when the string is invalid or unterminated. */
static inline size_t scan_string(const unsigned char *s, size_t pos, size_t len, uint8_t *esc)
{
	for (;;) {
		/* 8 bytes at a time while none is '"', '\\' or a control byte (SWAR zero-byte test) */
		while (pos + 8 <= len) {
			uint64_t v, q, b;
			memcpy(&v, s + pos, 8);
			q = v ^ 0x2222222222222222ull;
			b = v ^ 0x5c5c5c5c5c5c5c5cull;
			uint64_t hit = ((q - 0x0101010101010101ull) & ~q) | ((b - 0x0101010101010101ull) & ~b) |
				       ((v - 0x2020202020202020ull) & ~v);
			if (hit & 0x8080808080808080ull)
				break;
			pos += 8;
		}
		while (pos < len && !str_special[s[pos]])
			pos++;
		if (pos >= len || s[pos] < 0x20)
			return (size_t)-1;
		if (s[pos] == '"')
			return pos;
		/* backslash */
		*esc = 1;
		if (++pos >= len)
			return (size_t)-1;
		char e = (char)s[pos];
		if (e == 'u') {
			if (pos + 4 >= len)
				return (size_t)-1;
			for (int k = 1; k <= 4; k++)
				if (hexval((char)s[pos + k]) < 0)
					return (size_t)-1;
			pos += 4;
		} else if (!e || !strchr("\"\\/bfnrt", e)) {
			return (size_t)-1;
		}
		pos++;
	}
}

#define WS()                                                                                    \
	while (pos < len && (unsigned char)s[pos] <= ' ' &&                                     \
	       (s[pos] == ' ' || s[pos] == '\t' || s[pos] == '\n' || s[pos] == '\r'))           \
	pos++

/* Iterative: positions and counts live in locals (with -fno-strict-aliasing a recursive
 * parser reloads them from memory after every token store). */
int json_parse(const char *text, size_t len, struct jtok *t, int max)
{
	const unsigned char *s = (const unsigned char *)text;
	size_t pos = 0;
	int n = 0, depth = 0;
	int stack[JSON_MAX_DEPTH];
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
		t[n] = (struct jtok){ s[pos] == '{' ? J_OBJ : J_ARR, 0, (uint32_t)pos, 0, 0, 0 };
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
		size_t e = scan_string(s, pos + 1, len, &esc);
		if (e == (size_t)-1)
			return -1;
		t[n] = (struct jtok){ J_STR, esc, (uint32_t)pos + 1, (uint32_t)e, 0, (uint32_t)n + 1 };
		n++;
		pos = e + 1;
		goto after;
	}
	case 't':
	case 'f':
	case 'n': {
		const char *lit = s[pos] == 't' ? "true" : s[pos] == 'f' ? "false" : "null";
		size_t l = strlen(lit);
		if (len - pos < l || memcmp(s + pos, lit, l))
			return -1;
		t[n] = (struct jtok){ s[pos] == 't' ? J_TRUE : s[pos] == 'f' ? J_FALSE : J_NULL, 0,
				      (uint32_t)pos, (uint32_t)(pos + l), 0, (uint32_t)n + 1 };
		n++;
		pos += l;
		goto after;
	}
	default: {
		size_t q = pos;
		if (s[q] == '-')
			q++;
		if (q >= len)
			return -1;
		if (s[q] == '0')
			q++;
		else if (s[q] >= '1' && s[q] <= '9')
			while (q < len && s[q] >= '0' && s[q] <= '9')
				q++;
		else
			return -1;
		if (q < len && s[q] == '.') {
			q++;
			if (q >= len || s[q] < '0' || s[q] > '9')
				return -1;
			while (q < len && s[q] >= '0' && s[q] <= '9')
				q++;
		}
		if (q < len && (s[q] == 'e' || s[q] == 'E')) {
			q++;
			if (q < len && (s[q] == '+' || s[q] == '-'))
				q++;
			if (q >= len || s[q] < '0' || s[q] > '9')
				return -1;
			while (q < len && s[q] >= '0' && s[q] <= '9')
				q++;
		}
		t[n] = (struct jtok){ J_NUM, 0, (uint32_t)pos, (uint32_t)q, 0, (uint32_t)n + 1 };
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
		uint8_t esc = 0;
		size_t e = scan_string(s, pos + 1, len, &esc);
		if (e == (size_t)-1)
			return -1;
		t[n] = (struct jtok){ J_STR, esc, (uint32_t)pos + 1, (uint32_t)e, 0, (uint32_t)n + 1 };
		n++;
		pos = e + 1;
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

void json_get_many(const struct jdoc *d, int obj, const char *const *keys, int n, int *out)
{
	size_t kl[32];
	for (int k = 0; k < n && k < 32; k++) {
		out[k] = -1;
		kl[k] = strlen(keys[k]);
	}
	if (obj < 0 || obj >= d->n || d->t[obj].type != J_OBJ)
		return;
	int i = obj + 1;
	for (uint32_t m = 0; m < d->t[obj].size; m++) {
		for (int k = 0; k < n && k < 32; k++)
			if (out[k] < 0 && key_eq(d, i, keys[k], kl[k])) {
				out[k] = i + 1;
				break;
			}
		i = (int)d->t[i + 1].next;
	}
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
	while (s < e && o + 4 < cap) {
		if (*s != '\\') {
			buf[o++] = *s++;
			continue;
		}
		s++;
		char c = *s++;
		switch (c) {
		case 'b': buf[o++] = '\b'; break;
		case 'f': buf[o++] = '\f'; break;
		case 'n': buf[o++] = '\n'; break;
		case 'r': buf[o++] = '\r'; break;
		case 't': buf[o++] = '\t'; break;
		case 'u': {
			unsigned cp = 0;
			for (int k = 0; k < 4; k++)
				cp = cp << 4 | (unsigned)hexval(s[k]);
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
			o += put_utf8(buf + o, cp);
			break;
		}
		default: buf[o++] = c; break;
		}
	}
	buf[o] = 0;
	return (int)o;
}

long long json_int(const struct jdoc *d, int i, int *ok)
{
	if (i < 0 || i >= d->n || d->t[i].type != J_NUM) {
		if (ok)
			*ok = 0;
		return 0;
	}
	const char *s = d->s + d->t[i].start;
	long long v = 0;
	int neg = *s == '-';
	if (neg)
		s++;
	const char *e = d->s + d->t[i].end;
	while (s < e && *s >= '0' && *s <= '9' && v < 922337203685477580LL)
		v = v * 10 + (*s++ - '0');
	if (ok)
		*ok = 1;
	return neg ? -v : v;
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
#define PUT(c)                         \
	do {                           \
		if (o < cap)           \
			buf[o] = (c);  \
		o++;                   \
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

static int jb_grow(struct jbuf *b, size_t n)
{
	if (b->oom)
		return -1;
	if (b->len + n + 1 <= b->cap)
		return 0;
	size_t cap = b->cap ? b->cap : 1024;
	while (cap < b->len + n + 1)
		cap *= 2;
	char *p = realloc(b->p, cap);
	if (!p) {
		b->oom = 1;
		return -1;
	}
	b->p = p;
	b->cap = cap;
	return 0;
}

void jb_raw(struct jbuf *b, const char *s, size_t n)
{
	if (jb_grow(b, n))
		return;
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = 0;
}

void jb_puts(struct jbuf *b, const char *s)
{
	jb_raw(b, s, strlen(s));
}

void jb_printf(struct jbuf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char tmp[512];
	int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n < sizeof(tmp)) {
		jb_raw(b, tmp, (size_t)n);
		return;
	}
	if (jb_grow(b, (size_t)n))
		return;
	va_start(ap, fmt);
	vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

void jb_strn(struct jbuf *b, const char *s, size_t n)
{
	size_t need = json_quote(NULL, 0, s, n);
	if (jb_grow(b, need))
		return;
	json_quote(b->p + b->len, need + 1, s, n);
	b->len += need;
}

void jb_str(struct jbuf *b, const char *s)
{
	jb_strn(b, s ? s : "", s ? strlen(s) : 0);
}
