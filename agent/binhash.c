/* binhash.c - exec.sha256: the SHA-256 of every executed file, computed off the event path.
 *
 * The contract (docs/events.md, process.exec and process.binary): a process.exec event is never
 * held for the file. Its "sha256" is the hash when the cache knows this version of the file
 * (key: device, inode, size, mtime, ctime, all from the kernel's exec record, so a lookup costs
 * no system call); otherwise null with "sha256_reason": "pending" when the file was handed to
 * the worker thread, or why it is not hashed ("too_large" from the record's size, "disabled",
 * "queue_full"). The worker opens the file through /proc/PID/exe (the file the process runs,
 * even when its path was since replaced, deleted or never had one: memfd), else through the
 * path, and hashes it only if it is still the version the exec ran (same inode, size, mtime and
 * ctime; else "gone"); it skips files that are too large, not regular, or beyond the budget of
 * bytes hashed per second ("budget": a token bucket of one second's worth, at least the largest
 * file allowed), and files changed while being read ("changed"). Its answer comes back to the
 * event loop (binhash_tick) as a process.binary event carrying the first waiting exec's seq and
 * how many execs waited for it. Hashes, too_large and not_regular are remembered in a bounded
 * LRU cache (exec_hash.cache_entries); the other reasons are not, so a later exec tries again.
 * The cache is the event loop's alone; the worker and the loop share only the two job lists,
 * under one mutex. Counters are in the heartbeat's "exec_hash" object. */
#include "agent/binhash.h"
#include "agent/agent.h"
#include "agent/emit.h"
#include "agent/sha256.h"
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define BH_QUEUE_MAX 256 /* files waiting for the worker */
#define BH_READ_BYTES (256 * 1024)
#define BH_NONE UINT32_MAX

enum bh_reason {
	BH_OK,
	BH_PENDING,
	BH_TOO_LARGE,
	BH_GONE,
	BH_BUDGET,
	BH_NOT_REGULAR,
	BH_CHANGED,
	BH_READ_ERROR,
	BH_QUEUE_FULL,
	BH_DISABLED,
	BH_NREASON
};
static const char *const reason_names[BH_NREASON] = {
	"ok",          "pending", "too_large",  "gone",       "budget",
	"not_regular", "changed", "read_error", "queue_full", "disabled"};

struct bh_entry {
	struct binhash_key k;
	uint8_t done;   /* the worker answered: reason and sha are set */
	uint8_t reason; /* enum bh_reason */
	uint8_t sha[32];
	uint32_t execs; /* execs told "pending" for this version */
	uint32_t hnext, lprev, lnext;
};

struct bh_job {
	struct bh_job *next;
	struct hw_hdr hdr; /* the exec's header: the follow-up event's process context */
	struct binhash_key k;
	uint64_t seq; /* the exec event's seq */
	bool deleted;
	uint8_t reason;
	uint8_t sha[32];
	char path[];
};

struct binhash {
	pthread_t thr;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool stop;
	struct bh_job *q_head, *q_tail, *done_head, *done_tail;
	unsigned q_len;
	int done_any;                 /* a result waits (read without the lock by the loop) */
	uint64_t max_file, rate, cap; /* bytes; bytes per second; bucket size (under mu) */
	/* tests: HW_HASH_DELAY=MS:PREFIX makes the worker wait MS before a file whose path starts
	 * with PREFIX (a file deleted meanwhile, an exe read through /proc) */
	unsigned delay_ms;
	char delay_prefix[256];
	/* the worker's own */
	int64_t tokens;
	uint64_t last_ns;
	unsigned char *buf;
	/* the cache: the event loop's own */
	struct bh_entry *e;
	uint32_t n, nb, *buckets, used, lru_head, lru_tail, free_head;
	/* counters (the worker's under mu) */
	uint64_t hits, misses, hashed, hashed_bytes, evicted, skipped[BH_NREASON];
};

static uint64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

/* ---- the cache (event loop only): a chained hash on (dev, ino) and an LRU list ---- */

static uint32_t bucket_of(const struct binhash *bh, const struct binhash_key *k)
{
	uint64_t h = (k->ino ^ ((uint64_t)k->dev << 40)) * 0x9e3779b97f4a7c15ULL;
	return (uint32_t)(h >> 32) & (bh->nb - 1);
}

static bool key_eq(const struct binhash_key *x, const struct binhash_key *y)
{
	return x->ino == y->ino && x->dev == y->dev && x->size == y->size &&
	       x->mtime_ns == y->mtime_ns && x->ctime_ns == y->ctime_ns;
}

