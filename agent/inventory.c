/* inventory.c - what a host already carries, reported as inventory.* events: at start, every
 * inventory.interval_hours and on "ctl inventory" (docs/events-inventory.md).
 *
 * A run happens in a worker thread, off the event path: the thread lowers its own priority
 * (nice 19, idle I/O class) and runs the sections of inventory_scan.c and inventory_net.c one
 * after the other within a budget (wall-clock time, entries examined and bytes read, items);
 * what it finds is queued as finished JSON objects. The event loop (the family's tick) takes
 * at most INV_EMIT_PER_TICK of them per pass and emits them with the usual envelope, then the
 * summary (counts, duration, the thread's own CPU time, whether and where a budget cut it
 * short). Only one run at a time; a run that the agent's stop interrupts still gets its
 * summary (cut short: "stopped"). The worker never touches the agent's state: it reads the
 * limits copied into its run and writes only the run and the queue (under the mutex). */
#include "agent/agent.h"
#include "agent/inventory.h"
#include "agent/sha256.h"
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define INV_EMIT_PER_TICK 512

const char *const inv_kind_name[INV_NKINDS] = {
	"inventory.uid0",    "inventory.authorized_key", "inventory.preload",  "inventory.module",
	"inventory.crontab", "inventory.unit",           "inventory.listener", "inventory.setid"};
const char *const inv_count_name[INV_NKINDS] = {
	"uid0", "authorized_keys", "preload", "modules", "crontabs", "units", "listeners", "setid"};

/* The sections in the order they run: the cheap ones first, the walk of the file systems
 * (the one a budget usually cuts) last. */
static const struct {
	const char *name;
	void (*fn)(struct inv_run *r);
} sections[] = {
	{"accounts", inv_scan_accounts},   {"authorized_keys", inv_scan_keys},
	{"preload", inv_scan_preload},     {"modules", inv_scan_modules},
	{"crontabs", inv_scan_cron},       {"units", inv_scan_units},
	{"listeners", inv_scan_listeners}, {"setid", inv_scan_setid},
};

/* the family's state (struct agent's inv): made by inventory_init, freed by inventory_free */
struct inv_state {
	pthread_mutex_t mu;
	struct inv_item *head, **tail; /* under mu */
	pthread_t th;
	bool running;    /* a thread was started and not yet joined (event loop only) */
	atomic_int done; /* the thread finished its sections */
	volatile int stop;
	struct inv_run run;
	uint64_t runs, next_due_ms, start_wall_ms;
	uint64_t cpu_ns, end_ns; /* set by the thread before done */
	char trigger[80];
	bool scheduled; /* the first run (or its absence) was decided */
};

/* the state a run belongs to (the worker and push_item have only the run) */
static struct inv_state *inv_of(struct inv_run *r)
{
	return (struct inv_state *)((char *)r - offsetof(struct inv_state, run));
}

int inventory_init(struct agent *a)
{
	struct inv_state *inv = calloc(1, sizeof(*inv));
	if (!inv)
		return -ENOMEM;
	int rc = pthread_mutex_init(&inv->mu, NULL);
	if (rc) {
		free(inv);
		return -rc;
	}
	a->inv = inv;
	return 0;
}

/* After inventory_stop (the agent's drain) or inventory_once: no thread is running. A run's
 * items not emitted yet (an agent stopped before its drain) are dropped with the state. */
void inventory_free(struct agent *a)
{
	struct inv_state *inv = a->inv;
	if (!inv)
		return;
	if (inv->running) {
		inv->stop = 1;
		pthread_join(inv->th, NULL);
	}
	for (struct inv_item *it = inv->head, *next; it; it = next) {
		next = it->next;
		free(it);
	}
	jb_free(&inv->run.item);
	jb_free(&inv->run.unavail);
	pthread_mutex_destroy(&inv->mu);
	free(inv);
	a->inv = NULL;
}

static uint64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static bool check_time(struct inv_run *r)
{
	if (!r->cut && *r->stop)
		r->cut = "stopped";
	if (!r->cut && mono_ns() - r->start_ns > r->lim.time_ms * 1000000ull)
		r->cut = "time";
	return !r->cut;
}

bool inv_file(struct inv_run *r)
{
	if (r->cut)
		return false;
	if (++r->files > r->lim.max_files) {
		r->cut = "io";
		return false;
	}
	return (r->files & 63) || check_time(r);
}

bool inv_bytes(struct inv_run *r, uint64_t n)
{
	if (r->cut)
		return false;
	r->bytes += n;
	if (r->bytes > r->lim.max_bytes) {
		r->cut = "io";
		return false;
	}
	return check_time(r);
}

