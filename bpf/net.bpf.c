/* SPDX-License-Identifier: GPL-2.0 */
/*
 * net.bpf.c - connection-level network events: connect, accept, listen, bind, and raw/packet
 * socket creation. Never send or receive (DNS queries are in net_dns.bpf.c).
 *
 * Each event is built at the exit of its syscall (classic syscalls:sys_exit_X tracepoint, which
 * only taxes that one syscall; a raw/tp_btf sys_exit would tax every syscall of every process):
 * the arguments come from the saved user registers, the addresses from the kernel's socket
 * (what really happened: the bound ephemeral port, the accepted peer), and from the caller's
 * sockaddr only when the call failed and the socket holds no address.
 * accept is attributed to the task returning from accept(), never to the softirq that
 * completed the handshake.
 */
#include "net.bpf.h"

/* Folded connects. A plain hash (not LRU): an entry is never evicted with a pending count;
 * when the map is full the connect is emitted unfolded. The agent deletes entries whose window
 * is over. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 8192);
	__type(key, struct hw_net_fold_key);
	__type(value, struct hw_net_fold_val);
} hwn_fold SEC(".maps");

/* TCP connects in progress (connect() returned -EINPROGRESS, or issued by io_uring), by socket
 * pointer: the record of the connect, as the calling process made it. Resolved (and deleted)
 * by the sock:inet_sock_set_state program when the socket leaves SYN_SENT, or by the connect
 * exit itself when the handshake already ended before connect() returned (loopback). Whoever
 * deletes the entry emits the outcome, so it is emitted once. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, struct hw_net);
} hwn_pending SEC(".maps");

/* Per-CPU buffer of the outcome path (which runs in softirq: it must not share the process
 * context's scratch record, which it may interrupt). */
struct net_oscratch {
	struct hw_net rec;
	struct hw_net_fold_val nv;
};
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct net_oscratch);
} hwn_oscratch SEC(".maps");

/* The fields of a net record that only a fold or a listen changes: one event, no window. */
static __always_inline void net_rec_single(struct hw_net *e)
{
	e->backlog = 0;
	e->count = 1;
	e->window_ns = 0;
	e->pad2 = 0;
	e->start_ts = 0;
}

/* A new record of the net family in the scratch buffer, header not yet filled. */
static __always_inline struct hw_net *net_rec(__u32 type)
{
	struct hw_net *e = hw_scratch_get();
	if (!e) {
		hw_count_drop(type, HW_DROP_SCRATCH);
		return NULL;
	}
	e->fd = -1;
	e->nflags = 0;
	e->type = 0;
	e->netns = 0;
	net_rec_single(e);
	return e;
}

/*
 * Folding (config net.fold_repeats, net.connect.fold_window_s, net.accept.fold_window_s): the
 * first event of a key (struct hw_net_fold_key) is emitted at once; repeats within the window
 * are counted in the map; the agent emits the count as a summary when the window has passed
 * (or the kernel does, when the same key happens again after the window).
 */

/* The fold key of a connect record: (process, destination address and port, result). */
static __always_inline void net_fold_key_conn(struct hw_net_fold_key *k, const struct hw_net *e)
{
	k->tgid = e->hdr.pid;
	k->result = e->result;
	k->dport = e->dst.port;
	k->family = e->dst.family;
	k->protocol = e->protocol;
	k->kind = HW_NK_CONNECT;
	__builtin_memcpy(k->daddr, e->dst.addr, 16);
}

/* One tick of the kernel's clock (jiffies) in ns, set by the agent (the resolution of
 * CLOCK_MONOTONIC_COARSE); 0 while unknown. A window opened while it is known carries its end
 * in jiffies (the low 32 bits, in rec.pad2 of the map value; 0: none), one tick early so that
 * the kernel never counts into a window that the agent's boot-clock check (net_tick) has
 * closed: a repeat is then checked with an inlined load of jiffies, not a read of the
 * paravirtualised clock (~30-40 ns here). */
