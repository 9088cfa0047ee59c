/* proctab.c - process table (see proctab.h). */
#include "agent/proctab.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

uint64_t proctab_ver;
uint64_t proctab_lineage_gen;
/* bytes of the strings held by entries (exe, args, cwd, tty), as malloc reports them; a string
 * shared by several entries counts once */
static size_t proctab_str_bytes;

static struct pstr *pstr_of(char *s)
{
	return (struct pstr *)(s - sizeof(struct pstr));
}

static char *pstr_new(const char *s, size_t n)
{
	struct pstr *p = malloc(sizeof(*p) + n + 1);
	if (!p)
		return NULL;
	p->ref = 1;
	p->len = n;
	memcpy(p->s, s, n);
	p->s[n] = 0;
	proctab_str_bytes += malloc_usable_size(p);
	return p->s;
}

/* Strings set recently, by length: an exec of the same program (a storm, a shell loop, a
 * server's helper) shares its exe and argv instead of copying them. Each slot holds a
 * reference (at most 16 strings of up to 4 KiB are kept alive only by these slots). */
#define PT_RECENT 16
static char *recent[PT_RECENT];

static char *pstr_recent(const char *s, size_t n)
{
	char **r = &recent[n % PT_RECENT];
	if (*r && pstr_len(*r) == n && !memcmp(*r, s, n))
		return pstr_ref(*r);
	char *c = pstr_new(s, n);
	if (!c)
		return NULL;
	pstr_put(*r);
	*r = pstr_ref(c);
	return c;
}

char *pstr_ref(char *s)
{
	if (s)
		pstr_of(s)->ref++;
	return s;
}

void pstr_put(char *s)
{
	if (!s)
		return;
	struct pstr *p = pstr_of(s);
	if (--p->ref)
		return;
	proctab_str_bytes -= malloc_usable_size(p);
	free(p);
}

void pstr_set(char **slot, char *s)
{
	if (*slot != s) {
		pstr_put(*slot);
		*slot = pstr_ref(s);
	}
}

int proctab_init(struct proctab *t)
{
	t->nbuckets = 4096;
	t->count = 0;
	t->evicted = 0;
	t->reaped = 0;
	t->procroot = "/proc";
	t->max_entries = PT_MAX;
	t->max_bytes = PT_BYTES_BUDGET;
	const char *e = getenv("HW_PROCTAB_REAP_MS");
	t->reap_ms = e && atoll(e) > 0 ? (uint64_t)atoll(e) : PT_REAP_MS;
	t->last_reap_ms = 0;
	t->count_at_reap = 0;
	t->verify_cursor = 0;
	t->buckets = calloc(t->nbuckets, sizeof(*t->buckets));
	return t->buckets ? 0 : -ENOMEM;
}

static void proc_clear(struct proc *p)
{
	pstr_put(p->exe);
	pstr_put(p->args);
	pstr_put(p->cwd);
	pstr_put(p->tty);
	if (p->lineage)
		proctab_lineage_gen++;
	struct proc *next = p->next;
	memset(p, 0, sizeof(*p));
	p->next = next;
}

void proctab_free(struct proctab *t)
{
	for (size_t i = 0; i < t->nbuckets; i++) {
		struct proc *p = t->buckets[i];
		while (p) {
			struct proc *n = p->next;
			proc_clear(p);
			free(p);
			p = n;
		}
	}
	free(t->buckets);
	memset(t, 0, sizeof(*t));
}

/* The pid's low bits: the kernel hands out pids in increasing order, so the buckets of a burst
 * of new processes (an exec storm's forks) share cache lines instead of each costing a miss. */
static inline size_t h(const struct proctab *t, uint32_t pid)
{
	return pid & (t->nbuckets - 1);
}

struct proc *proctab_get(struct proctab *t, uint32_t pid)
{
	for (struct proc *p = t->buckets[h(t, pid)]; p; p = p->next)
		if (p->pid == pid)
			return p;
	return NULL;
}

static void grow(struct proctab *t)
{
	size_t nb = t->nbuckets * 2;
	struct proc **b = calloc(nb, sizeof(*b));
	if (!b)
		return; /* keep the longer chains */
	struct proctab nt = {.buckets = b, .nbuckets = nb};
	for (size_t i = 0; i < t->nbuckets; i++) {
		struct proc *p = t->buckets[i];
		while (p) {
			struct proc *n = p->next;
			size_t k = h(&nt, p->pid);
			p->next = b[k];
			b[k] = p;
			p = n;
		}
	}
	free(t->buckets);
	t->buckets = b;
	t->nbuckets = nb;
}

