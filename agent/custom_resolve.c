// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * custom_resolve.c - a custom probe's declaration (config `custom_probes:` or the control
 * socket's `custom add`) checked and turned into what the BPF side needs: the target resolved
 * (a tracepoint's format file under tracefs, or a binary's ELF symbol for a uprobe), each
 * captured field's offset, size and kind, the filters and the scope, as a struct hw_cp_spec
 * (common/abi_custom.h) and the decoding of its events. Touches no map and attaches nothing
 * (custom.c does): a declaration that cannot be resolved gets a reason in words.
 */
#include "agent/agent.h"
#include "agent/custom.h"
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static bool name_ok(const char *n)
{
	if (!n || !*n || strlen(n) > 48)
		return false;
	for (; *n; n++)
		if (!isalnum((unsigned char)*n) && *n != '_')
			return false;
	return true;
}

/* One field of a tracepoint format file. */
struct tp_field {
	char name[64];
	char type[128];
	unsigned off, size;
	bool is_signed;
	int array; /* N of name[N], 0 if not an array */
};

static int tp_format(const char *cat, const char *ev, struct tp_field *out, int max, char *err,
		     size_t errlen)
{
	char path[512], line[512];
	const char *roots[] = {"/sys/kernel/tracing/events", "/sys/kernel/debug/tracing/events"};
	FILE *f = NULL;
	int n = 0;

	for (int r = 0; r < 2 && !f; r++) {
		snprintf(path, sizeof(path), "%s/%s/%s/format", roots[r], cat, ev);
		f = fopen(path, "re");
	}
	if (!f) {
		snprintf(err, errlen, "tracepoint %s:%s does not exist (no %s)", cat, ev, path);
		return -ENOENT;
	}
	while (fgets(line, sizeof(line), f) && n < max) {
		char decl[256];
		unsigned off, size;
		int sgn;
		if (sscanf(line, " field:%255[^;]; offset:%u; size:%u; signed:%d;", decl, &off,
			   &size, &sgn) != 4)
			continue;
		struct tp_field *t = &out[n];
		memset(t, 0, sizeof(*t));
		char *name = strrchr(decl, ' ');
		if (!name)
			continue;
		*name++ = 0;
		char *br = strchr(name, '[');
		if (br) {
			t->array = atoi(br + 1);
			*br = 0;
		}
		snprintf(t->name, sizeof(t->name), "%s", name);
		snprintf(t->type, sizeof(t->type), "%s", decl);
		t->off = off;
		t->size = size;
		t->is_signed = sgn;
		if (!strncmp(t->name, "common_", 7))
			continue;
		n++;
	}
	fclose(f);
	return n;
}

/* Width and sign of a C integer type as tracepoint formats spell it (0 if not recognised).
 * Needed for syscalls:* arguments, which the format lists as 8-byte unsigned slots whatever
 * the argument's type. */
static unsigned ctype_size(const char *type, bool *sgn)
{
	static const struct {
		const char *t;
		unsigned size;
		bool sgn;
	} tab[] = {
		{"char", 1, true},
		{"unsigned char", 1, false},
		{"bool", 1, false},
		{"short", 2, true},
		{"unsigned short", 2, false},
		{"umode_t", 2, false},
		{"int", 4, true},
		{"unsigned int", 4, false},
		{"unsigned", 4, false},
		{"pid_t", 4, true},
		{"uid_t", 4, false},
		{"gid_t", 4, false},
		{"qid_t", 4, false},
		{"key_serial_t", 4, true},
		{"clockid_t", 4, true},
		{"mqd_t", 4, true},
		{"rwf_t", 4, true},
		{"key_t", 4, true},
		{"timer_t", 4, true},
		{"long", 8, true},
		{"long int", 8, true},
		{"unsigned long", 8, false},
		{"long long", 8, true},
		{"unsigned long long", 8, false},
		{"size_t", 8, false},
		{"ssize_t", 8, true},
		{"off_t", 8, true},
		{"loff_t", 8, true},
		{"aio_context_t", 8, false},
		{"time_t", 8, true},
	};
	char t[128];
	const char *p = type;
	if (!strncmp(p, "const ", 6))
		p += 6;
	snprintf(t, sizeof(t), "%s", p);
	if ((!strncmp(t, "u", 1) || !strncmp(t, "s", 1) || !strncmp(t, "__u", 3) ||
	     !strncmp(t, "__s", 3)) &&
	    isdigit((unsigned char)t[strlen(t) - 1])) { /* u8 .. u64, __s32 ... */
		const char *d = t + strcspn(t, "0123456789");
		unsigned bits = atoi(d);
		if ((bits == 8 || bits == 16 || bits == 32 || bits == 64) &&
		    (d == t + 1 || d == t + 3)) {
			*sgn = d[-1] == 's';
			return bits / 8;
		}
	}
	for (size_t i = 0; i < sizeof(tab) / sizeof(tab[0]); i++)
		if (!strcmp(t, tab[i].t)) {
			*sgn = tab[i].sgn;
			return tab[i].size;
		}
	return 0;
}

