// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * tokens_canon.c - the canonical form of a path in a herd token (tokens_int.h): what makes a
 * member, build or release unique (digit runs, hashes, versions, stamps, container roots) is
 * replaced by <n>, <v>, #, * so that siblings of a herd give the same token. One pass, no
 * allocation: it runs for every event that carries a path.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collector/tokens.h"
#include "collector/tokens_int.h"

/* Tokens are bounded text: truncating an over-long path in them is intended. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wformat-truncation"
#endif

static int is_alpha(char c)
{
	return (unsigned)((c | 32) - 'a') < 26;
}

static int is_alnum(char c)
{
	return is_digit(c) || is_alpha(c);
}

static size_t digits(const char *s)
{
	size_t n = 0;
	while (is_digit(s[n]))
		n++;
	return n;
}

static int is_hexish(const char *s, size_t n)
{
	if (n < 12)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!strchr("0123456789abcdefABCDEF-", s[i]))
			return 0;
	return 1;
}

/* A Nix (or Guix) store entry, <32 characters of Nix's base32>-<name>: the hash changes with
 * every build of the same name. */
static int is_store_hash(const char *s, size_t n)
{
	if (n < 34 || s[32] != '-')
		return 0;
	for (int i = 0; i < 32; i++)
		if (!is_digit(s[i]) && !(s[i] >= 'a' && s[i] <= 'z' && !strchr("eotu", s[i])))
			return 0;
	return 1;
}

/* After a version: '.' + number groups (the 11 of 3.11); counts them. */
static size_t dotted(const char *s, int *groups)
{
	size_t n = 0;
	while (s[n] == '.' && is_digit(s[n + 1])) {
		n += 1 + digits(s + n + 1);
		(*groups)++;
	}
	return n;
}

/* A pre-release or release word that may follow a version (1.2.3-rc1, 3.12.0a7, 2.0-SNAPSHOT,
 * 1.8.0.292.b10): its length when a digit or the end of the word follows, else 0. "a" and "b"
 * only with a digit (1.2-bin is not a beta). */
static size_t pre_word(const char *s)
{
	static const char *const w[] = {"alpha", "beta",     "rc",    "pre", "dev",
					"post",  "snapshot", "final", "a",   "b"};
	for (size_t i = 0; i < sizeof(w) / sizeof(w[0]); i++) {
		size_t l = strlen(w[i]);
		if (strncasecmp(s, w[i], l))
			continue;
		if (is_digit(s[l]) || (l > 1 && !is_alnum(s[l])))
			return l;
	}
	return 0;
}

/* The version at s (the start of a number), its length, or 0: two or more dot-joined numbers
 * (2.5.0, the 3.11 of python3.11, 1.8.0) and what may follow them: a pre-release (-rc1, a7,
 * .b10) and revision or update numbers (-44 of glibc-2.38-44, _292 of 1.8.0_292). It must end
 * where a word does (1.2x is no version). */
static size_t version_len(const char *s)
{
	int groups = 1;
	size_t n = digits(s);
	n += dotted(s + n, &groups);
	if (groups < 2)
		return 0;
	for (;;) {
		size_t t = n + (s[n] && strchr("-+~._", s[n]) ? 1 : 0);
		size_t w = pre_word(s + t);
		if (!w && (t == n || !is_digit(s[t])))
			break;
		t += w;
		size_t d = digits(s + t);
		d += dotted(s + t + d, &groups);
		if (is_alnum(s[t + d])) /* 1.2-3rd: not a revision */
			break;
		n = t + d;
	}
	return is_alnum(s[n]) ? 0 : n;
}

/* A number of 4+ digits and what continues it as a date or build stamp: 20261206T101500,
 * 2026-12-06_10-15-00, 2026-12-06T10:15:00Z. */
static size_t stamp_len(const char *s)
{
	size_t n = digits(s);
	while (s[n] && strchr("-_.:T", s[n]) && is_digit(s[n + 1]))
		n += 1 + digits(s + n + 1);
	if (s[n] == 'Z' && !is_alnum(s[n + 1]))
		n++;
	return n;
}

static size_t put(char *out, size_t o, size_t cap, const char *s, size_t n)
{
	if (n > cap - 1 - o)
		n = cap - 1 - o;
	memcpy(out + o, s, n);
	return o + n;
}

