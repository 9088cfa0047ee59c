/* SPDX-License-Identifier: GPL-2.0 */
/*
 * user.bpf.c - user activity: lines typed into interactive shells (uretprobe on readline) and
 * PAM transactions (uprobes on libpam), plus the exec watcher that tells the agent about
 * binaries it has not looked at yet (a new bash, a bash copied into a container).
 *
 * The uprobe programs are attached by the agent (agent/uprobes_user.c) to every bash binary
 * and every libreadline/libpam file it finds, once per inode. A uprobe costs only the
 * processes that call the probed function: readline runs once per typed line, PAM once per
 * login step.
 */
#include "user.bpf.h"

/* ---- exec watcher: new executables ---- */

/* (dev, ino, which) of executables already reported to the agent. */
struct user_bin_key {
	__u64 ino;
	__u32 dev;
	__u32 which; /* 1: shell probe, 2: auth probe */
};
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, struct user_bin_key);
	__type(value, __u8);
} hwu_bins SEC(".maps");

static __always_inline void user_exec(struct task_struct *t, __u32 which)
{
	/* t is a BTF pointer: direct loads (one instruction each, not a helper call) */
	struct inode *ino = t->mm->exe_file->f_inode;
	struct user_bin_key k = {
		.ino = ino->i_ino,
		.dev = ino->i_sb->s_dev,
		.which = which,
	};
	__u8 one = 1;
	struct hw_user_bin *r;

	if (!k.ino || bpf_map_lookup_elem(&hwu_bins, &k))
		return;
	bpf_map_update_elem(&hwu_bins, &k, &one, BPF_ANY);
	r = hw_scratch_get();
	if (!r) {
		hw_count_drop(HW_EV_USER_BIN, HW_DROP_SCRATCH);
		return;
	}
	hw_fill_hdr(&r->hdr, t, HW_EV_USER_BIN);
	r->ino = k.ino;
	r->dev = k.dev;
	r->pad = which;
	/* urgent: the agent attaches before the new shell reads its first line */
	hw_submit(r, sizeof(*r), true);
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(hwu_shell_btf, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
{
	user_exec(p, 1);
	return 0;
}

SEC("tracepoint/sched/sched_process_exec")
int hwu_shell_tp(void *ctx)
{
	user_exec(bpf_get_current_task_btf(), 1);
	return 0;
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(hwu_auth_btf, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
{
	user_exec(p, 2);
	return 0;
}

SEC("tracepoint/sched/sched_process_exec")
int hwu_auth_tp(void *ctx)
{
	user_exec(bpf_get_current_task_btf(), 2);
	return 0;
}

/* ---- user.shell: readline() returned a line ---- */

#define HW_SHELL_LINE_MAX 4096

/*
 * A readline() call that began before its uprobes were attached (the first prompt of a shell
 * the agent had never seen) has no return probe: its line is taken at the entry of
 * rl_deprep_terminal(), which readline() calls after the line is complete, from the global
 * rl_line_buffer. The agent passes the distance from rl_deprep_terminal to rl_line_buffer in
 * the object as the attach cookie, so its address is the probed instruction's plus the
 * cookie, whatever the load address. Used only by a thread whose readline() entry was never
 * seen: once one was, every later line comes from the return probe (no line twice).
 */
#define USER_RL_IN 1   /* in a readline() call whose entry was seen */
#define USER_RL_SEEN 2 /* entries are seen for this thread: no fallback */
#define USER_RL_DEPREP                                                                             \
	3 /* the line of this call was taken at rl_deprep_terminal: its return
			  * (a return probe armed before the entry probe was attached) skips it */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 8192);
	__type(key, __u32);
	__type(value, __u8);
} hwu_rl SEC(".maps");

SEC("uprobe")
int BPF_KPROBE(hwu_readline_up)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	__u8 v = USER_RL_IN;

	bpf_map_update_elem(&hwu_rl, &tid, &v, BPF_ANY);
	return 0;
}

static __always_inline int user_shell_line(const char *line, __u32 late)
{
	struct task_struct *t = bpf_get_current_task_btf();
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct user_pbuf *pb;
	struct hw_shell *e;
	struct hw_blob b;
	bool trunc = false;
	__u32 start;
	long n;

	if (!line || hw_filtered(tgid))
		return 0;
	e = hw_scratch_get();
	pb = user_pbuf_get();
	if (!e || !pb) {
		hw_count_drop(HW_EV_SHELL, HW_DROP_SCRATCH);
		return 0;
	}
	hw_fill_hdr(&e->hdr, t, HW_EV_SHELL);
	b.base = (__u8 *)e;
	b.pos = sizeof(*e);
	e->line.off = b.pos;
	e->line.len = 0;
	e->line_total = 0;
	e->pad = late;
	n = bpf_probe_read_user_str(b.base + b.pos, HW_SHELL_LINE_MAX, line);
	if (n > 0) {
		e->line.len = n - 1;
		e->line_total = n - 1;
		b.pos += n;
		if (n == HW_SHELL_LINE_MAX)
			e->hdr.flags |= HW_F_TRUNC_ARGS;
	} else {
		e->hdr.flags |= HW_F_READ_FAIL;
	}

	struct tty_struct *tty = BPF_CORE_READ(t, signal, tty);
	e->tty.off = b.pos;
	e->tty.len = 0;
	if (tty)
		hw_blob_kstr(&b, tty->name, 64, &e->tty);

	struct path cwd = BPF_CORE_READ(t, fs, pwd);
	start = user_fwalk(cwd.dentry, cwd.mnt, &trunc);
	if (start == UPB)
		pb->buf[--start] = '/';
	user_blob_pbuf(&b, pb, start, UPB - start, &e->cwd);

	struct path exe = BPF_CORE_READ(t, mm, exe_file, f_path);
	start = user_fwalk(exe.dentry, exe.mnt, &trunc);
	user_blob_pbuf(&b, pb, start, UPB - start, &e->exe);
	if (trunc)
		e->hdr.flags |= HW_F_TRUNC_PATH;
	user_submit(e, b.pos, true);
	return 0;
}

SEC("uretprobe")
int BPF_KRETPROBE(hwu_readline_ur, const char *line)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	__u8 v = USER_RL_SEEN, *cur = bpf_map_lookup_elem(&hwu_rl, &tid);
	bool taken = cur && *cur == USER_RL_DEPREP;

	bpf_map_update_elem(&hwu_rl, &tid, &v, BPF_ANY);
	return taken ? 0 : user_shell_line(line, 0);
}

