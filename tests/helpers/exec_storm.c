/* exec_storm: fork+exec PROGRAM MARKER N times, WORKERS at a time, as fast as possible.
 * usage: exec_storm N WORKERS MARKER [PROGRAM]   (PROGRAM defaults to /bin/true)
 * Prints "<n> execs in <s> s". Each child's argv[1] is MARKER. With EXEC_STORM_PIDS=FILE, the
 * pid of every child is appended to FILE (one line each, in the order they were started). */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	if (argc < 4) {
		fprintf(stderr, "usage: exec_storm N WORKERS MARKER [PROGRAM]\n");
		return 2;
	}
	long n = atol(argv[1]), workers = atol(argv[2]);
	char *prog = argc > 4 ? argv[4] : "/bin/true";
	const char *pidf = getenv("EXEC_STORM_PIDS");
	int pfd = pidf ? open(pidf, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644) : -1;
	if (pidf && pfd < 0) {
		perror(pidf);
		return 2;
	}
	struct timespec a, b;
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (long w = 0; w < workers; w++) {
		if (fork() == 0) {
			long mine = n / workers + (w < n % workers);
			for (long i = 0; i < mine; i++) {
				pid_t p = fork();
				if (p == 0) {
					char *args[] = {prog, argv[3], NULL};
					execv(prog, args);
					_exit(127);
				}
				if (p > 0 && pfd >= 0) {
					char line[24];
					int l = snprintf(line, sizeof(line), "%d\n", (int)p);
					if (write(pfd, line, l) != l)
						_exit(1);
				}
				if (p < 0 || waitpid(p, NULL, 0) < 0) {
					perror("fork");
					_exit(1);
				}
			}
			_exit(0);
		}
	}
	int failed = 0, st;
	while (wait(&st) > 0)
		if (!WIFEXITED(st) || WEXITSTATUS(st))
			failed = 1;
	clock_gettime(CLOCK_MONOTONIC, &b);
	printf("%ld execs in %.3f s\n", n, (b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) / 1e9);
	return failed;
}