static void lru_unlink(struct binhash *bh, uint32_t i)
{
	struct bh_entry *e = &bh->e[i];
	if (e->lprev != BH_NONE)
		bh->e[e->lprev].lnext = e->lnext;
	else
		bh->lru_head = e->lnext;
	if (e->lnext != BH_NONE)
		bh->e[e->lnext].lprev = e->lprev;
	else
		bh->lru_tail = e->lprev;
}

static void lru_push(struct binhash *bh, uint32_t i)
{
	struct bh_entry *e = &bh->e[i];
	e->lprev = BH_NONE;
	e->lnext = bh->lru_head;
	if (bh->lru_head != BH_NONE)
		bh->e[bh->lru_head].lprev = i;
	bh->lru_head = i;
	if (bh->lru_tail == BH_NONE)
		bh->lru_tail = i;
}

/* the entry of this file (dev, ino), whatever its version; BH_NONE if none */
static uint32_t cache_find(struct binhash *bh, const struct binhash_key *k)
{
	for (uint32_t i = bh->buckets[bucket_of(bh, k)]; i != BH_NONE; i = bh->e[i].hnext)
		if (bh->e[i].k.ino == k->ino && bh->e[i].k.dev == k->dev)
			return i;
	return BH_NONE;
}

static void cache_remove(struct binhash *bh, uint32_t i)
{
	uint32_t *pp = &bh->buckets[bucket_of(bh, &bh->e[i].k)];
	while (*pp != i)
		pp = &bh->e[*pp].hnext;
	*pp = bh->e[i].hnext;
	lru_unlink(bh, i);
	bh->e[i].hnext = bh->free_head;
	bh->free_head = i;
	bh->used--;
}

/* a new entry for k (not done), the least recently used one evicted when full */
static uint32_t cache_insert(struct binhash *bh, const struct binhash_key *k)
{
	if (bh->free_head == BH_NONE) {
		cache_remove(bh, bh->lru_tail);
		bh->evicted++;
	}
	uint32_t i = bh->free_head;
	bh->free_head = bh->e[i].hnext;
	struct bh_entry *e = &bh->e[i];
	memset(e, 0, sizeof(*e));
	e->k = *k;
	uint32_t b = bucket_of(bh, k);
	e->hnext = bh->buckets[b];
	bh->buckets[b] = i;
	lru_push(bh, i);
	bh->used++;
	return i;
}

static int cache_init(struct binhash *bh, uint32_t n)
{
	uint32_t nb = 16;
	while (nb < n)
		nb <<= 1;
	struct bh_entry *e = calloc(n, sizeof(*e));
	uint32_t *buckets = malloc(nb * sizeof(*buckets));
	if (!e || !buckets) {
		free(e);
		free(buckets);
		return -ENOMEM;
	}
	free(bh->e);
	free(bh->buckets);
	bh->e = e;
	bh->buckets = buckets;
	bh->n = n;
	bh->nb = nb;
	bh->used = 0;
	memset(buckets, 0xff, nb * sizeof(*buckets));
	for (uint32_t i = 0; i < n; i++)
		e[i].hnext = i + 1 < n ? i + 1 : BH_NONE;
	bh->free_head = 0;
	bh->lru_head = bh->lru_tail = BH_NONE;
	return 0;
}

/* ---- the worker ---- */

/* Is st the version of the file the exec ran? Through the path: the whole key. Through
 * /proc/PID/exe (the_exe): the process still runs that very file, which the kernel keeps from
 * being written while it runs (ETXTBSY), but whose ctime an unlink, link or chmod moves on:
 * inode, size and mtime (a pid that exec'd another file since shows another inode). */
static bool stat_is(const struct stat *st, const struct binhash_key *k, bool the_exe)
{
	return (uint64_t)st->st_ino == k->ino && (uint64_t)st->st_size == k->size &&
	       st->st_mtim.tv_sec * 1000000000LL + st->st_mtim.tv_nsec == k->mtime_ns &&
	       (the_exe || st->st_ctim.tv_sec * 1000000000LL + st->st_ctim.tv_nsec == k->ctime_ns);
}

/* The file this exec ran, open: through /proc/PID/exe while the process runs it, else through
 * its path if that still names the same version. -1 if neither; *the_exe: through /proc. */
