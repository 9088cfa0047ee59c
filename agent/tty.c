/* tty.c - the TTY capture's state in the agent: whether it is on (the tty section of the config,
 * overridden by "ctl tty on|off [--session PID] [--for S]"), for the whole host or for watched
 * sessions, and what the kernel side (bpf/tty.bpf.c) is told.
 *
 * Contract:
 *  - The tty.capture probe is attached only while something is to be recorded: the host scope
 *    is on, or at least one session is watched and the capture is not turned off. Otherwise no
 *    program is attached and the agent pays nothing.
 *  - A watched session is named by a pid: that pid's session (its session id) and that process
 *    and its descendants (which stay watched when they start a new session, script or tmux
 *    inside the session). An entry ends at "ctl tty off --session PID", at its --for, or when
 *    the process it was named by exits (its pid may be reused).
 *  - The kernel recognises a terminal by its file operations, whose address the agent learns
 *    once from a pty of its own (see bpf/tty.bpf.c); until that worked nothing is recorded, and
 *    the heartbeat's tty.error says why.
 *  - Records over a session's byte budget are dropped in the kernel and announced here as
 *    agent.loss (cause tty_budget); reads left out because the terminal did not echo are only
 *    counted (tty.secret_reads in the heartbeat).
 * Events: docs/events-tty.md; config: docs/config.md; control: docs/control.md.
 */
#include "agent/agent.h"
#include "herdwatch.skel.h"
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define TTY_MAX_SESSIONS 32

enum { OVR_NONE = 0, OVR_ON = 1, OVR_OFF = -1 };

struct tty_session {
	uint32_t pid, sid;
	uint64_t start; /* the process's start time (/proc/PID/stat field 22): pid reuse */
	uint64_t until_ms;
};

/* the family's state (struct agent's tty): made by tty_init, freed by tty_free */
struct tty_state {
	int ovr; /* ctl tty on (host) / off, over the config */
	uint64_t ovr_until_ms;
	struct tty_session s[TTY_MAX_SESSIONS];
	int n;
	uint64_t fops; /* learned tty_fops; 0 = not yet */
	char error[160];
	uint64_t seen[HW_TTY_ST_NCOUNT];
};

/* family init and teardown */
int tty_init(struct agent *a)
{
	a->tty = calloc(1, sizeof(*a->tty));
	return a->tty ? 0 : -ENOMEM;
}

void tty_free(struct agent *a)
{
	free(a->tty);
	a->tty = NULL;
}

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000ULL + ts.tv_nsec / 1000000;
}

static bool host_on(struct agent *a)
{
	struct tty_state *tty = a->tty;
	if (tty->ovr != OVR_NONE)
		return tty->ovr == OVR_ON;
	return a->cfg.tty.enabled && !a->cfg.tty.sessions_only;
}

/* Is there anything to record (the tty.capture probe attached)? probes.c asks. */
bool tty_wanted(struct agent *a)
{
	struct tty_state *tty = a->tty;
	return host_on(a) || (tty->n > 0 && tty->ovr != OVR_OFF);
}

static const char *scope_name(struct agent *a)
{
	return host_on(a) ? "host" : tty_wanted(a) ? "sessions" : "off";
}

