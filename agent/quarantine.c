/* quarantine.c - network quarantine on the host: "ctl quarantine TARGET --for SECONDS
 * [--loopback]" and "ctl release TARGET" (the control socket, or the collector when
 * control.collector_allow names them).
 *
 * TARGET is a process tree (a pid or a process key, as for ctl kill), a cgroup (a path under
 * the cgroup v2 mount or relative to its root) or "host". A quarantined target keeps only its
 * connections to the collector's addresses (and loopback with --loopback; always for the
 * host): the six programs of bpf/quar.bpf.c are attached to its cgroup through links pinned
 * under /sys/fs/bpf/herdwatch/quarantine/<cgroup id>/, and the quarantine is an entry of the
 * pinned map hwq_cgroups with a deadline on the boot clock that the programs check themselves.
 * So a quarantine holds when the agent dies, ends at its deadline with or without an agent,
 * and a new agent reuses the pinned maps (quar_reuse_pins, before loading) and adopts what it
 * finds (quar_second). The map is the only record: this file keeps no state of its own.
 *
 * A process tree is moved into a cgroup the agent makes below the root process's own cgroup
 * (hw-quarantine-<pid>): the hooks then enforce it like any cgroup, children forked later are
 * in it from their first instruction, and the limits of the enclosing cgroups (a container's)
 * still apply. Release moves its processes back to that parent and removes it.
 *
 * Refused: no duration, init, kernel threads, the agent itself, a tree or a cgroup that holds
 * the agent, cgroup v2 not mounted, an unknown target, a kernel without the hooks. Every
 * action (quarantine, release, expire, adopt) and every refusal is an agent.response event.
 */
#include "agent/agent.h"
#include "herdwatch.skel.h"
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <time.h>
#include <unistd.h>

#define BPFFS "/sys/fs/bpf"
#define QDIR BPFFS "/herdwatch/quarantine"
#define QMAPS 4
#define QPROGS 6
#define TREE_MAX 65536

static const char *const qmap_names[QMAPS] = {"hw_quar", "hw_quar_allow", "hw_quar_conf",
					      "hw_quar_stats"};
static const char *const qprog_names[QPROGS] = {"connect4", "connect6", "sendmsg4",
						"sendmsg6", "egress",   "ingress"};
static const char *const kind_names[] = {NULL, "cgroup", "process", "host"};

static struct bpf_map *qmap(struct hw_bpf *s, int i)
{
	struct bpf_map *m[QMAPS] = {s->maps.hwq_cgroups, s->maps.hwq_allow, s->maps.hwq_conf,
				    s->maps.hwq_stats};
	return m[i];
}

static struct bpf_program *qprog(struct hw_bpf *s, int i)
{
	struct bpf_program *p[QPROGS] = {s->progs.hwq_conn4_cg,   s->progs.hwq_conn6_cg,
					 s->progs.hwq_send4_cg,   s->progs.hwq_send6_cg,
					 s->progs.hwq_egress_skb, s->progs.hwq_ingress_skb};
	return p[i];
}

static uint64_t boot_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_BOOTTIME, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

void quar_reuse_pins(struct hw_bpf *s)
{
	for (int i = 0; i < QMAPS; i++) {
		char path[128];
		snprintf(path, sizeof(path), QDIR "/%s", qmap_names[i]);
		int fd = bpf_obj_get(path);
		if (fd < 0)
			continue;
		struct bpf_map *m = qmap(s, i);
		struct bpf_map_info info = {};
		__u32 il = sizeof(info);
		if (bpf_obj_get_info_by_fd(fd, &info, &il) || info.type != bpf_map__type(m) ||
		    info.key_size != bpf_map__key_size(m) ||
		    info.value_size != bpf_map__value_size(m) ||
		    info.max_entries != bpf_map__max_entries(m))
			agent_log("%s: a pinned map of another layout: not reused (its quarantines "
				  "cannot be adopted)\n",
				  path);
		else if (bpf_map__reuse_fd(m, fd))
			agent_log("%s: cannot reuse the pinned map: %s\n", path, strerror(errno));
		close(fd);
	}
}

