/* SPDX-License-Identifier: GPL-2.0 */
/*
 * priv.bpf.c - privilege, kernel-integrity and tamper telemetry.
 *
 * Rare syscalls (set*id, capset, ptrace, process_vm_*, memfd_create, setns, unshare, module
 * syscalls, bpf, perf_event_open, mount family) use the classic syscalls:sys_enter_X/sys_exit_X
 * tracepoints: ~160 ns per call, paid only by those syscalls. The entry saves the arguments
 * and whatever must be seen before the call (old credentials, namespaces) in a per-thread map;
 * the exit builds the record with the result.
 *
 * Frequent events are counted in the kernel instead (hwv_counts): capability checks from
 * capability:cap_capable (bpf/priv_cap.bpf.c) and W+X mappings from mmap/mprotect entry
 * (bpf/priv_task.bpf.c); only the first per process is a record, the agent summarises the
 * counts once per window.
 *
 * Where a non-syscall tracepoint sees an event from every path at once it is used instead
 * (bpf/priv_task.bpf.c): task_rename (prctl and /proc/PID/comm), sched_process_fork
 * (namespaces created by clone and clone3), signal_generate (signals to the agent).
 *
 * This file: the syscall pairs (entry filter and state, one record builder per kind at exit)
 * and the module hooks. What the priv files share is in bpf/priv.bpf.h.
 */
#include "priv.bpf.h"

#define PRIV_STR_MAX 512 /* bytes kept of each user string (paths, names) */

/* ---- syscall entry: in-kernel pre-filter, then save the state ---- */

/* Is this call worth remembering? Cheap checks on the arguments only. */
static __always_inline bool priv_enter_wanted(__u16 sc, const unsigned long *args)
{
	switch (sc) {
	case HW_SC_PTRACE: {
		long req = args[0];
		/* TRACEME, POKETEXT/DATA/USER, SETREGS, SETFPREGS, ATTACH, SETREGSET, SEIZE.
		 * Reads (PEEK*, GETREGS) are what a debugger does all the time: not reported. */
		return req == 0 || req == 4 || req == 5 || req == 6 || req == 13 || req == 15 ||
		       req == 16 || req == 0x4205 || req == 0x4206;
	}
	case HW_SC_VM_READV:
	case HW_SC_VM_WRITEV:
		/* on another process only */
		return (__u32)args[0] != (__u32)(bpf_get_current_pid_tgid() >> 32);
	case HW_SC_BPF: {
		long cmd = args[0];
		/* PROG_LOAD, PROG_ATTACH, PROG_DETACH, RAW_TRACEPOINT_OPEN, LINK_CREATE,
		 * LINK_UPDATE, LINK_DETACH; map operations are not reported. */
		return cmd == 5 || cmd == 8 || cmd == 9 || cmd == 17 || cmd == 28 || cmd == 29 ||
		       cmd == 34;
	}
	case HW_SC_PERF_EVENT_OPEN: {
		__u32 zero = 0, type = 0;
		struct hw_priv_cfg *pc = bpf_map_lookup_elem(&hwv_cfg, &zero);
		if (!pc || bpf_probe_read_user(&type, sizeof(type), (void *)args[0]))
			return false;
		return (pc->kprobe_type && type == pc->kprobe_type) ||
		       (pc->uprobe_type && type == pc->uprobe_type);
	}
	case HW_SC_CLONE:
		return args[0] & PRIV_CLONE_NEW_ALL;
	case HW_SC_CLONE3: {
		__u64 flags = 0;
		bpf_probe_read_user(&flags, sizeof(flags), (void *)args[0]);
		return flags & PRIV_CLONE_NEW_ALL;
	}
	default:
		return true;
	}
}

static __always_inline void priv_sc_enter(__u16 sc, const unsigned long *args)
{
	__u64 pt = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)pt;
	struct priv_inflight v;

	bool to_agent = false;

	if (!priv_enter_wanted(sc, args))
		return;
	if (sc == HW_SC_PTRACE || sc == HW_SC_VM_READV || sc == HW_SC_VM_WRITEV) {
		/* aimed at the agent: agent.tamper, which no filter hides */
		struct hw_cfg *cfg = hw_get_cfg();
		__u32 target = sc == HW_SC_PTRACE ? args[1] : args[0];
		to_agent = cfg && cfg->agent_pid && target == cfg->agent_pid &&
			   (pt >> 32) != cfg->agent_pid && !(sc == HW_SC_PTRACE && args[0] == 0);
	}
	if (!to_agent && hw_filtered(pt >> 32))
		return;
	__builtin_memset(&v, 0, sizeof(v));
	v.sc = sc;
