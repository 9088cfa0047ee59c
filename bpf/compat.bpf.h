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

#endif
