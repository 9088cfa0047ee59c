/* SPDX-License-Identifier: GPL-2.0 */
/*
 * custom.bpf.c - generic programs behind custom probes (see common/abi_custom.h).
 * The same program is attached to many tracepoints / functions. A uprobe link's cookie names
 * the slot whose spec (scope, fields to capture, filters) is in hwc_specs; a tracepoint link's
 * cookie names a group (one per tracepoint) whose mask in hwc_groups lists the slots of
 * every custom probe on that tracepoint, each run in turn.
 */
#include "hw.bpf.h"

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, HW_CP_SLOTS);
	__type(key, __u32);
	__type(value, struct hw_cp_spec);
} hwc_specs SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, HW_CP_SLOTS);
	__type(key, __u32);
	__type(value, struct hw_cp_count);
} hwc_counts SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, HW_CP_GROUPS);
	__type(key, __u32);
	__type(value, __u32);
} hwc_groups SEC(".maps");

static __always_inline __u64 hw_cp_arg(struct pt_regs *regs, __u8 arg)
{
	switch (arg) {
	case 1:
		return PT_REGS_PARM1_CORE(regs);
	case 2:
		return PT_REGS_PARM2_CORE(regs);
	case 3:
		return PT_REGS_PARM3_CORE(regs);
	case 4:
		return PT_REGS_PARM4_CORE(regs);
	case 5:
		return PT_REGS_PARM5_CORE(regs);
	case 6:
#ifdef PT_REGS_PARM6_CORE
		return PT_REGS_PARM6_CORE(regs);
#elif defined(__TARGET_ARCH_x86)
		return BPF_CORE_READ(regs, r9); /* libbpf < 1.2 has no PT_REGS_PARM6 */
#else
		return 0;
#endif
	}
	return 0;
}

static __always_inline __u64 hw_cp_extend(__u64 v, __u8 size, bool sign)
{
	switch (size) {
	case 1:
		return sign ? (__u64)(__s64)(__s8)v : (__u8)v;
	case 2:
		return sign ? (__u64)(__s64)(__s16)v : (__u16)v;
	case 4:
		return sign ? (__u64)(__s64)(__s32)v : (__u32)v;
	}
	return v;
}

/* Does a filter pass? Strings compare the first slen bytes captured (prefix) or all (eq/ne). */
static __always_inline bool hw_cp_pass(struct hw_custom *e, struct hw_cp_filter *f,
				       struct hw_cp_field *fd, __u8 *base)
{
	if (fd->kind == HW_CP_USTR || fd->kind == HW_CP_KSTR || fd->kind == HW_CP_CHARS ||
	    fd->kind == HW_CP_UBYTES) {
		struct hw_str s = e->str[f->field & (HW_CP_FIELDS - 1)];
		bool same = true;
		if (f->op == HW_CP_EQ || f->op == HW_CP_NE) {
			if (s.len != f->slen)
				same = false;
		} else if (s.len < f->slen) {
			same = false;
		}
		__u32 off = s.off & (HW_MAX_RECORD - 1);
		for (int i = 0; i < HW_CP_STR; i++) {
			if (i >= f->slen || !same)
				break;
			if (base[(off + i) & (2 * HW_MAX_RECORD - 1)] != (__u8)f->str[i])
				same = false;
		}
		if (f->op == HW_CP_NE)
			return !same;
		return same;
	}
	__s64 v = e->val[f->field & (HW_CP_FIELDS - 1)];
	__u64 uv = v, uf = f->val;
	bool sign = fd->kind == HW_CP_INT;
	switch (f->op) {
	case HW_CP_EQ:
		return v == f->val;
	case HW_CP_NE:
		return v != f->val;
	case HW_CP_LT:
		return sign ? v < f->val : uv < uf;
	case HW_CP_LE:
		return sign ? v <= f->val : uv <= uf;
	case HW_CP_GT:
		return sign ? v > f->val : uv > uf;
	case HW_CP_GE:
		return sign ? v >= f->val : uv >= uf;
	}
	return false;
}

/* One slot's capture, filters and submit. A global function: verified once on its own, so the
 * tracepoint program can run it for each slot of its group without multiplying the work of
 * the verifier. ctxp is the program's context as a plain address (only read through
 * bpf_probe_read_kernel). */
