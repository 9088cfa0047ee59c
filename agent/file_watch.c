/* file_watch.c - the watched-file rules of the file.* probes: the default list, pattern
 * checks for the config, and the translation of the rules into the kernel's matcher maps
 * (bpf/file.bpf.c):
 *
 *   "/abs/prefix"      LPM trie entry (string matching of path arguments); on the dentry side
 *                      the parent directory gets NAMED and each existing entry of it whose
 *                      name starts with the last component is watched (a directory as a
 *                      subtree, a file by name); the exact name is watched even if missing.
 *   "/abs/dir/"        LPM entry; the directory's inode is watched as a SUBTREE.
 *   "STAR/NAME"        any file named NAME (basename rule)
 *   "STAR/DIR/"        any file directly inside a directory named DIR
 *   "/proc/STAR/NAME"  NAME on procfs only (/proc/PID/mem)
 * (STAR is '*'.) Kernel device numbers are MAJOR << 20 | MINOR.
 */
#include "agent/agent.h"
#include "agent/user.h"
#include "herdwatch.skel.h"
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#define W                                                                                          \
	(HW_FOP_WRITE | HW_FOP_TRUNCATE | HW_FOP_UNLINK | HW_FOP_RENAME | HW_FOP_CHMOD |           \
	 HW_FOP_CHOWN | HW_FOP_LINK)
#define TAMPER (HW_FOP_TRUNCATE | HW_FOP_UNLINK | HW_FOP_RENAME | HW_FOP_LINK)

static const struct hw_file_rule file_defaults[] = {
	{"/etc/shadow", HW_FOP_ALL},
	{"/etc/gshadow", HW_FOP_ALL},
	{"/etc/sudoers", HW_FOP_ALL},
	{"/etc/sudoers.d/", HW_FOP_ALL},
	{"/etc/passwd", W},
	{"/etc/group", W},
	{"/etc/pam.d/", W},
	{"/etc/ssh/", W},
	{"*/.ssh/", HW_FOP_ALL},
	{"/etc/cron", W},
	{"/var/spool/cron/", W},
	{"/etc/systemd/", W},
	{"/lib/systemd/system/", W},
	{"/usr/lib/systemd/system/", W},
	{"/etc/ld.so.preload", W},
	{"/etc/profile", W},
	{"/etc/profile.d/", W},
	{"/etc/bash.bashrc", W},
	{"/etc/environment", W},
	{"*/.bashrc", W},
	{"*/.profile", W},
	{"*/.bash_profile", W},
	{"*/.bash_login", W},
	{"*/.bash_logout", W},
	{"*/.zshrc", W},
	{"/var/log/", TAMPER | HW_FOP_CHMOD | HW_FOP_CHOWN},
	{"*/.bash_history", TAMPER},
	{"*/.zsh_history", TAMPER},
	{"*/.sh_history", TAMPER},
	{"/boot/", W},
	{"/proc/*/mem", HW_FOP_READ | HW_FOP_WRITE},
};

bool file_pattern_ok(const char *p)
{
	size_t l = strlen(p);
	const char *name = NULL;

	if (!strncmp(p, "*/", 2))
		name = p + 2;
	else if (!strncmp(p, "/proc/*/", 8))
		name = p + 8;
	if (name) {
		size_t nl = strlen(name);
		if (nl && name[nl - 1] == '/' && name == p + 2)
			nl--;
		return nl > 0 && nl < HW_WATCH_NAME_MAX && !memchr(name, '/', nl) &&
		       !strchr(name, '*');
	}
	return p[0] == '/' && l < HW_WATCH_KEY_MAX && !strchr(p, '*');
}

/* The rules in force: files.watch (or the defaults) then files.add. */
static void file_rules(const struct hw_config *c, const struct hw_file_rule **base, size_t *nb)
{
	if (c->file_rules_set) {
		*base = c->file_rules;
		*nb = c->n_file_rules;
	} else {
		*base = file_defaults;
		*nb = sizeof(file_defaults) / sizeof(file_defaults[0]);
	}
}

/* Opens of another process's memory are always watched: a files.watch list replaces the
 * defaults but not this rule, which then follows the files.add rules. */
static const struct hw_file_rule proc_mem_rule = {(char *)"/proc/*/mem",
						  HW_FOP_READ | HW_FOP_WRITE};

static bool proc_mem_extra(const struct hw_config *c)
{
	if (!c->file_rules_set)
		return false; /* the defaults have it */
	for (size_t i = 0; i < c->n_file_rules; i++)
		if (!strcmp(c->file_rules[i].pattern, proc_mem_rule.pattern))
			return false;
	for (size_t i = 0; i < c->n_file_add; i++)
		if (!strcmp(c->file_add[i].pattern, proc_mem_rule.pattern))
			return false;
	return true;
}

