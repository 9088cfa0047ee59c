/* probes_cand.h - the candidate grammar of common/probes.def, shared by the loader
 * (agent/probes.c) and the manifest (agent/probes_manifest.c): a candidate is elements joined
 * by '+', an element a program name or "prog@category/name". */
#ifndef HW_PROBES_CAND_H
#define HW_PROBES_CAND_H

#include <stdbool.h>

/* One element of a candidate: name is the whole element, prog its program, tp the tracepoint
 * after '@' ("category/name", pointing into name) or NULL. */
struct cand_elem {
	char name[160];
	char prog[64];
	const char *tp;
};

/* The next element of the candidate at *c, which is moved past it; false at its end. */
bool probes_cand_next(const char **c, struct cand_elem *e);

#endif
