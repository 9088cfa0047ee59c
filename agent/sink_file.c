/* sink_file.c - the JSON-lines file output (a file, stdout, or none) as a sink. Writing,
 * holding while writes fail and the failure messages are agent/output.c's; this file says
 * when to write and when its losses are announced (agent/sink.h). */
#include "agent/agent.h"
#include "agent/sink.h"
#include <stdio.h>

static bool file_put(struct hw_sink *s, const char *kind, uint64_t seq, const char *line, size_t n)
{
	return output_add(&s->a->out, line, n);
}

/* once per batch; while writes fail, a retry every second (agent/output.h) */
static void file_batch(struct hw_sink *s, bool new_events, int idle_passes)
{
	struct hw_output *o = &s->a->out;
	if (new_events || idle_passes == 1 || o->err)
		output_flush(o, false);
}

static void file_flush(struct hw_sink *s)
{
	output_flush(&s->a->out, false);
}

/* Write failures are announced once the output works again (before, the announcement would
 * only join what waits): each kind's dropped events, or a count of 0 when the episode lost
 * nothing (every event held was written late), so no failed write goes untold. */
static bool file_announce(struct agent *a, struct hw_sink *s)
{
	struct hw_output *o = &a->out;
	if (o->err)
		return false;
	for (; o->cut; o->cut--)
		count_user_loss(a, "*", s->loss_cause);
	if (!o->resumed)
		return true;
	o->resumed = false;
	o->dropped = 0;
	if (!user_losses_pending(a, s->loss_cause))
		report_loss(a, "*", 0, "output_error");
	return true;
}

static void file_stats(struct hw_sink *s, struct jbuf *b)
{
	jb_ku64(b, "output_errors", s->a->out.errors);
}

static int file_drain(struct hw_sink *s)
{
	struct hw_output *o = &s->a->out;
	if (output_flush(o, true)) {
		agent_log("%zu bytes of events could not be written to the "
			  "output at exit\n",
			  o->len);
		return -1;
	}
	return 0;
}

const struct hw_sink_ops hw_sink_file = {
	.name = "file",
	.put = file_put,
	.batch = file_batch,
	.flush = file_flush,
	.announce = file_announce,
	.stats = file_stats,
	.drain = file_drain,
};
