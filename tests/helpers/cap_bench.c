/* cap_bench.c - a capability-heavy workload for bench/priv.sh: N iterations of a chown that
 * changes the owner (a CAP_CHOWN check) and a setsockopt(SO_RCVBUFFORCE) (a CAP_NET_ADMIN
 * check). Prints "pid=", "iters=", "ns_per_iter=" (wall clock), "cpu_ns_per_iter=" (its own
 * user+system CPU time: the probes run in its context, and CPU time is less disturbed than wall
 * time by other load on a shared machine) and the number of failed calls. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: cap_bench FILE ITERATIONS\n");
		return 2;
	}
	long n = atol(argv[2]), fails = 0;
	int s = socket(AF_INET, SOCK_DGRAM, 0), v = 65536;
	struct timespec a, b;
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (long i = 0; i < n; i++) {
		fails += chown(argv[1], i & 1 ? 0 : 1, -1) != 0;
		fails += setsockopt(s, SOL_SOCKET, SO_RCVBUFFORCE, &v, sizeof(v)) != 0;
	}
	clock_gettime(CLOCK_MONOTONIC, &b);
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	double ns = (b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec);
	double cpu = (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e9 +
		     (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1e3;
	printf("pid=%d\niters=%ld\nfails=%ld\nns_per_iter=%.1f\ncpu_ns_per_iter=%.1f\n", getpid(),
	       n, fails, ns / n, cpu / n);
	return 0;
}
