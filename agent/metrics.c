// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * metrics.c - the agent's metrics in the Prometheus text format, written as a textfile for
 * node_exporter's textfile collector (docs/metrics.md says why a file and not a port).
 *
 * Every metrics.interval seconds the whole exposition is written to "<textfile>.tmp" and
 * renamed over the textfile: node_exporter reads only *.prom files, and a rename is atomic,
 * so a scrape sees the previous file or the new one, never half of one. The counters are the
 * ones the heartbeat reports (agent.heartbeat stats); names and labels follow agent.loss (kind,
 * cause) and the probe manifest (probe, state, hook).
 */
#include "agent/metrics.h"
#include "agent/ctrmeta.h"
#include "agent/net_dns_cache.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bpf/libbpf.h>

#include "agent/agent.h"
#include "common/prom.h"
#include "common/relay.h"
#include "herdwatch.skel.h"

/* The names agent.loss gives these causes (agent/events.c). */
_Static_assert(HW_DROP_NCAUSE == 3, "a kernel drop cause without a metrics name");
static const char *const kernel_cause[HW_DROP_NCAUSE] = {[HW_DROP_RINGBUF] = "ringbuf_full",
							 [HW_DROP_SCRATCH] = "no_scratch",
							 [HW_DROP_NO_OWNER] = "no_owner"};
_Static_assert(HW_ULOSS_NCAUSE == 7, "a user-space loss cause without a metrics name");
static const char *const user_cause[HW_ULOSS_NCAUSE] = {
	[HW_ULOSS_DECODE] = "decode",       [HW_ULOSS_OOM] = "oom",
	[HW_ULOSS_RING_READ] = "ring_read", [HW_ULOSS_OUTPUT] = "output_error",
	[HW_ULOSS_SYSLOG] = "syslog_full",  [HW_ULOSS_SYSLOG_BIG] = "syslog_oversize",
	[HW_ULOSS_WEBHOOK] = "webhook_full"};

/* One agent per process: the textfile's state. */
static struct {
	char *path;       /* the textfile last written (removed when the config drops it) */
	uint64_t next_ms; /* when to write next */
	int err;          /* errno of the last failed write (logged once per change) */
	const void *ring; /* the ring buffer's consumer and producer pages (read-only) */
	size_t ring_len;
} mt;

/* Bytes written to the ring buffer and not consumed yet: the producer position (second page
 * of the map's mmap area) minus the consumer position (first page), as libbpf reads them. */
static int ringbuf_used(struct agent *a, uint64_t *used)
{
	if (!a->skel)
		return -1;
	if (!mt.ring) {
		long pg = sysconf(_SC_PAGESIZE);
		void *p = mmap(NULL, 2 * (size_t)pg, PROT_READ, MAP_SHARED,
			       bpf_map__fd(a->skel->maps.hw_events), 0);
		if (p == MAP_FAILED)
			return -1;
		mt.ring = p;
		mt.ring_len = 2 * (size_t)pg;
	}
	uint64_t cons = __atomic_load_n((const uint64_t *)mt.ring, __ATOMIC_ACQUIRE);
	uint64_t prod = __atomic_load_n((const uint64_t *)((const char *)mt.ring + mt.ring_len / 2),
					__ATOMIC_ACQUIRE);
	*used = prod - cons;
	return 0;
}

static const char *probe_state(enum hw_probe_state s)
{
	return s == PROBE_ATTACHED      ? "attached"
	       : s == PROBE_UNAVAILABLE ? "unavailable"
					: "disabled";
}

/* Per kind (record types that share a kind add up): count(a, type). Kinds in the order of
 * their first type; returns how many. */
static int by_kind(struct agent *a, const char **kind, uint64_t *n,
		   uint64_t (*count)(struct agent *, uint32_t, int), int arg)
{
	int nk = 0;
	for (uint32_t t = 0; t < HW_EV_MAX; t++) {
		const char *k = kind_name(t);
		if (!strcmp(k, "unknown"))
			continue;
		int i = 0;
		while (i < nk && strcmp(kind[i], k))
			i++;
		if (i == nk) {
			kind[nk] = k;
			n[nk++] = 0;
		}
		n[i] += count(a, t, arg);
	}
	return nk;
}

