// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * nats_worker.c - `herdwatch-collector --mode worker --nats URL[,URL...] --shard-dir DIR`:
 * a herd-engine worker of the scale-out deployment (docs/scale-out.md), and
 * `--mode events --shard-dir DIR`: every event stored in the shards, one JSON line each.
 *
 * Contract. A worker announces itself in the bucket hw_workers (key worker.<id>, renewed every
 * lease-ms/3, gone lease-ms after it stops). Every partition p has one wanted owner among the
 * live workers: the highest fnv1a(worker id, p) (rendezvous hashing: a worker that joins or
 * leaves moves only its own share). A worker claims a wanted partition by creating the key
 * part.<p> in hw_leases (bucket TTL lease-ms; creation fails while another holds it) and
 * renews it by revision; it stops writing for a partition whose lease it could not renew
 * within 2/3 of the TTL and goes back to that partition's last checkpoint. A partition no
 * longer wanted is checkpointed and released (its lease deleted) so its new owner can take it.
 * nats_part.c does the work of one partition. SIGTERM/SIGINT: checkpoint and release all.
 */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "collector/nats_worker.h"
#include "collector/tokens.h"
#include "common/wire.h"

static volatile sig_atomic_t stop;
static void on_stop(int sig)
{
	stop = sig;
}

static uint64_t hrw(const char *worker, unsigned p)
{
	uint64_t h = nats_fnv1a(worker, strlen(worker), NATS_FNV_INIT);
	return nats_fnv1a(&p, sizeof(p), h) * 0x9e3779b97f4a7c15ull;
}

/*
 * Membership: each worker writes worker.<id> = "<ms since the epoch>" every lease-ms/3 and
 * watches the bucket (one watcher for its life, not a listing each round: a listing is a new
 * consumer each time); a worker is live until lease-ms after its last heartbeat. At most
 * NATS_MAX_WORKERS are known; more are ignored (said once).
 */
static void members_drain(struct worker *w)
{
	kvEntry *e = NULL;
	while (kvWatcher_Next(&e, w->watch, 1) == NATS_OK) {
		if (!e)
			continue; /* the end of the initial values */
		const char *k = kvEntry_Key(e);
		if (!strncmp(k, "worker.", 7) && kvEntry_Operation(e) == kvOp_Put) {
			uint64_t t = strtoull(kvEntry_ValueString(e), NULL, 10) + w->lease_ms;
			unsigned i = 0;
			while (i < w->nmembers && strcmp(w->members_seen[i].id, k + 7))
				i++;
			if (i == w->nmembers && i < NATS_MAX_WORKERS) {
				snprintf(w->members_seen[i].id, sizeof(w->members_seen[i].id), "%s",
					 k + 7);
				w->nmembers++;
			} else if (i == NATS_MAX_WORKERS) {
				static int said;
				if (!said++)
					fprintf(stderr,
						"herdwatch-collector: worker %s: more than %d "
						"workers: "
						"the others are ignored\n",
						w->id, NATS_MAX_WORKERS);
			}
			if (i < w->nmembers)
				w->members_seen[i].until_ms = t;
		} else if (!strncmp(k, "worker.", 7)) { /* deleted: it stopped */
			for (unsigned i = 0; i < w->nmembers; i++)
				if (!strcmp(w->members_seen[i].id, k + 7))
					w->members_seen[i].until_ms = 0;
		}
		kvEntry_Destroy(e);
		e = NULL;
	}
}

/* The live worker that should own p: the highest rendezvous hash (NULL: none known). */
static const char *wanted_owner(struct worker *w, unsigned p)
{
	const char *best = NULL;
	uint64_t bh = 0, now = w_real_ns() / 1000000ull;
	for (unsigned i = 0; i < w->nmembers; i++) {
		const char *id = w->members_seen[i].id;
		if (w->members_seen[i].until_ms < now && strcmp(id, w->id))
			continue;
		uint64_t h = hrw(id, p);
		if (!best || h > bh || (h == bh && strcmp(id, best) > 0)) {
			best = id;
			bh = h;
		}
	}
	return best;
}