static int open_exec_file(const struct bh_job *j, struct stat *st, bool *the_exe)
{
	char proc[32];
	snprintf(proc, sizeof(proc), "/proc/%u/exe", j->hdr.pid);
	const int fl = O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY;
	int fd = open(proc, fl);
	*the_exe = true;
	if (fd >= 0 && !fstat(fd, st) && stat_is(st, &j->k, true))
		return fd;
	if (fd >= 0)
		close(fd);
	*the_exe = false;
	if (j->deleted || j->path[0] != '/')
		return -1;
	fd = open(j->path, fl);
	if (fd >= 0 && !fstat(fd, st) && stat_is(st, &j->k, false))
		return fd;
	if (fd >= 0)
		close(fd);
	return -1;
}

/* take size bytes from the budget, refilled at rate up to cap; false: over budget */
static bool budget_take(struct binhash *bh, uint64_t size, uint64_t rate, uint64_t cap)
{
	uint64_t now = mono_ns();
	if (bh->last_ns) {
		uint64_t dt = now - bh->last_ns;
		bh->tokens += (int64_t)((double)rate * (double)dt / 1e9);
	} else {
		bh->tokens = (int64_t)cap;
	}
	bh->last_ns = now;
	if (bh->tokens > (int64_t)cap)
		bh->tokens = (int64_t)cap;
	if ((int64_t)size > bh->tokens)
		return false;
	bh->tokens -= (int64_t)size;
	return true;
}

static void hash_job(struct binhash *bh, struct hw_sha256 *ctx, struct bh_job *j, uint64_t max_file,
		     uint64_t rate, uint64_t cap, uint64_t *bytes)
{
	struct stat st, st2;
	bool the_exe;
	int fd = open_exec_file(j, &st, &the_exe);
	*bytes = 0;
	if (fd < 0) {
		j->reason = BH_GONE;
		return;
	}
	if (!S_ISREG(st.st_mode))
		j->reason = BH_NOT_REGULAR;
	else if ((uint64_t)st.st_size > max_file)
		j->reason = BH_TOO_LARGE;
	else if (!budget_take(bh, (uint64_t)st.st_size, rate, cap))
		j->reason = BH_BUDGET;
	if (j->reason) {
		close(fd);
		return;
	}
	hw_sha256_init(ctx);
	ssize_t r;
	while ((r = read(fd, bh->buf, BH_READ_BYTES)) > 0) {
		hw_sha256_update(ctx, bh->buf, (size_t)r);
		*bytes += (uint64_t)r;
	}
	hw_sha256_final(ctx, j->sha);
	if (r < 0)
		j->reason = BH_READ_ERROR;
	else if (fstat(fd, &st2) || !stat_is(&st2, &j->k, the_exe) || *bytes != j->k.size)
		j->reason = BH_CHANGED;
	close(fd);
}

static void *worker(void *arg)
{
	struct binhash *bh = arg;
	struct hw_sha256 *ctx = hw_sha256_new();
	pthread_mutex_lock(&bh->mu);
	for (;;) {
		while (!bh->q_head && !bh->stop)
			pthread_cond_wait(&bh->cv, &bh->mu);
		if (bh->stop)
			break;
		struct bh_job *j = bh->q_head;
		bh->q_head = j->next;
		if (!bh->q_head)
			bh->q_tail = NULL;
		bh->q_len--;
		uint64_t max_file = bh->max_file, rate = bh->rate, cap = bh->cap;
		unsigned delay = bh->delay_ms;
		pthread_mutex_unlock(&bh->mu);

		if (delay && !strncmp(j->path, bh->delay_prefix, strlen(bh->delay_prefix)))
			usleep(delay * 1000U);
		uint64_t bytes = 0;
		if (ctx)
			hash_job(bh, ctx, j, max_file, rate, cap, &bytes);
		else
			j->reason = BH_READ_ERROR;

		pthread_mutex_lock(&bh->mu);
		bh->hashed_bytes += bytes;
		if (j->reason)
			bh->skipped[j->reason]++;
		else
			bh->hashed++;
		j->next = NULL;
		if (bh->done_tail)
			bh->done_tail->next = j;
		else
			bh->done_head = j;
		bh->done_tail = j;
		__atomic_store_n(&bh->done_any, 1, __ATOMIC_RELEASE);
	}
	pthread_mutex_unlock(&bh->mu);
	hw_sha256_free(ctx);
	return NULL;
}

static void free_jobs(struct bh_job *j)
{
	while (j) {
		struct bh_job *n = j->next;
		free(j);
		j = n;
	}
}

void binhash_free(struct agent *a)
{
	struct binhash *bh = a->bh;
	if (!bh)
		return;
	pthread_mutex_lock(&bh->mu);
	bh->stop = true;
	pthread_cond_signal(&bh->cv);
	pthread_mutex_unlock(&bh->mu);
	pthread_join(bh->thr, NULL);
	free_jobs(bh->q_head);
	free_jobs(bh->done_head);
	free(bh->e);
	free(bh->buckets);
	free(bh->buf);
	pthread_mutex_destroy(&bh->mu);
	pthread_cond_destroy(&bh->cv);
	free(bh);
	a->bh = NULL;
}

