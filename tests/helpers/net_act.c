/* net_act - makes exact socket syscalls for the net probe tests and the net benchmark.
 *
 *   net_act server ADDR PORT BACKLOG accept|accept4|accept4-late  socket+bind+listen, prints
 *                                                     "PID PORT", accepts one connection
 *                                                     (accept4-late: after 1 s)
 *   net_act clientrst ADDR PORT                       connect, then close with RST (linger 0)
 *   net_act client ADDR PORT [SRCADDR SRCPORT]      (bind first,) connect; prints
 *                                                     "PID LOCALPORT RESULT" (RESULT 0 or errno)
 *   net_act udpconnect ADDR PORT                      UDP socket connect; same output
 *   net_act nbclient ADDR PORT                        non-blocking connect, then poll for the
 *                                                     outcome; prints "PID LOCALPORT RESULT
 *                                                     FINAL" (RESULT: errno of connect(), e.g.
 *                                                     115; FINAL: SO_ERROR once done, 0 = ok)
 *   net_act uring ADDR PORT                           TCP connect through io_uring
 *                                                     (IORING_OP_CONNECT, raw syscalls); prints
 *                                                     "PID LOCALPORT FINAL" (-1 FINAL: no
 *                                                     io_uring here)
 *   net_act bindbusy ADDR PORT                        bind twice to ADDR:PORT: prints "PID ERRNO"
 *   net_act raw | packet                              raw ICMP / AF_PACKET socket: "PID FD ERRNO"
 *   net_act dns ADDR MODE TYPE HEXNAME...             DNS queries to ADDR:53 for names given as
 *       wire-format hex (labels with length bytes); MODE: sendto (one sendto per name),
 *       sendmmsg (connect + one sendmmsg of all names), tcp (connect + write of
 *       length-prefixed message), tcp2 (connect + the 2-byte length and the message in two
 *       writes), response (sendto of a message with the QR bit set);
 *       prints "PID"; waits up to 1 s for answers.
 *       In sendmmsg mode the second and later names ask for TYPE+27 (TYPE 1: A, then AAAA)
 *   net_act storm ADDR PORT N                         N loopback connect/accept/close pairs
 *                                                     (the listener in a second thread); prints
 *                                                     elapsed and CPU seconds
 *   net_act udpsend ADDR PORT N connected|unconnected N UDP sends of 64 bytes (send or sendto);
 *                                                     prints elapsed and CPU seconds
 * Addresses may be IPv4 or IPv6 (including ::ffff:a.b.c.d); the socket family follows.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_ether.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <linux/io_uring.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <poll.h>
#include <time.h>
#include <unistd.h>

/* "WALL CPU": elapsed seconds since t0, and CPU seconds (user + system) of this process */
static void print_times(const struct timespec *t0)
{
	struct timespec t1;
	struct rusage ru;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	getrusage(RUSAGE_SELF, &ru);
	printf("%.6f %.6f\n", (t1.tv_sec - t0->tv_sec) + (t1.tv_nsec - t0->tv_nsec) / 1e9,
	       ru.ru_utime.tv_sec + ru.ru_stime.tv_sec +
		       (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6);
}

static socklen_t mkaddr(const char *ip, int port, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (strchr(ip, ':')) {
		struct sockaddr_in6 *s6 = (void *)ss;
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(port);
		if (inet_pton(AF_INET6, ip, &s6->sin6_addr) != 1)
			exit(2);
		return sizeof(*s6);
	}
	struct sockaddr_in *s4 = (void *)ss;
	s4->sin_family = AF_INET;
	s4->sin_port = htons(port);
	if (inet_pton(AF_INET, ip, &s4->sin_addr) != 1)
		exit(2);
	return sizeof(*s4);
}

static int local_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t l = sizeof(ss);
	if (getsockname(fd, (void *)&ss, &l))
		return -1;
	return ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
					      : ((struct sockaddr_in *)&ss)->sin_port);
}

static size_t hex2bin(const char *h, unsigned char *out, size_t max)
{
	size_t n = 0;
	while (h[0] && h[1] && n < max) {
		unsigned v;
		if (sscanf(h, "%2x", &v) != 1)
			exit(2);
		out[n++] = v;
		h += 2;
	}
	return n;
}

