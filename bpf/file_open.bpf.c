/* SPDX-License-Identifier: GPL-2.0 */
/*
 * file_open.bpf.c - file.open: open, creat, openat and openat2, the file family's hot path
 * (called by the programs of bpf/file.bpf.c). A successful open is matched by the opened
 * file's dentry; a failed one by the path string; an open of the same file by the same
 * process within FILE_REPEAT_NS is counted, not reported (hwf_repeats).
 */
#include "file.bpf.h"

/* Repeats: a process that opens the same watched file again and again (a service re-reading
 * its config, a loop) is reported once per FILE_REPEAT_NS; the next report carries the count
 * of opens in between. */
#define FILE_REPEAT_NS (10ull * 1000000000ull)
struct file_rep_key {
	__u64 ino;
	__u32 dev;
	__u32 tgid;
	__u32 op;
	__u32 rule;
};
struct file_rep_val {
	__u64 ts;
	__u64 count;
};
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, struct file_rep_key);
	__type(value, struct file_rep_val);
} hwf_repeats SEC(".maps");

/* true: suppress this one (counted); else *prev = opens suppressed since the last report */
static __always_inline bool file_repeat(struct file *f, __u32 tgid, __u32 op, __u32 rule,
					__u32 *prev)
{
	struct file_rep_key k = {
		.ino = BPF_CORE_READ(f, f_inode, i_ino),
		.dev = BPF_CORE_READ(f, f_inode, i_sb, s_dev),
		.tgid = tgid,
		.op = op,
		.rule = rule,
	};
	__u64 now = bpf_ktime_get_ns();
	struct file_rep_val *v = bpf_map_lookup_elem(&hwf_repeats, &k), nv = {.ts = now};

	*prev = 0;
	if (v && now - v->ts < FILE_REPEAT_NS) {
		__sync_fetch_and_add(&v->count, 1);
		return true;
	}
	if (v)
		*prev = v->count;
	bpf_map_update_elem(&hwf_repeats, &k, &nv, BPF_ANY);
	return false;
}

static __always_inline __u32 file_open_ops(__u32 flags)
{
	__u32 acc = flags & O_ACCMODE_, ops = 0;

	if (acc == O_RDONLY_ || acc == 2)
		ops |= HW_FOP_READ;
	if (acc != O_RDONLY_ || (flags & O_CREAT_))
		ops |= HW_FOP_WRITE;
	if ((flags & O_TRUNC_) && acc != O_RDONLY_)
		ops |= HW_FOP_TRUNCATE;
	return ops;
}

/* The arguments of open, creat, openat and openat2: direct loads from the BTF-typed saved
 * registers, no helper call (*dirfd is left as it is for open and creat). */
static __always_inline void file_open_args(struct pt_regs *regs, long nr, int *dirfd,
					   const char **upath, __u32 *flags, __u32 *mode)
{
	switch (nr) {
	case HW_NR_OPEN: /* open(path, flags, mode) */
		*upath = (const char *)HW_REG_ARG0(regs);
		*flags = HW_REG_ARG1(regs);
		*mode = HW_REG_ARG2(regs);
		break;
	case HW_NR_CREAT: /* creat(path, mode) */
		*upath = (const char *)HW_REG_ARG0(regs);
		*flags = O_CREAT_ | O_WRONLY_ | O_TRUNC_;
		*mode = HW_REG_ARG1(regs);
		break;
	case HW_NR_OPENAT2: { /* openat2(dirfd, path, how, size) */
		__u64 how[2] = {};
		*dirfd = HW_REG_ARG0(regs);
		*upath = (const char *)HW_REG_ARG1(regs);
		bpf_probe_read_user(how, sizeof(how), (void *)HW_REG_ARG2(regs));
		*flags = how[0];
		*mode = how[1];
		break;
	}
	default: /* openat(dirfd, path, flags, mode) */
		*dirfd = HW_REG_ARG0(regs);
		*upath = (const char *)HW_REG_ARG1(regs);
		*flags = HW_REG_ARG2(regs);
		*mode = HW_REG_ARG3(regs);
		break;
	}
}