static int map_fd(struct agent *a)
{
	return a->skel ? bpf_map__fd(a->skel->maps.hwq_cgroups) : -1;
}

static bool progs_loaded(struct agent *a)
{
	for (int i = 0; i < QPROGS; i++)
		if (bpf_program__fd(qprog(a->skel, i)) < 0)
			return false;
	return map_fd(a) >= 0;
}

static uint32_t map_id(int fd)
{
	struct bpf_map_info info = {};
	__u32 il = sizeof(info);
	return bpf_obj_get_info_by_fd(fd, &info, &il) ? 0 : info.id;
}

/* The collector's addresses, the only remote endpoints a quarantined socket may use. */
static void sync_allow(struct agent *a)
{
	int fd = bpf_map__fd(a->skel->maps.hwq_allow);
	struct hw_quar_ep k, next;
	while (!bpf_map_get_next_key(fd, NULL, &next))
		if (bpf_map_delete_elem(fd, &next))
			break;
	const char *addr = a->cfg.collector.address;
	if (!addr)
		return;
	char host[256], *port;
	snprintf(host, sizeof(host), "%s", addr[0] == '[' ? addr + 1 : addr);
	port = strrchr(host, addr[0] == '[' ? ']' : ':');
	if (!port)
		return;
	*port++ = 0;
	if (*port == ':')
		port++;
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res, *r;
	if (getaddrinfo(host, port, &hints, &res)) {
		agent_log("quarantine: cannot resolve the collector '%s': it is not allowed\n",
			  addr);
		return;
	}
	__u8 one = 1;
	for (r = res; r; r = r->ai_next) {
		memset(&k, 0, sizeof(k));
		if (r->ai_family == AF_INET) {
			struct sockaddr_in *s4 = (struct sockaddr_in *)r->ai_addr;
			k.addr[10] = k.addr[11] = 0xff;
			memcpy(&k.addr[12], &s4->sin_addr, 4);
			k.port = s4->sin_port;
		} else if (r->ai_family == AF_INET6) {
			struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)r->ai_addr;
			memcpy(k.addr, &s6->sin6_addr, 16);
			k.port = s6->sin6_port;
		} else {
			continue;
		}
		bpf_map_update_elem(fd, &k, &one, BPF_ANY);
	}
	freeaddrinfo(res);
}

/* bpffs mounted, the maps pinned (ours: not those of another agent), the agent's tgid and the
 * collector's addresses in them. 0, or -1 with the reason. */
static int pins_ready(struct agent *a, char *why, size_t wl)
{
	struct statfs sf;
	if ((statfs(BPFFS, &sf) || sf.f_type != BPF_FS_MAGIC) &&
	    mount("bpf", BPFFS, "bpf", 0, "mode=0700")) {
		snprintf(why, wl, "no bpffs at " BPFFS " and cannot mount one: %s",
			 strerror(errno));
		return -1;
	}
	mkdir(BPFFS "/herdwatch", 0700);
	mkdir(QDIR, 0700);
	for (int i = 0; i < QMAPS; i++) {
		char path[128];
		int fd = bpf_map__fd(qmap(a->skel, i));
		snprintf(path, sizeof(path), QDIR "/%s", qmap_names[i]);
		if (!bpf_obj_pin(fd, path))
			continue;
		int pfd = errno == EEXIST ? bpf_obj_get(path) : -1;
		bool same = pfd >= 0 && map_id(pfd) == map_id(fd);
		if (pfd >= 0)
			close(pfd);
		if (!same) {
			snprintf(why, wl, "cannot pin %s: %s", path,
				 errno == EEXIST ? "another agent's map is pinned there"
						 : strerror(errno));
			return -1;
		}
	}
	__u32 zero = 0;
	struct hw_quar_conf c = {.agent_tgid = (__u32)a->self_pid};
	bpf_map__update_elem(a->skel->maps.hwq_conf, &zero, sizeof(zero), &c, sizeof(c), BPF_ANY);
	sync_allow(a);
	return 0;
}

