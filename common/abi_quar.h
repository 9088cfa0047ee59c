/* abi_quar.h - network quarantine: what the agent and the cgroup BPF hooks (bpf/quar.bpf.c)
 * share through maps pinned in bpffs, so that a quarantine outlives the agent that made it.
 *
 * hwq_cgroups (hash, key: cgroup id, the inode number of the cgroup v2 directory): one entry per
 * quarantined cgroup (a cgroup named by the operator, the cgroup the agent made for a process
 * tree, or the root cgroup for the whole host). The hooks, attached to that cgroup, find the
 * entry of the socket's cgroup or of one of its ancestors; past deadline_ns (CLOCK_BOOTTIME,
 * so suspend and wall-clock steps change nothing) an entry no longer blocks anything, even
 * when no agent runs to remove it. The rest of the entry is the agent's record of what it did
 * (a new agent adopts the quarantine from it); the programs read deadline_ns and flags only.
 *
 * hwq_allow (hash, key: struct hw_quar_ep): the remote endpoints a quarantined socket may
 * still talk to (the collector's addresses). hwq_conf[0]: the agent's tgid (its own
 * connects are never refused). hwq_stats (per-CPU array): what the hooks refused, by
 * hook. Layout changes take new map names (the agent refuses to reuse a pinned map whose
 * sizes differ). */
#ifndef HW_ABI_QUAR_H
#define HW_ABI_QUAR_H

#define HW_QUAR_MAX 64    /* quarantines at once */
#define HW_QUAR_LEVELS 32 /* cgroup depth searched for an entry */
#define HW_QUAR_ALLOW_MAX 16
#define HW_QUAR_PATH 200

enum hw_quar_kind {
	HW_QUAR_CGROUP = 1,  /* a cgroup named by its path */
	HW_QUAR_PROCESS = 2, /* a process tree, moved into a cgroup the agent made */
	HW_QUAR_HOST = 3,    /* the root cgroup: every process but the agent */
};

#define HW_QUAR_F_LOOPBACK 1 /* loopback traffic (127.0.0.0/8, ::1) is let through */

struct hw_quar_entry {
	__u64 deadline_ns; /* CLOCK_BOOTTIME */
	__u64 since_ns;    /* CLOCK_BOOTTIME, when it was made */
	__u32 kind;        /* enum hw_quar_kind */
	__u32 flags;       /* HW_QUAR_F_* */
	__u32 pid;         /* HW_QUAR_PROCESS: the root of the tree */
	__u32 _pad;
	__u64 pid_start;           /* its start time, clock ticks since boot */
	char cgroup[HW_QUAR_PATH]; /* the cgroup, relative to the cgroup v2 root */
	char target[64];           /* as it was named (pid, process key, path, host) */
};
_Static_assert(sizeof(struct hw_quar_entry) == 304, "hw_quar_entry layout");

/* an IPv4 address is held as ::ffff:a.b.c.d; port in network byte order */
struct hw_quar_ep {
	__u8 addr[16];
	__u16 port;
	__u16 _pad;
};
_Static_assert(sizeof(struct hw_quar_ep) == 20, "hw_quar_ep layout");

struct hw_quar_conf {
	__u32 agent_tgid;
	__u32 _pad;
};

enum hw_quar_stat {
	HW_QUAR_ST_CONNECT = 0, /* connect4/6 refused */
	HW_QUAR_ST_SENDMSG = 1, /* sendmsg4/6 (unconnected UDP) refused */
	HW_QUAR_ST_EGRESS = 2,  /* packets of existing sockets dropped on the way out */
	HW_QUAR_ST_INGRESS = 3, /* and on the way in */
	HW_QUAR_ST_N = 4,
};

#endif /* HW_ABI_QUAR_H */
