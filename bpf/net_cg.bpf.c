/* SPDX-License-Identifier: GPL-2.0 */
/*
 * net_cg.bpf.c - net.connect and net.accept on socket hooks (net.mode "socket";
 * docs/events-net.md, "Socket hooks"). No program here runs on a syscall: the connect storm
 * of a busy host pays one cgroup hook per connect and the TCP state-change tracepoint, not a
 * program at every connect(), accept() and accept4() exit.
 *
 *  - TCP connect: hws_state_btf (tp_btf/sock:inet_sock_set_state) sees CLOSE -> SYN_SENT in
 *    the connecting task, inside connect(). A blocking connect leaves a small mark keyed by
 *    its socket (a slot of hws_slot, else hws_blk: the caller's header, its fd) instead of a
 *    whole record;
 *    at the end of the handshake (SYN_SENT -> ESTABLISHED or CLOSE) its one event is counted
 *    when its (process, destination, port, result) has an open fold window (net.fold_repeats),
 *    else built from the mark and the socket and emitted. A non-blocking connect goes through
 *    hwn_pending as with the syscall exits: the EINPROGRESS start at once, the outcome at
 *    the end (net_emit_outcome in net.bpf.c). io_uring connects as in the syscall mode.
 *  - UDP connect: cgroup/connect4 and cgroup/connect6 on the cgroup v2 root (attached as
 *    links, so in BPF_F_ALLOW_MULTI mode next to other programs; they see every descendant
 *    cgroup). They run before the kernel connects the socket: the destination is the one
 *    asked for, the source the local end as it was (0.0.0.0:0 for an unbound socket), the
 *    result 0 or the refusal of a cgroup program that ran before (bpf_get_retval: a
 *    quarantine). A TCP connect refused that way is reported here too (no handshake follows).
 *  - accept: the same program, hws_state_btf (one program on the tracepoint serves net.connect
 *    and net.accept: hws_roles says which of them are on). CLOSE -> LISTEN runs in listen(): the
 *    caller is recorded in hws_lsn under (network namespace, local port); LISTEN -> CLOSE
 *    of that socket removes it. SYN_RECV -> ESTABLISHED of a connection (softirq, no useful
 *    current task) finds the owner under the connection's own namespace and local port and
 *    emits net.accept blamed on it, fd -1 (or counts it: folding key owner, peer address,
 *    local port). No per-connection copy is made. The exact accept (the task that calls
 *    accept(), its new fd) is probe net.accept_exact.
 * Returns: cgroup programs always 1 (never refuse anything), the others 0.
 */
#include "net.bpf.h"

#define NET_SOCK_DGRAM 2
#define NET_O_NONBLOCK 04000
#define NET_TCP_SYN_RECV 3
#define NET_TCP_LISTEN 10

/* Listeners' owners by (network namespace, local port). Several listening sockets on one
 * port (SO_REUSEPORT, or one per local address) share one entry: the first recorded. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct hw_net_lsn_key);
	__type(value, struct hw_net_owner);
} hws_lsn SEC(".maps");

/* A blocking TCP connect between SYN_SENT and the end of its handshake: the caller's header
 * (its time is set at the end) and fd. */
struct ncg_blk {
	struct hw_hdr hdr;
	__s32 fd;
	__u32 pad;
};

/* Where a blocking connect's mark is kept, by socket:
 *  - first, a slot of hws_slot chosen by the socket's address (a direct-mapped table: an
 *    array lookup the verifier inlines, claimed with one compare-and-swap of its tag and
 *    given back with one exchange; no lock, no helper call, no interrupt toggling). Measured
 *    here: the preallocated hash below cost two thirds of hws_state_btf's own samples
 *    (bucket lookups, and the update's spin lock with interrupts off, dear on this
 *    paravirtualised CPU);
 *  - when that slot holds another socket's handshake, the preallocated hash hws_blk (an
 *    update takes a free element, a delete gives it back). Socket storage was measured
 *    dearer than both (its first use on a socket allocates; its release goes through RCU).
 *    Full too (16384 handshakes at once): the connect is followed through hwn_pending.
 * 512 slots of 104 bytes (52 KiB) in 8 groups of 64, a group per batch of socket cookies
 * (netcg_slot): a CPU's storm of connects reuses the 64 slots of one group, which stay in its
 * caches; handshakes in flight at once beyond that share slots and the later ones take the
 * hash. A slot whose tag (the socket's cookie) is 0 is free. The agent clears the table whenever the connect role is
 * switched on (net_mode_roles): a mark left by a program that then stopped seeing its end is
 * not kept. A slot held longer than hws_stale_jiffies (set by the agent: 300 s, above the
 * 127 s a handshake lasts at most with the default tcp_syn_retries) is a mark whose end the
 * kernel skipped (docs/events-net.md, Skipped runs; that loss was announced then): the next
 * connect that wants the slot takes it. hws_blk is an LRU hash for the same reason. */
