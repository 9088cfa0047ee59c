/* events.c - turns ring-buffer records into JSON event lines (the contract in docs/events.md):
 * common envelope, process context from the record and the process table, per-kind objects,
 * heartbeats and loss announcements. One decode and one formatted write per event. */
#include "agent/agent.h"
#include "agent/user.h"
#include "herdwatch.skel.h"
#include "agent/ship.h"
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

typedef int (*decode_fn)(struct agent *a, const void *rec, size_t len);

/* Decoders are defined in this file or in agent/decode_<family>.c. */
#define HW_EVENT(type, kind, fn, minsz) int fn(struct agent *a, const void *rec, size_t len);
#include "common/events.def"
#undef HW_EVENT

static const struct {
	uint32_t type;
	const char *kind;
	decode_fn fn;
	size_t minsz;
} decoders[] = {
#define HW_EVENT(type, kind, fn, minsz) {type, kind, fn, minsz},
#include "common/events.def"
#undef HW_EVENT
};

const char *kind_name(uint32_t type)
{
	for (size_t i = 0; i < sizeof(decoders) / sizeof(decoders[0]); i++)
		if (decoders[i].type == type)
			return decoders[i].kind;
	return "unknown";
}

static char *put_dec(char *o, uint64_t v)
{
	char tmp[24];
	int i = sizeof(tmp);
	do {
		tmp[--i] = '0' + v % 10;
		v /= 10;
	} while (v);
	memcpy(o, tmp + i, sizeof(tmp) - i);
	return o + sizeof(tmp) - i;
}

/* "<boot id prefix>-<pid>-<start ticks>" (per event: no printf) */
void make_key(const struct agent *a, uint32_t pid, uint64_t start_ticks, char *buf, size_t len)
{
	size_t pl = strnlen(a->key_prefix, sizeof(a->key_prefix));
	if (len < pl + 2 + 10 + 20 + 1) {
		snprintf(buf, len, "%s-%u-%llu", a->key_prefix, pid, (unsigned long long)start_ticks);
		return;
	}
	char *o = buf;
	memcpy(o, a->key_prefix, pl);
	o += pl;
	*o++ = '-';
	o = put_dec(o, pid);
	*o++ = '-';
	o = put_dec(o, start_ticks);
	*o = 0;
}

static uint64_t ns_to_ticks(const struct agent *a, uint64_t ns)
{
	return ns / (1000000000ULL / a->ticks_per_s);
}

/* RFC 3339 with nanoseconds. The formatted seconds are cached: consecutive events almost
 * always fall in the same second, and strftime/gmtime are a visible cost per event. */
static void put_time(struct jbuf *b, int64_t real_ns)
{
	static time_t cached_s = -1;
	static char cached[32];
	static size_t cached_len;
	time_t s = real_ns / 1000000000LL;
	uint32_t ns = real_ns % 1000000000LL;
	char tmp[48];

	if (s != cached_s) {
		struct tm tm;
		gmtime_r(&s, &tm);
		cached_len = strftime(cached, sizeof(cached), "%Y-%m-%dT%H:%M:%S.", &tm);
		cached_s = s;
	}
	memcpy(tmp, cached, cached_len);
	char *d = tmp + cached_len; /* 9 digits, the last alone, then two per division */
	d[8] = '0' + ns % 10;
	ns /= 10;
	for (int i = 7; i >= 1; i -= 2) {
		uint32_t r = ns % 100;
		ns /= 100;
		d[i] = '0' + r % 10;
		d[i - 1] = '0' + r / 10;
	}
	tmp[cached_len + 9] = 'Z';
	jb_key(b, "time");
	jb_trusted_n(b, tmp, cached_len + 10);
}

void emit_begin(struct agent *a, const char *kind, uint64_t boot_ns)
{
	struct jbuf *b = &a->jb;
	jb_reset(b);
	jb_obj_begin(b);
	a->cur_kind = kind;
	jb_ku64(b, "seq", a->seq + 1);
	if (!boot_ns) {
		struct timespec ts;
		clock_gettime(CLOCK_BOOTTIME, &ts);
		boot_ns = ts.tv_sec * 1000000000ULL + ts.tv_nsec;
	}
	put_time(b, (int64_t)boot_ns + a->boot_to_real_ns);
	jb_kcstr(b, "kind", kind);
	/* The host object is the same in every event: formatted once, rebuilt after the identity
	 * was read again (heartbeat) or the config changed (herd, version). */
	static struct jbuf host;
	static uint64_t built_host, built_cfg;
	if (!host.p || built_host != a->host_gen || built_cfg != a->cfg_gen) {
		if (!host.p)
			jb_init(&host, 512);
		jb_reset(&host);
		jb_key(&host, "host");
		jb_obj_begin(&host);
		jb_kcstr(&host, "name", a->host_name);
		jb_kcstr(&host, "id", a->host_id);
		jb_kcstr(&host, "boot_id", a->boot_id);
		jb_ktrusted(&host, "run", a->run_hex);
		jb_kcstr(&host, "herd", a->cfg.herd);
		jb_kcstr(&host, "version", a->cfg.version);
		jb_obj_end(&host);
		built_host = a->host_gen;
		built_cfg = a->cfg_gen;
	}
	jb_raw(b, ",", 1); /* "kind" precedes */
	jb_raw(b, host.p, host.len);
	b->comma = true;
}

/* The usual event: envelope, process context, then the kind's object named objkey, left open
 * for its fields; emit_event_end() closes it and writes the line. */
void emit_event(struct agent *a, const char *kind, const struct hw_hdr *h, const char *objkey)
{
	emit_begin(a, kind, h->ts);
	emit_proc(a, h);
	jb_key(&a->jb, objkey);
	jb_obj_begin(&a->jb);
}

static void emit_proc_p(struct agent *a, const struct hw_hdr *h, struct proc *p);

