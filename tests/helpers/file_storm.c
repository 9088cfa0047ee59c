/* file_storm - open + read 4 KiB + close, round-robin over DIR/f0..f(N-1), for a given time;
 * prints CPU nanoseconds (user + system of this thread) per iteration (bench/file.sh). CPU time
 * rather than wall time: on a shared machine, time spent waiting for a CPU is not the cost of
 * the syscalls, while time spent in the kernel (hooks included) is counted.
 *   file_storm DIR NFILES MILLISECONDS */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static double clk(clockid_t c)
{
	struct timespec ts;
	clock_gettime(c, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}
static double now(void)
{
	return clk(CLOCK_MONOTONIC);
}

int main(int argc, char **argv)
{
	char paths[256][512], buf[4096];
	if (argc != 4) {
		fprintf(stderr, "usage: file_storm DIR NFILES MILLISECONDS\n");
		return 2;
	}
	int n = atoi(argv[2]);
	if (n < 1 || n > 256)
		return 2;
	for (int i = 0; i < n; i++)
		snprintf(paths[i], sizeof(paths[i]), "%s/f%d", argv[1], i);
	double limit = atoi(argv[3]) / 1000.0, t0 = now(), t = t0;
	double c0 = clk(CLOCK_THREAD_CPUTIME_ID);
	long it = 0;
	while (t - t0 < limit) {
		for (int k = 0; k < 1000; k++, it++) {
			int fd = open(paths[it % n], O_RDONLY);
			if (fd < 0) {
				perror(paths[it % n]);
				return 1;
			}
			if (read(fd, buf, sizeof(buf)) < 0)
				return 1;
			close(fd);
		}
		t = now();
	}
	printf("%.1f\n", (clk(CLOCK_THREAD_CPUTIME_ID) - c0) * 1e9 / it);
	return 0;
}
