/* report.c - what the agent says about itself: agent.loss (kernel drops per kind and cause,
 * losses in user space, the collector stream's drops, a previous run that crashed) and
 * agent.heartbeat (coverage manifest, counters, CPU and memory). Losses are never silent:
 * every counter is compared with what was last announced, and the difference is told. */
#include "agent/agent.h"
#include "agent/custom.h"
#include "agent/emit.h"
#include "agent/net_dns_cache.h"
#include "agent/user.h"
#include "herdwatch.skel.h"
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

static const char *cause_name(int c)
{
	return c == HW_DROP_RINGBUF   ? "ringbuf_full"
	       : c == HW_DROP_SCRATCH ? "no_scratch"
				      : "no_owner";
}

static const char *const uloss_cause[HW_ULOSS_NCAUSE] = {
	"decode",          "oom",         "ring_read", "output_error", "syslog_full",
	"syslog_oversize", "webhook_full"};

void count_user_loss(struct agent *a, const char *kind, enum hw_uloss_cause cause)
{
	const size_t max = sizeof(a->uloss) / sizeof(a->uloss[0]);
	if (!kind)
		kind = "unknown";
	for (unsigned i = 0; i < a->n_uloss; i++) {
		struct hw_uloss *u = &a->uloss[i];
		/* a full table puts the rest under "*" (the last entry) */
		if (u->cause == cause &&
		    (!strcmp(u->kind, kind) || (i == max - 1 && !strcmp(u->kind, "*")))) {
			u->count++;
			return;
		}
	}
	if (a->n_uloss == max - 1)
		kind = "*";
	if (a->n_uloss < max) {
		struct hw_uloss *u = &a->uloss[a->n_uloss++];
		snprintf(u->kind, sizeof(u->kind), "%s", kind);
		u->cause = cause;
		u->count = 1;
		u->seen = 0;
	}
}

void report_loss(struct agent *a, const char *kind, uint64_t count, const char *cause)
{
	emit_begin(a, "agent.loss", 0);
	jb_key(&a->jb, "loss");
	jb_obj_begin(&a->jb);
	jb_kcstr(&a->jb, "kind", kind);
	jb_ku64(&a->jb, "count", count);
	jb_kcstr(&a->jb, "cause", cause);
	jb_obj_end(&a->jb);
	emit_end(a);
}

/* The run before this one on the same spool did not end cleanly (kill -9, crash, power loss):
 * its events after last_seq may be lost, how many is unknown (count null). */
void emit_prev_run_crash(struct agent *a, uint64_t run, uint64_t last_seq)
{
	char hex[17];
	snprintf(hex, sizeof(hex), "%016llx", (unsigned long long)run);
	emit_begin(a, "agent.loss", 0);
	jb_key(&a->jb, "loss");
	jb_obj_begin(&a->jb);
	jb_kcstr(&a->jb, "kind", "*");
	jb_key(&a->jb, "count");
	jb_null(&a->jb);
	jb_kcstr(&a->jb, "cause", "previous_run_crash");
	jb_kcstr(&a->jb, "previous_run", hex);
	jb_ku64(&a->jb, "durable_seq", last_seq);
	jb_obj_end(&a->jb);
	emit_end(a);
}

bool user_losses_pending(const struct agent *a, int cause)
{
	for (unsigned i = 0; i < a->n_uloss; i++)
		if (a->uloss[i].cause == cause && a->uloss[i].count != a->uloss[i].seen)
			return true;
	return false;
}

/* Announce the user-space losses counted since the last announcement. */
void check_user_losses(struct agent *a)
{
	sinks_announce(a);
	for (unsigned i = 0; i < a->n_uloss; i++) {
		struct hw_uloss *u = &a->uloss[i];
		if (u->count == u->seen || !sinks_losses_due(a, u->cause))
			continue;
		uint64_t delta = u->count - u->seen;
		u->seen = u->count;
		report_loss(a, u->kind, delta, uloss_cause[u->cause]);
	}
}

