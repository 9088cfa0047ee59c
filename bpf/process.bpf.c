/* SPDX-License-Identifier: GPL-2.0 */
/*
 * process.bpf.c - process lifecycle: exec, exit, fork.
 *
 * Each probe has two candidate programs: tp_btf (typed arguments, cheaper) and the classic
 * tracepoint (fallback when BTF-typed attach is refused). Both share one body.
 * argv is read from the new mm at sched_process_exec, where the kernel has just copied it:
 * reading user pointers at syscall entry would race with the caller (TOCTOU).
 */
#include "hw.bpf.h"
#include "priv.bpf.h" /* the syscall arguments saved in pt_regs */

#define SIGNAL_GROUP_EXIT 0x00000004

/* Effective ids an exec changed (setuid/setgid file), saved by sched_prepare_exec (kernels
 * >= 6.10), where the task still has its old credentials and bprm->cred holds the new ones:
 * at sched_process_exec the new ones are committed and the old ones are gone. Only a change is
 * saved (key: the exec'ing thread's id), so an ordinary exec costs no map update; `cred` is the
 * new credentials' address, which the task holds after the exec: an entry left by an exec that
 * failed after the point of no return is recognised as stale and not used. */
struct hw_exec_cred {
	__u64 cred;
	__u32 euid, egid;
};
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__uint(map_flags, BPF_F_NO_COMMON_LRU); /* per-CPU lists: no shared lock per update */
	__type(key, __u32);
	__type(value, struct hw_exec_cred);
} hwp_exec_cred SEC(".maps");

/* Set by the first sched_prepare_exec run: from then on an exec with no hwp_exec_cred entry kept
 * its effective ids. Before that (or on kernels without the tracepoint) the old ids are unknown
 * and the agent falls back to the kernel's AT_SECURE decision and the euid it last saw. */
volatile __u32 hw_exec_prep_seen;

/* The first 64 bits of a capability set (kernel_cap_t is one u64, or two u32 before 6.3):
 * a direct load where the kernel has the u64. */
static __always_inline __u64 hw_cap_bits(const kernel_cap_t *c)
{
	const struct kernel_cap_struct___hw *c64 = (const void *)c;
	__u64 v = 0;
	if (bpf_core_field_exists(c64->val))
		return c64->val;
	bpf_probe_read_kernel(&v, sizeof(v), c);
	return v;
}

static __always_inline __s64 hw_ts_ns(const struct timespec64 *ts)
{
	struct timespec64 v = {};
	bpf_probe_read_kernel(&v, sizeof(v), ts);
	return v.tv_sec * 1000000000LL + v.tv_nsec;
}

/* The executed file's size, mtime and ctime: with its device and inode, the key under which
 * the agent caches the file's hash (a rewrite in place changes mtime or ctime). */
static __always_inline void hw_exe_stat(struct hw_exec *e, struct inode *ino)
{
	struct inode___hw *i = (void *)ino;
	e->exe_size = ino->i_size;
	if (bpf_core_field_exists(i->i_mtime_sec)) {
		/* multigrain timestamps (6.13, commit 4e40eff0b573) keep a flag in the top bit of
		 * i_ctime_nsec (I_CTIME_QUERIED, set once someone read the time): nanoseconds
		 * fit in 30 bits */
		e->exe_mtime_ns = i->i_mtime_sec * 1000000000LL + (i->i_mtime_nsec & 0x3fffffff);
		e->exe_ctime_ns = i->i_ctime_sec * 1000000000LL + (i->i_ctime_nsec & 0x3fffffff);
		return;
	}
	if (bpf_core_field_exists(i->__i_mtime))
		e->exe_mtime_ns = hw_ts_ns(__builtin_preserve_access_index(&i->__i_mtime));
	else
		e->exe_mtime_ns = hw_ts_ns(__builtin_preserve_access_index(&i->i_mtime));
	if (bpf_core_field_exists(i->__i_ctime))
		e->exe_ctime_ns = hw_ts_ns(__builtin_preserve_access_index(&i->__i_ctime));
	else
		e->exe_ctime_ns = hw_ts_ns(__builtin_preserve_access_index(&i->i_ctime));
}

