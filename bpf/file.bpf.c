/* SPDX-License-Identifier: GPL-2.0 */
/*
 * file.bpf.c - operations on watched files (file.open, file.unlink, file.rename, file.chmod,
 * file.chown, file.truncate, file.link, file.caps), matched in the kernel: the matchers and the
 * programs. The opens are in file_open.bpf.c, every other operation in file_change.bpf.c, what
 * they share in file.bpf.h.
 *
 * Hooks: the exit tracepoint of each syscall only (one program, hwf_sys_ex, attached to each).
 * The arguments are read back from the task's saved user registers (bpf_task_pt_regs), so one
 * hook per syscall gives both the arguments and the result; an enter+exit pair would double the
 * cost of every open.
 *
 * Matching, cheapest first:
 *  - a successful open (and fchmod/fchown/ftruncate) has a struct file: the matcher looks at
 *    its dentry and its ancestors' inodes (hwf_dirs: watched directories by (dev, ino); a
 *    directory flagged NAMED has children watched by name in hwf_names). No string is read
 *    from the process, symlinks and ".." are already resolved by the kernel. What is known of
 *    the file's directory is cached per CPU (hwf_dcache), and an open's own arguments are read
 *    only once a rule was found: an unwatched open in a known directory is a few plain loads
 *    and one inlined array lookup.
 *  - anything else (failed opens, unlink, rename, chmod by path, ...) has only the string the
 *    process passed: relative strings are joined to the dirfd's or cwd's path, then the
 *    absolute string is matched against an LPM trie of prefixes (hwf_lpm).
 *  - basename rules ("STAR/.bash_history"), parent directory name rules ("STAR/.ssh/") and
 *    the /proc/PID/mem rule are name lookups in hwf_names, tried only when the name's length
 *    is one some rule has (STAR is the '*' wildcard of the config).
 * The path copied into the event is built only after a match.
 */
#include "file.bpf.h"

/*
 * Verdict per directory, keyed by the parent dentry's address: everything the matcher needs to
 * know about the directory a file is in (the nearest watched ancestor (SUBTREE), whether the
 * directory has children watched by name, a rule on the directory's own name ("STAR/DIR/"),
 * whether it is on procfs), so that opening a file in a directory seen before costs one array
 * lookup, and a name lookup only when the file name has the length of a basename rule.
 *
 * A direct-mapped per-CPU array rather than a hash map: the lookup is inlined (no hashing of
 * the key, no bucket walk, no lock, nothing shared between CPUs); a collision only costs a walk.
 * Entries carry the configuration generation (hwf_cfg.gen, bumped by the agent whenever the
 * rules change), so a new configuration invalidates every entry at once.
 *
 * A verdict depends on the directory's name and on all its ancestors, which a rename changes
 * while the dentry keeps its address: `mv /tmp/x /root/.ssh` must not keep the verdict of
 * /tmp/x. So an entry also carries (a) the directory's own name hash and its parent's
 * address (a rename or move of the directory itself, or a freed dentry reused for another
 * directory, no longer matches), and (b) the rename generation (hwf_state.rgen), bumped by
 * every successful rename the file.rename probe sees, which covers a move of any ancestor.
 */
#define FILE_DC_BITS 12
#define FILE_DC_SIZE (1u << FILE_DC_BITS)
#define FILE_DV_PROCFS 1u
struct file_dverdict {
	__u64 key;     /* parent dentry address */
	__u64 tag;     /* its d_name.hash_len mixed with its own parent's address */
	__u32 gen;     /* hwf_cfg.gen when computed; 0 = empty */
	__u32 rgen;    /* hwf_state.rgen when computed */
	__s32 subtree; /* packed rule of the nearest SUBTREE ancestor, or -1 */
	__s32 dirname; /* packed "STAR/DIR/" rule matching this directory's name, or -1 */
	__u32 named;   /* the directory itself has NAMED children */
	__u32 flags;   /* FILE_DV_* */
	__u32 dev;
	__u64 ino;
};
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, FILE_DC_SIZE);
	__type(key, __u32);
	__type(value, struct file_dverdict);
} hwf_dcache SEC(".maps");

