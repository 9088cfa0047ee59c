/* user_uprobes.c - uprobes of user.shell (readline) and user.auth (libpam), attached by the
 * agent to every matching file on the host, once per inode.
 *
 * A uprobe lives on a file (inode + offset), so one attachment covers every process that runs
 * or maps that file, including ones started later. Files are found:
 *   - at start: well-known paths of bash, libreadline and libpam;
 *   - at start and at every heartbeat: /proc/PID/exe (any executable that defines readline,
 *     e.g. a bash copied into a container) and /proc/PID/maps (libreadline / libpam mapped by
 *     a process, e.g. from a container's own /usr/lib);
 *   - at start and at every heartbeat scan: the libpam.so.0 of every process's root (a
 *     container's or a chroot's, for PAM loaded by a plugin: sudo's sudoers.so);
 *   - on exec of an executable the kernel has not reported before (HW_EV_USER_BIN): its own
 *     symbols and the libraries it needs, and the libpam.so.0 of its root, looked up under
 *     /proc/PID/root.
 * Files outside the agent's mount namespace are attached through /proc/PID/root/... or
 * /proc/PID/exe, which the kernel resolves to the file itself.
 */
#include "agent/user.h"
#include "herdwatch.skel.h"
#include <bpf/libbpf.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

enum ut_kind { UT_SHELL = 1, UT_PAM = 2 };

#define UT_MAX_LINKS 16
#define UT_MAX 256
#define UT_SEEN_MAX 8192

struct utarget {
	uint32_t maj, min;
	uint64_t ino;
	enum ut_kind kind;
	char path[PATH_MAX];  /* as attached (may be /proc/PID/root/...) */
	char shown[PATH_MAX]; /* as the process sees it */
	struct bpf_link *links[UT_MAX_LINKS];
	int nlinks;
	char err[160];
};

struct useen {
	uint32_t maj, min;
	uint64_t ino;
};

struct user_state {
	struct utarget t[UT_MAX];
	int n;
	struct useen seen[UT_SEEN_MAX]; /* executables checked and found not to define readline */
	int nseen;
	bool shell_on, auth_on;
	bool stopped;        /* detached for shutdown */
	uint64_t scanned_ns; /* last /proc scan for new targets (CLOCK_MONOTONIC) */
};

/* The heartbeat's /proc scan for binaries not seen at an exec (started before the agent, or
 * mapped in later) is a safety net: at most once per USER_SCAN_NS, whatever the heartbeat
 * interval (a 5 s heartbeat made it most of the agent's idle CPU). */
#define USER_SCAN_NS (30ull * 1000000000ull)

/* The family's state: made by user_init (with the file repeats' table, user_decode.c), freed
 * by user_free (family.c's user row), after the links were destroyed (user_detach_all). */
int user_init(struct agent *a)
{
	a->user = calloc(1, sizeof(*a->user));
	if (!a->user)
		return -ENOMEM;
	if (elf_version(EV_CURRENT) == EV_NONE)
		agent_log("libelf: %s\n", elf_errmsg(-1));
	return file_repeats_init(a);
}

void user_free(struct agent *a)
{
	file_repeats_free(a);
	free(a->user);
	a->user = NULL;
}

static struct user_state *ust(struct agent *a)
{
	return a->user;
}

static struct utarget *find_target(struct user_state *u, uint32_t maj, uint32_t min, uint64_t ino,
				   enum ut_kind kind)
{
	for (int i = 0; i < u->n; i++)
		if (u->t[i].ino == ino && u->t[i].maj == maj && u->t[i].min == min &&
		    u->t[i].kind == kind)
			return &u->t[i];
	return NULL;
}

static bool seen(struct user_state *u, uint32_t maj, uint32_t min, uint64_t ino)
{
	for (int i = 0; i < u->nseen; i++)
		if (u->seen[i].ino == ino && u->seen[i].maj == maj && u->seen[i].min == min)
			return true;
	return false;
}

static void mark_seen(struct user_state *u, uint32_t maj, uint32_t min, uint64_t ino)
{
	if (u->nseen < UT_SEEN_MAX)
		u->seen[u->nseen++] = (struct useen){maj, min, ino};
}

/* Find a symbol the ELF file defines (not imports): a function only when func is set.
 * Returns whether found; its value (virtual address) in *value when value is not NULL. */