/* emit_event for the process entry p of h->pid (NULL: none) */
static void emit_event_p(struct agent *a, const char *kind, const struct hw_hdr *h, struct proc *p,
			 const char *objkey)
{
	emit_begin(a, kind, h->ts);
	emit_proc_p(a, h, p);
	jb_key(&a->jb, objkey);
	jb_obj_begin(&a->jb);
}

void emit_event_end(struct agent *a)
{
	jb_obj_end(&a->jb);
	emit_end(a);
}

void emit_end(struct agent *a)
{
	struct jbuf *b = &a->jb;
	jb_obj_end(b);
	if (b->oom) {
		a->decode_errors++;
		count_user_loss(a, a->cur_kind, HW_ULOSS_OOM);
		return;
	}
	jb_raw(b, "\n", 1);
	a->seq++;
	a->events_total++;
	if (a->ship)
		ship_event(a->ship, a->seq, b->p, b->len - 1);
	/* a failing output holds events, up to a bound; the rest are counted here (told on
	 * stderr by the output, announced once it works again) */
	if (!output_add(&a->out, b->p, b->len))
		count_user_loss(a, a->cur_kind, HW_ULOSS_OUTPUT);
}

/* argv block as a JSON array: each argument is NUL-terminated, except a last one cut short by
 * the bound (then it ends at the end of the block). */
static void put_args(struct jbuf *b, const char *args, size_t n)
{
	jb_arr_begin(b);
	size_t i = 0;
	while (i < n) {
		const char *z = memchr(args + i, 0, n - i);
		size_t l = z ? (size_t)(z - (args + i)) : n - i;
		jb_str(b, args + i, l);
		i += l + 1;
	}
	jb_arr_end(b);
}

static void put_container(struct agent *a, const char *cg)
{
	char herd[128], id[128], ver[128];
	struct jbuf *b = &a->jb;
	jb_key(b, "container");
	if (cg &&
	    container_match(&a->cfg, cg, herd, sizeof(herd), id, sizeof(id), ver, sizeof(ver))) {
		jb_obj_begin(b);
		jb_kcstr(b, "id", id);
		jb_kcstr(b, "herd", herd);
		jb_kcstr(b, "version", ver[0] ? ver : NULL);
		jb_obj_end(b);
		return;
	}
	/* Well-known runtimes: a 64-hex container id as a path component (docker-<id>.scope,
	 * /docker/<id>, cri-containerd-<id>.scope, libpod-<id>.scope). */
	if (cg) {
		for (const char *p = cg; *p; p++) {
			size_t k = 0;
			while (k < 64 && ((p[k] >= '0' && p[k] <= '9') || (p[k] >= 'a' && p[k] <= 'f')))
				k++;
			if (k == 64 && (p == cg || p[-1] == '/' || p[-1] == '-')) {
				jb_obj_begin(b);
				jb_kstr(b, "id", p, 12);
				jb_kcstr(b, "herd", NULL);
				jb_kcstr(b, "version", NULL);
				jb_obj_end(b);
				return;
			}
			if (k)
				p += k - 1;
		}
	}
	jb_null(b);
}

/* Pieces of the process context formatted once and reused. Direct-mapped, bounded, no memory
 * per process:
 * - the "head" (ppid ... comm, after pid and tid), by its values: the ids and comm of the
 *   record and the entry's tty string (the slot holds a reference to it, so the same pointer
 *   is the same string). Threads, and processes of one parent with one set of credentials,
 *   share it.
 * - a process's "self" part (exe ... key, the end of "proc"), by pid: valid while the entry's
 *   version, the cgroup id, the config generation and the host identity (the keys' prefix) are
 *   those it was made from. An exec and the exit that follows it, or the events of a busy
 *   process, format it once.
 * - the part of it before "key" (exe ... container), by its values: the entry's exe, argv and
 *   cwd strings (held by reference, as the tty), the cgroup id and the config generation.
 *   Processes that run the same program in the same place share it (the table shares equal
 *   strings, see pstr_recent).
 * - the "parent" and "ancestors" objects, by parent pid: valid while no entry of that lineage
 *   changed (proctab_lineage_gen), nor the host identity, and, when the lineage ends at a pid
 *   missing from the table, that pid is still missing. The children of one parent share it.
 * Pieces larger than their slot's bound are formatted each time. */
#define CTX_HEAD_SLOTS 64
#define CTX_SELF_SLOTS 512
#define CTX_BODY_SLOTS 64
#define CTX_SELF_MAX   2048 /* per head, self or body piece: (64 + 512 + 64) x 2 KiB at most */
#define CTX_LINE_SLOTS 64
#define CTX_LINE_MAX   8192 /* 512 KiB at most */

struct frag {
	char *p;
	uint32_t len, cap;
};

struct head_ids {
	uint32_t ppid, uid, gid, euid, egid, auid;
	char comm[16];
};

static struct head_slot {
	bool ok;
	struct head_ids ids;
	char *tty; /* a reference (pstr) */
	struct frag f;
} head_slots[CTX_HEAD_SLOTS];

static struct self_slot {
	uint32_t pid;
	bool ok;
	uint64_t ver, cg, cfg, host;
	struct frag f;
} self_slots[CTX_SELF_SLOTS];

static struct body_slot {
	bool ok;
	char *exe, *args, *cwd; /* references (pstr) */
	uint32_t args_len;
	bool args_cut;
	uint64_t cg, cfg;
	struct frag f;
} body_slots[CTX_BODY_SLOTS];

static struct line_slot {
	uint32_t ppid, missing;
	bool ok, has_missing;
	uint64_t gen, host;
	struct frag f;
} line_slots[CTX_LINE_SLOTS];

static size_t ctx_cache_bytes;

size_t emit_cache_bytes(void)
{
	return ctx_cache_bytes;
}