void inv_unavailable(struct inv_run *r, const char *section, const char *why)
{
	jb_kcstr(&r->unavail, section, why);
}

struct jbuf *inv_item_begin(struct inv_run *r)
{
	jb_reset(&r->item);
	jb_obj_begin(&r->item);
	jb_ku64(&r->item, "run", r->no);
	return &r->item;
}

bool inv_item_end(struct inv_run *r, enum inv_kind kind)
{
	jb_obj_end(&r->item);
	if (r->cut)
		return false;
	uint64_t n = 0;
	for (int k = 0; k < INV_NKINDS; k++)
		n += r->counts[k];
	if (n >= r->lim.max_items) {
		r->cut = "items";
		return false;
	}
	if (r->item.oom || !r->push(r, kind, r->item.p, r->item.len))
		r->lost++; /* the summary says how many */
	else
		r->counts[kind]++;
	return check_time(r);
}

static bool push_item(struct inv_run *r, enum inv_kind kind, const char *body, size_t len)
{
	struct inv_state *inv = inv_of(r);
	struct inv_item *it = malloc(sizeof(*it) + len);
	if (!it)
		return false;
	it->next = NULL;
	it->kind = kind;
	it->len = len;
	memcpy(it->body, body, len);
	pthread_mutex_lock(&inv->mu);
	*inv->tail = it;
	inv->tail = &it->next;
	pthread_mutex_unlock(&inv->mu);
	return true;
}

char *inv_read(struct inv_run *r, int dirfd, const char *path, size_t max, size_t *len, bool *cut)
{
	*len = 0;
	if (cut)
		*cut = false;
	if (!inv_file(r)) {
		errno = ECANCELED;
		return NULL;
	}
	int fd = openat(dirfd, path, O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return NULL;
	struct stat st;
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		close(fd);
		errno = EINVAL;
		return NULL;
	}
	/* files of /proc say size 0: read to the end (or max) whatever the size says */
	size_t cap = st.st_size > 0 && (size_t)st.st_size < max ? (size_t)st.st_size + 1 : 4096;
	if (cap > max + 1)
		cap = max + 1;
	char *buf = malloc(cap + 1);
	size_t n = 0;
	bool cutoff = false;
	while (buf && n <= max) { /* max + 1 bytes read: it was longer than max */
		if (n == cap) {
			size_t nc = cap * 2 > max + 1 ? max + 1 : cap * 2;
			char *nb = realloc(buf, nc + 1);
			if (!nb) {
				cutoff = true;
				break;
			}
			buf = nb;
			cap = nc;
		}
		ssize_t got = read(fd, buf + n, cap - n);
		if (got <= 0)
			break;
		n += (size_t)got;
	}
	close(fd);
	if (!buf) {
		errno = ENOMEM;
		return NULL;
	}
	if (n > max) {
		cutoff = true;
		n = max;
	}
	buf[n] = 0;
	*len = n;
	if (cut)
		*cut = cutoff;
	inv_bytes(r, n);
	return buf;
}

void inv_sha256_hex(const void *p, size_t n, char hex[65])
{
	uint8_t md[32];
	static const char h[] = "0123456789abcdef";
	hw_sha256(p, n, md);
	for (int i = 0; i < 32; i++) {
		hex[2 * i] = h[md[i] >> 4];
		hex[2 * i + 1] = h[md[i] & 15];
	}
	hex[64] = 0;
}

static void *worker(void *arg)
{
	struct inv_run *r = arg;
	struct inv_state *inv = inv_of(r);
	sigset_t all;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL); /* signals are the event loop's */
	pid_t tid = (pid_t)syscall(SYS_gettid);
	/* both are per thread on Linux: the event loop keeps its own priority */
	setpriority(PRIO_PROCESS, (id_t)tid, 19);
	syscall(SYS_ioprio_set, 1 /* IOPRIO_WHO_PROCESS */, tid, 3 << 13 /* IOPRIO_CLASS_IDLE */);
	struct timespec c0, c1;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c0);
	for (size_t i = 0; i < sizeof(sections) / sizeof(sections[0]); i++) {
		r->section = sections[i].name;
		if (!check_time(r))
			break;
		sections[i].fn(r);
		if (r->cut)
			break;
	}
	for (size_t i = 0; i < r->nacct; i++) {
		free(r->acct[i].name);
		free(r->acct[i].home);
	}
	free(r->acct);
	r->acct = NULL;
	r->nacct = 0;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c1);
	inv->cpu_ns = (uint64_t)(c1.tv_sec - c0.tv_sec) * 1000000000ull +
		      (uint64_t)(c1.tv_nsec - c0.tv_nsec);
	inv->end_ns = mono_ns();
	atomic_store(&inv->done, 1);
	return NULL;
}

