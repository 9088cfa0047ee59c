/* SPDX-License-Identifier: GPL-2.0 */
/*
 * file.bpf.c - operations on watched files (file.open, file.unlink, file.rename, file.chmod,
 * file.chown, file.truncate, file.link), matched in the kernel.
 *
 * Hooks: the exit tracepoint of each syscall only (one program, hw_file_x, attached to each).
 * The arguments are read back from the task's saved user registers (bpf_task_pt_regs), so one
 * hook per syscall gives both the arguments and the result; an enter+exit pair would double the
 * cost of every open.
 *
 * Matching, cheapest first:
 *  - a successful open (and fchmod/fchown/ftruncate) has a struct file: the matcher looks at
 *    its dentry and its ancestors' inodes (file_dirs: watched directories by (dev, ino); a
 *    directory flagged NAMED has children watched by name in file_names). No string is read
 *    from the process, symlinks and ".." are already resolved by the kernel. What is known of
 *    the file's directory is cached per CPU (file_dcache), and an open's own arguments are read
 *    only once a rule was found: an unwatched open in a known directory is a few plain loads
 *    and one inlined array lookup.
 *  - anything else (failed opens, unlink, rename, chmod by path, ...) has only the string the
 *    process passed: relative strings are joined to the dirfd's or cwd's path, then the
 *    absolute string is matched against an LPM trie of prefixes (file_lpm).
 *  - basename rules ("STAR/.bash_history"), parent directory name rules ("STAR/.ssh/") and
 *    the /proc/PID/mem rule are name lookups in file_names, tried only when the name's length
 *    is one some rule has (STAR is the '*' wildcard of the config).
 * The path copied into the event is built only after a match.
 */
#include "user.bpf.h"

#define FILE_DEPTH 16 /* ancestors checked against file_dirs */

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
} file_cfg SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 512);
	__type(key, struct hw_watch_lpm_key);
	__type(value, struct hw_watch_val);
	__uint(map_flags, BPF_F_NO_PREALLOC);
} file_lpm SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 8192);
	__type(key, struct hw_watch_dir_key);
	__type(value, struct hw_watch_val);
} file_dirs SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 2048);
	__type(key, struct hw_watch_name_key);
	__type(value, struct hw_watch_val);
} file_names SEC(".maps");

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
} file_repeats SEC(".maps");

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
	struct file_rep_val *v = bpf_map_lookup_elem(&file_repeats, &k), nv = {.ts = now};

	*prev = 0;
	if (v && now - v->ts < FILE_REPEAT_NS) {
		__sync_fetch_and_add(&v->count, 1);
		return true;
	}
	if (v)
		*prev = v->count;
	bpf_map_update_elem(&file_repeats, &k, &nv, BPF_ANY);
	return false;
}

/* struct file * of descriptor fd of the current task, or NULL: the descriptor table through
 * plain loads from the trusted task pointer, the slot by a helper call. (An untyped read-only
 * cast of the slot array, bpf_rdonly_cast(p, 0), would save the call, but 6.12 refuses a type
 * id that is not a struct's, "kfunc bpf_rdonly_cast type ID argument must be of a struct", and
 * 6.1 has no bpf_rdonly_cast: both seen in the kernel matrix.) */
static __always_inline struct file *file_fd(struct task_struct *t, long fd)
{
	struct fdtable *fdt = t->files->fdt;
	struct file *f = NULL;

	if (fd < 0 || (__u64)fd >= fdt->max_fds)
		return NULL;
	bpf_probe_read_kernel(&f, sizeof(f), &fdt->fd[fd]);
	return f;
}

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
	return bpf_map_lookup_elem(&file_cfg, &zero);
}

/* Look up a name rule; name is len bytes at src (kernel memory), len < HW_WATCH_NAME_MAX. */
static __always_inline struct hw_watch_val *file_name_lookup(struct user_pbuf *pb, __u32 kind,
							     __u64 ino, __u32 dev,
							     const void *src, __u32 len)
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
	return bpf_map_lookup_elem(&file_names, k);
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

/*
 * Verdict per directory, keyed by the parent dentry's address: everything the matcher needs to
 * know about the directory a file is in (the nearest watched ancestor (SUBTREE), whether the
 * directory has children watched by name, a rule on the directory's own name ("STAR/DIR/"),
 * whether it is on procfs), so that opening a file in a directory seen before costs one array
 * lookup, and a name lookup only when the file name has the length of a basename rule.
 *
 * A direct-mapped per-CPU array rather than a hash map: the lookup is inlined (no hashing of
 * the key, no bucket walk, no lock, nothing shared between CPUs); a collision only costs a walk.
 * Entries carry the configuration generation (file_cfg.gen, bumped by the agent whenever the
 * rules change), so a new configuration invalidates every entry at once.
 *
 * A verdict depends on the directory's name and on all its ancestors, which a rename changes
 * while the dentry keeps its address: `mv /tmp/x /root/.ssh` must not keep the verdict of
 * /tmp/x. So an entry also carries (a) the directory's own name hash and its parent's
 * address (a rename or move of the directory itself, or a freed dentry reused for another
 * directory, no longer matches), and (b) the rename generation (file_state.rgen), bumped by
 * every successful rename the file.rename probe sees, which covers a move of any ancestor.
 */
