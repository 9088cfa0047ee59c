/* host.c - host identity, cgroup id -> path resolution, container/herd matching. */
#include "agent/agent.h"
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <stdbool.h>
#include <time.h>
#include <unistd.h>

static int read_line(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "re");
	if (!f)
		return -errno;
	if (!fgets(buf, len, f)) {
		fclose(f);
		return -EINVAL;
	}
	fclose(f);
	buf[strcspn(buf, "\r\n")] = 0;
	return buf[0] ? 0 : -EINVAL;
}

int host_identity(struct agent *a)
{
	struct timespec r, bt;
	if (a->cfg.host_name)
		snprintf(a->host_name, sizeof(a->host_name), "%s", a->cfg.host_name);
	else if (gethostname(a->host_name, sizeof(a->host_name)) != 0)
		snprintf(a->host_name, sizeof(a->host_name), "unknown");
	if (read_line("/etc/machine-id", a->host_id, sizeof(a->host_id)) &&
	    read_line("/var/lib/dbus/machine-id", a->host_id, sizeof(a->host_id)) &&
	    read_line("/sys/class/dmi/id/product_uuid", a->host_id, sizeof(a->host_id)))
		snprintf(a->host_id, sizeof(a->host_id), "%s", a->host_name);
	if (read_line("/proc/sys/kernel/random/boot_id", a->boot_id, sizeof(a->boot_id)))
		snprintf(a->boot_id, sizeof(a->boot_id), "unknown");
	snprintf(a->key_prefix, sizeof(a->key_prefix), "%.8s", a->boot_id);
	clock_gettime(CLOCK_REALTIME, &r);
	clock_gettime(CLOCK_BOOTTIME, &bt);
	a->boot_to_real_ns =
		(int64_t)(r.tv_sec - bt.tv_sec) * 1000000000LL + (r.tv_nsec - bt.tv_nsec);
	a->ticks_per_s = sysconf(_SC_CLK_TCK);
	a->host_gen++;
	return 0;
}

/*
 * The identity of this run of the agent. seq counts from 1 in every run, so (host id, boot id)
 * does not tell two runs on the same boot apart; the run id does. It is random (64 bits from
 * the kernel's CSPRNG) rather than the start time: a clock can step back or be the same in two
 * agents started together, and a random id also cannot be guessed by another host to claim the
 * run's seqs. 0 is never chosen (it means "unknown run": batches of agents before run ids).
 */
int run_identity(struct agent *a)
{
	uint64_t v = 0;
	while (!v) {
		ssize_t n = getrandom(&v, sizeof(v), 0);
		if (n != (ssize_t)sizeof(v)) {
			if (n < 0 && errno == EINTR)
				continue;
			return n < 0 ? -errno : -EIO;
		}
	}
	a->run_id = v;
	snprintf(a->run_hex, sizeof(a->run_hex), "%016llx", (unsigned long long)v);
	return 0;
}

/* ---- cgroup v2 id -> path ------------------------------------------------------------------
 * The kernel reports a cgroup id (the inode number of the cgroup's directory in cgroup2fs).
 * Paths are resolved lazily and cached. A miss is resolved for that id alone: a cgroup2 id is
 * also its file handle (kernfs: type FILEID_KERNFS, 8 bytes of id), so open_by_handle_at() on
 * the cgroup2 root opens the directory and /proc/self/fd names it, however new the cgroup is.
 * Where handles are refused, a miss rescans the tree. An id that cannot be resolved (its cgroup
 * is gone) is not tried again for CG_NEG_MS, so a storm of its events costs no storm of work. */

#define CG_FILEID_KERNFS 0xfe
#define CG_NEG_N 16
#define CG_NEG_MS 1000

struct cgent {
	uint64_t id;
	char *path;
};

struct cgcache {
	char root[256]; /* cgroup2 mount point, "" if none */
	struct cgent *v;
	size_t n, cap;
	uint64_t last_id; /* last hit (its path pointer stays valid: entries are only appended */
	const char *last_path; /* or have their path replaced, which clears the cache) */
	int root_fd;           /* the cgroup2 root, for open_by_handle_at; -1 if not open */
	bool no_handles;       /* handles refused here: rescan instead */
	struct {
		uint64_t id, until_ms;
	} neg[CG_NEG_N]; /* recent ids that could not be resolved */
	unsigned neg_next;
};

static struct cgcache *scan_target;

