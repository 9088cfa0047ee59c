/* SPDX-License-Identifier: GPL-2.0 */
/*
 * hw.bpf.h - what every herdwatch BPF program shares: maps, the record builder, the submit
 * path with its wake-up policy and drop counters, and the dentry path walk.
 *
 * Layering (one direction only): read kernel data -> build record in the per-CPU scratch
 * buffer -> hw_submit(). Programs always return 0; failures are counted, never silent.
 */
#ifndef HW_BPF_H
#define HW_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "common/hw_abi.h"
#include "arch.bpf.h"
#include "compat.bpf.h"

char LICENSE[] SEC("license") = "GPL";

/* Typed read-only view of a kernel pointer held as a number (kernels >= 6.2): loads through
 * it are single fault-safe instructions instead of bpf_probe_read_kernel() calls. */
extern void *bpf_rdonly_cast(const void *obj, __u32 btf_id) __ksym __weak;
/* A weak kfunc the kernel lacks has address 0: the verifier drops the branch that uses it
 * (libbpf's bpf_ksym_exists(), which the libbpf of Debian 12 does not have yet). */
#define hw_ksym_exists(sym) (!!(sym))

/*
 * The kernel function behind a syscall (HW_SYSFN(openat) is "__x64_sys_openat" on x86-64):
 * fentry/fexit programs on it run only on that syscall, called directly from a BPF trampoline,
 * where a classic syscall tracepoint program goes through the tracepoint dispatch, and any
 * syscall tracepoint at all sends every syscall of every task through the slow entry path.
 * Its one argument is the task's saved user registers (the syscall's arguments: HW_SYSARGS),
 * the fexit program also gets its result. Only the native ABI is hooked, as with the
 * syscalls:* tracepoints (which x86-64 does not fire for 32-bit compat syscalls either).
 */
/* HW_SYSFN and HW_SYSARGS: bpf/arch.bpf.h */

/* A capability set as 64 bits, from any kernel pointer (hw_cap_bits in process.bpf.c is the
 * direct load for BTF pointers). kernel_cap_t is { u64 val } since 6.3
 * and { u32 cap[2] } before: the same 8 bytes on a little-endian machine. */
static __always_inline __u64 hw_cap_read(const kernel_cap_t *c)
{
	__u64 v = 0;
	bpf_probe_read_kernel(&v, sizeof(v), c);
	return v;
}

/* Ring buffer size is set by the agent before load (bpf_map__set_max_entries). */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 8 << 20); /* default; the agent sets ringbuf_mb */
} hw_events SEC(".maps");

/* When this CPU last forced a consumer wake-up (hw_submit). */
#define HW_WAKE_MIN_NS 10000000ULL
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} hw_wake_ts SEC(".maps");

/* One record under construction per CPU. Twice the record size so that the verifier can see
 * that any write at an offset < HW_MAX_RECORD of up to HW_MAX_RECORD bytes stays inside. */
struct hw_scratch {
	__u8 buf[HW_MAX_RECORD * 2];
};
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct hw_scratch);
} hw_scratch SEC(".maps");

/* Drops by (type * HW_DROP_NCAUSE + cause). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, HW_EV_MAX *HW_DROP_NCAUSE);
	__type(key, __u32);
	__type(value, __u64);
} hw_drops SEC(".maps");

/* Runtime settings written by the agent. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct hw_cfg);
} hw_cfg SEC(".maps");

/* Cgroups whose processes are not reported (config: filters.ignore_cgroup). A task is ignored
 * when it or any ancestor cgroup (up to HW_CG_LEVELS) is in the map. */
#define HW_CG_LEVELS 8
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u64);
	__type(value, __u8);
} hw_ignore_cg SEC(".maps");