#pragma unroll
	for (int i = 0; i < 6; i++)
		v.args[i] = args[i];
	if (sc == HW_SC_CLONE3) {
		__u64 flags = 0;
		bpf_probe_read_user(&flags, sizeof(flags), (void *)args[0]);
		v.args[5] = flags; /* clone3 has 2 arguments: keep the flags from the struct */
	}
	v.to_agent = to_agent;
	if (sc <= HW_SC_CAPSET) {
		struct task_struct *t = bpf_get_current_task_btf();
		const struct cred *c = BPF_CORE_READ(t, real_cred);
		priv_creds_read(c, &v.pre.creds);
		v.ngroups = priv_groups_read(c, v.groups);
	} else if (sc == HW_SC_SETNS || sc == HW_SC_UNSHARE) {
		priv_ns_read(bpf_get_current_task_btf(), v.pre.ns);
	}
	if (bpf_map_update_elem(&hwv_inflight, &tid, &v, BPF_ANY))
		priv_count_loss(HW_PRIV_LOSS_INFLIGHT);
}

/* ---- syscall exit: one record builder per kind ---- */

static __always_inline void priv_fill_sc(struct hw_priv_call *s, const struct priv_inflight *v,
					 long ret)
{
	s->sc = v->sc;
	s->flags = 0;
	s->pad = 0;
	s->result = ret;
#pragma unroll
	for (int i = 0; i < 6; i++)
		s->args[i] = v->args[i];
}

static __always_inline void priv_emit_cred(struct task_struct *t, const struct priv_inflight *v,
					   long ret)
{
	struct hw_cred *r = hw_scratch_get();
	if (!r) {
		hw_count_drop(HW_EV_CRED, HW_DROP_SCRATCH);
		return;
	}
	hw_fill_hdr(&r->hdr, t, HW_EV_CRED);
	priv_fill_sc(&r->s, v, ret);
	r->old = v->pre.creds;
	const struct cred *c = BPF_CORE_READ(t, real_cred);
	priv_creds_read(c, &r->new);
	r->old_ngroups = v->ngroups;
	__builtin_memcpy(r->old_groups, v->groups, sizeof(r->old_groups));
	r->ngroups = priv_groups_read(c, r->groups);
	hw_submit(r, sizeof(*r), true);
}

static __always_inline void priv_emit_ptrace(struct task_struct *t, const struct priv_inflight *v,
					     long ret)
{
	struct hw_ptrace *r = hw_scratch_get();
	if (!r) {
		hw_count_drop(HW_EV_PTRACE, HW_DROP_SCRATCH);
		return;
	}
	hw_fill_hdr(&r->hdr, t, HW_EV_PTRACE);
	priv_fill_sc(&r->s, v, ret);
	__builtin_memset(r->target_comm, 0, sizeof(r->target_comm));
	if (v->sc == HW_SC_PTRACE && v->args[0] == 0) { /* TRACEME: the tracer is the parent */
		struct task_struct *pp = BPF_CORE_READ(t, real_parent);
		bpf_probe_read_kernel_str(r->target_comm, sizeof(r->target_comm), &pp->comm);
	}
	hw_submit(r, sizeof(*r), true);
}

static __always_inline void priv_emit_memfd(struct task_struct *t, const struct priv_inflight *v,
					    long ret)
{
	struct hw_memfd *r = hw_scratch_get();
	struct hw_blob b;
	if (!r) {
		hw_count_drop(HW_EV_MEMFD, HW_DROP_SCRATCH);
		return;
	}
	hw_fill_hdr(&r->hdr, t, HW_EV_MEMFD);
	priv_fill_sc(&r->s, v, ret);
	r->pad = 0;
	b.base = (__u8 *)r;
	b.pos = sizeof(*r);
	hw_blob_ustr(&b, (void *)v->args[0], 256, &r->name);
	hw_submit(r, b.pos, false);
}

