/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * abi_tty.h - record layout and settings of the TTY capture (included by hw_abi.h): the bytes
 * a session's processes read from their terminal (tty.input) and write to it (tty.output), on
 * the terminal's slave side (the side the shell and its programs hold), bounded per record and
 * per session and second. Input read while the terminal does not echo is never copied: only a
 * counter in hwt_stats records that a read was left out. Event types 61-62.
 */
#ifndef HW_ABI_TTY_H
#define HW_ABI_TTY_H

#define HW_TTY_DATA_MAX 256 /* bytes of one read or write copied into a record (at most) */
#define HW_TTY_NAME_MAX 32

/* hw_tty.flags */
#define HW_TTY_CUT (1u << 0)    /* the call moved more bytes than the record holds */
#define HW_TTY_VECTOR (1u << 1) /* readv/writev: only the first segment is copied */

struct hw_tty {
	struct hw_hdr hdr;
	__u32 sid;   /* session id of the task (its session leader's pid) */
	__s32 fd;    /* the descriptor read or written */
	__u64 total; /* bytes the read returned or the write was asked to write */
	__u16 len;   /* bytes of data[] that follow (<= HW_TTY_DATA_MAX) */
	__u16 flags; /* HW_TTY_* */
	__u32 pad;
	char name[HW_TTY_NAME_MAX]; /* the kernel's tty name: "pts3", "tty1", "ttyS0" */
	__u8 data[HW_TTY_DATA_MAX];
};
_Static_assert(sizeof(struct hw_tty) == 80 + 24 + 32 + 256, "hw_tty layout");
#define HW_TTY_FIXED (sizeof(struct hw_tty) - HW_TTY_DATA_MAX)

/* Scope of the capture (hwt_cfg.scope). */
enum hw_tty_scope {
	HW_TTY_OFF = 0,
	HW_TTY_HOST = 1,     /* every task's terminal I/O */
	HW_TTY_SESSIONS = 2, /* tasks of a session or process tree in hwt_watch */
};

/* hwt_watch values: what the key (a pid number) names */
#define HW_TTY_W_SID 1  /* a session id: every task of that session */
#define HW_TTY_W_TREE 2 /* a process: it and its descendants (up to HW_TTY_DEPTH levels) */
#define HW_TTY_DEPTH 16

/* Settings, one element of the hwt_cfg array map (written by agent/tty.c). */
struct hw_tty_cfg {
	__u64 tty_fops;     /* f_op of a terminal's slave side; 0 = not known: nothing recorded */
	__u64 learned_fops; /* written by the program: f_op of the agent's learn_fd */
	__u32 scope;        /* enum hw_tty_scope */
	__s32 learn_fd;     /* the agent's descriptor whose f_op is learned (-1: none) */
	__u32 bytes_max;    /* data bytes per record, <= HW_TTY_DATA_MAX */
	__u32 budget;       /* data bytes per session and second; 0 = no bound */
};

/* Per-session byte budget (hwt_budget, LRU by session id). */
struct hw_tty_window {
	__u64 start_ns;
	__u64 bytes;
};

/* Counters (per-CPU array hwt_stats). */
enum hw_tty_stat {
	HW_TTY_ST_SECRET = 0, /* reads left out: the terminal did not echo */
	HW_TTY_ST_BUDGET_IN,  /* tty.input records dropped by the session budget */
	HW_TTY_ST_BUDGET_OUT, /* tty.output records dropped by the session budget */
	HW_TTY_ST_BYTES_OVER, /* data bytes of those records */
	HW_TTY_ST_NCOUNT,
};

#endif
