/* ctrmeta.h - container identity from the container runtimes' own metadata (containerd, Docker,
 * CRI-O): name, image, image digest, pod and chosen labels, per 64-hex container id.
 *
 * The event path never waits for a runtime: ctrmeta_get() answers from a bounded cache under a
 * mutex and, for an id it has not seen, queues a lookup for the worker thread and answers
 * "pending". The worker (ctrmeta.c) reads the runtimes' state (ctrmeta_rt.c), watches their
 * state directories with inotify to look containers up as they are created and to evict them
 * when they are removed, and bumps ctrmeta_gen() whenever an answer changes, so that cached
 * process contexts are rebuilt. */
#ifndef HW_CTRMETA_H
#define HW_CTRMETA_H
#include "agent/config.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HW_CTR_VAL_MAX 256

/* What a runtime says about one container (ctrmeta_rt.c). Empty strings: not known. */
struct ctr_ident {
	const char *runtime; /* "containerd", "docker", "cri-o" */
	char name[HW_CTR_VAL_MAX];
	char image[512];
	char digest[HW_CTR_VAL_MAX];
	bool pod; /* part of a Kubernetes pod (CRI annotations or labels) */
	char pod_name[HW_CTR_VAL_MAX], pod_ns[HW_CTR_VAL_MAX], pod_uid[HW_CTR_VAL_MAX];
	bool label_set[HW_CTR_LABELS_MAX];
	char label[HW_CTR_LABELS_MAX][HW_CTR_VAL_MAX]; /* values of the configured labels */
	char why[256];                                 /* lookup failed: why */
};

/* Look up container id (64 lowercase hex digits) in the runtimes configured in c. 0 = found
 * (out filled), -ENOENT = no runtime knows it (yet), another -errno = found but unreadable
 * (out->why says why). Blocking: file reads and, for containerd, runs of ctr. */
int ctr_resolve(const struct hw_ctrmeta_config *c, const char *id, struct ctr_ident *out);

/* The directories ctrmeta watches, with the runtimes' defaults filled in ("" = off). */
const char *ctr_containerd_state(const struct hw_ctrmeta_config *c);
const char *ctr_docker_root(const struct hw_ctrmeta_config *c);
const char *ctr_crio_root(const struct hw_ctrmeta_config *c);

struct ctrmeta;
struct jbuf; /* agent/json.h */

/* Start the worker with a copy of the settings c; NULL when c turns container_meta off or the
 * thread cannot start (logged). */
struct ctrmeta *ctrmeta_start(const struct hw_ctrmeta_config *c);
void ctrmeta_stop(struct ctrmeta *m); /* NULL is fine */
/* Changes whenever an answer of ctrmeta_get() may have changed. */
uint64_t ctrmeta_gen(const struct ctrmeta *m);

struct ctrmeta_stats {
	uint64_t lookups, found, not_found, errors, evicted, queue_full;
	size_t entries;
};
void ctrmeta_stats(struct ctrmeta *m, struct ctrmeta_stats *s);

/* Append the identity keys of container id (64 hex) to b, inside the container object:
 * "identity", "runtime", "name", "image", "image_digest", "pod", "labels". herd/ver receive the
 * value of the herd label and the image digest ("" when unknown). Never blocks. False when the
 * answer is not final (pending, unknown): the caller must not keep it, so that later events ask
 * again (a change to a final answer bumps ctrmeta_gen()). */
bool ctrmeta_put(struct ctrmeta *m, const char *id, struct jbuf *b, char *herd, size_t herdlen,
		 char *ver, size_t verlen);

/* The same keys with null values; identity says why: "none" (no container id in the cgroup
 * path), "off" (container_meta.enabled: false), "pending", "unknown". */
void ctrmeta_put_none(struct jbuf *b, const char *identity);

#endif
