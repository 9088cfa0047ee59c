// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * custom.c - custom probes at runtime (custom.h, common/abi_custom.h): a resolved declaration
 * (custom_resolve.c) gets a slot, its spec goes into the hwc_specs map and the generic
 * program is attached with the slot as cookie (tracepoints share one link per tracepoint, a
 * group); replacing, removing, pausing, the manifest rows and the decoder of their events.
 * A replacement is attached before the probe it replaces is released; a refused one leaves
 * the running probe as it was.
 */
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

/* The family's state, owned here (struct agent holds only the pointer): the slots, each a
 * declaration and its decoding, and the tracepoint groups (one link per tracepoint, shared by
 * the slots on it). Allocated by the first custom_add(); NULL until then. */
struct custom_state {
	struct custom_probe slot[HW_CP_SLOTS];
	struct {
		char tp[192];          /* "category:name" */
		struct bpf_link *link; /* hwc_probe_tp, cookie = group */
		uint32_t mask;         /* slots of the custom probes on it */
	} grp[HW_CP_GROUPS];
	uint32_t gen; /* the last generation given to a declaration */
};

static struct custom_state *cs(struct agent *a)
{
	if (!a->cps)
		a->cps = calloc(1, sizeof(*a->cps));
	return a->cps;
}

struct custom_probe *custom_at(struct agent *a, int i)
{
	if (!a->cps || i < 0 || i >= HW_CP_SLOTS || !a->cps->slot[i].used)
		return NULL;
	return &a->cps->slot[i];
}

struct custom_probe *custom_find(struct agent *a, const char *name)
{
	for (int i = 0; i < HW_CP_SLOTS; i++) {
		struct custom_probe *cp = custom_at(a, i);
		if (cp && !strcmp(cp->name, name))
			return cp;
	}
	return NULL;
}

void custom_free(struct agent *a)
{
	free(a->cps);
	a->cps = NULL;
}

/* Tracepoint groups: one link per tracepoint, the slots it runs in hwc_groups. */
static int group_write(struct agent *a, int g)
{
	uint32_t key = g, mask = a->cps->grp[g].mask;
	return bpf_map_update_elem(bpf_map__fd(a->skel->maps.hwc_groups), &key, &mask, BPF_ANY)
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
		if (a->cps->grp[g].link && !strcmp(a->cps->grp[g].tp, tp))
			break;
		if (!a->cps->grp[g].link && free_g < 0)
			free_g = g;
	}
	if (g < HW_CP_GROUPS) { /* the tracepoint is watched already: one more slot to run */
		a->cps->grp[g].mask |= 1U << slot;
		if (group_write(a, g)) {
			a->cps->grp[g].mask &= ~(1U << slot);
			snprintf(err, errlen, "cannot write the tracepoint group: %s",
				 strerror(errno));
			return -EIO;
		}
		a->cps->slot[slot].link = a->cps->grp[g].link;
		a->cps->slot[slot].grp = g + 1;
		return 0;
	}
	if (free_g < 0) {
		snprintf(err, errlen, "too many tracepoints (at most %d)", HW_CP_GROUPS);
		return -ENOSPC;
	}
	g = free_g;
	a->cps->grp[g].mask = 1U << slot;
	int rc = group_write(a, g);
	if (rc) {
		snprintf(err, errlen, "cannot write the tracepoint group: %s", strerror(-rc));
		return rc;
	}
	LIBBPF_OPTS(bpf_tracepoint_opts, o, .bpf_cookie = g);
	struct bpf_link *l =
		bpf_program__attach_tracepoint_opts(a->skel->progs.hwc_probe_tp, cat, ev, &o);
	if (!l) {
		rc = -errno;
		snprintf(err, errlen, "attach to %s failed: %s", tp, strerror(-rc));
		a->cps->grp[g].mask = 0;
		group_write(a, g);
		return rc;
	}
	snprintf(a->cps->grp[g].tp, sizeof(a->cps->grp[g].tp), "%s", tp);
	a->cps->grp[g].link = l;
	a->cps->slot[slot].link = l;
	a->cps->slot[slot].grp = g + 1;
	return 0;
}

