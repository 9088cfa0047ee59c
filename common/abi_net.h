/* abi_net.h - record layouts of the net probe family (included by hw_abi.h).
 *
 * One record layout (struct hw_net) serves connect, accept, listen, bind and socket; DNS
 * queries carry the first bytes of the query message (struct hw_net_dns) and are parsed in
 * the agent, never in the kernel. Addresses are stored as 16 bytes in network order: IPv4 in
 * the first 4 bytes (family HW_NET_AF_INET), IPv6 (and v4-mapped IPv6) as is.
 */
#ifndef HW_ABI_NET_H
#define HW_ABI_NET_H

/* Kinds as indexes of the per-kind filter settings (struct hw_net_kcfg). */
enum hw_net_kind {
	HW_NK_CONNECT = 0,
	HW_NK_ACCEPT = 1,
	HW_NK_LISTEN = 2,
	HW_NK_BIND = 3,
	HW_NK_DNS = 4,
	HW_NK_N = 5,
};

/* Address families as in the kernel (AF_INET, AF_INET6, AF_PACKET). */
#define HW_NET_AF_INET 2
#define HW_NET_AF_INET6 10
#define HW_NET_AF_PACKET 17

struct hw_net_addr {
	__u8 addr[16]; /* network order; IPv4 in addr[0..3] */
	__u16 port;    /* host order */
	__u16 family;  /* HW_NET_AF_INET / HW_NET_AF_INET6, 0 = unknown */
	__u32 pad;
};
_Static_assert(sizeof(struct hw_net_addr) == 24, "hw_net_addr layout");

/* Which syscall produced the record. */
enum hw_net_syscall {
	HW_NET_SC_CONNECT = 1,
	HW_NET_SC_ACCEPT = 2,
	HW_NET_SC_ACCEPT4 = 3,
	HW_NET_SC_LISTEN = 4,
	HW_NET_SC_BIND = 5,
	HW_NET_SC_SOCKET = 6,
	HW_NET_SC_SENDTO = 7,
	HW_NET_SC_SENDMSG = 8,
	HW_NET_SC_SENDMMSG = 9,
	HW_NET_SC_WRITE = 10,
	HW_NET_SC_OTHER = 11,
	HW_NET_SC_IO_URING = 12, /* connect issued through io_uring (outcome record only) */
	HW_NET_SC_READ = 13,     /* read, readv (DNS answers) */
	HW_NET_SC_RECVFROM = 14,
	HW_NET_SC_RECVMSG = 15,
	HW_NET_SC_RECVMMSG = 16,
};

/* hw_net.nflags */
#define HW_NET_F_DST_FROM_USER (1u << 0) /* dst read from the caller's sockaddr (failed call) */
#define HW_NET_F_SRC_FROM_USER (1u << 1) /* src read from the caller's sockaddr (failed bind) */
#define HW_NET_F_SUMMARY (1u << 2)       /* folded connects: count = repeats after the first */
#define HW_NET_F_PENDING (1u << 3)       /* connect returned -EINPROGRESS: an outcome follows */
#define HW_NET_F_OUTCOME                                                                           \
	(1u << 4)                    /* final result of a connect that did not complete in
					  * the call (non-blocking, io_uring) */
#define HW_NET_F_FOLD_FULL (1u << 5) /* folding wanted, fold map full: emitted unfolded */
#define HW_NET_F_LISTENER                                                                          \
	(1u << 6) /* accept seen at the handshake's end (socket hooks), blamed on the process that
		   * made the socket listen (struct hw_net_owner); fd -1, no syscall */

/* connect, accept, listen, bind, socket. src is always the local end, dst the remote end. */
struct hw_net {
	struct hw_hdr hdr;
	struct hw_net_addr src;
	struct hw_net_addr dst;
	__s32 result;    /* 0 or -errno (connect: -EINPROGRESS for a non-blocking start) */
	__s32 fd;        /* the socket (accept: the new socket); -1 unknown */
	__u16 family;    /* socket family (AF_*) */
	__u16 protocol;  /* IPPROTO_* of the socket (socket(): the requested protocol) */
	__u32 type;      /* socket type with flags as passed (SOCK_STREAM, SOCK_RAW | ...) */
	__u16 syscall;   /* enum hw_net_syscall */
	__u16 nflags;    /* HW_NET_F_* */
	__u32 backlog;   /* listen(): backlog argument */
	__u64 count;     /* folded records: connects counted in the window; else 1 */
	__u64 window_ns; /* folded records: length of the window */
	__u32 netns;     /* inode number of the socket's network namespace; 0 unknown */
	__u32 pad2;
	__u64 start_ts; /* outcome records: CLOCK_BOOTTIME ns when the connect was issued */
};
_Static_assert(sizeof(struct hw_net) == 184, "hw_net layout");