/* Walk the ancestors of directory `parent` (on the filesystem of d) once: fill its verdict. */
static __always_inline void file_dverdict_fill(struct file_dverdict *nd, struct user_pbuf *pb,
					       struct hw_file_cfg *cfg, struct dentry *d,
					       struct dentry *parent)
{
	struct dentry *cur = parent;
	struct hw_watch_val *v;

	nd->subtree = -1;
	nd->dirname = -1;
	nd->named = 0;
	nd->flags = 0;
	nd->dev = BPF_CORE_READ(d, d_sb, s_dev);
	nd->ino = BPF_CORE_READ(parent, d_inode, i_ino);
	if (BPF_CORE_READ(parent, d_sb, s_magic) == PROC_SUPER_MAGIC_)
		nd->flags |= FILE_DV_PROCFS;
	for (int i = 0; i < FILE_DEPTH; i++) {
		struct hw_watch_dir_key k = {.ino = BPF_CORE_READ(cur, d_inode, i_ino),
					     .dev = nd->dev};
		v = bpf_map_lookup_elem(&hwf_dirs, &k);
		if (v) {
			if (i == 0 && (v->flags & HW_WF_NAMED))
				nd->named = 1;
			if (v->flags & HW_WF_SUBTREE) {
				nd->subtree = file_packed(v);
				break;
			}
		}
		struct dentry *up = BPF_CORE_READ(cur, d_parent);
		if (up == cur)
			break;
		cur = up;
	}
	if (cfg->dir_len_mask) {
		__u32 plen = BPF_CORE_READ(parent, d_name.len);
		if (plen < 64 && (cfg->dir_len_mask >> plen) & 1) {
			v = file_name_lookup(pb, HW_WNK_DIRNAME, 0, 0,
					     BPF_CORE_READ(parent, d_name.name), plen);
			if (v)
				nd->dirname = file_packed(v);
		}
	}
}

/* Is the file at dentry d watched for one of the operations in ops? */
__noinline int hw_file_match_dentry(__u64 dp, __u32 ops)
{
	struct dentry *d = (struct dentry *)dp;
	struct hw_file_cfg *cfg = file_cfg_get();
	struct user_pbuf *pb = user_pbuf_get();
	struct hw_watch_val *v;
	if (!cfg || !pb || !d)
		return -1;
	/* d's fields by plain loads through bpf_rdonly_cast (6.2+), by helper calls before */
	struct dentry *parent;
	const unsigned char *dname;
	__u32 nlen, gen = cfg->gen;
	if (hw_ksym_exists(bpf_rdonly_cast)) {
		struct dentry *dt = bpf_rdonly_cast(d, bpf_core_type_id_kernel(struct dentry));
		parent = dt->d_parent;
		nlen = dt->d_name.len;
		dname = dt->d_name.name;
	} else {
		parent = BPF_CORE_READ(d, d_parent);
		nlen = BPF_CORE_READ(d, d_name.len);
		dname = BPF_CORE_READ(d, d_name.name);
	}
	/* the address as a number, through map memory (no arithmetic on pointers) */
	pb->ptr = (__u64)parent;
	__u64 pkey = *(volatile __u64 *)&pb->ptr;
	__u32 slot = (__u32)((pkey * 0x9E3779B97F4A7C15ull) >> (64 - FILE_DC_BITS));
	struct file_dverdict *nd = bpf_map_lookup_elem(&hwf_dcache, &slot);
	__u32 zero = 0;
	struct file_gens *st = bpf_map_lookup_elem(&hwf_state, &zero);

	if (!nd || !st)
		return -1;
	__u64 hash_len;
	if (hw_ksym_exists(bpf_rdonly_cast)) {
		struct dentry *pt = bpf_rdonly_cast(parent, bpf_core_type_id_kernel(struct dentry));
		pb->ptr = (__u64)pt->d_parent;
		hash_len = pt->d_name.hash_len;
	} else {
		pb->ptr = (__u64)BPF_CORE_READ(parent, d_parent);
		hash_len = BPF_CORE_READ(parent, d_name.hash_len);
	}
	__u64 tag = hash_len ^ (*(volatile __u64 *)&pb->ptr * 0x9E3779B97F4A7C15ull);
	__u32 rgen = st->rgen;
	if (nd->key != pkey || nd->tag != tag || nd->gen != gen || nd->rgen != rgen || !gen) {
		file_dverdict_fill(nd, pb, cfg, d, parent);
		nd->key = pkey;
		nd->tag = tag;
		nd->gen = gen;
		nd->rgen = rgen;
	}
	if (nd->named) {
		struct hw_watch_val *c =
			file_name_lookup(pb, HW_WNK_CHILD, nd->ino, nd->dev, dname, nlen);
		if (c && (c->ops & ops))
			return file_packed(c);
	}
	if (nd->subtree >= 0 && (((__u32)nd->subtree >> 16) & ops))
		return nd->subtree;
	/* basename rules, and the procfs-only ones in a procfs directory: one lookup */
	__u64 lmask = cfg->base_len_mask;
	if (nd->flags & FILE_DV_PROCFS)
		lmask |= cfg->proc_len_mask;
	if (nlen < 64 && (lmask >> nlen) & 1) {
		v = file_name_lookup(pb, HW_WNK_BASENAME, 0, 0, dname, nlen);
		if (v && (v->ops & ops) &&
		    (!(v->flags & HW_WF_PROCFS) || (nd->flags & FILE_DV_PROCFS)))
			return file_packed(v);
	}
	if (nd->dirname >= 0 && (((__u32)nd->dirname >> 16) & ops))
		return nd->dirname;
	return -1;
}