static uint64_t mono_ms_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000ULL + ts.tv_nsec / 1000000;
}

static bool over_budget(const struct proctab *t)
{
	return t->count >= t->max_entries ||
	       t->count * sizeof(struct proc) + proctab_str_bytes >= t->max_bytes;
}

/* Over a bound: drop one entry among a sample of buckets, a dead process's if the sample has one
 * (the oldest-started of those), else the oldest-started live one (counted in `evicted`).
 * Bounded work: at most 64 entries looked at, one kill(pid, 0) each. */
static void evict_one(struct proctab *t)
{
	struct proc *victim = NULL;
	bool victim_dead = false;
	for (size_t i = 0, seen = 0; i < t->nbuckets && seen < 64; i++) {
		for (struct proc *p = t->buckets[(i * 7919) & (t->nbuckets - 1)]; p; p = p->next) {
			seen++;
			if (p->pid <= 1)
				continue;
			bool dead = !proctab_alive(t, p, false);
			if (!victim || (dead && !victim_dead) ||
			    (dead == victim_dead && p->start_ticks < victim->start_ticks)) {
				victim = p;
				victim_dead = dead;
			}
		}
	}
	if (victim) {
		proctab_del(t, victim->pid);
		if (victim_dead)
			t->reaped++;
		else
			t->evicted++;
	}
}

struct proc *proctab_put(struct proctab *t, uint32_t pid)
{
	struct proc *p = proctab_get(t, pid);
	if (p) {
		proc_clear(p);
		p->pid = pid;
		proc_touch(p);
		return p;
	}
	if (over_budget(t)) {
		/* first free every entry of a process that is gone (at most once a second) */
		uint64_t now = mono_ms_now();
		if (now - t->last_reap_ms >= 1000) {
			proctab_reap(t);
			t->last_reap_ms = now;
		}
		for (int i = 0; i < 16 && over_budget(t); i++)
			evict_one(t);
	}
	if (t->count >= t->nbuckets)
		grow(t);
	p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->pid = pid;
	proc_touch(p);
	size_t k = h(t, pid);
	p->next = t->buckets[k];
	t->buckets[k] = p;
	t->count++;
	return p;
}

void proctab_del(struct proctab *t, uint32_t pid)
{
	struct proc **pp = &t->buckets[h(t, pid)];
	for (; *pp; pp = &(*pp)->next) {
		if ((*pp)->pid == pid) {
			struct proc *p = *pp;
			*pp = p->next;
			proc_clear(p);
			free(p);
			t->count--;
			return;
		}
	}
}

/* Entries' strings are C strings (exe, cwd, tty): what follows a NUL is not kept. */
int proc_set_str(char **dst, const char *s, size_t n)
{
	char *c = NULL;
	if (s) {
		c = pstr_recent(s, strnlen(s, n));
		if (!c)
			return -ENOMEM;
	}
	pstr_put(*dst);
	*dst = c;
	return 0;
}

int proc_set_str_prev(char **dst, const char *s, size_t n, char *prev)
{
	if (s)
		n = strnlen(s, n);
	if (s && prev && pstr_len(prev) == n && !memcmp(prev, s, n)) {
		pstr_put(*dst);
		*dst = prev;
		return 0;
	}
	pstr_put(prev);
	return proc_set_str(dst, s, n);
}

int proc_set_args(struct proc *p, const char *args, size_t n, bool cut)
{
	if (n > PT_ARGS_KEEP) {
		n = PT_ARGS_KEEP;
		cut = true;
	}
	pstr_put(p->args);
	p->args = NULL;
	p->args_len = 0;
	p->args_cut = cut && n;
	if (!n)
		return 0;
	p->args = pstr_recent(args, n);
	if (!p->args)
		return -ENOMEM;
	p->args_len = n;
	return 0;
}

int proc_inherit(struct proc *c, const struct proc *par)
{
	pstr_set(&c->exe, par->exe);
	pstr_set(&c->cwd, par->cwd);
	pstr_set(&c->tty, par->tty);
	pstr_set(&c->args, par->args);
	c->args_len = par->args ? par->args_len : 0;
	c->args_cut = par->args_cut;
	c->cgroup_id = par->cgroup_id;
	c->ignored = par->ignored;
	return 0;
}

static ssize_t read_file(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ssize_t n = read(fd, buf, len);
	int e = errno;
	close(fd);
	return n < 0 ? -e : n;
}

/* The kernel's name of a terminal (tty->name, as exec records carry it) from a device
 * number (tty_nr of /proc/PID/stat): "pts3", "tty1", "ttyS0"; others from sysfs. 0 if none. */
