/* test_probes - the probe table (common/probes.def) against the BPF object, without loading
 * anything: every candidate element names a program of the object; a "prog@category/name"
 * element names a classic tracepoint program and a category/name tracepoint; no candidate
 * needs more links than a probe holds (HW_MAX_LINKS). */
#include "agent/agent.h"
#include "herdwatch.skel.h"
#include "tests/unit/unit.h"
#include <bpf/libbpf.h>

static const struct {
	const char *name;
	const char *cands[HW_MAX_CANDS];
} defs[HW_NPROBES] = {
#define HW_PROBE(id, name, dflt, ...) {name, {__VA_ARGS__}},
#include "common/probes.def"
#undef HW_PROBE
};

static int quiet(enum libbpf_print_level l, const char *f, va_list ap)
{
	return 0;
}

static bool is_tracepoint_sec(const char *sec)
{
	return !strcmp(sec, "tracepoint") || !strncmp(sec, "tracepoint/", 11) ||
	       !strcmp(sec, "tp") || !strncmp(sec, "tp/", 3);
}

static int bad_prog, bad_tp, too_many, shared;

/* One candidate ("a+b@cat/name+c") of probe name. */
static void check_cand(struct hw_bpf *s, const char *name, const char *cand)
{
	int n = 0;
	for (const char *c = cand; *c; n++) {
		size_t l = strcspn(c, "+"), pl = strcspn(c, "+@");
		char prog[64];
		snprintf(prog, sizeof(prog), "%.*s", (int)pl, c);
		struct bpf_program *p = bpf_object__find_program_by_name(s->obj, prog);
		if (!p) {
			printf("# %s: no program %s\n", name, prog);
			bad_prog++;
		} else if (pl < l) { /* prog@category/name */
			const char *tp = c + pl + 1;
			size_t tl = l - pl - 1, cl = strcspn(tp, "/+");
			shared++;
			if (!is_tracepoint_sec(bpf_program__section_name(p)) || !cl ||
			    cl + 1 >= tl) {
				printf("# %s: bad element %.*s (section %s)\n", name, (int)l, c,
				       bpf_program__section_name(p));
				bad_tp++;
			}
		}
		c += l + (c[l] == '+');
	}
	if (n > HW_MAX_LINKS) {
		printf("# %s: a candidate has %d elements\n", name, n);
		too_many++;
	}
}

int main(void)
{
	libbpf_set_print(quiet);
	struct hw_bpf *s = hw_bpf__open();
	CHECK("the BPF object opens", s != NULL);
	if (!s)
		UNIT_DONE();
	for (int i = 0; i < HW_NPROBES; i++)
		for (int k = 0; k < HW_MAX_CANDS && defs[i].cands[k]; k++)
			check_cand(s, defs[i].name, defs[i].cands[k]);
	CHECK("every candidate element names a program of the BPF object", bad_prog == 0);
	CHECK("prog@category/name elements: classic tracepoint programs, category/name",
	      bad_tp == 0);
	CHECK("the file probes use prog@category/name elements", shared >= 24);
	CHECK("no candidate needs more than HW_MAX_LINKS links", too_many == 0);
	hw_bpf__destroy(s);
	UNIT_DONE();
}