static void unlink_slot(struct agent *a, struct custom_probe *cp)
{
	int slot = cp - a->cps->slot;
	if (cp->grp) {
		int g = cp->grp - 1;
		a->cps->grp[g].mask &= ~(1U << slot);
		group_write(a, g);
		if (!a->cps->grp[g].mask) {
			bpf_link__destroy(a->cps->grp[g].link);
			a->cps->grp[g].link = NULL;
			a->cps->grp[g].tp[0] = 0;
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
	memcpy(cp->old_name, cp->name, sizeof(cp->old_name)); /* both char[64], terminated */
	memcpy(cp->old_fields, cp->fields, sizeof(cp->fields));
	memcpy(cp->old_kinds, cp->kinds, sizeof(cp->kinds));
	cp->old_nfields = cp->nfields;
	cp->used = false;
}

/* A free slot for the declaration, filled from it and from tmp (not attached yet); NULL when
 * every slot is taken. old: the running probe of the same name that the new one replaces. */
static struct custom_probe *take_slot(struct agent *a, const struct hw_custom_def *d, bool from_ctl,
				      const struct custom_probe *tmp,
				      const struct custom_probe *old)
{
	struct custom_probe *cp;
	int slot = -1;
	/* first free slot, preferring one never used, so in-flight events of a removed
	 * probe keep their name */
	for (int pass = 0; pass < 2 && slot < 0; pass++)
		for (int i = 0; i < HW_CP_SLOTS; i++)
			if (!a->cps->slot[i].used && (pass || !a->cps->slot[i].old_gen)) {
				slot = i;
				break;
			}
	if (slot < 0)
		return NULL;
	if (!old && d->name && (cp = custom_find(a, d->name)))
		release(a, cp); /* an unavailable one of the same name */
	cp = &a->cps->slot[slot];
	cp->used = true;
	cp->from_ctl = from_ctl;
	cp->paused = false;
	cp->until_ms = 0;
	cp->def_hash = 0;
	cp->grp = 0;
	cp->gen = ++a->cps->gen;
	snprintf(cp->name, sizeof(cp->name), "%s", d->name ? d->name : "?");
	snprintf(cp->target, sizeof(cp->target), "%s", d->target ? d->target : "?");
	cp->hook = d->hook;
	memcpy(cp->fields, tmp->fields, sizeof(cp->fields));
	memcpy(cp->kinds, tmp->kinds, sizeof(cp->kinds));
	cp->nfields = d->ncap;
	memcpy(cp->cgroup, tmp->cgroup, sizeof(cp->cgroup));
	cp->pid = tmp->pid;
	cp->link = NULL;
	return cp;
}

/* The slot's spec and zeroed counters into the maps, then the attachment (the tracepoint
 * group, or the uprobe). 0, or -errno with the reason in err. */
static int attach_slot(struct agent *a, struct custom_probe *cp, const struct hw_custom_def *d,
		       struct hw_cp_spec *sp, const struct cp_where *w, char *err, size_t errlen)
{
	int rc, slot = (int)(cp - a->cps->slot);
	char pname[80];
	snprintf(pname, sizeof(pname), "custom.%s", cp->name);
	cp->paused = !probe_wanted(a, pname, true);
	sp->paused = cp->paused;
	sp->gen = cp->gen;
	uint32_t key = slot;
	struct hw_cp_count *zero = calloc(libbpf_num_possible_cpus(), sizeof(*zero));
	if (zero) /* counters start at 0 for the new owner of the slot */
		bpf_map_update_elem(bpf_map__fd(a->skel->maps.hwc_counts), &key, zero, BPF_ANY);
	free(zero);
	if (bpf_map_update_elem(bpf_map__fd(a->skel->maps.hwc_specs), &key, sp, BPF_ANY)) {
		rc = -errno;
		snprintf(err, errlen, "cannot write the probe spec: %s", strerror(-rc));
		return rc;
	}
	if (d->hook == HW_CUSTOM_TP)
		return group_join(a, slot, w->cat, w->ev, err, errlen);
	bool ret = d->hook == HW_CUSTOM_URETPROBE;
	LIBBPF_OPTS(bpf_uprobe_opts, o, .bpf_cookie = slot, .retprobe = ret,
		    .func_name = w->sym[0] ? w->sym : NULL);
	cp->link = bpf_program__attach_uprobe_opts(ret ? a->skel->progs.hwc_probe_ur
						       : a->skel->progs.hwc_probe_up,
						   -1, w->bin, w->off, &o);
	if (cp->link)
		return 0;
	rc = -errno;
	if (w->sym[0])
		snprintf(err, errlen,
			 "attach to %s failed: %s (is '%s' a function symbol of "
			 "%s?)",
			 d->target, strerror(-rc), w->sym, w->bin);
	else
		snprintf(err, errlen, "attach to %s failed: %s", d->target, strerror(-rc));
	return rc;
}

int custom_add(struct agent *a, const struct hw_custom_def *d, bool from_ctl, char *err,
	       size_t errlen)
{
	struct hw_cp_spec sp;
	a->own_ids_dirty = true;
	struct custom_probe tmp, *cp, *old;
	struct cp_where w = {0};

	if (!cs(a)) {
		snprintf(err, errlen, "out of memory for the custom probes' table");
		agent_log("custom probe %s refused: %s\n", d->name ? d->name : "?", err);
		return -ENOMEM;
	}

	memset(&sp, 0, sizeof(sp));
	memset(&tmp, 0, sizeof(tmp));
	int rc = custom_resolve(d, &sp, &tmp, &w, err, errlen);

	/* A probe of the same name is replaced only once its successor is attached: until then
	 * (and if the new declaration is refused) the running one stays as it is. */
	old = d->name ? custom_find(a, d->name) : NULL;
	if (old && !old->link)
		old = NULL; /* an unavailable declaration has nothing worth keeping */
	if (rc && (old || from_ctl))
		goto refused;
	cp = take_slot(a, d, from_ctl, &tmp, old);
	if (!cp) {
		snprintf(err, errlen, "too many custom probes (at most %d)", HW_CP_SLOTS);
		rc = -ENOSPC;
		goto refused;
	}
	if (rc)
		goto unavailable;
	rc = attach_slot(a, cp, d, &sp, &w, err, errlen);
	if (rc)
		goto unavailable;
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
		snprintf(old->reason, sizeof(old->reason), "a new declaration was refused: %s",
			 err);
		size_t l = strlen(err);
		snprintf(err + l, errlen - l, "; the running probe %s stays attached unchanged",
			 old->name);
	}
	agent_log("custom probe %s refused: %s\n", d->name ? d->name : "?", err);
	return rc ? rc : -EINVAL;
}

int custom_remove(struct agent *a, const char *name)
{
	a->own_ids_dirty = true;
	struct custom_probe *cp = custom_find(a, name);
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
		struct custom_probe *cp = custom_at(a, i);
		if (!cp || cp->from_ctl)
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
		struct custom_probe *cp = d->name ? custom_find(a, d->name) : NULL;
		if (cp && !cp->from_ctl && cp->def_hash == custom_def_hash(d) && cp->link)
			continue; /* unchanged and attached: leave it be */
		if (custom_add(a, d, false, err, sizeof(err)) == 0 &&
		    (cp = custom_find(a, d->name)))
			cp->def_hash = custom_def_hash(d);
	}
}

