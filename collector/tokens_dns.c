// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * tokens_dns.c - the domain of a DNS query for its herd token (tokens_int.h): Kubernetes service
 * names, else the registrable domain by the Public Suffix List (libpsl), loaded once by
 * tokens_psl_init (tokens.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <libpsl.h>

#include "collector/tokens.h"
#include "collector/tokens_int.h"

/* Tokens are bounded text: truncating an over-long path in them is intended. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wformat-truncation"
#endif

/* The Public Suffix List in use (tokens_psl_init), NULL for none. */
static const psl_ctx_t *psl;
static psl_ctx_t *psl_file;

int tokens_psl_init(const char *file, int no_builtin, char *why, size_t cap)
{
	psl_free(psl_file);
	psl_file = NULL;
	psl = NULL;
	if (!file)
		file = TOKENS_PSL_FILE;
	errno = 0;
	FILE *f = fopen(file, "r");
	const char *err = f ? NULL : strerror(errno);
	psl_ctx_t *l = f ? psl_load_fp(f) : NULL;
	if (f)
		fclose(f);
	/* psl_load_fp takes any text for rules: a list that does not know co.uk is not one */
	if (l && !psl_is_public_suffix2(l, "co.uk", PSL_TYPE_ICANN | PSL_TYPE_NO_STAR_RULE)) {
		psl_free(l);
		l = NULL;
	}
	if (l) {
		psl = psl_file = l;
		snprintf(why, cap, "public suffix list %s", file);
		return TOKENS_PSL_FILE_OK;
	}
	if (!err)
		err = "not a public suffix list";
	psl = no_builtin ? NULL : psl_builtin();
	if (psl) {
		char day[32] = "?";
		time_t t = psl_builtin_file_time();
		struct tm tm;
		if (gmtime_r(&t, &tm))
			strftime(day, sizeof(day), "%Y-%m-%d", &tm);
		snprintf(why, cap,
			 "public suffix list %s: %s; dns tokens use libpsl's built-in list (of %s)",
			 file, err, day);
		return TOKENS_PSL_BUILTIN;
	}
	snprintf(why, cap,
		 "public suffix list %s: %s, and libpsl has no built-in list; dns tokens keep the "
		 "last two labels of a name",
		 file, err);
	return TOKENS_PSL_NONE;
}

/* Label i of a name whose real dots are at dot[0..nd-1]: its start, and its length. */
static size_t label_at(const size_t *dot, int nd, size_t len, int i, size_t *l)
{
	size_t b = i ? dot[i - 1] + 1 : 0;
	*l = (i < nd ? dot[i] : len) - b;
	return b;
}

static int label_is(const char *s, const size_t *dot, int nd, size_t len, int i, const char *w)
{
	size_t l, b = label_at(dot, nd, len, i, &l);
	return l == strlen(w) && !memcmp(s + b, w, l);
}

/* Labels of a name handed to libpsl: the longest rule of the list has 5 (wildcards counted),
 * so the registrable domain has at most 6; more labels only cost lookups. */
#define DNS_PSL_LABELS 8

/*
 * The domain of a DNS query for its token: what the name's owner chose, not the random or
 * per-instance labels under it (docs/collector.md "Tokens"). The query is in presentation
 * form (docs/events-net.md): "\." inside a label is no separator. Lowercased (resolvers may
 * randomise case), a final dot dropped, then:
 *   Kubernetes: <service>.<namespace>.svc.cluster.local (what is in front of the service, a
 *     pod's name or an SRV prefix, is dropped), <namespace>.pod.cluster.local, and one label
 *     in front of cluster.local for any other name under it;
 *   else the registrable domain by the Public Suffix List (example.co.uk, x.github.io; under
 *     a TLD the list does not know, such as .local or .internal, the last two labels); a name
 *     that has none (itself a public suffix: co.uk, github.io, a single label) is kept whole;
 *   without a list (tokens_psl_init found none): the last two labels.
 */
void tokens_dns_domain(const char *q, char *out, size_t cap)
{
	char s[TOKEN_MAX];
	size_t dot[TOKEN_MAX], len = 0;
	int nd = 0;
	for (size_t i = 0; q[i] && len + 2 < sizeof(s); i++) {
		char c = q[i];
		if (c == '\\' && q[i + 1]) {
			s[len++] = c;
			c = q[++i];
		} else if (c == '.') {
			dot[nd++] = len;
		}
		s[len++] = c >= 'A' && c <= 'Z' ? (char)(c + 32) : c;
	}
	if (nd && dot[nd - 1] == len - 1) /* the root's dot */
		len = dot[--nd];
	s[len] = 0;
	int nl = nd + 1, keep = 0;
	if (nl >= 3 && label_is(s, dot, nd, len, nl - 1, "local") &&
	    label_is(s, dot, nd, len, nl - 2, "cluster")) {
		if (label_is(s, dot, nd, len, nl - 3, "svc"))
			keep = 5;
		else if (label_is(s, dot, nd, len, nl - 3, "pod"))
			keep = 4;
		else
			keep = 3;
	} else if (!psl) {
		keep = 2;
	}
	size_t l, b;
	if (keep) {
		b = label_at(dot, nd, len, nl > keep ? nl - keep : 0, &l);
	} else {
		b = label_at(dot, nd, len, nl > DNS_PSL_LABELS ? nl - DNS_PSL_LABELS : 0, &l);
		const char *r = psl_registrable_domain(psl, s + b);
		if (r) {
			/* libpsl splits at every dot: start at the label "\." was inside of */
			size_t at = (size_t)(r - s);
			int i = nl - 1;
			while (i > 0 && dot[i - 1] + 1 > at)
				i--;
			b = label_at(dot, nd, len, i, &l);
		}
	}
	snprintf(out, cap, "%s", s + b);
}