static uint64_t events_of(struct agent *a, uint32_t t, int unused)
{
	return a->events_by_type[t];
}

static uint64_t drops_of(struct agent *a, uint32_t t, int cause)
{
	return a->drops_total[t * HW_DROP_NCAUSE + cause];
}

/* outputs.syslog and outputs.webhook, labelled by output (families only when one runs) */
static void relay_metrics(struct agent *a, struct prom *b)
{
	const char *name[2];
	struct relay_stats st[2];
	int n = outputs_stats(a, name, st);
	if (!n)
		return;
	static const struct {
		const char *name, *type, *help;
	} fam[] = {
		{"herdwatch_agent_output_up", "gauge",
		 "1 while the output's last delivery attempt succeeded."},
		{"herdwatch_agent_output_events_sent_total", "counter",
		 "Events the output delivered (syslog: written; webhook: answered 2xx)."},
		{"herdwatch_agent_output_failures_total", "counter",
		 "Failed connects, writes and answers of the output (each retried)."},
		{"herdwatch_agent_output_queued_events", "gauge",
		 "Events waiting in the output's queue."},
		{"herdwatch_agent_output_queued_bytes", "gauge",
		 "Bytes the output's queue holds (counted against outputs.*.buffer_kb)."},
	};
	for (size_t f = 0; f < sizeof(fam) / sizeof(fam[0]); f++) {
		prom_family(b, fam[f].name, fam[f].type, fam[f].help);
		for (int i = 0; i < n; i++) {
			uint64_t v[] = {st[i].up, st[i].sent, st[i].failures, st[i].queued,
					st[i].queued_bytes};
			prom_u64(b, fam[f].name, v[f], "output", name[i], NULL);
		}
	}
}

#define N(x) "herdwatch_agent_" x

/* events by kind, the emitted, filtered and undecodable totals; the container identities */
static void render_events(struct agent *a, struct prom *b)
{
	const char *kind[HW_EV_MAX];
	uint64_t n[HW_EV_MAX];
	int nk;
	prom_family(
		b, N("events_total"), "counter",
		"Kernel records decoded, by event kind (the heartbeat's stats.events_by_kind).");
	nk = by_kind(a, kind, n, events_of, 0);
	for (int i = 0; i < nk; i++)
		prom_u64(b, N("events_total"), n[i], "kind", kind[i], NULL);
	prom_one_u64(b, N("events_emitted_total"), "counter",
		     "Events written (every kind, agent.* included): the last seq of this run.",
		     a->events_total);
	prom_one_u64(b, N("events_filtered_total"), "counter",
		     "Records dropped by a filter in user space (filters, ignore rules).",
		     a->filtered);
	prom_one_u64(b, N("decode_errors_total"), "counter",
		     "Records that could not be decoded or formatted.", a->decode_errors);
	prom_one_u64(b, N("dns_names_evicted_total"), "counter",
		     "Resolved names dropped from the address-to-name table before their TTL "
		     "(the table full near their slot): later connects to them carry no dst.name.",
		     dns_cache_evicted(a->dns));

	/* container identity (agent/ctrmeta.c) */
	struct ctrmeta_stats cs;
	ctrmeta_stats(a->ctrmeta, &cs);
	prom_family(b, N("container_lookups_total"), "counter",
		    "Container identities looked up in the runtimes' metadata, by outcome.");
	prom_u64(b, N("container_lookups_total"), cs.found, "result", "found", NULL);
	prom_u64(b, N("container_lookups_total"), cs.not_found, "result", "not_found", NULL);
	prom_u64(b, N("container_lookups_total"), cs.errors, "result", "error", NULL);
	prom_one_u64(b, N("container_cache_entries"), "gauge", "Containers in the identity cache.",
		     cs.entries);
	prom_one_u64(b, N("container_cache_evictions_total"), "counter",
		     "Containers dropped from the identity cache (removed, or the cache full).",
		     cs.evicted);
}

