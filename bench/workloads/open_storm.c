/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * open_storm - open + read 4 KiB + close of one file, N times.
 * Usage: open_storm [-n N] [-p PATH] [-w NAME]
 *   Without -p, a 4 KiB file is created under /tmp (an unwatched path) and removed at the end.
 *   With -p, that file is opened as it is (e.g. -p /etc/shadow for a watched path).
 *   -w sets the workload name printed in the report (default "open").
 * Reports opens= (successful opens).
 */
#include "wl.h"
#include <fcntl.h>

int main(int argc, char **argv)
{
	long long n = 50000, opens = 0;
	const char *path = NULL, *name = "open";
	char tmp[] = "/tmp/hw-bench-open.XXXXXX";
	char buf[4096];
	int c;

	while ((c = getopt(argc, argv, "n:p:w:")) != -1) {
		switch (c) {
		case 'n':
			n = wl_count(optarg, "-n");
			break;
		case 'p':
			path = optarg;
			break;
		case 'w':
			name = optarg;
			break;
		default:
			fprintf(stderr, "usage: open_storm [-n N] [-p PATH] [-w NAME]\n");
			return 2;
		}
	}
	if (!path) {
		int fd = mkstemp(tmp);
		if (fd < 0)
			wl_die("mkstemp");
		memset(buf, 'x', sizeof(buf));
		if (write(fd, buf, sizeof(buf)) != (ssize_t)sizeof(buf))
			wl_die("write");
		close(fd);
		path = tmp;
	}

	struct wl_clock clk;
	wl_start(&clk);
	for (long long i = 0; i < n; i++) {
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			wl_die(path);
		opens++;
		if (read(fd, buf, sizeof(buf)) < 0)
			wl_die("read");
		close(fd);
	}
	wl_report(&clk, name, n, " opens=%lld", opens);
	if (path == tmp)
		unlink(tmp);
	return 0;
}
