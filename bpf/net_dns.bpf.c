/* SPDX-License-Identifier: GPL-2.0 */
/*
 * net_dns.bpf.c - DNS queries (UDP and TCP to port 53) by any process, and their answers.
 *
 * Hooks: the sock:sock_send_length and sock:sock_recv_length tracepoints (tp_btf, raw
 * tracepoint fallback), which the socket layer fires once per message sent or received through
 * any socket (send, sendto, sendmsg, sendmmsg, write, writev; recv, recvfrom, recvmsg, recvmmsg,
 * read, readv). sock_recv_length fires in sock_recvmsg_nosec() after the protocol's recvmsg
 * returned, so the data is already in the caller's buffer. For ordinary traffic the program
 * reads one field (the socket's remote port) and returns: measured in bench/net.sh against
 * classic sys_enter_sendto/sendmsg/write tracepoints, which would also tax every write() to
 * files and pipes.
 * For a socket connected to port 53, or an unconnected UDP socket whose destination (from the
 * caller's sendto/sendmsg address) is port 53, the first HW_DNS_CAP bytes of the message are
 * copied from the caller's buffer, found through the syscall's saved arguments. Answers: a
 * message received on a socket connected to port 53, or on an unconnected UDP socket that sent
 * a DNS query (remembered in the hwd_sock LRU map at query time, looked up only for
 * unconnected sockets; the server then is the one that query went to).
 * A TCP read of the 2-byte length prefix alone is skipped; a prefix in the same read is left
 * for the agent to strip.
 * The bytes are parsed by the agent (bounded, defensive), never here: the kernel side only
 * copies.
 * Not seen: DNS sent or received by io_uring, by 32-bit compat syscalls, or over DoT/DoH
 * (encrypted, not 53).
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
} hwd_mmsg SEC(".maps");

/* Unconnected UDP sockets that sent a DNS query (key: the struct sock address; value: the
 * server the last query went to): only their received messages are looked at as answers. The
 * sender's address of a received message reaches the caller only after the tracepoint (the
 * syscall copies it out later), so the answer is reported from the server queried. LRU: a
 * socket closed without an answer ages out. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 1024);
	__type(key, __u64);
	__type(value, struct hw_net_addr);
} hwd_sock SEC(".maps");

/* The payload of an iovec array: the first element, or the second when the first is just a
 * TCP DNS length prefix (2 bytes) written separately. */
static __always_inline int net_iov(const struct iovec *iov, __u64 cnt, const void **buf, __u64 *len)
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

/* Where the message is: the caller's buffer, its length, the caller's address argument (the
 * destination of a send, the sender of a receive) and which syscall. 0 when found. */
struct net_dns_call {
	const void *buf;
	const void *uaddr;
	__u64 len;
	__u16 sc;
};

static __always_inline int net_dns_call(struct pt_regs *regs, const bool fast, const bool answer,
					struct net_dns_call *c)
{
	long nr = net_sysnr(regs, fast);
	const long nr_rw = answer ? HW_NR_READ : HW_NR_WRITE;
	const long nr_to = answer ? HW_NR_RECVFROM : HW_NR_SENDTO;
	const long nr_v = answer ? HW_NR_READV : HW_NR_WRITEV;
	const long nr_msg = answer ? HW_NR_RECVMSG : HW_NR_SENDMSG;
	const long nr_mmsg = answer ? HW_NR_RECVMMSG : HW_NR_SENDMMSG;

	if (nr == nr_rw || nr == nr_to) {
		c->buf = (void *)NET_A2(fast, regs);
		c->len = NET_A3(fast, regs);
		c->sc = nr == nr_rw ? (answer ? HW_NET_SC_READ : HW_NET_SC_WRITE)
				    : (answer ? HW_NET_SC_RECVFROM : HW_NET_SC_SENDTO);
		if (nr == nr_to)
			c->uaddr = (void *)NET_A5(fast, regs);
		return 0;
	}
	if (nr == nr_v) {
		c->sc = answer ? HW_NET_SC_READ : HW_NET_SC_WRITE;
		return net_iov((void *)NET_A2(fast, regs), NET_A3(fast, regs), &c->buf, &c->len);
	}
	if (nr != nr_msg && nr != nr_mmsg)
		return -1; /* some other way (io_uring, sendfile, splice, compat syscall) */

