/* SPDX-License-Identifier: GPL-2.0 */
/*
 * priv_cap.bpf.c - process.capability: every capability check, counted per (process,
 * capability) in the kernel (hwv_counts), with a first-use record, and the host-wide count of
 * the memory accounting's CAP_SYS_ADMIN checks (hwv_memacct).
 *
 * Contract: the first check of each capability by a process is a record at once; every check,
 * allowed or denied, is in the process's counts, which the agent summarises once per window
 * (agent/priv_counts.c); a count that cannot be kept is counted in hwv_loss and announced.
 * Hot paths come first and are short: the memory-accounting check (a per-CPU slot), then an
 * allowed repeat by the process this CPU's slot holds (hwv_cap_pc in priv.bpf.h),
 * then the hash. Field meanings: docs/events-priv.md.
 */
#include "priv.bpf.h"

/* ---- capability checks: counted per (process, capability) ---- */

/*
 * Every process running as root checks CAP_SYS_ADMIN when memory is committed (mmap, brk,
 * fork, exec, stack growth: cap_vm_enough_memory, a no-audit check): ~20 checks per fork+exec.
 * They are not a use of privilege; they are counted host-wide in per-CPU counters (no
 * per-process map entry, no first-use record), so an exec storm creates no capability state.
 * The capability:cap_capable tracepoint does not carry the check's options (CAP_OPT_NOAUDIT),
 * so the check is recognised by the syscall it happens in: the memory syscalls, exec, fork and
 * vfork (which can check CAP_SYS_ADMIN for nothing else), and clone/clone3 only when they ask
 * for no new namespace: inside a clone(CLONE_NEW*) the namespace check is a real use of
 * CAP_SYS_ADMIN and is counted per process (its few memory checks with it).
 * A CAP_SYS_ADMIN check from any other syscall is counted per process as usual.
 */
#if defined(__TARGET_ARCH_x86)
#define PRIV_VM_SYSCALL(nr)                                                                        \
	((nr) == 9 || (nr) == 10 || (nr) == 12 || (nr) == 25 || (nr) == 57 || (nr) == 58 ||        \
	 (nr) == 59 || (nr) == 322 ||                                                              \
	 ((nr) >= 4 && (nr) <= 7) /* a user page fault: orig_ax holds its error code */)
#else
#define PRIV_VM_SYSCALL(nr)                                                                        \
	((nr) == 222 || (nr) == 226 || (nr) == 214 || (nr) == 216 || (nr) == 221 || (nr) == 281 || \
	 (nr) < 0)
#endif
/* Is this CAP_SYS_ADMIN check (of task t) the memory accounting's? See above. */
static __always_inline bool priv_cap_quiet(struct task_struct *t)
{
	struct pt_regs *regs = (struct pt_regs *)bpf_task_pt_regs(t);
	long nr = HW_REG_NR(regs);
	if (PRIV_VM_SYSCALL(nr))
		return true;
	if (nr == HW_NR_CLONE)
		return !(HW_REG_ARG0(regs) & PRIV_CLONE_NEW_ALL);
	if (nr == HW_NR_CLONE3) {
		__u64 flags = 0;
		bpf_probe_read_user(&flags, sizeof(flags), (void *)HW_CREG_ARG0(regs));
		return !(flags & PRIV_CLONE_NEW_ALL);
	}
	return false;
}

static __always_inline void priv_memacct_add(int denied)
{
	__u32 zero = 0;
	struct hw_priv_memacct *c = bpf_map_lookup_elem(&hwv_memacct, &zero);
	if (c) {
		c->checks++;
		c->denied += denied;
	}
}

/* Give this CPU's fast-path slot to process (tgid, start_ns), whose entry for cap exists:
 * the previous process's pending counts first go to its entries (priv_fast_flush). */
static __always_inline void priv_fast_take(struct priv_cap_pc *f, __u32 tgid, __u64 start_ns,
					   int cap)
{
	if (f->tgid != tgid || f->start_ns != start_ns) {
		if (f->tgid)
			priv_fast_flush(f); /* zeroes every n[] before the key changes */
		f->seen = 0;
		f->tgid = tgid;
		f->start_ns = start_ns;
	}
	f->seen |= 1ULL << (cap & (PRIV_FAST_NCAP - 1));
}

/*
 * One capability check. The order is the frequency: the memory accounting's CAP_SYS_ADMIN
 * (about 20 per fork + exec: one per-CPU slot, no filter, no per-process state), then an
 * allowed repeat by the process this CPU's fast-path slot holds (hwv_cap_pc: an inlined
 * per-CPU lookup, two compares, one add), then the hash of (process, capability) counts
 * (priv_count), which also makes the first-use record. count_quiet: count the
 * memory-accounting checks here (false where another program counts them: see
 * hwv_vmacct_fx). fast: use the fast path (the tp_btf and fexit programs, which cannot run
 * twice at once on one CPU).
 */
