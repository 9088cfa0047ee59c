/* net_mode.c - which hooks the net family uses: syscall hooks (the default) or socket hooks
 * (net.mode: socket).
 *
 * Socket hooks (bpf/net_cg.bpf.c, programs hws_*) need a cgroup v2 mount: its root is
 * where cgroup/connect4 and cgroup/connect6 are attached (as links: BPF_F_ALLOW_MULTI, next to
 * any other program, the quarantine's included; a program on the root runs for every
 * descendant cgroup). net_mode_init() decides at start, before anything is loaded:
 *   - net.mode: syscall in the config, or
 *   - no cgroup v2 mount (a cgroup v1 only host), or net.cgroup2_path naming something that
 *     is not a cgroup v2 mount (statfs), or a mount that cannot be opened
 * puts the family on its syscall hooks, with the reason in the manifest and the heartbeat
 * ("net_mode") and in each net probe's reason (probes.c marks the hws_* programs refused,
 * so each probe takes its next candidate). Hybrid hosts (v1 controllers at /sys/fs/cgroup,
 * v2 at /sys/fs/cgroup/unified) use the v2 mount, wherever it is.
 *
 * net.accept on socket hooks blames the owner of the listening socket, recorded when it
 * starts listening, in the map hws_lsn by (network namespace, local port). Listeners older
 * than the agent have no owner: net_mode_seed() records them from /proc (the listeners of
 * every network namespace a process is in, /proc/PID/net/tcp and tcp6, and the process that
 * holds each one's inode in /proc/PID/fd), each time net.accept attaches. net_mode_veto()
 * keeps net.accept and net.accept_exact (the syscall accept) from both reporting one accept.
 *
 * One program, hws_state_btf, serves net.connect and net.accept on the state-change
 * tracepoint (the probe loader shares its link between the two probes); net_mode_roles()
 * tells it which of the two are attached.
 */
#include "agent/agent.h"
#include "agent/emit.h"
#include "herdwatch.skel.h"
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#define NET_SEED_MAX 4096  /* listeners seeded at most, per attach */
#define NET_SEED_NETNS 256 /* network namespaces whose listeners are seeded, at most */

/* The family's state, owned here (struct agent holds only the pointer): made by net_init with
 * net_mode_new, its hooks chosen by net_mode_init when the BPF object is loaded, freed by
 * net_free with net_mode_free. */
struct net_mode_state {
	int cg_fd; /* cgroup v2 root the socket hooks attach to; -1: none */
	char cg_path[256];
	char reason[200]; /* why the family is on syscall hooks; "": socket hooks */
	uint64_t seeded;  /* listeners older than the agent given an owner */
	uint32_t roles;   /* hws_roles as last set */
};

const char *net_mode_reason(const struct agent *a)
{
	if (!a->netm)
		return "the net family's state was not made (net_init)";
	return a->netm->reason[0] ? a->netm->reason : NULL;
}

int net_mode_cgroup_fd(const struct agent *a)
{
	return a->netm ? a->netm->cg_fd : -1;
}

/* The state, made by the family's init (net_init) before any hook is chosen. */
int net_mode_new(struct agent *a)
{
	a->netm = calloc(1, sizeof(*a->netm));
	if (!a->netm)
		return -ENOMEM;
	a->netm->cg_fd = -1;
	snprintf(a->netm->reason, sizeof(a->netm->reason),
		 "the net family's hooks were not chosen (no BPF object loaded)");
	return 0;
}

void net_mode_free(struct agent *a)
{
	if (!a->netm)
		return;
	if (a->netm->cg_fd >= 0)
		close(a->netm->cg_fd);
	free(a->netm);
	a->netm = NULL;
}

