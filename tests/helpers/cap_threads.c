/* cap_threads.c - repeated capability checks from several threads of one process, for
 * tests/probes/test_priv_fast.sh (the per-thread fast path of process.capability).
 *
 * Usage: cap_threads FILE THREADS ALLOWED DENIED HOLD_MS   (as root; FILE owned by nobody)
 * Every thread (the main one included) makes ALLOWED chown(FILE, nobody) calls: root is not the
 * owner, so each one is allowed after a CAP_CHOWN check and changes nothing (the threads do not
 * race on the owner), then drops CAP_CHOWN from its own effective set (capset acts on the
 * calling thread only) and makes DENIED chown calls that the same check refuses. Prints "pid=",
 * then "allowed=" and "denied=" (calls that succeeded / failed with EPERM, over all threads)
 * and "done" once every thread has finished, then stays alive HOLD_MS milliseconds before it
 * exits, so that a test can see the counts arrive while the process lives. Exits 1 when a
 * call did not do what it should. */
#include <errno.h>
#include <linux/capability.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static const char *path;
static long n_allowed, n_denied;
static long ok_total, eperm_total, bad_total;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;

static int drop_chown(void)
{
	struct __user_cap_header_struct h = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
	struct __user_cap_data_struct d[2];
	if (syscall(SYS_capget, &h, d))
		return -1;
	d[0].effective &= ~(1u << CAP_CHOWN);
	return (int)syscall(SYS_capset, &h, d);
}

static void *work(void *arg)
{
	long ok = 0, eperm = 0, bad = 0;
	(void)arg;
	for (long i = 0; i < n_allowed; i++)
		ok += chown(path, 65534, (gid_t)-1) == 0;
	if (drop_chown())
		bad++;
	for (long i = 0; i < n_denied; i++) {
		if (chown(path, 65534, (gid_t)-1) == 0)
			bad++;
		else
			eperm += errno == EPERM;
	}
	bad += n_allowed - ok + n_denied - eperm;
	pthread_mutex_lock(&mu);
	ok_total += ok;
	eperm_total += eperm;
	bad_total += bad;
	pthread_mutex_unlock(&mu);
	return NULL;
}

int main(int argc, char **argv)
{
	if (argc < 6) {
		fprintf(stderr, "usage: cap_threads FILE THREADS ALLOWED DENIED HOLD_MS\n");
		return 2;
	}
	path = argv[1];
	int nt = atoi(argv[2]);
	n_allowed = atol(argv[3]);
	n_denied = atol(argv[4]);
	long hold_ms = atol(argv[5]);
	if (nt < 1 || nt > 64 || n_allowed < 0 || n_denied < 0 || hold_ms < 0) {
		fprintf(stderr, "cap_threads: THREADS 1..64, counts >= 0\n");
		return 2;
	}
	printf("pid=%d\n", getpid());
	fflush(stdout);
	pthread_t t[64];
	for (int i = 1; i < nt; i++)
		if (pthread_create(&t[i], NULL, work, NULL)) {
			fprintf(stderr, "cap_threads: pthread_create failed\n");
			return 1;
		}
	work(NULL);
	for (int i = 1; i < nt; i++)
		pthread_join(t[i], NULL);
	printf("allowed=%ld\ndenied=%ld\ndone\n", ok_total, eperm_total);
	fflush(stdout);
	struct timespec ts = {hold_ms / 1000, (hold_ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
	return bad_total ? 1 : 0;
}
