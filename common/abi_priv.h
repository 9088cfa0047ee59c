/* abi_priv.h - record layouts of the priv probe family (included by hw_abi.h): credential
 * changes, capability use, ptrace and cross-process memory access, memfd, W+X memory, comm
 * renames, namespaces, kernel modules, bpf()/perf_event_open, mounts and agent tamper.
 *
 * Layout rules as in hw_abi.h: fixed-width types, explicit padding, sizes pinned. Strings
 * follow the fixed part as a blob, referenced by hw_str/hw_path.
 */
#ifndef HW_ABI_PRIV_H
#define HW_ABI_PRIV_H

/* Record types 10-29 (never renumbered): common/events.def. */

/* Syscalls of this family, numbered independently of the architecture. */
enum hw_priv_sc {
	HW_SC_NONE = 0,
	HW_SC_SETUID = 1,
	HW_SC_SETGID = 2,
	HW_SC_SETREUID = 3,
	HW_SC_SETREGID = 4,
	HW_SC_SETRESUID = 5,
	HW_SC_SETRESGID = 6,
	HW_SC_SETFSUID = 7,
	HW_SC_SETFSGID = 8,
	HW_SC_SETGROUPS = 9,
	HW_SC_CAPSET = 10,
	HW_SC_PTRACE = 11,
	HW_SC_VM_READV = 12,
	HW_SC_VM_WRITEV = 13,
	HW_SC_MEMFD_CREATE = 14,
	HW_SC_MMAP = 15,
	HW_SC_MPROTECT = 16,
	HW_SC_PKEY_MPROTECT = 17,
	HW_SC_PRCTL = 18,
	HW_SC_SETNS = 19,
	HW_SC_UNSHARE = 20,
	HW_SC_CLONE = 21,
	HW_SC_CLONE3 = 22,
	HW_SC_INIT_MODULE = 23,
	HW_SC_FINIT_MODULE = 24,
	HW_SC_DELETE_MODULE = 25,
	HW_SC_BPF = 26,
	HW_SC_PERF_EVENT_OPEN = 27,
	HW_SC_MOUNT = 28,
	HW_SC_UMOUNT = 29,
	HW_SC_PIVOT_ROOT = 30,
	HW_SC_CHROOT = 31,
	HW_SC_MOVE_MOUNT = 32,
	HW_SC_FSMOUNT = 33,
	HW_SC_FORK = 34,          /* a fork/vfork (no clone flags) that still created namespaces */
	HW_SC_WRITE = 35,         /* a write to /proc/<pid>/comm */
	HW_SC_MODULE_LOADED = 36, /* module:module_load tracepoint (no syscall) */
	HW_SC_KILL = 37,          /* any signal-sending path (signal_generate) */
	HW_SC_MAX = 64,
};

/* Credentials of a task, all of them (old and new sides of a change). */
struct hw_priv_creds {
	__u32 uid, euid, suid, fsuid;
	__u32 gid, egid, sgid, fsgid;
	__u64 cap_eff, cap_prm, cap_inh;
};
_Static_assert(sizeof(struct hw_priv_creds) == 56, "hw_priv_creds layout");

/* Common part of syscall records: which syscall, its raw arguments and its result. */
struct hw_priv_call {
	__u16 sc;    /* enum hw_priv_sc */
	__u16 flags; /* HW_PSC_* */
	__u32 pad;
	__s64 result; /* return value (negative errno on failure) */
	__u64 args[6];
};
_Static_assert(sizeof(struct hw_priv_call) == 64, "hw_priv_sc layout");
#define HW_PSC_NO_RESULT (1u << 0) /* enter-only hook: result unknown */

#define HW_PRIV_NGROUPS 32
struct hw_cred {
	struct hw_hdr hdr;
	struct hw_priv_call s;
	struct hw_priv_creds old, new;
	__u32 old_ngroups;                 /* supplementary groups before the call */
	__u32 ngroups;                     /* supplementary groups after the call */
	__u32 old_groups[HW_PRIV_NGROUPS]; /* the first of them, before */
	__u32 groups[HW_PRIV_NGROUPS];     /* the first of them, after */
};
_Static_assert(sizeof(struct hw_cred) == 520, "hw_cred layout");

