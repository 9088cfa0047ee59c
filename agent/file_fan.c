/* file_fan.c - file.open through fanotify where the kernel has no BPF-LSM (files.mode watch):
 * marks on the watched files and directories only, so an unwatched open runs no herdwatch code.
 *
 * Two fanotify groups:
 *   event group   FAN_CLASS_NOTIF, an open descriptor per event (readlink gives the path, fstat
 *                 the inode): inode marks on watched files, directory marks with
 *                 FAN_EVENT_ON_CHILD on every directory of a watched subtree. The mask follows
 *                 the rule's operations: read -> FAN_CLOSE_NOWRITE|FAN_CLOSE_WRITE; write ->
 *                 FAN_CLOSE_WRITE;
 *                 truncate alone -> FAN_CLOSE_WRITE (reported only when the file is then empty).
 *                 One event per open, at its close: each event costs the opening process an
 *                 allocation, a path and pid reference and a merge in the queue, so FAN_ACCESS
 *                 and FAN_MODIFY (one more per read or write call) are not asked for.
 *   re-mark group FAN_REPORT_DFID_NAME: FAN_CREATE|FAN_MOVED_TO (and FAN_ONDIR) on the parent
 *                 directories of watched names and on watched directories; any such event makes
 *                 the marks be laid again (a file replaced by rename gets its new inode marked).
 *   owner group   FAN_REPORT_DFID_NAME, file.chown in watch mode: FAN_ATTRIB on the watched
 *                 files and (FAN_EVENT_ON_CHILD) directories of the rules that watch chown. The
 *                 owner of each such file is remembered when it is marked (a subtree's files
 *                 when its directories are walked); an attribute change that leaves the file
 *                 with another owner is reported as file.chown (file_fan_read.c). So chown of
 *                 an unwatched file runs no herdwatch code either; what it cannot give (failed
 *                 attempts, a chown to the same owner) is in docs/events-user.md.
 * Rules: "/abs/prefix" marks the existing names of the directory that start with it (a
 * directory as a subtree); "/abs/dir/" the subtree; "STAR/NAME" and "STAR/DIR/" the homes of the
 * accounts in /etc/passwd and /root; "/proc/STAR/NAME" is left to exact mode (a mark pins a
 * procfs inode of every process). Container roots: the absolute rules again under
 * /proc/PID/root of one process per foreign mount namespace, rescanned every 5 s.
 *
 * Contract: file_fan_owns_open() decides before probes_apply() attaches file.open; a fault
 * (fanotify_init refused, max_user_marks reached, queue overflow) is named in the manifest
 * (file.open's reason), announced as agent.loss with its cause, and puts file.open back on its
 * syscall tracepoints until the next reload, which tries watch mode again. */
#include "agent/file_fan.h"
#include "agent/user.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fanotify.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int file_fan_init(struct agent *a)
{
	a->fan = calloc(1, sizeof(*a->fan));
	if (!a->fan)
		return -ENOMEM;
	a->fan->fd = a->fan->rfd = a->fan->afd = -1;
	a->fan->attr_ok = -1;
	return 0;
}

bool file_fan_name_ok(const char *name)
{
	return !strcmp(name, "file.exact");
}

/* "ctl enable file.exact": only an override of that exact name counts (enabling the file
 * family does not switch modes) */
static bool exact_override(struct agent *a)
{
	for (int i = 0; i < HW_MAX_OVERRIDES; i++)
		if (file_fan_name_ok(a->ovr[i].name))
			return a->ovr[i].enabled;
	return false;
}

static bool fan_wanted(struct agent *a)
{
	if (!probe_wanted(a, "file.open", true) || exact_override(a))
		return false;
	if (a->cfg.file_mode == HW_FILE_MODE_EXACT)
		return false;
	if (a->cfg.file_mode == HW_FILE_MODE_WATCH)
		return true;
	return hook_refused("lsm") != NULL; /* auto: watch where BPF-LSM is not usable */
}

bool file_fan_owns_open(struct agent *a)
{
	struct fan_state *fan = a->fan;
	return fan_wanted(a) && !(fan->failed && fan->gen == a->cfg_gen);
}

