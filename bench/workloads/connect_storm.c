/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * connect_storm - loopback TCP connect + accept + close, N times, in one thread.
 * Usage: connect_storm [-n N] [-6]   (default 5000, IPv4 127.0.0.1; -6 uses ::1)
 *
 * The client socket is closed with SO_LINGER {1, 0} (a reset), so no TIME_WAIT entries pile
 * up and back-to-back runs never run out of ephemeral ports. A blocking connect to a
 * listener on loopback completes the handshake in the kernel before accept() is called, so
 * one thread is enough. Reports connects= and accepts=.
 */
#include "wl.h"
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

int main(int argc, char **argv)
{
	long long n = 5000, conns = 0, accs = 0;
	int v6 = 0, c;

	while ((c = getopt(argc, argv, "n:6")) != -1) {
		switch (c) {
		case 'n':
			n = wl_count(optarg, "-n");
			break;
		case '6':
			v6 = 1;
			break;
		default:
			fprintf(stderr, "usage: connect_storm [-n N] [-6]\n");
			return 2;
		}
	}

	struct sockaddr_storage ss;
	socklen_t sl;
	memset(&ss, 0, sizeof(ss));
	if (v6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
		s6->sin6_family = AF_INET6;
		s6->sin6_addr = in6addr_loopback;
		sl = sizeof(*s6);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
		s4->sin_family = AF_INET;
		s4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		sl = sizeof(*s4);
	}
	int lfd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lfd < 0)
		wl_die("socket");
	if (bind(lfd, (struct sockaddr *)&ss, sl) < 0)
		wl_die("bind");
	if (listen(lfd, 128) < 0)
		wl_die("listen");
	if (getsockname(lfd, (struct sockaddr *)&ss, &sl) < 0)
		wl_die("getsockname");

	const struct linger lg = {.l_onoff = 1, .l_linger = 0};
	struct wl_clock clk;
	wl_start(&clk);
	for (long long i = 0; i < n; i++) {
		int cfd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (cfd < 0)
			wl_die("socket");
		if (connect(cfd, (struct sockaddr *)&ss, sl) < 0)
			wl_die("connect");
		conns++;
		int afd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		if (afd < 0)
			wl_die("accept4");
		accs++;
		setsockopt(cfd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		close(cfd);
		close(afd);
	}
	wl_report(&clk, "connect", n, " connects=%lld accepts=%lld", conns, accs);
	return 0;
}
