// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * herdwatch-replay - replays recorded agent output (JSON lines) to a collector through the
 * agent's own sender (agent/ship.c): real batching, spool, TLS and acks.
 *
 *   faithful (default): one sender per agent run (host.id, host.boot_id, host.run) found in
 *                       the input, each event with its own seq, in file order; the run id is
 *                       host.run (16 hex digits, as the agent writes it), 0 when the input
 *                       has none (recordings without run ids: one run per host and boot)
 *   --clone N:          N synthetic agents each replaying the whole input, host.id/host.name
 *                       suffixed with "-<i>" and seqs renumbered from 1 (load generation; the
 *                       collector must accept the certificate for any host: --relay-cert)
 *   --time-now:         rewrite every "time" to the moment it is shipped (latency tests)
 *   --stream:           ship each line as soon as it is read (a bridge from an agent's JSON
 *                       output: herdwatch-agent | herdwatch-replay --stream ... -)
 * Exits when every event is acknowledged (or --timeout-s passes: exit 1) and prints a JSON
 * summary on stdout.
 */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "agent/ship.h"
#include "collector/json.h"

struct span {
	uint32_t start, end; /* value bytes to replace in the line */
	int what;            /* 0 seq, 1 host.name, 2 host.id, 3 time */
};

struct line {
	char *s;
	uint32_t len;
	long long seq;
	int group;
	struct span sp[4];
	int nsp;
};

struct group {
	char host_id[129], boot_id[129], host_name[129];
	unsigned long long run;
	struct ship *ship;
	unsigned long long queued;
};

static struct line *lines;
static size_t nlines;
static struct group *groups;
static int ngroups;
static int clone_n, time_now, nthreads = 4, stream;
static struct ship *open_ship(const char *hid, const char *bid, unsigned long long run,
			      const char *name);
static double rate;
static struct ship_opts base;
static const char *spool_root;

static double mono(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int span_cmp(const void *a, const void *b)
{
	return (int)((const struct span *)a)->start - (int)((const struct span *)b)->start;
}

/* A run's spool directory: "<host id>-<boot id>", and "-<run id>" when the run id is known. */
static void spool_name(char *out, size_t n, const struct group *g)
{
	if (g->run)
		snprintf(out, n, "%.120s-%.120s-%016llx", g->host_id, g->boot_id, g->run);
	else
		snprintf(out, n, "%.120s-%.120s", g->host_id, g->boot_id);
}

static int load(const char *path, struct jtok *toks)
{
	FILE *f = strcmp(path, "-") ? fopen(path, "r") : stdin;
	if (!f) {
		fprintf(stderr, "herdwatch-replay: %s: %s\n", path, strerror(errno));
		return -1;
	}
	char *buf = NULL;
	size_t cap = 0;
	ssize_t n;
	while ((n = getline(&buf, &cap, f)) > 0) {
		while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
			buf[--n] = 0;
		if (!n)
			continue;
		int nt = json_parse(buf, (size_t)n, toks, 8192);
		struct jdoc d = {buf, toks, nt};
		if (nt <= 0 || toks[0].type != J_OBJ) {
			fprintf(stderr,
				"herdwatch-replay: skipping a line that is not a JSON object\n");
			continue;
		}
		struct line *l;
		if (nlines % 1024 == 0) {
			struct line *p = realloc(lines, (nlines + 1024) * sizeof(*lines));
			if (!p)
				return -1;
			lines = p;
		}
		l = &lines[nlines];
		memset(l, 0, sizeof(*l));
		int ok = 0, si = json_get(&d, 0, "seq");
		l->seq = json_int(&d, si, &ok);
		if (!ok) {
			fprintf(stderr, "herdwatch-replay: skipping an event without seq\n");
			continue;
		}
		l->s = strndup(buf, (size_t)n);
		l->len = (uint32_t)n;
		const char *paths[4] = {"seq", "host.name", "host.id", "time"};
		for (int w = 0; w < 4; w++) {
			int i = json_path(&d, 0, paths[w]);
			if (i < 0)
				continue;
			if (w == 3 && !time_now)
				continue;
			l->sp[l->nsp++] = (struct span){toks[i].start, toks[i].end, w};
		}
		qsort(l->sp, (size_t)l->nsp, sizeof(l->sp[0]), span_cmp);
		char hid[129] = "", bid[129] = "", hn[129] = "", rh[32] = "";
		json_str(&d, json_path(&d, 0, "host.run"), rh, sizeof(rh));
		char *rend;
		unsigned long long run = strtoull(rh, &rend, 16);
		if (!rh[0] || *rend)
			run = 0;
		json_str(&d, json_path(&d, 0, "host.id"), hid, sizeof(hid));
		json_str(&d, json_path(&d, 0, "host.boot_id"), bid, sizeof(bid));
		json_str(&d, json_path(&d, 0, "host.name"), hn, sizeof(hn));
		if (!hid[0])
			snprintf(hid, sizeof(hid), "%s", hn[0] ? hn : "unknown");
		if (!bid[0])
			snprintf(bid, sizeof(bid), "replay");
		int g;
		for (g = 0; g < ngroups; g++)
			if (!strcmp(groups[g].host_id, hid) && !strcmp(groups[g].boot_id, bid) &&
			    groups[g].run == run)
				break;
		if (g == ngroups) {
			struct group *p = realloc(groups, (size_t)(ngroups + 1) * sizeof(*groups));
			if (!p)
				return -1;
			groups = p;
			memset(&groups[g], 0, sizeof(groups[g]));
			snprintf(groups[g].host_id, sizeof(groups[g].host_id), "%s", hid);
			snprintf(groups[g].boot_id, sizeof(groups[g].boot_id), "%s", bid);
			snprintf(groups[g].host_name, sizeof(groups[g].host_name), "%s", hn);
			groups[g].run = run;
			ngroups++;
		}
		l->group = g;
		if (stream) {
			/* ship now, keep nothing but the per-group sender */
			if (!groups[g].ship) {
				char name[300];
				spool_name(name, sizeof(name), &groups[g]);
				if (!(groups[g].ship = open_ship(hid, bid, run, name)))
					return -1;
			}
			if (ship_event(groups[g].ship, (unsigned long long)l->seq, l->s, l->len) ==
			    0)
				groups[g].queued++;
			free(l->s);
			continue;
		}
		nlines++;
	}
	free(buf);
	if (f != stdin)
		fclose(f);
	return 0;
}

static void fmt_now(char *out, size_t n)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	struct tm tm;
	gmtime_r(&ts.tv_sec, &tm);
	snprintf(out, n, "%04d-%02d-%02dT%02d:%02d:%02d.%09ldZ", tm.tm_year + 1900, tm.tm_mon + 1,
		 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec);
}

