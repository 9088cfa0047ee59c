/* inventory_scan.c - the inventory's file sections: accounts with uid 0 (and the account list),
 * authorized_keys of every account (fingerprints, never keys), /etc/ld.so.preload, crontabs,
 * systemd units enabled under /etc, and set-id files under the standard directories.
 *
 * Runs in the inventory's worker thread (agent/inventory.c) and touches only its run: every
 * file opened, directory entry examined and byte read is charged to the run's budget, and a
 * section returns as soon as the budget is spent. Files are opened without following a final
 * symlink and without blocking, and must be regular files (a FIFO or a device planted where a
 * crontab or a key file is expected is skipped, not read). The walk for set-id files stays on
 * the file system of each directory it starts from and never follows symlinks. */
#include "agent/inventory.h"
#include "agent/sha256.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define INV_MAX_ACCOUNTS 65536
#define INV_TEXT_MAX (1 << 20) /* a key file, crontab or passwd file read at most this far */
#define INV_WALK_DEPTH 40

static const char *env_or(const char *name, const char *dflt)
{
	const char *s = getenv(name);
	return s && *s ? s : dflt;
}

/* Split off the line at *p (of end); NULL at the end. */
static char *next_line(char **p, char *end, size_t *len)
{
	if (*p >= end)
		return NULL;
	char *s = *p, *nl = memchr(s, '\n', (size_t)(end - s));
	*len = nl ? (size_t)(nl - s) : (size_t)(end - s);
	*p = nl ? nl + 1 : end;
	return s;
}

/* The passwd file (HW_INVENTORY_PASSWD overrides /etc/passwd, for tests): every account
 * with uid 0 is an item; the accounts and their homes are kept for authorized_keys. */
void inv_scan_accounts(struct inv_run *r)
{
	const char *path = env_or("HW_INVENTORY_PASSWD", "/etc/passwd");
	size_t len;
	bool cut;
	char *buf = inv_read(r, AT_FDCWD, path, 4 * INV_TEXT_MAX, &len, &cut);
	if (!buf) {
		char why[160];
		snprintf(why, sizeof(why), "cannot read %s: %s", path, strerror(errno));
		if (!inv_over(r))
			inv_unavailable(r, "accounts", why);
		return;
	}
	r->acct = calloc(256, sizeof(*r->acct));
	size_t cap = r->acct ? 256 : 0, lineno = 0, ll;
	char *p = buf, *line;
	while ((line = next_line(&p, buf + len, &ll)) && !inv_over(r)) {
		lineno++;
		line[ll] = 0;
		char *f[7] = {0}, *s = line;
		int nf = 0;
		while (nf < 7 && s) {
			f[nf++] = s;
			s = strchr(s, ':');
			if (s)
				*s++ = 0;
		}
		if (nf < 7 || !*f[0] || !*f[2] || strspn(f[2], "0123456789") != strlen(f[2]))
			continue; /* not an account line (NIS "+", blank, damaged) */
		unsigned long uid = strtoul(f[2], NULL, 10);
		if (uid > UINT32_MAX)
			continue;
		if (uid == 0) {
			struct jbuf *b = inv_item_begin(r);
			jb_kcstr(b, "name", f[0]);
			jb_ku64(b, "uid", 0);
			jb_kcstr(b, "gid", f[3]);
			jb_kcstr(b, "home", f[5]);
			jb_kcstr(b, "shell", f[6]);
			jb_kcstr(b, "source", path);
			jb_ku64(b, "line", lineno);
			if (!inv_item_end(r, INV_UID0))
				break;
		}
		if (r->nacct == cap && cap < INV_MAX_ACCOUNTS) {
			void *n = realloc(r->acct, 2 * cap * sizeof(*r->acct));
			if (n) {
				r->acct = n;
				cap *= 2;
			}
		}
		if (r->nacct < cap && f[5][0] == '/') {
			r->acct[r->nacct].name = strdup(f[0]);
			r->acct[r->nacct].home = strdup(f[5]);
			r->acct[r->nacct].uid = (uint32_t)uid;
			if (r->acct[r->nacct].name && r->acct[r->nacct].home)
				r->nacct++;
		}
	}
	if (cut && !inv_over(r))
		inv_unavailable(r, "accounts",
				"the passwd file is longer than 4 MiB: read in part");
	free(buf);
}