volatile __u64 hwn_tick_ns;

static __always_inline __u32 net_fold_end_j(__u64 window)
{
	__u64 tick = hwn_tick_ns;
	return tick ? (__u32)(bpf_jiffies64() + window / tick - 1) : 0;
}

/* A repeat within the window of an existing entry: counted there. Returns true if counted. */
static __always_inline bool net_fold_hit(const struct hw_net_fold_key *k, __u64 window)
{
	struct hw_net_fold_val *v = bpf_map_lookup_elem(&hwn_fold, k);
	__u32 end;

	if (!v)
		return false;
	end = v->rec.pad2;
	if (end ? (__s32)(end - (__u32)bpf_jiffies64()) <= 0
		: bpf_ktime_get_boot_ns() - v->start >= window)
		return false;
	__sync_fetch_and_add(&v->suppressed, 1);
	return true;
}

/* Fold record e under key k (built by the caller; nv: a buffer for the new map value, the
 * stack being too small). Returns true when e was counted, false when e is to be emitted (it
 * then opens the key's window, or carries HW_NET_F_FOLD_FULL). */
static __always_inline bool net_fold_k(struct hw_net *e, struct hw_net_fold_val *nv,
				       const struct hw_net_fold_key *k, __u64 window)
{
	struct hw_net_fold_val *v;
	__u64 now = e->hdr.ts, n;

	v = bpf_map_lookup_elem(&hwn_fold, k);
	if (v && now - v->start < window) {
		__sync_fetch_and_add(&v->suppressed, 1);
		return true;
	}
	if (v) {
		/* window over: summary of the previous one first */
		n = __sync_lock_test_and_set(&v->suppressed, 0);
		if (n) {
			v->rec.count = n;
			v->rec.nflags |= HW_NET_F_SUMMARY;
			v->rec.window_ns = window;
			v->rec.hdr.ts = now; /* as the agent's summaries: the time it is reported */
			hw_submit(&v->rec, sizeof(v->rec), false);
		}
	}
	nv->start = now;
	nv->suppressed = 0;
	__builtin_memcpy(&nv->rec, e, sizeof(*e));
	nv->rec.window_ns = window;
	nv->rec.pad2 = net_fold_end_j(window);
	if (bpf_map_update_elem(&hwn_fold, k, nv, v ? BPF_EXIST : BPF_NOEXIST) == 0)
		e->window_ns = window;
	else
		e->nflags |= HW_NET_F_FOLD_FULL; /* full (or raced): this one is not folded */
	return false;
}

/* Fold connect record e: true when it was counted (not to be emitted). */
static __always_inline bool net_fold(struct hw_net *e, struct hw_net_fold_val *nv, __u64 window)
{
	struct hw_net_fold_key k;
	net_fold_key_conn(&k, e);
	return net_fold_k(e, nv, &k, window);
}

/* The final result of a TCP connect that was still in SYN_SENT when its call returned. */
static __always_inline int net_outcome_result(const struct sock *sk, int newstate, const bool fast)
{
	int err;

	if (newstate == NET_TCP_ESTABLISHED)
		return 0;
	err = fast ? sk->sk_err : BPF_CORE_READ(sk, sk_err);
	return err > 0 ? -err : -NET_ECONNABORTED; /* closed before completion, no error */
}

