/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * hw-fanmode - a bare fanotify reader, to measure what the kernel's side of watch mode costs a
 * process that opens a watched file, by the way the events are reported (bench/fanmode.sh).
 *
 * Usage: hw-fanmode fd|fid|dir INTERVAL_MS FILE
 *   fd    FAN_CLASS_NOTIF, events carry an open descriptor (what herdwatch's file.open group
 *         uses): an inode mark on FILE
 *   fid   FAN_REPORT_FID: events carry a file handle, no descriptor: an inode mark on FILE
 *   dir   FAN_REPORT_DFID_NAME: a mark on FILE's directory with FAN_EVENT_ON_CHILD (a watched
 *         directory), events carry the directory's handle and the name
 * The mark asks for FAN_CLOSE_NOWRITE | FAN_CLOSE_WRITE, as herdwatch's read rules do. Every
 * INTERVAL_MS the queue is read until empty (descriptors closed), as herdwatch's batched
 * reader does. Prints "ready" once marked; on SIGTERM/SIGINT "events=N reads=N" and exits.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fanotify.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

int main(int argc, char **argv)
{
	static char buf[256 * 1024] __attribute__((aligned(8)));
	unsigned long long events = 0, reads = 0;
	unsigned flags = FAN_CLASS_NOTIF | FAN_CLOEXEC | FAN_NONBLOCK;
	unsigned mflags = FAN_MARK_ADD;
	uint64_t mask = FAN_CLOSE_NOWRITE | FAN_CLOSE_WRITE;
	char target[4096];
	int fd;

	if (argc != 4) {
		fprintf(stderr, "usage: hw-fanmode fd|fid|dir INTERVAL_MS FILE\n");
		return 2;
	}
	long ms = atol(argv[2]);
	snprintf(target, sizeof(target), "%s", argv[3]);
	if (!strcmp(argv[1], "fid")) {
		flags |= FAN_REPORT_FID;
	} else if (!strcmp(argv[1], "dir")) {
		flags |= FAN_REPORT_DFID_NAME;
		mask |= FAN_EVENT_ON_CHILD;
		snprintf(target, sizeof(target), "%s", dirname(argv[3]));
	} else if (strcmp(argv[1], "fd")) {
		fprintf(stderr, "hw-fanmode: mode '%s': expected fd, fid or dir\n", argv[1]);
		return 2;
	}
	fd = fanotify_init(flags, O_RDONLY | O_CLOEXEC | O_LARGEFILE);
	if (fd < 0) {
		fprintf(stderr, "hw-fanmode: fanotify_init: %s\n", strerror(errno));
		return 1;
	}
	if (fanotify_mark(fd, mflags, mask, AT_FDCWD, target)) {
		fprintf(stderr, "hw-fanmode: fanotify_mark %s: %s\n", target, strerror(errno));
		return 1;
	}
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	printf("ready\n");
	fflush(stdout);
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
	while (!stop) {
		nanosleep(&ts, NULL);
		for (;;) {
			ssize_t n = read(fd, buf, sizeof(buf));
			if (n <= 0)
				break;
			reads++;
			for (struct fanotify_event_metadata *m = (void *)buf; FAN_EVENT_OK(m, n);
			     m = FAN_EVENT_NEXT(m, n)) {
				events++;
				if (m->fd >= 0)
					close(m->fd);
			}
		}
	}
	close(fd);
	printf("events=%llu reads=%llu\n", events, reads);
	return 0;
}