/*
 * Lexical normalisation of the joined string, in place: "." components and empty ones ("//")
 * are dropped, ".." removes the component before it (never above the root), so that
 * `chmod ./x`, `chmod ../d/x`, `chmod d//x` match the rule of d/x and report that path. The
 * directory part built from dentries is canonical already; only the process's string is
 * scanned, first 8 bytes per step for a "/." or "//" (the only forms that need work), then, in
 * the rare string that has one, byte by byte. Every byte written was read before at the same
 * or a later offset, so the result is written over the input. (Lexical: "a/../b" is "b" even
 * if a is a symlink; the kernel resolves it otherwise. Symlinks in a path string are not
 * followed either, as before.)
 */
#define FILE_NM (UPB * 2 - 1)
struct file_norm {
	__u32 r0;   /* first byte to read */
	__u32 end;  /* end of the input (a virtual '/' ends the last component) */
	__u32 lo;   /* start of the output: nothing is removed before it */
	__u32 w;    /* next byte written */
	__u32 seg;  /* offset of the '/' of the component being copied */
	__u32 clen; /* its length so far */
	__u32 need; /* the scan found "/." or "//" */
};

#define FILE_ONES 0x0101010101010101ull
#define FILE_HIGHS 0x8080808080808080ull
static __always_inline __u64 file_zbytes(__u64 v)
{
	return (v - FILE_ONES) & ~v & FILE_HIGHS; /* a superset of the zero bytes' high bits */
}

static long file_norm_scan(__u32 i, void *ctx)
{
	struct file_norm *s = ctx;
	struct user_pbuf *pb = user_pbuf_get();
	__u32 p = s->r0 + i * 8;

	if (!pb || p > s->end)
		return 1;
	__u64 x = *(__u64 *)(pb->buf + (p & FILE_NM));
	__u64 y = *(__u64 *)(pb->buf + ((p + 1) & FILE_NM));
	__u64 slash = file_zbytes(x ^ (0x2full * FILE_ONES));
	__u64 next =
		file_zbytes(y ^ (0x2eull * FILE_ONES)) | file_zbytes(y ^ (0x2full * FILE_ONES));
	if (slash & next) {
		s->need = 1;
		return 1;
	}
	return 0;
}