/* Emit the outcome record o (a copy of the pending connect): result and time filled here. */
static __always_inline void net_emit_outcome(struct net_oscratch *o, const struct sock *sk,
					     int result, const bool fast)
{
	struct hw_net *e = &o->rec;

	if (e->nflags & HW_NET_F_PENDING) {
		e->nflags =
			(e->nflags & ~(HW_NET_F_PENDING | HW_NET_F_SUMMARY | HW_NET_F_FOLD_FULL)) |
			HW_NET_F_OUTCOME;
		e->start_ts = e->hdr.ts;
	} else {
		/* A blocking connect followed by the socket hooks (net_cg.bpf.c): its only
		 * event, with the result connect() returns. A failed one has the address the
		 * caller asked for (the socket held it when the handshake began). */
		e->nflags &= ~(HW_NET_F_SUMMARY | HW_NET_F_FOLD_FULL);
		if (result)
			e->nflags |= HW_NET_F_DST_FROM_USER;
		e->start_ts = 0;
	}
	e->result = result;
	e->hdr.ts = bpf_ktime_get_boot_ns();
	e->count = 1;
	e->window_ns = 0;
	if (e->src.port == 0) {
		/* io_uring: the local port is chosen after SYN_SENT; still held here */
		struct hw_net_addr d;
		__u16 fam = e->dst.family;
		if (fast)
			net_sk_addrs_fast((struct sock *)sk, fam, &e->src, &d);
		else
			net_sk_addrs((struct sock *)sk, fam, &e->src, &d);
	}
	__u32 kind = HW_NK_CONNECT;
	struct hw_net_kcfg *k = bpf_map_lookup_elem(&hwn_cfg, &kind);
	if (k && k->fold_window_ns && net_fold(e, &o->nv, k->fold_window_ns))
		return;
	hw_submit(e, sizeof(*e), false);
}

/* connect(fd, addr, len) returned ret. */
static __always_inline void net_do_connect(long ret, const bool fast)
{
	struct task_struct *t = bpf_get_current_task_btf();
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct pt_regs *regs;
	struct socket *sock;
	struct sock *sk;
	struct hw_net *e;
	long fd;
	__u16 fam;

	regs = net_regs(t);
	fd = NET_A1(fast, regs);
	sock = fast ? net_fd_socket_fast(t, fd) : net_fd_socket(t, fd);
	if (!sock)
		return;
	sk = fast ? sock->sk : BPF_CORE_READ(sock, sk);
	fam = fast ? sk->__sk_common.skc_family : BPF_CORE_READ(sk, __sk_common.skc_family);
	if (fam != NET_AF_INET && fam != NET_AF_INET6)
		return;
	if (hw_filtered(tgid))
		return;
	e = net_rec(HW_EV_NET_CONNECT);
	if (!e)
		return;
	if (fast)
		net_sk_addrs_fast(sk, fam, &e->src, &e->dst);
	else
		net_sk_addrs(sk, fam, &e->src, &e->dst);
	if ((ret && ret != -NET_EINPROGRESS) || e->dst.port == 0) {
		/* Failed (the kernel cleared the destination) or not an inet destination. */
		struct hw_net_addr ua;
		__u16 uf = net_user_sockaddr((void *)NET_A2(fast, regs), &ua);
		if (uf == 0 && ret == 0)
			return; /* AF_UNSPEC: a UDP socket dissolving its association */
		if (uf == NET_AF_INET || uf == NET_AF_INET6) {
			__builtin_memcpy(&e->dst, &ua, sizeof(ua));
			e->nflags |= HW_NET_F_DST_FROM_USER;
		}
	}
	if (net_ignored(HW_NK_CONNECT, &e->dst, e->dst.port))
		return;
	e->result = ret;
	e->protocol = fast ? sk->sk_protocol : BPF_CORE_READ(sk, sk_protocol);
	bool pending = ret == -NET_EINPROGRESS && e->protocol == NET_IPPROTO_TCP;
	__u32 kind = HW_NK_CONNECT;
	struct hw_net_kcfg *k = bpf_map_lookup_elem(&hwn_cfg, &kind);
	if (!pending && k && k->fold_window_ns) {
		/* the fold fast path: a repeat within its window is counted before anything
		 * else of the record (the header: its helper calls) is built */
		struct hw_net_fold_key fk;
		e->hdr.pid = tgid;
		net_fold_key_conn(&fk, e);
		if (net_fold_hit(&fk, k->fold_window_ns))
			return;
	}
	e->fd = fd;
	e->family = fam;
	e->type = fast ? sock->type : BPF_CORE_READ(sock, type);
	e->syscall = HW_NET_SC_CONNECT;
	e->netns = net_sk_netns(sk, fast);
	net_fill_hdr(&e->hdr, t, HW_EV_NET_CONNECT, fast);

	__u64 skey = (__u64)sk;
	if (pending) {
		/* Follow the handshake: register first, then look at the state, so that an outcome
		 * reached in between is seen by one side exactly (whoever deletes the entry). */
		e->nflags |= HW_NET_F_PENDING;
		if (bpf_map_update_elem(&hwn_pending, &skey, e, BPF_ANY))
			pending = false;
	}

	if (!(k && k->fold_window_ns &&
	      net_fold(e, (void *)((__u8 *)e + HW_MAX_RECORD), k->fold_window_ns)))
		hw_submit(e, sizeof(*e), false);
	if (!pending)
		return;
	int st = fast ? sk->__sk_common.skc_state : BPF_CORE_READ(sk, __sk_common.skc_state);
	if (st == NET_TCP_SYN_SENT)
		return;
	/* The handshake ended before connect() returned (loopback: the answer was processed
	 * when the call released the socket). */
	__u32 zero = 0;
	struct net_oscratch *o = bpf_map_lookup_elem(&hwn_oscratch, &zero);
	struct hw_net *p = bpf_map_lookup_elem(&hwn_pending, &skey);
	if (!o || !p)
		return;
	__builtin_memcpy(&o->rec, p, sizeof(o->rec));
	if (bpf_map_delete_elem(&hwn_pending, &skey))
		return; /* the state-change program got it first */
	net_emit_outcome(o, sk, net_outcome_result(sk, st, fast), fast);
}

