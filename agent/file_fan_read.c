/* file_fan_read.c - the reader of watch mode (agent/file_fan.c): drains the fanotify groups in
 * batches and reports file.open / file.truncate events.
 *
 * Batching: the descriptors are not in the event loop's epoll set, so no event wakes the agent.
 * file_fan_poll() runs once per pass of the loop (at most ~10 ms apart while events flow,
 * 100 ms when idle), just before the ring buffer is read: the process table still holds the
 * processes whose exit record is waiting there. Each read takes up to FAN_BUF bytes (about
 * 10,000 events); the kernel merges identical events (same file, same process, same kind)
 * while they wait in the queue, so a loop reading one watched file costs one event per pass.
 *
 * An event: its descriptor gives the path (readlink of /proc/self/fd/N) and the inode (fstat);
 * the inode table of the marks, else the path, gives the rule; the rule's operations decide
 * whether it is reported (read: FAN_ACCESS/FAN_CLOSE_NOWRITE; write: FAN_MODIFY/FAN_CLOSE_WRITE; a rule
 * with truncate but not write: a FAN_CLOSE_WRITE that left the file empty, as file.truncate).
 * The process comes from /proc/PID (uid, gid, comm, login uid), else from the process table.
 * Repeats of (process, file, operation) within 10 s are folded as in exact mode. Malformed
 * metadata (another version, a length out of bounds) ends the batch, counted as a decode loss;
 * FAN_Q_OVERFLOW is a fault (agent/file_fan.c: fan_fault). */
#include "agent/file_fan.h"
#include "agent/emit.h"
#include "agent/user.h"
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fanotify.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define FAN_BUF (256 * 1024)
#define FAN_READS_PER_POLL 8
#define FOLD_SLOTS 1024
#define FOLD_MS 10000

static uint64_t mono_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000ULL + ts.tv_nsec / 1000000;
}

static bool prefix_of(const char *pat, size_t pl, const char *path)
{
	return pl && !strncmp(path, pat, pl);
}

/* Does path fall under pattern (docs/events-user.md, Watch rules)? */
static bool rule_matches(const char *pat, const char *path)
{
	size_t pl = strlen(pat);
	if (!strncmp(pat, "*/", 2)) {
		const char *name = pat + 2, *base = strrchr(path, '/');
		size_t nl = pl - 2;
		if (!base)
			return false;
		if (nl && name[nl - 1] == '/') { /* the parent directory's name */
			const char *p = base;
			while (p > path && p[-1] != '/')
				p--;
			return (size_t)(base - p) == nl - 1 && !strncmp(p, name, nl - 1);
		}
		return !strcmp(base + 1, name);
	}
	if (!strncmp(pat, "/proc/", 6))
		return false;
	if (prefix_of(pat, pl, path))
		return true;
	/* the same place under another spelling (/lib -> /usr/lib) */
	char dir[PATH_MAX], real[PATH_MAX];
	const char *slash = strrchr(pat, '/');
	snprintf(dir, sizeof(dir), "%.*s", (int)(slash - pat), pat);
	if (!dir[0] || !realpath(dir, real) || !strcmp(real, dir))
		return false;
	size_t rl = strlen(real);
	if (rl + strlen(slash) >= sizeof(real))
		return false;
	strcat(real, slash);
	return prefix_of(real, strlen(real), path);
}

uint16_t fan_rule_of_path(struct agent *a, const char *path)
{
	const struct hw_file_rule *r;
	for (unsigned i = 0; (r = file_rule_at(a, i)); i++)
		if (rule_matches(r->pattern, path))
			return i;
	return FAN_NO_RULE;
}