void find_cg2_root(char *out, size_t len)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	char line[1024];
	out[0] = 0;
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		/* ... mount-point ... - fstype source opts */
		char *sep = strstr(line, " - ");
		if (!sep || strncmp(sep + 3, "cgroup2 ", 8))
			continue;
		char mp[512];
		if (sscanf(line, "%*s %*s %*s %*s %511s", mp) == 1) {
			snprintf(out, len, "%s", mp);
			break;
		}
	}
	fclose(f);
}

struct cgcache *cgcache_new(void)
{
	struct cgcache *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	find_cg2_root(c->root, sizeof(c->root));
	c->root_fd = c->root[0] ? open(c->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
	return c;
}

void cgcache_free(struct cgcache *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->n; i++)
		free(c->v[i].path);
	if (c->root_fd >= 0)
		close(c->root_fd);
	free(c->v);
	free(c);
}

static void cg_add(struct cgcache *c, uint64_t id, const char *path)
{
	for (size_t i = 0; i < c->n; i++)
		if (c->v[i].id == id) {
			if (strcmp(c->v[i].path, path)) {
				char *np = strdup(path);
				if (np) {
					c->last_path = NULL;
					free(c->v[i].path);
					c->v[i].path = np;
				}
			}
			return;
		}
	if (c->n == c->cap) {
		size_t nc = c->cap ? c->cap * 2 : 64;
		struct cgent *nv = realloc(c->v, nc * sizeof(*nv));
		if (!nv)
			return;
		c->v = nv;
		c->cap = nc;
	}
	char *p = strdup(path);
	if (!p)
		return;
	c->v[c->n].id = id;
	c->v[c->n].path = p;
	c->n++;
	c->last_path = NULL; /* the array may have moved (realloc above) */
}

static int scan_cb(const char *fpath, const struct stat *sb, int type, struct FTW *ftw)
{
	if (type != FTW_D)
		return 0;
	const char *rel = fpath + strlen(scan_target->root);
	cg_add(scan_target, sb->st_ino, *rel ? rel : "/");
	return 0;
}

static const char *cg_find(struct cgcache *c, uint64_t id)
{
	for (size_t i = 0; i < c->n; i++)
		if (c->v[i].id == id)
			return c->v[i].path;
	return NULL;
}

/* Resolve one id by its file handle: 0 and the path cached, or -errno. */
static int cg_by_handle(struct cgcache *c, uint64_t id)
{
	union {
		struct file_handle fh;
		char buf[sizeof(struct file_handle) + sizeof(uint64_t)];
	} h;
	char link[64], path[4096];
	h.fh.handle_bytes = sizeof(uint64_t);
	h.fh.handle_type = CG_FILEID_KERNFS;
	memcpy(h.fh.f_handle, &id, sizeof(id));
	int fd = open_by_handle_at(c->root_fd, &h.fh, O_PATH | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	ssize_t n = readlink(link, path, sizeof(path) - 1);
	int e = errno;
	close(fd);
	if (n < 0)
		return -e;
	path[n] = 0;
	size_t rl = strlen(c->root);
	if (strncmp(path, c->root, rl) || (path[rl] && path[rl] != '/'))
		return -ENOENT; /* outside our cgroup2 mount (another namespace's view) */
	cg_add(c, id, path[rl] ? path + rl : "/");
	return 0;
}

static uint64_t now_ms(void)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return now.tv_sec * 1000ULL + now.tv_nsec / 1000000;
}

const char *cgcache_path(struct cgcache *c, uint64_t id, uint32_t pid_hint)
{
	/* most events come from the cgroup of the previous one */
	if (c->last_path && c->last_id == id)
		return c->last_path;
	const char *p = cg_find(c, id);
	if (p) {
		c->last_id = id;
		c->last_path = p;
	}
	(void)pid_hint;
	if (p || !c->root[0] || !id)
		return p;
	uint64_t ms = now_ms();
	for (unsigned i = 0; i < CG_NEG_N; i++)
		if (c->neg[i].id == id && ms < c->neg[i].until_ms)
			return NULL;
	int rc = -EOPNOTSUPP;
	if (c->root_fd >= 0 && !c->no_handles) {
		rc = cg_by_handle(c, id);
		if (rc == -EOPNOTSUPP || rc == -ENOSYS || rc == -EPERM || rc == -EINVAL ||
		    rc == -EBADF)
			c->no_handles = true;
	}
	if (rc && (c->no_handles || c->root_fd < 0)) {
		scan_target = c;
		nftw(c->root, scan_cb, 16, FTW_PHYS | FTW_MOUNT);
	}
	p = cg_find(c, id);
	if (!p) {
		unsigned k = c->neg_next++ % CG_NEG_N;
		c->neg[k].id = id;
		c->neg[k].until_ms = ms + CG_NEG_MS;
	}
	return p;
}

