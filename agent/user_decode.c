/* user_decode.c - decoders of the user family: user.shell, user.auth, file.* (see
 * docs/events-user.md), and the agent-internal "new binary" record. Every offset and length in
 * a record is checked against the record's size before use. */
#include "agent/user.h"
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "herdwatch.skel.h"
#include <stdio.h>
#include <sys/syscall.h>
#include <string.h>

static bool ustr_ok(const struct hw_str *s, size_t len)
{
	return (size_t)s->off + s->len <= len;
}

static const char *ustr(const void *rec, const struct hw_str *s)
{
	return (const char *)rec + s->off;
}

/* A NUL-padded fixed field. */
static void put_fixed(struct jbuf *b, const char *k, const char *s, size_t max)
{
	size_t n = strnlen(s, max);
	jb_key(b, k);
	if (n)
		jb_str(b, s, n);
	else
		jb_null(b);
}

int decode_shell(struct agent *a, const void *rec, size_t len)
{
	const struct hw_shell *e = rec;
	struct jbuf *b = &a->jb;

	if (len < sizeof(*e) || !ustr_ok(&e->line, len) || !ustr_ok(&e->tty, len) ||
	    !ustr_ok(&e->cwd, len) || !ustr_ok(&e->exe, len))
		return -EINVAL;
	emit_event(a, "user.shell", &e->hdr, "shell");
	jb_kstr(b, "line", ustr(rec, &e->line), e->line.len);
	jb_key(b, "shell");
	if (e->exe.len)
		jb_str(b, ustr(rec, &e->exe), e->exe.len);
	else
		jb_null(b);
	jb_key(b, "tty");
	if (e->tty.len)
		jb_str(b, ustr(rec, &e->tty), e->tty.len);
	else
		jb_null(b);
	jb_kstr(b, "cwd", ustr(rec, &e->cwd), e->cwd.len);
	jb_kbool(b, "truncated", e->hdr.flags & HW_F_TRUNC_ARGS);
	if (e->pad & 1)
		jb_kbool(b, "entry_missed", true); /* taken at rl_deprep_terminal, see user.bpf.c */
	emit_event_end(a);
	return 0;
}

static const char *pam_err[] = {
	"PAM_SUCCESS",
	"PAM_OPEN_ERR",
	"PAM_SYMBOL_ERR",
	"PAM_SERVICE_ERR",
	"PAM_SYSTEM_ERR",
	"PAM_BUF_ERR",
	"PAM_PERM_DENIED",
	"PAM_AUTH_ERR",
	"PAM_CRED_INSUFFICIENT",
	"PAM_AUTHINFO_UNAVAIL",
	"PAM_USER_UNKNOWN",
	"PAM_MAXTRIES",
	"PAM_NEW_AUTHTOK_REQD",
	"PAM_ACCT_EXPIRED",
	"PAM_SESSION_ERR",
	"PAM_CRED_UNAVAIL",
	"PAM_CRED_EXPIRED",
	"PAM_CRED_ERR",
	"PAM_NO_MODULE_DATA",
	"PAM_CONV_ERR",
	"PAM_AUTHTOK_ERR",
	"PAM_AUTHTOK_RECOVERY_ERR",
	"PAM_AUTHTOK_LOCK_BUSY",
	"PAM_AUTHTOK_DISABLE_AGING",
	"PAM_TRY_AGAIN",
	"PAM_IGNORE",
	"PAM_ABORT",
	"PAM_AUTHTOK_EXPIRED",
	"PAM_MODULE_UNKNOWN",
	"PAM_BAD_ITEM",
	"PAM_CONV_AGAIN",
	"PAM_INCOMPLETE",
};

static const char *pam_step(uint32_t s)
{
	switch (s) {
	case HW_PAM_AUTHENTICATE:
		return "authenticate";
	case HW_PAM_ACCT_MGMT:
		return "account";
	case HW_PAM_OPEN_SESSION:
		return "open_session";
	case HW_PAM_CLOSE_SESSION:
		return "close_session";
	case HW_PAM_CHAUTHTOK:
		return "chauthtok";
	default:
		return "unknown";
	}
}

/*
 * sudo: the command and the target user, from the sudo process's own argv (the process table),
 * on each of its user.auth events. With `Defaults use_pty` (Debian's default) the command's
 * parent is a second sudo process (the pty monitor), not the one that ran PAM: the exec's
 * parent no longer links the two, the command on the auth event does.
 */
