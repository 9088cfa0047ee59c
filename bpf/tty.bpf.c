/* SPDX-License-Identifier: GPL-2.0 */
/*
 * tty.bpf.c - TTY capture: what a session's processes read from their terminal (tty.input,
 * at the exit of read/readv) and write to it (tty.output, at the entry of write/writev).
 *
 * Hooks: classic syscall tracepoints, the one hook that works on every kernel herdwatch runs
 * on (this machine's has no kprobes, no fentry, no BPF-LSM). They are attached only while the
 * capture is on (agent/tty.c): the default agent has no program here attached, so it pays
 * nothing. While attached, every read and write of every task runs the program; it returns
 * after a few loads unless the descriptor is a terminal's slave side and the task is watched.
 *
 * Which file is a terminal: its f_op is the kernel's tty_fops (every tty device's slave side:
 * /dev/pts/N, /dev/ttyN, serial lines, /dev/tty). That symbol is not in kallsyms on every
 * kernel (not without CONFIG_KALLSYMS_ALL, and hidden without CAP_SYSLOG), so the agent learns
 * the address: it opens a pty and writes one byte to its slave side with hwt_cfg.learn_fd
 * set, and this program copies that file's f_op into hwt_cfg.learned_fops.
 *
 * The slave side is where a session's shell and programs read what is typed and write what is
 * shown: a read there is input, a write is output. (The pty master, held by sshd or script,
 * sees the same bytes the other way round; it is not hooked, so nothing is recorded twice.)
 *
 * Secrets: input read while the terminal's termios has no ECHO (a password prompt: getpass,
 * sudo, ssh, read -s, stty -echo) is never copied; not even its length leaves the kernel, only
 * the count HW_TTY_ST_SECRET. Programs that echo for themselves (readline, editors) also clear
 * ECHO: what is typed into them is seen as the echo they write (tty.output).
 */
#include "hw.bpf.h"

#define TTY_ECHO 0000010 /* termios c_lflag ECHO (include/uapi/asm-generic/termbits.h) */
#define TTY_BUDGET_WINDOW_NS 1000000000ULL

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct hw_tty_cfg);
} hwt_cfg SEC(".maps");

/* Watched pids: session ids (HW_TTY_W_SID) and process trees (HW_TTY_W_TREE). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 256);
	__type(key, __u32);
	__type(value, __u8);
} hwt_watch SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, struct hw_tty_window);
} hwt_budget SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, HW_TTY_ST_NCOUNT);
	__type(key, __u32);
	__type(value, __u64);
} hwt_stats SEC(".maps");

static __always_inline void tty_count(__u32 which, __u64 n)
{
	__u64 *v = bpf_map_lookup_elem(&hwt_stats, &which);
	if (v)
		*v += n;
}

static __always_inline __u32 tty_sid(struct task_struct *t)
{
	struct pid *sp = BPF_CORE_READ(t, signal, pids[PIDTYPE_SID]);
	__u32 sid = 0;
	if (sp)
		bpf_core_read(&sid, sizeof(sid), &sp->numbers[0].nr);
	return sid;
}

/* Is the task in the watched set: its session, or itself or an ancestor as a process tree? */
static __always_inline bool tty_watched(struct task_struct *t, __u32 sid)
{
	__u8 *w = bpf_map_lookup_elem(&hwt_watch, &sid);
	struct task_struct *p = t;

	if (w && (*w & HW_TTY_W_SID))
		return true;
	for (int i = 0; i < HW_TTY_DEPTH; i++) {
		__u32 tg = BPF_CORE_READ(p, tgid);
		w = bpf_map_lookup_elem(&hwt_watch, &tg);
		if (w && (*w & HW_TTY_W_TREE))
			return true;
		if (tg <= 1)
			break;
		p = BPF_CORE_READ(p, real_parent);
		if (!p)
			break;
	}
	return false;
}

/* Within the session's byte budget for this second? Counts what it lets through. */
static __always_inline bool tty_budget_ok(struct hw_tty_cfg *c, __u32 sid, __u64 n, __u32 type)
{
	struct hw_tty_window *w, nw = {};
	__u64 now = bpf_ktime_get_ns();

	if (!c->budget)
		return true;
	w = bpf_map_lookup_elem(&hwt_budget, &sid);
	if (!w || now - w->start_ns >= TTY_BUDGET_WINDOW_NS) {
		nw.start_ns = now;
		nw.bytes = n;
		bpf_map_update_elem(&hwt_budget, &sid, &nw, BPF_ANY);
		if (n <= c->budget)
			return true;
	} else if (w->bytes + n <= c->budget) {
		__sync_fetch_and_add(&w->bytes, n);
		return true;
	}
	tty_count(type == HW_EV_TTY_IN ? HW_TTY_ST_BUDGET_IN : HW_TTY_ST_BUDGET_OUT, 1);
	tty_count(HW_TTY_ST_BYTES_OVER, n);
	return false;
}

/*
 * One read (input) or write (output) on descriptor fd of the current task: buf holds total
 * bytes (read: returned; write: asked for), of which seg are contiguous at buf (readv/writev:
 * the first segment).
 */