static int resolve_tp(const struct hw_custom_def *d, struct hw_cp_spec *sp, struct custom_probe *cp,
		      char *cat, char *ev, char *err, size_t errlen)
{
	struct tp_field fl[64];
	int nf;
	const char *colon = strchr(d->target, ':');
	if (!colon || colon == d->target || !colon[1] || strchr(colon + 1, '/') ||
	    strchr(d->target, '/') || strstr(d->target, "..")) {
		snprintf(err, errlen, "tracepoint '%s' must be category:name", d->target);
		return -EINVAL;
	}
	snprintf(cat, 64, "%.*s", (int)(colon - d->target), d->target);
	snprintf(ev, 128, "%s", colon + 1);
	nf = tp_format(cat, ev, fl, 64, err, errlen);
	if (nf < 0)
		return nf;
	bool syscall = !strcmp(cat, "syscalls");
	for (size_t i = 0; i < d->ncap; i++) {
		const struct hw_custom_capture *c = &d->cap[i];
		struct hw_cp_field *f = &sp->f[i];
		int k;
		for (k = 0; k < nf; k++)
			if (!strcmp(fl[k].name, c->name))
				break;
		if (k == nf) {
			char known[400] = "";
			for (int j = 0; j < nf; j++) {
				size_t l = strlen(known);
				snprintf(known + l, sizeof(known) - l, "%s%s", j ? ", " : "",
					 fl[j].name);
			}
			snprintf(err, errlen,
				 "field '%s' is not in the format of %s:%s (fields: %s)", c->name,
				 cat, ev, known);
			return -ENOENT;
		}
		const struct tp_field *t = &fl[k];
		bool is_char = strstr(t->type, "char") != NULL;
		int stars = 0;
		for (const char *q = t->type; *q; q++)
			stars += *q == '*';
		f->src = HW_CP_SRC_TP;
		f->off = t->off;
		f->size = t->size;
		f->maxlen = c->max ? c->max : 255;
		if (strstr(t->type, "__data_loc")) {
			if (!is_char) {
				snprintf(err, errlen,
					 "'%s' is an array (%s): only strings and integers can be "
					 "captured",
					 c->name, t->type);
				return -EINVAL;
			}
			f->kind = HW_CP_KSTR;
		} else if (t->array) {
			if (!is_char || stars) {
				snprintf(err, errlen,
					 "'%s' is an array (%s %s[%d]): only char arrays (strings) "
					 "and single integers can be captured",
					 c->name, t->type, t->name, t->array);
				return -EINVAL;
			}
			f->kind = HW_CP_CHARS;
		} else if (stars) {
			/* pointers: only user strings of syscall arguments; an address itself is
			 * never reported (kernel addresses must not leak into events) */
			if (!syscall || !is_char || stars != 1) {
				snprintf(err, errlen,
					 "'%s' is a pointer (%s): only strings (char * arguments "
					 "of syscalls:*) can be captured, never addresses",
					 c->name, t->type);
				return -EINVAL;
			}
			if (!c->max) {
				snprintf(
					err, errlen,
					"'%s' is a string: give a bound ({field: %s, max: 1..255})",
					c->name, c->name);
				return -EINVAL;
			}
			f->kind = HW_CP_USTR;
		} else {
			/* the format's size and sign, except for syscall arguments: their format
			 * says 8 bytes, unsigned, for every type; the declared type tells */
			bool sgn = false;
			unsigned sz = syscall ? ctype_size(t->type, &sgn) : 0;
			if (!sz) {
				sz = t->size;
				sgn = t->is_signed;
			}
			if (sz != 1 && sz != 2 && sz != 4 && sz != 8) {
				snprintf(err, errlen,
					 "'%s' (%s, %u bytes) is not an integer of 1, 2, 4 or 8 "
					 "bytes",
					 c->name, t->type, t->size);
				return -EINVAL;
			}
			f->size = sz;
			f->kind = sgn ? HW_CP_INT : HW_CP_UINT;
		}
		snprintf(cp->fields[i], sizeof(cp->fields[i]), "%s", c->name);
		cp->kinds[i] = f->kind;
	}
	return 0;
}