/* open, creat, openat, openat2: the hot path. A successful open is matched by the file's
 * dentry first, against every operation an open can be; the arguments (flags: which
 * operation it is) are read only when that found a rule. regs: the saved user registers, or
 * NULL to take them from the task when needed. */
static __always_inline void file_open(struct task_struct *t, struct pt_regs *regs, long nr,
				      long ret)
{
	struct user_pbuf *pb = user_pbuf_get();
	int m = -1;
	struct file *f = NULL;
	const char *upath;
	int dirfd = AT_FDCWD_;
	__u32 flags, mode, ops, op, start = 0, len = 0;
	__u64 dent = 0;
	bool trunc = false;
	__u32 nsns = 0, nsstart = 0;

	if (!pb)
		return;
	if (ret >= 0) {
		f = hw_fd_file(t, ret);
		if (!f)
			return;
		/* through map memory: the verifier passes only numbers to global functions */
		pb->ptr = file_dentry_of(f);
		dent = *(volatile __u64 *)&pb->ptr;
		m = hw_file_match_dentry(dent, FILE_OPEN_OPS);
		if (m < 0) {
			/* another mount namespace (a container with its own /etc): its /etc/shadow is
			 * not the host's inode, try the path as the process sees it. Costs a walk per
			 * unwatched open in other mount namespaces only. */
			struct hw_file_cfg *cfg = file_cfg_get();
			__u32 ns = BPF_CORE_READ(t, nsproxy, mnt_ns, ns.inum);
			if (!cfg || !cfg->mntns || ns == cfg->mntns)
				return;
			struct path fp = BPF_CORE_READ(f, f_path);
			__u32 s0 = user_fwalk(fp.dentry, fp.mnt, &trunc);
			if (s0 >= UPB)
				return;
			m = hw_file_match_str(s0, UPB - s0, FILE_OPEN_OPS);
			if (m < 0)
				return;
			nsns = ns;
			nsstart = s0;
		}
	}
	if (!regs)
		regs = (struct pt_regs *)bpf_task_pt_regs(t);
	file_open_args(regs, nr, &dirfd, &upath, &flags, &mode);
	ops = file_open_ops(flags);
	if (ret >= 0) {
		/* the rule found covers none of this open's operations: a later one may */
		if (!(((__u32)m >> 16) & ops))
			m = nsns ? hw_file_match_str(nsstart, UPB - nsstart, ops)
				 : hw_file_match_dentry(dent, ops);
	} else {
		len = hw_file_str_path(dirfd, (__u64)upath);
		if (len) {
			start = pb->res_start;
			trunc = pb->res_trunc;
			m = hw_file_match_str(start, len, ops);
		}
	}
	if (m < 0)
		return;
	__u32 tgid = BPF_CORE_READ(t, tgid);
	if (hw_filtered(tgid))
		return;
	ops &= (__u32)m >> 16;
	op = (ops & HW_FOP_TRUNCATE) ? HW_FOP_TRUNCATE
	     : (ops & HW_FOP_WRITE)  ? HW_FOP_WRITE
				     : HW_FOP_READ;
	__u32 repeats = 0;
	if (f && file_repeat(f, tgid, op, m & 0xffff, &repeats))
		return;
	struct hw_file *e = file_rec(t, file_op_type(op), nr, ret);
	if (!e)
		return;
	e->repeats = repeats;
	struct hw_blob b = {.base = (__u8 *)e, .pos = sizeof(*e)};
	e->op = op;
	e->flags = flags;
	e->mode = (flags & O_CREAT_) ? mode : 0;
	e->rule = m & 0xffff;
	if (f) {
		file_put_file_path(&b, e, pb, f);
		if (nsns) {
			e->pflags |= HW_FP_NSPATH;
			e->mntns = nsns;
		}
		if ((flags & O_CREAT_) && (BPF_CORE_READ(f, f_mode) & FMODE_CREATED_))
			e->pflags |= HW_FP_CREATED;
	} else {
		user_blob_pbuf(&b, pb, start, len, &e->path);
		if (trunc)
			e->pflags |= HW_FP_TRUNC;
	}
	user_submit(e, b.pos, true);
}
