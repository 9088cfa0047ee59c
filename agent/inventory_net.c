/* inventory_net.c - the inventory's sections from /proc: listening sockets with the processes
 * that hold them, and loaded kernel modules.
 *
 * Listeners: TCP sockets in LISTEN and UDP sockets bound and not connected, from
 * /proc/net/{tcp,tcp6,udp,udp6} (the agent's network namespace: the host's); their processes
 * from the socket inodes behind /proc/PID/fd/N (every fd link read is charged to the budget).
 * A socket shared by several processes (a pre-forking server) lists up to INV_LISTEN_PROCS of
 * them, lowest pid first, and how many there were. Modules: /proc/modules; a kernel without
 * loadable modules has none, and the summary says so. Runs in the inventory's worker thread
 * (agent/inventory.c) and touches only its run. */
#include "agent/inventory.h"
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define INV_MAX_LISTENERS 4096
#define INV_LISTEN_PROCS 8

struct listener {
	char proto[4];
	char ip[INET6_ADDRSTRLEN];
	uint16_t port;
	uint32_t uid;
	uint64_t inode;
	uint32_t pids[INV_LISTEN_PROCS];
	uint32_t last_pid; /* the process that last showed it (its fds are read in a row) */
	unsigned npids, nprocs;
};

/* "0100007F" (IPv4) or 32 hex digits (IPv6), each 32-bit group in the kernel's byte order */
static bool hex_addr(const char *h, bool v6, char *out)
{
	uint32_t w[4];
	int n = v6 ? 4 : 1;
	if (strlen(h) != (size_t)n * 8)
		return false;
	for (int i = 0; i < n; i++) {
		char g[9];
		memcpy(g, h + 8 * i, 8);
		g[8] = 0;
		char *end;
		w[i] = (uint32_t)strtoul(g, &end, 16);
		if (*end)
			return false;
	}
	return inet_ntop(v6 ? AF_INET6 : AF_INET, w, out, INET6_ADDRSTRLEN) != NULL;
}

/* The listeners of one /proc/net file into ls (of *n). */
static void read_net(struct inv_run *r, const char *file, const char *proto, bool v6, bool udp,
		     struct listener *ls, unsigned *n)
{
	size_t len;
	char path[64];
	snprintf(path, sizeof(path), "/proc/net/%s", file);
	char *buf = inv_read(r, AT_FDCWD, path, 64u << 20, &len, NULL);
	if (!buf)
		return;
	char *save = NULL;
	strtok_r(buf, "\n", &save); /* the header */
	for (char *l = strtok_r(NULL, "\n", &save); l && *n < INV_MAX_LISTENERS;
	     l = strtok_r(NULL, "\n", &save)) {
		char la[40], ra[40];
		unsigned lp, rp, st, uid;
		unsigned long long ino;
		if (sscanf(l,
			   " %*u: %39[0-9A-Fa-f]:%x %39[0-9A-Fa-f]:%x %x %*x:%*x %*x:%*x %*x %u "
			   "%*d %llu",
			   la, &lp, ra, &rp, &st, &uid, &ino) != 7)
			continue;
		/* TCP_LISTEN; for UDP: TCP_CLOSE (unconnected) with no peer port */
		if (udp ? (st != 0x07 || rp != 0) : st != 0x0A)
			continue;
		if (!lp || !ino)
			continue;
		struct listener *x = &ls[*n];
		memset(x, 0, sizeof(*x));
		if (!hex_addr(la, v6, x->ip))
			continue;
		snprintf(x->proto, sizeof(x->proto), "%s", proto);
		x->port = (uint16_t)lp;
		x->uid = uid;
		x->inode = ino;
		(*n)++;
	}
	free(buf);
}

static int by_inode(const void *a, const void *b)
{
	const struct listener *x = a, *y = b;
	return (x->inode > y->inode) - (x->inode < y->inode);
}

/* The socket inode of an fd link ("socket:[123]"), 0 for anything else */
static uint64_t sock_inode(int fddir, const char *name)
{
	char t[64];
	ssize_t l = readlinkat(fddir, name, t, sizeof(t) - 1);
	if (l < 9 || memcmp(t, "socket:[", 8))
		return 0;
	t[l] = 0;
	return strtoull(t + 8, NULL, 10);
}