static __always_inline void priv_cap(int cap, int ret, const bool count_quiet, const bool fast)
{
	struct task_struct *t = bpf_get_current_task_btf();
	struct priv_cap_pc *f = NULL;
	struct hw_cfg *cfg;
	struct hw_count_first *r;
	__u32 tgid, zero = 0;
	__u64 start_ns;
	int counted;

	if (cap == 21 /* CAP_SYS_ADMIN */ && priv_cap_quiet(t)) {
		if (count_quiet)
			priv_memacct_add(ret != 0);
		return;
	}
	/* t is a trusted BTF pointer: plain loads, no helper calls, on this hot path */
	tgid = t->tgid;
	start_ns = t->group_leader->start_boottime;
	/* allowed (ret 0) and cap < 64, in one test: the fewer instructions the better here */
	if (fast && !(ret | (cap & ~(PRIV_FAST_NCAP - 1)))) {
		f = bpf_map_lookup_elem(&hwv_cap_pc, &zero);
		if (f && f->tgid == tgid && f->start_ns == start_ns && (f->seen >> cap) & 1) {
			__sync_fetch_and_add(&f->n[cap & (PRIV_FAST_NCAP - 1)], 1);
			return;
		}
	}
	cfg = hw_get_cfg();
	/* The agent's own checks are not counted; the other filters (hw_filtered) are applied by
	 * priv_count when a process's first check creates its entry. */
	if (cfg && cfg->agent_pid == tgid)
		return;
	counted = priv_count(t, tgid, HW_EV_CAP, cap & 0xffff, ret != 0, 0);
	if (f && counted != PRIV_NOT_COUNTED) {
		/* the entry exists: this process's next allowed checks of cap on this CPU take the
		 * fast path, once the agent has shown it can flush the slots */
		struct hw_priv_cfg *pc = bpf_map_lookup_elem(&hwv_cfg, &zero);
		if (pc && pc->cap_fast)
			priv_fast_take(f, tgid, start_ns, cap);
	}
	if (counted != PRIV_FIRST)
		return;
	/* first use of this capability by this process: a record now */
	r = hw_scratch_get();
	if (!r) {
		hw_count_drop(HW_EV_CAP, HW_DROP_SCRATCH);
		return;
	}
	hw_fill_hdr(&r->hdr, t, HW_EV_CAP);
	r->idx = cap;
	r->flags = 0;
	r->ret = ret;
	r->prot = r->mflags = 0;
	r->addr = r->len = 0;
	hw_submit(r, sizeof(*r), false);
}

SEC("tp_btf/cap_capable")
int BPF_PROG(hwv_cap_btf, const struct cred *cred, struct user_namespace *target_ns,
	     const struct user_namespace *capable_ns, int cap, int ret)
{
	priv_cap(cap, ret, true, true);
	return 0;
}

SEC("tracepoint/capability/cap_capable")
int hwv_cap_tp(struct trace_event_raw_cap_capable___hw *ctx)
{
	priv_cap(ctx->cap, ctx->ret, true, false);
	return 0;
}

/*
 * Kernels before 6.14 have no cap_capable tracepoint: the function
 * itself, at its return (every check goes through it: the capability LSM is always first).
 * But cap_vm_enough_memory's call of cap_capable is inlined by the compiler (same file), so the
 * memory-accounting checks never reach the fexit: seen on Debian's 6.1 and 6.12. They are
 * counted at cap_vm_enough_memory's own return instead (an LSM hook, called through a pointer,
 * never inlined; its result is 1 when CAP_SYS_ADMIN was granted), and not counted here, where
 * a kernel that does not inline would show them a second time.
 */
SEC("fexit/cap_capable")
int BPF_PROG(hwv_cap_fx, const struct cred *cred, struct user_namespace *target_ns, int cap,
	     unsigned int opts, int ret)
{
	priv_cap(cap, ret, false, true);
	return 0;
}

SEC("fexit/cap_vm_enough_memory")
int BPF_PROG(hwv_vmacct_fx, struct mm_struct *mm, long pages, int ret)
{
	priv_memacct_add(ret == 0);
	return 0;
}

/* This CPU's pending fast-path counts (hwv_cap_pc), moved to their entries: never attached,
 * run by the agent on every CPU (BPF_F_TEST_RUN_ON_CPU; priv_counts.c) before it reads
 * hwv_counts at the end of a window. */
SEC("raw_tp")
int hwv_capfl_raw(void *ctx)
{
	__u32 zero = 0;
	struct priv_cap_pc *f = bpf_map_lookup_elem(&hwv_cap_pc, &zero);

	if (f && f->tgid)
		priv_fast_flush(f);
	return 0;
}
