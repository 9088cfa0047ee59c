/* agent.h - the agent's state and the interfaces between its modules. */
#ifndef HW_AGENT_H
#define HW_AGENT_H
#include <stdint.h>
#include <stdio.h>
#include <stdbool.h>
#include "common/hw_abi.h"
#include "agent/config.h"
#include "agent/json.h"
#include "agent/proctab.h"
#include "agent/custom.h"
#include "agent/ship.h"
#include "agent/output.h"
#include "agent/sink.h"
#include "agent/log.h"

enum hw_probe_id {
#define HW_PROBE(id, name, dflt, ...) HW_PROBE_##id,
#include "common/probes.def"
#undef HW_PROBE
	HW_NPROBES
};

enum hw_probe_state { PROBE_DISABLED, PROBE_ATTACHED, PROBE_UNAVAILABLE };

#define HW_MAX_CANDS 8
#define HW_MAX_LINKS 24 /* process.cred_change: 10 syscalls, entry + exit */
#define HW_MAX_OVERRIDES 32

struct hw_probe {
	const char *name;
	bool dflt;
	const char *cands[HW_MAX_CANDS];
	enum hw_probe_state state;
	const char *hook; /* section prefix of the attached candidate */
	char reason[256]; /* why unavailable (or disabled) */
	struct bpf_link *links[HW_MAX_LINKS];
	/* the program of each link; NULL for a prog@category/name element. A link to the same
	 * program as another probe's is that probe's link, shared (probes.c, shared_link) */
	const struct bpf_program *progs[HW_MAX_LINKS];
	int nlinks;
	int nsyscall_tp;  /* of the links, classic syscall tracepoints (a tax on every call) */
	const char *cand; /* the attached candidate */
};

struct cgcache;        /* cgroup id -> path (host.c) */
struct ctrmeta;        /* container identity cache (ctrmeta.c) */
struct user_state;     /* uprobes of the user family (user_uprobes.c) */
struct custom_state;   /* custom probes (custom.c) */
struct net_mode_state; /* the net family's hooks (net_mode.c) */
/* Each family's own state: private to the family's files (only the pointer is here), made by
 * the family's init and freed by its fini (agent/family.c), so that two agents' families could
 * live in one process (the unit tests make and free them). */
struct priv_state;   /* capability counts, loss counters: priv_counts.c */
struct tty_state;    /* tty.c */
struct fan_state;    /* files.mode watch: file_fan.h */
struct file_repeats; /* folded opens reported at exit: user_decode.c */
struct dns_cache;    /* net.connect's dst.name: net_dns_cache.c */
struct inv_state;    /* inventory.c */

struct agent {
	struct hw_config cfg;
	const char *config_path;
	struct hw_bpf *skel;
	struct ring_buffer *rb;
	struct hw_probe probes[HW_NPROBES];
	/* BPF links were made or destroyed since the agent last told the kernel which program,
	 * map and link ids are its own (agent.tamper): see priv_tick */
	bool own_ids_dirty;
	char prog_fail[512]
		      [160]; /* programs refused (by the kernel or HW_DENY_HOOKS), with reason */
	int nprog_fail;
	/* the net family's hooks: socket or syscall (net_mode.c) */
	struct net_mode_state *netm;

	/* output */
	struct hw_output out; /* the file sink's state (sink_file.c); a->out.fd < 0: none */
	struct hw_sink sinks[HW_MAX_SINKS]; /* where events go (agent/sink.h) */
	int nsinks;
	char *out_path; /* current output file, NULL or "-" for stdout */
	struct jbuf jb;
	uint64_t seq;
	uint64_t events_by_type[HW_EV_MAX];
	uint64_t events_total;
	uint64_t decode_errors;
	uint64_t filtered;