const char *file_rule_name(struct agent *a, unsigned idx)
{
	const struct hw_file_rule *base;
	size_t nb;
	file_rules(&a->cfg, &base, &nb);
	if (idx < nb)
		return base[idx].pattern;
	idx -= nb;
	if (idx < a->cfg.n_file_add)
		return a->cfg.file_add[idx].pattern;
	if (idx == a->cfg.n_file_add && proc_mem_extra(&a->cfg))
		return proc_mem_rule.pattern;
	return NULL;
}

const struct hw_file_rule *file_rule_at(struct agent *a, unsigned idx)
{
	const struct hw_file_rule *base;
	size_t nb;
	file_rules(&a->cfg, &base, &nb);
	if (idx < nb)
		return &base[idx];
	idx -= nb;
	if (idx < a->cfg.n_file_add)
		return &a->cfg.file_add[idx];
	if (idx == a->cfg.n_file_add && proc_mem_extra(&a->cfg))
		return &proc_mem_rule;
	return NULL;
}

static uint32_t kdev(dev_t d)
{
	return (major(d) << 20) | minor(d);
}

static void clear_map(int fd, size_t ksz)
{
	char key[512], next[512];
	if (ksz > sizeof(key))
		return;
	while (bpf_map_get_next_key(fd, NULL, key) == 0) {
		if (bpf_map_delete_elem(fd, key))
			break;
	}
	(void)next;
}

struct fw_ctx {
	int lpm, dirs, names;
	struct hw_file_cfg cfg;
	int errors;
};

static void put_lpm(struct fw_ctx *x, const char *s, uint16_t rule, uint16_t ops)
{
	struct hw_watch_lpm_key k = {0};
	struct hw_watch_val v = {.rule = rule, .ops = ops}, old;
	size_t l = strlen(s);
	if (l == 0 || l >= HW_WATCH_KEY_MAX)
		return;
	memcpy(k.data, s, l);
	k.prefixlen = l * 8;
	/* an exact duplicate keeps the first rule and gains the operations */
	if (bpf_map_lookup_elem(x->lpm, &k, &old) == 0 && old.rule != rule) {
		old.ops |= ops;
		v = old;
	}
	if (bpf_map_update_elem(x->lpm, &k, &v, BPF_ANY))
		x->errors++;
}

static void put_dir(struct fw_ctx *x, const struct stat *st, uint16_t rule, uint16_t ops,
		    uint16_t flags)
{
	struct hw_watch_dir_key k = {.ino = st->st_ino, .dev = kdev(st->st_dev)};
	struct hw_watch_val v = {0};
	if (bpf_map_lookup_elem(x->dirs, &k, &v) == 0) {
		if ((flags & HW_WF_SUBTREE) && !(v.flags & HW_WF_SUBTREE)) {
			v.rule = rule;
			v.ops = ops;
		} else if (flags & HW_WF_SUBTREE) {
			v.ops |= ops;
		}
		v.flags |= flags;
	} else {
		v.rule = rule;
		v.ops = (flags & HW_WF_SUBTREE) ? ops : 0;
		v.flags = flags;
	}
	if (bpf_map_update_elem(x->dirs, &k, &v, BPF_ANY))
		x->errors++;
}

static void put_name(struct fw_ctx *x, uint32_t kind, const struct stat *dir, const char *name,
		     size_t nl, uint16_t rule, uint16_t ops, uint16_t flags)
{
	struct hw_watch_name_key k;
	struct hw_watch_val v = {.rule = rule, .ops = ops, .flags = flags}, old;
	if (nl == 0 || nl >= HW_WATCH_NAME_MAX)
		return;
	memset(&k, 0, sizeof(k));
	k.kind = kind;
	if (dir) {
		k.ino = dir->st_ino;
		k.dev = kdev(dir->st_dev);
	}
	memcpy(k.name, name, nl);
	if (bpf_map_lookup_elem(x->names, &k, &old) == 0) {
		old.ops |= ops;
		v = old;
	}
	if (bpf_map_update_elem(x->names, &k, &v, BPF_ANY))
		x->errors++;
	if (kind == HW_WNK_BASENAME && nl < 64 && (flags & HW_WF_PROCFS))
		x->cfg.proc_len_mask |= 1ull << nl;
	else if (kind == HW_WNK_BASENAME && nl < 64)
		x->cfg.base_len_mask |= 1ull << nl;
	if (kind == HW_WNK_DIRNAME && nl < 64)
		x->cfg.dir_len_mask |= 1ull << nl;
}