static bool elf_find_sym(const char *path, const char *sym, bool func, uint64_t *value)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	bool found = false;
	if (fd < 0)
		return false;
	Elf *e = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	Elf_Scn *scn = NULL;
	while (e && !found && (scn = elf_nextscn(e, scn))) {
		GElf_Shdr sh;
		if (!gelf_getshdr(scn, &sh) ||
		    (sh.sh_type != SHT_DYNSYM && sh.sh_type != SHT_SYMTAB))
			continue;
		Elf_Data *d = elf_getdata(scn, NULL);
		size_t n = sh.sh_entsize ? sh.sh_size / sh.sh_entsize : 0;
		for (size_t i = 0; d && i < n; i++) {
			GElf_Sym s;
			if (!gelf_getsym(d, i, &s) || s.st_shndx == SHN_UNDEF ||
			    (func && GELF_ST_TYPE(s.st_info) != STT_FUNC))
				continue;
			const char *nm = elf_strptr(e, sh.sh_link, s.st_name);
			if (nm && !strcmp(nm, sym)) {
				found = true;
				if (value)
					*value = s.st_value;
				break;
			}
		}
	}
	if (e)
		elf_end(e);
	close(fd);
	return found;
}

static bool elf_defines(const char *path, const char *sym)
{
	return elf_find_sym(path, sym, true, NULL);
}

/* Value of a defined function or object symbol, or 0. */
static uint64_t elf_sym_value(const char *path, const char *sym)
{
	uint64_t v = 0;
	elf_find_sym(path, sym, false, &v);
	return v;
}

/* DT_NEEDED entries of an ELF file that start with prefix; calls fn for each. */
static void elf_needed(const char *path, void (*fn)(void *ctx, const char *lib), void *ctx)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	Elf *e = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	Elf_Scn *scn = NULL;
	while (e && (scn = elf_nextscn(e, scn))) {
		GElf_Shdr sh;
		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_DYNAMIC)
			continue;
		Elf_Data *d = elf_getdata(scn, NULL);
		size_t n = sh.sh_entsize ? sh.sh_size / sh.sh_entsize : 0;
		for (size_t i = 0; d && i < n; i++) {
			GElf_Dyn dyn;
			if (!gelf_getdyn(d, i, &dyn) || dyn.d_tag != DT_NEEDED)
				continue;
			const char *nm = elf_strptr(e, sh.sh_link, dyn.d_un.d_val);
			if (nm)
				fn(ctx, nm);
		}
	}
	if (e)
		elf_end(e);
	close(fd);
}

static struct bpf_link *attach1(struct agent *a, struct bpf_program *p, const char *path,
				const char *fn, bool ret, char *err, size_t errlen)
{
	LIBBPF_OPTS(bpf_uprobe_opts, o, .func_name = fn, .retprobe = ret);
	struct bpf_link *l = bpf_program__attach_uprobe_opts(p, -1, path, 0, &o);
	if (!l && !err[0])
		snprintf(err, errlen, "%s: %s", fn, strerror(errno));
	return l;
}