	/* loss accounting: last kernel drop counters seen */
	uint64_t drops_seen[HW_EV_MAX * HW_DROP_NCAUSE];
	uint64_t drops_total[HW_EV_MAX * HW_DROP_NCAUSE];
	/* losses in user space, by kind and cause (announced like kernel drops) */
	struct hw_uloss {
		char kind[48];
		uint8_t cause; /* enum hw_uloss_cause */
		uint64_t count, seen;
	} uloss[32];
	unsigned n_uloss;
	/* runs of attached programs that the kernel skipped (report.c, check_skipped) */
	struct hw_skipped {
		const struct bpf_program *prog;
		uint64_t seen; /* the program's recursion_misses when last announced */
		uint64_t held; /* the probes (bit: index) that held it at the last check */
	} skipped[48];
	unsigned n_skipped;
	uint64_t custom_skipped_seen; /* hwc_probe_tp's recursion_misses when last announced */
	const char *cur_kind;         /* kind of the event being formatted (emit_begin) */
	/* the argv of the exec being formatted when it is longer than the table keeps
	 * (PT_ARGS_KEEP): proc.args shows it whole instead of the entry's copy */
	const char *exec_args;
	uint32_t exec_args_len;
	bool exec_args_cut;

	/* identity */
	char host_name[256];
	char host_id[64];
	char boot_id[64];
	/* this run of the agent: random, chosen at start, never 0; every event carries it
	 * (host.run) and every batch to the collector (its seqs count from 1 in every run) */
	uint64_t run_id;
	char run_hex[17];
	char key_prefix[16];
	int64_t boot_to_real_ns; /* CLOCK_REALTIME - CLOCK_BOOTTIME */
	uint64_t ticks_per_s;

	struct proctab pt;
	/* ignored processes that exited recently: their kernel-counted summaries (capability,
	 * W+X) are reported after the exit, when the table entry is gone */
	struct {
		uint32_t pid;
		uint64_t start_ticks;
	} ign_exited[64];
	unsigned ign_exited_next;
	struct cgcache *cg;
	struct ctrmeta *ctrmeta; /* container identity (agent/ctrmeta.h); NULL when off */
	int self_pid;
	/* the custom family's slots and groups (custom.c), NULL: none yet */
	struct custom_state *cps;
	/* runtime overrides from the control socket: probe or family -> enabled, until */
	struct {
		char name[64];
		bool enabled;
		uint64_t until_ms; /* CLOCK_MONOTONIC ms, 0 = until changed */
	} ovr[HW_MAX_OVERRIDES];
	char **overlays; /* "ctl set" fragments applied over the config file, in order */
	size_t n_overlays;
	char *ctl_path;
	int ctl_ep; /* the event loop's epoll set (control connections join it) */
	uint64_t ctl_refused;
	struct ship *ship; /* the collector sink's stream, NULL without collector.address */
	uint64_t ship_dropped_seen[SHIP_DROP_NCAUSE]; /* per cause (agent/ship.h) */
	char ship_error_said[192]; /* the collector connection failure last logged ("": none) */
	bool out_from_cmdline;     /* --output given: the config's output is ignored */
	uint64_t cfg_gen;          /* bumped by every config reload */
	uint64_t host_gen; /* bumped when host_name/host_id/boot_id are read (host_identity) */
	char *hooks;       /* JSON object: hook types this kernel allows (computed at start) */
	struct user_state *user;
	struct binhash *bh; /* exec.sha256: cache and worker (binhash.c), NULL when off */
	/* the families' state (NULL before families_init and after families_free) */
	struct priv_state *priv;
	struct tty_state *tty;
	struct fan_state *fan;
	struct file_repeats *freps;
	struct dns_cache *dns;
	struct inv_state *inv;
};

/* probes.c */
int probes_load(struct agent *a);
void probes_apply(struct agent *a); /* attach/detach to match a->cfg */
void probes_detach_all(struct agent *a);
/* destroy n links from several threads (each may wait for an RCU grace period) */
void links_destroy_all(struct bpf_link **links, int n);
void probes_json(struct agent *a, struct jbuf *b,
		 bool verbose); /* {name:{state,hook,reason[,attach]}} */