void net_mode_init(struct agent *a)
{
	const struct hw_config *c = &a->cfg;
	struct statfs sf;
	if (!a->netm)
		return; /* net_init was not run: net_mode_reason says so */
	char *why = a->netm->reason;
	size_t wl = sizeof(a->netm->reason);

	if (a->netm->cg_fd >= 0)
		close(a->netm->cg_fd);
	a->netm->cg_fd = -1;
	why[0] = 0;
	if (c->net_mode.syscall) {
		snprintf(why, wl, "net.mode is syscall");
		return;
	}
	if (c->net_mode.cgroup2_path)
		snprintf(a->netm->cg_path, sizeof(a->netm->cg_path), "%s",
			 c->net_mode.cgroup2_path);
	else
		find_cg2_root(a->netm->cg_path, sizeof(a->netm->cg_path));
	if (!a->netm->cg_path[0]) {
		snprintf(why, wl, "no cgroup v2 mount (cgroup v1 only)");
		return;
	}
	int fd = open(a->netm->cg_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(why, wl, "cannot open the cgroup v2 mount %s: %s", a->netm->cg_path,
			 strerror(errno));
		return;
	}
	if (fstatfs(fd, &sf) || sf.f_type != CGROUP2_SUPER_MAGIC) {
		snprintf(why, wl, "%s is not a cgroup v2 mount", a->netm->cg_path);
		close(fd);
		return;
	}
	/* A program attached without BPF_F_ALLOW_MULTI (by other software) would refuse the links
	 * at attach time, after the syscall programs were left unloaded: found here instead. */
	static const enum bpf_attach_type hooks[] = {BPF_CGROUP_INET4_CONNECT,
						     BPF_CGROUP_INET6_CONNECT};
	for (size_t i = 0; i < sizeof(hooks) / sizeof(hooks[0]); i++) {
		__u32 flags = 0, cnt = 0;
		if (bpf_prog_query(fd, hooks[i], 0, &flags, NULL, &cnt) == 0 && cnt &&
		    !(flags & BPF_F_ALLOW_MULTI)) {
			snprintf(why, wl,
				 "a program is attached to %s's %s hook without BPF_F_ALLOW_MULTI",
				 a->netm->cg_path, i ? "connect6" : "connect4");
			close(fd);
			return;
		}
	}
	a->netm->cg_fd = fd;
}

/* A reload: net.mode and net.cgroup2_path stay as the agent started (said once). */
void net_mode_keep(struct hw_config *nc, const struct hw_config *cur)
{
	const char *np = nc->net_mode.cgroup2_path, *cp = cur->net_mode.cgroup2_path;
	bool path_changed = (np || cp) && (!np || !cp || strcmp(np, cp));
	if (nc->net_mode.syscall != cur->net_mode.syscall || path_changed)
		agent_log("net.mode and net.cgroup2_path changes take effect at restart\n");
	nc->net_mode.syscall = cur->net_mode.syscall;
	free(nc->net_mode.cgroup2_path);
	nc->net_mode.cgroup2_path = cp ? strdup(cp) : NULL;
}

/* Is net.accept_exact asked for by its own name (an override, or the config)? Enabling the
 * whole net family does not switch how accepts are seen. */
static bool exact_asked(struct agent *a)
{
	const char *name = "net.accept_exact";
	for (int i = 0; i < HW_MAX_OVERRIDES; i++)
		if (!strcmp(a->ovr[i].name, name))
			return a->ovr[i].enabled;
	for (size_t i = 0; i < a->cfg.n_probes; i++)
		if (!strcmp(a->cfg.probes[i].name, name))
			return a->cfg.probes[i].enabled;
	return false;
}

/* Is net.accept (index i) or net.accept_exact kept detached, and why? */
bool net_mode_veto(struct agent *a, int i, char *why, size_t n)
{
	bool socket_accept = !probes_prog_failed(a, "hws_state_btf");
	if (i == HW_PROBE_NET_ACCEPT && socket_accept && exact_asked(a)) {
		snprintf(why, n, "replaced by net.accept_exact while it is enabled");
		return true;
	}
	if (i == HW_PROBE_NET_ACCEPT_EXACT && !socket_accept) {
		snprintf(why, n, "net.accept is on syscall hooks: exact already");
		return true;
	}
	if (i == HW_PROBE_NET_ACCEPT_EXACT && !exact_asked(a)) {
		snprintf(why, n,
			 "off unless named: ctl enable net.accept_exact, or "
			 "probes: {net.accept_exact: true}");
		return true;
	}
	return false;
}

/* Free every slot of hws_slot (bpf/net_cg.bpf.c: the marks of blocking connects). Done
 * while the connect role is off, so no handshake of the program's is in flight. */
static void clear_slots(struct agent *a)
{
	const struct bpf_map *m = a->skel->maps.hws_slot;
	uint32_t n = bpf_map__max_entries(m), vs = bpf_map__value_size(m);
	uint32_t *keys = calloc(n, sizeof(*keys));
	void *vals = calloc(n, vs);
	uint32_t cnt = n;

	if (!keys || !vals) {
		agent_log("net: no memory to clear hws_slot: stale connect marks may stay\n");
		goto out;
	}
	for (uint32_t i = 0; i < n; i++)
		keys[i] = i;
	if (bpf_map_update_batch(bpf_map__fd(m), keys, vals, &cnt, NULL))
		agent_log("net: clearing hws_slot: %s (%u of %u)\n", strerror(errno), cnt, n);
out:
	free(keys);
	free(vals);
}

/* Is probe i attached on socket hooks (through hws_state_btf)? */
static bool on_socket_hooks(struct agent *a, int i)
{
	const struct hw_probe *p = &a->probes[i];
	return p->state == PROBE_ATTACHED && p->cand && strstr(p->cand, "hws_state_btf");
}