static __always_inline void priv_emit_ns(struct task_struct *t, const struct priv_inflight *v,
					 long ret)
{
	struct hw_ns *r = hw_scratch_get();
	__u64 now[PRIV_NNS];
	if (!r) {
		hw_count_drop(HW_EV_NS, HW_DROP_SCRATCH);
		return;
	}
	hw_fill_hdr(&r->hdr, t, HW_EV_NS);
	priv_fill_sc(&r->s, v, ret);
	r->changed = 0;
	r->child_pid = 0;
	r->pad = 0;
	if (v->sc == HW_SC_SETNS || v->sc == HW_SC_UNSHARE) {
		priv_ns_read(t, now);
		r->changed = priv_ns_diff(v->pre.ns, now);
	} else if (ret > 0) {
		/* clone/clone3 fallback: the flags say what the child got */
		r->changed = (v->sc == HW_SC_CLONE3 ? v->args[5] : v->args[0]) & PRIV_CLONE_NEW_ALL;
		r->child_pid = ret;
	}
	hw_submit(r, sizeof(*r), false);
}

static __always_inline void priv_emit_module(struct task_struct *t, const struct priv_inflight *v,
					     long ret, __u16 sc)
{
	struct hw_module *r = hw_scratch_get();
	struct hw_blob b;
	if (!r) {
		hw_count_drop(HW_EV_MODULE, HW_DROP_SCRATCH);
		return;
	}
	hw_fill_hdr(&r->hdr, t, HW_EV_MODULE);
	priv_fill_sc(&r->s, v, ret);
	b.base = (__u8 *)r;
	b.pos = sizeof(*r);
	r->path.off = b.pos;
	r->path.len = 0;
	r->path.ncomp = 0;
	r->path.flags = 0;
	r->name.off = b.pos;
	r->name.len = 0;
	r->params.off = b.pos;
	r->params.len = 0;
	/* Strings before the path: the dentry walk (bpf_loop) must start from an offset the
	 * verifier sees as a range, or it re-verifies the callback for every exact value. */
	if (sc == HW_SC_FINIT_MODULE)
		hw_blob_ustr(&b, (void *)v->args[1], 256, &r->params);
	else if (sc == HW_SC_INIT_MODULE)
		hw_blob_ustr(&b, (void *)v->args[2], 256, &r->params);
	else if (sc == HW_SC_DELETE_MODULE)
		hw_blob_ustr(&b, (void *)v->args[0], 64, &r->name);
	if (sc == HW_SC_FINIT_MODULE) {
		struct file *f = priv_fd_file(t, v->args[0]);
		/* re-read from the record: a value the verifier cannot know exactly */
		b.pos = sizeof(*r) + r->params.len + 1;
		if (f) {
			struct path p = BPF_CORE_READ(f, f_path);
			hw_blob_path(&b, &p, &r->path);
		}
	}
	/* the mask keeps the verifier's bound on the size inside the scratch buffer */
	hw_submit(r, b.pos & (HW_MAX_RECORD * 2 - 1), true);
}

/* The subset of union bpf_attr read here (UAPI: offsets never change). */
struct priv_bpf_attr {
	__u32 a0; /* PROG_LOAD prog_type; *_ATTACH target_fd; LINK_CREATE prog_fd;
			    *_GET_FD_BY_ID id; LINK_UPDATE/DETACH link_fd */
	__u32 a1; /* PROG_LOAD insn_cnt; PROG_ATTACH attach_bpf_fd; LINK_CREATE target_fd */
	__u32 a2; /* PROG_ATTACH attach_type; LINK_CREATE attach_type */
	__u32 a3;
	__u64 pad[4];
	char prog_name[16]; /* PROG_LOAD, offset 48 */
	__u32 ifindex;
	__u32 expected_attach_type; /* PROG_LOAD, offset 68 */
};

/* The program behind a descriptor of the current task: a program fd ("bpf-prog"), or a link
 * fd ("bpf_link" when created, "bpf-link" when obtained by id) and the program it holds. */