/* Keep n bytes of json in f; false (f emptied) if they exceed max or memory is short. */
static bool frag_set(struct frag *f, const char *json, size_t n, size_t max)
{
	if (n > f->cap) {
		char *c = n <= max ? realloc(f->p, n) : NULL;
		if (!c) {
			f->len = 0;
			return false;
		}
		ctx_cache_bytes += n - f->cap;
		f->p = c;
		f->cap = n;
	}
	memcpy(f->p, json, n);
	f->len = n;
	return true;
}

static inline void jb_frag(struct jbuf *b, const struct frag *f)
{
	jb_raw(b, f->p, f->len);
	b->comma = true;
}

/* "args" and "args_truncated" (argv not whole: cut by args_max_bytes in the kernel or by the
 * process table's bound); the argv of the exec being formatted when it is longer than the
 * entry's copy */
static void put_proc_args(struct agent *a, struct proc *p)
{
	struct jbuf *b = &a->jb;
	jb_key(b, "args");
	if (a->exec_args)
		put_args(b, a->exec_args, a->exec_args_len);
	else if (p && p->args)
		put_args(b, p->args, p->args_len);
	else
		jb_null(b);
	jb_kbool(b, "args_truncated", a->exec_args ? a->exec_args_cut : p && p->args_cut);
}

/* "exe" ... "container" of the entry p (NULL: unknown process), cgroup path cg */
static void put_body(struct agent *a, const struct hw_hdr *h, struct proc *p, const char *cg)
{
	struct jbuf *b = &a->jb;
	struct body_slot *bs = NULL;
	if (p && cg && !a->exec_args) {
		uint64_t k = (uintptr_t)p->exe ^ ((uintptr_t)p->args * 3) ^
			     ((uintptr_t)p->cwd * 5) ^ h->cgroup_id;
		bs = &body_slots[((k * 0x9e3779b97f4a7c15ull) >> 40) % CTX_BODY_SLOTS];
		if (bs->ok && bs->exe == p->exe && bs->args == p->args &&
		    bs->args_len == p->args_len && bs->args_cut == p->args_cut &&
		    bs->cwd == p->cwd && bs->cg == h->cgroup_id && bs->cfg == a->cfg_gen) {
			jb_frag(b, &bs->f);
			return;
		}
	}
	size_t from = b->len;
	jb_key(b, "exe");
	if (p && p->exe)
		jb_str(b, p->exe, pstr_len(p->exe));
	else
		jb_null(b);
	put_proc_args(a, p);
	jb_key(b, "cwd");
	if (p && p->cwd)
		jb_str(b, p->cwd, pstr_len(p->cwd));
	else
		jb_null(b);
	jb_kcstr(b, "cgroup", cg);
	put_container(a, cg);
	if (!bs || b->oom)
		return;
	bs->ok = frag_set(&bs->f, b->p + from, b->len - from, CTX_SELF_MAX);
	pstr_set(&bs->exe, p->exe);
	pstr_set(&bs->args, p->args);
	pstr_set(&bs->cwd, p->cwd);
	bs->args_len = p->args_len;
	bs->args_cut = p->args_cut;
	bs->cg = h->cgroup_id;
	bs->cfg = a->cfg_gen;
}

/* "parent" and "ancestors" for parent pid ppid; marks the entries it reads (see proc.lineage) */
static void put_lineage(struct agent *a, uint32_t ppid)
{
	struct jbuf *b = &a->jb;
	struct line_slot *l = &line_slots[ppid % CTX_LINE_SLOTS];
	if (l->ok && l->ppid == ppid && l->gen == proctab_lineage_gen && l->host == a->host_gen &&
	    (!l->has_missing || !proctab_get(&a->pt, l->missing))) {
		jb_frag(b, &l->f);
		return;
	}
	size_t from = b->len;
	bool has_missing = false;
	uint32_t missing = 0;
	char key[64];
	struct proc *pp = proctab_get(&a->pt, ppid);
	jb_key(b, "parent");
	jb_obj_begin(b);
	jb_ku64(b, "pid", ppid);
	if (pp) {
		pp->lineage = true;
		jb_key(b, "exe");
		if (pp->exe)
			jb_str(b, pp->exe, pstr_len(pp->exe));
		else
			jb_null(b);
		jb_key(b, "args");
		if (pp->args)
			put_args(b, pp->args, pp->args_len);
		else
			jb_null(b);
		jb_kbool(b, "args_truncated", pp->args_cut);
		make_key(a, pp->pid, pp->start_ticks, key, sizeof(key));
		jb_kcstr(b, "key", key);
	} else {
		has_missing = true;
		missing = ppid;
		jb_kcstr(b, "exe", NULL);
		jb_key(b, "args");
		jb_null(b);
		jb_kbool(b, "args_truncated", false);
		jb_kcstr(b, "key", NULL);
	}
	jb_obj_end(b);

	jb_key(b, "ancestors");
	jb_arr_begin(b);
	struct proc *q = pp;
	for (int depth = 0; q && depth < 16; depth++) {
		q->lineage = true;
		/* null: unknown (kernel thread, exe unreadable) */
		if (q->exe)
			jb_str(b, q->exe, pstr_len(q->exe));
		else
			jb_null(b);
		if (q->ppid == q->pid || q->pid <= 1)
			break;
		uint32_t next = q->ppid;
		q = proctab_get(&a->pt, next);
		if (!q && depth + 1 < 16) {
			has_missing = true;
			missing = next;
		}
	}
	jb_arr_end(b);
	if (b->oom)
		return;
	l->ok = frag_set(&l->f, b->p + from, b->len - from, CTX_LINE_MAX);
	l->ppid = ppid;
	l->gen = proctab_lineage_gen;
	l->host = a->host_gen;
	l->has_missing = has_missing;
	l->missing = missing;
}

/* The "proc", "parent" and "ancestors" objects. The record gives the live identity; the
 * process table (p: the entry of h->pid, or NULL) gives exe, argv, cwd and lineage. */