static void target_attach(struct agent *a, struct utarget *t)
{
	struct hw_bpf *s = a->skel;
	struct {
		struct bpf_program *p;
		const char *fn;
		bool ret;
	} pam[] = {
		{s->progs.hwu_pamstart_up, "pam_start", false},
		{s->progs.hwu_pamstart_ur, "pam_start", true},
		{s->progs.hwu_pamconf_up, "pam_start_confdir", false},
		{s->progs.hwu_pamstart_ur, "pam_start_confdir", true},
		{s->progs.hwu_pamitem_up, "pam_set_item", false},
		{s->progs.hwu_pamauth_up, "pam_authenticate", false},
		{s->progs.hwu_pamstep_ur, "pam_authenticate", true},
		{s->progs.hwu_pamacct_up, "pam_acct_mgmt", false},
		{s->progs.hwu_pamstep_ur, "pam_acct_mgmt", true},
		{s->progs.hwu_pamopen_up, "pam_open_session", false},
		{s->progs.hwu_pamstep_ur, "pam_open_session", true},
		{s->progs.hwu_pamclose_up, "pam_close_session", false},
		{s->progs.hwu_pamstep_ur, "pam_close_session", true},
		{s->progs.hwu_pamchtok_up, "pam_chauthtok", false},
		{s->progs.hwu_pamstep_ur, "pam_chauthtok", true},
		{s->progs.hwu_pamend_up, "pam_end", false},
	};
	t->err[0] = 0;
	if (t->nlinks)
		return;
	a->own_ids_dirty = true;
	if (t->kind == UT_SHELL) {
		struct bpf_link *l = attach1(a, s->progs.hwu_readline_ur, t->path, "readline", true,
					     t->err, sizeof(t->err));
		if (l)
			t->links[t->nlinks++] = l;
		l = attach1(a, s->progs.hwu_readline_up, t->path, "readline", false, t->err,
			    sizeof(t->err));
		if (l)
			t->links[t->nlinks++] = l;
		/* the line of a readline() call entered before this attach: taken at
		 * rl_deprep_terminal from rl_line_buffer (cookie: its distance from the function) */
		uint64_t fn = elf_sym_value(t->path, "rl_deprep_terminal");
		uint64_t buf = elf_sym_value(t->path, "rl_line_buffer");
		if (fn && buf) {
			LIBBPF_OPTS(bpf_uprobe_opts, o, .func_name = "rl_deprep_terminal",
				    .bpf_cookie = buf - fn);
			l = bpf_program__attach_uprobe_opts(s->progs.hwu_rldeprep_up, -1, t->path,
							    0, &o);
			if (l)
				t->links[t->nlinks++] = l;
		}
		return;
	}
	for (size_t i = 0; i < sizeof(pam) / sizeof(pam[0]) && t->nlinks < UT_MAX_LINKS; i++) {
		/* pam_start_confdir exists since Linux-PAM 1.4: optional */
		char *err = t->err;
		char ignore[8] = "x";
		if (!strcmp(pam[i].fn, "pam_start_confdir"))
			err = ignore;
		struct bpf_link *l =
			attach1(a, pam[i].p, t->path, pam[i].fn, pam[i].ret, err, sizeof(t->err));
		if (l)
			t->links[t->nlinks++] = l;
	}
}

static void target_detach(struct utarget *t)
{
	for (int i = 0; i < t->nlinks; i++)
		bpf_link__destroy(t->links[i]);
	t->nlinks = 0;
}

/* Add (and attach, if the probe is on) a file; path must name the file from our namespace. */
static void add_target(struct agent *a, const char *path, const char *shown, enum ut_kind kind)
{
	struct user_state *u = ust(a);
	struct stat st;
	if (!u || stat(path, &st) || !S_ISREG(st.st_mode))
		return;
	uint32_t maj = major(st.st_dev), min = minor(st.st_dev);
	struct utarget *t = find_target(u, maj, min, st.st_ino, kind);
	if (!t) {
		if (u->n >= UT_MAX)
			return;
		t = &u->t[u->n++];
		memset(t, 0, sizeof(*t));
		t->maj = maj;
		t->min = min;
		t->ino = st.st_ino;
		t->kind = kind;
	}
	/* A file not attached now takes the path it was just found by: one through
	 * /proc/PID/... dies with that process, and attaching by it again (the probe enabled
	 * again after a disable) would fail for good. */
	if (!t->nlinks) {
		snprintf(t->path, sizeof(t->path), "%s", path);
		snprintf(t->shown, sizeof(t->shown), "%s", shown);
	}
	if ((kind == UT_SHELL && u->shell_on) || (kind == UT_PAM && u->auth_on))
		target_attach(a, t);
}

/* An executable: a shell if it defines readline itself. */
static void check_exe(struct agent *a, const char *path)
{
	struct user_state *u = ust(a);
	struct stat st;
	if (!u || stat(path, &st) || !S_ISREG(st.st_mode))
		return;
	uint32_t maj = major(st.st_dev), min = minor(st.st_dev);
	struct utarget *t = find_target(u, maj, min, st.st_ino, UT_SHELL);
	if ((t && t->nlinks) || seen(u, maj, min, st.st_ino))
		return;
	if (t || elf_defines(path, "readline")) {
		/* new, or known but not attached (its old path may be gone) */
		char shown[PATH_MAX];
		ssize_t l = readlink(path, shown, sizeof(shown) - 1);
		if (l > 0)
			shown[l] = 0;
		else
			snprintf(shown, sizeof(shown), "%s", path);
		add_target(a, path, shown, UT_SHELL);
	} else
		mark_seen(u, maj, min, st.st_ino);
}