static __always_inline void hw_do_exec(struct task_struct *t, __u32 old_pid,
				       struct linux_binprm *bprm, const char *tp_filename)
{
	__u32 tgid = t->tgid;
	struct hw_cfg *cfg = hw_get_cfg();
	struct hw_exec *e;
	struct hw_blob b;
	__u32 args_max = HW_ARGS_MAX - 1;

	/* A new program decides anew whether it is ignored (the agent re-adds it): the entry
	 * is removed (a lookup first: most processes have none, and a delete takes a lock),
	 * and the other filters are applied. */
	if (hw_pid_ignored(tgid))
		bpf_map_delete_elem(&hw_ignore_pid, &tgid);
	if (hw_filtered_cfg(tgid))
		return;
	e = hw_scratch_get();
	if (!e) {
		hw_count_drop(HW_EV_EXEC, HW_DROP_SCRATCH);
		return;
	}
	hw_fill_hdr(&e->hdr, t, HW_EV_EXEC);
	e->old_pid = old_pid;
	e->secureexec = 0;
	/* t and bprm are BTF pointers: fields are read with direct loads (a BPF_CORE_READ is a
	 * helper call per pointer hop, ~40 ns each here) */
	const struct cred *nc = t->real_cred;
	e->suid = nc->suid.val;
	e->sgid = nc->sgid.val;
	if (bprm && bpf_core_field_exists(bprm->secureexec))
		e->secureexec = BPF_CORE_READ_BITFIELD_PROBED(bprm, secureexec);
	/* effective ids before the exec: unchanged unless sched_prepare_exec saved them */
	e->old_known = hw_exec_prep_seen != 0;
	e->pad = 0;
	e->old_euid = e->hdr.euid;
	e->old_egid = e->hdr.egid;
	struct hw_exec_cred *oc = bpf_map_lookup_elem(&hwp_exec_cred, &old_pid);
	if (oc) {
		if (oc->cred == (__u64)nc) {
			e->old_known = 1;
			e->old_euid = oc->euid;
			e->old_egid = oc->egid;
		}
		bpf_map_delete_elem(&hwp_exec_cred, &old_pid);
	}
	/* Capabilities granted by the file: after an exec a process not running as root holds
	 * only its ambient set unless the file gave it more (file capabilities; setuid-root
	 * shows as an euid change) - the kernel's own "capabilities grew" test. */
	e->caps_gained = e->hdr.uid != 0 && e->hdr.euid != 0 &&
			 (hw_cap_bits(&nc->cap_permitted) & ~hw_cap_bits(&nc->cap_ambient)) != 0;
	b.base = (__u8 *)e;
	b.pos = sizeof(*e);

	/* argv: one read of the whole block (20 small reads cost ~4x more). */
	struct mm_struct *mm = t->mm;
	unsigned long as = mm->arg_start, ae = mm->arg_end;
	__u32 total = ae > as ? ae - as : 0;
	if (cfg && cfg->args_max && cfg->args_max < args_max)
		args_max = cfg->args_max;
	__u32 n = total;
	e->args_total = total;
	if (n > args_max) {
		n = args_max;
		e->hdr.flags |= HW_F_TRUNC_ARGS;
	}
	n &= HW_ARGS_MAX - 1;
	e->args.off = b.pos;
	e->args.len = 0;
	if (n && bpf_probe_read_user(b.base + sizeof(*e), n, (void *)as) == 0) {
		e->args.len = n;
		b.pos += n;
	} else if (n) {
		e->hdr.flags |= HW_F_READ_FAIL;
	}

	struct file *exe = mm->exe_file;
	struct inode *ino = exe->f_inode;
	struct path exe_path = {.dentry = exe->f_path.dentry, .mnt = exe->f_path.mnt};
	hw_blob_path(&b, &exe_path, &e->exe);
	e->exe_nlink = ino->__i_nlink;
	e->exe_ino = ino->i_ino;
	e->exe_dev = ino->i_sb->s_dev;
	hw_exe_stat(e, ino);

