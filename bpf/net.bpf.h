/* SPDX-License-Identifier: GPL-2.0 */
/*
 * net.bpf.h - helpers of the net probe family: syscall arguments at syscall exit, fd -> socket,
 * socket and user sockaddr -> struct hw_net_addr, the per-kind filters (loopback, ports, CIDRs).
 *
 * Why syscall *exit* tracepoints with arguments read from the task's saved user registers
 * (bpf_task_pt_regs): one hook per call instead of an enter+exit pair with a per-thread map
 * (measured in bench/net.sh); the registers hold the caller's arguments until the syscall
 * returns, and the exit is where the result and the kernel's own view of the socket are known.
 */
#ifndef HW_NET_BPF_H
#define HW_NET_BPF_H

#include "hw.bpf.h"
#include <bpf/bpf_endian.h>

#define NET_AF_UNSPEC 0
#define NET_AF_INET 2
#define NET_AF_INET6 10
#define NET_AF_PACKET 17
#define NET_S_IFMT 00170000
#define NET_S_IFSOCK 0140000
#define NET_EINPROGRESS 115
#define NET_IPPROTO_TCP 6
#define NET_IPPROTO_UDP 17
#define NET_TCP_ESTABLISHED 1
#define NET_TCP_SYN_SENT 2
#define NET_TCP_CLOSE 7
#define NET_ECONNABORTED 103

/* Per-kind filter settings (index: enum hw_net_kind), written by the agent. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, HW_NK_N);
	__type(key, __u32);
	__type(value, struct hw_net_kcfg);
} hwn_cfg SEC(".maps");

/* Ignored networks per kind (config net.<kind>.ignore_cidrs). */
struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 1024);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct hw_net_cidr_key);
	__type(value, __u8);
} hwn_cidr SEC(".maps");

/* Syscall arguments of the current task, from the registers saved at syscall entry. */
static __always_inline struct pt_regs *net_regs(struct task_struct *t)
{
	return (struct pt_regs *)bpf_task_pt_regs(t);
}
#define NET_ARG1(r) PT_REGS_PARM1_CORE_SYSCALL(r)
#define NET_ARG2(r) PT_REGS_PARM2_CORE_SYSCALL(r)
#define NET_ARG3(r) PT_REGS_PARM3_CORE_SYSCALL(r)
#define NET_ARG5(r) PT_REGS_PARM5_CORE_SYSCALL(r)

/*
 * Two ways to read kernel memory, chosen per program by a constant `fast` argument:
 *  - fast: direct loads through BTF pointers (the task from bpf_get_current_task_btf(), the
 *    pt_regs from bpf_task_pt_regs(), and struct file / struct socket made BTF pointers with
 *    the bpf_rdonly_cast kfunc). A load is one instruction; a BPF_CORE_READ is a helper call
 *    (~30-50 ns each here, measured with kernel.bpf_stats_enabled: connect went from ~1.2 us
 *    to the figure in docs/events-net.md).
 *  - portable: BPF_CORE_READ (bpf_probe_read_kernel) everywhere, for kernels without the kfunc
 *    or without trusted pt_regs. The loader falls back to these programs when the fast ones
 *    are refused (probes.def lists both).
 */
extern void *bpf_rdonly_cast(const void *obj, __u32 btf_id) __ksym __weak;

#if defined(__TARGET_ARCH_x86)
/* x86-64 syscall arguments: rdi, rsi, rdx, r10, r8, r9 */
#define NET_FARG1(r) ((r)->di)
#define NET_FARG2(r) ((r)->si)
#define NET_FARG3(r) ((r)->dx)
#define NET_FARG5(r) ((r)->r8)
#else
#define NET_FARG1(r) NET_ARG1(r)
#define NET_FARG2(r) NET_ARG2(r)
#define NET_FARG3(r) NET_ARG3(r)
#define NET_FARG5(r) NET_ARG5(r)
#endif
#define NET_A1(fast, r) ((fast) ? (long)NET_FARG1(r) : (long)NET_ARG1(r))
#define NET_A2(fast, r) ((fast) ? (long)NET_FARG2(r) : (long)NET_ARG2(r))
#define NET_A3(fast, r) ((fast) ? (long)NET_FARG3(r) : (long)NET_ARG3(r))
#define NET_A5(fast, r) ((fast) ? (long)NET_FARG5(r) : (long)NET_ARG5(r))