/* A query: header (id, RD, one question) + name + type + class IN. */
static size_t mkquery(unsigned char *q, unsigned id, const char *hexname, unsigned type)
{
	size_t n = 0;
	q[n++] = id >> 8, q[n++] = id & 0xff;
	q[n++] = 0x01, q[n++] = 0x00; /* RD */
	q[n++] = 0, q[n++] = 1;       /* QDCOUNT */
	memset(q + n, 0, 6);
	n += 6;
	n += hex2bin(hexname, q + n, 300);
	q[n++] = type >> 8, q[n++] = type & 0xff;
	q[n++] = 0, q[n++] = 1;
	return n;
}

static void drain(int fd)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	unsigned char buf[1024];
	while (poll(&p, 1, 1000) == 1 && recv(fd, buf, sizeof(buf), 0) > 0)
		;
}

/* One IORING_OP_CONNECT through the raw io_uring syscalls; returns the CQE result (0 or
 * -errno), or -ENOSYS when io_uring is not available. */
static int uring_connect(int fd, const struct sockaddr *sa, socklen_t sl)
{
	struct io_uring_params p;
	memset(&p, 0, sizeof(p));
	int rfd = syscall(SYS_io_uring_setup, 4, &p);
	if (rfd < 0)
		return -ENOSYS;
	size_t sq_sz = p.sq_off.array + p.sq_entries * sizeof(unsigned);
	size_t cq_sz = p.cq_off.cqes + p.cq_entries * sizeof(struct io_uring_cqe);
	if (p.features & IORING_FEAT_SINGLE_MMAP)
		sq_sz = cq_sz = sq_sz > cq_sz ? sq_sz : cq_sz;
	char *sq = mmap(NULL, sq_sz, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, rfd,
			IORING_OFF_SQ_RING);
	char *cq = (p.features & IORING_FEAT_SINGLE_MMAP)
			   ? sq
			   : mmap(NULL, cq_sz, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE,
				  rfd, IORING_OFF_CQ_RING);
	struct io_uring_sqe *sqes =
		mmap(NULL, p.sq_entries * sizeof(struct io_uring_sqe), PROT_READ | PROT_WRITE,
		     MAP_SHARED | MAP_POPULATE, rfd, IORING_OFF_SQES);
	if (sq == MAP_FAILED || cq == MAP_FAILED || sqes == MAP_FAILED)
		return -ENOSYS;
	unsigned *tail = (unsigned *)(sq + p.sq_off.tail),
		 mask = *(unsigned *)(sq + p.sq_off.ring_mask);
	unsigned *array = (unsigned *)(sq + p.sq_off.array), idx = *tail & mask;
	struct io_uring_sqe *e = &sqes[idx];
	memset(e, 0, sizeof(*e));
	e->opcode = IORING_OP_CONNECT;
	e->fd = fd;
	e->addr = (unsigned long)sa;
	e->off = sl;
	array[idx] = idx;
	__atomic_store_n(tail, *tail + 1, __ATOMIC_RELEASE);
	if (syscall(SYS_io_uring_enter, rfd, 1, 1, IORING_ENTER_GETEVENTS, NULL, 0) < 0)
		return -errno;
	unsigned *head = (unsigned *)(cq + p.cq_off.head);
	struct io_uring_cqe *cqes = (void *)(cq + p.cq_off.cqes);
	unsigned cmask = *(unsigned *)(cq + p.cq_off.ring_mask);
	int res = cqes[*head & cmask].res;
	__atomic_store_n(head, *head + 1, __ATOMIC_RELEASE);
	close(rfd);
	return res;
}

struct storm {
	int lfd, n;
};

