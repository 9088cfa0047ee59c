/* priv_decode.c - decoders of the priv family's records (credential changes, ptrace, memfd,
 * renames, namespaces, modules, bpf, mounts, tamper); what the family counts in the kernel
 * (capabilities, W+X memory) is priv_counts.c. Field meanings: docs/events-priv.md. */
#include "agent/agent.h"
#include "agent/priv.h"
#include "herdwatch.skel.h"
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* ---- names ---- */

static const char *const sc_names[HW_SC_MAX] = {
	[HW_SC_SETUID] = "setuid",
	[HW_SC_SETGID] = "setgid",
	[HW_SC_SETREUID] = "setreuid",
	[HW_SC_SETREGID] = "setregid",
	[HW_SC_SETRESUID] = "setresuid",
	[HW_SC_SETRESGID] = "setresgid",
	[HW_SC_SETFSUID] = "setfsuid",
	[HW_SC_SETFSGID] = "setfsgid",
	[HW_SC_SETGROUPS] = "setgroups",
	[HW_SC_CAPSET] = "capset",
	[HW_SC_PTRACE] = "ptrace",
	[HW_SC_VM_READV] = "process_vm_readv",
	[HW_SC_VM_WRITEV] = "process_vm_writev",
	[HW_SC_MEMFD_CREATE] = "memfd_create",
	[HW_SC_MMAP] = "mmap",
	[HW_SC_MPROTECT] = "mprotect",
	[HW_SC_PKEY_MPROTECT] = "pkey_mprotect",
	[HW_SC_PRCTL] = "prctl",
	[HW_SC_SETNS] = "setns",
	[HW_SC_UNSHARE] = "unshare",
	[HW_SC_CLONE] = "clone",
	[HW_SC_CLONE3] = "clone3",
	[HW_SC_INIT_MODULE] = "init_module",
	[HW_SC_FINIT_MODULE] = "finit_module",
	[HW_SC_DELETE_MODULE] = "delete_module",
	[HW_SC_BPF] = "bpf",
	[HW_SC_PERF_EVENT_OPEN] = "perf_event_open",
	[HW_SC_MOUNT] = "mount",
	[HW_SC_UMOUNT] = "umount2",
	[HW_SC_PIVOT_ROOT] = "pivot_root",
	[HW_SC_CHROOT] = "chroot",
	[HW_SC_MOVE_MOUNT] = "move_mount",
	[HW_SC_FSMOUNT] = "fsmount",
	[HW_SC_FORK] = "fork",
	[HW_SC_WRITE] = "write",
	[HW_SC_MODULE_LOADED] = "module_load",
};

const char *sc_name(unsigned sc)
{
	return sc < HW_SC_MAX && sc_names[sc] ? sc_names[sc] : "unknown";
}

static const char *const cap_names[] = {
	"CAP_CHOWN",
	"CAP_DAC_OVERRIDE",
	"CAP_DAC_READ_SEARCH",
	"CAP_FOWNER",
	"CAP_FSETID",
	"CAP_KILL",
	"CAP_SETGID",
	"CAP_SETUID",
	"CAP_SETPCAP",
	"CAP_LINUX_IMMUTABLE",
	"CAP_NET_BIND_SERVICE",
	"CAP_NET_BROADCAST",
	"CAP_NET_ADMIN",
	"CAP_NET_RAW",
	"CAP_IPC_LOCK",
	"CAP_IPC_OWNER",
	"CAP_SYS_MODULE",
	"CAP_SYS_RAWIO",
	"CAP_SYS_CHROOT",
	"CAP_SYS_PTRACE",
	"CAP_SYS_PACCT",
	"CAP_SYS_ADMIN",
	"CAP_SYS_BOOT",
	"CAP_SYS_NICE",
	"CAP_SYS_RESOURCE",
	"CAP_SYS_TIME",
	"CAP_SYS_TTY_CONFIG",
	"CAP_MKNOD",
	"CAP_LEASE",
	"CAP_AUDIT_WRITE",
	"CAP_AUDIT_CONTROL",
	"CAP_SETFCAP",
	"CAP_MAC_OVERRIDE",
	"CAP_MAC_ADMIN",
	"CAP_SYSLOG",
	"CAP_WAKE_ALARM",
	"CAP_BLOCK_SUSPEND",
	"CAP_AUDIT_READ",
	"CAP_PERFMON",
	"CAP_BPF",
	"CAP_CHECKPOINT_RESTORE",
};
#define NCAPS (sizeof(cap_names) / sizeof(cap_names[0]))