/* Session id and start time of pid, from /proc/PID/stat; -errno. */
static int proc_sid(uint32_t pid, uint32_t *sid, uint64_t *start)
{
	char path[64], buf[1024];
	snprintf(path, sizeof(path), "/proc/%u/stat", pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -EIO;
	buf[n] = 0;
	/* after the comm's last ')': state ppid pgrp session ... starttime is field 22 */
	char *p = strrchr(buf, ')');
	unsigned long long st = 0;
	unsigned s = 0;
	if (!p || sscanf(p + 2,
			 "%*c %*d %*d %u %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d "
			 "%*d %*d %*d %llu",
			 &s, &st) != 2)
		return -EIO;
	*sid = s;
	*start = st;
	return 0;
}

/* Learn tty_fops: write one byte to the slave side of a pty of our own while the program is
 * attached with learn_fd set (bpf/tty.bpf.c). */
static int tty_learn(struct agent *a)
{
	struct tty_state *tty = a->tty;
	int cfd = bpf_map__fd(a->skel->maps.hwt_cfg), m, s = -1, rc = 0;
	uint32_t zero = 0;
	struct hw_tty_cfg c;
	char name[64];

	m = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (m < 0 || grantpt(m) || unlockpt(m) || ptsname_r(m, name, sizeof(name)) ||
	    (s = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC)) < 0) {
		rc = -errno;
		snprintf(tty->error, sizeof(tty->error),
			 "cannot open a pty to recognise terminals: %s", strerror(-rc));
		goto out;
	}
	if (bpf_map_lookup_elem(cfd, &zero, &c)) {
		rc = -errno;
		snprintf(tty->error, sizeof(tty->error), "cannot read the tty settings map: %s",
			 strerror(-rc));
		goto out;
	}
	c.learn_fd = s;
	c.learned_fops = 0;
	bpf_map_update_elem(cfd, &zero, &c, BPF_ANY);
	if (write(s, "\n", 1) != 1)
		rc = -errno;
	bpf_map_lookup_elem(cfd, &zero, &c);
	c.learn_fd = -1;
	bpf_map_update_elem(cfd, &zero, &c, BPF_ANY);
	if (!c.learned_fops) {
		snprintf(tty->error, sizeof(tty->error),
			 "the terminal file operations could not be learned from %s (%s)", name,
			 rc ? strerror(-rc) : "the program did not see the write");
		rc = rc ? rc : -ENOENT;
		goto out;
	}
	tty->fops = c.learned_fops;
	tty->error[0] = 0;
out:
	if (s >= 0)
		close(s);
	if (m >= 0)
		close(m);
	if (rc)
		agent_log("tty capture: %s\n", tty->error);
	return rc;
}

/* The settings and the watched set into the kernel maps. */
static int tty_sync(struct agent *a)
{
	struct tty_state *tty = a->tty;
	if (!a->skel)
		return 0;
	int cfd = bpf_map__fd(a->skel->maps.hwt_cfg);
	int wfd = bpf_map__fd(a->skel->maps.hwt_watch);
	uint32_t zero = 0, key;
	struct hw_tty_cfg c = {
		.tty_fops = tty->fops,
		.scope = host_on(a)      ? HW_TTY_HOST
			 : tty_wanted(a) ? HW_TTY_SESSIONS
					 : HW_TTY_OFF,
		.learn_fd = -1,
		.bytes_max = a->cfg.tty.bytes_per_event,
		.budget = a->cfg.tty.budget_bytes_s,
	};
	while (bpf_map_get_next_key(wfd, NULL, &key) == 0)
		bpf_map_delete_elem(wfd, &key);
	for (int i = 0; i < tty->n; i++) {
		uint8_t v = 0;
		bpf_map_lookup_elem(wfd, &tty->s[i].sid, &v);
		v |= HW_TTY_W_SID;
		bpf_map_update_elem(wfd, &tty->s[i].sid, &v, BPF_ANY);
		v = 0;
		bpf_map_lookup_elem(wfd, &tty->s[i].pid, &v);
		v |= HW_TTY_W_TREE;
		bpf_map_update_elem(wfd, &tty->s[i].pid, &v, BPF_ANY);
	}
	if (bpf_map_update_elem(cfd, &zero, &c, BPF_ANY))
		return -errno;
	return 0;
}

/* family apply: after probes_apply; learn the terminal's f_op once the program is attached */
int tty_apply(struct agent *a)
{
	struct tty_state *tty = a->tty;
	if (a->skel && !tty->fops && a->probes[HW_PROBE_TTY_IO].state == PROBE_ATTACHED) {
		tty_sync(a);
		tty_learn(a);
	}
	return tty_sync(a);
}

int tty_sync_maps(struct agent *a)
{
	return tty_sync(a);
}

static void changed(struct agent *a)
{
	probes_apply(a);
	families_apply(a);
}

