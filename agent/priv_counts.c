/* priv_counts.c - what the priv family counts in the kernel instead of reporting each time:
 * capability checks and W+X mappings. The first of each (process, capability or syscall) is an
 * event (decode_priv_first); the kernel counts the repeats per window, and priv_tick reports
 * each counter's growth as a summary event when the window closes or the process exits, so a
 * process that checks a capability a million times costs one event per window. Also the
 * family's kernel settings (priv_sync_maps) and the agent's own program, map and link ids
 * (agent.tamper tells them apart). Field meanings: docs/events-priv.md. */
#include "agent/agent.h"
#include "agent/priv.h"
#include "herdwatch.skel.h"
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* ---- process.capability / process.wx_memory ---- */

static void put_prot(struct jbuf *b, uint32_t prot)
{
	char s[4] = {prot & 1 ? 'r' : '-', prot & 2 ? 'w' : '-', prot & 4 ? 'x' : '-', 0};
	jb_kcstr(b, "prot", s);
	jb_ku64(b, "prot_bits", prot);
}

int decode_priv_first(struct agent *a, const void *rec, size_t len)
{
	const struct hw_count_first *e = rec;
	struct jbuf *b = &a->jb;

	if (priv_ignored(a, &e->hdr))
		return 0;
	if (e->hdr.type == HW_EV_CAP) {
		emit_event(a, "process.capability", &e->hdr, "cap");
		jb_key(b, "name");
		put_cap_name(b, e->idx);
		jb_ku64(b, "cap", e->idx);
		jb_kbool(b, "first", true);
		jb_kbool(b, "allowed", e->ret == 0);
		jb_ku64(b, "checks", 1);
		jb_ku64(b, "denied", e->ret != 0);
		jb_ku64(b, "window_s", 0);
		jb_obj_end(b);
	} else {
		emit_event(a, "process.wx_memory", &e->hdr, "mem");
		jb_kcstr(b, "syscall", sc_name(e->idx));
		put_prot(b, e->prot);
		jb_kbool(b, "first", true);
		jb_ku64(b, "count", 1);
		jb_ku64(b, "window_s", 0);
		jb_kbool(b, "was_writable", e->flags & HW_WX_WAS_WRITABLE);
		jb_kbool(b, "anonymous", e->flags & HW_WX_ANON);
		jb_ku64(b, "addr", e->addr);
		jb_ku64(b, "len", e->len);
		if (e->idx == HW_SC_MMAP)
			jb_ku64(b, "mmap_flags", e->mflags);
		jb_obj_end(b);
	}
	emit_end(a);
	return 0;
}

/* What the agent has already reported of each kernel counter. */
struct cnt_ent {
	struct cnt_ent *next;
	struct hw_priv_count_key k;
	uint64_t count, denied;
};
#define CNT_BUCKETS 4096

/* The family's state (struct agent's priv): made by priv_init, freed by priv_free. */
struct priv_state {
	struct cnt_ent *cnt_tab[CNT_BUCKETS];
	uint64_t loss_seen[HW_PRIV_NLOSS];      /* hwv_loss, as reported */
	uint64_t q_seen[2];                     /* hwv_memacct, as reported */
	bool flush_told;                        /* the per-CPU flush does not run: said once */
	uint64_t next_ms, last_ms, ids_next_ms; /* priv_tick's schedule */
};

int priv_init(struct agent *a)
{
	a->priv = calloc(1, sizeof(*a->priv));
	return a->priv ? 0 : -ENOMEM;
}

/* at exit */
void priv_free(struct agent *a)
{
	struct priv_state *ps = a->priv;
	if (!ps)
		return;
	for (size_t i = 0; i < CNT_BUCKETS; i++)
		for (struct cnt_ent *e = ps->cnt_tab[i], *next; e; e = next) {
			next = e->next;
			free(e);
		}
	free(ps);
	a->priv = NULL;
}

static size_t cnt_hash(const struct hw_priv_count_key *k)
{
	uint64_t h =
		k->tgid * 0x9e3779b97f4a7c15ULL ^ ((uint64_t)k->type << 16 | k->idx) ^ k->start_ns;
	return (h ^ (h >> 29)) % CNT_BUCKETS;
}