/* Processes (tgid) that are not reported: set by the agent when an exec matches
 * filters.ignore_exe, inherited by children at fork, removed at exit. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, __u8);
} hw_ignore_pid SEC(".maps");

static __always_inline struct hw_cfg *hw_get_cfg(void)
{
	__u32 zero = 0;
	return bpf_map_lookup_elem(&hw_cfg, &zero);
}

static __always_inline void hw_count_drop(__u32 type, __u32 cause)
{
	__u32 key = (type & (HW_EV_MAX - 1)) * HW_DROP_NCAUSE + cause;
	__u64 *v = bpf_map_lookup_elem(&hw_drops, &key);
	if (v)
		*v += 1;
}

/* The filters other than the ignored-process map: the agent itself, ignored cgroups (for
 * callers that have looked tgid up in hw_ignore_pid already). */
static __always_inline bool hw_filtered_cfg(__u32 tgid)
{
	struct hw_cfg *cfg = hw_get_cfg();
	if (cfg && cfg->agent_pid == tgid)
		return true;
	if (cfg && cfg->n_ignore_cgroup) {
#pragma unroll
		for (int l = 1; l <= HW_CG_LEVELS; l++) {
			__u64 id = bpf_get_current_ancestor_cgroup_id(l);
			if (!id)
				break;
			if (bpf_map_lookup_elem(&hw_ignore_cg, &id))
				return true;
		}
	}
	return false;
}

/* Is process tgid marked in hw_ignore_pid (filters.ignore_exe)? Without ignore_exe the map is
 * empty and not looked at. */
static __always_inline bool hw_pid_ignored(__u32 tgid)
{
	struct hw_cfg *cfg = hw_get_cfg();
	return cfg && cfg->ignore_pids && bpf_map_lookup_elem(&hw_ignore_pid, &tgid);
}

/* Should events of the current task be dropped by the configured filters? */
static __always_inline bool hw_filtered(__u32 tgid)
{
	return hw_pid_ignored(tgid) || hw_filtered_cfg(tgid);
}

static __always_inline void *hw_scratch_get(void)
{
	__u32 zero = 0;
	return bpf_map_lookup_elem(&hw_scratch, &zero);
}

/* Fill the common header from a task. t is a BTF pointer (bpf_get_current_task_btf() or a
 * tp_btf argument): its fields are read with direct loads, one instruction each, where a
 * BPF_CORE_READ is a helper call (~30-50 ns here, and the header took a dozen).
 * hw_hdr_task: everything but the time, the ids and the name (the net family takes those of
 * the current task from helpers: net_fill_hdr_who); hw_fill_hdr: the whole header. */
static __always_inline void hw_hdr_task(struct hw_hdr *h, struct task_struct *t, __u16 type)
{
	const struct cred *cred = t->real_cred;

	h->type = type;
	h->flags = 0;
	/* boot clock, as /proc/PID/stat starttime and h->ts: keys of processes seeded from /proc
	 * match, and durations include time suspended */
	h->start_ns = t->group_leader->start_boottime;
	h->cgroup_id = bpf_get_current_cgroup_id();
	h->ppid = t->real_parent->tgid;
	h->uid = cred->uid.val;
	h->gid = cred->gid.val;
	h->euid = cred->euid.val;
	h->egid = cred->egid.val;
	if (bpf_core_field_exists(t->loginuid))
		h->auid = t->loginuid.val;
	else
		h->auid = (__u32)-1;
}

static __always_inline void hw_fill_hdr(struct hw_hdr *h, struct task_struct *t, __u16 type)
{
	hw_hdr_task(h, t, type);
	h->ts = bpf_ktime_get_boot_ns();
	h->pid = t->tgid;
	h->tid = t->pid;
	bpf_probe_read_kernel_str(h->comm, sizeof(h->comm), t->comm);
}

/*
 * Wake-up policy (see shared PERFORMANCE.md): records are written with BPF_RB_NO_WAKEUP and
 * the agent drains every 10 ms; urgent kinds, or a backlog above cfg->wake_bytes, force a
 * wake-up so they leave the host at once.
 */