static __always_inline struct bpf_prog *priv_fd_prog(struct task_struct *t, __u32 fd)
{
	struct file *f = priv_fd_file(t, fd);
	char name[8] = {};
	if (!f)
		return NULL;
	bpf_probe_read_kernel(name, sizeof(name), BPF_CORE_READ(f, f_path.dentry, d_name.name));
	if (name[0] != 'b' || name[1] != 'p' || name[2] != 'f' ||
	    (name[3] != '-' && name[3] != '_'))
		return NULL;
	if (name[4] == 'p' && name[5] == 'r' && name[6] == 'o' && name[7] == 'g')
		return BPF_CORE_READ(f, private_data);
	if (name[4] == 'l' && name[5] == 'i' && name[6] == 'n' && name[7] == 'k') {
		struct bpf_link *l = BPF_CORE_READ(f, private_data);
		return BPF_CORE_READ(l, prog);
	}
	return NULL;
}

static __always_inline void priv_emit_bpf(struct task_struct *t, const struct priv_inflight *v,
					  long ret)
{
	struct hw_bpfcall *r = hw_scratch_get();
	struct priv_bpf_attr at = {};
	struct hw_blob b;
	__u32 sz = v->args[2];
	__s64 pfd = -1;
	if (!r) {
		hw_count_drop(HW_EV_BPF, HW_DROP_SCRATCH);
		return;
	}
	hw_fill_hdr(&r->hdr, t, HW_EV_BPF);
	priv_fill_sc(&r->s, v, ret);
	if (sz > sizeof(at))
		sz = sizeof(at);
	bpf_probe_read_user(&at, sz, (void *)v->args[1]);
	__builtin_memset(r->prog_name, 0, sizeof(r->prog_name));
	r->prog_type = 0;
	r->attach_type = 0;
	r->insn_cnt = 0;
	r->target = 0;
	r->pad = 0;
	b.base = (__u8 *)r;
	b.pos = sizeof(*r);
	r->tp_name.off = b.pos;
	r->tp_name.len = 0;
	switch (v->args[0]) {
	case 5: /* PROG_LOAD */
		r->prog_type = at.a0;
		r->insn_cnt = at.a1;
		r->attach_type = at.expected_attach_type;
		__builtin_memcpy(r->prog_name, at.prog_name, sizeof(r->prog_name));
		break;
	case 8: /* PROG_ATTACH: target_fd, attach_bpf_fd, attach_type */
	case 9: /* PROG_DETACH: the same (attach_bpf_fd may be 0: none) */
		r->target = at.a0;
		r->attach_type = at.a2;
		pfd = at.a1;
		break;
	case 17: /* RAW_TRACEPOINT_OPEN: u64 name pointer, prog_fd */
		pfd = at.a2;
		if (at.a0 || at.a1)
			hw_blob_ustr(&b, (void *)((__u64)at.a1 << 32 | at.a0), 128, &r->tp_name);
		break;
	case 28: /* LINK_CREATE: prog_fd, target_fd, attach_type */
		pfd = at.a0;
		r->target = at.a1;
		r->attach_type = at.a2;
		break;
	case 29: /* LINK_UPDATE: link_fd, new_prog_fd */
		r->target = at.a0;
		pfd = at.a1;
		break;
	default: /* LINK_DETACH: link_fd */
		r->target = at.a0;
		pfd = at.a0;
		break;
	}
	if (pfd >= 0) {
		struct bpf_prog *p = priv_fd_prog(t, pfd);
		if (p) {
			struct bpf_prog_aux *aux = BPF_CORE_READ(p, aux);
			r->prog_type = BPF_CORE_READ(p, type);
			bpf_probe_read_kernel(r->prog_name, sizeof(r->prog_name), &aux->name);
			r->s.flags |= HW_PSC_BPF_PROG;
		}
	}
	hw_submit(r, b.pos & (HW_MAX_RECORD * 2 - 1), false);
}

static __always_inline void priv_emit_perf(struct task_struct *t, const struct priv_inflight *v,
					   long ret)
{
	struct hw_perf *r = hw_scratch_get();
	struct hw_blob b;
	__u64 a[9] = {};
	if (!r) {
		hw_count_drop(HW_EV_PERF, HW_DROP_SCRATCH);
		return;
	}
	hw_fill_hdr(&r->hdr, t, HW_EV_PERF);
	priv_fill_sc(&r->s, v, ret);
	/* perf_event_attr: type @0, config @8, config1 (kprobe_func/uprobe_path) @56,
	 * config2 (probe_offset) @64 */
	bpf_probe_read_user(a, sizeof(a), (void *)v->args[0]);
	__u32 zero = 0;
	struct hw_priv_cfg *pc = bpf_map_lookup_elem(&hwv_cfg, &zero);
	r->ptype = (__u32)a[0];
	r->probe = pc && r->ptype == pc->kprobe_type ? 1 : 2;
	r->config = a[1];
	r->offset = a[8];
	r->pad = 0;
	b.base = (__u8 *)r;
	b.pos = sizeof(*r);
	r->func.off = b.pos;
	r->func.len = 0;
	if (a[7])
		hw_blob_ustr(&b, (void *)a[7], PRIV_STR_MAX, &r->func);
	hw_submit(r, b.pos, false);
}

