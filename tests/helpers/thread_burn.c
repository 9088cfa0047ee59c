/* thread_burn.c - a process whose CPU time was spent by a thread that has exited, for
 * tests/probes/test_bench_count.sh (the benchmark's CPU accounting, bench/cputime.sh).
 *
 * Usage: thread_burn MS
 * A second thread spins until its own CPU clock reads MS milliseconds, then exits; the main
 * thread joins it, prints "burned_ns=N" (the thread's CPU time, from its clock) and then
 * "joined", and waits (spending nothing) until it is killed. */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static int64_t thread_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void *burn(void *arg)
{
	int64_t want = *(int64_t *)arg, t;
	while ((t = thread_ns()) < want)
		;
	*(int64_t *)arg = t;
	return NULL;
}

int main(int argc, char **argv)
{
	if (argc != 2 || atoi(argv[1]) <= 0) {
		fprintf(stderr, "usage: thread_burn MS\n");
		return 2;
	}
	int64_t ns = (int64_t)atoi(argv[1]) * 1000000;
	pthread_t th;
	if (pthread_create(&th, NULL, burn, &ns) || pthread_join(th, NULL)) {
		perror("thread_burn: thread");
		return 1;
	}
	printf("burned_ns=%lld\njoined\n", (long long)ns);
	fflush(stdout);
	for (;;)
		pause();
}