static void emit_proc_p(struct agent *a, const struct hw_hdr *h, struct proc *p)
{
	struct jbuf *b = &a->jb;
	struct self_slot *s = NULL;
	char key[64];

	jb_key(b, "proc");
	jb_obj_begin(b);
	jb_ku64(b, "pid", h->pid);
	jb_ku64(b, "tid", h->tid);
	/* ids and comm change rarely */
	struct head_ids ids = {.ppid = h->ppid,
			       .uid = h->uid,
			       .gid = h->gid,
			       .euid = h->euid,
			       .egid = h->egid,
			       .auid = h->auid};
	memcpy(ids.comm, h->comm, sizeof(ids.comm));
	char *tty = p ? p->tty : NULL;
	uint32_t hh = 0;
	for (size_t i = 0; i < sizeof(ids) / 4; i++) {
		uint32_t w;
		memcpy(&w, (const char *)&ids + 4 * i, 4);
		hh = (hh ^ w) * 0x9e3779b1u;
	}
	struct head_slot *hs = &head_slots[(hh >> 16) % CTX_HEAD_SLOTS];
	if (hs->ok && hs->tty == tty && !memcmp(&ids, &hs->ids, sizeof(ids))) {
		jb_frag(b, &hs->f);
	} else {
		size_t hfrom = b->len;
		jb_ku64(b, "ppid", h->ppid);
		jb_ku64(b, "uid", h->uid);
		jb_ku64(b, "gid", h->gid);
		jb_ku64(b, "euid", h->euid);
		jb_ku64(b, "egid", h->egid);
		jb_key(b, "auid");
		if (h->auid == 0xffffffffu)
			jb_null(b);
		else
			jb_u64(b, h->auid);
		jb_key(b, "tty");
		if (tty)
			jb_str(b, tty, pstr_len(tty));
		else
			jb_null(b);
		jb_kstr(b, "comm", h->comm, strnlen(h->comm, sizeof(h->comm)));
		if (!b->oom) {
			hs->ok = frag_set(&hs->f, b->p + hfrom, b->len - hfrom, CTX_SELF_MAX);
			hs->ids = ids;
			pstr_set(&hs->tty, tty);
		}
	}
	if (p && !a->exec_args) {
		s = &self_slots[h->pid % CTX_SELF_SLOTS];
		if (s->pid != h->pid || s->ver != p->ver) {
			s->pid = h->pid;
			s->ver = p->ver;
			s->ok = false;
		}
	}
	/* exe ... key: the process table, the cgroup and the config */
	if (s && s->ok && s->cg == h->cgroup_id && s->cfg == a->cfg_gen && s->host == a->host_gen) {
		jb_frag(b, &s->f);
	} else {
		size_t from = b->len;
		const char *cg = cgcache_path(a->cg, h->cgroup_id, h->pid);
		put_body(a, h, p, cg);
		make_key(a, h->pid, p ? p->start_ticks : ns_to_ticks(a, h->start_ns), key,
			 sizeof(key));
		jb_kcstr(b, "key", key);
		jb_obj_end(b);
		/* an unresolved cgroup may resolve later: not kept */
		if (s && cg && !b->oom) {
			s->ok = frag_set(&s->f, b->p + from, b->len - from, CTX_SELF_MAX);
			s->cg = h->cgroup_id;
			s->cfg = a->cfg_gen;
			s->host = a->host_gen;
		}
	}
	put_lineage(a, h->ppid);
}

void emit_proc(struct agent *a, const struct hw_hdr *h)
{
	emit_proc_p(a, h, proctab_get(&a->pt, h->pid));
}

/* ---- record helpers: every offset is checked against the record length ---- */

static bool str_ok(const struct hw_str *s, size_t len)
{
	return (size_t)s->off + s->len <= len;
}

/* Rebuild an absolute path from leaf-first components. Returns length, or -1. A path the
 * kernel walk could not finish (too deep, too long, a failed read) starts with "…/" instead
 * of "/": it never looks absolute. */
int path_build(const void *rec, size_t len, const struct hw_path *p, char *out,
		      size_t outlen)
{
	const char *comp[HW_PATH_DEPTH];
	size_t cl[HW_PATH_DEPTH];
	int n = 0;
	size_t o = 0;

	if ((size_t)p->off + p->len > len || outlen < 2)
		return -1;
	const char *s = (const char *)rec + p->off, *end = s + p->len;
	while (s < end && n < HW_PATH_DEPTH && n < p->ncomp) {
		const char *z = memchr(s, 0, end - s);
		if (!z)
			break;
		comp[n] = s;
		cl[n] = z - s;
		n++;
		s = z + 1;
	}
	bool trunc = p->flags & HW_PATH_TRUNC;
	if (trunc) {
		const char ell[] = "\xe2\x80\xa6"; /* U+2026 */
		if (outlen < sizeof(ell) + 1)
			return -1;
		memcpy(out, ell, sizeof(ell) - 1);
		o = sizeof(ell) - 1;
	} else if (n == 1 && p->ncomp == 1 && cl[0] && comp[0][0] != '/' && strchr(comp[0], ':')) {
		/* a pseudo-filesystem leaf such as "memfd:x": print as the kernel does */
		out[o++] = '/';
	}
	for (int i = n - 1; i >= 0; i--) {
		if (cl[i] == 1 && comp[i][0] == '/')
			continue; /* the root dentry's own name */
		if (o + cl[i] + 2 >= outlen)
			break;
		if (!(n == 1 && o == 1 && out[0] == '/'))
			out[o++] = '/';
		memcpy(out + o, comp[i], cl[i]);
		o += cl[i];
	}
	if (o == 0 || (trunc && o == 3))
		out[o++] = '/';
	if (p->flags & HW_PATH_DELETED) {
		const char del[] = " (deleted)";
		if (o + sizeof(del) < outlen) {
			memcpy(out + o, del, sizeof(del) - 1);
			o += sizeof(del) - 1;
		}
	}
	out[o] = 0;
	return (int)o;
}

