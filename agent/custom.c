/* custom.c - custom probes (see custom.h and common/abi_custom.h). */
#include "agent/agent.h"
#include "agent/custom.h"
#include "herdwatch.skel.h"
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
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
		if (sscanf(line, " field:%255[^;]; offset:%u; size:%u; signed:%d;", decl, &off, &size,
			   &sgn) != 4)
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
		{"char", 1, true},	     {"unsigned char", 1, false}, {"bool", 1, false},
		{"short", 2, true},	     {"unsigned short", 2, false}, {"umode_t", 2, false},
		{"int", 4, true},	     {"unsigned int", 4, false},  {"unsigned", 4, false},
		{"pid_t", 4, true},	     {"uid_t", 4, false},	  {"gid_t", 4, false},
		{"qid_t", 4, false},	     {"key_serial_t", 4, true},	  {"clockid_t", 4, true},
		{"mqd_t", 4, true},	     {"rwf_t", 4, true},	  {"key_t", 4, true},
		{"timer_t", 4, true},	     {"long", 8, true},		  {"long int", 8, true},
		{"unsigned long", 8, false}, {"long long", 8, true},	  {"unsigned long long", 8, false},
		{"size_t", 8, false},	     {"ssize_t", 8, true},	  {"off_t", 8, true},
		{"loff_t", 8, true},	     {"aio_context_t", 8, false}, {"time_t", 8, true},
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