static int tty_name(unsigned dev, char *buf, size_t len)
{
	unsigned maj = (dev >> 8) & 0xfff, min = (dev & 0xff) | ((dev >> 12) & 0xfff00);
	if (!dev)
		return 0;
	if (maj >= 136 && maj <= 143)
		return snprintf(buf, len, "pts%u", (maj - 136) * 256 + min);
	if (maj == 4 && min < 64)
		return snprintf(buf, len, "tty%u", min);
	if (maj == 4)
		return snprintf(buf, len, "ttyS%u", min - 64);
	if (maj == 5 && min == 1)
		return snprintf(buf, len, "console");
	char path[64], ue[512];
	snprintf(path, sizeof(path), "/sys/dev/char/%u:%u/uevent", maj, min);
	FILE *f = fopen(path, "re");
	int n = 0;
	if (!f)
		return 0;
	while (fgets(ue, sizeof(ue), f))
		if (!strncmp(ue, "DEVNAME=", 8)) {
			ue[strcspn(ue, "\n")] = 0;
			const char *base =
				strrchr(ue + 8, '/'); /* "pts/3" style names: as the kernel */
			n = snprintf(buf, len, "%s", base ? base + 1 : ue + 8);
			break;
		}
	fclose(f);
	return n;
}

int proctab_load_pid(struct proctab *t, const char *root, uint32_t pid)
{
	char path[128], buf[4096], link[4096];
	ssize_t n;

	snprintf(path, sizeof(path), "%s/%u/stat", root, pid);
	n = read_file(path, buf, sizeof(buf) - 1);
	if (n <= 0)
		return n < 0 ? (int)n : -EINVAL;
	buf[n] = 0;
	/* comm may contain ')' and spaces: fields start after the last ')' */
	char *rp = strrchr(buf, ')');
	if (!rp)
		return -EINVAL;
	unsigned long long start = 0;
	int ppid = 0, tty_nr = 0;
	char state;
	/* fields 3.. : state ppid pgrp session tty_nr tpgid flags minflt cminflt majflt cmajflt
	 * utime stime cutime cstime priority nice num_threads itrealvalue starttime */
	if (sscanf(rp + 2,
		   "%c %d %*d %*d %d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d %*d %*d %*d %llu",
		   &state, &ppid, &tty_nr, &start) != 4)
		return -EINVAL;
	struct proc *p = proctab_put(t, pid);
	if (!p)
		return -ENOMEM;
	p->ppid = ppid;
	p->start_ticks = start;
	char tty[64];
	if (tty_name(tty_nr, tty, sizeof(tty)) > 0)
		proc_set_str(&p->tty, tty, strlen(tty));
	snprintf(path, sizeof(path), "%s/%u/exe", root, pid);
	n = readlink(path, link, sizeof(link) - 1);
	/* as after an exec: the table keeps the path without the " (deleted)" marker */
	if (n > 10 && !memcmp(link + n - 10, " (deleted)", 10))
		n -= 10;
	if (n > 0)
		proc_set_str(&p->exe, link, n);
	snprintf(path, sizeof(path), "%s/%u/cwd", root, pid);
	n = readlink(path, link, sizeof(link) - 1);
	if (n > 0)
		proc_set_str(&p->cwd, link, n);
	snprintf(path, sizeof(path), "%s/%u/cmdline", root, pid);
	n = read_file(path, link, PT_ARGS_KEEP + 1); /* one more byte: cut or not */
	if (n > 0)
		proc_set_args(p, link, n, false);
	return 0;
}

int proctab_seed(struct proctab *t, const char *root)
{
	DIR *d = opendir(root);
	struct dirent *de;
	int count = 0;
	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		char *end;
		unsigned long pid = strtoul(de->d_name, &end, 10);
		if (*end || !pid)
			continue;
		if (proctab_load_pid(t, root, pid) == 0)
			count++;
	}
	closedir(d);
	return count;
}

size_t proctab_bytes(const struct proctab *t)
{
	size_t b = t->nbuckets * sizeof(void *);
	for (size_t i = 0; i < t->nbuckets; i++)
		for (struct proc *p = t->buckets[i]; p; p = p->next) {
			b += sizeof(*p) + p->args_len;
			b += p->exe ? pstr_len(p->exe) + 1 : 0;
			b += p->cwd ? pstr_len(p->cwd) + 1 : 0;
			b += p->tty ? pstr_len(p->tty) + 1 : 0;
		}
	return b;
}

