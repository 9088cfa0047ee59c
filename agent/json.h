/* json.h - a small append-only JSON writer for event lines.
 *
 * Strings come from untrusted processes and may hold any bytes. jb_str() always produces valid
 * JSON and keeps the bytes recoverable: valid UTF-8 is copied as is, control characters are
 * escaped, and every byte that is not part of valid UTF-8 becomes \u00XX (XX >= 80). Since a
 * valid character >= U+0080 is never written as an escape, in the JSON text "\u00XX" with
 * XX >= 80 always stands for one raw byte.
 */
#ifndef HW_AGENT_JSON_H
#define HW_AGENT_JSON_H
#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include <string.h>

struct jbuf {
	char *p;
	size_t len, cap;
	bool comma; /* a value was written at this nesting level */
	bool oom;   /* an allocation failed: the line is incomplete and must be dropped */
};

void jb_init(struct jbuf *b, size_t cap);
void jb_free(struct jbuf *b);
void jb_reset(struct jbuf *b);
void jb_raw(struct jbuf *b, const char *s, size_t n);
void jb_obj_begin(struct jbuf *b);            /* { */
void jb_obj_end(struct jbuf *b);              /* } */
void jb_arr_begin(struct jbuf *b);            /* [ */
void jb_arr_end(struct jbuf *b);              /* ] */
void jb_key_n(struct jbuf *b, const char *key, size_t n);
void jb_str(struct jbuf *b, const char *s, size_t n); /* escaped string value */
void jb_u64(struct jbuf *b, uint64_t v);
void jb_i64(struct jbuf *b, int64_t v);
void jb_bool_slow(struct jbuf *b, bool v);
void jb_null_slow(struct jbuf *b);

/* Inline (with the buffer's room checked once) so that a literal key or value is a few stores:
 * keys and small values are most of an event's bytes. Fields are read before the first store
 * (a store through char * could alias them). */
static inline void jb_key(struct jbuf *b, const char *key) /* "key": (key is trusted ASCII) */
{
	size_t n = __builtin_strlen(key), len = b->len;
	char *p = b->p;
	bool comma = b->comma;
	if (__builtin_expect(len + n + 4 > b->cap, 0)) {
		jb_key_n(b, key, n);
		return;
	}
	char *o = p + len;
	*o = ',';
	o += comma;
	*o++ = '"';
	memcpy(o, key, n);
	o += n;
	*o++ = '"';
	*o++ = ':';
	b->len = o - p;
	b->comma = false; /* the value follows without a separator */
}
static inline void jb_bool(struct jbuf *b, bool v)
{
	size_t len = b->len;
	char *p = b->p;
	bool comma = b->comma;
	if (__builtin_expect(len + 6 > b->cap, 0)) {
		jb_bool_slow(b, v);
		return;
	}
	char *o = p + len;
	*o = ',';
	o += comma;
	if (v)
		memcpy(o, "true", 4);
	else
		memcpy(o, "false", 5);
	b->len = o + (v ? 4 : 5) - p;
	b->comma = true;
}
static inline void jb_null(struct jbuf *b)
{
	size_t len = b->len;
	char *p = b->p;
	bool comma = b->comma;
	if (__builtin_expect(len + 5 > b->cap, 0)) {
		jb_null_slow(b);
		return;
	}
	char *o = p + len;
	*o = ',';
	o += comma;
	memcpy(o, "null", 4);
	b->len = o + 4 - p;
	b->comma = true;
}
/* A string the agent itself made (names, numbers, addresses): printable ASCII without '"' or
 * '\\', copied without scanning. Never for bytes that come from a process or the kernel. */
void jb_trusted_n(struct jbuf *b, const char *s, size_t n);
static inline void jb_ktrusted(struct jbuf *b, const char *k, const char *s)
{
	jb_key(b, k);
	if (s)
		jb_trusted_n(b, s, __builtin_strlen(s));
	else
		jb_null(b);
}
/* escaped string value, or null if s is NULL */
static inline void jb_cstr(struct jbuf *b, const char *s)
{
	if (s)
		jb_str(b, s, __builtin_strlen(s));
	else
		jb_null(b);
}

/* key + value shorthands */
static inline void jb_kstr(struct jbuf *b, const char *k, const char *s, size_t n)
{
	jb_key(b, k);
	jb_str(b, s, n);
}
static inline void jb_kcstr(struct jbuf *b, const char *k, const char *s)
{
	jb_key(b, k);
	jb_cstr(b, s);
}
static inline void jb_ku64(struct jbuf *b, const char *k, uint64_t v)
{
	jb_key(b, k);
	jb_u64(b, v);
}
static inline void jb_ki64(struct jbuf *b, const char *k, int64_t v)
{
	jb_key(b, k);
	jb_i64(b, v);
}
static inline void jb_kbool(struct jbuf *b, const char *k, bool v)
{
	jb_key(b, k);
	jb_bool(b, v);
}

/* Length of the valid UTF-8 sequence at s (1-4), or 0 if s[0] does not start one. */
size_t utf8_seq_len(const unsigned char *s, size_t n);

#endif
