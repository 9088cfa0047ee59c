/* file_storm - a syscall loop round-robin over DIR/f0..f(N-1), for a given time; prints CPU
 * nanoseconds (user + system of this thread) per iteration (bench/file.sh, bench/file_progs.sh).
 * CPU time rather than wall time: on a shared machine, time spent waiting for a CPU is not the
 * cost of the syscalls, while time spent in the kernel (hooks included) is counted.
 *   file_storm DIR NFILES MILLISECONDS [MODE]
 * MODE: open   open + read 4 KiB + close (default)
 *       fdops  open read-write + fchmod + fchown (unchanged ids) + ftruncate (same size) + close
 *       paths  chmod + chown (unchanged ids) + truncate (same size) by path */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
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

static int fail(const char *what, const char *path)
{
	perror(path);
	fprintf(stderr, "file_storm: %s failed\n", what);
	return 1;
}

int main(int argc, char **argv)
{
	static char paths[256][512], buf[4096];
	if (argc != 4 && argc != 5) {
		fprintf(stderr, "usage: file_storm DIR NFILES MILLISECONDS [open|fdops|paths]\n");
		return 2;
	}
	const char *mode = argc == 5 ? argv[4] : "open";
	int n = atoi(argv[2]), m;
	if (n < 1 || n > 256)
		return 2;
	if (!strcmp(mode, "open"))
		m = 0;
	else if (!strcmp(mode, "fdops"))
		m = 1;
	else if (!strcmp(mode, "paths"))
		m = 2;
	else
		return 2;
	for (int i = 0; i < n; i++)
		snprintf(paths[i], sizeof(paths[i]), "%s/f%d", argv[1], i);
	double limit = atoi(argv[3]) / 1000.0, t0 = now(), t = t0;
	double c0 = clk(CLOCK_THREAD_CPUTIME_ID);
	long it = 0;
	while (t - t0 < limit) {
		for (int k = 0; k < 1000; k++, it++) {
			const char *p = paths[it % n];
			int fd;
			if (m == 2) {
				if (chmod(p, 0644) || chown(p, -1, -1) || truncate(p, 4096))
					return fail("chmod/chown/truncate", p);
				continue;
			}
			fd = open(p, m ? O_RDWR : O_RDONLY);
			if (fd < 0)
				return fail("open", p);
			if (m == 0 && read(fd, buf, sizeof(buf)) < 0)
				return fail("read", p);
			if (m == 1 &&
			    (fchmod(fd, 0644) || fchown(fd, -1, -1) || ftruncate(fd, 4096)))
				return fail("fchmod/fchown/ftruncate", p);
			close(fd);
		}
		t = now();
	}
	printf("%.1f\n", (clk(CLOCK_THREAD_CPUTIME_ID) - c0) * 1e9 / it);
	return 0;
}