/* hooks.c: what this kernel offers */
void hooks_json(struct jbuf *b);            /* the manifest's "hooks": hook types, and why not */
const char *kernel_lockdown(void);          /* "confidentiality", "integrity" or NULL */
const char *hook_refused(const char *hook); /* why programs of this hook type fail, or NULL */
bool tracefs_mounted(void);
void ensure_tracefs(void); /* mount tracefs if nobody did */
bool probe_name_ok(const char *name);
int probes_sync_maps(struct agent *a);        /* cfg + filters into kernel maps */
void probes_sync_ignore_exe(struct agent *a); /* filters.ignore_exe marks of running processes */

/* control.c */
int control_open(struct agent *a, const char *path); /* listening fd or -errno */
void control_handle(struct agent *a, int lfd);       /* accept new connections */
bool control_conn_io(struct agent *a, int fd);       /* a connection is readable */
void control_close_all(struct agent *a);
/* Who asked: source "socket" (pid, uid from SO_PEERCRED), "collector" (request id),
 * "signal" (SIGHUP) or "expiry" (a timed override ran out). */
struct ctl_who {
	const char *source;
	uint32_t pid, uid;
	unsigned id;
};
/* Run one request (argv-style); the JSON answer is left in out. 0 if it succeeded. A request
 * that changes something is reported as agent.control, followed by a heartbeat. */
int control_exec(struct agent *a, const struct ctl_who *who, char **args, int n, struct jbuf *out);
bool control_expire(struct agent *a);
/* respond.c: "ctl kill PID|PROC-KEY [SIGNAL]" (SIGKILL by default); the answer into b, an
 * agent.response event either way. 0 when the signal was sent. */
int respond_kill(struct agent *a, const struct ctl_who *who, const char *target, const char *sig,
		 struct jbuf *b);
/* respond.c: pin the process named by a pid or a process key (proc.key): its pidfd, or -1 with
 * the reason in why (not a pid or key, no such process, init, a kernel thread, the agent
 * itself, a key whose pid is another process now). *pid is set once the target parsed. */
int respond_pin(struct agent *a, const char *target, uint32_t *pid, uint64_t *start, char *comm,
		size_t cl, char *why, size_t wl);
/* quarantine.c: "ctl quarantine TARGET --for S [--loopback]" and "ctl release TARGET" (the
 * answer into b, an agent.response event either way; 0 on success); the pinned maps of an
 * earlier agent reused before the BPF object is loaded; the family hooks (adoption of pinned
 * quarantines and their expiry, once a second; the heartbeat's "quarantine" object). */
int quar_quarantine(struct agent *a, const struct ctl_who *who, char **args, int n, uint64_t for_ms,
		    struct jbuf *b);
int quar_release(struct agent *a, const struct ctl_who *who, const char *target, struct jbuf *b);
struct hw_bpf;
void quar_reuse_pins(struct hw_bpf *s);
void quar_second(struct agent *a);
void quar_heartbeat(struct agent *a, struct jbuf *b);
void control_collector_requests(struct agent *a);
int control_client(const char *path, int argc, char **argv);
/* runtime.c: open (or switch) the output; '-' or NULL is stdout. */
int open_output(struct agent *a, const char *path);
/* runtime.c: re-read the config file, with the overlays and (if given) one more overlay. */
int agent_reload(struct agent *a, const char *overlay, char *err, size_t errlen);
/* probes.c: is a probe wanted now (control override, else config)? */
bool probe_wanted(struct agent *a, const char *name, bool dflt);
/* net_decode.c */
int net_init(struct agent *a); /* family init (the dst.name cache): 0 or -ENOMEM */
void net_free(struct agent *a);
int net_sync_maps(struct agent *a); /* net.* filters into kernel maps */
void net_tick(struct agent *a);     /* once a second: folded-connect summaries */
uint64_t net_jiffy_ns(void);        /* one tick of jiffies (ns), 0 when unknown */
/* user_uprobes.c: user.* uprobes follow the config and the overrides */
int user_apply(struct agent *a);

