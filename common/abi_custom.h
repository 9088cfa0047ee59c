/* abi_custom.h - custom probes declared at runtime (config or control socket).
 *
 * One generic BPF program per hook type (tracepoint, uprobe, uretprobe) serves every custom
 * probe: at attach time the agent gives each link a cookie = the probe's slot, and the slot's
 * spec in the hwc_specs map says which values to capture and which filters to apply.
 * Nothing is compiled on the host. */
#ifndef HW_ABI_CUSTOM_H
#define HW_ABI_CUSTOM_H

#define HW_CP_SLOTS 32   /* custom probes at once */
#define HW_CP_FIELDS 8   /* captured values per probe */
#define HW_CP_FILTERS 4  /* filters per probe (all must pass) */
#define HW_CP_STR 32     /* bytes compared by a string filter */
#define HW_CP_STRMAX 256 /* bytes captured by one string value */

enum hw_cp_kind {
	HW_CP_NONE = 0,
	HW_CP_INT = 1,    /* signed integer of `size` bytes */
	HW_CP_UINT = 2,   /* unsigned integer of `size` bytes */
	HW_CP_USTR = 3,   /* pointer to a NUL-terminated string in user memory */
	HW_CP_KSTR = 4,   /* tracepoint __data_loc char[]: string inside the record */
	HW_CP_CHARS = 5,  /* tracepoint char name[N] inside the record */
	HW_CP_UBYTES = 6, /* pointer to `maxlen` bytes of user memory */
};

enum hw_cp_src {
	HW_CP_SRC_TP = 0,  /* offset into the tracepoint record */
	HW_CP_SRC_ARG = 1, /* function argument number `arg` (1-6) */
	HW_CP_SRC_RET = 2, /* return value (uretprobe) */
};

enum hw_cp_op {
	HW_CP_EQ = 1,
	HW_CP_NE,
	HW_CP_LT,
	HW_CP_LE,
	HW_CP_GT,
	HW_CP_GE,
	HW_CP_PREFIX, /* strings: starts with */
};

struct hw_cp_field {
	__u16 off;    /* HW_CP_SRC_TP: byte offset in the record */
	__u8 size;    /* integer size in bytes (1, 2, 4, 8), sign- or zero-extended to 64 bits;
		       * chars: array size */
	__u8 kind;    /* enum hw_cp_kind */
	__u8 src;     /* enum hw_cp_src */
	__u8 arg;     /* HW_CP_SRC_ARG: 1..6 */
	__u16 maxlen; /* strings/bytes: bound, <= HW_CP_STRMAX */
};

struct hw_cp_filter {
	__u8 field; /* index into fields */
	__u8 op;    /* enum hw_cp_op */
	__u8 slen;  /* string filters: bytes of str compared (no NUL) */
	__u8 pad[5];
	__s64 val; /* integer filters */
	char str[HW_CP_STR];
};

struct hw_cp_spec {
	__u32 gen; /* changes whenever the slot is given to another probe */
	__u16 nfields;
	__u16 nfilters;
	struct hw_cp_field f[HW_CP_FIELDS];
	struct hw_cp_filter flt[HW_CP_FILTERS];
	__u32 paused; /* disabled through the control socket: the link stays, nothing is emitted */
	__u32 tgid;   /* scope: only this process (0 = any) */
	__u64 cg_id;  /* scope: only tasks in this cgroup v2 or below it (0 = any) ... */
	__u32 cg_level; /* ... i.e. whose ancestor at this level (root = 0) has id cg_id */
	__u32 pad;
};

struct hw_custom {
	struct hw_hdr hdr;
	__u32 slot;
	__u32 gen;
	__u64 val[HW_CP_FIELDS];         /* integers (and pointers of string fields) */
	struct hw_str str[HW_CP_FIELDS]; /* strings and bytes in the blob */
					 /* blob follows */
};
_Static_assert(sizeof(struct hw_custom) == 80 + 8 + 64 + 32, "hw_custom layout");

/* per slot, per CPU: hits (program ran), emitted, filtered out, dropped (ring buffer full) */
struct hw_cp_count {
	__u64 hits, emitted, filtered, dropped;
};

/* Several custom probes may watch the same tracepoint: the kernel takes one copy of a program
 * per tracepoint, so one link per tracepoint carries a group number as its cookie, and
 * hwc_groups[group] is the mask of the slots to run for it. */
#define HW_CP_GROUPS HW_CP_SLOTS

#endif