/* the process: /proc while it lives, the process table after */
static struct proc *fill_hdr(struct agent *a, uint32_t pid, struct hw_hdr *h)
{
	char p[64], line[256];
	struct timespec ts;
	memset(h, 0, sizeof(*h));
	clock_gettime(CLOCK_BOOTTIME, &ts);
	h->ts = ts.tv_sec * 1000000000ULL + ts.tv_nsec;
	h->type = HW_EV_FILE_OPEN;
	h->pid = h->tid = pid;
	h->auid = 0xffffffffu;
	struct proc *e = proctab_get(&a->pt, pid);
	if (e) {
		h->ppid = e->ppid;
		h->cgroup_id = e->cgroup_id;
		h->uid = h->euid = e->euid;
		h->gid = h->egid = e->egid;
		const char *b = e->exe ? strrchr(e->exe, '/') : NULL;
		snprintf(h->comm, sizeof(h->comm), "%s", b ? b + 1 : "");
	}
	snprintf(p, sizeof(p), "/proc/%u/status", pid);
	FILE *f = fopen(p, "re");
	while (f && fgets(line, sizeof(line), f)) {
		if (!strncmp(line, "Name:\t", 6)) {
			line[strcspn(line, "\n")] = 0;
			snprintf(h->comm, sizeof(h->comm), "%s", line + 6);
		} else if (!strncmp(line, "PPid:", 5)) {
			h->ppid = strtoul(line + 5, NULL, 10);
		} else if (!strncmp(line, "Uid:", 4)) {
			sscanf(line + 4, "%u %u", &h->uid, &h->euid);
		} else if (!strncmp(line, "Gid:", 4)) {
			sscanf(line + 4, "%u %u", &h->gid, &h->egid);
			break;
		}
	}
	if (f)
		fclose(f);
	snprintf(p, sizeof(p), "/proc/%u/loginuid", pid);
	f = fopen(p, "re");
	if (f && fgets(line, sizeof(line), f))
		h->auid = strtoul(line, NULL, 10);
	if (f)
		fclose(f);
	if (!e || !h->cgroup_id) {
		snprintf(p, sizeof(p), "/proc/%u/cgroup", pid);
		f = fopen(p, "re");
		while (f && fgets(line, sizeof(line), f))
			if (!strncmp(line, "0::", 3)) {
				line[strcspn(line, "\n")] = 0;
				uint64_t id = 0;
				if (cgroup_id_of(line + 3, &id) == 0)
					h->cgroup_id = id;
			}
		if (f)
			fclose(f);
	}
	if (!e) {
		unsigned long long start = 0;
		snprintf(p, sizeof(p), "/proc/%u/stat", pid);
		f = fopen(p, "re");
		if (f && fgets(line, sizeof(line), f)) {
			char *c = strrchr(line, ')');
			/* field 22; c points at the end of field 2 */
			if (c && sscanf(c + 2,
					"%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d "
					"%*d %*d %*d %*d %*d %llu",
					&start) == 1)
				h->start_ns = start * (1000000000ULL / a->ticks_per_s);
		}
		if (f)
			fclose(f);
	}
	return e;
}

static struct fold {
	uint64_t ino, dev;
	uint32_t pid;
	uint16_t op, rule;
	uint64_t t_ms, count;
} folds[FOLD_SLOTS];

/* true: fold it (reported within the window); else *repeats is what the window held */
static bool fold(uint32_t pid, const struct stat *st, uint16_t op, uint16_t rule, uint64_t *repeats)
{
	uint64_t h = (st->st_ino * 0x9e3779b97f4a7c15ull) ^ (pid * 0x85ebca6bu) ^ op ^ st->st_dev;
	struct fold *f = &folds[(h >> 20) % FOLD_SLOTS];
	uint64_t now = mono_now_ms();
	*repeats = 0;
	if (f->pid == pid && f->ino == st->st_ino && f->dev == st->st_dev && f->op == op &&
	    f->rule == rule) {
		if (now - f->t_ms < FOLD_MS) {
			f->count++;
			return true;
		}
		*repeats = f->count;
	}
	*f = (struct fold){st->st_ino, st->st_dev, pid, op, rule, now, 0};
	return false;
}

static void put_events(struct jbuf *b, uint64_t m)
{
	static const struct {
		uint64_t bit;
		const char *name;
	} names[] = {{FAN_OPEN, "open"},
		     {FAN_ACCESS, "access"},
		     {FAN_MODIFY, "modify"},
		     {FAN_CLOSE_WRITE, "close_write"},
		     {FAN_CLOSE_NOWRITE, "close_nowrite"}};
	jb_key(b, "events");
	jb_arr_begin(b);
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (m & names[i].bit)
			jb_cstr(b, names[i].name);
	jb_arr_end(b);
}