int decode_exec(struct agent *a, const void *rec, size_t len)
{
	const struct hw_exec *e = rec;
	const struct hw_hdr *h = &e->hdr;
	char exe[HW_PATH_MAX + 32], cwd[HW_PATH_MAX + 32];
	struct jbuf *b = &a->jb;

	if (!str_ok(&e->args, len) || !str_ok(&e->filename, len) || !str_ok(&e->tty, len))
		return -EINVAL;
	int exe_n = path_build(rec, len, &e->exe, exe, sizeof(exe));
	int cwd_n = path_build(rec, len, &e->cwd, cwd, sizeof(cwd));
	if (exe_n < 0 || cwd_n < 0)
		return -EINVAL;

	/* Update the table first: the event shows the process as it is after the exec. */
	struct proc *old = proctab_get(&a->pt, h->pid);
	bool old_euid_known = old && old->euid_known;
	uint32_t old_euid = old_euid_known ? old->euid : 0;
	uint32_t old_egid = old_euid_known ? old->egid : 0;
	bool had_old = old != NULL;
	/* strings an exec seldom changes (inherited at the fork): kept if equal */
	char *prev_exe = old ? pstr_ref(old->exe) : NULL,
	     *prev_cwd = old ? pstr_ref(old->cwd) : NULL,
	     *prev_tty = old ? pstr_ref(old->tty) : NULL;
	struct proc *p = proctab_put(&a->pt, h->pid);
	if (!p) {
		pstr_put(prev_exe);
		pstr_put(prev_cwd);
		pstr_put(prev_tty);
		return -ENOMEM;
	}
	p->euid = h->euid;
	p->egid = h->egid;
	p->euid_known = true;
	p->ppid = h->ppid;
	p->start_ticks = ns_to_ticks(a, h->start_ns);
	p->cgroup_id = h->cgroup_id;
	bool deleted = e->exe.flags & HW_PATH_DELETED;
	/* the table keeps the path without the " (deleted)" marker for lineage */
	size_t exelen = exe_n;
	if (deleted && exelen > 10)
		exelen -= 10;
	proc_set_str_prev(&p->exe, exe, exelen, prev_exe);
	proc_set_str_prev(&p->cwd, cwd, cwd_n, prev_cwd);
	proc_set_str_prev(&p->tty, e->tty.len ? (const char *)rec + e->tty.off : NULL, e->tty.len,
			  prev_tty);
	const char *args = (const char *)rec + e->args.off;
	bool args_cut = h->flags & HW_F_TRUNC_ARGS;
	proc_set_args(p, args, e->args.len, args_cut);

	/* filters.ignore_exe: decided here, enforced in the kernel from now on */
	for (size_t i = 0; i < a->cfg.ignore_exe.n; i++) {
		const char *pre = a->cfg.ignore_exe.v[i];
		size_t pl = strlen(pre);
		if (!strncmp(p->exe, pre, pl) && (pre[pl - 1] == '/' || p->exe[pl] == 0)) {
			uint8_t one = 1;
			p->ignored = true;
			bpf_map_update_elem(bpf_map__fd(a->skel->maps.hw_ignore_pid), &h->pid, &one,
					    BPF_ANY);
			a->filtered++;
			return 0;
		}
	}

	/* the event carries argv as the kernel read it, the table a bounded copy */
	if (e->args.len > p->args_len) {
		a->exec_args = args;
		a->exec_args_len = e->args.len;
		a->exec_args_cut = args_cut;
	}
	emit_event_p(a, "process.exec", h, p, "exec");
	a->exec_args = NULL;
	jb_ki64(b, "result", 0);
	/* Privilege gained by this exec: effective ids that changed through it (setuid/setgid
	 * binary), or capabilities granted by the file. Ids are compared with the credentials
	 * just before the exec (sched_prepare_exec); without them (kernel < 6.10, or the agent
	 * started mid-exec) with the euid last seen and the kernel's AT_SECURE decision. Ids that
	 * differ already before the exec (privileges dropped) are no gain. */
	bool setuid = e->caps_gained;
	if (e->old_known) {
		setuid |= h->euid != e->old_euid || h->egid != e->old_egid;
		old_euid_known = true;
		old_euid = e->old_euid;
		old_egid = e->old_egid;
	} else {
		setuid |= e->secureexec && (!old_euid_known || old_euid != h->euid);
	}
	jb_kbool(b, "setuid", setuid);
	jb_kbool(b, "fileless", deleted || e->exe_nlink == 0);
	jb_kstr(b, "filename", (const char *)rec + e->filename.off, e->filename.len);
	jb_ku64(b, "uid", h->uid);
	jb_ku64(b, "euid", h->euid);
	/* the euid before the exec, as last seen (fork, exec, cred_change); null if never seen */
	jb_key(b, "old_euid");
	if (old_euid_known)
		jb_u64(b, old_euid);
	else
		jb_null(b);
	jb_ku64(b, "suid", e->suid);
	jb_ku64(b, "egid", h->egid);
	/* the egid before the exec: as old_euid (last seen with it where the kernel does not say) */
	jb_key(b, "old_egid");
	if (old_euid_known)
		jb_u64(b, old_egid);
	else
		jb_null(b);
	jb_kbool(b, "caps_gained", e->caps_gained);
	jb_kbool(b, "exe_truncated", e->exe.flags & HW_PATH_TRUNC);
	jb_kbool(b, "cwd_truncated", e->cwd.flags & HW_PATH_TRUNC);
	jb_kbool(b, "args_read_failed", h->flags & HW_F_READ_FAIL);
	jb_kbool(b, "args_truncated", h->flags & HW_F_TRUNC_ARGS);
	jb_ku64(b, "args_bytes", e->args_total);
	if (e->old_pid != h->pid)
		jb_ku64(b, "old_tid", e->old_pid);
	jb_kbool(b, "seen_before_exec", had_old);
	emit_event_end(a);
	return 0;
}