/*
 * Leases: key part.<p> of hw_leases (no TTL: the key, once made, stays) holds
 * "<worker id> <expiry, ms since the epoch>", or "" when free. Every write is conditional on
 * the revision read (compare-and-set), so of two workers taking a lease at once one fails. A
 * key that does not exist yet is made empty first, with a Nats-Msg-Id, so that of several
 * makers only one message is stored. Expiry compares clocks: the workers' clocks must agree
 * far better than lease-ms (NTP).
 */
static void lease_value(struct worker *w, char *v, size_t n)
{
	snprintf(v, n, "%s %llu", w->id,
		 (unsigned long long)(w_real_ns() / 1000000ull + w->lease_ms));
}

int lease_write(struct worker *w, unsigned p, uint64_t *rev, int release)
{
	char key[32], v[200] = "";
	snprintf(key, sizeof(key), "part.%u", p);
	if (!release)
		lease_value(w, v, sizeof(v));
	uint64_t nr = 0;
	if (kvStore_UpdateString(&nr, w->leases, key, v, *rev) != NATS_OK)
		return -1;
	*rev = nr;
	return 0;
}

/* Take the lease of p when it is free or expired: 0 (rev set) or -1. */
static int lease_take(struct worker *w, unsigned p, uint64_t *rev)
{
	char key[32];
	snprintf(key, sizeof(key), "part.%u", p);
	kvEntry *e = NULL;
	natsStatus s = kvStore_Get(&e, w->leases, key);
	if (s == NATS_NOT_FOUND) {
		char subj[64], id[64];
		snprintf(subj, sizeof(subj), "$KV.hw_leases.%s", key);
		snprintf(id, sizeof(id), "lease-init-%s", key);
		jsPubOptions po;
		jsPubOptions_Init(&po);
		po.MsgId = id;
		js_Publish(NULL, w->link.js, subj, "", 0, &po, NULL);
		s = kvStore_Get(&e, w->leases, key);
	}
	if (s != NATS_OK)
		return -1;
	const char *v = kvEntry_ValueString(e);
	const char *sp = strrchr(v, ' ');
	unsigned long long exp = sp ? strtoull(sp + 1, NULL, 10) : 0;
	*rev = kvEntry_Revision(e);
	kvEntry_Destroy(e);
	if (exp > w_real_ns() / 1000000ull)
		return -1; /* held */
	return lease_write(w, p, rev, 0);
}

/* One membership and lease round: renew, rebalance. */
static void lease_cycle(struct worker *w)
{
	char key[160];
	snprintf(key, sizeof(key), "worker.%s", w->id);
	char now_ms[32];
	snprintf(now_ms, sizeof(now_ms), "%llu", (unsigned long long)(w_real_ns() / 1000000ull));
	if (kvStore_PutString(NULL, w->members, key, now_ms) != NATS_OK)
		return; /* the leases below expire unless renewed: nothing is claimed now */
	for (unsigned i = 0; i < w->link.partitions; i++) {
		struct part *p = &w->parts[i];
		if (!p->owned)
			continue;
		uint64_t t = w_mono_ns();
		if (!lease_write(w, i, &p->lease_rev, 0)) {
			p->lease_ok_ns = t;
		} else if (!part_lease_valid(p)) {
			part_drop(p, "lease lost", 0);
		}
	}
	members_drain(w);
	/* claims for at most a sixth of a lease a round: the leases held are renewed between */
	uint64_t until = w_mono_ns() + (uint64_t)w->lease_ms * 166666ull;
	int claimed = 0;
	for (unsigned i = 0; i < w->link.partitions && !stop; i++) {
		struct part *p = &w->parts[i];
		const char *want = wanted_owner(w, i);
		int mine = want && !strcmp(want, w->id);
		if (p->owned && !mine) {
			part_release(p);
		} else if (!p->owned && mine && !claimed) {
			claimed = w_mono_ns() > until;
			uint64_t rev = 0, t = w_mono_ns();
			if (lease_take(w, i, &rev))
				continue; /* still held by another (released soon, or expiring) */
			p->owned = 1;
			p->lease_rev = rev;
			p->lease_ok_ns = t;
			part_claim(p);
		}
	}
}