/* Returns 0 when the record is in the ring buffer, -1 when it was dropped (and counted). */
static __always_inline int hw_submit(void *rec, __u64 size, bool urgent)
{
	struct hw_hdr *h = rec;
	__u64 flags = BPF_RB_NO_WAKEUP;
	struct hw_cfg *cfg = hw_get_cfg();

	if (urgent || (cfg && bpf_ringbuf_query(&hw_events, BPF_RB_AVAIL_DATA) > cfg->wake_bytes)) {
		/* A forced wake-up queues an irq_work, whose self-interrupt is an APIC write: in a
		 * VM that is a VM exit of several microseconds, paid by the traced process (it was
		 * most of an exec event's cost). The agent handles one batch per 10 ms anyway, so
		 * each CPU forces at most one wake-up per HW_WAKE_MIN_NS; a record that finds the
		 * limit reached is picked up by the agent's next poll (<= 10 ms when busy,
		 * <= 100 ms when idle). */
		__u32 zero = 0;
		__u64 *last = bpf_map_lookup_elem(&hw_wake_ts, &zero);
		__u64 now = bpf_ktime_get_ns();
		if (!last || now - *last >= HW_WAKE_MIN_NS) {
			flags = BPF_RB_FORCE_WAKEUP;
			if (last)
				*last = now;
		}
	}
	if (size < sizeof(struct hw_hdr))
		size = sizeof(struct hw_hdr);
	/* The empty asm hides what the compiler knows about size, so the bound check below is
	 * really emitted on the register passed to the helper (otherwise clang may drop it as
	 * redundant and the verifier, which lost the bound through a 32-bit copy, rejects the
	 * program). */
	asm volatile("" : "+r"(size));
	if (size > HW_MAX_RECORD)
		size = HW_MAX_RECORD;
	h->size = size;
	if (bpf_ringbuf_output(&hw_events, rec, size, flags)) {
		hw_count_drop(h->type, HW_DROP_RINGBUF);
		return -1;
	}
	return 0;
}

/* Context of the classic syscalls:sys_enter_X / sys_exit_X tracepoints (see their format
 * files: 8 bytes of common fields, the syscall number, then the arguments or the result). */
struct hw_sys_enter_ctx {
	__u64 common;
	__s32 nr;
	__u32 pad;
	__u64 args[6];
};
struct hw_sys_exit_ctx {
	__u64 common;
	__s32 nr;
	__u32 pad;
	__s64 ret;
};

/* A blob position the verifier can bound: 64-bit (no zero-extension copy that loses the link
 * between the checked register and the used one), and hidden from the compiler so the check is
 * not folded away. Returns HW_MAX_RECORD when there is no room for `room` more bytes. */
static __always_inline __u64 hw_pos(__u32 pos32, __u32 room)
{
	__u64 pos = pos32;
	asm volatile("" : "+r"(pos));
	if (pos > HW_MAX_RECORD - room)
		return HW_MAX_RECORD;
	return pos;
}

/* Blob writer: appends strings after the fixed part of a record in the scratch buffer. */
struct hw_blob {
	__u8 *base; /* record start */
	__u32 pos;  /* next free byte, from base */
};

/* Append a kernel string; returns length without NUL (0 on failure). */
static __always_inline __u32 hw_blob_kstr(struct hw_blob *b, const void *src, __u32 max,
					  struct hw_str *out)
{
	__u64 pos = hw_pos(b->pos, HW_NAME_MAX);
	long n;

	out->off = b->pos;
	out->len = 0;
	if (pos >= HW_MAX_RECORD)
		return 0;
	if (max > HW_NAME_MAX)
		max = HW_NAME_MAX;
	n = bpf_probe_read_kernel_str(b->base + pos, max, src);
	if (n <= 0) {
		out->off = pos;
		out->len = 0;
		return 0;
	}
	out->off = pos;
	out->len = n - 1;
	b->pos = pos + n;
	return n - 1;
}

/* Append a user-memory string of at most max bytes (<= HW_PATH_MAX). */
static __always_inline __u32 hw_blob_ustr(struct hw_blob *b, const void *src, __u32 max,
					  struct hw_str *out)
{
	__u64 pos = hw_pos(b->pos, 1);
	long n;

	out->off = b->pos;
	out->len = 0;
	if (pos >= HW_MAX_RECORD)
		return 0;
	max &= (HW_PATH_MAX * 2 - 1);
	n = bpf_probe_read_user_str(b->base + pos, max, src);
	if (n <= 0)
		return 0;
	out->len = n - 1;
	b->pos = pos + n;
	return n - 1;
}