/* One key file: an item per key line. */
static void key_file(struct inv_run *r, const struct inv_account *ac, const char *path)
{
	size_t len, ll, lineno = 0;
	bool cut;
	char *buf = inv_read(r, AT_FDCWD, path, INV_TEXT_MAX, &len, &cut);
	if (!buf)
		return; /* none (the usual case), not a regular file, or over budget */
	char *p = buf, *line;
	while ((line = next_line(&p, buf + len, &ll)) && !inv_over(r)) {
		struct inv_key k;
		lineno++;
		if (!inv_parse_key(line, ll, &k))
			continue;
		struct jbuf *b = inv_item_begin(r);
		jb_kcstr(b, "user", ac->name);
		jb_ku64(b, "uid", ac->uid);
		jb_kcstr(b, "path", path);
		jb_ku64(b, "line", lineno);
		jb_kcstr(b, "type", k.type);
		jb_kcstr(b, "fingerprint", k.fp);
		jb_kstr(b, "comment", k.comment, k.comment_len);
		jb_kbool(b, "options", k.options);
		if (!inv_item_end(r, INV_KEY))
			break;
	}
	free(buf);
}

static int by_home(const void *x, const void *y)
{
	const struct inv_account *a = x, *b = y;
	int c = strcmp(a->home, b->home);
	return c ? c : (a->uid > b->uid) - (a->uid < b->uid);
}

/* ~/.ssh/authorized_keys and authorized_keys2 of every account; a home shared by several
 * accounts is read once (as its lowest uid's). */
void inv_scan_keys(struct inv_run *r)
{
	static const char *const files[] = {".ssh/authorized_keys", ".ssh/authorized_keys2"};
	if (!r->nacct)
		return;
	qsort(r->acct, r->nacct, sizeof(*r->acct), by_home);
	for (size_t i = 0; i < r->nacct && !inv_over(r); i++) {
		const struct inv_account *ac = &r->acct[i];
		if (i && !strcmp(ac->home, r->acct[i - 1].home))
			continue;
		if (!strcmp(ac->home, "/") || !strcmp(ac->home, "/nonexistent"))
			continue;
		for (size_t f = 0; f < 2 && !inv_over(r); f++) {
			char path[PATH_MAX];
			size_t hl = strlen(ac->home);
			if (snprintf(path, sizeof(path), "%s%s%s", ac->home,
				     hl && ac->home[hl - 1] == '/' ? "" : "/",
				     files[f]) >= (int)sizeof(path))
				continue;
			key_file(r, ac, path);
		}
	}
}

/* /etc/ld.so.preload (HW_INVENTORY_PRELOAD overrides it, for tests): an item per entry.
 * Entries are separated by white space or ':' as ld.so reads them; '#' starts a comment. */
void inv_scan_preload(struct inv_run *r)
{
	const char *path = env_or("HW_INVENTORY_PRELOAD", "/etc/ld.so.preload");
	size_t len, ll, lineno = 0;
	char *buf = inv_read(r, AT_FDCWD, path, INV_TEXT_MAX, &len, NULL);
	if (!buf)
		return;
	char *p = buf, *line;
	unsigned idx = 0;
	while ((line = next_line(&p, buf + len, &ll)) && !inv_over(r)) {
		lineno++;
		line[ll] = 0;
		char *hash = strchr(line, '#'), *save = NULL;
		if (hash)
			*hash = 0;
		for (char *e = strtok_r(line, " \t\r:", &save); e;
		     e = strtok_r(NULL, " \t\r:", &save)) {
			struct jbuf *b = inv_item_begin(r);
			jb_kcstr(b, "path", path);
			jb_kcstr(b, "entry", e);
			jb_ku64(b, "index", idx++);
			jb_ku64(b, "line", lineno);
			if (!inv_item_end(r, INV_PRELOAD))
				break;
		}
	}
	free(buf);
}

/* Lines of a crontab that are jobs: not blank, not a comment, not a NAME=value setting. */
static unsigned cron_entries(const char *s, size_t len)
{
	unsigned n = 0;
	for (size_t i = 0; i < len;) {
		size_t e = i;
		while (e < len && s[e] != '\n')
			e++;
		size_t j = i;
		while (j < e && (s[j] == ' ' || s[j] == '\t'))
			j++;
		size_t w = j;
		while (w < e && s[w] != ' ' && s[w] != '\t' && s[w] != '=')
			w++;
		if (j < e && s[j] != '#' && !(w < e && s[w] == '=') && s[j] != '\r')
			n++;
		i = e + 1;
	}
	return n;
}