static void put_sudo_command(struct agent *a, uint32_t pid)
{
	struct jbuf *b = &a->jb;
	struct proc *p = proctab_get(&a->pt, pid);
	const char *runas = NULL, *av[64];
	size_t n = 0;

	if (p && p->args) {
		for (uint32_t off = 0; off < p->args_len && n < 64;) {
			size_t l = strnlen(p->args + off, p->args_len - off);
			av[n++] = p->args + off;
			off += l + 1;
		}
		if (n && p->args[p->args_len - 1] != 0)
			n--; /* the last one was cut: not NUL-terminated */
	}
	static const char *const longs[] = {
		"--user", "--group", "--host",       "--prompt",          "--close-from", "--chdir",
		"--role", "--type",  "--other-user", "--command-timeout", "--chroot"};
	size_t i = 1;
	for (; i < n; i++) {
		const char *o = av[i];
		if (!strcmp(o, "--")) {
			i++;
			break;
		}
		if (o[0] != '-' || !o[1])
			break;
		if (o[1] == '-') { /* --opt=value, --opt value, --flag */
			if (!strncmp(o, "--user=", 7))
				runas = o + 7;
			if (strchr(o, '='))
				continue;
			for (size_t k = 0; k < sizeof(longs) / sizeof(longs[0]); k++) {
				if (strcmp(o, longs[k]))
					continue;
				if (i + 1 < n && k == 0)
					runas = av[i + 1];
				i++;
				break;
			}
			continue;
		}
		/* a cluster (-Sk, -uroot, -S -u root): the first letter taking a value takes the
		 * rest of the cluster, or the next argument */
		for (const char *c = o + 1; *c; c++) {
			if (!strchr("ugpCDrtUTR", *c))
				continue;
			const char *v = c[1] ? c + 1 : (i + 1 < n ? av[++i] : NULL);
			if (*c == 'u' && v)
				runas = v;
			break;
		}
	}
	jb_key(b, "sudo_command");
	if (i < n) {
		jb_arr_begin(b);
		for (; i < n; i++)
			jb_str(b, av[i], strlen(av[i]));
		jb_arr_end(b);
	} else {
		jb_null(b);
	}
	jb_kcstr(b, "sudo_runas", p && p->args ? (runas ? runas : "root") : NULL);
}

int decode_auth(struct agent *a, const void *rec, size_t len)
{
	const struct hw_auth *e = rec;
	const struct hw_pam_items *it = &e->items;
	struct jbuf *b = &a->jb;
	char tmp[32];

	/* the fixed-size items are read in place: a short record is refused, not read past */
	if (len < sizeof(*e))
		return -EINVAL;
	emit_event(a, "user.auth", &e->hdr, "auth");
	put_fixed(b, "service", it->service, sizeof(it->service));
	put_fixed(b, "user", it->user, sizeof(it->user));
	put_fixed(b, "ruser", it->ruser, sizeof(it->ruser));
	put_fixed(b, "rhost", it->rhost, sizeof(it->rhost));
	put_fixed(b, "tty", it->tty, sizeof(it->tty));
	jb_kcstr(b, "step", pam_step(e->step));
	if (e->result == 0) {
		jb_kcstr(b, "result", "success");
	} else if (e->result > 0 && e->result < (int)(sizeof(pam_err) / sizeof(pam_err[0]))) {
		jb_kcstr(b, "result", pam_err[e->result]);
	} else {
		snprintf(tmp, sizeof(tmp), "PAM_ERROR_%d", e->result);
		jb_kcstr(b, "result", tmp);
	}
	jb_ki64(b, "code", e->result);
	snprintf(tmp, sizeof(tmp), "0x%llx", (unsigned long long)e->handle);
	jb_kcstr(b, "handle", tmp);
	if (!strncmp(it->service, "sudo", sizeof(it->service)))
		put_sudo_command(a, e->hdr.pid);
	emit_event_end(a);
	return 0;
}

static const char *op_name(uint32_t op)
{
	switch (op) {
	case HW_FOP_READ:
		return "read";
	case HW_FOP_WRITE:
		return "write";
	case HW_FOP_TRUNCATE:
		return "truncate";
	case HW_FOP_UNLINK:
		return "unlink";
	case HW_FOP_RENAME:
		return "rename";
	case HW_FOP_CHMOD:
		return "chmod";
	case HW_FOP_SETCAP:
		return "setcap";
	case HW_FOP_CHOWN:
		return "chown";
	case HW_FOP_LINK:
		return "link";
	default:
		return "unknown";
	}
}