/* The common header but its time (ts), from direct loads and cheap helpers: for a caller that
 * sets the time later (a clock read costs ~40 ns on a paravirtualised clock). */
static __always_inline void net_fill_hdr_who(struct hw_hdr *h, struct task_struct *t, __u16 type)
{
	__u64 pt = bpf_get_current_pid_tgid();

	hw_hdr_task(h, t, type);
	h->pid = pt >> 32;
	h->tid = (__u32)pt;
	bpf_get_current_comm(h->comm, sizeof(h->comm));
}

/* The common header, as hw_fill_hdr() fills it, from direct loads and cheap helpers. */
static __always_inline void net_fill_hdr_fast(struct hw_hdr *h, struct task_struct *t, __u16 type)
{
	net_fill_hdr_who(h, t, type);
	h->ts = bpf_ktime_get_boot_ns();
}

static __always_inline void net_fill_hdr(struct hw_hdr *h, struct task_struct *t, __u16 type,
					 const bool fast)
{
	if (fast)
		net_fill_hdr_fast(h, t, type);
	else
		hw_fill_hdr(h, t, type);
}

/* The socket behind a descriptor of task t, or NULL when fd is not an open socket. */
static __always_inline struct socket *net_fd_socket(struct task_struct *t, long fd)
{
	struct file *f = hw_fd_file_core(t, fd);

	/* a free slot (f NULL) reads as mode 0 here: not a socket */
	if ((BPF_CORE_READ(f, f_inode, i_mode) & NET_S_IFMT) != NET_S_IFSOCK)
		return NULL;
	return (struct socket *)BPF_CORE_READ(f, private_data);
}

static __always_inline struct socket *net_fd_socket_fast(struct task_struct *t, long fd)
{
	struct file *f = hw_fd_file(t, fd), *ff;

	if (!f)
		return NULL;
	ff = bpf_rdonly_cast(f, bpf_core_type_id_kernel(struct file));
	if ((ff->f_inode->i_mode & NET_S_IFMT) != NET_S_IFSOCK)
		return NULL;
	return bpf_rdonly_cast(ff->private_data, bpf_core_type_id_kernel(struct socket));
}

static __always_inline void net_sk_addrs_fast(struct sock *sk, __u16 fam, struct hw_net_addr *src,
					      struct hw_net_addr *dst)
{
	__u32 *s32 = (__u32 *)src->addr, *d32 = (__u32 *)dst->addr;

	__builtin_memset(src, 0, sizeof(*src));
	__builtin_memset(dst, 0, sizeof(*dst));
	src->family = dst->family = fam;
	if (fam == NET_AF_INET) {
		s32[0] = sk->__sk_common.skc_rcv_saddr;
		d32[0] = sk->__sk_common.skc_daddr;
	} else {
#pragma unroll
		for (int i = 0; i < 4; i++) {
			s32[i] = sk->__sk_common.skc_v6_rcv_saddr.in6_u.u6_addr32[i];
			d32[i] = sk->__sk_common.skc_v6_daddr.in6_u.u6_addr32[i];
		}
	}
	src->port = sk->__sk_common.skc_num;
	dst->port = bpf_ntohs(sk->__sk_common.skc_dport);
}

/* Inode number of the network namespace of a socket (what `ls -l /proc/PID/ns/net` shows). */
static __always_inline __u32 net_sk_netns(const struct sock *sk, const bool fast)
{
	if (fast)
		return sk->__sk_common.skc_net.net->ns.inum;
	return BPF_CORE_READ(sk, __sk_common.skc_net.net, ns.inum);
}

