/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * hw_abi.h - the event ABI shared by the BPF programs (bpf/) and the agent (agent/).
 *
 * Every record in the ring buffer starts with struct hw_hdr. Records are variable-sized:
 * hdr.size counts the whole record. Strings inside a record are stored in a trailing
 * "blob" area and referenced by (offset, length) pairs relative to the start of the record,
 * so a decoder never trusts a NUL and checks every offset against hdr.size.
 *
 * Rules: fixed-width types only, explicit padding, sizes pinned by _Static_assert,
 * enum values are never renumbered (new kinds take new numbers).
 */
#ifndef HW_ABI_H
#define HW_ABI_H

#ifdef __BPF__
/* vmlinux.h supplies __u8 .. __u64 */
#else
#include <linux/types.h>
#endif

#define HW_ABI_VERSION 1

/* Record types: one row each in common/events.def (number, kind, decoder). */
enum hw_event_type {
#define HW_EVENT(type, nr, kind, fn, minsz) type = nr,
#include "common/events.def"
#undef HW_EVENT
	HW_EV_MAX = 256, /* size of per-type counter arrays */
};

/* hdr.flags */
#define HW_F_TRUNC_ARGS (1u << 0) /* argv longer than the configured bound */
#define HW_F_TRUNC_PATH (1u << 1) /* a path had more components than the walk allows */
#define HW_F_READ_FAIL (1u << 2)  /* a kernel/user read failed; some fields may be empty */

/* Common process context, filled in kernel for every event. */
struct hw_hdr {
	__u16 type;  /* enum hw_event_type */
	__u16 flags; /* HW_F_* */
	__u32 size;  /* bytes in the whole record, header included */
	__u64 ts;    /* CLOCK_BOOTTIME ns */
	__u64 start_ns; /* task group leader start time, CLOCK_BOOTTIME ns (start_boottime: process key) */
	__u64 cgroup_id; /* cgroup v2 id of the task */
	__u32 pid;       /* tgid */
	__u32 tid;       /* thread id */
	__u32 ppid;      /* tgid of real parent */
	__u32 uid, gid, euid, egid;
	__u32 auid; /* login uid, 0xffffffff = unset */
	char comm[16];
};
_Static_assert(sizeof(struct hw_hdr) == 80, "hw_hdr layout");

/* A string in the blob area: offset from the record start, length without NUL. */
struct hw_str {
	__u16 off;
	__u16 len;
};

/*
 * Paths are produced by walking dentries from the leaf to the root, so the kernel writes
 * components leaf-first, each NUL-terminated; the decoder reverses them. ncomp is the
 * number of components written; HW_F_TRUNC_PATH is set if the walk stopped early.
 */
struct hw_path {
	__u16 off;
	__u16 len; /* bytes of all components incl. their NULs */
	__u16 ncomp;
	__u16 flags; /* HW_PATH_* */
};
#define HW_PATH_TRUNC (1u << 0)
#define HW_PATH_DELETED (1u << 1) /* leaf dentry unlinked (or never linked: memfd) */

struct hw_exec {
	struct hw_hdr hdr;
	struct hw_path exe;
	struct hw_path cwd;
	struct hw_str args;     /* NUL-separated argv block, as in /proc/pid/cmdline */
	struct hw_str filename; /* the path passed to execve (bprm->filename) */
	struct hw_str tty;
	__u32 args_total; /* bytes of the whole argv block (may exceed what was copied) */
	__u32 old_pid;    /* pid before exec (a non-leader thread that exec'd) */
	__u32 suid, sgid;
	__u32 exe_nlink;
	__u8 secureexec;  /* kernel set AT_SECURE: setuid/setgid/file caps */
	__u8 old_known;   /* old_euid/old_egid/caps_gained below are known */
	__u8 caps_gained; /* not root, and permitted capabilities beyond the ambient set */
	__u8 pad;
	__u32 old_euid; /* euid before the exec (sched_prepare_exec; unchanged if none saved) */
	__u64 exe_ino;
	__u32 exe_dev;
	__u32 old_egid; /* egid before the exec */
	/* the executed file's size and change times (with exe_dev, exe_ino: the key of the
	 * agent's cache of file hashes, exec.sha256) */
	__u64 exe_size;
	__s64 exe_mtime_ns;
	__s64 exe_ctime_ns;
	/* blob follows */
};
_Static_assert(sizeof(struct hw_exec) == 176, "hw_exec layout");

struct hw_exit {
	struct hw_hdr hdr;
	__u32 exit_code; /* raw wait status: (code << 8) | signal, 0x80 = core */
	__u32 pad;
};
_Static_assert(sizeof(struct hw_exit) == 88, "hw_exit layout");

struct hw_fork {
	struct hw_hdr hdr; /* the parent's context */
	__u32 child_pid;
	__u32 child_tid;
	__u64 child_start_ns;
};
_Static_assert(sizeof(struct hw_fork) == 96, "hw_fork layout");

/* An execve/execveat that failed (ENOENT, EACCES, ENOEXEC...): reported as process.exec with
 * exec.result < 0; the process context is the caller, unchanged. */
struct hw_exec_fail {
	struct hw_hdr hdr;
	struct hw_str filename; /* as passed by the caller (user memory, read at syscall exit) */
	__s32 result;           /* -errno */
				/* blob follows */
};
_Static_assert(sizeof(struct hw_exec_fail) == 88, "hw_exec_fail layout");

/* Bounds. The scratch buffer holds one record; variable parts are clamped to fit. */
#define HW_MAX_RECORD 16384
#define HW_ARGS_MAX 8192 /* hard ceiling for the argv block; config may lower it */
#define HW_PATH_MAX 4096 /* all components of one path */
#define HW_PATH_DEPTH 48 /* components walked per path */
#define HW_NAME_MAX 256

/* Runtime-changeable settings, one element of the hw_cfg array map. */
struct hw_cfg {
	__u32 agent_pid;       /* events caused by the agent itself are not reported */
	__u32 args_max;        /* bytes of argv copied, <= HW_ARGS_MAX */
	__u32 wake_bytes;      /* force a consumer wake-up when this much data is pending */
	__u32 n_ignore_cgroup; /* entries in hw_ignore_cg; 0 skips the ancestor walk */
	__u32 exec_enoent;     /* report execs failing with ENOENT/ENOTDIR (PATH searches) */
	__u32 ignore_pids; /* filters.ignore_exe is set: hw_ignore_pid may hold processes; 0 skips
	                        * its lookups (one hash lookup per event, and per connect and accept) */
};

/* Drop causes counted per (type, cause) in the per-CPU hw_drops map. */
enum hw_drop_cause {
	HW_DROP_RINGBUF = 0,  /* ring buffer full */
	HW_DROP_SCRATCH = 1,  /* could not get the per-CPU scratch record */
	HW_DROP_NO_OWNER = 2, /* net.accept (socket hooks): the listener's owner is not known */
	HW_DROP_NCAUSE = 3,
};

#include "common/abi_priv.h"
#include "common/abi_net.h"
#include "common/abi_user.h"
#include "common/abi_custom.h"
#include "common/abi_quar.h"
#include "common/abi_tty.h"

#endif /* HW_ABI_H */