/* The syscall behind a file event, by this architecture's numbers (the agent is built for the
 * architecture it runs on; the calls only older ABIs have are left out where the headers lack
 * them, as on arm64). */
#define SYSNAME(n)                                                                                 \
	{                                                                                          \
		__NR_##n, #n                                                                       \
	}
static const struct {
	long nr;
	const char *name;
} sysnames[] = {
#ifdef __NR_open
	SYSNAME(open),      SYSNAME(creat),     SYSNAME(unlink),    SYSNAME(rmdir),
	SYSNAME(rename),    SYSNAME(chmod),     SYSNAME(chown),     SYSNAME(lchown),
	SYSNAME(link),      SYSNAME(symlink),
#endif
	SYSNAME(openat),    SYSNAME(openat2),   SYSNAME(unlinkat),  SYSNAME(renameat),
	SYSNAME(renameat2), SYSNAME(setxattr),  SYSNAME(lsetxattr), SYSNAME(fsetxattr),
	SYSNAME(fchmod),    SYSNAME(fchmodat),  SYSNAME(fchown),    SYSNAME(fchownat),
	SYSNAME(truncate),  SYSNAME(ftruncate), SYSNAME(linkat),    SYSNAME(symlinkat),
#ifdef __NR_fchmodat2
	SYSNAME(fchmodat2),
#else
	{452, "fchmodat2"}, /* the same number on every architecture; older headers lack it */
#endif
};

static const char *sys_name(uint32_t nr)
{
	for (size_t i = 0; i < sizeof(sysnames) / sizeof(sysnames[0]); i++)
		if (sysnames[i].nr == (long)nr)
			return sysnames[i].name;
	return "unknown";
}

static bool sys_is(uint32_t nr, const char *name)
{
	return !strcmp(sys_name(nr), name);
}

static void put_open_flags(struct jbuf *b, uint32_t f)
{
	static const struct {
		uint32_t bit;
		const char *name;
	} fl[] = {{01, "O_WRONLY"},        {02, "O_RDWR"},           {0100, "O_CREAT"},
		  {0200, "O_EXCL"},        {01000, "O_TRUNC"},       {02000, "O_APPEND"},
		  {04000, "O_NONBLOCK"},   {0200000, "O_DIRECTORY"}, {0400000, "O_NOFOLLOW"},
		  {02000000, "O_CLOEXEC"}, {010000000, "O_PATH"},    {020000000, "O_TMPFILE"}};
	jb_key(b, "flags_names");
	jb_arr_begin(b);
	if ((f & 03) == 0)
		jb_cstr(b, "O_RDONLY");
	for (size_t i = 0; i < sizeof(fl) / sizeof(fl[0]); i++)
		if ((f & fl[i].bit) == fl[i].bit)
			jb_cstr(b, fl[i].name);
	jb_arr_end(b);
}

/* Files a process opened under a watch rule, with the key the kernel folds repeats under
 * (bpf/file.bpf.c: hwf_repeats), so the count left at exit can be reported. Bounded; when full
 * the oldest entry goes (its final count is then only in the kernel map, counted below). The
 * table is struct agent's freps: made by file_repeats_init, freed by file_repeats_free (the
 * user row of agent/family.c, which decodes the file family's records). */
#define FREP_MAX 1024
struct frep {
	uint32_t pid, dev, op, rule, type;
	uint64_t ino;
	char *path;
	struct hw_hdr hdr; /* the first open's: who, if its repeats are reported before the exit */
};
struct file_repeats {
	struct frep r[FREP_MAX];
	unsigned n;
	uint64_t evicted;
};

int file_repeats_init(struct agent *a)
{
	a->freps = calloc(1, sizeof(*a->freps));
	return a->freps ? 0 : -ENOMEM;
}

void file_repeats_free(struct agent *a)
{
	struct file_repeats *fr = a->freps;
	for (unsigned i = 0; fr && i < fr->n; i++)
		free(fr->r[i].path);
	free(fr);
	a->freps = NULL;
}

/* The kernel's key of a table entry's repeats (hwf_repeats). */
struct frep_key {
	uint64_t ino;
	uint32_t dev, tgid, op, rule;
};
struct frep_val {
	uint64_t ts, count;
};

static void frep_key_of(const struct frep *r, struct frep_key *k)
{
	memset(k, 0, sizeof(*k));
	k->ino = r->ino;
	k->dev = r->dev;
	k->tgid = r->pid;
	k->op = r->op;
	k->rule = r->rule;
}