/* Local (src) and remote (dst) ends of an inet socket as the kernel sees them now. */
static __always_inline void net_sk_addrs(struct sock *sk, __u16 fam, struct hw_net_addr *src,
					 struct hw_net_addr *dst)
{
	__builtin_memset(src, 0, sizeof(*src));
	__builtin_memset(dst, 0, sizeof(*dst));
	src->family = dst->family = fam;
	if (fam == NET_AF_INET) {
		bpf_core_read(src->addr, 4, &sk->__sk_common.skc_rcv_saddr);
		bpf_core_read(dst->addr, 4, &sk->__sk_common.skc_daddr);
	} else {
		bpf_core_read(src->addr, 16, &sk->__sk_common.skc_v6_rcv_saddr);
		bpf_core_read(dst->addr, 16, &sk->__sk_common.skc_v6_daddr);
	}
	src->port = BPF_CORE_READ(sk, __sk_common.skc_num);
	dst->port = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
}

/* A sockaddr from the caller's memory. Returns its family (0 if unreadable or not inet). The
 * caller may change it after the kernel read it: used only when the socket does not hold the
 * address (failed calls, unconnected UDP sends). */
static __always_inline __u16 net_user_sockaddr(const void *uaddr, struct hw_net_addr *a)
{
	struct sockaddr_in6 sa;

	__builtin_memset(a, 0, sizeof(*a));
	if (!uaddr || bpf_probe_read_user(&sa, sizeof(struct sockaddr_in), uaddr))
		return 0;
	if (sa.sin6_family == NET_AF_INET) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&sa;
		__builtin_memcpy(a->addr, &s4->sin_addr, 4);
	} else if (sa.sin6_family == NET_AF_INET6) {
		if (bpf_probe_read_user(&sa, sizeof(sa), uaddr))
			return 0;
		__builtin_memcpy(a->addr, &sa.sin6_addr, 16);
	} else {
		return sa.sin6_family == NET_AF_UNSPEC ? 0 : sa.sin6_family;
	}
	a->family = sa.sin6_family;
	a->port = bpf_ntohs(sa.sin6_port);
	return a->family;
}

/* IPv4 form of an address: true for IPv4 and v4-mapped IPv6 (::ffff:a.b.c.d). */
static __always_inline bool net_v4(const struct hw_net_addr *a, __u32 *v4)
{
	__u32 w[4];
	__builtin_memcpy(w, a->addr, 16);
	if (a->family == NET_AF_INET) {
		*v4 = w[0];
		return true;
	}
	if (w[0] == 0 && w[1] == 0 && w[2] == bpf_htonl(0xffff)) {
		*v4 = w[3];
		return true;
	}
	return false;
}

static __always_inline bool net_loopback(const struct hw_net_addr *a)
{
	__u32 v4, w[4];
	if (net_v4(a, &v4))
		return (bpf_ntohl(v4) >> 24) == 127;
	__builtin_memcpy(w, a->addr, 16);
	return w[0] == 0 && w[1] == 0 && w[2] == 0 && w[3] == bpf_htonl(1);
}

/*
 * Is an event of this kind dropped by the configured filters? a is the address that the
 * filters look at (remote end for connect/accept/dns, local end for bind/listen); port the
 * service port (connect/dns: remote; accept/bind/listen: local).
 */
static __always_inline bool net_ignored(__u32 kind, const struct hw_net_addr *a, __u16 port)
{
	struct hw_net_kcfg *k = bpf_map_lookup_elem(&hwn_cfg, &kind);
	__u32 v4;

	if (!k)
		return false;
	if (k->ignore_loopback && net_loopback(a))
		return true;
#pragma unroll
	for (int i = 0; i < HW_NET_MAX_PORTS; i++) {
		if (i >= k->nports)
			break;
		if (k->ports[i] == port)
			return true;
	}
	if (k->has_cidrs) {
		struct hw_net_cidr_key key = {.kind = kind};
		if (net_v4(a, &v4)) {
			key.prefixlen = 16 + 32;
			key.family = 4;
			__builtin_memcpy(key.addr, &v4, 4);
		} else {
			key.prefixlen = 16 + 128;
			key.family = 6;
			__builtin_memcpy(key.addr, a->addr, 16);
		}
		if (bpf_map_lookup_elem(&hwn_cidr, &key))
			return true;
	}
	return false;
}

#endif /* HW_NET_BPF_H */