/*
 * Runs of a program that the kernel skipped. A tp_btf, raw_tp, fentry or fexit program does not
 * run while the same program is already running on that CPU (bpf_trace_run*, the trampoline's
 * __bpf_prog_enter_recur: the program's per-CPU `active` count), nor a kprobe or tracepoint
 * program while any such program runs there (bpf_prog_active). That happens when an interrupt
 * comes while the program runs in a task and its softirq fires the same hook: hws_state_btf
 * runs in connect() or close(), and the softirq that ends another socket's handshake (a
 * refused connect whose reset arrived while its task slept, an accepted connection) changes a
 * TCP state too: that run is skipped, its event never made, and the program cannot know. The
 * kernel counts each skip (bpf_prog_info.recursion_misses, 5.12+; kprobes and tracepoints
 * since 6.7). Announced as agent.loss, cause "recursion", for each probe that holds the program:
 * an upper bound (a skipped run may have had nothing to report).
 * Checked: the programs that can run in interrupt context (not a syscall's entry or exit).
 */
static bool may_nest(const struct bpf_program *prog)
{
	const char *sec = bpf_program__section_name(prog);
	switch (bpf_program__type(prog)) {
	case BPF_PROG_TYPE_TRACING:
	case BPF_PROG_TYPE_RAW_TRACEPOINT:
	case BPF_PROG_TYPE_KPROBE:
	case BPF_PROG_TYPE_TRACEPOINT:
		break;
	default:
		return false; /* cgroup programs have no such check; uprobes run in the task */
	}
	return !strstr(sec, "_sys_") && !strstr(sec, "syscalls/") &&
	       strcmp(sec, "tp_btf/sys_exit") && strcmp(sec, "tp_btf/sys_enter");
}

static struct hw_skipped *skipped_of(struct agent *a, const struct bpf_program *prog)
{
	const unsigned max = sizeof(a->skipped) / sizeof(a->skipped[0]);
	for (unsigned i = 0; i < a->n_skipped; i++)
		if (a->skipped[i].prog == prog)
			return &a->skipped[i];
	if (a->n_skipped == max)
		return NULL;
	/* first attached now: every skip so far came while it was attached (counted from 0) */
	a->skipped[a->n_skipped] = (struct hw_skipped){.prog = prog};
	return &a->skipped[a->n_skipped++];
}

static void announce_skipped(struct agent *a, const char *kind, uint64_t n, const char *prog)
{
	emit_begin(a, "agent.loss", 0);
	jb_key(&a->jb, "loss");
	jb_obj_begin(&a->jb);
	jb_kcstr(&a->jb, "kind", kind);
	jb_ku64(&a->jb, "count", n);
	jb_kcstr(&a->jb, "cause", "recursion");
	jb_kcstr(&a->jb, "program", prog);
	jb_obj_end(&a->jb);
	emit_end(a);
}

/* The custom tracepoint probes share one program (hwc_probe_tp, attached once per tracepoint
 * group). A classic tracepoint program is skipped when any kprobe or tracepoint program is
 * already running on the CPU (the kernel's bpf_prog_active): a custom probe on a tracepoint
 * that fires in interrupts (irq:*, net:*, timer:*) misses the hits that interrupt herdwatch's
 * own syscall-exit programs. The kernel counts them (since 6.7; before, it skips silently):
 * announced for each custom tracepoint probe attached, an upper bound as for a shared
 * program above. */
static void check_skipped_custom(struct agent *a)
{
	struct bpf_prog_info info = {0};
	uint32_t l = sizeof(info);
	int fd = a->skel ? bpf_program__fd(a->skel->progs.hwc_probe_tp) : -1;

	if (fd < 0 || bpf_obj_get_info_by_fd(fd, &info, &l) ||
	    info.recursion_misses <= a->custom_skipped_seen)
		return;
	uint64_t delta = info.recursion_misses - a->custom_skipped_seen;
	a->custom_skipped_seen = info.recursion_misses;
	for (int i = 0; i < HW_CP_SLOTS; i++) {
		const struct custom_probe *cp = custom_at(a, i);
		char kind[80];
		if (!cp || cp->hook != HW_CUSTOM_TP || strcmp(cp->state, "attached"))
			continue;
		snprintf(kind, sizeof(kind), "custom.%s", cp->name);
		announce_skipped(a, kind, delta, "hwc_probe_tp");
	}
}