static long file_norm_step(__u32 i, void *ctx)
{
	struct file_norm *s = ctx;
	struct user_pbuf *pb = user_pbuf_get();
	__u32 r = s->r0 + i;

	if (!pb || r > s->end)
		return 1;
	__u8 c = r == s->end ? '/' : pb->buf[r & FILE_NM];
	if (c != '/') {
		if (!s->clen) {
			s->seg = s->w;
			pb->buf[s->w & FILE_NM] = '/';
			s->w++;
		}
		pb->buf[s->w & FILE_NM] = c;
		s->w++;
		s->clen++;
		return 0;
	}
	if (s->clen == 1 && pb->buf[(s->seg + 1) & FILE_NM] == '.') {
		s->w = s->seg;
	} else if (s->clen == 2 && pb->buf[(s->seg + 1) & FILE_NM] == '.' &&
		   pb->buf[(s->seg + 2) & FILE_NM] == '.') {
		/* drop "/..", then the component before it */
		__u32 w = s->seg;
		for (int j = 0; j < 257 && w > s->lo; j++) {
			w--;
			if (pb->buf[w & FILE_NM] == '/')
				break;
		}
		s->w = w;
	}
	s->clen = 0;
	return 0;
}

/* Normalise buf[lo, end): the part before r0 is canonical, r0 == lo for an absolute string,
 * the byte after the directory part for a relative one. Returns the new length. */
/* Always 0, but a value the verifier cannot know (a writable global). Before the fix of 6.7
 * ("bpf: verify callbacks as if they are called unknown number of times") the verifier kept a
 * constant that a bpf_loop callback changes through its context at the value it had before
 * the loop, and removed the code behind it as dead: on Debian's 6.1 no path was ever
 * normalised (seen in the kernel matrix). The fields the callbacks change start from it. */
__u32 file_norm_zero;

static __always_inline __u32 file_norm(struct user_pbuf *pb, __u32 lo, __u32 r0, __u32 end)
{
	struct file_norm s = {.end = end,
			      .lo = lo,
			      .need = file_norm_zero,
			      .seg = file_norm_zero,
			      .clen = file_norm_zero};

	/* the scan starts at the '/' before the string (the separator, or its leading '/') */
	if (r0 > lo)
		s.r0 = r0 - 1;
	else
		s.r0 = r0;
	bpf_loop(UPB / 8 + 1, file_norm_scan, &s, 0);
	if (!s.need)
		return end - lo;
	s.r0 = r0;
	s.w = r0 > lo ? r0 - 1 : lo; /* a relative string is appended after the directory */
	bpf_loop(UPB + 1, file_norm_step, &s, 0);
	if (s.w <= lo) {
		pb->buf[lo & FILE_NM] = '/';
		s.w = lo + 1;
	}
	return s.w - lo;
}

/*
 * Build the absolute string for (dirfd, upath) in the path buffer: the process's string is
 * read to buf[UPB + 1]; a relative one gets the directory's path in front of it, ending at
 * buf[UPB] = '/'. Returns the length (0 on failure); *start is the first byte.
 */
__noinline int hw_file_str_path(int dirfd, __u64 up)
{
	struct task_struct *t = bpf_get_current_task_btf();
	struct user_pbuf *pb = user_pbuf_get();
	const char *upath = (const char *)up;
	bool trunc = false;
	struct path dir;
	long n;

	if (!pb)
		return 0;
	pb->res_trunc = 0;
	n = bpf_probe_read_user_str(pb->buf + UPB + 1, UPB - 1, upath);
	if (n <= 1)
		return 0;
	if (dirfd == FILE_NO_DIR && pb->buf[UPB + 1] != '/') {
		/* a relative symlink target: relative to the link, kept as written */
		pb->res_start = UPB + 1;
		return n - 1;
	}
	if (pb->buf[UPB + 1] == '/') {
		pb->res_start = UPB + 1;
		return file_norm(pb, UPB + 1, UPB + 1, UPB + n);
	}
	if (dirfd == AT_FDCWD_) {
		dir = BPF_CORE_READ(t, fs, pwd);
	} else {
		struct file *f = hw_fd_file_core(t, dirfd);
		if (!f)
			return 0;
		dir = BPF_CORE_READ(f, f_path);
	}
	__u32 start = user_fwalk(dir.dentry, dir.mnt, &trunc);
	pb->buf[UPB] = '/';
	pb->res_start = start;
	pb->res_trunc = trunc;
	return file_norm(pb, start, UPB + 1, UPB + n);
}

