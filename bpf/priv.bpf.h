/* SPDX-License-Identifier: GPL-2.0 */
/*
 * priv.bpf.h - what the priv family's programs share: its maps, the per-thread syscall
 * state kept between a syscall's entry and exit, credential/namespace snapshots, the
 * in-kernel counters of repeated events.
 */
#ifndef HW_PRIV_BPF_H
#define HW_PRIV_BPF_H

#include "hw.bpf.h"

/* Syscall numbers and registers: bpf/arch.bpf.h (HW_NR_*, HW_REG_*, HW_CREG_*). */

#define PRIV_CLONE_NEWTIME 0x00000080ULL
#define PRIV_CLONE_NEWNS 0x00020000ULL
#define PRIV_CLONE_NEWCGROUP 0x02000000ULL
#define PRIV_CLONE_NEWUTS 0x04000000ULL
#define PRIV_CLONE_NEWIPC 0x08000000ULL
#define PRIV_CLONE_NEWUSER 0x10000000ULL
#define PRIV_CLONE_NEWPID 0x20000000ULL
#define PRIV_CLONE_NEWNET 0x40000000ULL
#define PRIV_CLONE_NEW_ALL                                                                         \
	(PRIV_CLONE_NEWTIME | PRIV_CLONE_NEWNS | PRIV_CLONE_NEWCGROUP | PRIV_CLONE_NEWUTS |        \
	 PRIV_CLONE_NEWIPC | PRIV_CLONE_NEWUSER | PRIV_CLONE_NEWPID | PRIV_CLONE_NEWNET)

/* Namespace pointers of a task, in a fixed order (see priv_ns_read). */
#define PRIV_NNS 8

/* State of one thread between sys_enter and sys_exit. */
struct priv_inflight {
	__u16 sc;
	__u16 to_agent; /* ptrace, process_vm_*: aimed at the agent (agent.tamper) */
	__u32 ngroups;  /* set*id, setgroups, capset: supplementary groups before the call */
	__u64 args[6];
	__u32 groups[HW_PRIV_NGROUPS];
	union {
		struct hw_priv_creds creds; /* set*id, capset: before the call */
		__u64 ns[PRIV_NNS];         /* setns, unshare: before the call */
	} pre;
};

/* LRU: a thread killed inside a syscall never reaches the exit hook; its entry ages out. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 8192);
	__type(key, __u32);
	__type(value, struct priv_inflight);
} hwv_inflight SEC(".maps");

/* Repeated events counted per (process, kind, index); the agent reads and summarises them
 * once per window and removes entries of processes that are gone. A plain hash (not LRU) so
 * that no count is ever evicted silently: a full map is counted in hwv_loss. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 32768);
	__type(key, struct hw_priv_count_key);
	__type(value, struct hw_priv_count_val);
} hwv_counts SEC(".maps");

/* CAP_SYS_ADMIN memory-accounting checks, host-wide, per CPU. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct hw_priv_memacct);
} hwv_memacct SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, HW_PRIV_NLOSS);
	__type(key, __u32);
	__type(value, __u64);
} hwv_loss SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct hw_priv_cfg);
} hwv_cfg SEC(".maps");

/* The agent's own BPF object ids: (1 << 32 | prog id), (2 << 32 | link id) and
 * (3 << 32 | map id). */
#define PRIV_ID_PROG (1ULL << 32)
#define PRIV_ID_LINK (2ULL << 32)
#define PRIV_ID_MAP (3ULL << 32)
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u64);
	__type(value, __u8);
} hwv_own_ids SEC(".maps");

static __always_inline void priv_count_loss(__u32 cause)
{
	__u64 *v = bpf_map_lookup_elem(&hwv_loss, &cause);
	if (v)
		*v += 1;
}

static __always_inline void priv_creds_read(const struct cred *c, struct hw_priv_creds *o)
{
	o->uid = BPF_CORE_READ(c, uid.val);
	o->euid = BPF_CORE_READ(c, euid.val);
	o->suid = BPF_CORE_READ(c, suid.val);
	o->fsuid = BPF_CORE_READ(c, fsuid.val);
	o->gid = BPF_CORE_READ(c, gid.val);
	o->egid = BPF_CORE_READ(c, egid.val);
	o->sgid = BPF_CORE_READ(c, sgid.val);
	o->fsgid = BPF_CORE_READ(c, fsgid.val);
	o->cap_eff = hw_cap_read(&c->cap_effective);
	o->cap_prm = hw_cap_read(&c->cap_permitted);
	o->cap_inh = hw_cap_read(&c->cap_inheritable);
}

/* Supplementary groups of a credential set: the count, and the first HW_PRIV_NGROUPS. */
static __always_inline __u32 priv_groups_read(const struct cred *c, __u32 *groups)
{
	struct group_info *gi = BPF_CORE_READ(c, group_info);
	__u32 n = BPF_CORE_READ(gi, ngroups), k = n;
	__builtin_memset(groups, 0, HW_PRIV_NGROUPS * sizeof(__u32));
	if (k > HW_PRIV_NGROUPS)
		k = HW_PRIV_NGROUPS;
	bpf_probe_read_kernel(groups, k * sizeof(__u32), &gi->gid);
	return n;
}