SEC("uprobe")
int BPF_KPROBE(hwu_rldeprep_up)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	__u8 v = USER_RL_DEPREP;
	__s64 delta = (__s64)bpf_get_attach_cookie(ctx);
	const char *line = NULL;

	if (bpf_map_lookup_elem(&hwu_rl, &tid) || !delta)
		return 0;
	/* the first readline() call of this thread seen, and its entry was missed (its return
	 * may still be seen: the return probe can be armed before the entry probe is attached) */
	if (bpf_probe_read_user(&line, sizeof(line), (void *)(PT_REGS_IP(ctx) + delta)))
		v = USER_RL_SEEN; /* not taken here: its return, if armed, reports it */
	bpf_map_update_elem(&hwu_rl, &tid, &v, BPF_ANY);
	return v == USER_RL_DEPREP ? user_shell_line(line, 1) : 0;
}

/* ---- user.auth: PAM ---- */

struct user_pam_key {
	__u32 tgid;
	__u32 pad;
	__u64 pamh;
};
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, struct user_pam_key);
	__type(value, struct hw_pam_items);
} hwu_pam SEC(".maps");

/* A call in progress, per thread: arguments kept from entry for the return probe. */
struct user_pam_call {
	__u64 a0, a1, pamhp; /* pam_start: service, user, pam_handle_t ** */
	__u64 pamh;
	__u32 step;
	__u32 pad;
};
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, struct user_pam_call);
} hwu_pam_calls SEC(".maps");

/* Items for (tgid, pamh). A process that forked after pam_start (sshd, su) uses the handle
 * its parent created: take the parent's items the first time. */
static __always_inline struct hw_pam_items *user_pam_items(struct task_struct *t, __u64 pamh)
{
	struct user_pam_key k = {.tgid = BPF_CORE_READ(t, tgid), .pamh = pamh};
	struct hw_pam_items *it = bpf_map_lookup_elem(&hwu_pam, &k);
	if (it)
		return it;
	struct user_pam_key pk = {.tgid = BPF_CORE_READ(t, real_parent, tgid), .pamh = pamh};
	it = bpf_map_lookup_elem(&hwu_pam, &pk);
	if (!it)
		return NULL;
	bpf_map_update_elem(&hwu_pam, &k, it, BPF_NOEXIST);
	return bpf_map_lookup_elem(&hwu_pam, &k);
}

static __always_inline void user_pam_start_entry(__u64 service, __u64 user, __u64 pamhp)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct user_pam_call c = {.a0 = service, .a1 = user, .pamhp = pamhp, .step = HW_PAM_START};

	if (hw_filtered(bpf_get_current_pid_tgid() >> 32))
		return;
	bpf_map_update_elem(&hwu_pam_calls, &tid, &c, BPF_ANY);
}

SEC("uprobe")
int BPF_KPROBE(hwu_pamstart_up, const char *service, const char *user, void *conv, void **pamhp)
{
	user_pam_start_entry((__u64)service, (__u64)user, (__u64)pamhp);
	return 0;
}

SEC("uprobe")
int BPF_KPROBE(hwu_pamconf_up, const char *service, const char *user, void *conv,
	       const char *confdir, void **pamhp)
{
	user_pam_start_entry((__u64)service, (__u64)user, (__u64)pamhp);
	return 0;
}