#define NCG_SLOTS 512
struct ncg_slot {
	__u64 sk;    /* the socket's cookie (bpf_get_socket_cookie); 0: free */
	__u64 since; /* jiffies when it was claimed; 0 while being claimed or given back */
	struct ncg_blk b;
};
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, NCG_SLOTS);
	__type(key, __u32);
	__type(value, struct ncg_slot);
} hws_slot SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, struct ncg_blk);
} hws_blk SEC(".maps");

volatile __u64 hws_stale_jiffies; /* 0: a held slot is never taken */

/* Claim slot sl for the socket whose cookie is ck: a free one, or one held by a stale mark
 * (since, compared and swapped to 0 first, says which of two claimers takes it; a claimer that
 * reads 0 leaves the slot alone). */
static __always_inline bool netcg_claim(struct ncg_slot *sl, __u64 ck)
{
	__u64 now = bpf_jiffies64() | 1, cur = sl->sk, since;

	if (cur) {
		since = sl->since;
		if (!since || !hws_stale_jiffies || now - since <= hws_stale_jiffies ||
		    __sync_val_compare_and_swap(&sl->since, since, 0) != since)
			return false;
		if (__sync_val_compare_and_swap(&sl->sk, cur, ck) != cur)
			return false; /* its end came meanwhile: the slot is free for the next */
	} else if (__sync_val_compare_and_swap(&sl->sk, 0, ck) != 0) {
		return false;
	}
	sl->since = now;
	return true;
}

/* The slot of the socket whose cookie is ck. The cookie, not the socket's address: the verifier
 * allows no arithmetic on a socket pointer, and a cookie is never reused, so a stale mark cannot
 * be taken for a new socket's. The kernel hands cookies out to each CPU in batches of 4096
 * (6,689,515... on one CPU while another counts 6,879,476...), one by one to the sockets that
 * ask: the batch picks one of NCG_GROUPS groups of 64 slots, the low bits the slot in it. A
 * CPU's consecutive connects thus cycle through 64 slots (6.5 KiB that stay in its caches),
 * and two CPUs storming at once most often use different groups. A hash of the cookie spread
 * them over the whole table: each mark was a cache miss, a third of hws_state_btf's samples in
 * a connect storm (perf, bench/netcg.sh). 64 handshakes in flight at once on one CPU before two
 * share a slot (the later one then takes hws_blk). */
#define NCG_GROUP 64
#define NCG_GROUPS (NCG_SLOTS / NCG_GROUP)
static __always_inline struct ncg_slot *netcg_slot(__u64 ck)
{
	__u32 i = (__u32)(((ck >> 12) & (NCG_GROUPS - 1)) * NCG_GROUP + (ck & (NCG_GROUP - 1)));
	return bpf_map_lookup_elem(&hws_slot, &i);
}

/* The accept record is built in softirq: its own per-CPU buffer (see hwn_oscratch). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct net_oscratch);
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

/* The fold window of a kind (ns), 0 when folding is off for it. */
static __always_inline __u64 netcg_window(__u32 kind)
{
	struct hw_net_kcfg *k = bpf_map_lookup_elem(&hwn_cfg, &kind);
	return k ? k->fold_window_ns : 0;
}

/* A TCP connect followed through hwn_pending: non-blocking ones (the EINPROGRESS start is
 * emitted now, the outcome later), and blocking ones when hws_slot and hws_blk are full. */