	struct user_msghdr mh;
	const struct mmsghdr *vec = (void *)NET_A2(fast, regs);
	const void *mhp = vec;

	if (nr == nr_mmsg) {
		/* the socket layer sees a vector's messages one by one: the position per thread */
		__u32 tid = (__u32)bpf_get_current_pid_tgid(), vlen = NET_A3(fast, regs);
		struct net_mmsg_pos np = {.vec = (__u64)vec}, *p;
		p = bpf_map_lookup_elem(&hwd_mmsg, &tid);
		if (p && p->vec == (__u64)vec && p->next < vlen)
			np.next = p->next;
		np.next &= 1023;
		mhp = &vec[np.next].msg_hdr;
		np.next++;
		bpf_map_update_elem(&hwd_mmsg, &tid, &np, BPF_ANY);
		c->sc = answer ? HW_NET_SC_RECVMMSG : HW_NET_SC_SENDMMSG;
	} else {
		c->sc = answer ? HW_NET_SC_RECVMSG : HW_NET_SC_SENDMSG;
	}
	if (bpf_probe_read_user(&mh, sizeof(mh), mhp))
		return -1;
	c->uaddr = mh.msg_name;
	return net_iov(mh.msg_iov, mh.msg_iovlen, &c->buf, &c->len);
}