/* The summary of an entry's folded opens (count of them), blamed on h. */
static void frep_emit(struct agent *a, const struct frep *r, const struct hw_hdr *h, uint64_t count)
{
	struct jbuf *b = &a->jb;
	emit_event(a, kind_name(r->type), h, "file");
	jb_kcstr(b, "op", op_name(r->op));
	jb_kcstr(b, "path", r->path);
	jb_ki64(b, "result", 0);
	jb_kcstr(b, "watch", r->rule != 0xffff ? file_rule_name(a, r->rule) : NULL);
	jb_ku64(b, "repeats", count);
	jb_kbool(b, "summary", true);
	emit_event_end(a);
}

/* An entry pushed out of the full table, its process still running: what it folded so far is
 * reported now and the kernel's entry taken away in the same step (lookup and delete), so
 * that no count is left behind for an exit that would not find it; the next open of that file
 * by that process is reported afresh. */
static void frep_evict(struct agent *a, const struct frep *r)
{
	int fd = a->skel ? bpf_map__fd(a->skel->maps.hwf_repeats) : -1;
	struct frep_key key;
	struct frep_val val;

	frep_key_of(r, &key);
	if (fd < 0 || bpf_map_lookup_and_delete_elem(fd, &key, &val) || !val.count)
		return;
	struct hw_hdr h = r->hdr;
	h.ts = 0; /* reported now: emit_begin reads the clock */
	frep_emit(a, r, &h, val.count);
}

static void frep_note(struct agent *a, const struct hw_file *e, const char *path, size_t plen)
{
	struct file_repeats *fr = a->freps;
	struct stat st;
	char p[4096];
	if (!fr || e->result < 0 || plen >= sizeof(p))
		return;
	memcpy(p, path, plen);
	p[plen] = 0;
	if (stat(p, &st))
		return;
	/* the kernel's s_dev encoding: major << 20 | minor */
	uint32_t kdev = (uint32_t)major(st.st_dev) << 20 | minor(st.st_dev);
	for (unsigned i = 0; i < fr->n; i++)
		if (fr->r[i].pid == e->hdr.pid && fr->r[i].ino == st.st_ino &&
		    fr->r[i].dev == kdev && fr->r[i].op == e->op && fr->r[i].rule == e->rule)
			return;
	if (fr->n == FREP_MAX) {
		frep_evict(a, &fr->r[0]);
		free(fr->r[0].path);
		memmove(&fr->r[0], &fr->r[1], (FREP_MAX - 1) * sizeof(fr->r[0]));
		fr->n--;
		fr->evicted++;
	}
	char *dup = strdup(p);
	if (!dup)
		return;
	fr->r[fr->n++] = (struct frep){.pid = e->hdr.pid,
				       .dev = kdev,
				       .op = e->op,
				       .rule = e->rule,
				       .type = e->hdr.type,
				       .ino = st.st_ino,
				       .path = dup,
				       .hdr = e->hdr};
}

void file_flush_repeats(struct agent *a, const struct hw_hdr *h)
{
	struct frep_key key;
	struct frep_val val;
	struct file_repeats *fr = a->freps;
	if (!fr || !fr->n)
		return; /* the usual case: nothing folded (and the skeleton not touched) */
	int fd = a->skel ? bpf_map__fd(a->skel->maps.hwf_repeats) : -1;
	for (unsigned i = 0; i < fr->n;) {
		struct frep *r = &fr->r[i];
		if (r->pid != h->pid) {
			i++;
			continue;
		}
		frep_key_of(r, &key);
		if (fd >= 0 && bpf_map_lookup_elem(fd, &key, &val) == 0) {
			if (val.count)
				frep_emit(a, r, h, val.count);
			bpf_map_delete_elem(fd, &key);
		}
		free(r->path);
		*r = fr->r[--fr->n];
	}
}