int decode_exit(struct agent *a, const void *rec, size_t len)
{
	const struct hw_exit *e = rec;
	const struct hw_hdr *h = &e->hdr;
	struct jbuf *b = &a->jb;
	struct proc *p = proctab_get(&a->pt, h->pid);

	if (!(p && p->ignored)) {
		file_flush_repeats(a, h);
		emit_event_p(a, "process.exit", h, p, "exit");
		uint32_t st = e->exit_code;
		jb_ku64(b, "code", (st >> 8) & 0xff);
		jb_ku64(b, "signal", st & 0x7f);
		jb_kbool(b, "core_dumped", st & 0x80);
		jb_ku64(b, "duration_ns", h->ts > h->start_ns ? h->ts - h->start_ns : 0);
		emit_event_end(a);
	} else {
		a->filtered++;
		/* An exit record of an ignored process means that it exited before the agent read its
		 * exec and marked it: the mark set since is stale (its pid may be reused) */
		if (a->skel)
			bpf_map_delete_elem(bpf_map__fd(a->skel->maps.hw_ignore_pid), &h->pid);
		unsigned i = a->ign_exited_next++ % (sizeof(a->ign_exited) / sizeof(a->ign_exited[0]));
		a->ign_exited[i].pid = h->pid;
		a->ign_exited[i].start_ticks = p->start_ticks;
	}
	proctab_del(&a->pt, h->pid);
	return 0;
}

/* Forks feed the process table only (exec and exit are the events). */
int decode_fork(struct agent *a, const void *rec, size_t len)
{
	const struct hw_fork *e = rec;
	/* Classic tracepoint fallback: the child may be a thread, which must not become an entry.
	 * One already gone cannot be told apart: its entry is freed by its exit record if it was
	 * a process, by the table's reconciliation with /proc if it was a thread. */
	if (!e->child_start_ns) {
		int tgid = proctab_tgid_of("/proc", e->child_pid);
		if (tgid > 0 && tgid != (int)e->child_pid)
			return 0;
	}
	struct proc *c = proctab_put(&a->pt, e->child_pid);
	if (!c)
		return -ENOMEM;
	/* after the put, which may free entries to stay within the table's bounds */
	struct proc *par = proctab_get(&a->pt, e->hdr.pid);
	c->ppid = e->hdr.pid;
	c->cgroup_id = e->hdr.cgroup_id;
	c->euid = e->hdr.euid; /* a child starts with its parent's credentials */
	c->egid = e->hdr.egid;
	c->euid_known = true;
	if (e->child_start_ns)
		c->start_ticks = ns_to_ticks(a, e->child_start_ns);
	else if (proctab_load_pid(&a->pt, "/proc", e->child_pid) == 0)
		return 0; /* classic tracepoint fallback: /proc has the rest */
	if (par)
		proc_inherit(c, par);
	return 0;
}

int handle_record(void *ctx, void *data, size_t len)
{
	struct agent *a = ctx;
	const struct hw_hdr *h = data;

	if (len < sizeof(*h) || h->size > len) {
		a->decode_errors++;
		count_user_loss(a, len < sizeof(*h) ? "unknown" : kind_name(h->type),
				HW_ULOSS_DECODE);
		return 0;
	}
	len = h->size;
	for (size_t i = 0; i < sizeof(decoders) / sizeof(decoders[0]); i++) {
		if (decoders[i].type != h->type)
			continue;
		int rc = len < decoders[i].minsz ? -EINVAL : decoders[i].fn(a, data, len);
		if (rc < 0) {
			a->decode_errors++;
			count_user_loss(a, decoders[i].kind,
					rc == -ENOMEM ? HW_ULOSS_OOM : HW_ULOSS_DECODE);
		} else {
			a->events_by_type[h->type]++;
		}
		return 0;
	}
	a->decode_errors++;
	count_user_loss(a, "unknown", HW_ULOSS_DECODE);
	return 0;
}

static const char *cause_name(int c)
{
	return c == HW_DROP_RINGBUF ? "ringbuf_full" : "no_scratch";
}

static const char *const uloss_cause[HW_ULOSS_NCAUSE] = {"decode", "oom", "ring_read",
							  "output_error"};

void count_user_loss(struct agent *a, const char *kind, enum hw_uloss_cause cause)
{
	const size_t max = sizeof(a->uloss) / sizeof(a->uloss[0]);
	if (!kind)
		kind = "unknown";
	for (unsigned i = 0; i < a->n_uloss; i++) {
		struct hw_uloss *u = &a->uloss[i];
		/* a full table puts the rest under "*" (the last entry) */
		if (u->cause == cause &&
		    (!strcmp(u->kind, kind) || (i == max - 1 && !strcmp(u->kind, "*")))) {
			u->count++;
			return;
		}
	}
	if (a->n_uloss == max - 1)
		kind = "*";
	if (a->n_uloss < max) {
		struct hw_uloss *u = &a->uloss[a->n_uloss++];
		snprintf(u->kind, sizeof(u->kind), "%s", kind);
		u->cause = cause;
		u->count = 1;
		u->seen = 0;
	}
}

static void emit_loss(struct agent *a, const char *kind, uint64_t count, const char *cause)
{
	emit_begin(a, "agent.loss", 0);
	jb_key(&a->jb, "loss");
	jb_obj_begin(&a->jb);
	jb_kcstr(&a->jb, "kind", kind);
	jb_ku64(&a->jb, "count", count);
	jb_kcstr(&a->jb, "cause", cause);
	jb_obj_end(&a->jb);
	emit_end(a);
}

/* The run before this one on the same spool did not end cleanly (kill -9, crash, power loss):
 * its events after last_seq may be lost, how many is unknown (count null). */