/* FAN_ATTRIB needs a group that reports file handles (Linux 5.1; directory and name: 5.9) */
static bool attrib_supported(struct fan_state *fan)
{
	if (fan->attr_ok < 0) {
		int fd = fanotify_init(FAN_CLASS_NOTIF | FAN_CLOEXEC | FAN_REPORT_DFID_NAME,
				       O_RDONLY | O_CLOEXEC);
		fan->attr_ok =
			fd >= 0 && fanotify_mark(fd, FAN_MARK_ADD, FAN_ATTRIB | FAN_EVENT_ON_CHILD,
						 AT_FDCWD, "/") == 0;
		if (fd >= 0)
			close(fd);
	}
	return fan->attr_ok > 0;
}

/* file.chown follows file.open's mode: in watch mode its syscall hooks are not attached */
bool file_fan_owns_chown(struct agent *a)
{
	return file_fan_owns_open(a) && probe_wanted(a, "file.chown", true) &&
	       attrib_supported(a->fan);
}

const char *file_fan_fault(struct agent *a)
{
	struct fan_state *fan = a->fan;
	return fan->failed && fan->gen == a->cfg_gen ? fan->reason : NULL;
}

void fan_close(struct fan_state *fan)
{
	if (fan->fd >= 0)
		close(fan->fd);
	if (fan->rfd >= 0)
		close(fan->rfd);
	if (fan->afd >= 0)
		close(fan->afd);
	fan->fd = fan->rfd = fan->afd = -1;
	fan->active = false;
	for (size_t i = 0; i < fan->nrdirs; i++)
		free(fan->rdirs[i].path);
	for (size_t i = 0; i < fan->ninodes; i++)
		free(fan->inodes[i].path);
	fan->ninodes = fan->ndirs = fan->nns = fan->nrdirs = 0;
	fan->marks = fan->dir_marks = fan->remark_marks = fan->mark_skipped = 0;
	fan->attrib_marks = 0;
	if (fan->owners)
		memset(fan->owners, 0, fan->cap_owners * sizeof(*fan->owners));
	fan->nowners = 0;
}

void fan_fault(struct agent *a, const char *cause, const char *fmt, ...)
{
	struct fan_state *fan = a->fan;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(fan->reason, sizeof(fan->reason), fmt, ap);
	va_end(ap);
	fan->failed = true;
	fan->cause = cause;
	fan->gen = a->cfg_gen;
	fan_close(fan);
	agent_log("files: watch mode off until the next reload: %s; file.open on its syscall "
		  "tracepoints\n",
		  fan->reason);
	/* what fanotify held is gone, how much is unknown (count null) */
	emit_begin(a, "agent.loss", 0);
	jb_key(&a->jb, "loss");
	jb_obj_begin(&a->jb);
	jb_kcstr(&a->jb, "kind", "file.open");
	jb_key(&a->jb, "count");
	jb_null(&a->jb);
	jb_kcstr(&a->jb, "cause", cause);
	jb_kcstr(&a->jb, "reason", fan->reason);
	jb_obj_end(&a->jb);
	emit_end(a);
	probes_apply(a); /* file.open back on the exact hooks */
}

static uint64_t ops_mask(unsigned ops)
{
	uint64_t m = 0;
	/* Only the close, which says how the file was opened: one event per open. Not FAN_OPEN
	 * (it does not say whether the file was opened for reading or writing, and a write open
	 * would pass for a read when its close comes in another batch), nor FAN_ACCESS and
	 * FAN_MODIFY (an event per read or write call, in the opening process: they doubled
	 * what a watched open+read+close paid). An open is therefore reported when the file is
	 * closed (at the latest when its process exits). A read rule takes the write close
	 * too: an O_RDWR open that only reads ends in it (reported as a read, as exact mode
	 * does; an O_WRONLY open passes for one, fanotify does not tell them apart). */
	if (ops & HW_FOP_READ)
		m |= FAN_CLOSE_NOWRITE | FAN_CLOSE_WRITE;
	if (ops & HW_FOP_WRITE)
		m |= FAN_CLOSE_WRITE;
	if (ops & HW_FOP_TRUNCATE)
		m |= FAN_CLOSE_WRITE;
	return m;
}

/* 0, 1 when skipped (gone, a file system without the support), -ENOSPC at the mark limit */
static int mark_path(struct fan_state *fan, int fd, unsigned flags, uint64_t mask, const char *path)
{
	if (fd < 0 || !mask)
		return 1;
	if (fanotify_mark(fd, FAN_MARK_ADD | flags, mask, AT_FDCWD, path) == 0)
		return 0;
	if (errno == ENOSPC)
		return -ENOSPC;
	fan->mark_skipped++;
	return 1;
}

