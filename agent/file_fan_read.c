/* file_fan_read.c - the reader of watch mode (agent/file_fan.c): drains the fanotify groups in
 * batches and reports file.open / file.truncate events.
 *
 * Batching: the descriptors are not in the event loop's epoll set, so no event wakes the agent.
 * file_fan_poll() runs once per pass of the loop (at most ~10 ms apart while events flow,
 * 100 ms when idle), just after the ring buffer is read: the exec records of the processes
 * are in the table, and the identity of those that exited since is in a cache of the last
 * FAN_EXIT_KEEP exits (their exit records carry uid, gid, comm, cgroup; the table entry its exe,
 * argv and cwd). Each read takes up to FAN_BUF bytes (about
 * 10,000 events); the kernel merges identical events (same file, same process, same kind)
 * while they wait in the queue, so a loop reading one watched file costs one event per pass.
 *
 * An event: its descriptor gives the path (readlink of /proc/self/fd/N) and the inode (fstat);
 * the inode table of the marks, else the path, gives the rule; the rule's operations decide
 * whether it is reported (read: FAN_CLOSE_NOWRITE, or FAN_CLOSE_WRITE under a rule without
 * write; write: FAN_CLOSE_WRITE; the marks ask for nothing else, FAN_ACCESS/FAN_MODIFY are
 * still understood; a rule
 * with truncate but not write: a FAN_CLOSE_WRITE that left the file empty, as file.truncate).
 * The process comes from /proc/PID (uid, gid, comm, login uid), else from the process table.
 * Repeats of (process, file, operation) within 10 s are folded as in exact mode. Malformed
 * metadata (another version, a length out of bounds) ends the batch, counted as a decode loss;
 * FAN_Q_OVERFLOW is a fault (agent/file_fan.c: fan_fault).
 *
 * The owner group (file.chown): a FAN_ATTRIB names the file by its directory's handle (one of
 * the re-mark group's directories, which hold every marked file) and its name; the file is
 * stat'ed and its owner compared with the one remembered: another owner is a file.chown
 * (blamed on the event's process, the new ids in uid/gid, the old ones in prev_uid/prev_gid),
 * the same owner a chmod, touch or xattr change, not reported here. */
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

/* an entry of the exit cache gives back the strings it holds */
static void exited_put(struct fan_exited *x)
{
	if (!x->used)
		return;
	pstr_put(x->p.exe);
	pstr_put(x->p.args);
	pstr_put(x->p.cwd);
	pstr_put(x->p.tty);
	x->used = false;
}

void fan_exits_free(struct fan_state *fan)
{
	for (unsigned i = 0; i < FAN_EXIT_KEEP; i++)
		exited_put(&fan->exits[i]);
}

void file_fan_note_exit(struct agent *a, const struct hw_hdr *h, const struct proc *p)
{
	struct fan_state *fan = a->fan;
	if (!fan || !fan->active)
		return;
	struct fan_exited *x = &fan->exits[fan->exit_next++ % FAN_EXIT_KEEP];
	exited_put(x);
	x->used = true;
	x->h = *h;
	memset(&x->p, 0, sizeof(x->p));
	if (p) {
		x->p = *p;
		x->p.next = NULL;
		x->p.lineage = false;
		pstr_ref(x->p.exe);
		pstr_ref(x->p.args);
		pstr_ref(x->p.cwd);
		pstr_ref(x->p.tty);
	}
}

/* the newest exit of pid (the event came before it: the pid cannot be reused yet) */
static struct fan_exited *exited_of(struct fan_state *fan, uint32_t pid)
{
	for (unsigned i = 1; i <= FAN_EXIT_KEEP; i++) {
		struct fan_exited *x = &fan->exits[(fan->exit_next - i) % FAN_EXIT_KEEP];
		if (x->used && x->h.pid == pid)
			return x;
	}
	return NULL;
}

