/* output.h - the agent's JSON-lines output (a file, stdout), written by the agent itself.
 *
 * Events are appended to a buffer and written once per batch (one write() per batch, as with a
 * 1 MiB stdio buffer). A write that fails (ENOSPC, EIO, EFBIG, ...) loses nothing at first:
 * what was not written stays in the buffer, which may then grow up to hold_max bytes (4 MiB,
 * HW_OUTPUT_HOLD_BYTES overrides it); the write is retried every second and everything held is
 * written, in order, once it succeeds. An event that does not fit in a full buffer is dropped
 * (output_add returns false: the caller counts it, and announces it as agent.loss with cause
 * output_error once writing works again). Each failure episode is told on stderr when it
 * starts, at most every 10 s while it lasts, and when it ends.
 */
#ifndef HW_OUTPUT_H
#define HW_OUTPUT_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define OUT_BUF (1u << 20)
#define OUT_HOLD_MAX (4u << 20)
#define OUT_RETRY_MS 1000
#define OUT_MSG_MS 10000

struct hw_output {
	int fd;      /* -1: no output (events only go to the collector) */
	bool own_fd; /* a file we opened (not stdout) */
	char *buf;   /* events formatted, not written yet */
	size_t len, cap;
	size_t flush_at;  /* write when this much is waiting (min(OUT_BUF, hold_max)) */
	size_t hold_max;  /* bound of buf while writes fail */
	int err;          /* errno of the failing write; 0 while writes succeed */
	bool mid_line;    /* the file ends in a partly written line (a short write) */
	bool resumed;     /* an episode ended: to be announced (agent.loss) */
	uint64_t errors;  /* failed write() calls since start (stats.output_errors) */
	uint64_t dropped; /* events dropped in the current episode */
	uint64_t cut;     /* events lost whole or in part when the file changed mid-line */
	uint64_t retry_ms, msg_ms, since_ms; /* CLOCK_MONOTONIC ms */
	const char *name;                    /* for messages: the path, or "stdout" */
};

void output_init(struct hw_output *o);
/* Switch to path ("-" or NULL: stdout, "none": no output); what is waiting goes to the new
 * one. 0 or -errno (the old output is kept). */
int output_open(struct hw_output *o, const char *path);
/* Append one event line; false when it was dropped (the buffer is at its bound). */
bool output_add(struct hw_output *o, const char *line, size_t n);
/* Write what is waiting; while writes fail, at most every OUT_RETRY_MS unless force.
 * 0 or -errno. */
int output_flush(struct hw_output *o, bool force);
void output_close(struct hw_output *o);

#endif
