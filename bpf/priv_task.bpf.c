/* SPDX-License-Identifier: GPL-2.0 */
/*
 * priv_task.bpf.c - the priv family's events that are not a syscall's entry/exit pair
 * (bpf/priv.bpf.c): W+X memory (mmap/mprotect entry only, counted per process and syscall),
 * comm renames (task_rename), namespaces created at fork (sched_process_fork) and
 * agent.tamper (signals to the agent, bpf() commands that take hold of its programs).
 */
#include "priv.bpf.h"

/* ---- W+X memory: mmap/mprotect entry only, counted per (process, syscall) ---- */

#define PRIV_PROT_WRITE 0x2
#define PRIV_PROT_EXEC 0x4
#define PRIV_VM_WRITE 0x2
#define PRIV_MAP_ANONYMOUS 0x20

static long priv_vma_writable(struct task_struct *task, struct vm_area_struct *vma, void *ctx)
{
	*(__u32 *)ctx = (BPF_CORE_READ(vma, vm_flags) & PRIV_VM_WRITE) != 0;
	return 0;
}

static __always_inline void priv_wx(__u16 sc, const unsigned long *args)
{
	__u32 prot = args[2];
	__u32 was_writable = 0;
	struct task_struct *t;
	__u32 tgid;

	if (!(prot & PRIV_PROT_EXEC))
		return; /* the common case: one compare */
	t = bpf_get_current_task_btf();
	if (!(prot & PRIV_PROT_WRITE)) {
		/* executable after being writable: look at the mapping as it is now */
		if (sc == HW_SC_MMAP)
			return;
		bpf_find_vma(t, args[0], priv_vma_writable, &was_writable, 0);
		if (!was_writable)
			return;
	}
	tgid = bpf_get_current_pid_tgid() >> 32;
	if (hw_filtered(tgid))
		return;
	if (!priv_count(t, tgid, HW_EV_WX, sc, false, prot))
		return;
	struct hw_count_first *r = hw_scratch_get();
	if (!r) {
		hw_count_drop(HW_EV_WX, HW_DROP_SCRATCH);
		return;
	}
	hw_fill_hdr(&r->hdr, t, HW_EV_WX);
	r->idx = sc;
	r->flags = (was_writable ? HW_WX_WAS_WRITABLE : 0) |
		   (sc == HW_SC_MMAP && (args[3] & PRIV_MAP_ANONYMOUS) ? HW_WX_ANON : 0);
	r->ret = 0;
	r->prot = prot;
	r->mflags = sc == HW_SC_MMAP ? args[3] : 0;
	r->addr = args[0];
	r->len = args[1];
	hw_submit(r, sizeof(*r), false);
}

/* Entry only, on the classic tracepoint or (preferred where offered) fentry on the syscall's
 * kernel function: the same body. */