static int resolve_tp(const struct hw_custom_def *d, struct hw_cp_spec *sp,
		      struct custom_probe *cp, char *cat, char *ev, char *err, size_t errlen)
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
				snprintf(known + l, sizeof(known) - l, "%s%s", j ? ", " : "", fl[j].name);
			}
			snprintf(err, errlen, "field '%s' is not in the format of %s:%s (fields: %s)",
				 c->name, cat, ev, known);
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
				snprintf(err, errlen, "'%s' is an array (%s): only strings and integers can be captured",
					 c->name, t->type);
				return -EINVAL;
			}
			f->kind = HW_CP_KSTR;
		} else if (t->array) {
			if (!is_char || stars) {
				snprintf(err, errlen, "'%s' is an array (%s %s[%d]): only char arrays (strings) and single integers can be captured",
					 c->name, t->type, t->name, t->array);
				return -EINVAL;
			}
			f->kind = HW_CP_CHARS;
		} else if (stars) {
			/* pointers: only user strings of syscall arguments; an address itself is
			 * never reported (kernel addresses must not leak into events) */
			if (!syscall || !is_char || stars != 1) {
				snprintf(err, errlen, "'%s' is a pointer (%s): only strings (char * arguments of syscalls:*) can be captured, never addresses",
					 c->name, t->type);
				return -EINVAL;
			}
			if (!c->max) {
				snprintf(err, errlen, "'%s' is a string: give a bound ({field: %s, max: 1..255})",
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
				snprintf(err, errlen, "'%s' (%s, %u bytes) is not an integer of 1, 2, 4 or 8 bytes",
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
	if (n != 4 || memcmp(m, "\x7f" "ELF", 4)) {
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
				snprintf(err, errlen, "'%s': the return value needs a uretprobe", c->name);
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
			{"int", 4, HW_CP_INT},	    {"uint", 4, HW_CP_UINT},	{"long", 8, HW_CP_INT},
			{"ulong", 8, HW_CP_UINT},   {"int8", 1, HW_CP_INT},	{"int16", 2, HW_CP_INT},
			{"int32", 4, HW_CP_INT},    {"int64", 8, HW_CP_INT},	{"uint8", 1, HW_CP_UINT},
			{"uint16", 2, HW_CP_UINT},  {"uint32", 4, HW_CP_UINT}, {"uint64", 8, HW_CP_UINT},
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
					 "'%s': a %s capture needs a bound (max: 1..255)", c->name, t);
				return -EINVAL;
			}
			f->kind = t[0] == 's' ? HW_CP_USTR : HW_CP_UBYTES;
			f->maxlen = c->max;
		} else {
			snprintf(err, errlen,
				 "'%s': unknown type '%s' (int, uint, long, ulong, int8..int64, uint8..uint64, string, bytes)",
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
			snprintf(err, errlen, "unknown filter op '%s' (eq ne lt le gt ge prefix)", cf->op);
			return -EINVAL;
		}
		uint8_t kind = sp->f[k].kind;
		bool is_str = kind == HW_CP_USTR || kind == HW_CP_KSTR || kind == HW_CP_CHARS ||
			      kind == HW_CP_UBYTES;
		if (is_str) {
			size_t l = strlen(cf->value);
			if (f->op != HW_CP_EQ && f->op != HW_CP_NE && f->op != HW_CP_PREFIX) {
				snprintf(err, errlen, "'%s' is a string: use eq, ne or prefix", cf->field);
				return -EINVAL;
			}
			if (l > HW_CP_STR || (l == HW_CP_STR && f->op != HW_CP_PREFIX)) {
				snprintf(err, errlen, "string filter value longer than %d bytes", HW_CP_STR - 1);
				return -EINVAL;
			}
			memcpy(f->str, cf->value, l);
			f->slen = l;
		} else {
			char *end;
			errno = 0;
			f->val = strtoll(cf->value, &end, 0);
			if (errno || *end || f->op == HW_CP_PREFIX) {
				snprintf(err, errlen, "'%s' is an integer: '%s %s' is not a valid filter",
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

static struct custom_probe *find(struct agent *a, const char *name)
{
	for (int i = 0; i < HW_CP_SLOTS; i++)
		if (a->custom[i].used && !strcmp(a->custom[i].name, name))
			return &a->custom[i];
	return NULL;
}

/* Tracepoint groups: one link per tracepoint, the slots it runs in hw_cp_groups. */
static int group_write(struct agent *a, int g)
{
	uint32_t key = g, mask = a->cp_grp[g].mask;
	return bpf_map_update_elem(bpf_map__fd(a->skel->maps.hw_cp_groups), &key, &mask, BPF_ANY)
		       ? -errno
		       : 0;
}

static int group_join(struct agent *a, int slot, const char *cat, const char *ev, char *err,
		      size_t errlen)
{
	char tp[192];
	int g, free_g = -1;
	snprintf(tp, sizeof(tp), "%s:%s", cat, ev);
	for (g = 0; g < HW_CP_GROUPS; g++) {
		if (a->cp_grp[g].link && !strcmp(a->cp_grp[g].tp, tp))
			break;
		if (!a->cp_grp[g].link && free_g < 0)
			free_g = g;
	}
	if (g < HW_CP_GROUPS) { /* the tracepoint is watched already: one more slot to run */
		a->cp_grp[g].mask |= 1U << slot;
		if (group_write(a, g)) {
			a->cp_grp[g].mask &= ~(1U << slot);
			snprintf(err, errlen, "cannot write the tracepoint group: %s", strerror(errno));
			return -EIO;
		}
		a->custom[slot].link = a->cp_grp[g].link;
		a->custom[slot].grp = g + 1;
		return 0;
	}
	if (free_g < 0) {
		snprintf(err, errlen, "too many tracepoints (at most %d)", HW_CP_GROUPS);
		return -ENOSPC;
	}
	g = free_g;
	a->cp_grp[g].mask = 1U << slot;
	int rc = group_write(a, g);
	if (rc) {
		snprintf(err, errlen, "cannot write the tracepoint group: %s", strerror(-rc));
		return rc;
	}
	LIBBPF_OPTS(bpf_tracepoint_opts, o, .bpf_cookie = g);
	struct bpf_link *l = bpf_program__attach_tracepoint_opts(a->skel->progs.hw_custom_tp, cat,
								 ev, &o);
	if (!l) {
		rc = -errno;
		snprintf(err, errlen, "attach to %s failed: %s", tp, strerror(-rc));
		a->cp_grp[g].mask = 0;
		group_write(a, g);
		return rc;
	}
	snprintf(a->cp_grp[g].tp, sizeof(a->cp_grp[g].tp), "%s", tp);
	a->cp_grp[g].link = l;
	a->custom[slot].link = l;
	a->custom[slot].grp = g + 1;
	return 0;
}

static void unlink_slot(struct agent *a, struct custom_probe *cp)
{
	int slot = cp - a->custom;
	if (cp->grp) {
		int g = cp->grp - 1;
		a->cp_grp[g].mask &= ~(1U << slot);
		group_write(a, g);
		if (!a->cp_grp[g].mask) {
			bpf_link__destroy(a->cp_grp[g].link);
			a->cp_grp[g].link = NULL;
			a->cp_grp[g].tp[0] = 0;
		}
		cp->grp = 0;
	} else {
		bpf_link__destroy(cp->link);
	}
	cp->link = NULL;
}

static void release(struct agent *a, struct custom_probe *cp)
{
	unlink_slot(a, cp);
	/* keep what is needed to decode events still in the ring buffer */
	cp->old_gen = cp->gen;
	snprintf(cp->old_name, sizeof(cp->old_name), "%s", cp->name);
	memcpy(cp->old_fields, cp->fields, sizeof(cp->fields));
	memcpy(cp->old_kinds, cp->kinds, sizeof(cp->kinds));
	cp->old_nfields = cp->nfields;
	cp->used = false;
}

int custom_add(struct agent *a, const struct hw_custom_def *d, bool from_ctl, char *err,
	       size_t errlen)
{
	struct hw_cp_spec sp;
	a->own_ids_dirty = true;
	struct custom_probe tmp, *cp, *old;
	char cat[64], ev[128], bin[400], sym[128];
	unsigned long off = 0;
	int rc, slot = -1;

	memset(&sp, 0, sizeof(sp));
	memset(&tmp, 0, sizeof(tmp));
	if (d->error) {
		snprintf(err, errlen, "line %zu: %s", d->line, d->error);
		rc = -EINVAL;
	} else if (!name_ok(d->name)) {
		snprintf(err, errlen, "name '%s' must be 1-48 letters, digits or _", d->name);
		rc = -EINVAL;
	} else if (d->hook == HW_CUSTOM_TP) {
		rc = resolve_tp(d, &sp, &tmp, cat, ev, err, errlen);
	} else {
		rc = resolve_uprobe(d, &sp, &tmp, bin, sym, &off, err, errlen);
	}
	if (!rc)
		rc = resolve_filters(d, &sp, err, errlen);
	if (!rc)
		rc = resolve_scope(d, &sp, &tmp, err, errlen);
	sp.nfields = d->ncap;

	/* A probe of the same name is replaced only once its successor is attached: until then
	 * (and if the new declaration is refused) the running one stays as it is. */
	old = d->name ? find(a, d->name) : NULL;
	if (old && !old->link)
		old = NULL; /* an unavailable declaration has nothing worth keeping */
	if (rc && (old || from_ctl))
		goto refused;
	/* first free slot, preferring one never used, so in-flight events of a removed
	 * probe keep their name */
	for (int pass = 0; pass < 2 && slot < 0; pass++)
		for (int i = 0; i < HW_CP_SLOTS; i++)
			if (!a->custom[i].used && (pass || !a->custom[i].old_gen)) {
				slot = i;
				break;
			}
	if (slot < 0) {
		snprintf(err, errlen, "too many custom probes (at most %d)", HW_CP_SLOTS);
		rc = -ENOSPC;
		goto refused;
	}
	if (!old && d->name && (cp = find(a, d->name)))
		release(a, cp); /* an unavailable one of the same name */
	cp = &a->custom[slot];
	cp->used = true;
	cp->from_ctl = from_ctl;
	cp->paused = false;
	cp->until_ms = 0;
	cp->def_hash = 0;
	cp->grp = 0;
	cp->gen = ++a->custom_gen;
	snprintf(cp->name, sizeof(cp->name), "%s", d->name ? d->name : "?");
	snprintf(cp->target, sizeof(cp->target), "%s", d->target ? d->target : "?");
	cp->hook = d->hook;
	memcpy(cp->fields, tmp.fields, sizeof(cp->fields));
	memcpy(cp->kinds, tmp.kinds, sizeof(cp->kinds));
	cp->nfields = d->ncap;
	memcpy(cp->cgroup, tmp.cgroup, sizeof(cp->cgroup));
	cp->pid = tmp.pid;
	cp->link = NULL;
	if (rc)
		goto unavailable;

	char pname[80];
	snprintf(pname, sizeof(pname), "custom.%s", cp->name);
	cp->paused = !probe_wanted(a, pname, true);
	sp.paused = cp->paused;
	sp.gen = cp->gen;
	uint32_t key = slot;
	struct hw_cp_count *zero = calloc(libbpf_num_possible_cpus(), sizeof(*zero));
	if (zero) /* counters start at 0 for the new owner of the slot */
		bpf_map_update_elem(bpf_map__fd(a->skel->maps.hw_cp_counts), &key, zero, BPF_ANY);
	free(zero);
	if (bpf_map_update_elem(bpf_map__fd(a->skel->maps.hw_cp_specs), &key, &sp, BPF_ANY)) {
		rc = -errno;
		snprintf(err, errlen, "cannot write the probe spec: %s", strerror(-rc));
		goto unavailable;
	}
	if (d->hook == HW_CUSTOM_TP) {
		rc = group_join(a, slot, cat, ev, err, errlen);
		if (rc)
			goto unavailable;
	} else {
		bool ret = d->hook == HW_CUSTOM_URETPROBE;
		LIBBPF_OPTS(bpf_uprobe_opts, o, .bpf_cookie = slot, .retprobe = ret,
			    .func_name = sym[0] ? sym : NULL);
		cp->link = bpf_program__attach_uprobe_opts(
			ret ? a->skel->progs.hw_custom_uretprobe : a->skel->progs.hw_custom_uprobe, -1,
			bin, off, &o);
		if (!cp->link) {
			rc = -errno;
			if (sym[0])
				snprintf(err, errlen, "attach to %s failed: %s (is '%s' a function symbol of %s?)",
					 d->target, strerror(-rc), sym, bin);
			else
				snprintf(err, errlen, "attach to %s failed: %s", d->target, strerror(-rc));
			goto unavailable;
		}
	}
	if (old)
		release(a, old);
	snprintf(cp->state, sizeof(cp->state), cp->paused ? "disabled" : "attached");
	snprintf(cp->reason, sizeof(cp->reason), "%s", cp->paused ? "disabled by control" : "");
	return 0;
unavailable:
	if (old || from_ctl) {
		/* refused: the slot goes back, the running probe (if any) stays */
		cp->used = false;
		cp->gen = 0;
		goto refused;
	}
	snprintf(cp->state, sizeof(cp->state), "unavailable");
	snprintf(cp->reason, sizeof(cp->reason), "%s", err);
	agent_log("custom probe %s refused: %s\n", cp->name, err);
	return rc ? rc : -EINVAL;
refused:
	if (old) {
		/* the manifest tells why the running probe is not the declared one */
		snprintf(old->reason, sizeof(old->reason), "a new declaration was refused: %s", err);
		size_t l = strlen(err);
		snprintf(err + l, errlen - l, "; the running probe %s stays attached unchanged",
			 old->name);
	}
	agent_log("custom probe %s refused: %s\n",
		d->name ? d->name : "?", err);
	return rc ? rc : -EINVAL;
}

int custom_remove(struct agent *a, const char *name)
{
	a->own_ids_dirty = true;
	struct custom_probe *cp = find(a, name);
	if (!cp)
		return -ENOENT;
	release(a, cp);
	return 0;
}

/* A fingerprint of a declaration: an unchanged, attached probe is left alone on reload, so
 * none of its events is lost or duplicated. */
static uint64_t fnv(uint64_t h, const char *s)
{
	for (; s && *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return (h ^ 0xff) * 1099511628211ULL;
}

static uint64_t custom_def_hash(const struct hw_custom_def *d)
{
	char num[64];
	uint64_t h = 1469598103934665603ULL;
	h = fnv(h, d->name);
	h = fnv(h, d->target);
	snprintf(num, sizeof(num), "%d", d->hook);
	h = fnv(h, num);
	for (size_t i = 0; i < d->ncap; i++) {
		snprintf(num, sizeof(num), "%d/%d/%u", d->cap[i].arg, d->cap[i].ret, d->cap[i].max);
		h = fnv(fnv(fnv(h, d->cap[i].name), d->cap[i].type), num);
	}
	for (size_t i = 0; i < d->nflt; i++)
		h = fnv(fnv(fnv(h, d->flt[i].field), d->flt[i].op), d->flt[i].value);
	snprintf(num, sizeof(num), "pid=%u", d->pid);
	h = fnv(fnv(h, d->cgroup), num);
	return h;
}

void custom_sync(struct agent *a)
{
	char err[400];
	/* drop config probes that are no longer declared */
	for (int i = 0; i < HW_CP_SLOTS; i++) {
		struct custom_probe *cp = &a->custom[i];
		if (!cp->used || cp->from_ctl)
			continue;
		bool still = false;
		for (size_t k = 0; k < a->cfg.n_custom; k++)
			if (a->cfg.custom[k].name && !strcmp(a->cfg.custom[k].name, cp->name))
				still = true;
		if (!still)
			release(a, cp);
	}
	for (size_t k = 0; k < a->cfg.n_custom; k++) {
		const struct hw_custom_def *d = &a->cfg.custom[k];
		struct custom_probe *cp = d->name ? find(a, d->name) : NULL;
		if (cp && !cp->from_ctl && cp->def_hash == custom_def_hash(d) && cp->link)
			continue; /* unchanged and attached: leave it be */
		if (custom_add(a, d, false, err, sizeof(err)) == 0 && (cp = find(a, d->name)))
			cp->def_hash = custom_def_hash(d);
	}
}

/* Pause or resume custom probes to match control overrides ("custom.NAME" or "custom"). */
void custom_apply(struct agent *a)
{
	a->own_ids_dirty = true;
	for (int i = 0; i < HW_CP_SLOTS; i++) {
		struct custom_probe *cp = &a->custom[i];
		char name[80];
		uint32_t key = i;
		struct hw_cp_spec sp;
		if (!cp->used || !cp->link)
			continue;
		snprintf(name, sizeof(name), "custom.%s", cp->name);
		bool want = probe_wanted(a, name, true);
		int fd = bpf_map__fd(a->skel->maps.hw_cp_specs);
		if (want == !cp->paused || bpf_map_lookup_elem(fd, &key, &sp))
			continue;
		sp.paused = !want;
		if (bpf_map_update_elem(fd, &key, &sp, BPF_ANY) == 0) {
			cp->paused = !want;
			snprintf(cp->state, sizeof(cp->state), want ? "attached" : "disabled");
			snprintf(cp->reason, sizeof(cp->reason), "%s", want ? "" : "disabled by control");
		}
	}
}

void custom_detach_all(struct agent *a)
{
	for (int i = 0; i < HW_CP_SLOTS; i++)
		if (a->custom[i].link)
			unlink_slot(a, &a->custom[i]);
}

void custom_manifest(struct agent *a, struct jbuf *b)
{
	int ncpu = libbpf_num_possible_cpus();
	struct hw_cp_count cnt[ncpu > 0 ? ncpu : 1];
	for (int i = 0; i < HW_CP_SLOTS; i++) {
		struct custom_probe *cp = &a->custom[i];
		char key[80];
		uint32_t slot = i;
		uint64_t hits = 0, emitted = 0, filtered = 0, dropped = 0;
		if (!cp->used)
			continue;
		if (cp->link && !bpf_map_lookup_elem(bpf_map__fd(a->skel->maps.hw_cp_counts), &slot, cnt))
			for (int c = 0; c < ncpu; c++) {
				hits += cnt[c].hits;
				emitted += cnt[c].emitted;
				filtered += cnt[c].filtered;
				dropped += cnt[c].dropped;
			}
		snprintf(key, sizeof(key), "custom.%s", cp->name);
		jb_key(b, key);
		jb_obj_begin(b);
		jb_kcstr(b, "state", cp->state);
		jb_kcstr(b, "hook", !cp->link ? NULL
				    : cp->hook == HW_CUSTOM_TP ? "tracepoint"
				    : cp->hook == HW_CUSTOM_UPROBE ? "uprobe" : "uretprobe");
		jb_kcstr(b, "reason", cp->reason[0] ? cp->reason : NULL);
		jb_kcstr(b, "target", cp->target);
		jb_kcstr(b, "source", cp->from_ctl ? "control" : "config");
		if (cp->cgroup[0])
			jb_kcstr(b, "cgroup", cp->cgroup);
		if (cp->pid)
			jb_ku64(b, "pid", cp->pid);
		jb_ku64(b, "hits", hits);
		jb_ku64(b, "emitted", emitted);
		jb_ku64(b, "filtered", filtered);
		jb_ku64(b, "dropped", dropped);
		jb_obj_end(b);
	}
}

int decode_custom(struct agent *a, const void *rec, size_t len)
{
	const struct hw_custom *e = rec;
	const struct custom_probe *cp;
	const char *name;
	const char(*fields)[64];
	const uint8_t *kinds;
	int nf;
	char kind[80];
	struct jbuf *b = &a->jb;

	if (e->slot >= HW_CP_SLOTS)
		return -EINVAL;
	cp = &a->custom[e->slot];
	if (cp->gen == e->gen) {
		name = cp->name, fields = cp->fields, kinds = cp->kinds, nf = cp->nfields;
	} else if (cp->old_gen == e->gen) {
		name = cp->old_name, fields = cp->old_fields, kinds = cp->old_kinds,
		nf = cp->old_nfields;
	} else {
		return -ESTALE; /* slot reused twice while its events were in flight */
	}
	if (nf > HW_CP_FIELDS)
		return -EINVAL;
	snprintf(kind, sizeof(kind), "custom.%s", name);
	emit_event(a, kind, &e->hdr, "custom");
	for (int i = 0; i < nf; i++) {
		const struct hw_str *s = &e->str[i];
		switch (kinds[i]) {
		case HW_CP_INT:
			jb_ki64(b, fields[i], (int64_t)e->val[i]);
			break;
		case HW_CP_UINT:
			jb_ku64(b, fields[i], e->val[i]);
			break;
		default:
			if ((size_t)s->off + s->len > len)
				return -EINVAL;
			jb_kstr(b, fields[i], (const char *)rec + s->off, s->len);
		}
	}
	emit_event_end(a);
	return 0;
}