static void emit_expiry(struct agent *a, const char *what, uint32_t pid)
{
	char p[16];
	snprintf(p, sizeof(p), "%u", pid);
	emit_begin(a, "agent.control", 0);
	jb_key(&a->jb, "control");
	jb_obj_begin(&a->jb);
	jb_kcstr(&a->jb, "source", "expiry");
	jb_kcstr(&a->jb, "command", "tty");
	jb_key(&a->jb, "args");
	jb_arr_begin(&a->jb);
	jb_cstr(&a->jb, "off");
	if (pid) {
		jb_cstr(&a->jb, "--session");
		jb_cstr(&a->jb, p);
	}
	jb_arr_end(&a->jb);
	jb_kbool(&a->jb, "ok", true);
	jb_kcstr(&a->jb, "reason", what);
	jb_kcstr(&a->jb, "now", scope_name(a));
	jb_obj_end(&a->jb);
	emit_end(a);
}

static void session_drop(struct tty_state *tty, int i)
{
	tty->s[i] = tty->s[--tty->n];
}

/* Kernel counters: budget drops become agent.loss (cause tty_budget). */
static void tty_counts(struct agent *a, uint64_t tot[HW_TTY_ST_NCOUNT])
{
	int ncpu = libbpf_num_possible_cpus();
	uint64_t *v = ncpu > 0 ? calloc(ncpu, sizeof(*v)) : NULL;
	memset(tot, 0, sizeof(uint64_t) * HW_TTY_ST_NCOUNT);
	if (!v || !a->skel) {
		free(v);
		return;
	}
	for (uint32_t k = 0; k < HW_TTY_ST_NCOUNT; k++)
		if (!bpf_map_lookup_elem(bpf_map__fd(a->skel->maps.hwt_stats), &k, v))
			for (int c = 0; c < ncpu; c++)
				tot[k] += v[c];
	free(v);
}

/* family second: expiries, ended sessions, budget losses */
void tty_second(struct agent *a)
{
	struct tty_state *tty = a->tty;
	uint64_t now = now_ms(), tot[HW_TTY_ST_NCOUNT];
	bool ch = false;
	if (tty->ovr != OVR_NONE && tty->ovr_until_ms && now >= tty->ovr_until_ms) {
		tty->ovr = OVR_NONE;
		tty->ovr_until_ms = 0;
		ch = true;
		changed(a);
		emit_expiry(a, "for_elapsed", 0);
	}
	for (int i = tty->n - 1; i >= 0; i--) {
		uint32_t sid, pid = tty->s[i].pid;
		uint64_t st;
		bool gone = proc_sid(pid, &sid, &st) || st != tty->s[i].start;
		if (!gone && !(tty->s[i].until_ms && now >= tty->s[i].until_ms))
			continue;
		session_drop(tty, i);
		ch = true;
		changed(a);
		emit_expiry(a, gone ? "process_exited" : "for_elapsed", pid);
	}
	if (ch)
		emit_heartbeat(a);
	tty_counts(a, tot);
	for (int k = HW_TTY_ST_BUDGET_IN; k <= HW_TTY_ST_BUDGET_OUT; k++)
		if (tot[k] > tty->seen[k]) {
			report_loss(a, k == HW_TTY_ST_BUDGET_IN ? "tty.input" : "tty.output",
				    tot[k] - tty->seen[k], "tty_budget");
			tty->seen[k] = tot[k];
		}
}

void tty_heartbeat(struct agent *a, struct jbuf *b)
{
	struct tty_state *tty = a->tty;
	uint64_t tot[HW_TTY_ST_NCOUNT], now = now_ms();
	tty_counts(a, tot);
	jb_key(b, "tty");
	jb_obj_begin(b);
	jb_kcstr(b, "capture", scope_name(a));
	jb_key(b, "sessions");
	jb_arr_begin(b);
	for (int i = 0; i < tty->n; i++) {
		jb_obj_begin(b);
		jb_ku64(b, "pid", tty->s[i].pid);
		jb_ku64(b, "session", tty->s[i].sid);
		jb_key(b, "remaining_s");
		if (tty->s[i].until_ms)
			jb_u64(b, tty->s[i].until_ms > now ? (tty->s[i].until_ms - now + 999) / 1000
							   : 0);
		else
			jb_null(b);
		jb_obj_end(b);
	}
	jb_arr_end(b);
	jb_ku64(b, "secret_reads", tot[HW_TTY_ST_SECRET]);
	jb_ku64(b, "budget_dropped", tot[HW_TTY_ST_BUDGET_IN] + tot[HW_TTY_ST_BUDGET_OUT]);
	jb_ku64(b, "budget_dropped_bytes", tot[HW_TTY_ST_BYTES_OVER]);
	jb_kcstr(b, "error", tty->error[0] ? tty->error : NULL);
	jb_obj_end(b);
}