static uint64_t env_u64(const char *name, uint64_t dflt)
{
	const char *s = getenv(name);
	char *end;
	if (!s || !*s)
		return dflt;
	unsigned long long v = strtoull(s, &end, 10);
	return *end ? dflt : v;
}

/* The time until the next periodic run: inventory.interval_hours, or HW_INVENTORY_INTERVAL_MS
 * (tests); 0 = none. */
static uint64_t interval_ms(const struct agent *a)
{
	return env_u64("HW_INVENTORY_INTERVAL_MS", (uint64_t)a->cfg.inventory.interval_h * 3600000);
}

static int start_run(struct agent *a, const char *trigger)
{
	struct inv_state *inv = a->inv;
	struct inv_run *r = &inv->run;
	jb_free(&r->item);
	jb_free(&r->unavail);
	memset(r, 0, sizeof(*r));
	r->no = ++inv->runs;
	r->lim.time_ms = a->cfg.inventory.time_budget_ms;
	r->lim.max_files = a->cfg.inventory.max_files;
	r->lim.max_bytes = (uint64_t)a->cfg.inventory.max_read_mb << 20;
	r->lim.max_items = a->cfg.inventory.max_items;
	r->stop = &inv->stop;
	r->push = push_item;
	r->start_ns = mono_ns();
	jb_init(&r->item, 4096);
	jb_init(&r->unavail, 256);
	snprintf(inv->trigger, sizeof(inv->trigger), "%s", trigger);
	inv->tail = &inv->head;
	inv->head = NULL;
	atomic_store(&inv->done, 0);
	inv->stop = 0;
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	inv->start_wall_ms = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
	int rc = pthread_create(&inv->th, NULL, worker, r);
	if (rc) {
		agent_log("cannot start the inventory's thread: %s\n", strerror(rc));
		inv->runs--;
		return -rc;
	}
	inv->running = true;
	return 0;
}

static void emit_item(struct agent *a, const struct inv_item *it)
{
	emit_begin(a, inv_kind_name[it->kind], 0);
	jb_key(&a->jb, "inventory");
	jb_raw(&a->jb, it->body, it->len);
	a->jb.comma = true;
	emit_end(a);
}

/* Emit up to max queued items (all with max 0); true when the queue is empty. */
static bool emit_queued(struct agent *a, unsigned max)
{
	struct inv_state *inv = a->inv;
	pthread_mutex_lock(&inv->mu);
	struct inv_item *list = inv->head;
	inv->head = NULL;
	inv->tail = &inv->head;
	pthread_mutex_unlock(&inv->mu);
	unsigned n = 0;
	while (list && (!max || n < max)) {
		struct inv_item *it = list;
		list = it->next;
		emit_item(a, it);
		free(it);
		n++;
	}
	if (!list)
		return true;
	/* put the rest back in front of what arrived meanwhile */
	pthread_mutex_lock(&inv->mu);
	struct inv_item **end = &list;
	while (*end)
		end = &(*end)->next;
	*end = inv->head;
	if (!inv->head)
		inv->tail = end;
	inv->head = list;
	pthread_mutex_unlock(&inv->mu);
	return false;
}

static void emit_summary(struct agent *a)
{
	struct inv_state *inv = a->inv;
	struct inv_run *r = &inv->run;
	struct jbuf *b = &a->jb;
	char tmp[32];
	emit_begin(a, "inventory.summary", 0);
	jb_key(b, "inventory");
	jb_obj_begin(b);
	jb_ku64(b, "run", r->no);
	jb_kcstr(b, "trigger", inv->trigger);
	jb_ku64(b, "started_ms", inv->start_wall_ms);
	jb_key(b, "counts");
	jb_obj_begin(b);
	for (int k = 0; k < INV_NKINDS; k++)
		jb_ku64(b, inv_count_name[k], r->counts[k]);
	jb_obj_end(b);
	jb_ku64(b, "duration_ms", (inv->end_ns - r->start_ns) / 1000000);
	jb_key(b, "cpu_s");
	snprintf(tmp, sizeof(tmp), "%.3f", inv->cpu_ns / 1e9);
	jb_raw(b, tmp, strlen(tmp));
	b->comma = true;
	jb_ku64(b, "files", r->files);
	jb_ku64(b, "bytes", r->bytes);
	jb_ku64(b, "lost", r->lost);
	jb_kcstr(b, "cut_short", r->cut);
	jb_kcstr(b, "cut_in", r->cut ? r->section : NULL);
	jb_key(b, "budget");
	jb_obj_begin(b);
	jb_ku64(b, "time_ms", r->lim.time_ms);
	jb_ku64(b, "max_files", r->lim.max_files);
	jb_ku64(b, "max_read_bytes", r->lim.max_bytes);
	jb_ku64(b, "max_items", r->lim.max_items);
	jb_obj_end(b);
	jb_key(b, "unavailable");
	jb_obj_begin(b);
	if (r->unavail.len && !r->unavail.oom)
		jb_raw(b, r->unavail.p, r->unavail.len);
	b->comma = true;
	jb_obj_end(b);
	jb_obj_end(b);
	emit_end(a);
}