static void *grow(void *p, size_t *cap, size_t need, size_t elem)
{
	if (need <= *cap)
		return p;
	size_t nc = *cap ? *cap * 2 : 64;
	void *n = realloc(p, nc * elem);
	if (n)
		*cap = nc;
	return n ? n : NULL;
}

static size_t owner_slot(const struct fan_state *fan, uint64_t dev, uint64_t ino)
{
	uint64_t h = (ino * 0x9e3779b97f4a7c15ull) ^ (dev * 0xc2b2ae3d27d4eb4full);
	size_t mask = fan->cap_owners - 1, i = (h >> 17) & mask;
	while (fan->owners[i].used && (fan->owners[i].ino != ino || fan->owners[i].dev != dev))
		i = (i + 1) & mask;
	return i;
}

struct fan_owner *fan_owner_of(struct fan_state *fan, uint64_t dev, uint64_t ino)
{
	if (!fan->nowners)
		return NULL;
	struct fan_owner *o = &fan->owners[owner_slot(fan, dev, ino)];
	return o->used ? o : NULL;
}

/* Remembered once: a later walk does not overwrite it (a chown between a read of the group and
 * the walk would be taken for the owner it always had). Half full at most. */
bool fan_owner_note(struct fan_state *fan, const struct stat *st)
{
	if (2 * (fan->nowners + 1) > fan->cap_owners) {
		size_t nc = fan->cap_owners ? fan->cap_owners * 2 : 1024;
		if (nc > FAN_MAX_OWNERS) {
			if (!fan_owner_of(fan, st->st_dev, st->st_ino))
				fan->owners_full++;
			return fan_owner_of(fan, st->st_dev, st->st_ino) != NULL;
		}
		struct fan_owner *old = fan->owners, *n = calloc(nc, sizeof(*n));
		size_t oc = fan->cap_owners;
		if (!n)
			return false;
		fan->owners = n;
		fan->cap_owners = nc;
		for (size_t i = 0; i < oc; i++)
			if (old[i].used)
				n[owner_slot(fan, old[i].dev, old[i].ino)] = old[i];
		free(old);
	}
	struct fan_owner *o = &fan->owners[owner_slot(fan, st->st_dev, st->st_ino)];
	if (!o->used) {
		*o = (struct fan_owner){st->st_ino, st->st_dev, st->st_uid, st->st_gid, true};
		fan->nowners++;
	}
	return true;
}

/* the owner group's mark on a file, or a directory and its children, of a rule with chown */
static int mark_attrib(struct fan_state *fan, const char *path, unsigned ops, bool dir)
{
	if (fan->afd < 0 || !(ops & HW_FOP_CHOWN))
		return 0;
	int rc = mark_path(fan, fan->afd, 0, FAN_ATTRIB | (dir ? FAN_EVENT_ON_CHILD : 0), path);
	fan->attrib_marks += rc == 0;
	return rc < 0 ? rc : 0;
}

/* the owners of a watched directory's entries (a file created since the last walk is known
 * from the next one, at most FAN_REMARK_MS after its create) */
static void note_children(struct fan_state *fan, const char *path, unsigned ops)
{
	if (fan->afd < 0 || !(ops & HW_FOP_CHOWN))
		return;
	int dfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = dfd < 0 ? NULL : fdopendir(dfd);
	struct dirent *de;
	if (!d) {
		if (dfd >= 0)
			close(dfd);
		return;
	}
	while ((de = readdir(d))) {
		struct stat st;
		if (de->d_type == DT_DIR || !strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (!fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) && !S_ISDIR(st.st_mode))
			fan_owner_note(fan, &st);
	}
	closedir(d);
}

static int note_inode(struct fan_state *fan, const struct stat *st, uint16_t rule, uint64_t ns,
		      const char *shown)
{
	for (size_t i = 0; i < fan->ninodes; i++)
		if (fan->inodes[i].ino == st->st_ino && fan->inodes[i].dev == st->st_dev)
			return 1;
	struct fan_inode *n = grow(fan->inodes, &fan->cap_inodes, fan->ninodes + 1, sizeof(*n));
	if (!n)
		return -ENOMEM;
	fan->inodes = n;
	n[fan->ninodes++] =
		(struct fan_inode){st->st_ino, st->st_dev, ns, ns ? strdup(shown) : NULL, rule};
	return 0;
}

