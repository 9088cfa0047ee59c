/* Unit tests for the process table: insert, lookup, delete, inheritance, growth, bounds,
 * reconciliation with /proc and eviction order (against a fake /proc), seeding from this
 * machine's real /proc, and telling threads from processes. */
#include "agent/proctab.h"
#include "unit.h"
#include <pthread.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>

static char fake[64];

/* a process in the fake /proc: FAKE/PID/stat with start time START */
static void fake_proc(uint32_t pid, uint64_t start)
{
	char path[128];
	snprintf(path, sizeof(path), "%s/%u", fake, pid);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/%u/stat", fake, pid);
	FILE *f = fopen(path, "w");
	fprintf(f, "%u (x y) S 1 %u %u 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 1 0 %llu 1 1\n", pid, pid,
		pid, (unsigned long long)start);
	fclose(f);
}

static void fake_gone(uint32_t pid)
{
	char path[128];
	snprintf(path, sizeof(path), "%s/%u/stat", fake, pid);
	unlink(path);
	snprintf(path, sizeof(path), "%s/%u", fake, pid);
	rmdir(path);
}

static struct proc *put_started(struct proctab *t, uint32_t pid, uint64_t start)
{
	struct proc *p = proctab_put(t, pid);
	p->start_ticks = start;
	return p;
}

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000ULL + ts.tv_nsec / 1000000;
}

static volatile int thread_tid;
static void *thread_main(void *arg)
{
	thread_tid = syscall(SYS_gettid);
	while (!*(volatile int *)arg)
		usleep(1000);
	return NULL;
}

/* Reconciliation, eviction order and budgets, against a fake /proc. */
static void test_bounds(void)
{
	struct proctab t;
	snprintf(fake, sizeof(fake), "/tmp/hwproc.XXXXXX");
	CHECK("fake /proc", mkdtemp(fake) != NULL);
	CHECK("init (bounds)", proctab_init(&t) == 0);
	t.procroot = fake;
	CHECK("default bounds", t.max_entries == 65536 && t.max_bytes == 16u << 20);

	/* reap: gone, and pid reused (another start time), are freed; live ones stay */
	fake_proc(100, 50);
	fake_proc(300, 999);
	fake_proc(400, 7);
	put_started(&t, 100, 50);
	put_started(&t, 200, 60); /* gone */
	put_started(&t, 300, 70); /* pid reused since */
	put_started(&t, 400, 0);  /* start time unknown: alive is enough */
	CHECK("reap frees gone and reused pids", proctab_reap(&t) == 2);
	CHECK("reap keeps the live ones", t.count == 2 && proctab_get(&t, 100) &&
						  proctab_get(&t, 400) && !proctab_get(&t, 200) &&
						  !proctab_get(&t, 300));
	CHECK("reaped counted", t.reaped == 2 && t.evicted == 0);
	proctab_del(&t, 100);
	proctab_del(&t, 400);

	/* full: a dead entry goes before an older live one */
	t.max_entries = 8;
	for (uint32_t pid = 1001; pid <= 1008; pid++) {
		fake_proc(pid, pid);
		put_started(&t, pid, pid);
	}
	fake_gone(1005);
	t.last_reap_ms = now_ms(); /* no full pass now: the sampled eviction decides */
	put_started(&t, 1009, 1009);
	fake_proc(1009, 1009);
	CHECK("full: count stays at the bound", t.count == 8);
	CHECK("full: the dead entry is evicted first",
	      !proctab_get(&t, 1005) && proctab_get(&t, 1001));
	CHECK("full: a dead entry counts as reaped", t.reaped == 3 && t.evicted == 0);
	/* nothing dead: the oldest-started live entry goes, counted as evicted */
	put_started(&t, 1010, 1010);
	fake_proc(1010, 1010);
	CHECK("full, all live: the oldest is evicted",
	      !proctab_get(&t, 1001) && proctab_get(&t, 1002));
	CHECK("full, all live: counted as evicted", t.evicted == 1 && t.count == 8);
	/* full, a reconciliation pass allowed: every gone entry is freed, nothing live evicted */
	fake_gone(1003);
	fake_gone(1004);
	t.last_reap_ms = 0;
	put_started(&t, 1011, 1011);
	CHECK("full: the pass frees every gone entry",
	      !proctab_get(&t, 1003) && !proctab_get(&t, 1004));
	CHECK("full: no live entry evicted",
	      t.evicted == 1 && t.count == 7 && proctab_get(&t, 1002));

	/* byte budget: 2,000 entries with 1 KiB of argv each stay within 256 KiB */
	char args[PT_ARGS_KEEP];
	memset(args, 'a', sizeof(args));
	t.max_entries = PT_MAX;
	t.max_bytes = 256 << 10;
	for (uint32_t pid = 5000; pid < 7000; pid++) {
		fake_proc(pid, pid);
		memcpy(args, &pid, sizeof(pid)); /* each its own: equal strings are shared */
		proc_set_args(put_started(&t, pid, pid), args, sizeof(args), false);
	}
	CHECK("byte budget holds",
	      proctab_bytes(&t) - t.nbuckets * sizeof(void *) <= (256 << 10) + 8192);
	CHECK("byte budget: evictions counted", t.evicted > 1500 && t.count < 300);
	CHECK("byte budget: the newest kept", proctab_get(&t, 6999) != NULL);

	/* periodic reconciliation: not before the period, then once it has passed */
	proctab_free(&t);
	proctab_init(&t);
	t.procroot = fake;
	t.reap_ms = 60000;
	put_started(&t, 100, 50);   /* alive in the fake /proc */
	put_started(&t, 201, 1);    /* gone */
	proctab_maintain(&t, 1000); /* first call: starts the period */
	proctab_maintain(&t, 30000);
	CHECK("maintain: nothing before the period", t.count == 2 && t.reaped == 0);
	proctab_maintain(&t, 61500);
	CHECK("maintain: a gone entry is marked, not freed (its exit may be unread)",
	      t.count == 2 && t.reaped == 0 && proctab_get(&t, 201)->gone);
	proctab_maintain(&t, 122000);
	CHECK("maintain: gone entries freed by the next pass", t.count == 1 && t.reaped == 1);
	/* a table that has doubled (and is large) is reconciled early */
	for (uint32_t pid = 10000; pid < 12100; pid++)
		put_started(&t, pid, 1); /* all gone */
	proctab_maintain(&t, 123000);
	CHECK("maintain: a doubled table is reconciled early (marked)",
	      t.count == 2101 && t.reaped == 1);
	proctab_maintain(&t, 124000);
	CHECK("maintain: and freed a second later", t.count == 1 && t.reaped == 2101);
	/* a pid reused between the passes is a new entry: not freed by the old mark */
	put_started(&t, 202, 1); /* gone */
	proctab_maintain(&t, 200000);
	put_started(&t, 202, 5); /* the pid again (fork, exec): the put clears the mark */
	fake_proc(202, 5);
	proctab_maintain(&t, 300000);
	CHECK("maintain: a reused pid's new entry stays", proctab_get(&t, 202) != NULL);
	proctab_free(&t);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", fake);
	CHECK("fake /proc removed", system(cmd) == 0);
}