int decode_file(struct agent *a, const void *rec, size_t len)
{
	const struct hw_file *e = rec;
	struct jbuf *b = &a->jb;
	char tmp[32];
	bool link = e->op == HW_FOP_LINK;
	const struct hw_str *path = &e->path, *target = &e->target;
	unsigned prule = e->rule, trule = e->trule;

	if (!ustr_ok(&e->path, len) || !ustr_ok(&e->target, len))
		return -EINVAL;
	/* link(existing, new) / symlink(target, new): "path" is the new link, "target" what it
	 * points to. rename(old, new): "path" is the old name, "target" the new one. */
	if (link) {
		path = &e->target;
		target = &e->path;
		prule = e->trule;
		trule = e->rule;
	}
	if (e->hdr.type == HW_EV_FILE_OPEN || e->hdr.type == HW_EV_FILE_TRUNCATE)
		frep_note(a, e, ustr(rec, path), path->len);
	emit_event(a, kind_name(e->hdr.type), &e->hdr, "file");
	jb_kcstr(b, "op", op_name(e->op));
	jb_kcstr(b, "syscall", sys_name(e->sysnr));
	jb_kstr(b, "path", ustr(rec, path), path->len);
	jb_key(b, "target");
	if (target->len)
		jb_str(b, ustr(rec, target), target->len);
	else
		jb_null(b);
	jb_ki64(b, "result", e->result);
	if (e->result < 0) {
		const char *en = strerrorname_np(-e->result);
		jb_kcstr(b, "error", en ? en : "unknown");
	}
	jb_kcstr(b, "watch", prule != 0xffff ? file_rule_name(a, prule) : NULL);
	if (trule != 0xffff)
		jb_kcstr(b, "target_watch", file_rule_name(a, trule));
	if (e->hdr.type == HW_EV_FILE_OPEN ||
	    (e->hdr.type == HW_EV_FILE_TRUNCATE &&
	     (sys_is(e->sysnr, "open") || sys_is(e->sysnr, "openat") ||
	      sys_is(e->sysnr, "openat2") || sys_is(e->sysnr, "creat")))) {
		jb_ku64(b, "flags", e->flags);
		put_open_flags(b, e->flags);
	} else if (e->flags) {
		jb_ku64(b, "flags", e->flags);
	}
	if (e->op == HW_FOP_CHMOD || ((e->flags & 0100) && e->mode)) {
		snprintf(tmp, sizeof(tmp), "%04o", e->mode & 07777);
		jb_kcstr(b, "mode", tmp);
	}
	if (e->op == HW_FOP_CHMOD) {
		jb_kbool(b, "setuid", e->mode & 04000);
		jb_kbool(b, "setgid", e->mode & 02000);
	}
	if (e->op == HW_FOP_SETCAP) {
		/* the value as written: VFS_CAP_REVISION_* in the top byte, VFS_CAP_FLAGS_EFFECTIVE */
		jb_key(b, "caps");
		put_caps(b, (uint64_t)e->gid << 32 | e->uid);
		jb_kbool(b, "effective", e->mode & 1);
		jb_ku64(b, "caps_revision", e->mode >> 24);
	}
	if (e->op == HW_FOP_CHOWN) {
		jb_key(b, "uid");
		if (e->uid == 0xffffffff)
			jb_null(b);
		else
			jb_u64(b, e->uid);
		jb_key(b, "gid");
		if (e->gid == 0xffffffff)
			jb_null(b);
		else
			jb_u64(b, e->gid);
	}
	if (e->pflags & HW_FP_FMODE) {
		snprintf(tmp, sizeof(tmp), "%06o", e->fmode & 0177777);
		jb_kcstr(b, "file_mode", tmp);
	}
	jb_kbool(b, "resolved", e->pflags & HW_FP_FROM_FILE);
	if (e->op == HW_FOP_UNLINK)
		jb_kbool(b, "dir",
			 sys_is(e->sysnr, "rmdir") ||
				 (sys_is(e->sysnr, "unlinkat") && (e->flags & AT_REMOVEDIR)));
	if ((e->pflags & HW_FP_FROM_FILE) && (e->flags & 0100) &&
	    (e->hdr.type == HW_EV_FILE_OPEN || e->hdr.type == HW_EV_FILE_TRUNCATE))
		jb_kbool(b, "created", e->pflags & HW_FP_CREATED);
	if (e->pflags & HW_FP_NSPATH) {
		/* the path is the one the process sees in its own mount namespace */
		jb_ku64(b, "mnt_ns", e->mntns);
		jb_kbool(b, "ns_path", true);
	}
	if (e->repeats)
		jb_ku64(b, "repeats", e->repeats);
	if (e->pflags & HW_FP_TRUNC)
		jb_kbool(b, "path_truncated", true);
	emit_event_end(a);
	return 0;
}

int decode_user_bin(struct agent *a, const void *rec, size_t len)
{
	const struct hw_user_bin *e = rec;
	user_new_binary(a, e->hdr.pid, e->dev, e->ino, e->pad);
	(void)len;
	return 0;
}
