/* fileops - one precise file syscall per run, for tests/probes/test_file.sh. Paths of the *at()
 * forms are relative to a directory opened first (a real directory fd, not AT_FDCWD).
 *   fileops openat DIR NAME FLAGS_OCTAL      fileops unlinkat DIR NAME
 *   fileops renameat DIR OLD NEW             fileops fchmodat DIR NAME MODE_OCTAL
 *   fileops fchownat DIR NAME UID GID        fileops linkat DIR OLD NEW
 *   fileops symlinkat TARGET DIR NAME        fileops fchmod PATH MODE_OCTAL
 *   fileops fchown PATH UID GID              fileops ftruncate PATH
 *   fileops openloop PATH N                  (N opens + closes, read only)
 * Prints the syscall's result (or -errno) on stdout. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int dirfd_of(const char *d)
{
	int fd = open(d, O_RDONLY | O_DIRECTORY);
	if (fd < 0) {
		perror(d);
		exit(2);
	}
	return fd;
}

int main(int argc, char **argv)
{
	long r = -1;
	if (argc < 3) {
		fprintf(stderr, "usage: see the comment at the top of fileops.c\n");
		return 2;
	}
	const char *op = argv[1];
	if (!strcmp(op, "openat") && argc == 5)
		r = openat(dirfd_of(argv[2]), argv[3], (int)strtol(argv[4], NULL, 8), 0640);
	else if (!strcmp(op, "unlinkat") && argc == 4)
		r = unlinkat(dirfd_of(argv[2]), argv[3], 0);
	else if (!strcmp(op, "renameat") && argc == 5) {
		int d = dirfd_of(argv[2]);
		r = renameat(d, argv[3], d, argv[4]);
	} else if (!strcmp(op, "fchmodat") && argc == 5)
		r = fchmodat(dirfd_of(argv[2]), argv[3], (mode_t)strtol(argv[4], NULL, 8), 0);
	else if (!strcmp(op, "fchownat") && argc == 6)
		r = fchownat(dirfd_of(argv[2]), argv[3], atoi(argv[4]), atoi(argv[5]), 0);
	else if (!strcmp(op, "linkat") && argc == 5) {
		int d = dirfd_of(argv[2]);
		r = linkat(d, argv[3], d, argv[4], 0);
	} else if (!strcmp(op, "symlinkat") && argc == 5)
		r = symlinkat(argv[2], dirfd_of(argv[3]), argv[4]);
	else if (!strcmp(op, "fchmod") && argc == 4) {
		int fd = open(argv[2], O_RDONLY);
		r = fd < 0 ? -1 : fchmod(fd, (mode_t)strtol(argv[3], NULL, 8));
	} else if (!strcmp(op, "fchown") && argc == 5) {
		int fd = open(argv[2], O_RDONLY);
		r = fd < 0 ? -1 : fchown(fd, atoi(argv[3]), atoi(argv[4]));
	} else if (!strcmp(op, "ftruncate") && argc == 3) {
		int fd = open(argv[2], O_WRONLY);
		r = fd < 0 ? -1 : ftruncate(fd, 0);
	} else if (!strcmp(op, "openloop") && argc == 4) {
		int n = atoi(argv[3]);
		for (int i = 0; i < n; i++) {
			int fd = open(argv[2], O_RDONLY);
			if (fd >= 0)
				close(fd);
			r = fd;
		}
	} else {
		fprintf(stderr, "fileops: bad arguments for %s\n", op);
		return 2;
	}
	printf("%ld\n", r < 0 ? -(long)errno : r);
	return 0;
}