/* the process: /proc while it lives, the process table after */
static struct proc *fill_hdr(struct agent *a, uint32_t pid, struct hw_hdr *h)
{
	struct fan_state *fan = a->fan;
	char p[64], line[256];
	struct timespec ts;
	memset(h, 0, sizeof(*h));
	clock_gettime(CLOCK_BOOTTIME, &ts);
	h->ts = ts.tv_sec * 1000000000ULL + ts.tv_nsec;
	h->type = HW_EV_FILE_OPEN;
	h->pid = h->tid = pid;
	h->auid = 0xffffffffu;
	struct proc *e = proctab_get(&a->pt, pid);
	struct fan_exited *x = e ? NULL : exited_of(fan, pid);
	if (x) { /* gone: as its exit record and last table entry had it */
		uint64_t now_ns = h->ts;
		*h = x->h;
		h->ts = now_ns;
		h->tid = pid;
		return x->p.pid ? &x->p : NULL;
	}
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

/* true: fold it (reported within the window); else *repeats is what the window held */
static bool fold(struct fan_state *fan, uint32_t pid, const struct stat *st, uint16_t op,
		 uint16_t rule, uint64_t *repeats)
{
	uint64_t h = (st->st_ino * 0x9e3779b97f4a7c15ull) ^ (pid * 0x85ebca6bu) ^ op ^ st->st_dev;
	struct fan_fold *f = &fan->folds[(h >> 20) % FAN_FOLD_SLOTS];
	uint64_t now = mono_now_ms();
	*repeats = 0;
	if (f->pid == pid && f->ino == st->st_ino && f->dev == st->st_dev && f->op == op &&
	    f->rule == rule) {
		if (now - f->t_ms < FAN_FOLD_MS) {
			f->count++;
			return true;
		}
		*repeats = f->count;
	}
	*f = (struct fan_fold){st->st_ino, st->st_dev, pid, op, rule, now, 0};
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
		     {FAN_CLOSE_NOWRITE, "close_nowrite"},
		     {FAN_CREATE, "create"},
		     {FAN_ATTRIB, "attrib"}};
	jb_key(b, "events");
	jb_arr_begin(b);
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (m & names[i].bit)
			jb_cstr(b, names[i].name);
	jb_arr_end(b);
}

struct fan_emit {
	uint32_t pid;
	int type;
	uint16_t op;
	const char *path;
	size_t plen;
	const struct hw_file_rule *r;
	uint64_t mask;
	const struct stat *st; /* NULL: unknown */
	uint64_t ns, repeats;
	bool created;
	const struct fan_owner *was; /* file.chown: the owner before */
};

static void emit_fan(struct agent *a, const struct fan_emit *e)
{
	struct fan_state *fan = a->fan;
	struct hw_hdr h;
	struct proc *p = fill_hdr(a, e->pid, &h);
	struct jbuf *b = &a->jb;
	h.type = e->type;
	emit_event_p(a, kind_name(e->type), &h, p, "file");
	jb_kcstr(b, "op",
		 e->op == HW_FOP_WRITE   ? "write"
		 : e->op == HW_FOP_READ  ? "read"
		 : e->op == HW_FOP_CHOWN ? "chown"
					 : "truncate");
	jb_kcstr(b, "syscall", NULL);
	jb_kstr(b, "path", e->path, e->plen);
	jb_key(b, "target");
	jb_null(b);
	jb_ki64(b, "result", 0);
	jb_kcstr(b, "watch", e->r->pattern);
	jb_kcstr(b, "source", "fanotify");
	put_events(b, e->mask);
	if (e->type == HW_EV_FILE_TRUNCATE && e->st)
		jb_ku64(b, "size", (uint64_t)e->st->st_size);
	if (e->was && e->st) { /* as exact mode: an id left as it was is null */
		jb_key(b, "uid");
		if (e->st->st_uid == e->was->uid)
			jb_null(b);
		else
			jb_u64(b, e->st->st_uid);
		jb_key(b, "gid");
		if (e->st->st_gid == e->was->gid)
			jb_null(b);
		else
			jb_u64(b, e->st->st_gid);
		jb_ku64(b, "prev_uid", e->was->uid);
		jb_ku64(b, "prev_gid", e->was->gid);
	}
	if (e->st) {
		char mode[16];
		snprintf(mode, sizeof(mode), "%06o", e->st->st_mode & 0177777);
		jb_kcstr(b, "file_mode", mode);
	}
	jb_kbool(b, "resolved", true);
	if (e->created)
		jb_kbool(b, "created", true);
	if (e->ns) {
		jb_ku64(b, "mnt_ns", e->ns);
		jb_kbool(b, "ns_path", true);
	}
	if (e->repeats)
		jb_ku64(b, "repeats", e->repeats);
	emit_event_end(a);
	a->events_by_type[e->type]++;
	fan->emitted++;
}