/* Build line l for clone c (-1 = faithful) with seq; returns length in out. */
static size_t build(const struct line *l, int c, long long seq, char *out, size_t cap)
{
	size_t o = 0, pos = 0;
	for (int k = 0; k < l->nsp; k++) {
		const struct span *sp = &l->sp[k];
		size_t n = sp->start - pos;
		if (o + n + 200 > cap)
			return 0;
		memcpy(out + o, l->s + pos, n);
		o += n;
		size_t vl = sp->end - sp->start;
		const char *v = l->s + sp->start;
		switch (sp->what) {
		case 0:
			o += (size_t)snprintf(out + o, cap - o, "%lld", seq);
			break;
		case 1:
		case 2:
			if (vl + 20 > cap - o)
				return 0;
			memcpy(out + o, v, vl);
			o += vl;
			if (c >= 0)
				o += (size_t)snprintf(out + o, cap - o, "-%d", c);
			break;
		case 3: {
			char t[64];
			fmt_now(t, sizeof(t));
			o += (size_t)snprintf(out + o, cap - o, "%s", t);
			break;
		}
		}
		pos = sp->end;
	}
	size_t n = l->len - pos;
	if (o + n >= cap)
		return 0;
	memcpy(out + o, l->s + pos, n);
	return o + n;
}

struct worker {
	int id;
	pthread_t thr;
	struct ship **ships; /* clone mode: ships of this worker */
	int nships, first_clone;
	unsigned long long queued;
};

static struct ship *open_ship(const char *hid, const char *bid, unsigned long long run,
			      const char *name)
{
	char dir[4096];
	snprintf(dir, sizeof(dir), "%s/%s", spool_root, name);
	struct ship_opts o = base;
	o.spool_dir = dir;
	o.host_id = hid;
	o.boot_id = bid;
	o.run_id = run;
	struct ship *s;
	int err = ship_open(&s, &o);
	if (err) {
		fprintf(stderr, "herdwatch-replay: ship_open %s: %s\n", name, strerror(-err));
		return NULL;
	}
	return s;
}

