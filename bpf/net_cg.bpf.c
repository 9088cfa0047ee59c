/* SPDX-License-Identifier: GPL-2.0 */
/*
 * net_cg.bpf.c - net.connect and net.accept on socket hooks (net.mode "socket", the default;
 * docs/events-net.md, "Hooks and why"). No program here runs on a syscall: the connect storm
 * of a busy host pays one cgroup hook per connect and the TCP state-change tracepoint, not a
 * program at every connect(), accept() and accept4() exit.
 *
 *  - TCP connect: hws_state_btf (tp_btf/sock:inet_sock_set_state) sees CLOSE -> SYN_SENT in
 *    the connecting task, inside connect(): it records the caller (the fd from the saved
 *    registers, O_NONBLOCK from the socket's file) in hwn_pending, as the syscall exit did,
 *    and emits the EINPROGRESS start of a non-blocking connect at once. The end of the
 *    handshake (SYN_SENT -> ESTABLISHED or CLOSE) emits the blocking connect's only event, or
 *    the non-blocking connect's outcome (net_emit_outcome in net.bpf.c). io_uring connects are
 *    followed as in the syscall mode.
 *  - UDP connect: cgroup/connect4 and cgroup/connect6 on the cgroup v2 root (attached as
 *    links, so in BPF_F_ALLOW_MULTI mode next to other programs; they see every descendant
 *    cgroup). They run before the kernel connects the socket: the destination is the one
 *    asked for, the source the local end as it was (0.0.0.0:0 for an unbound socket), the
 *    result 0 or the refusal of a cgroup program that ran before (bpf_get_retval: a
 *    quarantine). A TCP connect refused that way is reported here too (no handshake follows).
 *  - accept: hws_accept_btf on the same tracepoint. CLOSE -> LISTEN runs in listen(): the
 *    caller is recorded in the socket's storage (hws_owner, BPF_F_CLONE: every connection
 *    the listener creates gets a copy). SYN_RECV -> ESTABLISHED of such a connection (softirq,
 *    no useful current task) emits net.accept blamed on that owner, fd -1, and frees the copy.
 *    The exact accept (the task that calls accept(), its new fd) is probe net.accept_exact.
 * Returns: cgroup programs always 1 (never refuse anything), the others 0.
 */
#include "net.bpf.h"

#define NET_SOCK_DGRAM 2
#define NET_O_NONBLOCK 04000
#define NET_TCP_SYN_RECV 3
#define NET_TCP_LISTEN 10

struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC | BPF_F_CLONE);
	__type(key, int);
	__type(value, struct hw_net_owner);
} hws_owner SEC(".maps");

/* The accept record is built in softirq: its own per-CPU buffer (see hwn_oscratch). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct hw_net);
} hws_ascratch SEC(".maps");

/* Emit connect record e (scratch buffer: the fold value is built behind it), folded if asked. */
static __always_inline void netcg_submit_connect(struct hw_net *e)
{
	__u32 kind = HW_NK_CONNECT;
	struct hw_net_kcfg *k = bpf_map_lookup_elem(&hwn_cfg, &kind);
	if (!(k && k->fold_window_ns &&
	      net_fold(e, (void *)((__u8 *)e + HW_MAX_RECORD), k->fold_window_ns)))
		hw_submit(e, sizeof(*e), false);
}

/* cgroup/connect4|6: a UDP connect, or a connect that a cgroup program before this one
 * refused. fam is the family of the address asked for. */