/* "--session PID" among args[2..]: the pid, 0 when absent; -1 when malformed. */
static long session_arg(char **args, int n)
{
	if (n == 2)
		return 0;
	if (n != 4 || strcmp(args[2], "--session"))
		return -1;
	char *end;
	unsigned long pid = strtoul(args[3], &end, 10);
	if (*end || !pid || pid > 0x3fffffff)
		return -1;
	return (long)pid;
}

static int session_on(struct agent *a, uint32_t pid, uint64_t for_ms, struct jbuf *b,
		      uint32_t *sid_out)
{
	struct tty_state *tty = a->tty;
	uint32_t sid;
	uint64_t st;
	char why[160];
	int i;
	if (pid == (uint32_t)a->self_pid || pid == 1 || proc_sid(pid, &sid, &st)) {
		snprintf(why, sizeof(why), "%s",
			 pid == 1 || pid == (uint32_t)a->self_pid
				 ? "refused: init or the agent is not a session to watch"
				 : "no such process");
		jb_kbool(b, "ok", false);
		jb_kcstr(b, "error", why);
		return -1;
	}
	for (i = 0; i < tty->n && tty->s[i].pid != pid; i++)
		;
	if (i == TTY_MAX_SESSIONS) {
		jb_kbool(b, "ok", false);
		jb_kcstr(b, "error", "too many watched sessions at once (at most 32)");
		return -1;
	}
	if (i == tty->n)
		tty->n++;
	tty->s[i] = (struct tty_session){pid, sid, st, for_ms ? now_ms() + for_ms : 0};
	if (tty->ovr == OVR_OFF) {
		tty->ovr = OVR_NONE;
		tty->ovr_until_ms = 0;
	}
	*sid_out = sid;
	return 0;
}

/* "ctl tty on|off [--session PID]" (--for already taken into for_ms): the answer into b. */
int tty_request(struct agent *a, const struct ctl_who *who, char **args, int n, uint64_t for_ms,
		struct jbuf *b)
{
	struct tty_state *tty = a->tty;
	long pid = session_arg(args, n);
	bool on = !strcmp(args[1], "on");
	uint32_t sid = 0;
	(void)who;
	if (pid < 0 || (!on && strcmp(args[1], "off")) || (!on && pid && for_ms)) {
		jb_kbool(b, "ok", false);
		jb_kcstr(b, "error",
			 "usage: tty on|off [--session PID] [--for S] (off --session takes no "
			 "--for)");
		return -1;
	}
	if (on && pid) {
		if (session_on(a, pid, for_ms, b, &sid))
			return -1;
	} else if (pid) {
		int i;
		for (i = 0; i < tty->n && tty->s[i].pid != (uint32_t)pid; i++)
			;
		if (i == tty->n) {
			jb_kbool(b, "ok", false);
			jb_kcstr(b, "error", "that session is not watched");
			return -1;
		}
		session_drop(tty, i);
	} else {
		tty->ovr = on ? OVR_ON : OVR_OFF;
		tty->ovr_until_ms = for_ms ? now_ms() + for_ms : 0;
		if (!on)
			tty->n = 0;
	}
	changed(a);
	struct hw_probe *p = &a->probes[HW_PROBE_TTY_IO];
	if (tty_wanted(a) && p->state != PROBE_ATTACHED) {
		jb_kbool(b, "ok", false);
		jb_kcstr(b, "error", p->reason[0] ? p->reason : "the tty probe did not attach");
		return -1;
	}
	if (tty_wanted(a) && !tty->fops) {
		jb_kbool(b, "ok", false);
		jb_kcstr(b, "error", tty->error);
		return -1;
	}
	jb_kbool(b, "ok", true);
	jb_kcstr(b, "now", scope_name(a));
	if (sid)
		jb_ku64(b, "session", sid);
	if (for_ms)
		jb_ku64(b, "for_s", for_ms / 1000);
	return 0;
}