void put_cap_name(struct jbuf *b, unsigned cap)
{
	char tmp[32];
	if (cap < NCAPS) {
		jb_cstr(b, cap_names[cap]);
		return;
	}
	snprintf(tmp, sizeof(tmp), "CAP_%u", cap);
	jb_cstr(b, tmp);
}

void put_caps(struct jbuf *b, uint64_t set)
{
	jb_arr_begin(b);
	for (unsigned i = 0; i < 64; i++)
		if (set & (1ULL << i))
			put_cap_name(b, i);
	jb_arr_end(b);
}

/* "result" and, on failure, "error" ("EPERM"). */
static void put_result(struct jbuf *b, int64_t r)
{
	jb_ki64(b, "result", r);
	if (r < 0 && r > -4096) {
		const char *n = strerrorname_np((int)-r);
		jb_kcstr(b, "error", n ? n : "unknown");
	}
}

static const struct {
	uint64_t flag;
	const char *name;
} ns_types[] = {
	{0x00020000, "mnt"}, {0x04000000, "uts"}, {0x08000000, "ipc"},    {0x10000000, "user"},
	{0x20000000, "pid"}, {0x40000000, "net"}, {0x02000000, "cgroup"}, {0x00000080, "time"},
};

static void put_ns_types(struct jbuf *b, uint64_t flags)
{
	jb_arr_begin(b);
	for (size_t i = 0; i < sizeof(ns_types) / sizeof(ns_types[0]); i++)
		if (flags & ns_types[i].flag)
			jb_cstr(b, ns_types[i].name);
	jb_arr_end(b);
}

static bool str_ok(const struct hw_str *s, size_t len)
{
	return (size_t)s->off + s->len <= len;
}

static void put_rec_str(struct jbuf *b, const char *key, const void *rec, const struct hw_str *s)
{
	jb_key(b, key);
	if (s->len)
		jb_str(b, (const char *)rec + s->off, s->len);
	else
		jb_null(b);
}

/* A process that filters.ignore_exe matched: the kernel stops reporting it once the agent has
 * decoded its exec; records it made before that are dropped here. */
bool priv_ignored(struct agent *a, const struct hw_hdr *h)
{
	if (proc_ignored(a, h)) {
		a->filtered++;
		return true;
	}
	return false;
}

/* ---- process.cred_change ---- */

static void put_ids(struct jbuf *b, const struct hw_priv_creds *c)
{
	jb_obj_begin(b);
	jb_ku64(b, "uid", c->uid);
	jb_ku64(b, "euid", c->euid);
	jb_ku64(b, "suid", c->suid);
	jb_ku64(b, "fsuid", c->fsuid);
	jb_ku64(b, "gid", c->gid);
	jb_ku64(b, "egid", c->egid);
	jb_ku64(b, "sgid", c->sgid);
	jb_ku64(b, "fsgid", c->fsgid);
	jb_obj_end(b);
}

static void put_capsets(struct jbuf *b, const struct hw_priv_creds *c)
{
	jb_obj_begin(b);
	jb_key(b, "effective");
	put_caps(b, c->cap_eff);
	jb_key(b, "permitted");
	put_caps(b, c->cap_prm);
	jb_key(b, "inheritable");
	put_caps(b, c->cap_inh);
	jb_obj_end(b);
}

