/* proctab.h - the agent's process table: pid -> identity, exe, argv, cwd, lineage.
 *
 * Seeded from /proc at start so processes older than the agent have parents and ancestors;
 * kept current from fork/exec/exit records; an entry is freed when its process exits.
 * Memory is bounded: argv kept for lineage is capped at PT_ARGS_KEEP bytes per process (the
 * exec event itself carries the argv of its record, up to args_max_bytes; a table copy that is
 * not the whole argv is marked args_cut, reported as args_truncated), and the table holds at
 * most PT_MAX entries and PT_BYTES_BUDGET bytes of entries and strings. When full, entries of
 * processes that are gone are freed first (a reconciliation pass, then a sampled eviction that
 * prefers dead processes and then the oldest-started); each dropped live entry counts in
 * `evicted`.
 *
 * Exit records are not enough to free every entry: processes in ignored cgroups or of ignored
 * executables make none, and records can be lost. proctab_maintain() therefore reconciles the
 * table with /proc every PT_REAP_MS (HW_PROCTAB_REAP_MS overrides it) or as soon as the table
 * has doubled since the last pass: it frees entries whose pid is gone (kill(pid, 0), cheap) and
 * checks the start time of a bounded slice of the others (pid reuse), counting them in `reaped`.
 * An entry found gone by such a pass is only marked; the next pass frees it if it is still
 * there. The process's exit record may still be in the ring buffer when the pass runs (the
 * process exited and was waited for after the last read): freed at once, its process.exit
 * would lose its exe, args and lineage.
 */
#ifndef HW_PROCTAB_H
#define HW_PROCTAB_H
#include <stdint.h>
#include <stddef.h>
#include <stdbool.h>

#define PT_ARGS_KEEP 1024
/* 65,536 entries, and at most 16 MiB for entries and their strings (the context caches of
 * emit_proc have their own bound, under 2 MiB): with the agent's ~6 MiB of code and buffers
 * this keeps the RSS under 32 MiB even when the table is full; 10,000 live processes take
 * ~4 MiB. */
#define PT_MAX 65536
#define PT_BYTES_BUDGET (16u << 20)
#define PT_REAP_MS 60000
/* start times read (from /proc/PID/stat, ~20 us each) per reconciliation pass */
#define PT_VERIFY_PER_PASS 256

struct proc {
	struct proc *next; /* hash chain */
	uint32_t pid, ppid;
	uint64_t start_ticks; /* clock ticks since boot, as in /proc/PID/stat field 22 */
	uint64_t cgroup_id;
	/* Strings (pstr below): shared with the parent after a fork and kept across an exec that
	 * does not change them. */
	char *exe;
	char *args; /* NUL-separated, args_len bytes */
	uint32_t args_len;
	bool args_cut; /* args is not the whole argv: cut here (PT_ARGS_KEEP) or in the kernel */
	char *cwd;
	char *tty;
	bool ignored;    /* matched filters.ignore_exe */
	bool euid_known; /* euid below was seen in an event (fork, exec, cred_change) */
	/* In the lineage (parent or ancestor) of a cached "parent" + "ancestors" fragment
	 * (emit_proc): a change to this entry makes proctab_lineage_gen move. */
	bool lineage;
	bool gone;     /* found gone by proctab_maintain's last pass: freed by the next */
	uint32_t euid; /* for exec.old_euid */
	uint32_t egid; /* for exec.old_egid (known with euid) */
	/* Version of the identity above: a new, table-unique value at every proctab_put (fork,
	 * exec, seeding). A change of exe/args/cwd/tty/ppid/start_ticks outside of a put must
	 * call proc_touch(). */
	uint64_t ver;
};

/* The strings of entries: immutable, reference-counted, with their length (the string itself
 * is NUL-terminated too). */
struct pstr {
	uint32_t ref, len;
	char s[];
};
static inline size_t pstr_len(const char *s)
{
	return s ? ((const struct pstr *)(s - sizeof(struct pstr)))->len : 0;
}
/* one more reference to s (NULL stays NULL) */
char *pstr_ref(char *s);
/* drop a reference to s (NULL: nothing) */
void pstr_put(char *s);
/* make *slot a reference to s, dropping the one it held */
void pstr_set(char **slot, char *s);

extern uint64_t proctab_ver;
/* Moves when an entry marked `lineage` is reset, deleted or touched: the cached lineage
 * fragments (emit_proc) made before are stale. */
extern uint64_t proctab_lineage_gen;
static inline void proc_touch(struct proc *p)
{
	p->ver = ++proctab_ver;
	if (p->lineage) {
		p->lineage = false;
		proctab_lineage_gen++;
	}
}

struct proctab {
	struct proc **buckets;
	size_t nbuckets;
	size_t count;
	size_t bytes;         /* entries and their strings (malloc_usable_size), as bounded */
	uint64_t evicted;     /* live entries dropped to stay within the bounds */
	uint64_t reaped;      /* entries of processes found gone (or their pid reused) */
	const char *procroot; /* where liveness is checked: "/proc" (tests may point elsewhere) */
	size_t max_entries, max_bytes; /* PT_MAX, PT_BYTES_BUDGET (tests shrink them) */
	uint64_t reap_ms;              /* reconciliation period */
	uint64_t last_reap_ms;
	size_t count_at_reap;
	size_t verify_cursor; /* next bucket whose entries get their start time checked */
};

int proctab_init(struct proctab *t);
void proctab_free(struct proctab *t);
struct proc *proctab_get(struct proctab *t, uint32_t pid);
/* Create or reset the entry for pid (fields freed and zeroed, pid set). NULL on OOM. */
struct proc *proctab_put(struct proctab *t, uint32_t pid);
void proctab_del(struct proctab *t, uint32_t pid);
/* Give child the inheritable parts of parent (fork): its strings are shared, not copied. */
int proc_inherit(struct proc *child, const struct proc *parent);
/* Set *dst to s (n bytes, up to a NUL; NULL: none), dropping what it held; a string equal to
 * one set recently is shared instead of copied. */
int proc_set_str(char **dst, const char *s, size_t n);
/* The same, sharing prev instead of copying when it holds the same bytes; the reference to
 * prev is consumed either way (decode_exec: strings of the entry before the exec). */
int proc_set_str_prev(char **dst, const char *s, size_t n, char *prev);
/* Keep at most PT_ARGS_KEEP bytes of argv; cut: the n bytes are already not all of it. */
int proc_set_args(struct proc *p, const char *args, size_t n, bool cut);
/* Read one process from /proc (root may be "/proc" or a test directory). */
int proctab_load_pid(struct proctab *t, const char *procroot, uint32_t pid);
/* Seed from every numeric entry in procroot; returns the number of processes loaded. */
int proctab_seed(struct proctab *t, const char *procroot);
/* Approximate bytes used by the table (for tests and the heartbeat). */
size_t proctab_bytes(const struct proctab *t);
/* Is the process of this entry still there (same pid, same start time if verify_start)? */
bool proctab_alive(const struct proctab *t, const struct proc *p, bool verify_start);
/* Free the entries of processes that are gone; returns how many. */
size_t proctab_reap(struct proctab *t);
/* The same in two steps: frees the entries already marked gone by the last call that are
 * still gone, marks the others found gone; returns how many it freed. */
size_t proctab_reap_settled(struct proctab *t);
/* Called about once a second: reaps when the period has passed or the table has doubled. */
void proctab_maintain(struct proctab *t, uint64_t now_ms);
/* Thread-group id of a task id from ROOT/TID/status: < 0 when the task is gone. */
int proctab_tgid_of(const char *root, uint32_t tid);

#endif
