/* proc_context.c - the process context of an event ("proc", "parent", "ancestors": exe,
 * argv, credentials, cgroup and container, lineage), built from the record header and the
 * process table (agent/proctab.h). The formatted pieces are cached per process and rebuilt
 * when the entry, the config (container rules) or the host identity changes, so that an event
 * of a known process costs a few copies. */
#include "agent/agent.h"
#include "agent/ctrmeta.h"
#include "agent/emit.h"
#include "agent/user.h"
#include "herdwatch.skel.h"
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

/* argv block as a JSON array: each argument is NUL-terminated, except a last one cut short by
 * the bound (then it ends at the end of the block). */
void put_argv(struct jbuf *b, const char *args, size_t n)
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

/* The 64-hex container id of cgroup path cg (a path component, or one after a '-':
 * docker-<id>.scope, /docker/<id>, cri-containerd-<id>.scope, crio-<id>.scope,
 * libpod-<id>.scope, /kubepods/.../pod<uid>/<id>), or NULL */
static const char *cg_container_id(const char *cg)
{
	for (const char *p = cg; *p; p++) {
		size_t k = 0;
		while (k < 65 && ((p[k] >= '0' && p[k] <= '9') || (p[k] >= 'a' && p[k] <= 'f')))
			k++;
		if (k == 64 && (p == cg || p[-1] == '/' || p[-1] == '-'))
			return p;
		if (k)
			p += k - 1;
	}
	return NULL;
}

/* "container": the id, herd and version from a containers rule (agent/host.c) or, for a
 * runtime's 64-hex id, from its metadata (agent/ctrmeta.c: herd from the herd label, version
 * from the image digest, a rule's own values first), then the identity keys. False when the
 * identity is not final (pending, unknown): the piece is not to be cached. */
static bool put_container(struct agent *a, const char *cg)
{
	static struct jbuf meta;
	char herd[128], id[128], ver[128], mherd[HW_CTR_VAL_MAX], mver[HW_CTR_VAL_MAX];
	struct jbuf *b = &a->jb;
	jb_key(b, "container");
	bool rule = cg && container_match(&a->cfg, cg, herd, sizeof(herd), id, sizeof(id), ver,
					  sizeof(ver));
	const char *hex = cg ? cg_container_id(cg) : NULL;
	if (!rule && !hex) {
		jb_null(b);
		return true;
	}
	bool final = true;
	if (!meta.p)
		jb_init(&meta, 1024);
	jb_reset(&meta);
	meta.comma = true;
	if (hex) {
		char full[65];
		memcpy(full, hex, 64);
		full[64] = 0;
		final = ctrmeta_put(a->ctrmeta, full, &meta, mherd, sizeof(mherd), mver,
				    sizeof(mver));
	} else {
		ctrmeta_put_none(&meta, "none");
		mherd[0] = mver[0] = 0;
	}
	jb_obj_begin(b);
	if (rule)
		jb_kcstr(b, "id", id);
	else
		jb_kstr(b, "id", hex, 12);
	jb_kcstr(b, "herd", rule ? herd : mherd[0] ? mherd : NULL);
	jb_kcstr(b, "version", rule && ver[0] ? ver : mver[0] ? mver : NULL);
	if (meta.oom)
		b->oom = true;
	else
		jb_raw(b, meta.p, meta.len);
	b->comma = true;
	jb_obj_end(b);
	return final;
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
#define CTX_SELF_MAX 2048 /* per head, self or body piece: (64 + 512 + 64) x 2 KiB at most */
#define CTX_LINE_SLOTS 64
#define CTX_LINE_MAX 8192 /* 512 KiB at most */

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
	uint64_t ver, cg, cfg, host, meta;
	struct frag f;
} self_slots[CTX_SELF_SLOTS];

static struct body_slot {
	bool ok;
	char *exe, *args, *cwd; /* references (pstr) */
	uint32_t args_len;
	bool args_cut;
	uint64_t cg, cfg, meta;
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
		put_argv(b, a->exec_args, a->exec_args_len);
	else if (p && p->args)
		put_argv(b, p->args, p->args_len);
	else
		jb_null(b);
	jb_kbool(b, "args_truncated", a->exec_args ? a->exec_args_cut : p && p->args_cut);
}

/* "exe" ... "container" of the entry p (NULL: unknown process), cgroup path cg; false when
 * the container's identity is not final (not to be cached) */
static bool put_body(struct agent *a, const struct hw_hdr *h, struct proc *p, const char *cg)
{
	struct jbuf *b = &a->jb;
	struct body_slot *bs = NULL;
	if (p && cg && !a->exec_args) {
		uint64_t k = (uintptr_t)p->exe ^ ((uintptr_t)p->args * 3) ^
			     ((uintptr_t)p->cwd * 5) ^ h->cgroup_id;
		bs = &body_slots[((k * 0x9e3779b97f4a7c15ull) >> 40) % CTX_BODY_SLOTS];
		if (bs->ok && bs->exe == p->exe && bs->args == p->args &&
		    bs->args_len == p->args_len && bs->args_cut == p->args_cut &&
		    bs->cwd == p->cwd && bs->cg == h->cgroup_id && bs->cfg == a->cfg_gen &&
		    bs->meta == ctrmeta_gen(a->ctrmeta)) {
			jb_frag(b, &bs->f);
			return true;
		}
	}
	size_t from = b->len;
	uint64_t meta = ctrmeta_gen(a->ctrmeta); /* before the lookup: a change after it rebuilds */
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
	bool final = put_container(a, cg);
	if (!bs || b->oom || !final)
		return final;
	bs->ok = frag_set(&bs->f, b->p + from, b->len - from, CTX_SELF_MAX);
	pstr_set(&bs->exe, p->exe);
	pstr_set(&bs->args, p->args);
	pstr_set(&bs->cwd, p->cwd);
	bs->args_len = p->args_len;
	bs->args_cut = p->args_cut;
	bs->cg = h->cgroup_id;
	bs->cfg = a->cfg_gen;
	bs->meta = meta;
	return true;
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
			put_argv(b, pp->args, pp->args_len);
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
void emit_proc_entry(struct agent *a, const struct hw_hdr *h, struct proc *p)
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
	uint64_t meta = ctrmeta_gen(a->ctrmeta);
	if (s && s->ok && s->cg == h->cgroup_id && s->cfg == a->cfg_gen && s->host == a->host_gen &&
	    s->meta == meta) {
		jb_frag(b, &s->f);
	} else {
		size_t from = b->len;
		const char *cg = cgcache_path(a->cg, h->cgroup_id, h->pid);
		bool final = put_body(a, h, p, cg);
		make_key(a, h->pid, p ? p->start_ticks : ns_to_ticks(a, h->start_ns), key,
			 sizeof(key));
		jb_kcstr(b, "key", key);
		jb_obj_end(b);
		/* an unresolved cgroup may resolve later: not kept */
		if (s && cg && final && !b->oom) {
			s->ok = frag_set(&s->f, b->p + from, b->len - from, CTX_SELF_MAX);
			s->cg = h->cgroup_id;
			s->cfg = a->cfg_gen;
			s->host = a->host_gen;
			s->meta = meta;
		}
	}
	put_lineage(a, h->ppid);
}

void emit_proc(struct agent *a, const struct hw_hdr *h)
{
	emit_proc_entry(a, h, proctab_get(&a->pt, h->pid));
}