/* Match an absolute string at buf[start], len bytes. */
__noinline int hw_file_match_str(__u32 start, __u32 len, __u32 ops)
{
	struct hw_file_cfg *cfg = file_cfg_get();
	struct user_pbuf *pb = user_pbuf_get();
	struct hw_watch_val *v;
	__u32 n = len, end, i, nl = 0;

	if (!cfg || !pb || start >= UPB * 2 || len == 0 || len >= UPB)
		return -1;
	if (n > HW_WATCH_KEY_MAX - 1)
		n = HW_WATCH_KEY_MAX - 1;
	barrier_var(n);
	n &= HW_WATCH_KEY_MAX - 1;
	if (bpf_probe_read_kernel(pb->lpm.data, n, pb->buf + (start & (UPB * 2 - 1))) == 0) {
		pb->lpm.prefixlen = n * 8;
		v = bpf_map_lookup_elem(&hwf_lpm, &pb->lpm);
		if (v && (v->ops & ops))
			return file_packed(v);
	}
	/* the procfs-only basename rules apply to "/proc/..." strings: its first bytes are in the
	 * LPM key */
	__u8 *d = pb->lpm.data;
	bool procstr = n > 6 && d[0] == '/' && d[1] == 'p' && d[2] == 'r' && d[3] == 'o' &&
		       d[4] == 'c' && d[5] == '/';
	__u64 lmask = cfg->base_len_mask | (procstr ? cfg->proc_len_mask : 0);
	if (!lmask && !cfg->dir_len_mask)
		return -1;
	/* basename: the bytes after the last '/' */
	end = start + len;
	for (i = 1; i <= HW_WATCH_NAME_MAX; i++) {
		if (pb->buf[(end - i) & (UPB * 2 - 1)] == '/')
			break;
	}
	if (i > HW_WATCH_NAME_MAX)
		return -1;
	nl = i - 1;
	if (nl && (lmask >> nl) & 1) {
		v = file_name_lookup(pb, HW_WNK_BASENAME, 0, 0,
				     pb->buf + ((end - nl) & (UPB * 2 - 1)), nl);
		if (v && (v->ops & ops) && (!(v->flags & HW_WF_PROCFS) || procstr))
			return file_packed(v);
	}
	if (cfg->dir_len_mask) {
		/* parent directory name: between the two last '/' */
		__u32 pend = end - nl - 1, j;
		for (j = 1; j <= HW_WATCH_NAME_MAX; j++) {
			if (pend - j < start || pb->buf[(pend - j) & (UPB * 2 - 1)] == '/')
				break;
		}
		if (j <= HW_WATCH_NAME_MAX && (cfg->dir_len_mask >> (j - 1)) & 1) {
			v = file_name_lookup(pb, HW_WNK_DIRNAME, 0, 0,
					     pb->buf + ((pend - j + 1) & (UPB * 2 - 1)), j - 1);
			if (v && (v->ops & ops))
				return file_packed(v);
		}
	}
	return -1;
}

/*
 * Classic syscall exit tracepoints: one program attached to the exit tracepoint of each of the
 * 24 syscalls (probes.def: "hwf_sys_ex@syscalls/sys_exit_openat+..."), dispatching on the
 * syscall number the tracepoint carries. It still runs only on the syscalls of the probes that
 * are enabled (one link per tracepoint), and the dispatch is a few compares (openat first);
 * but it is verified once at start: one program per syscall (the number a constant) took 24
 * verifications of ~0.16 s each, 3.9 s of a 5.5 s start; this one takes ~0.2 s. A number
 * unknown to the verifier costs little: the arms of the switches in file_open and file_other
 * only set arguments, and the expensive parts (the matchers, the path walk) are global
 * functions, verified once per program whatever the caller's state.
 */