static __always_inline void priv_emit_mount(struct task_struct *t, const struct priv_inflight *v,
					    long ret)
{
	struct hw_mount *r = hw_scratch_get();
	struct hw_blob b;
	const void *src = NULL, *tgt = NULL, *fst = NULL;
	if (!r) {
		hw_count_drop(HW_EV_MOUNT, HW_DROP_SCRATCH);
		return;
	}
	hw_fill_hdr(&r->hdr, t, HW_EV_MOUNT);
	priv_fill_sc(&r->s, v, ret);
	r->pad = 0;
	b.base = (__u8 *)r;
	b.pos = sizeof(*r);
	switch (v->sc) {
	case HW_SC_MOUNT:
		src = (void *)v->args[0];
		tgt = (void *)v->args[1];
		fst = (void *)v->args[2];
		break;
	case HW_SC_UMOUNT:
	case HW_SC_CHROOT:
		tgt = (void *)v->args[0];
		break;
	case HW_SC_PIVOT_ROOT: /* new_root, put_old */
		tgt = (void *)v->args[0];
		src = (void *)v->args[1];
		break;
	case HW_SC_MOVE_MOUNT: /* from_dfd, from_path, to_dfd, to_path, flags */
		src = (void *)v->args[1];
		tgt = (void *)v->args[3];
		break;
	}
	r->source.off = r->target.off = r->fstype.off = b.pos;
	r->source.len = r->target.len = r->fstype.len = 0;
	if (src)
		hw_blob_ustr(&b, src, PRIV_STR_MAX, &r->source);
	if (tgt)
		hw_blob_ustr(&b, tgt, PRIV_STR_MAX, &r->target);
	if (fst)
		hw_blob_ustr(&b, fst, 64, &r->fstype);
	hw_submit(r, b.pos, false);
}

static __always_inline void priv_sc_exit(__u16 sc, long ret)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct priv_inflight *v = bpf_map_lookup_elem(&hwv_inflight, &tid);
	struct task_struct *t;

	if (!v)
		return;
	if (v->sc != sc) {
		bpf_map_delete_elem(&hwv_inflight, &tid);
		return;
	}
	t = bpf_get_current_task_btf();
	if (sc <= HW_SC_CAPSET)
		priv_emit_cred(t, v, ret);
	else if (sc == HW_SC_PTRACE || sc == HW_SC_VM_READV || sc == HW_SC_VM_WRITEV) {
		if (v->to_agent)
			priv_tamper(t, sc == HW_SC_PTRACE ? HW_TAMPER_PTRACE : HW_TAMPER_VM, 0, ret,
				    sc == HW_SC_PTRACE ? (__u32)v->args[0] : sc, 0);
		priv_emit_ptrace(t, v, ret);
	} else if (sc == HW_SC_MEMFD_CREATE)
		priv_emit_memfd(t, v, ret);
	else if (sc == HW_SC_SETNS || sc == HW_SC_UNSHARE || sc == HW_SC_CLONE ||
		 sc == HW_SC_CLONE3)
		priv_emit_ns(t, v, ret);
	else if (sc == HW_SC_INIT_MODULE || sc == HW_SC_FINIT_MODULE || sc == HW_SC_DELETE_MODULE)
		priv_emit_module(t, v, ret, sc);
	else if (sc == HW_SC_BPF)
		priv_emit_bpf(t, v, ret);
	else if (sc == HW_SC_PERF_EVENT_OPEN)
		priv_emit_perf(t, v, ret);
	else
		priv_emit_mount(t, v, ret);
	bpf_map_delete_elem(&hwv_inflight, &tid);
}

/* One program pair per syscall; each is the shared body with a constant, so the compiler
 * keeps only that syscall's branch. */