/* Which processes hold the sockets (ls sorted by inode). */
static void find_owners(struct inv_run *r, struct listener *ls, unsigned n)
{
	int pfd = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *pd = pfd >= 0 ? fdopendir(pfd) : NULL;
	if (!pd) {
		if (pfd >= 0)
			close(pfd);
		inv_unavailable(r, "listener_processes", "cannot read /proc");
		return;
	}
	struct dirent *de;
	while ((de = readdir(pd)) && inv_file(r)) {
		char *end;
		unsigned long pid = strtoul(de->d_name, &end, 10);
		if (*end || !pid)
			continue;
		char sub[32];
		snprintf(sub, sizeof(sub), "%lu/fd", pid);
		int fd = openat(dirfd(pd), sub, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		DIR *fdd = fd >= 0 ? fdopendir(fd) : NULL;
		if (!fdd) {
			if (fd >= 0)
				close(fd);
			continue; /* gone, or a kernel thread */
		}
		struct dirent *fe;
		while ((fe = readdir(fdd)) && inv_file(r)) {
			if (fe->d_name[0] == '.')
				continue;
			struct listener key = {.inode = sock_inode(dirfd(fdd), fe->d_name)};
			struct listener *x =
				key.inode ? bsearch(&key, ls, n, sizeof(*ls), by_inode) : NULL;
			if (!x || x->last_pid == pid)
				continue; /* not a listener, or the same process again (dup) */
			x->last_pid = (uint32_t)pid;
			if (x->npids < INV_LISTEN_PROCS)
				x->pids[x->npids++] = (uint32_t)pid;
			x->nprocs++;
		}
		closedir(fdd);
	}
	closedir(pd);
}

static void put_proc(struct inv_run *r, struct jbuf *b, uint32_t pid)
{
	char path[64], exe[4096], comm[32] = "";
	size_t len;
	jb_obj_begin(b);
	jb_ku64(b, "pid", pid);
	snprintf(path, sizeof(path), "/proc/%u/comm", pid);
	char *c = inv_read(r, AT_FDCWD, path, sizeof(comm) - 1, &len, NULL);
	if (c) {
		if (len && c[len - 1] == '\n')
			c[--len] = 0;
		jb_kstr(b, "comm", c, len);
		free(c);
	}
	snprintf(path, sizeof(path), "/proc/%u/exe", pid);
	ssize_t l = readlink(path, exe, sizeof(exe) - 1);
	if (l > 0)
		jb_kstr(b, "exe", exe, (size_t)l);
	else
		jb_kcstr(b, "exe", NULL);
	jb_obj_end(b);
}

/* Listening sockets, each with its processes. */
void inv_scan_listeners(struct inv_run *r)
{
	static const struct {
		const char *file, *proto;
		bool v6, udp;
	} files[] = {{"tcp", "tcp", false, false},
		     {"tcp6", "tcp", true, false},
		     {"udp", "udp", false, true},
		     {"udp6", "udp", true, true}};
	struct listener *ls = calloc(INV_MAX_LISTENERS, sizeof(*ls));
	unsigned n = 0;
	if (!ls) {
		inv_unavailable(r, "listeners", "out of memory");
		return;
	}
	for (size_t i = 0; i < 4 && !inv_over(r); i++)
		read_net(r, files[i].file, files[i].proto, files[i].v6, files[i].udp, ls, &n);
	if (n == INV_MAX_LISTENERS)
		inv_unavailable(r, "listeners", "more than 4096 listening sockets: the first 4096");
	qsort(ls, n, sizeof(*ls), by_inode);
	if (n && !inv_over(r))
		find_owners(r, ls, n);
	for (unsigned i = 0; i < n && !inv_over(r); i++) {
		struct listener *x = &ls[i];
		struct jbuf *b = inv_item_begin(r);
		jb_ktrusted(b, "proto", x->proto);
		jb_ktrusted(b, "ip", x->ip);
		jb_ku64(b, "port", x->port);
		jb_ku64(b, "uid", x->uid);
		jb_ku64(b, "inode", x->inode);
		jb_key(b, "procs");
		jb_arr_begin(b);
		for (unsigned k = 0; k < x->npids; k++)
			put_proc(r, b, x->pids[k]);
		jb_arr_end(b);
		jb_ku64(b, "nprocs", x->nprocs);
		if (!inv_item_end(r, INV_LISTENER))
			break;
	}
	free(ls);
}

/* /proc/modules: "name size refs deps state address [(taint)]" per module. */
void inv_scan_modules(struct inv_run *r)
{
	size_t len;
	char *buf = inv_read(r, AT_FDCWD, "/proc/modules", 16u << 20, &len, NULL);
	if (!buf) {
		if (errno == ENOENT)
			inv_unavailable(r, "modules",
					"no /proc/modules: this kernel has no loadable modules");
		else if (!inv_over(r))
			inv_unavailable(r, "modules", strerror(errno));
		return;
	}
	char *save = NULL;
	for (char *l = strtok_r(buf, "\n", &save); l && !inv_over(r);
	     l = strtok_r(NULL, "\n", &save)) {
		char name[64], state[16], taint[16] = "";
		unsigned long long size;
		unsigned refs;
		if (sscanf(l, "%63s %llu %u %*s %15s %*s (%15[A-Z])", name, &size, &refs, state,
			   taint) < 4)
			continue;
		struct jbuf *b = inv_item_begin(r);
		jb_kcstr(b, "name", name);
		jb_ku64(b, "size", size);
		jb_ku64(b, "refs", refs);
		jb_kcstr(b, "state", state);
		jb_kcstr(b, "taint", taint);
		if (!inv_item_end(r, INV_MODULE))
			break;
	}
	free(buf);
}