void emit_prev_run_crash(struct agent *a, uint64_t run, uint64_t last_seq)
{
	char hex[17];
	snprintf(hex, sizeof(hex), "%016llx", (unsigned long long)run);
	emit_begin(a, "agent.loss", 0);
	jb_key(&a->jb, "loss");
	jb_obj_begin(&a->jb);
	jb_kcstr(&a->jb, "kind", "*");
	jb_key(&a->jb, "count");
	jb_null(&a->jb);
	jb_kcstr(&a->jb, "cause", "previous_run_crash");
	jb_kcstr(&a->jb, "previous_run", hex);
	jb_ku64(&a->jb, "durable_seq", last_seq);
	jb_obj_end(&a->jb);
	emit_end(a);
}

/* Output failures are announced once the output works again (before, the announcement
 * would only join what waits): each kind's dropped events, or a count of 0 when the episode
 * lost nothing (every event held was written late), so no failed write goes untold. */
static bool output_losses_due(struct agent *a)
{
	struct hw_output *o = &a->out;
	if (o->err)
		return false;
	for (; o->cut; o->cut--)
		count_user_loss(a, "*", HW_ULOSS_OUTPUT);
	if (!o->resumed)
		return true;
	o->resumed = false;
	o->dropped = 0;
	for (unsigned i = 0; i < a->n_uloss; i++)
		if (a->uloss[i].cause == HW_ULOSS_OUTPUT && a->uloss[i].count != a->uloss[i].seen)
			return true;
	emit_loss(a, "*", 0, "output_error");
	return true;
}

/* Announce the user-space losses counted since the last announcement. */
void check_user_losses(struct agent *a)
{
	bool output_due = output_losses_due(a);
	for (unsigned i = 0; i < a->n_uloss; i++) {
		struct hw_uloss *u = &a->uloss[i];
		if (u->count == u->seen || (u->cause == HW_ULOSS_OUTPUT && !output_due))
			continue;
		uint64_t delta = u->count - u->seen;
		u->seen = u->count;
		emit_loss(a, u->kind, delta, uloss_cause[u->cause]);
	}
}

/* Compare the kernel's drop counters with what was announced; announce the difference. */
void check_drops(struct agent *a)
{
	enum { NKEYS = HW_EV_MAX * HW_DROP_NCAUSE };
	static uint64_t *all; /* NKEYS x ncpu counters */
	static uint32_t *keys;
	int ncpu = libbpf_num_possible_cpus();
	int fd = bpf_map__fd(a->skel->maps.hw_drops);
	uint64_t vals[ncpu > 0 ? ncpu : 1];
	bool batch = false;

	check_user_losses(a);
	if (ncpu <= 0)
		return;
	/* the whole per-CPU array in one syscall (one lookup per known (type, cause) was 66
	 * system calls a second, most of the idle agent's); one lookup per key where batches
	 * fail */
	if (!all) {
		all = calloc((size_t)NKEYS * ncpu, sizeof(*all));
		keys = calloc(NKEYS, sizeof(*keys));
	}
	if (all && keys) {
		uint32_t out = 0, count = NKEYS;
		int rc = bpf_map_lookup_batch(fd, NULL, &out, keys, all, &count, NULL);
		batch = (rc == 0 || errno == ENOENT) && count == NKEYS;
	}
	for (size_t d = 0; d < sizeof(decoders) / sizeof(decoders[0]); d++) {
		uint32_t type = decoders[d].type;
		for (uint32_t c = 0; c < HW_DROP_NCAUSE; c++) {
			uint32_t key = type * HW_DROP_NCAUSE + c;
			uint64_t sum = 0;
			const uint64_t *v = vals;
			if (batch && keys[key] == key)
				v = all + (size_t)key * ncpu;
			else if (bpf_map_lookup_elem(fd, &key, vals))
				continue;
			for (int i = 0; i < ncpu; i++)
				sum += v[i];
			if (sum == a->drops_seen[key])
				continue;
			uint64_t delta = sum - a->drops_seen[key];
			a->drops_seen[key] = sum;
			a->drops_total[key] = sum;
			emit_loss(a, kind_name(type), delta, cause_name(c));
		}
	}
}

/* RssAnon from /proc/self/status: the agent's own heap, without the ring buffer mapping
 * (kernel memory mapped twice into the agent, which VmRSS counts). */
static uint64_t rss_anon_bytes(void)
{
	FILE *f = fopen("/proc/self/status", "re");
	char line[128];
	unsigned long kb = 0;
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "RssAnon: %lu", &kb) == 1)
			break;
	fclose(f);
	return (uint64_t)kb * 1024;
}

/* Events the collector stream dropped, one agent.loss per cause: spool_full (the oldest
 * batches go first), spool_unreadable (a spooled batch's file vanished or was unreadable),
 * ship_error (could not be queued: out of memory, compression failed). */
void check_ship_drops(struct agent *a)
{
	struct ship_stats st;
	if (!a->ship)
		return;
	ship_get_stats(a->ship, &st);
	for (int c = 0; c < SHIP_DROP_NCAUSE; c++) {
		if (st.dropped_by[c] == a->ship_dropped_seen[c])
			continue;
		uint64_t delta = st.dropped_by[c] - a->ship_dropped_seen[c];
		a->ship_dropped_seen[c] = st.dropped_by[c];
		emit_loss(a, "*", delta, ship_drop_cause_name(c));
	}
}

static uint64_t rss_bytes(void)
{
	FILE *f = fopen("/proc/self/statm", "re");
	unsigned long size = 0, res = 0;
	if (f) {
		if (fscanf(f, "%lu %lu", &size, &res) != 2)
			res = 0;
		fclose(f);
	}
	return (uint64_t)res * sysconf(_SC_PAGESIZE);
}

static uint64_t events_of(const struct agent *a, uint32_t type)
{
	return a->events_by_type[type];
}

