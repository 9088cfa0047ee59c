/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * tokens.h - from one event (parsed JSON) to its member, herd and canonical herd tokens.
 *
 * Tokens (DESIGN.md "Herds") strip what makes every member, build or release unique: pids,
 * ephemeral ports, container ids, long digit runs, random-looking path components, versions
 * in paths, the labels of a DNS name under its registrable domain (docs/collector.md "Tokens").
 *   exec|<exe>|parent=<exe>|user=<root/service/other>[|setuid][|fileless]
 *   listen|<exe>|<proto>/<port>      connect|<exe>|<proto>/<port>|<loopback/private/public>
 *   accept|<exe>|<proto>/<port>|<class of the peer>
 *   cap|<exe>|CAP_...   module|<name>   dns|<exe>|<registrable domain>
 *   auth|<exe>|<service>|by=<root/service/other: real uid>|as=<root/user: target>|<result>
 *   file|<exe>|<op>|<watch rule or canonical path>   and kind|<exe> for the other kinds.
 * Inventory (what a member carries): inv_listen|<exe>|<proto>/<port>|<any/loopback/...>
 *   inv_module|<name>  inv_setid|<path>|<setuid/setgid>|owner=<class>  inv_key|<user>|<SHA256:..>
 *   inv_cron|<path>|<sha256 prefix>  inv_unit|<unit>|<scope>|<wanted by>  inv_preload|<path>
 *   inv_uid0|<account>
 */
#ifndef HW_TOKENS_H
#define HW_TOKENS_H

#include <stdint.h>

#include "collector/json.h"

#define TOKEN_MAX 512
#define EV_MAX_TOKENS 2

struct ev_info {
	char kind[64];
	char host[128];         /* host.name (or host.id) */
	char host_herd[128];    /* host.herd, may be empty */
	char member[320];       /* host, or host/container-id */
	char herd[128];         /* herd of the member, may be empty */
	char host_version[128]; /* host.version, may be empty */
	char version[128];      /* version of the member (container.version or host.version), may be
				   empty */
	char exe_release[96];   /* process.exec: the release its exe's path named (canon: the
				   version text that became <v>, #, *), "" when none */
	int in_container;
	long long seq;
	uint64_t ts_ns; /* event time, 0 when missing or unparsable */
	/* The first field that breaks the event contract, which the collector refuses on ingest:
	 * an integer field (seq, pids, uids, ports) present and not null but not an integer
	 * (EV_BAD_INT: "5", 1e2, 3002.7, out of range), or \u0000 in an identifier (EV_BAD_NUL:
	 * kind, host name/id/herd/version, container id/herd/version). NULL when none. */
	const char *bad;
	int bad_why;
};

enum { EV_BAD_INT = 1, EV_BAD_NUL };

/* Every kind of herd token, one row each (tokens.c): the prefix (the token's first field), the
 * event kinds it is built from, and how an alert words it. In the wording, {N} is the token's
 * field N (0 is the prefix), {N=} that field without its "label=", {N@} the same as a user
 * class in words ("a service account"), {N*} ", " and every field from N on when there are any.
 * A kind that ev_extract builds without a row here fails tests/collector/unit.c
 * (test_token_kinds). */
struct token_kind {
	const char *prefix;
	const char *events;
	const char *wording;
	const char *older; /* the wording of an older, shorter shape of the token, or NULL */
};
extern const struct token_kind token_kinds[]; /* ends with a NULL prefix */
/* The row of a token's kind, NULL when it has none. */
const struct token_kind *token_kind_of(const char *token);
/* A token in words, from its kind's row; "showed TOKEN" for a token of no known kind or with
 * fewer fields than its wording names (an older token shape, from a snapshot). */
void tokens_describe(const char *token, char *out, size_t n);

/* Fill ev and up to EV_MAX_TOKENS tokens from the event object at index root.
 * Returns the number of tokens (0 for kinds that carry none, e.g. heartbeats), -1 when the
 * object lacks a seq (or its seq is not an integer: ev->bad = "seq"). */
int ev_extract(const struct jdoc *d, int root, struct ev_info *ev, char tok[][TOKEN_MAX]);

/* Tokens of inventory.* events (inv_*): what a member carries, reported at the agent's start
 * and again every few hours, rather than something it did. */
int token_is_inventory(const char *token);

/* The Public Suffix List of dns tokens, loaded once at start before the first ev_extract (no
 * lookup per event): from file (NULL: TOKENS_PSL_FILE, Debian's package publicsuffix), else
 * libpsl's built-in list (unless no_builtin: for tests), else none, when dns tokens keep the
 * last two labels of a name. Returns which; why gets a line for the log saying so. Until it
 * is called there is no list. */
#define TOKENS_PSL_FILE "/usr/share/publicsuffix/public_suffix_list.dat"
enum { TOKENS_PSL_FILE_OK, TOKENS_PSL_BUILTIN, TOKENS_PSL_NONE };
int tokens_psl_init(const char *file, int no_builtin, char *why, size_t cap);

/* RFC 3339 UTC ("2026-11-27T10:00:00.123456789Z") to ns since the epoch; 0 on error. */
uint64_t parse_rfc3339(const char *s, size_t n);

#endif
