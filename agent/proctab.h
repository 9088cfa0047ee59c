/* proctab.h - the agent's process table: pid -> identity, exe, argv, cwd, lineage.
 *
 * Seeded from /proc at start so processes older than the agent have parents and ancestors;
 * kept current from fork/exec/exit records; an entry is freed when its process exits.
 * Memory is bounded: argv kept for lineage is capped at PT_ARGS_KEEP bytes per process (the
 * exec event itself carries the full argv), and the table holds at most PT_MAX entries (the
 * oldest-started entries of processes that are gone are evicted first when full).
 */
#ifndef HW_PROCTAB_H
#define HW_PROCTAB_H
#include <stdint.h>
#include <stddef.h>
#include <stdbool.h>

#define PT_ARGS_KEEP 1024
#define PT_MAX 262144

struct proc {
	struct proc *next; /* hash chain */
	uint32_t pid, ppid;
	uint64_t start_ticks; /* clock ticks since boot, as in /proc/PID/stat field 22 */
	uint64_t cgroup_id;
	char *exe;
	char *args; /* NUL-separated, args_len bytes */
	uint32_t args_len;
	char *cwd;
	char *tty;
	bool ignored; /* matched filters.ignore_exe */
	bool euid_known; /* euid below was seen in an event (fork, exec, cred_change) */
	uint32_t euid;   /* for exec.old_euid */
	/* Version of the identity above: a new, table-unique value at every proctab_put (fork,
	 * exec, seeding). A change of exe/args/cwd/tty/ppid outside of a put must call
	 * proc_touch(). */
	uint64_t ver;
	uint32_t nevents;
	struct proc_cache *cache; /* from its second event on (see emit_proc) */
};

/* Bytes held by all proc_cache objects (structs, JSON, chains): new caches are not made, and
 * existing ones not grown, beyond PT_CACHE_BUDGET. */
#define PT_CACHE_BUDGET (8u << 20)
extern size_t proctab_cache_bytes;

/* Pieces of a process's event JSON formatted once and reused (emit_proc):
 * - ctx: from "exe" to the end of "ancestors", valid while the versions of the process, its
 *   parent and its ancestors (chain), its cgroup and the config are unchanged;
 * - head: from "ppid" to "comm" (after pid and tid), valid while the event's ids and comm equal
 *   head_ids and the entry's version is head_ver: threads share it. */
struct proc_cache {
	char *ctx;
	uint32_t ctx_len, nchain, ctx_ppid;
	uint64_t *chain;
	uint64_t ctx_cg, ctx_cfg;
	char *head;
	uint32_t head_len;
	uint64_t head_ver;
	struct proc_head_ids {
		uint32_t ppid, uid, gid, euid, egid, auid;
		char comm[16];
	} head_ids;
};

extern uint64_t proctab_ver;
static inline void proc_touch(struct proc *p)
{
	p->ver = ++proctab_ver;
}

struct proctab {
	struct proc **buckets;
	size_t nbuckets;
	size_t count;
	uint64_t evicted;
};

int proctab_init(struct proctab *t);
void proctab_free(struct proctab *t);
struct proc *proctab_get(struct proctab *t, uint32_t pid);
/* Create or reset the entry for pid (fields freed and zeroed, pid set). NULL on OOM. */
struct proc *proctab_put(struct proctab *t, uint32_t pid);
void proctab_del(struct proctab *t, uint32_t pid);
/* Copy the inheritable parts of parent into child (fork). */
int proc_inherit(struct proc *child, const struct proc *parent);
int proc_set_str(char **dst, const char *s, size_t n);
int proc_set_args(struct proc *p, const char *args, size_t n);
/* Read one process from /proc (root may be "/proc" or a test directory). */
int proctab_load_pid(struct proctab *t, const char *procroot, uint32_t pid);
/* Seed from every numeric entry in procroot; returns the number of processes loaded. */
int proctab_seed(struct proctab *t, const char *procroot);
/* Approximate bytes used by the table (for tests and the heartbeat). */
size_t proctab_bytes(const struct proctab *t);

#endif