/* starttime (field 22) of ROOT/PID/stat: 0 if found, -errno otherwise */
static int read_start(const char *root, uint32_t pid, uint64_t *start)
{
	char path[128], buf[1024];
	snprintf(path, sizeof(path), "%s/%u/stat", root, pid);
	ssize_t n = read_file(path, buf, sizeof(buf) - 1);
	if (n <= 0)
		return n < 0 ? (int)n : -EINVAL;
	buf[n] = 0;
	char *rp = strrchr(buf, ')');
	unsigned long long st;
	if (!rp || sscanf(rp + 2,
			  "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d %*d %*d "
			  "%*d %llu",
			  &st) != 1)
		return -EINVAL;
	*start = st;
	return 0;
}

/* Start times from events are CLOCK_MONOTONIC based, /proc's CLOCK_BOOTTIME based: they differ
 * by the time the machine was suspended. Either matches, within a tick of rounding. */
static bool same_start(uint64_t a, uint64_t b)
{
	struct timespec m, bt;
	clock_gettime(CLOCK_MONOTONIC, &m);
	clock_gettime(CLOCK_BOOTTIME, &bt);
	long tps = sysconf(_SC_CLK_TCK);
	int64_t off = ((int64_t)(bt.tv_sec - m.tv_sec) * 1000000000LL + (bt.tv_nsec - m.tv_nsec)) /
		      (1000000000LL / (tps > 0 ? tps : 100));
	int64_t d = (int64_t)a - (int64_t)b;
	return (d >= -1 && d <= 1) || (d - off >= -1 && d - off <= 1) ||
	       (d + off >= -1 && d + off <= 1);
}

bool proctab_alive(const struct proctab *t, const struct proc *p, bool verify_start)
{
	const char *root = t->procroot ? t->procroot : "/proc";
	bool real = !strcmp(root, "/proc");
	if (real) {
		if (kill(p->pid, 0) && errno == ESRCH)
			return false;
		if (!verify_start || !p->start_ticks)
			return true;
	}
	uint64_t st;
	int rc = read_start(root, p->pid, &st);
	if (rc == -ENOENT || rc == -ESRCH)
		return false;
	if (rc || !p->start_ticks)
		return true; /* cannot tell: keep it */
	return same_start(st, p->start_ticks);
}

static size_t reap(struct proctab *t, bool settle)
{
	size_t n = 0, verified = 0, marked = 0, stop = t->verify_cursor;
	bool stopped = false;
	for (size_t i = 0; i < t->nbuckets; i++) {
		size_t k = (t->verify_cursor + i) & (t->nbuckets - 1);
		struct proc **pp = &t->buckets[k];
		while (*pp) {
			struct proc *p = *pp;
			bool verify = verified < PT_VERIFY_PER_PASS && p->start_ticks;
			verified += verify;
			if (p->pid > 1 && !proctab_alive(t, p, verify)) {
				if (settle && !p->gone) {
					p->gone = true;
					marked++;
					pp = &p->next;
					continue;
				}
				*pp = p->next;
				proc_clear(p);
				free(p);
				t->count--;
				n++;
				continue;
			}
			pp = &p->next;
		}
		if (!stopped && verified >= PT_VERIFY_PER_PASS) {
			stopped = true;
			stop = k + 1;
		}
	}
	t->verify_cursor = stopped ? stop & (t->nbuckets - 1) : 0;
	t->reaped += n;
	/* marked entries do not count as growth: a table that doubled with processes now gone
	 * is passed again a second later, which frees them */
	t->count_at_reap = t->count - marked;
	return n;
}

size_t proctab_reap(struct proctab *t)
{
	return reap(t, false);
}

size_t proctab_reap_settled(struct proctab *t)
{
	return reap(t, true);
}

void proctab_maintain(struct proctab *t, uint64_t now_ms)
{
	if (!t->last_reap_ms) {
		t->last_reap_ms = now_ms; /* the first pass one period after start */
		t->count_at_reap = t->count;
		return;
	}
	bool grown = t->count > 1024 && t->count > 2 * t->count_at_reap;
	if (now_ms - t->last_reap_ms < t->reap_ms && !(grown && now_ms - t->last_reap_ms >= 1000))
		return;
	proctab_reap_settled(t);
	t->last_reap_ms = now_ms;
}

int proctab_tgid_of(const char *root, uint32_t tid)
{
	char path[128], buf[4096];
	snprintf(path, sizeof(path), "%s/%u/status", root, tid);
	ssize_t n = read_file(path, buf, sizeof(buf) - 1);
	if (n <= 0)
		return n < 0 ? (int)n : -EINVAL;
	buf[n] = 0;
	const char *l = strstr(buf, "\nTgid:");
	int tgid;
	if (!l || sscanf(l + 6, " %d", &tgid) != 1)
		return -EINVAL;
	return tgid;
}