/* --mode events: every stored event of every shard in DIR, one JSON line each. */
static int dump_events(const char *dir)
{
	DIR *d = opendir(dir);
	if (!d) {
		fprintf(stderr, "herdwatch-collector: --shard-dir %s: %s\n", dir, strerror(errno));
		return 1;
	}
	int rc = 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		size_t l = strlen(de->d_name);
		if (strncmp(de->d_name, "part-", 5) || l < 4 || strcmp(de->d_name + l - 3, ".db"))
			continue;
		char path[4096];
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		sqlite3 *db = NULL;
		sqlite3_stmt *st = NULL;
		if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK ||
		    sqlite3_prepare_v2(db, "SELECT raw_len, z FROM chunks ORDER BY id", -1, &st,
				       NULL) != SQLITE_OK) {
			fprintf(stderr, "herdwatch-collector: %s: %s\n", path, sqlite3_errmsg(db));
			rc = 1;
		}
		while (st && sqlite3_step(st) == SQLITE_ROW) {
			size_t raw = (size_t)sqlite3_column_int64(st, 0);
			const void *z = sqlite3_column_blob(st, 1);
			size_t zl = (size_t)sqlite3_column_bytes(st, 1);
			char *buf = raw <= HW_WIRE_MAX_RAW ? malloc(raw) : NULL;
			size_t got = buf ? ZSTD_decompress(buf, raw, z, zl) : 0;
			if (!buf || ZSTD_isError(got) || got != raw) {
				fprintf(stderr, "herdwatch-collector: %s: a chunk is damaged\n",
					path);
				rc = 1;
			} else {
				fwrite(buf, 1, raw, stdout);
			}
			free(buf);
		}
		sqlite3_finalize(st);
		sqlite3_close(db);
	}
	closedir(d);
	return rc;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: herdwatch-collector --mode worker --nats URL[,URL...] --shard-dir DIR "
		"[options]\n"
		"       herdwatch-collector --mode events --shard-dir DIR\n"
		"  --worker-id NAME     this worker's name [host-pid]\n"
		"  --partitions P       herd partitions, the same in every process [16]\n"
		"  --replicas N         of streams and buckets [3 with 3 or more servers, else 1]\n"
		"  --lease-ms N         partition lease and membership TTL [3000]\n"
		"  --checkpoint-ms N    how often judged state is checkpointed and acked [1000]\n"
		"  --fetch N            messages fetched at once per partition [64]\n"
		"  --hold-ms N --learn-s N --min-herd N --threshold BITS --silent-s N\n"
		"  --change-window-s N --psl-file FILE --quiet              herd engine\n");
}

