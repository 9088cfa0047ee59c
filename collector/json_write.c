// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * json_write.c - the collector's JSON writer (json.h: struct jbuf, jb_*): a growing buffer the
 * API answers, alerts and the herd engine's explanations are written into. Strings are
 * escaped (jb_str, jb_strn) and stored event lines are passed on as valid UTF-8
 * (jb_json_utf8); a failed allocation marks the buffer failed rather than cutting it short
 * unnoticed. Not linked into the agent, which has a writer of its own by the same names
 * (agent/json.h) and links only the parser (json.c, agent/ctrmeta_rt.c reads container
 * runtimes' JSON).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collector/json.h"

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

void jb_json_utf8(struct jbuf *b, const char *s, size_t n)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0, l;
	while (i < n) {
		size_t j = i;
		while (j < n && (l = json_utf8_len(u + j, n - j)))
			j += l;
		jb_raw(b, s + i, j - i);
		if (j < n)
			jb_printf(b, "\\u00%02x", u[j++]);
		i = j;
	}
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