static struct cnt_ent *cnt_get(struct priv_state *ps, const struct hw_priv_count_key *k,
			       bool create)
{
	struct cnt_ent **pp = &ps->cnt_tab[cnt_hash(k)];
	for (struct cnt_ent *e = *pp; e; e = e->next)
		if (!memcmp(&e->k, k, sizeof(*k)))
			return e;
	if (!create)
		return NULL;
	struct cnt_ent *e = calloc(1, sizeof(*e));
	if (!e)
		return NULL;
	e->k = *k;
	e->next = *pp;
	*pp = e;
	return e;
}

static void cnt_del(struct priv_state *ps, const struct hw_priv_count_key *k)
{
	for (struct cnt_ent **pp = &ps->cnt_tab[cnt_hash(k)]; *pp; pp = &(*pp)->next) {
		if (!memcmp(&(*pp)->k, k, sizeof(*k))) {
			struct cnt_ent *e = *pp;
			*pp = e->next;
			free(e);
			return;
		}
	}
}

static void emit_summary(struct agent *a, const struct hw_priv_count_key *k,
			 const struct hw_priv_count_val *v, uint64_t dc, uint64_t dd, unsigned win)
{
	struct jbuf *b = &a->jb;
	struct hw_hdr h = v->hdr;

	if (k->type == HW_EV_CAP) {
		emit_begin(a, "process.capability", 0);
		emit_proc(a, &h);
		jb_key(b, "cap");
		jb_obj_begin(b);
		jb_key(b, "name");
		put_cap_name(b, k->idx);
		jb_ku64(b, "cap", k->idx);
		jb_kbool(b, "first", false);
		jb_ku64(b, "checks", dc);
		jb_ku64(b, "denied", dd);
		jb_ku64(b, "window_s", win);
		jb_ku64(b, "total_checks", v->count);
		jb_ku64(b, "total_denied", v->denied);
		jb_obj_end(b);
	} else {
		emit_begin(a, "process.wx_memory", 0);
		emit_proc(a, &h);
		jb_key(b, "mem");
		jb_obj_begin(b);
		jb_kcstr(b, "syscall", sc_name(k->idx));
		put_prot(b, v->prot);
		jb_kbool(b, "first", false);
		jb_ku64(b, "count", dc);
		jb_ku64(b, "window_s", win);
		jb_ku64(b, "total", v->count);
		jb_obj_end(b);
	}
	emit_end(a);
}

static bool process_gone(struct agent *a, const struct hw_priv_count_key *k)
{
	if (kill((pid_t)k->tgid, 0) && errno == ESRCH)
		return true;
	struct proc *p = proctab_get(&a->pt, k->tgid);
	uint64_t per_tick = 1000000000ULL / (a->ticks_per_s ? a->ticks_per_s : 100);
	return p && p->start_ticks && p->start_ticks != k->start_ns / per_tick;
}

/* Sum over CPUs of entry key of a per-CPU array whose value is n u64 counters: out[0..n). */
static int percpu_sum(int fd, uint32_t key, uint64_t *out, unsigned n)
{
	int ncpu = libbpf_num_possible_cpus();
	if (ncpu <= 0)
		return -1;
	uint64_t vals[(size_t)ncpu * n];
	memset(out, 0, n * sizeof(*out));
	if (bpf_map_lookup_elem(fd, &key, vals))
		return -1;
	for (int i = 0; i < ncpu; i++)
		for (unsigned j = 0; j < n; j++)
			out[j] += vals[(size_t)i * n + j];
	return 0;
}

/* Move every CPU's pending fast-path capability counts into hwv_counts (hwv_cap_pc in
 * bpf/priv.bpf.h): hwv_capfl_raw run once on each online CPU. Returns the number of CPUs
 * where it ran, or -errno when it cannot run at all (then the fast path stays off: see
 * priv_sync_maps). An offline CPU keeps its slot's counts until it runs a check again. */
static int priv_cap_flush(struct agent *a)
{
	int fd = bpf_program__fd(a->skel->progs.hwv_capfl_raw);
	int ncpu = libbpf_num_possible_cpus(), ran = 0, err = -ENOENT;

	if (fd < 0 || ncpu <= 0)
		return -ENOENT;
	for (int cpu = 0; cpu < ncpu; cpu++) {
		LIBBPF_OPTS(bpf_test_run_opts, o, .flags = BPF_F_TEST_RUN_ON_CPU, .cpu = cpu);
		if (bpf_prog_test_run_opts(fd, &o) == 0)
			ran++;
		else if (errno != ENXIO) /* ENXIO: an offline CPU */
			err = -errno;
	}
	return ran ? ran : err;
}

