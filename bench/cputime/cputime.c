/* hw-cputime - the CPU time of whole processes, in ns: `hw-cputime PID...` prints one line per
 * PID, the process's user + system time so far, its exited threads included (0 for a process
 * that is gone).
 *
 * Why not the sum of /proc/PID/task/TID/schedstat (what bench/run read before): that sums the
 * threads alive now; a thread that exits between two readings takes all its time out of the
 * second, and a monitor's CPU over a run could come out negative (herdwatch-agent's workers,
 * auditd's and bpftrace's threads come and go). /proc/PID/stat's utime + stime count exited
 * threads but in clock ticks (10 ms here, too coarse for a run of a second). The process's CPU
 * clock (clock_gettime on the clock id of another process, what clock_getcpuclockid gives) is
 * both: the kernel's sum over the thread group, exited threads included, in ns. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: hw-cputime PID...\n");
		return 2;
	}
	for (int i = 1; i < argc; i++) {
		char *end;
		long pid = strtol(argv[i], &end, 10);
		clockid_t clk;
		struct timespec ts;
		if (*end || pid <= 0) {
			fprintf(stderr, "hw-cputime: not a pid: '%s'\n", argv[i]);
			return 2;
		}
		/* ESRCH: gone (no process, nothing to count); other errors are said */
		int e = clock_getcpuclockid((pid_t)pid, &clk);
		if (!e && clock_gettime(clk, &ts))
			e = errno;
		if (e && e != ESRCH) {
			fprintf(stderr, "hw-cputime: %ld: %s\n", pid, strerror(e));
			return 1;
		}
		printf("%lld\n", e ? 0LL : (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec);
	}
	return 0;
}