int decode_priv_cred(struct agent *a, const void *rec, size_t len)
{
	const struct hw_cred *e = rec;
	struct jbuf *b = &a->jb;
	bool caps_changed = e->old.cap_eff != e->new.cap_eff || e->old.cap_prm != e->new.cap_prm ||
			    e->old.cap_inh != e->new.cap_inh;

	if (priv_ignored(a, &e->hdr))
		return 0;
	struct proc *p = proctab_get(&a->pt, e->hdr.pid);
	if (p) { /* for exec.old_euid and old_egid */
		p->euid = e->new.euid;
		p->egid = e->new.egid;
		p->euid_known = true;
	}
	emit_event(a, "process.cred_change", &e->hdr, "cred");
	jb_kcstr(b, "syscall", sc_name(e->s.sc));
	put_result(b, e->s.result);
	/* the arguments as the caller gave them (-1 = unchanged for set*id) */
	jb_key(b, "args");
	jb_arr_begin(b);
	int nargs = e->s.sc == HW_SC_SETRESUID || e->s.sc == HW_SC_SETRESGID ? 3
		    : e->s.sc == HW_SC_SETREUID || e->s.sc == HW_SC_SETREGID ||
				    e->s.sc == HW_SC_SETGROUPS || e->s.sc == HW_SC_CAPSET
			    ? 2
			    : 1;
	if (e->s.sc == HW_SC_SETGROUPS)
		jb_u64(b, (uint32_t)e->s.args[0]); /* the count; the list is "groups" */
	else if (e->s.sc != HW_SC_CAPSET)          /* capset passes pointers: the sets are "caps" */
		for (int i = 0; i < nargs; i++)
			jb_i64(b, (int32_t)e->s.args[i]);
	jb_arr_end(b);
	jb_key(b, "old");
	put_ids(b, &e->old);
	jb_key(b, "new");
	put_ids(b, &e->new);
	/* groups: the count and the first HW_PRIV_NGROUPS of each side */
	bool groups_changed = e->old_ngroups != e->ngroups ||
			      memcmp(e->old_groups, e->groups, sizeof(e->groups)) != 0;
	jb_kbool(b, "changed", memcmp(&e->old, &e->new, sizeof(e->old)) != 0 || groups_changed);
	if (e->s.sc == HW_SC_SETFSUID || e->s.sc == HW_SC_SETFSGID) {
		/* these return the previous id and never fail: whether the change took effect is
		 * whether the id is now the one asked for */
		uint32_t want = (uint32_t)e->s.args[0];
		uint32_t now = e->s.sc == HW_SC_SETFSUID ? e->new.fsuid : e->new.fsgid;
		jb_ku64(b, "previous", (uint32_t)e->s.result);
		jb_kbool(b, "took_effect", now == want);
	}
	if (e->s.sc == HW_SC_SETGROUPS || groups_changed) {
		jb_ku64(b, "old_ngroups", e->old_ngroups);
		jb_key(b, "old_groups");
		jb_arr_begin(b);
		for (uint32_t i = 0; i < e->old_ngroups && i < HW_PRIV_NGROUPS; i++)
			jb_u64(b, e->old_groups[i]);
		jb_arr_end(b);
		jb_ku64(b, "ngroups", e->ngroups);
		jb_key(b, "groups");
		jb_arr_begin(b);
		for (uint32_t i = 0; i < e->ngroups && i < HW_PRIV_NGROUPS; i++)
			jb_u64(b, e->groups[i]);
		jb_arr_end(b);
	}
	if (caps_changed || e->s.sc == HW_SC_CAPSET) {
		jb_key(b, "caps");
		jb_obj_begin(b);
		jb_key(b, "old");
		put_capsets(b, &e->old);
		jb_key(b, "new");
		put_capsets(b, &e->new);
		jb_obj_end(b);
	}
	emit_event_end(a);
	return 0;
}

/* ---- process.ptrace ---- */

static const char *ptrace_req(int64_t r)
{
	switch (r) {
	case 0:
		return "PTRACE_TRACEME";
	case 4:
		return "PTRACE_POKETEXT";
	case 5:
		return "PTRACE_POKEDATA";
	case 6:
		return "PTRACE_POKEUSER";
	case 13:
		return "PTRACE_SETREGS";
	case 15:
		return "PTRACE_SETFPREGS";
	case 16:
		return "PTRACE_ATTACH";
	case 0x4205:
		return "PTRACE_SETREGSET";
	case 0x4206:
		return "PTRACE_SEIZE";
	default:
		return "unknown";
	}
}

int decode_priv_ptrace(struct agent *a, const void *rec, size_t len)
{
	const struct hw_ptrace *e = rec;
	struct jbuf *b = &a->jb;
	uint32_t target;

	if (priv_ignored(a, &e->hdr))
		return 0;
	emit_event(a, "process.ptrace", &e->hdr, "ptrace");
	jb_kcstr(b, "syscall", sc_name(e->s.sc));
	if (e->s.sc == HW_SC_PTRACE) {
		jb_kcstr(b, "request", ptrace_req((int64_t)e->s.args[0]));
		/* TRACEME names no pid: the tracer-to-be is the parent */
		target = e->s.args[0] == 0 ? e->hdr.ppid : (uint32_t)e->s.args[1];
		jb_ku64(b, "addr", e->s.args[2]);
	} else {
		jb_kcstr(b, "request", sc_name(e->s.sc));
		target = (uint32_t)e->s.args[0];
		jb_ku64(b, "local_iovcnt", e->s.args[2]);
		jb_ku64(b, "remote_iovcnt", e->s.args[4]);
	}
	jb_ku64(b, "target_pid", target);
	struct proc *p = proctab_get(&a->pt, target);
	jb_kcstr(b, "target_exe", p ? p->exe : NULL);
	if (e->target_comm[0])
		jb_kstr(b, "target_comm", e->target_comm, strnlen(e->target_comm, 16));
	put_result(b, e->s.result);
	emit_event_end(a);
	return 0;
}

