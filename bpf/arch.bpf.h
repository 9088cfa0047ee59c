/* SPDX-License-Identifier: GPL-2.0 */
/*
 * arch.bpf.h - what differs between the architectures the BPF programs are built for (x86-64
 * and arm64), named once: syscall numbers, where only a number identifies a syscall (a raw
 * tracepoint's registers, the classic exit tracepoint shared by several syscalls); the
 * kernel function behind a syscall (fentry/fexit targets); and access to a task's saved user
 * registers (the syscall number and arguments).
 *
 * HW_REG_*  load through a trusted BTF pointer (bpf_task_pt_regs, a tp_btf or fentry
 *           argument): plain loads, no helper call.
 * HW_CREG_* the same through BPF_CORE_READ, for pointers the verifier does not trust.
 * arm64 has none of the legacy path syscalls (open, creat, unlink, rmdir, rename, chmod,
 * chown, lchown, link, symlink): their numbers are distinct negative values that no syscall
 * has, so that a switch over numbers still compiles and those arms never match, and
 * HW_HAS_LEGACY_SYSCALLS is 0 (no fentry program is generated for them).
 */
#ifndef HW_ARCH_BPF_H
#define HW_ARCH_BPF_H

#if defined(__TARGET_ARCH_x86)
#define HW_HAS_LEGACY_SYSCALLS 1
#define HW_NR_READ 0
#define HW_NR_WRITE 1
#define HW_NR_OPEN 2
#define HW_NR_READV 19
#define HW_NR_WRITEV 20
#define HW_NR_CONNECT 42
#define HW_NR_LISTEN 50
#define HW_NR_SENDTO 44
#define HW_NR_RECVFROM 45
#define HW_NR_SENDMSG 46
#define HW_NR_RECVMSG 47
#define HW_NR_CLONE 56
#define HW_NR_EXECVE 59
#define HW_NR_TRUNCATE 76
#define HW_NR_FTRUNCATE 77
#define HW_NR_RENAME 82
#define HW_NR_RMDIR 84
#define HW_NR_CREAT 85
#define HW_NR_LINK 86
#define HW_NR_UNLINK 87
#define HW_NR_SYMLINK 88
#define HW_NR_CHMOD 90
#define HW_NR_FCHMOD 91
#define HW_NR_CHOWN 92
#define HW_NR_FCHOWN 93
#define HW_NR_LCHOWN 94
#define HW_NR_PRCTL 157
#define HW_NR_INIT_MODULE 175
#define HW_NR_SETXATTR 188
#define HW_NR_LSETXATTR 189
#define HW_NR_FSETXATTR 190
#define HW_NR_DELETE_MODULE 176
#define HW_NR_OPENAT 257
#define HW_NR_FCHOWNAT 260
#define HW_NR_UNLINKAT 263
#define HW_NR_RENAMEAT 264
#define HW_NR_LINKAT 265
#define HW_NR_SYMLINKAT 266
#define HW_NR_FCHMODAT 268
#define HW_NR_RECVMMSG 299
#define HW_NR_SENDMMSG 307
#define HW_NR_FINIT_MODULE 313
#define HW_NR_RENAMEAT2 316
#define HW_NR_EXECVEAT 322
#define HW_NR_IO_URING_ENTER 426
#define HW_NR_CLONE3 435
#define HW_NR_OPENAT2 437
#define HW_NR_FCHMODAT2 452

#define HW_SYSFN(name) "__x64_sys_" #name
#define HW_REG_NR(r) ((r)->orig_ax)
#define HW_REG_ARG0(r) ((r)->di)
#define HW_REG_ARG1(r) ((r)->si)
#define HW_REG_ARG2(r) ((r)->dx)
#define HW_REG_ARG3(r) ((r)->r10)
#define HW_REG_ARG4(r) ((r)->r8)
#define HW_REG_ARG5(r) ((r)->r9)
#define HW_CREG_NR(r) BPF_CORE_READ((r), orig_ax)
#define HW_CREG_ARG0(r) BPF_CORE_READ((r), di)
#define HW_CREG_ARG1(r) BPF_CORE_READ((r), si)
#define HW_CREG_ARG2(r) BPF_CORE_READ((r), dx)