int binhash_configure(struct agent *a)
{
	struct binhash *bh = a->bh;
	const typeof(a->cfg.exec_hash) *c = &a->cfg.exec_hash;
	if (!bh) {
		if (!c->enabled)
			return 0;
		bh = calloc(1, sizeof(*bh));
		if (!bh || !(bh->buf = malloc(BH_READ_BYTES)) || cache_init(bh, c->cache_entries)) {
			if (bh)
				free(bh->buf);
			free(bh);
			return -ENOMEM;
		}
		const char *d = getenv("HW_HASH_DELAY"), *colon = d ? strchr(d, ':') : NULL;
		if (colon && colon[1]) {
			bh->delay_ms = (unsigned)atoi(d);
			snprintf(bh->delay_prefix, sizeof(bh->delay_prefix), "%s", colon + 1);
		}
		pthread_mutex_init(&bh->mu, NULL);
		pthread_cond_init(&bh->cv, NULL);
		int rc = pthread_create(&bh->thr, NULL, worker, bh);
		if (rc) {
			agent_log("exec_hash: cannot start the hashing thread: %s\n", strerror(rc));
			free(bh->e);
			free(bh->buckets);
			free(bh->buf);
			free(bh);
			return -rc;
		}
		a->bh = bh;
	} else if (bh->n != c->cache_entries && cache_init(bh, c->cache_entries)) {
		return -ENOMEM; /* the old cache stays */
	}
	pthread_mutex_lock(&bh->mu);
	bh->max_file = (uint64_t)c->max_file_kb << 10;
	bh->rate = (uint64_t)c->budget_kb_s << 10;
	bh->cap = bh->rate > bh->max_file ? bh->rate : bh->max_file;
	pthread_mutex_unlock(&bh->mu);
	return 0;
}

/* ---- the event loop's side ---- */

static void put_sha(struct jbuf *b, const uint8_t sha[32], unsigned reason)
{
	static const char hex[] = "0123456789abcdef";
	jb_key(b, "sha256");
	if (reason) {
		jb_null(b);
		jb_ktrusted(b, "sha256_reason", reason_names[reason]);
		return;
	}
	char s[64];
	for (int i = 0; i < 32; i++) {
		s[2 * i] = hex[sha[i] >> 4];
		s[2 * i + 1] = hex[sha[i] & 15];
	}
	jb_trusted_n(b, s, sizeof(s));
}

/* an answer now, without the worker, and counted */
static void answer(struct binhash *bh, struct jbuf *b, unsigned reason)
{
	if (bh) { /* the worker counts too_large as well: under the lock */
		pthread_mutex_lock(&bh->mu);
		bh->skipped[reason]++;
		pthread_mutex_unlock(&bh->mu);
	}
	put_sha(b, NULL, reason);
}

void binhash_exec(struct agent *a, const struct hw_hdr *h, const struct binhash_key *k,
		  const char *path, size_t pathlen, bool deleted)
{
	struct binhash *bh = a->bh;
	struct jbuf *b = &a->jb;
	if (!bh || !a->cfg.exec_hash.enabled) {
		answer(bh, b, BH_DISABLED);
		return;
	}
	if (k->size > (uint64_t)a->cfg.exec_hash.max_file_kb << 10) {
		answer(bh, b, BH_TOO_LARGE);
		return;
	}
	uint32_t i = cache_find(bh, k);
	if (i != BH_NONE && key_eq(&bh->e[i].k, k)) {
		struct bh_entry *e = &bh->e[i];
		lru_unlink(bh, i);
		lru_push(bh, i);
		bh->hits++;
		if (!e->done)
			e->execs++;
		put_sha(b, e->sha, e->done ? e->reason : BH_PENDING);
		return;
	}
	bh->misses++;
	if (i != BH_NONE)
		cache_remove(bh, i); /* an older version of the file */
	struct bh_job *j = malloc(sizeof(*j) + pathlen + 1);
	if (!j) {
		answer(bh, b, BH_QUEUE_FULL);
		return;
	}
	memset(j, 0, sizeof(*j));
	j->hdr = *h;
	j->k = *k;
	j->seq = a->seq + 1; /* the exec event being formatted */
	j->deleted = deleted;
	memcpy(j->path, path, pathlen);
	j->path[pathlen] = 0;
	pthread_mutex_lock(&bh->mu);
	bool full = bh->q_len >= BH_QUEUE_MAX;
	if (!full) {
		if (bh->q_tail)
			bh->q_tail->next = j;
		else
			bh->q_head = j;
		bh->q_tail = j;
		bh->q_len++;
		pthread_cond_signal(&bh->cv);
	}
	pthread_mutex_unlock(&bh->mu);
	if (full) {
		free(j);
		{
			answer(bh, b, BH_QUEUE_FULL);
			return;
		}
	}
	bh->e[cache_insert(bh, k)].execs = 1;
	put_sha(b, NULL, BH_PENDING);
}