static enum ut_kind lib_kind(const char *name)
{
	const char *b = strrchr(name, '/');
	b = b ? b + 1 : name;
	if (!strncmp(b, "libreadline.so", 14))
		return UT_SHELL;
	if (!strncmp(b, "libpam.so", 9))
		return UT_PAM;
	return 0;
}

/* Debian's multiarch directory of the architecture the agent runs on */
#if defined(__aarch64__)
#define HW_MULTIARCH "aarch64-linux-gnu"
#else
#define HW_MULTIARCH "x86_64-linux-gnu"
#endif
static const char *lib_dirs[] = {
	"/usr/lib/" HW_MULTIARCH, "/lib/" HW_MULTIARCH, "/usr/lib64", "/lib64", "/usr/lib", "/lib",
	"/usr/local/lib"};

struct needed_ctx {
	struct agent *a;
	const char *root; /* "/proc/PID/root" or "" */
};

static void on_needed(void *ctx, const char *lib)
{
	struct needed_ctx *c = ctx;
	enum ut_kind k = lib_kind(lib);
	if (!k || strchr(lib, '/'))
		return;
	for (size_t i = 0; i < sizeof(lib_dirs) / sizeof(lib_dirs[0]); i++) {
		char p[PATH_MAX];
		snprintf(p, sizeof(p), "%s%s/%s", c->root, lib_dirs[i], lib);
		if (access(p, R_OK) == 0) {
			/* shown as the process sees it; attached through its root */
			add_target(c->a, p, p + strlen(c->root), k);
			return;
		}
	}
}

static void scan_known(struct agent *a)
{
	static const char *shells[] = {"/bin/bash", "/usr/bin/bash", "/usr/local/bin/bash",
				       "/bin/rbash", "/usr/bin/rbash"};
	for (size_t i = 0; i < sizeof(shells) / sizeof(shells[0]); i++)
		check_exe(a, shells[i]);
	struct needed_ctx c = {a, ""};
	on_needed(&c, "libreadline.so.8");
	on_needed(&c, "libreadline.so.7");
	on_needed(&c, "libpam.so.0");
}

#define UT_SCAN_ROOTS 256

/* The libpam of a process's root (a container's, a chroot's), once per root and scan: a
 * libpam that only a plugin loads (sudo's sudoers.so) is mapped by nobody until a sudo runs,
 * and a sudo that is the first new binary of its root reaches pam_start before the agent
 * handles its exec (see user_new_binary). */
static void scan_root(struct agent *a, const char *pid, struct useen *roots, int *nroots)
{
	char root[64];
	struct stat st;
	snprintf(root, sizeof(root), "/proc/%s/root", pid);
	if (stat(root, &st))
		return;
	uint32_t maj = major(st.st_dev), min = minor(st.st_dev);
	for (int i = 0; i < *nroots; i++)
		if (roots[i].ino == st.st_ino && roots[i].maj == maj && roots[i].min == min)
			return;
	if (*nroots < UT_SCAN_ROOTS)
		roots[(*nroots)++] = (struct useen){maj, min, st.st_ino};
	struct needed_ctx c = {a, root};
	on_needed(&c, "libpam.so.0");
}

static void scan_proc(struct agent *a)
{
	struct user_state *u = ust(a);
	struct useen roots[UT_SCAN_ROOTS];
	int nroots = 0;
	DIR *d = opendir("/proc");
	struct dirent *de;
	while (u && d && (de = readdir(d))) {
		char p[PATH_MAX], line[PATH_MAX + 128];
		if (de->d_name[0] < '1' || de->d_name[0] > '9')
			continue;
		if ((pid_t)atoi(de->d_name) == a->self_pid)
			continue;
		snprintf(p, sizeof(p), "/proc/%s/exe", de->d_name);
		check_exe(a, p);
		if (u->auth_on)
			scan_root(a, de->d_name, roots, &nroots);
		snprintf(p, sizeof(p), "/proc/%s/maps", de->d_name);
		FILE *f = fopen(p, "re");
		while (f && fgets(line, sizeof(line), f)) {
			char *path = strchr(line, '/');
			if (!path || !(strstr(path, "libreadline.so") || strstr(path, "libpam.so")))
				continue;
			path[strcspn(path, "\n")] = 0;
			if (strstr(path, " (deleted)"))
				continue;
			char full[PATH_MAX * 2];
			snprintf(full, sizeof(full), "/proc/%s/root%s", de->d_name, path);
			enum ut_kind k = lib_kind(path);
			if (k)
				add_target(a, full, path, k);
		}
		if (f)
			fclose(f);
	}
	if (d)
		closedir(d);
}

