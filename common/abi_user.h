/* abi_user.h - record layouts of the user probe family (included by hw_abi.h):
 * typed shell lines (uretprobe on readline), PAM transactions (uprobes on libpam) and
 * operations on watched files (syscall exit tracepoints, matched in the kernel).
 *
 * Strings are hw_str references into the record's blob area. File paths are absolute,
 * forward strings ("/etc/shadow") built in the kernel: from the opened file's dentries when
 * there is a file, else from the directory (dirfd or cwd) dentries plus the string the process
 * passed. Event types 50-69.
 */
#ifndef HW_ABI_USER_H
#define HW_ABI_USER_H

/* A line returned by readline() (user.shell). */
struct hw_shell {
	struct hw_hdr hdr;
	struct hw_str line;
	struct hw_str tty;
	struct hw_str cwd; /* forward absolute path of the shell's current directory */
	struct hw_str exe; /* forward absolute path of the process's executable */
	__u32 line_total;  /* bytes of the whole line (may exceed what was copied) */
	__u32 pad;         /* 1: taken at rl_deprep_terminal (readline's entry was missed) */
			   /* blob follows */
};
_Static_assert(sizeof(struct hw_shell) == 104, "hw_shell layout");

/* PAM steps */
enum hw_pam_step {
	HW_PAM_AUTHENTICATE = 1,
	HW_PAM_ACCT_MGMT = 2,
	HW_PAM_OPEN_SESSION = 3,
	HW_PAM_CLOSE_SESSION = 4,
	HW_PAM_CHAUTHTOK = 5,
	HW_PAM_START = 6,
	HW_PAM_END = 7,
};

/* Items of a PAM transaction kept in the kernel, keyed by (tgid, pam handle). */
#define HW_PAM_SERVICE_MAX 64
#define HW_PAM_USER_MAX 64
#define HW_PAM_RHOST_MAX 128
#define HW_PAM_TTY_MAX 64
struct hw_pam_items {
	char service[HW_PAM_SERVICE_MAX];
	char user[HW_PAM_USER_MAX];
	char ruser[HW_PAM_USER_MAX];
	char rhost[HW_PAM_RHOST_MAX];
	char tty[HW_PAM_TTY_MAX];
};
_Static_assert(sizeof(struct hw_pam_items) == 384, "hw_pam_items layout");

/* One PAM step and its result (user.auth). Strings are NUL-padded fixed fields. */
struct hw_auth {
	struct hw_hdr hdr;
	__u32 step;   /* enum hw_pam_step */
	__s32 result; /* PAM return code: 0 = PAM_SUCCESS */
	__u64 handle; /* pam_handle_t pointer in the process: links the steps of one transaction */
	struct hw_pam_items items;
};
_Static_assert(sizeof(struct hw_auth) == 480, "hw_auth layout");

/* File operations (bit set; a watch rule lists the operations it reports). */
#define HW_FOP_READ (1u << 0)     /* open for reading */
#define HW_FOP_WRITE (1u << 1)    /* open for writing or creating */
#define HW_FOP_TRUNCATE (1u << 2) /* truncate, ftruncate, open with O_TRUNC */
#define HW_FOP_UNLINK (1u << 3)
#define HW_FOP_RENAME (1u << 4)
#define HW_FOP_CHMOD (1u << 5)
#define HW_FOP_CHOWN (1u << 6)
#define HW_FOP_LINK (1u << 7) /* link, symlink (either end watched) */
#define HW_FOP_ALL 0xffu
/* Not a watch rule's operation: reported whatever the path (file.caps). */
#define HW_FOP_SETCAP (1u << 8) /* setxattr of security.capability */

/* Watch rule as the kernel sees it (value of every watch map). */
struct hw_watch_val {
	__u16 rule;  /* index in the agent's rule list (the "watch" field) */
	__u16 ops;   /* HW_FOP_* */
	__u16 flags; /* HW_WF_* */
	__u16 pad;
};
#define HW_WF_SUBTREE (1u << 0) /* dir map: everything below this directory */
#define HW_WF_NAMED (1u << 1)   /* dir map: some children are watched by name (name map) */
#define HW_WF_PROCFS (1u << 2)  /* name rules: only on procfs (/proc/<pid>/mem) */