#define PRIV_SYSCALL(name, ev, SC, NARGS)                                                          \
	SEC("tracepoint/syscalls/sys_enter_" #name)                                                \
	int hwv_##ev##_en(struct trace_event_raw_sys_enter *ctx)                                   \
	{                                                                                          \
		unsigned long a[6];                                                                \
		priv_ctx_args(ctx, a, NARGS);                                                      \
		priv_sc_enter(SC, a);                                                              \
		return 0;                                                                          \
	}                                                                                          \
	SEC("tracepoint/syscalls/sys_exit_" #name)                                                 \
	int hwv_##ev##_ex(struct trace_event_raw_sys_exit *ctx)                                    \
	{                                                                                          \
		priv_sc_exit(SC, ctx->ret);                                                        \
		return 0;                                                                          \
	}

/* The same pair on the syscall's kernel function (HW_SYSFN): preferred where the kernel has
 * BPF trampolines (probes.def lists it first). */
#define PRIV_SYSCALL_F(name, ev, SC)                                                               \
	SEC("fentry/" HW_SYSFN(name))                                                              \
	int BPF_PROG(hwv_##ev##_fe, struct pt_regs *regs)                                          \
	{                                                                                          \
		unsigned long a[6];                                                                \
		HW_SYSARGS(regs, a);                                                               \
		priv_sc_enter(SC, a);                                                              \
		return 0;                                                                          \
	}                                                                                          \
	SEC("fexit/" HW_SYSFN(name))                                                               \
	int BPF_PROG(hwv_##ev##_fx, struct pt_regs *regs, long ret)                                \
	{                                                                                          \
		priv_sc_exit(SC, ret);                                                             \
		return 0;                                                                          \
	}

#define PRIV_SYSCALL2(name, ev, SC, NARGS)                                                         \
	PRIV_SYSCALL(name, ev, SC, NARGS)                                                          \
	PRIV_SYSCALL_F(name, ev, SC)

PRIV_SYSCALL2(setuid, setuid, HW_SC_SETUID, 1)
PRIV_SYSCALL2(setgid, setgid, HW_SC_SETGID, 1)
PRIV_SYSCALL2(setreuid, setreuid, HW_SC_SETREUID, 2)
PRIV_SYSCALL2(setregid, setregid, HW_SC_SETREGID, 2)
PRIV_SYSCALL2(setresuid, setresu, HW_SC_SETRESUID, 3)
PRIV_SYSCALL2(setresgid, setresg, HW_SC_SETRESGID, 3)
PRIV_SYSCALL2(setfsuid, setfsuid, HW_SC_SETFSUID, 1)
PRIV_SYSCALL2(setfsgid, setfsgid, HW_SC_SETFSGID, 1)
PRIV_SYSCALL2(setgroups, setgrps, HW_SC_SETGROUPS, 2)
PRIV_SYSCALL2(capset, capset, HW_SC_CAPSET, 2)
PRIV_SYSCALL2(ptrace, ptrace, HW_SC_PTRACE, 4)
PRIV_SYSCALL2(process_vm_readv, vmreadv, HW_SC_VM_READV, 6)
PRIV_SYSCALL2(process_vm_writev, vmwritev, HW_SC_VM_WRITEV, 6)
PRIV_SYSCALL2(memfd_create, memfd, HW_SC_MEMFD_CREATE, 2)
PRIV_SYSCALL2(setns, setns, HW_SC_SETNS, 2)
PRIV_SYSCALL2(unshare, unshare, HW_SC_UNSHARE, 1)
PRIV_SYSCALL2(clone, clone, HW_SC_CLONE, 5)
PRIV_SYSCALL2(clone3, clone3, HW_SC_CLONE3, 2)
PRIV_SYSCALL2(init_module, initmod, HW_SC_INIT_MODULE, 3)
PRIV_SYSCALL2(finit_module, finitmod, HW_SC_FINIT_MODULE, 3)
PRIV_SYSCALL2(delete_module, delmod, HW_SC_DELETE_MODULE, 2)
PRIV_SYSCALL2(bpf, bpf, HW_SC_BPF, 3)
PRIV_SYSCALL2(perf_event_open, perfopen, HW_SC_PERF_EVENT_OPEN, 5)
PRIV_SYSCALL2(mount, mount, HW_SC_MOUNT, 5)
PRIV_SYSCALL2(umount, umount, HW_SC_UMOUNT, 2)
PRIV_SYSCALL2(pivot_root, pivroot, HW_SC_PIVOT_ROOT, 2)
PRIV_SYSCALL2(chroot, chroot, HW_SC_CHROOT, 1)
PRIV_SYSCALL2(move_mount, movemnt, HW_SC_MOVE_MOUNT, 5)
PRIV_SYSCALL2(fsmount, fsmount, HW_SC_FSMOUNT, 3)

/*
 * Module syscalls on a kernel built without modules: they are sys_ni_syscall and have no
 * syscalls:* tracepoints, so the only hook that sees the attempt is raw_syscalls, which runs
 * for every syscall of every process. That costs on all hot paths, so this candidate belongs
 * to its own probe (kernel.module_load_raw), disabled by default.
 */
static __always_inline __u16 priv_module_sc(long id)
{
	if (id == HW_NR_FINIT_MODULE)
		return HW_SC_FINIT_MODULE;
	if (id == HW_NR_INIT_MODULE)
		return HW_SC_INIT_MODULE;
	if (id == HW_NR_DELETE_MODULE)
		return HW_SC_DELETE_MODULE;
	return 0;
}

SEC("tp_btf/sys_enter")
int BPF_PROG(hwv_modin_btf, struct pt_regs *regs, long id)
{
	__u16 sc = priv_module_sc(id);
	unsigned long args[6];
	if (!sc)
		return 0;
	args[0] = HW_CREG_ARG0(regs);
	args[1] = HW_CREG_ARG1(regs);
	args[2] = HW_CREG_ARG2(regs);
	args[3] = args[4] = args[5] = 0;
	priv_sc_enter(sc, args);
	return 0;
}

SEC("tp_btf/sys_exit")
int BPF_PROG(hwv_modout_btf, struct pt_regs *regs, long ret)
{
	__u16 sc = priv_module_sc(HW_CREG_NR(regs));
	__u32 tid;
	struct priv_inflight *v;

	if (!sc)
		return 0;
	tid = (__u32)bpf_get_current_pid_tgid();
	v = bpf_map_lookup_elem(&hwv_inflight, &tid);
	if (!v)
		return 0;
	if (v->sc == sc)
		priv_emit_module(bpf_get_current_task_btf(), v, ret, sc);
	bpf_map_delete_elem(&hwv_inflight, &tid);
	return 0;
}

/* module:module_load (kernels with modules): the name of a module that did load. */
static __always_inline void priv_module_loaded(const char *name)
{
	struct task_struct *t = bpf_get_current_task_btf();
	struct hw_module *r;
	struct hw_blob b;

	if (hw_filtered(BPF_CORE_READ(t, tgid)))
		return;
	r = hw_scratch_get();
	if (!r) {
		hw_count_drop(HW_EV_MODULE, HW_DROP_SCRATCH);
		return;
	}
	hw_fill_hdr(&r->hdr, t, HW_EV_MODULE);
	__builtin_memset(&r->s, 0, sizeof(r->s));
	r->s.sc = HW_SC_MODULE_LOADED;
	b.base = (__u8 *)r;
	b.pos = sizeof(*r);
	r->path.off = r->params.off = b.pos;
	r->path.len = r->path.ncomp = r->path.flags = r->params.len = 0;
	hw_blob_kstr(&b, name, 64, &r->name);
	hw_submit(r, b.pos, true);
}

/* Only the classic tracepoint: module loads are rare, and a tp_btf program refused at load
 * time (no module_load in this kernel's BTF when it has no modules) costs the loader a full
 * reload of the object at every start, while a missing classic tracepoint only fails to attach. */
SEC("tracepoint/module/module_load")
int hwv_modload_tp(void *ctx)
{
	/* struct trace_event_raw_module_load { ent; unsigned taints; u32 __data_loc_name; } */
	__u32 loc = 0;
	bpf_probe_read_kernel(&loc, sizeof(loc), (char *)ctx + 12);
	priv_module_loaded((const char *)ctx + (loc & 0xffff));
	return 0;
}

/* ---- capability checks: bpf/priv_cap.bpf.c; W+X memory, comm renames, namespaces at fork,
 * agent.tamper: bpf/priv_task.bpf.c ---- */
