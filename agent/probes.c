/* probes.c - hook selection, loading and attaching.
 *
 * All programs of the object are loaded once at start. A program the kernel refuses (an
 * unsupported hook type, e.g. fentry under a locked-down kernel, or a missing tracepoint) is
 * found from libbpf's log, marked not to load, and the object is opened again without it; so
 * one bad program never stops the agent. Each probe then attaches the first candidate whose
 * programs all loaded and attached. Probes are attached and detached at runtime (SIGHUP) by
 * creating and destroying links; the programs and maps stay, so no event is lost.
 *
 * A candidate is elements joined by '+'. An element is a program name (attached to the hook its
 * section names), or "prog@category/name": that classic tracepoint program attached to
 * tracepoint category/name instead (one program on the exit tracepoints of several syscalls,
 * dispatching on the syscall number, is verified once instead of once per syscall). Such a
 * program's section may name no tracepoint (SEC("tracepoint")).
 */
#include "agent/agent.h"
#include "agent/user.h"
#include "agent/probes_cand.h"
#include "herdwatch.skel.h"
#include <bpf/libbpf.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <linux/bpf.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const struct {
	const char *name;
	bool dflt;
	const char *cands[HW_MAX_CANDS];
} probe_defs[HW_NPROBES] = {
#define HW_PROBE(id, name, dflt, ...) {name, dflt, {__VA_ARGS__}},
#include "common/probes.def"
#undef HW_PROBE
};

bool probe_name_ok(const char *name)
{
	for (int i = 0; i < HW_NPROBES; i++) {
		const char *n = probe_defs[i].name;
		size_t dot = strcspn(n, ".");
		if (!strcmp(n, name) || (strlen(name) == dot && !strncmp(n, name, dot)))
			return true;
	}
	return false;
}

static const char *hook_of(const struct bpf_program *p);

/* libbpf log: keep the last "prog 'X': ..." failure line so the loader knows which to drop. */
static char last_fail_prog[128];
static char last_fail_msg[256];
volatile int hw_verbose;

static int libbpf_log(enum libbpf_print_level lvl, const char *fmt, va_list ap)
{
	char line[1024];
	va_list full;
	va_copy(full, ap);
	vsnprintf(line, sizeof(line), fmt, ap);
	const char *p = strstr(line, "prog '");
	if (p && lvl <= LIBBPF_WARN) {
		const char *q = strchr(p + 6, '\'');
		if (q && (size_t)(q - p - 6) < sizeof(last_fail_prog)) {
			memcpy(last_fail_prog, p + 6, q - p - 6);
			last_fail_prog[q - p - 6] = 0;
			snprintf(last_fail_msg, sizeof(last_fail_msg), "%s", q + 2);
			size_t l = strlen(last_fail_msg);
			while (l && (last_fail_msg[l - 1] == '\n' || last_fail_msg[l - 1] == ' '))
				last_fail_msg[--l] = 0;
		}
	}
	/* whole, not cut to the line buffer: a verifier log comes as one message */
	if (hw_verbose || (lvl == LIBBPF_WARN && getenv("HW_LIBBPF_DEBUG")))
		vfprintf(stderr, fmt, full);
	va_end(full);
	return 0;
}

static const char *fail_reason(struct agent *a, const char *prog)
{
	for (int i = 0; i < a->nprog_fail; i++) {
		size_t l = strlen(prog);
		if (!strncmp(a->prog_fail[i], prog, l) && a->prog_fail[i][l] == ':')
			return a->prog_fail[i] + l + 2;
	}
	return NULL;
}
const char *probes_prog_failed(struct agent *a, const char *prog)
{
	return fail_reason(a, prog);
}

/* Why element e cannot attach (its program refused, or its own tracepoint missing), or NULL;
 * *who is what the reason is about (the program or the whole element). */
static const char *elem_fail(struct agent *a, const struct cand_elem *e, const char **who)
{
	const char *fr = fail_reason(a, e->prog);
	*who = e->prog;
	if (!fr && e->tp) {
		fr = fail_reason(a, e->name);
		*who = e->name;
	}
	return fr;
}

