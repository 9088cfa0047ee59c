/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * json.h - a small strict JSON parser for the collector (events from agents are hostile input).
 *
 * json_parse() validates the whole text (RFC 8259 grammar, depth <= JSON_MAX_DEPTH, no trailing
 * bytes) and fills a flat array of tokens in document order, without allocating. A token's
 * `next` is the index just past its subtree, so siblings are walked without recursion.
 * Strings keep their escaped form (start/end exclude the quotes); json_str() unescapes.
 */
#ifndef HW_COLLECTOR_JSON_H
#define HW_COLLECTOR_JSON_H

#include <stddef.h>
#include <stdint.h>

#define JSON_MAX_DEPTH 64

enum json_type { J_OBJ = 1, J_ARR, J_STR, J_NUM, J_TRUE, J_FALSE, J_NULL };

struct jtok {
	uint8_t type;
	uint8_t has_esc;     /* string contains a backslash escape */
	uint32_t start, end; /* byte range in the text (strings: inside the quotes) */
	uint32_t size;       /* objects: number of keys; arrays: number of elements */
	uint32_t next;       /* index of the token after this subtree */
};

struct jdoc {
	const char *s;
	struct jtok *t;
	int n;
};

/* Parse len bytes of s into toks (capacity max). Returns the token count, or -1 when the text
 * is not one valid JSON value or needs more than max tokens. */
int json_parse(const char *s, size_t len, struct jtok *toks, int max);

/* Reasons json_parse_strict refuses a text. */
enum { JSON_E_SYNTAX = 1, JSON_E_DUP_KEY, JSON_E_UTF8 };

/* json_parse plus what the collector requires of agent input beyond RFC 8259: no object has two
 * equal keys (compared after unescaping), and every string is valid UTF-8 (no invalid raw
 * byte, no escaped lone surrogate; the agent writes a byte of no valid sequence as \u00XX).
 * Returns the token count, or -1 with *why = JSON_E_* and *at = the byte offset of the
 * offending string (for JSON_E_SYNTAX: 0). */
int json_parse_strict(const char *s, size_t len, struct jtok *toks, int max, int *why,
		      uint32_t *at);
/* Length (1-4) of the valid UTF-8 sequence at s (n > 0 bytes available), 0 when none. */
size_t json_utf8_len(const unsigned char *s, size_t n);

/* Index of member `key` of the object at index obj, or -1. */
int json_get(const struct jdoc *d, int obj, const char *key);
/* Look up n (<= 32) keys of obj in one pass; out[k] = value index or -1. */
void json_get_many(const struct jdoc *d, int obj, const char *const *keys, int n, int *out);
/* The same with the keys prepared once (length and first 8 bytes of each, which are compared
 * before any memcmp): for lookups made for every event. */
#define JSON_KEYS_MAX 32
struct json_keys {
	int n;
	const char *const *keys;
	uint32_t len[JSON_KEYS_MAX];
	uint64_t w[JSON_KEYS_MAX];
};
void json_keys_init(struct json_keys *ks, const char *const *keys, int n);
void json_get_keys(const struct jdoc *d, int obj, const struct json_keys *ks, int *out);
/* Dotted path from obj, e.g. "proc.container.herd"; -1 when absent. */
int json_path(const struct jdoc *d, int obj, const char *path);
/* Unescape string token i into buf (NUL-terminated, truncated to cap-1); returns length, or -1
 * when i is not a string. \u escapes become UTF-8. */
int json_str(const struct jdoc *d, int i, char *buf, size_t cap);
/* Integer value of number token i: an integer in the range of long long, no fraction and no
 * exponent ("1e2" and "3.0" are not integers); otherwise 0 and *ok = 0. */
long long json_int(const struct jdoc *d, int i, int *ok);
/* Compare string token i with the NUL-terminated string v (exact, after unescaping). */
int json_streq(const struct jdoc *d, int i, const char *v);

/* Append s (len bytes) as a JSON string literal (quotes included) to buf; returns bytes needed.
 * Control bytes and bytes of no valid UTF-8 sequence are written as \u00XX. */
size_t json_quote(char *buf, size_t cap, const char *s, size_t len);

#ifndef HW_JSON_PARSE_ONLY
/* Growable output buffer for building JSON. On allocation failure `oom` is set and further
 * appends are ignored. */
struct jbuf {
	char *p;
	size_t len, cap;
	int oom;
};
void jb_raw(struct jbuf *b, const char *s, size_t n);
void jb_puts(struct jbuf *b, const char *s);
void jb_printf(struct jbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void jb_str(struct jbuf *b, const char *s); /* quoted, escaped */
void jb_strn(struct jbuf *b, const char *s, size_t n);
/* Append JSON text, each byte of no valid UTF-8 sequence as \u00XX (valid JSON stays valid:
 * such bytes can only be inside strings). */
void jb_json_utf8(struct jbuf *b, const char *s, size_t n);
#endif /* HW_JSON_PARSE_ONLY */
#endif