/*
 * Walk a path from its dentry to the root of its mount namespace, crossing mount points,
 * writing each component NUL-terminated, leaf first. The agent reverses the order.
 * bpf_d_path() would do this, but it is only allowed from fentry/LSM programs, which this
 * kernel refuses (EPERM), so the walk is done by hand. It runs under bpf_loop(): an open-coded
 * 48-step loop with two string reads per step exceeds the verifier's instruction budget.
 */
struct hw_walk {
	__u64 d;   /* struct dentry * */
	__u64 mnt; /* struct mount * */
	__u32 pos;
	__u32 start;
	__u16 n;
	__u8 done;
	__u8 trunc;
};

static __always_inline int hw_walk_put(struct hw_walk *w, const unsigned char *name)
{
	__u8 *buf = hw_scratch_get();
	/* The mask changes nothing (pos < HW_MAX_RECORD always) but widens the verifier's range
	 * for pos to the same interval every iteration, so bpf_loop's callback converges instead
	 * of being re-verified once per possible length (1M-instruction limit). */
	__u32 pos = w->pos & (HW_MAX_RECORD - 1);
	long r;

	if (!buf || pos >= HW_MAX_RECORD - HW_NAME_MAX || pos - w->start >= HW_PATH_MAX) {
		w->trunc = 1;
		return -1;
	}
	r = bpf_probe_read_kernel_str(buf + pos, HW_NAME_MAX, name);
	if (r <= 0) {
		w->trunc = 1;
		return -1;
	}
	w->pos = pos + r;
	w->n++;
	return 0;
}

/* Pointers of one walk step, turned into plain numbers by a trip through map memory (the
 * verifier keeps no pointer type there), so that every step of the bpf_loop callback starts
 * from the same state and its verification converges. */
struct hw_walk_ptrs {
	__u64 mnt_root, parent, mp, mountpoint, name;
};
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct hw_walk_ptrs);
} hw_walk_tmp SEC(".maps");

static long hw_walk_step(__u32 i, void *ctx)
{
	struct hw_walk *w = ctx;
	__u64 d = w->d, mnt = w->mnt, mnt_root, parent, mp, mountpoint;
	const unsigned char *name;
	__u32 zero = 0;
	struct hw_walk_ptrs *tp = bpf_map_lookup_elem(&hw_walk_tmp, &zero);

	/* The pointers of a step by direct loads where the kernel can type them (each
	 * BPF_CORE_READ is a helper call; the string read is the step's only one left). */
	if (hw_ksym_exists(bpf_rdonly_cast) && tp) {
		struct dentry *dt =
			bpf_rdonly_cast((void *)d, bpf_core_type_id_kernel(struct dentry));
		struct mount *mt =
			bpf_rdonly_cast((void *)mnt, bpf_core_type_id_kernel(struct mount));
		tp->mnt_root = (__u64)mt->mnt.mnt_root;
		tp->parent = (__u64)dt->d_parent;
		tp->mp = (__u64)mt->mnt_parent;
		tp->mountpoint = (__u64)mt->mnt_mountpoint;
		tp->name = (__u64)dt->d_name.name;
		mnt_root = *(volatile __u64 *)&tp->mnt_root;
		parent = *(volatile __u64 *)&tp->parent;
		mp = *(volatile __u64 *)&tp->mp;
		mountpoint = *(volatile __u64 *)&tp->mountpoint;
		name = (const unsigned char *)*(volatile __u64 *)&tp->name;
	} else {
		struct dentry *dp = (struct dentry *)d;
		struct mount *mtp = (struct mount *)mnt;
		mnt_root = (__u64)BPF_CORE_READ(mtp, mnt.mnt_root);
		parent = (__u64)BPF_CORE_READ(dp, d_parent);
		mp = (__u64)BPF_CORE_READ(mtp, mnt_parent);
		mountpoint = (__u64)BPF_CORE_READ(mtp, mnt_mountpoint);
		name = BPF_CORE_READ(dp, d_name.name);
	}
	if (d == mnt_root) {
		if (mp == mnt) {
			w->done = 1; /* the root of the mount namespace */
			return 1;
		}
		w->d = mountpoint;
		w->mnt = mp;
		return 0;
	}
	if (d == parent) {
		/* Root of a filesystem that is not mounted here: a pseudo file (memfd:, pipe:)
		 * or a detached tree. Keep its name if it is the leaf. */
		if (w->n == 0)
			hw_walk_put(w, name);
		w->done = 1;
		return 1;
	}
	if (hw_walk_put(w, name))
		return 1;
	w->d = parent;
	return 0;
}

