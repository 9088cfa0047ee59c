/* SPDX-License-Identifier: GPL-2.0 */
/*
 * quar.bpf.c - network quarantine, enforced by cgroup hooks (docs/control.md, "ctl
 * quarantine"). The agent attaches these six programs to a quarantined cgroup (through links
 * pinned in bpffs, so they stay attached when the agent dies) and records the quarantine in
 * hwq_cgroups (common/abi_quar.h). For a socket of that cgroup or of any cgroup below it:
 *   connect4/connect6   a new connection (TCP, connected UDP) is refused (EPERM) unless it
 *                       goes to an allowed endpoint (the collector) or, with the loopback
 *                       flag, to loopback;
 *   sendmsg4/sendmsg6   the same for datagrams sent to an explicit address;
 *   egress/ingress      packets of sockets that existed before the quarantine (and of
 *                       listeners: an incoming connection) are dropped, with the same
 *                       exceptions for the packet's peer.
 * The deadline is checked here against CLOCK_BOOTTIME: once it has passed, everything goes
 * through again, agent or no agent. The programs always let a packet through when they find
 * no live entry (released, expired): links left behind cost one map lookup per level.
 */
#include "hw.bpf.h"

#define HW_ETH_P_IP 0x0800
#define HW_ETH_P_IPV6 0x86DD

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, HW_QUAR_MAX);
	__type(key, __u64);
	__type(value, struct hw_quar_entry);
} hwq_cgroups SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, HW_QUAR_ALLOW_MAX);
	__type(key, struct hw_quar_ep);
	__type(value, __u8);
} hwq_allow SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct hw_quar_conf);
} hwq_conf SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, HW_QUAR_ST_N);
	__type(key, __u32);
	__type(value, __u64);
} hwq_stats SEC(".maps");

static __always_inline void quar_count(__u32 what)
{
	__u64 *n = bpf_map_lookup_elem(&hwq_stats, &what);
	if (n)
		(*n)++;
}

/* The live quarantine of cgroup `id`, if any. */
static __always_inline struct hw_quar_entry *quar_live(__u64 id, __u64 now)
{
	struct hw_quar_entry *e = bpf_map_lookup_elem(&hwq_cgroups, &id);
	return e && now < e->deadline_ns ? e : NULL;
}

static __always_inline bool quar_ep_ok(const struct hw_quar_entry *e, const struct hw_quar_ep *ep)
{
	if (e->flags & HW_QUAR_F_LOOPBACK) {
		bool v4lo = ep->addr[10] == 0xff && ep->addr[11] == 0xff && ep->addr[12] == 127;
		bool v6lo = ep->addr[15] == 1;
		for (int i = 0; i < 15 && v6lo; i++)
			if (ep->addr[i])
				v6lo = false;
		if (v4lo || v6lo)
			return true;
	}
	return bpf_map_lookup_elem(&hwq_allow, ep) != NULL;
}

/* ---- connect and sendmsg: the current task's cgroup, the address it names ---- */

static __always_inline struct hw_quar_entry *quar_current(void)
{
	__u64 now = bpf_ktime_get_boot_ns();
	for (int lvl = 0; lvl < HW_QUAR_LEVELS; lvl++) {
		__u64 id = bpf_get_current_ancestor_cgroup_id(lvl);
		if (!id)
			break;
		struct hw_quar_entry *e = quar_live(id, now);
		if (e)
			return e;
	}
	return NULL;
}