/* Read every counter, emit what changed since the last window, forget finished processes. */
static void priv_summaries(struct agent *a, unsigned win)
{
	int fd = bpf_map__fd(a->skel->maps.hwv_counts);
	struct hw_priv_count_key cur, next, *gone = NULL;
	struct hw_priv_count_val v;
	size_t ngone = 0, capgone = 0;
	bool have = false;

	priv_cap_flush(a);
	while (bpf_map_get_next_key(fd, have ? &cur : NULL, &next) == 0) {
		cur = next;
		have = true;
		if (bpf_map_lookup_elem(fd, &cur, &v))
			continue;
		struct cnt_ent *e = cnt_get(a->priv, &cur, true);
		if (!e)
			break;
		uint64_t dc = v.count - e->count, dd = v.denied - e->denied;
		if (dc && proc_ignored(a, &v.hdr)) {
			/* became ignored (filters.ignore_exe) after its entry was created; also when
			 * it exited before the agent read its exec (proc_ignored remembers those) */
			e->count = v.count;
			e->denied = v.denied;
		} else if (dc) {
			emit_summary(a, &cur, &v, dc, dd, win);
			e->count = v.count;
			e->denied = v.denied;
		} else if (process_gone(a, &cur)) {
			if (ngone == capgone) {
				size_t nc = capgone ? capgone * 2 : 64;
				void *ng = realloc(gone, nc * sizeof(*gone));
				if (!ng)
					continue;
				gone = ng;
				capgone = nc;
			}
			gone[ngone++] = cur;
		}
	}
	for (size_t i = 0; i < ngone; i++) {
		bpf_map_delete_elem(fd, &gone[i]);
		cnt_del(a->priv, &gone[i]);
	}
	free(gone);

	/* CAP_SYS_ADMIN memory-accounting checks (see priv_cap_quiet in bpf/priv.bpf.c): counted
	 * host-wide in the kernel, one summary per window. The struct is two u64 counters, so
	 * the per-CPU sum of each is taken over the value viewed as an array of u64. */
	uint64_t *q_seen = a->priv->q_seen, q[2];
	percpu_sum(bpf_map__fd(a->skel->maps.hwv_memacct), 0, q, 2);
	uint64_t q_checks = q[0] - q_seen[0], q_denied = q[1] - q_seen[1];
	q_seen[0] = q[0];
	q_seen[1] = q[1];
	if (q_checks) {
		struct jbuf *b = &a->jb;
		emit_begin(a, "process.capability", 0);
		jb_key(b, "cap");
		jb_obj_begin(b);
		jb_kcstr(b, "name", "CAP_SYS_ADMIN");
		jb_ku64(b, "cap", 21);
		jb_kbool(b, "first", false);
		jb_ku64(b, "checks", q_checks);
		jb_ku64(b, "denied", q_denied);
		jb_ku64(b, "window_s", win);
		jb_kcstr(b, "aggregate", "memory_accounting");
		emit_event_end(a);
	}
}

static void priv_check_loss(struct agent *a)
{
	int fd = bpf_map__fd(a->skel->maps.hwv_loss);
	uint64_t *priv_loss_seen = a->priv->loss_seen;
	static const char *const what[HW_PRIV_NLOSS][2] = {
		{"process.capability", "count_map_full"},
		{"process.cred_change", "syscall_state_map_full"},
		{"process.capability", "count_entry_gone"},
	};

	for (uint32_t c = 0; c < HW_PRIV_NLOSS; c++) {
		uint64_t sum;
		if (percpu_sum(fd, c, &sum, 1))
			continue;
		if (sum == priv_loss_seen[c])
			continue;
		emit_begin(a, "agent.loss", 0);
		jb_key(&a->jb, "loss");
		jb_obj_begin(&a->jb);
		jb_kcstr(&a->jb, "kind", what[c][0]);
		jb_ku64(&a->jb, "count", sum - priv_loss_seen[c]);
		jb_kcstr(&a->jb, "cause", what[c][1]);
		jb_obj_end(&a->jb);
		emit_end(a);
		priv_loss_seen[c] = sum;
	}
}