static void *clone_worker(void *arg)
{
	struct worker *w = arg;
	char *buf = malloc(1 << 20);
	double t0 = mono();
	double per = rate > 0 ? rate / nthreads : 0;
	for (size_t i = 0; i < nlines && buf; i++) {
		for (int k = 0; k < w->nships; k++) {
			int c = w->first_clone + k;
			size_t n = build(&lines[i], c, (long long)i + 1, buf, 1 << 20);
			if (n && ship_event(w->ships[k], (unsigned long long)i + 1, buf, n) == 0)
				w->queued++;
		}
		if (per > 0) {
			double due = t0 + (double)w->queued / per;
			double now = mono();
			if (due > now)
				usleep((useconds_t)((due - now) * 1e6));
		}
	}
	free(buf);
	return NULL;
}

/* --clone N: N agents (threads share them) each sending every line as its own host. The
 * ships in *nall, what was queued added to *queued; NULL when one cannot start. */
static struct ship **send_cloned(unsigned long long *queued, int *nall)
{
	if (nthreads > clone_n)
		nthreads = clone_n;
	struct ship **all = calloc((size_t)clone_n, sizeof(*all));
	if (!all)
		return NULL;
	for (int c = 0; c < clone_n; c++) {
		char hid[160], name[64];
		snprintf(hid, sizeof(hid), "%s-%d", groups[lines[0].group].host_id, c);
		snprintf(name, sizeof(name), "clone-%d", c);
		if (!(all[c] = open_ship(hid, "replay-boot", groups[lines[0].group].run, name)))
			return NULL;
	}
	*nall = clone_n;
	struct worker *w = calloc((size_t)nthreads, sizeof(*w));
	int per = clone_n / nthreads, extra = clone_n % nthreads, at = 0;
	for (int t = 0; t < nthreads; t++) {
		w[t].id = t;
		w[t].first_clone = at;
		w[t].nships = per + (t < extra);
		w[t].ships = all + at;
		at += w[t].nships;
		pthread_create(&w[t].thr, NULL, clone_worker, &w[t]);
	}
	for (int t = 0; t < nthreads; t++) {
		pthread_join(w[t].thr, NULL);
		*queued += w[t].queued;
	}
	free(w);
	return all;
}

/* Every line by its own host's ship, at --rate events per second when one is given. */
static struct ship **send_lines(double t0, unsigned long long *queued, int *nall)
{
	for (int g = 0; g < ngroups; g++) {
		char name[300];
		spool_name(name, sizeof(name), &groups[g]);
		if (!(groups[g].ship =
			      open_ship(groups[g].host_id, groups[g].boot_id, groups[g].run, name)))
			return NULL;
	}
	char *buf = malloc(1 << 20);
	double per = rate;
	for (size_t i = 0; i < nlines && buf; i++) {
		struct line *l = &lines[i];
		size_t n = build(l, -1, l->seq, buf, 1 << 20);
		if (n && ship_event(groups[l->group].ship, (unsigned long long)l->seq, buf, n) == 0)
			(*queued)++;
		if (per > 0) {
			double due = t0 + (double)*queued / per, now = mono();
			if (due > now)
				usleep((useconds_t)((due - now) * 1e6));
		}
	}
	free(buf);
	struct ship **all = calloc((size_t)ngroups, sizeof(*all));
	if (!all)
		return NULL;
	for (int g = 0; g < ngroups; g++)
		all[g] = groups[g].ship;
	*nall = ngroups;

	return all;
}

struct totals {
	unsigned long long acked, dropped, reconnects, spooled;
	unsigned long long dropped_by[SHIP_DROP_NCAUSE];
};

/* Until every queued event is acknowledged (or dropped, and nothing is left in a spool), or
 * timeout_s since t0. */