/* LPM trie key for string matching of absolute paths. */
#define HW_WATCH_KEY_MAX 256
struct hw_watch_lpm_key {
	__u32 prefixlen; /* bits */
	__u8 data[HW_WATCH_KEY_MAX];
};

/* Directory identity (dir map key) and a child name under it (name map key). */
struct hw_watch_dir_key {
	__u64 ino;
	__u32 dev; /* kernel s_dev: MAJOR << 20 | MINOR */
	__u32 pad;
};
#define HW_WATCH_NAME_MAX 32
struct hw_watch_name_key {
	__u64 ino; /* 0 for basename and dirname rules */
	__u32 dev;
	__u32 kind; /* HW_WNK_* */
	char name[HW_WATCH_NAME_MAX];
};
#define HW_WNK_CHILD 0    /* a named child of the directory (ino, dev) */
#define HW_WNK_BASENAME 1 /* any file with this name (pattern: star, slash, NAME) */
#define HW_WNK_DIRNAME 2  /* any file directly in a directory of this name (star/NAME/) */

/* Settings of the matcher (element 0 of hw_file_cfg). */
struct hw_file_cfg {
	__u64 base_len_mask; /* bit n: some basename rule has a name of n bytes */
	__u64 dir_len_mask;  /* bit n: some dirname rule has a name of n bytes */
	__u64 proc_len_mask; /* bit n: some procfs-only basename rule has a name of n bytes */
	__u32 enabled;
	__u32 gen;   /* bumped at every change of the rules: invalidates cached verdicts (not 0) */
	__u32 mntns; /* the agent's mount namespace (inode number); 0: unknown */
	__u32 pad;
};

/* file.* record. The path is the opened file's own path when the syscall gave one (open,
 * fchmod, ...), otherwise the directory's path joined with the string the process passed. */
struct hw_file {
	struct hw_hdr hdr;
	__u16 op;     /* one HW_FOP_* bit: what happened */
	__u16 sysnr;  /* syscall number (the running architecture's) */
	__s32 result; /* return value: fd or 0, or -errno */
	__u32 flags;  /* open flags; AT_* flags of *at() calls */
	__u32 mode; /* open/creat/chmod mode; setcap: the value's magic_etc (revision, effective) */
	__u32 uid, gid; /* chown arguments (0xffffffff = unchanged); setcap: permitted set, low and
			 * high 32 bits */
	__u16 rule;     /* rule that matched path (0xffff: none) */
	__u16 trule;    /* rule that matched target (0xffff: none) */
	__u16 pflags;   /* HW_FP_* */
	__u16 pad;
	struct hw_str path;
	struct hw_str target; /* rename: new path; link/symlink: the new link; else empty */
	__u32 fmode;          /* i_mode of the file after the call, when known */
	__u32 repeats; /* same process, operation and file not reported since the last event */
	__u32 mntns;   /* HW_FP_NSPATH: the process's mount namespace (inode number) */
	__u32 pad2;
	/* blob follows */
};
_Static_assert(sizeof(struct hw_file) == 136, "hw_file layout");
#define HW_FP_FROM_FILE (1u << 0) /* path built from the file's dentries (symlinks resolved) */
#define HW_FP_TRUNC (1u << 1)     /* a path was cut at the bound */
#define HW_FP_FMODE (1u << 2)     /* fmode valid */
#define HW_FP_SYMLINK (1u << 3)   /* symlink: target is the link, path is what it points to */
#define HW_FP_NSPATH (1u << 4)    /* matched by the path as seen in another mount namespace */
#define HW_FP_CREATED (1u << 5)   /* the open created the file (FMODE_CREATED) */

/* agent-internal record: a process exec'd a file that the agent has no uprobes on yet. */
struct hw_user_bin {
	struct hw_hdr hdr;
	__u64 ino;
	__u32 dev;
	__u32 pad;
};
_Static_assert(sizeof(struct hw_user_bin) == 96, "hw_user_bin layout");

#endif