__noinline int hw_custom_run(__u64 ctxp, __u32 slot, int is_tp)
{
	void *ctx = (void *)ctxp;
	__u64 id = bpf_get_current_pid_tgid();
	struct hw_cp_count *cnt;
	struct hw_cp_spec *sp;
	struct hw_custom *e;
	struct hw_blob b;

	slot &= HW_CP_SLOTS - 1;
	cnt = bpf_map_lookup_elem(&hwc_counts, &slot);
	sp = bpf_map_lookup_elem(&hwc_specs, &slot);
	if (!sp || !cnt || sp->paused || hw_filtered(id >> 32))
		return 0;
	cnt->hits++;
	/* the probe's scope, before anything is read: a process, a cgroup and its descendants */
	if ((sp->tgid && sp->tgid != (__u32)(id >> 32)) ||
	    (sp->cg_id && bpf_get_current_ancestor_cgroup_id(sp->cg_level) != sp->cg_id)) {
		cnt->filtered++;
		return 0;
	}
	e = hw_scratch_get();
	if (!e) {
		hw_count_drop(HW_EV_CUSTOM, HW_DROP_SCRATCH);
		cnt->dropped++;
		return 0;
	}
	hw_fill_hdr(&e->hdr, bpf_get_current_task_btf(), HW_EV_CUSTOM);
	e->slot = slot;
	e->gen = sp->gen;
	b.base = (__u8 *)e;
	b.pos = sizeof(*e);
	for (int i = 0; i < HW_CP_FIELDS; i++) {
		struct hw_cp_field *f = &sp->f[i];
		__u64 v = 0;
		e->val[i] = 0;
		e->str[i].off = b.pos;
		e->str[i].len = 0;
		if (i >= sp->nfields)
			continue;
		if (f->src == HW_CP_SRC_TP) {
			if (f->kind == HW_CP_CHARS) {
				hw_blob_kstr(&b, ctx + f->off, f->size ? f->size : 1, &e->str[i]);
				continue;
			}
			bpf_probe_read_kernel(&v, sizeof(v), ctx + f->off);
		} else if (!is_tp && f->src == HW_CP_SRC_ARG) {
			v = hw_cp_arg((struct pt_regs *)ctx, f->arg);
		} else if (!is_tp && f->src == HW_CP_SRC_RET) {
			v = PT_REGS_RC_CORE((struct pt_regs *)ctx);
		}
		switch (f->kind) {
		case HW_CP_INT:
		case HW_CP_UINT:
			e->val[i] = hw_cp_extend(v, f->size, f->kind == HW_CP_INT);
			break;
		case HW_CP_USTR:
			e->val[i] = v;
			hw_blob_ustr(&b, (void *)v, f->maxlen, &e->str[i]);
			break;
		case HW_CP_KSTR: {
			/* __data_loc: low 16 bits offset in the record, high 16 bits length */
			__u32 loc = v;
			hw_blob_kstr(&b, ctx + (loc & 0xffff), f->maxlen, &e->str[i]);
			break;
		}
		case HW_CP_UBYTES: {
			__u64 pos = hw_pos(b.pos, HW_CP_STRMAX);
			__u32 n = f->maxlen & (HW_CP_STRMAX - 1);
			e->val[i] = v;
			if (pos < HW_MAX_RECORD && n &&
			    bpf_probe_read_user(b.base + pos, n, (void *)v) == 0) {
				e->str[i].len = n;
				b.pos = pos + n;
			}
			break;
		}
		}
	}
	for (int k = 0; k < HW_CP_FILTERS; k++) {
		if (k >= sp->nfilters)
			break;
		struct hw_cp_filter *f = &sp->flt[k];
		if (!hw_cp_pass(e, f, &sp->f[f->field & (HW_CP_FIELDS - 1)], b.base)) {
			cnt->filtered++;
			return 0;
		}
	}
	/* counted after the submit: a record the full ring buffer refused is a drop */
	if (hw_submit(e, b.pos, false))
		cnt->dropped++;
	else
		cnt->emitted++;
	return 0;
}

/* The context as a plain address for hw_custom_run (the verifier does not let a context
 * pointer be passed to a global function as a number; a copy through a helper is one). */
static __always_inline __u64 hw_cp_addr(void *ctx)
{
	__u64 addr = 0;
	void *c = ctx;
	bpf_probe_read_kernel(&addr, sizeof(addr), &c);
	return addr;
}

SEC("tracepoint")
int hwc_probe_tp(void *ctx)
{
	__u32 grp = bpf_get_attach_cookie(ctx) & (HW_CP_GROUPS - 1);
	__u32 *maskp = bpf_map_lookup_elem(&hwc_groups, &grp);
	__u32 mask;
	__u64 addr;
	if (!maskp)
		return 0;
	mask = *maskp;
	addr = hw_cp_addr(ctx);
	for (__u32 i = 0; i < HW_CP_SLOTS; i++)
		if (mask & (1U << i))
			hw_custom_run(addr, i, 1);
	return 0;
}

SEC("uprobe")
int hwc_probe_up(struct pt_regs *ctx)
{
	hw_custom_run(hw_cp_addr(ctx), bpf_get_attach_cookie(ctx), 0);
	return 0;
}

SEC("uretprobe")
int hwc_probe_ur(struct pt_regs *ctx)
{
	hw_custom_run(hw_cp_addr(ctx), bpf_get_attach_cookie(ctx), 0);
	return 0;
}