static __always_inline void hw_blob_path(struct hw_blob *b, struct path *p, struct hw_path *out)
{
	struct dentry *d = p->dentry; /* p is on the stack */
	struct vfsmount *vmnt = p->mnt;
	struct hw_walk w = {
		.pos = b->pos,
		.start = b->pos,
	};
	__u32 zero = 0;
	struct hw_walk_ptrs *tp = bpf_map_lookup_elem(&hw_walk_tmp, &zero);
	if (!tp)
		return;
	/* the walk starts from numbers, whatever the caller's pointers were (see hw_walk_ptrs) */
	tp->parent = (__u64)d;
	tp->mp = (__u64)container_of(vmnt, struct mount, mnt);
	w.d = *(volatile __u64 *)&tp->parent;
	w.mnt = *(volatile __u64 *)&tp->mp;

	out->off = b->pos;
	out->flags = 0;
	out->len = 0;
	out->ncomp = 0;
	if (!d)
		return;
	if (BPF_CORE_READ(d, d_inode, __i_nlink) == 0)
		out->flags |= HW_PATH_DELETED;
	bpf_loop(HW_PATH_DEPTH, hw_walk_step, &w, 0);
	if (!w.done || w.trunc)
		out->flags |= HW_PATH_TRUNC;
	out->ncomp = w.n;
	out->len = w.pos - w.start;
	b->pos = w.pos;
}

/* The struct file * behind descriptor fd of task t: one lookup for every family (file, TTY,
 * net, user), in two forms that differ only in how the descriptor table is reached:
 *   hw_fd_file       plain loads from t (t must be trusted: bpf_get_current_task_btf(), or a
 *                    BTF tracepoint's or fentry's argument);
 *   hw_fd_file_core  BPF_CORE_READ (probe reads): any task pointer, and the portable programs
 *                    (the net family's non-fast variants) that must load where a plain load of
 *                    these fields is refused.
 * Both return NULL for a descriptor out of range and for a free slot (the helper zeroes f when
 * the read fails), so a caller checks only the result (or, through CO-RE reads, lets a NULL
 * file read as zeroes). hw_fd_file_core leaves f to the helper (no = NULL): clang then keeps
 * the net programs that inline it a few instructions shorter. The slot itself is read by a helper
 * call in both. (An untyped read-only cast of the slot array, bpf_rdonly_cast(p, 0), would
 * save the call, but 6.12 refuses a type id that is not a struct's, "kfunc bpf_rdonly_cast
 * type ID argument must be of a struct", and 6.1 has no bpf_rdonly_cast: both seen in the
 * kernel matrix.) */
static __always_inline struct file *hw_fd_file(struct task_struct *t, long fd)
{
	struct fdtable *fdt = t->files->fdt;
	struct file *f = NULL;

	if (fd < 0 || (__u64)fd >= fdt->max_fds)
		return NULL;
	bpf_probe_read_kernel(&f, sizeof(f), &fdt->fd[fd]);
	return f;
}

static __always_inline struct file *hw_fd_file_core(struct task_struct *t, long fd)
{
	struct fdtable *fdt = BPF_CORE_READ(t, files, fdt);
	struct file **fds = BPF_CORE_READ(fdt, fd);
	unsigned int max = BPF_CORE_READ(fdt, max_fds);
	struct file *f; /* written by the helper, zero when the read fails */

	if (fd < 0 || fd >= max)
		return NULL;
	bpf_probe_read_kernel(&f, sizeof(f), &fds[fd]);
	return f;
}

#endif /* HW_BPF_H */
