/* emit.h - shared by the files that format events (emit.c, proc_context.c, decode_*.c,
 * report.c): the record types and their decoders, and the pieces of the envelope and the
 * process context that decoders combine. Not for the rest of the agent (agent/agent.h). */
#ifndef HW_AGENT_EMIT_H
#define HW_AGENT_EMIT_H
#include "agent/agent.h"

typedef int (*decode_fn)(struct agent *a, const void *rec, size_t len);

/* One row per record type (common/events.def); types may share a kind (exec and failed
 * exec are both process.exec). */
struct hw_decoder {
	uint32_t type;
	const char *kind;
	decode_fn fn;
	size_t minsz;
};
extern const struct hw_decoder hw_decoders[];
extern const size_t hw_ndecoders;

/* Every decoder, defined in agent/decode_<family>.c. */
#define HW_EVENT(type, nr, kind, fn, minsz) int fn(struct agent *a, const void *rec, size_t len);
#include "common/events.def"
#undef HW_EVENT

/* boot-clock nanoseconds to clock ticks (the unit of /proc/PID/stat's start time) */
static inline uint64_t ns_to_ticks(const struct agent *a, uint64_t ns)
{
	return ns / (1000000000ULL / a->ticks_per_s);
}

/* "proc", "parent", "ancestors" for the process entry p of h->pid (NULL: none) */
void emit_proc_entry(struct agent *a, const struct hw_hdr *h, struct proc *p);
/* emit_event for the process entry p of h->pid (NULL: none) */
void emit_event_p(struct agent *a, const char *kind, const struct hw_hdr *h, struct proc *p,
		  const char *objkey);
/* argv block (NUL-separated, the last argument possibly cut short) as a JSON array */
void put_argv(struct jbuf *b, const char *args, size_t n);

#endif