void user_new_binary(struct agent *a, uint32_t pid, uint32_t dev, uint64_t ino, uint32_t which)
{
	struct user_state *u = ust(a);
	char exe[64], root[64];
	if (!u || (which == 1 && !u->shell_on) || (which == 2 && !u->auth_on))
		return;
	snprintf(exe, sizeof(exe), "/proc/%u/exe", pid);
	snprintf(root, sizeof(root), "/proc/%u/root", pid);
	if (which == 1)
		check_exe(a, exe);
	struct needed_ctx c = {a, root};
	elf_needed(exe, on_needed, &c);
	/* libpam loaded by a plugin, not listed by the binary (sudo: sudoers.so): the libpam of
	 * the process's root (a container's) is probed at the exec of any new binary there (a
	 * few stat() calls per new binary). The agent learns of the exec some milliseconds
	 * later (records are handled in batches up to 10 ms apart): this covers what runs in
	 * that root afterwards, not a program that reaches pam_start within a few ms of this
	 * very exec (sudo does in about 3 ms), nor one already gone (no /proc/PID/root left);
	 * scan_root covers such a root at the next /proc scan. */
	if (which == 2)
		on_needed(&c, "libpam.so.0");
}

/* The uprobes follow the effective state of user.shell / user.auth: the config with the
 * control overrides on top (the same decision as the tracepoint programs of the family). */
int user_apply(struct agent *a)
{
	struct user_state *u = ust(a);
	if (!u)
		return -ENOMEM;
	if (u->stopped)
		return 0;
	bool was_shell = u->shell_on, was_auth = u->auth_on;
	u->shell_on = probe_wanted(a, "user.shell", true);
	u->auth_on = probe_wanted(a, "user.auth", true);
	for (int i = 0; i < u->n; i++) {
		struct utarget *t = &u->t[i];
		bool on = t->kind == UT_SHELL ? u->shell_on : u->auth_on;
		if (!on)
			target_detach(t);
		else if (!t->nlinks)
			target_attach(a, t);
	}
	if ((u->shell_on && !was_shell) || (u->auth_on && !was_auth)) {
		scan_known(a);
		scan_proc(a);
	}
	return 0;
}

void user_detach_all(struct agent *a)
{
	struct user_state *u = a->user;
	static struct bpf_link *all[UT_MAX * UT_MAX_LINKS];
	int n = 0;
	/* each uprobe link waits for a grace period when destroyed: all of them at once */
	for (int i = 0; u && i < u->n; i++) {
		for (int k = 0; k < u->t[i].nlinks; k++)
			all[n++] = u->t[i].links[k];
		u->t[i].nlinks = 0;
	}
	links_destroy_all(all, n);
	if (u)
		u->stopped = true;
}

void user_heartbeat(struct agent *a, struct jbuf *b)
{
	struct user_state *u = a->user;
	if (!u)
		return;
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	uint64_t now = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
	if ((u->shell_on || u->auth_on) && !u->stopped &&
	    (!u->scanned_ns || now - u->scanned_ns >= USER_SCAN_NS)) {
		scan_proc(a);
		u->scanned_ns = now;
	}
	jb_key(b, "uprobes");
	jb_arr_begin(b);
	for (int i = 0; i < u->n; i++) {
		struct utarget *t = &u->t[i];
		bool on = t->kind == UT_SHELL ? u->shell_on : u->auth_on;
		jb_obj_begin(b);
		jb_kcstr(b, "probe", t->kind == UT_SHELL ? "user.shell" : "user.auth");
		jb_kcstr(b, "path", t->shown);
		if (strcmp(t->shown, t->path))
			jb_kcstr(b, "via", t->path);
		jb_ku64(b, "ino", t->ino);
		jb_kcstr(b, "state",
			 !on          ? "disabled"
			 : u->stopped ? "detached"
			 : t->nlinks  ? "attached"
				      : "unavailable");
		jb_ku64(b, "links", t->nlinks);
		jb_kcstr(b, "reason", t->err[0] ? t->err : NULL);
		jb_obj_end(b);
	}
	jb_arr_end(b);
}