static uint64_t drops_of(const struct agent *a, uint32_t type)
{
	uint64_t n = 0;
	for (int c = 0; c < HW_DROP_NCAUSE; c++)
		n += a->drops_total[type * HW_DROP_NCAUSE + c];
	return n;
}

/* {kind: count} over record types; types that share a kind (exec and failed exec) add up. */
static void put_by_kind(const struct agent *a, struct jbuf *b,
			uint64_t (*count)(const struct agent *, uint32_t))
{
	const size_t nd = sizeof(decoders) / sizeof(decoders[0]);
	jb_obj_begin(b);
	for (size_t d = 0; d < nd; d++) {
		uint64_t n = 0;
		bool first = true;
		for (size_t e = 0; e < nd; e++) {
			if (strcmp(decoders[e].kind, decoders[d].kind))
				continue;
			first &= e >= d;
			n += count(a, decoders[e].type);
		}
		if (first && n)
			jb_ku64(b, decoders[d].kind, n);
	}
	jb_obj_end(b);
}

void emit_heartbeat(struct agent *a)
{
	struct jbuf *b = &a->jb;
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	emit_begin(a, "agent.heartbeat", 0);
	jb_key(b, "agent");
	jb_obj_begin(b);
	jb_kcstr(b, "version", HW_VERSION);
	jb_ku64(b, "pid", a->self_pid);
	if (a->hooks) {
		jb_key(b, "hooks");
		jb_raw(b, a->hooks, strlen(a->hooks));
		b->comma = true;
	}
	jb_key(b, "probes");
	probes_json(a, b, false);
	user_heartbeat(a, b);
	jb_key(b, "stats");
	jb_obj_begin(b);
	jb_ku64(b, "events", a->events_total);
	jb_key(b, "events_by_kind");
	put_by_kind(a, b, events_of);
	jb_key(b, "dropped");
	put_by_kind(a, b, drops_of);
	/* losses in user space: {cause: {kind: count}} since start */
	jb_key(b, "dropped_user");
	jb_obj_begin(b);
	for (int c = 0; c < HW_ULOSS_NCAUSE; c++) {
		bool any = false;
		for (unsigned i = 0; i < a->n_uloss; i++) {
			if (a->uloss[i].cause != c)
				continue;
			if (!any) {
				jb_key(b, uloss_cause[c]);
				jb_obj_begin(b);
			}
			any = true;
			jb_ku64(b, a->uloss[i].kind, a->uloss[i].count);
		}
		if (any)
			jb_obj_end(b);
	}
	jb_obj_end(b);
	jb_ku64(b, "decode_errors", a->decode_errors);
	jb_ku64(b, "filtered", a->filtered);
	jb_ku64(b, "output_errors", a->out.errors);
	jb_ku64(b, "processes", a->pt.count);
	jb_ku64(b, "reaped", a->pt.reaped);
	jb_ku64(b, "evicted", a->pt.evicted);
	double cpu = ru.ru_utime.tv_sec + ru.ru_stime.tv_sec +
		     (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	double wall = now.tv_sec + now.tv_nsec / 1e9;
	static double last_cpu, last_wall;
	double pct = last_wall && wall > last_wall ? 100.0 * (cpu - last_cpu) / (wall - last_wall) : 0;
	last_cpu = cpu;
	last_wall = wall;
	char tmp[64];
	/* the contract's stats.cpu: CPU seconds used since start */
	jb_key(b, "cpu");
	snprintf(tmp, sizeof(tmp), "%.3f", cpu);
	jb_raw(b, tmp, strlen(tmp));
	b->comma = true;
	jb_key(b, "cpu_pct");
	snprintf(tmp, sizeof(tmp), "%.3f", pct);
	jb_raw(b, tmp, strlen(tmp));
	b->comma = true;
	jb_ku64(b, "rss", rss_bytes());
	jb_ku64(b, "rss_anon", rss_anon_bytes());
	jb_ku64(b, "ringbuf_bytes", (uint64_t)a->cfg.ringbuf_mb << 20);
	if (a->ship) {
		struct ship_stats st;
		ship_get_stats(a->ship, &st);
		jb_key(b, "collector");
		jb_obj_begin(b);
		jb_kbool(b, "connected", st.connected);
		jb_ku64(b, "sent", st.sent);
		jb_ku64(b, "acked", st.acked);
		jb_ku64(b, "spooled_bytes", st.spooled_bytes);
		jb_ku64(b, "dropped", st.dropped);
		jb_ku64(b, "reconnects", st.reconnects);
		jb_obj_end(b);
	}
	jb_obj_end(b);
	jb_obj_end(b);
	emit_end(a);
}

bool proc_ignored(struct agent *a, const struct hw_hdr *h)
{
	struct proc *p = proctab_get(&a->pt, h->pid);
	if (p)
		return p->ignored;
	uint64_t t = h->start_ns ? ns_to_ticks(a, h->start_ns) : 0;
	for (size_t i = 0; i < sizeof(a->ign_exited) / sizeof(a->ign_exited[0]); i++)
		if (a->ign_exited[i].pid == h->pid && (!t || a->ign_exited[i].start_ticks == t))
			return true;
	return false;
}

int decode_exec_fail(struct agent *a, const void *rec, size_t len)
{
	const struct hw_exec_fail *e = rec;
	struct jbuf *b = &a->jb;
	struct proc *p = proctab_get(&a->pt, e->hdr.pid);

	if (!str_ok(&e->filename, len))
		return -EINVAL;
	if (p && p->ignored) {
		a->filtered++;
		return 0;
	}
	emit_event(a, "process.exec", &e->hdr, "exec");
	jb_ki64(b, "result", e->result);
	jb_kcstr(b, "error", strerrorname_np(-e->result));
	jb_kbool(b, "setuid", false);
	jb_kbool(b, "fileless", false);
	jb_kstr(b, "filename", (const char *)rec + e->filename.off, e->filename.len);
	emit_event_end(a);
	return 0;
}
