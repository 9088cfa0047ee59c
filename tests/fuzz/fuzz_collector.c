// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * libFuzzer target for everything the collector parses from an agent: the frame header, the
 * BATCH payload, its zstd content and every JSON line in it (then token extraction), plus the
 * input taken directly as one JSON event.
 *   make fuzz-collector && build/fuzz/fuzz_collector -max_total_time=60 tests/fuzz/corpus/collector
 * The corpus holds the hostile inputs of issue 15 (duplicate keys, \u0000 in identifiers,
 * invalid UTF-8, lone surrogates, 1e2 and 3002.7 as seqs and pids) next to a valid event.
 * Duplicate keys are checked against a slow reference (every pair of keys, unescaped).
 * Crashes found stay as regression cases in tests/collector/unit.c.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "collector/json.h"
#include "collector/tokens.h"
#include "common/wire.h"

static struct jtok toks[8192];
static char out[HW_WIRE_MAX_RAW];

/* Some object of the parsed text has two equal keys (after unescaping), found the slow way:
 * every pair of keys of every object, each unescaped in full. */
static int has_dup_key(const struct jdoc *d)
{
	static char a[65536], b[65536];
	for (int o = 0; o < d->n; o++) {
		if (d->t[o].type != J_OBJ)
			continue;
		for (int i = o + 1; i < (int)d->t[o].next; i = (int)d->t[i + 1].next) {
			int la = json_str(d, i, a, sizeof(a));
			for (int j = (int)d->t[i + 1].next; j < (int)d->t[o].next;
			     j = (int)d->t[j + 1].next) {
				int lb = json_str(d, j, b, sizeof(b));
				if (la == lb && !memcmp(a, b, (size_t)la))
					return 1;
			}
		}
	}
	return 0;
}

static void one_event(const char *s, size_t n)
{
	int why;
	uint32_t at;
	int ns = json_parse_strict(s, n, toks, 8192, &why, &at);
	if (ns < 0 && why != JSON_E_SYNTAX && at > n)
		__builtin_trap(); /* the offset of a refused string lies in the text */
	int nt = json_parse(s, n, toks, 8192);
	if (ns >= 0 && nt != ns)
		__builtin_trap(); /* strict accepts a subset of what json_parse accepts */
	if (nt > 0 && n < 60000) {
		/* strict refuses duplicate keys exactly: none in what it accepts, one at least in
		 * what it refuses for them (the slow check, on the lenient parse) */
		struct jdoc dd = {s, toks, nt};
		int dup = has_dup_key(&dd);
		if ((ns >= 0 && dup) || (ns < 0 && why == JSON_E_DUP_KEY && !dup))
			__builtin_trap();
	}
	if (nt <= 0 || toks[0].type != J_OBJ)
		return;
	struct jdoc d = {s, toks, nt};
	struct ev_info ev;
	char tk[EV_MAX_TOKENS][TOKEN_MAX];
	ev_extract(&d, 0, &ev, tk);
}

/* dns tokens through the Public Suffix List, as in the collector */
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char why[1024];
	tokens_psl_init(NULL, 0, why, sizeof(why));
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	one_event((const char *)data, size);
	struct hw_frame_hdr h;
	if (size < HW_WIRE_HDR_LEN || hw_wire_parse_hdr(data, &h) || h.len > size - HW_WIRE_HDR_LEN)
		return 0;
	struct hw_batch b;
	if (h.type != HW_FRAME_BATCH) {
		struct hw_ack a;
		hw_wire_parse_ack(data + HW_WIRE_HDR_LEN, h.len, &a);
		return 0;
	}
	if (hw_wire_parse_batch(h.version, data + HW_WIRE_HDR_LEN, h.len, &b) ||
	    hw_wire_batch_decompress(&b, NULL, out, sizeof(out)))
		return 0;
	for (char *l = out, *e = out + b.raw_len; l < e;) {
		char *nl = memchr(l, '\n', (size_t)(e - l));
		one_event(l, (size_t)(nl - l));
		l = nl + 1;
	}
	return 0;
}