/* Namespaces a task lives in (and gives its children, for pid and time). */
static __always_inline void priv_ns_read(struct task_struct *t, __u64 *ns)
{
	struct nsproxy *p = BPF_CORE_READ(t, nsproxy);
	ns[0] = (__u64)BPF_CORE_READ(p, mnt_ns);
	ns[1] = (__u64)BPF_CORE_READ(p, uts_ns);
	ns[2] = (__u64)BPF_CORE_READ(p, ipc_ns);
	ns[3] = (__u64)BPF_CORE_READ(p, pid_ns_for_children);
	ns[4] = (__u64)BPF_CORE_READ(p, net_ns);
	ns[5] = (__u64)BPF_CORE_READ(p, cgroup_ns);
	ns[6] = (__u64)BPF_CORE_READ(p, time_ns_for_children);
	ns[7] = (__u64)BPF_CORE_READ(t, real_cred, user_ns);
}

/* CLONE_NEW* flags of the namespaces that differ between two snapshots. */
static __always_inline __u64 priv_ns_diff(const __u64 *a, const __u64 *b)
{
	__u64 f = 0;
	if (a[0] != b[0])
		f |= PRIV_CLONE_NEWNS;
	if (a[1] != b[1])
		f |= PRIV_CLONE_NEWUTS;
	if (a[2] != b[2])
		f |= PRIV_CLONE_NEWIPC;
	if (a[3] != b[3])
		f |= PRIV_CLONE_NEWPID;
	if (a[4] != b[4])
		f |= PRIV_CLONE_NEWNET;
	if (a[5] != b[5])
		f |= PRIV_CLONE_NEWCGROUP;
	if (a[6] != b[6])
		f |= PRIV_CLONE_NEWTIME;
	if (a[7] != b[7])
		f |= PRIV_CLONE_NEWUSER;
	return f;
}

/* The struct file behind a descriptor of the current task (NULL if none). */
static __always_inline struct file *priv_fd_file(struct task_struct *t, __u64 fd)
{
	struct fdtable *fdt = BPF_CORE_READ(t, files, fdt);
	struct file **fds = BPF_CORE_READ(fdt, fd);
	struct file *f = NULL;

	if (fd >= BPF_CORE_READ(fdt, max_fds))
		return NULL;
	bpf_probe_read_kernel(&f, sizeof(f), &fds[fd & 0xffffff]);
	return f;
}

/*
 * Count one occurrence of a repeated event (capability check, W+X mapping) of the current
 * process. The hot path is one hash lookup and atomic adds. Returns PRIV_FIRST when the caller
 * must emit the first occurrence now (at the first (process, kind, index)), PRIV_COUNTED when
 * the occurrence was added to an existing entry, PRIV_NOT_COUNTED when it was not (a filtered
 * process, or a full map: counted in hwv_loss).
 */
#define PRIV_NOT_COUNTED (-1)
#define PRIV_COUNTED 0
#define PRIV_FIRST 1
static __always_inline int priv_count(struct task_struct *t, __u32 tgid, __u16 type, __u16 idx,
				      bool denied, __u32 prot)
{
	struct hw_priv_count_key k = {
		.tgid = tgid,
		.type = type,
		.idx = idx,
		/* t is a trusted BTF pointer (bpf_get_current_task_btf): plain loads, no helper
		 * calls, on this hot path */
		.start_ns = t->group_leader->start_boottime,
	};
	struct hw_priv_count_val *v = bpf_map_lookup_elem(&hwv_counts, &k);

	if (v) {
	counted:
		__sync_fetch_and_add(&v->count, 1);
		if (denied)
			__sync_fetch_and_add(&v->denied, 1);
		if (prot)
			v->prot = prot;
		if (v->emitted || hw_filtered(tgid))
			return PRIV_COUNTED;
		v->emitted = 1; /* two CPUs may both get here: a duplicate first, never a loss */
		return PRIV_FIRST;
	}
	/* The configured filters are applied here, where state is first created, rather than on
	 * every check: the hot path above stays at one lookup. A process that becomes ignored
	 * later (filters.ignore_exe decided at its exec) keeps being counted, and the agent drops
	 * its summaries. */
	if (hw_filtered(tgid))
		return PRIV_NOT_COUNTED;
	struct hw_priv_count_val nv = {};
	hw_fill_hdr(&nv.hdr, t, type);
	nv.count = 1;
	nv.denied = denied;
	nv.prot = prot;
	nv.emitted = 1;
	long err = bpf_map_update_elem(&hwv_counts, &k, &nv, BPF_NOEXIST);
	if (!err)
		return PRIV_FIRST;
	/* Another CPU inserted it first (-EEXIST), or the map is full. */
	v = bpf_map_lookup_elem(&hwv_counts, &k);
	if (v)
		goto counted;
	priv_count_loss(HW_PRIV_LOSS_COUNT_FULL);
	return PRIV_NOT_COUNTED;
}