#elif defined(__TARGET_ARCH_arm64)
#define HW_HAS_LEGACY_SYSCALLS 0
#define HW_NR_OPEN (-2)
#define HW_NR_RENAME (-3)
#define HW_NR_RMDIR (-4)
#define HW_NR_CREAT (-5)
#define HW_NR_LINK (-6)
#define HW_NR_UNLINK (-7)
#define HW_NR_SYMLINK (-8)
#define HW_NR_CHMOD (-9)
#define HW_NR_CHOWN (-10)
#define HW_NR_LCHOWN (-11)
#define HW_NR_SETXATTR 5
#define HW_NR_LSETXATTR 6
#define HW_NR_FSETXATTR 7
#define HW_NR_FCHOWNAT 54
#define HW_NR_FCHOWN 55
#define HW_NR_OPENAT 56
#define HW_NR_FCHMOD 52
#define HW_NR_FCHMODAT 53
#define HW_NR_TRUNCATE 45
#define HW_NR_FTRUNCATE 46
#define HW_NR_UNLINKAT 35
#define HW_NR_SYMLINKAT 36
#define HW_NR_LINKAT 37
#define HW_NR_RENAMEAT 38
#define HW_NR_READ 63
#define HW_NR_WRITE 64
#define HW_NR_READV 65
#define HW_NR_WRITEV 66
#define HW_NR_INIT_MODULE 105
#define HW_NR_DELETE_MODULE 106
#define HW_NR_PRCTL 167
#define HW_NR_CONNECT 203
#define HW_NR_LISTEN 201
#define HW_NR_SENDTO 206
#define HW_NR_RECVFROM 207
#define HW_NR_SENDMSG 211
#define HW_NR_RECVMSG 212
#define HW_NR_CLONE 220
#define HW_NR_EXECVE 221
#define HW_NR_RECVMMSG 243
#define HW_NR_SENDMMSG 269
#define HW_NR_FINIT_MODULE 273
#define HW_NR_RENAMEAT2 276
#define HW_NR_EXECVEAT 281
#define HW_NR_IO_URING_ENTER 426
#define HW_NR_CLONE3 435
#define HW_NR_OPENAT2 437
#define HW_NR_FCHMODAT2 452

#define HW_SYSFN(name) "__arm64_sys_" #name
/* arm64's pt_regs as the CO-RE relocations see it (vmlinux.h may come from an x86 kernel) */
struct pt_regs___hwarm64 {
	__u64 regs[31];
	__u64 orig_x0;
	__s32 syscallno;
} __attribute__((preserve_access_index));
#define HW_A64(r) ((struct pt_regs___hwarm64 *)(r))
#define HW_REG_NR(r) (HW_A64(r)->syscallno)
#define HW_REG_ARG0(r) (HW_A64(r)->orig_x0) /* regs[0] is the return value after the call */
#define HW_REG_ARG1(r) (HW_A64(r)->regs[1])
#define HW_REG_ARG2(r) (HW_A64(r)->regs[2])
#define HW_REG_ARG3(r) (HW_A64(r)->regs[3])
#define HW_REG_ARG4(r) (HW_A64(r)->regs[4])
#define HW_REG_ARG5(r) (HW_A64(r)->regs[5])
#define HW_CREG_NR(r) BPF_CORE_READ(HW_A64(r), syscallno)
#define HW_CREG_ARG0(r) BPF_CORE_READ(HW_A64(r), orig_x0)
#define HW_CREG_ARG1(r) BPF_CORE_READ(HW_A64(r), regs[1])
#define HW_CREG_ARG2(r) BPF_CORE_READ(HW_A64(r), regs[2])
#else
#error "arch.bpf.h: this architecture's syscall numbers and registers are missing"
#endif

/* The six syscall arguments from the saved user registers (a trusted pointer). */
#define HW_SYSARGS(r, a)                                                                           \
	do {                                                                                       \
		(a)[0] = HW_REG_ARG0(r);                                                           \
		(a)[1] = HW_REG_ARG1(r);                                                           \
		(a)[2] = HW_REG_ARG2(r);                                                           \
		(a)[3] = HW_REG_ARG3(r);                                                           \
		(a)[4] = HW_REG_ARG4(r);                                                           \
		(a)[5] = HW_REG_ARG5(r);                                                           \
	} while (0)

#endif