SEC("tracepoint/syscalls/sys_exit_connect")
int hwn_connect_exf(struct trace_event_raw_sys_exit *ctx)
{
	net_do_connect(ctx->ret, true);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_connect")
int hwn_connect_ex(struct trace_event_raw_sys_exit *ctx)
{
	net_do_connect(ctx->ret, false);
	return 0;
}

#define NET_PF_IO_WORKER 0x00000010

/* Number of the syscall the current task is in (from its saved user registers). */
static __always_inline long net_cur_sysnr(struct pt_regs *r, const bool fast)
{
	return fast ? HW_REG_NR(r) : HW_CREG_NR(r);
}

/* A TCP socket starts a handshake (CLOSE -> SYN_SENT, in the connecting task) outside the
 * connect() syscall: io_uring (IORING_OP_CONNECT, in io_uring_enter or an io-wq worker).
 * Registered as pending with the task's identity; its outcome is the event. */
static __always_inline void net_state_start(const struct sock *sk, const bool fast)
{
	struct task_struct *t = bpf_get_current_task_btf();
	struct pt_regs *regs = net_regs(t);
	long nr = net_cur_sysnr(regs, fast);
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	unsigned int tflags = fast ? t->flags : BPF_CORE_READ(t, flags);
	struct net_oscratch *o;
	struct hw_net *e;
	__u32 zero = 0;
	__u16 fam;

	if (nr == HW_NR_CONNECT)
		return; /* the connect() exit reports it */
	if (nr != HW_NR_IO_URING_ENTER && !(tflags & NET_PF_IO_WORKER))
		return; /* kernel sockets (NFS, iSCSI, ...) and others: not a process's connect */
	fam = fast ? sk->__sk_common.skc_family : BPF_CORE_READ(sk, __sk_common.skc_family);
	if (fam != NET_AF_INET && fam != NET_AF_INET6)
		return;
	if (hw_filtered(tgid))
		return;
	o = bpf_map_lookup_elem(&hwn_oscratch, &zero);
	if (!o)
		return;
	e = &o->rec;
	if (fast)
		net_sk_addrs_fast((struct sock *)sk, fam, &e->src, &e->dst);
	else
		net_sk_addrs((struct sock *)sk, fam, &e->src, &e->dst);
	if (net_ignored(HW_NK_CONNECT, &e->dst, e->dst.port))
		return;
	e->result = -NET_EINPROGRESS;
	e->fd = -1;
	e->family = fam;
	e->protocol = NET_IPPROTO_TCP;
	e->type = 1; /* SOCK_STREAM */
	e->syscall = HW_NET_SC_IO_URING;
	e->nflags = HW_NET_F_PENDING;
	net_rec_single(e);
	e->netns = net_sk_netns(sk, fast);
	net_fill_hdr(&e->hdr, t, HW_EV_NET_CONNECT, fast);
	__u64 skey = (__u64)sk;
	bpf_map_update_elem(&hwn_pending, &skey, e, BPF_ANY);
}

/*
 * sock:inet_sock_set_state, fired at every TCP state change of every socket: kept to a compare
 * for all but SYN_SENT -> X (one map lookup, a miss unless a connect of interest is pending)
 * and CLOSE -> SYN_SENT (one register load: is this connect() or io_uring?).
 */
static __always_inline void net_do_state(const struct sock *sk, int oldstate, int newstate,
					 const bool fast)
{
	if (oldstate == NET_TCP_SYN_SENT) {
		__u64 skey = (__u64)sk;
		struct hw_net *p = bpf_map_lookup_elem(&hwn_pending, &skey);
		struct net_oscratch *o;
		__u32 zero = 0;

		if (!p)
			return;
		if (newstate != NET_TCP_ESTABLISHED && newstate != NET_TCP_CLOSE)
			return; /* simultaneous open (SYN_RECV): wait for the end */
		o = bpf_map_lookup_elem(&hwn_oscratch, &zero);
		if (!o)
			return;
		__builtin_memcpy(&o->rec, p, sizeof(o->rec));
		if (bpf_map_delete_elem(&hwn_pending, &skey))
			return; /* the connect exit got it first */
		net_emit_outcome(o, sk, net_outcome_result(sk, newstate, fast), fast);
	} else if (oldstate == NET_TCP_CLOSE && newstate == NET_TCP_SYN_SENT) {
		net_state_start(sk, fast);
	}
}

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(hwn_state_btf, const struct sock *sk, const int oldstate, const int newstate)
{
	net_do_state(sk, oldstate, newstate, true);
	return 0;
}

SEC("raw_tp/inet_sock_set_state")
int BPF_PROG(hwn_state_raw, const struct sock *sk, const int oldstate, const int newstate)
{
	net_do_state(sk, oldstate, newstate, false);
	return 0;
}

/* accept/accept4 returned ret: the new socket (on success) holds both ends. */
static __always_inline void net_do_accept(long ret, __u16 sc, const bool fast)
{
	struct task_struct *t = bpf_get_current_task_btf();
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct socket *sock;
	struct sock *sk;
	struct hw_net *e;
	__u16 fam;

	if (ret < 0)
		return; /* EAGAIN from non-blocking servers is the common case: not an event */
	sock = fast ? net_fd_socket_fast(t, ret) : net_fd_socket(t, ret);
	if (!sock)
		return;
	sk = fast ? sock->sk : BPF_CORE_READ(sock, sk);
	fam = fast ? sk->__sk_common.skc_family : BPF_CORE_READ(sk, __sk_common.skc_family);
	if (fam != NET_AF_INET && fam != NET_AF_INET6)
		return;
	if (hw_filtered(tgid))
		return;
	e = net_rec(HW_EV_NET_ACCEPT);
	if (!e)
		return;
	if (fast)
		net_sk_addrs_fast(sk, fam, &e->src, &e->dst);
	else
		net_sk_addrs(sk, fam, &e->src, &e->dst);
	if (e->src.port == 0) {
		/* The peer reset the connection before accept() (a scanner's connect + RST): the
		 * kernel released the child's local port. It is the listening socket's port. */
		struct pt_regs *regs = net_regs(t);
		long lfd = NET_A1(fast, regs);
		struct socket *ls = fast ? net_fd_socket_fast(t, lfd) : net_fd_socket(t, lfd);
		if (ls)
			e->src.port = fast ? ls->sk->__sk_common.skc_num
					   : BPF_CORE_READ(ls, sk, __sk_common.skc_num);
	}
	if (net_ignored(HW_NK_ACCEPT, &e->dst, e->src.port))
		return;
	e->result = 0;
	e->fd = ret;
	e->family = fam;
	e->protocol = fast ? sk->sk_protocol : BPF_CORE_READ(sk, sk_protocol);
	e->type = fast ? sock->type : BPF_CORE_READ(sock, type);
	e->syscall = sc;
	e->netns = net_sk_netns(sk, fast);
	net_fill_hdr(&e->hdr, t, HW_EV_NET_ACCEPT, fast);
	hw_submit(e, sizeof(*e), false);
}

SEC("tracepoint/syscalls/sys_exit_accept")
int hwn_accept_exf(struct trace_event_raw_sys_exit *ctx)
{
	net_do_accept(ctx->ret, HW_NET_SC_ACCEPT, true);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_accept4")
int hwn_accept4_exf(struct trace_event_raw_sys_exit *ctx)
{
	net_do_accept(ctx->ret, HW_NET_SC_ACCEPT4, true);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_accept")
int hwn_accept_ex(struct trace_event_raw_sys_exit *ctx)
{
	net_do_accept(ctx->ret, HW_NET_SC_ACCEPT, false);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_accept4")
int hwn_accept4_ex(struct trace_event_raw_sys_exit *ctx)
{
	net_do_accept(ctx->ret, HW_NET_SC_ACCEPT4, false);
	return 0;
}

/* bind(fd, addr, len) and listen(fd, backlog): the local end. */
static __always_inline void net_do_local(long ret, __u32 type, __u32 kind, __u16 sc)
{
	struct task_struct *t = bpf_get_current_task_btf();
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct pt_regs *regs;
	struct socket *sock;
	struct sock *sk;
	struct hw_net *e;
	__u16 fam;

	regs = net_regs(t);
	sock = net_fd_socket(t, NET_ARG1(regs));
	if (!sock)
		return;
	sk = BPF_CORE_READ(sock, sk);
	fam = BPF_CORE_READ(sk, __sk_common.skc_family);
	if (fam != NET_AF_INET && fam != NET_AF_INET6)
		return;
	if (hw_filtered(tgid))
		return;
	e = net_rec(type);
	if (!e)
		return;
	net_sk_addrs(sk, fam, &e->src, &e->dst);
	if (sc == HW_NET_SC_BIND && ret) {
		/* failed bind: the socket holds no address; report the one asked for */
		struct hw_net_addr ua;
		__u16 uf = net_user_sockaddr((void *)NET_ARG2(regs), &ua);
		if (uf == NET_AF_INET || uf == NET_AF_INET6) {
			__builtin_memcpy(&e->src, &ua, sizeof(ua));
			e->nflags |= HW_NET_F_SRC_FROM_USER;
		}
	}
	if (net_ignored(kind, &e->src, e->src.port))
		return;
	e->result = ret;
	e->fd = NET_ARG1(regs);
	e->family = fam;
	e->protocol = BPF_CORE_READ(sk, sk_protocol);
	e->type = BPF_CORE_READ(sock, type);
	e->syscall = sc;
	if (sc == HW_NET_SC_LISTEN)
		e->backlog = NET_ARG2(regs);
	e->netns = net_sk_netns(sk, false);
	hw_fill_hdr(&e->hdr, t, type);
	hw_submit(e, sizeof(*e), false);
}

SEC("tracepoint/syscalls/sys_exit_bind")
int hwn_bind_ex(struct trace_event_raw_sys_exit *ctx)
{
	net_do_local(ctx->ret, HW_EV_NET_BIND, HW_NK_BIND, HW_NET_SC_BIND);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_listen")
int hwn_listen_ex(struct trace_event_raw_sys_exit *ctx)
{
	net_do_local(ctx->ret, HW_EV_NET_LISTEN, HW_NK_LISTEN, HW_NET_SC_LISTEN);
	return 0;
}

/* socket(family, type, protocol): only raw (SOCK_RAW, SOCK_PACKET) and AF_PACKET sockets,
 * successful or not (a refused raw socket is a signal too). */
#define NET_SOCK_RAW 3
#define NET_SOCK_PACKET 10
static __always_inline void net_do_socket(long ret, const bool fast)
{
	struct task_struct *t = bpf_get_current_task_btf();
	struct pt_regs *regs = net_regs(t);
	__u32 family = NET_A1(fast, regs), type = NET_A2(fast, regs), base = type & 0xf;
	struct hw_net *e;

	if (family != NET_AF_PACKET && base != NET_SOCK_RAW && base != NET_SOCK_PACKET)
		return;
	if (hw_filtered(bpf_get_current_pid_tgid() >> 32))
		return;
	e = net_rec(HW_EV_NET_SOCKET);
	if (!e)
		return;
	__builtin_memset(&e->src, 0, sizeof(e->src));
	__builtin_memset(&e->dst, 0, sizeof(e->dst));
	e->result = ret < 0 ? ret : 0;
	e->fd = ret < 0 ? -1 : ret;
	e->family = family;
	e->type = type;
	e->protocol = NET_A3(fast, regs);
	e->syscall = HW_NET_SC_SOCKET;
	/* the namespace the socket is created in: the caller's */
	e->netns = fast ? t->nsproxy->net_ns->ns.inum : BPF_CORE_READ(t, nsproxy, net_ns, ns.inum);
	net_fill_hdr(&e->hdr, t, HW_EV_NET_SOCKET, fast);
	hw_submit(e, sizeof(*e), false);
}

SEC("tracepoint/syscalls/sys_exit_socket")
int hwn_socket_exf(struct trace_event_raw_sys_exit *ctx)
{
	net_do_socket(ctx->ret, true);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_socket")
int hwn_socket_ex(struct trace_event_raw_sys_exit *ctx)
{
	net_do_socket(ctx->ret, false);
	return 0;
}

/* fexit on a syscall's kernel function: runs only on that syscall, without the tracepoint
 * dispatch (preferred where the kernel has BPF trampolines; the fast ones, "fxf", also need
 * bpf_rdonly_cast, 6.2+). Each runs BODY with the syscall's result in ret. */
#define NET_FEXIT(sys, prog, BODY)                                                                 \
	SEC("fexit/" HW_SYSFN(sys))                                                                \
	int BPF_PROG(prog, struct pt_regs *regs, long ret)                                         \
	{                                                                                          \
		BODY;                                                                              \
		return 0;                                                                          \
	}

NET_FEXIT(connect, hwn_connect_fxf, net_do_connect(ret, true))
NET_FEXIT(connect, hwn_connect_fx, net_do_connect(ret, false))
NET_FEXIT(accept, hwn_accept_fxf, net_do_accept(ret, HW_NET_SC_ACCEPT, true))
NET_FEXIT(accept4, hwn_accept4_fxf, net_do_accept(ret, HW_NET_SC_ACCEPT4, true))
NET_FEXIT(accept, hwn_accept_fx, net_do_accept(ret, HW_NET_SC_ACCEPT, false))
NET_FEXIT(accept4, hwn_accept4_fx, net_do_accept(ret, HW_NET_SC_ACCEPT4, false))
NET_FEXIT(bind, hwn_bind_fx, net_do_local(ret, HW_EV_NET_BIND, HW_NK_BIND, HW_NET_SC_BIND))
NET_FEXIT(listen, hwn_listen_fx,
	  net_do_local(ret, HW_EV_NET_LISTEN, HW_NK_LISTEN, HW_NET_SC_LISTEN))
NET_FEXIT(socket, hwn_socket_fxf, net_do_socket(ret, true))
NET_FEXIT(socket, hwn_socket_fx, net_do_socket(ret, false))