static __always_inline void netcg_tcp_pending(const struct sock *sk, struct task_struct *t,
					      struct pt_regs *regs, __u16 fam, bool nonblock)
{
	__u64 skey = (__u64)sk;
	struct hw_net *e = net_rec(HW_EV_NET_CONNECT);

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
	if (nonblock) {
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

/* CLOSE -> SYN_SENT inside connect(fd, ...). A blocking connect leaves only a mark (the
 * caller's header and fd) in hws_slot or hws_blk: its one event is decided at the end. */
static __always_inline bool netcg_tcp_start(const struct sock *sk, struct task_struct *t,
					    struct pt_regs *regs)
{
	__u16 fam = sk->__sk_common.skc_family;
	struct socket *so = sk->sk_socket;
	struct hw_net_addr src, dst;
	__u64 skey = (__u64)sk, ck;
	struct ncg_slot *sl;
	struct ncg_blk b;

	if (fam != NET_AF_INET && fam != NET_AF_INET6)
		return false;
	if (hw_filtered(bpf_get_current_pid_tgid() >> 32))
		return false;
	if (so && so->file && (so->file->f_flags & NET_O_NONBLOCK)) {
		netcg_tcp_pending(sk, t, regs, fam, true);
		return false;
	}
	net_sk_addrs_fast((struct sock *)sk, fam, &src, &dst);
	if (net_ignored(HW_NK_CONNECT, &dst, dst.port))
		return false;
	ck = bpf_get_socket_cookie((void *)sk);
	sl = netcg_slot(ck);
	if (sl && netcg_claim(sl, ck)) {
		/* this socket's end cannot run before its start returns: the SYN is sent
		 * after this state change, and its answer waits for the socket's lock */
		net_fill_hdr_who(&sl->b.hdr, t, HW_EV_NET_CONNECT);
		sl->b.fd = NET_FARG1(regs);
		return true;
	}
	net_fill_hdr_who(&b.hdr, t, HW_EV_NET_CONNECT);
	b.hdr.ts = 0; /* set at the end */
	b.fd = NET_FARG1(regs);
	b.pad = 0;
	if (bpf_map_update_elem(&hws_blk, &skey, &b, BPF_ANY) == 0)
		return true;
	netcg_tcp_pending(sk, t, regs, fam, false);
	return false;
}

/* SYN_SENT -> newstate of a socket marked by netcg_tcp_start: a repeat within its key's fold
 * window is counted, anything else emitted (and opens a window). Returns false when the socket
 * carries no mark (the caller then looks for a pending record). */
static __always_inline bool netcg_tcp_end(const struct sock *sk, int newstate)
{
	__u64 skey = (__u64)sk, ck = bpf_get_socket_cookie((void *)sk);
	struct ncg_slot *sl = netcg_slot(ck);
	struct ncg_blk *b = NULL;
	__u16 fam = sk->__sk_common.skc_family;
	struct hw_net_fold_key k;
	struct net_oscratch *o;
	__u64 now, window;
	__u32 zero = 0;
	struct hw_net *e;

	if (!(sl && sl->sk == ck) && !(b = bpf_map_lookup_elem(&hws_blk, &skey)))
		return false;
	if (newstate != NET_TCP_ESTABLISHED && newstate != NET_TCP_CLOSE)
		return true; /* simultaneous open (SYN_RECV): wait for the end */
	o = bpf_map_lookup_elem(&hwn_oscratch, &zero);
	if (!o) {
		if (b) {
			bpf_map_delete_elem(&hws_blk, &skey);
		} else if (sl) {
			sl->since = 0;
			__sync_lock_test_and_set(&sl->sk, 0);
		}
		hw_count_drop(HW_EV_NET_CONNECT, HW_DROP_SCRATCH);
		return true;
	}
	e = &o->rec;
	/* copied out first: the slot or element is reused once given back */
	if (b) {
		__builtin_memcpy(&e->hdr, &b->hdr, sizeof(e->hdr));
		e->fd = b->fd;
		if (bpf_map_delete_elem(&hws_blk, &skey))
			return true; /* another CPU ended it (cannot happen: the socket's lock) */
	} else if (sl) {
		__builtin_memcpy(&e->hdr, &sl->b.hdr, sizeof(e->hdr));
		e->fd = sl->b.fd;
		sl->since = 0;
		__sync_lock_test_and_set(&sl->sk, 0);
	}
	/* the handshake has ended: the local port is chosen; a failed connect still holds the
	 * destination asked for (cleared only after this state change) */
	net_sk_addrs_fast((struct sock *)sk, fam, &e->src, &e->dst);
	e->result = net_outcome_result(sk, newstate, true);
	e->protocol = NET_IPPROTO_TCP;
	window = netcg_window(HW_NK_CONNECT);
	if (window) {
		net_fold_key_conn(&k, e);
		if (net_fold_hit(&k, window))
			return true;
	}
	e->hdr.ts = now = bpf_ktime_get_boot_ns();
	e->family = fam;
	e->type = sk->sk_type;
	e->syscall = HW_NET_SC_CONNECT;
	e->nflags = e->result ? HW_NET_F_DST_FROM_USER : 0;
	net_rec_single(e);
	e->netns = net_sk_netns(sk, true);
	if (window && net_fold_k(e, &o->nv, &k, window))
		return true;
	hw_submit(e, sizeof(*e), false);
	return true;
}

/* CLOSE -> LISTEN, in listen() (or a kernel socket's kernel_listen): who listens. A live
 * listener already recorded on the same port (SO_REUSEPORT; a failed listen() on a port in
 * use) keeps its entry; one seeded by the agent (sk 0) is replaced. */
static __always_inline void netcg_listen(const struct sock *sk)
{
	struct task_struct *t = bpf_get_current_task_btf();
	struct pt_regs *regs = net_regs(t);
	struct hw_net_lsn_key k = {
		.netns = net_sk_netns(sk, true),
		.port = sk->__sk_common.skc_num,
	};
	struct hw_net_owner *cur = bpf_map_lookup_elem(&hws_lsn, &k), o;

	if (cur && cur->sk && cur->sk != (__u64)sk)
		return;
	__builtin_memset(&o, 0, sizeof(o));
	net_fill_hdr_fast(&o.hdr, t, HW_EV_NET_ACCEPT);
	o.fd = HW_REG_NR(regs) == HW_NR_LISTEN ? (__s32)NET_FARG1(regs) : -1;
	o.filtered = hw_filtered(o.hdr.pid);
	o.sk = (__u64)sk;
	if (bpf_map_update_elem(&hws_lsn, &k, &o, BPF_ANY))
		hw_count_drop(HW_EV_NET_ACCEPT, HW_DROP_NO_OWNER); /* its accepts will be too */
}

/* LISTEN -> CLOSE: the recorded listener is gone. */
static __always_inline void netcg_unlisten(const struct sock *sk)
{
	struct hw_net_lsn_key k = {
		.netns = net_sk_netns(sk, true),
		.port = sk->__sk_common.skc_num,
	};
	struct hw_net_owner *cur = bpf_map_lookup_elem(&hws_lsn, &k);

	if (cur && cur->sk == (__u64)sk)
		bpf_map_delete_elem(&hws_lsn, &k);
}

/* SYN_RECV -> ESTABLISHED of a connection a listener created: the accept, blamed on the owner
 * of the listener of its namespace and local port; a repeat of (owner, peer address, local
 * port) within the accept fold window is counted only. */
static __always_inline void netcg_accept(const struct sock *sk)
{
	__u16 fam = sk->__sk_common.skc_family;
	struct hw_net_lsn_key lk;
	struct hw_net_fold_key k;
	struct hw_net_owner *o;
	struct net_oscratch *s;
	__u64 now, window;
	__u32 zero = 0;
	struct hw_net *e;

	if (fam != NET_AF_INET && fam != NET_AF_INET6)
		return;
	lk.netns = net_sk_netns(sk, true);
	lk.port = sk->__sk_common.skc_num;
	lk.pad = 0;
	o = bpf_map_lookup_elem(&hws_lsn, &lk);
	if (!o) {
		/* a listener older than the agent that the agent could not seed: counted */
		hw_count_drop(HW_EV_NET_ACCEPT, HW_DROP_NO_OWNER);
		return;
	}
	if (o->filtered || hw_pid_ignored(o->hdr.pid))
		return;
	s = bpf_map_lookup_elem(&hws_ascratch, &zero);
	if (!s) {
		hw_count_drop(HW_EV_NET_ACCEPT, HW_DROP_SCRATCH);
		return;
	}
	e = &s->rec;
	net_sk_addrs_fast((struct sock *)sk, fam, &e->src, &e->dst);
	if (net_ignored(HW_NK_ACCEPT, &e->dst, e->src.port))
		return;
	window = netcg_window(HW_NK_ACCEPT);
	if (window) {
		k.tgid = o->hdr.pid;
		k.result = 0;
		k.dport = e->src.port;
		k.family = e->dst.family;
		k.protocol = sk->sk_protocol;
		k.kind = HW_NK_ACCEPT;
		__builtin_memcpy(k.daddr, e->dst.addr, 16);
		if (net_fold_hit(&k, window))
			return;
	}
	now = bpf_ktime_get_boot_ns();
	__builtin_memcpy(&e->hdr, &o->hdr, sizeof(e->hdr));
	e->hdr.type = HW_EV_NET_ACCEPT;
	e->hdr.flags = 0;
	e->hdr.ts = now;
	e->result = 0;
	e->fd = -1;
	e->family = fam;
	e->protocol = sk->sk_protocol;
	e->type = sk->sk_type;
	e->syscall = 0;
	e->nflags = HW_NET_F_LISTENER;
	net_rec_single(e);
	e->netns = lk.netns;
	if (window && net_fold_k(e, &s->nv, &k, window))
		return;
	hw_submit(e, sizeof(*e), false);
}

/* The roles hws_state_btf plays, set by the agent (agent/net_mode.c, net_mode_roles) from
 * which of net.connect and net.accept are attached on socket hooks: one program on the
 * tracepoint serves both probes, so that each state change runs one program, not two. */
volatile __u32 hws_roles;
#define NCG_ROLE_CONNECT 1
#define NCG_ROLE_ACCEPT 2

/* CLOSE -> SYN_SENT: a connect begins. In connect() it is marked (or followed through
 * hwn_pending); elsewhere (io_uring) net_do_state registers it. */
static __always_inline void netcg_syn_sent(const struct sock *sk)
{
	struct task_struct *t = bpf_get_current_task_btf();
	struct pt_regs *regs = net_regs(t);
	__u64 skey = (__u64)sk;

	if (HW_REG_NR(regs) == HW_NR_CONNECT && netcg_tcp_start(sk, t, regs))
		return;
	/* not marked now: a mark left in hws_blk under this address (a socket freed while the
	 * program was detached) must not take this socket's end */
	bpf_map_delete_elem(&hws_blk, &skey);
	if (HW_REG_NR(regs) != HW_NR_CONNECT)
		net_do_state(sk, NET_TCP_CLOSE, NET_TCP_SYN_SENT, true);
}

/*
 * sock:inet_sock_set_state, at every TCP state change of every socket (6 per loopback
 * connect + accept + reset: CLOSE -> SYN_SENT and SYN_SENT -> ESTABLISHED of the client,
 * LISTEN -> SYN_RECV and SYN_RECV -> ESTABLISHED of the accepted child, ESTABLISHED -> CLOSE of
 * each). The state pair is tested first, with nothing loaded or called before it: the
 * transitions of an established connection's life and end (most of them on a busy host) leave
 * after two compares.
 */
SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(hws_state_btf, const struct sock *sk, const int oldstate, const int newstate)
{
	switch (oldstate) {
	case NET_TCP_CLOSE:
		if (newstate == NET_TCP_SYN_SENT && (hws_roles & NCG_ROLE_CONNECT))
			netcg_syn_sent(sk);
		else if (newstate == NET_TCP_LISTEN && (hws_roles & NCG_ROLE_ACCEPT))
			netcg_listen(sk);
		break;
	case NET_TCP_SYN_SENT:
		if ((hws_roles & NCG_ROLE_CONNECT) && !netcg_tcp_end(sk, newstate))
			net_do_state(sk, oldstate, newstate, true); /* followed by hwn_pending */
		break;
	case NET_TCP_SYN_RECV:
		if (newstate == NET_TCP_ESTABLISHED && (hws_roles & NCG_ROLE_ACCEPT))
			netcg_accept(sk);
		break;
	case NET_TCP_LISTEN:
		if (newstate == NET_TCP_CLOSE && (hws_roles & NCG_ROLE_ACCEPT))
			netcg_unlisten(sk);
		break;
	}
	return 0;
}
