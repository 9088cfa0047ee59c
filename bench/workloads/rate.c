/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * rate - generate traced events at a fixed rate, for the max sustained event rate test.
 * Usage: rate -m MODE -r EVENTS_PER_S -d SECONDS [-t THREADS] [-p PATH]
 *   MODE udp:   connect() of a UDP socket to 127.0.0.1:9 (no packet is sent); one net.connect
 *               per call, and the cheapest traced call we have (~1-2 us).
 *   MODE open:  open + close of PATH (default /etc/shadow, a watched path); one file.open.
 *   MODE tcp:   loopback TCP connect + accept + reset; one net.connect and one net.accept.
 * Threads (default 2) share the rate equally and pace themselves against the clock every
 * 32 operations, so the rate is held for the whole run and a monitor that keeps up sees a
 * steady stream. A thread that cannot reach its share runs flat out; the line printed at the
 * end tells the rate reached: ops= and wall_ns= (see wl.h).
 */
#include "wl.h"
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>

enum mode { M_UDP, M_OPEN, M_TCP };

static enum mode mode = M_UDP;
static const char *path = "/etc/shadow";
static double rate = 100000, secs = 5;
static int nthreads = 2;

struct worker {
	pthread_t th;
	long long ops;
};

static long long now_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return wl_ts_ns(&t);
}

static void *work(void *arg)
{
	struct worker *w = arg;
	double per_ns = rate / nthreads / 1e9;
	long long t0 = now_ns(), end = t0 + (long long)(secs * 1e9);
	struct sockaddr_in dst = {.sin_family = AF_INET, .sin_port = htons(9)};
	dst.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	int s = -1, lfd = -1;
	const struct linger lg = {.l_onoff = 1, .l_linger = 0};

	if (mode == M_UDP) {
		s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		if (s < 0)
			wl_die("socket");
	} else if (mode == M_TCP) {
		struct sockaddr_in l = dst;
		socklen_t sl = sizeof(l);
		l.sin_port = 0;
		lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (lfd < 0 || bind(lfd, (struct sockaddr *)&l, sl) < 0 || listen(lfd, 128) < 0 ||
		    getsockname(lfd, (struct sockaddr *)&dst, &sl) < 0)
			wl_die("listen");
	}
	for (;;) {
		for (int i = 0; i < 32; i++) {
			if (mode == M_UDP) {
				if (connect(s, (struct sockaddr *)&dst, sizeof(dst)) < 0)
					wl_die("connect udp");
			} else if (mode == M_OPEN) {
				int fd = open(path, O_RDONLY | O_CLOEXEC);
				if (fd < 0)
					wl_die(path);
				close(fd);
			} else {
				int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
				if (c < 0 || connect(c, (struct sockaddr *)&dst, sizeof(dst)) < 0)
					wl_die("connect tcp");
				int a = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
				if (a < 0)
					wl_die("accept4");
				setsockopt(c, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
				close(c);
				close(a);
			}
		}
		w->ops += 32;
		long long t = now_ns();
		if (t >= end)
			break;
		long long due = t0 + (long long)(w->ops / per_ns);
		if (due > t) {
			if (due > end)
				due = end;
			struct timespec ts = {.tv_sec = due / 1000000000LL,
					      .tv_nsec = due % 1000000000LL};
			clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
			if (due >= end)
				break;
		}
	}
	if (s >= 0)
		close(s);
	if (lfd >= 0)
		close(lfd);
	return NULL;
}

int main(int argc, char **argv)
{
	int c;
	while ((c = getopt(argc, argv, "m:r:d:t:p:")) != -1) {
		switch (c) {
		case 'm':
			if (!strcmp(optarg, "udp"))
				mode = M_UDP;
			else if (!strcmp(optarg, "open"))
				mode = M_OPEN;
			else if (!strcmp(optarg, "tcp"))
				mode = M_TCP;
			else {
				fprintf(stderr, "rate: mode is udp, open or tcp\n");
				return 2;
			}
			break;
		case 'r':
			rate = (double)wl_count(optarg, "-r");
			break;
		case 'd':
			secs = atof(optarg);
			break;
		case 't':
			nthreads = (int)wl_count(optarg, "-t");
			break;
		case 'p':
			path = optarg;
			break;
		default:
			fprintf(stderr, "usage: rate -m udp|open|tcp -r RATE -d SECONDS [-t N] [-p "
					"PATH]\n");
			return 2;
		}
	}
	if (secs <= 0 || secs > 600 || nthreads > 64) {
		fprintf(stderr, "rate: -d between 0 and 600 s, -t at most 64\n");
		return 2;
	}
	struct worker *w = calloc((size_t)nthreads, sizeof(*w));
	if (!w)
		wl_die("calloc");
	struct wl_clock clk;
	wl_start(&clk);
	for (int i = 0; i < nthreads; i++)
		if (pthread_create(&w[i].th, NULL, work, &w[i]))
			wl_die("pthread_create");
	long long ops = 0;
	for (int i = 0; i < nthreads; i++) {
		pthread_join(w[i].th, NULL);
		ops += w[i].ops;
	}
	wl_report(&clk, "rate", ops, " mode=%s target_rate=%.0f threads=%d",
		  mode == M_UDP    ? "udp"
		  : mode == M_OPEN ? "open"
				   : "tcp",
		  rate, nthreads);
	return 0;
}