/* Pause or resume custom probes to match control overrides ("custom.NAME" or "custom"). */
void custom_apply(struct agent *a)
{
	a->own_ids_dirty = true;
	for (int i = 0; i < HW_CP_SLOTS; i++) {
		struct custom_probe *cp = custom_at(a, i);
		char name[80];
		uint32_t key = i;
		struct hw_cp_spec sp;
		if (!cp || !cp->link)
			continue;
		snprintf(name, sizeof(name), "custom.%s", cp->name);
		bool want = probe_wanted(a, name, true);
		int fd = bpf_map__fd(a->skel->maps.hwc_specs);
		if (want == !cp->paused || bpf_map_lookup_elem(fd, &key, &sp))
			continue;
		sp.paused = !want;
		if (bpf_map_update_elem(fd, &key, &sp, BPF_ANY) == 0) {
			cp->paused = !want;
			snprintf(cp->state, sizeof(cp->state), want ? "attached" : "disabled");
			snprintf(cp->reason, sizeof(cp->reason), "%s",
				 want ? "" : "disabled by control");
		}
	}
}

void custom_detach_all(struct agent *a)
{
	for (int i = 0; a->cps && i < HW_CP_SLOTS; i++)
		if (a->cps->slot[i].link)
			unlink_slot(a, &a->cps->slot[i]);
}

void custom_manifest(struct agent *a, struct jbuf *b)
{
	int ncpu = libbpf_num_possible_cpus();
	struct hw_cp_count cnt[ncpu > 0 ? ncpu : 1];
	for (int i = 0; i < HW_CP_SLOTS; i++) {
		struct custom_probe *cp = custom_at(a, i);
		char key[80];
		uint32_t slot = i;
		uint64_t hits = 0, emitted = 0, filtered = 0, dropped = 0;
		if (!cp)
			continue;
		if (cp->link &&
		    !bpf_map_lookup_elem(bpf_map__fd(a->skel->maps.hwc_counts), &slot, cnt))
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
		jb_kcstr(b, "hook",
			 !cp->link                      ? NULL
			 : cp->hook == HW_CUSTOM_TP     ? "tracepoint"
			 : cp->hook == HW_CUSTOM_UPROBE ? "uprobe"
							: "uretprobe");
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

	if (e->slot >= HW_CP_SLOTS || !a->cps)
		return -EINVAL;
	cp = &a->cps->slot[e->slot];
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