static int parse_opts(struct worker *w, int argc, char **argv, const char **urls, int *mode,
		      unsigned *partitions, int *replicas, const char **psl)
{
	static const struct option opts[] = {
		{"mode", 1, 0, 'm'},
		{"nats", 1, 0, 'n'},
		{"shard-dir", 1, 0, 'd'},
		{"worker-id", 1, 0, 'i'},
		{"partitions", 1, 0, 'P'},
		{"replicas", 1, 0, 'R'},
		{"lease-ms", 1, 0, 'L'},
		{"checkpoint-ms", 1, 0, 'C'},
		{"fetch", 1, 0, 'F'},
		{"hold-ms", 1, 0, 'H'},
		{"learn-s", 1, 0, 'l'},
		{"min-herd", 1, 0, 'M'},
		{"threshold", 1, 0, 'T'},
		{"silent-s", 1, 0, 'S'},
		{"change-window-s", 1, 0, 'W'},
		{"psl-file", 1, 0, 'p'},
		{"quiet", 0, 0, 'q'},
		{0, 0, 0, 0},
	};
	int o;
	optind = 1;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'm':
			*mode = !strcmp(optarg, "events") ? NATS_MODE_EVENTS : NATS_MODE_WORKER;
			break;
		case 'n':
			*urls = optarg;
			break;
		case 'd':
			w->shard_dir = optarg;
			break;
		case 'i':
			snprintf(w->id, sizeof(w->id), "%s", optarg);
			break;
		case 'P':
			*partitions = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'R':
			*replicas = atoi(optarg);
			break;
		case 'L':
			w->lease_ms = (unsigned)(atoi(optarg) >= 300 ? atoi(optarg) : 300);
			break;
		case 'C':
			w->ckpt_ms = (unsigned)(atoi(optarg) > 0 ? atoi(optarg) : 1);
			break;
		case 'F':
			w->fetch_batch = (unsigned)(atoi(optarg) > 0 ? atoi(optarg) : 1);
			break;
		case 'H':
			w->hc.hold_ms = (unsigned)atoi(optarg);
			break;
		case 'l':
			w->hc.learn_s = (unsigned)atoi(optarg);
			break;
		case 'M':
			w->hc.min_herd = (unsigned)atoi(optarg);
			break;
		case 'T':
			w->hc.threshold_bits = atof(optarg);
			break;
		case 'S':
			w->hc.silent_s = (unsigned)atoi(optarg);
			break;
		case 'W':
			w->hc.change_window_s = (unsigned)atoi(optarg);
			break;
		case 'p':
			*psl = optarg;
			break;
		case 'q':
			w->quiet = 1;
			break;
		default:
			usage();
			return -1;
		}
	}
	if (optind < argc || !w->shard_dir || (*mode == NATS_MODE_WORKER && !*urls)) {
		usage();
		return -1;
	}
	if (!w->id[0]) {
		char h[64] = "worker";
		gethostname(h, sizeof(h) - 1);
		snprintf(w->id, sizeof(w->id), "%s-%d", h, (int)getpid());
	}
	for (const char *c = w->id; *c; c++)
		if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_",
			    *c)) {
			fprintf(stderr,
				"herdwatch-collector: --worker-id: letters, digits, - and _ "
				"only\n");
			return -1;
		}
	return 0;
}

static void worker_loop(struct worker *w)
{
	uint64_t last_lease = 0;
	while (!stop) {
		uint64_t now = w_mono_ns();
		if (now - last_lease >= (uint64_t)w->lease_ms * 333333ull) {
			lease_cycle(w);
			last_lease = w_mono_ns();
		}
		int got = 0;
		for (unsigned i = 0; i < w->link.partitions && !stop; i++) {
			struct part *p = &w->parts[i];
			if (!p->owned)
				continue;
			got += part_poll(p);
			if (!p->owned)
				continue;
			now = w_mono_ns();
			if (now - p->last_tick_ns >= 100000000ull) {
				herd_tick(p->herd, w_real_ns());
				p->last_tick_ns = now;
				if (p->failed)
					part_drop(p, "alert not published", 1);
			}
			if (p->owned && now - p->last_ckpt_ns >= (uint64_t)w->ckpt_ms * 1000000ull)
				part_checkpoint(p, 0);
		}
		if (!got)
			usleep(10000);
	}
	/* stopping: hand every partition over with a checkpoint (a held candidate is judged
	 * first, for at most a few seconds) */
	uint64_t until = w_mono_ns() + 5000000000ull;
	for (int left = 1; left && w_mono_ns() < until;) {
		left = 0;
		for (unsigned i = 0; i < w->link.partitions; i++) {
			struct part *p = &w->parts[i];
			if (!p->owned)
				continue;
			herd_tick(p->herd, w_real_ns());
			if (part_release(p) == -EAGAIN)
				left = 1;
		}
		if (left)
			usleep(50000);
	}
	for (unsigned i = 0; i < w->link.partitions; i++)
		if (w->parts[i].owned)
			part_drop(&w->parts[i], "stopping with a held candidate", 1);
}