/*
 * The fast path of repeated capability checks (bpf/priv_cap.bpf.c priv_cap). Each CPU keeps one
 * slot (hwv_cap_pc) for the last process that checked a capability on it: its hwv_counts key
 * (tgid, group leader's start) and the bits of the capabilities whose entry exists (so their
 * first use was reported). An allowed check of a set bit by that process only adds 1 to n[c]
 * in the slot: an inlined per-CPU lookup, two compares and one add, no helper call, no key to
 * build, no hash. Denied checks, other processes and first uses take the hash path, which
 * moves the slot's pending counts to their entries before it gives the slot to another
 * process. The agent moves every CPU's pending counts before it reads hwv_counts at the end of
 * a window, by running hwv_capfl_raw on each CPU (BPF_F_TEST_RUN_ON_CPU), and sets
 * hw_priv_cfg.cap_fast only once that works: without it no slot is ever filled.
 * Only programs on the slot's own CPU touch it: a capability program (tracepoint: preemption
 * off; fexit: the kernel's per-CPU recursion guard) or the flush (in an interrupt that may
 * come between two instructions of the program). So counts are added with one atomic add and
 * taken with one atomic exchange, a slot's counts are zeroed before its key changes, and no
 * check is moved twice or lost.
 */
#define PRIV_FAST_NCAP 64
struct priv_cap_pc {
	__u32 tgid; /* the process whose checks the slot counts (0: none) */
	__u32 pad;
	__u64 start_ns; /* its group leader's start_boottime: with tgid, its hwv_counts key */
	__u64 seen;     /* bit c: the entry of (process, c) exists, first use reported */
	__u64 n[PRIV_FAST_NCAP]; /* allowed checks of c not yet added to the entry */
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct priv_cap_pc);
} hwv_cap_pc SEC(".maps");

/* Move a slot's pending counts into its process's entries. */
static __always_inline void priv_fast_flush(struct priv_cap_pc *f)
{
	struct hw_priv_count_key k = {
		.tgid = f->tgid,
		.type = HW_EV_CAP,
		.start_ns = f->start_ns,
	};
	__u64 seen = f->seen;

#pragma clang loop unroll(disable)
	for (int c = 0; c < PRIV_FAST_NCAP; c++) {
		struct hw_priv_count_val *v;
		__u64 x;

		if (!((seen >> c) & 1) || !f->n[c])
			continue;
		x = __sync_lock_test_and_set(&f->n[c], 0); /* 64-bit xchg: no -mcpu=v3 needed */
		if (!x)
			continue;
		k.idx = c;
		v = bpf_map_lookup_elem(&hwv_counts, &k);
		if (v)
			__sync_fetch_and_add(&v->count, x);
		else /* the entry was removed meanwhile: x checks not summarised */
			priv_count_loss(HW_PRIV_LOSS_FAST_ORPHAN);
	}
}

/* agent.tamper: one record (the process that did it is the header) */
static __always_inline void priv_tamper(struct task_struct *t, __u16 action, __u32 sig,
					__s32 result, __u32 cmd, __u32 id)
{
	struct hw_cfg *cfg = hw_get_cfg();
	struct hw_tamper *r = hw_scratch_get();
	if (!r) {
		hw_count_drop(HW_EV_TAMPER, HW_DROP_SCRATCH);
		return;
	}
	hw_fill_hdr(&r->hdr, t, HW_EV_TAMPER);
	r->action = action;
	r->pad = 0;
	r->result = result;
	r->sig = sig;
	r->target_pid = cfg ? cfg->agent_pid : 0;
	r->cmd = cmd;
	r->id = id;
	hw_submit(r, sizeof(*r), true);
}

/* Copy the arguments out of the tracepoint context: the verifier refuses a context pointer
 * that was moved (ctx->args passed on as a pointer), and a program that reads past a
 * tracepoint's last argument cannot attach to it (EACCES): read only the first n. */
#define PRIV_ARG(ctx, a, n, i) (a)[i] = (n) > (i) ? (ctx)->args[(n) > (i) ? (i) : 0] : 0
#define priv_ctx_args(ctx, a, n)                                                                   \
	do {                                                                                       \
		PRIV_ARG(ctx, a, n, 0);                                                            \
		PRIV_ARG(ctx, a, n, 1);                                                            \
		PRIV_ARG(ctx, a, n, 2);                                                            \
		PRIV_ARG(ctx, a, n, 3);                                                            \
		PRIV_ARG(ctx, a, n, 4);                                                            \
		PRIV_ARG(ctx, a, n, 5);                                                            \
	} while (0)

#endif /* HW_PRIV_BPF_H */
