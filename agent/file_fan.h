/* file_fan.h - inside the fanotify backend of file.open (agent/file_fan.c sets up the groups
 * and the marks, agent/file_fan_read.c reads and reports): their shared state. */
#ifndef HW_AGENT_FILE_FAN_H
#define HW_AGENT_FILE_FAN_H
#include "agent/agent.h"
#include <stdint.h>
#include <sys/stat.h>

/* one marked file: which rule it is watched for, and whose mount namespace it is in */
struct fan_inode {
	uint64_t ino;
	uint64_t dev;
	uint64_t mntns; /* 0: the agent's own */
	char *path;     /* in another mount namespace: the path as its processes see it */
	uint16_t rule;
};

/* one marked directory (events on its children): its rule */
struct fan_dir {
	uint64_t ino, dev;
	uint16_t rule;
};

/* one directory of the re-mark group: its file handle (events name it by that) and path;
 * named: the parent of watched names (a create there is reported), not a subtree directory */
struct fan_rdir {
	char *path;
	int htype;
	uint32_t hlen;
	unsigned char h[64];
	bool named;
};

/* a process that exited lately: the identity its late events (a close at its exit) are
 * reported with (file_fan_read.c) */
struct fan_exited {
	struct hw_hdr h;
	struct proc p; /* its strings referenced; p.pid 0: no table entry */
	bool used;
};

/* a recent event, folded with its repeats for FAN_FOLD_MS (file_fan_read.c) */
struct fan_fold {
	uint64_t ino, dev;
	uint32_t pid;
	uint16_t op, rule;
	uint64_t t_ms, count;
};

/* a watched file's owner when it was last seen (file.chown in watch mode: a FAN_ATTRIB whose
 * file now has another owner is a chown; any other is a chmod, a touch or an xattr) */
struct fan_owner {
	uint64_t ino, dev;
	uint32_t uid, gid;
	bool used;
};

#define FAN_NO_RULE 0xffff
#define FAN_MAX_NS 64      /* container mount namespaces covered */
#define FAN_MAX_DIRS 4096  /* directories marked under one subtree rule */
#define FAN_EXIT_KEEP 1024 /* exits remembered */
#define FAN_FOLD_SLOTS 1024
#define FAN_FOLD_MS 10000
#define FAN_MAX_OWNERS 65536 /* slots of the owner table (a power of two), at most half used */

/* The family's state (struct agent's fan): made by file_fan_init, freed by file_fan_free. */
struct fan_state {
	int fd;  /* the event group: an open descriptor per event (-1: closed) */
	int rfd; /* the re-mark group: creates and moves into marked directories, or -1 */
	int afd; /* the owner group: FAN_ATTRIB where the rules watch chown (file.chown), or -1 */
	int attr_ok; /* the kernel takes FAN_ATTRIB marks in a FAN_REPORT_DFID_NAME group: -1 unknown */
	bool active;  /* marks in place, file.open comes from here */
	bool failed;  /* a fault: exact mode until the next reload */
	uint64_t gen; /* cfg_gen the marks were built (or failed) for */
	char reason[192];
	const char *cause; /* the agent.loss cause of the fault */
	struct fan_inode *inodes;
	size_t ninodes, cap_inodes;
	struct fan_dir *dirs;
	size_t ndirs, cap_dirs;
	struct fan_rdir *rdirs;
	size_t nrdirs, cap_rdirs;
	uint64_t ns[FAN_MAX_NS];
	unsigned nns;
	bool remark_due;
	struct fan_owner *owners; /* open addressing by (dev, ino); cap_owners a power of two */
	size_t nowners, cap_owners;
	/* counters (heartbeat "file_watch") */
	uint64_t marks, dir_marks, remark_marks, mark_skipped;
	uint64_t events, reads, batches_max, emitted, folded, unmatched, remarks, overflows;
	uint64_t attrib_marks, attribs, chowns, owners_full;
	uint64_t last_scan_ms;
	uint64_t last_remark_ms; /* CLOCK_MONOTONIC */
	/* the reader's (file_fan_read.c) */
	struct fan_exited exits[FAN_EXIT_KEEP];
	unsigned exit_next;
	struct fan_fold folds[FAN_FOLD_SLOTS];
};

/* file_fan.c */
int fan_build(struct agent *a); /* groups and marks for the rules in force; 0 or -errno */
void fan_close(struct fan_state *fan);
/* a fault: the reason in the manifest, an agent.loss with cause, exact mode until reload */
void fan_fault(struct agent *a, const char *cause, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void fan_scan_containers(struct agent *a);
const struct fan_rdir *fan_rdir_of(const struct fan_state *fan, int htype, const unsigned char *h,
				   uint32_t hlen);
/* file_fan_read.c */
void fan_drain(struct agent *a);
uint16_t fan_rule_of_path(struct agent *a, const char *path);
void fan_drain_remark(struct agent *a);
void fan_exits_free(struct fan_state *fan); /* the exit cache's strings, at teardown */
void fan_drain_attrib(struct agent *a);
/* the owner remembered for an inode: NULL when not known; note: remember one not known yet
 * (false when the table is full) */
struct fan_owner *fan_owner_of(struct fan_state *fan, uint64_t dev, uint64_t ino);
bool fan_owner_note(struct fan_state *fan, const struct stat *st);

#endif