int cgroup_id_of(const char *cgpath, uint64_t *id)
{
	char root[256], full[768];
	struct stat st;
	find_cg2_root(root, sizeof(root));
	if (!root[0])
		return -ENOENT;
	snprintf(full, sizeof(full), "%s%s", root, cgpath);
	if (stat(full, &st))
		return -errno;
	*id = st.st_ino;
	return 0;
}

int cgroup_resolve(const char *path, char *rel, size_t rellen, uint64_t *id, int *level, char *err,
		   size_t errlen)
{
	char root[256], full[1024];
	const char *p = path;
	size_t rl, o = 0;
	struct stat st;
	int lv = 0;

	find_cg2_root(root, sizeof(root));
	if (!root[0]) {
		snprintf(err, errlen, "cgroup '%s': no cgroup v2 hierarchy is mounted", path);
		return -ENOENT;
	}
	rl = strlen(root);
	while (rl > 1 && root[rl - 1] == '/')
		root[--rl] = 0;
	/* a path under the mount point loses it; anything else is relative to the root */
	if (rl > 1 && !strncmp(p, root, rl) && (p[rl] == '/' || !p[rl]))
		p += rl;
	/* normalise: one '/' between components, none at the end; no "." or ".." */
	if (rellen < 2) {
		snprintf(err, errlen, "cgroup '%s': path too long", path);
		return -ENAMETOOLONG;
	}
	rel[0] = 0;
	while (*p) {
		size_t n;
		while (*p == '/')
			p++;
		n = strcspn(p, "/");
		if (!n)
			break;
		if ((n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.')) {
			snprintf(err, errlen, "cgroup '%s': '.' and '..' are not allowed", path);
			return -EINVAL;
		}
		if (o + 1 + n + 1 > rellen) {
			snprintf(err, errlen, "cgroup '%s': path too long", path);
			return -ENAMETOOLONG;
		}
		rel[o++] = '/';
		memcpy(rel + o, p, n);
		o += n;
		rel[o] = 0;
		lv++;
		p += n;
	}
	if (!o)
		snprintf(rel, rellen, "/");
	char procs[1100];
	snprintf(full, sizeof(full), "%s%s", root, o ? rel : "");
	snprintf(procs, sizeof(procs), "%s/cgroup.procs", full);
	if (stat(full, &st)) {
		int e = errno;
		snprintf(err, errlen, "no cgroup '%s' (%s: %s)", path, full, strerror(e));
		return -e;
	}
	if (!S_ISDIR(st.st_mode) || access(procs, F_OK)) {
		snprintf(err, errlen, "'%s' is not a cgroup v2 directory (under %s)", path, root);
		return -ENOTDIR;
	}
	*id = st.st_ino;
	*level = lv;
	return 0;
}

bool container_match(const struct hw_config *c, const char *cgpath, char *herd, size_t herdlen,
		     char *id, size_t idlen, char *ver, size_t verlen)
{
	regmatch_t m[10]; /* version_group is at most 9 */
	for (size_t i = 0; i < c->n_containers; i++) {
		const struct hw_container_pattern *cp = &c->containers[i];
		if (regexec(&cp->re, cgpath, 10, m, 0))
			continue;
		int hl = m[1].rm_eo - m[1].rm_so;
		snprintf(herd, herdlen, "%.*s", hl, cgpath + m[1].rm_so);
		unsigned vg = cp->version_group;
		if (vg && vg <= cp->re.re_nsub && m[vg].rm_so >= 0)
			snprintf(ver, verlen, "%.*s", (int)(m[vg].rm_eo - m[vg].rm_so),
				 cgpath + m[vg].rm_so);
		else
			ver[0] = 0;
		/* group 2 is the member id, unless it is the version */
		if (cp->re.re_nsub >= 2 && vg != 2 && m[2].rm_so >= 0) {
			int il = m[2].rm_eo - m[2].rm_so;
			snprintf(id, idlen, "%.*s", il, cgpath + m[2].rm_so);
		} else {
			/* member id: the last path component */
			const char *last = strrchr(cgpath, '/');
			snprintf(id, idlen, "%s", last ? last + 1 : cgpath);
		}
		return true;
	}
	return false;
}