static void *storm_accept(void *arg)
{
	struct storm *s = arg;
	for (int i = 0; i < s->n; i++) {
		int c = accept4(s->lfd, NULL, NULL, 0);
		if (c >= 0)
			close(c);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	struct sockaddr_storage ss;
	socklen_t sl;

	if (argc < 2)
		return 2;
	const char *cmd = argv[1];
	if (!strcmp(cmd, "server") && argc == 6) {
		sl = mkaddr(argv[2], atoi(argv[3]), &ss);
		int fd = socket(ss.ss_family, SOCK_STREAM, 0), one = 1;
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (fd < 0 || bind(fd, (void *)&ss, sl) || listen(fd, atoi(argv[4]))) {
			perror("server");
			return 1;
		}
		printf("%d %d\n", getpid(), local_port(fd));
		fflush(stdout);
		if (!strcmp(argv[5], "accept4-late"))
			sleep(1);
		int c = strncmp(argv[5], "accept4", 7) == 0
				? accept4(fd, NULL, NULL, SOCK_CLOEXEC)
				: (int)syscall(SYS_accept, fd, NULL, NULL);
		if (c < 0) {
			perror("accept");
			return 1;
		}
		printf("accepted %d\n", c);
		close(c);
		return 0;
	}
	if ((!strcmp(cmd, "client") || !strcmp(cmd, "udpconnect")) && (argc == 4 || argc == 6)) {
		sl = mkaddr(argv[2], atoi(argv[3]), &ss);
		int fd = socket(ss.ss_family, cmd[0] == 'c' ? SOCK_STREAM : SOCK_DGRAM, 0);
		if (argc == 6) {
			struct sockaddr_storage bs;
			socklen_t bl = mkaddr(argv[4], atoi(argv[5]), &bs);
			int one = 1;
			setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
			if (bind(fd, (void *)&bs, bl)) {
				perror("bind");
				return 1;
			}
		}
		int r = connect(fd, (void *)&ss, sl) ? errno : 0;
		printf("%d %d %d\n", getpid(), local_port(fd), r);
		return 0;
	}
	if (!strcmp(cmd, "nbclient") && argc == 4) {
		sl = mkaddr(argv[2], atoi(argv[3]), &ss);
		int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK, 0), fin = 0;
		socklen_t el = sizeof(fin);
		int r = connect(fd, (void *)&ss, sl) ? errno : 0;
		if (r == EINPROGRESS) {
			struct pollfd pf = {.fd = fd, .events = POLLOUT};
			poll(&pf, 1, 5000);
		}
		getsockopt(fd, SOL_SOCKET, SO_ERROR, &fin, &el);
		printf("%d %d %d %d\n", getpid(), local_port(fd), r, fin);
		return 0;
	}
	if (!strcmp(cmd, "uring") && argc == 4) {
		sl = mkaddr(argv[2], atoi(argv[3]), &ss);
		int fd = socket(ss.ss_family, SOCK_STREAM, 0);
		int r = uring_connect(fd, (void *)&ss, sl);
		printf("%d %d %d\n", getpid(), r == -ENOSYS ? -1 : local_port(fd),
		       r == -ENOSYS ? -1 : -r);
		return 0;
	}
	if (!strcmp(cmd, "clientrst") && argc == 4) {
		sl = mkaddr(argv[2], atoi(argv[3]), &ss);
		int fd = socket(ss.ss_family, SOCK_STREAM, 0);
		struct linger lg = {1, 0};
		int r = connect(fd, (void *)&ss, sl) ? errno : 0;
		printf("%d %d %d\n", getpid(), local_port(fd), r);
		setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		close(fd);
		return 0;
	}
	if (!strcmp(cmd, "bindbusy") && argc == 4) {
		sl = mkaddr(argv[2], atoi(argv[3]), &ss);
		int a = socket(ss.ss_family, SOCK_STREAM, 0),
		    b = socket(ss.ss_family, SOCK_STREAM, 0);
		if (bind(a, (void *)&ss, sl) || listen(a, 1))
			return 1;
		int r = bind(b, (void *)&ss, sl) ? errno : 0;
		printf("%d %d\n", getpid(), r);
		return 0;
	}
	if (!strcmp(cmd, "raw") || !strcmp(cmd, "packet")) {
		int fd = cmd[0] == 'r'
				 ? socket(AF_INET, SOCK_RAW, IPPROTO_ICMP)
				 : socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ALL));
		printf("%d %d %d\n", getpid(), fd, fd < 0 ? errno : 0);
		return 0;
	}
	if (!strcmp(cmd, "dns") && argc >= 6) {
		unsigned char q[8][400];
		size_t ql[8];
		int n = 0;
		for (int i = 5; i < argc && n < 8; i++, n++)
			ql[n] = mkquery(q[n], 0x4800 + n, argv[i],
					atoi(argv[4]) +
						(n && !strcmp(argv[3], "sendmmsg") ? 27 : 0));
		sl = mkaddr(argv[2], 53, &ss);
		printf("%d\n", getpid());
		fflush(stdout);
		if (!strcmp(argv[3], "sendto") || !strcmp(argv[3], "response")) {
			int fd = socket(ss.ss_family, SOCK_DGRAM, 0);
			if (argv[3][0] == 'r')
				for (int i = 0; i < n; i++)
					q[i][2] |= 0x80; /* QR: a response */
			for (int i = 0; i < n; i++)
				sendto(fd, q[i], ql[i], 0, (void *)&ss, sl);
			drain(fd);
		} else if (!strcmp(argv[3], "sendmmsg")) {
			int fd = socket(ss.ss_family, SOCK_DGRAM, 0);
			struct mmsghdr mm[8];
			struct iovec iov[8];
			memset(mm, 0, sizeof(mm));
			if (connect(fd, (void *)&ss, sl))
				return 1;
			for (int i = 0; i < n; i++) {
				iov[i].iov_base = q[i];
				iov[i].iov_len = ql[i];
				mm[i].msg_hdr.msg_iov = &iov[i];
				mm[i].msg_hdr.msg_iovlen = 1;
			}
			if (sendmmsg(fd, mm, n, 0) != n)
				return 1;
			drain(fd);
		} else if (!strcmp(argv[3], "tcp") || !strcmp(argv[3], "tcp2")) {
			int fd = socket(ss.ss_family, SOCK_STREAM, 0);
			unsigned char m[402];
			if (connect(fd, (void *)&ss, sl)) {
				perror("tcp connect");
				return 1;
			}
			m[0] = ql[0] >> 8;
			m[1] = ql[0] & 0xff;
			memcpy(m + 2, q[0], ql[0]);
			if (argv[3][3] == '2') { /* length and message in two writes */
				if (write(fd, m, 2) != 2 ||
				    write(fd, m + 2, ql[0]) != (ssize_t)ql[0])
					return 1;
			} else if (write(fd, m, ql[0] + 2) != (ssize_t)ql[0] + 2) {
				return 1;
			}
			drain(fd);
		} else {
			return 2;
		}
		return 0;
	}
	if (!strcmp(cmd, "storm") && argc == 5) {
		int n = atoi(argv[4]), one = 1;
		sl = mkaddr(argv[2], atoi(argv[3]), &ss);
		struct storm s = {.lfd = socket(ss.ss_family, SOCK_STREAM, 0), .n = n};
		setsockopt(s.lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(s.lfd, (void *)&ss, sl) || listen(s.lfd, 4096)) {
			perror("storm listen");
			return 1;
		}
		pthread_t th;
		struct timespec t0;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		pthread_create(&th, NULL, storm_accept, &s);
		for (int i = 0; i < n; i++) {
			int fd = socket(ss.ss_family, SOCK_STREAM, 0);
			struct linger lg = {1, 0}; /* close with RST: no TIME_WAIT pile-up */
			if (connect(fd, (void *)&ss, sl)) {
				perror("storm connect");
				return 1;
			}
			setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
			close(fd);
		}
		pthread_join(th, NULL);
		print_times(&t0);
		return 0;
	}
	if (!strcmp(cmd, "udpsend") && argc == 6) {
		int n = atoi(argv[4]), conn = !strcmp(argv[5], "connected");
		char buf[64] = "herdwatch";
		struct timespec t0;
		sl = mkaddr(argv[2], atoi(argv[3]), &ss);
		int fd = socket(ss.ss_family, SOCK_DGRAM, 0);
		if (conn && connect(fd, (void *)&ss, sl))
			return 1;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		for (int i = 0; i < n; i++)
			if (conn)
				send(fd, buf, sizeof(buf), 0);
			else
				sendto(fd, buf, sizeof(buf), 0, (void *)&ss, sl);
		print_times(&t0);
		return 0;
	}
	fprintf(stderr, "net_act: bad usage\n");
	return 2;
}