/* The run is over and its items emitted: join, summarize, schedule the next. */
static void finish_run(struct agent *a)
{
	struct inv_state *inv = a->inv;
	pthread_join(inv->th, NULL);
	inv->running = false;
	emit_queued(a, 0);
	emit_summary(a);
	uint64_t iv = interval_ms(a);
	inv->next_due_ms = iv ? inv->end_ns / 1000000 + iv : 0;
	sinks_flush(a);
	malloc_trim(0); /* the run's files and items, freed: their pages back to the system */
}

void inventory_tick(struct agent *a, uint64_t now_ms)
{
	struct inv_state *inv = a->inv;
	if (!inv->scheduled) {
		inv->scheduled = true;
		if (a->cfg.inventory.at_start) {
			start_run(a, "start");
		} else {
			uint64_t iv = interval_ms(a);
			inv->next_due_ms = iv ? now_ms + iv : 0;
		}
		return;
	}
	if (!inv->running) {
		if (inv->next_due_ms && now_ms >= inv->next_due_ms && start_run(a, "interval"))
			inv->next_due_ms = now_ms + 60000; /* try again in a minute */
		return;
	}
	bool empty = emit_queued(a, INV_EMIT_PER_TICK);
	if (empty && atomic_load(&inv->done))
		finish_run(a);
}

int inventory_request(struct agent *a, const struct ctl_who *who, struct jbuf *b)
{
	struct inv_state *inv = a->inv;
	char err[160];
	if (inv->running) {
		snprintf(err, sizeof(err),
			 "an inventory is running (run %llu); try again when its "
			 "inventory.summary is out",
			 (unsigned long long)inv->run.no);
		jb_kbool(b, "ok", false);
		jb_kcstr(b, "error", err);
		return -1;
	}
	char trig[80];
	snprintf(trig, sizeof(trig), "control:%s", who && who->source ? who->source : "socket");
	inv->scheduled = true; /* a request before the first tick replaces the start's run */
	int rc = start_run(a, trig);
	if (rc) {
		snprintf(err, sizeof(err), "cannot start the inventory: %s", strerror(-rc));
		jb_kbool(b, "ok", false);
		jb_kcstr(b, "error", err);
		return -1;
	}
	jb_kbool(b, "ok", true);
	jb_ku64(b, "run", inv->run.no);
	jb_kcstr(b, "now", "started");
	return 0;
}

void inventory_stop(struct agent *a)
{
	struct inv_state *inv = a->inv;
	if (!inv->running)
		return;
	inv->stop = 1;
	finish_run(a);
}

void inventory_heartbeat(struct agent *a, struct jbuf *b)
{
	struct inv_state *inv = a->inv;
	(void)a;
	jb_key(b, "inventory");
	jb_obj_begin(b);
	jb_ku64(b, "runs", inv->runs);
	jb_kbool(b, "running", inv->running);
	if (inv->next_due_ms && !inv->running) {
		uint64_t now = mono_ns() / 1000000;
		jb_ku64(b, "next_in_s",
			inv->next_due_ms > now ? (inv->next_due_ms - now + 999) / 1000 : 0);
	}
	jb_obj_end(b);
}

int inventory_once(struct agent *a)
{
	struct inv_state *inv = a->inv;
	inv->scheduled = true;
	if (start_run(a, "once"))
		return -1;
	while (!atomic_load(&inv->done)) {
		emit_queued(a, 0);
		sinks_batch(a, true, 0);
		usleep(10000);
	}
	finish_run(a);
	return inv->run.cut ? -1 : 0;
}