/* ---- process.memfd ---- */

int decode_priv_memfd(struct agent *a, const void *rec, size_t len)
{
	const struct hw_memfd *e = rec;
	struct jbuf *b = &a->jb;
	static const struct {
		uint32_t f;
		const char *n;
	} fl[] = {{1, "MFD_CLOEXEC"},
		  {2, "MFD_ALLOW_SEALING"},
		  {4, "MFD_HUGETLB"},
		  {8, "MFD_NOEXEC_SEAL"},
		  {16, "MFD_EXEC"}};

	if (!str_ok(&e->name, len))
		return -EINVAL;
	if (priv_ignored(a, &e->hdr))
		return 0;
	emit_event(a, "process.memfd", &e->hdr, "memfd");
	jb_kstr(b, "name", (const char *)rec + e->name.off, e->name.len);
	jb_ku64(b, "flags", (uint32_t)e->s.args[1]);
	jb_key(b, "flag_names");
	jb_arr_begin(b);
	for (size_t i = 0; i < sizeof(fl) / sizeof(fl[0]); i++)
		if ((uint32_t)e->s.args[1] & fl[i].f)
			jb_cstr(b, fl[i].n);
	jb_arr_end(b);
	put_result(b, e->s.result);
	if (e->s.result >= 0)
		jb_ki64(b, "fd", e->s.result);
	emit_event_end(a);
	return 0;
}

/* ---- process.rename ---- */

int decode_priv_rename(struct agent *a, const void *rec, size_t len)
{
	const struct hw_rename *e = rec;
	struct jbuf *b = &a->jb;

	if (priv_ignored(a, &e->hdr))
		return 0;
	emit_event(a, "process.rename", &e->hdr, "rename");
	jb_kstr(b, "old", e->old_comm, strnlen(e->old_comm, 16));
	jb_kstr(b, "new", e->new_comm, strnlen(e->new_comm, 16));
	jb_kcstr(b, "via", e->sc == HW_SC_PRCTL ? "prctl" : "procfs");
	if (e->target_tid)
		jb_ku64(b, "tid", e->target_tid);
	emit_event_end(a);
	return 0;
}

/* ---- process.namespace ---- */

int decode_priv_ns(struct agent *a, const void *rec, size_t len)
{
	const struct hw_ns *e = rec;
	struct jbuf *b = &a->jb;
	uint64_t asked = 0;

	switch (e->s.sc) {
	case HW_SC_SETNS:
		asked = e->s.args[1];
		break;
	case HW_SC_UNSHARE:
	case HW_SC_CLONE:
		asked = e->s.args[0];
		break;
	case HW_SC_CLONE3:
		asked = e->s.args[5];
		break;
	default:
		asked = e->changed;
	}
	asked &= 0x7e020080ULL;
	if (priv_ignored(a, &e->hdr))
		return 0;
	emit_event(a, "process.namespace", &e->hdr, "ns");
	jb_kcstr(b, "syscall", sc_name(e->s.sc));
	/* types: what the call asked for (setns with nstype 0: what it changed) */
	jb_key(b, "types");
	put_ns_types(b, asked ? asked : e->changed);
	jb_key(b, "changed");
	put_ns_types(b, e->changed);
	if (e->s.sc == HW_SC_SETNS)
		jb_ki64(b, "fd", (int32_t)e->s.args[0]);
	else if (e->s.sc != HW_SC_FORK)
		jb_ku64(b, "flags", e->s.sc == HW_SC_CLONE3 ? e->s.args[5] : e->s.args[0]);
	if (e->child_pid)
		jb_ku64(b, "child_pid", e->child_pid);
	put_result(b, e->s.result);
	emit_event_end(a);
	return 0;
}

/* ---- kernel.module_load ---- */

