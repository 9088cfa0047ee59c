/* cap_bench.c - a capability-heavy workload for bench/priv.sh: N iterations of a chown that
 * changes the owner (a CAP_CHOWN check) and a setsockopt(SO_RCVBUFFORCE) (a CAP_NET_ADMIN
 * check). Prints "pid=", "iters=", "ns_per_iter=" and the number of failed calls. */
#include <stdio.h>
#include <stdlib.h>
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
	double ns = (b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec);
	printf("pid=%d\niters=%ld\nfails=%ld\nns_per_iter=%.1f\n", getpid(), n, fails, ns / n);
	return 0;
}
