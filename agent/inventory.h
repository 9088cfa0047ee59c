/* inventory.h - inside the inventory (agent/inventory*.c): one run's context, its budget and the
 * items it produces. The scanners (inventory_scan.c: accounts, keys, crontabs, units, preload,
 * set-id files; inventory_net.c: listeners, modules) run in the worker thread and only touch
 * the run; inventory.c hands their items to the event loop, which emits them. */
#ifndef HW_AGENT_INVENTORY_H
#define HW_AGENT_INVENTORY_H
#include "agent/json.h"
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The kinds of items, in the order of the summary's counts (docs/events-inventory.md). */
enum inv_kind {
	INV_UID0,
	INV_KEY,
	INV_PRELOAD,
	INV_MODULE,
	INV_CRON,
	INV_UNIT,
	INV_LISTENER,
	INV_SETID,
	INV_NKINDS
};
extern const char *const inv_kind_name[INV_NKINDS];  /* "inventory.uid0", ... */
extern const char *const inv_count_name[INV_NKINDS]; /* "uid0", ... (summary.counts) */

/* What a run may spend (inventory.* settings, copied when the run starts). */
struct inv_limits {
	uint64_t time_ms;   /* wall-clock time */
	uint64_t max_files; /* directory entries, files and links examined */
	uint64_t max_bytes; /* bytes read from files */
	uint64_t max_items; /* items reported */
};

struct inv_item {
	struct inv_item *next;
	enum inv_kind kind;
	size_t len;
	char body[]; /* the "inventory" object, JSON */
};

struct inv_run {
	struct inv_limits lim;
	uint64_t no;       /* run number, from 1 */
	uint64_t start_ns; /* CLOCK_MONOTONIC */
	uint64_t files, bytes;
	uint64_t lost; /* items that could not be queued (out of memory) */
	uint64_t counts[INV_NKINDS];
	const char *cut;     /* budget hit: "time", "io" or "items"; "stopped" at agent exit */
	const char *section; /* the section running (where it was cut) */
	const volatile int *stop;
	struct jbuf item;    /* the item being built */
	struct jbuf unavail; /* {"section":"why",...} members (no braces) */
	/* accounts of the passwd file (name, uid, home), for authorized_keys */
	struct inv_account {
		char *name, *home;
		uint32_t uid;
	} * acct;
	size_t nacct;
	char walk_path[PATH_MAX]; /* the set-id walk's path (inventory_scan.c) */
	/* hands one finished item to the event loop (inventory.c) */
	bool (*push)(struct inv_run *r, enum inv_kind kind, const char *body, size_t len);
};

/* Budget: each returns false once the run is over budget (r->cut says which, r->section
 * where); a scanner then stops at once. */
bool inv_file(struct inv_run *r);              /* one more entry examined */
bool inv_bytes(struct inv_run *r, uint64_t n); /* n more bytes read */
static inline bool inv_over(const struct inv_run *r)
{
	return r->cut != NULL;
}
/* A section could not be inventoried at all (no /proc/modules): said in the summary. */
void inv_unavailable(struct inv_run *r, const char *section, const char *why);

/* An item: begin (the run number is its first field), fields into r->item, end. end returns
 * false when the run is out of items (max_items). */
struct jbuf *inv_item_begin(struct inv_run *r);
bool inv_item_end(struct inv_run *r, enum inv_kind kind);

/* Read a regular file without following a final symlink or blocking (a FIFO planted where a
 * crontab is expected), at most max bytes (*cut set when it was longer); counted in the
 * budget. malloc'd and NUL-terminated, or NULL with errno (EINVAL: not a regular file). */
char *inv_read(struct inv_run *r, int dirfd, const char *path, size_t max, size_t *len, bool *cut);
/* sha256 of n bytes as 64 hex digits (+ NUL) into hex */
void inv_sha256_hex(const void *p, size_t n, char hex[65]);

/* The sections (each checks the budget and returns early when it is spent). */
void inv_scan_accounts(struct inv_run *r); /* uid 0 (and the account list for keys) */
void inv_scan_keys(struct inv_run *r);
void inv_scan_preload(struct inv_run *r);
void inv_scan_modules(struct inv_run *r);
void inv_scan_cron(struct inv_run *r);
void inv_scan_units(struct inv_run *r);
void inv_scan_listeners(struct inv_run *r);
void inv_scan_setid(struct inv_run *r);

/* An OpenSSH public key line's fingerprint ("SHA256:" + unpadded base64 of the key blob's
 * sha256, as ssh-keygen -l prints it), its type and where the comment starts; false for a
 * line that holds no key (comment, blank, garbage). Pure: unit-tested. */
struct inv_key {
	char type[64];
	char fp[64];
	const char *comment; /* into the line; "" when none */
	size_t comment_len;
	bool options; /* the line starts with options (command=, from=, ...) */
};
bool inv_parse_key(const char *line, size_t len, struct inv_key *k);

#endif