/* host.c */
int host_identity(struct agent *a);
int run_identity(struct agent *a); /* a->run_id, a->run_hex: once, at start */
struct cgcache *cgcache_new(void);
void cgcache_free(struct cgcache *c);
const char *cgcache_path(struct cgcache *c, uint64_t id, uint32_t pid_hint);
/* Find cgroup ids of paths (for the in-kernel ignore_cgroup filter). */
int cgroup_id_of(const char *cgpath, uint64_t *id);
/* Where cgroup v2 is mounted ("" if nowhere). */
void find_cg2_root(char *out, size_t len);
/* net_mode.c */
/* the net family's hook state: made and freed by its init and fini (net_decode.c) */
int net_mode_new(struct agent *a);
void net_mode_free(struct agent *a);
void net_mode_init(struct agent *a);
/* Why the net family is on syscall hooks (NULL: on socket hooks, as far as the agent chose);
 * the cgroup v2 root's descriptor the socket hooks attach to (-1: none). */
const char *net_mode_reason(const struct agent *a);
int net_mode_cgroup_fd(const struct agent *a);
void net_mode_keep(struct hw_config *nc, const struct hw_config *cur);
bool net_mode_veto(struct agent *a, int probe, char *why, size_t n);
void net_mode_json(struct agent *a, struct jbuf *b);
void net_mode_seed(struct agent *a);
/* Tell hws_state_btf which of net.connect and net.accept it serves now (after attaching). */
void net_mode_roles(struct agent *a);
/* probes.c: why program prog was refused (by the kernel, a precheck or the net mode), or NULL */
const char *probes_prog_failed(struct agent *a, const char *prog);
/* A cgroup v2 directory given as a path under the cgroup v2 mount (/sys/fs/cgroup/a/b) or
 * relative to the cgroup root (a/b, /a/b): its path relative to the root ("/a/b" into rel),
 * id (the directory's inode number) and level (root = 0). -errno and a reason naming the
 * path in err when it is not an existing cgroup. */
int cgroup_resolve(const char *path, char *rel, size_t rellen, uint64_t *id, int *level, char *err,
		   size_t errlen);
/* Container id, herd and version ("" when the rule has no version group or it did not match)
 * for a cgroup path from the config patterns (false if none match). */
bool container_match(const struct hw_config *c, const char *cgpath, char *herd, size_t herdlen,
		     char *id, size_t idlen, char *ver, size_t verlen);

/* emit.c, proc_context.c, proc_decode.c, report.c: events and the agent's reports */
void emit_begin(struct agent *a, const char *kind, uint64_t boot_ns);
void emit_end(struct agent *a);
void emit_proc(struct agent *a, const struct hw_hdr *h); /* "proc","parent","ancestors" */
size_t emit_cache_bytes(void); /* bytes held by emit_proc's context caches */
void emit_event(struct agent *a, const char *kind, const struct hw_hdr *h, const char *objkey);
void emit_event_end(struct agent *a);
int handle_record(void *ctx, void *data, size_t len); /* ring buffer callback */
void emit_heartbeat(struct agent *a);
void check_drops(struct agent *a);
/* Losses in user space: a record that could not be decoded, an event that could not be
 * formatted (out of memory), a failed ring buffer read. */
enum hw_uloss_cause {
	HW_ULOSS_DECODE,
	HW_ULOSS_OOM,
	HW_ULOSS_RING_READ,
	HW_ULOSS_OUTPUT, /* not written to the output: writes failed and the hold buffer was full */
	HW_ULOSS_SYSLOG, /* outputs.syslog's queue was full (endpoint down or too slow) */
	HW_ULOSS_SYSLOG_BIG, /* longer than outputs.syslog.max_message */
	HW_ULOSS_WEBHOOK,    /* outputs.webhook's queue was full */
	HW_ULOSS_NCAUSE
};
void count_user_loss(struct agent *a, const char *kind, enum hw_uloss_cause cause);
void check_user_losses(struct agent *a); /* announce them (and the sinks') as agent.loss */
/* One agent.loss: count events of kind lost, for cause. */
void report_loss(struct agent *a, const char *kind, uint64_t count, const char *cause);
/* Are losses of this cause counted but not announced yet? */
bool user_losses_pending(const struct agent *a, int cause);
/* agent.loss cause previous_run_crash: that run's events after last_seq may be lost */
void emit_prev_run_crash(struct agent *a, uint64_t run, uint64_t last_seq);
const char *kind_name(uint32_t type);
/* proc_decode.c: was this process ignored (filters.ignore_exe), even if it has exited since? */
bool proc_ignored(struct agent *a, const struct hw_hdr *h);
void make_key(const struct agent *a, uint32_t pid, uint64_t start_ticks, char *buf, size_t len);
/* Rebuild an absolute path from a record's leaf-first components (struct hw_path), checked
 * against the record length; " (deleted)" appended for unlinked files. Length, or -1. */
