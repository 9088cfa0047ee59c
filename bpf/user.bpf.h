/* SPDX-License-Identifier: GPL-2.0 */
/*
 * user.bpf.h - helpers of the user family (shell, auth, file): forward absolute paths built
 * from dentries, file lookup by fd, string copies into records.
 *
 * Paths here are built as forward strings ("/etc/ssh/sshd_config"), not the leaf-first
 * component lists of hw_blob_path: the file matcher compares them with an LPM trie of watched
 * prefixes, which needs the bytes in order. The walk writes each component backwards from the
 * middle of a per-CPU buffer, so the directory part ends at UPB and a relative name the process
 * passed can be appended right after it:
 *
 *   buf: [ ....... "/etc" | "/" "shadow" \0 ...... ]
 *                  ^start ^UPB
 */
#ifndef HW_USER_BPF_H
#define HW_USER_BPF_H
#include "hw.bpf.h"

#define UPB 4096 /* half of the path buffer; directory paths end here */
#define UPB_MASK (UPB - 1)

struct user_pbuf {
	__u8 buf[UPB * 3];
	struct hw_watch_lpm_key lpm;
	struct hw_watch_name_key nkey;
	__u32 res_start; /* results of hw_file_str_path() */
	__u32 res_trunc;
	__u64 ptr; /* a kernel pointer turned into a number (global functions take scalars) */
};
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct user_pbuf);
} hwu_pbuf SEC(".maps");

static __always_inline struct user_pbuf *user_pbuf_get(void)
{
	__u32 zero = 0;
	return bpf_map_lookup_elem(&hwu_pbuf, &zero);
}

struct user_fwalk {
	__u64 d;   /* struct dentry * */
	__u64 mnt; /* struct mount * */
	__u32 pos; /* first byte written; starts at UPB */
	__u16 n;
	__u8 done;
	__u8 trunc;
};

static __always_inline int user_fwalk_put(struct user_fwalk *w, struct dentry *d)
{
	struct user_pbuf *pb = user_pbuf_get();
	__u32 len = BPF_CORE_READ(d, d_name.len);
	const unsigned char *name = BPF_CORE_READ(d, d_name.name);
	__u32 pos = w->pos;

	if (!pb || len > 255 || pos < len + 1 || pos > UPB) {
		w->trunc = 1;
		return -1;
	}
	pos -= len;
	barrier_var(pos);
	barrier_var(len);
	/* pos and len are in range; the masks restate it for the verifier */
	if (bpf_probe_read_kernel(pb->buf + (pos & UPB_MASK), len & 255, name)) {
		w->trunc = 1;
		return -1;
	}
	pos -= 1;
	pb->buf[pos & UPB_MASK] = '/';
	w->pos = pos;
	w->n++;
	return 0;
}

/* One step of the walk: as hw_walk_step (hw.bpf.h), crossing mount points up to the root of
 * the mount namespace. */
static long user_fwalk_step(__u32 i, void *ctx)
{
	struct user_fwalk *w = ctx;
	struct dentry *d = (struct dentry *)w->d;
	struct mount *mnt = (struct mount *)w->mnt;
	struct dentry *mnt_root = BPF_CORE_READ(mnt, mnt.mnt_root);
	struct dentry *parent = BPF_CORE_READ(d, d_parent);

	if (d == mnt_root) {
		struct mount *mp = BPF_CORE_READ(mnt, mnt_parent);
		if (mp == mnt) {
			w->done = 1;
			return 1;
		}
		w->d = (__u64)BPF_CORE_READ(mnt, mnt_mountpoint);
		w->mnt = (__u64)mp;
		return 0;
	}
	if (d == parent) {
		/* pseudo file (pipe:, memfd:) or detached tree: keep the leaf name */
		if (w->n == 0)
			user_fwalk_put(w, d);
		w->done = 1;
		return 1;
	}
	if (user_fwalk_put(w, d))
		return 1;
	w->d = (__u64)parent;
	return 0;
}

/* Write the path of (dentry, vfsmount) so that it ends at buf[UPB). Returns the start offset;
 * start == UPB means the root directory (empty string before the '/'). */
static __always_inline __u32 user_fwalk(struct dentry *d, struct vfsmount *vmnt, bool *trunc)
{
	struct user_fwalk w = {
		.d = (__u64)d,
		.mnt = (__u64)container_of(vmnt, struct mount, mnt),
		.pos = UPB,
	};
	if (!d)
		return UPB;
	bpf_loop(HW_PATH_DEPTH, user_fwalk_step, &w, 0);
	if (!w.done || w.trunc)
		*trunc = true;
	return w.pos;
}

/* Copy n bytes of the path buffer at off into the record blob as a string. */
static __always_inline void user_blob_pbuf(struct hw_blob *b, struct user_pbuf *pb, __u32 off,
					   __u32 n, struct hw_str *out)
{
	__u32 pos = b->pos;

	out->off = pos;
	out->len = 0;
	if (pos >= HW_MAX_RECORD - UPB || off >= UPB * 2)
		return;
	if (n > UPB - 1)
		n = UPB - 1;
	/* keep the masks: clang drops them when it can prove the range, the verifier cannot */
	barrier_var(n);
	barrier_var(off);
	barrier_var(pos);
	pos &= HW_MAX_RECORD - 1;
	if (bpf_probe_read_kernel(b->base + pos, n & UPB_MASK, pb->buf + (off & (UPB * 2 - 1))))
		return;
	out->len = n;
	b->pos = pos + n;
}

/* hw_submit with a size the verifier can bound whatever clang made of the arithmetic. */
static __always_inline void user_submit(void *rec, __u32 size, bool urgent)
{
	barrier_var(size);
	size &= HW_MAX_RECORD * 2 - 1;
	if (size > HW_MAX_RECORD)
		size = HW_MAX_RECORD;
	hw_submit(rec, size, urgent);
}

#endif