	struct fs_struct *fs = t->fs;
	struct path cwd = {.dentry = fs->pwd.dentry, .mnt = fs->pwd.mnt};
	hw_blob_path(&b, &cwd, &e->cwd);

	if (bprm)
		hw_blob_kstr(&b, bprm->filename, HW_NAME_MAX, &e->filename);
	else
		hw_blob_kstr(&b, tp_filename, HW_NAME_MAX, &e->filename);

	struct tty_struct *tty = t->signal->tty;
	e->tty.off = b.pos;
	e->tty.len = 0;
	if (tty)
		hw_blob_kstr(&b, tty->name, 64, &e->tty);

	hw_submit(e, b.pos, true);
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(hwp_exec_btf, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
{
	hw_do_exec(p, old_pid, bprm, NULL);
	return 0;
}

SEC("tracepoint/sched/sched_process_exec")
int hwp_exec_tp(struct trace_event_raw_sched_process_exec *ctx)
{
	struct task_struct *t = bpf_get_current_task_btf();
	__u32 loc = ctx->__data_loc_filename;
	hw_do_exec(t, ctx->old_pid, NULL, (const char *)ctx + (loc & 0xffff));
	return 0;
}

static __always_inline void hw_exec_prep(struct task_struct *t, struct linux_binprm *bprm)
{
	const struct cred *oc = t->real_cred, *nc = bprm->cred;

	if (!hw_exec_prep_seen)
		hw_exec_prep_seen = 1;
	if (!nc || (oc->euid.val == nc->euid.val && oc->egid.val == nc->egid.val))
		return; /* the common case: the exec keeps its ids */
	struct hw_exec_cred v = {
		.cred = (__u64)nc,
		.euid = oc->euid.val,
		.egid = oc->egid.val,
	};
	__u32 tid = t->pid;
	bpf_map_update_elem(&hwp_exec_cred, &tid, &v, BPF_ANY);
}

SEC("tp_btf/sched_prepare_exec")
int BPF_PROG(hwp_prepare_btf, struct task_struct *t, struct linux_binprm *bprm)
{
	hw_exec_prep(t, bprm);
	return 0;
}

static __always_inline void hw_do_exit(struct task_struct *t)
{
	__u32 tgid = t->tgid;
	struct signal_struct *sig = t->signal;
	struct hw_exit *e;

	/* Only the last thread of a process makes a process.exit. */
	if (sig->live.counter != 0)
		return;
	if (hw_filtered(tgid)) {
		bpf_map_delete_elem(&hw_ignore_pid, &tgid);
		return;
	}
	e = hw_scratch_get();
	if (!e) {
		hw_count_drop(HW_EV_EXIT, HW_DROP_SCRATCH);
		return;
	}
	hw_fill_hdr(&e->hdr, t, HW_EV_EXIT);
	e->hdr.tid = tgid;
	if (sig->flags & SIGNAL_GROUP_EXIT)
		e->exit_code = sig->group_exit_code;
	else
		e->exit_code = t->exit_code;
	e->pad = 0;
	hw_submit(e, sizeof(*e), false);
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(hwp_exit_btf, struct task_struct *p)
{
	hw_do_exit(p);
	return 0;
}

SEC("tracepoint/sched/sched_process_exit")
int hwp_exit_tp(void *ctx)
{
	hw_do_exit(bpf_get_current_task_btf());
	return 0;
}

static __always_inline void hw_do_fork(struct task_struct *parent, __u32 child_pid,
				       __u32 child_tgid, __u64 child_start)
{
	__u32 ptgid = parent->tgid;
	struct hw_fork *e;

	if (child_pid != child_tgid)
		return; /* a new thread, not a new process */
	if (hw_pid_ignored(ptgid)) {
		__u8 one = 1;
		bpf_map_update_elem(&hw_ignore_pid, &child_tgid, &one, BPF_ANY);
		return;
	}
	if (hw_filtered_cfg(ptgid))
		return;
	e = hw_scratch_get();
	if (!e) {
		hw_count_drop(HW_EV_FORK, HW_DROP_SCRATCH);
		return;
	}
	hw_fill_hdr(&e->hdr, parent, HW_EV_FORK);
	e->child_pid = child_tgid;
	e->child_tid = child_pid;
	e->child_start_ns = child_start;
	hw_submit(e, sizeof(*e), false);
}

SEC("tp_btf/sched_process_fork")
int BPF_PROG(hwp_fork_btf, struct task_struct *parent, struct task_struct *child)
{
	hw_do_fork(parent, child->pid, child->tgid, child->start_boottime);
	return 0;
}

SEC("tracepoint/sched/sched_process_fork")
int hwp_fork_tp(struct trace_event_raw_sched_process_fork *ctx)
{
	/* The classic tracepoint gives no child task: the agent takes its start time from /proc.
	 * A child that is a thread has a pid that is not a tgid; we cannot tell here, so the
	 * agent drops forks whose child turns out to be a thread. */
	hw_do_fork(bpf_get_current_task_btf(), ctx->child_pid, ctx->child_pid, 0);
	return 0;
}

/* ---- failed execs: the syscall's exit reports errors ----
 * A successful exec is reported by sched_process_exec above; here only ret < 0 is emitted, and
 * a successful one costs a compare. The filename is the caller's pointer, read from the saved
 * syscall arguments at exit, after the kernel failed: the caller's memory is as it passed it. */
static __always_inline void hw_execve_exit(long ret, bool at)
{
	struct task_struct *t;
	struct pt_regs *regs;
	struct hw_exec_fail *e;
	struct hw_blob b;
	__u64 filename;

	if (ret >= 0)
		return;
	/* execvp() and shells try each PATH directory in turn: ENOENT/ENOTDIR failures are
	 * routine and would flood the stream, so they are reported only when configured. */
	if (ret == -2 /* ENOENT */ || ret == -20 /* ENOTDIR */) {
		struct hw_cfg *cfg = hw_get_cfg();
		if (!cfg || !cfg->exec_enoent)
			return;
	}
	if (hw_filtered(bpf_get_current_pid_tgid() >> 32))
		return;
	t = bpf_get_current_task_btf();
	regs = (struct pt_regs *)bpf_task_pt_regs(t);
	filename = at ? HW_REG_ARG1(regs) : HW_REG_ARG0(regs);
	e = hw_scratch_get();
	if (!e) {
		hw_count_drop(HW_EV_EXEC_FAIL, HW_DROP_SCRATCH);
		return;
	}
	hw_fill_hdr(&e->hdr, t, HW_EV_EXEC_FAIL);
	e->result = ret;
	b.base = (__u8 *)e;
	b.pos = sizeof(*e);
	hw_blob_ustr(&b, (const void *)filename, HW_PATH_MAX, &e->filename);
	hw_submit(e, b.pos, false);
}

SEC("tracepoint/syscalls/sys_exit_execve")
int hwp_execve_ex(struct hw_sys_exit_ctx *ctx)
{
	hw_execve_exit(ctx->ret, false);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_execveat")
int hwp_execveat_ex(struct hw_sys_exit_ctx *ctx)
{
	hw_execve_exit(ctx->ret, true);
	return 0;
}

/* The same on the syscalls' kernel functions (preferred where the kernel has BPF trampolines):
 * they run only for execs, the arguments are still read from the saved user registers. */
SEC("fexit/" HW_SYSFN(execve))
int BPF_PROG(hwp_execve_fx, struct pt_regs *regs, long ret)
{
	hw_execve_exit(ret, false);
	return 0;
}

SEC("fexit/" HW_SYSFN(execveat))
int BPF_PROG(hwp_execveat_fx, struct pt_regs *regs, long ret)
{
	hw_execve_exit(ret, true);
	return 0;
}