/* hws_state_btf serves both probes on one link (probes.c, shared_link); its bodies for a probe
 * that is off must not run: hws_roles says which are on. Called when net.accept attaches
 * (before the listeners are seeded, so that listen() is recorded from then on) and after
 * every pass of probes_apply. */
void net_mode_roles(struct agent *a)
{
	if (!a->skel || !a->skel->bss || !a->netm)
		return;
	uint32_t r = (on_socket_hooks(a, HW_PROBE_NET_CONNECT) ? 1 : 0) |
		     (on_socket_hooks(a, HW_PROBE_NET_ACCEPT) ? 2 : 0);
	if ((r & 1) && !(a->netm->roles & 1))
		clear_slots(a); /* marks of handshakes whose end went unseen */
	/* a slot held for 300 s is a mark whose end the kernel skipped */
	uint64_t tick = net_jiffy_ns();
	a->skel->bss->hws_stale_jiffies = tick ? 300 * 1000000000ULL / tick : 0;
	a->skel->bss->hws_roles = r;
	a->netm->roles = r;
}

/* "net_mode": {"mode": "socket", "cgroup2": PATH} or {"mode": "syscall", "reason": ...} */
void net_mode_json(struct agent *a, struct jbuf *b)
{
	/* the kernel may refuse the socket-hook programs themselves (no tp_btf, an older
	 * verifier): the probes then took their syscall candidates */
	const char *why = net_mode_reason(a);
	if (!why)
		why = probes_prog_failed(a, "hws_state_btf");
	jb_key(b, "net_mode");
	jb_obj_begin(b);
	jb_kcstr(b, "mode", why ? "syscall" : "socket");
	if (why)
		jb_kcstr(b, "reason", why);
	else
		jb_kcstr(b, "cgroup2", a->netm->cg_path);
	jb_ku64(b, "listeners_seeded", a->netm ? a->netm->seeded : 0);
	jb_obj_end(b);
}

/* A listening socket found in /proc/PID/net/tcp or tcp6: its inode, namespace and port. */
struct lsn {
	uint64_t ino;
	uint32_t netns;
	uint16_t port;
	bool done;
};

/* TCP sockets in LISTEN in /proc/PID/net/tcp or tcp6 (the namespace netns). */
static size_t listen_inodes(const char *file, uint32_t netns, struct lsn *l, size_t n, size_t max)
{
	FILE *f = fopen(file, "re");
	char line[512];
	unsigned st, port;
	unsigned long long in;
	if (!f)
		return n;
	while (n < max && fgets(line, sizeof(line), f))
		/* sl local(addr:port) rem st tx:rx tr:when retr uid timeout inode */
		if (sscanf(line, "%*s %*[0-9A-Fa-f]:%x %*s %x %*s %*s %*s %*s %*s %llu", &port, &st,
			   &in) == 3 &&
		    st == 0x0A && in && port < 65536)
			l[n++] = (struct lsn){.ino = in, .netns = netns, .port = (uint16_t)port};
	fclose(f);
	return n;
}

/* The owner record of process pid, from /proc (the process table is seeded later). */
static void owner_of(struct agent *a, uint32_t pid, int fd, struct hw_net_owner *o)
{
	char path[64], line[512];
	unsigned long long start = 0;
	FILE *f;

	memset(o, 0, sizeof(*o));
	o->hdr.pid = o->hdr.tid = pid;
	o->hdr.auid = (uint32_t)-1;
	o->fd = fd;
	o->seeded = 1;
	o->filtered = pid == (uint32_t)a->self_pid; /* the agent's own (metrics) listener */
	snprintf(path, sizeof(path), "/proc/%u/stat", pid);
	if ((f = fopen(path, "re"))) {
		/* pid (comm) state ppid ... field 22 starttime; comm may hold ") " */
		if (fgets(line, sizeof(line), f)) {
			char *l = strchr(line, '('), *r = strrchr(line, ')');
			if (l && r && r > l) {
				snprintf(o->hdr.comm, sizeof(o->hdr.comm), "%.*s", (int)(r - l - 1),
					 l + 1);
				sscanf(r + 2,
				       "%*c %u %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s "
				       "%*s %*s %*s %*s %*s %llu",
				       &o->hdr.ppid, &start);
			}
		}
		fclose(f);
	}
	o->hdr.start_ns = start * (1000000000ULL / (a->ticks_per_s ? a->ticks_per_s : 100));
	snprintf(path, sizeof(path), "/proc/%u/status", pid);
	if ((f = fopen(path, "re"))) {
		while (fgets(line, sizeof(line), f)) {
			sscanf(line, "Uid: %u %u", &o->hdr.uid, &o->hdr.euid);
			sscanf(line, "Gid: %u %u", &o->hdr.gid, &o->hdr.egid);
		}
		fclose(f);
	}
	snprintf(path, sizeof(path), "/proc/%u/loginuid", pid);
	if ((f = fopen(path, "re"))) {
		if (fscanf(f, "%u", &o->hdr.auid) != 1)
			o->hdr.auid = (uint32_t)-1;
		fclose(f);
	}
	snprintf(path, sizeof(path), "/proc/%u/cgroup", pid);
	if ((f = fopen(path, "re"))) {
		while (fgets(line, sizeof(line), f))
			if (!strncmp(line, "0::", 3)) {
				uint64_t id = 0;
				line[strcspn(line, "\n")] = 0;
				if (cgroup_id_of(line + 3, &id) == 0)
					o->hdr.cgroup_id = id;
			}
		fclose(f);
	}
}