int decode_priv_module(struct agent *a, const void *rec, size_t len)
{
	const struct hw_module *e = rec;
	struct jbuf *b = &a->jb;
	char path[HW_PATH_MAX + 32];

	if (!str_ok(&e->name, len) || !str_ok(&e->params, len))
		return -EINVAL;
	if (priv_ignored(a, &e->hdr))
		return 0;
	emit_event(a, "kernel.module_load", &e->hdr, "module");
	jb_kcstr(b, "syscall", sc_name(e->s.sc));
	jb_key(b, "path");
	if (e->s.sc == HW_SC_FINIT_MODULE && e->path.ncomp &&
	    path_build(rec, len, &e->path, path, sizeof(path)) >= 0)
		jb_cstr(b, path);
	else
		jb_null(b);
	put_rec_str(b, "name", rec, &e->name);
	put_rec_str(b, "params", rec, &e->params);
	if (e->s.sc == HW_SC_FINIT_MODULE) {
		jb_ki64(b, "fd", (int32_t)e->s.args[0]);
		jb_ku64(b, "flags", e->s.args[2]);
	} else if (e->s.sc == HW_SC_INIT_MODULE) {
		jb_ku64(b, "image_bytes", e->s.args[1]);
	} else if (e->s.sc == HW_SC_DELETE_MODULE) {
		jb_ku64(b, "flags", e->s.args[1]);
	}
	put_result(b, e->s.result);
	emit_event_end(a);
	return 0;
}

/* ---- kernel.bpf ---- */

static const char *bpf_cmd_name(uint64_t c)
{
	switch (c) {
	case 5:
		return "BPF_PROG_LOAD";
	case 8:
		return "BPF_PROG_ATTACH";
	case 9:
		return "BPF_PROG_DETACH";
	case 13:
		return "BPF_PROG_GET_FD_BY_ID";
	case 14:
		return "BPF_MAP_GET_FD_BY_ID";
	case 17:
		return "BPF_RAW_TRACEPOINT_OPEN";
	case 28:
		return "BPF_LINK_CREATE";
	case 29:
		return "BPF_LINK_UPDATE";
	case 30:
		return "BPF_LINK_GET_FD_BY_ID";
	case 34:
		return "BPF_LINK_DETACH";
	default:
		return "unknown";
	}
}

static void put_upper(struct jbuf *b, const char *key, const char *prefix, const char *s)
{
	char tmp[96];
	size_t o = snprintf(tmp, sizeof(tmp), "%s", prefix);
	for (; s && *s && o + 1 < sizeof(tmp); s++)
		tmp[o++] = toupper((unsigned char)*s);
	tmp[o] = 0;
	jb_kcstr(b, key, s || o > strlen(prefix) ? tmp : NULL);
}

int decode_priv_bpf(struct agent *a, const void *rec, size_t len)
{
	const struct hw_bpfcall *e = rec;
	struct jbuf *b = &a->jb;
	uint64_t cmd = e->s.args[0];
	bool load = cmd == 5, has_prog = load || (e->s.flags & HW_PSC_BPF_PROG);
	bool attach = cmd == 8 || cmd == 9 || cmd == 28; /* PROG_ATTACH, PROG_DETACH, LINK_CREATE */

	if (!str_ok(&e->tp_name, len))
		return -EINVAL;
	if (priv_ignored(a, &e->hdr))
		return 0;
	emit_event(a, "kernel.bpf", &e->hdr, "bpf");
	jb_kcstr(b, "syscall", "bpf");
	jb_kcstr(b, "cmd", bpf_cmd_name(cmd));
	/* the program: from the attr of a load, else from the program the call's fd names */
	if (has_prog) {
		const char *t = libbpf_bpf_prog_type_str(e->prog_type);
		if (t)
			put_upper(b, "prog_type", "BPF_PROG_TYPE_", t);
		else
			jb_ku64(b, "prog_type", e->prog_type);
		jb_kstr(b, "prog_name", e->prog_name, strnlen(e->prog_name, 16));
	} else {
		jb_kcstr(b, "prog_type", NULL);
		jb_kcstr(b, "prog_name", NULL);
	}
	if (load)
		jb_ku64(b, "insn_cnt", e->insn_cnt);
	else if (cmd == 17)
		put_rec_str(b, "tracepoint", rec, &e->tp_name);
	else
		jb_ku64(b, "target", e->target);
	const char *at = libbpf_bpf_attach_type_str(e->attach_type);
	if (at && (attach || (load && e->attach_type != 0)))
		jb_kcstr(b, "attach_type", at);
	put_result(b, e->s.result);
	emit_event_end(a);
	return 0;
}

