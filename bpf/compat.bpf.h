/* compat.bpf.h - kernel types the programs read that not every kernel's vmlinux.h declares
 * (or declares differently), as CO-RE flavors: a local copy named TYPE___hw holding only the
 * fields read, relocated at load time against the running kernel's own TYPE. With these the
 * BPF object compiles against any supported kernel's vmlinux.h (this machine's, or the oldest
 * Debian kernel's: the arm64 cross-build uses 6.1's), and a field a kernel lacks is found by
 * bpf_core_field_exists() at load time, never by a failed compile. */
#ifndef HW_COMPAT_BPF_H
#define HW_COMPAT_BPF_H

/* capability/cap_capable tracepoint record: the tracepoint exists from 6.14 */
struct trace_event_raw_cap_capable___hw {
	int cap;
	int ret;
} __attribute__((preserve_access_index));

/* kernel_cap_t: one u64 from 6.3, two u32 (cap[2]) before */
struct kernel_cap_struct___hw {
	__u64 val;
} __attribute__((preserve_access_index));

/* struct inode's times (the key of exec.sha256's cache): i_mtime_sec/_nsec and
 * i_ctime_sec/_nsec from 6.11 (commit 3aa63a569c64); before, timespec64 fields, named __i_ctime
 * from 6.6 (commit 13bc24457850) and __i_mtime from 6.7 (commit 12cd44023651) */
struct inode___hw {
	__s64 i_mtime_sec, i_ctime_sec;
	__u32 i_mtime_nsec, i_ctime_nsec;
	struct timespec64 i_mtime, i_ctime, __i_mtime, __i_ctime;
} __attribute__((preserve_access_index));

#endif