static __always_inline void netcg_connect(struct bpf_sock_addr *ctx, __u16 fam)
{
	struct task_struct *t = bpf_get_current_task_btf();
	struct bpf_sock *sk = ctx->sk;
	int ret = bpf_get_retval();
	struct hw_net *e;

	if (!sk || (ctx->protocol != NET_IPPROTO_UDP && ret >= 0))
		return; /* TCP: hws_state_btf follows it */
	if (hw_filtered(bpf_get_current_pid_tgid() >> 32))
		return;
	e = net_rec(HW_EV_NET_CONNECT);
	if (!e)
		return;
	__builtin_memset(&e->src, 0, sizeof(e->src));
	__builtin_memset(&e->dst, 0, sizeof(e->dst));
	e->family = sk->family;
	e->src.family = e->dst.family = fam;
	if (fam == NET_AF_INET) {
		__u32 *d = (__u32 *)e->dst.addr, *s = (__u32 *)e->src.addr;
		d[0] = ctx->user_ip4;
		s[0] = sk->src_ip4;
	} else {
		__u32 *d = (__u32 *)e->dst.addr, *s = (__u32 *)e->src.addr;
		d[0] = ctx->user_ip6[0];
		d[1] = ctx->user_ip6[1];
		d[2] = ctx->user_ip6[2];
		d[3] = ctx->user_ip6[3];
		s[0] = sk->src_ip6[0];
		s[1] = sk->src_ip6[1];
		s[2] = sk->src_ip6[2];
		s[3] = sk->src_ip6[3];
	}
	e->dst.port = bpf_ntohs((__u16)ctx->user_port);
	e->src.port = sk->src_port;
	if (net_ignored(HW_NK_CONNECT, &e->dst, e->dst.port))
		return;
	e->result = ret < 0 ? ret : 0;
	if (ret < 0)
		e->nflags |= HW_NET_F_DST_FROM_USER;
	e->protocol = ctx->protocol;
	e->type = ctx->type;
	e->syscall = HW_NET_SC_CONNECT;
	e->netns = t->nsproxy->net_ns->ns.inum;
	net_fill_hdr_fast(&e->hdr, t, HW_EV_NET_CONNECT);
	netcg_submit_connect(e);
}

SEC("cgroup/connect4")
int hws_conn4_cg(struct bpf_sock_addr *ctx)
{
	netcg_connect(ctx, NET_AF_INET);
	return 1;
}

SEC("cgroup/connect6")
int hws_conn6_cg(struct bpf_sock_addr *ctx)
{
	netcg_connect(ctx, NET_AF_INET6);
	return 1;
}

/* CLOSE -> SYN_SENT inside connect(fd, ...): the caller's record, followed to its end. */
static __always_inline void netcg_tcp_start(const struct sock *sk, struct task_struct *t,
					    struct pt_regs *regs)
{
	__u16 fam = sk->__sk_common.skc_family;
	struct socket *so = sk->sk_socket;
	__u64 skey = (__u64)sk;
	struct hw_net *e;

	if (fam != NET_AF_INET && fam != NET_AF_INET6)
		return;
	if (hw_filtered(bpf_get_current_pid_tgid() >> 32))
		return;
	e = net_rec(HW_EV_NET_CONNECT);
	if (!e)
		return;
	net_sk_addrs_fast((struct sock *)sk, fam, &e->src, &e->dst);
	if (net_ignored(HW_NK_CONNECT, &e->dst, e->dst.port))
		return;
	e->result = 0;
	e->fd = NET_FARG1(regs);
	e->family = fam;
	e->protocol = NET_IPPROTO_TCP;
	e->type = sk->sk_type;
	e->syscall = HW_NET_SC_CONNECT;
	e->netns = net_sk_netns(sk, true);
	net_fill_hdr_fast(&e->hdr, t, HW_EV_NET_CONNECT);
	if (so && so->file && (so->file->f_flags & NET_O_NONBLOCK)) {
		e->result = -NET_EINPROGRESS;
		e->nflags |= HW_NET_F_PENDING;
	}
	/* blocking: stored without HW_NET_F_PENDING, emitted once at the handshake's end */
	if (bpf_map_update_elem(&hwn_pending, &skey, e, BPF_ANY)) {
		e->nflags &= ~HW_NET_F_PENDING; /* not followed: report the call as it is */
		netcg_submit_connect(e);
		return;
	}
	if (e->nflags & HW_NET_F_PENDING)
		netcg_submit_connect(e);
}

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(hws_state_btf, const struct sock *sk, const int oldstate, const int newstate)
{
	if (oldstate == NET_TCP_CLOSE && newstate == NET_TCP_SYN_SENT) {
		struct task_struct *t = bpf_get_current_task_btf();
		struct pt_regs *regs = net_regs(t);
		if (HW_REG_NR(regs) == HW_NR_CONNECT) {
			netcg_tcp_start(sk, t, regs);
			return 0;
		}
	}
	net_do_state(sk, oldstate, newstate, true); /* outcomes; io_uring starts */
	return 0;
}

