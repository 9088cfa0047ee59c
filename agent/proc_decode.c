/* proc_decode.c - decoders of the process family's records: exec (also failed execs),
 * exit and fork (forks feed the process table only), and path_build, which every decoder
 * uses to rebuild a path from a record's leaf-first components. Every offset in a record is
 * checked against the record's length before use. */
#include "agent/agent.h"
#include "agent/emit.h"
#include "agent/user.h"
#include "agent/binhash.h"
#include "herdwatch.skel.h"
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

/* ---- record helpers: every offset is checked against the record length ---- */

static bool str_ok(const struct hw_str *s, size_t len)
{
	return (size_t)s->off + s->len <= len;
}

/* Rebuild an absolute path from leaf-first components. Returns length, or -1. A path the
 * kernel walk could not finish (too deep, too long, a failed read) starts with "…/" instead
 * of "/": it never looks absolute. */
int path_build(const void *rec, size_t len, const struct hw_path *p, char *out, size_t outlen)
{
	const char *comp[HW_PATH_DEPTH];
	size_t cl[HW_PATH_DEPTH];
	int n = 0;
	size_t o = 0;

	if ((size_t)p->off + p->len > len || outlen < 2)
		return -1;
	const char *s = (const char *)rec + p->off, *end = s + p->len;
	while (s < end && n < HW_PATH_DEPTH && n < p->ncomp) {
		const char *z = memchr(s, 0, end - s);
		if (!z)
			break;
		comp[n] = s;
		cl[n] = z - s;
		n++;
		s = z + 1;
	}
	bool trunc = p->flags & HW_PATH_TRUNC;
	if (trunc) {
		const char ell[] = "\xe2\x80\xa6"; /* U+2026 */
		if (outlen < sizeof(ell) + 1)
			return -1;
		memcpy(out, ell, sizeof(ell) - 1);
		o = sizeof(ell) - 1;
	} else if (n == 1 && p->ncomp == 1 && cl[0] && comp[0][0] != '/' && strchr(comp[0], ':')) {
		/* a pseudo-filesystem leaf such as "memfd:x": print as the kernel does */
		out[o++] = '/';
	}
	for (int i = n - 1; i >= 0; i--) {
		if (cl[i] == 1 && comp[i][0] == '/')
			continue; /* the root dentry's own name */
		if (o + cl[i] + 2 >= outlen)
			break;
		if (!(n == 1 && o == 1 && out[0] == '/'))
			out[o++] = '/';
		memcpy(out + o, comp[i], cl[i]);
		o += cl[i];
	}
	if (o == 0 || (trunc && o == 3))
		out[o++] = '/';
	if (p->flags & HW_PATH_DELETED) {
		const char del[] = " (deleted)";
		if (o + sizeof(del) < outlen) {
			memcpy(out + o, del, sizeof(del) - 1);
			o += sizeof(del) - 1;
		}
	}
	out[o] = 0;
	return (int)o;
}

/* filters.ignore_exe: whether the program p now runs is ignored; decided here, at its exec,
 * and enforced in the kernel from now on (hw_ignore_pid). */
static bool exec_ignored(struct agent *a, struct proc *p, uint32_t pid)
{
	for (size_t i = 0; i < a->cfg.ignore_exe.n; i++) {
		const char *pre = a->cfg.ignore_exe.v[i];
		size_t pl = strlen(pre);
		if (!strncmp(p->exe, pre, pl) && (pre[pl - 1] == '/' || p->exe[pl] == 0)) {
			uint8_t one = 1;
			p->ignored = true;
			bpf_map_update_elem(bpf_map__fd(a->skel->maps.hw_ignore_pid), &pid, &one,
					    BPF_ANY);
			a->filtered++;
			return true;
		}
	}
	return false;
}