static __always_inline int quar_sock_addr(struct bpf_sock_addr *ctx, bool v6, __u32 stat)
{
	struct hw_quar_entry *e = quar_current();
	if (!e)
		return 1;
	__u32 zero = 0;
	struct hw_quar_conf *c = bpf_map_lookup_elem(&hwq_conf, &zero);
	if (c && c->agent_tgid && (bpf_get_current_pid_tgid() >> 32) == c->agent_tgid)
		return 1; /* the agent itself (a host quarantine) */
	struct hw_quar_ep ep = {};
	if (v6) {
		__u32 a[4] = {ctx->user_ip6[0], ctx->user_ip6[1], ctx->user_ip6[2],
			      ctx->user_ip6[3]};
		__builtin_memcpy(ep.addr, a, 16);
	} else {
		__u32 a4 = ctx->user_ip4;
		ep.addr[10] = 0xff;
		ep.addr[11] = 0xff;
		__builtin_memcpy(&ep.addr[12], &a4, 4);
	}
	ep.port = (__u16)ctx->user_port;
	if (quar_ep_ok(e, &ep))
		return 1;
	quar_count(stat);
	return 0;
}

SEC("cgroup/connect4")
int hwq_conn4_cg(struct bpf_sock_addr *ctx)
{
	return quar_sock_addr(ctx, false, HW_QUAR_ST_CONNECT);
}

SEC("cgroup/connect6")
int hwq_conn6_cg(struct bpf_sock_addr *ctx)
{
	return quar_sock_addr(ctx, true, HW_QUAR_ST_CONNECT);
}

SEC("cgroup/sendmsg4")
int hwq_send4_cg(struct bpf_sock_addr *ctx)
{
	return quar_sock_addr(ctx, false, HW_QUAR_ST_SENDMSG);
}

SEC("cgroup/sendmsg6")
int hwq_send6_cg(struct bpf_sock_addr *ctx)
{
	return quar_sock_addr(ctx, true, HW_QUAR_ST_SENDMSG);
}

/* ---- packets: the socket's cgroup, the packet's peer (destination out, source in) ---- */

static __always_inline int quar_skb(struct __sk_buff *skb, bool egress)
{
	__u64 now = bpf_ktime_get_boot_ns();
	struct hw_quar_entry *e = NULL;
	for (int lvl = 0; lvl < HW_QUAR_LEVELS && !e; lvl++) {
		__u64 id = bpf_skb_ancestor_cgroup_id(skb, lvl);
		if (!id)
			break;
		e = quar_live(id, now);
	}
	if (!e)
		return 1;
	struct hw_quar_ep ep = {};
	__u8 proto = 0;
	__u32 l4 = 0;
	if (skb->protocol == bpf_htons(HW_ETH_P_IP)) {
		__u8 h[20];
		if (bpf_skb_load_bytes(skb, 0, h, sizeof(h)))
			goto drop;
		ep.addr[10] = 0xff;
		ep.addr[11] = 0xff;
		__builtin_memcpy(&ep.addr[12], egress ? &h[16] : &h[12], 4);
		proto = h[9];
		l4 = (h[0] & 0xf) * 4;
	} else if (skb->protocol == bpf_htons(HW_ETH_P_IPV6)) {
		__u8 h[40];
		if (bpf_skb_load_bytes(skb, 0, h, sizeof(h)))
			goto drop;
		__builtin_memcpy(ep.addr, egress ? &h[24] : &h[8], 16);
		proto = h[6]; /* extension headers are not followed: such packets have no port */
		l4 = 40;
	}
	if (proto == IPPROTO_TCP || proto == IPPROTO_UDP) {
		__u16 ports[2];
		if (l4 < 20 || l4 > 60 || bpf_skb_load_bytes(skb, l4, ports, sizeof(ports)))
			goto drop;
		ep.port = egress ? ports[1] : ports[0];
	}
	if (quar_ep_ok(e, &ep))
		return 1;
drop:
	quar_count(egress ? HW_QUAR_ST_EGRESS : HW_QUAR_ST_INGRESS);
	return 0;
}

SEC("cgroup_skb/egress")
int hwq_egress_skb(struct __sk_buff *skb)
{
	return quar_skb(skb, true);
}

SEC("cgroup_skb/ingress")
int hwq_ingress_skb(struct __sk_buff *skb)
{
	return quar_skb(skb, false);
}
