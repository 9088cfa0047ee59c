/* pam_dlopen: a PAM client that does not link libpam but loads it at run time, as sudo does
 * through its sudoers.so plugin (its ELF does not list libpam, so only the exec-time lookup of
 * the libpam of the process's root finds it).
 * usage: pam_dlopen SERVICE USER [GOFILE]
 *   waits until GOFILE exists when given (polls every 10 ms, gives up after 20 s), then
 *   dlopen("libpam.so.0"), pam_start(SERVICE, USER), pam_authenticate, pam_end.
 *   Prints "pam_authenticate: N"; exit status 0 on PAM_SUCCESS, 1 on any other result,
 *   2 on a usage or loading error. No PAM header needed: the few declarations are below. */
#include <dlfcn.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

struct pam_message;
struct pam_response;
struct pam_conv {
	int (*conv)(int n, const struct pam_message **msg, struct pam_response **resp, void *data);
	void *appdata_ptr;
};
typedef int (*pam_start_fn)(const char *service, const char *user, const struct pam_conv *conv,
			    void **pamh);
typedef int (*pam_step_fn)(void *pamh, int flags);
typedef int (*pam_end_fn)(void *pamh, int status);

#define PAM_CONV_ERR 19

/* pam_permit and pam_deny never ask anything: refuse any question */
static int no_conv(int n, const struct pam_message **msg, struct pam_response **resp, void *data)
{
	return PAM_CONV_ERR;
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: pam_dlopen SERVICE USER [GOFILE]\n");
		return 2;
	}
	if (argc > 3) {
		struct timespec ts = {0, 10 * 1000 * 1000};
		int i;
		for (i = 0; i < 2000 && access(argv[3], F_OK); i++)
			nanosleep(&ts, NULL);
		if (i == 2000) {
			fprintf(stderr, "pam_dlopen: %s never appeared\n", argv[3]);
			return 2;
		}
	}
	void *lib = dlopen("libpam.so.0", RTLD_NOW);
	if (!lib) {
		fprintf(stderr, "pam_dlopen: %s\n", dlerror());
		return 2;
	}
	pam_start_fn start = (pam_start_fn)dlsym(lib, "pam_start");
	pam_step_fn authenticate = (pam_step_fn)dlsym(lib, "pam_authenticate");
	pam_end_fn end = (pam_end_fn)dlsym(lib, "pam_end");
	if (!start || !authenticate || !end) {
		fprintf(stderr, "pam_dlopen: libpam without pam_start/pam_authenticate/pam_end\n");
		return 2;
	}
	struct pam_conv conv = {no_conv, NULL};
	void *pamh = NULL;
	int r = start(argv[1], argv[2], &conv, &pamh);
	if (r != 0) {
		fprintf(stderr, "pam_dlopen: pam_start: %d\n", r);
		return 2;
	}
	r = authenticate(pamh, 0);
	printf("pam_authenticate: %d\n", r);
	end(pamh, r);
	return r == 0 ? 0 : 1;
}