/* The rule of a file: its inode's mark (in another mount namespace, *ns, with the path its
 * processes see written into path: readlink cannot reach that root), else its path's. */
static uint16_t rule_of_file(struct agent *a, const struct stat *st, char *path, size_t room,
			     ssize_t *pl, uint64_t *ns)
{
	struct fan_state *fan = a->fan;
	for (size_t i = 0; i < fan->ninodes; i++)
		if (fan->inodes[i].ino == st->st_ino && fan->inodes[i].dev == st->st_dev) {
			*ns = fan->inodes[i].mntns;
			if (*ns && fan->inodes[i].path)
				*pl = snprintf(path, room, "%s", fan->inodes[i].path);
			return fan->inodes[i].rule;
		}
	return fan_rule_of_path(a, path);
}

static void one_event(struct agent *a, const struct fanotify_event_metadata *m)
{
	struct fan_state *fan = a->fan;
	char lp[64], path[PATH_MAX];
	struct stat st;
	fan->events++;
	if ((int)m->pid == a->self_pid || fstat(m->fd, &st))
		return;
	snprintf(lp, sizeof(lp), "/proc/self/fd/%d", m->fd);
	ssize_t pl = readlink(lp, path, sizeof(path) - 1);
	if (pl <= 0)
		return;
	path[pl] = 0;
	uint64_t ns = 0;
	uint16_t rule = rule_of_file(a, &st, path, sizeof(path), &pl, &ns);
	const struct hw_file_rule *r = rule == FAN_NO_RULE ? NULL : file_rule_at(a, rule);
	if (!r) {
		fan->unmatched++;
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
	/* a write close under a rule without write: an O_RDWR (or O_WRONLY) open, a read */
	if (!op && (m->mask & (FAN_ACCESS | FAN_CLOSE_NOWRITE | FAN_CLOSE_WRITE)) &&
	    (r->ops & HW_FOP_READ))
		op = HW_FOP_READ;
	if (!op) {
		fan->unmatched++;
		return;
	}
	uint64_t repeats;
	if (fold(fan, m->pid, &st, op, rule, &repeats)) {
		fan->folded++;
		return;
	}
	struct fan_emit e = {.pid = m->pid,
			     .type = type,
			     .op = op,
			     .path = path,
			     .plen = pl,
			     .r = r,
			     .mask = m->mask,
			     .st = &st,
			     .ns = ns,
			     .repeats = repeats};
	emit_fan(a, &e);
}

/* A create in the parent directory of watched names: a new file of a watched name (the
 * marks cannot be on it yet) is reported as a write open that created it. */
static void remark_event(struct agent *a, const struct fanotify_event_metadata *m)
{
	struct fan_state *fan = a->fan;
	const char *p = (const char *)m + m->metadata_len, *end = (const char *)m + m->event_len;
	while (p + sizeof(struct fanotify_event_info_header) <= end) {
		const struct fanotify_event_info_fid *fid = (const void *)p;
		uint16_t len = fid->hdr.len;
		if (len < sizeof(*fid) + sizeof(struct file_handle) || p + len > end)
			break;
		const struct file_handle *fh = (const void *)fid->handle;
		const char *name = (const char *)fh->f_handle + fh->handle_bytes;
		size_t room = (size_t)(p + len - name);
		if (fid->hdr.info_type == FAN_EVENT_INFO_TYPE_DFID_NAME &&
		    fh->handle_bytes <= len - sizeof(*fid) - sizeof(*fh) && room &&
		    memchr(name, 0, room) && (m->mask & FAN_CREATE) && !(m->mask & FAN_ONDIR) &&
		    (int)m->pid != a->self_pid) {
			const struct fan_rdir *d =
				fan_rdir_of(fan, fh->handle_type, fh->f_handle, fh->handle_bytes);
			char path[PATH_MAX];
			int pl = d && d->named ? snprintf(path, sizeof(path), "%s/%s",
							  strcmp(d->path, "/") ? d->path : "", name)
					       : -1;
			uint16_t rule = pl > 0 && pl < (int)sizeof(path) ? fan_rule_of_path(a, path)
									 : FAN_NO_RULE;
			const struct hw_file_rule *r =
				rule == FAN_NO_RULE ? NULL : file_rule_at(a, rule);
			struct stat st;
			if (r && (r->ops & HW_FOP_WRITE)) {
				struct fan_emit e = {.pid = m->pid,
						     .type = HW_EV_FILE_OPEN,
						     .op = HW_FOP_WRITE,
						     .path = path,
						     .plen = pl,
						     .r = r,
						     .mask = m->mask,
						     .st = stat(path, &st) ? NULL : &st,
						     .created = true};
				emit_fan(a, &e);
			}
		}
		p += len;
	}
}

/* the re-mark group: any create or move into a marked directory means "lay the marks again" */
void fan_drain_remark(struct agent *a)
{
	struct fan_state *fan = a->fan;
	static char buf[65536] __attribute__((aligned(8)));
	for (int i = 0; fan->rfd >= 0 && i < FAN_READS_PER_POLL; i++) {
		ssize_t n = read(fan->rfd, buf, sizeof(buf));
		if (n <= 0)
			break;
		fan->remark_due = true;
		struct fanotify_event_metadata *m = (void *)buf;
		for (; FAN_EVENT_OK(m, n); m = FAN_EVENT_NEXT(m, n)) {
			if (m->vers != FANOTIFY_METADATA_VERSION)
				break;
			if (m->mask & FAN_Q_OVERFLOW) {
				/* a re-mark pass follows anyway; creates may be lost */
				report_loss(a, "file.open", 1, "fanotify_remark_overflow");
				continue;
			}
			remark_event(a, m);
		}
	}
}

/* One FAN_ATTRIB of the owner group: a chown when the file's owner is not the one remembered. */
static void attrib_event(struct agent *a, const struct fanotify_event_metadata *m)
{
	struct fan_state *fan = a->fan;
	const char *p = (const char *)m + m->metadata_len, *end = (const char *)m + m->event_len;
	fan->attribs++;
	if ((int)m->pid == a->self_pid || !(m->mask & FAN_ATTRIB) || (m->mask & FAN_ONDIR))
		return;
	while (p + sizeof(struct fanotify_event_info_header) <= end) {
		const struct fanotify_event_info_fid *fid = (const void *)p;
		uint16_t len = fid->hdr.len;
		if (len < sizeof(*fid) + sizeof(struct file_handle) || p + len > end)
			break;
		const struct file_handle *fh = (const void *)fid->handle;
		const char *name = (const char *)fh->f_handle + fh->handle_bytes;
		size_t room = (size_t)(p + len - name);
		p += len;
		if (fid->hdr.info_type != FAN_EVENT_INFO_TYPE_DFID_NAME ||
		    fh->handle_bytes > len - sizeof(*fid) - sizeof(*fh) || !room ||
		    !memchr(name, 0, room))
			continue;
		const struct fan_rdir *d =
			fan_rdir_of(fan, fh->handle_type, fh->f_handle, fh->handle_bytes);
		char path[PATH_MAX];
		struct stat st;
		ssize_t pl = d ? snprintf(path, sizeof(path), "%s/%s",
					  strcmp(d->path, "/") ? d->path : "", name)
			       : -1;
		if (pl <= 0 || pl >= (int)sizeof(path) || lstat(path, &st) || S_ISDIR(st.st_mode)) {
			fan->unmatched++; /* a directory unknown, or the file gone since */
			continue;
		}
		struct fan_owner *was = fan_owner_of(fan, st.st_dev, st.st_ino);
		if (!was) { /* not known yet: from now on */
			fan_owner_note(fan, &st);
			fan->unmatched++;
			continue;
		}
		if (was->uid == st.st_uid && was->gid == st.st_gid)
			continue; /* a chmod, a touch, an xattr */
		struct fan_owner before = *was;
		was->uid = st.st_uid;
		was->gid = st.st_gid;
		/* the rule and the path shown: the inode's mark, else the path */
		uint64_t ns = 0;
		uint16_t rule = rule_of_file(a, &st, path, sizeof(path), &pl, &ns);
		const struct hw_file_rule *r = rule == FAN_NO_RULE ? NULL : file_rule_at(a, rule);
		if (!r || !(r->ops & HW_FOP_CHOWN)) {
			fan->unmatched++;
			continue;
		}
		/* not folded: each one is a change of owner seen (exact mode does not fold chowns
		 * either), and the kernel merges a process's changes while they wait */
		struct fan_emit e = {.pid = m->pid,
				     .type = HW_EV_FILE_CHOWN,
				     .op = HW_FOP_CHOWN,
				     .path = path,
				     .plen = pl,
				     .r = r,
				     .mask = m->mask,
				     .st = &st,
				     .ns = ns,
				     .was = &before};
		emit_fan(a, &e);
		fan->chowns++;
	}
}

void fan_drain_attrib(struct agent *a)
{
	struct fan_state *fan = a->fan;
	static char buf[65536] __attribute__((aligned(8)));
	bool overflow = false;
	for (int i = 0; fan->afd >= 0 && i < FAN_READS_PER_POLL; i++) {
		ssize_t n = read(fan->afd, buf, sizeof(buf));
		if (n < 0 && errno != EAGAIN && errno != EINTR) {
			agent_log("files: reading the fanotify owner group: %s\n", strerror(errno));
			count_user_loss(a, "file.chown", HW_ULOSS_RING_READ);
		}
		if (n <= 0)
			break;
		struct fanotify_event_metadata *m = (void *)buf;
		for (; FAN_EVENT_OK(m, n); m = FAN_EVENT_NEXT(m, n)) {
			if (m->vers != FANOTIFY_METADATA_VERSION ||
			    m->metadata_len < FAN_EVENT_METADATA_LEN) {
				count_user_loss(a, "file.chown", HW_ULOSS_DECODE);
				break;
			}
			if (m->mask & FAN_Q_OVERFLOW)
				overflow = true;
			else
				attrib_event(a, m);
		}
		if ((size_t)n < sizeof(buf) / 2)
			break;
	}
	if (overflow) {
		fan->overflows++;
		fan_fault(a, "fanotify_queue_overflow",
			  "fanotify: owner group queue overflow (more than "
			  "fs.fanotify.max_queued_events waiting)");
	}
}

void fan_drain(struct agent *a)
{
	struct fan_state *fan = a->fan;
	static char buf[FAN_BUF] __attribute__((aligned(8)));
	bool overflow = false;
	for (int i = 0; fan->fd >= 0 && i < FAN_READS_PER_POLL; i++) {
		ssize_t n = read(fan->fd, buf, sizeof(buf));
		if (n < 0 && errno != EAGAIN && errno != EINTR) {
			agent_log("files: reading fanotify: %s\n", strerror(errno));
			count_user_loss(a, "file.open", HW_ULOSS_RING_READ);
		}
		if (n <= 0)
			break;
		fan->reads++;
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
		if (batch > fan->batches_max)
			fan->batches_max = batch;
		if ((size_t)n < sizeof(buf) / 2)
			break;
	}
	fan_drain_remark(a);
	fan_drain_attrib(a);
	if (overflow) {
		fan->overflows++;
		fan_fault(a, "fanotify_queue_overflow",
			  "fanotify: queue overflow (more than fs.fanotify.max_queued_events "
			  "waiting)");
	}
}