/* The worker's answer for one exec'd file: into the cache when it lasts (a hash, a file too
 * large or not regular: facts of this version), and out as process.binary. */
static void emit_binary(struct agent *a, struct binhash *bh, struct bh_job *j)
{
	uint32_t execs = 1;
	uint32_t i = cache_find(bh, &j->k);
	if (i != BH_NONE && !key_eq(&bh->e[i].k, &j->k))
		i = BH_NONE; /* a newer version is in the cache now */
	else if (i != BH_NONE && !bh->e[i].done)
		execs = bh->e[i].execs;
	bool lasts = !j->reason || j->reason == BH_TOO_LARGE || j->reason == BH_NOT_REGULAR;
	if (lasts && i == BH_NONE && cache_find(bh, &j->k) == BH_NONE)
		i = cache_insert(bh, &j->k);
	if (i != BH_NONE && lasts) {
		bh->e[i].done = 1;
		bh->e[i].reason = j->reason;
		memcpy(bh->e[i].sha, j->sha, sizeof(j->sha));
	} else if (i != BH_NONE && !bh->e[i].done) {
		cache_remove(bh, i); /* the next exec tries again */
	}

	struct hw_hdr h = j->hdr;
	struct timespec ts;
	clock_gettime(CLOCK_BOOTTIME, &ts);
	h.ts = ts.tv_sec * 1000000000ULL + ts.tv_nsec;
	struct proc *p = proctab_get(&a->pt, h.pid);
	if (p && p->start_ticks != ns_to_ticks(a, h.start_ns))
		p = NULL; /* the pid was reused */
	emit_event_p(a, "process.binary", &h, p, "binary");
	struct jbuf *b = &a->jb;
	jb_kcstr(b, "path", j->path);
	char dev[24];
	snprintf(dev, sizeof(dev), "%u:%u", j->k.dev >> 20, j->k.dev & 0xfffff);
	jb_ktrusted(b, "dev", dev);
	jb_ku64(b, "ino", j->k.ino);
	jb_ku64(b, "size", j->k.size);
	put_sha(b, j->sha, j->reason);
	jb_ku64(b, "exec_seq", j->seq);
	jb_ku64(b, "execs", execs);
	emit_event_end(a);
}

void binhash_tick(struct agent *a, uint64_t now_ms)
{
	struct binhash *bh = a->bh;
	if (!bh || !__atomic_load_n(&bh->done_any, __ATOMIC_ACQUIRE))
		return;
	pthread_mutex_lock(&bh->mu);
	struct bh_job *j = bh->done_head;
	bh->done_head = bh->done_tail = NULL;
	bh->done_any = 0;
	pthread_mutex_unlock(&bh->mu);
	while (j) {
		struct bh_job *n = j->next;
		emit_binary(a, bh, j);
		free(j);
		j = n;
	}
}

void binhash_heartbeat(struct agent *a, struct jbuf *b)
{
	struct binhash *bh = a->bh;
	jb_key(b, "exec_hash");
	jb_obj_begin(b);
	jb_kbool(b, "enabled", bh && a->cfg.exec_hash.enabled);
	if (bh) {
		pthread_mutex_lock(&bh->mu);
		jb_ku64(b, "cache_entries", bh->used);
		jb_ku64(b, "cache_max", bh->n);
		jb_ku64(b, "hits", bh->hits);
		jb_ku64(b, "misses", bh->misses);
		jb_ku64(b, "evicted", bh->evicted);
		jb_ku64(b, "queued", bh->q_len);
		jb_ku64(b, "hashed", bh->hashed);
		jb_ku64(b, "hashed_bytes", bh->hashed_bytes);
		jb_key(b, "skipped");
		jb_obj_begin(b);
		for (int r = BH_TOO_LARGE; r < BH_NREASON; r++)
			jb_ku64(b, reason_names[r], bh->skipped[r]);
		jb_obj_end(b);
		pthread_mutex_unlock(&bh->mu);
	}
	jb_obj_end(b);
}