/* The agent's own program, map and link ids, so that taking hold of them is agent.tamper. */
static void priv_own_ids(struct agent *a)
{
	int fd = bpf_map__fd(a->skel->maps.hwv_own_ids);
	struct bpf_program *prog;
	uint8_t one = 1;

	bpf_object__for_each_program (prog, a->skel->obj) {
		struct bpf_prog_info info = {};
		uint32_t l = sizeof(info);
		int pfd = bpf_program__fd(prog);
		if (pfd < 0 || bpf_obj_get_info_by_fd(pfd, &info, &l))
			continue;
		uint64_t k = (1ULL << 32) | info.id;
		bpf_map_update_elem(fd, &k, &one, BPF_ANY);
	}
	struct bpf_map *map;
	bpf_object__for_each_map (map, a->skel->obj) {
		struct bpf_map_info info = {};
		uint32_t l = sizeof(info);
		int mfd = bpf_map__fd(map);
		if (mfd < 0 || bpf_obj_get_info_by_fd(mfd, &info, &l))
			continue;
		uint64_t k = (3ULL << 32) | info.id;
		bpf_map_update_elem(fd, &k, &one, BPF_ANY);
	}
	/* Every BPF link the agent holds, whoever made it (probes, custom probes, the user
	 * family's uprobes): read from the agent's own descriptors. */
	DIR *d = opendir("/proc/self/fdinfo");
	struct dirent *de;
	while (d && (de = readdir(d))) {
		char path[300], line[128];
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/self/fdinfo/%s", de->d_name);
		FILE *f = fopen(path, "re");
		if (!f)
			continue;
		while (fgets(line, sizeof(line), f)) {
			unsigned long long id;
			if (sscanf(line, "link_id: %llu", &id) == 1) {
				uint64_t k = (2ULL << 32) | (uint32_t)id;
				bpf_map_update_elem(fd, &k, &one, BPF_ANY);
			}
		}
		fclose(f);
	}
	if (d)
		closedir(d);
}

void priv_tick(struct agent *a, uint64_t now_ms)
{
	struct priv_state *ps = a->priv;
	unsigned win = a->cfg.priv_window_s ? a->cfg.priv_window_s : 10;

	if (!a->skel)
		return;
	/* The agent's own ids are read again when links were made or destroyed (probes, custom
	 * probes, the user family's uprobes: at most once a second), and every 5 minutes as a
	 * safety net. Reading them means one syscall per program, map and open descriptor (a few
	 * ms): it was done every 10 s, ~600 system calls each time. */
	if ((a->own_ids_dirty && now_ms >= ps->ids_next_ms) || now_ms >= ps->ids_next_ms + 300000) {
		a->own_ids_dirty = false;
		priv_own_ids(a);
		ps->ids_next_ms = now_ms + 1000;
	}
	if (!ps->next_ms) {
		ps->next_ms = now_ms + win * 1000ULL;
		ps->last_ms = now_ms;
		return;
	}
	if (now_ms < ps->next_ms)
		return;
	priv_summaries(a, (unsigned)((now_ms - ps->last_ms + 500) / 1000));
	priv_check_loss(a);
	ps->last_ms = now_ms;
	ps->next_ms = now_ms + win * 1000ULL;
}

static uint32_t read_pmu_type(const char *name)
{
	char p[128];
	unsigned v = 0;
	snprintf(p, sizeof(p), "/sys/bus/event_source/devices/%s/type", name);
	FILE *f = fopen(p, "re");
	if (!f)
		return 0;
	if (fscanf(f, "%u", &v) != 1)
		v = 0;
	fclose(f);
	return v;
}

int priv_sync_maps(struct agent *a)
{
	struct hw_priv_cfg pc = {
		.kprobe_type = read_pmu_type("kprobe"),
		.uprobe_type = read_pmu_type("uprobe"),
	};
	bool *told = &a->priv->flush_told;
	int ran = priv_cap_flush(a);
	uint32_t zero = 0;
	struct sigaction sa = {.sa_handler = SIG_IGN};

	/* A stray SIGUSR1/2 must not end the monitor: they are ignored, and reported as
	 * agent.tamper with the sender. */
	sigaction(SIGUSR1, &sa, NULL);
	sigaction(SIGUSR2, &sa, NULL);
	/* the capability fast path only where its counts can be flushed (hwv_cap_pc) */
	pc.cap_fast = ran > 0;
	if (ran <= 0 && !*told) {
		agent_log("process.capability: the per-CPU flush does not run (%s); every check "
			  "takes the hash path\n",
			  strerror(-ran));
		*told = true;
	}
	if (bpf_map_update_elem(bpf_map__fd(a->skel->maps.hwv_cfg), &zero, &pc, BPF_ANY))
		return -errno;
	priv_own_ids(a);
	return 0;
}
