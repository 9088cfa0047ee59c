/* Unit tests for the process table: insert, lookup, delete, inheritance, growth, bounds,
 * and seeding from this machine's real /proc. */
#include "agent/proctab.h"
#include "unit.h"
#include <stdlib.h>
#include <unistd.h>
#include <sys/stat.h>

int main(void)
{
	struct proctab t;
	CHECK("init", proctab_init(&t) == 0);

	struct proc *p = proctab_put(&t, 100);
	proc_set_str(&p->exe, "/usr/bin/x", 10);
	proc_set_args(p, "x\0-y\0", 5);
	p->ppid = 1;
	CHECK("get after put", proctab_get(&t, 100) == p);
	CHECK("miss", proctab_get(&t, 101) == NULL);

	struct proc *c = proctab_put(&t, 200);
	c->ppid = 100;
	CHECK("inherit", proc_inherit(c, proctab_get(&t, 100)) == 0);
	CHECK_STR("child has parent's exe", c->exe, "/usr/bin/x");
	CHECK("child has parent's args", c->args_len == 5 && memcmp(c->args, "x\0-y\0", 5) == 0);

	/* put on an existing pid resets it (pid reuse after a missed exit) */
	p = proctab_put(&t, 100);
	CHECK("reset clears exe", p->exe == NULL && p->args_len == 0);

	/* argv kept for lineage is bounded */
	char big[PT_ARGS_KEEP * 3];
	memset(big, 'a', sizeof(big));
	proc_set_args(p, big, sizeof(big));
	CHECK("args bounded", p->args_len == PT_ARGS_KEEP);

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

	/* a /proc entry of a process on a pty whose program was deleted: tty named as the
	 * kernel names it in exec records, exe without the " (deleted)" marker */
	char dir[] = "/tmp/hwprocXXXXXX", path[256];
	if (mkdtemp(dir)) {
		snprintf(path, sizeof(path), "%s/77", dir);
		mkdir(path, 0755);
		snprintf(path, sizeof(path), "%s/77/stat", dir);
		FILE *f = fopen(path, "w");
		/* tty_nr 34818 = major 136, minor 2: /dev/pts/2 */
		fprintf(f, "77 (a) b) S 1 77 77 34818 77 4194304 1 0 0 0 0 0 0 0 20 0 1 0 12345 0 0\n");
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
	UNIT_DONE();
}