static void add_fail(struct agent *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void add_fail(struct agent *a, const char *fmt, ...)
{
	va_list ap;
	if (a->nprog_fail >= (int)(sizeof(a->prog_fail) / sizeof(a->prog_fail[0])))
		return;
	va_start(ap, fmt);
	vsnprintf(a->prog_fail[a->nprog_fail++], sizeof(a->prog_fail[0]), fmt, ap);
	va_end(ap);
}

/* HW_DENY_HOOKS="tp_btf,uprobe": treat programs of these hook types as refused by the kernel.
 * A diagnostic knob: it exercises the fallback candidates a locked-down kernel would pick. */
static void deny_hooks(struct agent *a, struct hw_bpf *s)
{
	const char *deny = getenv("HW_DENY_HOOKS");
	struct bpf_program *prog;
	if (!deny || !*deny)
		return;
	bpf_object__for_each_program (prog, s->obj) {
		const char *hook = hook_of(prog);
		size_t hl = strlen(hook);
		for (const char *d = deny; *d;) {
			size_t l = strcspn(d, ",");
			if (l == hl && !strncmp(d, hook, l) &&
			    !fail_reason(a, bpf_program__name(prog)))
				add_fail(a, "%s: %s hooks denied by HW_DENY_HOOKS",
					 bpf_program__name(prog), hook);
			d += l + (d[l] == ',');
		}
	}
}

/* A tp_btf or raw_tp program needs the kernel's "btf_trace_<name>" type, a fentry/fexit program
 * its function, an LSM program its bpf_lsm_<hook>, and every program a hook type the kernel
 * offers (fentry and LSM refused under some lockdowns, LSM not active without bpf in lsm=,
 * kprobes without CONFIG_KPROBES). Checking up front saves a full reload of the object (all
 * programs verified again) per refused program. */
/* The programs that call the bpf_rdonly_cast kfunc unconditionally (the net family's fast
 * readers, bpf/net.bpf.h): kernels before 6.2 refuse them. Other users of the kfunc test for
 * it (hw_ksym_exists) and load everywhere. */
static const char *const needs_rdonly_cast[] = {
	"hwn_connect_exf", "hwn_accept_exf", "hwn_accept4_exf",
	"hwn_connect_fxf", "hwn_accept_fxf", "hwn_accept4_fxf",
};

/* A candidate whose hook type the kernel refuses as a whole (fentry on a kernel without BPF
 * trampolines, say) is left out of the probe's reason: the manifest's "hooks" says it once. */
#define HOOKS_NOT_OFFERED " hooks not offered by this kernel"

static void precheck_btf(struct agent *a, struct hw_bpf *s)
{
	struct btf *btf = btf__load_vmlinux_btf();
	struct bpf_program *prog;
	char tname[160];
	if (!btf)
		return;
	bool rdonly_cast = btf__find_by_name_kind(btf, "bpf_rdonly_cast", BTF_KIND_FUNC) >= 0;
	bpf_object__for_each_program (prog, s->obj) {
		const char *sec = bpf_program__section_name(prog), *name = bpf_program__name(prog);
		const char *hook = hook_of(prog), *why, *tp = NULL, *fn = NULL;
		if (fail_reason(a, name))
			continue;
		if ((why = hook_refused(hook))) {
			add_fail(a, "%s: %s" HOOKS_NOT_OFFERED " (%s)", name, hook, why);
			continue;
		}
		bool kfunc_missing = false;
		for (size_t i = 0;
		     !rdonly_cast && i < sizeof(needs_rdonly_cast) / sizeof(*needs_rdonly_cast);
		     i++)
			kfunc_missing |= !strcmp(name, needs_rdonly_cast[i]);
		if (kfunc_missing) {
			add_fail(a, "%s: this kernel has no bpf_rdonly_cast kfunc (Linux 6.2+)",
				 name);
			continue;
		}
		if (!strncmp(sec, "tp_btf/", 7))
			tp = sec + 7;
		else if (!strncmp(sec, "raw_tp/", 7))
			tp = sec + 7;
		else if (!strncmp(sec, "raw_tracepoint/", 15))
			tp = sec + 15;
		else if (!strncmp(sec, "fentry/", 7) || !strncmp(sec, "lsm/", 4))
			fn = strchr(sec, '/') + 1;
		else if (!strncmp(sec, "fexit/", 6))
			fn = sec + 6;
		if (tp) {
			snprintf(tname, sizeof(tname), "btf_trace_%s", tp);
			if (btf__find_by_name_kind(btf, tname, BTF_KIND_TYPEDEF) < 0)
				add_fail(a, "%s: this kernel has no BTF tracepoint %s", name, tp);
		} else if (fn) {
			if (!strncmp(sec, "lsm/", 4))
				snprintf(tname, sizeof(tname), "bpf_lsm_%s", fn);
			else
				snprintf(tname, sizeof(tname), "%s", fn);
			if (btf__find_by_name_kind(btf, tname, BTF_KIND_FUNC) < 0)
				add_fail(a, "%s: this kernel has no function %s", name, tname);
		}
	}
	btf__free(btf);
}

/* Is classic tracepoint tp ("category/name") in tracefs? A diagnostic knob, as HW_DENY_HOOKS,
 * for the fallbacks of kernels that lack some: HW_DENY_TRACEPOINTS="cat/name,..." makes the
 * listed ones missing (e.g. syscalls/sys_exit_fchmodat2, absent before Linux 6.6). */
static bool tracepoint_exists(const char *tp)
{
	const char *deny = getenv("HW_DENY_TRACEPOINTS");
	char path[320];
	struct stat st;
	size_t tl = strlen(tp);
	for (const char *d = deny ? deny : ""; *d;) {
		size_t l = strcspn(d, ",");
		if (l == tl && !strncmp(d, tp, l))
			return false;
		d += l + (d[l] == ',');
	}
	snprintf(path, sizeof(path), "/sys/kernel/tracing/events/%s", tp);
	if (stat(path, &st) == 0)
		return true;
	snprintf(path, sizeof(path), "/sys/kernel/debug/tracing/events/%s", tp);
	return stat(path, &st) == 0;
}

/* A classic tracepoint program needs its tracepoint in tracefs (kernels without syscall
 * tracepoints have none of syscalls/), and so does a "prog@category/name" element: checked up
 * front, so that the probe's next candidate is loaded in its place (see skip_fallbacks) and
 * nothing is verified for nothing. A missing element's tracepoint makes only the candidates
 * with that element non-viable (file.chmod without fchmodat2), not its program. */
static void precheck_tracepoints(struct agent *a, struct hw_bpf *s)
{
	struct bpf_program *prog;
	bpf_object__for_each_program (prog, s->obj) {
		const char *sec = bpf_program__section_name(prog), *tp = NULL;
		if (!strncmp(sec, "tracepoint/", 11))
			tp = sec + 11;
		else if (!strncmp(sec, "tp/", 3))
			tp = sec + 3;
		if (!tp || fail_reason(a, bpf_program__name(prog)) || tracepoint_exists(tp))
			continue;
		if (!tracefs_mounted())
			add_fail(a, "%s: no tracefs (%s), so no tracepoint %s",
				 bpf_program__name(prog),
				 kernel_lockdown() ? "refused by kernel lockdown" : "not mounted",
				 tp);
		else
			add_fail(a, "%s: this kernel has no tracepoint %s", bpf_program__name(prog),
				 tp);
	}
	for (int i = 0; i < HW_NPROBES; i++)
		for (int k = 0; k < HW_MAX_CANDS && probe_defs[i].cands[k]; k++) {
			struct cand_elem e;
			for (const char *c = probe_defs[i].cands[k]; probes_cand_next(&c, &e);) {
				if (!e.tp || fail_reason(a, e.name))
					continue;
				prog = bpf_object__find_program_by_name(s->obj, e.prog);
				if (prog && strcmp(hook_of(prog), "tracepoint"))
					add_fail(a, "%s: %s is not a classic tracepoint program",
						 e.name, e.prog);
				else if (!strchr(e.tp, '/'))
					add_fail(a, "%s: not a category/name tracepoint", e.name);
				else if (!tracepoint_exists(e.tp))
					add_fail(a, "%s: this kernel has no tracepoint %s", e.name,
						 e.tp);
			}
		}
}

/* Does candidate ("a+b@cat/tp+c") use program prog? */
static bool cand_has(const char *cand, const char *prog)
{
	struct cand_elem e;
	for (const char *c = cand; probes_cand_next(&c, &e);)
		if (!strcmp(e.prog, prog))
			return true;
	return false;
}

/* A candidate none of whose elements is known to fail (programs, and elements' tracepoints). */
static bool cand_viable(struct agent *a, const char *cand)
{
	struct cand_elem e;
	const char *who;
	for (const char *c = cand; probes_cand_next(&c, &e);)
		if (elem_fail(a, &e, &who))
			return false;
	return true;
}

/*
 * Load only what will be attached: a program that is a candidate of some probe is loaded when
 * it belongs to a probe's first viable candidate; the fallbacks behind a viable candidate are
 * not loaded (each costs its verification at start: about a third of the start-up time went
 * to programs that were never attached). What makes a candidate fail is found before the
 * load where it can be (precheck_tp_btf, precheck_tracepoints, HW_DENY_HOOKS); a candidate
 * that fails to load is marked failed and the object loaded again, which then loads the next
 * candidate (probes_load). A program that loads but is refused at attach (not seen on the
 * kernels herdwatch runs on: every refusal seen was a missing hook, found by the prechecks)
 * leaves its probe unavailable, with both reasons in the manifest. Checking every attach up
 * front would cost more than it saves: detaching a tracepoint program waits for an RCU grace
 * period (~50 ms here), which made the start twice as slow.
 */
static void skip_fallbacks(struct agent *a, struct hw_bpf *s)
{
	struct bpf_program *prog;
	bpf_object__for_each_program (prog, s->obj) {
		const char *name = bpf_program__name(prog);
		bool in_some = false, needed = false;
		for (int i = 0; i < HW_NPROBES && !needed; i++) {
			const char *const *c = probe_defs[i].cands;
			int first = -1;
			for (int k = 0; k < HW_MAX_CANDS && c[k]; k++) {
				if (cand_has(c[k], name))
					in_some = true;
				if (first < 0 && cand_viable(a, c[k]))
					first = k;
			}
			if (first >= 0 && cand_has(c[first], name))
				needed = true;
		}
		if (in_some && !needed)
			bpf_program__set_autoload(prog, false);
	}
}

int probes_load(struct agent *a)
{
	libbpf_set_print(libbpf_log);
	ensure_tracefs();
	for (int i = 0; i < HW_NPROBES; i++) {
		a->probes[i].name = probe_defs[i].name;
		a->probes[i].dflt = probe_defs[i].dflt;
		memcpy(a->probes[i].cands, probe_defs[i].cands, sizeof(a->probes[i].cands));
	}
	for (int attempt = 0; attempt < 64; attempt++) {
		struct hw_bpf *s = hw_bpf__open();
		struct bpf_program *prog;
		int err;

		if (!s) {
			err = -errno;
			agent_log("cannot open the BPF object: %s\n", strerror(-err));
			return err;
		}
		if (attempt == 0) {
			net_mode_init(a);
			if (net_mode_reason(a))
				bpf_object__for_each_program (prog, s->obj)
					if (!strncmp(bpf_program__name(prog), "hws_", 4))
						add_fail(a, "%s: net on syscall hooks: %s",
							 bpf_program__name(prog),
							 net_mode_reason(a));
			deny_hooks(a, s);
			precheck_btf(a, s);
			precheck_tracepoints(a, s);
		}
		bpf_object__for_each_program (prog, s->obj) {
			if (fail_reason(a, bpf_program__name(prog)))
				bpf_program__set_autoload(prog, false);
		}
		skip_fallbacks(a, s);
		quar_reuse_pins(s); /* quarantines an earlier agent pinned (quarantine.c) */
		bpf_map__set_max_entries(s->maps.hw_events, a->cfg.ringbuf_mb << 20);
		last_fail_prog[0] = 0;
		err = hw_bpf__load(s);
		if (!err) {
			a->skel = s;
			return probes_sync_maps(a);
		}
		hw_bpf__destroy(s);
		if (!last_fail_prog[0] || fail_reason(a, last_fail_prog) ||
		    a->nprog_fail >= (int)(sizeof(a->prog_fail) / sizeof(a->prog_fail[0]))) {
			agent_log("loading BPF programs failed: %s%s%s\n", strerror(-err),
				  last_fail_prog[0] ? " at " : "", last_fail_prog);
			return err;
		}
		snprintf(a->prog_fail[a->nprog_fail++], sizeof(a->prog_fail[0]),
			 "%s: %s (%s)%s%s%s", last_fail_prog, strerror(-err), last_fail_msg,
			 kernel_lockdown() ? " under kernel lockdown (" : "",
			 kernel_lockdown() ? kernel_lockdown() : "", kernel_lockdown() ? ")" : "");
	}
	return -ELOOP;
}

/* Does exe match filters.ignore_exe (an exact path, or a prefix ending in '/')? */
static bool exe_ignored(const struct hw_config *c, const char *exe)
{
	if (!exe)
		return false;
	for (size_t i = 0; i < c->ignore_exe.n; i++) {
		const char *pre = c->ignore_exe.v[i];
		size_t pl = strlen(pre);
		if (pl && !strncmp(exe, pre, pl) && (pre[pl - 1] == '/' || exe[pl] == 0))
			return true;
	}
	return false;
}

/* Make the in-kernel marks (hw_ignore_pid) agree with filters.ignore_exe for the processes that
 * are running: at start (after seeding) and at every reload. Marked processes that no longer
 * match are unmarked and, if the table does not know them (children marked by the kernel at
 * fork make no records), read from /proc; processes that now match are marked. */
void probes_sync_ignore_exe(struct agent *a)
{
	if (!a->skel)
		return;
	int fd = bpf_map__fd(a->skel->maps.hw_ignore_pid);
	uint32_t key, *keys = NULL;
	size_t n = 0, cap = 0;
	void *prev = NULL;
	/* A key deleted meanwhile (its process exited) restarts the walk: bounded by the map size. */
	while (n < bpf_map__max_entries(a->skel->maps.hw_ignore_pid) &&
	       bpf_map_get_next_key(fd, prev, &key) == 0) {
		if (n == cap) {
			size_t nc = cap ? cap * 2 : 256;
			uint32_t *nk = realloc(keys, nc * sizeof(*nk));
			if (!nk)
				break;
			keys = nk;
			cap = nc;
		}
		keys[n++] = key;
		prev = &keys[n - 1];
	}
	for (size_t i = 0; i < n; i++) {
		struct proc *p = proctab_get(&a->pt, keys[i]);
		char path[64], exe[4096];
		const char *x = p ? p->exe : NULL;
		if (!p) {
			snprintf(path, sizeof(path), "/proc/%u/exe", keys[i]);
			ssize_t l = readlink(path, exe, sizeof(exe) - 1);
			if (l < 0) {
				if (errno == ENOENT) /* gone: a stale mark */
					bpf_map_delete_elem(fd, &keys[i]);
				continue;
			}
			exe[l] = 0;
			x = exe;
		}
		if (exe_ignored(&a->cfg, x))
			continue;
		bpf_map_delete_elem(fd, &keys[i]);
		if (p)
			p->ignored = false;
		else
			proctab_load_pid(&a->pt, "/proc", keys[i]);
	}
	free(keys);
	uint8_t one = 1;
	for (size_t b = 0; b < a->pt.nbuckets; b++)
		for (struct proc *p = a->pt.buckets[b]; p; p = p->next) {
			bool ign = p->pid > 1 && p->pid != (uint32_t)a->self_pid &&
				   exe_ignored(&a->cfg, p->exe);
			if (ign)
				bpf_map_update_elem(fd, &p->pid, &one, BPF_ANY);
			else if (!ign && p->ignored)
				bpf_map_delete_elem(fd, &p->pid);
			p->ignored = ign;
		}
}

int probes_sync_maps(struct agent *a)
{
	struct hw_cfg c = {
		.agent_pid = a->self_pid,
		.args_max = a->cfg.args_max,
		.wake_bytes = (a->cfg.ringbuf_mb << 20) / 4,
		.n_ignore_cgroup = 0,
		.exec_enoent = a->cfg.exec_enoent,
		.ignore_pids = a->cfg.ignore_exe.n > 0,
	};
	uint32_t zero = 0;
	int fd = bpf_map__fd(a->skel->maps.hw_ignore_cg);
	uint64_t key, next;
	/* replace the cgroup filter set */
	while (bpf_map_get_next_key(fd, NULL, &key) == 0)
		bpf_map_delete_elem(fd, &key);
	(void)next;
	for (size_t i = 0; i < a->cfg.ignore_cgroup.n; i++) {
		uint64_t id;
		uint8_t one = 1;
		if (cgroup_id_of(a->cfg.ignore_cgroup.v[i], &id) == 0 &&
		    bpf_map_update_elem(fd, &id, &one, BPF_ANY) == 0)
			c.n_ignore_cgroup++;
		else
			agent_log("filters.ignore_cgroup: no cgroup '%s' (ignored)\n",
				  a->cfg.ignore_cgroup.v[i]);
	}
	if (bpf_map_update_elem(bpf_map__fd(a->skel->maps.hw_cfg), &zero, &c, BPF_ANY)) {
		int err = -errno;
		agent_log("cannot write settings map: %s\n", strerror(-err));
		return err;
	}
	families_sync_maps(a);
	probes_sync_ignore_exe(a);
	return 0;
}

static const char *hook_of(const struct bpf_program *p)
{
	const char *sec = bpf_program__section_name(p);
	if (!strncmp(sec, "tp_btf/", 7))
		return "tp_btf";
	if (!strncmp(sec, "tracepoint/", 11) || !strncmp(sec, "tp/", 3) ||
	    !strcmp(sec, "tracepoint") || !strcmp(sec, "tp"))
		return "tracepoint";
	if (!strncmp(sec, "raw_tp", 6) || !strncmp(sec, "raw_tracepoint", 14))
		return "raw_tracepoint";
	if (!strncmp(sec, "uretprobe", 9))
		return "uretprobe";
	if (!strncmp(sec, "uprobe", 6))
		return "uprobe";
	if (!strncmp(sec, "kprobe", 6) || !strncmp(sec, "kretprobe", 9))
		return "kprobe";
	if (!strncmp(sec, "fentry", 6) || !strncmp(sec, "fexit", 5))
		return "fentry";
	if (!strncmp(sec, "lsm", 3))
		return "lsm";
	if (!strncmp(sec, "cgroup/", 7))
		return "cgroup";
	return sec;
}

/*
 * Two probes may name one program (hws_state_btf: net.connect and net.accept on socket hooks):
 * the second to attach shares the first one's link, so the program runs once per firing of its
 * hook (it learns which probes are on from net_mode_roles). The last holder destroys the link.
 * A prog@category/name element is never shared (one program, several tracepoints).
 */
static struct bpf_link *shared_link(struct agent *a, const struct hw_probe *p,
				    const struct bpf_program *prog)
{
	for (int i = 0; i < HW_NPROBES; i++)
		for (int k = 0; &a->probes[i] != p && k < a->probes[i].nlinks; k++)
			if (a->probes[i].progs[k] == prog)
				return a->probes[i].links[k];
	return NULL;
}

/* Does a probe other than p (with before: one before p in the table) hold link l? */
static bool link_held(struct agent *a, const struct hw_probe *p, const struct bpf_link *l,
		      bool before)
{
	for (int i = 0; i < HW_NPROBES && !(before && &a->probes[i] == p); i++)
		for (int k = 0; &a->probes[i] != p && k < a->probes[i].nlinks; k++)
			if (a->probes[i].links[k] == l)
				return true;
	return false;
}

static void detach(struct agent *a, struct hw_probe *p)
{
	for (int i = 0; i < p->nlinks; i++)
		if (!link_held(a, p, p->links[i], false))
			bpf_link__destroy(p->links[i]);
	p->nlinks = 0;
	p->nsyscall_tp = 0;
	p->cand = NULL;
}

/* Try one candidate ("a+b@cat/tp+c"); on success the links are in p. */
static int try_candidate(struct agent *a, struct hw_probe *p, const char *cand, char *why,
			 size_t whylen)
{
	struct cand_elem e;
	for (const char *c = cand; probes_cand_next(&c, &e);) {
		struct bpf_program *prog = bpf_object__find_program_by_name(a->skel->obj, e.prog);
		const char *who, *fr = elem_fail(a, &e, &who);
		struct bpf_link *l;
		if (!prog || fr) {
			snprintf(why, whylen, "%s: %s", who, fr ? fr : "not in the BPF object");
			detach(a, p);
			return -ENOENT;
		}
		if (bpf_program__fd(prog) < 0) {
			snprintf(why, whylen,
				 "%s: not loaded (a fallback: an earlier candidate was "
				 "expected to attach)",
				 e.prog);
			detach(a, p);
			return -ENOENT;
		}
		if (p->nlinks >= HW_MAX_LINKS) {
			snprintf(why, whylen, "%s: more than %d links", e.name, HW_MAX_LINKS);
			detach(a, p);
			return -E2BIG;
		}
		if (!e.tp && (l = shared_link(a, p, prog))) {
			/* attached already for another probe */
		} else if (e.tp) {
			/* category/name: precheck_tracepoints made elements without '/' fail */
			char cat[64];
			size_t cl = strcspn(e.tp, "/");
			snprintf(cat, sizeof(cat), "%.*s", (int)cl, e.tp);
			l = bpf_program__attach_tracepoint(prog, cat,
							   e.tp + cl + (e.tp[cl] == '/'));
		} else if (!strcmp(hook_of(prog), "cgroup")) {
			/* a link: BPF_F_ALLOW_MULTI semantics, beside others' programs */
			l = bpf_program__attach_cgroup(prog, net_mode_cgroup_fd(a));
		} else {
			l = bpf_program__attach(prog);
		}
		if (!l) {
			int err = -errno;
			snprintf(why, whylen, "%s: attach failed: %s", e.name, strerror(-err));
			detach(a, p);
			return err;
		}
		p->progs[p->nlinks] = e.tp ? NULL : prog;
		p->links[p->nlinks++] = l;
		if (p->nlinks == 1) /* the candidate's first program names its hook */
			p->hook = e.tp ? "tracepoint" : hook_of(prog);
		const char *sec = bpf_program__section_name(prog);
		if (e.tp ? !strncmp(e.tp, "syscalls/", 9)
			 : !strncmp(sec, "tracepoint/syscalls/", 20) ||
				    !strncmp(sec, "tp/syscalls/", 12))
			p->nsyscall_tp++;
	}
	return 0;
}

bool probe_wanted(struct agent *a, const char *name, bool dflt)
{
	/* an override for the exact name beats one for the family, which beats the config */
	size_t dot = strcspn(name, ".");
	int fam = -1;
	if (!strncmp(name, "tty.", 4)) /* the tty section and "ctl tty" only (agent/tty.c) */
		return tty_wanted(a);
	for (int i = 0; i < HW_MAX_OVERRIDES; i++) {
		const char *o = a->ovr[i].name;
		if (!o[0])
			continue;
		if (!strcmp(o, name))
			return a->ovr[i].enabled;
		if (strlen(o) == dot && !strncmp(o, name, dot))
			fam = i;
	}
	if (fam >= 0)
		return a->ovr[fam].enabled;
	return config_probe_enabled(&a->cfg, name, dflt);
}

/* file.open and file.chown in watch mode (agent/file_fan.c): no program, the hook is
 * "fanotify". True when that is where the probe is now; a probe left there by an earlier pass
 * is released otherwise. */
static bool file_on_fanotify(struct agent *a, struct hw_probe *p, bool chown)
{
	bool on_fan = p->state == PROBE_ATTACHED && p->hook && !strcmp(p->hook, "fanotify");
	if (!(chown ? file_fan_owns_chown(a) : file_fan_owns_open(a))) {
		if (on_fan) {
			p->state = PROBE_DISABLED;
			p->hook = NULL;
		} else if (p->state == PROBE_ATTACHED && file_fan_fault(a)) {
			snprintf(p->reason, sizeof(p->reason), "%s; exact mode until reload",
				 file_fan_fault(a));
		} else if (p->state == PROBE_ATTACHED && !strncmp(p->reason, "f", 1)) {
			p->reason[0] =
				0; /* "files.mode ..." or "fanotify: ..." of an earlier mode */
		}
		return false;
	}
	detach(a, p);
	p->state = PROBE_ATTACHED;
	p->hook = "fanotify";
	snprintf(p->reason, sizeof(p->reason),
		 "files.mode %s: fanotify %smarks on the watched files",
		 file_mode_name(a->cfg.file_mode), chown ? "FAN_ATTRIB " : "");
	return true;
}

void probes_apply(struct agent *a)
{
	a->own_ids_dirty = true;
	for (int i = 0; i < HW_NPROBES; i++) {
		struct hw_probe *p = &a->probes[i];
		bool want = probe_wanted(a, p->name, p->dflt);
		char veto[sizeof(p->reason)];
		if (want && net_mode_veto(a, i, veto, sizeof(veto))) {
			detach(a, p);
			p->state = PROBE_DISABLED;
			p->hook = NULL;
			snprintf(p->reason, sizeof(p->reason), "%s", veto);
			continue;
		}
		if (!want) {
			detach(a, p);
			p->state = PROBE_DISABLED;
			p->hook = NULL;
			snprintf(p->reason, sizeof(p->reason), "disabled by %s",
				 config_probe_enabled(&a->cfg, p->name, p->dflt) ? "control"
										 : "configuration");
			continue;
		}
		if ((i == HW_PROBE_FILE_OPEN || i == HW_PROBE_FILE_CHOWN) &&
		    file_on_fanotify(a, p, i == HW_PROBE_FILE_CHOWN))
			continue;
		if (p->state == PROBE_ATTACHED)
			continue;
		char why[HW_MAX_CANDS][200];
		int c;
		for (c = 0; c < HW_MAX_CANDS && p->cands[c]; c++)
			if (try_candidate(a, p, p->cands[c], why[c], sizeof(why[c])) == 0)
				break;
		bool attached = c < HW_MAX_CANDS && p->cands[c];
		/* the reasons the candidates before the chosen one (or all of them) failed */
		p->reason[0] = 0;
		for (int k = 0; k < c; k++) {
			size_t l = strlen(p->reason);
			if (c < HW_MAX_CANDS && p->cands[c] && strstr(why[k], HOOKS_NOT_OFFERED))
				continue; /* attached on another hook type: the kernel lacks this one */
			snprintf(p->reason + l, sizeof(p->reason) - l, "%s%s", l ? "; " : "",
				 why[k]);
		}
		if (attached) {
			p->state = PROBE_ATTACHED;
			p->cand = p->cands[c];
			if (i == HW_PROBE_NET_ACCEPT) {
				net_mode_roles(a);
				net_mode_seed(a); /* listeners that began before this attach */
			}
			if (i == HW_PROBE_FILE_OPEN && file_fan_fault(a))
				snprintf(p->reason, sizeof(p->reason),
					 "%s; exact mode until reload", file_fan_fault(a));
		} else {
			p->state = PROBE_UNAVAILABLE;
			p->hook = NULL;
			agent_log("probe %s unavailable: %s\n", p->name, p->reason);
		}
	}
	net_mode_roles(a);
}

struct detach_job {
	struct bpf_link **links;
	int n;
	int next; /* taken with __atomic_fetch_add */
};

static void *detach_worker(void *arg)
{
	struct detach_job *j = arg;
	for (int i; (i = __atomic_fetch_add(&j->next, 1, __ATOMIC_RELAXED)) < j->n;)
		bpf_link__destroy(j->links[i]);
	return NULL;
}

/*
 * Destroying a classic tracepoint link waits in the kernel for the tracepoint's callers to
 * finish (an RCU grace period, ~50 ms here) when it was the last perf event on that
 * tracepoint. One after the other, the agent's ~100 such links took ~6 s at every stop; from
 * several threads the waits overlap (the kernel serialises part of each, so it is not 16 times
 * faster); uprobe links likewise (~60 ms each). Used at exit only: a reload detaches what it
 * changes, a few links.
 */
void links_destroy_all(struct bpf_link **links, int n)
{
	enum { NTHREADS = 16 };
	struct detach_job j = {.links = links, .n = n};
	pthread_t th[NTHREADS];
	int nth = 0;
	while (nth < NTHREADS && nth < n - 1 && !pthread_create(&th[nth], NULL, detach_worker, &j))
		nth++;
	detach_worker(&j); /* this thread too; and all of it if no thread could start */
	for (int t = 0; t < nth; t++)
		pthread_join(th[t], NULL);
}

void probes_detach_all(struct agent *a)
{
	static struct bpf_link *all[HW_NPROBES * HW_MAX_LINKS];
	int n = 0;
	for (int i = 0; i < HW_NPROBES; i++) {
		struct hw_probe *p = &a->probes[i];
		for (int k = 0; k < p->nlinks; k++)
			if (!link_held(a, p, p->links[k], true)) /* a shared link once */
				all[n++] = p->links[k];
	}
	for (int i = 0; i < HW_NPROBES; i++) {
		a->probes[i].nlinks = 0;
		a->probes[i].nsyscall_tp = 0;
	}
	links_destroy_all(all, n);
	custom_detach_all(a);
	user_detach_all(a);
}
