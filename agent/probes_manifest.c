/* probes_manifest.c - what the probes are and how they are attached, for the outside: the
 * candidate grammar's parser (probes_cand_next, agent/probes_cand.h) and the manifest
 * (probes_json), one object per probe: its state (attached, unavailable, disabled), the hook
 * of the candidate it runs on, why it is not attached, and in the verbose form the section of
 * each attached program. The startup line, "ctl probes" and the heartbeat print it; the
 * choice of candidates is agent/probes.c's. */
#include "agent/agent.h"
#include "agent/probes_cand.h"
#include "herdwatch.skel.h"
#include <bpf/libbpf.h>
#include <stdio.h>
#include <string.h>

/* One element: name is the whole element, prog its program, tp the tracepoint after '@'. */
bool probes_cand_next(const char **c, struct cand_elem *e)
{
	size_t n = strcspn(*c, "+"), pl;
	char *at;
	if (!**c)
		return false;
	snprintf(e->name, sizeof(e->name), "%.*s", (int)n, *c);
	*c += n + ((*c)[n] == '+');
	at = strchr(e->name, '@');
	pl = at ? (size_t)(at - e->name) : strlen(e->name);
	snprintf(e->prog, sizeof(e->prog), "%.*s", (int)pl, e->name);
	e->tp = at ? at + 1 : NULL;
	return true;
}

static const char *state_name(enum hw_probe_state s)
{
	switch (s) {
	case PROBE_ATTACHED:
		return "attached";
	case PROBE_UNAVAILABLE:
		return "unavailable";
	default:
		return "disabled";
	}
}

/* The hooks of the attached candidate, as "SECTION" of each program ("fexit/__x64_sys_openat",
 * "tp_btf/sched_process_exec") or "tracepoint/CAT/NAME" for a prog@CAT/NAME element: what
 * bench/floor.sh puts empty programs on. */
static void attach_json(struct agent *a, struct jbuf *b, const struct hw_probe *p)
{
	struct cand_elem e;
	char buf[160];
	jb_key(b, "attach");
	jb_arr_begin(b);
	for (const char *c = p->cand; c && probes_cand_next(&c, &e);) {
		struct bpf_program *prog = bpf_object__find_program_by_name(a->skel->obj, e.prog);
		if (e.tp)
			snprintf(buf, sizeof(buf), "tracepoint/%s", e.tp);
		else
			snprintf(buf, sizeof(buf), "%s",
				 prog ? bpf_program__section_name(prog) : e.prog);
		jb_cstr(b, buf);
	}
	jb_arr_end(b);
}

void probes_json(struct agent *a, struct jbuf *b, bool verbose)
{
	jb_obj_begin(b);
	for (int i = 0; i < HW_NPROBES; i++) {
		struct hw_probe *p = &a->probes[i];
		jb_key(b, p->name);
		jb_obj_begin(b);
		jb_kcstr(b, "state", state_name(p->state));
		jb_kcstr(b, "hook", p->hook);
		jb_kcstr(b, "reason", p->reason[0] ? p->reason : NULL);
		if (p->nlinks)
			jb_ku64(b, "syscall_tracepoints", p->nsyscall_tp);
		if (verbose && p->nlinks && a->skel)
			attach_json(a, b, p);
		jb_obj_end(b);
	}
	custom_manifest(a, b);
	jb_obj_end(b);
}
