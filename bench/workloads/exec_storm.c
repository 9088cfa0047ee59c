/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * exec_storm - fork + exec + wait of a short program, N times, one at a time.
 * Usage: exec_storm [-n N] [-p PROGRAM]   (default 2000, /bin/true)
 * Reports execs= (successful execs, i.e. children that exited 0).
 */
#include "wl.h"
#include <sys/wait.h>

int main(int argc, char **argv)
{
	long long n = 2000, ok = 0;
	const char *prog = "/bin/true";
	int c;

	while ((c = getopt(argc, argv, "n:p:")) != -1) {
		switch (c) {
		case 'n':
			n = wl_count(optarg, "-n");
			break;
		case 'p':
			prog = optarg;
			break;
		default:
			fprintf(stderr, "usage: exec_storm [-n N] [-p PROGRAM]\n");
			return 2;
		}
	}

	struct wl_clock clk;
	wl_start(&clk);
	for (long long i = 0; i < n; i++) {
		pid_t pid = fork();
		if (pid < 0)
			wl_die("fork");
		if (pid == 0) {
			execl(prog, prog, (char *)NULL);
			_exit(127);
		}
		int st;
		if (waitpid(pid, &st, 0) < 0)
			wl_die("waitpid");
		if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
			ok++;
	}
	wl_report(&clk, "exec", n, " execs=%lld", ok);
	return ok == n ? 0 : 1;
}
