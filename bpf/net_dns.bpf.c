/* SPDX-License-Identifier: GPL-2.0 */
/*
 * net_dns.bpf.c - DNS queries (UDP and TCP to port 53) by any process.
 *
 * Hook: the sock:sock_send_length tracepoint (tp_btf, raw tracepoint fallback), which the socket
 * layer fires once per message sent through any socket (send, sendto, sendmsg, sendmmsg, write,
 * writev). For ordinary traffic the program reads one field (the socket's remote port) and
 * returns: measured in bench/net.sh against classic sys_enter_sendto/sendmsg/write tracepoints,
 * which would also tax every write() to files and pipes.
 * For a socket connected to port 53, or an unconnected UDP socket whose destination (from the
 * caller's sendto/sendmsg address) is port 53, the first HW_DNS_CAP bytes of the message are
 * copied from the caller's buffer, found through the syscall's saved arguments. The bytes are
 * parsed by the agent (bounded, defensive), never here: the kernel side only copies.
 * Not seen: DNS sent by io_uring, by 32-bit compat syscalls, or over DoT/DoH (encrypted, not 53).
 */
#include "net.bpf.h"

/* Number of the syscall the current task is in (from its saved user registers). */
static __always_inline long net_sysnr(struct pt_regs *r, const bool fast)
{
	return fast ? HW_REG_NR(r) : HW_CREG_NR(r);
}

/* sendmmsg() sends its messages one by one through the socket layer; this remembers, per
 * thread, which message of which vector comes next. */
struct net_mmsg_pos {
	__u64 vec;
	__u32 next;
	__u32 pad;
};
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, struct net_mmsg_pos);
} hw_net_mmsg SEC(".maps");

/* The payload of an iovec array: the first element, or the second when the first is just a
 * TCP DNS length prefix (2 bytes) written separately. */
static __always_inline int net_iov(const struct iovec *iov, __u64 cnt, const void **buf,
				   __u64 *len)
{
	struct iovec v[2] = {};

	if (!iov || cnt == 0 || bpf_probe_read_user(&v[0], sizeof(v[0]), iov))
		return -1;
	if (v[0].iov_len == 2 && cnt >= 2 && bpf_probe_read_user(&v[1], sizeof(v[1]), iov + 1) == 0)
		v[0] = v[1];
	*buf = v[0].iov_base;
	*len = v[0].iov_len;
	return 0;
}

