/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * service - a small HTTP/1.1 server on loopback for the "mixed service" benchmark.
 * Usage: service -p PORT [-k REQS_PER_CONN] [-x EXEC_EVERY] [-b BODY_BYTES]
 *
 * One thread, epoll, non-blocking sockets. It behaves like a plain web service seen from a
 * security monitor's side:
 *   - every request opens, reads and closes a static file (an unwatched path under /tmp);
 *   - every connection is closed by the server after -k requests (default 10), so a client
 *     that keeps connections alive (wrk) reconnects: one connect and one accept per -k requests;
 *   - every -x-th request (default 100) runs a helper program: fork + exec /bin/true + wait,
 *     the way a CGI or a health-check script would.
 * It serves until SIGTERM or SIGINT, then prints the workload line (see wl.h) with ops = the
 * number of requests answered, wall_ns from the first accept to the last response, and
 * requests=, accepts=, execs=, opens=.
 */
#include "wl.h"
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/wait.h>

#define MAX_FD 4096
#define CONN_BUF 4096
#define BODY_MAX 65536

struct conn {
	int used;
	unsigned int len;
	unsigned int nreq;
	char buf[CONN_BUF];
};

static struct conn *conns;
static volatile sig_atomic_t stop;
static char page[64];
static char body[BODY_MAX];
static long long requests, accepts, execs, opens;
static long keepalive_max = 10, exec_every = 100;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static void close_conn(int ep, int fd)
{
	epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
	close(fd);
	conns[fd].used = 0;
}

static void run_helper(void)
{
	pid_t pid = fork();
	if (pid < 0)
		return;
	if (pid == 0) {
		execl("/bin/true", "true", (char *)NULL);
		_exit(127);
	}
	int st;
	waitpid(pid, &st, 0);
	execs++;
}

/* Answer one request; returns 1 if the connection must be closed afterwards. */
static int answer(int fd, struct conn *c)
{
	char out[256 + BODY_MAX];
	ssize_t blen = 0;
	int f = open(page, O_RDONLY | O_CLOEXEC);
	if (f >= 0) {
		opens++;
		blen = read(f, body, sizeof(body));
		close(f);
		if (blen < 0)
			blen = 0;
	}
	c->nreq++;
	requests++;
	if (exec_every > 0 && requests % exec_every == 0)
		run_helper();
	int last = c->nreq >= (unsigned long)keepalive_max;
	int h = snprintf(
		out, 256,
		"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: %zd\r\n%s\r\n", blen,
		last ? "Connection: close\r\n" : "");
	memcpy(out + h, body, (size_t)blen);
	ssize_t want = h + blen;
	if (write(fd, out, (size_t)want) != want)
		return 1; /* a full socket buffer on loopback: drop the connection */
	return last;
}

int main(int argc, char **argv)
{
	long port = 0, body_bytes = 1024;
	int c;

	while ((c = getopt(argc, argv, "p:k:x:b:")) != -1) {
		switch (c) {
		case 'p':
			port = wl_count(optarg, "-p");
			break;
		case 'k':
			keepalive_max = wl_count(optarg, "-k");
			break;
		case 'x': /* 0: no helper */
			exec_every = strcmp(optarg, "0") ? wl_count(optarg, "-x") : 0;
			break;
		case 'b':
			body_bytes = wl_count(optarg, "-b");
			break;
		default:
			fprintf(stderr, "usage: service -p PORT [-k N] [-x N] [-b BYTES]\n");
			return 2;
		}
	}
	if (port <= 0 || port > 65535 || body_bytes > BODY_MAX) {
		fprintf(stderr, "service: -p PORT (1-65535) is required; -b at most %d\n",
			BODY_MAX);
		return 2;
	}
	conns = calloc(MAX_FD, sizeof(*conns));
	if (!conns)
		wl_die("calloc");

	/* The page lives in a private directory under /tmp: an unwatched path. */
	char dir[] = "/tmp/hw-bench-www.XXXXXX";
	if (!mkdtemp(dir))
		wl_die("mkdtemp");
	snprintf(page, sizeof(page), "%s/index.html", dir);
	int pf = open(page, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (pf < 0)
		wl_die("create page");
	memset(body, 'a', (size_t)body_bytes);
	if (write(pf, body, (size_t)body_bytes) != body_bytes)
		wl_die("write page");
	close(pf);

	struct sigaction sa = {.sa_handler = on_signal};
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (lfd < 0)
		wl_die("socket");
	int one = 1;
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(lfd, (struct sockaddr *)&sin, sizeof(sin)) < 0)
		wl_die("bind");
	if (listen(lfd, 512) < 0)
		wl_die("listen");
	int ep = epoll_create1(EPOLL_CLOEXEC);
	if (ep < 0)
		wl_die("epoll_create1");
	struct epoll_event ev = {.events = EPOLLIN, .data.fd = lfd};
	epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);

	struct wl_clock clk;
	struct timespec last = {0};
	int started = 0;
	struct epoll_event evs[64];
	while (!stop) {
		int k = epoll_wait(ep, evs, 64, 200);
		if (k < 0) {
			if (errno == EINTR)
				continue;
			wl_die("epoll_wait");
		}
		for (int i = 0; i < k; i++) {
			int fd = evs[i].data.fd;
			if (fd == lfd) {
				for (;;) {
					int a = accept4(lfd, NULL, NULL,
							SOCK_NONBLOCK | SOCK_CLOEXEC);
					if (a < 0)
						break;
					if (!started) {
						wl_start(&clk);
						started = 1;
					}
					accepts++;
					if (a >= MAX_FD) {
						close(a);
						continue;
					}
					setsockopt(a, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
					conns[a].used = 1;
					conns[a].len = 0;
					conns[a].nreq = 0;
					struct epoll_event cev = {.events = EPOLLIN, .data.fd = a};
					epoll_ctl(ep, EPOLL_CTL_ADD, a, &cev);
				}
				continue;
			}
			struct conn *cn = &conns[fd];
			ssize_t r = read(fd, cn->buf + cn->len, CONN_BUF - 1 - cn->len);
			if (r <= 0) {
				if (r < 0 && errno == EAGAIN)
					continue;
				close_conn(ep, fd);
				continue;
			}
			cn->len += (unsigned int)r;
			cn->buf[cn->len] = 0;
			int closed = 0;
			char *end;
			while (!closed && (end = strstr(cn->buf, "\r\n\r\n"))) {
				unsigned int used = (unsigned int)(end + 4 - cn->buf);
				memmove(cn->buf, cn->buf + used, cn->len - used + 1);
				cn->len -= used;
				if (answer(fd, cn)) {
					close_conn(ep, fd);
					closed = 1;
				}
				clock_gettime(CLOCK_MONOTONIC, &last);
			}
			if (!closed && cn->len >= CONN_BUF - 1)
				close_conn(ep, fd); /* header too large */
		}
	}
	if (!started)
		wl_start(&clk);
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	long long idle = started && last.tv_sec ? wl_ts_ns(&now) - wl_ts_ns(&last) : 0;
	/* wl_report measures up to now; report the idle tail separately so the wall time can
	 * be taken up to the last response. */
	wl_report(&clk, "service", requests,
		  " requests=%lld accepts=%lld execs=%lld opens=%lld idle_tail_ns=%lld", requests,
		  accepts, execs, opens, idle);
	unlink(page);
	rmdir(dir);
	return 0;
}