int nats_worker_main(int argc, char **argv)
{
	struct worker wk = {0}, *w = &wk;
	const char *urls = NULL, *psl = NULL;
	int mode = NATS_MODE_WORKER, replicas = 0, rc = 1;
	unsigned partitions = 16;
	herd_cfg_default(&w->hc);
	w->lease_ms = 3000;
	w->ckpt_ms = 1000;
	w->fetch_batch = 64;
	if (parse_opts(w, argc, argv, &urls, &mode, &partitions, &replicas, &psl))
		return 2;
	if (mode == NATS_MODE_EVENTS)
		return dump_events(w->shard_dir);
	char why[1024];
	if (tokens_psl_init(psl, 0, why, sizeof(why)) != TOKENS_PSL_FILE_OK)
		fprintf(stderr, "herdwatch-collector: %s\n", why);
	if (mkdir(w->shard_dir, 0700) && errno != EEXIST) {
		fprintf(stderr, "herdwatch-collector: --shard-dir %s: %s\n", w->shard_dir,
			strerror(errno));
		return 1;
	}
	/* a request may not outlast a third of a lease: the leases held are renewed between */
	w->link.api_wait_ms = w->lease_ms / 3;
	if (nats_link_open(&w->link, urls, partitions, replicas))
		return 1;
	w->members = nats_kv(&w->link, "hw_workers", w->lease_ms, 1);
	w->leases = nats_kv(&w->link, "hw_leases", 0, 1);
	w->ckpt = nats_kv(&w->link, "hw_ckpt", 0, 1);
	if (w->members && kvStore_WatchAll(&w->watch, w->members, NULL) != NATS_OK)
		w->watch = NULL;
	w->parts = calloc(partitions, sizeof(*w->parts));
	w->raw = malloc(HW_WIRE_MAX_RAW);
	w->raw2 = malloc(HW_WIRE_MAX_RAW);
	w->zcap = ZSTD_compressBound(HW_WIRE_MAX_RAW);
	w->zbuf = malloc(w->zcap);
	w->toks = malloc(sizeof(struct jtok) * 8192);
	w->dctx = ZSTD_createDCtx();
	w->cctx = ZSTD_createCCtx();
	if (!w->members || !w->watch || !w->leases || !w->ckpt || !w->parts || !w->raw ||
	    !w->raw2 || !w->zbuf || !w->toks || !w->dctx || !w->cctx)
		goto out;
	for (unsigned i = 0; i < partitions; i++)
		w->parts[i] = (struct part){.w = w, .id = i};
	w->start_ns = w_mono_ns();
	signal(SIGPIPE, SIG_IGN);
	signal(SIGTERM, on_stop);
	signal(SIGINT, on_stop);
	fprintf(stderr,
		"herdwatch-collector: worker %s: %u partitions, shards in %s, lease %u ms, "
		"checkpoint every %u ms\n",
		w->id, partitions, w->shard_dir, w->lease_ms, w->ckpt_ms);
	worker_loop(w);
	char key[160];
	snprintf(key, sizeof(key), "worker.%s", w->id);
	kvStore_Delete(w->members, key);
	fprintf(stderr,
		"herdwatch-collector: worker %s: %llu messages, %llu events judged, %llu stored, "
		"%llu duplicates, %llu bad events, %llu bad messages, %llu alerts (%llu "
		"duplicates dropped, %llu not published), %llu checkpoints (%llu deferred), "
		"%llu claims, %llu releases, %llu drops\n",
		w->id, w->msgs, w->events, w->stored, w->dups, w->bad_events, w->bad_msgs,
		w->alerts, w->alert_dups, w->alert_failed, w->ckpts, w->ckpt_deferred, w->claims,
		w->releases, w->drops);
	rc = 0;
out:
	for (unsigned i = 0; w->parts && i < partitions; i++)
		free(w->parts[i].unacked);
	free(w->parts);
	if (w->watch)
		kvWatcher_Destroy(w->watch);
	kvStore_Destroy(w->members);
	kvStore_Destroy(w->leases);
	kvStore_Destroy(w->ckpt);
	nats_link_close(&w->link);
	free(w->raw);
	free(w->raw2);
	free(w->zbuf);
	free(w->toks);
	ZSTD_freeDCtx(w->dctx);
	ZSTD_freeCCtx(w->cctx);
	return rc;
}