static void cron_file(struct inv_run *r, int dirfd, const char *dir, const char *name,
		      const char *type, const char *user)
{
	char path[PATH_MAX];
	size_t len;
	bool cut;
	snprintf(path, sizeof(path), "%s%s%s", dir, dir[0] ? "/" : "", name);
	char *buf = inv_read(r, dirfd, name, INV_TEXT_MAX, &len, &cut);
	if (!buf)
		return;
	char hex[65];
	inv_sha256_hex(buf, len, hex);
	struct jbuf *b = inv_item_begin(r);
	jb_kcstr(b, "path", path);
	jb_kcstr(b, "type", type);
	jb_kcstr(b, "user", user);
	jb_kcstr(b, "sha256", cut ? NULL : hex);
	jb_ku64(b, "bytes", len);
	jb_kbool(b, "truncated", cut);
	if (strcmp(type, "script"))
		jb_ku64(b, "entries", cron_entries(buf, len));
	free(buf);
	inv_item_end(r, INV_CRON);
}

/* Every regular file of a directory as a crontab of this type (user crontabs: named after
 * their user). */
static void cron_dir(struct inv_run *r, const char *dir, const char *type, bool named_user)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return;
	DIR *d = fdopendir(fd);
	if (!d) {
		close(fd);
		return;
	}
	struct dirent *de;
	while ((de = readdir(d)) && !inv_over(r)) {
		if (de->d_name[0] == '.' && (!de->d_name[1] || !strcmp(de->d_name, "..")))
			continue;
		if (de->d_type != DT_REG && de->d_type != DT_UNKNOWN) {
			inv_file(r);
			continue;
		}
		cron_file(r, dirfd(d), dir, de->d_name, type, named_user ? de->d_name : NULL);
	}
	closedir(d);
}

/* System crontabs (/etc/crontab, /etc/anacrontab, /etc/cron.d), the scripts of
 * /etc/cron.{hourly,daily,weekly,monthly}, and per-user crontabs (Debian's
 * /var/spool/cron/crontabs, Red Hat's /var/spool/cron): path, sha256 and number of jobs. */
void inv_scan_cron(struct inv_run *r)
{
	static const char *const scripts[] = {"/etc/cron.hourly", "/etc/cron.daily",
					      "/etc/cron.weekly", "/etc/cron.monthly"};
	cron_file(r, AT_FDCWD, "", "/etc/crontab", "system", NULL);
	cron_file(r, AT_FDCWD, "", "/etc/anacrontab", "system", NULL);
	cron_dir(r, "/etc/cron.d", "system", false);
	cron_dir(r, "/var/spool/cron/crontabs", "user", true);
	cron_dir(r, "/var/spool/cron", "user", true); /* its subdirectories are skipped */
	for (size_t i = 0; i < sizeof(scripts) / sizeof(scripts[0]); i++)
		cron_dir(r, scripts[i], "script", false);
}