static void add_rule(struct fw_ctx *x, const char *p, uint16_t rule, uint16_t ops)
{
	char path[PATH_MAX], real[PATH_MAX];
	struct stat st, dst;
	size_t l = strlen(p);

	if (!strncmp(p, "*/", 2)) {
		const char *n = p + 2;
		size_t nl = strlen(n);
		if (nl && n[nl - 1] == '/')
			put_name(x, HW_WNK_DIRNAME, NULL, n, nl - 1, rule, ops, 0);
		else
			put_name(x, HW_WNK_BASENAME, NULL, n, nl, rule, ops, 0);
		return;
	}
	if (!strncmp(p, "/proc/*/", 8)) {
		put_name(x, HW_WNK_BASENAME, NULL, p + 8, strlen(p + 8), rule, ops, HW_WF_PROCFS);
		return;
	}
	put_lpm(x, p, rule, ops);
	snprintf(path, sizeof(path), "%s", p);
	bool dir_rule = l > 1 && path[l - 1] == '/';
	if (dir_rule)
		path[l - 1] = 0;
	/* the same place under another spelling (/lib -> /usr/lib): match that string too */
	if (realpath(path, real) && strcmp(real, path)) {
		size_t rl = strlen(real);
		if (dir_rule && rl + 1 < sizeof(real))
			strcat(real, "/");
		put_lpm(x, real, rule, ops);
	}
	if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
		put_dir(x, &st, rule, ops, HW_WF_SUBTREE);
		return;
	}
	if (dir_rule)
		return; /* a watched directory that does not exist (yet) */
	/* a file or a name prefix: NAMED children of the parent directory */
	char *slash = strrchr(path, '/');
	const char *name = slash + 1;
	size_t nl = strlen(name);
	if (slash == path)
		snprintf(real, sizeof(real), "/");
	else
		snprintf(real, sizeof(real), "%.*s", (int)(slash - path), path);
	if (stat(real, &dst) || !S_ISDIR(dst.st_mode) || !nl)
		return;
	put_dir(x, &dst, rule, 0, HW_WF_NAMED);
	put_name(x, HW_WNK_CHILD, &dst, name, nl, rule, ops, 0);
	DIR *d = opendir(real);
	struct dirent *de;
	while (d && (de = readdir(d))) {
		if (strncmp(de->d_name, name, nl) || !strcmp(de->d_name, name))
			continue;
		char sub[PATH_MAX];
		struct stat sst;
		snprintf(sub, sizeof(sub), "%s/%s", real, de->d_name);
		if (lstat(sub, &sst))
			continue;
		if (S_ISDIR(sst.st_mode))
			put_dir(x, &sst, rule, ops, HW_WF_SUBTREE);
		else
			put_name(x, HW_WNK_CHILD, &dst, de->d_name, strlen(de->d_name), rule, ops,
				 0);
	}
	if (d)
		closedir(d);
}

int file_sync_maps(struct agent *a)
{
	struct fw_ctx x = {
		.lpm = bpf_map__fd(a->skel->maps.hwf_lpm),
		.dirs = bpf_map__fd(a->skel->maps.hwf_dirs),
		.names = bpf_map__fd(a->skel->maps.hwf_names),
	};
	const struct hw_file_rule *base;
	size_t nb;
	uint32_t zero = 0;

	clear_map(x.lpm, sizeof(struct hw_watch_lpm_key));
	clear_map(x.dirs, sizeof(struct hw_watch_dir_key));
	clear_map(x.names, sizeof(struct hw_watch_name_key));
	clear_map(bpf_map__fd(a->skel->maps.hwf_repeats), 32);
	file_rules(&a->cfg, &base, &nb);
	for (size_t i = 0; i < nb; i++)
		add_rule(&x, base[i].pattern, i, base[i].ops);
	for (size_t i = 0; i < a->cfg.n_file_add; i++)
		add_rule(&x, a->cfg.file_add[i].pattern, nb + i, a->cfg.file_add[i].ops);
	if (proc_mem_extra(&a->cfg))
		add_rule(&x, proc_mem_rule.pattern, nb + a->cfg.n_file_add, proc_mem_rule.ops);
	x.cfg.enabled = 1;
	/* a new generation invalidates the kernel's per-directory verdicts (hwf_dcache) */
	static uint32_t gen;
	if (++gen == 0)
		gen = 1;
	x.cfg.gen = gen;
	/* opens in other mount namespaces are also matched by their path as seen there */
	struct stat nst;
	if (stat("/proc/self/ns/mnt", &nst) == 0)
		x.cfg.mntns = (uint32_t)nst.st_ino;
	if (bpf_map_update_elem(bpf_map__fd(a->skel->maps.hwf_cfg), &zero, &x.cfg, BPF_ANY))
		x.errors++;
	if (x.errors)
		agent_log("files: %d watch entries could not be stored\n", x.errors);
	return 0;
}
