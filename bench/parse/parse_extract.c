// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * parse_extract.c - the collector's per-event CPU on ingest without TLS, zstd or SQLite: each
 * line of a recorded agent stream (JSON Lines) is parsed the way collector/main.c parses it
 * (json_parse_strict; json_parse with -DHW_PARSE_LAX, for trees that predate it) and passed
 * to ev_extract. Built and run by bench/parse_extract.sh.
 *
 *   parse_extract FILE.jsonl PASSES    prints "<CPU ns per event> <events> <tokens>"
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "collector/json.h"
#include "collector/tokens.h"

#define MAX_TOKS 4096

/* CPU time, not wall time: on a shared machine the time the process waits for a CPU is not
 * the parser's */
static double now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: %s FILE.jsonl PASSES\n", argv[0]);
		return 2;
	}
	FILE *f = fopen(argv[1], "r");
	if (!f) {
		perror(argv[1]);
		return 1;
	}
	static char text[64 << 20];
	size_t len = fread(text, 1, sizeof(text), f);
	fclose(f);
	int passes = atoi(argv[2]);
	static struct jtok toks[MAX_TOKS];
	static char tok[EV_MAX_TOKENS][TOKEN_MAX];
	struct ev_info ev;
	long events = 0, ntok = 0, bad = 0;
	double t0 = now_ns();
	for (int p = 0; p < passes; p++) {
		for (char *line = text, *end = text + len; line < end;) {
			char *nl = memchr(line, '\n', (size_t)(end - line));
			size_t l = nl ? (size_t)(nl - line) : (size_t)(end - line);
#ifdef HW_PARSE_LAX
			int n = json_parse(line, l, toks, MAX_TOKS);
#else
			int why;
			uint32_t at;
			int n = json_parse_strict(line, l, toks, MAX_TOKS, &why, &at);
#endif
			struct jdoc d = {line, toks, n};
			int nt = n > 0 && toks[0].type == J_OBJ ? ev_extract(&d, 0, &ev, tok) : -1;
			if (nt < 0)
				bad++;
			else
				ntok += nt;
			events++;
			line += l + 1;
		}
	}
	double t1 = now_ns();
	printf("%.1f %ld %ld\n", (t1 - t0) / (double)events, events, ntok);
	if (bad)
		fprintf(stderr, "parse_extract: %ld events not parsed\n", bad);
	return bad ? 1 : 0;
}
