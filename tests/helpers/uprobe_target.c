/* uprobe_target: a program with a function for custom uprobe tests.
 * usage: uprobe_target N WHO   calls hw_target_greet(N, WHO) once and prints the result. */
#include <stdio.h>
#include <stdlib.h>

__attribute__((noinline)) int hw_target_greet(int n, const char *who)
{
	/* the asm keeps the call from being folded into main */
	asm volatile("" ::: "memory");
	return n * 2 + (who && who[0] == '!');
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: uprobe_target N WHO\n");
		return 2;
	}
	printf("%d\n", hw_target_greet(atoi(argv[1]), argv[2]));
	return 0;
}