static void check_skipped(struct agent *a)
{
	_Static_assert(HW_NPROBES <= 64, "hw_skipped.held is a 64-bit mask");
	uint64_t now[sizeof(a->skipped) / sizeof(a->skipped[0])] = {0};

	/* which probes hold each program now */
	for (int i = 0; i < HW_NPROBES; i++) {
		const struct hw_probe *p = &a->probes[i];
		for (int k = 0; p->state == PROBE_ATTACHED && k < p->nlinks; k++) {
			struct hw_skipped *s;
			if (!p->progs[k] || !may_nest(p->progs[k]) ||
			    !(s = skipped_of(a, p->progs[k])))
				continue;
			now[s - a->skipped] |= 1ULL << i;
		}
	}
	for (unsigned j = 0; j < a->n_skipped; j++) {
		struct hw_skipped *s = &a->skipped[j];
		/* held now, or until a detach since the last check (its last skips) */
		uint64_t held = now[j] ? now[j] : s->held;
		struct bpf_prog_info info = {0};
		uint32_t l = sizeof(info);
		int fd = bpf_program__fd(s->prog);
		s->held = now[j];
		if (!held || fd < 0 || bpf_obj_get_info_by_fd(fd, &info, &l) ||
		    info.recursion_misses <= s->seen)
			continue;
		uint64_t delta = info.recursion_misses - s->seen;
		s->seen = info.recursion_misses;
		for (int i = 0; i < HW_NPROBES; i++)
			if (held & (1ULL << i))
				announce_skipped(a, a->probes[i].name, delta,
						 bpf_program__name(s->prog));
	}
	check_skipped_custom(a);
}

/* Compare the kernel's drop counters with what was announced; announce the difference. */
void check_drops(struct agent *a)
{
	enum { NKEYS = HW_EV_MAX * HW_DROP_NCAUSE };
	static uint64_t *all; /* NKEYS x ncpu counters */
	static uint32_t *keys;
	int ncpu = libbpf_num_possible_cpus();
	int fd = bpf_map__fd(a->skel->maps.hw_drops);
	uint64_t vals[ncpu > 0 ? ncpu : 1];
	bool batch = false;

	check_user_losses(a);
	check_skipped(a);
	if (ncpu <= 0)
		return;
	/* the whole per-CPU array in one syscall (one lookup per known (type, cause) was 66
	 * system calls a second, most of the idle agent's); one lookup per key where batches
	 * fail */
	if (!all) {
		all = calloc((size_t)NKEYS * ncpu, sizeof(*all));
		keys = calloc(NKEYS, sizeof(*keys));
	}
	if (all && keys) {
		uint32_t out = 0, count = NKEYS;
		int rc = bpf_map_lookup_batch(fd, NULL, &out, keys, all, &count, NULL);
		batch = (rc == 0 || errno == ENOENT) && count == NKEYS;
	}
	for (size_t d = 0; d < hw_ndecoders; d++) {
		uint32_t type = hw_decoders[d].type;
		for (uint32_t c = 0; c < HW_DROP_NCAUSE; c++) {
			uint32_t key = type * HW_DROP_NCAUSE + c;
			uint64_t sum = 0;
			const uint64_t *v = vals;
			if (batch && keys[key] == key)
				v = all + (size_t)key * ncpu;
			else if (bpf_map_lookup_elem(fd, &key, vals))
				continue;
			for (int i = 0; i < ncpu; i++)
				sum += v[i];
			if (sum == a->drops_seen[key])
				continue;
			uint64_t delta = sum - a->drops_seen[key];
			a->drops_seen[key] = sum;
			a->drops_total[key] = sum;
			report_loss(a, kind_name(type), delta, cause_name(c));
		}
	}
}

/* RssAnon from /proc/self/status: the agent's own heap, without the ring buffer mapping
 * (kernel memory mapped twice into the agent, which VmRSS counts). */
static uint64_t rss_anon_bytes(void)
{
	FILE *f = fopen("/proc/self/status", "re");
	char line[128];
	unsigned long kb = 0;
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "RssAnon: %lu", &kb) == 1)
			break;
	fclose(f);
	return (uint64_t)kb * 1024;
}

static uint64_t rss_bytes(void)
{
	FILE *f = fopen("/proc/self/statm", "re");
	unsigned long size = 0, res = 0;
	if (f) {
		if (fscanf(f, "%lu %lu", &size, &res) != 2)
			res = 0;
		fclose(f);
	}
	return (uint64_t)res * sysconf(_SC_PAGESIZE);
}