int path_build(const void *rec, size_t len, const struct hw_path *p, char *out, size_t outlen);

extern volatile int hw_verbose;

/* priv_decode.c: a capability set as an array of names (["CAP_NET_RAW", ...]) */
void put_caps(struct jbuf *b, uint64_t set);
/* priv_decode.c: the priv family's settings and per-window summaries */
int priv_init(struct agent *a); /* family init and teardown (priv_counts.c) */
void priv_free(struct agent *a);
int priv_sync_maps(struct agent *a);
void priv_tick(struct agent *a, uint64_t now_ms);

/* family.c: what each probe family does beyond its probe rows, one row per family (see the
 * file's comment for when each hook runs); the loops below call every family that has it. */
struct hw_family {
	const char *name;
	int (*init)(struct agent *a); /* its state: 0 or -errno */
	void (*fini)(struct agent *a);
	int (*configure)(struct agent *a);
	int (*sync_maps)(struct agent *a);
	int (*apply)(struct agent *a);
	void (*tick)(struct agent *a, uint64_t now_ms);
	void (*second)(struct agent *a);
	void (*heartbeat)(struct agent *a, struct jbuf *b);
	void (*stop)(struct agent *a);
};
int families_init(struct agent *a);  /* 0, or -errno (what was made is freed again) */
void families_free(struct agent *a); /* at exit, after the probes are detached */
void families_configure(struct agent *a);
void families_sync_maps(struct agent *a);
void families_apply(struct agent *a);
void families_tick(struct agent *a, uint64_t now_ms);
void families_second(struct agent *a);
void families_heartbeat(struct agent *a, struct jbuf *b);
void families_stop(struct agent *a); /* at exit, before the last heartbeat */

/* inventory.c: what the host carries, as inventory.* events (docs/events-inventory.md) */
int inventory_init(struct agent *a); /* family init and teardown */
void inventory_free(struct agent *a);
void inventory_tick(struct agent *a, uint64_t now_ms);
void inventory_stop(struct agent *a);
/* --inventory: one run, its items and summary emitted; 0 when it was not cut short */
int inventory_once(struct agent *a);
void inventory_heartbeat(struct agent *a, struct jbuf *b);
/* "ctl inventory": start a run now; the answer into b; 0 when started */
int inventory_request(struct agent *a, const struct ctl_who *who, struct jbuf *b);

/* tty.c: the TTY capture (docs/events-tty.md): is anything to be recorded (the tty.capture
 * probe attached)?; "ctl tty on|off [--session PID]" (for_ms: --for), the answer into b, 0 on
 * success; the family hooks (settings into the kernel maps, learning the terminal's file
 * operations once attached, expiries and budget losses once a second, the heartbeat's "tty") */
int tty_init(struct agent *a); /* family init and teardown */
void tty_free(struct agent *a);
bool tty_wanted(struct agent *a);
int tty_request(struct agent *a, const struct ctl_who *who, char **args, int n, uint64_t for_ms,
		struct jbuf *b);
int tty_sync_maps(struct agent *a);
int tty_apply(struct agent *a);
void tty_second(struct agent *a);
void tty_heartbeat(struct agent *a, struct jbuf *b);

#endif