SEC("tracepoint")
int hwf_sys_ex(struct trace_event_raw_sys_exit *ctx)
{
	long nr = ctx->id;
	if (file_is_open(nr))
		file_open(bpf_get_current_task_btf(), NULL, nr, ctx->ret);
	else
		file_other(bpf_get_current_task_btf(), NULL, nr, ctx->ret);
	return 0;
}

/*
 * fexit on each syscall's kernel function (HW_SYSFN), preferred where the kernel has BPF
 * trampolines: a program runs only on its syscall, without the tracepoint dispatch, and with
 * no classic syscall tracepoint attached no task takes the slow syscall path. The number is a
 * constant, so each program keeps only its syscall's branch; the price is one verification
 * per syscall at start.
 */
#define FILE_FEXIT(name, ev, NR)                                                                   \
	SEC("fexit/" HW_SYSFN(name))                                                               \
	int BPF_PROG(hwf_##ev##_fx, struct pt_regs *regs, long ret)                                \
	{                                                                                          \
		if (file_is_open(NR))                                                              \
			file_open(bpf_get_current_task_btf(), regs, NR, ret);                      \
		else                                                                               \
			file_other(bpf_get_current_task_btf(), regs, NR, ret);                     \
		return 0;                                                                          \
	}

FILE_FEXIT(openat, openat, HW_NR_OPENAT)
FILE_FEXIT(open, open, HW_NR_OPEN)
FILE_FEXIT(openat2, openat2, HW_NR_OPENAT2)
FILE_FEXIT(creat, creat, HW_NR_CREAT)
FILE_FEXIT(unlink, unlink, HW_NR_UNLINK)
FILE_FEXIT(unlinkat, unlinkat, HW_NR_UNLINKAT)
FILE_FEXIT(rmdir, rmdir, HW_NR_RMDIR)
FILE_FEXIT(rename, rename, HW_NR_RENAME)
FILE_FEXIT(renameat, renameat, HW_NR_RENAMEAT)
FILE_FEXIT(renameat2, renamat2, HW_NR_RENAMEAT2)
FILE_FEXIT(chmod, chmod, HW_NR_CHMOD)
FILE_FEXIT(fchmod, fchmod, HW_NR_FCHMOD)
FILE_FEXIT(fchmodat, fchmodat, HW_NR_FCHMODAT)
FILE_FEXIT(fchmodat2, fchmoda2, HW_NR_FCHMODAT2)
FILE_FEXIT(chown, chown, HW_NR_CHOWN)
FILE_FEXIT(fchown, fchown, HW_NR_FCHOWN)
FILE_FEXIT(lchown, lchown, HW_NR_LCHOWN)
FILE_FEXIT(fchownat, fchownat, HW_NR_FCHOWNAT)
FILE_FEXIT(truncate, truncate, HW_NR_TRUNCATE)
FILE_FEXIT(ftruncate, ftrunc, HW_NR_FTRUNCATE)
FILE_FEXIT(link, link, HW_NR_LINK)
FILE_FEXIT(linkat, linkat, HW_NR_LINKAT)
FILE_FEXIT(symlink, symlink, HW_NR_SYMLINK)
FILE_FEXIT(symlinkat, symlnkat, HW_NR_SYMLINKAT)
FILE_FEXIT(setxattr, setxattr, HW_NR_SETXATTR)
FILE_FEXIT(lsetxattr, lxattr, HW_NR_LSETXATTR)
FILE_FEXIT(fsetxattr, fxattr, HW_NR_FSETXATTR)

/* Alternative for open: the raw sys_exit tracepoint (typed, cheaper per hit, but it runs for
 * every syscall of every process). Chosen only when the classic tracepoints are missing. */
SEC("tp_btf/sys_exit")
int BPF_PROG(hwf_sys_btf, struct pt_regs *regs, long ret)
{
	long nr = HW_REG_NR(regs);

	if (file_is_open(nr))
		file_open(bpf_get_current_task_btf(), regs, nr, ret);
	return 0;
}