#define PRIV_WX_SYSCALL(name, ev, SC, NARGS)                                                       \
	SEC("tracepoint/syscalls/sys_enter_" #name)                                                \
	int hwv_##ev##_en(struct trace_event_raw_sys_enter *ctx)                                   \
	{                                                                                          \
		unsigned long a[6];                                                                \
		priv_ctx_args(ctx, a, NARGS);                                                      \
		priv_wx(SC, a);                                                                    \
		return 0;                                                                          \
	}                                                                                          \
	SEC("fentry/" HW_SYSFN(name))                                                              \
	int BPF_PROG(hwv_##ev##_fe, struct pt_regs *regs)                                          \
	{                                                                                          \
		unsigned long a[6];                                                                \
		HW_SYSARGS(regs, a);                                                               \
		priv_wx(SC, a);                                                                    \
		return 0;                                                                          \
	}

PRIV_WX_SYSCALL(mmap, mmap, HW_SC_MMAP, 4)
PRIV_WX_SYSCALL(mprotect, mprotect, HW_SC_MPROTECT, 3)
PRIV_WX_SYSCALL(pkey_mprotect, pkeyprot, HW_SC_PKEY_MPROTECT, 3)

/* ---- comm renames: task_rename sees prctl(PR_SET_NAME) and /proc/PID/comm writes ---- */

#define PRIV_PF_KTHREAD 0x00200000

static __always_inline void priv_rename(struct task_struct *renamed, const char *oldc,
					const char *newc, bool old_kernel)
{
	struct task_struct *t = bpf_get_current_task_btf();
	struct pt_regs *regs;
	struct hw_rename *r;
	long nr;
	__u16 sc;

	if (t->flags & PRIV_PF_KTHREAD)
		return;
	regs = (struct pt_regs *)bpf_task_pt_regs(t);
	nr = HW_REG_NR(regs);
	if (nr == HW_NR_EXECVE || nr == HW_NR_EXECVEAT)
		return; /* exec names the process after its file: that is process.exec */
	sc = nr == HW_NR_PRCTL ? HW_SC_PRCTL : HW_SC_WRITE;
	if (hw_filtered(BPF_CORE_READ(t, tgid)))
		return;
	r = hw_scratch_get();
	if (!r) {
		hw_count_drop(HW_EV_RENAME, HW_DROP_SCRATCH);
		return;
	}
	hw_fill_hdr(&r->hdr, t, HW_EV_RENAME);
	r->sc = sc;
	r->pad = 0;
	r->target_tid = renamed ? BPF_CORE_READ(renamed, pid) : 0;
	if (old_kernel)
		bpf_probe_read_kernel_str(r->old_comm, sizeof(r->old_comm), oldc);
	else
		__builtin_memcpy(r->old_comm, oldc, sizeof(r->old_comm));
	bpf_probe_read_kernel_str(r->new_comm, sizeof(r->new_comm), newc);
	hw_submit(r, sizeof(*r), false);
}

SEC("tp_btf/task_rename")
int BPF_PROG(hwv_rename_btf, struct task_struct *task, const char *comm)
{
	/* Fired before the copy: task->comm is still the old name. Thread names (a JVM names
	 * every thread) are not reported; a process renaming itself changes its leader. */
	if (task != task->group_leader)
		return 0;
	priv_rename(task, task->comm, comm, true);
	return 0;
}

SEC("tracepoint/task/task_rename")
int hwv_rename_tp(struct trace_event_raw_task_rename *ctx)
{
	char oldc[16];
	bpf_probe_read_kernel(oldc, sizeof(oldc), ctx->oldcomm);
	struct task_struct *t = bpf_get_current_task_btf();
	/* no task here: the renamed pid must be the current process's leader */
	if (ctx->pid != BPF_CORE_READ(t, tgid))
		return 0;
	priv_rename(NULL, oldc, (const char *)ctx + 28, false);
	return 0;
}

/* ---- namespaces created by clone/clone3/fork: compare the child's with the parent's ---- */

SEC("tp_btf/sched_process_fork")
int BPF_PROG(hwv_nsfork_btf, struct task_struct *parent, struct task_struct *child)
{
	__u64 a[PRIV_NNS], b[PRIV_NNS];
	struct hw_ns *r;
	__u64 changed;

	/* the common case, nothing new: direct loads through the typed arguments (each
	 * BPF_CORE_READ hop would be a helper call, on every fork) */
	if (parent->nsproxy == child->nsproxy &&
	    parent->real_cred->user_ns == child->real_cred->user_ns)
		return 0;
	priv_ns_read(parent, a);
	priv_ns_read(child, b);
	/* A child gets the parent's pid_ns_for_children as its own: compare the parent's with
	 * the child's active pid namespace rather than with the child's for-children one. */
	b[3] = (__u64)BPF_CORE_READ(child, nsproxy, pid_ns_for_children);
	changed = priv_ns_diff(a, b);
	if (!changed || hw_filtered(BPF_CORE_READ(parent, tgid)))
		return 0;
	r = hw_scratch_get();
	if (!r) {
		hw_count_drop(HW_EV_NS, HW_DROP_SCRATCH);
		return 0;
	}
	hw_fill_hdr(&r->hdr, parent, HW_EV_NS);
	struct pt_regs *regs = (struct pt_regs *)bpf_task_pt_regs(parent);
	long nr = HW_CREG_NR(regs);
	__builtin_memset(&r->s, 0, sizeof(r->s));
	r->s.sc = nr == HW_NR_CLONE ? HW_SC_CLONE : nr == HW_NR_CLONE3 ? HW_SC_CLONE3 : HW_SC_FORK;
	if (r->s.sc == HW_SC_CLONE) {
		r->s.args[0] = HW_CREG_ARG0(regs);
	} else if (r->s.sc == HW_SC_CLONE3) {
		/* clone3(struct clone_args *, size): the flags are the struct's first member */
		__u64 flags = 0;
		r->s.args[0] = HW_CREG_ARG0(regs);
		bpf_probe_read_user(&flags, sizeof(flags), (void *)r->s.args[0]);
		r->s.args[5] = flags;
	}
	r->s.result = BPF_CORE_READ(child, tgid);
	r->changed = changed;
	r->child_pid = BPF_CORE_READ(child, tgid);
	r->pad = 0;
	hw_submit(r, sizeof(*r), false);
	return 0;
}

/* ---- agent.tamper ---- */

#define PRIV_SIGCHLD 17

static __always_inline void priv_signal(int sig, __u32 target_tgid, int result)
{
	struct hw_cfg *cfg = hw_get_cfg();
	struct task_struct *t;
	__u32 tgid;

	if (!cfg || !cfg->agent_pid || target_tgid != cfg->agent_pid || sig == PRIV_SIGCHLD)
		return;
	tgid = bpf_get_current_pid_tgid() >> 32;
	if (tgid == cfg->agent_pid) /* the agent signalling itself; no other filter applies */
		return;
	t = bpf_get_current_task_btf();
	priv_tamper(t, HW_TAMPER_SIGNAL, sig, result, 0, 0);
}

SEC("tp_btf/signal_generate")
int BPF_PROG(hwv_signal_btf, int sig, struct kernel_siginfo *info, struct task_struct *task,
	     int group, int result)
{
	if (sig == PRIV_SIGCHLD) /* every exit: checked before the target is read */
		return 0;
	priv_signal(sig, task->tgid, result);
	return 0;
}

SEC("tracepoint/signal/signal_generate")
int hwv_signal_tp(struct trace_event_raw_signal_generate *ctx)
{
	/* pid is the target thread's id; signals to a process go to its leader (tid == tgid) */
	priv_signal(ctx->sig, ctx->pid, ctx->result);
	return 0;
}

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 1024);
	__type(key, __u64); /* cmd << 32 | tgid: the first handle of each kind is reported */
	__type(value, __u64);
} hwv_tamper_seen SEC(".maps");