#define FILE_DC_BITS 12
#define FILE_DC_SIZE (1u << FILE_DC_BITS)
#define FILE_DV_PROCFS 1u
struct file_dverdict {
	__u64 key;     /* parent dentry address */
	__u64 tag;     /* its d_name.hash_len mixed with its own parent's address */
	__u32 gen;     /* file_cfg.gen when computed; 0 = empty */
	__u32 rgen;    /* file_state.rgen when computed */
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
} file_dcache SEC(".maps");

struct file_gens {
	__u32 rgen; /* successful renames seen (any file or directory) */
};
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct file_gens);
} file_state SEC(".maps");

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
		v = bpf_map_lookup_elem(&file_dirs, &k);
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
	struct file_dverdict *nd = bpf_map_lookup_elem(&file_dcache, &slot);
	__u32 zero = 0;
	struct file_gens *st = bpf_map_lookup_elem(&file_state, &zero);

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
	__u64 next = file_zbytes(y ^ (0x2eull * FILE_ONES)) | file_zbytes(y ^ (0x2full * FILE_ONES));
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
	struct file_norm s = {
	    .end = end, .lo = lo, .need = file_norm_zero, .seg = file_norm_zero, .clen = file_norm_zero};

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
		struct file *f = user_fd_file(t, dirfd);
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
		v = bpf_map_lookup_elem(&file_lpm, &pb->lpm);
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
		v = file_name_lookup(pb, HW_WNK_BASENAME, 0, 0, pb->buf + ((end - nl) & (UPB * 2 - 1)),
				     nl);
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
		f = file_fd(t, ret);
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
	/* the syscall's arguments: direct loads from the BTF-typed registers, no helper call */
	switch (nr) {
	case HW_NR_OPEN: /* open(path, flags, mode) */
		upath = (const char *)HW_REG_ARG0(regs);
		flags = HW_REG_ARG1(regs);
		mode = HW_REG_ARG2(regs);
		break;
	case HW_NR_CREAT: /* creat(path, mode) */
		upath = (const char *)HW_REG_ARG0(regs);
		flags = O_CREAT_ | O_WRONLY_ | O_TRUNC_;
		mode = HW_REG_ARG1(regs);
		break;
	case HW_NR_OPENAT2: { /* openat2(dirfd, path, how, size) */
		__u64 how[2] = {};
		dirfd = HW_REG_ARG0(regs);
		upath = (const char *)HW_REG_ARG1(regs);
		bpf_probe_read_user(how, sizeof(how), (void *)HW_REG_ARG2(regs));
		flags = how[0];
		mode = how[1];
		break;
	}
	default: /* openat(dirfd, path, flags, mode) */
		dirfd = HW_REG_ARG0(regs);
		upath = (const char *)HW_REG_ARG1(regs);
		flags = HW_REG_ARG2(regs);
		mode = HW_REG_ARG3(regs);
		break;
	}
	ops = file_open_ops(flags);
	if (ret >= 0) {
		/* the rule found covers none of this open's operations: a later one may */
		if (!(((__u32)m >> 16) & ops))
			m = nsns ? hw_file_match_str(nsstart, UPB - nsstart, ops) :
				   hw_file_match_dentry(dent, ops);
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
	op = (ops & HW_FOP_TRUNCATE) ? HW_FOP_TRUNCATE :
	     (ops & HW_FOP_WRITE)    ? HW_FOP_WRITE :
				       HW_FOP_READ;
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

/* Everything but open: low-frequency syscalls. The match comes first, from what is cheapest
 * to get (the file's dentry for fchmod/fchown/ftruncate, the path strings otherwise); the
 * process filters and the record only when something matched. */
static __always_inline void file_other(struct task_struct *t, struct pt_regs *regs, long nr,
				       long ret)
{
	struct user_pbuf *pb = user_pbuf_get();
	int m1 = -1, m2 = -1;
	if (!regs)
		regs = (struct pt_regs *)bpf_task_pt_regs(t);
	/* x86-64 syscall arguments, direct loads from the BTF-typed saved registers */
	__u64 a0 = HW_REG_ARG0(regs), a1 = HW_REG_ARG1(regs), a2 = HW_REG_ARG2(regs), a3 = HW_REG_ARG3(regs), a4 = HW_REG_ARG4(regs);
	int fd = -1, d1 = AT_FDCWD_, d2 = AT_FDCWD_;
	const char *p1 = NULL, *p2 = NULL;
	__u32 op, flags = 0, mode = 0, uid = 0xffffffff, gid = 0xffffffff, len1 = 0, len2 = 0;
	struct file *f = NULL;

	if (!pb)
		return;
	switch (nr) {
	case HW_NR_UNLINK: /* unlink */
		op = HW_FOP_UNLINK, p1 = (void *)a0;
		break;
	case HW_NR_RMDIR: /* rmdir */
		op = HW_FOP_UNLINK, p1 = (void *)a0;
		break;
	case HW_NR_UNLINKAT: /* unlinkat */
		op = HW_FOP_UNLINK, d1 = a0, p1 = (void *)a1, flags = a2;
		break;
	case HW_NR_RENAME: /* rename */
		op = HW_FOP_RENAME, p1 = (void *)a0, p2 = (void *)a1;
		break;
	case HW_NR_RENAMEAT: /* renameat */
	case HW_NR_RENAMEAT2: /* renameat2 */
		op = HW_FOP_RENAME, d1 = a0, p1 = (void *)a1, d2 = a2, p2 = (void *)a3;
		flags = nr == HW_NR_RENAMEAT2 ? a4 : 0;
		break;
	case HW_NR_CHMOD: /* chmod */
		op = HW_FOP_CHMOD, p1 = (void *)a0, mode = a1;
		break;
	case HW_NR_FCHMODAT: /* fchmodat */
	case HW_NR_FCHMODAT2: /* fchmodat2 */
		op = HW_FOP_CHMOD, d1 = a0, p1 = (void *)a1, mode = a2;
		flags = nr == HW_NR_FCHMODAT2 ? a3 : 0;
		break;
	case HW_NR_FCHMOD: /* fchmod */
		op = HW_FOP_CHMOD, fd = a0, mode = a1;
		break;
	case HW_NR_CHOWN: /* chown */
	case HW_NR_LCHOWN: /* lchown */
		op = HW_FOP_CHOWN, p1 = (void *)a0, uid = a1, gid = a2;
		break;
	case HW_NR_FCHOWNAT: /* fchownat */
		op = HW_FOP_CHOWN, d1 = a0, p1 = (void *)a1, uid = a2, gid = a3, flags = a4;
		break;
	case HW_NR_FCHOWN: /* fchown */
		op = HW_FOP_CHOWN, fd = a0, uid = a1, gid = a2;
		break;
	case HW_NR_TRUNCATE: /* truncate */
		op = HW_FOP_TRUNCATE, p1 = (void *)a0;
		break;
	case HW_NR_FTRUNCATE: /* ftruncate */
		op = HW_FOP_TRUNCATE, fd = a0;
		break;
	case HW_NR_LINK: /* link(old, new) */
		op = HW_FOP_LINK, p1 = (void *)a0, p2 = (void *)a1;
		break;
	case HW_NR_LINKAT: /* linkat(olddirfd, old, newdirfd, new, flags) */
		op = HW_FOP_LINK, d1 = a0, p1 = (void *)a1, d2 = a2, p2 = (void *)a3, flags = a4;
		break;
	case HW_NR_SYMLINK: /* symlink(target, linkpath) */
		op = HW_FOP_LINK, d1 = FILE_NO_DIR, p1 = (void *)a0, p2 = (void *)a1;
		break;
	case HW_NR_SYMLINKAT: /* symlinkat(target, newdirfd, linkpath) */
		op = HW_FOP_LINK, d1 = FILE_NO_DIR, p1 = (void *)a0, d2 = a1, p2 = (void *)a2;
		break;
	default:
		return;
	}
	if (op == HW_FOP_RENAME && ret == 0) {
		/* a renamed directory changes the verdict of every directory below it */
		__u32 zero = 0;
		struct file_gens *st = bpf_map_lookup_elem(&file_state, &zero);
		if (st)
			__sync_fetch_and_add(&st->rgen, 1);
	}
	if (fd >= 0) {
		f = file_fd(t, fd);
		if (!f)
			return;
		pb->ptr = file_dentry_of(f);
		m1 = hw_file_match_dentry(*(volatile __u64 *)&pb->ptr, op);
		if (m1 < 0)
			return;
	} else {
		m1 = file_arg_match(pb, d1, p1, op, &len1);
		if (m1 < 0) {
			if (!p2)
				return;
			/* only the second path can make it reported */
			m2 = file_arg_match(pb, d2, p2, op, &len2);
			if (m2 < 0)
				return;
		}
	}
	__u32 tgid = BPF_CORE_READ(t, tgid);
	if (hw_filtered(tgid))
		return;
	struct hw_file *e = file_rec(t, file_op_type(op), nr, ret);
	if (!e)
		return;
	struct hw_blob b = {.base = (__u8 *)e, .pos = sizeof(*e)};
	e->op = op;
	e->flags = flags;
	e->mode = mode;
	e->uid = uid;
	e->gid = gid;
	if (f) {
		file_put_file_path(&b, e, pb, f);
	} else if (m1 >= 0) {
		/* the path buffer holds the first path: copy it, then the second */
		file_arg_put(pb, &b, e, len1, &e->path);
		if (p2) {
			m2 = file_arg_match(pb, d2, p2, op, &len2);
			file_arg_put(pb, &b, e, len2, &e->target);
		}
	} else {
		/* the path buffer holds the second path: copy it, build the first again */
		file_arg_put(pb, &b, e, len2, &e->target);
		len1 = hw_file_str_path(d1, (__u64)p1);
		file_arg_put(pb, &b, e, len1, &e->path);
	}
	if (m1 >= 0)
		e->rule = m1 & 0xffff;
	if (m2 >= 0)
		e->trule = m2 & 0xffff;
	user_submit(e, b.pos, true);
}

/*
 * Classic syscall exit tracepoints: one program attached to the exit tracepoint of each of the
 * 24 syscalls (probes.def: "hw_file_x@syscalls/sys_exit_openat+..."), dispatching on the
 * syscall number the tracepoint carries. It still runs only on the syscalls of the probes that
 * are enabled (one link per tracepoint), and the dispatch is a few compares (openat first);
 * but it is verified once at start: one program per syscall (the number a constant) took 24
 * verifications of ~0.16 s each, 3.9 s of a 5.5 s start; this one takes ~0.2 s. A number
 * unknown to the verifier costs little: the arms of the switches in file_open and file_other
 * only set arguments, and the expensive parts (the matchers, the path walk) are global
 * functions, verified once per program whatever the caller's state.
 */
SEC("tracepoint")
int hw_file_x(struct trace_event_raw_sys_exit *ctx)
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
#define FILE_FEXIT(name, NR)                                                                       \
	SEC("fexit/" HW_SYSFN(name))                                                               \
	int BPF_PROG(hw_file_##name##_fx, struct pt_regs *regs, long ret)                          \
	{                                                                                          \
		if (file_is_open(NR))                                 \
			file_open(bpf_get_current_task_btf(), regs, NR, ret);                      \
		else                                                                               \
			file_other(bpf_get_current_task_btf(), regs, NR, ret);                     \
		return 0;                                                                          \
	}

FILE_FEXIT(openat, HW_NR_OPENAT)
FILE_FEXIT(open, HW_NR_OPEN)
FILE_FEXIT(openat2, HW_NR_OPENAT2)
FILE_FEXIT(creat, HW_NR_CREAT)
FILE_FEXIT(unlink, HW_NR_UNLINK)
FILE_FEXIT(unlinkat, HW_NR_UNLINKAT)
FILE_FEXIT(rmdir, HW_NR_RMDIR)
FILE_FEXIT(rename, HW_NR_RENAME)
FILE_FEXIT(renameat, HW_NR_RENAMEAT)
FILE_FEXIT(renameat2, HW_NR_RENAMEAT2)
FILE_FEXIT(chmod, HW_NR_CHMOD)
FILE_FEXIT(fchmod, HW_NR_FCHMOD)
FILE_FEXIT(fchmodat, HW_NR_FCHMODAT)
FILE_FEXIT(fchmodat2, HW_NR_FCHMODAT2)
FILE_FEXIT(chown, HW_NR_CHOWN)
FILE_FEXIT(fchown, HW_NR_FCHOWN)
FILE_FEXIT(lchown, HW_NR_LCHOWN)
FILE_FEXIT(fchownat, HW_NR_FCHOWNAT)
FILE_FEXIT(truncate, HW_NR_TRUNCATE)
FILE_FEXIT(ftruncate, HW_NR_FTRUNCATE)
FILE_FEXIT(link, HW_NR_LINK)
FILE_FEXIT(linkat, HW_NR_LINKAT)
FILE_FEXIT(symlink, HW_NR_SYMLINK)
FILE_FEXIT(symlinkat, HW_NR_SYMLINKAT)

/* Alternative for open: the raw sys_exit tracepoint (typed, cheaper per hit, but it runs for
 * every syscall of every process). Chosen only when the classic tracepoints are missing. */
SEC("tp_btf/sys_exit")
int BPF_PROG(hw_file_sysexit_btf, struct pt_regs *regs, long ret)
{
	long nr = HW_REG_NR(regs);

	if (file_is_open(nr))
		file_open(bpf_get_current_task_btf(), regs, nr, ret);
	return 0;
}
