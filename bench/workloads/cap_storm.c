/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * cap_storm - a loop of calls that make the kernel check a capability, N iterations.
 * Usage: cap_storm [-n N]   (default 50000; must run as root)
 *
 * Each iteration does:
 *   fchown() of a file owned by nobody to its own owner: root is not the owner, so the
 *     kernel checks CAP_CHOWN (chown_ok -> capable_wrt_inode_uidgid) and allows it;
 *   setsockopt(SO_RCVBUFFORCE): checks CAP_NET_ADMIN (sockopt_capable) and allows it.
 * Reports chowns= and setsockopts= (successful calls; each made one capability check).
 */
#include "wl.h"
#include <fcntl.h>
#include <sys/socket.h>

int main(int argc, char **argv)
{
	long long n = 50000, chowns = 0, sockopts = 0;
	char tmp[] = "/tmp/hw-bench-cap.XXXXXX";
	const uid_t nobody = 65534;
	int c;

	while ((c = getopt(argc, argv, "n:")) != -1) {
		switch (c) {
		case 'n':
			n = wl_count(optarg, "-n");
			break;
		default:
			fprintf(stderr, "usage: cap_storm [-n N]\n");
			return 2;
		}
	}
	int fd = mkstemp(tmp);
	if (fd < 0)
		wl_die("mkstemp");
	unlink(tmp);
	if (fchown(fd, nobody, nobody) < 0)
		wl_die("fchown (run as root)");
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		wl_die("socket");
	int sz = 65536;

	struct wl_clock clk;
	wl_start(&clk);
	for (long long i = 0; i < n; i++) {
		if (fchown(fd, nobody, (gid_t)-1) == 0)
			chowns++;
		if (setsockopt(s, SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof(sz)) == 0)
			sockopts++;
	}
	wl_report(&clk, "cap", n, " chowns=%lld setsockopts=%lld", chowns, sockopts);
	close(s);
	close(fd);
	return chowns == n && sockopts == n ? 0 : 1;
}