/* Bytes of a DNS message captured: the classic UDP limit (512). Enough for the question of
 * any valid query and for the answer records of an ordinary answer (a dozen addresses, a CNAME
 * chain); the agent reports an answer cut at this size as "cut", never as malformed. */
#define HW_DNS_CAP 512

/* hw_net_dns.dflags */
#define HW_NET_DNS_F_ANSWER (1u << 0) /* a message received from the server (an answer) */

struct hw_net_dns {
	struct hw_hdr hdr;
	struct hw_net_addr server; /* where the query goes (answers: where it came from) */
	struct hw_net_addr src;    /* local end, when known */
	__s32 result;              /* bytes sent (received) or -errno, from the socket layer */
	__u16 protocol;            /* IPPROTO_UDP / IPPROTO_TCP */
	__u16 syscall;             /* enum hw_net_syscall */
	__u32 msg_len; /* bytes the caller passed (answers: received) for this message */
	__u16 cap_len; /* bytes in msg[] */
	__u16 dflags;  /* HW_NET_DNS_F_* */
	__u32 netns;   /* inode number of the socket's network namespace; 0 unknown */
	__u32 pad2;
	__u8 msg[HW_DNS_CAP];
};
_Static_assert(sizeof(struct hw_net_dns) == 152 + HW_DNS_CAP, "hw_net_dns layout");

/* Folding map (hwn_fold, hash, never evicts): one entry per (kind, process, address, port,
 * result): connect: the connecting process, the destination and its port; accept (socket
 * hooks): the listener's owner, the peer's address and the local (service) port. The kernel
 * emits the first event and counts repeats within the window; the agent emits the count as a
 * summary (HW_NET_F_SUMMARY) once the window is over and deletes the entry. When the map is
 * full an event is emitted unfolded (HW_NET_F_FOLD_FULL): no count is ever lost to eviction. */
struct hw_net_fold_key {
	__u32 tgid;
	__s32 result;
	__u16 dport; /* connect: remote port; accept: local port */
	__u16 family;
	__u16 protocol;
	__u16 kind; /* HW_NK_CONNECT or HW_NK_ACCEPT */
	__u8 daddr[16];
};
_Static_assert(sizeof(struct hw_net_fold_key) == 32, "hw_net_fold_key layout");

struct hw_net_fold_val {
	__u64 start;       /* CLOCK_BOOTTIME ns of the emitted first event of the window */
	__u64 suppressed;  /* events counted, not emitted, since */
	struct hw_net rec; /* the first event (rec.window_ns: the window) */
};
_Static_assert(sizeof(struct hw_net_fold_val) == 16 + sizeof(struct hw_net), "hw_net_fold_val");

/* Socket-hook mode (bpf/net_cg.bpf.c): who made a TCP socket listen, in the hash map
 * hws_lsn by (network namespace, local port): the accepted connection's socket has the same
 * two, so no per-connection copy is made. The agent writes it too, for sockets that were
 * listening before it started (agent/net_mode.c). */
struct hw_net_lsn_key {
	__u32 netns; /* inode number of the listener's network namespace */
	__u16 port;  /* local port, host order */
	__u16 pad;
};
_Static_assert(sizeof(struct hw_net_lsn_key) == 8, "hw_net_lsn_key layout");

struct hw_net_owner {
	struct hw_hdr hdr; /* the listening process as listen() found it; type/ts unused */
	__s32 fd;          /* its descriptor of the listening socket; -1 unknown */
	__u8 filtered;     /* filters.ignore_* matched the owner: its accepts are not events */
	__u8 seeded;       /* written by the agent at start (listener older than the agent) */
	__u16 pad;
	__u64 sk; /* the listening socket (kernel address, as an id): its close removes the entry;
		   * 0 when seeded by the agent */
};

/* Per-kind filters, one element of the hwn_cfg array map per enum hw_net_kind. */
#define HW_NET_MAX_PORTS 16
struct hw_net_kcfg {
	__u8 ignore_loopback; /* drop events whose remote (bind/listen: local) address is loopback */
	__u8 has_cidrs;       /* consult hwn_cidr */
	__u16 nports;
	__u32 pad;
	__u64 fold_window_ns;          /* connect, accept: 0 = every event is emitted */
	__u16 ports[HW_NET_MAX_PORTS]; /* ignored service ports (connect/dns: remote; else local) */
};
_Static_assert(sizeof(struct hw_net_kcfg) == 48, "hw_net_kcfg layout");

/* Key of the hwn_cidr LPM trie: kind and family (16 bits) then the address. */
struct hw_net_cidr_key {
	__u32 prefixlen; /* 16 + prefix bits */
	__u8 kind;       /* enum hw_net_kind */
	__u8 family;     /* 4 or 6 */
	__u8 addr[16];
};

#endif