/*
 * Canonical path: what differs between members, builds or releases of the same program is
 * replaced, so that they show the same token (a release directory must not make every token
 * of a deploy new), while names stay apart:
 *   the container id            -> <ctr>
 *   hex ids (12+), tmp.XXXX, the hash of a Nix/Guix store entry (/nix/store/HASH-app-1.2)
 *                               -> *
 *   numbers of 4+ digits, with what makes them a date or build stamp (20261206T101500,
 *   2026-12-06_10-15), and path components that are a number (/snap/x/17, /proc/1)
 *                               -> #
 *   versions                    -> <v>: two or more dot-joined numbers with a pre-release or
 *     revision after them (2.5.0, 1.2.3-rc1, glibc-2.38-44, python3.11 -> python<v>), with a
 *     leading v (v1.2.3); a component v<number> (/opt/app/v2/); a number of 1-3 digits after
 *     a word and a hyphen, inside a name or ending a directory (java-17-openjdk-amd64,
 *     llvm-14/).
 * A number that is part of a name (sshd, md5sum, x86_64-linux-gnu, ld-linux-x86-64.so.2,
 * libc.so.6, python3) is kept, and so is one that ends a file name after a hyphen (tool-5,
 * gcc-12, dm-0: more often one of several side by side than a release). One pass, no
 * allocation: it runs for every event. rel (NULL: not wanted) gets the release the path
 * named: the text of what became <v> or # and the first 12 characters of a store hash, joined
 * by commas (/opt/shop/2.42.0/bin/shop-web: "2.42.0").
 */
static void rel_add(char *rel, size_t relcap, const char *s, size_t n)
{
	if (!rel)
		return;
	size_t o = strlen(rel);
	if (o && o + 1 < relcap)
		rel[o++] = ',';
	if (n > relcap - 1 - o)
		n = relcap - 1 - o;
	memcpy(rel + o, s, n);
	rel[o + n] = 0;
}

void tokens_canon_rel(const char *in, const char *ctr, char *out, size_t cap, char *rel,
		      size_t relcap)
{
	if (rel)
		rel[0] = 0;
	size_t o = 0, clen = ctr ? strlen(ctr) : 0;
	const char *p = in;
	const char *plain = in; /* up to here, numbers are not taken for versions (a failed one) */
	while (*p && o + 8 < cap) {
		if (clen >= 4 && strncmp(p, ctr, clen) == 0) {
			memcpy(out + o, "<ctr>", 5);
			o += 5;
			p += clen;
			continue;
		}
		int start = p == in || p[-1] == '/';
		if (start) {
			size_t n = strcspn(p, "/");
			if (is_hexish(p, n) || (n >= 9 && strncmp(p, "tmp.", 4) == 0)) {
				out[o++] = '*';
				p += n;
				continue;
			}
			if (is_store_hash(p, n)) {
				out[o++] = '*';
				rel_add(rel, relcap, p, 12);
				p += 32;
				continue;
			}
		}
		/* a v before a number, where a word starts (v1.2.3, app-v2; not dev1.2) */
		int vee = (*p == 'v' || *p == 'V') && is_digit(p[1]) && (start || !is_alnum(p[-1]));
		const char *d = p + vee;
		if (!is_digit(*d)) {
			out[o++] = *p++;
			continue;
		}
		size_t nd = digits(d), n;
		if (d < plain) {
			/* within a failed version: numbers as numbers */
		} else if (!vee && nd >= 4) {
			out[o++] = '#';
			rel_add(rel, relcap, d, stamp_len(d));
			p = d + stamp_len(d);
			continue;
		} else if ((n = version_len(d)) ||
			   (start && (!d[nd] || d[nd] == '/') && vee && (n = nd)) ||
			   (!vee && nd <= 3 && p - in >= 2 && p[-1] == '-' && is_alpha(p[-2]) &&
			    d[nd] && strchr("-_/", d[nd]) && (n = nd))) {
			o = put(out, o, cap, "<v>", 3);
			rel_add(rel, relcap, d, n);
			p = d + n;
			continue;
		} else if (start && (!d[nd] || d[nd] == '/')) {
			out[o++] = '#';
			rel_add(rel, relcap, d, nd);
			p = d + nd;
			continue;
		} else {
			int g = 0;
			plain = d + nd + dotted(d + nd, &g);
		}
		if (vee) {
			out[o++] = *p++;
			continue;
		}
		if (nd >= 4) {
			out[o++] = '#';
			p += nd;
			continue;
		}
		o = put(out, o, cap, p, nd);
		p += nd;
	}
	out[o] = 0;
}

void tokens_canon(const char *in, const char *ctr, char *out, size_t cap)
{
	tokens_canon_rel(in, ctr, out, cap, NULL, 0);
}