static void unit_dir(struct inv_run *r, int base, const char *scope, const char *basepath,
		     const char *dname)
{
	static const char *const deps[] = {".wants", ".requires", ".upholds"};
	size_t nl = strlen(dname);
	const char *dep = NULL;
	for (size_t i = 0; i < 3 && !dep; i++) {
		size_t sl = strlen(deps[i]);
		if (nl > sl && !strcmp(dname + nl - sl, deps[i]))
			dep = deps[i];
	}
	if (!dep)
		return;
	int fd = openat(base, dname, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	if (!d) {
		if (fd >= 0)
			close(fd);
		return;
	}
	struct dirent *de;
	while ((de = readdir(d)) && inv_file(r)) {
		if (de->d_name[0] == '.')
			continue;
		char target[PATH_MAX] = "";
		ssize_t tl = readlinkat(dirfd(d), de->d_name, target, sizeof(target) - 1);
		target[tl > 0 ? tl : 0] = 0;
		char link[PATH_MAX];
		snprintf(link, sizeof(link), "%s/%s/%s", basepath, dname, de->d_name);
		struct jbuf *b = inv_item_begin(r);
		jb_kcstr(b, "unit", de->d_name);
		jb_kstr(b, "wanted_by", dname, nl - strlen(dep));
		jb_kcstr(b, "dependency", dep + 1);
		jb_kcstr(b, "scope", scope);
		jb_kcstr(b, "path", link);
		jb_kcstr(b, "target", tl > 0 ? target : NULL);
		if (!inv_item_end(r, INV_UNIT))
			break;
	}
	closedir(d);
}

/* Units enabled by the administrator: the entries of /etc/systemd/{system,user}/X.wants,
 * .requires and .upholds (what systemctl enable makes). */
void inv_scan_units(struct inv_run *r)
{
	static const char *const bases[][2] = {{"/etc/systemd/system", "system"},
					       {"/etc/systemd/user", "user"}};
	for (size_t i = 0; i < 2 && !inv_over(r); i++) {
		int fd = open(bases[i][0], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
		if (!d) {
			if (fd >= 0)
				close(fd);
			continue;
		}
		struct dirent *de;
		while ((de = readdir(d)) && inv_file(r))
			if (de->d_type == DT_DIR || de->d_type == DT_UNKNOWN)
				unit_dir(r, dirfd(d), bases[i][1], bases[i][0], de->d_name);
		closedir(d);
	}
}

static void setid_item(struct inv_run *r, const char *path, const struct stat *st)
{
	char mode[8];
	snprintf(mode, sizeof(mode), "%04o", (unsigned)(st->st_mode & 07777));
	struct jbuf *b = inv_item_begin(r);
	jb_kcstr(b, "path", path);
	jb_ktrusted(b, "mode", mode);
	jb_kbool(b, "setuid", st->st_mode & S_ISUID);
	jb_kbool(b, "setgid", st->st_mode & S_ISGID);
	jb_ku64(b, "uid", st->st_uid);
	jb_ku64(b, "gid", st->st_gid);
	jb_ku64(b, "size", (uint64_t)st->st_size);
	jb_ki64(b, "mtime", (int64_t)st->st_mtim.tv_sec);
	inv_item_end(r, INV_SETID);
}

/* The directory open at fd (path of len pl in path): its set-id regular files, then its
 * subdirectories on the same device. */
static void walk(struct inv_run *r, int fd, char *path, size_t pl, dev_t dev, int depth)
{
	DIR *d = fdopendir(fd);
	if (!d) {
		close(fd);
		return;
	}
	struct dirent *de;
	while ((de = readdir(d)) && inv_file(r)) {
		const char *n = de->d_name;
		if (n[0] == '.' && (!n[1] || (n[1] == '.' && !n[2])))
			continue;
		if (de->d_type != DT_REG && de->d_type != DT_DIR && de->d_type != DT_UNKNOWN)
			continue; /* symlinks, devices, sockets: never set-id files to run */
		struct stat st;
		if (fstatat(dirfd(d), n, &st, AT_SYMLINK_NOFOLLOW))
			continue;
		size_t nl = strlen(n);
		if (pl + 1 + nl >= PATH_MAX)
			continue;
		path[pl] = '/';
		memcpy(path + pl + 1, n, nl + 1);
		if (S_ISREG(st.st_mode) && (st.st_mode & (S_ISUID | S_ISGID)))
			setid_item(r, path, &st);
		else if (S_ISDIR(st.st_mode) && st.st_dev == dev && depth < INV_WALK_DEPTH) {
			int sub = openat(dirfd(d), n,
					 O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (sub >= 0)
				walk(r, sub, path, pl + 1 + nl, dev, depth + 1);
		}
		path[pl] = 0;
	}
	closedir(d);
}

/* Set-id regular files under the standard directories, each walked on its own file system;
 * a directory that is a symlink (/bin -> usr/bin) or already walked is skipped. */
void inv_scan_setid(struct inv_run *r)
{
	static const char *const roots[] = {"/usr",    "/bin", "/sbin", "/lib",  "/lib32", "/lib64",
					    "/libx32", "/opt", "/etc",  "/boot", "/srv"};
	struct {
		dev_t dev;
		ino_t ino;
	} seen[sizeof(roots) / sizeof(roots[0])];
	size_t nseen = 0;
	char *path = r->walk_path; /* PATH_MAX, the run's: not on the worker's stack */
	for (size_t i = 0; i < sizeof(roots) / sizeof(roots[0]) && !inv_over(r); i++) {
		struct stat st;
		if (lstat(roots[i], &st) || !S_ISDIR(st.st_mode))
			continue;
		bool dup = false;
		for (size_t j = 0; j < nseen; j++)
			dup |= seen[j].dev == st.st_dev && seen[j].ino == st.st_ino;
		if (dup)
			continue;
		seen[nseen].dev = st.st_dev;
		seen[nseen++].ino = st.st_ino;
		int fd = open(roots[i], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0)
			continue;
		size_t pl = strlen(roots[i]);
		memcpy(path, roots[i], pl + 1);
		walk(r, fd, path, pl, st.st_dev, 0);
	}
}

static int b64_val(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	return c == '+' ? 62 : c == '/' ? 63 : -1;
}

/* base64 (with or without padding) into out; its length, or -1 */
static long b64_decode(const char *s, size_t n, unsigned char *out, size_t cap)
{
	uint32_t acc = 0;
	int bits = 0;
	size_t o = 0;
	while (n && s[n - 1] == '=')
		n--;
	for (size_t i = 0; i < n; i++) {
		int v = b64_val((unsigned char)s[i]);
		if (v < 0)
			return -1;
		acc = acc << 6 | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (o == cap)
				return -1;
			out[o++] = (unsigned char)(acc >> bits);
		}
	}
	return (long)o;
}

static void b64_encode_nopad(const unsigned char *p, size_t n, char *out)
{
	static const char t[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t o = 0;
	uint32_t acc = 0;
	int bits = 0;
	for (size_t i = 0; i < n; i++) {
		acc = acc << 8 | p[i];
		bits += 8;
		while (bits >= 6) {
			bits -= 6;
			out[o++] = t[(acc >> bits) & 63];
		}
	}
	if (bits)
		out[o++] = t[(acc << (6 - bits)) & 63];
	out[o] = 0;
}

static bool key_type_ok(const char *s, size_t n)
{
	static const char *const pre[] = {"ssh-", "ecdsa-sha2-", "sk-ssh-", "sk-ecdsa-"};
	for (size_t i = 0; i < sizeof(pre) / sizeof(pre[0]); i++)
		if (n > strlen(pre[i]) && !strncmp(s, pre[i], strlen(pre[i])))
			return true;
	return false;
}

/* The end of the word at s (options may hold quoted blanks: command="a b") */
static size_t word_end(const char *s, size_t i, size_t n, bool quotes)
{
	bool q = false;
	for (; i < n; i++) {
		if (quotes && s[i] == '"' && (i == 0 || s[i - 1] != '\\'))
			q = !q;
		else if (!q && (s[i] == ' ' || s[i] == '\t'))
			break;
	}
	return i;
}

static size_t skip_blank(const char *s, size_t i, size_t n)
{
	while (i < n && (s[i] == ' ' || s[i] == '\t'))
		i++;
	return i;
}

bool inv_parse_key(const char *line, size_t n, struct inv_key *k)
{
	memset(k, 0, sizeof(*k));
	k->comment = "";
	while (n && (line[n - 1] == '\r' || line[n - 1] == ' ' || line[n - 1] == '\t'))
		n--;
	size_t i = skip_blank(line, 0, n);
	if (i == n || line[i] == '#')
		return false;
	size_t e = word_end(line, i, n, false);
	if (!key_type_ok(line + i, e - i)) { /* options first */
		k->options = true;
		i = skip_blank(line, word_end(line, i, n, true), n);
		e = word_end(line, i, n, false);
		if (!key_type_ok(line + i, e - i))
			return false;
	}
	if (e - i >= sizeof(k->type))
		return false;
	memcpy(k->type, line + i, e - i);
	size_t bs = skip_blank(line, e, n), be = word_end(line, bs, n, false);
	unsigned char blob[16384];
	long bl = b64_decode(line + bs, be - bs, blob, sizeof(blob));
	size_t tl = strlen(k->type);
	/* the blob starts with its own type as an SSH string: a line of other words is no key */
	if (bl < 4 || (size_t)bl < 4 + tl ||
	    ((uint32_t)blob[0] << 24 | (uint32_t)blob[1] << 16 | (uint32_t)blob[2] << 8 |
	     blob[3]) != tl ||
	    memcmp(blob + 4, k->type, tl))
		return false;
	uint8_t md[32];
	hw_sha256(blob, (size_t)bl, md);
	memcpy(k->fp, "SHA256:", 7);
	b64_encode_nopad(md, 32, k->fp + 7);
	size_t cs = skip_blank(line, be, n);
	k->comment = line + cs;
	k->comment_len = n - cs;
	return true;
}
