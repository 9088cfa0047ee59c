/* binhash.h - exec.sha256: the SHA-256 of executed files, computed off the event path
 * (agent/binhash.c). */
#ifndef HW_AGENT_BINHASH_H
#define HW_AGENT_BINHASH_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "common/hw_abi.h"

struct agent;
struct jbuf;

/* What identifies one version of a file: a rewrite in place changes size, mtime or ctime, a
 * replacement at the same path the inode. dev is the kernel's encoding (major << 20 | minor). */
struct binhash_key {
	uint64_t ino, size;
	int64_t mtime_ns, ctime_ns;
	uint32_t dev;
};

/* Family hooks (agent/family.c): configure (limits, start the worker), tick (finished hashes
 * become process.binary events), heartbeat ("exec_hash" counters). */
int binhash_configure(struct agent *a);
void binhash_tick(struct agent *a, uint64_t now_ms);
void binhash_heartbeat(struct agent *a, struct jbuf *b);
/* Inside the process.exec object being formatted: "sha256" (hex, or null) and, when null,
 * "sha256_reason". Never waits for the file: a miss queues the file for the worker and says
 * "pending"; the worker's answer follows as process.binary with this exec's seq. path is the
 * exe as the kernel named it (deleted: no fallback to the path), h the exec's header. */
void binhash_exec(struct agent *a, const struct hw_hdr *h, const struct binhash_key *k,
		  const char *path, size_t pathlen, bool deleted);
/* Stop the worker and free everything (at exit). */
void binhash_free(struct agent *a);

#endif
