/* SPDX-License-Identifier: GPL-2.0 */
/*
 * file.bpf.h - what the file family's programs share (bpf/file.bpf.c: the matchers and the
 * programs; file_open.bpf.c: the opens; file_change.bpf.c: every other operation): the
 * watch maps the agent fills (agent/file_watch.c), the record builder, and the matchers'
 * contract. All are compiled into one object (build/all.bpf.c), file.bpf.c first.
 */
#ifndef HW_FILE_BPF_H
#define HW_FILE_BPF_H

#include "user.bpf.h"

#define FILE_DEPTH 16 /* ancestors checked against hwf_dirs */

/* Typed view of a kernel pointer: loads through it are plain (fault-safe) loads, not
 * bpf_probe_read_kernel() calls, which cost more than everything else on the open path. */
#define AT_FDCWD_ (-100)
#define FILE_NO_DIR (-1000) /* string is not resolved against a directory (symlink target) */
#define PROC_SUPER_MAGIC_ 0x9fa0

#define O_ACCMODE_ 3
#define O_RDONLY_ 0
#define O_CREAT_ 0100
#define O_TRUNC_ 01000
#define O_WRONLY_ 1
#define FMODE_CREATED_ (1u << 20)

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct hw_file_cfg);
} hwf_cfg SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 512);
	__type(key, struct hw_watch_lpm_key);
	__type(value, struct hw_watch_val);
	__uint(map_flags, BPF_F_NO_PREALLOC);
} hwf_lpm SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 8192);
	__type(key, struct hw_watch_dir_key);
	__type(value, struct hw_watch_val);
} hwf_dirs SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 2048);
	__type(key, struct hw_watch_name_key);
	__type(value, struct hw_watch_val);
} hwf_names SEC(".maps");

struct file_gens {
	__u32 rgen; /* successful renames seen (any file or directory) */
};
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct file_gens);
} hwf_state SEC(".maps");

/* f->f_path.dentry as a number: a plain load through bpf_rdonly_cast (6.2+), a helper call
 * before */
static __always_inline __u64 file_dentry_of(struct file *f)
{
	if (!hw_ksym_exists(bpf_rdonly_cast))
		return (__u64)BPF_CORE_READ(f, f_path.dentry);
	struct file *ft = bpf_rdonly_cast(f, bpf_core_type_id_kernel(struct file));
	return (__u64)ft->f_path.dentry;
}

static __always_inline struct hw_file_cfg *file_cfg_get(void)
{
	__u32 zero = 0;
	return bpf_map_lookup_elem(&hwf_cfg, &zero);
}

/* Look up a name rule; name is len bytes at src (kernel memory), len < HW_WATCH_NAME_MAX. */
static __always_inline struct hw_watch_val *
file_name_lookup(struct user_pbuf *pb, __u32 kind, __u64 ino, __u32 dev, const void *src, __u32 len)
{
	struct hw_watch_name_key *k = &pb->nkey;

	__builtin_memset(k, 0, sizeof(*k));
	k->kind = kind;
	k->ino = ino;
	k->dev = dev;
	if (len >= HW_WATCH_NAME_MAX)
		return NULL;
	barrier_var(len);
	len &= HW_WATCH_NAME_MAX - 1;
	if (bpf_probe_read_kernel(k->name, len, src))
		return NULL;
	return bpf_map_lookup_elem(&hwf_names, k);
}

/*
 * The matchers are global (non-inlined) functions: the verifier checks each once, on its own,
 * instead of once per call site and per path through the caller (inlined, the syscall
 * programs exceeded the verifier's 1M-instruction budget). They return the matching rule
 * packed as (ops << 16 | rule), or -1.
 */
static __always_inline int file_packed(struct hw_watch_val *v)
{
	return ((int)v->ops << 16) | v->rule;
}

/* The matchers (bpf/file.bpf.c) */
__noinline int hw_file_match_dentry(__u64 dp, __u32 ops);
__noinline int hw_file_str_path(int dirfd, __u64 up);
__noinline int hw_file_match_str(__u32 start, __u32 len, __u32 ops);

/* Start a record in the scratch buffer. */
static __always_inline struct hw_file *file_rec(struct task_struct *t, __u32 type, long nr,
						long ret)
{
	struct hw_file *e = hw_scratch_get();

	if (!e) {
		hw_count_drop(type, HW_DROP_SCRATCH);
		return NULL;
	}
	hw_fill_hdr(&e->hdr, t, type);
	e->sysnr = nr;
	e->result = ret;
	e->flags = 0;
	e->mode = 0;
	e->uid = e->gid = 0xffffffff;
	e->rule = e->trule = 0xffff;
	e->pflags = 0;
	e->pad = 0;
	e->fmode = 0;
	e->repeats = 0;
	e->mntns = 0;
	e->pad2 = 0;
	e->path.off = e->target.off = sizeof(*e);
	e->path.len = e->target.len = 0;
	return e;
}

/* The path of an open file into the record, from its dentries. */
static __always_inline void file_put_file_path(struct hw_blob *b, struct hw_file *e,
					       struct user_pbuf *pb, struct file *f)
{
	bool trunc = false;
	struct path p = BPF_CORE_READ(f, f_path);
	__u32 start = user_fwalk(p.dentry, p.mnt, &trunc);

	if (start == UPB)
		pb->buf[--start] = '/';
	user_blob_pbuf(b, pb, start, UPB - start, &e->path);
	e->pflags |= HW_FP_FROM_FILE | HW_FP_FMODE | (trunc ? HW_FP_TRUNC : 0);
	e->fmode = BPF_CORE_READ(f, f_inode, i_mode);
}

static __always_inline __u32 file_op_type(__u32 op)
{
	switch (op) {
	case HW_FOP_TRUNCATE:
		return HW_EV_FILE_TRUNCATE;
	case HW_FOP_UNLINK:
		return HW_EV_FILE_UNLINK;
	case HW_FOP_RENAME:
		return HW_EV_FILE_RENAME;
	case HW_FOP_CHMOD:
		return HW_EV_FILE_CHMOD;
	case HW_FOP_CHOWN:
		return HW_EV_FILE_CHOWN;
	case HW_FOP_LINK:
		return HW_EV_FILE_LINK;
	case HW_FOP_SETCAP:
		return HW_EV_FILE_CAPS;
	default:
		return HW_EV_FILE_OPEN;
	}
}

#define FILE_OPEN_OPS (HW_FOP_READ | HW_FOP_WRITE | HW_FOP_TRUNCATE)

/* The syscalls handled by file_open (the rest by file_other). */
static __always_inline bool file_is_open(long nr)
{
	return nr == HW_NR_OPENAT || nr == HW_NR_OPEN || nr == HW_NR_CREAT || nr == HW_NR_OPENAT2;
}

/* The two halves of every program (bpf/file_open.bpf.c, bpf/file_change.bpf.c). regs: the
 * saved user registers, or NULL to take them from the task when needed. */
static __always_inline void file_open(struct task_struct *t, struct pt_regs *regs, long nr,
				      long ret);
static __always_inline void file_other(struct task_struct *t, struct pt_regs *regs, long nr,
				       long ret);

#endif /* HW_FILE_BPF_H */