/* Counted kinds (HW_EV_CAP, HW_EV_WX): the first occurrence is a record; later ones are only
 * counted in the hwv_counts map and summarised by the agent once per window. */
struct hw_priv_count_key {
	__u32 tgid;
	__u16 type;     /* HW_EV_CAP or HW_EV_WX */
	__u16 idx;      /* capability number, or enum hw_priv_sc for W+X */
	__u64 start_ns; /* the process's start time: a reused pid is another process */
};
_Static_assert(sizeof(struct hw_priv_count_key) == 16, "hw_priv_count_key layout");

struct hw_priv_count_val {
	struct hw_hdr hdr; /* process context at the first occurrence */
	__u64 count;       /* checks (capability) or W+X calls, cumulative */
	__u64 denied;      /* capability checks that were refused, cumulative */
	__u32 prot;        /* W+X: last prot seen */
	__u32 emitted;     /* the first occurrence was sent as a record */
};
_Static_assert(sizeof(struct hw_priv_count_val) == 104, "hw_priv_count_val layout");

struct hw_count_first {
	struct hw_hdr hdr;
	__u16 idx;    /* capability number or enum hw_priv_sc */
	__u16 flags;  /* HW_WX_* */
	__s32 ret;    /* capability: 0 allowed, -EPERM denied */
	__u32 prot;   /* W+X: requested prot */
	__u32 mflags; /* W+X: mmap flags */
	__u64 addr, len;
};
_Static_assert(sizeof(struct hw_count_first) == 112, "hw_count_first layout");
#define HW_WX_WAS_WRITABLE (1u << 0) /* mprotect to X of memory that was writable */
#define HW_WX_ANON (1u << 1)         /* anonymous mapping */

struct hw_ptrace {
	struct hw_hdr hdr;
	struct hw_priv_call s; /* ptrace: args = request, pid, addr, data;
				process_vm_*: args = pid, lvec, liovcnt, rvec, riovcnt, flags */
	char target_comm[16];
};
_Static_assert(sizeof(struct hw_ptrace) == 160, "hw_ptrace layout");

struct hw_memfd {
	struct hw_hdr hdr;
	struct hw_priv_call s; /* args = name pointer, flags */
	struct hw_str name;
	__u32 pad;
	/* blob */
};
_Static_assert(sizeof(struct hw_memfd) == 152, "hw_memfd layout");

struct hw_rename {
	struct hw_hdr hdr; /* the process that changed the name (after the change) */
	__u16 sc;          /* HW_SC_PRCTL, HW_SC_WRITE, or HW_SC_NONE */
	__u16 pad;
	__u32 target_tid; /* the thread renamed */
	char old_comm[16];
	char new_comm[16];
};
_Static_assert(sizeof(struct hw_rename) == 120, "hw_rename layout");

/* Namespace types, as CLONE_NEW* flags. */
struct hw_ns {
	struct hw_hdr hdr;
	struct hw_priv_call s; /* setns: fd, nstype; unshare: flags; clone: flags; clone3: flags */
	__u64 changed;         /* CLONE_NEW* of the namespaces that differ after the call */
	__u32 child_pid;       /* clone: the new process */
	__u32 pad;
};
_Static_assert(sizeof(struct hw_ns) == 160, "hw_ns layout");

struct hw_module {
	struct hw_hdr hdr;
	struct hw_priv_call s; /* init_module: umod, len, uargs; finit_module: fd, uargs, flags;
				delete_module: name, flags */
	struct hw_path path;   /* finit_module: the file behind fd */
	struct hw_str name;    /* delete_module / module_load: module name */
	struct hw_str params;
	/* blob */
};
_Static_assert(sizeof(struct hw_module) == 160, "hw_module layout");