static __always_inline void tty_io(__u32 type, long fd, const void *buf, __u64 total, __u64 seg,
				   __u16 flags)
{
	struct task_struct *t = bpf_get_current_task_btf();
	__u32 tgid = t->tgid, zero = 0, sid;
	struct hw_tty_cfg *c = bpf_map_lookup_elem(&hwt_cfg, &zero);
	struct hw_cfg *hc = hw_get_cfg();
	struct file *f;
	__u64 fops;

	if (!c)
		return;
	if (hc && hc->agent_pid == tgid) {
		/* the agent learns tty_fops from its own pty (agent/tty.c); its own output,
		 * perhaps to a terminal, is never recorded */
		if (type == HW_EV_TTY_OUT && c->learn_fd >= 0 && fd == c->learn_fd &&
		    (f = hw_fd_file(t, fd)))
			c->learned_fops = (__u64)BPF_CORE_READ(f, f_op);
		return;
	}
	if (!c->tty_fops || c->scope == HW_TTY_OFF || !total || !(f = hw_fd_file(t, fd)))
		return;
	fops = (__u64)BPF_CORE_READ(f, f_op);
	if (fops != c->tty_fops)
		return;
	sid = tty_sid(t);
	if (c->scope != HW_TTY_HOST && !tty_watched(t, sid))
		return;
	if (hw_filtered(tgid))
		return;
	struct tty_file_private *priv = BPF_CORE_READ(f, private_data);
	struct tty_struct *tty = BPF_CORE_READ(priv, tty);
	if (!tty)
		return;
	if (type == HW_EV_TTY_IN && !(BPF_CORE_READ(tty, termios.c_lflag) & TTY_ECHO)) {
		tty_count(HW_TTY_ST_SECRET, 1); /* no length, no bytes: see the file's comment */
		return;
	}
	__u64 n = seg < total ? seg : total;
	if (n > c->bytes_max)
		n = c->bytes_max;
	if (n > HW_TTY_DATA_MAX)
		n = HW_TTY_DATA_MAX;
	if (!tty_budget_ok(c, sid, n, type))
		return;

	struct hw_tty *e = hw_scratch_get();
	if (!e) {
		hw_count_drop(type, HW_DROP_SCRATCH);
		return;
	}
	hw_fill_hdr(&e->hdr, t, type);
	e->sid = sid;
	e->fd = fd;
	e->total = total;
	e->flags = flags | (total > n ? HW_TTY_CUT : 0);
	e->pad = 0;
	bpf_probe_read_kernel_str(e->name, sizeof(e->name), tty->name);
	asm volatile("" : "+r"(n));
	if (n > HW_TTY_DATA_MAX)
		n = HW_TTY_DATA_MAX;
	if (n && bpf_probe_read_user(e->data, n, buf)) {
		e->hdr.flags |= HW_F_READ_FAIL;
		n = 0;
	}
	e->len = n;
	hw_submit(e, HW_TTY_FIXED + n, false);
}

/* readv/writev: the first segment, and whether there are more. total: what readv returned;
 * for writev (0) the first segment's length, as the others are not read. */
static __always_inline void tty_iov(__u32 type, long fd, const struct iovec *iov, __u64 cnt,
				    __u64 total)
{
	struct iovec v = {};
	if (!cnt || bpf_probe_read_user(&v, sizeof(v), iov))
		return;
	tty_io(type, fd, v.iov_base, total ? total : v.iov_len, v.iov_len,
	       cnt > 1 ? HW_TTY_VECTOR : 0);
}

/* sys_exit_read and sys_exit_readv: the arguments from the task's saved registers */
SEC("tracepoint")
int hwt_read_ex(struct hw_sys_exit_ctx *ctx)
{
	struct task_struct *t;
	struct pt_regs *regs;
	long ret = ctx->ret;

	if (ret <= 0)
		return 0;
	t = bpf_get_current_task_btf();
	regs = (struct pt_regs *)bpf_task_pt_regs(t);
	if (ctx->nr == HW_NR_READ)
		tty_io(HW_EV_TTY_IN, (int)HW_REG_ARG0(regs), (const void *)HW_REG_ARG1(regs), ret,
		       ret, 0);
	else if (ctx->nr == HW_NR_READV)
		tty_iov(HW_EV_TTY_IN, (int)HW_REG_ARG0(regs),
			(const struct iovec *)HW_REG_ARG1(regs), HW_REG_ARG2(regs), ret);
	return 0;
}

/* sys_enter_write and sys_enter_writev */
SEC("tracepoint")
int hwt_write_en(struct hw_sys_enter_ctx *ctx)
{
	if (ctx->nr == HW_NR_WRITE)
		tty_io(HW_EV_TTY_OUT, (int)ctx->args[0], (const void *)ctx->args[1], ctx->args[2],
		       ctx->args[2], 0);
	else if (ctx->nr == HW_NR_WRITEV && ctx->args[2])
		tty_iov(HW_EV_TTY_OUT, (int)ctx->args[0], (const struct iovec *)ctx->args[1],
			ctx->args[2], 0);
	return 0;
}