static void wait_acks(struct ship **all, int nall, unsigned long long queued, double t0,
		      int timeout_s, struct totals *t)
{
	for (;;) {
		memset(t, 0, sizeof(*t));
		for (int i = 0; i < nall; i++) {
			struct ship_stats st;
			ship_get_stats(all[i], &st);
			t->acked += st.acked;
			t->dropped += st.dropped;
			for (int c = 0; c < SHIP_DROP_NCAUSE; c++)
				t->dropped_by[c] += st.dropped_by[c];
			t->reconnects += st.reconnects;
			t->spooled += st.spooled_bytes;
		}
		/* acked may include batches left in the spool by an earlier run */
		if ((t->acked + t->dropped >= queued && !t->spooled) || mono() - t0 > timeout_s)
			break;
		usleep(5000);
	}
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"collector", 1, 0, 'a'},
		{"ca", 1, 0, 'C'},
		{"cert", 1, 0, 'c'},
		{"key", 1, 0, 'k'},
		{"spool", 1, 0, 's'},
		{"clone", 1, 0, 'n'},
		{"rate", 1, 0, 'r'},
		{"time-now", 0, 0, 't'},
		{"timeout-s", 1, 0, 'T'},
		{"threads", 1, 0, 'j'},
		{"spool-max-kb", 1, 0, 'm'},
		{"stream", 0, 0, 'S'},
		{0, 0, 0, 0},
	};
	int o, timeout_s = 120;
	unsigned long long spool_kb = 256 * 1024;
	base.address = "127.0.0.1:7443";
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'a':
			base.address = optarg;
			break;
		case 'C':
			base.ca_file = optarg;
			break;
		case 'c':
			base.cert_file = optarg;
			break;
		case 'k':
			base.key_file = optarg;
			break;
		case 's':
			spool_root = optarg;
			break;
		case 'n':
			clone_n = atoi(optarg);
			break;
		case 'r':
			rate = atof(optarg);
			break;
		case 't':
			time_now = 1;
			break;
		case 'T':
			timeout_s = atoi(optarg);
			break;
		case 'j':
			nthreads = atoi(optarg);
			break;
		case 'm':
			spool_kb = strtoull(optarg, NULL, 10);
			break;
		case 'S':
			stream = 1;
			break;
		default:
			fprintf(stderr,
				"usage: herdwatch-replay --ca F --cert F --key F --spool DIR "
				"[--collector H:P] [--clone N] [--threads N] [--rate EV/S] "
				"[--time-now] "
				"[--timeout-s N] [--spool-max-kb N] FILE...\n");
			return 2;
		}
	}
	if (!base.ca_file || !base.cert_file || !base.key_file || !spool_root || optind >= argc) {
		fprintf(stderr,
			"herdwatch-replay: --ca, --cert, --key, --spool and a FILE are required\n");
		return 2;
	}
	base.spool_max_bytes = spool_kb << 10;
	mkdir(spool_root, 0700);
	struct jtok *toks = malloc(sizeof(struct jtok) * 8192);
	for (int i = optind; i < argc; i++)
		if (!toks || load(argv[i], toks))
			return 1;
	free(toks);
	double t0 = mono();
	unsigned long long queued = 0;
	struct ship **all = NULL;
	int nall = 0;
	if (stream) {
		all = calloc((size_t)ngroups + 1, sizeof(*all));
		for (int g = 0; g < ngroups; g++) {
			all[g] = groups[g].ship;
			queued += groups[g].queued;
		}
		nall = ngroups;
	} else if (clone_n > 0) {
		all = send_cloned(&queued, &nall);
		if (!all)
			return 1;
	} else {
		all = send_lines(t0, &queued, &nall);
		if (!all)
			return 1;
	}
	double tq = mono();
	struct totals t;
	wait_acks(all, nall, queued, t0, timeout_s, &t);
	double t1 = mono();
	for (int i = 0; i < nall; i++)
		ship_close(all[i], 1000);
	free(all);
	for (size_t i = 0; i < nlines; i++)
		free(lines[i].s);
	free(lines);
	free(groups);
	printf("{\"events\":%llu,\"acked\":%llu,\"dropped\":%llu,\"dropped_by\":{", queued, t.acked,
	       t.dropped);
	for (int c = 0; c < SHIP_DROP_NCAUSE; c++)
		printf("%s\"%s\":%llu", c ? "," : "", ship_drop_cause_name(c), t.dropped_by[c]);
	printf("},\"reconnects\":%llu,\"agents\":%d,\"queue_s\":%.3f,\"seconds\":%.3f,"
	       "\"events_per_s\":%.0f}\n",
	       t.reconnects, nall, tq - t0, t1 - t0, (double)t.acked / (t1 - t0 > 0 ? t1 - t0 : 1));
	return t.acked + t.dropped >= queued && !t.spooled ? 0 : 1;
}