static int cmp_lsn(const void *x, const void *y)
{
	uint64_t a = ((const struct lsn *)x)->ino, b = ((const struct lsn *)y)->ino;
	return a < b ? -1 : a > b;
}

/* Record the owner of each listener of pid that is in l[] and has none yet. */
static void seed_pid(struct agent *a, int map_fd, uint32_t pid, struct lsn *ls, size_t n)
{
	char dir[64], path[320], link[64];
	struct dirent *d;
	DIR *dp;

	snprintf(dir, sizeof(dir), "/proc/%u/fd", pid);
	if (!(dp = opendir(dir)))
		return;
	while ((d = readdir(dp))) {
		unsigned long long in;
		snprintf(path, sizeof(path), "%s/%s", dir, d->d_name);
		ssize_t l = readlink(path, link, sizeof(link) - 1);
		if (l <= 0)
			continue;
		link[l] = 0;
		if (sscanf(link, "socket:[%llu]", &in) != 1)
			continue;
		struct lsn key = {.ino = in};
		struct lsn *hit = bsearch(&key, ls, n, sizeof(*ls), cmp_lsn);
		if (!hit || hit->done)
			continue;
		struct hw_net_owner o;
		struct hw_net_lsn_key k = {.netns = hit->netns, .port = hit->port};
		owner_of(a, pid, atoi(d->d_name), &o);
		/* BPF_NOEXIST: a listen() seen by the kernel program wins */
		if (bpf_map_update_elem(map_fd, &k, &o, BPF_NOEXIST) == 0)
			a->netm->seeded++;
		hit->done = true; /* one owner per socket: the first process found */
	}
	closedir(dp);
}

/* Forget every recorded listener: while net.accept was detached, closes went unseen, and an
 * entry left by a closed listener would keep a later listener of its port from being recorded.
 * The seeding that follows records the live ones again. */
static void forget_listeners(int map_fd)
{
	struct hw_net_lsn_key k;
	while (bpf_map_get_next_key(map_fd, NULL, &k) == 0)
		if (bpf_map_delete_elem(map_fd, &k))
			break;
}

void net_mode_seed(struct agent *a)
{
	static struct lsn l[NET_SEED_MAX];
	size_t n = 0;
	DIR *dp;
	struct dirent *d;

	if (!a->skel || net_mode_reason(a) || probes_prog_failed(a, "hws_state_btf"))
		return;
	forget_listeners(bpf_map__fd(a->skel->maps.hws_lsn));
	if (!(dp = opendir("/proc")))
		return;
	/* the listeners of every network namespace a process is in (socket inodes are unique
	 * across namespaces) */
	uint64_t nets[NET_SEED_NETNS];
	size_t nn = 0;
	while ((d = readdir(dp)) && n < NET_SEED_MAX) {
		char path[64];
		struct stat st;
		size_t k = 0;
		if (!isdigit((unsigned char)d->d_name[0]))
			continue;
		snprintf(path, sizeof(path), "/proc/%s/ns/net", d->d_name);
		if (stat(path, &st))
			continue;
		while (k < nn && nets[k] != st.st_ino)
			k++;
		if (k < nn || nn == NET_SEED_NETNS)
			continue;
		nets[nn++] = st.st_ino;
		snprintf(path, sizeof(path), "/proc/%s/net/tcp", d->d_name);
		n = listen_inodes(path, (uint32_t)st.st_ino, l, n, NET_SEED_MAX);
		snprintf(path, sizeof(path), "/proc/%s/net/tcp6", d->d_name);
		n = listen_inodes(path, (uint32_t)st.st_ino, l, n, NET_SEED_MAX);
	}
	rewinddir(dp);
	if (!n) {
		closedir(dp);
		return;
	}
	qsort(l, n, sizeof(*l), cmp_lsn);
	int map_fd = bpf_map__fd(a->skel->maps.hws_lsn);
	while ((d = readdir(dp))) {
		if (!isdigit((unsigned char)d->d_name[0]))
			continue;
		seed_pid(a, map_fd, (uint32_t)strtoul(d->d_name, NULL, 10), l, n);
	}
	closedir(dp);
}