static __always_inline void net_do_dns(struct sock *sk, int ret, const bool fast, const bool answer)
{
	/* Ordinary traffic leaves here: one load and a compare. */
	__u16 dport = fast ? sk->__sk_common.skc_dport : BPF_CORE_READ(sk, __sk_common.skc_dport);
	if (dport != 0 && dport != bpf_htons(53))
		return;
	if (answer && ret <= 2)
		return; /* nothing received, an error, or a TCP length prefix read on its own */
	__u16 fam = BPF_CORE_READ(sk, __sk_common.skc_family);
	if (fam != NET_AF_INET && fam != NET_AF_INET6)
		return;
	__u16 proto = BPF_CORE_READ(sk, sk_protocol);
	if (proto != NET_IPPROTO_UDP && (proto != NET_IPPROTO_TCP || dport == 0))
		return;
	__u64 skey = (__u64)sk;
	struct hw_net_addr *asked = NULL;
	if (answer && dport == 0) {
		asked = bpf_map_lookup_elem(&hwd_sock, &skey);
		if (!asked)
			return; /* an unconnected UDP socket that never sent a query */
	}

	struct task_struct *t = bpf_get_current_task_btf();
	struct net_dns_call c = {};
	if (net_dns_call(net_regs(t), fast, answer, &c))
		return;
	if (answer) {
		/* received: at most ret bytes, in the first buffer (after a 2-byte prefix buffer) */
		if (c.len > (__u64)ret)
			c.len = ret;
	} else if (proto == NET_IPPROTO_TCP && c.len == 2) {
		return; /* the length prefix of a TCP DNS message, written on its own */
	}

	struct hw_net_addr server, src, unset;
	if (asked) {
		/* unconnected UDP answer: reported from the server the query went to */
		__builtin_memcpy(&server, asked, sizeof(server));
		net_sk_addrs(sk, fam, &src, &unset);
	} else if (dport == 0) {
		/* unconnected UDP query: the destination is in this call's address argument */
		if (!net_user_sockaddr(c.uaddr, &server) || server.port != 53)
			return;
		net_sk_addrs(sk, fam, &src, &unset);
		bpf_map_update_elem(&hwd_sock, &skey, &server, BPF_ANY);
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
	e->syscall = c.sc;
	e->msg_len = c.len > 0xffffffffull ? 0xffffffffu : c.len;
	e->dflags = answer ? HW_NET_DNS_F_ANSWER : 0;
	e->netns = net_sk_netns(sk, fast);
	e->pad2 = 0;
	__u32 n = c.len < HW_DNS_CAP ? c.len : HW_DNS_CAP;
	e->cap_len = 0;
	if (n && bpf_probe_read_user(e->msg, n, c.buf) == 0)
		e->cap_len = n;
	hw_fill_hdr(&e->hdr, t, HW_EV_NET_DNS);
	if (n && !e->cap_len)
		e->hdr.flags |= HW_F_READ_FAIL;
	hw_submit(e, sizeof(*e), false);
}

SEC("tp_btf/sock_send_length")
int BPF_PROG(hwd_send_btf, struct sock *sk, int ret, int flags)
{
	net_do_dns(sk, ret, true, false);
	return 0;
}

SEC("raw_tp/sock_send_length")
int BPF_PROG(hwd_send_raw, struct sock *sk, int ret, int flags)
{
	net_do_dns(sk, ret, false, false);
	return 0;
}

/*
 * Kernels before 6.3 have no sock_send_length tracepoint: the same
 * program at the return of the protocols' sendmsg functions, which every send on a UDP or TCP
 * socket reaches, whatever the syscall. A v4-mapped send on an IPv6 UDP socket goes through
 * udpv6_sendmsg into udp_sendmsg: reported once, by the IPv6 program.
 */
SEC("fexit/udp_sendmsg")
int BPF_PROG(hwd_udpsend_fx, struct sock *sk, struct msghdr *msg, size_t len, int ret)
{
	if (sk->__sk_common.skc_family == NET_AF_INET)
		net_do_dns(sk, ret, true, false);
	return 0;
}

SEC("fexit/udpv6_sendmsg")
int BPF_PROG(hwd_udp6send_fx, struct sock *sk, struct msghdr *msg, size_t len, int ret)
{
	net_do_dns(sk, ret, true, false);
	return 0;
}

SEC("fexit/tcp_sendmsg")
int BPF_PROG(hwd_tcpsend_fx, struct sock *sk, struct msghdr *msg, size_t size, int ret)
{
	net_do_dns(sk, ret, true, false);
	return 0;
}

SEC("tp_btf/sock_recv_length")
int BPF_PROG(hwd_recv_btf, struct sock *sk, int ret, int flags)
{
	net_do_dns(sk, ret, true, true);
	return 0;
}

SEC("raw_tp/sock_recv_length")
int BPF_PROG(hwd_recv_raw, struct sock *sk, int ret, int flags)
{
	net_do_dns(sk, ret, false, true);
	return 0;
}

/* Kernels before 6.3: the return of the protocols' recvmsg functions (6.1's signatures, no
 * "noblock" argument), after the data was copied to the caller. An IPv6 UDP socket receives
 * v4-mapped messages in udpv6_recvmsg itself. */
SEC("fexit/udp_recvmsg")
int BPF_PROG(hwd_udprecv_fx, struct sock *sk, struct msghdr *msg, size_t len, int flags,
	     int *addr_len, int ret)
{
	if (sk->__sk_common.skc_family == NET_AF_INET)
		net_do_dns(sk, ret, true, true);
	return 0;
}

SEC("fexit/udpv6_recvmsg")
int BPF_PROG(hwd_udp6recv_fx, struct sock *sk, struct msghdr *msg, size_t len, int flags,
	     int *addr_len, int ret)
{
	net_do_dns(sk, ret, true, true);
	return 0;
}

SEC("fexit/tcp_recvmsg")
int BPF_PROG(hwd_tcprecv_fx, struct sock *sk, struct msghdr *msg, size_t len, int flags,
	     int *addr_len, int ret)
{
	net_do_dns(sk, ret, true, true);
	return 0;
}
