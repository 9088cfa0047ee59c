/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * tokens_int.h - what the token builder (tokens.c) shares with its path canonicaliser
 * (tokens_canon.c) and its DNS domain rule (tokens_dns.c). Not for other files: tokens.h is
 * the interface.
 */
#ifndef HW_TOKENS_INT_H
#define HW_TOKENS_INT_H

#include <stddef.h>

static inline int is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* in (a path; ctr: the container root prefix to strip, or NULL) in canonical form into out;
 * rel (NULL: not wanted) gets the release text the path named, comma-separated. */
void tokens_canon_rel(const char *in, const char *ctr, char *out, size_t cap, char *rel,
		      size_t relcap);
void tokens_canon(const char *in, const char *ctr, char *out, size_t cap);
/* The registrable domain (or Kubernetes service) of a DNS query name in presentation form. */
void tokens_dns_domain(const char *q, char *out, size_t cap);

#endif