/* events_dropped_total: by kind and cause, from the kernel, the agent and the stream */
static void render_losses(struct agent *a, struct prom *b, const struct ship_stats *st)
{
	const char *kind[HW_EV_MAX];
	uint64_t n[HW_EV_MAX];
	int nk;
	prom_family(
		b, N("events_dropped_total"), "counter",
		"Events lost, by kind and cause (those of agent.loss): in the kernel "
		"(ringbuf_full, no_scratch, no_owner), in the agent (decode, oom, ring_read, "
		"output_error) "
		"and in the collector stream (spool_full, spool_unreadable, ship_error; kind *).");
	for (int c = 0; c < HW_DROP_NCAUSE; c++) {
		nk = by_kind(a, kind, n, drops_of, c);
		for (int i = 0; i < nk; i++)
			prom_u64(b, N("events_dropped_total"), n[i], "kind", kind[i], "cause",
				 kernel_cause[c], NULL);
	}
	/* the loss table may hold a (kind, cause) twice (its last place takes the overflow) */
	for (unsigned i = 0; i < a->n_uloss; i++) {
		const struct hw_uloss *u = &a->uloss[i];
		uint64_t sum = 0;
		bool first = true;
		for (unsigned j = 0; j < a->n_uloss; j++)
			if (a->uloss[j].cause == u->cause && !strcmp(a->uloss[j].kind, u->kind)) {
				first &= j >= i;
				sum += a->uloss[j].count;
			}
		if (first && u->cause < HW_ULOSS_NCAUSE)
			prom_u64(b, N("events_dropped_total"), sum, "kind", u->kind, "cause",
				 user_cause[u->cause], NULL);
	}
	if (a->ship) {
		for (int c = 0; c < SHIP_DROP_NCAUSE; c++)
			prom_u64(b, N("events_dropped_total"), st->dropped_by[c], "kind", "*",
				 "cause", ship_drop_cause_name(c), NULL);
	}
}

/* the coverage manifest: every probe's state, and the hook of the attached ones */
static void render_probes(struct agent *a, struct prom *b)
{
	prom_family(b, N("probe_state"), "gauge",
		    "1 for the probe's current state (attached, disabled, unavailable), 0 for the "
		    "others.");
	static const char *const states[] = {"attached", "disabled", "unavailable"};
	for (int i = 0; i < HW_NPROBES; i++)
		for (int s = 0; s < 3; s++)
			prom_u64(b, N("probe_state"),
				 !strcmp(probe_state(a->probes[i].state), states[s]), "probe",
				 a->probes[i].name, "state", states[s], NULL);
	for (int i = 0; i < HW_CP_SLOTS; i++) {
		const struct custom_probe *cp = custom_at(a, i);
		char name[80];
		if (!cp)
			continue;
		snprintf(name, sizeof(name), "custom.%s", cp->name);
		for (int s = 0; s < 3; s++)
			prom_u64(b, N("probe_state"), !strcmp(cp->state, states[s]), "probe", name,
				 "state", states[s], NULL);
	}
	prom_family(b, N("probe_hook_info"), "gauge",
		    "The hook an attached probe uses (fentry, tracepoint, tp_btf, uprobe...), "
		    "always 1.");
	for (int i = 0; i < HW_NPROBES; i++)
		if (a->probes[i].state == PROBE_ATTACHED && a->probes[i].hook)
			prom_u64(b, N("probe_hook_info"), 1, "probe", a->probes[i].name, "hook",
				 a->probes[i].hook, NULL);
}