static void one_event(struct agent *a, const struct fanotify_event_metadata *m)
{
	char lp[64], path[PATH_MAX];
	struct stat st;
	fan.events++;
	if ((int)m->pid == a->self_pid || fstat(m->fd, &st))
		return;
	snprintf(lp, sizeof(lp), "/proc/self/fd/%d", m->fd);
	ssize_t pl = readlink(lp, path, sizeof(path) - 1);
	if (pl <= 0)
		return;
	path[pl] = 0;
	uint16_t rule = FAN_NO_RULE;
	uint64_t ns = 0;
	for (size_t i = 0; i < fan.ninodes; i++)
		if (fan.inodes[i].ino == st.st_ino && fan.inodes[i].dev == st.st_dev) {
			rule = fan.inodes[i].rule;
			ns = fan.inodes[i].mntns;
			break;
		}
	if (rule == FAN_NO_RULE)
		rule = fan_rule_of_path(a, path);
	const struct hw_file_rule *r = rule == FAN_NO_RULE ? NULL : file_rule_at(a, rule);
	if (!r) {
		fan.unmatched++;
		return;
	}
	uint16_t op = 0;
	int type = HW_EV_FILE_OPEN;
	if (m->mask & (FAN_MODIFY | FAN_CLOSE_WRITE)) {
		if (r->ops & HW_FOP_WRITE)
			op = HW_FOP_WRITE;
		else if ((r->ops & HW_FOP_TRUNCATE) && S_ISREG(st.st_mode) && st.st_size == 0) {
			op = HW_FOP_TRUNCATE;
			type = HW_EV_FILE_TRUNCATE;
		}
	}
	if (!op && (m->mask & (FAN_ACCESS | FAN_CLOSE_NOWRITE)) && (r->ops & HW_FOP_READ))
		op = HW_FOP_READ;
	if (!op) {
		fan.unmatched++;
		return;
	}
	uint64_t repeats;
	if (fold(m->pid, &st, op, rule, &repeats)) {
		fan.folded++;
		return;
	}
	struct hw_hdr h;
	struct proc *p = fill_hdr(a, m->pid, &h);
	h.type = type;
	struct jbuf *b = &a->jb;
	emit_event_p(a, kind_name(type), &h, p, "file");
	jb_kcstr(b, "op", op == HW_FOP_WRITE ? "write" : op == HW_FOP_READ ? "read" : "truncate");
	jb_kcstr(b, "syscall", NULL);
	jb_kstr(b, "path", path, pl);
	jb_key(b, "target");
	jb_null(b);
	jb_ki64(b, "result", 0);
	jb_kcstr(b, "watch", r->pattern);
	jb_kcstr(b, "source", "fanotify");
	put_events(b, m->mask);
	if (type == HW_EV_FILE_TRUNCATE)
		jb_ku64(b, "size", (uint64_t)st.st_size);
	char mode[16];
	snprintf(mode, sizeof(mode), "%06o", st.st_mode & 0177777);
	jb_kcstr(b, "file_mode", mode);
	jb_kbool(b, "resolved", true);
	if (ns) {
		jb_ku64(b, "mnt_ns", ns);
		jb_kbool(b, "ns_path", true);
	}
	if (repeats)
		jb_ku64(b, "repeats", repeats);
	emit_event_end(a);
	a->events_by_type[type]++;
	fan.emitted++;
}

/* the re-mark group: any create or move into a marked directory means "lay the marks again" */
static void drain_remark(void)
{
	static char buf[16384] __attribute__((aligned(8)));
	for (int i = 0; fan.rfd >= 0 && i < FAN_READS_PER_POLL; i++) {
		ssize_t n = read(fan.rfd, buf, sizeof(buf));
		if (n <= 0)
			break;
		fan.remark_due = true;
	}
}

void fan_drain(struct agent *a)
{
	static char buf[FAN_BUF] __attribute__((aligned(8)));
	bool overflow = false;
	for (int i = 0; fan.fd >= 0 && i < FAN_READS_PER_POLL; i++) {
		ssize_t n = read(fan.fd, buf, sizeof(buf));
		if (n < 0 && errno != EAGAIN && errno != EINTR) {
			agent_log("files: reading fanotify: %s\n", strerror(errno));
			count_user_loss(a, "file.open", HW_ULOSS_RING_READ);
		}
		if (n <= 0)
			break;
		fan.reads++;
		uint64_t batch = 0;
		struct fanotify_event_metadata *m = (void *)buf;
		for (; FAN_EVENT_OK(m, n); m = FAN_EVENT_NEXT(m, n)) {
			if (m->vers != FANOTIFY_METADATA_VERSION ||
			    m->metadata_len < FAN_EVENT_METADATA_LEN) {
				/* the rest of this read cannot be walked: its descriptors stay open
				 * until the group closes, a bounded leak reported as a decode loss */
				count_user_loss(a, "file.open", HW_ULOSS_DECODE);
				break;
			}
			batch++;
			if (m->mask & FAN_Q_OVERFLOW)
				overflow = true;
			if (m->fd >= 0) {
				one_event(a, m);
				close(m->fd);
			}
		}
		if (batch > fan.batches_max)
			fan.batches_max = batch;
		if ((size_t)n < sizeof(buf) / 2)
			break;
	}
	drain_remark();
	if (overflow) {
		fan.overflows++;
		fan_fault(a, "fanotify_queue_overflow",
			  "fanotify: queue overflow (more than fs.fanotify.max_queued_events "
			  "waiting)");
	}
}