/* ---- cgroups and process trees ---- */

/* The cgroup v2 path of pid (relative to the root), or -1. */
static int proc_cg2(uint32_t pid, char *out, size_t len)
{
	char path[64], line[512];
	snprintf(path, sizeof(path), "/proc/%u/cgroup", pid);
	FILE *f = fopen(path, "re");
	int rc = -1;
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, "0::", 3)) {
			line[strcspn(line, "\n")] = 0;
			snprintf(out, len, "%s", line + 3);
			rc = 0;
			break;
		}
	fclose(f);
	return rc;
}

/* Is cgroup path `in` the cgroup `cg` or below it? */
static bool cg_within(const char *in, const char *cg)
{
	size_t l = strlen(cg);
	if (!strcmp(cg, "/"))
		return true;
	return !strncmp(in, cg, l) && (in[l] == '/' || !in[l]);
}

/* pid and its descendants (from every /proc/N/stat's parent), into v (at most max). */
static size_t tree_of(uint32_t root, uint32_t *v, size_t max)
{
	size_t cap = 4096, np = 0, n = 0;
	uint32_t(*pp)[2] = malloc(cap * sizeof(*pp));
	DIR *d = opendir("/proc");
	struct dirent *e;
	if (!pp || !d) {
		free(pp);
		if (d)
			closedir(d);
		v[0] = root;
		return 1;
	}
	while ((e = readdir(d))) {
		char path[300], buf[512];
		uint32_t pid = (uint32_t)strtoul(e->d_name, NULL, 10);
		if (!pid)
			continue;
		snprintf(path, sizeof(path), "/proc/%u/stat", pid);
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		ssize_t r = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;
		if (fd >= 0)
			close(fd);
		if (r <= 0)
			continue;
		buf[r] = 0;
		char *rp = strrchr(buf, ')');
		unsigned ppid;
		if (!rp || sscanf(rp + 2, "%*c %u", &ppid) != 1)
			continue;
		if (np == cap) {
			void *nv = realloc(pp, 2 * cap * sizeof(*pp));
			if (!nv)
				break;
			pp = nv;
			cap *= 2;
		}
		pp[np][0] = pid;
		pp[np][1] = ppid;
		np++;
	}
	closedir(d);
	v[n++] = root;
	for (size_t i = 0; i < n; i++) /* breadth first: v grows while it is walked */
		for (size_t k = 0; k < np && n < max; k++)
			if (pp[k][1] == v[i])
				v[n++] = pp[k][0];
	free(pp);
	return n;
}

static int write_pid(const char *dir, uint32_t pid)
{
	char path[1100], s[16];
	snprintf(path, sizeof(path), "%s/cgroup.procs", dir);
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	int n = snprintf(s, sizeof(s), "%u", pid);
	int rc = write(fd, s, n) == n ? 0 : -errno;
	close(fd);
	return rc == -ESRCH ? 0 : rc; /* gone meanwhile: nothing to move */
}

/* Move root and its descendants into dir, again until a pass finds nobody new (a child
 * forked by a process not yet moved). The number moved, or -errno. */
static int move_tree(uint32_t root, const char *dir, const char *rel)
{
	uint32_t *v = malloc(TREE_MAX * sizeof(*v));
	int moved = 0, rc = 0;
	if (!v)
		return -ENOMEM;
	for (int pass = 0; pass < 8; pass++) {
		size_t n = tree_of(root, v, TREE_MAX);
		int now = 0;
		for (size_t i = 0; i < n; i++) {
			char cg[512];
			if (proc_cg2(v[i], cg, sizeof(cg)) || !strcmp(cg, rel))
				continue;
			if ((rc = write_pid(dir, v[i])))
				break;
			now++;
		}
		moved += now;
		if (rc || !now)
			break;
	}
	free(v);
	return rc ? rc : moved;
}

