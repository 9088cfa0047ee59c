/* custom.h - custom probes at runtime: resolve a declaration against the kernel's tracepoint
 * formats or a binary's symbols, give it a slot, attach the generic program with the slot as
 * cookie, decode its events, report it in the manifest. */
#ifndef HW_CUSTOM_H
#define HW_CUSTOM_H
#include "agent/config.h"
#include <stdint.h>

struct agent;
struct jbuf;

struct custom_probe {
	bool used;
	bool from_ctl;     /* added through the control socket (kept across reloads) */
	uint64_t def_hash; /* fingerprint of the declaration (config probes) */
	uint32_t gen;      /* matches hw_cp_spec.gen of events emitted for this declaration */
	char name[64];
	enum hw_custom_hook hook;
	char target[512];
	char fields[HW_CP_FIELDS][64];
	uint8_t kinds[HW_CP_FIELDS];
	int nfields;
	struct bpf_link *link; /* tracepoints: the link of its group (shared, not owned) */
	int grp;               /* tracepoints: group + 1 (0: none) */
	bool paused;
	uint64_t until_ms; /* added with --for: removed at this CLOCK_MONOTONIC ms */
	char cgroup[256];  /* scope: cgroup path relative to the root ("" = any) */
	uint32_t pid;      /* scope: one process (0 = any) */
	char state[16];    /* attached, unavailable */
	char reason[300];
	/* the previous owner of the slot, for events still in flight after a change */
	uint32_t old_gen;
	char old_name[64];
	char old_fields[HW_CP_FIELDS][64];
	uint8_t old_kinds[HW_CP_FIELDS];
	int old_nfields;
};

/* Where a declaration attaches, as custom_resolve() found it: a tracepoint (cat:ev) or a
 * uprobe (bin, and sym or off). */
struct cp_where {
	char cat[64], ev[128], bin[400], sym[128];
	unsigned long off;
};
struct hw_cp_spec;
/* custom_resolve.c: a declaration checked and turned into its BPF spec (sp) and its decoding
 * (cp: fields, kinds, scope). 0, or -errno with the reason in err. */
int custom_resolve(const struct hw_custom_def *d, struct hw_cp_spec *sp, struct custom_probe *cp,
		   struct cp_where *w, char *err, size_t errlen);

/* Add (or replace, by name) a custom probe. Returns 0 when attached; otherwise -errno and the
 * reason in err. A refused replacement leaves the running probe of that name as it was; a
 * refused new probe is listed as unavailable with the reason (config) or not kept at all
 * (from_ctl). */
int custom_add(struct agent *a, const struct hw_custom_def *d, bool from_ctl, char *err,
	       size_t errlen);
int custom_remove(struct agent *a, const char *name); /* -ENOENT if unknown */
/* Make the config's custom probes current: add new/changed ones, remove those no longer
 * declared (ctl-added probes stay). */
void custom_sync(struct agent *a);
void custom_detach_all(struct agent *a);
/* The probe in slot i (0..HW_CP_SLOTS-1), NULL when the slot is free; the probe of a name. */
struct custom_probe *custom_at(struct agent *a, int i);
struct custom_probe *custom_find(struct agent *a, const char *name);
void custom_free(struct agent *a);                     /* after custom_detach_all, at exit */
void custom_apply(struct agent *a);                    /* pause/resume to match control overrides */
void custom_manifest(struct agent *a, struct jbuf *b); /* rows inside the probes object */

#endif