static int is_elf(const char *path, char *err, size_t errlen)
{
	unsigned char m[4];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
		return -errno;
	}
	ssize_t n = read(fd, m, 4);
	close(fd);
	if (n != 4 || memcmp(m,
			     "\x7f"
			     "ELF",
			     4)) {
		snprintf(err, errlen, "%s is not an ELF file", path);
		return -ENOEXEC;
	}
	return 0;
}

static int resolve_uprobe(const struct hw_custom_def *d, struct hw_cp_spec *sp,
			  struct custom_probe *cp, char *bin, char *sym, unsigned long *off,
			  char *err, size_t errlen)
{
	const char *colon = strrchr(d->target, ':');
	if (!colon || colon == d->target || !colon[1]) {
		snprintf(err, errlen, "uprobe '%s' must be /path/to/binary:symbol or :0xoffset",
			 d->target);
		return -EINVAL;
	}
	snprintf(bin, 400, "%.*s", (int)(colon - d->target), d->target);
	snprintf(sym, 128, "%s", colon + 1);
	*off = 0;
	if (!strncmp(sym, "0x", 2)) {
		char *end;
		*off = strtoul(sym, &end, 16);
		if (*end) {
			snprintf(err, errlen, "bad offset '%s'", sym);
			return -EINVAL;
		}
		sym[0] = 0;
	}
	int rc = is_elf(bin, err, errlen);
	if (rc)
		return rc;
	for (size_t i = 0; i < d->ncap; i++) {
		const struct hw_custom_capture *c = &d->cap[i];
		struct hw_cp_field *f = &sp->f[i];
		const char *t = c->type ? c->type : "int";
		if (c->ret) {
			if (d->hook != HW_CUSTOM_URETPROBE) {
				snprintf(err, errlen, "'%s': the return value needs a uretprobe",
					 c->name);
				return -EINVAL;
			}
			f->src = HW_CP_SRC_RET;
		} else if (c->arg >= 1 && c->arg <= 6) {
			f->src = HW_CP_SRC_ARG;
			f->arg = c->arg;
		} else {
			snprintf(err, errlen, "'%s': give arg: 1..6 or ret: true", c->name);
			return -EINVAL;
		}
		static const struct {
			const char *name;
			uint8_t size, kind;
		} ints[] = {
			{"int", 4, HW_CP_INT},     {"uint", 4, HW_CP_UINT},
			{"long", 8, HW_CP_INT},    {"ulong", 8, HW_CP_UINT},
			{"int8", 1, HW_CP_INT},    {"int16", 2, HW_CP_INT},
			{"int32", 4, HW_CP_INT},   {"int64", 8, HW_CP_INT},
			{"uint8", 1, HW_CP_UINT},  {"uint16", 2, HW_CP_UINT},
			{"uint32", 4, HW_CP_UINT}, {"uint64", 8, HW_CP_UINT},
		};
		size_t k;
		for (k = 0; k < sizeof(ints) / sizeof(ints[0]); k++)
			if (!strcmp(t, ints[k].name))
				break;
		f->size = 8;
		if (k < sizeof(ints) / sizeof(ints[0])) {
			/* registers hold more than the value: the bits above its size are noise */
			f->size = ints[k].size;
			f->kind = ints[k].kind;
		} else if (!strcmp(t, "string") || !strcmp(t, "bytes")) {
			if (!c->max) {
				snprintf(err, errlen,
					 "'%s': a %s capture needs a bound (max: 1..255)", c->name,
					 t);
				return -EINVAL;
			}
			f->kind = t[0] == 's' ? HW_CP_USTR : HW_CP_UBYTES;
			f->maxlen = c->max;
		} else {
			snprintf(err, errlen,
				 "'%s': unknown type '%s' (int, uint, long, ulong, int8..int64, "
				 "uint8..uint64, string, bytes)",
				 c->name, t);
			return -EINVAL;
		}
		snprintf(cp->fields[i], sizeof(cp->fields[i]), "%s", c->name);
		cp->kinds[i] = f->kind;
	}
	return 0;
}