/* bpf() commands that take hold of the agent's programs or links. */
static __always_inline void priv_tamper_bpf(long cmd, unsigned long uattr)
{
	__u32 a0 = 0;
	__u64 key;
	struct task_struct *t;

	/* PROG_GET_FD_BY_ID 13, MAP_GET_FD_BY_ID 14, LINK_GET_FD_BY_ID 30, LINK_UPDATE 29,
	 * LINK_DETACH 34 */
	if (cmd != 13 && cmd != 14 && cmd != 30 && cmd != 29 && cmd != 34)
		return;
	/* only the agent itself is left out: tamper is reported whatever the filters say */
	struct hw_cfg *cfg = hw_get_cfg();
	if (!cfg || cfg->agent_pid == bpf_get_current_pid_tgid() >> 32)
		return;
	if (bpf_probe_read_user(&a0, sizeof(a0), (void *)uattr))
		return;
	t = bpf_get_current_task_btf();
	if (cmd == 13) {
		key = PRIV_ID_PROG | a0;
	} else if (cmd == 14) {
		key = PRIV_ID_MAP | a0;
	} else if (cmd == 30) {
		key = PRIV_ID_LINK | a0;
	} else {
		/* a link fd: is it a bpf_link file, and whose? */
		struct file *f = priv_fd_file(t, a0);
		char name[8] = {};
		if (!f)
			return;
		bpf_probe_read_kernel(name, sizeof(name),
				      BPF_CORE_READ(f, f_path.dentry, d_name.name));
		/* "bpf_link" when created, "bpf-link" when obtained by id (bpf_link_new_fd) */
		if (name[0] != 'b' || name[1] != 'p' || name[2] != 'f' || name[4] != 'l' ||
		    name[5] != 'i' || name[6] != 'n' || name[7] != 'k')
			return;
		struct bpf_link *l = BPF_CORE_READ(f, private_data);
		a0 = BPF_CORE_READ(l, id);
		key = PRIV_ID_LINK | a0;
	}
	if (!bpf_map_lookup_elem(&hwv_own_ids, &key))
		return;
	if (cmd == 13 || cmd == 14 || cmd == 30) {
		/* Listing tools (bpftool prog show) take a handle on every program: report the
		 * first handle a process takes on the agent, count the rest. */
		__u64 sk = (__u64)cmd << 32 | (bpf_get_current_pid_tgid() >> 32);
		__u64 one = 1, *seen = bpf_map_lookup_elem(&hwv_tamper_seen, &sk);
		if (seen) {
			__sync_fetch_and_add(seen, 1);
			return;
		}
		bpf_map_update_elem(&hwv_tamper_seen, &sk, &one, BPF_ANY);
	}
	bool get_fd = cmd == 13 || cmd == 14 || cmd == 30;
	priv_tamper(t, get_fd ? HW_TAMPER_BPF_GET_FD : HW_TAMPER_BPF_DETACH, 0, 0, cmd, a0);
}

SEC("tracepoint/syscalls/sys_enter_bpf")
int hwv_tamper_en(struct trace_event_raw_sys_enter *ctx)
{
	priv_tamper_bpf(ctx->args[0], ctx->args[1]);
	return 0;
}

SEC("fentry/" HW_SYSFN(bpf))
int BPF_PROG(hwv_tamper_fe, struct pt_regs *regs)
{
	unsigned long a[6];
	HW_SYSARGS(regs, a);
	priv_tamper_bpf(a[0], a[1]);
	return 0;
}
