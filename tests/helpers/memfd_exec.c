/* memfd_exec: copy a program into a memfd and execute it from there (a "fileless" exec).
 * usage: memfd_exec NAME PROGRAM [ARGS...] */
#include <fcntl.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: memfd_exec NAME PROGRAM [ARGS...]\n");
		return 2;
	}
	int src = open(argv[2], O_RDONLY);
	struct stat st;
	if (src < 0 || fstat(src, &st)) {
		perror(argv[2]);
		return 1;
	}
	int fd = memfd_create(argv[1], MFD_CLOEXEC);
	if (fd < 0) {
		perror("memfd_create");
		return 1;
	}
	off_t off = 0;
	while (off < st.st_size)
		if (sendfile(fd, src, &off, st.st_size - off) <= 0) {
			perror("sendfile");
			return 1;
		}
	char *envp[] = {NULL};
	fexecve(fd, argv + 2, envp);
	perror("fexecve");
	return 1;
}