/* Every process of cgroup dir back to its parent, then the cgroup removed. */
static int unmove_tree(const char *dir)
{
	char parent[1100], procs[1100];
	snprintf(parent, sizeof(parent), "%s", dir);
	*strrchr(parent, '/') = 0;
	snprintf(procs, sizeof(procs), "%s/cgroup.procs", dir);
	for (int pass = 0; pass < 8; pass++) {
		FILE *f = fopen(procs, "re");
		unsigned pid;
		if (!f)
			return errno == ENOENT ? 0 : -errno;
		while (fscanf(f, "%u", &pid) == 1)
			write_pid(parent, pid);
		fclose(f);
		if (!rmdir(dir) || errno == ENOENT)
			return 0;
		if (errno != EBUSY)
			return -errno;
	}
	return -EBUSY;
}

/* ---- links ---- */

static void detach(uint64_t id)
{
	char path[160];
	for (int i = 0; i < QPROGS; i++) {
		snprintf(path, sizeof(path), QDIR "/%llu/%s", (unsigned long long)id,
			 qprog_names[i]);
		unlink(path); /* the pin held the link's last reference: this detaches it */
	}
	snprintf(path, sizeof(path), QDIR "/%llu", (unsigned long long)id);
	rmdir(path);
}

static int attach(struct agent *a, uint64_t id, const char *cgdir, char *why, size_t wl)
{
	char path[160];
	int cgfd = open(cgdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (cgfd < 0) {
		snprintf(why, wl, "cannot open %s: %s", cgdir, strerror(errno));
		return -1;
	}
	snprintf(path, sizeof(path), QDIR "/%llu", (unsigned long long)id);
	mkdir(path, 0700);
	for (int i = 0; i < QPROGS; i++) {
		snprintf(path, sizeof(path), QDIR "/%llu/%s", (unsigned long long)id,
			 qprog_names[i]);
		if (!access(path, F_OK))
			continue; /* still attached (a quarantine extended) */
		struct bpf_link *l = bpf_program__attach_cgroup(qprog(a->skel, i), cgfd);
		int err = l ? bpf_obj_pin(bpf_link__fd(l), path) ? -errno : 0 : -errno;
		if (l)
			bpf_link__destroy(l); /* closes our fd; the pin keeps it attached */
		if (err) {
			snprintf(why, wl, "cannot attach the %s hook to %s: %s", qprog_names[i],
				 cgdir, strerror(-err));
			close(cgfd);
			detach(id);
			return -1;
		}
	}
	close(cgfd);
	return 0;
}

/* ---- events and answers ---- */

static void emit_q(struct agent *a, const char *source, const char *action, const char *target,
		   const struct hw_quar_entry *e, int moved, bool ok, const char *error)
{
	emit_begin(a, "agent.response", 0);
	jb_key(&a->jb, "response");
	jb_obj_begin(&a->jb);
	jb_kcstr(&a->jb, "action", action);
	jb_kcstr(&a->jb, "source", source);
	jb_kcstr(&a->jb, "target", target);
	if (e && e->kind && e->kind < sizeof(kind_names) / sizeof(kind_names[0])) {
		jb_kcstr(&a->jb, "kind", kind_names[e->kind]);
		jb_kcstr(&a->jb, "cgroup", e->cgroup);
		jb_key(&a->jb, "pid");
		if (e->pid)
			jb_u64(&a->jb, e->pid);
		else
			jb_null(&a->jb);
		jb_kbool(&a->jb, "loopback", e->flags & HW_QUAR_F_LOOPBACK);
		uint64_t now = boot_ns();
		jb_ku64(&a->jb, "remaining_s",
			e->deadline_ns > now ? (e->deadline_ns - now + 999999999) / 1000000000 : 0);
	}
	if (moved >= 0)
		jb_ku64(&a->jb, "moved", (uint64_t)moved);
	jb_kbool(&a->jb, "ok", ok);
	jb_kcstr(&a->jb, "error", error);
	jb_obj_end(&a->jb);
	emit_end(a);
}

static void answer(struct jbuf *b, const struct hw_quar_entry *e, int moved, const char *now)
{
	jb_kbool(b, "ok", true);
	jb_kcstr(b, "now", now);
	jb_kcstr(b, "kind", kind_names[e->kind]);
	jb_kcstr(b, "cgroup", e->cgroup);
	if (e->pid)
		jb_ku64(b, "pid", e->pid);
	if (moved >= 0)
		jb_ku64(b, "moved", (uint64_t)moved);
	jb_kbool(b, "loopback", e->flags & HW_QUAR_F_LOOPBACK);
	uint64_t now_ns = boot_ns();
	jb_ku64(b, "remaining_s",
		e->deadline_ns > now_ns ? (e->deadline_ns - now_ns + 999999999) / 1000000000 : 0);
}

static int refuse(struct agent *a, const struct ctl_who *who, const char *action,
		  const char *target, const struct hw_quar_entry *e, const char *why,
		  struct jbuf *b)
{
	jb_kbool(b, "ok", false);
	jb_kcstr(b, "error", why);
	emit_q(a, who->source, action, target, e, -1, false, why);
	return -1;
}

/* Common checks; the cgroup v2 mount into root. */
static int usable(struct agent *a, char *root, size_t rl, char *why, size_t wl)
{
	if (!a->skel || !progs_loaded(a)) {
		snprintf(why, wl,
			 "this kernel refused the quarantine hooks (cgroup/connect4, "
			 "cgroup_skb): see the manifest");
		return -1;
	}
	find_cg2_root(root, rl);
	if (!root[0]) {
		snprintf(why, wl, "cgroup v2 is not mounted (the quarantine hooks need it)");
		return -1;
	}
	return 0;
}

/* Resolve TARGET into e (kind, cgroup; pid for a tree). 0, or -1 with the reason. */
static int resolve(struct agent *a, const char *target, struct hw_quar_entry *e, char *comm,
		   char *why, size_t wl)
{
	char self_cg[512] = "";
	proc_cg2((uint32_t)a->self_pid, self_cg, sizeof(self_cg));
	snprintf(e->target, sizeof(e->target), "%s", target);
	if (!strcmp(target, "host")) {
		e->kind = HW_QUAR_HOST;
		e->flags |= HW_QUAR_F_LOOPBACK;
		snprintf(e->cgroup, sizeof(e->cgroup), "/");
		return 0;
	}
	if (target[0] == '/') {
		uint64_t id;
		int lv;
		if (cgroup_resolve(target, e->cgroup, sizeof(e->cgroup), &id, &lv, why, wl))
			return -1;
		if (cg_within(self_cg, e->cgroup)) {
			snprintf(why, wl,
				 "cgroup %s contains the agent (in %s): refused (use 'host' to "
				 "quarantine every process but the agent)",
				 e->cgroup, self_cg);
			return -1;
		}
		e->kind = HW_QUAR_CGROUP;
		return 0;
	}
	uint32_t pid;
	uint64_t start;
	int pfd = respond_pin(a, target, &pid, &start, comm, 64, why, wl);
	if (pfd < 0)
		return -1;
	close(pfd);
	uint32_t *v = malloc(TREE_MAX * sizeof(*v));
	size_t n = v ? tree_of(pid, v, TREE_MAX) : 0;
	for (size_t i = 0; i < n; i++)
		if ((int)v[i] == a->self_pid) {
			snprintf(why, wl, "the process tree of pid %u contains the agent: refused",
				 pid);
			free(v);
			return -1;
		}
	free(v);
	char cg[512];
	if (proc_cg2(pid, cg, sizeof(cg))) {
		snprintf(why, wl, "pid %u is in no cgroup v2 (or gone)", pid);
		return -1;
	}
	/* already quarantined as a tree: the same cgroup (the quarantine is extended) */
	const char *base = strrchr(cg, '/');
	char name[32];
	snprintf(name, sizeof(name), "hw-quarantine-%u", pid);
	if (base && !strcmp(base + 1, name))
		snprintf(e->cgroup, sizeof(e->cgroup), "%s", cg);
	else if ((size_t)snprintf(e->cgroup, sizeof(e->cgroup), "%s/%s", strcmp(cg, "/") ? cg : "",
				  name) >= sizeof(e->cgroup)) {
		snprintf(why, wl, "the cgroup path of pid %u is too long", pid);
		return -1;
	}
	e->kind = HW_QUAR_PROCESS;
	e->pid = pid;
	e->pid_start = start;
	return 0;
}

int quar_quarantine(struct agent *a, const struct ctl_who *who, char **args, int n, uint64_t for_ms,
		    struct jbuf *b)
{
	char root[256], why[600] = "", dir[1024], comm[64] = "";
	struct hw_quar_entry e = {0}, old;
	const char *target = NULL;
	int moved = -1;
	bool made_dir = false;

	for (int i = 1; i < n; i++)
		if (!strcmp(args[i], "--loopback"))
			e.flags |= HW_QUAR_F_LOOPBACK;
		else if (!target)
			target = args[i];
		else
			target = "";
	if (!target || !*target) {
		snprintf(why, sizeof(why),
			 "usage: quarantine PID|PROC-KEY|CGROUP-PATH|host --for SECONDS "
			 "[--loopback]");
		return refuse(a, who, "quarantine", target, NULL, why, b);
	}
	if (!for_ms) {
		snprintf(why, sizeof(why), "quarantine needs --for SECONDS (a bounded duration)");
		return refuse(a, who, "quarantine", target, NULL, why, b);
	}
	if (usable(a, root, sizeof(root), why, sizeof(why)) ||
	    resolve(a, target, &e, comm, why, sizeof(why)))
		return refuse(a, who, "quarantine", target, NULL, why, b);
	snprintf(dir, sizeof(dir), "%s%s", root, strcmp(e.cgroup, "/") ? e.cgroup : "");
	if (e.kind == HW_QUAR_PROCESS) {
		int mrc = mkdir(dir, 0755);
		if (mrc && errno != EEXIST) {
			snprintf(why, sizeof(why), "cannot make the cgroup %s: %s", dir,
				 strerror(errno));
			return refuse(a, who, "quarantine", target, &e, why, b);
		}
		made_dir = mrc == 0;
	}
	struct stat st;
	if (stat(dir, &st) || pins_ready(a, why, sizeof(why)))
		goto fail;
	uint64_t id = st.st_ino, now = boot_ns();
	bool extend = !bpf_map_lookup_elem(map_fd(a), &id, &old);
	e.since_ns = extend ? old.since_ns : now;
	e.deadline_ns = now + for_ms * 1000000ULL;
	/* entry first, then the hooks, then (a tree) the processes: each is enforced once moved */
	if (bpf_map_update_elem(map_fd(a), &id, &e, BPF_ANY)) {
		snprintf(why, sizeof(why), "cannot record the quarantine: %s (at most %d at once)",
			 strerror(errno), HW_QUAR_MAX);
		goto fail;
	}
	if (attach(a, id, dir, why, sizeof(why))) {
		bpf_map_delete_elem(map_fd(a), &id);
		goto fail;
	}
	if (e.kind == HW_QUAR_PROCESS) {
		moved = move_tree(e.pid, dir, e.cgroup);
		if (moved < 0) {
			snprintf(why, sizeof(why), "cannot move the process tree of %u into %s: %s",
				 e.pid, dir, strerror(-moved));
			unmove_tree(dir);
			detach(id);
			bpf_map_delete_elem(map_fd(a), &id);
			return refuse(a, who, "quarantine", target, &e, why, b);
		}
	}
	answer(b, &e, moved, extend ? "extended" : "quarantined");
	if (comm[0])
		jb_kcstr(b, "comm", comm);
	emit_q(a, who->source, "quarantine", target, &e, moved, true, NULL);
	return 0;
fail:
	if (!why[0])
		snprintf(why, sizeof(why), "%s: %s", dir, strerror(errno));
	if (made_dir)
		rmdir(dir);
	return refuse(a, who, "quarantine", target, &e, why, b);
}

/* Lift quarantine id (its entry e): hooks detached, a tree's processes moved back. */
static int lift(struct agent *a, uint64_t id, const struct hw_quar_entry *e, char *why, size_t wl)
{
	char root[256], dir[1024];
	int rc = 0;
	detach(id);
	bpf_map_delete_elem(map_fd(a), &id);
	uint64_t k;
	if (bpf_map_get_next_key(map_fd(a), NULL, &k)) {
		/* the last one: nothing of herdwatch stays in bpffs (pinned again when needed) */
		for (int i = 0; i < QMAPS; i++) {
			char path[128];
			snprintf(path, sizeof(path), QDIR "/%s", qmap_names[i]);
			unlink(path);
		}
		rmdir(QDIR);
		rmdir(BPFFS "/herdwatch");
	}
	find_cg2_root(root, sizeof(root));
	if (e->kind == HW_QUAR_PROCESS && root[0]) {
		snprintf(dir, sizeof(dir), "%s%s", root, e->cgroup);
		if ((rc = unmove_tree(dir)))
			snprintf(why, wl, "hooks detached, but %s stays: %s", dir, strerror(-rc));
	}
	return rc;
}

int quar_release(struct agent *a, const struct ctl_who *who, const char *target, struct jbuf *b)
{
	char why[600] = "", rel[HW_QUAR_PATH], comm[64];
	uint64_t key, next, want = 0;
	struct hw_quar_entry e = {0};
	int fd = map_fd(a);
	bool found = false;

	if (fd < 0)
		return refuse(a, who, "release", target, NULL, "no quarantine hooks here", b);
	/* as it was named first (a process key whose process is gone, say), then resolved */
	for (int rc = bpf_map_get_next_key(fd, NULL, &next); !rc && !found;
	     rc = bpf_map_get_next_key(fd, &key, &next)) {
		key = next;
		if (!bpf_map_lookup_elem(fd, &key, &e) && !strcmp(e.target, target))
			found = true, want = key;
	}
	if (!found) {
		uint32_t pid = 0;
		uint64_t start = 0;
		int lv;
		if (!strcmp(target, "host")) {
			snprintf(rel, sizeof(rel), "/");
		} else if (target[0] == '/') {
			if (cgroup_resolve(target, rel, sizeof(rel), &want, &lv, why, sizeof(why)))
				return refuse(a, who, "release", target, NULL, why, b);
		} else {
			int pfd = respond_pin(a, target, &pid, &start, comm, sizeof(comm), why,
					      sizeof(why));
			if (pfd < 0)
				return refuse(a, who, "release", target, NULL, why, b);
			close(pfd);
		}
		for (int rc = bpf_map_get_next_key(fd, NULL, &next); !rc && !found;
		     rc = bpf_map_get_next_key(fd, &key, &next)) {
			key = next;
			if (bpf_map_lookup_elem(fd, &key, &e))
				continue;
			if (pid ? e.kind == HW_QUAR_PROCESS && e.pid == pid && e.pid_start == start
				: !strcmp(e.cgroup, rel))
				found = true, want = key;
		}
	}
	if (!found) {
		snprintf(why, sizeof(why), "'%.100s' is not quarantined", target);
		return refuse(a, who, "release", target, NULL, why, b);
	}
	if (lift(a, want, &e, why, sizeof(why)))
		return refuse(a, who, "release", target, &e, why, b);
	e.deadline_ns = 0;
	answer(b, &e, -1, "released");
	emit_q(a, who->source, "release", target, &e, -1, true, NULL);
	return 0;
}

/* Once a second: at the first call, adopt what an earlier agent left pinned (reported);
 * then lift what reached its deadline (the kernel already lets it through: this removes the
 * hooks and reports it). */
void quar_second(struct agent *a)
{
	static bool adopted;
	int fd = map_fd(a);
	uint64_t key, next, now = boot_ns();
	struct hw_quar_entry e;
	char why[600];
	if (fd < 0)
		return;
	if (!adopted) {
		adopted = true;
		bool any = !bpf_map_get_next_key(fd, NULL, &next);
		if (any && pins_ready(a, why, sizeof(why)))
			agent_log("quarantine: %s\n", why);
		for (int rc = bpf_map_get_next_key(fd, NULL, &next); !rc;
		     rc = bpf_map_get_next_key(fd, &key, &next)) {
			key = next;
			if (!bpf_map_lookup_elem(fd, &key, &e) && now < e.deadline_ns)
				emit_q(a, "start", "adopt", e.target, &e, -1, true, NULL);
		}
	}
	for (int rc = bpf_map_get_next_key(fd, NULL, &next); !rc;) {
		key = next;
		rc = bpf_map_get_next_key(fd, &key, &next); /* before key may be deleted */
		if (bpf_map_lookup_elem(fd, &key, &e) || now < e.deadline_ns)
			continue;
		why[0] = 0;
		int lrc = lift(a, key, &e, why, sizeof(why));
		emit_q(a, "expiry", "expire", e.target, &e, -1, lrc == 0, why[0] ? why : NULL);
	}
}

void quar_heartbeat(struct agent *a, struct jbuf *b)
{
	int fd = map_fd(a);
	uint64_t key, next, now = boot_ns();
	struct hw_quar_entry e;
	if (fd < 0)
		return;
	jb_key(b, "quarantine");
	jb_obj_begin(b);
	jb_key(b, "active");
	jb_arr_begin(b);
	for (int rc = bpf_map_get_next_key(fd, NULL, &next); !rc;
	     rc = bpf_map_get_next_key(fd, &key, &next)) {
		key = next;
		if (bpf_map_lookup_elem(fd, &key, &e) || now >= e.deadline_ns)
			continue;
		jb_obj_begin(b);
		jb_kcstr(b, "target", e.target);
		jb_kcstr(b, "kind", kind_names[e.kind < 4 ? e.kind : 0]);
		jb_kcstr(b, "cgroup", e.cgroup);
		jb_kbool(b, "loopback", e.flags & HW_QUAR_F_LOOPBACK);
		jb_ku64(b, "remaining_s", (e.deadline_ns - now + 999999999) / 1000000000);
		jb_obj_end(b);
	}
	jb_arr_end(b);
	/* what the hooks refused, by hook, summed over the CPUs */
	static const char *const st[HW_QUAR_ST_N] = {"connect", "sendmsg", "egress", "ingress"};
	int ncpu = libbpf_num_possible_cpus(), sfd = bpf_map__fd(a->skel->maps.hwq_stats);
	__u64 *v = ncpu > 0 ? calloc(ncpu, sizeof(*v)) : NULL;
	jb_key(b, "refused");
	jb_obj_begin(b);
	for (__u32 i = 0; i < HW_QUAR_ST_N && v; i++) {
		uint64_t sum = 0;
		if (!bpf_map_lookup_elem(sfd, &i, v))
			for (int c = 0; c < ncpu; c++)
				sum += v[c];
		jb_ku64(b, st[i], sum);
	}
	jb_obj_end(b);
	free(v);
	jb_obj_end(b);
}
