/* respond.c - responses on the host, asked for by "ctl kill" (the control socket, or the
 * collector when control.collector_allow names "kill"): a signal to one process, named by its
 * pid or, so that a reused pid is never hit, by the process key its events carry (proc.key,
 * "<boot>-<pid>-<start ticks>"). The process is pinned with a pidfd and its start time checked
 * after pinning, so the signal goes to the process that was named or to none. Refused: pid 1,
 * kernel threads, the agent itself. Every attempt is an agent.response event. */
#include "agent/agent.h"
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

/* Start time (clock ticks since boot) and flags of /proc/PID/stat; -1 if the process is gone. */
static int proc_stat(uint32_t pid, uint64_t *start, unsigned long *flags, char *comm, size_t cl)
{
	char path[64], buf[1024];
	snprintf(path, sizeof(path), "/proc/%u/stat", pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = 0;
	char *lp = strchr(buf, '('), *rp = strrchr(buf, ')');
	if (!lp || !rp || rp < lp)
		return -1;
	snprintf(comm, cl, "%.*s", (int)(rp - lp - 1), lp + 1);
	/* after ") ": state (field 3), ..., flags (9), ..., starttime (22), space-separated */
	const char *p = rp + 2;
	for (int field = 3; field < 22; field++) {
		if (field == 9)
			*flags = strtoul(p, NULL, 10);
		p = strchr(p, ' ');
		if (!p)
			return -1;
		p++;
	}
	*start = strtoull(p, NULL, 10);
	return 0;
}

static int sig_of(const char *s)
{
	static const struct {
		const char *name;
		int sig;
	} sigs[] = {{"KILL", SIGKILL}, {"TERM", SIGTERM}, {"STOP", SIGSTOP},
		    {"CONT", SIGCONT}, {"INT", SIGINT},   {"HUP", SIGHUP}};
	if (!s)
		return SIGKILL;
	if (!strncmp(s, "SIG", 3))
		s += 3;
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		if (!strcmp(s, sigs[i].name))
			return sigs[i].sig;
	return 0;
}

static void emit_response(struct agent *a, const struct ctl_who *who, const char *target,
			  uint32_t pid, const char *comm, const char *sig, bool ok,
			  const char *error)
{
	emit_begin(a, "agent.response", 0);
	jb_key(&a->jb, "response");
	jb_obj_begin(&a->jb);
	jb_kcstr(&a->jb, "action", "kill");
	jb_kcstr(&a->jb, "source", who->source);
	jb_kcstr(&a->jb, "target", target);
	jb_key(&a->jb, "pid");
	if (pid)
		jb_u64(&a->jb, pid);
	else
		jb_null(&a->jb);
	jb_kcstr(&a->jb, "comm", comm && comm[0] ? comm : NULL);
	jb_kcstr(&a->jb, "signal", sig);
	jb_kbool(&a->jb, "ok", ok);
	jb_kcstr(&a->jb, "error", error);
	jb_obj_end(&a->jb);
	emit_end(a);
}

int respond_pin(struct agent *a, const char *target, uint32_t *pidp, uint64_t *startp, char *comm,
		size_t cl, char *why, size_t wl)
{
	uint32_t pid = 0;
	uint64_t want_start = 0, start = 0;
	unsigned long flags = 0;
	bool by_key = false;
	int pfd = -1;

	*pidp = 0;
	/* PID, or a process key: <key prefix>-<pid>-<start ticks> */
	char *end;
	unsigned long long v = strtoull(target, &end, 10);
	if (*target && !*end && v > 0 && v < (1ull << 22)) {
		pid = (uint32_t)v;
	} else {
		size_t pl = strnlen(a->key_prefix, sizeof(a->key_prefix));
		unsigned long long p2, st;
		if (strncmp(target, a->key_prefix, pl) || target[pl] != '-' ||
		    sscanf(target + pl + 1, "%llu-%llu%n", &p2, &st, &(int){0}) != 2 || !p2 ||
		    p2 >= (1ull << 22)) {
			snprintf(why, wl,
				 "'%.64s' is neither a pid nor a process key of this boot "
				 "(proc.key)",
				 target);
			return -1;
		}
		pid = (uint32_t)p2;
		want_start = st;
		by_key = true;
	}
	*pidp = pid;
	if (pid == 1 || (int)pid == a->self_pid) {
		snprintf(why, wl, "pid %u is %s: refused", pid,
			 pid == 1 ? "init" : "the agent itself");
		return -1;
	}
	pfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (pfd < 0 || proc_stat(pid, &start, &flags, comm, cl)) {
		snprintf(why, wl, "no process %u", pid);
		goto fail;
	}
	if (flags & 0x00200000 /* PF_KTHREAD */) {
		snprintf(why, wl, "pid %u is a kernel thread: refused", pid);
		goto fail;
	}
	/* pinned by the pidfd: a pid reused since the key was taken has another start time */
	if (by_key && start != want_start) {
		snprintf(why, wl,
			 "pid %u is another process now (started at tick %llu, not %llu): nothing "
			 "done",
			 pid, (unsigned long long)start, (unsigned long long)want_start);
		goto fail;
	}
	if (startp)
		*startp = start;
	return pfd;
fail:
	if (pfd >= 0)
		close(pfd);
	return -1;
}

int respond_kill(struct agent *a, const struct ctl_who *who, const char *target,
		 const char *signame, struct jbuf *b)
{
	char comm[64] = "", why[160] = "";
	uint32_t pid = 0;
	int sig = sig_of(signame), pfd = -1;

	if (!sig) {
		snprintf(why, sizeof(why),
			 "unknown signal '%.32s' (KILL, TERM, STOP, CONT, INT, HUP)", signame);
		goto fail;
	}
	pfd = respond_pin(a, target, &pid, NULL, comm, sizeof(comm), why, sizeof(why));
	if (pfd < 0)
		goto fail;
	if (syscall(SYS_pidfd_send_signal, pfd, sig, NULL, 0)) {
		snprintf(why, sizeof(why), "pid %u: %s", pid, strerror(errno));
		goto fail;
	}
	close(pfd);
	jb_kbool(b, "ok", true);
	jb_ku64(b, "pid", pid);
	jb_kcstr(b, "comm", comm);
	jb_kcstr(b, "signal", sigabbrev_np(sig));
	emit_response(a, who, target, pid, comm, sigabbrev_np(sig), true, NULL);
	return 0;
fail:
	if (pfd >= 0)
		close(pfd);
	jb_kbool(b, "ok", false);
	jb_kcstr(b, "error", why);
	emit_response(a, who, target, pid, comm, sig ? sigabbrev_np(sig) : signame, false, why);
	return -1;
}