static int note_dir(struct fan_state *fan, const struct stat *st, uint16_t rule)
{
	for (size_t i = 0; i < fan->ndirs; i++)
		if (fan->dirs[i].ino == st->st_ino && fan->dirs[i].dev == st->st_dev)
			return 1;
	struct fan_dir *n = grow(fan->dirs, &fan->cap_dirs, fan->ndirs + 1, sizeof(*n));
	if (!n)
		return -ENOMEM;
	fan->dirs = n;
	n[fan->ndirs++] = (struct fan_dir){st->st_ino, st->st_dev, rule};
	return 0;
}

const struct fan_rdir *fan_rdir_of(const struct fan_state *fan, int htype, const unsigned char *h,
				   uint32_t hlen)
{
	for (size_t i = 0; i < fan->nrdirs; i++)
		if (fan->rdirs[i].htype == htype && fan->rdirs[i].hlen == hlen &&
		    !memcmp(fan->rdirs[i].h, h, hlen))
			return &fan->rdirs[i];
	return NULL;
}

/* a directory whose creates and moves re-mark (named: creates of watched names reported) */
static int remark_dir(struct fan_state *fan, const char *path, bool named)
{
	for (size_t i = 0; i < fan->nrdirs; i++)
		if (!strcmp(fan->rdirs[i].path, path)) {
			fan->rdirs[i].named |= named;
			return 0;
		}
	int rc = mark_path(fan, fan->rfd, 0, FAN_CREATE | FAN_MOVED_TO | FAN_ONDIR, path);
	if (rc)
		return rc < 0 ? rc : 0;
	fan->remark_marks++;
	struct {
		struct file_handle fh;
		unsigned char b[64];
	} fh = {.fh.handle_bytes = 64};
	int mnt;
	struct fan_rdir *n = grow(fan->rdirs, &fan->cap_rdirs, fan->nrdirs + 1, sizeof(*n));
	if (!n)
		return 0;
	fan->rdirs = n;
	if (name_to_handle_at(AT_FDCWD, path, &fh.fh, &mnt, 0))
		return 0; /* marked; its creates re-mark but are not reported */
	struct fan_rdir *d = &n[fan->nrdirs];
	d->path = strdup(path);
	if (!d->path)
		return 0;
	d->htype = fh.fh.handle_type;
	d->hlen = fh.fh.handle_bytes;
	memcpy(d->h, fh.fh.f_handle, d->hlen);
	d->named = named;
	fan->nrdirs++;
	return 0;
}

/* a watched file: an inode mark on it (ns: in that mount namespace, where path without its
 * first skip bytes names it) */
static int mark_file(struct fan_state *fan, const char *path, uint16_t rule, unsigned ops,
		     uint64_t ns, size_t skip)
{
	struct stat st;
	if (stat(path, &st) || !S_ISREG(st.st_mode))
		return 0;
	if (note_inode(fan, &st, rule, ns, path + skip))
		return 0; /* already marked (or out of memory: the next pass tries again) */
	int rc = mark_path(fan, fan->fd, 0, ops_mask(ops), path);
	if (rc == 0)
		fan->marks++;
	if (rc < 0)
		return rc;
	if (fan->afd >= 0 && (ops & HW_FOP_CHOWN))
		fan_owner_note(fan, &st);
	return mark_attrib(fan, path, ops, false);
}

