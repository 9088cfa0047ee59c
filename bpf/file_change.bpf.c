/* SPDX-License-Identifier: GPL-2.0 */
/*
 * file_change.bpf.c - every file operation but open: unlink, rmdir, rename, chmod, chown,
 * truncate, link, symlink and setxattr of file capabilities (called by the programs of
 * bpf/file.bpf.c). Low-frequency syscalls: matched by the path strings the process passed
 * (both of rename's and link's), or by the descriptor's dentry for the f* calls; setting a
 * set-id bit or file capabilities is reported whatever the path.
 */
#include "file.bpf.h"

/* Build the absolute string of one path argument in the path buffer and match it: the rule
 * packed, or -1; *len is the string's length (0: nothing readable). */
static __always_inline int file_arg_match(struct user_pbuf *pb, int dirfd, const char *upath,
					  __u32 ops, __u32 *len)
{
	*len = hw_file_str_path(dirfd, (__u64)upath);
	if (!*len)
		return -1;
	return hw_file_match_str(pb->res_start, *len, ops);
}

/* Copy the string hw_file_str_path() left in the path buffer into the record. */
static __always_inline void file_arg_put(struct user_pbuf *pb, struct hw_blob *b, struct hw_file *e,
					 __u32 len, struct hw_str *out)
{
	if (!len)
		return;
	if (pb->res_trunc)
		e->pflags |= HW_FP_TRUNC;
	user_blob_pbuf(b, pb, pb->res_start, len, out);
}

/* Is the attribute name the process passed "security.capability"? */
static __always_inline bool file_caps_xattr(const char *uname)
{
	static const char want[] = "security.capability";
	char n[sizeof(want)];
	if (bpf_probe_read_user_str(n, sizeof(n), uname) != sizeof(want))
		return false;
	for (int i = 0; i < (int)sizeof(want) - 1; i++)
		if (n[i] != want[i])
			return false;
	return true;
}

/* A security.capability value (struct vfs_cap_data, revision 1: 12 bytes, 2 and 3: 20 and
 * 24): magic_etc, and the permitted set's two 32-bit halves. */
static __always_inline void file_caps_value(const void *uval, __u64 size, __u32 *magic, __u32 *lo,
					    __u32 *hi)
{
	__u32 v[5] = {};
	if (size >= 20)
		bpf_probe_read_user(v, 20, uval);
	else if (size >= 12)
		bpf_probe_read_user(v, 12, uval);
	*magic = v[0];
	*lo = v[1];
	*hi = v[3];
}

/* The arguments of a file syscall other than open. */
struct file_call {
	const char *p1, *p2; /* the path arguments (p2: the second of rename and link) */
	int fd;              /* fchmod, fchown, ftruncate, fsetxattr: the descriptor; else -1 */
	int d1, d2;          /* the directories p1 and p2 are relative to */
	__u32 op, flags, mode, uid, gid;
};

/* Read them from the saved user registers (direct loads from the BTF-typed registers); false:
 * not a syscall of the family, or an extended attribute other than file capabilities. */
static __always_inline bool file_other_args(struct pt_regs *regs, long nr, struct file_call *c)
{
	__u64 a0 = HW_REG_ARG0(regs), a1 = HW_REG_ARG1(regs), a2 = HW_REG_ARG2(regs),
	      a3 = HW_REG_ARG3(regs), a4 = HW_REG_ARG4(regs);

	switch (nr) {
	case HW_NR_UNLINK: /* unlink */
		c->op = HW_FOP_UNLINK, c->p1 = (void *)a0;
		break;
	case HW_NR_RMDIR: /* rmdir */
		c->op = HW_FOP_UNLINK, c->p1 = (void *)a0;
		break;
	case HW_NR_UNLINKAT: /* unlinkat */
		c->op = HW_FOP_UNLINK, c->d1 = a0, c->p1 = (void *)a1, c->flags = a2;
		break;
	case HW_NR_RENAME: /* rename */
		c->op = HW_FOP_RENAME, c->p1 = (void *)a0, c->p2 = (void *)a1;
		break;
	case HW_NR_RENAMEAT:  /* renameat */
	case HW_NR_RENAMEAT2: /* renameat2 */
		c->op = HW_FOP_RENAME, c->d1 = a0, c->p1 = (void *)a1, c->d2 = a2,
		c->p2 = (void *)a3;
		c->flags = nr == HW_NR_RENAMEAT2 ? a4 : 0;
		break;
	case HW_NR_CHMOD: /* chmod */
		c->op = HW_FOP_CHMOD, c->p1 = (void *)a0, c->mode = a1;
		break;
	case HW_NR_FCHMODAT:  /* fchmodat */
	case HW_NR_FCHMODAT2: /* fchmodat2 */
		c->op = HW_FOP_CHMOD, c->d1 = a0, c->p1 = (void *)a1, c->mode = a2;
		c->flags = nr == HW_NR_FCHMODAT2 ? a3 : 0;
		break;
	case HW_NR_FCHMOD: /* fchmod */
		c->op = HW_FOP_CHMOD, c->fd = a0, c->mode = a1;
		break;
	case HW_NR_CHOWN:  /* chown */
	case HW_NR_LCHOWN: /* lchown */
		c->op = HW_FOP_CHOWN, c->p1 = (void *)a0, c->uid = a1, c->gid = a2;
		break;
	case HW_NR_FCHOWNAT: /* fchownat */
		c->op = HW_FOP_CHOWN, c->d1 = a0, c->p1 = (void *)a1, c->uid = a2, c->gid = a3,
		c->flags = a4;
		break;
	case HW_NR_FCHOWN: /* fchown */
		c->op = HW_FOP_CHOWN, c->fd = a0, c->uid = a1, c->gid = a2;
		break;
	case HW_NR_TRUNCATE: /* truncate */
		c->op = HW_FOP_TRUNCATE, c->p1 = (void *)a0;
		break;
	case HW_NR_FTRUNCATE: /* ftruncate */
		c->op = HW_FOP_TRUNCATE, c->fd = a0;
		break;
	case HW_NR_LINK: /* link(old, new) */
		c->op = HW_FOP_LINK, c->p1 = (void *)a0, c->p2 = (void *)a1;
		break;
	case HW_NR_LINKAT: /* linkat(olddirfd, old, newdirfd, new, flags) */
		c->op = HW_FOP_LINK, c->d1 = a0, c->p1 = (void *)a1, c->d2 = a2, c->p2 = (void *)a3,
		c->flags = a4;
		break;
	case HW_NR_SYMLINK: /* symlink(target, linkpath) */
		c->op = HW_FOP_LINK, c->d1 = FILE_NO_DIR, c->p1 = (void *)a0, c->p2 = (void *)a1;
		break;
	case HW_NR_SYMLINKAT: /* symlinkat(target, newdirfd, linkpath) */
		c->op = HW_FOP_LINK, c->d1 = FILE_NO_DIR, c->p1 = (void *)a0, c->d2 = a1,
		c->p2 = (void *)a2;
		break;
	case HW_NR_SETXATTR:  /* setxattr(path, name, value, size, flags) */
	case HW_NR_LSETXATTR: /* lsetxattr(path, name, value, size, flags) */
		c->op = HW_FOP_SETCAP, c->p1 = (void *)a0;
		break;
	case HW_NR_FSETXATTR: /* fsetxattr(fd, name, value, size, flags) */
		c->op = HW_FOP_SETCAP, c->fd = a0;
		break;
	default:
		return false;
	}
	if (c->op == HW_FOP_SETCAP) {
		/* only file capabilities; the value's permitted set into uid/gid (abi_user.h) */
		if (!file_caps_xattr((const char *)a1))
			return false;
		file_caps_value((const void *)a2, a3, &c->mode, &c->uid, &c->gid);
	}
	return true;
}