static __always_inline void net_do_dns(struct sock *sk, int ret, const bool fast)
{
	/* Ordinary traffic leaves here: one load and a compare. */
	__u16 dport = fast ? sk->__sk_common.skc_dport : BPF_CORE_READ(sk, __sk_common.skc_dport);
	if (dport != 0 && dport != bpf_htons(53))
		return;
	__u16 fam = BPF_CORE_READ(sk, __sk_common.skc_family);
	if (fam != NET_AF_INET && fam != NET_AF_INET6)
		return;
	__u16 proto = BPF_CORE_READ(sk, sk_protocol);
	if (proto != NET_IPPROTO_UDP && (proto != NET_IPPROTO_TCP || dport == 0))
		return;

	struct task_struct *t = bpf_get_current_task_btf();
	struct pt_regs *regs = net_regs(t);
	long nr = net_sysnr(regs, fast);
	const void *buf = NULL, *uaddr = NULL;
	__u64 len = 0;
	__u16 sc;

	if (nr == HW_NR_WRITE || nr == HW_NR_SENDTO) {
		buf = (void *)NET_A2(fast, regs);
		len = NET_A3(fast, regs);
		sc = nr == HW_NR_WRITE ? HW_NET_SC_WRITE : HW_NET_SC_SENDTO;
		if (nr == HW_NR_SENDTO)
			uaddr = (void *)NET_A5(fast, regs);
	} else if (nr == HW_NR_WRITEV) {
		if (net_iov((void *)NET_A2(fast, regs), NET_A3(fast, regs), &buf, &len))
			return;
		sc = HW_NET_SC_WRITE;
	} else if (nr == HW_NR_SENDMSG || nr == HW_NR_SENDMMSG) {
		struct user_msghdr mh;
		const struct mmsghdr *vec = (void *)NET_A2(fast, regs);
		const void *mhp = vec;

		if (nr == HW_NR_SENDMMSG) {
			__u32 tid = (__u32)bpf_get_current_pid_tgid(), vlen = NET_A3(fast, regs);
			struct net_mmsg_pos np = {.vec = (__u64)vec}, *p;
			p = bpf_map_lookup_elem(&hw_net_mmsg, &tid);
			if (p && p->vec == (__u64)vec && p->next < vlen)
				np.next = p->next;
			np.next &= 1023;
			mhp = &vec[np.next].msg_hdr;
			np.next++;
			bpf_map_update_elem(&hw_net_mmsg, &tid, &np, BPF_ANY);
			sc = HW_NET_SC_SENDMMSG;
		} else {
			sc = HW_NET_SC_SENDMSG;
		}
		if (bpf_probe_read_user(&mh, sizeof(mh), mhp))
			return;
		uaddr = mh.msg_name;
		if (net_iov(mh.msg_iov, mh.msg_iovlen, &buf, &len))
			return;
	} else {
		return; /* sent some other way (io_uring, sendfile, splice, compat syscall) */
	}
	if (proto == NET_IPPROTO_TCP && len == 2)
		return; /* the length prefix of a TCP DNS message, written on its own */

	struct hw_net_addr server, src, unset;
	if (dport == 0) {
		/* unconnected UDP: the destination is in this call */
		if (!net_user_sockaddr(uaddr, &server) || server.port != 53)
			return;
		net_sk_addrs(sk, fam, &src, &unset);
	} else {
		net_sk_addrs(sk, fam, &src, &server);
	}
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	if (hw_filtered(tgid))
		return;
	if (net_ignored(HW_NK_DNS, &server, server.port))
		return;

	struct hw_net_dns *e = hw_scratch_get();
	if (!e) {
		hw_count_drop(HW_EV_NET_DNS, HW_DROP_SCRATCH);
		return;
	}
	__builtin_memcpy(&e->server, &server, sizeof(server));
	__builtin_memcpy(&e->src, &src, sizeof(src));
	e->result = ret;
	e->protocol = proto;
	e->syscall = sc;
	e->msg_len = len > 0xffffffffull ? 0xffffffffu : len;
	e->pad = 0;
	e->netns = net_sk_netns(sk, fast);
	e->pad2 = 0;
	__u32 n = len < HW_DNS_CAP ? len : HW_DNS_CAP;
	e->cap_len = 0;
	if (n && bpf_probe_read_user(e->msg, n, buf) == 0)
		e->cap_len = n;
	hw_fill_hdr(&e->hdr, t, HW_EV_NET_DNS);
	if (n && !e->cap_len)
		e->hdr.flags |= HW_F_READ_FAIL;
	hw_submit(e, sizeof(*e), false);
}

SEC("tp_btf/sock_send_length")
int BPF_PROG(hw_net_dns_btf, struct sock *sk, int ret, int flags)
{
	net_do_dns(sk, ret, true);
	return 0;
}

SEC("raw_tp/sock_send_length")
int BPF_PROG(hw_net_dns_raw, struct sock *sk, int ret, int flags)
{
	net_do_dns(sk, ret, false);
	return 0;
}

/*
 * Kernels before 6.3 have no sock_send_length tracepoint: the same
 * program at the return of the protocols' sendmsg functions, which every send on a UDP or TCP
 * socket reaches, whatever the syscall. A v4-mapped send on an IPv6 UDP socket goes through
 * udpv6_sendmsg into udp_sendmsg: reported once, by the IPv6 program.
 */
SEC("fexit/udp_sendmsg")
int BPF_PROG(hw_net_dns_udp4, struct sock *sk, struct msghdr *msg, size_t len, int ret)
{
	if (sk->__sk_common.skc_family == NET_AF_INET)
		net_do_dns(sk, ret, true);
	return 0;
}

SEC("fexit/udpv6_sendmsg")
int BPF_PROG(hw_net_dns_udp6, struct sock *sk, struct msghdr *msg, size_t len, int ret)
{
	net_do_dns(sk, ret, true);
	return 0;
}

SEC("fexit/tcp_sendmsg")
int BPF_PROG(hw_net_dns_tcp, struct sock *sk, struct msghdr *msg, size_t size, int ret)
{
	net_do_dns(sk, ret, true);
	return 0;
}