static int resolve_filters(const struct hw_custom_def *d, struct hw_cp_spec *sp, char *err,
			   size_t errlen)
{
	static const char *ops[] = {NULL, "eq", "ne", "lt", "le", "gt", "ge", "prefix"};
	for (size_t i = 0; i < d->nflt; i++) {
		const struct hw_custom_filter *cf = &d->flt[i];
		struct hw_cp_filter *f = &sp->flt[i];
		size_t k;
		for (k = 0; k < d->ncap; k++)
			if (!strcmp(d->cap[k].name, cf->field))
				break;
		if (k == d->ncap) {
			snprintf(err, errlen, "filter on '%s', which is not captured", cf->field);
			return -EINVAL;
		}
		f->field = k;
		for (f->op = 1; f->op < 8; f->op++)
			if (!strcmp(ops[f->op], cf->op))
				break;
		if (f->op == 8) {
			snprintf(err, errlen, "unknown filter op '%s' (eq ne lt le gt ge prefix)",
				 cf->op);
			return -EINVAL;
		}
		uint8_t kind = sp->f[k].kind;
		bool is_str = kind == HW_CP_USTR || kind == HW_CP_KSTR || kind == HW_CP_CHARS ||
			      kind == HW_CP_UBYTES;
		if (is_str) {
			size_t l = strlen(cf->value);
			if (f->op != HW_CP_EQ && f->op != HW_CP_NE && f->op != HW_CP_PREFIX) {
				snprintf(err, errlen, "'%s' is a string: use eq, ne or prefix",
					 cf->field);
				return -EINVAL;
			}
			if (l > HW_CP_STR || (l == HW_CP_STR && f->op != HW_CP_PREFIX)) {
				snprintf(err, errlen, "string filter value longer than %d bytes",
					 HW_CP_STR - 1);
				return -EINVAL;
			}
			memcpy(f->str, cf->value, l);
			f->slen = l;
		} else {
			char *end;
			errno = 0;
			f->val = strtoll(cf->value, &end, 0);
			if (errno || *end || f->op == HW_CP_PREFIX) {
				snprintf(err, errlen,
					 "'%s' is an integer: '%s %s' is not a valid filter",
					 cf->field, cf->op, cf->value);
				return -EINVAL;
			}
		}
	}
	sp->nfilters = d->nflt;
	return 0;
}

/* The scope: one process, a cgroup and its descendants, or both. Checked in the kernel
 * before anything is captured. */
static int resolve_scope(const struct hw_custom_def *d, struct hw_cp_spec *sp,
			 struct custom_probe *cp, char *err, size_t errlen)
{
	if (d->pid) {
		char proc[32];
		snprintf(proc, sizeof(proc), "/proc/%u", d->pid);
		if (access(proc, F_OK)) {
			snprintf(err, errlen, "pid %u: no such process", d->pid);
			return -ESRCH;
		}
		sp->tgid = d->pid;
		cp->pid = d->pid;
	}
	if (d->cgroup) {
		uint64_t id;
		int level, rc;
		rc = cgroup_resolve(d->cgroup, cp->cgroup, sizeof(cp->cgroup), &id, &level, err,
				    errlen);
		if (rc)
			return rc;
		sp->cg_id = id;
		sp->cg_level = level;
	}
	return 0;
}

int custom_resolve(const struct hw_custom_def *d, struct hw_cp_spec *sp, struct custom_probe *tmp,
		   struct cp_where *w, char *err, size_t errlen)
{
	int rc;
	if (d->error) {
		snprintf(err, errlen, "line %zu: %s", d->line, d->error);
		rc = -EINVAL;
	} else if (!name_ok(d->name)) {
		snprintf(err, errlen, "name '%s' must be 1-48 letters, digits or _", d->name);
		rc = -EINVAL;
	} else if (d->hook == HW_CUSTOM_TP) {
		rc = resolve_tp(d, sp, tmp, w->cat, w->ev, err, errlen);
	} else {
		rc = resolve_uprobe(d, sp, tmp, w->bin, w->sym, &w->off, err, errlen);
	}
	if (!rc)
		rc = resolve_filters(d, sp, err, errlen);
	if (!rc)
		rc = resolve_scope(d, sp, tmp, err, errlen);
	sp->nfields = d->ncap;
	return rc;
}