struct hw_bpfcall {
	struct hw_hdr hdr;
	struct hw_priv_call s; /* bpf: cmd, attr, size; s.flags: HW_PSC_BPF_PROG */
	__u32 prog_type;       /* PROG_LOAD: from the attr; others: of the program the fd names */
	__u32 attach_type; /* PROG_LOAD expected_attach_type, LINK_CREATE/PROG_ATTACH/DETACH type */
	__u32 insn_cnt;
	__u32 target; /* LINK_CREATE/PROG_ATTACH/DETACH: target fd; LINK_UPDATE/DETACH: link fd */
	char prog_name[16];
	struct hw_str tp_name; /* RAW_TRACEPOINT_OPEN: the tracepoint name (blob) */
	__u32 pad;
	/* blob */
};
_Static_assert(sizeof(struct hw_bpfcall) == 184, "hw_bpfcall layout");
/* s.flags of hw_bpfcall: prog_type and prog_name were read from the program itself (the
 * prog fd of an attach, or the program of a link) */
#define HW_PSC_BPF_PROG (1u << 1)

struct hw_perf {
	struct hw_hdr hdr;
	struct hw_priv_call s; /* perf_event_open: attr, pid, cpu, group_fd, flags */
	__u32 ptype;           /* perf_event_attr.type */
	__u32 probe;           /* 1 kprobe, 2 uprobe */
	__u64 config;
	__u64 offset;       /* kprobe_addr / probe_offset */
	struct hw_str func; /* kprobe function or uprobe path */
	__u32 pad;
	/* blob */
};
_Static_assert(sizeof(struct hw_perf) == 176, "hw_perf layout");

struct hw_mount {
	struct hw_hdr hdr;
	struct hw_priv_call s; /* mount: source, target, fstype, flags, data; umount: target,
				flags; pivot_root: new, old; chroot: path; move_mount: from_dfd,
				from_path, to_dfd, to_path, flags; fsmount: fs_fd, flags, attrs */
	struct hw_str source;
	struct hw_str target;
	struct hw_str fstype;
	__u32 pad;
	/* blob */
};
_Static_assert(sizeof(struct hw_mount) == 160, "hw_mount layout");

#define HW_TAMPER_SIGNAL 1     /* a signal was sent to the agent */
#define HW_TAMPER_BPF_GET_FD 2 /* a handle on one of the agent's programs, links or maps */
#define HW_TAMPER_BPF_DETACH 3 /* detach/update of one of the agent's links */
#define HW_TAMPER_PTRACE 4     /* ptrace (attach, seize, poke, set*) aimed at the agent */
#define HW_TAMPER_VM 5         /* process_vm_readv/writev on the agent */
struct hw_tamper {
	struct hw_hdr hdr; /* the process that did it */
	__u16 action;      /* HW_TAMPER_* */
	__u16 pad;
	__s32 result; /* signal: TRACE_SIGNAL_* result of signal_generate; ptrace, vm: the
			      syscall's return value */
	__u32 sig;
	__u32 target_pid; /* the agent's pid */
	__u32 cmd;        /* bpf: command; ptrace: request; vm: enum hw_priv_sc */
	__u32 id;         /* program, link or map id */
};
_Static_assert(sizeof(struct hw_tamper) == 104, "hw_tamper layout");

/* Settings of this family written by the agent (one element of hwv_cfg). */
struct hw_priv_cfg {
	__u32 kprobe_type; /* perf type of the kprobe PMU (0: none) */
	__u32 uprobe_type; /* perf type of the uprobe PMU (0: none) */
	__u32 cap_fast;    /* 1: the agent can flush hwv_cap_pc (process.capability's fast path) */
	__u32 pad;
};

/* Causes for the priv family's own loss counter (hwv_loss per-CPU array). */
#define HW_PRIV_LOSS_COUNT_FULL 0  /* a new (process, capability) could not be counted */
#define HW_PRIV_LOSS_INFLIGHT 1    /* syscall entry state could not be saved: no result */
#define HW_PRIV_LOSS_FAST_ORPHAN 2 /* a process's pending capability checks found no entry */
/* CAP_SYS_ADMIN memory-accounting checks (hwv_memacct, one per CPU) */
struct hw_priv_memacct {
	__u64 checks, denied;
};

#define HW_PRIV_NLOSS 3

#endif