/* Everything but open: low-frequency syscalls. The match comes first, from what is cheapest
 * to get (the file's dentry for fchmod/fchown/ftruncate, the path strings otherwise); the
 * process filters and the record only when something matched. */
static __always_inline void file_other(struct task_struct *t, struct pt_regs *regs, long nr,
				       long ret)
{
	struct user_pbuf *pb = user_pbuf_get();
	struct file_call c = {
		.fd = -1, .d1 = AT_FDCWD_, .d2 = AT_FDCWD_, .uid = 0xffffffff, .gid = 0xffffffff};
	__u32 len1 = 0, len2 = 0;
	struct file *f = NULL;
	int m1 = -1, m2 = -1;

	if (!pb)
		return;
	if (!regs)
		regs = (struct pt_regs *)bpf_task_pt_regs(t);
	if (!file_other_args(regs, nr, &c))
		return;
	/* Setting the setuid or setgid bit, or file capabilities, is reported whatever the path: a
	 * set-id or capable binary planted anywhere is a way back to root, and both are known
	 * from the arguments before any path is read. */
	bool setid = (c.op == HW_FOP_CHMOD && (c.mode & 06000)) || c.op == HW_FOP_SETCAP;
	if (c.op == HW_FOP_RENAME && ret == 0) {
		/* a renamed directory changes the verdict of every directory below it */
		__u32 zero = 0;
		struct file_gens *st = bpf_map_lookup_elem(&hwf_state, &zero);
		if (st)
			__sync_fetch_and_add(&st->rgen, 1);
	}
	if (c.fd >= 0) {
		f = hw_fd_file(t, c.fd);
		if (!f)
			return;
		pb->ptr = file_dentry_of(f);
		m1 = hw_file_match_dentry(*(volatile __u64 *)&pb->ptr, c.op);
		if (m1 < 0 && !setid)
			return;
	} else {
		m1 = file_arg_match(pb, c.d1, c.p1, c.op, &len1);
		if (m1 < 0 && !setid) {
			if (!c.p2)
				return;
			/* only the second path can make it reported */
			m2 = file_arg_match(pb, c.d2, c.p2, c.op, &len2);
			if (m2 < 0)
				return;
		}
	}
	__u32 tgid = BPF_CORE_READ(t, tgid);
	if (hw_filtered(tgid))
		return;
	struct hw_file *e = file_rec(t, file_op_type(c.op), nr, ret);
	if (!e)
		return;
	struct hw_blob b = {.base = (__u8 *)e, .pos = sizeof(*e)};
	e->op = c.op;
	e->flags = c.flags;
	e->mode = c.mode;
	e->uid = c.uid;
	e->gid = c.gid;
	if (f) {
		file_put_file_path(&b, e, pb, f);
	} else if (m1 >= 0 || setid) {
		/* the path buffer holds the first path: copy it, then the second */
		file_arg_put(pb, &b, e, len1, &e->path);
		if (c.p2) {
			m2 = file_arg_match(pb, c.d2, c.p2, c.op, &len2);
			file_arg_put(pb, &b, e, len2, &e->target);
		}
	} else {
		/* the path buffer holds the second path: copy it, build the first again */
		file_arg_put(pb, &b, e, len2, &e->target);
		len1 = hw_file_str_path(c.d1, (__u64)c.p1);
		file_arg_put(pb, &b, e, len1, &e->path);
	}
	if (m1 >= 0)
		e->rule = m1 & 0xffff;
	if (m2 >= 0)
		e->trule = m2 & 0xffff;
	user_submit(e, b.pos, true);
}