/* a watched subtree: each directory, events on its children; creates re-mark */
static int mark_tree(struct fan_state *fan, const char *path, uint16_t rule, unsigned ops,
		     int depth, unsigned *budget)
{
	struct stat st;
	if (stat(path, &st) || !S_ISDIR(st.st_mode) || !*budget)
		return 0;
	(*budget)--;
	if (note_dir(fan, &st, rule) == 0) {
		int rc = mark_path(fan, fan->fd, 0, ops_mask(ops) | FAN_EVENT_ON_CHILD, path);
		if (rc < 0)
			return rc;
		fan->dir_marks += rc == 0;
		rc = remark_dir(fan, path, false);
		if (rc == 0)
			rc = mark_attrib(fan, path, ops, true);
		if (rc < 0)
			return rc;
	}
	note_children(fan, path, ops);
	if (depth >= 16)
		return 0;
	DIR *d = opendir(path);
	struct dirent *de;
	int rc = 0;
	while (d && rc == 0 && (de = readdir(d))) {
		if (de->d_type != DT_DIR || !strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		char sub[PATH_MAX];
		if (snprintf(sub, sizeof(sub), "%s/%s", path, de->d_name) < (int)sizeof(sub))
			rc = mark_tree(fan, sub, rule, ops, depth + 1, budget);
	}
	if (d)
		closedir(d);
	return rc;
}

/* "/abs/prefix" (under root, "" for the host): the names of its directory that start with it */
static int mark_prefix(struct fan_state *fan, const char *root, const char *pat, uint16_t rule,
		       unsigned ops, uint64_t ns)
{
	char dir[PATH_MAX], path[PATH_MAX];
	const char *slash = strrchr(pat, '/');
	const char *name = slash + 1;
	size_t nl = strlen(name);
	unsigned budget = FAN_MAX_DIRS;
	snprintf(dir, sizeof(dir), "%s%.*s", root, (int)(slash - pat), pat);
	if (!dir[0])
		snprintf(dir, sizeof(dir), "/");
	if (!nl) /* "/abs/dir/": the subtree */
		return ns ? 0 : mark_tree(fan, dir, rule, ops, 0, &budget);
	int rc = remark_dir(fan, dir, !ns);
	if (rc < 0)
		return rc;
	DIR *d = opendir(dir);
	struct dirent *de;
	rc = 0;
	while (d && rc == 0 && (de = readdir(d))) {
		if (strncmp(de->d_name, name, nl))
			continue;
		snprintf(path, sizeof(path), "%s/%s", strcmp(dir, "/") ? dir : "", de->d_name);
		struct stat st;
		if (stat(path, &st))
			continue;
		if (S_ISDIR(st.st_mode) && !ns)
			rc = mark_tree(fan, path, rule, ops, 0, &budget);
		else if (S_ISREG(st.st_mode))
			rc = mark_file(fan, path, rule, ops, ns, strlen(root));
	}
	if (d)
		closedir(d);
	return rc;
}

/* "STAR/NAME", "STAR/DIR/": in every home directory */
static int mark_homes(struct fan_state *fan, const char *pat, uint16_t rule, unsigned ops)
{
	char homes[64][PATH_MAX / 8], path[PATH_MAX];
	unsigned nh = 0, budget = FAN_MAX_DIRS;
	snprintf(homes[nh++], sizeof(homes[0]), "/root");
	setpwent();
	for (struct passwd *pw; nh < 64 && (pw = getpwent());) {
		struct stat st;
		bool dup = false;
		if (!pw->pw_dir || pw->pw_dir[0] != '/' || strlen(pw->pw_dir) >= sizeof(homes[0]) ||
		    stat(pw->pw_dir, &st) || !S_ISDIR(st.st_mode) || !strcmp(pw->pw_dir, "/"))
			continue;
		for (unsigned i = 0; i < nh; i++)
			dup |= !strcmp(homes[i], pw->pw_dir);
		if (!dup)
			snprintf(homes[nh++], sizeof(homes[0]), "%s", pw->pw_dir);
	}
	endpwent();
	const char *name = pat + 2;
	size_t nl = strlen(name);
	bool dir = nl && name[nl - 1] == '/';
	for (unsigned i = 0; i < nh; i++) {
		int rc = remark_dir(fan, homes[i], true);
		if (rc < 0)
			return rc;
		snprintf(path, sizeof(path), "%s/%.*s", homes[i], (int)(dir ? nl - 1 : nl), name);
		rc = dir ? mark_tree(fan, path, rule, ops, 15, &budget)
			 : mark_file(fan, path, rule, ops, 0, 0);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* every rule, under root ("" for the host, "/proc/PID/root" for a container) */
static int mark_rules(struct agent *a, const char *root, uint64_t ns)
{
	struct fan_state *fan = a->fan;
	const struct hw_file_rule *r;
	for (unsigned i = 0; (r = file_rule_at(a, i)); i++) {
		int rc = 0;
		if (!strncmp(r->pattern, "/proc/", 6) && strstr(r->pattern, "/*/"))
			continue; /* procfs: exact mode only */
		if (!strncmp(r->pattern, "*/", 2))
			rc = ns ? 0 : mark_homes(fan, r->pattern, i, r->ops);
		else
			rc = mark_prefix(fan, root, r->pattern, i, r->ops, ns);
		if (rc == -ENOSPC)
			return rc;
	}
	return 0;
}

static uint64_t mntns_of(const char *pid)
{
	char p[64];
	struct stat st;
	snprintf(p, sizeof(p), "/proc/%s/ns/mnt", pid);
	return stat(p, &st) ? 0 : st.st_ino;
}

/* Container roots: one process of each mount namespace other than the agent's. */
void fan_scan_containers(struct agent *a)
{
	struct fan_state *fan = a->fan;
	uint64_t self = mntns_of("self");
	DIR *d = opendir("/proc");
	struct dirent *de;
	while (fan->active && d && (de = readdir(d)) && fan->nns < FAN_MAX_NS) {
		if (de->d_name[0] < '1' || de->d_name[0] > '9')
			continue;
		uint64_t ns = mntns_of(de->d_name);
		bool seen = !ns || ns == self;
		for (unsigned i = 0; i < fan->nns && !seen; i++)
			seen = fan->ns[i] == ns;
		if (seen)
			continue;
		char root[64];
		snprintf(root, sizeof(root), "/proc/%s/root", de->d_name);
		fan->ns[fan->nns++] = ns;
		if (mark_rules(a, root, ns) == -ENOSPC) {
			closedir(d);
			fan_fault(a, "fanotify_max_user_marks",
				  "fanotify: max_user_marks reached marking %s", root);
			return;
		}
	}
	if (d)
		closedir(d);
}

int fan_build(struct agent *a)
{
	struct fan_state *fan = a->fan;
	fan_close(fan);
	fan->fd = fanotify_init(FAN_CLASS_NOTIF | FAN_CLOEXEC | FAN_NONBLOCK,
				O_RDONLY | O_LARGEFILE | O_CLOEXEC | O_NOATIME);
	if (fan->fd < 0 && errno == EPERM) /* O_NOATIME needs ownership or CAP_FOWNER */
		fan->fd = fanotify_init(FAN_CLASS_NOTIF | FAN_CLOEXEC | FAN_NONBLOCK,
					O_RDONLY | O_LARGEFILE | O_CLOEXEC);
	if (fan->fd < 0) {
		int e = errno;
		fan_fault(a, "fanotify_init_refused", "fanotify: fanotify_init refused: %s",
			  strerror(e));
		return -e;
	}
	/* without it, files replaced by rename stay unwatched until the next reload */
	fan->rfd =
		fanotify_init(FAN_CLASS_NOTIF | FAN_CLOEXEC | FAN_NONBLOCK | FAN_REPORT_DFID_NAME,
			      O_RDONLY | O_CLOEXEC);
	if (fan->rfd < 0)
		agent_log("files: fanotify without FAN_REPORT_DFID_NAME (%s): replaced files are "
			  "marked again at the next reload only\n",
			  strerror(errno));
	if (file_fan_owns_chown(a)) {
		fan->afd = fanotify_init(FAN_CLASS_NOTIF | FAN_CLOEXEC | FAN_NONBLOCK |
						 FAN_REPORT_DFID_NAME,
					 O_RDONLY | O_CLOEXEC);
		if (fan->afd < 0) {
			int e = errno;
			fan_fault(a, "fanotify_init_refused",
				  "fanotify: the owner group (file.chown) refused: %s",
				  strerror(e));
			return -e;
		}
	}
	fan->active = true;
	fan->gen = a->cfg_gen;
	fan->failed = false;
	fan->reason[0] = 0;
	if (mark_rules(a, "", 0) == -ENOSPC) {
		fan_fault(a, "fanotify_max_user_marks",
			  "fanotify: max_user_marks reached (fs.fanotify.max_user_marks)");
		return -ENOSPC;
	}
	fan_scan_containers(a);
	return fan->active ? 0 : -ENOSPC;
}

/* Files created or moved into marked directories: mark what the rules now name. */
static void fan_remark(struct agent *a)
{
	struct fan_state *fan = a->fan;
	fan->remark_due = false;
	fan->remarks++;
	if (mark_rules(a, "", 0) == -ENOSPC)
		fan_fault(a, "fanotify_max_user_marks",
			  "fanotify: max_user_marks reached re-marking the watched files");
}

int file_fan_apply(struct agent *a)
{
	struct fan_state *fan = a->fan;
	if (!file_fan_owns_open(a)) {
		if (fan->fd >= 0) {
			fan_drain(a); /* what is queued still counts */
			fan_close(fan);
		}
		return 0;
	}
	if (fan->active && fan->gen == a->cfg_gen)
		return 0;
	if (fan->fd >= 0)
		fan_drain(a);
	fan_build(a); /* a fault is reported there, and exact mode is back */
	return 0;
}

static uint64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000ULL + ts.tv_nsec / 1000000;
}

/* Creates and moves re-mark at most every FAN_REMARK_MS (a pass stats and marks every rule's
 * places: a package upgrade writing many files into /etc costs at most 10 passes a second).
 * The inode table keeps the inodes of replaced files: past FAN_MAX_INODES the groups are
 * made again from scratch (what they held is read first). */
#define FAN_REMARK_MS 100
#define FAN_MAX_INODES 8192
void file_fan_poll(struct agent *a)
{
	struct fan_state *fan = a->fan;
	if (!fan->active)
		return;
	fan_drain(a);
	uint64_t now = mono_ms();
	if (!fan->active || !fan->remark_due || now - fan->last_remark_ms < FAN_REMARK_MS)
		return;
	fan->last_remark_ms = now;
	if (fan->ninodes > FAN_MAX_INODES) {
		fan->remark_due = false;
		fan_build(a);
		return;
	}
	fan_remark(a);
}

void file_fan_second(struct agent *a)
{
	struct fan_state *fan = a->fan;
	uint64_t now = (uint64_t)time(NULL) * 1000;
	if (fan->active && now - fan->last_scan_ms >= 5000) {
		fan->last_scan_ms = now;
		fan_scan_containers(a);
	}
}

void file_fan_heartbeat(struct agent *a, struct jbuf *b)
{
	struct fan_state *fan = a->fan;
	jb_key(b, "file_watch");
	jb_obj_begin(b);
	jb_kcstr(b, "mode", file_mode_name(a->cfg.file_mode));
	jb_kcstr(b, "active", fan->active ? "fanotify" : "exact");
	jb_kcstr(b, "fault", fan->failed ? fan->reason : NULL);
	jb_ku64(b, "marks", fan->marks);
	jb_ku64(b, "dir_marks", fan->dir_marks);
	jb_ku64(b, "remark_marks", fan->remark_marks);
	jb_ku64(b, "mark_skipped", fan->mark_skipped);
	jb_ku64(b, "namespaces", fan->nns);
	jb_ku64(b, "events", fan->events);
	jb_ku64(b, "reads", fan->reads);
	jb_ku64(b, "batch_max", fan->batches_max);
	jb_ku64(b, "emitted", fan->emitted);
	jb_ku64(b, "folded", fan->folded);
	jb_ku64(b, "unmatched", fan->unmatched);
	jb_ku64(b, "remarks", fan->remarks);
	jb_ku64(b, "overflows", fan->overflows);
	jb_ku64(b, "attrib_marks", fan->attrib_marks);
	jb_ku64(b, "owners", fan->nowners);
	jb_ku64(b, "owners_full", fan->owners_full);
	jb_ku64(b, "attribs", fan->attribs);
	jb_ku64(b, "chowns", fan->chowns);
	jb_obj_end(b);
}

void file_fan_stop(struct agent *a)
{
	struct fan_state *fan = a->fan;
	if (fan->fd >= 0)
		fan_drain(a);
	fan_close(fan);
	free(fan->inodes);
	free(fan->dirs);
	free(fan->rdirs);
	free(fan->owners);
	fan->inodes = NULL;
	fan->dirs = NULL;
	fan->rdirs = NULL;
	fan->owners = NULL;
	fan->cap_inodes = fan->cap_dirs = fan->cap_rdirs = fan->cap_owners = 0;
}

/* after file_fan_stop */
void file_fan_free(struct agent *a)
{
	struct fan_state *fan = a->fan;
	if (!fan)
		return;
	fan_close(fan);
	free(fan->inodes);
	free(fan->dirs);
	free(fan->rdirs);
	free(fan->owners);
	fan_exits_free(fan);
	free(fan);
	a->fan = NULL;
}