int decode_exec(struct agent *a, const void *rec, size_t len)
{
	const struct hw_exec *e = rec;
	const struct hw_hdr *h = &e->hdr;
	char exe[HW_PATH_MAX + 32], cwd[HW_PATH_MAX + 32];
	struct jbuf *b = &a->jb;

	if (!str_ok(&e->args, len) || !str_ok(&e->filename, len) || !str_ok(&e->tty, len))
		return -EINVAL;
	int exe_n = path_build(rec, len, &e->exe, exe, sizeof(exe));
	int cwd_n = path_build(rec, len, &e->cwd, cwd, sizeof(cwd));
	if (exe_n < 0 || cwd_n < 0)
		return -EINVAL;

	/* Update the table first: the event shows the process as it is after the exec. */
	struct proc *old = proctab_get(&a->pt, h->pid);
	bool old_euid_known = old && old->euid_known;
	uint32_t old_euid = old_euid_known ? old->euid : 0;
	uint32_t old_egid = old_euid_known ? old->egid : 0;
	bool had_old = old != NULL;
	/* strings an exec seldom changes (inherited at the fork): kept if equal */
	char *prev_exe = old ? pstr_ref(old->exe) : NULL,
	     *prev_cwd = old ? pstr_ref(old->cwd) : NULL,
	     *prev_tty = old ? pstr_ref(old->tty) : NULL;
	struct proc *p = proctab_put(&a->pt, h->pid);
	if (!p) {
		pstr_put(prev_exe);
		pstr_put(prev_cwd);
		pstr_put(prev_tty);
		return -ENOMEM;
	}
	p->euid = h->euid;
	p->egid = h->egid;
	p->euid_known = true;
	p->ppid = h->ppid;
	p->start_ticks = ns_to_ticks(a, h->start_ns);
	p->cgroup_id = h->cgroup_id;
	bool deleted = e->exe.flags & HW_PATH_DELETED;
	/* the table keeps the path without the " (deleted)" marker for lineage */
	size_t exelen = exe_n;
	if (deleted && exelen > 10)
		exelen -= 10;
	proc_set_str_prev(&p->exe, exe, exelen, prev_exe);
	proc_set_str_prev(&p->cwd, cwd, cwd_n, prev_cwd);
	proc_set_str_prev(&p->tty, e->tty.len ? (const char *)rec + e->tty.off : NULL, e->tty.len,
			  prev_tty);
	const char *args = (const char *)rec + e->args.off;
	bool args_cut = h->flags & HW_F_TRUNC_ARGS;
	proc_set_args(p, args, e->args.len, args_cut);

	if (exec_ignored(a, p, h->pid))
		return 0;

	/* the event carries argv as the kernel read it, the table a bounded copy */
	if (e->args.len > p->args_len) {
		a->exec_args = args;
		a->exec_args_len = e->args.len;
		a->exec_args_cut = args_cut;
	}
	emit_event_p(a, "process.exec", h, p, "exec");
	a->exec_args = NULL;
	jb_ki64(b, "result", 0);
	/* Privilege gained by this exec: effective ids that changed through it (setuid/setgid
	 * binary), or capabilities granted by the file. Ids are compared with the credentials
	 * just before the exec (sched_prepare_exec); without them (kernel < 6.10, or the agent
	 * started mid-exec) with the euid last seen and the kernel's AT_SECURE decision. Ids that
	 * differ already before the exec (privileges dropped) are no gain. */
	bool setuid = e->caps_gained;
	if (e->old_known) {
		setuid |= h->euid != e->old_euid || h->egid != e->old_egid;
		old_euid_known = true;
		old_euid = e->old_euid;
		old_egid = e->old_egid;
	} else {
		setuid |= e->secureexec && (!old_euid_known || old_euid != h->euid);
	}
	jb_kbool(b, "setuid", setuid);
	jb_kbool(b, "fileless", deleted || e->exe_nlink == 0);
	jb_kstr(b, "filename", (const char *)rec + e->filename.off, e->filename.len);
	jb_ku64(b, "uid", h->uid);
	jb_ku64(b, "euid", h->euid);
	/* the euid before the exec, as last seen (fork, exec, cred_change); null if never seen */
	jb_key(b, "old_euid");
	if (old_euid_known)
		jb_u64(b, old_euid);
	else
		jb_null(b);
	jb_ku64(b, "suid", e->suid);
	jb_ku64(b, "egid", h->egid);
	/* the egid before the exec: as old_euid (last seen with it where the kernel does not say) */
	jb_key(b, "old_egid");
	if (old_euid_known)
		jb_u64(b, old_egid);
	else
		jb_null(b);
	jb_kbool(b, "caps_gained", e->caps_gained);
	jb_kbool(b, "exe_truncated", e->exe.flags & HW_PATH_TRUNC);
	jb_kbool(b, "cwd_truncated", e->cwd.flags & HW_PATH_TRUNC);
	jb_kbool(b, "args_read_failed", h->flags & HW_F_READ_FAIL);
	jb_kbool(b, "args_truncated", h->flags & HW_F_TRUNC_ARGS);
	jb_ku64(b, "args_bytes", e->args_total);
	if (e->old_pid != h->pid)
		jb_ku64(b, "old_tid", e->old_pid);
	jb_kbool(b, "seen_before_exec", had_old);
	/* the file's SHA-256: from the cache, else null and "pending" (process.binary follows) */
	struct binhash_key k = {.ino = e->exe_ino,
				.size = e->exe_size,
				.mtime_ns = e->exe_mtime_ns,
				.ctime_ns = e->exe_ctime_ns,
				.dev = e->exe_dev};
	binhash_exec(a, h, &k, exe, exelen, deleted || e->exe_nlink == 0);
	emit_event_end(a);
	return 0;
}