int decode_priv_perf(struct agent *a, const void *rec, size_t len)
{
	const struct hw_perf *e = rec;
	struct jbuf *b = &a->jb;

	if (!str_ok(&e->func, len))
		return -EINVAL;
	if (priv_ignored(a, &e->hdr))
		return 0;
	emit_event(a, "kernel.bpf", &e->hdr, "bpf");
	jb_kcstr(b, "syscall", "perf_event_open");
	jb_kcstr(b, "cmd", "PERF_EVENT_OPEN");
	jb_kcstr(b, "prog_type", NULL);
	jb_kcstr(b, "prog_name", NULL);
	jb_kcstr(b, "probe", e->probe == 1 ? "kprobe" : "uprobe");
	jb_kbool(b, "retprobe", e->config & 1);
	put_rec_str(b, e->probe == 1 ? "function" : "path", rec, &e->func);
	jb_ku64(b, "offset", e->offset);
	jb_ki64(b, "target_pid", (int32_t)e->s.args[1]);
	put_result(b, e->s.result);
	emit_event_end(a);
	return 0;
}

/* ---- system.mount ---- */

int decode_priv_mount(struct agent *a, const void *rec, size_t len)
{
	const struct hw_mount *e = rec;
	struct jbuf *b = &a->jb;
	uint64_t flags = 0;

	if (!str_ok(&e->source, len) || !str_ok(&e->target, len) || !str_ok(&e->fstype, len))
		return -EINVAL;
	switch (e->s.sc) {
	case HW_SC_MOUNT:
		flags = e->s.args[3];
		break;
	case HW_SC_UMOUNT:
	case HW_SC_FSMOUNT:
		flags = e->s.args[1];
		break;
	case HW_SC_MOVE_MOUNT:
		flags = e->s.args[4];
		break;
	}
	if (priv_ignored(a, &e->hdr))
		return 0;
	emit_event(a, "system.mount", &e->hdr, "mount");
	jb_kcstr(b, "syscall", sc_name(e->s.sc));
	put_rec_str(b, "source", rec, &e->source);
	put_rec_str(b, "target", rec, &e->target);
	put_rec_str(b, "fstype", rec, &e->fstype);
	jb_ku64(b, "flags", flags);
	if (e->s.sc == HW_SC_MOUNT) {
		jb_kbool(b, "bind", flags & 4096 /* MS_BIND */);
		jb_kbool(b, "remount", flags & 32 /* MS_REMOUNT */);
	}
	if (e->s.sc == HW_SC_FSMOUNT)
		jb_ki64(b, "fs_fd", (int32_t)e->s.args[0]);
	put_result(b, e->s.result);
	emit_event_end(a);
	return 0;
}

/* ---- agent.tamper ---- */

int decode_priv_tamper(struct agent *a, const void *rec, size_t len)
{
	const struct hw_tamper *e = rec;
	struct jbuf *b = &a->jb;
	static const char *const sig_results[] = {"delivered", "ignored", "already_pending",
						  "overflow_fail", "lose_info"};

	/* no filter applies: an ignored process tampering with the agent is still reported */
	emit_event(a, "agent.tamper", &e->hdr, "tamper");
	jb_ku64(b, "target_pid", e->target_pid);
	if (e->action == HW_TAMPER_SIGNAL) {
		char sn[32];
		const char *ab = sigabbrev_np((int)e->sig);
		snprintf(sn, sizeof(sn), "SIG%s", ab ? ab : "?");
		jb_kcstr(b, "action", "signal");
		jb_kcstr(b, "signal", ab ? sn : NULL);
		jb_ku64(b, "signo", e->sig);
		jb_kcstr(b, "result",
			 e->result >= 0 && e->result < 5 ? sig_results[e->result] : "unknown");
	} else if (e->action == HW_TAMPER_PTRACE || e->action == HW_TAMPER_VM) {
		jb_kcstr(b, "action", e->action == HW_TAMPER_PTRACE ? "ptrace" : "process_vm");
		jb_kcstr(b, "syscall", e->action == HW_TAMPER_PTRACE ? "ptrace" : sc_name(e->cmd));
		jb_kcstr(b, "request",
			 e->action == HW_TAMPER_PTRACE ? ptrace_req(e->cmd) : sc_name(e->cmd));
		put_result(b, e->result);
	} else {
		jb_kcstr(b, "action",
			 e->action == HW_TAMPER_BPF_GET_FD ? "bpf_get_fd" : "bpf_detach");
		jb_kcstr(b, "cmd", bpf_cmd_name(e->cmd));
		jb_kcstr(b, "object", e->cmd == 13 ? "prog" : e->cmd == 14 ? "map" : "link");
		jb_ku64(b, "id", e->id);
	}
	emit_event_end(a);
	return 0;
}