/* the ring buffer, the file output, the collector stream and the relays */
static void render_outputs(struct agent *a, struct prom *b, const struct ship_stats *st)
{
	/* the ring buffer */
	prom_one_u64(b, N("ringbuf_size_bytes"), "gauge", "Size of the kernel ring buffer.",
		     a->skel ? (uint64_t)bpf_map__max_entries(a->skel->maps.hw_events) : 0);
	uint64_t used;
	if (!ringbuf_used(a, &used))
		prom_one_u64(b, N("ringbuf_used_bytes"), "gauge",
			     "Bytes in the ring buffer not read by the agent yet (when the file "
			     "was written).",
			     used);

	/* outputs */
	prom_one_u64(b, N("output_errors_total"), "counter", "Failed writes to the output.",
		     a->out.errors);
	prom_one_u64(b, N("output_pending_bytes"), "gauge",
		     "Bytes of events waiting to be written to the output.", a->out.len);
	if (a->ship) {
		struct ship_queue q;
		ship_get_queue(a->ship, &q);
		prom_one_u64(b, N("collector_connected"), "gauge",
			     "1 while the collector stream is connected.", st->connected ? 1 : 0);
		prom_one_u64(b, N("collector_events_sent_total"), "counter",
			     "Events sent to the collector (a resend counts again).", st->sent);
		prom_one_u64(b, N("collector_events_acked_total"), "counter",
			     "Events the collector acknowledged as stored.", st->acked);
		prom_one_u64(b, N("collector_reconnects_total"), "counter",
			     "Connections to the collector made again after a loss.",
			     st->reconnects);
		prom_one_u64(b, N("spool_bytes"), "gauge",
			     "Bytes of batches in the spool (not acknowledged by the collector).",
			     st->spooled_bytes);
		prom_one_u64(b, N("spool_batches"), "gauge",
			     "Batches in the spool (not acknowledged by the collector).",
			     q.batches);
		prom_one_u64(b, N("events_unacked"), "gauge",
			     "Events sent or spooled that the collector has not acknowledged, and "
			     "events "
			     "of the batch being filled.",
			     q.events + q.open_events);
		prom_one_u64(b, N("events_queued"), "gauge",
			     "Events of the batch being filled (not sealed into the spool yet).",
			     q.open_events);
	}
	relay_metrics(a, b);
}

void metrics_render(struct agent *a, struct prom *b)
{
	struct ship_stats st = {0};
	if (a->ship)
		ship_get_stats(a->ship, &st);
	prom_family(b, N("build_info"), "gauge", "Version of the agent (the label), always 1.");
	prom_u64(b, N("build_info"), 1, "version", HW_VERSION, NULL);
	render_events(a, b);
	render_losses(a, b, &st);
	render_probes(a, b);
	render_outputs(a, b, &st);
	/* the process */
	prom_one_u64(b, N("processes"), "gauge", "Processes in the agent's process table.",
		     a->pt.count);
	prom_process(b, "herdwatch_agent_process");
}
#undef N

/* Write the textfile: the exposition into "<path>.tmp", renamed over path. 0 or -errno. */
static int write_textfile(struct agent *a, const char *path)
{
	struct prom b = {0};
	char tmp[4200];
	int err = 0;
	metrics_render(a, &b);
	if (b.oom) {
		prom_free(&b);
		return -ENOMEM;
	}
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= sizeof(tmp)) {
		prom_free(&b);
		return -ENAMETOOLONG;
	}
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0) {
		err = -errno;
		goto out;
	}
	fchmod(fd, 0644); /* node_exporter runs as its own user: it must read the file */
	for (size_t off = 0; off < b.len;) {
		ssize_t w = write(fd, b.p + off, b.len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			err = w < 0 ? -errno : -EIO;
			break;
		}
		off += (size_t)w;
	}
	if (close(fd) && !err)
		err = -errno;
	if (!err && rename(tmp, path))
		err = -errno;
	if (err)
		unlink(tmp);
out:
	prom_free(&b);
	return err;
}

void metrics_tick(struct agent *a, uint64_t now_ms)
{
	const char *path = a->cfg.metrics.textfile;
	if (mt.path && (!path || strcmp(mt.path, path))) {
		/* turned off or moved (config reload): the old file would only go stale */
		unlink(mt.path);
		free(mt.path);
		mt.path = NULL;
		mt.next_ms = 0;
	}
	if (!path || now_ms < mt.next_ms)
		return;
	if (!mt.path && !(mt.path = strdup(path)))
		return;
	mt.next_ms = now_ms + (uint64_t)a->cfg.metrics.interval_s * 1000;
	int err = write_textfile(a, path);
	if (err && err != mt.err)
		fprintf(stderr,
			"herdwatch-agent: metrics: cannot write %s: %s (retried every %u s)\n",
			path, strerror(-err), a->cfg.metrics.interval_s);
	else if (!err && mt.err)
		fprintf(stderr, "herdwatch-agent: metrics: %s written again\n", path);
	mt.err = err;
}

void metrics_close(struct agent *a)
{
	if (mt.path)
		unlink(mt.path);
	free(mt.path);
	mt.path = NULL;
	if (mt.ring)
		munmap((void *)mt.ring, mt.ring_len);
	mt.ring = NULL;
}