/* Zero template for new items (too big for the stack next to the other locals). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct hw_pam_items);
} hwu_pam_zero SEC(".maps");

SEC("uretprobe")
int BPF_KRETPROBE(hwu_pamstart_ur, long ret)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)id, zero = 0;
	struct user_pam_call *c = bpf_map_lookup_elem(&hwu_pam_calls, &tid);
	struct user_pam_key k = {.tgid = id >> 32};
	struct hw_pam_items *it, *z;

	if (!c || c->step != HW_PAM_START)
		return 0;
	if (ret == 0 && bpf_probe_read_user(&k.pamh, sizeof(k.pamh), (void *)c->pamhp) == 0 &&
	    k.pamh && (z = bpf_map_lookup_elem(&hwu_pam_zero, &zero))) {
		bpf_map_update_elem(&hwu_pam, &k, z, BPF_ANY);
		it = bpf_map_lookup_elem(&hwu_pam, &k);
		if (it) {
			bpf_probe_read_user_str(it->service, sizeof(it->service), (void *)c->a0);
			if (c->a1)
				bpf_probe_read_user_str(it->user, sizeof(it->user), (void *)c->a1);
		}
	}
	bpf_map_delete_elem(&hwu_pam_calls, &tid);
	return 0;
}

#define PAM_SERVICE 1
#define PAM_USER 2
#define PAM_TTY 3
#define PAM_RHOST 4
#define PAM_RUSER 8

SEC("uprobe")
int BPF_KPROBE(hwu_pamitem_up, void *pamh, int type, const void *item)
{
	struct task_struct *t = bpf_get_current_task_btf();
	struct hw_pam_items *it;

	if (hw_filtered(bpf_get_current_pid_tgid() >> 32))
		return 0;
	it = user_pam_items(t, (__u64)pamh);
	if (!it)
		return 0;
	switch (type) {
	case PAM_SERVICE:
		it->service[0] = 0;
		if (item)
			bpf_probe_read_user_str(it->service, sizeof(it->service), item);
		break;
	case PAM_USER:
		it->user[0] = 0;
		if (item)
			bpf_probe_read_user_str(it->user, sizeof(it->user), item);
		break;
	case PAM_TTY:
		it->tty[0] = 0;
		if (item)
			bpf_probe_read_user_str(it->tty, sizeof(it->tty), item);
		break;
	case PAM_RHOST:
		it->rhost[0] = 0;
		if (item)
			bpf_probe_read_user_str(it->rhost, sizeof(it->rhost), item);
		break;
	case PAM_RUSER:
		it->ruser[0] = 0;
		if (item)
			bpf_probe_read_user_str(it->ruser, sizeof(it->ruser), item);
		break;
	}
	return 0;
}

static __always_inline void user_pam_step_entry(void *pamh, __u32 step)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct user_pam_call c = {.pamh = (__u64)pamh, .step = step};

	if (hw_filtered(bpf_get_current_pid_tgid() >> 32))
		return;
	bpf_map_update_elem(&hwu_pam_calls, &tid, &c, BPF_ANY);
}

SEC("uprobe")
int BPF_KPROBE(hwu_pamauth_up, void *pamh)
{
	user_pam_step_entry(pamh, HW_PAM_AUTHENTICATE);
	return 0;
}

SEC("uprobe")
int BPF_KPROBE(hwu_pamacct_up, void *pamh)
{
	user_pam_step_entry(pamh, HW_PAM_ACCT_MGMT);
	return 0;
}

SEC("uprobe")
int BPF_KPROBE(hwu_pamopen_up, void *pamh)
{
	user_pam_step_entry(pamh, HW_PAM_OPEN_SESSION);
	return 0;
}

SEC("uprobe")
int BPF_KPROBE(hwu_pamclose_up, void *pamh)
{
	user_pam_step_entry(pamh, HW_PAM_CLOSE_SESSION);
	return 0;
}

SEC("uprobe")
int BPF_KPROBE(hwu_pamchtok_up, void *pamh)
{
	user_pam_step_entry(pamh, HW_PAM_CHAUTHTOK);
	return 0;
}

/* Return of any of the five steps above: one user.auth record. */
SEC("uretprobe")
int BPF_KRETPROBE(hwu_pamstep_ur, long ret)
{
	struct task_struct *t = bpf_get_current_task_btf();
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct user_pam_call *c = bpf_map_lookup_elem(&hwu_pam_calls, &tid);
	struct hw_pam_items *it;
	struct hw_auth *e;

	if (!c || c->step == HW_PAM_START)
		return 0;
	e = hw_scratch_get();
	if (!e) {
		hw_count_drop(HW_EV_AUTH, HW_DROP_SCRATCH);
		goto out;
	}
	hw_fill_hdr(&e->hdr, t, HW_EV_AUTH);
	e->step = c->step;
	e->result = (__s32)ret;
	e->handle = c->pamh;
	it = user_pam_items(t, c->pamh);
	if (it)
		__builtin_memcpy(&e->items, it, sizeof(e->items));
	else
		__builtin_memset(&e->items, 0, sizeof(e->items));
	hw_submit(e, sizeof(*e), true);
out:
	bpf_map_delete_elem(&hwu_pam_calls, &tid);
	return 0;
}

SEC("uprobe")
int BPF_KPROBE(hwu_pamend_up, void *pamh)
{
	struct user_pam_key k = {.tgid = bpf_get_current_pid_tgid() >> 32, .pamh = (__u64)pamh};
	bpf_map_delete_elem(&hwu_pam, &k);
	return 0;
}