int decode_exit(struct agent *a, const void *rec, size_t len)
{
	const struct hw_exit *e = rec;
	const struct hw_hdr *h = &e->hdr;
	struct jbuf *b = &a->jb;
	struct proc *p = proctab_get(&a->pt, h->pid);

	if (!(p && p->ignored)) {
		file_flush_repeats(a, h);
		emit_event_p(a, "process.exit", h, p, "exit");
		uint32_t st = e->exit_code;
		jb_ku64(b, "code", (st >> 8) & 0xff);
		jb_ku64(b, "signal", st & 0x7f);
		jb_kbool(b, "core_dumped", st & 0x80);
		jb_ku64(b, "duration_ns", h->ts > h->start_ns ? h->ts - h->start_ns : 0);
		emit_event_end(a);
	} else {
		a->filtered++;
		/* An exit record of an ignored process means that it exited before the agent read its
		 * exec and marked it: the mark set since is stale (its pid may be reused) */
		if (a->skel)
			bpf_map_delete_elem(bpf_map__fd(a->skel->maps.hw_ignore_pid), &h->pid);
		unsigned i =
			a->ign_exited_next++ % (sizeof(a->ign_exited) / sizeof(a->ign_exited[0]));
		a->ign_exited[i].pid = h->pid;
		a->ign_exited[i].start_ticks = p->start_ticks;
	}
	file_fan_note_exit(a, h, p); /* watched-file events read after the exit name it */
	proctab_del(&a->pt, h->pid);
	return 0;
}

/* Forks feed the process table only (exec and exit are the events). */
int decode_fork(struct agent *a, const void *rec, size_t len)
{
	const struct hw_fork *e = rec;
	/* Classic tracepoint fallback: the child may be a thread, which must not become an entry.
	 * One already gone cannot be told apart: its entry is freed by its exit record if it was
	 * a process, by the table's reconciliation with /proc if it was a thread. */
	if (!e->child_start_ns) {
		int tgid = proctab_tgid_of("/proc", e->child_pid);
		if (tgid > 0 && tgid != (int)e->child_pid)
			return 0;
	}
	struct proc *c = proctab_put(&a->pt, e->child_pid);
	if (!c)
		return -ENOMEM;
	/* after the put, which may free entries to stay within the table's bounds */
	struct proc *par = proctab_get(&a->pt, e->hdr.pid);
	c->ppid = e->hdr.pid;
	c->cgroup_id = e->hdr.cgroup_id;
	c->euid = e->hdr.euid; /* a child starts with its parent's credentials */
	c->egid = e->hdr.egid;
	c->euid_known = true;
	if (e->child_start_ns)
		c->start_ticks = ns_to_ticks(a, e->child_start_ns);
	else if (proctab_load_pid(&a->pt, "/proc", e->child_pid) == 0)
		return 0; /* classic tracepoint fallback: /proc has the rest */
	if (par)
		proc_inherit(c, par);
	return 0;
}

bool proc_ignored(struct agent *a, const struct hw_hdr *h)
{
	struct proc *p = proctab_get(&a->pt, h->pid);
	if (p)
		return p->ignored;
	uint64_t t = h->start_ns ? ns_to_ticks(a, h->start_ns) : 0;
	for (size_t i = 0; i < sizeof(a->ign_exited) / sizeof(a->ign_exited[0]); i++)
		if (a->ign_exited[i].pid == h->pid && (!t || a->ign_exited[i].start_ticks == t))
			return true;
	return false;
}

int decode_exec_fail(struct agent *a, const void *rec, size_t len)
{
	const struct hw_exec_fail *e = rec;
	struct jbuf *b = &a->jb;
	struct proc *p = proctab_get(&a->pt, e->hdr.pid);

	if (!str_ok(&e->filename, len))
		return -EINVAL;
	if (p && p->ignored) {
		a->filtered++;
		return 0;
	}
	emit_event(a, "process.exec", &e->hdr, "exec");
	jb_ki64(b, "result", e->result);
	jb_kcstr(b, "error", strerrorname_np(-e->result));
	jb_kbool(b, "setuid", false);
	jb_kbool(b, "fileless", false);
	jb_kstr(b, "filename", (const char *)rec + e->filename.off, e->filename.len);
	emit_event_end(a);
	return 0;
}