/* CLOSE -> LISTEN, in listen() (or a kernel socket's kernel_listen): who listens. */
static __always_inline void netcg_listen(const struct sock *sk)
{
	struct task_struct *t = bpf_get_current_task_btf();
	struct pt_regs *regs = net_regs(t);
	struct hw_net_owner *o;

	o = bpf_sk_storage_get(&hws_owner, (struct sock *)sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
	if (!o) {
		hw_count_drop(HW_EV_NET_ACCEPT, HW_DROP_NO_OWNER);
		return;
	}
	net_fill_hdr_fast(&o->hdr, t, HW_EV_NET_ACCEPT);
	o->fd = HW_REG_NR(regs) == HW_NR_LISTEN ? (__s32)NET_FARG1(regs) : -1;
	o->filtered = hw_filtered(o->hdr.pid);
	o->seeded = 0;
}

/* SYN_RECV -> ESTABLISHED of a connection a listener created: the accept, blamed on the
 * listener's owner (copied into this socket's storage when the kernel cloned the listener). */
static __always_inline void netcg_accept(const struct sock *sk)
{
	struct hw_net_owner *o = bpf_sk_storage_get(&hws_owner, (struct sock *)sk, 0, 0);
	__u16 fam = sk->__sk_common.skc_family;
	__u32 zero = 0;
	struct hw_net *e;

	if (fam != NET_AF_INET && fam != NET_AF_INET6)
		return;
	if (!o) {
		/* a listener older than the agent that the agent could not seed: counted */
		hw_count_drop(HW_EV_NET_ACCEPT, HW_DROP_NO_OWNER);
		return;
	}
	e = bpf_map_lookup_elem(&hws_ascratch, &zero);
	if (!e || o->filtered || bpf_map_lookup_elem(&hw_ignore_pid, &o->hdr.pid)) {
		bpf_sk_storage_delete(&hws_owner, (struct sock *)sk);
		return;
	}
	__builtin_memcpy(&e->hdr, &o->hdr, sizeof(e->hdr));
	bpf_sk_storage_delete(&hws_owner, (struct sock *)sk); /* o is gone from here */
	e->hdr.type = HW_EV_NET_ACCEPT;
	e->hdr.flags = 0;
	e->hdr.ts = bpf_ktime_get_boot_ns();
	net_sk_addrs_fast((struct sock *)sk, fam, &e->src, &e->dst);
	if (net_ignored(HW_NK_ACCEPT, &e->dst, e->src.port))
		return;
	e->result = 0;
	e->fd = -1;
	e->family = fam;
	e->protocol = sk->sk_protocol;
	e->type = sk->sk_type;
	e->syscall = 0;
	e->nflags = HW_NET_F_LISTENER;
	e->backlog = 0;
	e->count = 1;
	e->window_ns = 0;
	e->netns = net_sk_netns(sk, true);
	e->pad2 = 0;
	e->start_ts = 0;
	hw_submit(e, sizeof(*e), false);
}

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(hws_accept_btf, const struct sock *sk, const int oldstate, const int newstate)
{
	if (oldstate == NET_TCP_CLOSE && newstate == NET_TCP_LISTEN)
		netcg_listen(sk);
	else if (oldstate == NET_TCP_SYN_RECV && newstate == NET_TCP_ESTABLISHED)
		netcg_accept(sk);
	return 0;
}