int main(void)
{
	struct proctab t;
	CHECK("init", proctab_init(&t) == 0);

	struct proc *p = proctab_put(&t, 100);
	proc_set_str(&p->exe, "/usr/bin/x", 10);
	proc_set_args(p, "x\0-y\0", 5, false);
	p->ppid = 1;
	CHECK("get after put", proctab_get(&t, 100) == p);
	CHECK("miss", proctab_get(&t, 101) == NULL);

	struct proc *c = proctab_put(&t, 200);
	c->ppid = 100;
	CHECK("inherit", proc_inherit(c, proctab_get(&t, 100)) == 0);
	CHECK_STR("child has parent's exe", c->exe, "/usr/bin/x");
	CHECK("child has parent's args", c->args_len == 5 && memcmp(c->args, "x\0-y\0", 5) == 0);

	/* equal strings are shared, not copied */
	struct proc *c2 = proctab_put(&t, 201);
	proc_set_str(&c2->exe, "/usr/bin/x", 10);
	proc_set_args(c2, "x\0-y\0", 5, false);
	CHECK("equal strings shared", c2->exe == proctab_get(&t, 100)->exe &&
					      c2->args == proctab_get(&t, 100)->args &&
					      pstr_len(c2->exe) == 10);
	proc_set_str(&c2->exe, "/usr/bin/z", 10);
	CHECK("a shared string is replaced, not changed",
	      !strcmp(c2->exe, "/usr/bin/z") && !strcmp(proctab_get(&t, 100)->exe, "/usr/bin/x"));
	proctab_del(&t, 201);

	/* put on an existing pid resets it (pid reuse after a missed exit) */
	p = proctab_put(&t, 100);
	CHECK("reset clears exe", p->exe == NULL && p->args_len == 0);

	/* argv kept for lineage is bounded */
	char big[PT_ARGS_KEEP * 3];
	memset(big, 'a', sizeof(big));
	proc_set_args(p, big, sizeof(big), false);
	CHECK("args bounded, and marked cut", p->args_len == PT_ARGS_KEEP && p->args_cut);
	proc_set_args(p, big, PT_ARGS_KEEP, false);
	CHECK("args of exactly the bound: not cut", p->args_len == PT_ARGS_KEEP && !p->args_cut);
	proc_set_args(p, big, 100, true);
	CHECK("args cut in the kernel: marked cut", p->args_len == 100 && p->args_cut);
	struct proc *ch = proctab_put(&t, 101);
	proc_inherit(ch, p);
	CHECK("a fork inherits the cut mark", ch->args_cut);
	proctab_del(&t, 101);

	/* growth: 20000 entries, all findable, then delete all */
	for (uint32_t i = 1000; i < 21000; i++) {
		struct proc *q = proctab_put(&t, i);
		q->start_ticks = i;
		proc_set_str(&q->exe, "/bin/sh", 7);
	}
	int found = 1;
	for (uint32_t i = 1000; i < 21000; i++)
		if (!proctab_get(&t, i) || proctab_get(&t, i)->start_ticks != i)
			found = 0;
	CHECK("20000 entries findable after growth", found);
	CHECK("count", t.count == 20002);
	size_t bytes = proctab_bytes(&t);
	CHECK("memory per entry is small (< 200 B + strings)", bytes / t.count < 200);
	for (uint32_t i = 1000; i < 21000; i++)
		proctab_del(&t, i);
	CHECK("deleted", t.count == 2 && proctab_get(&t, 5000) == NULL);

	/* seeding from the real /proc finds this process with its exe and parent */
	int n = proctab_seed(&t, "/proc");
	CHECK("seed found processes", n > 1);
	struct proc *self = proctab_get(&t, getpid());
	CHECK("seed has self", self != NULL);
	CHECK("self ppid", self && self->ppid == (uint32_t)getppid());
	CHECK("self exe", self && self->exe && strstr(self->exe, "test_proctab"));
	CHECK("self args", self && self->args_len > 0 && strstr(self->args, "test_proctab"));
	CHECK("self start time", self && self->start_ticks > 0);
	CHECK("seed of missing dir fails", proctab_seed(&t, "/nonexistent") < 0);
	/* in the real /proc, the live entries survive a reconciliation pass */
	size_t before = t.count;
	proctab_reap(&t);
	CHECK("reap keeps self", proctab_get(&t, getpid()) != NULL && t.count + 50 > before);

	/* a /proc entry of a process on a pty whose program was deleted: tty named as the
	 * kernel names it in exec records, exe without the " (deleted)" marker */
	char dir[] = "/tmp/hwprocXXXXXX", path[256];
	if (mkdtemp(dir)) {
		snprintf(path, sizeof(path), "%s/77", dir);
		mkdir(path, 0755);
		snprintf(path, sizeof(path), "%s/77/stat", dir);
		FILE *f = fopen(path, "w");
		/* tty_nr 34818 = major 136, minor 2: /dev/pts/2 */
		fprintf(f, "77 (a) b) S 1 77 77 34818 77 4194304 1 0 0 0 0 0 0 0 20 0 1 0 12345 0 "
			   "0\n");
		fclose(f);
		snprintf(path, sizeof(path), "%s/77/exe", dir);
		symlink("/opt/x/prog (deleted)", path);
		CHECK("load a fake /proc entry", proctab_load_pid(&t, dir, 77) == 0);
		struct proc *fp = proctab_get(&t, 77);
		CHECK_STR("tty from tty_nr", fp ? fp->tty : NULL, "pts2");
		CHECK_STR("deleted exe without the suffix", fp ? fp->exe : NULL, "/opt/x/prog");
		CHECK("start time from field 22", fp && fp->start_ticks == 12345 && fp->ppid == 1);
		unlink(path);
		snprintf(path, sizeof(path), "%s/77/stat", dir);
		f = fopen(path, "w");
		fprintf(f, "77 (a) S 1 77 77 1089 77 4194304 1 0 0 0 0 0 0 0 20 0 1 0 12345 0 0\n");
		fclose(f);
		proctab_load_pid(&t, dir, 77);
		fp = proctab_get(&t, 77);
		CHECK_STR("tty of a serial line", fp ? fp->tty : NULL, "ttyS1");
		f = fopen(path, "w");
		fprintf(f, "77 (a) S 1 77 77 0 77 4194304 1 0 0 0 0 0 0 0 20 0 1 0 12345 0 0\n");
		fclose(f);
		proctab_load_pid(&t, dir, 77);
		fp = proctab_get(&t, 77);
		CHECK("no controlling terminal: no tty", fp && fp->tty == NULL);
		unlink(path);
		snprintf(path, sizeof(path), "%s/77", dir);
		rmdir(path);
		rmdir(dir);
	}
	proctab_free(&t);

	/* a thread is told apart from a process (the classic tracepoint's fork records) */
	int stop = 0;
	pthread_t th;
	pthread_create(&th, NULL, thread_main, &stop);
	while (!thread_tid)
		usleep(1000);
	CHECK("tgid of self", proctab_tgid_of("/proc", getpid()) == getpid());
	CHECK("tgid of a thread is its process", proctab_tgid_of("/proc", thread_tid) == getpid());
	CHECK("tgid of a gone task fails", proctab_tgid_of("/proc", 0x7ffffff0) < 0);
	stop = 1;
	pthread_join(th, NULL);

	test_bounds();
	UNIT_DONE();
}