static uint64_t events_of(const struct agent *a, uint32_t type)
{
	return a->events_by_type[type];
}

static uint64_t drops_of(const struct agent *a, uint32_t type)
{
	uint64_t n = 0;
	for (int c = 0; c < HW_DROP_NCAUSE; c++)
		n += a->drops_total[type * HW_DROP_NCAUSE + c];
	return n;
}

/* {kind: count} over record types; types that share a kind (exec and failed exec) add up. */
static void put_by_kind(const struct agent *a, struct jbuf *b,
			uint64_t (*count)(const struct agent *, uint32_t))
{
	const size_t nd = hw_ndecoders;
	jb_obj_begin(b);
	for (size_t d = 0; d < nd; d++) {
		uint64_t n = 0;
		bool first = true;
		for (size_t e = 0; e < nd; e++) {
			if (strcmp(hw_decoders[e].kind, hw_decoders[d].kind))
				continue;
			first &= e >= d;
			n += count(a, hw_decoders[e].type);
		}
		if (first && n)
			jb_ku64(b, hw_decoders[d].kind, n);
	}
	jb_obj_end(b);
}

void emit_heartbeat(struct agent *a)
{
	struct jbuf *b = &a->jb;
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	emit_begin(a, "agent.heartbeat", 0);
	jb_key(b, "agent");
	jb_obj_begin(b);
	jb_kcstr(b, "version", HW_VERSION);
	jb_ku64(b, "pid", a->self_pid);
	if (a->hooks) {
		jb_key(b, "hooks");
		jb_raw(b, a->hooks, strlen(a->hooks));
		b->comma = true;
	}
	jb_key(b, "probes");
	probes_json(a, b, false);
	net_mode_json(a, b);
	families_heartbeat(a, b);
	jb_key(b, "stats");
	jb_obj_begin(b);
	jb_ku64(b, "events", a->events_total);
	jb_key(b, "events_by_kind");
	put_by_kind(a, b, events_of);
	jb_key(b, "dropped");
	put_by_kind(a, b, drops_of);
	/* losses in user space: {cause: {kind: count}} since start */
	jb_key(b, "dropped_user");
	jb_obj_begin(b);
	for (int c = 0; c < HW_ULOSS_NCAUSE; c++) {
		bool any = false;
		for (unsigned i = 0; i < a->n_uloss; i++) {
			if (a->uloss[i].cause != c)
				continue;
			if (!any) {
				jb_key(b, uloss_cause[c]);
				jb_obj_begin(b);
			}
			any = true;
			jb_ku64(b, a->uloss[i].kind, a->uloss[i].count);
		}
		if (any)
			jb_obj_end(b);
	}
	jb_obj_end(b);
	jb_ku64(b, "decode_errors", a->decode_errors);
	jb_ku64(b, "filtered", a->filtered);
	sinks_stats(a, b); /* output_errors, collector */
	jb_ku64(b, "processes", a->pt.count);
	jb_ku64(b, "reaped", a->pt.reaped);
	jb_ku64(b, "evicted", a->pt.evicted);
	jb_ku64(b, "dns_names_evicted", dns_cache_evicted(a->dns));
	double cpu = ru.ru_utime.tv_sec + ru.ru_stime.tv_sec +
		     (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	double wall = now.tv_sec + now.tv_nsec / 1e9;
	static double last_cpu, last_wall;
	double pct =
		last_wall && wall > last_wall ? 100.0 * (cpu - last_cpu) / (wall - last_wall) : 0;
	last_cpu = cpu;
	last_wall = wall;
	char tmp[64];
	/* the contract's stats.cpu: CPU seconds used since start */
	jb_key(b, "cpu");
	snprintf(tmp, sizeof(tmp), "%.3f", cpu);
	jb_raw(b, tmp, strlen(tmp));
	b->comma = true;
	jb_key(b, "cpu_pct");
	snprintf(tmp, sizeof(tmp), "%.3f", pct);
	jb_raw(b, tmp, strlen(tmp));
	b->comma = true;
	jb_ku64(b, "rss", rss_bytes());
	jb_ku64(b, "rss_anon", rss_anon_bytes());
	jb_ku64(b, "ringbuf_bytes", (uint64_t)a->cfg.ringbuf_mb << 20);
	jb_obj_end(b);
	jb_obj_end(b);
	emit_end(a);
}
